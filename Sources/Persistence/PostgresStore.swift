import Domain
import JSON

/// The product's tables behind the Domain's ports. Each statement borrows a connection from
/// the process's pool; a store itself belongs to one thread (its callers' caches do).
public final class PostgresStore {
    public let pool: PostgresPool
    let sealer: any SecretSealer
    /// The last password sealed for an attempt: a saga saves its attempt several times with the
    /// same credentials, and each seal is an AES-GCM pass with a fresh nonce.
    private var lastSealedPassword: (attemptID: String, password: String, sealed: String)?
    /// `begin`'s statement for the decline window last asked (a process asks the same one always).
    var cachedBeginStatement: (window: Int?, sql: String)?

    public init(pool: PostgresPool, sealer: any SecretSealer) {
        self.pool = pool
        self.sealer = sealer
    }

    /// A store over one connection of its own (the operator command, tests).
    public convenience init(connection: PostgresConnection, sealer: any SecretSealer) {
        self.init(pool: PostgresPool(connections: [connection]), sealer: sealer)
    }

    /// Opens every idle pooled connection and loads the hot tables' definitions, indexes
    /// included, into each new backend (planning a scan opens every index of its table), so the
    /// first requests after a start do not pay for it. For a start-up thread; returns how many
    /// connections are ready.
    @discardableResult
    public static func warmUp(_ pool: PostgresPool) -> Int {
        pool.warmUp { (connection) throws(PostgresError) in try connection.query(warmUpSQL) }
    }

    static let warmUpSQL = """
        SELECT 1 FROM payment_attempts WHERE id IS NULL
        UNION ALL SELECT 1 FROM payment_events WHERE attempt_id IS NULL
        UNION ALL SELECT 1 FROM api_keys WHERE id IS NULL
        UNION ALL SELECT 1 FROM products WHERE id IS NULL
        UNION ALL SELECT 1 FROM routers WHERE id IS NULL
        UNION ALL SELECT 1 FROM companies WHERE id IS NULL
        """

    /// The attempt's hotspot password sealed for its row (context `attempt:<id>:password`).
    func sealedPassword(of attempt: PaymentAttempt) -> String {
        let password = attempt.credentials.password
        if let last = lastSealedPassword, last.attemptID == attempt.id, last.password == password { return last.sealed }
        let sealed = PostgresBytes.encode(sealer.seal(password, context: "attempt:\(attempt.id):password"))
        lastSealedPassword = (attempt.id, password, sealed)
        return sealed
    }

    /// Runs a statement, turning failures into the Domain's `StoreFailure`.
    func run(_ sql: String, _ parameters: [String?] = []) throws(StoreFailure) -> PostgresRows {
        try withConnection { (connection) throws(PostgresError) in try connection.query(sql, parameters) }
    }

    /// Lends a pooled connection to `body` (for a transaction), mapping failures to `StoreFailure`.
    func withConnection<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(StoreFailure) -> T {
        do {
            return try pool.withConnection(body)
        } catch {
            switch error.kind {
            case .unavailable, .connectionLost: throw .unavailable
            case .statementFailed: throw .failed(error.description)
            }
        }
    }

    static let companyColumns = """
        c.id AS company_id, c.name AS company_name, c.contact_email, c.contact_phone, c.conekta_public_key,
        c.active AS company_active, c.username_length, c.password_length, c.pin_length,
        c.pay_later_methods::text AS pay_later_methods, c.pay_later_expiry_seconds
        """

    static func company(from row: PostgresRow) -> Company {
        Company(
            id: row.int64("company_id") ?? 0,
            name: row["company_name"] ?? "",
            contactEmail: row["contact_email"],
            contactPhone: row["contact_phone"],
            conektaPublicKey: row["conekta_public_key"],
            active: row.bool("company_active") ?? false,
            credentialPolicy: CredentialPolicy(
                usernameLength: row.int("username_length") ?? 6,
                passwordLength: row.int("password_length") ?? 4,
                pinLength: row.int("pin_length") ?? 6
            ),
            payLater: payLater(from: row)
        )
    }

    static let productColumns = """
        p.id, p.company_id, p.router_id, p.name, p.description, p.price_cents, p.currency, p.profile_name,
        p.limit_uptime, p.limit_bytes_total, p.validity_seconds, p.validity_from, p.details::text AS details, p.image_url,
        p.featured, p.display_order, p.active
        """

    /// The validity in a row's `validity_seconds` and `validity_from` (a product's or an attempt's).
    static func validity(from row: PostgresRow) -> AccessValidity? {
        guard let seconds = row.int64("validity_seconds") else { return nil }
        return AccessValidity(
            seconds: seconds, from: row["validity_from"].flatMap(AccessValidity.Start.init(rawValue:)) ?? .firstLogin)
    }

    static func product(from row: PostgresRow) -> Product {
        var details: [String] = []
        if let text = row["details"], case .array(let items)? = try? JSONParser.parse(Array(text.utf8)) {
            details = items.compactMap(\.stringValue)
        }
        return Product(
            id: row.int64("id") ?? 0,
            companyID: row.int64("company_id") ?? 0,
            routerID: row.int64("router_id") ?? 0,
            name: row["name"] ?? "",
            description: row["description"],
            price: Money(cents: row.int64("price_cents") ?? 0, currency: row["currency"] ?? ""),
            profileName: row["profile_name"] ?? "",
            limitUptime: row["limit_uptime"],
            limitBytesTotal: row.int64("limit_bytes_total"),
            validity: validity(from: row),
            details: details,
            imageURL: row["image_url"],
            featured: row.bool("featured") ?? false,
            displayOrder: row.int("display_order") ?? 0,
            active: row.bool("active") ?? false
        )
    }
}

@available(*, unavailable, message: "owns a connection used by one thread")
extension PostgresStore: Sendable {}

extension PostgresStore: PortalDirectory {
    public func apiKeyRecord(keyID: String) throws(StoreFailure) -> APIKeyRecord? {
        let rows = try run(
            """
            SELECT k.id AS key_id, k.fingerprint, k.revoked_at IS NOT NULL AS revoked,
                   extract(epoch FROM k.expires_at)::bigint AS expires_at,
                   r.id AS router_id, r.name AS router_name, r.location, r.active AS router_active,
                   \(Self.companyColumns)
            FROM api_keys k
            JOIN routers r ON r.id = k.router_id AND r.company_id = k.company_id
            JOIN companies c ON c.id = k.company_id
            WHERE k.id = $1
            """, [keyID])
        guard let row = rows.first else { return nil }
        let company = Self.company(from: row)
        return APIKeyRecord(
            keyID: row["key_id"] ?? "",
            fingerprint: row["fingerprint"] ?? "",
            revoked: row.bool("revoked") ?? true,
            expiresAt: row.int64("expires_at"),
            company: company,
            router: Router(
                id: row.int64("router_id") ?? 0, companyID: company.id, name: row["router_name"] ?? "",
                location: row["location"], active: row.bool("router_active") ?? false)
        )
    }

    public func activeProducts(companyID: Int64, routerID: Int64) throws(StoreFailure) -> [Product] {
        try run(
            """
            SELECT \(Self.productColumns) FROM products p
            WHERE p.company_id = $1 AND p.router_id = $2 AND p.active
            ORDER BY p.display_order, p.featured DESC, p.id
            """, [String(companyID), String(routerID)]
        ).all.map(Self.product(from:))
    }

    public func activeProduct(id: Int64, companyID: Int64, routerID: Int64) throws(StoreFailure) -> Product? {
        try run(
            """
            SELECT \(Self.productColumns) FROM products p
            WHERE p.id = $1 AND p.company_id = $2 AND p.router_id = $3 AND p.active
            """, [String(id), String(companyID), String(routerID)]
        ).first.map(Self.product(from:))
    }

    public func ping() throws(StoreFailure) {
        _ = try run("SELECT 1")
    }
}
