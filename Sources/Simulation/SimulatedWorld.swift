import Domain

/// The simulated world the real saga runs against: one clock that jumps, one seeded source of
/// randomness, and in-memory stand-ins for PostgreSQL, the routers and Conekta with the semantics
/// the product relies on. Single-threaded: the simulation decides what happens when.

/// SplitMix64: small, fast and fully determined by its seed.
public struct SimulatedRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }

    public mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(max(bound, 1)))
    }
}

/// Virtual time in microseconds, moved only by the simulation.
public final class SimulatedClock: WallClock, @unchecked Sendable {
    // Invariant: used by the single simulation thread only.
    public var now: Int64 = 1_800_000_000_000_000

    public init() {}

    public func nowMicroseconds() -> Int64 { now }
    public func sleep(milliseconds: Int) { now += Int64(milliseconds) * 1_000 }
    public func advance(seconds: Double) { now += Int64(seconds * 1_000_000) }
}

/// Where a fault strikes: before the call applies anything, or after it applied, with the reply lost.
public enum SimulatedFault: Sendable, Equatable {
    case before
    case afterApplying
}

// MARK: - PostgreSQL

/// The ledger as PostgreSQL keeps it for the product: one row per attempt, unique per (company,
/// idempotency key); every write applies whole or not at all; leases and due times as
/// `PostgresStore` computes them, in the database's time.
public final class SimulatedLedger: PaymentLedger {
    struct Row {
        var attempt: PaymentAttempt
        var leaseOwner: String?
        var leaseUntil: Int64?
        var nextRetryAt: Int64?
        var retryCount = 0
        var response: StoredResponse?
        /// When a run last wrote the row (microseconds), as `updated_at`.
        var updatedAt: Int64 = 0
        var finished: Bool { attempt.state.isFinal }
    }

    /// Failed claim-code guesses: when, router, MAC, address.
    private(set) var failedClaims: [(at: Int64, routerID: Int64, mac: MACAddress?, address: String?)] = []

    private(set) var rows: [String: Row] = [:]
    private var byKey: [String: String] = [:]
    private(set) var order: [String] = []
    private(set) var events: [(attempt: String, from: PaymentAttempt.State?, to: PaymentAttempt.State, reason: String?)] = []
    let clock: SimulatedClock
    /// The database does not answer (every call throws, nothing applied).
    public var down = false

    init(clock: SimulatedClock) { self.clock = clock }

    private var now: Int64 { clock.now }

    private func available() throws(StoreFailure) {
        if down { throw .unavailable }
    }

    private func reading(_ row: Row) -> PaymentAttempt {
        var attempt = row.attempt
        attempt.answeredCodigo = row.response?.codigo
        return attempt
    }

    public func begin(
        _ attempt: PaymentAttempt, owner: String, leaseSeconds: Int, declineWindowSeconds: Int?
    ) throws(StoreFailure) -> LedgerBegin {
        try available()
        let key = "\(attempt.companyID)|\(attempt.idempotencyKey)"
        if let id = byKey[key], let row = rows[id] {
            return .existing(reading(row), response: row.response, leaseActive: (row.leaseUntil ?? 0) > now)
        }
        rows[attempt.id] = Row(
            attempt: attempt, leaseOwner: owner, leaseUntil: now + Int64(leaseSeconds) * 1_000_000, updatedAt: now)
        byKey[key] = attempt.id
        order.append(attempt.id)
        events.append((attempt.id, nil, attempt.state, attempt.reason))
        return .started(recentDeclines: declineWindowSeconds.map { _ in DeclineCounts(router: 0, mac: 0, address: 0) })
    }

    public func save(_ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?) throws(StoreFailure) -> Bool {
        try available()
        return apply(attempt, expecting: expecting, reason: reason)
    }

    private func apply(_ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?) -> Bool {
        guard var row = rows[attempt.id], row.attempt.state == expecting else { return false }
        if expecting != attempt.state { events.append((attempt.id, expecting, attempt.state, reason)) }
        let chargeSentAt =
            attempt.state == .charging && expecting != .charging ? now / 1_000_000 : row.attempt.chargeSentAt
        var stored = attempt
        stored.reason = reason
        stored.chargeSentAt = chargeSentAt
        stored.answeredCodigo = nil
        // What a run learnt of its pay-later order is kept once known, as the columns are.
        stored.claimCodeHash = attempt.claimCodeHash ?? row.attempt.claimCodeHash
        stored.instructions = attempt.instructions ?? row.attempt.instructions
        stored.payLaterExpiresAt = attempt.payLaterExpiresAt ?? row.attempt.payLaterExpiresAt
        row.attempt = stored
        row.updatedAt = now
        rows[attempt.id] = row
        return true
    }

    public func storeResponse(attemptID: String, _ response: StoredResponse) throws(StoreFailure) {
        try available()
        if rows[attemptID]?.response == nil { rows[attemptID]?.response = response }
    }

    public func conclude(
        _ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?, storing response: StoredResponse?,
        retry: RetrySchedule
    ) throws(StoreFailure) -> Bool {
        try available()
        guard apply(attempt, expecting: expecting, reason: reason) else { return false }
        end(attempt.id, storing: response, retry: retry)
        return true
    }

    public func release(attemptID: String, storing response: StoredResponse?, retry: RetrySchedule) throws(StoreFailure) {
        try available()
        end(attemptID, storing: response, retry: retry)
    }

    private func end(_ id: String, storing response: StoredResponse?, retry: RetrySchedule) {
        guard var row = rows[id] else { return }
        row.leaseOwner = nil
        row.leaseUntil = nil
        if row.finished {
            row.nextRetryAt = nil
        } else {
            // As PostgreSQL evaluates it: the delay from the count before this try.
            row.nextRetryAt = retry.nextTry(afterTries: row.retryCount, now: now / 1_000_000) * 1_000_000 + now % 1_000_000
            row.retryCount += 1
        }
        if row.response == nil { row.response = response }
        row.updatedAt = now
        rows[id] = row
    }

    public func renewLease(attemptID: String, owner: String, leaseSeconds: Int) throws(StoreFailure) -> Bool {
        try available()
        guard rows[attemptID]?.leaseOwner == owner else { return false }
        rows[attemptID]?.leaseUntil = now + Int64(leaseSeconds) * 1_000_000
        return true
    }

    public func claim(
        attemptID: String, owner: String, leaseSeconds: Int, includingFinished: Bool
    ) throws(StoreFailure) -> PaymentAttempt? {
        try available()
        guard var row = rows[attemptID], (row.leaseUntil ?? 0) < now,
            includingFinished || !row.finished || row.response == nil
        else { return nil }
        row.leaseOwner = owner
        row.leaseUntil = now + Int64(leaseSeconds) * 1_000_000
        rows[attemptID] = row
        return reading(row)
    }

    public func claimDue(_ claim: DueClaim, owner: String, leaseSeconds: Int) throws(StoreFailure) -> [PaymentAttempt] {
        try available()
        var taken: [Int64: Int] = [:]
        let due = order.compactMap { rows[$0] }.filter { row in
            !row.finished && (row.leaseUntil == nil || row.leaseUntil! < now) && (row.nextRetryAt ?? 0) <= now
        }
        .sorted { ($0.nextRetryAt ?? 0) < ($1.nextRetryAt ?? 0) }
        .filter { row in
            taken[row.attempt.routerID, default: 0] += 1
            return taken[row.attempt.routerID]! <= claim.allowance(of: row.attempt.routerID)
        }
        .prefix(claim.limit)
        return due.map { row in
            var claimed = row
            claimed.leaseOwner = owner
            claimed.leaseUntil = now + Int64(leaseSeconds) * 1_000_000
            rows[row.attempt.id] = claimed
            return reading(claimed)
        }
    }

    public func postpone(attemptIDs: [String], owner: String, seconds: Int) throws(StoreFailure) {
        try available()
        for id in attemptIDs {
            guard var row = rows[id], row.leaseOwner == owner, !row.finished else { continue }
            row.leaseOwner = nil
            row.leaseUntil = nil
            row.nextRetryAt = now + Int64(seconds) * 1_000_000
            row.updatedAt = now
            rows[id] = row
        }
    }

    public func redeemable(claimCodeHash: String, companyID: Int64, routerID: Int64) throws(StoreFailure) -> RedeemableAttempt? {
        try available()
        guard
            let row = order.compactMap({ rows[$0] }).first(where: {
                $0.attempt.claimCodeHash == claimCodeHash && $0.attempt.companyID == companyID && $0.attempt.routerID == routerID
            })
        else { return nil }
        return RedeemableAttempt(
            attempt: reading(row), idleSeconds: max(0, now - row.updatedAt) / 1_000_000, leased: (row.leaseUntil ?? 0) > now)
    }

    public func failedClaims(
        routerID: Int64, mac: MACAddress?, address: String?, windowSeconds: Int
    ) throws(StoreFailure)
        -> DeclineCounts
    {
        try available()
        let recent = failedClaims.filter { $0.at > now - Int64(windowSeconds) * 1_000_000 }
        return DeclineCounts(
            router: recent.filter { $0.routerID == routerID }.count,
            mac: mac.map { mac in recent.filter { $0.mac == mac }.count } ?? 0,
            address: address.map { address in recent.filter { $0.address == address }.count } ?? 0)
    }

    public func recordFailedClaim(companyID: Int64, routerID: Int64, mac: MACAddress?, address: String?) throws(StoreFailure) {
        try available()
        failedClaims.append((now, routerID, mac, address))
    }

    /// When the next unfinished attempt is due or its lease ends (for the clock to jump to).
    func nextWake() -> Int64? {
        rows.values.filter { !$0.finished }.map { max($0.nextRetryAt ?? 0, $0.leaseUntil ?? 0) }.min()
    }
}

// MARK: - RouterOS

/// One router's hotspot users and active sessions, with faults the simulation arms per call.
/// As RouterOS is assumed to do, disabling or removing a user leaves its sessions running.
public final class SimulatedRouter: HotspotUserDirectory {
    public private(set) var users: [String: HotspotUser] = [:]
    /// Active sessions by `.id`.
    public private(set) var sessions: [String: ActiveSession] = [:]
    private var counter = 0
    private var sessionCounter = 0
    let profiles: Set<String>
    /// Decides, per call, whether it fails and how ("user.add", "user.set", "user.remove",
    /// "user.print", "profile.print", "active.print", "active.remove", "user.list", "active.list").
    var fault: (String) -> SimulatedFault? = { _ in nil }

    init(profiles: Set<String>) { self.profiles = profiles }

    private func before(_ operation: String) throws(RouterFailure) -> SimulatedFault? {
        let fault = fault(operation)
        if fault == .before { throw .unreachable("simulated: connection refused") }
        return fault
    }

    public func findUser(named name: String) throws(RouterFailure) -> HotspotUser? {
        if try before("user.print") == .afterApplying { throw .timedOut(maybeApplied: false) }
        return users.values.first { $0.name == name }
    }

    public func createUser(_ user: NewHotspotUser) throws(RouterFailure) -> HotspotUser {
        let fault = try before("user.add")
        guard profiles.contains(user.profile) else { throw .profileNotFound }
        guard !users.values.contains(where: { $0.name == user.name }) else { throw .duplicateName }
        counter += 1
        let created = HotspotUser(
            id: "*\(counter)", name: user.name, profile: user.profile, server: user.server, disabled: user.disabled,
            comment: user.comment, macAddress: user.macAddress?.value)
        users[created.id] = created
        if fault == .afterApplying { throw .timedOut(maybeApplied: true) }
        return created
    }

    public func setUserDisabled(id: String, disabled: Bool) throws(RouterFailure) {
        let fault = try before("user.set")
        guard users[id] != nil else { throw .notFound }
        users[id]?.disabled = disabled
        if fault == .afterApplying { throw .timedOut(maybeApplied: true) }
    }

    public func deleteUser(id: String) throws(RouterFailure) {
        let fault = try before("user.remove")
        users[id] = nil  // a missing user counts as deleted, as RouterOSClient reads 404
        if fault == .afterApplying { throw .timedOut(maybeApplied: true) }
    }

    public func findProfile(named name: String) throws(RouterFailure) -> HotspotProfile? {
        if try before("profile.print") == .afterApplying { throw .timedOut(maybeApplied: false) }
        return profiles.contains(name) ? HotspotProfile(id: "*P", name: name) : nil
    }

    public func listProfiles() throws(RouterFailure) -> [HotspotProfile] {
        profiles.sorted().map { HotspotProfile(id: "*P", name: $0) }
    }

    public func findHost(mac: MACAddress?, address: IPv4Address?) throws(RouterFailure) -> HotspotHost? { nil }
    public func login(user: String, password: String, address: IPv4Address, mac: MACAddress?) throws(RouterFailure) {
        throw .unknownHost
    }

    public func activeSessions(user: String) throws(RouterFailure) -> [ActiveSession] {
        if try before("active.print") == .afterApplying { throw .timedOut(maybeApplied: false) }
        return sessions.values.filter { $0.user == user }.sorted { $0.id < $1.id }
    }

    public func removeSession(id: String) throws(RouterFailure) {
        let fault = try before("active.remove")
        sessions[id] = nil  // a session that ended already counts as ended, as RouterOSClient reads 404
        if fault == .afterApplying { throw .timedOut(maybeApplied: true) }
    }

    public func listUsage() throws(RouterFailure) -> [HotspotUserUsage] {
        if try before("user.list") == .afterApplying { throw .timedOut(maybeApplied: false) }
        return users.values.sorted { $0.id < $1.id }.map {
            HotspotUserUsage(id: $0.id, name: $0.name, comment: $0.comment, disabled: $0.disabled)
        }
    }

    public func listActiveSessions() throws(RouterFailure) -> [ActiveSession] {
        if try before("active.list") == .afterApplying { throw .timedOut(maybeApplied: false) }
        return sessions.values.sorted { $0.id < $1.id }
    }

    /// A customer's device logs in through the hotspot's login page: only as an enabled user.
    @discardableResult
    func logIn(userID: String) -> Bool {
        guard let user = users[userID], !user.disabled else { return false }
        sessionCounter += 1
        let id = "*A\(sessionCounter)"
        sessions[id] = ActiveSession(
            id: id, user: user.name, address: "10.5.50.\(sessionCounter % 250)", macAddress: "02:00:00:00:00:01",
            server: user.server)
        return true
    }

    /// A session ends by itself (logout, idle timeout).
    func endSession(id: String) { sessions[id] = nil }
}

// MARK: - Conekta

/// One Conekta account: orders, single-use card tokens, and faults per call. A token's kind is
/// its prefix: `paid_…`, `declined_…`, `3ds_…` (pending until its customer completes it, or not).
/// A cash or SPEI order waits for its customer's money until its `expires_at`, when Conekta
/// expires it, unless it is one Conekta is slow to expire (`lazy`): the product then cancels it.
public final class SimulatedGateway: PaymentGateway {
    public private(set) var orders: [String: GatewayOrder] = [:]
    private(set) var orderOrder: [String] = []
    private var usedTokens: Set<String> = []
    private var counter = 0
    let clock: SimulatedClock
    /// "orders.create", "orders.get", "orders.list", "orders.refund", "orders.cancel".
    var fault: (String) -> SimulatedFault? = { _ in nil }
    /// Called with every order whose status changed, as Conekta sends an event (`order.paid`,
    /// `order.refunded`…) to the account's webhook.
    var notify: (GatewayOrder) -> Void = { _ in }
    /// Orders charged with a 3-D Secure token.
    private(set) var challenged: Set<String> = []
    /// Orders paid at some moment (refunded or charged back since, or not).
    private(set) var everPaid: Set<String> = []
    /// Cash and SPEI orders Conekta does not expire by itself at their expiry.
    var lazy: (String) -> Bool = { _ in false }

    init(clock: SimulatedClock) { self.clock = clock }

    public func charge(_ charge: ChargeRequest, using key: GatewayKey) -> ChargeOutcome {
        let fault = fault("orders.create")
        if fault == .before { return .unknown(reason: "simulated: http_502") }
        if case .payLater(let method, let expiresAt) = charge.payment {
            counter += 1
            let id = "ord_\(counter)"
            let digits = String(1_000_000 + counter)
            let payLater = PayLaterCharge(
                method: method,
                instructions: method == .spei
                    ? PaymentInstructions(clabe: "64618011180\(digits)", bank: "STP")
                    : PaymentInstructions(reference: "9300026\(digits)", barcodeURL: "https://barcodes.test/\(id).png"),
                expiresAt: expiresAt)
            orders[id] = GatewayOrder(
                id: id, status: .pendingPayment, amount: charge.amount, attemptID: charge.attemptID,
                createdAt: clock.now / 1_000_000, payLater: payLater)
            orderOrder.append(id)
            notify(orders[id]!)
            if fault == .afterApplying { return .unknown(reason: "simulated: connection lost") }
            return .awaitingPayment(orderID: id, charge: payLater)
        }
        guard usedTokens.insert(charge.cardToken).inserted else { return .tokenAlreadyUsed }
        counter += 1
        let id = "ord_\(counter)"
        let status: GatewayOrder.Status =
            charge.cardToken.hasPrefix("declined") ? .declined : charge.cardToken.hasPrefix("3ds") ? .pendingPayment : .paid
        orders[id] = GatewayOrder(
            id: id, status: status, amount: charge.amount, attemptID: charge.attemptID,
            createdAt: clock.now / 1_000_000)
        orderOrder.append(id)
        if charge.cardToken.hasPrefix("3ds") { challenged.insert(id) }
        if status == .paid { everPaid.insert(id) }
        notify(orders[id]!)
        if fault == .afterApplying { return .unknown(reason: "simulated: connection lost") }
        switch status {
        case .paid: return .paid(PaidOrder(orderID: id, amount: charge.amount))
        case .declined: return .declined(code: "card_declined", message: "declinada", orderID: id)
        default: return .notPaid(status: status, orderID: id)
        }
    }

    private func before(_ operation: String) throws(GatewayFailure) -> SimulatedFault? {
        let fault = fault(operation)
        if fault == .before { throw .unavailable("simulated: 503") }
        return fault
    }

    public func order(id: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder? {
        if try before("orders.get") == .afterApplying { throw .unavailable("simulated: reply lost") }
        return orders[id]
    }

    public func findOrder(
        attemptID: String, customerEmail: String, createdAfter: Int64, createdBefore: Int64?, using key: GatewayKey
    ) throws(GatewayFailure) -> GatewayOrder? {
        if try before("orders.list") == .afterApplying { throw .unavailable("simulated: reply lost") }
        let matches = orderOrder.compactMap { orders[$0] }.filter {
            $0.attemptID == attemptID && $0.createdAt >= createdAfter && $0.createdAt <= (createdBefore ?? .max)
        }
        return matches.first(where: \.isPaid) ?? matches.first
    }

    public func refund(orderID: String, amountCents: Int64, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        let fault = try before("orders.refund")
        guard var order = orders[orderID] else { throw .notFound }
        guard order.isPaid || order.status == .partiallyRefunded, amountCents <= order.refundableCents else {
            throw .rejected(code: "refund.amount_exceeds_refundable", message: "simulated")
        }
        order.amountRefundedCents += amountCents
        order.status = order.refundableCents == 0 ? .refunded : .partiallyRefunded
        orders[orderID] = order
        notify(order)
        if fault == .afterApplying { throw .unavailable("simulated: reply lost") }
        return order
    }

    public func cancel(orderID: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        let fault = try before("orders.cancel")
        guard var order = orders[orderID] else { throw .notFound }
        guard order.status.isCancellable else { throw .rejected(code: "order.cannot_be_canceled", message: "simulated") }
        order.status = .canceled
        orders[orderID] = order
        notify(order)
        if fault == .afterApplying { throw .unavailable("simulated: reply lost") }
        return order
    }

    /// The customer completes a 3-D Secure challenge late: a pending order becomes paid.
    func completeChallenge(orderID: String) {
        guard orders[orderID]?.status == .pendingPayment, orders[orderID]?.payLater == nil else { return }
        orders[orderID]?.status = .paid
        everPaid.insert(orderID)
        notify(orders[orderID]!)
    }

    // MARK: Conekta's dashboard and the banks, after the request

    /// The merchant refunds a paid order in the dashboard, in full or in part.
    func refundInDashboard(orderID: String, cents: Int64) {
        guard var order = orders[orderID], order.isPaid || order.status == .partiallyRefunded else { return }
        order.amountRefundedCents = min(order.amount.cents, order.amountRefundedCents + cents)
        order.status = order.refundableCents == 0 ? .refunded : .partiallyRefunded
        orders[orderID] = order
        notify(order)
    }

    /// The card holder disputes a paid order and the bank takes the money back.
    func chargeBack(orderID: String) {
        // Cash at a store and SPEI transfers have no chargebacks.
        guard var order = orders[orderID], order.payLater == nil, order.isPaid || order.status == .partiallyRefunded else { return }
        order.status = .chargedBack
        orders[orderID] = order
        notify(order)
    }

    /// A 3-D Secure order whose issuer authorised the challenge after Conekta accepted its
    /// cancel: paid after its attempt was declined (the race the product refunds).
    func payLate(orderID: String) {
        guard challenged.contains(orderID), orders[orderID]?.status == .canceled else { return }
        orders[orderID]?.status = .paid
        everPaid.insert(orderID)
        notify(orders[orderID]!)
    }

    // MARK: Cash and SPEI

    /// The customer pays a cash or SPEI order at the store or from their bank. With `dead`, into
    /// a reference that expired or was cancelled already (what the product must refund).
    /// Returns whether it was paid.
    @discardableResult
    func payLater(orderID: String, dead: Bool = false) -> Bool {
        guard let order = orders[orderID], order.payLater != nil,
            order.status == .pendingPayment || dead && (order.status == .expired || order.status == .canceled)
        else { return false }
        orders[orderID]?.status = .paid
        everPaid.insert(orderID)
        notify(orders[orderID]!)
        return true
    }

    /// Conekta expires the cash and SPEI orders whose expiry passed (all but the lazy ones).
    func expireDue() {
        let now = clock.now / 1_000_000
        for id in orderOrder {
            guard let order = orders[id], order.status == .pendingPayment, let expiresAt = order.payLater?.expiresAt,
                expiresAt <= now, !lazy(id)
            else { continue }
            orders[id]?.status = .expired
            notify(orders[id]!)
        }
    }
}
