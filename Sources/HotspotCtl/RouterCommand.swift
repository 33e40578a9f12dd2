import ArgumentParser
import Domain
import Foundation
import JSON
import Persistence

struct RouterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router", abstract: "Routers: where and how to reach each MikroTik's REST API.",
        subcommands: [Add.self, List.self, Disable.self, Enable.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a router. TLS trust is required: --ca-file or --pin (or --insecure, for tests only).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Company id.") var company: Int64
        @Option(help: "Display name shown on the portal.") var name: String
        @Option(help: "Where it is (shown on the portal).") var location: String?
        @Option(help: "REST base URL, such as https://10.0.0.1 (RouterOS serves /rest under it).") var url: String
        @Option(help: "RouterOS API user (a group with read, write and rest-api policies).") var user: String
        @Option(help: "The API user's password. Prefer --password-stdin.") var password: String?
        @Flag(help: "Read the password from standard input.") var passwordStdin = false
        @Option(help: "PEM file with the router's certificate or CA (verified with the host name).") var caFile: String?
        @Option(help: "Pinned public key: sha256//<base64 SHA-256 of the SubjectPublicKeyInfo>.") var pin: String?
        @Flag(help: "Do not verify TLS at all. Never in production; the server logs a warning per call.") var insecure = false
        @Option(help: "Hotspot server name for new users.") var hotspotServer = "all"

        func validate() throws {
            let trusts = [caFile != nil, pin != nil, insecure].filter { $0 }.count
            guard trusts == 1 else { throw ValidationError("give exactly one of --ca-file, --pin, --insecure") }
            guard url.hasPrefix("https://") || (insecure && url.hasPrefix("http://")) else {
                throw ValidationError("--url must be https:// (plain http only with --insecure)")
            }
            if let pin, !pin.hasPrefix("sha256//") { throw ValidationError("--pin must look like sha256//<base64>") }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                throw ValidationError("--ca-file \(caFile) is not readable")
            }
        }

        func run() throws {
            let secret = try readSecret(option: password, fromStdin: passwordStdin, what: "password")
            let trust: RouterEndpoint.Trust = caFile.map { .caFile($0) } ?? pin.map { .pinnedPublicKey($0) } ?? .insecure
            let (store, _) = try global.store()
            let base = url.hasSuffix("/") ? String(url.dropLast()) : url
            let id = try attempt("router add") { () throws(StoreFailure) in
                try store.addRouter(
                    companyID: company, name: name, location: location, restURL: base, apiUser: user, apiPassword: secret,
                    trust: trust, hotspotServer: hotspotServer)
            }
            global.emit(.object([("id", .integer(id)), ("company_id", .integer(company))]), text: "router \(id) added")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List routers (passwords are never shown).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this company's.") var company: Int64?

        func run() throws {
            let (store, _) = try global.store()
            let rows = try attempt("router list") { () throws(StoreFailure) in try store.routers(companyID: company) }
            global.emit(
                .array(
                    rows.map { row in
                        let trust: String
                        switch row.trust {
                        case .caFile(let path): trust = "ca-file:\(path)"
                        case .pinnedPublicKey(let pin): trust = "pin:\(pin)"
                        case .insecure: trust = "insecure"
                        }
                        return .object([
                            ("id", .integer(row.router.id)), ("company_id", .integer(row.router.companyID)),
                            ("name", .string(row.router.name)), ("location", .optional(row.router.location)),
                            ("url", .string(row.restURL)), ("user", .string(row.apiUser)), ("tls", .string(trust)),
                            ("hotspot_server", .string(row.hotspotServer)), ("active", .bool(row.router.active)),
                        ])
                    }),
                text: rows.map {
                    "\($0.router.id)\tcompany \($0.router.companyID)\t\($0.router.active ? "active" : "inactive")\t\($0.router.name)\t\($0.restURL)"
                }
                .joined(separator: "\n"))
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop sales on a router (its keys answer 403).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Router id.") var id: Int64
        func run() throws { try RouterCommand.setActive(global, id, false) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-enable a router.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Router id.") var id: Int64
        func run() throws { try RouterCommand.setActive(global, id, true) }
    }

    static func setActive(_ global: GlobalOptions, _ id: Int64, _ active: Bool) throws {
        let (store, _) = try global.store()
        let updated = try attempt("router") { () throws(StoreFailure) in try store.setRouterActive(id: id, active: active) }
        guard updated else { throw CommandFailure("router: no router \(id)") }
        global.emit(.object([("id", .integer(id)), ("active", .bool(active))]), text: "router \(id) \(active ? "enabled" : "disabled")")
    }
}
