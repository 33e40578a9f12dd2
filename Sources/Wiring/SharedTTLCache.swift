import Domain
import Synchronization

/// Values reused for a few seconds, shared by every thread of the process, so a burst of
/// requests does not read the same rows thousands of times however many threads there are (a
/// per-thread cache would miss on nearly every payment with hundreds of threads). Staleness is
/// bounded by `ttl` (CONTRACT §2: revocation within 5 s). Bounded: when full, it starts over.
/// Loads run outside the lock; two threads missing at once both load, and the later one wins.
final class SharedTTLCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var value: Value
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let ttl: Duration
    private let capacity: Int

    init(ttlSeconds: Double, capacity: Int = 10_000) {
        ttl = .milliseconds(Int64(ttlSeconds * 1000))
        self.capacity = capacity
    }

    func value(for key: Key, load: () throws(StoreFailure) -> Value) throws(StoreFailure) -> Value {
        try entry(for: key, now: ContinuousClock.now, load: load).value
    }

    /// The value and the instant it expires (`now` when it is not cached at all).
    func entry(
        for key: Key, now: ContinuousClock.Instant, load: () throws(StoreFailure) -> Value
    ) throws(StoreFailure) -> (value: Value, expires: ContinuousClock.Instant) {
        guard ttl > .zero else { return (try load(), now) }
        if let entry = entries.withLock({ $0[key] }), entry.expires > now { return (entry.value, entry.expires) }
        let value = try load()
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, expires: now + ttl)
        }
        return (value, now + ttl)
    }
}

/// One thread's copy of entries of a `SharedTTLCache`, each kept only until the shared entry
/// expires (so the staleness bound is the shared one). Hits take no lock: with a lock on every
/// request, threads preempted while holding it made the others sleep, and context switches
/// showed up as the catalogue's top cost under `perf`.
final class ThreadCache<Key: Hashable & Sendable, Value: Sendable> {
    private let shared: SharedTTLCache<Key, Value>
    private var entries: [Key: (value: Value, expires: ContinuousClock.Instant)] = [:]
    private let capacity: Int

    init(_ shared: SharedTTLCache<Key, Value>, capacity: Int = 1_000) {
        self.shared = shared
        self.capacity = capacity
    }

    func value(for key: Key, load: () throws(StoreFailure) -> Value) throws(StoreFailure) -> Value {
        let now = ContinuousClock.now
        if let entry = entries[key], entry.expires > now { return entry.value }
        let entry = try shared.entry(for: key, now: now, load: load)
        if entry.expires > now {
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = entry
        }
        return entry.value
    }
}
