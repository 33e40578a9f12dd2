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

    func run(until draining: borrowing Atomic<Bool>) {
        while !draining.load(ordering: .relaxed) {
            var worked = false
            do {
                let outcomes = try payments.reconcile(limit: 20)
                worked = !outcomes.isEmpty
                for outcome in outcomes {
                    logger.info(
                        "reconciled",
                        metadata: ["attempt": "\(outcome.attemptID ?? "-")", "codigo": "\(outcome.response.codigo)"])
                }
            } catch {
                logger.debug("reconciler waiting for the database", metadata: ["reason": "\(error)"])
            }
            store.connection.rollbackIfNeeded()
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
