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

    /// Characters of a username: the seed's capitals and digits (docs/seed-api.md) without those a
    /// customer misreads when copying them from one screen to another (`0`/`O`, `1`/`I`/`L`).
    public static let usernameAlphabet = Array("ABCDEFGHJKMNPQRSTUVWXYZ23456789")

    /// New credentials from a CSPRNG (`SystemRandomNumberGenerator` reads getrandom(2) on Linux).
    /// `usuario_contrasena`: a username of `usernameAlphabet` and a numeric password; `pin`: a
    /// numeric username and an empty password (the seed's shapes, docs/seed-api.md; lengths per company).
    public static func generate<R: RandomNumberGenerator>(
        _ type: PaymentRequest.UserType, policy: CredentialPolicy, using random: inout R
    ) -> HotspotCredentials {
        let digits = Array("0123456789")
        func draw(_ alphabet: [Character], _ count: Int) -> String {
            String(RandomBytes.indices(count, below: alphabet.count, using: &random).map { alphabet[$0] })
        }
        switch type {
        case .userAndPassword:
            return HotspotCredentials(
                username: draw(usernameAlphabet, policy.usernameLength), password: draw(digits, policy.passwordLength))
        case .pin:
            return HotspotCredentials(username: draw(digits, policy.pinLength), password: "")
        }
    }
}

/// Uniform random values drawn eight bytes at a time: each `next()` of the system generator is a
/// getrandom(2) call, and drawing every character or byte on its own made thirty of them a payment.
public enum RandomBytes {
    /// `count` uniform indices in `0..<bound` (`bound` ≤ 256), by rejection: a byte is used only
    /// below the largest multiple of `bound`, so no index is likelier than another.
    public static func indices<R: RandomNumberGenerator>(_ count: Int, below bound: Int, using random: inout R) -> [Int] {
        precondition(bound > 0 && bound <= 256)
        let limit = 256 - 256 % bound
        var result: [Int] = []
        result.reserveCapacity(count)
        while result.count < count {
            var word = random.next()
            for _ in 0..<8 where result.count < count {
                let byte = Int(word & 0xFF)
                word >>= 8
                if byte < limit { result.append(byte % bound) }
            }
        }
        return result
    }

    /// `count` random bytes.
    public static func bytes<R: RandomNumberGenerator>(_ count: Int, using random: inout R) -> [UInt8] {
        indices(count, below: 256, using: &random).map { UInt8($0) }
    }
}
