import ArgumentParser
import Configuration
import Domain
import Foundation
import JSON
import Logging
import Persistence
import Wiring

struct UsersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "A router's hotspot users made by hotspot-pay, read live: their state, and ending one now.",
        discussion: """
            Only users whose comment is hotspot-pay:<attempt id> are shown or touched; the router's other \
            users are never read further nor changed. The server removes users whose access is over by \
            itself (HOTSPOT_SWEEP_INTERVAL); these commands are for looking and for ending one at once.
            """,
        subcommands: [List.self, End.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the router's users made by hotspot-pay with their attempt and state.",
            discussion: """
                States: active (used, not over), unused (never used), over (past its end: uptime, bytes or \
                validity, still on the router until the next sweep), revoked (its order was refunded or charged \
                back), unfinished (its payment is still being finished), unmatched (a hotspot-pay comment naming \
                no attempt of this router). Reads the router now, with its stored credentials.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Router id.") var router: Int64
        @Option(help: "Only users in this state (active, unused, over, revoked, unfinished, unmatched).")
        var state: String?

        func validate() throws {
            if let state, AccessState(rawValue: state) == nil {
                throw ValidationError(
                    "--state must be one of \(AccessState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() throws {
            let state = self.state.flatMap(AccessState.init(rawValue:))
            let sweeper = try UsersCommand.sweeper(global)
            let users: [AccessSweeper.SoldUser]
            do {
                users = try sweeper.users(routerID: router)
            } catch {
                throw UsersCommand.failure("users list", router: router, error)
            }
            let shown = users.filter { state == nil || $0.state == state }
            global.emit(.array(shown.map(UsersCommand.json)), text: UsersCommand.table(shown, router: router, state: state))
        }
    }

    struct End: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End one hotspot-pay user now: its sessions, then the user; the attempt records reason operator.",
            discussion: """
                Refuses (exit 1) a user hotspot-pay did not make, one whose comment names no attempt of this router, \
                and one whose payment is still being finished.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The hotspot user's name.") var user: String
        @Option(help: "Router id.") var router: Int64

        func validate() throws {
            guard !user.isEmpty, user.count <= 200 else { throw ValidationError("USER must be a hotspot user name") }
        }

        func run() throws {
            let sweeper = try UsersCommand.sweeper(global)
            let result: AccessSweeper.OperatorEnd
            do {
                result = try sweeper.endUser(named: user, routerID: router)
            } catch {
                throw UsersCommand.failure("users end", router: router, error)
            }
            switch result {
            case .ended(let access, let sessions, let recorded):
                let note = recorded ? "" : " (its end was recorded before: \(access.endReason?.rawValue ?? "-"))"
                global.emit(
                    .object([
                        ("user", .string(user)), ("router_id", .integer(router)), ("attempt_id", .string(access.attemptID)),
                        ("sessions_ended", .integer(sessions)), ("reason", .string(AccessEndReason.byOperator.rawValue)),
                        ("recorded", .bool(recorded)),
                    ]),
                    text: "user \(user) ended on router \(router): attempt \(access.attemptID), \(sessions) session(s) ended, "
                        + "reason operator\(note)")
            case .noSuchUser:
                throw CommandFailure("users end: router \(router) has no hotspot user \(user) (on its hotspot server)")
            case .notMadeByProduct(let comment):
                throw CommandFailure(
                    "users end: \(user) on router \(router) was not made by hotspot-pay "
                        + "(comment \(comment.isEmpty ? "empty" : "\"\(comment.prefix(80))\"")); left as it is")
            case .noAttemptHere(let attemptID):
                throw CommandFailure(
                    "users end: \(user)'s comment names attempt \(attemptID), which is not an attempt of router \(router) "
                        + "for that user; left as it is")
            case .unfinished(let access):
                throw CommandFailure(
                    "users end: attempt \(access.attemptID) of \(user) is still \(access.state.rawValue); "
                        + "the reconciler finishes it first (hotspotctl reconcile --once --attempt \(access.attemptID))")
            }
        }
    }

    /// A sweeper on one connection of its own, with the router's stored endpoint.
    static func sweeper(_ global: GlobalOptions) throws -> AccessSweeper {
        let configuration = try global.configuration(require: [.database, .secretsKey])
        PaymentWiring.initializeLibraries()
        let wiring: PaymentWiring
        do {
            wiring = try PaymentWiring(
                configuration: configuration, applicationName: "hotspotctl", poolSize: 1, logger: Logger(label: "hotspotctl"))
        } catch {
            throw CommandFailure("configuration: \(error)")
        }
        return wiring.operatorSweeper(name: "hotspotctl", store: wiring.store())
    }

    static func failure(_ command: String, router: Int64, _ error: AccessSweeper.Failure) -> CommandFailure {
        switch error {
        case .unknownRouter: CommandFailure("\(command): no router \(router)")
        case .router(let failure): CommandFailure("\(command): router \(router) \(AccessSweeper.words(failure))")
        case .store(.unavailable): CommandFailure("\(command): the database is not reachable (check HOTSPOT_DATABASE_URL)")
        case .store(.failed(let message)): CommandFailure("\(command): \(message)")
        }
    }

    static func json(_ user: AccessSweeper.SoldUser) -> JSONValue {
        let usage = user.usage
        func number(_ value: Int64?) -> JSONValue { value.map { .integer($0) } ?? .null }
        return .object([
            ("user", .string(usage.name)), ("router_user_id", .string(usage.id)), ("attempt_id", .string(user.attemptID)),
            ("state", .string(user.state.rawValue)), ("reason", .optional(user.reason?.rawValue)),
            ("attempt_state", .optional(user.access?.state.rawValue)), ("product_id", number(user.access?.productID)),
            ("product_name", .optional(user.access?.productName)), ("disabled", .bool(usage.disabled)),
            ("uptime_seconds", number(usage.uptimeSeconds)), ("bytes_in", number(usage.bytesIn)),
            ("bytes_out", number(usage.bytesOut)), ("limit_uptime_seconds", number(usage.limitUptimeSeconds)),
            ("limit_bytes_total", number(usage.limitBytesTotal)), ("sessions", .integer(user.sessions)),
            ("first_login_at", .optional(user.firstLoginAt.map(EventsCommand.timestamp))),
            ("ends_at", .optional(user.endsAt.map(EventsCommand.timestamp))),
            ("validity", .optional(user.access?.validity.map(ProductCommand.validityText))),
            ("access_ended_at", .optional(user.access?.endedAt.map(EventsCommand.timestamp))),
        ])
    }

    /// A header, one row per user (user, attempt, product, state, uptime, bytes, first login, ends
    /// at, reason), and a count by state.
    static func table(_ users: [AccessSweeper.SoldUser], router: Int64, state: AccessState?) -> String {
        guard !users.isEmpty else {
            return "no hotspot-pay users\(state.map { " in state \($0.rawValue)" } ?? "") on router \(router)"
        }
        let header = ["user", "attempt", "product", "state", "uptime", "bytes", "first login", "ends at", "reason"]
        let rows = users.map { user -> [String] in
            [
                user.usage.name, user.attemptID, user.access.map { String($0.productID) } ?? "-", user.state.rawValue,
                user.usage.uptimeSeconds.map { RouterOSInterval.text(seconds: $0) } ?? "-",
                user.usage.bytesTotal.map(String.init) ?? "-", user.firstLoginAt.map(EventsCommand.timestamp) ?? "-",
                user.endsAt.map(EventsCommand.timestamp) ?? "-", user.reason?.rawValue ?? "-",
            ]
        }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func render(_ row: [String]) -> String {
            let padded = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }
            return padded.joined(separator: "  ")
        }
        let counts = AccessState.allCases.compactMap { state -> String? in
            let count = users.filter { $0.state == state }.count
            return count > 0 ? "\(count) \(state.rawValue)" : nil
        }
        return ([render(header)] + rows.map(render) + ["\(users.count) user(s): \(counts.joined(separator: ", "))"])
            .joined(separator: "\n")
    }
}
