import Domain

/// A catalogue is a company's products sold on one router.
struct CatalogueKey: Hashable, Sendable {
    var companyID: Int64
    var routerID: Int64
}

/// The caches every thread of the process shares.
struct SharedCaches: Sendable {
    let keys: SharedTTLCache<String, APIKeyRecord?>
    let catalogues: SharedTTLCache<CatalogueKey, [Product]>
    /// Router addresses and credentials (decrypted), by router id.
    let routers: SharedTTLCache<Int64, RouterEndpoint?>
    /// Conekta private keys (decrypted), by company id.
    let gatewayKeys: SharedTTLCache<Int64, GatewayKey?>

    init(keySeconds: Double, catalogueSeconds: Double) {
        keys = SharedTTLCache(ttlSeconds: keySeconds)
        catalogues = SharedTTLCache(ttlSeconds: catalogueSeconds, capacity: 5_000)
        routers = SharedTTLCache(ttlSeconds: keySeconds, capacity: 5_000)
        gatewayKeys = SharedTTLCache(ttlSeconds: keySeconds, capacity: 5_000)
    }
}
