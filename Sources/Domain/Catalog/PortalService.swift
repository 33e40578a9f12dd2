/// The read side of the portal: who is calling, and what is sold on their router.
public struct PortalService {
    private let directory: any PortalDirectory
    private let verifier: any APIKeyVerifier

    public init(directory: any PortalDirectory, verifier: any APIKeyVerifier) {
        self.directory = directory
        self.verifier = verifier
    }

    /// The caller's identity from its headers. Never fails with anything but `.unauthorized`
    /// or `.storeUnavailable`.
    public func authorize(
        apiKeyHeader: String?, authorizationHeader: String?, now: Int64
    ) throws(ServiceError)
        -> AccessGrant
    {
        guard let presented = Authorization.presentedKey(apiKeyHeader: apiKeyHeader, authorizationHeader: authorizationHeader)
        else { throw .unauthorized(.missing) }
        let claims: APIKeyClaims
        switch verifier.verify(presented, now: now) {
        case .success(let verified): claims = verified
        case .failure(let failure): throw .unauthorized(failure)
        }
        let record: APIKeyRecord?
        do {
            record = try directory.apiKeyRecord(keyID: claims.keyID)
        } catch {
            throw ServiceError(error)
        }
        switch Authorization.grant(claims: claims, fingerprint: verifier.fingerprint(presented), record: record, now: now) {
        case .success(let grant): return grant
        case .failure(let failure): throw .unauthorized(failure)
        }
    }

    public func catalogue(for grant: AccessGrant) throws(ServiceError) -> [Product] {
        do {
            return try directory.activeProducts(companyID: grant.company.id, routerID: grant.router.id)
        } catch {
            throw ServiceError(error)
        }
    }

    public func product(id: Int64, for grant: AccessGrant) throws(ServiceError) -> Product {
        let product: Product?
        do {
            product = try directory.activeProduct(id: id, companyID: grant.company.id, routerID: grant.router.id)
        } catch {
            throw ServiceError(error)
        }
        guard let product else { throw .productNotFound }
        return product
    }

    public func health() -> Bool {
        do {
            try directory.ping()
            return true
        } catch {
            return false
        }
    }
}

extension ServiceError {
    public init(_ failure: StoreFailure) {
        switch failure {
        case .unavailable: self = .storeUnavailable
        case .failed(let message): self = .internalFailure("store: \(message)")
        }
    }
}
