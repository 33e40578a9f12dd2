import Domain

/// Conekta's `payment_status` spellings (docs/sources.md C3), here and nowhere else: the Domain
/// decides on `GatewayOrder.Status`, never on the provider's strings.
extension GatewayOrder.Status {
    /// An order's `payment_status` as Conekta writes it; one it does not document is `.other`.
    public init(conekta text: String) {
        switch text {
        case "paid": self = .paid
        case "pending_payment": self = .pendingPayment
        case "pre_authorized": self = .preAuthorized
        case "declined": self = .declined
        case "canceled", "cancelled": self = .canceled
        case "expired": self = .expired
        case "refunded": self = .refunded
        case "partially_refunded": self = .partiallyRefunded
        case "charged_back": self = .chargedBack
        default: self = .other(text)
        }
    }
}

extension GatewayOrder {
    /// An order with its status as Conekta spells it.
    public init(
        id: String, paymentStatus: String, amount: Money, amountRefundedCents: Int64 = 0, attemptID: String? = nil,
        createdAt: Int64 = 0, cardBrand: String? = nil, cardLast4: String? = nil, payLater: PayLaterCharge? = nil
    ) {
        self.init(
            id: id, status: Status(conekta: paymentStatus), amount: amount, amountRefundedCents: amountRefundedCents,
            attemptID: attemptID, createdAt: createdAt, cardBrand: cardBrand, cardLast4: cardLast4, payLater: payLater)
    }

}
