import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Caps the RouterOS calls in flight to each router across all worker threads, so one stuck
/// router cannot hold every worker (and stays under its `www-ssl` `max-sessions`, NOTES.md A1).
///
/// Create one per process and give it to every `RouterOSClient`. A call that cannot get a permit
/// within `maxWait` fails with `RouterOSError.Kind.busy`.
///
/// Invariant: for each router id, the permits handed out and not yet returned never exceed
/// `maxConcurrentCallsPerRouter`; `withPermit` returns its permit exactly once, when its body
/// returns or throws. A router with no call in flight has no entry in the table.
public final class RouterConcurrencyLimiter: Sendable {
    public let maxConcurrentCallsPerRouter: Int
    public let maxWait: Duration
    private let inFlight = Mutex<[String: Int]>([:])

    public init(maxConcurrentCallsPerRouter: Int = 4, maxWait: Duration = .seconds(1)) {
        precondition(maxConcurrentCallsPerRouter > 0, "a router needs at least one permit")
        self.maxConcurrentCallsPerRouter = maxConcurrentCallsPerRouter
        self.maxWait = maxWait
    }

    /// Runs `body` holding one of `router`'s permits.
    /// - Throws: `.busy` (named after `operation`) when no permit freed up within `maxWait`;
    ///   otherwise whatever `body` throws.
    public func withPermit<T>(
        router: String, operation: String, _ body: () throws(RouterOSError) -> T
    ) throws(RouterOSError) -> T {
        guard acquire(router) else {
            throw RouterOSError(
                kind: .busy, operation: operation,
                detail: "router \(router): \(maxConcurrentCallsPerRouter) calls in flight for \(maxWait)")
        }
        defer { release(router) }
        return try body()
    }

    /// The calls in flight to `router` right now.
    public func callsInFlight(router: String) -> Int {
        inFlight.withLock { $0[router] ?? 0 }
    }

    private func acquire(_ router: String) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: maxWait)
        // Mutex has no condition variable, so a waiter polls, backing off from 1 ms to 16 ms.
        // Callers are blocking worker threads; waiters are not served in arrival order.
        var pause = Duration.milliseconds(1)
        while true {
            if tryAcquire(router) { return true }
            let now = clock.now
            if now >= deadline { return false }
            sleep(for: min(pause, now.duration(to: deadline)))
            pause = min(pause * 2, .milliseconds(16))
        }
    }

    private func tryAcquire(_ router: String) -> Bool {
        inFlight.withLock { table in
            let count = table[router] ?? 0
            guard count < maxConcurrentCallsPerRouter else { return false }
            table[router] = count + 1
            return true
        }
    }

    private func release(_ router: String) {
        inFlight.withLock { table in
            guard let count = table[router], count > 0 else {
                preconditionFailure("a permit for \(router) was returned that was never handed out")
            }
            table[router] = count == 1 ? nil : count - 1
        }
    }

    private func sleep(for duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}
