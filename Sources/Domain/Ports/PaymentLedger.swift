/// Where payment attempts live (PostgreSQL). Every method commits before it returns, so the
/// saga's next side effect never runs ahead of its record. Implemented by `PostgresStore`.
public protocol PaymentLedger {
    /// Records a new attempt (state `pending`) with a lease held by `owner`, or reports the attempt
    /// already recorded under the same (company, idempotency key). With `declineWindowSeconds`, a
    /// new attempt comes back with the attempts of that window the saga declined (state
    /// `declining` or `declined`: a card declined, an order not paid), counted per router, per
    /// MAC and per client address, for the card-testing limits (CONTRACT §8), read in the same
    /// round trip.
    func begin(
        _ attempt: PaymentAttempt, owner: String, leaseSeconds: Int, declineWindowSeconds: Int?
    ) throws(StoreFailure) -> LedgerBegin

    /// Saves the attempt's mutable fields and, when its state changed from `expecting`, the new
    /// state with a timeline event. False when the row is no longer in `expecting` (another
    /// worker moved it): the caller must stop.
    func save(_ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?) throws(StoreFailure) -> Bool

    /// Stores the answer every retry of this request gets from now on (sealed at rest).
    func storeResponse(attemptID: String, _ response: StoredResponse) throws(StoreFailure)

    /// `save` and `release` in one write, for the end of a run: the attempt's state, the answer
    /// every retry gets (`response`, when it is final for the customer) and the end of the lease
    /// land together or not at all. False as for `save`, and then nothing was written.
    func conclude(
        _ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?, storing response: StoredResponse?,
        retry: RetrySchedule
    ) throws(StoreFailure) -> Bool

    /// Ends this worker's lease; a non-final attempt is due again as `retry` schedules it.
    /// With `response`, also stores it as `storeResponse` does (unless one is stored already),
    /// in the same write: the answer and the end of the lease land together.
    func release(attemptID: String, storing response: StoredResponse?, retry: RetrySchedule) throws(StoreFailure)

    /// Extends this worker's lease by `leaseSeconds` from now, when it still holds it (nobody took
    /// the attempt over after it ran out). False when another worker holds or released it: the
    /// caller must stop before any further side effect.
    func renewLease(attemptID: String, owner: String, leaseSeconds: Int) throws(StoreFailure) -> Bool

    /// Takes the lease of one attempt if nobody holds it: for a retry of its request, or to apply
    /// a report of its order. A final attempt whose answer is stored is refused unless
    /// `includingFinished`: a report of its order after the request may reopen it (saving a
    /// non-final state makes the attempt unfinished again, due for the reconciler at once).
    func claim(
        attemptID: String, owner: String, leaseSeconds: Int, includingFinished: Bool
    ) throws(StoreFailure)
        -> PaymentAttempt?

    /// Takes the leases of unfinished attempts that are due (reconciler), as many as `claim` allows
    /// in all and per router, the longest due first, skipping rows other instances hold.
    func claimDue(_ claim: DueClaim, owner: String, leaseSeconds: Int) throws(StoreFailure) -> [PaymentAttempt]

    /// Ends `owner`'s leases of attempts it claimed and did not run (their router stopped
    /// answering, or the process is stopping): due again in `seconds`, with no try counted.
    func postpone(attemptIDs: [String], owner: String, seconds: Int) throws(StoreFailure)

    // MARK: Pay later (CONTRACT §12)

    /// The pay-later attempt whose claim code hashes to `claimCodeHash`, if it was sold on this
    /// company's router: a code from another router or company is nobody's. Nil when none.
    func redeemable(claimCodeHash: String, companyID: Int64, routerID: Int64) throws(StoreFailure) -> RedeemableAttempt?

    /// Failed claim-code guesses within the window, per router, per MAC and per client address
    /// (each count for the values given; a nil MAC or address counts 0).
    func failedClaims(
        routerID: Int64, mac: MACAddress?, address: String?, windowSeconds: Int
    ) throws(StoreFailure)
        -> DeclineCounts

    /// Counts one failed claim-code guess against its router, device and address.
    func recordFailedClaim(companyID: Int64, routerID: Int64, mac: MACAddress?, address: String?) throws(StoreFailure)
}

/// Which due attempts one claim may take (`PaymentLedger.claimDue`).
public struct DueClaim: Sendable, Equatable {
    /// At most this many in all.
    public var limit: Int
    /// At most this many of one router; nil for no limit.
    public var perRouter: Int?
    /// Routers allowed another number than `perRouter` (0: none of theirs).
    public var allowances: [Int64: Int]

    public init(limit: Int, perRouter: Int? = nil, allowances: [Int64: Int] = [:]) {
        self.limit = limit
        self.perRouter = perRouter
        self.allowances = allowances
    }

    /// How many of `routerID`'s attempts the claim may take.
    public func allowance(of routerID: Int64) -> Int {
        allowances[routerID] ?? perRouter ?? limit
    }
}

/// A pay-later attempt found by its claim code.
public struct RedeemableAttempt: Sendable, Equatable {
    public var attempt: PaymentAttempt
    /// Seconds since the attempt was last written (a run's state change or the end of its lease).
    public var idleSeconds: Int64
    /// A worker holds its lease now.
    public var leased: Bool

    public init(attempt: PaymentAttempt, idleSeconds: Int64, leased: Bool) {
        self.attempt = attempt
        self.idleSeconds = idleSeconds
        self.leased = leased
    }
}

extension PaymentLedger {
    /// `claim` of an attempt that is unfinished or still owes its answer (a retry of its request).
    public func claim(attemptID: String, owner: String, leaseSeconds: Int) throws(StoreFailure) -> PaymentAttempt? {
        try claim(attemptID: attemptID, owner: owner, leaseSeconds: leaseSeconds, includingFinished: false)
    }

    /// Takes the leases of up to `limit` due attempts, whatever their router.
    public func claimDue(limit: Int, owner: String, leaseSeconds: Int) throws(StoreFailure) -> [PaymentAttempt] {
        try claimDue(DueClaim(limit: limit), owner: owner, leaseSeconds: leaseSeconds)
    }

    /// `begin` without the decline counts.
    public func begin(_ attempt: PaymentAttempt, owner: String, leaseSeconds: Int) throws(StoreFailure) -> LedgerBegin {
        try begin(attempt, owner: owner, leaseSeconds: leaseSeconds, declineWindowSeconds: nil)
    }
}

/// When an unfinished attempt is tried again: `base × 2^tries` seconds, at most `ceiling`, and
/// no later than `latest` when set. The ceiling bounds how long an attempt waits once its router
/// or the gateway answers again (docs/convergence.md).
public struct RetrySchedule: Sendable, Equatable {
    public var baseSeconds: Int
    public var ceilingSeconds: Int
    /// Unix seconds by which the next try is due whatever the backoff (a pay-later reference's
    /// expiry); nil for none.
    public var latest: Int64?

    public init(baseSeconds: Int, ceilingSeconds: Int, latest: Int64? = nil) {
        self.baseSeconds = baseSeconds
        self.ceilingSeconds = max(ceilingSeconds, 1)
        self.latest = latest
    }

    /// The server's default.
    public static let standard = RetrySchedule(baseSeconds: 2, ceilingSeconds: 15)

    /// The delay after `tries` earlier tries.
    public func delaySeconds(afterTries tries: Int) -> Int {
        min(baseSeconds << min(max(tries, 0), 16), ceilingSeconds)
    }

    /// When the next try is due (unix seconds), after `tries` earlier tries, from `now`.
    public func nextTry(afterTries tries: Int, now: Int64) -> Int64 {
        min(now + Int64(delaySeconds(afterTries: tries)), latest ?? .max)
    }
}

/// Declined payments in a window, per router, per MAC and per client address.
public struct DeclineCounts: Sendable, Equatable {
    public var router: Int
    public var mac: Int
    public var address: Int

    public init(router: Int, mac: Int, address: Int) {
        self.router = router
        self.mac = mac
        self.address = address
    }
}

public enum LedgerBegin: Sendable {
    /// Recorded; `recentDeclines` when a decline window was asked for.
    case started(recentDeclines: DeclineCounts?)
    case existing(PaymentAttempt, response: StoredResponse?, leaseActive: Bool)
}

/// A final HTTP answer as stored for replay, byte for byte.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// The stable `codigo` (for logs and metrics).
    public var codigo: String

    public init(status: Int, body: [UInt8], codigo: String) {
        self.status = status
        self.body = body
        self.codigo = codigo
    }
}

/// Renders the customer's answer. Implemented by the HTTP layer (`PaymentPresenter` in API),
/// so the Domain never decides status codes; the saga stores what it renders.
public protocol PaymentRendering: Sendable {
    func receipt(_ attempt: PaymentAttempt, completedAtMicroseconds: Int64, autoConnect: AutoConnectReport) -> StoredResponse
    func answer(_ result: PaymentResult, attempt: PaymentAttempt?) -> StoredResponse
    /// A pay-later order waiting for its money: how to pay it, until when, and the claim code
    /// (nil where the code is not this run's to show: such an answer is never the stored one).
    func awaitingPayment(_ attempt: PaymentAttempt, claimCode: ClaimCode?) -> StoredResponse
}

/// Time, injectable for tests.
public protocol WallClock: Sendable {
    /// Unix time in microseconds.
    func nowMicroseconds() -> Int64
    func sleep(milliseconds: Int)
}

extension WallClock {
    public var nowSeconds: Int64 { nowMicroseconds() / 1_000_000 }
}
