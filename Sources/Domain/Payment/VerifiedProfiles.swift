import Synchronization

/// Which products' profiles were found on their routers by exact name, and until when they are
/// trusted without looking again. One per process, shared by its workers.
public final class VerifiedProfiles: Sendable {
    private struct Key: Hashable {
        var routerID: Int64
        var profile: String
    }

    private let entries = Mutex<[Key: Int64]>([:])
    private let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func trusts(_ profile: String, routerID: Int64, now: Int64) -> Bool {
        guard let until = entries.withLock({ $0[Key(routerID: routerID, profile: profile)] }) else { return false }
        return now < until
    }

    func found(_ profile: String, routerID: Int64, until: Int64) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[Key(routerID: routerID, profile: profile)] = until
        }
    }

    func forget(_ profile: String, routerID: Int64) {
        entries.withLock { $0[Key(routerID: routerID, profile: profile)] = nil }
    }
}
