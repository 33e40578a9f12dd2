import Domain
import Foundation
import Logging
import Persistence
import Synchronization
import Wiring

/// A background thread that finishes payment attempts left unfinished (CONTRACT §6): charges whose
/// outcome was unknown, users to enable, delete or refund. A process runs several
/// (`HOTSPOT_RECONCILE_THREADS`), each taking one due attempt at a time, so one slow attempt (a
/// router that hangs, a long order look-up) holds one thread, not the rest; that count also bounds
/// how many attempts of one router or one Conekta account are worked on at once. Safe with several
/// instances: attempts are claimed with leases and `FOR UPDATE SKIP LOCKED`. The first thread
/// also frees what dead processes held, publishes the backlog and reports progress.
///
/// After payments and webhooks, each thread takes at most one router whose sweep of sold users
/// is due (CONTRACT §11): one pass is one listing of the router and a bounded, paced number of
/// ends, so it holds the thread for a bounded time.
struct Reconciler {
    let index: Int
    let payments: PaymentService
    let store: PostgresStore
    /// Applies webhook events left pending (CONTRACT §10): the provider or the attempt was busy
    /// when they arrived, or the process stopped between recording and applying.
    let webhooks: WebhookService
    /// Removes sold users whose access is over; nil when sweeping is off.
    let sweeper: AccessSweeper?
    /// Checks routers in the field (CONTRACT §13); nil when checks are off.
    let routerHealth: RouterHealthMonitor?
    let logger: Logger
    let intervalMilliseconds: Int
    let hostName: String
    let pendingReleases: PendingReleases
    let progress: ReconcilerProgress
    let metrics: Metrics
    let recorder: MetricsRecorder

    func run(until draining: borrowing Atomic<Bool>) {
        var deadOwnersChecked = index != 0
        while !draining.load(ordering: .relaxed) {
            var worked = false
            do {
                if !deadOwnersChecked {
                    // Attempts a crashed predecessor on this host still leases.
                    let freed = try store.releaseLeasesOfDeadProcesses(host: hostName) { pid in
                        kill(pid, 0) == 0 || errno != ESRCH
                    }
                    if freed > 0 { logger.info("freed leases of dead processes", metadata: ["attempts": "\(freed)"]) }
                    deadOwnersChecked = true
                }
                if index == 0 {
                    for id in pendingReleases.snapshot() {
                        try store.release(attemptID: id, storing: nil, retry: RetrySchedule(baseSeconds: 0, ceilingSeconds: 1))
                        pendingReleases.remove(id)
                    }
                }
                for outcome in try payments.reconcile(limit: 1) {
                    worked = true
                    report(outcome)
                }
                for receipt in try webhooks.applyPending(limit: 1) {
                    worked = true
                    report(receipt)
                }
                for pass in try sweeper?.sweepDue(limit: 1) ?? [] {
                    worked = true
                    report(pass)
                }
                for health in try routerHealth?.checkDue(limit: 1) ?? [] {
                    worked = true
                    report(health)
                }
                if index == 0 { try readBacklog() }
            } catch {
                logger.debug("reconciler waiting for the database", metadata: ["reason": "\(error)"])
            }
            if !worked {
                // Sleep in short steps so shutdown is not held up by a long interval.
                var slept = 0
                while slept < intervalMilliseconds, !draining.load(ordering: .relaxed) {
                    usleep(50_000)
                    slept += 50
                }
            }
        }
    }

    private func report(_ outcome: PaymentService.Outcome) {
        // A pay-later order polled and still waiting for its money moved nothing on.
        if outcome.state == .awaitingPayment, outcome.warning == nil {
            logger.debug("pay-later order still waiting", metadata: ["attempt": "\(outcome.attemptID ?? "-")"])
            return
        }
        // The attempt's real outcome: the answer its customer got, not this run's.
        recorder.reconciled(codigo: outcome.codigo)
        let finished = outcome.state?.isFinal == true
        if finished { progress.finished() }
        var metadata: Logger.Metadata = [
            "attempt": "\(outcome.attemptID ?? "-")", "codigo": "\(outcome.codigo)", "state": "\(outcome.state?.rawValue ?? "-")",
            "reason": "\(outcome.reason ?? "")",
        ]
        logger.info("reconciled", metadata: metadata)
        if let warning = outcome.warning {
            metadata["warning"] = "\(warning)"
            if outcome.absenceUnproven {
                recorder.absenceUnproven()
                logger.warning("attempt ended without proof", metadata: metadata)
            } else {
                logger.warning("reconciler needs an operator", metadata: metadata)
            }
        }
    }
}

extension Reconciler {
    private func report(_ receipt: WebhookService.Receipt) {
        recorder.webhookEvent(type: receipt.type, outcome: receipt.outcomeKind)
        var metadata: Logger.Metadata = [
            "company": "\(receipt.companyID)", "event": "\(receipt.eventID)", "type": "\(receipt.type)",
            "outcome": "\(receipt.outcome)", "attempt": "\(receipt.attemptID ?? "-")",
        ]
        if let warning = receipt.warning {
            metadata["warning"] = "\(warning)"
            logger.warning("webhook event applied late", metadata: metadata)
        } else {
            logger.info("webhook event applied late", metadata: metadata)
        }
    }

    /// One line per pass over a router (never a password: user names only, of users removed),
    /// one per access ended, and a warning when the pass stopped short or the router refused a
    /// removal.
    private func report(_ pass: AccessSweeper.Pass) {
        for ended in pass.ended {
            recorder.userEnded(reason: ended.reason.rawValue)
            logger.info(
                "access ended",
                metadata: [
                    "router": "\(pass.routerID)", "attempt": "\(ended.attemptID)", "user": "\(ended.username)",
                    "reason": "\(ended.reason.rawValue)",
                ])
        }
        for refused in pass.refused {
            logger.warning(
                "router refused to remove a sold user",
                metadata: [
                    "router": "\(pass.routerID)", "attempt": "\(refused.attemptID)", "user": "\(refused.username)",
                    "error": "\(AccessSweeper.words(refused.failure))",
                ])
        }
        let byReason = AccessEndReason.allCases.compactMap { reason in
            pass.endedByReason[reason].map { "\(reason.rawValue)=\($0)" }
        }
        var metadata: Logger.Metadata = [
            "router": "\(pass.routerID)", "users": "\(pass.users)", "ended": "\(pass.ended.count)",
            "ended_by_reason": "\(byReason.joined(separator: ","))", "past_end": "\(pass.pastEnd)",
            "first_logins": "\(pass.firstLogins)", "unmatched": "\(pass.unmatched)",
            "duration_ms": "\(pass.durationMilliseconds)", "next_in_s": "\(pass.nextInSeconds)",
        ]
        if let failure = pass.failure {
            recorder.sweepFailed(router: pass.routerID)
            metadata["error"] = "\(failure)"
            logger.warning("access sweep stopped short", metadata: metadata)
        } else {
            logger.info("access sweep", metadata: metadata)
        }
    }

    /// One line per router checked: its status, and the checks that failed or warned (their
    /// codes; `hotspotctl router check` words them).
    private func report(_ health: RouterHealth) {
        let failing = health.results.filter { $0.status == .fail }.map { "\($0.check.rawValue):\($0.finding.code)" }
        let warnings = health.results.filter { $0.status == .warn }.map { "\($0.check.rawValue):\($0.finding.code)" }
        let metadata: Logger.Metadata = [
            "router": "\(health.routerID)", "status": "\(health.status.rawValue)", "failing": "\(failing.joined(separator: ","))",
            "warnings": "\(warnings.joined(separator: ","))",
        ]
        if health.status == .fail {
            logger.warning("router check failed", metadata: metadata)
        } else {
            logger.info("router check", metadata: metadata)
        }
    }

    /// Publishes what is left unfinished after this pass, for `GET /metrics`, and every few
    /// seconds while something is unfinished, a progress line: attempts finished since the last
    /// line, how many are left, and the oldest one with its age and why it is not done.
    private func readBacklog() throws(StoreFailure) {
        let backlog = try store.backlog()
        var attempts: [PaymentAttempt.State: Int] = [:]
        for (state, count) in backlog.attemptsByState {
            if let state = PaymentAttempt.State(rawValue: state) { attempts[state] = count }
        }
        var awaiting: [PaymentMethod: Int] = [:]
        for (method, count) in backlog.awaitingPaymentByMethod {
            if let method = PaymentMethod(rawValue: method) { awaiting[method] = count }
        }
        let now = Date().timeIntervalSince1970
        metrics.record(
            Metrics.Backlog(
                attempts: attempts, oldestCreatedAt: backlog.oldestCreatedAt, readAt: now, awaitingPaymentByMethod: awaiting))
        if sweeper != nil {
            metrics.record(
                try store.sweepStatuses().map {
                    Metrics.RouterSweep(
                        routerID: $0.routerID, pastEnd: $0.lastPastEnd,
                        durationSeconds: $0.lastDurationMilliseconds.map { Double($0) / 1000 })
                })
        }
        metrics.record(try store.routerHealthRecords(activeOnly: true))
        guard progress.due(now: now) else { return }
        let finished = progress.takeFinished()
        // Orders waiting for their customers' cash or SPEI money are not a backlog to report.
        let left = attempts.filter { $0.key != .awaitingPayment }.values.reduce(0, +)
        guard left > 0 || finished > 0 else { return }
        var metadata: Logger.Metadata = ["finished": "\(finished)", "unfinished": "\(left)"]
        if let oldest = try store.oldestUnfinished() {
            metadata["oldest_attempt"] = "\(oldest.id)"
            metadata["oldest_age_s"] = "\(Int64(now) - oldest.createdAt)"
            metadata["oldest_state"] = "\(oldest.state)"
            metadata["oldest_reason"] = "\(oldest.reason ?? "")"
            metadata["oldest_tries"] = "\(oldest.tries)"
        }
        logger.info("reconciler progress", metadata: metadata)
    }
}

/// What the reconciler threads of this process finished since the last progress line.
final class ReconcilerProgress: Sendable {
    private let finishedCount = Atomic<Int>(0)
    private let lastLine = Mutex<Double>(0)
    /// Seconds between progress lines.
    let period: Double

    init(period: Double = 10) {
        self.period = period
    }

    func finished() { finishedCount.add(1, ordering: .relaxed) }

    func takeFinished() -> Int { finishedCount.exchange(0, ordering: .relaxed) }

    /// Whether a line is due now (and if so, the next one is `period` away).
    func due(now: Double) -> Bool {
        lastLine.withLock { last in
            guard now - last >= period else { return false }
            last = now
            return true
        }
    }
}
