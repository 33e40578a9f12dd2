import Synchronization

/// Where a worker thread is, for a shutdown that must wake only threads waiting in accept().
final class WorkerStatus: Sendable {
    let inAccept = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
}
