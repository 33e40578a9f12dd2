import Domain
import Foundation
import Gateway
import HTTPTransport
import TestSupport
import Testing

/// Request building and reply decoding, over a `FakeTransport` serving recorded bodies.
@Suite struct ConektaClientTests {
    static let key = GatewayKey(privateKey: "key_SECRETprivate")

    static func request(
        cents: Int64 = 10_000, attemptID: String = "att-1", itemName: String = "Hotspot 1 dia",
        metadata: [String: String] = [:]
    ) -> ChargeRequest {
        ChargeRequest(
            attemptID: attemptID, amount: Money(cents: cents, currency: "MXN"), itemName: itemName,
            customerName: "Ana Pérez", customerEmail: "ana@example.mx", customerPhone: "5512345678",
            cardToken: "tok_SECRETcard", metadata: metadata)
    }

    static func client(_ transport: FakeTransport) -> ConektaClient {
        ConektaClient(transport: transport, configuration: .init(baseURL: "https://conekta.test/"))
    }

    static func charge(
        _ script: [Result<HTTPResponse, TransportError>], _ request: ChargeRequest = request()
    ) -> (
        ChargeOutcome, FakeTransport
    ) {
        let transport = FakeTransport(script)
        return (client(transport).charge(request, using: key), transport)
    }

    static func charge(status: Int, body: String, contentType: String = "application/json") -> ChargeOutcome {
        charge([.success(.conekta(status, body, contentType: contentType))]).0
    }

    static func bodyJSON(_ request: HTTPRequest?) throws -> [String: Any] {
        let body = try #require(request?.body)
        return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }

    // MARK: the request

    @Test func createOrderRequestHasTheDocumentedHeadersAndBody() throws {
        let (_, transport) = Self.charge(
            [.success(.conekta(200, ConektaFixtures.paidCardOrder))],
            Self.request(metadata: ["router": "r1", "attempt_id": "spoof"]))
        let request = try #require(transport.requests.first)
        #expect(transport.requests.count == 1)
        #expect(request.method == .post)
        #expect(request.url == "https://conekta.test/orders")
        #expect(transport.header("Authorization") == "Bearer key_SECRETprivate")
        #expect(transport.header("Accept") == "application/vnd.conekta-v2.2.0+json")
        #expect(transport.header("Accept-Language") == "es")
        #expect(transport.header("Content-Type") == "application/json")
        #expect(request.timeouts == Timeouts(connectMilliseconds: 3_000, totalMilliseconds: 25_000))

        let body = try Self.bodyJSON(request)
        #expect(body["currency"] as? String == "MXN")
        #expect(
            body["customer_info"] as? [String: String] == [
                "name": "Ana Pérez", "email": "ana@example.mx", "phone": "5512345678",
            ])
        let item = try #require((body["line_items"] as? [[String: Any]])?.first)
        #expect(item["name"] as? String == "Hotspot 1 dia")
        #expect(item["unit_price"] as? Int == 10_000)
        #expect(item["quantity"] as? Int == 1)
        let charge = try #require((body["charges"] as? [[String: Any]])?.first)
        #expect(charge["reference_id"] as? String == "att-1")
        #expect(charge["payment_method"] as? [String: String] == ["type": "card", "token_id": "tok_SECRETcard"])
        #expect(charge["amount"] == nil)
        #expect(body["metadata"] as? [String: String] == ["attempt_id": "att-1", "router": "r1"])
        // Members in key order at every level, strings escaped, nothing else: stable bytes.
        #expect(
            String(decoding: request.body ?? [], as: UTF8.self)
                == #"{"charges":[{"payment_method":{"token_id":"tok_SECRETcard","type":"card"},"reference_id":"att-1"}],"#
                + #""currency":"MXN","customer_info":{"email":"ana@example.mx","name":"Ana Pérez","phone":"5512345678"},"#
                + #""line_items":[{"name":"Hotspot 1 dia","quantity":1,"unit_price":10000}],"#
                + #""metadata":{"attempt_id":"att-1","router":"r1"}}"#)
    }

    @Test func bodyRespectsTheSpecLimits() throws {
        let long = String(repeating: "é", count: 300)
        var metadata = ["a_long": long, "attempt_id": "spoof"]
        for index in 0..<150 { metadata["k\(index)"] = "v" }
        let (_, transport) = Self.charge(
            [.success(.conekta(200, ConektaFixtures.paidCardOrder))], Self.request(itemName: " 1d ", metadata: metadata))
        let body = try Self.bodyJSON(transport.requests.first)
        let sent = try #require(body["metadata"] as? [String: String])
        #expect(sent.count == 100)
        #expect(sent["attempt_id"] == "att-1")
        #expect(sent["a_long"]?.unicodeScalars.count == 249)
        let item = try #require((body["line_items"] as? [[String: Any]])?.first)
        #expect(item["name"] as? String == "Wi-Fi 1d")
    }

    @Test(arguments: [Int64(0), -5, Int64(Int32.max) + 1])
    func amountsConektaMustRejectAreNotSent(cents: Int64) {
        let (outcome, transport) = Self.charge([], Self.request(cents: cents))
        #expect(transport.requests.isEmpty)
        #expect(outcome == .invalidRequest(param: "line_items.unit_price", message: "amount out of range"))
    }

    // MARK: outcomes

    @Test func paidOrderIsPaid() {
        let outcome = Self.charge(status: 200, body: ConektaFixtures.paidCardOrder)
        #expect(
            outcome
                == .paid(
                    PaidOrder(
                        orderID: "ord_2znsF4cv7L8sWnRya", amount: Money(cents: 10_000, currency: "MXN"),
                        cardBrand: "visa", cardLast4: "4242")))
    }

    @Test(arguments: [
        ("\"amount\": 10000,", "\"amount\": 9999,", "paid_order_mismatch_amount"),
        ("\"currency\": \"MXN\",", "\"currency\": \"USD\",", "paid_order_mismatch_currency"),
        ("\"status\": \"paid\",", "\"status\": \"declined\",", "paid_order_mismatch_charge_status"),
        ("\"test\": \"false\"", "\"attempt_id\": \"someone-else\"", "paid_order_mismatch_attempt_id"),
    ])
    func paidOrderThatDisagreesWithTheRequestIsUnknown(original: String, replacement: String, reason: String) {
        let body = ConektaFixtures.paidCardOrder.replacingOccurrences(of: original, with: replacement)
        #expect(body != ConektaFixtures.paidCardOrder)
        #expect(Self.charge(status: 200, body: body) == .unknown(reason: reason))
    }

    @Test func paidOrderEchoingOurAttemptIDIsPaid() {
        let body = ConektaFixtures.paidCardOrder.replacingOccurrences(
            of: "\"test\": \"false\"", with: "\"attempt_id\": \"att-1\"")
        guard case .paid(let order) = Self.charge(status: 200, body: body) else {
            Issue.record("not paid")
            return
        }
        #expect(order.orderID == "ord_2znsF4cv7L8sWnRya")
    }

    @Test func threeDSecurePendingIsNotPaid() {
        #expect(
            Self.charge(status: 200, body: ConektaFixtures.threeDSPendingOrder)
                == .notPaid(status: .pendingPayment, orderID: "ord_2v4bXXEfZEfjDNcjd"))
    }

    @Test(arguments: ["pre_authorized", "under_fraud_review", "something_new"])
    func anyOtherPaymentStatusIsNotPaid(status: String) {
        let body = ConektaFixtures.paidCardOrder.replacingOccurrences(
            of: "\"payment_status\": \"paid\"", with: "\"payment_status\": \"\(status)\"")
        #expect(
            Self.charge(status: 200, body: body)
                == .notPaid(status: GatewayOrder.Status(conekta: status), orderID: "ord_2znsF4cv7L8sWnRya"))
    }

    @Test func declineCarriesTheCodeTheSpanishMessageAndTheOrder() {
        #expect(
            Self.charge(status: 402, body: ConektaFixtures.declinedSuspicious)
                == .declined(
                    code: "conekta.errors.processing.charge.card_payment.suspicious_behaviour",
                    message: "Tu método de pago ha sido rechazado, intenta con otro método.",
                    orderID: "ord_2tUyQmZyykejbbw8m"))
    }

    @Test func declineWithoutMessageGetsAFixedSpanishText() {
        let body =
            #"{"object":"error","type":"processing_error","details":[{"code":"conekta.errors.processing.bank.insufficient_funds"}]}"#
        #expect(
            Self.charge(status: 402, body: body)
                == .declined(
                    code: "conekta.errors.processing.bank.insufficient_funds",
                    message: "Esta tarjeta no tiene suficientes fondos para completar la compra.", orderID: nil))
    }

    @Test func legacyErrorShapeIsUnderstood() {
        #expect(
            Self.charge(status: 402, body: ConektaFixtures.legacyDecline)
                == .declined(code: "card_declined", message: "Tu tarjeta fue declinada.", orderID: nil))
    }

    @Test func usedTokenIsUnknownBecauseThisAttemptMayHaveUsedIt() {
        #expect(Self.charge(status: 402, body: ConektaFixtures.tokenUsed) == .tokenAlreadyUsed)
    }

    @Test(arguments: ["", "<html>payment required</html>", "{\"object\":\"error\"}"])
    func paymentRequiredWithoutACodeIsUnknown(body: String) {
        #expect(Self.charge(status: 402, body: body) == .unknown(reason: "http_402_without_code"))
    }

    @Test(arguments: [(401, ConektaFixtures.authenticationError), (401, ""), (403, ""), (404, "")])
    func authenticationAndRoutingFailuresAreConfigurationErrors(status: Int, body: String) {
        guard case .configurationError(let reason) = Self.charge(status: status, body: body) else {
            Issue.record("expected a configuration error")
            return
        }
        #expect(reason.contains("http_\(status)"))
    }

    @Test func validationErrorIsAnInvalidRequestWithItsParam() {
        #expect(
            Self.charge(status: 422, body: ConektaFixtures.nonexistentToken)
                == .invalidRequest(param: "payment_method.token_id", message: "The token does not exist."))
    }

    @Test func malformedRequestIsAnInvalidRequest() {
        guard case .invalidRequest(nil, _) = Self.charge(status: 400, body: "") else {
            Issue.record("expected an invalid request")
            return
        }
    }

    @Test(arguments: [
        (500, ""), (500, ConektaFixtures.internalError), (502, "<html>Bad Gateway</html>"), (504, ""), (429, ""),
        (408, ""),
        (302, ""),
    ])
    func serverTroubleIsUnknown(status: Int, body: String) {
        #expect(Self.charge(status: status, body: body) == .unknown(reason: "http_\(status)"))
    }

    @Test(arguments: ["", "<html>ok</html>", "[]", "{}"])
    func successWithoutAnOrderIsUnknown(body: String) {
        guard case .unknown = Self.charge(status: 200, body: body, contentType: "text/html") else {
            Issue.record("expected unknown")
            return
        }
    }

    @Test func failureAfterSendingIsUnknownAndNotRetried() {
        let (outcome, transport) = Self.charge([
            .failure(TransportError(kind: .timedOut, requestSent: true)),
            .success(.conekta(200, ConektaFixtures.paidCardOrder)),
        ])
        #expect(outcome == .unknown(reason: "transport_timed_out"))
        #expect(transport.requests.count == 1)
    }

    @Test func failureBeforeSendingChargedNothing() {
        let (outcome, transport) = Self.charge([.failure(TransportError(kind: .couldNotConnect, requestSent: false))])
        #expect(outcome == .configurationError(reason: "not_sent: transport_could_not_connect"))
        #expect(transport.requests.count == 1)
    }

    @Test func noOutcomeOrErrorShowsTheKeyOrTheToken() {
        let echoing =
            #"{"object":"error","type":"x","details":[{"code":"c","message":"bad tok_SECRETcard key_SECRETprivate","param":"p"}]}"#
        for status in [400, 401, 402, 404, 422, 500] {
            let outcome = Self.charge(status: status, body: echoing)
            #expect(!"\(outcome)".contains("SECRET"), "status \(status): \(outcome)")
            let error = ConektaError(
                kind: .http, operation: "orders.create", status: status, message: "tok_SECRETcard",
                debugMessage: "key_SECRETprivate")
            #expect(!error.description.contains("SECRET"))
            #expect(!error.debugDescription.contains("SECRET"))
            #expect(!"\(error.gatewayFailure)".contains("SECRET"))
        }
        #expect(!"\(Self.key)".contains("SECRET"))
    }

    // MARK: order, findOrder, refund, cancel

    @Test func orderByIDDecodesTheOrder() throws {
        let transport = FakeTransport(status: 200, body: ConektaFixtures.paidCardOrder)
        let order = try Self.client(transport).order(id: "ord_2znsF4cv7L8sWnRya", using: Self.key)
        #expect(transport.requests.first?.method == .get)
        #expect(transport.requests.first?.url == "https://conekta.test/orders/ord_2znsF4cv7L8sWnRya")
        #expect(
            order
                == GatewayOrder(
                    id: "ord_2znsF4cv7L8sWnRya", paymentStatus: "paid", amount: Money(cents: 10_000, currency: "MXN"),
                    amountRefundedCents: 0, attemptID: nil, createdAt: 1_774_901_374, cardBrand: "visa",
                    cardLast4: "4242"))
    }

    @Test func unknownOrderIsNil() throws {
        let transport = FakeTransport(status: 404, body: ConektaFixtures.orderNotFound)
        #expect(try Self.client(transport).order(id: "ord_2tUhuyzqLi6UJE9D12", using: Self.key) == nil)
    }

    @Test func notFoundWithoutConektasEnvelopeIsAConfigurationError() {
        let transport = FakeTransport(status: 404, body: "<html>Not Found</html>")
        #expect(throws: GatewayFailure.self) { try Self.client(transport).order(id: "ord_x", using: Self.key) }
        do {
            _ = try Self.client(FakeTransport(status: 404, body: "")).order(id: "ord_x", using: Self.key)
            Issue.record("expected a failure")
        } catch {
            guard case .configurationError = error else {
                Issue.record("expected a configuration error, got \(error)")
                return
            }
        }
    }

    @Test func getIsRetriedOnceAfterATransportFailure() throws {
        let transport = FakeTransport([
            .failure(TransportError(kind: .connectionLost, requestSent: true)),
            .success(.conekta(200, ConektaFixtures.paidCardOrder)),
        ])
        let order = try Self.client(transport).order(id: "ord_2znsF4cv7L8sWnRya", using: Self.key)
        #expect(order?.isPaid == true)
        #expect(transport.requests.count == 2)
    }

    @Test func getIsNotRetriedTwiceNorOnAnErrorStatus() {
        let lost = TransportError(kind: .connectionLost, requestSent: true)
        let twice = FakeTransport([.failure(lost), .failure(lost), .success(.conekta(200, ConektaFixtures.paidCardOrder))])
        #expect(throws: GatewayFailure.self) { try Self.client(twice).order(id: "ord_x", using: Self.key) }
        #expect(twice.requests.count == 2)

        let serverError = FakeTransport([.success(.conekta(500, "")), .success(.conekta(200, ConektaFixtures.paidCardOrder))])
        do {
            _ = try Self.client(serverError).order(id: "ord_x", using: Self.key)
            Issue.record("expected a failure")
        } catch {
            guard case .unavailable = error else {
                Issue.record("expected unavailable, got \(error)")
                return
            }
        }
        #expect(serverError.requests.count == 1)
    }

    @Test func orderIDsAreEncodedIntoThePath() throws {
        let transport = FakeTransport(status: 404, body: ConektaFixtures.orderNotFound)
        _ = try Self.client(transport).order(id: "ord_a/../b?c", using: Self.key)
        #expect(transport.requests.first?.url == "https://conekta.test/orders/ord_a%2F..%2Fb%3Fc")
        #expect(throws: GatewayFailure.self) { try Self.client(transport).order(id: "", using: Self.key) }
        #expect(transport.requests.count == 1)
    }

    static func list(_ orders: [String], hasMore: Bool, next: String? = nil) -> String {
        let url = next.map { #", "next_page_url": "https://api-core.stg.conekta.io/orders?limit=2&next=\#($0)""# } ?? ""
        return
            #"{"object": "list", "has_more": \#(hasMore), "total": 9, "data": [\#(orders.joined(separator: ","))]\#(url)}"#
    }

    static func paidOrder(id: String, attemptID: String) -> String {
        ConektaFixtures.paidCardOrder
            .replacingOccurrences(of: "ord_2znsF4cv7L8sWnRya", with: id)
            .replacingOccurrences(of: "\"test\": \"false\"", with: "\"attempt_id\": \"\(attemptID)\"")
    }

    @Test func findOrderSearchesFirst() throws {
        let transport = FakeTransport([
            .success(.conekta(200, Self.list([Self.paidOrder(id: "ord_A", attemptID: "att-1")], hasMore: false)))
        ])
        let order = try Self.client(transport).findOrder(
            attemptID: "att-1", createdAfter: 1_700_000_000, using: Self.key)
        #expect(order?.id == "ord_A")
        #expect(order?.attemptID == "att-1")
        #expect(
            transport.requests.map(\.url) == [
                "https://conekta.test/orders?created_at.gte=1700000000&limit=250&search=att-1"
            ])
    }

    @Test func findOrderPagesThroughTheWindowWhenSearchFindsNothing() throws {
        let transport = FakeTransport([
            .success(.conekta(200, Self.list([Self.paidOrder(id: "ord_S", attemptID: "att-1x")], hasMore: false))),
            .success(
                .conekta(
                    200,
                    Self.list(
                        [
                            Self.paidOrder(id: "ord_B", attemptID: "att-2"),
                            Self.paidOrder(id: "ord_C", attemptID: "att-3"),
                        ], hasMore: true, next: "ord_C"))),
            .success(
                .conekta(
                    200,
                    Self.list(
                        [ConektaFixtures.threeDSPendingOrder, Self.paidOrder(id: "ord_A", attemptID: "att-1")],
                        hasMore: false))),
        ])
        let order = try Self.client(transport).findOrder(attemptID: "att-1", createdAfter: 5, using: Self.key)
        #expect(order?.id == "ord_A")
        #expect(
            transport.requests.map(\.url) == [
                "https://conekta.test/orders?created_at.gte=5&limit=250&search=att-1",
                "https://conekta.test/orders?created_at.gte=5&limit=250",
                "https://conekta.test/orders?created_at.gte=5&limit=250&next=ord_C",
            ])
    }

    @Test func findOrderReturnsNilWhenNoOrderHasTheAttempt() throws {
        let empty = Result<HTTPResponse, TransportError>.success(.conekta(200, Self.list([], hasMore: false)))
        let transport = FakeTransport([empty, empty])
        #expect(try Self.client(transport).findOrder(attemptID: "att-1", createdAfter: 5, using: Self.key) == nil)
        #expect(transport.requests.count == 2)
    }

    @Test func findOrderGivesUpAfterTheLastPageItMayRead() {
        let page = Result<HTTPResponse, TransportError>.success(
            .conekta(200, Self.list([Self.paidOrder(id: "ord_B", attemptID: "att-2")], hasMore: true)))
        let transport = FakeTransport(Array(repeating: page, count: 10))
        let client = ConektaClient(
            transport: transport, configuration: .init(baseURL: "https://conekta.test", maxListPages: 3))
        do {
            _ = try client.findOrder(attemptID: "att-1", createdAfter: 5, using: Self.key)
            Issue.record("expected a failure")
        } catch {
            guard case .absenceUnproven(let reason) = error else {
                Issue.record("expected absenceUnproven, got \(error)")
                return
            }
            #expect(reason.contains("listing_too_long"))
        }
        // A search that lists too much gives way to the next step; the window's read is the last.
        #expect(transport.requests.count == 6)
    }

    @Test func anOrderWithoutAChargeIsFoundByItsCustomersEmail() throws {
        // A 3-D Secure order awaiting its customer has no charge, so no reference to search by.
        let pending = ConektaFixtures.threeDSPendingOrder.replacingOccurrences(
            of: "\"magento_version\"", with: "\"attempt_id\": \"att-3ds\", \"magento_version\"")
        let transport = FakeTransport([
            .success(.conekta(200, Self.list([], hasMore: false))),
            .success(.conekta(200, Self.list([Self.paidOrder(id: "ord_B", attemptID: "att-2"), pending], hasMore: false))),
        ])
        let order = try Self.client(transport).findOrder(
            attemptID: "att-3ds", customerEmail: "cliente@example.com", createdAfter: 5, createdBefore: 9, using: Self.key)
        #expect(order?.attemptID == "att-3ds" && order?.status == .pendingPayment)
        #expect(
            transport.requests.map(\.url) == [
                "https://conekta.test/orders?created_at.gte=5&limit=250&created_at.lte=9&search=att-3ds",
                "https://conekta.test/orders?created_at.gte=5&limit=250&created_at.lte=9&search=cliente%40example.com",
            ])
    }

    @Test func aSearchConektaRefusesGoesOnToTheNextStepRatherThanFailingForever() throws {
        let refused = Result<HTTPResponse, TransportError>.success(.conekta(422, ConektaFixtures.nonexistentToken))
        let empty = Result<HTTPResponse, TransportError>.success(.conekta(200, Self.list([], hasMore: false)))
        let transport = FakeTransport([refused, refused, empty])
        #expect(
            try Self.client(transport).findOrder(attemptID: "att-1", customerEmail: "a@b.mx", createdAfter: 5, using: Self.key) == nil)
        #expect(transport.requests.count == 3)
        // A failure that may pass (a 5xx) is still one: the look-up is tried again later.
        let down = FakeTransport([.success(.conekta(503, ConektaFixtures.internalError))])
        #expect(throws: GatewayFailure.self) {
            try Self.client(down).findOrder(attemptID: "att-1", customerEmail: "a@b.mx", createdAfter: 5, using: Self.key)
        }
    }

    @Test func onceAnEmailSearchHasListedThatEmailsOrdersAnEmptyOneShowsThereIsNone() throws {
        let evidence = OrderSearchEvidence()
        let email = "Dominic.Franecki@gmail.com"  // the fixture order's customer
        let empty = Result<HTTPResponse, TransportError>.success(.conekta(200, Self.list([], hasMore: false)))
        let customersOtherOrder = Result<HTTPResponse, TransportError>.success(
            .conekta(200, Self.list([Self.paidOrder(id: "ord_A", attemptID: "att-1")], hasMore: false)))
        let crowded = Result<HTTPResponse, TransportError>.success(
            .conekta(200, Self.list([Self.paidOrder(id: "ord_B", attemptID: "att-2")], hasMore: true)))
        let client = { (transport: FakeTransport) in
            ConektaClient(
                transport: transport, configuration: .init(baseURL: "https://conekta.test", maxListPages: 3),
                searchEvidence: evidence)
        }
        func find(_ transport: FakeTransport, key: GatewayKey = Self.key) throws(GatewayFailure) -> GatewayOrder? {
            try client(transport).findOrder(attemptID: "att-9", customerEmail: email, createdAfter: 5, createdBefore: 9, using: key)
        }
        // Nothing proves yet that search finds emails: the window is read, here more than may be.
        let before = FakeTransport([empty, empty] + Array(repeating: crowded, count: 3))
        do {
            _ = try find(before)
            Issue.record("expected absenceUnproven")
        } catch {
            if case .absenceUnproven = error {} else { Issue.record("expected absenceUnproven, got \(error)") }
        }
        #expect(before.requests.count == 5)
        // An email search that lists another order of the customer proves it: none of this attempt.
        let proof = FakeTransport([empty, customersOtherOrder])
        #expect(try find(proof) == nil)
        #expect(proof.requests.count == 2)
        // From now on an empty email search is enough on this account, not on another.
        let after = FakeTransport([empty, empty])
        #expect(try find(after) == nil)
        #expect(after.requests.count == 2)
        let other = FakeTransport([empty, empty, empty])
        #expect(try find(other, key: GatewayKey(privateKey: "key_other")) == nil)
        #expect(other.requests.count == 3)
    }

    @Test func refundSendsTheAmountAndReason() throws {
        let transport = FakeTransport(status: 200, body: ConektaFixtures.partiallyRefundedOrder)
        let order = try Self.client(transport).refund(
            orderID: "ord_2tV52JvSom2w3E8bX", amountCents: 15_000, using: Self.key)
        let request = try #require(transport.requests.first)
        #expect(request.method == .post)
        #expect(request.url == "https://conekta.test/orders/ord_2tV52JvSom2w3E8bX/refunds")
        let body = try Self.bodyJSON(request)
        #expect(body["amount"] as? Int == 15_000)
        #expect(body["reason"] as? String == "cannot_be_fulfilled")
        #expect(order.status == .partiallyRefunded)
        #expect(order.amountRefundedCents == 15_000)
    }

    @Test func refundRefusalCarriesConektasCode() {
        let body =
            #"{"object":"error","type":"precondition_required_error","details":[{"code":"conekta.errors.precondition_required.combo.order.is_not_returnable","message":"La orden no puede ser reembolsada."}]}"#
        let transport = FakeTransport(status: 428, body: body)
        do {
            _ = try Self.client(transport).refund(orderID: "ord_x", amountCents: 100, using: Self.key)
            Issue.record("expected a failure")
        } catch {
            #expect(
                error
                    == .rejected(
                        code: "conekta.errors.precondition_required.combo.order.is_not_returnable",
                        message: "La orden no puede ser reembolsada."))
        }
    }

    @Test func refundAndCancelAreNeverRetried() {
        let lost = Result<HTTPResponse, TransportError>.failure(
            TransportError(kind: .connectionLost, requestSent: true))
        let refund = FakeTransport([lost, .success(.conekta(200, ConektaFixtures.partiallyRefundedOrder))])
        #expect(throws: GatewayFailure.self) {
            try Self.client(refund).refund(orderID: "ord_x", amountCents: 1, using: Self.key)
        }
        #expect(refund.requests.count == 1)
        let cancel = FakeTransport([lost, .success(.conekta(200, ConektaFixtures.canceledOrder))])
        #expect(throws: GatewayFailure.self) { try Self.client(cancel).cancel(orderID: "ord_x", using: Self.key) }
        #expect(cancel.requests.count == 1)
    }

    @Test func cancelPostsToTheCancelPath() throws {
        let transport = FakeTransport(status: 200, body: ConektaFixtures.canceledOrder)
        let order = try Self.client(transport).cancel(orderID: "ord_2tqaGQYZyvBsMKEgs", using: Self.key)
        #expect(transport.requests.first?.method == .post)
        #expect(transport.requests.first?.url == "https://conekta.test/orders/ord_2tqaGQYZyvBsMKEgs/cancel")
        #expect(order.status == .canceled)
        #expect(order.id == "ord_2tqaGQYZyvBsMKEgs")
    }

    @Test func cancelOfAMissingOrderIsNotFound() {
        let transport = FakeTransport(status: 404, body: ConektaFixtures.orderNotFound)
        #expect(throws: GatewayFailure.notFound) {
            try Self.client(transport).cancel(orderID: "ord_x", using: Self.key)
        }
    }
}
