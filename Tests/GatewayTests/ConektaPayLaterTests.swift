import Domain
import Foundation
import Gateway
import HTTPTransport
import TestSupport
import Testing

/// Cash (OXXO) and SPEI orders (CONTRACT §12, docs/sources.md C12), over a `FakeTransport` serving
/// the spec's examples and the recorded mock's replies.
@Suite struct ConektaPayLaterTests {
    static let key = GatewayKey(privateKey: "key_SECRETprivate")

    static func request(_ method: PaymentMethod, cents: Int64 = 1560, currency: String = "MXN") -> ChargeRequest {
        ChargeRequest(
            attemptID: "att-1", amount: Money(cents: cents, currency: currency), itemName: "Hotspot 1 hora",
            customerName: "Ana Pérez", customerEmail: "ana@example.mx", customerPhone: "5512345678",
            payment: .payLater(method, expiresAt: 1_743_724_800))
    }

    static func client(_ transport: FakeTransport) -> ConektaClient {
        ConektaClient(transport: transport, configuration: .init(baseURL: "https://conekta.test/"))
    }

    static func charge(_ request: ChargeRequest, replying body: String) -> (ChargeOutcome, FakeTransport) {
        let transport = FakeTransport(status: 200, body: body)
        return (client(transport).charge(request, using: key), transport)
    }

    @Test func aCashOrderSendsItsExpiryAndNoToken() throws {
        let (_, transport) = Self.charge(Self.request(.oxxo), replying: ConektaFixtures.cashPendingOrder)
        let body = String(decoding: try #require(transport.requests.first?.body), as: UTF8.self)
        #expect(
            body.hasPrefix(
                #"{"charges":[{"payment_method":{"expires_at":1743724800,"type":"cash"},"reference_id":"att-1"}],"currency":"MXN","#))
        #expect(!body.contains("token"))
        #expect(transport.requests.first?.url == "https://conekta.test/orders")
    }

    @Test func aSPEIOrderSaysSpei() throws {
        let (_, transport) = Self.charge(Self.request(.spei), replying: ConektaFixtures.speiPendingOrder)
        let body = String(decoding: try #require(transport.requests.first?.body), as: UTF8.self)
        #expect(body.contains(#"{"payment_method":{"expires_at":1743724800,"type":"spei"},"reference_id":"att-1"}"#))
    }

    @Test func onlyPesosAreSentForCashOrSPEI() {
        let transport = FakeTransport([])
        let outcome = Self.client(transport).charge(Self.request(.oxxo, currency: "USD"), using: Self.key)
        #expect(outcome == .invalidRequest(param: "currency", message: "cash and SPEI charges are in MXN only"))
        #expect(transport.requests.isEmpty)
    }

    @Test func theSpecsCashExampleWaitsWithItsReferenceEvenAsAnUnquotedNumber() {
        let (outcome, _) = Self.charge(Self.request(.oxxo), replying: ConektaFixtures.cashPendingOrder)
        #expect(
            outcome
                == .awaitingPayment(
                    orderID: "ord_2xayxSvfWzQ2TLz7r",
                    charge: PayLaterCharge(
                        method: .oxxo,
                        instructions: PaymentInstructions(
                            reference: "10001140326893401915",
                            barcodeURL: "https://barcodes.conekta.com/cash/cashin/datalogic/10001140326893401915.png"),
                        expiresAt: 1_743_724_800)))
    }

    @Test func theMocksOxxoOrderIsCashThoughItsTypeSaysOxxo() {
        let (outcome, _) = Self.charge(Self.request(.oxxo, cents: 2000), replying: ConektaFixtures.oxxoPendingOrder)
        guard case .awaitingPayment(let id, let charge) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(id == "ord_2tTirxDJEFDe8NUAN" && charge.method == .oxxo && charge.expiresAt == 1_683_232_092)
        #expect(charge.instructions.reference == "93000262280678")
        #expect(charge.instructions.barcodeURL?.hasPrefix("https://pt-common-s3-stg.s3.amazonaws.com/") == true)
    }

    @Test func aSPEIOrderWaitsWithItsCLABEAndBank() {
        let (outcome, _) = Self.charge(Self.request(.spei), replying: ConektaFixtures.speiPendingOrder)
        #expect(
            outcome
                == .awaitingPayment(
                    orderID: "ord_2xayxSvfWzQ2TLz7s",
                    charge: PayLaterCharge(
                        method: .spei, instructions: PaymentInstructions(clabe: "646180111805034237", bank: "STP"),
                        expiresAt: 1_683_053_729)))
    }

    @Test func aPendingOrderNotAsAskedIsNotPaidSoItIsCancelled() {
        // Another amount, or a SPEI order where cash was asked: nobody can pay it as asked.
        #expect(
            Self.charge(Self.request(.oxxo, cents: 999), replying: ConektaFixtures.cashPendingOrder).0
                == .notPaid(status: .pendingPayment, orderID: "ord_2xayxSvfWzQ2TLz7r"))
        #expect(
            Self.charge(Self.request(.oxxo), replying: ConektaFixtures.speiPendingOrder).0
                == .notPaid(status: .pendingPayment, orderID: "ord_2xayxSvfWzQ2TLz7s"))
        // A 3-D Secure order has no reference: not a cash order.
        #expect(
            Self.charge(Self.request(.oxxo, cents: 5539), replying: ConektaFixtures.threeDSPendingOrder).0
                == .notPaid(status: .pendingPayment, orderID: "ord_2v4bXXEfZEfjDNcjd"))
    }

    @Test func anOrderReadBackCarriesItsPayLaterCharge() throws {
        let transport = FakeTransport(status: 200, body: ConektaFixtures.speiExpiredOrder)
        let order = try #require(try Self.client(transport).order(id: "ord_2zqnvjdK1zyFYp6c2", using: Self.key))
        #expect(order.status == .expired && order.cardBrand == nil && order.cardLast4 == nil)
        #expect(
            order.payLater
                == PayLaterCharge(
                    method: .spei, instructions: PaymentInstructions(clabe: "734180008033435128", bank: "FINCO PAY"),
                    expiresAt: 1_775_887_199))
    }

    @Test func aCancelledOxxoOrderKeepsItsReference() throws {
        let transport = FakeTransport(status: 200, body: ConektaFixtures.canceledOrder)
        let order = try Self.client(transport).cancel(orderID: "ord_2tqaGQYZyvBsMKEgs", using: Self.key)
        #expect(transport.requests.first?.url == "https://conekta.test/orders/ord_2tqaGQYZyvBsMKEgs/cancel")
        #expect(order.status == .canceled && order.payLater?.method == .oxxo)
        #expect(order.payLater?.instructions.reference == "93000262285701" && order.payLater?.expiresAt == 1_686_268_800)
    }

    @Test func aCardOrderHasNoPayLaterCharge() throws {
        let transport = FakeTransport(status: 200, body: ConektaFixtures.paidCardOrder)
        let order = try #require(try Self.client(transport).order(id: "ord_x", using: Self.key))
        #expect(order.payLater == nil && order.cardLast4 == "4242")
    }
}
