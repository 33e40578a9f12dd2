import Domain
import Testing

@testable import Gateway

@Suite struct ConektaOrderStatusTests {
    @Test func everyDocumentedStatusIsTyped() {
        let spellings: [(String, GatewayOrder.Status)] = [
            ("paid", .paid), ("pending_payment", .pendingPayment), ("pre_authorized", .preAuthorized), ("declined", .declined),
            ("canceled", .canceled), ("cancelled", .canceled), ("expired", .expired), ("refunded", .refunded),
            ("partially_refunded", .partiallyRefunded), ("charged_back", .chargedBack),
        ]
        for (text, status) in spellings {
            #expect(GatewayOrder.Status(conekta: text) == status, "\(text)")
            #expect(GatewayOrder(id: "ord_1", paymentStatus: text, amount: Money(cents: 1, currency: "MXN")).status == status)
        }
    }

    @Test func anUnknownStatusIsKeptAndNeverPaid() {
        let status = GatewayOrder.Status(conekta: "voided")
        #expect(status == .other("voided") && status.name == "voided" && !status.isCancellable)
        #expect(!GatewayOrder(id: "ord_1", paymentStatus: "", amount: Money(cents: 1, currency: "MXN")).isPaid)
    }
}
