import ArgumentParser
import Configuration
import Domain
import Foundation
import JSON
import Logging
import Persistence
import Wiring

struct PaymentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payments", abstract: "Payment attempts: their state, reason and timeline.",
        subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List recent attempts (newest first), or the pay-later ones not delivered yet.",
            discussion: """
                With --pending: the cash (OXXO) and SPEI orders waiting for their money, and the paid ones whose \
                access is being made (awaiting_payment, provisioning), the soonest to expire first: id, time, state, \
                amount, method, reference or CLABE, expiry.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(
            help: .init(
                "Only attempts in this state.",
                discussion: PaymentAttempt.State.allCases.map(\.rawValue).joined(separator: ", ")))
        var state: String?
        @Flag(help: "Only pay-later attempts not delivered yet (awaiting_payment, provisioning).") var pending = false
        @Option(help: "Only this company's.") var company: Int64?
        @Option(help: "How many.") var limit = 50

        func validate() throws {
            if pending, state != nil { throw ValidationError("--pending and --state do not go together") }
            if let state, PaymentAttempt.State(rawValue: state) == nil {
                throw ValidationError(
                    "--state: \(state) is not one of \(PaymentAttempt.State.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() throws {
            let (store, _) = try global.store()
            let rows = try attempt("payments list") { () throws(StoreFailure) in
                pending
                    ? try store.pendingPayLater(limit: limit, companyID: company)
                    : try store.attempts(limit: limit, state: state, companyID: company)
            }
            global.emit(
                .array(rows.map(PaymentsCommand.json)),
                text: rows.map { pending ? PaymentsCommand.pendingLine($0) : PaymentsCommand.line($0) }.joined(separator: "\n"))
        }
    }

    /// id, time, state, amount, order, reason.
    static func line(_ row: PostgresStore.AttemptSummary) -> String {
        let a = row.attempt
        return [
            a.id, row.createdAt, a.state.rawValue, "\(Money.decimalText(cents: a.amount.cents)) \(a.amount.currency)", a.orderID ?? "-",
            a.reason ?? "",
        ].joined(separator: "\t")
    }

    /// id, time, state, amount, method, reference or CLABE, expiry.
    static func pendingLine(_ row: PostgresStore.AttemptSummary) -> String {
        let a = row.attempt
        return [
            a.id, row.createdAt, a.state.rawValue, "\(Money.decimalText(cents: a.amount.cents)) \(a.amount.currency)", a.method.rawValue,
            a.instructions?.reference ?? a.instructions?.clabe ?? "-", a.payLaterExpiresAt.map(EventsCommand.timestamp) ?? "-",
        ].joined(separator: "\t")
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One attempt and its timeline: every state change with time and reason.",
            discussion: "The attempt id is in the nginx access log (`attempt`) and in every answer but the receipt (`id_intento`).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Attempt id (a UUID).") var id: String

        func validate() throws {
            guard UUID(uuidString: id) != nil else { throw ValidationError("\(id) is not an attempt id (a UUID)") }
        }

        func run() throws {
            let (store, _) = try global.store()
            let id = self.id.lowercased()
            let (summary, events, webhooks) = try attempt("payments show") { () throws(StoreFailure) in
                (try store.attemptSummary(id: id), try store.events(attemptID: id), try store.webhookEvents(attemptID: id))
            }
            guard let summary else { throw CommandFailure("payments show: no attempt \(id)") }
            global.emit(
                .object([
                    ("attempt", PaymentsCommand.json(summary)),
                    (
                        "timeline",
                        .array(
                            events.map {
                                .object([
                                    ("at", .string($0.at)), ("from", .optional($0.from)), ("to", .string($0.to)),
                                    ("reason", .optional($0.reason)),
                                ])
                            })
                    ),
                    ("webhook_events", .array(webhooks.map(EventsCommand.json))),
                ]),
                text: PaymentsCommand.text(summary, events, webhooks))
        }
    }

    static func json(_ row: PostgresStore.AttemptSummary) -> JSONValue {
        let a = row.attempt
        return .object([
            ("id", .string(a.id)), ("state", .string(a.state.rawValue)), ("reason", .optional(a.reason)),
            ("company_id", .integer(a.companyID)), ("router_id", .integer(a.routerID)), ("product_id", .integer(a.productID)),
            ("product_name", .string(a.productName)), ("amount", .money(cents: a.amount.cents)),
            ("currency", .string(a.amount.currency)), ("hotspot_username", .string(a.credentials.username)),
            ("router_user_id", .optional(a.routerUserID)), ("order_id", .optional(a.orderID)),
            ("idempotency_key", .string(a.idempotencyKey)), ("request_id", .optional(a.requestID)),
            ("codigo", .optional(row.responseCodigo)), ("created_at", .string(row.createdAt)),
            ("finished_at", .optional(row.finishedAt)), ("next_retry_at", .optional(row.nextRetryAt)),
            ("validity", .optional(a.validity.map(ProductCommand.validityText))),
            ("first_login_at", .optional(row.firstLoginAt)), ("access_ended_at", .optional(row.accessEndedAt)),
            ("access_end_reason", .optional(a.accessEndReason?.rawValue)),
            // How it is paid; for cash or SPEI, how and until when (never the claim code: only
            // its hash is kept, and not shown either).
            ("payment_method", .string(a.method.rawValue)), ("reference", .optional(a.instructions?.reference)),
            ("barcode_url", .optional(a.instructions?.barcodeURL)), ("clabe", .optional(a.instructions?.clabe)),
            ("bank", .optional(a.instructions?.bank)),
            ("expires_at", a.payLaterExpiresAt.map { .string(EventsCommand.timestamp($0)) } ?? .null),
        ])
    }

    /// The access's line of `payments show` (CONTRACT §11): what validity was sold, when the user
    /// was first seen used, when the access ended and why. Nil when there is nothing to say (no
    /// validity, never seen used, not ended), so such an attempt shows as it always did.
    static func accessLine(_ row: PostgresStore.AttemptSummary) -> String? {
        let a = row.attempt
        var parts: [String] = []
        if let validity = a.validity { parts.append("validity \(ProductCommand.validityText(validity))") }
        if let first = row.firstLoginAt { parts.append("first login \(first)") }
        if let ended = row.accessEndedAt { parts.append("access ended \(ended) (\(a.accessEndReason?.rawValue ?? "-"))") }
        guard !parts.isEmpty else { return nil }
        if row.firstLoginAt == nil, row.accessEndedAt == nil, a.state == .delivered { parts.append("not used yet") }
        return "access   " + parts.joined(separator: ", ")
    }

    /// The attempt's facts, then one line per state change: time, from → to, reason.
    static func text(
        _ row: PostgresStore.AttemptSummary, _ events: [PostgresStore.AttemptEvent], _ webhooks: [WebhookEventRecord] = []
    ) -> String {
        let a = row.attempt
        var lines = [
            "attempt  \(a.id)",
            "state    \(a.state.rawValue)\(row.responseCodigo.map { " (answered \($0))" } ?? "")\(a.reason.map { ": \($0)" } ?? "")",
            "sale     \(Money.decimalText(cents: a.amount.cents)) \(a.amount.currency), product \(a.productID) \"\(a.productName)\", "
                + "router \(a.routerID), company \(a.companyID)",
            "order    \(a.orderID ?? "-")",
        ]
        if a.method.isPayLater {
            // A pay-later attempt: how it is paid and until when (the claim code is never shown).
            let how =
                a.method == .spei
                ? "CLABE \(a.instructions?.clabe ?? "-")\(a.instructions?.bank.map { " (\($0))" } ?? "")"
                : "reference \(a.instructions?.reference ?? "-")"
            let expiry = a.payLaterExpiresAt.map(EventsCommand.timestamp) ?? "-"
            lines.append("method   \(a.method.rawValue), \(how), expires \(expiry)")
        }
        lines += [
            "user     \(a.credentials.username) (router id \(a.routerUserID ?? "-"))",
            "request  \(a.requestID ?? "-")",
            "created  \(row.createdAt)" + (row.finishedAt.map { ", finished \($0)" } ?? "")
                + (row.nextRetryAt.map { ", next retry \($0)" } ?? ""),
        ]
        if let access = accessLine(row) { lines.append(access) }
        lines += ["", "timeline"]
        func padded(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        let fromWidth = events.map { ($0.from ?? "-").count }.max() ?? 0
        let toWidth = events.map(\.to.count).max() ?? 0
        for event in events {
            let step = "  \(event.at)  \(padded(event.from ?? "-", fromWidth)) → \(padded(event.to, toWidth))  \(event.reason ?? "")"
            lines.append(String(step.reversed().drop { $0 == " " }.reversed()))
        }
        // Conekta's events of this attempt's order: received, id, type, deliveries, what each did.
        lines += ["", "webhook events"]
        if webhooks.isEmpty { lines.append("  none") }
        for event in webhooks {
            lines.append(
                "  \(EventsCommand.timestamp(event.receivedAt))  \(event.eventID)  \(event.type)  \(event.deliveries)x  \(event.outcome ?? "pending")"
            )
        }
        return lines.joined(separator: "\n")
    }
}

struct ReconcileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Finish unfinished payment attempts now (the server's reconciler does this continuously).",
        discussion: """
            One pass over every attempt that is unfinished when it starts (or the one --attempt names), \
            whatever backoff the background reconciler scheduled: what an operator runs after fixing a router \
            or an outage. Works HOTSPOT_RECONCILE_THREADS attempts at once across routers, at most half of \
            HOTSPOT_ROUTER_MAX_CONCURRENCY of one router; a router that does not answer one of them has the rest \
            of its attempts left for a later pass (reported not tried). Prints one line per attempt (finished, \
            still unfinished and why, or held by a running worker) and a summary; exits 1 when an attempt is \
            still unfinished. A cash or SPEI order still waiting for its customer's money is read again and \
            reported as waiting: that is not stuck.
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "One pass over every unfinished attempt, then exit.") var once = false
    @Option(name: .customLong("attempt"), help: "Only this attempt (its id, a UUID).") var attemptID: String?

    func validate() throws {
        guard once else { throw ValidationError("only --once is supported; the server runs the continuous reconciler") }
        if let attemptID, UUID(uuidString: attemptID) == nil { throw ValidationError("\(attemptID) is not an attempt id (a UUID)") }
    }

    func run() throws {
        let configuration = try global.configuration(require: [.database, .secretsKey, .keySecret])
        PaymentWiring.initializeLibraries()
        let threads = attemptID == nil ? configuration.payments.reconcileThreads : 1
        let wiring: PaymentWiring
        do {
            wiring = try PaymentWiring(
                configuration: configuration, applicationName: "hotspotctl", poolSize: min(threads, configuration.databasePoolSize),
                logger: Logger(label: "hotspotctl"))
        } catch {
            throw CommandFailure("configuration: \(error)")
        }
        let store = wiring.store()

        // A crashed server on this host may still lease attempts; free them first.
        _ = try? store.releaseLeasesOfDeadProcesses(host: wiring.hostName) { pid in
            kill(pid, 0) == 0 || errno != ESRCH
        }
        let only = attemptID?.lowercased()
        let unfinished = try attempt("reconcile") { () throws(StoreFailure) in try store.unfinishedAttempts(id: only, limit: 10_000) }
        if let only, unfinished.isEmpty {
            let summary = try attempt("reconcile") { () throws(StoreFailure) in try store.attemptSummary(id: only) }
            guard let summary else { throw CommandFailure("reconcile: no attempt \(only)") }
            global.emit(
                .object([("finished", .array([])), ("unfinished", .array([])), ("already_final", .string(summary.attempt.state.rawValue))]),
                text: "attempt \(summary.attempt.id) is already \(summary.attempt.state.rawValue); nothing to reconcile")
            return
        }
        let reports = try ReconcilePass(
            rows: unfinished, perRouter: configuration.reconcilePerRouter,
            holdSeconds: Double(configuration.retryAfterSeconds)
        ).run(threads: threads, wiring: wiring)
        let stuck = reports.filter { !$0.finished && !$0.waiting }
        let waiting = reports.filter(\.waiting)
        let summary =
            "finished \(reports.count - stuck.count - waiting.count), still unfinished \(stuck.count)"
            + (waiting.isEmpty ? "" : ", waiting for the customer's money \(waiting.count)")
        global.emit(
            .object([
                ("finished", .array(reports.filter(\.finished).map(\.json))), ("unfinished", .array(stuck.map(\.json))),
                ("waiting", .array(waiting.map(\.json))),
            ]),
            text: reports.isEmpty
                ? "nothing to reconcile: no unfinished attempt"
                : (reports.map(\.line) + [summary]).joined(separator: "\n"))
        if !stuck.isEmpty { throw ExitCode(1) }
    }

    /// What one attempt became.
    struct Report {
        var id: String
        var from: String
        var to: String
        var finished: Bool
        /// The answer the customer got (or gets now), when the attempt ran.
        var codigo: String?
        /// Why it is where it is, or who holds it.
        var why: String

        /// A pay-later order still waiting for its customer's money: unfinished, not stuck.
        var waiting: Bool { to == PaymentAttempt.State.awaitingPayment.rawValue }

        var line: String {
            [
                finished ? "finished" : waiting ? "waiting" : "unfinished", id, from == to ? to : "\(from) → \(to)",
                codigo.map { "(\($0))" } ?? "", why,
            ].filter { !$0.isEmpty }.joined(separator: "  ")
        }

        var json: JSONValue {
            .object([
                ("id", .string(id)), ("from", .string(from)), ("state", .string(to)), ("codigo", .optional(codigo)),
                ("reason", .string(why)),
            ])
        }
    }
}

/// One pass of `hotspotctl reconcile --once` over the unfinished attempts: `threads` at once
/// (each its own payment graph: curl handle, lease owner), routers in parallel as the server's
/// reconciler works them (`ReconcileSchedule`): at most `perRouter` attempts of one router at once,
/// and a router that does not answer one of them has its attempts not yet started left for a later
/// pass. Attempts a running worker holds are reported as held, not run.
///
/// Invariant: while the pass's threads run, `schedule`, `reports` and `failure` are read and
/// written only with `condition` locked, which is what makes the class `Sendable`; `run` reads
/// them unlocked only before it starts the threads and after they all ended (the group's wait
/// orders those reads after their writes).
final class ReconcilePass: @unchecked Sendable {
    private let rows: [PostgresStore.UnfinishedAttempt]
    private var schedule: ReconcileSchedule<Int>
    private var reports: [ReconcileCommand.Report?]
    private var failure: String?
    private let condition = NSCondition()

    init(rows: [PostgresStore.UnfinishedAttempt], perRouter: Int, holdSeconds: Double) {
        self.rows = rows
        reports = Array(repeating: nil, count: rows.count)
        schedule = ReconcileSchedule(
            settings: .init(
                perRouter: perRouter, queueTarget: max(1, rows.count), refillBelow: 1, holdBaseSeconds: holdSeconds,
                holdCeilingSeconds: holdSeconds, idleClaimSeconds: 0))
        var jobs: [(routerID: Int64, job: Int)] = []
        for (index, row) in rows.enumerated() {
            if let owner = row.leaseOwner {
                reports[index] = ReconcileCommand.Report(
                    id: row.id, from: row.state, to: row.state, finished: false, codigo: nil,
                    why: "held by \(owner) until \(row.leaseUntil ?? "-") (that worker is running it)")
            } else {
                jobs.append((row.routerID, index))
            }
        }
        schedule.add(jobs)
    }

    /// Runs the pass; the reports in the listing's order.
    /// - Throws: `CommandFailure` when the database stopped answering (the pass stops).
    func run(threads: Int, wiring: PaymentWiring) throws -> [ReconcileCommand.Report] {
        let group = DispatchGroup()
        for index in 0..<max(1, min(threads, schedule.waiting)) {
            group.enter()
            Thread { [self] in
                work(payments: wiring.paymentGraph(name: "hotspotctl-\(index)").payments)
                group.leave()
            }.start()
        }
        group.wait()
        if let failure { throw CommandFailure("reconcile: the database is not reachable (\(failure))") }
        return reports.enumerated().map { index, report in
            report
                ?? .init(
                    id: rows[index].id, from: rows[index].state, to: rows[index].state, finished: false, codigo: nil,
                    why: "not tried in this pass")
        }
    }

    private func work(payments: PaymentService) {
        var lastRouter: Int64?
        while let ticket = nextTicket(preferring: lastRouter) {
            lastRouter = ticket.routerID
            let row = rows[ticket.job]
            let outcome: PaymentService.Outcome?
            do {
                outcome = try payments.reconcile(attemptID: row.id)
            } catch {
                finish(ticket, report: nil, routerAnswered: true, failure: "\(error)")
                return
            }
            guard let outcome, let state = outcome.state else {
                finish(
                    ticket,
                    report: .init(
                        id: row.id, from: row.state, to: row.state, finished: false, codigo: nil,
                        why: "taken by another worker meanwhile"), routerAnswered: true)
                continue
            }
            finish(
                ticket,
                report: .init(
                    id: row.id, from: row.state, to: state.rawValue, finished: state.isFinal, codigo: outcome.codigo,
                    why: outcome.reason ?? ""), routerAnswered: !outcome.routerUnanswered)
        }
    }

    /// The next attempt this thread runs, waiting while every router with attempts left is at its
    /// share; nil when none is left to start (or the pass failed).
    private func nextTicket(preferring router: Int64?) -> ReconcileSchedule<Int>.Ticket? {
        condition.lock()
        defer { condition.unlock() }
        while failure == nil {
            if let ticket = schedule.next(now: ReconcilePass.now(), preferring: router) { return ticket }
            guard schedule.waiting > 0, schedule.running > 0 else { return nil }
            condition.wait()
        }
        return nil
    }

    private func finish(
        _ ticket: ReconcileSchedule<Int>.Ticket, report: ReconcileCommand.Report?, routerAnswered: Bool, failure: String? = nil
    ) {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        reports[ticket.job] = report
        if let failure, self.failure == nil { self.failure = failure }
        guard let withdrawal = schedule.finished(ticket, routerAnswered: routerAnswered, now: ReconcilePass.now()) else { return }
        for index in withdrawal.jobs {
            let row = rows[index]
            reports[index] = .init(
                id: row.id, from: row.state, to: row.state, finished: false, codigo: nil,
                why: "not tried: router \(row.routerID) did not answer another of its attempts in this pass")
        }
    }

    private static func now() -> Double { ProcessInfo.processInfo.systemUptime }
}
