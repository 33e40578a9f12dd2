/// Where the ends of sold accesses are kept (CONTRACT §11): each router's sweeps (who holds one,
/// when the next is due, how the last went) and, on each attempt, its first login and the end of
/// its access. Safe with several instances: a sweep is claimed with a lease, and an end is
/// recorded once. Implemented by `PostgresStore`; every method commits before it returns.
public protocol AccessLedger {
    /// Takes the lease of one active router whose sweep is due and that nobody holds (the one
    /// due longest), or nil when none is. Instances and threads sharing the database never get
    /// the same router while its lease runs.
    func claimDueSweep(owner: String, leaseSeconds: Int) throws(StoreFailure) -> SweepClaim?

    /// Ends a pass of a sweep this owner holds: its figures, and when the next is due. Nothing is
    /// written when the lease was lost (another owner took the router over).
    func finishSweep(_ claim: SweepClaim, owner: String, outcome: SweepOutcome) throws(StoreFailure)

    /// The accesses sold on `routerID` whose attempt ids are among `attemptIDs` (lowercase UUIDs);
    /// ids of other routers or unknown ones are left out.
    func soldAccesses(attemptIDs: [String], routerID: Int64) throws(StoreFailure) -> [SoldAccess]

    /// Up to `limit` accesses of `routerID` whose end is not recorded though it is over by their
    /// own record at `now` (revoked, or a validity from purchase that elapsed), and whose user was
    /// not on the router: their ids are not in `listed`.
    func lapsedAccesses(routerID: Int64, listed: [String], now: Int64, limit: Int) throws(StoreFailure) -> [SoldAccess]

    /// Records first logins where none is recorded yet; returns how many were recorded.
    @discardableResult
    func recordFirstLogins(_ logins: [FirstLogin]) throws(StoreFailure) -> Int

    /// Records the end of an access, with a timeline event (`access ended: <reason>`), unless one
    /// is recorded already: true only for the call that recorded it, so an end is counted once
    /// however many instances saw it.
    func recordAccessEnd(attemptID: String, reason: AccessEndReason, at: Int64) throws(StoreFailure) -> Bool
}

/// A router's sweep, leased to one owner.
public struct SweepClaim: Sendable, Equatable {
    public var routerID: Int64
    /// Passes that failed in a row before this one (its backoff).
    public var failures: Int

    public init(routerID: Int64, failures: Int = 0) {
        self.routerID = routerID
        self.failures = failures
    }
}

/// How a pass went, as the router's sweep row keeps it.
public struct SweepOutcome: Sendable, Equatable {
    public var durationMilliseconds: Int
    /// The router's users made by the product; nil when the router was not read.
    public var users: Int?
    /// Users still on the router past their end after the pass; nil when not known.
    public var pastEnd: Int?
    /// Why the pass stopped short (the router unreachable…); nil when it went through.
    public var error: String?
    /// Seconds until the next pass is due.
    public var nextInSeconds: Int

    public init(durationMilliseconds: Int, users: Int?, pastEnd: Int?, error: String?, nextInSeconds: Int) {
        self.durationMilliseconds = durationMilliseconds
        self.users = users
        self.pastEnd = pastEnd
        self.error = error
        self.nextInSeconds = nextInSeconds
    }
}

/// A user first seen used: `at` is unix seconds.
public struct FirstLogin: Sendable, Equatable {
    public var attemptID: String
    public var at: Int64

    public init(attemptID: String, at: Int64) {
        self.attemptID = attemptID
        self.at = at
    }
}
