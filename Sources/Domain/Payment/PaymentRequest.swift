/// A validated payment request (CONTRACT §5): what the portal sent, normalised.
public struct PaymentRequest: Sendable, Equatable {
    public enum UserType: String, Sendable {
        case userAndPassword = "usuario_contrasena"
        case pin = "pin"
    }

    public var productID: Int64
    /// Card (the default), or cash or SPEI later (CONTRACT §12).
    public var method: PaymentMethod
    /// The Conekta.js card token; empty for a pay-later method. Never logged, never stored in clear.
    public var cardToken: String
    public var customerName: String
    public var customerEmail: String
    public var customerPhone: String?
    public var userType: UserType
    public var mac: MACAddress?
    public var ip: IPv4Address?
    public var deviceInfo: String?
    public var autoConnect: Bool

    public init(
        productID: Int64, cardToken: String, customerName: String, customerEmail: String, customerPhone: String? = nil,
        userType: UserType = .userAndPassword, mac: MACAddress? = nil, ip: IPv4Address? = nil, deviceInfo: String? = nil,
        autoConnect: Bool = false, method: PaymentMethod = .card
    ) {
        self.productID = productID
        self.method = method
        self.cardToken = cardToken
        self.customerName = customerName
        self.customerEmail = customerEmail
        self.customerPhone = customerPhone
        self.userType = userType
        self.mac = mac
        self.ip = ip
        self.deviceInfo = deviceInfo
        self.autoConnect = autoConnect
    }

    /// Auto-connect runs only when asked for and a MAC is known (the seed ignores the flag otherwise,
    /// docs/seed-api.md).
    public var wantsAutoConnect: Bool { autoConnect && mac != nil }

    /// The fields that make two requests "the same request" for idempotency, in a fixed order. A
    /// card request's fields are those of every earlier release (stored hashes stay comparable);
    /// a pay-later one adds its method.
    public var canonicalFields: String {
        let fields = [
            String(productID), cardToken, customerName, customerEmail, customerPhone ?? "", userType.rawValue,
            mac?.value ?? "", ip?.value ?? "", wantsAutoConnect ? "1" : "0",
        ]
        return (method.isPayLater ? fields + [method.rawValue] : fields).map { "\($0.utf8.count):\($0)" }.joined()
    }
}
