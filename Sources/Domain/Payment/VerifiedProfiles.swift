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

    /// Whether `profile` may be used on `routerID` without looking. The first caller to find an
    /// entry expired is told to look again, and the others keep trusting it for `recheckSeconds`
    /// meanwhile: a busy router gets one check when the period ends, not one per payment in
    /// flight. (Every create still compares the profile the router bound.)
    func trusts(_ profile: String, routerID: Int64, now: Int64, recheckSeconds: Int64 = 5) -> Bool {
        entries.withLock { entries in
            let key = Key(routerID: routerID, profile: profile)
            guard let until = entries[key] else { return false }
            if now < until { return true }
            entries[key] = now + recheckSeconds
            return false
        }
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
