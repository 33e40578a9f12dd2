import Crypto
import Domain
import Foundation

/// HMAC-SHA256 under the server's key secret, hex: idempotency keys derived from card tokens and
/// request fingerprints are stored this way, so no token can be read back from the database.
public struct KeyedHasher: Sendable {
    private let key: SymmetricKey

    public init(secret: [UInt8]) {
        key = SymmetricKey(data: secret + Array(":idempotency".utf8))
    }

    public func hash(_ text: String) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
    }
}
