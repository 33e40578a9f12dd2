import Configuration
import Domain
import Foundation

/// What a process's reconciler threads share: the attempts claimed for them and who runs which
/// (`ReconcileSchedule`), and a condition they wait on when nothing is runnable.
///
/// Invariant: `schedule`, `claims` and `stopping` are read and written only with `mutex` held,
/// which is what makes the class `Sendable`; the mutex and the condition live at heap addresses of
/// their own, allocated in `init` and destroyed in `deinit` (a pthread object must never move).
final class ReconcilerPool: @unchecked Sendable {
    typealias Schedule = ReconcileSchedule<PaymentService.ClaimedAttempt>
    typealias Ticket = Schedule.Ticket

    /// What a thread is to do next.
    enum Work {
        /// Run this attempt, then report with `finished`.
        case run(Ticket)
        /// Claim due attempts (as the request allows, under that lease owner), then report with
        /// `claimed` or `claimFailed`.
        case claim(DueClaim, owner: String)
        /// Nothing runnable now.
        case idle
    }

    private var schedule: Schedule
    /// Claims made so far: each gets a lease owner of its own.
    private var claims = 0
    private var stopping = false
    /// This process's name in leases (`host:pid`).
    private let instance: String
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>

    init(settings: Schedule.Settings, instance: String) {
        schedule = Schedule(settings: settings)
        self.instance = instance
        mutex = .allocate(capacity: 1)
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init")
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Deadlines on the monotonic clock: a wall-clock step must not stretch or cut a wait.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        changed = .allocate(capacity: 1)
        precondition(pthread_cond_init(changed, &attributes) == 0, "pthread_cond_init")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(changed)
        changed.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// The schedule's settings for a process: each router's share of its concurrency cap, twice
    /// the threads claimed ahead (a claim when fewer than the threads wait), and the retry
    /// schedule's base and ceiling for routers that stop answering.
    static func settings(_ configuration: Configuration) -> Schedule.Settings {
        let threads = configuration.payments.reconcileThreads
        return Schedule.Settings(
            perRouter: configuration.reconcilePerRouter, queueTarget: 2 * threads, refillBelow: threads,
            holdBaseSeconds: Double(configuration.retryAfterSeconds),
            holdCeilingSeconds: Double(configuration.payments.retryMaxSeconds),
            idleClaimSeconds: Double(configuration.payments.reconcileIntervalMilliseconds) / 1000)
    }

    /// The next attempt to run (of `preferring`'s router when it may run one: the thread keeps its
    /// connection to it), else a claim to make when one is due, else nothing.
    func next(preferring router: Int64?) -> Work {
        locked {
            guard !stopping else { return .idle }
            let now = Self.now()
            if let ticket = schedule.next(now: now, preferring: router) { return .run(ticket) }
            guard let claim = schedule.startClaim(now: now) else { return .idle }
            claims += 1
            return .claim(claim, owner: "\(instance)/reconciler#\(claims)")
        }
    }

    /// The attempts a claim took (claimed even while stopping, so that they are given back).
    func claimed(_ attempts: [PaymentService.ClaimedAttempt], asked: DueClaim) {
        locked { schedule.claimed(attempts.map { ($0.routerID, $0) }, asked: asked, now: Self.now()) }
        pthread_cond_broadcast(changed)
    }

    func claimFailed() {
        locked { schedule.claimFailed(now: Self.now()) }
    }

    /// A run ended; the attempts withdrawn from its router when the router did not answer (the
    /// caller gives them back to the ledger, due when the hold ends).
    func finished(_ ticket: Ticket, routerAnswered: Bool) -> Schedule.Withdrawal? {
        let withdrawal = locked { schedule.finished(ticket, routerAnswered: routerAnswered, now: Self.now()) }
        // One slot freed: one more attempt may run, or a claim may be due. One waiter will do
        // (waking them all for it costs every one a context switch, a thousand times a second).
        pthread_cond_signal(changed)
        return withdrawal
    }

    /// Sleeps until a claim ends (or a run: then one waiting thread wakes), `stop`, or `seconds`
    /// pass.
    func wait(seconds: Double) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(max(0, seconds) * 1_000_000_000)
        deadline.tv_sec += nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        locked {
            if !stopping { _ = pthread_cond_timedwait(changed, mutex, &deadline) }
        }
    }

    /// Stops handing attempts out and wakes every waiting thread.
    func stop() {
        locked { stopping = true }
        pthread_cond_broadcast(changed)
    }

    /// The attempts claimed and not run, once stopped (the caller gives them back); each is
    /// returned once.
    func withdrawAll() -> [PaymentService.ClaimedAttempt] {
        locked { schedule.withdrawAll() }
    }

    /// Seconds on the monotonic clock.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
