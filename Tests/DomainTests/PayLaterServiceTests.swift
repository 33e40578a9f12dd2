import Domain
import TestSupport
import Testing

/// Pay later end to end over the in-memory ports (CONTRACT §12): the order and its 202, no
/// router user before the money, the webhook or the poll that delivers, expiry, the claim code.
@Suite struct PayLaterServiceTests {
    final class Access {
        /// nil: the router was removed or disabled.
        var router: InMemoryHotspotUserDirectory? = InMemoryHotspotUserDirectory()
        var changes: [PaymentService.StateChange] = []
    }

    let access = Access()
    let gateway = ScriptedPaymentGateway()
    let ledger = InMemoryPaymentLedger()
    let grant = AccessGrant(
        keyID: "key_1", company: Company(id: 1, name: "Café", payLater: PayLaterSettings(methods: [.oxxo, .spei], expirySeconds: 7_200)),
        router: Router(id: 7, companyID: 1, name: "R"))
    let product = Product(
        id: 3, companyID: 1, routerID: 7, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"), profileName: "1hora")
    static let now: Int64 = 1_700_000_000
    static let cash = PayLaterCharge(
        method: .oxxo, instructions: PaymentInstructions(reference: "93000262280678", barcodeURL: "https://b/1.png"),
        expiresAt: now + 7_200)

    var router: InMemoryHotspotUserDirectory { access.router! }

    func service(settings: PaymentService.Settings = .init(), clock: FixedClock = FixedClock()) -> PaymentService {
        let access = self.access
        return PaymentService(
            ledger: ledger, gateway: gateway, rendering: StubPaymentRendering(), clock: clock, settings: settings, owner: "test",
            fingerprint: { "fp(\($0))" },
            routerAccess: { (_: Int64) throws(StoreFailure) in
                access.router.map { .init(directory: $0, quick: $0, hotspotServer: "hotspot1") }
            },
            gatewayKey: { (_: Int64) throws(StoreFailure) in GatewayKey(privateKey: "key_x") },
            observe: { access.changes.append($0) })
    }

    func request(_ method: PaymentMethod = .oxxo, email: String = "ana@example.com") -> PaymentRequest {
        PaymentRequest(productID: 3, cardToken: "", customerName: "Ana", customerEmail: email, method: method)
    }

    /// A purchase answered 202; its attempt and the claim code the answer shows.
    func order(_ method: PaymentMethod = .oxxo, key: String? = "k-1") throws -> (attempt: PaymentAttempt, code: String) {
        gateway.outcomes = [.awaitingPayment(orderID: "ord_1", charge: Self.cash)]
        let answer = try service().pay(request(method), grant: grant, product: product, idempotencyKey: key, requestID: nil)
        #expect(answer.response.status == 202 && answer.state == .awaitingPayment)
        let body = String(decoding: answer.response.body, as: UTF8.self)
        let attemptID = try #require(answer.attemptID)
        let attempt = try #require(ledger.attempts[attemptID])
        return (attempt, String(try #require(body.split(separator: ":").last)))
    }

    func claim(_ code: String, service: PaymentService? = nil, router: Int64 = 7) throws -> PaymentService.Redemption {
        var grant = self.grant
        grant.router.id = router
        return try (service ?? self.service()).redeem(PaymentService.Claim(code: code), grant: grant, remoteAddress: "10.5.50.9")
    }

    @Test func anOrderIsAnswered202WithNothingOnTheRouterAndTheSameKeyGetsTheSameAnswer() throws {
        let (attempt, code) = try order()
        #expect(attempt.method == .oxxo && attempt.instructions?.reference == "93000262280678")
        #expect(attempt.payLaterExpiresAt == Self.now + 7_200 && attempt.claimCodeHash == "fp(claim-code:\(code))")
        #expect(router.users.isEmpty && router.profileLookups == 1)
        #expect(gateway.requests.first?.payment == .payLater(.oxxo, expiresAt: Self.now + 7_200))
        let again = try service().pay(request(), grant: grant, product: product, idempotencyKey: "k-1", requestID: nil)
        #expect(again.response == ledger.responses[attempt.id] && gateway.charges == 1)
        #expect(ledger.events.map(\.1) == [.pending, .charging, .awaitingPayment])
    }

    @Test func withoutAHeaderTheSameRequestInTheSameTenMinutesIsTheSamePurchase() throws {
        gateway.outcomes = [.awaitingPayment(orderID: "ord_1", charge: Self.cash)]
        let first = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        let second = try service().pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(first.response == second.response && gateway.charges == 1)
        let later = FixedClock(microseconds: (Self.now + 600) * 1_000_000)
        gateway.outcomes = [.awaitingPayment(orderID: "ord_2", charge: Self.cash)]
        _ = try service(clock: later).pay(request(), grant: grant, product: product, idempotencyKey: nil, requestID: nil)
        #expect(gateway.charges == 2)
    }

    @Test func aMethodTheCompanyDoesNotOfferIsRefusedBeforeAnythingIsRecorded() throws {
        var grant = self.grant
        grant.company.payLater = PayLaterSettings(methods: [.oxxo])
        #expect(throws: ServiceError.paymentMethodUnavailable) {
            try service().pay(request(.spei), grant: grant, product: product, idempotencyKey: "k", requestID: nil)
        }
        #expect(ledger.attempts.isEmpty && gateway.charges == 0)
    }

    @Test func aWebhookOfThePaymentDeliversAndTheClaimGetsTheReceipt() throws {
        let (attempt, code) = try order()
        guard case .pending(let waiting) = try claim(code) else { Issue.record("not pending"); return }
        #expect(waiting.state == .awaitingPayment && router.users.isEmpty)
        gateway.settle("ord_1", .paid)
        let paidOrder = try #require(gateway.orders["ord_1"])
        let reported = try #require(try service().applyOrderReport(paidOrder, attemptID: attempt.id))
        #expect(reported.state == .delivered)
        let user = try #require(router.users.values.first?.user)
        #expect(!user.disabled && user.comment == attempt.routerComment && user.macAddress == nil)
        #expect(ledger.attempts[attempt.id]?.routerUserID == user.id)
        guard case .delivered(let receipt, let delivered) = try claim(code) else { Issue.record("not delivered"); return }
        #expect(receipt.status == 200 && receipt.body == Array("ok:\(delivered.credentials.username)".utf8))
        #expect(ledger.events.map(\.1) == [.pending, .charging, .awaitingPayment, .provisioning, .delivered])
        #expect(access.changes.map(\.to) == [.charging, .awaitingPayment, .provisioning, .delivered])
        // The 202 stays every retry's answer.
        #expect(ledger.responses[attempt.id]?.status == 202)
    }

    @Test func theWebhookThroughTheReceiverAppliesThePayment() throws {
        let (attempt, _) = try order()
        gateway.settle("ord_1", .paid)
        let inbox = InMemoryWebhookInbox(ledger: ledger)
        inbox.receivers["whe_a"] = WebhookReceiver(companyID: 1, publicKeyPEM: "PEM", gatewayKey: GatewayKey(privateKey: "key_x"))
        let service = service()
        let webhooks = WebhookService(
            inbox: inbox, verifier: AlwaysSigned(), decoder: WordsDecoder(), gateway: gateway,
            applyReport: { (order, id) throws(StoreFailure) in try service.applyOrderReport(order, attemptID: id) })
        guard case .received(let receipt) = webhooks.receive(endpoint: "whe_a", body: Array("evt_1 order.paid ord_1".utf8), signature: "s")
        else { Issue.record("not received"); return }
        #expect(receipt.outcome == "delivered" && receipt.attemptID == attempt.id)
        #expect(router.users.values.first?.user.disabled == false)
    }

    @Test func aLostWebhookIsMadeUpForByThePoll() throws {
        let (attempt, code) = try order()
        #expect(ledger.schedules[attempt.id] == RetrySchedule(baseSeconds: 60, ceilingSeconds: 600, latest: Self.now + 7_200))
        gateway.settle("ord_1", .paid)
        let outcome = try #require(try service().reconcile(attemptID: attempt.id))
        #expect(outcome.state == .delivered)
        guard case .delivered = try claim(code) else { Issue.record("not delivered"); return }
    }

    @Test func aClaimOfAnIdleWaitingOrderReadsItSoAPaymentJustMadeIsDelivered() throws {
        let (attempt, code) = try order()
        gateway.settle("ord_1", .paid)
        ledger.idleSeconds[attempt.id] = 5
        guard case .pending = try claim(code) else { Issue.record("read too soon"); return }
        ledger.idleSeconds[attempt.id] = 11
        guard case .delivered = try claim(code) else { Issue.record("not delivered"); return }
        #expect(router.users.count == 1)
    }

    @Test func anExpiredOrderEndsExpiredAndItsCodeIsGone() throws {
        let (attempt, code) = try order()
        gateway.settle("ord_1", .expired)
        #expect(try service().reconcile(attemptID: attempt.id)?.state == .expired)
        guard case .ended(.expired, _) = try claim(code) else { Issue.record("not ended"); return }
        #expect(router.users.isEmpty && access.changes.last?.to == .expired)
    }

    @Test func pastTheGraceTheOrderIsCancelledAndTheAttemptExpires() throws {
        let (attempt, _) = try order()
        let late = FixedClock(microseconds: (Self.now + 7_200 + 3_601) * 1_000_000)
        #expect(try service(clock: late).reconcile(attemptID: attempt.id)?.state == .expired)
        #expect(gateway.cancels == ["ord_1"] && router.users.isEmpty)
        let beforeGrace = FixedClock(microseconds: (Self.now + 7_300) * 1_000_000)
        #expect(try service(clock: beforeGrace).reconcile(attemptID: attempt.id) == nil)
    }

    @Test func theRouterDownWhenTheMoneyArrivesDeliversWhenItIsBack() throws {
        let (attempt, code) = try order()
        gateway.settle("ord_1", .paid)
        router.failNext["create"] = .unreachable("refused")
        #expect(try service().reconcile(attemptID: attempt.id)?.state == .provisioning)
        guard case .pending(let paid) = try claim(code) else { Issue.record("not pending"); return }
        #expect(paid.state == .provisioning && router.users.isEmpty)
        #expect(try service().reconcile(attemptID: attempt.id)?.state == .delivered)
        #expect(router.users.values.first?.user.disabled == false)
    }

    @Test func aRouterRemovedBeforeTheAccessIsMadeRefundsThePayment() throws {
        let (attempt, code) = try order()
        gateway.settle("ord_1", .paid)
        access.router = nil
        #expect(try service().reconcile(attemptID: attempt.id)?.state == .refunding)
        #expect(gateway.orders["ord_1"]?.status == .refunded)
        guard case .ended(.refunded, _) = try claim(code) else { Issue.record("not refunded"); return }
    }

    @Test func aCodeIsBoundToItsRouterAndWrongOnesAreCountedThen429() throws {
        let (_, code) = try order()
        var settings = PaymentService.Settings()
        settings.claimGuessesPerAddress = 3
        let service = service(settings: settings)
        #expect(try claim(code, service: service, router: 8) == .unknownCode)
        #expect(try claim("NOT-A-CODE", service: service) == .unknownCode)
        #expect(try claim("ZZZZZ-ZZZZZ", service: service) == .unknownCode)
        #expect(ledger.failedClaims.count == 3)
        // Past the limit nothing is looked up, the right code included.
        #expect(try claim(code, service: service) == .tooManyGuesses(retryAfterSeconds: 600))
        #expect(ledger.failedClaims.count == 3)
    }

    @Test func aReplyLostOnTheWayToTheCustomerGetsANewCodeOnTheRetry() throws {
        gateway.outcomes = [.unknown(reason: "timed out")]
        let first = try service().pay(request(), grant: grant, product: product, idempotencyKey: "k-2", requestID: nil)
        #expect(first.codigo == "inVerification" && first.state == .charging)
        let attemptID = try #require(first.attemptID)
        let shownNever = try #require(ledger.attempts[attemptID]?.claimCodeHash)
        gateway.orders["ord_7"] = GatewayOrder(
            id: "ord_7", status: .pendingPayment, amount: product.price, attemptID: attemptID, payLater: Self.cash)
        let retry = try service().pay(request(), grant: grant, product: product, idempotencyKey: "k-2", requestID: nil)
        #expect(retry.response.status == 202 && gateway.charges == 1)
        let code = String(try #require(String(decoding: retry.response.body, as: UTF8.self).split(separator: ":").last))
        #expect(ledger.attempts[attemptID]?.claimCodeHash == "fp(claim-code:\(code))")
        #expect(ledger.attempts[attemptID]?.claimCodeHash != shownNever)
        #expect(ledger.attempts[attemptID]?.instructions?.reference == "93000262280678")
    }

    @Test func paidIntoADeadReferenceTheMoneyGoesBack() throws {
        let (attempt, _) = try order()
        gateway.settle("ord_1", .expired)
        _ = try service().reconcile(attemptID: attempt.id)
        gateway.settle("ord_1", .paid)
        let paidOrder = try #require(gateway.orders["ord_1"])
        let outcome = try #require(try service().applyOrderReport(paidOrder, attemptID: attempt.id))
        #expect(outcome.state == .refunded && gateway.orders["ord_1"]?.status == .refunded && router.users.isEmpty)
    }
}

/// Every signature verifies (the receiver's checks have their own tests).
struct AlwaysSigned: WebhookSignatureVerifier {
    func isSigned(_ body: [UInt8], signature: String, publicKeyPEM: String) -> Bool { true }
}

/// `id type order`.
struct WordsDecoder: WebhookEventDecoding {
    func decode(_ body: [UInt8]) -> WebhookEventHint? {
        let words = String(decoding: body, as: UTF8.self).split(separator: " ").map(String.init)
        guard words.count == 3 else { return nil }
        return WebhookEventHint(eventID: words[0], type: words[1], orderID: words[2])
    }
}
