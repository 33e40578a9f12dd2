import Crypto
import Domain
import Foundation

/// HMAC-SHA256 under the server's key secret, hex: idempotency keys derived from card tokens and
/// request fingerprints are stored this way, so no token can be read back from the database.
public struct KeyedHasher: Sendable {
    /// The HMAC with the key already absorbed, copied for each text: keying (hashing the padded key
    /// into both inner and outer states) was a third of a hash's cost, the same work every time.
    private let keyed: HMAC<SHA256>

    public init(secret: [UInt8]) {
        keyed = HMAC<SHA256>(key: SymmetricKey(data: secret + Array(":idempotency".utf8)))
    }

    public func hash(_ text: String) -> String {
        var mac = keyed
        mac.update(data: Array(text.utf8))
        return Hex.encode(mac.finalize())
    }
}
