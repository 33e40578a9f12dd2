import Domain
import Foundation
import JSON
import Testing

@testable import Gateway

/// Reading Conekta's replies into the wire structs: the fields the client uses, the leniency of
/// each, and what is refused.
@Suite struct ConektaWireTests {
    static func order(_ text: String) -> OrderBody? { OrderBody.decode(from: Array(text.utf8)) }
    static func error(_ text: String) -> ErrorBody? { ErrorBody.decode(from: Array(text.utf8)) }
    static func page(_ text: String) -> ListBody<OrderBody>? { ListBody<OrderBody>.decode(from: Array(text.utf8)) }

    // MARK: orders

    @Test func fullOrderReply() throws {
        let order = try #require(Self.order(ConektaFixtures.paidCardOrder))
        #expect(order.id == "ord_2znsF4cv7L8sWnRya")
        #expect(order.paymentStatus == "paid")
        #expect(order.amount == 10_000)
        #expect(order.amountRefunded == 0)
        #expect(order.currency == "MXN")
        #expect(order.createdAt == 1_774_901_374)
        #expect(order.metadata == ["test": "false"])
        #expect(order.charges.count == 1)
        let charge = try #require(order.charges.first)
        #expect(charge.status == "paid")
        #expect(charge.amount == 10_000)
        #expect(charge.paymentMethod?.brand == "visa")
        #expect(charge.paymentMethod?.last4 == "4242")
        #expect(
            order.gatewayOrder
                == GatewayOrder(
                    id: "ord_2znsF4cv7L8sWnRya", paymentStatus: "paid", amount: Money(cents: 10_000, currency: "MXN"),
                    amountRefundedCents: 0, attemptID: nil, createdAt: 1_774_901_374, cardBrand: "visa",
                    cardLast4: "4242"))
    }

    @Test func pendingOrderWithNullChargesAndMixedMetadata() throws {
        let order = try #require(Self.order(ConektaFixtures.threeDSPendingOrder))
        #expect(order.paymentStatus == "pending_payment")
        #expect(order.charges.isEmpty)
        #expect(order.card == nil)
        #expect(
            order.metadata == [
                "magento_version": "2.4.6-p2", "plugin": "Magento", "plugin_conekta_version": "5.1.0", "quote_id": "3",
                "store": "1", "is_customer_guest": "true",
            ])
    }

    @Test(arguments: [
        #"{"id": "ord_1"}"#,
        #"{"id": "ord_1", "payment_status": null, "amount": null, "amount_refunded": null, "currency": null, "created_at": null, "metadata": null, "charges": null}"#,
        #"{"id": "ord_1", "payment_status": 1, "amount": "1500", "amount_refunded": true, "currency": ["MXN"], "created_at": "1700000000", "metadata": "x", "charges": []}"#,
        #"{"id": "ord_1", "charges": {"data": {"status": "paid"}}, "metadata": [1]}"#,
    ])
    func missingNullOrMistypedFieldsReadAsAbsent(text: String) throws {
        let order = try #require(Self.order(text))
        #expect(order.id == "ord_1")
        #expect(order.paymentStatus == nil && order.currency == nil)
        #expect(order.amount == nil && order.amountRefunded == nil && order.createdAt == nil)
        #expect(order.metadata.isEmpty)
        #expect(order.charges.isEmpty)
        #expect(
            order.gatewayOrder
                == GatewayOrder(
                    id: "ord_1", paymentStatus: "", amount: Money(cents: 0, currency: ""), amountRefundedCents: 0,
                    attemptID: nil, createdAt: 0, cardBrand: nil, cardLast4: nil))
    }

    @Test func orderWithoutAnIDStillReads() throws {
        let order = try #require(Self.order(#"{"id": 12, "payment_status": "paid"}"#))
        #expect(order.id == nil)
        #expect(order.paymentStatus == "paid")
        #expect(order.gatewayOrder == nil)
    }

    @Test func chargesThatAreNotObjectsAreLeftOut() throws {
        let text = #"""
            {"id": "ord_1", "charges": {"object": "list", "data": [null, 1, "x", [], {"status": "paid", "amount": "5",
             "payment_method": "card"}, {"status": 7, "payment_method": {"brand": "visa", "last4": 4242}}]}}
            """#
        let order = try #require(Self.order(text))
        #expect(order.charges.count == 2)
        #expect(order.charges.first?.status == "paid")
        #expect(order.charges.first?.amount == nil)
        #expect(order.charges.first?.paymentMethod == nil)
        #expect(order.card == nil)
        #expect(order.charges.last?.status == nil)
        #expect(order.charges.last?.paymentMethod?.brand == "visa")
        #expect(order.charges.last?.paymentMethod?.last4 == nil)
    }

    @Test func aRepeatedKeyCountsOnlyTheFirstTime() throws {
        let order = try #require(
            Self.order(
                #"{"id": "a", "id": "b", "amount": "x", "amount": 5, "metadata": {"k": null, "k": "v", "j": 1, "j": 2}}"#))
        #expect(order.id == "a")
        #expect(order.amount == nil)
        #expect(order.metadata == ["j": "1"])
    }

    /// JSONDecoder trapped on this amount (Decimal's exponent overflows; swiftlang/swift-foundation#812).
    /// JSONParser refuses numbers over 64 characters, so the whole reply is refused instead.
    @Test func anAmountJSONDecoderTrappedOnRefusesTheReply() {
        let amount = "0." + String(repeating: "0", count: 130) + "9007199254740993e146"
        let body = #"{"id": "ord_1", "payment_status": "paid", "amount": \#(amount), "currency": "MXN"}"#
        #expect(Self.order(body) == nil)
        #expect(ConektaClientTests.charge(status: 200, body: body) == .unknown(reason: "malformed_reply"))
    }

    @Test func metadataKeepsScalarsAsText() throws {
        let text = #"""
            {"id": "ord_1", "metadata": {"s": "x", "i": 15, "neg": -3, "f": 1.5, "e": 1e2, "big": 1e20, "tiny": 1e-400,
             "huge": 1e400, "b": false, "n": null, "a": [1], "o": {}}}
            """#
        let order = try #require(Self.order(text))
        #expect(
            order.metadata == [
                "s": "x", "i": "15", "neg": "-3", "f": "1.5", "e": "100", "big": "1e+20", "tiny": "0", "b": "false",
            ])
    }

    // MARK: errors

    @Test func declinedOrderEnvelopeCarriesTheOrder() throws {
        let error = try #require(Self.error(ConektaFixtures.declinedSuspicious))
        #expect(error.type == "processing_error")
        #expect(error.logID == "640751978bb237000129ebc5")
        #expect(error.code == "conekta.errors.processing.charge.card_payment.suspicious_behaviour")
        #expect(error.message == "Tu método de pago ha sido rechazado, intenta con otro método.")
        #expect(error.debugMessage == "This charge has been declined due to the users suspicious behavior.")
        #expect(error.param == nil)
        #expect(error.data?.id == "ord_2tUyQmZyykejbbw8m")
        #expect(error.data?.charges.first?.status == "declined")
        #expect(error.data?.card?.last4 == "4607")
    }

    @Test func legacyErrorShape() throws {
        let error = try #require(Self.error(ConektaFixtures.legacyDecline))
        #expect(error.details.isEmpty)
        #expect(error.type == "card_error")
        #expect(error.code == "card_declined")
        #expect(error.param == nil)
        #expect(error.message == "Tu tarjeta fue declinada.")
        #expect(error.debugMessage == "The card was declined.")
        #expect(error.data == nil)
    }

    @Test func detailsAreReadLenientlyAndFallBackToTheLegacyFields() throws {
        let text = #"""
            {"type": "processing_error", "code": "legacy_code", "message": "", "message_to_purchaser": "Compra rechazada",
             "details": [null, "x", {"code": 5, "message": "", "param": "card"}], "data": "ord_1"}
            """#
        let error = try #require(Self.error(text))
        #expect(error.details.count == 1)
        #expect(error.code == "legacy_code")
        #expect(error.param == "card")
        #expect(error.message == "Compra rechazada")
        #expect(error.debugMessage == "")
        #expect(error.data == nil)
    }

    // MARK: lists

    @Test func listPage() throws {
        let text = #"""
            {"object": "list", "has_more": true, "total": 9, "next_page_url": "https://api.conekta.io/orders?next=ord_B",
             "data": [{"id": "ord_A", "metadata": {"attempt_id": "att-1"}}, null, 5, {"payment_status": "paid"}]}
            """#
        let page = try #require(Self.page(text))
        #expect(page.data.map(\.id) == ["ord_A", nil])
        #expect(page.data.first?.metadata == ["attempt_id": "att-1"])
        #expect(page.hasMore)
        #expect(page.nextPageURL == "https://api.conekta.io/orders?next=ord_B")

        let odd = try #require(Self.page(#"{"has_more": "true", "next_page_url": 1, "data": {}}"#))
        #expect(odd.data.isEmpty && !odd.hasMore && odd.nextPageURL == nil)
    }

    // MARK: what is refused

    /// Not JSON, not an object, or JSON with a fault JSONDecoder let through when it lay in a field
    /// it had not read (a trailing comma, a bad escape, a control character, invalid UTF-8).
    @Test(arguments: [
        "", " ", "<html>ok</html>", "null", "[]", "1500", "\"ord_1\"", "{", #"{"id": "ord_1"} x"#,
        #"{"id": "ord_1",}"#, #"{"id": "ord_1", "x": [1,]}"#, #"{"id": "ord_1", "x": 01}"#,
        #"{"id": "ord_1", "x": "\x"}"#, #"{"id": "ord_1", "x": "\ud800"}"#, "{\"id\": \"ord_1\", \"x\": \"\u{01}\"}",
        #"{"id": 'ord_1'}"#, #"{"id": "ord_1", "x": NaN}"#,
    ])
    func garbageIsRefused(text: String) {
        #expect(Self.order(text) == nil)
        #expect(Self.error(text) == nil)
        #expect(Self.page(text) == nil)
    }

    /// A reply is read as ReplyJSON reads it (ReplyJSONTests pins its encodings, depth and number
    /// readings): here in UTF-16 with a byte order mark, with numbers JSONDecoder read its own way.
    @Test func repliesAreReadThroughReplyJSON() throws {
        let bytes = [0xFF, 0xFE] + Array(try #require(ConektaFixtures.paidCardOrder.data(using: .utf16LittleEndian)))
        let order = try #require(OrderBody.decode(from: bytes))
        #expect(order.id == "ord_2znsF4cv7L8sWnRya")
        #expect(order.card?.brand == "visa")
        #expect(order.charges.first?.amount == 10_000)
        let numbers = try #require(
            Self.order(#"{"id": "ord_1", "amount": 15e2, "amount_refunded": 1.0000000000000001, "created_at": 1500.5}"#))
        #expect(numbers.amount == 1500)
        #expect(numbers.amountRefunded == 1)
        #expect(numbers.createdAt == nil)
    }

    @Test func aRefundRequestIsTheAmountAndTheReason() {
        #expect(
            String(decoding: RefundRequestBody(amount: 1500, reason: "cannot_be_fulfilled").json.serialized(), as: UTF8.self)
                == #"{"amount":1500,"reason":"cannot_be_fulfilled"}"#)
    }
}
