import Domain
import Foundation
import Logging
import Persistence
import Synchronization

/// The background thread that finishes every payment attempt left unfinished (CONTRACT §6):
/// charges whose outcome was unknown, users to enable, delete or refund. Safe with several
/// instances: attempts are claimed with leases and `FOR UPDATE SKIP LOCKED`.
struct Reconciler {
    let payments: PaymentService
    let store: PostgresStore
    let logger: Logger
    let intervalMilliseconds: Int
    let hostName: String
    let pendingReleases: PendingReleases
    let metrics: Metrics
    let recorder: MetricsRecorder

    func run(until draining: borrowing Atomic<Bool>) {
        var deadOwnersChecked = false
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
                for id in pendingReleases.snapshot() {
                    try store.release(attemptID: id, storing: nil, retryAfterSeconds: 0)
                    pendingReleases.remove(id)
                }
                let outcomes = try payments.reconcile(limit: 20)
                worked = !outcomes.isEmpty
                for outcome in outcomes {
                    // The attempt's real outcome: the answer its customer got, not this run's.
                    recorder.reconciled(codigo: outcome.codigo)
                    logger.info(
                        "reconciled",
                        metadata: [
                            "attempt": "\(outcome.attemptID ?? "-")", "codigo": "\(outcome.codigo)",
                            "state": "\(outcome.state?.rawValue ?? "-")", "reason": "\(outcome.reason ?? "")",
                        ])
                }
                try readBacklog()
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
}

extension Reconciler {
    /// Publishes what is left unfinished after this pass, for `GET /metrics`.
    private func readBacklog() throws(StoreFailure) {
        let backlog = try store.backlog()
        var attempts: [PaymentAttempt.State: Int] = [:]
        for (state, count) in backlog.attemptsByState {
            if let state = PaymentAttempt.State(rawValue: state) { attempts[state] = count }
        }
        metrics.record(
            Metrics.Backlog(attempts: attempts, oldestCreatedAt: backlog.oldestCreatedAt, readAt: Date().timeIntervalSince1970))
    }
}

/// Attempts whose lease a worker could not release because the database was down.
final class PendingReleases: Sendable {
    private let ids = Mutex<Set<String>>([])

    func insert(_ id: String) { _ = ids.withLock { $0.insert(id) } }
    func remove(_ id: String) { _ = ids.withLock { $0.remove(id) } }
    func snapshot() -> Set<String> { ids.withLock { $0 } }
}
