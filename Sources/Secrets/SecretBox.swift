import Crypto
import Domain
import Foundation

/// AES-256-GCM for secrets at rest (router passwords, Conekta private keys, hotspot
/// passwords, stored responses), under the key from `HOTSPOT_SECRETS_KEY`.
///
/// Layout: one version byte (1), then nonce ‖ ciphertext ‖ tag (`AES.GCM.SealedBox.combined`).
/// The context string is the associated data.
public struct SecretBox: SecretSealer {
    private let key: SymmetricKey

    public init(base64Key: String) throws(SecretBoxError) {
        guard let data = Data(base64Encoded: base64Key), data.count == 32 else { throw .badKey }
        key = SymmetricKey(data: data)
    }

    public func seal(bytes: [UInt8], context: String) -> [UInt8] {
        // AES.GCM.seal only throws for an invalid nonce or key size, both fixed here.
        let box = try! AES.GCM.seal(bytes, using: key, authenticating: Array(context.utf8))
        return [1] + Array(box.combined!)
    }

    public func openBytes(_ sealed: [UInt8], context: String) throws(SecretFailure) -> [UInt8] {
        guard sealed.first == 1,
            let box = try? AES.GCM.SealedBox(combined: sealed.dropFirst()),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Array(context.utf8))
        else { throw SecretFailure(context: context) }
        return Array(plain)
    }
}

public enum SecretBoxError: Error, CustomStringConvertible {
    case badKey
    public var description: String { "the secrets key must be 32 bytes in base64" }
}
