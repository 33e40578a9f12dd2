import Crypto
import Foundation

/// WireGuard keys: Curve25519 (X25519) key pairs written as base64 of their 32 bytes, as `wg
/// genkey` and `wg pubkey` write them and RouterOS's `/interface wireguard` reads them.
public struct WireGuardKeyPair: Sendable, Equatable {
    public var privateKey: String
    public var publicKey: String

    /// A fresh pair from the system's CSPRNG. The private key is clamped as `wg genkey` clamps
    /// it (the low three bits cleared, the top bit cleared and the next set: RFC 7748 §5), so it
    /// is byte for byte what WireGuard's own tools would have made.
    public static func generate() -> WireGuardKeyPair {
        var raw = Array(Curve25519.KeyAgreement.PrivateKey().rawRepresentation)
        raw[0] &= 248
        raw[31] = (raw[31] & 127) | 64
        let key = Data(raw).base64EncodedString()
        // A clamped 32-byte scalar is always a valid X25519 key.
        return WireGuardKeyPair(privateKey: key, publicKey: try! publicKey(of: key))
    }

    /// The public key of a base64 private key.
    public static func publicKey(of privateKey: String) throws -> String {
        guard let raw = decoded(privateKey) else { throw WireGuardKeyError() }
        let key = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
        return key.publicKey.rawRepresentation.base64EncodedString()
    }

    /// Whether `key` reads as a WireGuard key: base64 of exactly 32 bytes.
    public static func isKey(_ key: String) -> Bool { decoded(key) != nil }

    private static func decoded(_ key: String) -> Data? {
        guard key.count == 44, let data = Data(base64Encoded: key), data.count == 32 else { return nil }
        return data
    }

    public init(privateKey: String, publicKey: String) {
        self.privateKey = privateKey
        self.publicKey = publicKey
    }
}

/// A text that is not base64 of 32 bytes.
public struct WireGuardKeyError: Error, CustomStringConvertible {
    public var description: String { "not a WireGuard key (base64 of 32 bytes)" }
}
