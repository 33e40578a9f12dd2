/// Charges through a payment provider (Conekta's Orders API): cards, and cash and SPEI orders
/// paid later.
///
/// Implemented by `ConektaClient`. Nothing here is ever retried by the implementation: the
/// saga decides. Methods other than `charge` throw only `GatewayFailure`.
public protocol PaymentGateway {
    /// Creates one order with one charge: a card's, or a cash or SPEI one that waits for the
    /// customer's money. Never throws: every result is an outcome.
    func charge(_ charge: ChargeRequest, using key: GatewayKey) -> ChargeOutcome

    /// The order with this id, or nil when the provider does not know it.
    func order(id: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder?

    /// The order whose `metadata.attempt_id` is `attemptID`, created between `createdAfter` and
    /// `createdBefore` (unix seconds) for `customerEmail`, or nil when there is none. Used after
    /// a lost reply. The window must be narrow: an account with many orders cannot be paged
    /// through in full, and when absence cannot be shown the call throws `absenceUnproven`.
    func findOrder(
        attemptID: String, customerEmail: String, createdAfter: Int64, createdBefore: Int64?, using key: GatewayKey
    ) throws(GatewayFailure)
        -> GatewayOrder?

    /// Refunds the whole remaining amount with reason `cannot_be_fulfilled`.
    func refund(orderID: String, amountCents: Int64, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder

    /// Cancels an order that is not paid (3-D Secure pending, pre-authorised, a cash or SPEI
    /// reference past its expiry).
    func cancel(orderID: String, using key: GatewayKey) throws(GatewayFailure) -> GatewayOrder
}

/// A company's private API key. `description` never shows it.
public struct GatewayKey: Sendable, Equatable, CustomStringConvertible {
    public var privateKey: String

    public init(privateKey: String) {
        self.privateKey = privateKey
    }

    public var description: String { "GatewayKey(<redacted>)" }
}

public struct ChargeRequest: Sendable, Equatable {
    /// What pays: a card now, or cash or a transfer later.
    public enum Payment: Sendable, Equatable {
        /// The card token from Conekta.js. Never logged.
        case card(token: String)
        /// A cash (`oxxo`) or SPEI order whose reference takes money until `expiresAt` (unix s).
        case payLater(PaymentMethod, expiresAt: Int64)
    }

    /// Our payment attempt id; sent as `metadata.attempt_id` and the charge's `reference_id`.
    public var attemptID: String
    public var amount: Money
    /// The line item's name (the product's name).
    public var itemName: String
    public var customerName: String
    public var customerEmail: String
    public var customerPhone: String
    public var payment: Payment
    /// Extra scalar metadata (router id, product id…).
    public var metadata: [String: String]

    public init(
        attemptID: String, amount: Money, itemName: String, customerName: String, customerEmail: String,
        customerPhone: String, payment: Payment, metadata: [String: String] = [:]
    ) {
        self.attemptID = attemptID
        self.amount = amount
        self.itemName = itemName
        self.customerName = customerName
        self.customerEmail = customerEmail
        self.customerPhone = customerPhone
        self.payment = payment
        self.metadata = metadata
    }

    /// A card charge.
    public init(
        attemptID: String, amount: Money, itemName: String, customerName: String, customerEmail: String,
        customerPhone: String, cardToken: String, metadata: [String: String] = [:]
    ) {
        self.init(
            attemptID: attemptID, amount: amount, itemName: itemName, customerName: customerName, customerEmail: customerEmail,
            customerPhone: customerPhone, payment: .card(token: cardToken), metadata: metadata)
    }

    /// The card token; empty for a pay-later charge.
    public var cardToken: String {
        if case .card(let token) = payment { return token }
        return ""
    }
}

/// What came of one charge.
public enum ChargeOutcome: Sendable, Equatable {
    /// `payment_status == "paid"`, amount and currency as asked.
    case paid(PaidOrder)
    /// The card was declined (402). `message` is for the customer, in Spanish.
    case declined(code: String, message: String, orderID: String?)
    /// The order exists but is not paid (`pending_payment` for 3-D Secure, `pre_authorized`, …).
    case notPaid(status: GatewayOrder.Status, orderID: String)
    /// A cash or SPEI order was created and waits for the customer's money, with the reference or
    /// CLABE to pay (a pending order without them is `notPaid`).
    case awaitingPayment(orderID: String, charge: PayLaterCharge)
    /// Nobody knows whether money moved: timeout after sending, connection lost, 5xx, 429, or
    /// `tokenization.used`. Reconcile by attempt id; never charge again.
    case unknown(reason: String)
    /// Our side is misconfigured (401, bad key). Nothing was charged.
    case configurationError(reason: String)
    /// The provider rejected the request (422). Nothing was charged.
    case invalidRequest(param: String?, message: String)

    /// Conekta answered `tokenization.used` to a charge: unknown until the attempt's own order is
    /// looked up, and with none, someone else used the token, a decline (CONTRACT §5.3). One value
    /// for the gateway that reports it and the flow that acts on it, so the two cannot disagree.
    public static let tokenAlreadyUsed = ChargeOutcome.unknown(reason: "tokenization_used")
}

public struct PaidOrder: Sendable, Equatable {
    public var orderID: String
    public var amount: Money
    public var cardBrand: String?
    public var cardLast4: String?

    public init(orderID: String, amount: Money, cardBrand: String? = nil, cardLast4: String? = nil) {
        self.orderID = orderID
        self.amount = amount
        self.cardBrand = cardBrand
        self.cardLast4 = cardLast4
    }
}

/// An order as the provider reports it.
public struct GatewayOrder: Sendable, Equatable {
    /// An order's `payment_status`, typed: the saga decides on these, never on strings.
    public enum Status: Sendable, Hashable {
        case paid
        /// Waiting for its customer (3-D Secure) or, for cash and transfers, for the money.
        case pendingPayment
        case preAuthorized
        case declined
        case canceled
        case expired
        case refunded
        case partiallyRefunded
        case chargedBack
        /// A status this product does not know: never paid.
        case other(String)

        /// The status as the ledger's reasons name it (`order not paid: pending_payment`).
        public var name: String {
            switch self {
            case .paid: "paid"
            case .pendingPayment: "pending_payment"
            case .preAuthorized: "pre_authorized"
            case .declined: "declined"
            case .canceled: "canceled"
            case .expired: "expired"
            case .refunded: "refunded"
            case .partiallyRefunded: "partially_refunded"
            case .chargedBack: "charged_back"
            case .other(let text): text
            }
        }

        /// Not paid but still payable: it must be cancelled before its user is removed.
        public var isCancellable: Bool { self == .pendingPayment || self == .preAuthorized }
        /// Money came in and (some of) it went back.
        public var isRefunded: Bool { self == .refunded || self == .partiallyRefunded }
    }

    public var id: String
    public var status: Status
    public var amount: Money
    public var amountRefundedCents: Int64
    public var attemptID: String?
    public var createdAt: Int64
    public var cardBrand: String?
    public var cardLast4: String?
    /// The order's cash or SPEI charge, when it has one.
    public var payLater: PayLaterCharge?

    public init(
        id: String, status: Status, amount: Money, amountRefundedCents: Int64 = 0, attemptID: String? = nil,
        createdAt: Int64 = 0, cardBrand: String? = nil, cardLast4: String? = nil, payLater: PayLaterCharge? = nil
    ) {
        self.id = id
        self.payLater = payLater
        self.status = status
        self.amount = amount
        self.amountRefundedCents = amountRefundedCents
        self.attemptID = attemptID
        self.createdAt = createdAt
        self.cardBrand = cardBrand
        self.cardLast4 = cardLast4
    }

    public var isPaid: Bool { status == .paid }
    /// What is left to refund.
    public var refundableCents: Int64 { max(0, amount.cents - amountRefundedCents) }
}

/// Why a non-charge gateway call failed.
public enum GatewayFailure: Error, Sendable, Equatable {
    /// 404: no such order.
    case notFound
    /// 401/403: our key is wrong.
    case configurationError(String)
    /// 422/428 and other refusals, with the provider's code.
    case rejected(code: String, message: String)
    /// Timeout, connection refused or lost, 5xx: try again later.
    case unavailable(String)
    /// `findOrder` found nothing, but could not show that nothing exists: the provider's search
    /// is not known to match our reference on this account, and the window holds more orders
    /// than may be read. Asking again gives the same answer.
    case absenceUnproven(String)
}
