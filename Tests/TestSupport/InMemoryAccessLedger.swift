import Domain

/// The sweeps and the ends of accesses held in memory, on a clock of its own; `down` makes every
/// call fail like a lost database.
public final class InMemoryAccessLedger: AccessLedger {
    /// One router's sweep row.
    public struct Sweep: Sendable, Equatable {
        public var nextAt: Int64 = 0
        public var leaseOwner: String?
        public var leaseUntil: Int64?
        public var failures = 0
        public var lastOutcome: SweepOutcome?
    }

    public var accesses: [String: SoldAccess] = [:]
    public var sweeps: [Int64: Sweep] = [:]
    /// Timeline events written: (attempt id, reason).
    public var events: [(String, String)] = []
    public var down = false
    public var clock: any WallClock

    public init(clock: any WallClock = FixedClock()) {
        self.clock = clock
    }

    /// A router whose sweep is due now.
    public func addRouter(_ id: Int64) {
        sweeps[id] = Sweep(nextAt: clock.nowSeconds)
    }

    private func available() throws(StoreFailure) {
        if down { throw .unavailable }
    }

    public func claimDueSweep(owner: String, leaseSeconds: Int) throws(StoreFailure) -> SweepClaim? {
        try available()
        let now = clock.nowSeconds
        guard
            let (id, sweep) = sweeps.filter({ $0.value.nextAt <= now && ($0.value.leaseUntil ?? .min) < now })
                .min(by: { ($0.value.nextAt, $0.key) < ($1.value.nextAt, $1.key) })
        else { return nil }
        sweeps[id]?.leaseOwner = owner
        sweeps[id]?.leaseUntil = now + Int64(leaseSeconds)
        return SweepClaim(routerID: id, failures: sweep.failures)
    }

    public func finishSweep(_ claim: SweepClaim, owner: String, outcome: SweepOutcome) throws(StoreFailure) {
        try available()
        guard var sweep = sweeps[claim.routerID], sweep.leaseOwner == owner else { return }
        sweep.leaseOwner = nil
        sweep.leaseUntil = nil
        sweep.failures = outcome.error == nil ? 0 : sweep.failures + 1
        sweep.nextAt = clock.nowSeconds + Int64(outcome.nextInSeconds)
        sweep.lastOutcome = outcome
        sweeps[claim.routerID] = sweep
    }

    public func soldAccesses(attemptIDs: [String], routerID: Int64) throws(StoreFailure) -> [SoldAccess] {
        try available()
        return attemptIDs.compactMap { accesses[$0] }.filter { $0.routerID == routerID }
    }

    public func lapsedAccesses(routerID: Int64, listed: [String], now: Int64, limit: Int) throws(StoreFailure) -> [SoldAccess] {
        try available()
        let present = Set(listed)
        return accesses.values.filter { access in
            guard access.routerID == routerID, access.endedAt == nil, !present.contains(access.attemptID) else { return false }
            if access.state == .revoked { return true }
            guard access.state == .delivered, let validity = access.validity, validity.from == .purchase,
                let ends = access.validityEndsAt
            else { return false }
            return ends <= now
        }.sorted { $0.attemptID < $1.attemptID }.prefix(limit).map { $0 }
    }

    @discardableResult
    public func recordFirstLogins(_ logins: [FirstLogin]) throws(StoreFailure) -> Int {
        try available()
        var recorded = 0
        for login in logins where accesses[login.attemptID] != nil && accesses[login.attemptID]?.firstLoginAt == nil {
            accesses[login.attemptID]?.firstLoginAt = login.at
            recorded += 1
        }
        return recorded
    }

    public func recordAccessEnd(attemptID: String, reason: AccessEndReason, at: Int64) throws(StoreFailure) -> Bool {
        try available()
        guard accesses[attemptID] != nil, accesses[attemptID]?.endedAt == nil else { return false }
        accesses[attemptID]?.endedAt = at
        accesses[attemptID]?.endReason = reason
        events.append((attemptID, "access ended: \(reason.rawValue)"))
        return true
    }
}
