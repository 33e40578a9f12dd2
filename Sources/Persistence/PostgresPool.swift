import Dispatch
import Synchronization

/// A fixed set of connections shared by a process's threads. A thread borrows one for one
/// statement (or one transaction) and gives it back, so the server can run more threads than
/// PostgreSQL has connections for it: a payment spends its time waiting on the router and
/// Conekta, not on the database. Connections are opened lazily and reconnect on their own.
public final class PostgresPool: Sendable {
    private let slots: Mutex<[Slot]>
    private let available: DispatchSemaphore
    private let waitMilliseconds: Int
    public let size: Int

    /// One connection. `@unchecked Sendable` because the pool upholds libpq's rule by hand: a
    /// slot is either in `slots` (under the mutex) or lent to exactly one `withConnection` call,
    /// which puts it back before returning.
    private final class Slot: @unchecked Sendable {
        let connection: PostgresConnection
        init(_ connection: PostgresConnection) { self.connection = connection }
    }

    /// - Parameters:
    ///   - size: connections in the pool.
    ///   - waitMilliseconds: how long a thread waits for a free connection before failing with
    ///     `.unavailable` (the API answers 503).
    public convenience init(url: String, size: Int, applicationName: String = "hotspot-pay", waitMilliseconds: Int = 5_000) {
        self.init(
            connections: (0..<max(size, 1)).map { _ in PostgresConnection(url: url, applicationName: applicationName) },
            waitMilliseconds: waitMilliseconds)
    }

    /// A pool over connections made elsewhere (tests, the operator command: a pool of one).
    public init(connections: [PostgresConnection], waitMilliseconds: Int = 5_000) {
        precondition(!connections.isEmpty, "a pool needs at least one connection")
        slots = Mutex(connections.map(Slot.init))
        available = DispatchSemaphore(value: connections.count)
        size = connections.count
        self.waitMilliseconds = waitMilliseconds
    }

    /// Connections lent out right now (takes the pool's lock briefly: for metrics, not hot paths).
    public var inUse: Int {
        size - slots.withLock { $0.count }
    }

    /// Lends a connection to `body`. A transaction left open by `body` is rolled back before the
    /// connection goes back.
    public func withConnection<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        guard available.wait(timeout: .now() + .milliseconds(waitMilliseconds)) == .success else {
            throw PostgresError(kind: .unavailable, message: "all \(size) database connections are busy")
        }
        let slot = slots.withLock { $0.removeLast() }
        defer {
            slot.connection.rollbackIfNeeded()
            slots.withLock { $0.append(slot) }
            available.signal()
        }
        return try body(slot.connection)
    }
}
