import Domain

/// The portal's reads held in memory; `down` makes every call fail like a lost database.
public final class InMemoryPortalDirectory: PortalDirectory {
    public var records: [String: APIKeyRecord] = [:]
    public var products: [Product] = []
    public var down = false

    public init() {}

    public func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord? {
        if down { throw .unavailable }
        return records[keyID]
    }

    public func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product] {
        if down { throw .unavailable }
        return products.filter { $0.companyID == companyID && $0.routerID == routerID && $0.active }
            .sorted { $0.displayOrder < $1.displayOrder }
    }

    public func activeProduct(id: Int64, companyID: Int64, routerID: Int64) throws(StoreFailure) -> Product? {
        try activeProducts(companyID: companyID, routerID: routerID).first { $0.id == id }
    }

    public func ping() throws(StoreFailure) {
        if down { throw .unavailable }
    }
}
