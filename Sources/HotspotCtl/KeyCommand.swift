import ArgumentParser
import Configuration
import Domain
import Foundation
import JSON
import Persistence
import Secrets

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Portal API keys (one identifies a router; it sits in the portal page).",
        subcommands: [Issue.self, Revoke.self, List.self])

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a key for a router. It is printed once; only its hash is kept.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Router id.") var router: Int64
        @Option(help: "Days until it expires (omit for no expiry).") var expiresDays: Int?
        @Option(help: "A note for operators.") var label: String?

        func run() throws {
            let (store, configuration) = try global.store(require: [.database, .secretsKey, .keySecret])
            let rows = try attempt("key issue") { () throws(StoreFailure) in try store.routers(companyID: nil) }
            guard let row = rows.first(where: { $0.router.id == router }) else { throw CommandFailure("key issue: no router \(router)") }
            let codec = HS256KeyCodec(secret: configuration.keySecret)
            let now = Int64(Date().timeIntervalSince1970)
            let expires = expiresDays.map { now + Int64($0) * 86_400 }
            var random = SystemRandomNumberGenerator()
            let keyID = "key_" + Hex.encode((0..<8).map { _ in UInt8.random(in: .min ... .max, using: &random) })
            let claims = APIKeyClaims(keyID: keyID, routerID: router, companyID: row.router.companyID, issuedAt: now, expiresAt: expires)
            let key = codec.issue(claims)
            try attempt("key issue") { () throws(StoreFailure) in
                try store.addAPIKey(
                    keyID: keyID, companyID: row.router.companyID, routerID: router, fingerprint: codec.fingerprint(key),
                    label: label, issuedAt: now, expiresAt: expires)
            }
            global.emit(
                .object([("key_id", .string(keyID)), ("router_id", .integer(router)), ("api_key", .string(key))]),
                text: "\(key)\n(key id \(keyID); shown once — put it in the router's portal page)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key (every instance refuses it within seconds).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id (key_…).") var keyID: String

        func run() throws {
            let (store, _) = try global.store()
            let revoked = try attempt("key revoke") { () throws(StoreFailure) in try store.revokeAPIKey(keyID: keyID) }
            guard revoked else { throw CommandFailure("key revoke: no active key \(keyID)") }
            global.emit(.object([("key_id", .string(keyID)), ("revoked", .bool(true))]), text: "key \(keyID) revoked")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the keys themselves).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this router's.") var router: Int64?

        func run() throws {
            let (store, _) = try global.store()
            let keys = try attempt("key list") { () throws(StoreFailure) in try store.apiKeys(routerID: router) }
            global.emit(
                .array(
                    keys.map { key in
                        .object([
                            ("key_id", .string(key.keyID)), ("company_id", .integer(key.companyID)), ("router_id", .integer(key.routerID)),
                            ("label", .optional(key.label)), ("issued_at", .string(key.issuedAt)),
                            ("expires_at", .optional(key.expiresAt)), ("revoked_at", .optional(key.revokedAt)),
                        ])
                    }),
                text: keys.map {
                    "\($0.keyID)\trouter \($0.routerID)\t\($0.revokedAt == nil ? "active" : "revoked")\tissued \($0.issuedAt)"
                }
                .joined(separator: "\n"))
        }
    }
}
