/// Reads for the portal endpoints. Implemented by `PostgresStore`; one instance per worker thread.
public protocol PortalDirectory {
    /// The key row with its router and company, or nil.
    func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord?
    /// Active products sold on `routerID` for `companyID`, in display order.
    func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product]
    /// One active product sold on that router for that company, or nil.
    func activeProduct(id: Int64, companyID: Int64, routerID: Int64) throws(StoreFailure) -> Product?
    /// Whether the database answers (for /health).
    func ping() throws(StoreFailure)
}

/// Encrypts secrets at rest. `context` binds a ciphertext to its purpose and row (associated
/// data), so a sealed value copied to another row does not open.
public protocol SecretSealer: Sendable {
    func seal(bytes: [UInt8], context: String) -> [UInt8]
    func openBytes(_ sealed: [UInt8], context: String) throws(SecretFailure) -> [UInt8]
}

extension SecretSealer {
    public func seal(_ plaintext: String, context: String) -> [UInt8] {
        seal(bytes: Array(plaintext.utf8), context: context)
    }

    public func open(_ sealed: [UInt8], context: String) throws(SecretFailure) -> String {
        guard let text = String(validating: try openBytes(sealed, context: context), as: UTF8.self) else {
            throw SecretFailure(context: context)
        }
        return text
    }
}

public struct SecretFailure: Error, Sendable, Equatable {
    public var context: String
    public init(context: String) { self.context = context }
}

/// Why the store could not answer.
public enum StoreFailure: Error, Sendable, Equatable {
    /// No connection (the server is down or restarting); try again shortly.
    case unavailable
    /// The statement failed; the message is log-safe (no parameters).
    case failed(String)
}

/// Checks that a webhook delivery was signed by the payment provider (CONTRACT §10): a signature
/// over the raw body bytes, against the public key the company registered.
public protocol WebhookSignatureVerifier: Sendable {
    /// True when `signature` (the provider's header, as sent) signs exactly `body` under
    /// `publicKeyPEM`. Any malformed input is false.
    func isSigned(_ body: [UInt8], signature: String, publicKeyPEM: String) -> Bool
}
