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
}
