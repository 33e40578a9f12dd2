import Domain
import Foundation
import Logging
import Persistence
import Synchronization
import Wiring

/// A background thread that finishes payment attempts left unfinished (CONTRACT §6): charges whose
/// outcome was unknown, users to enable, delete or refund.
///
/// A process runs `HOTSPOT_RECONCILE_THREADS` (32) of them over one `ReconcilerPool`, so that the
/// backlog an outage leaves drains with routers worked in parallel (issue 21 §2). A thread that
/// finds the pool short of attempts claims a batch of due ones (twice the threads, the longest due
/// first, `FOR UPDATE SKIP LOCKED` under a lease owner of the claim's own, so several instances and
/// `hotspotctl reconcile --once` never work one attempt twice); the pool hands them out round-robin
/// over their routers, a thread keeping to the router it just worked with while it may (its
/// connection stays warm). A router gets at most `reconcilePerRouter` attempts at once, waiting
/// and running together (half `HOTSPOT_ROUTER_MAX_CONCURRENCY`: payments keep the other half of
/// its calls), so a slow router holds that many threads and no more. A run its router did not
/// answer (unreachable, timed out, slots full) holds the router back: its waiting attempts are
/// given back to the ledger due when the hold ends, no claim takes its attempts until then (the
/// retry schedule's base, doubling per unanswered run, up to `HOTSPOT_RETRY_MAX_SECONDS`), then
/// one at a time until it answers again. Each attempt's own run is the saga's, step by step, and
/// its own retry backoff and pay-later polling schedule when it is due again.
///
/// The first four threads also apply webhook events left pending, sweep one router's sold users
/// (CONTRACT §11) and check one router (CONTRACT §13) at a time: at once again while they find
/// some, else once per reconcile interval. The first also frees what dead processes held,
/// publishes the backlog (once per interval, at most once a second) and reports progress. A
/// thread with nothing to run waits on the pool until a claim or a run ends, or for the interval.
struct Reconciler {
    let index: Int
    /// The attempts this process's reconciler threads share.
    let pool: ReconcilerPool
    /// This thread also applies webhooks, sweeps and checks routers.
    let housekeeping: Bool
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

    /// How many of the threads also apply webhooks, sweep and check routers.
    static let housekeepers = 4

    func run(until draining: borrowing Atomic<Bool>) {
        var deadOwnersChecked = index != 0
        let interval = Double(intervalMilliseconds) / 1000
        var lastRouter: Int64?
        var housekeepingAt = 0.0
        var backlogAt = 0.0
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
                switch pool.next(preferring: lastRouter) {
                case .run(let ticket):
                    worked = true
                    lastRouter = ticket.routerID
                    let outcome = payments.reconcile(ticket.job)
                    if let withdrawal = pool.finished(ticket, routerAnswered: !outcome.routerUnanswered) {
                        holdBack(withdrawal)
                    }
                    report(outcome)
                case .claim(let claim, let owner):
                    worked = true
                    do {
                        pool.claimed(try payments.claimDue(claim, owner: owner), asked: claim)
                    } catch {
                        pool.claimFailed()
                        throw error
                    }
                case .idle:
                    break
                }
                let now = ReconcilerPool.now()
                if housekeeping, now >= housekeepingAt {
                    let found = try keepHouse()
                    housekeepingAt = found ? now : now + interval
                    worked = worked || found
                }
                if index == 0, now >= backlogAt {
                    try readBacklog()
                    backlogAt = now + max(1, interval)
                }
            } catch {
                logger.debug("reconciler waiting for the database", metadata: ["reason": "\(error)"])
            }
            if !worked {
                let now = ReconcilerPool.now()
                var wake = now + interval
                if housekeeping { wake = min(wake, housekeepingAt) }
                if index == 0 { wake = min(wake, backlogAt) }
                pool.wait(seconds: max(0.01, wake - now))
            }
        }
        // The attempts claimed and not run go back to the ledger, due now, for the next process.
        pool.stop()
        giveBack(pool.withdrawAll(), seconds: 0)
    }

    /// One webhook event, one router's sweep and one router's check, when due; whether any was.
    private func keepHouse() throws -> Bool {
        var found = false
        for receipt in try webhooks.applyPending(limit: 1) {
            found = true
            report(receipt)
        }
        for pass in try sweeper?.sweepDue(limit: 1) ?? [] {
            found = true
            report(pass)
        }
        for health in try routerHealth?.checkDue(limit: 1) ?? [] {
            found = true
            report(health)
        }
        return found
    }

    /// A router that did not answer: its waiting attempts go back to the ledger, due when its
    /// hold ends (another instance may reach it meanwhile).
    private func holdBack(_ withdrawal: ReconcilerPool.Schedule.Withdrawal) {
        let seconds = Int(withdrawal.heldForSeconds.rounded(.up))
        logger.info(
            "reconciler holding a router back",
            metadata: [
                "router": "\(withdrawal.routerID)", "seconds": "\(seconds)", "attempts_given_back": "\(withdrawal.jobs.count)",
            ])
        giveBack(withdrawal.jobs, seconds: seconds)
    }

    /// Gives claimed attempts back unrun; when the database is down, their leases run out instead.
    private func giveBack(_ attempts: [PaymentService.ClaimedAttempt], seconds: Int) {
        guard !attempts.isEmpty else { return }
        do {
            try payments.postpone(attempts, seconds: seconds)
        } catch {
            logger.debug("claimed attempts left to their leases", metadata: ["reason": "\(error)", "attempts": "\(attempts.count)"])
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
