import ArgumentParser
import Configuration
import Domain
import Foundation
import JSON
import Persistence
import Wiring

struct RouterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router", abstract: "Routers: where and how to reach each MikroTik's REST API, and whether it is ready.",
        subcommands: [Add.self, Check.self, SetupScript.self, Change.self, List.self, Disable.self, Enable.self])

    /// The TLS trust options `add` and `set` share.
    struct TrustOptions: ParsableArguments {
        @Option(help: "PEM file with the router's certificate or CA (verified with the host name).") var caFile: String?
        @Option(help: "Pinned public key: sha256//<base64 SHA-256 of the SubjectPublicKeyInfo>.") var pin: String?
        @Flag(help: "Do not verify TLS at all. Never in production; the server logs a warning per call.") var insecure = false

        var given: Int { [caFile != nil, pin != nil, insecure].filter { $0 }.count }

        func validate() throws {
            guard given <= 1 else { throw ValidationError("give only one of --ca-file, --pin, --insecure") }
            if let pin, !pin.hasPrefix("sha256//") { throw ValidationError("--pin must look like sha256//<base64>") }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                throw ValidationError("--ca-file \(caFile) is not readable")
            }
        }

        var trust: RouterEndpoint.Trust? {
            caFile.map { .caFile($0) } ?? pin.map { .pinnedPublicKey($0) } ?? (insecure ? .insecure : nil)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a router, then check it. TLS trust is required: --ca-file or --pin (or --insecure, for tests only).",
            discussion: """
                The router is added whatever its check finds (a router is often added before it is set up: \
                `router setup-script` needs its id); the check's lines go to standard error (--json: under "check") \
                and `router list` shows the outcome. --skip-check adds it without calling it.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Company id.") var company: Int64
        @Option(help: "Display name shown on the portal.") var name: String
        @Option(help: "Where it is (shown on the portal).") var location: String?
        @Option(help: "REST base URL, such as https://10.0.0.1 (RouterOS serves /rest under it).") var url: String
        @Option(help: "RouterOS API user (a group with read, write, api and rest-api policies).") var user: String
        @Option(help: "The API user's password. Prefer --password-stdin.") var password: String?
        @Flag(help: "Read the password from standard input.") var passwordStdin = false
        @OptionGroup var trustOptions: TrustOptions
        @Option(help: "Hotspot server name for new users.") var hotspotServer = "all"
        @Flag(help: "Do not check the router now.") var skipCheck = false

        func validate() throws {
            guard trustOptions.given == 1 else { throw ValidationError("give exactly one of --ca-file, --pin, --insecure") }
            guard url.hasPrefix("https://") || (trustOptions.insecure && url.hasPrefix("http://")) else {
                throw ValidationError("--url must be https:// (plain http only with --insecure)")
            }
        }

        func run() throws {
            let secret = try readSecret(option: password, fromStdin: passwordStdin, what: "password")
            let (store, configuration) = try global.store()
            let base = url.hasSuffix("/") ? String(url.dropLast()) : url
            let id = try attempt("router add") { () throws(StoreFailure) in
                try store.addRouter(
                    companyID: company, name: name, location: location, restURL: base, apiUser: user, apiPassword: secret,
                    trust: trustOptions.trust ?? .insecure, hotspotServer: hotspotServer)
            }
            var fields: [(String, JSONValue)] = [("id", .integer(id)), ("company_id", .integer(company))]
            if !skipCheck {
                let (health, endpoint) = try RouterCommand.check(id, store: store, configuration: configuration)
                fields.append(("check", RouterCommand.json(health, endpoint: endpoint)))
                if !global.json {
                    for line in RouterCommand.lines(health, endpoint: endpoint) {
                        FileHandle.standardError.write(Data((line + "\n").utf8))
                    }
                }
            }
            global.emit(.object(fields), text: "router \(id) added")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a router: address and TLS trust, credentials, version, policies, service, hotspot, profiles, clock.",
            discussion: """
                One line per check, in that order, each with the fix when something is wrong; a check that needs one \
                that failed is not run. Exits 1 when a check failed (warnings exit 0). The outcome is kept: \
                `router list` shows it, and the server's metric hotspot_router_health too.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Router id.") var id: Int64

        func run() throws {
            let (store, configuration) = try global.store()
            let (health, endpoint) = try RouterCommand.check(id, store: store, configuration: configuration)
            global.emit(
                RouterCommand.json(health, endpoint: endpoint),
                text: RouterCommand.lines(health, endpoint: endpoint).joined(separator: "\n"))
            if health.status == .fail { throw ExitCode(1) }
        }
    }

    struct Change: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Change how a router is reached: URL, user, password, TLS trust, hotspot server.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Router id.") var id: Int64
        @Option(help: "REST base URL.") var url: String?
        @Option(help: "RouterOS API user.") var user: String?
        @Option(help: "The API user's password. Prefer --password-stdin.") var password: String?
        @Flag(help: "Read the password from standard input.") var passwordStdin = false
        @OptionGroup var trustOptions: TrustOptions
        @Option(help: "Hotspot server name for new users.") var hotspotServer: String?

        func validate() throws {
            if let url, !url.hasPrefix("https://"), !(trustOptions.insecure && url.hasPrefix("http://")) {
                throw ValidationError("--url must be https:// (plain http only with --insecure)")
            }
        }

        func run() throws {
            let secret: String? =
                password != nil || passwordStdin ? try readSecret(option: password, fromStdin: passwordStdin, what: "password") : nil
            let changes = PostgresStore.RouterChanges(
                restURL: url.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }, apiUser: user, apiPassword: secret,
                trust: trustOptions.trust, hotspotServer: hotspotServer)
            guard changes != PostgresStore.RouterChanges() else { throw ValidationError("nothing to change") }
            let (store, _) = try global.store()
            let updated = try attempt("router set") { () throws(StoreFailure) in try store.updateRouter(id: id, changes) }
            guard updated else { throw CommandFailure("router set: no router \(id)") }
            global.emit(.object([("id", .integer(id)), ("updated", .bool(true))]), text: "router \(id) updated")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List routers with their last check (passwords are never shown).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this company's.") var company: Int64?

        func run() throws {
            let (store, _) = try global.store()
            let (rows, records) = try attempt("router list") { () throws(StoreFailure) in
                (try store.routers(companyID: company), try store.routerHealthRecords())
            }
            let health = Dictionary(records.map { ($0.routerID, $0) }, uniquingKeysWith: { first, _ in first })
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
                            ("health", health[row.router.id].map(RouterCommand.json) ?? .null),
                        ])
                    }),
                text: rows.map {
                    [
                        "\($0.router.id)", "company \($0.router.companyID)", $0.router.active ? "active" : "inactive",
                        RouterCommand.summary(health[$0.router.id]), $0.router.name, $0.restURL,
                    ].joined(separator: "\t")
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

// MARK: - Checks

extension RouterCommand {
    /// Checks router `id` now and keeps the outcome (`router list`, the metric).
    static func check(
        _ id: Int64, store: PostgresStore, configuration: Configuration
    ) throws -> (RouterHealth, RouterEndpoint) {
        let target = try attempt("router check") { () throws(StoreFailure) in try store.routerCheckTarget(routerID: id) }
        guard let target else { throw CommandFailure("router check: no router \(id)") }
        let health = PaymentWiring.checkRouter(target, configuration: configuration)
        try attempt("router check") { () throws(StoreFailure) in
            try store.recordRouterHealth(health, checkedBy: "hotspotctl", nextInSeconds: nil)
        }
        return (health, target.endpoint)
    }

    /// The text of a check: a heading, one line per check, a summary.
    static func lines(_ health: RouterHealth, endpoint: RouterEndpoint) -> [String] {
        var lines = ["router \(health.routerID) at \(endpoint.baseURL) (user \(endpoint.user))"]
        for result in health.results {
            let words = RouterCheckWording.line(result, router: endpoint)
            let status = result.status == .fail ? "FAIL" : result.status.rawValue
            let name = result.check.rawValue
            lines.append(
                status.padding(toLength: 5, withPad: " ", startingAt: 0) + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + words.message + (words.fix.map { " — fix: \($0)" } ?? ""))
        }
        let record = health.record
        switch health.status {
        case .ok: lines.append("router \(health.routerID) is ready")
        case .warn:
            lines.append(
                "router \(health.routerID) is ready, with warnings: \(record.warnings.map(\.rawValue).joined(separator: ", "))")
        case .fail, .skip:
            lines.append("router \(health.routerID) is not ready: \(record.failing.map(\.rawValue).joined(separator: ", ")) failed")
        }
        return lines
    }

    static func json(_ health: RouterHealth, endpoint: RouterEndpoint) -> JSONValue {
        .object([
            ("router", .integer(health.routerID)), ("url", .string(endpoint.baseURL)), ("status", .string(health.status.rawValue)),
            ("checked_at", .string(isoTime(health.checkedAt))),
            (
                "checks",
                .array(
                    health.results.map { result in
                        let words = RouterCheckWording.line(result, router: endpoint)
                        return .object([
                            ("check", .string(result.check.rawValue)), ("status", .string(result.status.rawValue)),
                            ("code", .string(result.finding.code)), ("message", .string(words.message)),
                            ("fix", .optional(words.fix)),
                        ])
                    })
            ),
        ])
    }

    /// A stored check, for `router list --json`.
    static func json(_ record: RouterHealthRecord) -> JSONValue {
        .object([
            ("status", .string(record.status.rawValue)), ("checked_at", .string(isoTime(record.checkedAt))),
            ("checked_by", .optional(record.checkedBy)),
            ("failing", .array(record.failing.map { .string($0.rawValue) })),
            ("warnings", .array(record.warnings.map { .string($0.rawValue) })),
            (
                "checks",
                .object(record.checks.map { ($0.check.rawValue, .string($0.status.rawValue)) })
            ),
        ])
    }

    /// `ok`, `warn (clock)`, `FAIL (credentials)`, `unchecked`: a router's last check in one word or three.
    static func summary(_ record: RouterHealthRecord?) -> String {
        guard let record else { return "unchecked" }
        switch record.status {
        case .ok: return "ok"
        case .warn: return "warn (\(record.warnings.map(\.rawValue).joined(separator: ",")))"
        case .fail, .skip: return "FAIL (\(record.failing.map(\.rawValue).joined(separator: ",")))"
        }
    }

    static func isoTime(_ unixSeconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(unixSeconds)))
    }
}
