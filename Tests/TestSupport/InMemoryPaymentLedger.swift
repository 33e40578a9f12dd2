import Domain

/// A ledger held in memory; `down` makes every call fail like a lost database.
public final class InMemoryPaymentLedger: PaymentLedger {
    public var attempts: [String: PaymentAttempt] = [:]
    public var responses: [String: StoredResponse] = [:]
    public var leased: Set<String> = []
    public var events: [(String, PaymentAttempt.State)] = []
    /// Runs ended with one `conclude` write.
    public var concluded = 0
    public var down = false
    /// Makes `conclude` alone fail, as a database lost just before a run's last write.
    public var failConclude = false
    /// The schedule each run's end asked for, by attempt (the last one).
    public var schedules: [String: RetrySchedule] = [:]
    /// Failed claim-code guesses: (router, MAC, address).
    public var failedClaims: [(routerID: Int64, mac: MACAddress?, address: String?)] = []
    /// Seconds since each attempt was last written, as `redeemable` reports it (0 unless set).
    public var idleSeconds: [String: Int64] = [:]

    public init() {}

    public func begin(
        _ attempt: PaymentAttempt, owner: String, leaseSeconds: Int, declineWindowSeconds: Int?
    ) throws(StoreFailure) -> LedgerBegin {
        if down { throw .unavailable }
        if let existing = attempts.values.first(where: { $0.companyID == attempt.companyID && $0.idempotencyKey == attempt.idempotencyKey })
        {
            return .existing(existing, response: responses[existing.id], leaseActive: leased.contains(existing.id))
        }
        let declines = declineWindowSeconds.map { _ in
            recentDeclines(routerID: attempt.routerID, mac: attempt.mac, address: attempt.remoteAddress)
        }
        attempts[attempt.id] = attempt
        leased.insert(attempt.id)
        events.append((attempt.id, .pending))
        return .started(recentDeclines: declines)
    }

    public func conclude(
        _ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?, storing response: StoredResponse?,
        retry: RetrySchedule
    ) throws(StoreFailure) -> Bool {
        if failConclude { throw .unavailable }
        guard try save(attempt, expecting: expecting, reason: reason) else { return false }
        try release(attemptID: attempt.id, storing: response, retry: retry)
        concluded += 1
        return true
    }

    public func save(_ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?) throws(StoreFailure) -> Bool {
        if down { throw .unavailable }
        guard attempts[attempt.id]?.state == expecting else { return false }
        if expecting != attempt.state { events.append((attempt.id, attempt.state)) }
        attempts[attempt.id] = attempt
        return true
    }

    public func storeResponse(attemptID: String, _ response: StoredResponse) throws(StoreFailure) {
        if down { throw .unavailable }
        responses[attemptID] = responses[attemptID] ?? response
    }

    public func release(attemptID: String, storing response: StoredResponse?, retry: RetrySchedule) throws(StoreFailure) {
        if down { throw .unavailable }
        if let response { responses[attemptID] = responses[attemptID] ?? response }
        leased.remove(attemptID)
        schedules[attemptID] = retry
    }

    /// Every lease renewed, by whom.
    public var renewals: [(attemptID: String, owner: String)] = []

    public func renewLease(attemptID: String, owner: String, leaseSeconds: Int) throws(StoreFailure) -> Bool {
        if down { throw .unavailable }
        renewals.append((attemptID, owner))
        return leased.contains(attemptID)
    }

    public func claim(
        attemptID: String, owner: String, leaseSeconds: Int, includingFinished: Bool
    ) throws(StoreFailure) -> PaymentAttempt? {
        if down { throw .unavailable }
        guard !leased.contains(attemptID), var attempt = attempts[attemptID],
            includingFinished || !attempt.state.isFinal || responses[attemptID] == nil
        else { return nil }
        leased.insert(attemptID)
        attempt.answeredCodigo = responses[attemptID]?.codigo
        return attempt
    }

    private func recentDeclines(routerID: Int64, mac: MACAddress?, address: String?) -> DeclineCounts {
        let declined = attempts.values.filter { $0.state == .declining || $0.state == .declined }
        return DeclineCounts(
            router: declined.filter { $0.routerID == routerID }.count, mac: declined.filter { $0.mac != nil && $0.mac == mac }.count,
            address: declined.filter { $0.remoteAddress != nil && $0.remoteAddress == address }.count)
    }

    public func claimDue(_ claim: DueClaim, owner: String, leaseSeconds: Int) throws(StoreFailure) -> [PaymentAttempt] {
        if down { throw .unavailable }
        var taken: [Int64: Int] = [:]
        let due = attempts.values.sorted { $0.id < $1.id }.filter { attempt in
            guard !attempt.state.isFinal, !leased.contains(attempt.id) else { return false }
            taken[attempt.routerID, default: 0] += 1
            return taken[attempt.routerID]! <= claim.allowance(of: attempt.routerID)
        }
        .prefix(claim.limit)
        due.forEach { leased.insert($0.id) }
        return due.map { attempt in
            var attempt = attempt
            attempt.answeredCodigo = responses[attempt.id]?.codigo
            return attempt
        }
    }

    /// Attempts given back unrun, by id: the seconds until they are due again.
    public var postponed: [String: Int] = [:]

    public func postpone(attemptIDs: [String], owner: String, seconds: Int) throws(StoreFailure) {
        if down { throw .unavailable }
        for id in attemptIDs where leased.remove(id) != nil { postponed[id] = seconds }
    }

    public func redeemable(claimCodeHash: String, companyID: Int64, routerID: Int64) throws(StoreFailure) -> RedeemableAttempt? {
        if down { throw .unavailable }
        guard
            var attempt = attempts.values.first(where: {
                $0.claimCodeHash == claimCodeHash && $0.companyID == companyID && $0.routerID == routerID
            })
        else { return nil }
        attempt.answeredCodigo = responses[attempt.id]?.codigo
        return RedeemableAttempt(attempt: attempt, idleSeconds: idleSeconds[attempt.id] ?? 0, leased: leased.contains(attempt.id))
    }

    public func failedClaims(
        routerID: Int64, mac: MACAddress?, address: String?, windowSeconds: Int
    ) throws(StoreFailure)
        -> DeclineCounts
    {
        if down { throw .unavailable }
        return DeclineCounts(
            router: failedClaims.filter { $0.routerID == routerID }.count,
            mac: mac.map { mac in failedClaims.filter { $0.mac == mac }.count } ?? 0,
            address: address.map { address in failedClaims.filter { $0.address == address }.count } ?? 0)
    }

    public func recordFailedClaim(companyID: Int64, routerID: Int64, mac: MACAddress?, address: String?) throws(StoreFailure) {
        if down { throw .unavailable }
        failedClaims.append((routerID, mac, address))
    }
}
