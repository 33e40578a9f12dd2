/// The Wi-Fi credentials sold to a customer.
public struct HotspotCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    /// Empty for PIN users (the PIN is the username).
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "HotspotCredentials(\(username), password: <redacted>)" }

    /// New credentials from a CSPRNG (`SystemRandomNumberGenerator` reads getrandom(2) on Linux).
    /// `usuario_contrasena`: `[A-Z0-9]` username and a numeric password; `pin`: a numeric username
    /// and an empty password (the seed page's shapes, lengths per company).
    public static func generate<R: RandomNumberGenerator>(
        _ type: PaymentRequest.UserType, policy: CredentialPolicy, using random: inout R
    ) -> HotspotCredentials {
        let digits = Array("0123456789")
        let alphanumeric = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        func draw(_ alphabet: [Character], _ count: Int) -> String {
            String((0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] })
        }
        switch type {
        case .userAndPassword:
            return HotspotCredentials(username: draw(alphanumeric, policy.usernameLength), password: draw(digits, policy.passwordLength))
        case .pin:
            return HotspotCredentials(username: draw(digits, policy.pinLength), password: "")
        }
    }
}
