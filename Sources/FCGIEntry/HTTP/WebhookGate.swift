import Synchronization

/// How many of the process's worker threads may handle webhook deliveries at once (half of
/// them), so a storm of Conekta events never takes the threads and database connections the
/// portal's payments need. A delivery over the limit is answered 503 before anything is
/// recorded, and Conekta sends it again (CONTRACT §10 allows a 5xx only before recording).
final class WebhookGate: Sendable {
    let limit: Int
    private let inFlight = Atomic<Int>(0)

    init(workerThreads: Int) {
        limit = max(1, workerThreads / 2)
    }

    /// Takes a slot; false when all are taken (then nothing was taken).
    func enter() -> Bool {
        if inFlight.wrappingAdd(1, ordering: .acquiring).newValue <= limit { return true }
        inFlight.wrappingSubtract(1, ordering: .releasing)
        return false
    }

    func leave() {
        inFlight.wrappingSubtract(1, ordering: .releasing)
    }
}
