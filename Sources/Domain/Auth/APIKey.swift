/// The claims of a portal API key (`jwt_<JWT>`, HS256; CONTRACT §2).
public struct APIKeyClaims: Sendable, Equatable {
    /// `jti`: the key's id, the primary key of its database row.
    public var keyID: String
    /// `sub`: the router id.
    public var routerID: Int64
    /// `empresa`: the company id.
    public var companyID: Int64
    public var issuedAt: Int64
    public var expiresAt: Int64?

    public init(keyID: String, routerID: Int64, companyID: Int64, issuedAt: Int64, expiresAt: Int64? = nil) {
        self.keyID = keyID
        self.routerID = routerID
        self.companyID = companyID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// Checks a key's signature and shape. Implemented by `HS256KeyCodec` (Secrets).
public protocol APIKeyVerifier {
    /// The claims of a well-signed key, or why it is refused. Does not consult the database.
    func verify(_ presentedKey: String, now: Int64) -> Result<APIKeyClaims, AuthFailure>
    /// The stored fingerprint of a full presented key (what the database keeps instead of it).
    func fingerprint(_ presentedKey: String) -> String
}

/// What the database says about a key, its router and its company.
public struct APIKeyRecord: Sendable, Equatable {
    public var keyID: String
    public var fingerprint: String
    public var revoked: Bool
    public var expiresAt: Int64?
    public var company: Company
    public var router: Router

    public init(keyID: String, fingerprint: String, revoked: Bool, expiresAt: Int64?, company: Company, router: Router) {
        self.keyID = keyID
        self.fingerprint = fingerprint
        self.revoked = revoked
        self.expiresAt = expiresAt
        self.company = company
        self.router = router
    }
}

/// Who is calling: the database's identity for a valid key.
public struct AccessGrant: Sendable, Equatable {
    public var keyID: String
    public var company: Company
    public var router: Router

    public init(keyID: String, company: Company, router: Router) {
        self.keyID = keyID
        self.company = company
        self.router = router
    }
}

/// Why a request's key was refused. Each has its own `codigo` (CONTRACT §2).
public enum AuthFailure: Error, Sendable, Equatable {
    case missing
    case malformed
    case badSignature
    case expired
    case revoked
    case unknownKey
    case routerInactive
    case companyInactive
}

public enum Authorization {
    /// Finds the presented key among the request headers: `X-API-Key: jwt_…` or
    /// `Authorization: Bearer jwt_…` (X-API-Key wins when both are present).
    public static func presentedKey(apiKeyHeader: String?, authorizationHeader: String?) -> String? {
        if let key = apiKeyHeader?.trimmingSpaces(), !key.isEmpty { return key }
        guard let header = authorizationHeader?.trimmingSpaces() else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let key = String(parts[1]).trimmingSpaces()
        return key.isEmpty ? nil : key
    }

    /// The grant for a verified key's database record, or why it is refused.
    /// The identity is the record's, not the token's claims.
    public static func grant(
        claims: APIKeyClaims, fingerprint: String, record: APIKeyRecord?, now: Int64
    )
        -> Result<AccessGrant, AuthFailure>
    {
        guard let record, record.keyID == claims.keyID, constantTimeEqual(record.fingerprint, fingerprint) else {
            return .failure(.unknownKey)
        }
        if record.revoked { return .failure(.revoked) }
        if let expiresAt = record.expiresAt, expiresAt <= now { return .failure(.expired) }
        guard record.router.id == claims.routerID, record.company.id == claims.companyID,
            record.router.companyID == record.company.id
        else { return .failure(.unknownKey) }
        if !record.company.active { return .failure(.companyInactive) }
        if !record.router.active { return .failure(.routerInactive) }
        return .success(AccessGrant(keyID: record.keyID, company: record.company, router: record.router))
    }

    /// Compares without an early exit, so timing does not reveal the common prefix.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<min(x.count, y.count) { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

extension String {
    package func trimmingSpaces() -> String {
        // Bytes, not Characters, and no copy when there is nothing to trim: every request's key
        // header comes through here.
        let utf8 = self.utf8
        func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = utf8.first, let last = utf8.last, isSpace(first) || isSpace(last) else { return self }
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, isSpace(utf8[start]) { start = utf8.index(after: start) }
        while end > start, isSpace(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
        return String(self[start..<end])
    }
}
