/// Which unfinished attempt a reconciler thread works on next (issue 21 §2): routers in
/// parallel, each within its share of the router's concurrency cap, and a router that stops
/// answering held back without holding the others.
///
/// The server's reconciler threads share one schedule: it asks for a claim of due attempts when
/// fewer than `refillBelow` wait (`startClaim`), at most `perRouter` of one router counting those
/// waiting and in flight, none of a held router; the claimed attempts queue per router and are
/// handed out round-robin over the routers (`next`), a router's next only while fewer than its
/// share run. `hotspotctl reconcile --once` adds every unfinished attempt at once and claims
/// nothing. A run whose router did not answer (`finished(_:routerAnswered:now:)`) holds that
/// router back: its waiting attempts are withdrawn (the server gives them back to the ledger, due
/// when the hold ends; the one-shot command reports them not tried), no claim takes its attempts
/// until the hold ends (the retry schedule's base, doubling per run that got no answer, up to its
/// ceiling), and then one at a time until one is answered.
///
/// Pure: times are seconds on the caller's monotonic clock, nothing here reads a clock or the
/// ledger.
public struct ReconcileSchedule<Job> {
    public struct Settings: Sendable, Equatable {
        /// Attempts of one router worked on at once (each run makes one router call at a time):
        /// the reconciler's share of `HOTSPOT_ROUTER_MAX_CONCURRENCY`.
        public var perRouter: Int
        /// A claim tops the waiting attempts up to this many.
        public var queueTarget: Int
        /// A claim is asked for once fewer than this wait.
        public var refillBelow: Int
        /// A router that did not answer is held back this long, doubling per run in a row that got
        /// no answer, up to `holdCeilingSeconds`.
        public var holdBaseSeconds: Double
        public var holdCeilingSeconds: Double
        /// After a claim that found fewer due attempts than it could take (or failed), the next
        /// one waits this long, unless a router's share frees up meanwhile.
        public var idleClaimSeconds: Double

        public init(
            perRouter: Int, queueTarget: Int, refillBelow: Int, holdBaseSeconds: Double, holdCeilingSeconds: Double,
            idleClaimSeconds: Double
        ) {
            self.perRouter = max(1, perRouter)
            self.queueTarget = max(1, queueTarget)
            self.refillBelow = min(max(1, refillBelow), self.queueTarget)
            self.holdBaseSeconds = holdBaseSeconds
            self.holdCeilingSeconds = max(holdCeilingSeconds, holdBaseSeconds)
            self.idleClaimSeconds = idleClaimSeconds
        }
    }

    /// An attempt handed out to a thread; give it back to `finished` when its run ends.
    public struct Ticket {
        public let routerID: Int64
        public let job: Job
    }

    /// A router's attempts waiting to run, withdrawn because it did not answer.
    public struct Withdrawal {
        public let routerID: Int64
        public let jobs: [Job]
        /// How long the router is held back from now.
        public let heldForSeconds: Double
    }

    fileprivate struct Router {
        var waiting: [Job] = []
        var running = 0
        /// Runs in a row that got no answer from the router.
        var unanswered = 0
        var heldUntil = -Double.infinity

        var isIdle: Bool { waiting.isEmpty && running == 0 && unanswered == 0 }
    }

    public let settings: Settings
    private var routers: [Int64: Router] = [:]
    /// Routers with attempts waiting, in the order `next` goes round them.
    private var ring: [Int64] = []
    private var cursor = 0
    /// Attempts waiting to run, all routers.
    public private(set) var waiting = 0
    /// Attempts handed out and not finished, all routers.
    public private(set) var running = 0
    private var claiming = false
    /// A router that had run its whole share finished one while the claim was under way: the
    /// claim could not take its other due attempts, the next one may.
    private var shareFreedDuringClaim = false
    private var nextClaimAt = -Double.infinity

    public init(settings: Settings) {
        self.settings = settings
    }

    // MARK: Claims (the server)

    /// The claim to make now, if one is due: nil while one is under way, while enough attempts
    /// wait, or for a while after a claim that found no more than it took. The caller makes it
    /// and reports with `claimed` (or `claimFailed`).
    public mutating func startClaim(now: Double) -> DueClaim? {
        guard !claiming, waiting < settings.refillBelow, now >= nextClaimAt else { return nil }
        var allowances: [Int64: Int] = [:]
        for (id, router) in routers where !router.isIdle || router.heldUntil > now {
            let allowance = self.allowance(router, now: now) - router.waiting.count - router.running
            if allowance < settings.perRouter { allowances[id] = max(0, allowance) }
        }
        claiming = true
        return DueClaim(limit: settings.queueTarget - waiting, perRouter: settings.perRouter, allowances: allowances)
    }

    /// The attempts a claim took, in the ledger's order. A claim that took fewer than it asked
    /// for found no more due: the next waits `idleClaimSeconds`, unless a router's share freed
    /// up meanwhile.
    public mutating func claimed(_ jobs: [(routerID: Int64, job: Job)], asked: DueClaim, now: Double) {
        claiming = false
        add(jobs)
        nextClaimAt = jobs.count < asked.limit && !shareFreedDuringClaim ? now + settings.idleClaimSeconds : now
        shareFreedDuringClaim = false
    }

    /// The claim failed (the database is down): the next waits `idleClaimSeconds`.
    public mutating func claimFailed(now: Double) {
        claiming = false
        shareFreedDuringClaim = false
        nextClaimAt = now + settings.idleClaimSeconds
    }

    // MARK: Work

    /// Queues attempts to run (a claim's, or every unfinished one for the one-shot command).
    public mutating func add(_ jobs: [(routerID: Int64, job: Job)]) {
        for (routerID, job) in jobs {
            var router = routers[routerID] ?? Router()
            if router.waiting.isEmpty { ring.append(routerID) }
            router.waiting.append(job)
            routers[routerID] = router
            waiting += 1
        }
    }

    /// The next attempt to run: the preferred router's (the one the thread just worked with, whose
    /// connection it keeps) when it may run one, else the next router round the ring that may.
    /// Nil when every waiting attempt's router is at its share or held (or none waits).
    public mutating func next(now: Double, preferring preferred: Int64? = nil) -> Ticket? {
        if let preferred, let router = routers[preferred], runnable(router, now: now),
            let index = ring.firstIndex(of: preferred)
        {
            return take(at: index)
        }
        guard !ring.isEmpty else { return nil }
        for offset in 0..<ring.count {
            let index = (cursor + offset) % ring.count
            if let router = routers[ring[index]], runnable(router, now: now) {
                return take(at: index)
            }
        }
        return nil
    }

    /// A run ended. One whose router did not answer (unreachable, timed out, its slots full) holds
    /// the router back and withdraws its waiting attempts; one it answered ends its hold.
    public mutating func finished(_ ticket: Ticket, routerAnswered: Bool, now: Double) -> Withdrawal? {
        guard var router = routers[ticket.routerID] else { return nil }
        let wasFull = router.waiting.count + router.running >= allowance(router, now: now)
        router.running -= 1
        running -= 1
        // Its share had stopped the last claim (or the one under way) from taking more of its due
        // attempts.
        if wasFull {
            nextClaimAt = min(nextClaimAt, now)
            if claiming { shareFreedDuringClaim = true }
        }
        var withdrawal: Withdrawal?
        if routerAnswered {
            router.unanswered = 0
            router.heldUntil = -.infinity
        } else {
            router.unanswered += 1
            let hold = min(settings.holdBaseSeconds * Double(1 << min(router.unanswered - 1, 30)), settings.holdCeilingSeconds)
            router.heldUntil = max(router.heldUntil, now + hold)
            withdrawal = Withdrawal(routerID: ticket.routerID, jobs: router.waiting, heldForSeconds: router.heldUntil - now)
            waiting -= router.waiting.count
            router.waiting = []
            ring.removeAll { $0 == ticket.routerID }
            cursor = ring.isEmpty ? 0 : cursor % ring.count
        }
        routers[ticket.routerID] = router.isIdle && router.heldUntil <= now ? nil : router
        return withdrawal
    }

    /// Every waiting attempt, removed (the server gives them back when it stops).
    public mutating func withdrawAll() -> [Job] {
        var jobs: [Job] = []
        for id in ring {
            guard var router = routers[id] else { continue }
            jobs += router.waiting
            router.waiting = []
            routers[id] = router
        }
        ring = []
        cursor = 0
        waiting = 0
        return jobs
    }

    // MARK: Reading

    /// Attempts of `routerID` waiting and running.
    public func load(of routerID: Int64) -> (waiting: Int, running: Int) {
        routers[routerID].map { ($0.waiting.count, $0.running) } ?? (0, 0)
    }

    /// Whether no claim takes `routerID`'s attempts now.
    public func isHeld(_ routerID: Int64, now: Double) -> Bool {
        (routers[routerID]?.heldUntil ?? -.infinity) > now
    }

    // MARK: Internals

    /// How many of the router's attempts may run at once: its share, or one at a time after a
    /// run it did not answer, until one it answers; none while it is held.
    private func allowance(_ router: Router, now: Double) -> Int {
        if router.heldUntil > now { return 0 }
        return router.unanswered > 0 ? 1 : settings.perRouter
    }

    private func runnable(_ router: Router, now: Double) -> Bool {
        !router.waiting.isEmpty && router.running < allowance(router, now: now)
    }

    private mutating func take(at index: Int) -> Ticket {
        let id = ring[index]
        var router = routers[id]!
        let job = router.waiting.removeFirst()
        router.running += 1
        routers[id] = router
        waiting -= 1
        running += 1
        if router.waiting.isEmpty {
            ring.remove(at: index)
            cursor = ring.isEmpty ? 0 : index % ring.count
        } else {
            cursor = (index + 1) % ring.count
        }
        return Ticket(routerID: id, job: job)
    }
}

extension ReconcileSchedule: Sendable where Job: Sendable {}
extension ReconcileSchedule.Ticket: Sendable where Job: Sendable {}
extension ReconcileSchedule.Withdrawal: Sendable where Job: Sendable {}
extension ReconcileSchedule.Router: Sendable where Job: Sendable {}
