import Domain

/// `PortalDirectory` that reads API key records (unknown keys included: attackers can mint
/// endless ids, and the cache is bounded) and catalogues through the process's caches.
final class CachedPortalDirectory: PortalDirectory {
    let base: any PortalDirectory
    private let keys: ThreadCache<String, APIKeyRecord?>
    private let catalogues: ThreadCache<CatalogueKey, [Product]>

    init(_ base: any PortalDirectory, caches: SharedCaches) {
        self.base = base
        keys = ThreadCache(caches.keys)
        catalogues = ThreadCache(caches.catalogues)
    }

    func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord? {
        try keys.value(for: keyID) { () throws(StoreFailure) in try base.apiKeyRecord(keyID: keyID) }
    }

    func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product] {
        try catalogues.value(for: CatalogueKey(companyID: companyID, routerID: routerID)) { () throws(StoreFailure) in
            try base.activeProducts(companyID: companyID, routerID: routerID)
        }
    }

    func activeProduct(id: Int64, companyID: Int64, routerID: Int64) throws(StoreFailure) -> Product? {
        try activeProducts(companyID: companyID, routerID: routerID).first { $0.id == id }
    }

    func ping() throws(StoreFailure) {
        try base.ping()
    }
}
