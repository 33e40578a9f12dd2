/// One payment request's durable record: the saga's state and everything needed to finish it
/// after a crash (CONTRACT §5–6).
public struct PaymentAttempt: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// Recorded; the router user may or may not exist yet. Nothing charged.
        case pending
        /// The disabled user exists; the charge may have been sent. Outcome unknown until looked up.
        case charging
        /// The order is paid; the user is not enabled yet.
        case paid
        /// Final: paid and the user enabled.
        case delivered
        /// Not paid: the user (and a pending order) must be removed.
        case declining
        /// Final: not paid, nothing left on the router.
        case declined
        /// Nothing charged, but the router may hold a disabled user to remove.
        case aborting
        /// Final: nothing charged, nothing left on the router.
        case failed
        /// Paid but undeliverable: refund, then remove the user.
        case refunding
        /// Final: refunded, nothing left on the router.
        case refunded
        /// Delivered, then its order was refunded or charged back outside the product: the user
        /// is disabled and its sessions removed (CONTRACT §10).
        case revoking
        /// Final: the access was revoked; the user stays disabled on the router until the sweep of
        /// sold users removes it (CONTRACT §11).
        case revoked
        /// Pay later (CONTRACT §12): the cash or SPEI order exists and the customer has its
        /// reference; no router user until the money arrives. Not stuck: the reconciler polls the
        /// order until it is paid, expires or is cancelled.
        case awaitingPayment = "awaiting_payment"
        /// Pay later: the order is paid; the user is being created, enabled.
        case provisioning
        /// Final, pay later: the order expired or was cancelled unpaid; nothing on the router.
        case expired

        public var isFinal: Bool { [.delivered, .declined, .failed, .refunded, .revoked, .expired].contains(self) }
    }

    public var id: String
    public var companyID: Int64
    public var routerID: Int64
    public var productID: Int64
    public var apiKeyID: String?
    public var idempotencyKey: String
    public var requestHash: String
    public var state: State
    public var reason: String?
    public var amount: Money
    public var productName: String
    public var profileName: String
    public var limitUptime: String?
    public var limitBytesTotal: Int64?
    /// The product's validity when it was sold (a later change of the product does not touch it).
    public var validity: AccessValidity?
    public var customerName: String
    public var customerEmail: String
    public var customerPhone: String?
    public var userType: PaymentRequest.UserType
    public var credentials: HotspotCredentials
    public var mac: MACAddress?
    public var ip: IPv4Address?
    public var autoConnect: Bool
    public var routerUserID: String?
    public var orderID: String?
    public var cardBrand: String?
    public var cardLast4: String?
    /// Unix seconds.
    public var createdAt: Int64
    public var requestID: String?
    /// The client's address as nginx saw it (for the card-testing limits).
    public var remoteAddress: String?
    /// The `codigo` of the answer stored for every retry of the request, once there is one. A
    /// later run (the reconciler's clean-up) never changes it.
    public var answeredCodigo: String?
    /// Unix seconds when the attempt moved to `charging`, committed before the charge was sent:
    /// its order, if any, was created after this (give or take the clocks' skew).
    public var chargeSentAt: Int64?
    /// Unix seconds: when the user was first seen used on the router (CONTRACT §11), as the sweeper
    /// observed it less the user's uptime then (the latest the first login can have been).
    public var firstLoginAt: Int64?
    /// Unix seconds: when the access ended and the user left the router, and why; nil while it lasts.
    public var accessEndedAt: Int64?
    public var accessEndReason: AccessEndReason?
    /// Card, or cash or SPEI later (CONTRACT §12).
    public var method: PaymentMethod
    /// Pay later: the keyed hash of the claim code (the code itself is never stored).
    public var claimCodeHash: String?
    /// Pay later: unix seconds after which the reference or CLABE takes no more money; the
    /// company's expiry until the gateway's answer says.
    public var payLaterExpiresAt: Int64?
    /// Pay later: the reference or CLABE, once the order exists.
    public var instructions: PaymentInstructions?

    public init(
        id: String, companyID: Int64, routerID: Int64, productID: Int64, apiKeyID: String?, idempotencyKey: String,
        requestHash: String, state: State, reason: String? = nil, amount: Money, productName: String, profileName: String,
        limitUptime: String?, limitBytesTotal: Int64?, customerName: String, customerEmail: String, customerPhone: String?,
        userType: PaymentRequest.UserType, credentials: HotspotCredentials, mac: MACAddress?, ip: IPv4Address?,
        autoConnect: Bool, routerUserID: String? = nil, orderID: String? = nil, cardBrand: String? = nil,
        cardLast4: String? = nil, createdAt: Int64, requestID: String? = nil, remoteAddress: String? = nil,
        answeredCodigo: String? = nil, chargeSentAt: Int64? = nil, validity: AccessValidity? = nil, firstLoginAt: Int64? = nil,
        accessEndedAt: Int64? = nil, accessEndReason: AccessEndReason? = nil, method: PaymentMethod = .card,
        claimCodeHash: String? = nil, payLaterExpiresAt: Int64? = nil, instructions: PaymentInstructions? = nil
    ) {
        self.id = id
        self.companyID = companyID
        self.routerID = routerID
        self.productID = productID
        self.apiKeyID = apiKeyID
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
        self.state = state
        self.reason = reason
        self.amount = amount
        self.productName = productName
        self.profileName = profileName
        self.limitUptime = limitUptime
        self.limitBytesTotal = limitBytesTotal
        self.customerName = customerName
        self.customerEmail = customerEmail
        self.customerPhone = customerPhone
        self.userType = userType
        self.credentials = credentials
        self.mac = mac
        self.ip = ip
        self.autoConnect = autoConnect
        self.routerUserID = routerUserID
        self.orderID = orderID
        self.cardBrand = cardBrand
        self.cardLast4 = cardLast4
        self.createdAt = createdAt
        self.requestID = requestID
        self.remoteAddress = remoteAddress
        self.answeredCodigo = answeredCodigo
        self.chargeSentAt = chargeSentAt
        self.validity = validity
        self.firstLoginAt = firstLoginAt
        self.accessEndedAt = accessEndedAt
        self.accessEndReason = accessEndReason
        self.method = method
        self.claimCodeHash = claimCodeHash
        self.payLaterExpiresAt = payLaterExpiresAt
        self.instructions = instructions
    }

    /// The router user's comment, which ties it to this attempt.
    public var routerComment: String { Self.commentPrefix + id }

    /// What every router user the product makes has its comment start with.
    public static let commentPrefix = "hotspot-pay:"

    /// The attempt id a router user's comment names (a lowercase UUID), or nil when the user is
    /// not one the product made: the product never touches those (CONTRACT §11).
    public static func attemptID(inComment comment: String) -> String? {
        guard comment.hasPrefix(commentPrefix) else { return nil }
        let id = comment.dropFirst(commentPrefix.count)
        let groups = id.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12],
            groups.allSatisfy({ $0.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } })
        else { return nil }
        return String(id)
    }
}
