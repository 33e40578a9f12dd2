import Domain
import Testing

/// A router held in memory.
final class InMemoryHotspotUserDirectory: HotspotUserDirectory {
    var users: [String: (user: HotspotUser, password: String)] = [:]
    var profiles = ["1hora"]
    /// Profiles the router binds instead of the one asked for (RouterOS's prefix resolution).
    var bindsInstead: [String: String] = [:]
    var profileLookups = 0
    var failNext: [String: RouterFailure] = [:]
    /// The next create is applied and then sent again, as libcurl resends a request on a kept-alive
    /// connection that died before the reply; the router refuses the copy by name.
    var resendNextCreate = false
    private var counter = 0

    private func check(_ operation: String) throws(RouterFailure) {
        if let failure = failNext.removeValue(forKey: operation) { throw failure }
    }

    func findUser(named name: String) throws(RouterFailure) -> HotspotUser? {
        try check("find")
        return users.values.first { $0.user.name == name }?.user
    }

    func createUser(_ user: NewHotspotUser) throws(RouterFailure) -> HotspotUser {
        try check("create")
        guard !users.values.contains(where: { $0.user.name == user.name }) else { throw .duplicateName }
        counter += 1
        let created = HotspotUser(
            id: "*\(counter)", name: user.name, profile: bindsInstead[user.profile] ?? user.profile, server: user.server,
            disabled: user.disabled, comment: user.comment)
        users[created.id] = (created, user.password)
        if resendNextCreate {
            resendNextCreate = false
            throw .duplicateName
        }
        return created
    }

    func setUserDisabled(id: String, disabled: Bool) throws(RouterFailure) {
        try check("set")
        guard users[id] != nil else { throw .notFound }
        users[id]!.user.disabled = disabled
    }

    func deleteUser(id: String) throws(RouterFailure) {
        try check("delete")
        users[id] = nil
    }

    func findProfile(named name: String) throws(RouterFailure) -> HotspotProfile? {
        try check("profile")
        profileLookups += 1
        return profiles.contains(name) ? HotspotProfile(id: "*P", name: name) : nil
    }

    func listProfiles() throws(RouterFailure) -> [HotspotProfile] { profiles.map { HotspotProfile(id: "*P", name: $0) } }
    func findHost(mac: MACAddress?, address: IPv4Address?) throws(RouterFailure) -> HotspotHost? { nil }
    func login(user: String, password: String, address: IPv4Address, mac: MACAddress?) throws(RouterFailure) { throw .unknownHost }
    func activeSessions(user: String) throws(RouterFailure) -> [ActiveSession] { [] }
}

/// A gateway that answers each charge from a script and remembers orders.
final class ScriptedPaymentGateway: PaymentGateway {
    var outcomes: [ChargeOutcome] = []
    var orders: [String: GatewayOrder] = [:]
    var charges = 0

    func charge(_ charge: ChargeRequest, using key: GatewayKey) -> ChargeOutcome {
        charges += 1
        let outcome = outcomes.isEmpty ? .unknown(reason: "no script") : outcomes.removeFirst()
        if case .paid(let order) = outcome {
            orders[order.orderID] = GatewayOrder(
                id: order.orderID, status: .paid, amount: order.amount, attemptID: charge.attemptID)
        }
        return outcome
    }

    func order(id: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder? { orders[id] }

    /// The windows `findOrder` was asked about; `unprovable` makes it throw `absenceUnproven`
    /// when no order has the attempt.
    var windows: [ClosedRange<Int64>] = []
    var unprovable = false

    func findOrder(
        attemptID: String, customerEmail: String, createdAfter: Int64, createdBefore: Int64?, using key: GatewayKey
    ) throws(GatewayFailure)
        -> GatewayOrder?
    {
        windows.append(createdAfter...(createdBefore ?? .max))
        let found = orders.values.first { $0.attemptID == attemptID }
        if found == nil, unprovable { throw .absenceUnproven("listing_too_long") }
        return found
    }

    func refund(orderID: String, amountCents: Int64, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        orders[orderID]!.status = .refunded
        orders[orderID]!.amountRefundedCents = amountCents
        return orders[orderID]!
    }

    func cancel(orderID: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder {
        orders[orderID]?.status = .canceled
        guard let order = orders[orderID] else { throw .notFound }
        return order
    }
}

/// A ledger held in memory; `down` makes every call fail like a lost database.
final class InMemoryPaymentLedger: PaymentLedger {
    var attempts: [String: PaymentAttempt] = [:]
    var responses: [String: StoredResponse] = [:]
    var leased: Set<String> = []
    var events: [(String, PaymentAttempt.State)] = []
    /// Runs ended with one `conclude` write.
    var concluded = 0
    var down = false
    /// Makes `conclude` alone fail, as a database lost just before a run's last write.
    var failConclude = false

    func begin(
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

    func conclude(
        _ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?, storing response: StoredResponse?,
        retry: RetrySchedule
    ) throws(StoreFailure) -> Bool {
        if failConclude { throw .unavailable }
        guard try save(attempt, expecting: expecting, reason: reason) else { return false }
        try release(attemptID: attempt.id, storing: response, retry: retry)
        concluded += 1
        return true
    }

    func save(_ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?) throws(StoreFailure) -> Bool {
        if down { throw .unavailable }
        guard attempts[attempt.id]?.state == expecting else { return false }
        if expecting != attempt.state { events.append((attempt.id, attempt.state)) }
        attempts[attempt.id] = attempt
        return true
    }

    func storeResponse(attemptID: String, _ response: StoredResponse) throws(StoreFailure) {
        if down { throw .unavailable }
        responses[attemptID] = responses[attemptID] ?? response
    }

    func release(attemptID: String, storing response: StoredResponse?, retry: RetrySchedule) throws(StoreFailure) {
        if down { throw .unavailable }
        if let response { responses[attemptID] = responses[attemptID] ?? response }
        leased.remove(attemptID)
    }

    func renewLease(attemptID: String, owner: String, leaseSeconds: Int) throws(StoreFailure) -> Bool {
        if down { throw .unavailable }
        return leased.contains(attemptID)
    }

    func claim(attemptID: String, owner: String, leaseSeconds: Int) throws(StoreFailure) -> PaymentAttempt? {
        guard !leased.contains(attemptID), var attempt = attempts[attemptID],
            !attempt.state.isFinal || responses[attemptID] == nil
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

    func claimDue(limit: Int, owner: String, leaseSeconds: Int) throws(StoreFailure) -> [PaymentAttempt] {
        if down { throw .unavailable }
        let due = attempts.values.filter { !$0.state.isFinal && !leased.contains($0.id) }.prefix(limit)
        due.forEach { leased.insert($0.id) }
        return due.map { attempt in
            var attempt = attempt
            attempt.answeredCodigo = responses[attempt.id]?.codigo
            return attempt
        }
    }
}

struct FixedRendering: PaymentRendering {
    func receipt(_ attempt: PaymentAttempt, completedAtMicroseconds: Int64, autoConnect: AutoConnectReport) -> StoredResponse {
        StoredResponse(status: 200, body: Array("ok:\(attempt.credentials.username)".utf8), codigo: "pagado")
    }

    func answer(_ result: PaymentResult, attempt: PaymentAttempt?) -> StoredResponse {
        StoredResponse(status: 500, body: Array("\(result)".utf8), codigo: "\(result)")
    }
}

struct StepClock: WallClock {
    func nowMicroseconds() -> Int64 { 1_700_000_000_000_000 }
    func sleep(milliseconds: Int) {}
}

@Suite struct PaymentServiceTests {
    let router = InMemoryHotspotUserDirectory()
    let gateway = ScriptedPaymentGateway()
    let ledger = InMemoryPaymentLedger()
    let grant = AccessGrant(keyID: "key_1", company: Company(id: 1, name: "Café"), router: Router(id: 7, companyID: 1, name: "R"))
    let product = Product(
        id: 3, companyID: 1, routerID: 7, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")

    func service(settings: PaymentService.Settings = .init()) -> PaymentService {
        let router = self.router
        return PaymentService(
            ledger: ledger, gateway: gateway, rendering: FixedRendering(), clock: StepClock(), settings: settings, owner: "test",
            fingerprint: { "fp(\($0))" },
            routerAccess: { (_: Int64) throws(StoreFailure) in .init(directory: router, quick: router, hotspotServer: "hotspot1") },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "key_x") })
    }

    func request(token: String = "tok_1") -> PaymentRequest {
        PaymentRequest(productID: 3, cardToken: token, customerName: "Ana", customerEmail: "ana@example.com")
    }

    func paid(_ id: String) -> ChargeOutcome { .paid(PaidOrder(orderID: id, amount: Money(cents: 1500, currency: "MXN"))) }

    @Test func paysOnceAndReplaysByteForByte() throws {
        gateway.outcomes = [paid("ord_1")]
        let first = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.status == 200)
        let user = try #require(router.users.values.first?.user)
        #expect(!user.disabled && user.comment.hasPrefix("hotspot-pay:") && user.server == "hotspot1")
        let replay = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(replay.response == first.response)
        #expect(gateway.charges == 1 && router.users.count == 1)
        #expect(ledger.events.map(\.1) == [.pending, .charging, .paid, .delivered])
        #expect(ledger.concluded == 1)
    }

    @Test func aLostLastWriteAnswersFromTheCommittedStateAndTheReconcilerDelivers() throws {
        let service = service()
        gateway.outcomes = [paid("ord_3")]
        ledger.failConclude = true
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.codigo == "inVerification")
        let attemptID = try #require(first.attemptID)
        let attempt = try #require(ledger.attempts[attemptID])
        #expect(attempt.state == .paid && ledger.responses[attempt.id] == nil && !ledger.leased.contains(attempt.id))
        ledger.failConclude = false
        #expect(try service.reconcile().map(\.response.status) == [200])
        #expect(ledger.attempts[attempt.id]?.state == .delivered && ledger.responses[attempt.id]?.status == 200)
        #expect(gateway.charges == 1 && router.users.values.first?.user.disabled == false)
    }

    @Test func aCleanUpLaterReportsTheAnswerTheCustomerGot() throws {
        let service = service()
        gateway.outcomes = [.declined(code: "card_declined", message: "x", orderID: "ord_d")]
        router.failNext["delete"] = .timedOut(maybeApplied: false)
        let declined = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(declined.codigo == declined.response.codigo && declined.state == .declining)
        let attemptID = try #require(declined.attemptID)
        let reconciled = try #require(try service.reconcile(attemptID: attemptID))
        // This run renders no answer of its own: the customer's 402 stays the attempt's outcome.
        #expect(reconciled.state == .declined && reconciled.codigo == declined.response.codigo)
        #expect(ledger.responses[attemptID] == declined.response && router.users.isEmpty)
        #expect(try service.reconcile(attemptID: attemptID) == nil)
    }

    @Test func anOrderIsLookedForFromItsChargeToTheGatewaysTimeoutWidenedByClockSkew() throws {
        var settings = PaymentService.Settings()
        settings.chargeTimeoutSeconds = 15
        settings.orderClockSkewSeconds = 60
        settings.lookupGraceSeconds = 0
        let service = service(settings: settings)
        gateway.outcomes = [.unknown(reason: "timeout")]
        gateway.unprovable = true
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.codigo == "inVerification" && first.state == .charging && first.warning == nil)
        let now: Int64 = 1_700_000_000
        #expect(gateway.windows == [(now - 60)...(now + 15 + 60)])
        // The reconciler, past the grace, cannot show there is no order: not charged, with a warning.
        let attemptID = try #require(first.attemptID)
        let reconciled = try #require(try service.reconcile(attemptID: attemptID))
        #expect(reconciled.state == .declined && reconciled.warning?.contains("without proof") == true)
        #expect(router.users.isEmpty && gateway.charges == 1)
    }

    @Test func aDeliveryIsCommittedBeforeItsAutoConnectIsTried() throws {
        let service = service()
        gateway.outcomes = [paid("ord_ac")]
        ledger.failConclude = true
        var wanting = request()
        wanting.mac = MACAddress("AA:BB:CC:00:00:07")
        wanting.autoConnect = true
        let answer = try service.pay(wanting, grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        // The last write was lost, but the delivery itself was committed first: the receipt stands.
        #expect(answer.response.status == 200)
        let attemptID = try #require(answer.attemptID)
        #expect(ledger.attempts[attemptID]?.state == .delivered && ledger.responses[attemptID] == nil)
        #expect(ledger.events.map(\.1) == [.pending, .charging, .paid, .delivered])
        // A retry of the request gets the receipt, and from then on it is stored.
        ledger.failConclude = false
        let retry = try service.pay(wanting, grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(retry.response.status == 200 && retry.attemptID == attemptID)
        #expect(ledger.responses[attemptID]?.status == 200 && gateway.charges == 1)
    }

    @Test func aProfileFoundByExactNameIsTrustedForAWhile() throws {
        let cached = service()
        for token in ["tok_1", "tok_2", "tok_3"] {
            gateway.outcomes = [paid("ord_\(token)")]
            #expect(
                try cached.pay(request(token: token), grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status
                    == 200)
        }
        #expect(router.profileLookups == 1)
        var settings = PaymentService.Settings()
        settings.profileCheckSeconds = 0
        let uncached = service(settings: settings)
        for token in ["tok_4", "tok_5"] {
            gateway.outcomes = [paid("ord_\(token)")]
            #expect(
                try uncached.pay(request(token: token), grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status
                    == 200)
        }
        #expect(router.profileLookups == 3)
    }

    @Test func aUserTheRouterBindsToAnotherProfileIsRemovedUncharged() throws {
        let service = service()
        gateway.outcomes = [paid("ord_1")]
        #expect(
            try service.pay(request(token: "tok_1"), grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status
                == 200)
        // The profile was renamed on the router; "1hora" is now a prefix of "1hora-promo".
        router.bindsInstead["1hora"] = "1hora-promo"
        let refused = try service.pay(request(token: "tok_2"), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(refused.response.codigo == "profileUnavailable")
        #expect(gateway.charges == 1 && router.users.count == 1)
        #expect(ledger.attempts[try #require(refused.attemptID)]?.state == .failed)
        // The cached check was dropped: the next payment looks the profile up again.
        router.profiles = []
        let next = try service.pay(request(token: "tok_3"), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(next.response.codigo == "profileUnavailable")
        #expect(router.profileLookups == 2 && gateway.charges == 1)
    }

    @Test func sameKeyDifferentRequestIsAConflict() throws {
        gateway.outcomes = [paid("ord_1")]
        _ = try service().pay(request(), grant: grant, product: product, idempotencyKey: "k1", requestID: nil)
        let other = try service().pay(request(token: "tok_2"), grant: grant, product: product, idempotencyKey: "k1", requestID: nil)
        #expect(other.response.codigo == "idempotencyConflict")
        #expect(gateway.charges == 1)
    }

    @Test func declineLeavesNoUserAndNoAccess() throws {
        gateway.outcomes = [.declined(code: "card_declined", message: "No", orderID: nil)]
        let outcome = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(outcome.response.codigo == "\(PaymentResult.declined(.byBank))")
        #expect(router.users.isEmpty)
        #expect(ledger.attempts.values.first?.state == .declined)
    }

    @Test func lostChargeReplyIsReconciledAndTheRetryGetsTheReceipt() throws {
        // The charge went through but its reply was lost, and the immediate lookup failed too.
        gateway.outcomes = [.unknown(reason: "connection lost")]
        gateway.orders["ord_9"] = nil
        let service = service()
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.codigo == "inVerification")
        #expect(router.users.values.first?.user.disabled == true)
        let attempt = try #require(ledger.attempts.values.first)
        gateway.orders["ord_9"] = GatewayOrder(id: "ord_9", status: .paid, amount: attempt.amount, attemptID: attempt.id)
        let reconciled = try service.reconcile()
        #expect(reconciled.map(\.response.status) == [200])
        #expect(router.users.values.first?.user.disabled == false)
        let retry = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(retry.response == reconciled[0].response)
        #expect(gateway.charges == 1)
    }

    @Test func databaseLostMidFlowStopsBeforeTheNextSideEffect() throws {
        let service = service()
        gateway.outcomes = [paid("ord_2")]
        router.failNext["set"] = .timedOut(maybeApplied: false)
        let first = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response.codigo == "activationPending")
        #expect(router.users.values.first?.user.disabled == true)
        ledger.down = true
        #expect(throws: StoreFailure.unavailable) { try service.reconcile() }
        #expect(router.users.values.first?.user.disabled == true)
        ledger.down = false
        #expect(try service.reconcile().map(\.response.status) == [200])
        #expect(router.users.values.first?.user.disabled == false)
    }

    @Test func cardTestingIsStoppedPerDeviceWhileOthersKeepPaying() throws {
        let service = service()
        let mac = MACAddress("AA:BB:CC:00:00:01")
        for index in 0..<3 {
            gateway.outcomes = [.declined(code: "card_declined", message: "", orderID: nil)]
            var declined = request(token: "tok_bad_\(index)")
            declined.mac = mac
            #expect(try service.pay(declined, grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status == 500)
        }
        var next = request(token: "tok_good")
        next.mac = mac
        let refused = try service.pay(next, grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(refused.response.codigo == "tooManyAttempts")
        #expect(gateway.charges == 3)
        #expect(ledger.attempts[refused.attemptID!]?.state == .failed)
        gateway.outcomes = [paid("ord_ok")]
        var other = request(token: "tok_other")
        other.mac = MACAddress("AA:BB:CC:00:00:02")
        #expect(try service.pay(other, grant: grant, product: product, idempotencyKey: nil, requestID: nil).response.status == 200)
    }

    @Test func aCreateSentTwiceIsRecognisedAsOursAndChargedOnce() throws {
        router.resendNextCreate = true
        gateway.outcomes = [paid("ord_9")]
        let outcome = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(outcome.response.status == 200)
        #expect(router.users.count == 1 && router.users.values.first?.user.disabled == false)
        #expect(gateway.charges == 1)
    }

    @Test func routerDownAtCreateChargesNothing() throws {
        router.failNext["create"] = .unreachable("refused")
        let outcome = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(outcome.response.codigo == "routerUnavailable")
        #expect(gateway.charges == 0)
        #expect(ledger.attempts.values.first?.state == .failed)
    }

    @Test func undeliverablePaymentIsRefundedAfterTheDeadline() throws {
        gateway.outcomes = [paid("ord_3")]
        router.failNext["set"] = .unreachable("down")
        var settings = PaymentService.Settings()
        settings.activationDeadlineSeconds = 0
        let router = self.router
        let service = PaymentService(
            ledger: ledger, gateway: gateway, rendering: FixedRendering(), clock: StepClock(), settings: settings, owner: "t",
            fingerprint: { $0 },
            routerAccess: { (_: Int64) throws(StoreFailure) in .init(directory: router, quick: router, hotspotServer: "all") },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "k") })
        _ = try service.pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        router.failNext["set"] = .unreachable("still down")
        _ = try service.reconcile()
        #expect(gateway.orders["ord_3"]?.status == .refunded)
        #expect(router.users.isEmpty)
        #expect(ledger.attempts.values.first?.state == .refunded)
    }
}
