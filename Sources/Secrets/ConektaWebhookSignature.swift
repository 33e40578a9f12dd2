import Crypto
import Domain
import Foundation
import _CryptoExtras

/// Conekta's webhook signature: the `Digest` header is base64 of an RSASSA-PKCS1-v1_5 signature
/// with SHA-256 over the raw body, made with the private half of the account's webhook key
/// (`POST /webhook_keys` returns the public half as PEM). Checked on the bytes as received,
/// before anything parses them (docs/sources.md C6).
public struct ConektaWebhookSignature: WebhookSignatureVerifier {
    public init() {}

    public func isSigned(_ body: [UInt8], signature: String, publicKeyPEM: String) -> Bool {
        let encoded = signature.trimmingCharacters(in: .whitespaces)
        guard !encoded.isEmpty, let bytes = Data(base64Encoded: encoded), let key = Self.publicKey(publicKeyPEM) else {
            return false
        }
        return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: bytes), for: body, padding: .insecurePKCS1v1_5)
    }

    /// Whether `pem` reads as an RSA public key (an operator's pasted key is checked before it is stored).
    public static func isPublicKey(_ pem: String) -> Bool { publicKey(pem) != nil }

    /// A 2048-bit or larger key; 1024-bit keys are refused by the safe initialiser, and the
    /// provider's key size is not documented, so they are read too (they still only verify).
    private static func publicKey(_ pem: String) -> _RSA.Signing.PublicKey? {
        if let key = try? _RSA.Signing.PublicKey(pemRepresentation: pem) { return key }
        return try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem)
    }
}
