import Domain
import Foundation
import Gateway
import HTTPTransport
import TestSupport
import Testing

/// The real client over real HTTPS (libcurl, the sandbox's self-signed certificate as CA) against
/// `hotspot-sandbox conekta`, one sandbox per test.
@Suite(.timeLimit(.minutes(5))) struct ConektaContractTests {
    static let key = GatewayKey(privateKey: "key_sandbox_private")
    private static let curlReady: Void = CurlTransport.globalInit()

    /// A sandbox, and a client of it on a fresh transport.
    struct Harness {
        let sandbox: SandboxProcess
        let transport = CurlTransport()
        let client: ConektaClient

        init(
            arguments: [String] = [], totalTimeoutMilliseconds: Int = 10_000, listPageSize: Int = 250
        ) throws {
            _ = ConektaContractTests.curlReady
            sandbox = try SandboxProcess(.conekta, arguments: arguments)
            client = ConektaClient(
                transport: transport,
                configuration: .init(
                    baseURL: sandbox.url, caFile: sandbox.caFile, totalTimeoutMilliseconds: totalTimeoutMilliseconds,
                    listPageSize: listPageSize))
        }

        func charge(_ token: String, attemptID: String = UUID().uuidString, cents: Int64 = 2_000) -> ChargeOutcome {
            client.charge(
                ConektaContractTests.request(token: token, attemptID: attemptID, cents: cents),
                using: ConektaContractTests.key)
        }

        /// The sandbox's orders (GET /_sandbox/state).
        func orders() throws -> [[String: Any]] { try sandbox.state()["orders"] as? [[String: Any]] ?? [] }

        func order(attemptID: String) throws -> [String: Any]? {
            try orders().first { ($0["metadata"] as? [String: Any])?["attempt_id"] as? String == attemptID }
        }

        /// How many calls the sandbox received for `operation` (`orders.create`, …).
        func calls(_ operation: String) throws -> Int {
            let calls = try sandbox.control(.get, "calls") as? [[String: Any]] ?? []
            return calls.filter { $0["op"] as? String == operation }.count
        }
    }

    static func request(token: String, attemptID: String, cents: Int64 = 2_000) -> ChargeRequest {
        ChargeRequest(
            attemptID: attemptID, amount: Money(cents: cents, currency: "MXN"), itemName: "Hotspot 1 dia",
            customerName: "Ana Pérez", customerEmail: "ana@example.mx", customerPhone: "5512345678", cardToken: token,
            metadata: ["router": "r1", "plan": "day"])
    }

    static func paidOrderID(_ outcome: ChargeOutcome) -> String? {
        guard case .paid(let order) = outcome else { return nil }
        return order.orderID
    }

    // MARK: charge outcomes

    @Test func documentedTestTokenPays() throws {
        let harness = try Harness()
        let outcome = harness.charge("tok_test_visa_4242", attemptID: "att-paid")
        guard case .paid(let paid) = outcome else {
            Issue.record("expected paid, got \(outcome)")
            return
        }
        #expect(paid.orderID.hasPrefix("ord_") && paid.orderID.count == 21)
        #expect(paid.amount == Money(cents: 2_000, currency: "MXN"))
        #expect(paid.cardBrand == "visa" && paid.cardLast4 == "4242")
        let stored = try #require(try harness.order(attemptID: "att-paid"))
        #expect(stored["id"] as? String == paid.orderID)
        #expect(stored["payment_status"] as? String == "paid")
        #expect(stored["reference_id"] as? String == "att-paid")
        #expect(stored["metadata"] as? [String: String] == ["attempt_id": "att-paid", "router": "r1", "plan": "day"])
    }

    @Test(arguments: [
        ("tok_test_mastercard_4444", "mastercard", "4444"), ("tok_test_amex_0005", "american_express", "0005"),
        ("tok_sandbox_paid_\(UUID().uuidString)", "visa", "4242"),
    ])
    func otherPayingTokensPay(token: String, brand: String, last4: String) throws {
        let harness = try Harness()
        guard case .paid(let paid) = harness.charge(token) else {
            Issue.record("expected paid")
            return
        }
        #expect(paid.cardBrand == brand && paid.cardLast4 == last4)
    }

    @Test func clientBodyValidatesAgainstTheSpecSchema() throws {
        let harness = try Harness()
        _ = harness.charge("tok_sandbox_paid_schema")
        let requests = try #require(try harness.sandbox.state()["create_requests"] as? [[String: Any]])
        #expect(requests.count == 1)
        #expect((requests.first?["violations"] as? [Any])?.isEmpty == true)
        #expect(requests.first?["outcome"] as? Int == 200)
    }

    @Test func sandboxRejectsABodyTheSchemaForbids() throws {
        // The same validator, shown able to fail: no currency, a two-letter item name, nested metadata.
        let harness = try Harness()
        let body =
            #"{"customer_info":{"name":"A","email":"a@b.mx","phone":"1"},"line_items":[{"name":"ab","unit_price":100,"quantity":1}],"metadata":{"x":{"y":1}}}"#
        var request = HTTPRequest(
            method: .post, url: harness.sandbox.url + "/orders",
            headers: [
                Header("Authorization", "Bearer key_sandbox_private"),
                Header("Accept", "application/vnd.conekta-v2.2.0+json"), Header("Content-Type", "application/json"),
            ],
            body: Array(body.utf8), tls: harness.sandbox.caTrust)
        request.timeouts = Timeouts(connectMilliseconds: 2_000, totalMilliseconds: 10_000)
        let response = try harness.transport.send(request)
        #expect(response.status == 422)
        let error = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(error["type"] as? String == "parameter_validation_error")
        #expect((error["details"] as? [[String: Any]])?.first?["param"] as? String == "currency")
        let violations = try #require(try harness.sandbox.state()["schema_violations"] as? [[String: Any]])
        #expect(
            Set(violations.compactMap { $0["path"] as? String }) == ["currency", "line_items.0.name", "metadata.x"])
    }

    @Test func declinedCardIsDeclinedInSpanish() throws {
        let harness = try Harness()
        let outcome = harness.charge("tok_test_card_declined", attemptID: "att-declined")
        let stored = try #require(try harness.order(attemptID: "att-declined"))
        #expect(
            outcome
                == .declined(
                    code: "conekta.errors.processing.bank.declined",
                    message: "La tarjeta ingresada ha sido declinada. Por favor intenta con otro método de pago.",
                    orderID: stored["id"] as? String))
        #expect(stored["payment_status"] as? String == "declined")
    }

    @Test func insufficientFundsIsDeclined() throws {
        let harness = try Harness()
        guard case .declined(let code, let message, let orderID) = harness.charge("tok_test_insufficient_funds") else {
            Issue.record("expected declined")
            return
        }
        #expect(code == "conekta.errors.processing.bank.insufficient_funds")
        #expect(message == "Esta tarjeta no tiene suficientes fondos para completar la compra.")
        #expect(orderID?.hasPrefix("ord_") == true)
    }

    @Test func reusedTokenIsUnknown() throws {
        let harness = try Harness()
        #expect(Self.paidOrderID(harness.charge("tok_sandbox_paid_once")) != nil)
        #expect(harness.charge("tok_sandbox_paid_once") == .tokenAlreadyUsed)
        #expect(try harness.orders().count == 1)
    }

    @Test func unknownTokenIsAnInvalidRequest() throws {
        let harness = try Harness()
        #expect(
            harness.charge("tok_test_visa_4241")
                == .invalidRequest(param: "payment_method.token_id", message: "The token does not exist."))
        #expect(try harness.orders().isEmpty)
    }

    @Test(arguments: [("tok_sandbox_3ds_x", "pending_payment"), ("tok_sandbox_preauth_x", "pre_authorized")])
    func orderLeftUnpaidIsNotPaidAndCanBeCanceled(token: String, expectedStatus: String) throws {
        let harness = try Harness()
        guard case .notPaid(let status, let orderID) = harness.charge(token) else {
            Issue.record("expected not paid")
            return
        }
        #expect(status == GatewayOrder.Status(conekta: expectedStatus))
        let canceled = try harness.client.cancel(orderID: orderID, using: Self.key)
        #expect(canceled.status == .canceled)
        #expect(try harness.client.order(id: orderID, using: Self.key)?.status == .canceled)
    }

    @Test func emptyServerErrorIsUnknownAndChargedNothing() throws {
        let harness = try Harness()
        #expect(harness.charge("tok_sandbox_error500_x") == .unknown(reason: "http_500"))
        #expect(try harness.orders().isEmpty)
    }

    @Test func slowReplyTimesOutAsUnknownWithinTheTimeout() throws {
        let harness = try Harness(totalTimeoutMilliseconds: 1_000)
        let started = ContinuousClock.now
        let outcome = harness.charge("tok_sandbox_slow_5000_x")
        let elapsed = ContinuousClock.now - started
        #expect(outcome == .unknown(reason: "transport_timed_out"))
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(3), "took \(elapsed)")
    }

    @Test func configuredLatencyDelaysEveryReply() throws {
        let harness = try Harness(arguments: ["--latency-ms", "300"])
        try harness.sandbox.reset()  // the configured latency survives a reset
        let started = ContinuousClock.now
        #expect(Self.paidOrderID(harness.charge("tok_sandbox_paid_latency")) != nil)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    @Test func replyLostAfterPayingIsUnknownAndReconciledByAttemptID() throws {
        let harness = try Harness()
        let before = Int64(Date().timeIntervalSince1970) - 5
        // A first charge leaves a kept-alive connection, so the lost reply happens on a reused one.
        #expect(Self.paidOrderID(harness.charge("tok_sandbox_paid_first")) != nil)
        let outcome = harness.charge("tok_sandbox_drop_x", attemptID: "att-dropped")
        #expect(outcome == .unknown(reason: "transport_connection_lost"))
        #expect(try harness.calls("orders.create") == 2, "the POST must not be sent again")

        let found = try #require(
            try harness.client.findOrder(attemptID: "att-dropped", createdAfter: before, using: Self.key))
        #expect(found.isPaid)
        #expect(found.attemptID == "att-dropped")
        #expect(found.amount == Money(cents: 2_000, currency: "MXN"))
        #expect(try harness.order(attemptID: "att-dropped")?["id"] as? String == found.id)
    }

    @Test func replyLostByInjectedFaultIsUnknownToo() throws {
        let harness = try Harness()
        try harness.sandbox.arm(["op": "orders.create", "kind": "drop_after", "nth": 1])
        #expect(
            harness.charge("tok_test_visa_1881", attemptID: "att-fault")
                == .unknown(reason: "transport_connection_lost"))
        #expect(try harness.order(attemptID: "att-fault")?["payment_status"] as? String == "paid")
    }

    @Test func findOrderPagesWhenSearchDoesNotMatch() throws {
        let harness = try Harness(arguments: ["--search-mode", "none"], listPageSize: 2)
        let before = Int64(Date().timeIntervalSince1970) - 5
        for index in 0..<5 { _ = harness.charge("tok_sandbox_paid_\(index)", attemptID: "att-\(index)") }
        // Listed newest first, so the oldest order is on the last of three pages.
        let found = try harness.client.findOrder(attemptID: "att-0", createdAfter: before, using: Self.key)
        #expect(found?.attemptID == "att-0")
        #expect(try harness.calls("orders.list") == 4)
        #expect(try harness.client.findOrder(attemptID: "att-none", createdAfter: before, using: Self.key) == nil)
        #expect(try harness.client.findOrder(attemptID: "att-0", createdAfter: before + 3_600, using: Self.key) == nil)
    }

    /// Five times the soak's rate (~90 orders a second on one account) over the widest window
    /// an attempt's order is looked for in (a minute of clock skew each side of a 25 s charge):
    /// 65,000 orders of other customers.
    @Test func findOrderStaysCorrectOnAnAccountFiveTimesAsBusyAsTheSoak() throws {
        let harness = try Harness()
        let now = Int64(Date().timeIntervalSince1970)
        _ = try harness.sandbox.control(.post, "orders/bulk", json: ["count": 65_000, "created_at": now])
        let attemptID = UUID().uuidString.lowercased()
        #expect(Self.paidOrderID(harness.charge("tok_sandbox_paid_\(attemptID)", attemptID: attemptID)) != nil)
        let (after, before) = (now - 60, now + 25 + 60)
        func find(_ client: ConektaClient, _ attempt: String, _ email: String) throws(GatewayFailure) -> GatewayOrder? {
            try client.findOrder(attemptID: attempt, customerEmail: email, createdAfter: after, createdBefore: before, using: Self.key)
        }
        var listed = try harness.calls("orders.list")
        func listings() throws -> Int {
            let now = try harness.calls("orders.list")
            defer { listed = now }
            return now - listed
        }
        // By reference: this attempt's order among 65,000, in one call.
        #expect(try find(harness.client, attemptID, "ana@example.mx")?.attemptID == attemptID)
        #expect(try listings() == 1)
        // A lost charge of the same customer that made no order: the email search lists her other
        // order (proof that search finds emails here) and none of this attempt.
        #expect(try find(harness.client, UUID().uuidString.lowercased(), "ana@example.mx") == nil)
        #expect(try listings() == 2)
        // A customer with no order at all: two calls, now that email search is proven.
        #expect(try find(harness.client, UUID().uuidString.lowercased(), "nadie@example.mx") == nil)
        #expect(try listings() == 2)
        // A process that has seen no proof yet cannot show absence by reading 65,000 orders: it says
        // so after its page budget (the saga then ends the attempt by rule, CONTRACT §6), and so
        // does an email the whole window shares.
        for email in ["nadie@example.mx", "carga@example.com"] {
            var budget = harness.client.configuration
            budget.maxListPages = 10
            let unproven = ConektaClient(transport: harness.transport, configuration: budget)
            do {
                _ = try find(unproven, UUID().uuidString.lowercased(), email)
                Issue.record("expected absenceUnproven")
            } catch {
                if case .absenceUnproven = error {} else { Issue.record("expected absenceUnproven, got \(error)") }
            }
            // Unknown email: reference and email searches, then the window. Shared email: its
            // search lists too much and gives way to the window, which does too.
            #expect(try listings() == (email == "nadie@example.mx" ? 2 + budget.maxListPages : 1 + 2 * budget.maxListPages))
        }
    }

    @Test func aThreeDSecureOrderWithoutAChargeIsFoundByItsCustomersEmail() throws {
        let harness = try Harness()
        let before = Int64(Date().timeIntervalSince1970) - 5
        guard case .notPaid(.pendingPayment, let orderID) = harness.charge("tok_sandbox_3ds_x", attemptID: "att-3ds") else {
            Issue.record("expected a pending 3-D Secure order")
            return
        }
        let found = try harness.client.findOrder(
            attemptID: "att-3ds", customerEmail: "ana@example.mx", createdAfter: before, using: Self.key)
        #expect(found?.id == orderID && found?.status == .pendingPayment)
        #expect(try harness.calls("orders.list") == 2)
    }

    @Test func wrongKeyIsAConfigurationError() throws {
        let harness = try Harness()
        let outcome = harness.client.charge(
            Self.request(token: "tok_test_visa_4242", attemptID: "att-key"), using: GatewayKey(privateKey: "key_wrong"))
        guard case .configurationError(let reason) = outcome else {
            Issue.record("expected a configuration error, got \(outcome)")
            return
        }
        #expect(reason.contains("authentication_error"))
        #expect(!reason.contains("key_wrong"))
        #expect(try harness.orders().isEmpty)
    }

    @Test func nothingSentIsAConfigurationError() throws {
        _ = Self.curlReady
        // Port 1 on loopback: nothing listens there, so the connection is refused before sending.
        let client = ConektaClient(
            transport: CurlTransport(),
            configuration: .init(baseURL: "https://127.0.0.1:1", connectTimeoutMilliseconds: 2_000))
        let outcome = client.charge(Self.request(token: "tok_test_visa_4242", attemptID: "att"), using: Self.key)
        #expect(outcome == .configurationError(reason: "not_sent: transport_could_not_connect"))
    }

    // MARK: order, refund, cancel

    @Test func refundMakesThePaidOrderRefunded() throws {
        let harness = try Harness()
        let orderID = try #require(Self.paidOrderID(harness.charge("tok_test_mastercard_5100", cents: 5_000)))
        let partial = try harness.client.refund(orderID: orderID, amountCents: 1_000, using: Self.key)
        #expect(partial.status == .partiallyRefunded && partial.amountRefundedCents == 1_000)
        let full = try harness.client.refund(orderID: orderID, amountCents: 4_000, using: Self.key)
        #expect(full.status == .refunded && full.amountRefundedCents == 5_000)
        let stored = try #require(try harness.orders().first)
        #expect(stored["refunds"] as? [Int] == [1_000, 4_000])
        #expect(
            throws: GatewayFailure.rejected(
                code: "conekta.errors.precondition_required.combo.order.is_not_returnable",
                message: "La orden no puede ser reembolsada.")
        ) {
            try harness.client.refund(orderID: orderID, amountCents: 1, using: Self.key)
        }
    }

    @Test func paidOrderCannotBeCanceled() throws {
        let harness = try Harness()
        let orderID = try #require(Self.paidOrderID(harness.charge("tok_test_amex_8431")))
        #expect(
            throws: GatewayFailure.rejected(
                code: "conekta.errors.precondition_required.combo.order.cannot_be_canceled",
                message: "La orden no puede ser cancelada.")
        ) {
            try harness.client.cancel(orderID: orderID, using: Self.key)
        }
    }

    @Test func orderByIDFindsTheOrderOrNil() throws {
        let harness = try Harness()
        let orderID = try #require(Self.paidOrderID(harness.charge("tok_sandbox_paid_get", attemptID: "att-get")))
        let order = try harness.client.order(id: orderID, using: Self.key)
        #expect(order?.attemptID == "att-get" && order?.isPaid == true && order?.cardLast4 == "4242")
        #expect(try harness.client.order(id: "ord_2tUhuyzqLi6UJE9D1", using: Self.key) == nil)
        #expect(throws: GatewayFailure.notFound) {
            try harness.client.cancel(orderID: "ord_2tUhuyzqLi6UJE9D1", using: Self.key)
        }
    }
}
