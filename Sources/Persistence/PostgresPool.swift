import Dispatch
import Synchronization

/// A fixed set of connections shared by a process's threads. A thread borrows one for one
/// statement (or one transaction) and gives it back, so the server can run more threads than
/// PostgreSQL has connections for it: a payment spends its time waiting on the router and
/// Conekta, not on the database. Connections are opened lazily and reconnect on their own.
public final class PostgresPool: Sendable {
    private let slots: [Slot]
    /// Counts the free slots: a thread that gets past it is sure to find one.
    private let available: DispatchSemaphore
    private let waitMilliseconds: Int
    public let size: Int

    /// One connection. `@unchecked Sendable` because the pool upholds libpq's rule by hand: only
    /// the thread that turned `taken` from false to true uses the connection, until it stores
    /// false again. (No lock: with hundreds of threads on two cores, a thread preempted while
    /// holding the pool's mutex left the others spinning in its slow path, 5% of the server's CPU
    /// at 256 clients.)
    private final class Slot: @unchecked Sendable {
        let connection: PostgresConnection
        let taken = Atomic<Bool>(false)
        init(_ connection: PostgresConnection) { self.connection = connection }
    }

    /// - Parameters:
    ///   - size: connections in the pool.
    ///   - waitMilliseconds: how long a thread waits for a free connection before failing with
    ///     `.unavailable` (the API answers 503).
    public convenience init(url: String, size: Int, applicationName: String = "hotspot-pay", waitMilliseconds: Int = 5_000) {
        let gate = ReconnectGate()
        self.init(
            connections: (0..<max(size, 1)).map { _ in
                PostgresConnection(url: url, applicationName: applicationName, gate: gate)
            },
            waitMilliseconds: waitMilliseconds)
    }

    /// A pool over connections made elsewhere (tests, the operator command: a pool of one).
    public init(connections: [PostgresConnection], waitMilliseconds: Int = 5_000) {
        precondition(!connections.isEmpty, "a pool needs at least one connection")
        slots = connections.map(Slot.init)
        available = DispatchSemaphore(value: connections.count)
        size = connections.count
        self.waitMilliseconds = waitMilliseconds
    }

    /// Connections lent out right now (for metrics).
    public var inUse: Int {
        slots.filter { $0.taken.load(ordering: .relaxed) }.count
    }

    /// Runs `body` once on every connection that is idle now, in parallel, so a start-up thread
    /// can open them and fill each new backend's caches before requests need them (a fresh
    /// PostgreSQL backend spends tens of milliseconds on its first queries). Each connection goes
    /// back as soon as its own warm-up ends; failures are left to the requests that come later.
    /// Returns how many were warmed.
    @discardableResult
    public func warmUp(_ body: @Sendable (PostgresConnection) throws(PostgresError) -> Void) -> Int {
        var taken: [Slot] = []
        while taken.count < size, available.wait(timeout: .now()) == .success {
            taken.append(claim())
        }
        let warmed = Atomic<Int>(0)
        let lent = taken
        DispatchQueue.concurrentPerform(iterations: lent.count) { index in
            let slot = lent[index]
            if (try? body(slot.connection)) != nil { warmed.add(1, ordering: .relaxed) }
            slot.connection.rollbackIfNeeded()
            giveBack(slot)
        }
        return warmed.load(ordering: .relaxed)
    }

    /// Lends a connection to `body`. A transaction left open by `body` is rolled back before the
    /// connection goes back.
    public func withConnection<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        guard available.wait(timeout: .now() + .milliseconds(waitMilliseconds)) == .success else {
            throw PostgresError(kind: .unavailable, message: "all \(size) database connections are busy")
        }
        let slot = claim()
        defer {
            slot.connection.rollbackIfNeeded()
            giveBack(slot)
        }
        return try body(slot.connection)
    }

    /// A free slot, taken. Only after a successful wait on `available`: there is then a free slot
    /// for this thread, though another thread may win the one it tries first. The scan starts at
    /// the first slot, so a quiet server keeps using the same few (warm) backends.
    private func claim() -> Slot {
        while true {
            for slot in slots where slot.taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
                return slot
            }
        }
    }

    private func giveBack(_ slot: Slot) {
        slot.taken.store(false, ordering: .releasing)
        available.signal()
    }
}
