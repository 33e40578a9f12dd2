import Synchronization

/// Attempts whose lease a worker could not release because the database was down.
public final class PendingReleases: Sendable {
    private let ids = Mutex<Set<String>>([])

    public func insert(_ id: String) { _ = ids.withLock { $0.insert(id) } }
    public func remove(_ id: String) { _ = ids.withLock { $0.remove(id) } }
    public func snapshot() -> Set<String> { ids.withLock { $0 } }
}
