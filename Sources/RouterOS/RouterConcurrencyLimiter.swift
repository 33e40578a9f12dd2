#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Caps the RouterOS calls in flight to each router across all worker threads, so one stuck
/// router cannot hold every worker (and stays under its `www-ssl` `max-sessions`, docs/sources.md A1).
///
/// Create one per process and give it to every `RouterOSClient`. A call that cannot get a permit
/// within `maxWait` fails with `RouterOSError.Kind.busy`.
///
/// Invariant: for each router id, the permits handed out and not yet returned never exceed
/// `maxConcurrentCallsPerRouter`; `withPermit` returns its permit exactly once, when its body
/// returns or throws. A router with no call in flight has no entry in the table. The table is
/// read and written only with `mutex` held, which is what makes the class `Sendable`; the mutex
/// and the condition live at heap addresses of their own, allocated in `init` and destroyed in
/// `deinit` (a pthread object must never move).
public final class RouterConcurrencyLimiter: @unchecked Sendable {
    public let maxConcurrentCallsPerRouter: Int
    public let maxWait: Duration
    private var inFlight: [String: Int] = [:]
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let permitReturned: UnsafeMutablePointer<pthread_cond_t>

    public init(maxConcurrentCallsPerRouter: Int = 4, maxWait: Duration = .seconds(1)) {
        precondition(maxConcurrentCallsPerRouter > 0, "a router needs at least one permit")
        precondition(maxWait >= .zero, "a wait cannot be negative")
        self.maxConcurrentCallsPerRouter = maxConcurrentCallsPerRouter
        self.maxWait = maxWait
        mutex = .allocate(capacity: 1)
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init")
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        // Deadlines on the monotonic clock: a wall-clock step must not stretch or cut a wait.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        permitReturned = .allocate(capacity: 1)
        precondition(pthread_cond_init(permitReturned, &attributes) == 0, "pthread_cond_init")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(permitReturned)
        permitReturned.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
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
        locked { inFlight[router] ?? 0 }
    }

    private func acquire(_ router: String) -> Bool {
        var deadline = timespec()
        #if canImport(Darwin)
        clock_gettime(CLOCK_REALTIME, &deadline)  // Darwin's condition variables wait on the wall clock.
        #else
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        #endif
        let (seconds, attoseconds) = maxWait.components
        let nanoseconds = Int(deadline.tv_nsec) + Int(attoseconds / 1_000_000_000)
        deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        return locked {
            // A waiter sleeps until some permit comes back (or the deadline), then looks again.
            while (inFlight[router] ?? 0) >= maxConcurrentCallsPerRouter {
                if pthread_cond_timedwait(permitReturned, mutex, &deadline) == ETIMEDOUT,
                    (inFlight[router] ?? 0) >= maxConcurrentCallsPerRouter
                {
                    return false
                }
            }
            inFlight[router, default: 0] += 1
            return true
        }
    }

    private func release(_ router: String) {
        locked {
            guard let count = inFlight[router], count > 0 else {
                preconditionFailure("a permit for \(router) was returned that was never handed out")
            }
            inFlight[router] = count == 1 ? nil : count - 1
        }
        // Waiters for every router share the condition: wake them all, each looks at its own.
        pthread_cond_broadcast(permitReturned)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
