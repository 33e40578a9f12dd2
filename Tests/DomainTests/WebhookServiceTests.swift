import TestSupport
import Testing

@testable import Domain

/// The webhook receiver's decisions over in-memory ports (CONTRACT §10): what is checked before
/// anything is recorded, that the order is fetched again, and that an event is applied once.
@Suite struct WebhookServiceTests {
    struct Verifier: WebhookSignatureVerifier {
        func isSigned(_ body: [UInt8], signature: String, publicKeyPEM: String) -> Bool { signature == "good:" + publicKeyPEM }
    }

    /// `id type order` separated by spaces, or nil.
    struct Decoder: WebhookEventDecoding {
        func decode(_ body: [UInt8]) -> WebhookEventHint? {
            let words = String(decoding: body, as: UTF8.self).split(separator: " ").map(String.init)
            guard words.count >= 2 else { return nil }
            return WebhookEventHint(eventID: words[0], type: words[1], orderID: words.count > 2 ? words[2] : nil)
        }
    }

    final class Saga {
        var reports: [(GatewayOrder, String)] = []
        var answer: PaymentService.Outcome? = nil
        var failing = false

        func apply(_ order: GatewayOrder, _ attemptID: String) throws(StoreFailure) -> PaymentService.Outcome? {
            if failing { throw .unavailable }
            reports.append((order, attemptID))
            return answer
        }
    }

    let ledger = InMemoryPaymentLedger()
    let inbox: InMemoryWebhookInbox
    let gateway = ScriptedPaymentGateway()
    let saga = Saga()
    let service: WebhookService
    let attempt: PaymentAttempt

    init() {
        inbox = InMemoryWebhookInbox(ledger: ledger)
        inbox.receivers["whe_a"] = WebhookReceiver(companyID: 1, publicKeyPEM: "PEM-A", gatewayKey: GatewayKey(privateKey: "key_a"))
        inbox.receivers["whe_b"] = WebhookReceiver(companyID: 2, publicKeyPEM: "PEM-B", gatewayKey: GatewayKey(privateKey: "key_b"))
        var attempt = PaymentAttempt(
            id: "00000000-0000-4000-8000-000000000001", companyID: 1, routerID: 1, productID: 1, apiKeyID: nil,
            idempotencyKey: "k", requestHash: "h", state: .delivered, amount: Money(cents: 1500, currency: "MXN"),
            productName: "1 Hora", profileName: "1hora", limitUptime: nil, limitBytesTotal: nil, customerName: "Ana",
            customerEmail: "a@b.c", customerPhone: nil, userType: .pin, credentials: HotspotCredentials(username: "123456", password: ""),
            mac: nil, ip: nil, autoConnect: false, createdAt: 0)
        attempt.orderID = "ord_1"
        ledger.attempts[attempt.id] = attempt
        self.attempt = attempt
        gateway.orders["ord_1"] = GatewayOrder(
            id: "ord_1", status: .refunded, amount: attempt.amount, amountRefundedCents: 1500, attemptID: attempt.id)
        let saga = self.saga
        service = WebhookService(
            inbox: inbox, verifier: Verifier(), decoder: Decoder(), gateway: gateway,
            applyReport: { (order, id) throws(StoreFailure) in try saga.apply(order, id) })
    }

    func receive(_ body: String, endpoint: String = "whe_a", signature: String? = "good:PEM-A") -> WebhookService.Reception {
        service.receive(endpoint: endpoint, body: Array(body.utf8), signature: signature)
    }

    func receipt(_ reception: WebhookService.Reception) -> WebhookService.Receipt? {
        guard case .received(let receipt) = reception else { return nil }
        return receipt
    }

    func revoked() -> PaymentService.Outcome {
        PaymentService.Outcome(
            response: StoredResponse(status: 402, body: [], codigo: "acceso_revocado"), attemptID: attempt.id, orderID: "ord_1",
            state: .revoked)
    }

    @Test func nothingIsReadOrRecordedBeforeTheSignatureVerifies() {
        #expect(receive("evt_1 order.refunded ord_1", endpoint: "whe_zzz") == .unknownEndpoint)
        inbox.down = true
        // Longer than any endpoint: not even looked up.
        #expect(receive("evt_1 order.refunded ord_1", endpoint: String(repeating: "a", count: 65)) == .unknownEndpoint)
        inbox.down = false
        #expect(receive("evt_1 order.refunded ord_1", signature: nil) == .badSignature(companyID: 1))
        #expect(receive("evt_1 order.refunded ord_1", signature: "good:PEM-B") == .badSignature(companyID: 1))
        #expect(receive("garbage", signature: "good:PEM-A") == .malformed(companyID: 1))
        #expect(inbox.events.isEmpty && saga.reports.isEmpty)
        // A company without a key yet refuses every delivery.
        inbox.receivers["whe_c"] = WebhookReceiver(companyID: 3, publicKeyPEM: nil, gatewayKey: nil)
        #expect(receive("evt_1 order.paid ord_1", endpoint: "whe_c", signature: "good:") == .badSignature(companyID: 3))
    }

    @Test func aRefundIsActedOnFromTheOrderAsTheAPIReportsItOnce() throws {
        saga.answer = revoked()
        let first = try #require(receipt(receive("evt_1 order.refunded ord_1")))
        #expect(first.outcome == "revoked" && first.attemptID == attempt.id && !first.redelivery)
        #expect(saga.reports.count == 1 && saga.reports[0].0.status == .refunded && saga.reports[0].1 == attempt.id)
        let again = try #require(receipt(receive("evt_1 order.refunded ord_1")))
        #expect(again.outcome == "revoked" && again.redelivery)
        #expect(saga.reports.count == 1)
        #expect(inbox.events.first?.deliveries == 2)
    }

    @Test func theBodyIsAHint() throws {
        // An order.paid naming a refunded order: the API's status is what the saga hears.
        saga.answer = revoked()
        _ = receive("evt_2 order.paid ord_1")
        #expect(saga.reports.map(\.0.status) == [.refunded])
    }

    @Test func anOrderThatIsNotOneOfTheCompanysAttemptsIsIgnored() throws {
        // Signed by company 2, naming company 1's order: company 2's key does not find it.
        let other = try #require(receipt(receive("evt_3 order.refunded ord_1", endpoint: "whe_b", signature: "good:PEM-B")))
        #expect(other.outcome == "ignored: not our order" || other.outcome == "ignored: unknown order")
        // Found, but the attempt is another company's.
        inbox.receivers["whe_b"]?.gatewayKey = GatewayKey(privateKey: "key_a")
        let foreign = try #require(receipt(receive("evt_4 order.refunded ord_1", endpoint: "whe_b", signature: "good:PEM-B")))
        #expect(foreign.outcome == "ignored: not our order" && foreign.attemptID == nil)
        // No attempt id, or another amount.
        gateway.orders["ord_x"] = GatewayOrder(id: "ord_x", status: .refunded, amount: attempt.amount)
        #expect(receipt(receive("evt_5 order.refunded ord_x"))?.outcome == "ignored: not our order")
        gateway.orders["ord_y"] = GatewayOrder(
            id: "ord_y", status: .refunded, amount: Money(cents: 1, currency: "MXN"), attemptID: attempt.id)
        let cheap = try #require(receipt(receive("evt_6 order.refunded ord_y")))
        #expect(cheap.outcome == "ignored: not our order" && cheap.warning != nil)
        #expect(receipt(receive("evt_7 order.refunded ord_unknown"))?.outcome == "ignored: unknown order")
        #expect(saga.reports.isEmpty)
    }

    @Test func eventsThatRequireNothingAreRecordedOnly() throws {
        #expect(receipt(receive("evt_8 order.created ord_1"))?.outcome == "recorded")
        #expect(receipt(receive("evt_9 webhook_ping"))?.outcome == "recorded")
        #expect(receipt(receive("evt_10 order.paid"))?.outcome == "ignored: no order")
        #expect(saga.reports.isEmpty)
        #expect(inbox.events.allSatisfy { !$0.isPending })
    }

    /// The request that delivered an event applies it: the reconciler does not take a new event
    /// before the retry's first delay, so the two do not race for it ("applied elsewhere").
    @Test func aNewEventIsTheDeliveringRequestsBeforeTheReconcilers() throws {
        final class Racer {
            var claimed: [String]? = nil
        }
        let racer = Racer()
        let inbox = self.inbox
        let saga = Saga()
        saga.answer = revoked()
        var service: WebhookService! = nil
        service = WebhookService(
            inbox: inbox, verifier: Verifier(), decoder: Decoder(), gateway: gateway,
            applyReport: { (order, id) throws(StoreFailure) in
                // While this request applies the event, the reconciler looks for pending ones.
                racer.claimed = try service.applyPending(limit: 5).map(\.eventID)
                return try saga.apply(order, id)
            })
        let delivered = try #require(
            receipt(service.receive(endpoint: "whe_a", body: Array("evt_12 order.refunded ord_1".utf8), signature: "good:PEM-A")))
        #expect(racer.claimed == [])
        #expect(delivered.outcome == "revoked")
        #expect(saga.reports.count == 1)
    }

    @Test func whatCannotBeAppliedNowStaysPendingForTheReconciler() throws {
        var held = revoked()
        held.heldElsewhere = true
        saga.answer = held
        let busy = try #require(receipt(receive("evt_11 order.refunded ord_1")))
        #expect(busy.outcome == "pending: attempt busy")
        #expect(inbox.events.first?.isPending == true)
        // Not due yet.
        #expect(try service.applyPending(limit: 5).isEmpty)
        inbox.now += 10
        saga.answer = revoked()
        let late = try service.applyPending(limit: 5)
        #expect(late.map(\.outcome) == ["revoked"])
        #expect(inbox.events.first?.outcome == "revoked")
        #expect(try service.applyPending(limit: 5).isEmpty)
    }

    @Test func aDatabaseDownBeforeRecordingAsksForTheDeliveryAgain() {
        inbox.down = true
        #expect(receive("evt_12 order.refunded ord_1") == .unavailable)
        inbox.down = false
        saga.failing = true
        // Recorded, then the saga could not reach the database: 200, pending.
        #expect(receipt(receive("evt_12 order.refunded ord_1"))?.outcome == "pending: database unavailable")
        #expect(inbox.events.count == 1 && inbox.events[0].isPending)
    }

    @Test func nothingToDoSaysWhereTheAttemptStands() throws {
        saga.answer = nil
        let answer = try #require(receipt(receive("evt_13 order.paid ord_1")))
        #expect(answer.outcome == "nothing to do: delivered" && answer.outcomeKind == "nothing_to_do")
    }
}
