import Domain
import Foundation
import Persistence
import Secrets

/// What every PostgreSQL suite starts from: a fresh database of the test cluster, migrated, and a
/// store over it with a sealer of its own.
struct MigratedStore {
    let database: TestDatabase
    let sealer: SecretBox
    let connection: PostgresConnection
    let store: PostgresStore

    /// - Parameter keyByte: every byte of the sealer's 32-byte key.
    init(keyByte: UInt8) throws {
        database = try TestDatabase()
        sealer = try SecretBox(base64Key: Data(repeating: keyByte, count: 32).base64EncodedString())
        connection = PostgresConnection(url: database.url)
        try Migrations.migrate(connection)
        store = PostgresStore(connection: connection, sealer: sealer)
    }

    /// A router of `company` at `https://10.0.0.<host>`, user `api`, password `p`.
    func addRouter(
        company: Int64, name: String, host: Int = 1, trust: RouterEndpoint.Trust = .insecure, hotspotServer: String = "all"
    ) throws -> Int64 {
        try store.addRouter(
            companyID: company, name: name, location: nil, restURL: "https://10.0.0.\(host)", apiUser: "api", apiPassword: "p",
            trust: trust, hotspotServer: hotspotServer)
    }

    /// A company (Café) with two routers (R, then Otro) and a product (1 Hora, 15 MXN) on the
    /// first: the tenancy of the suites that count per router.
    func addCompanyWithTwoRouters() throws -> (company: Int64, router: Int64, otherRouter: Int64, product: Int64) {
        let company = try store.addCompany(name: "Café", contactEmail: nil, contactPhone: "5512345678")
        let router = try addRouter(company: company, name: "R")
        let otherRouter = try addRouter(company: company, name: "Otro", host: 2)
        let product = try store.addProduct(
            Product(
                id: 0, companyID: company, routerID: router, name: "1 Hora", price: Money(cents: 1500, currency: "MXN"),
                profileName: "1hora"))
        return (company, router, otherRouter, product)
    }
}
