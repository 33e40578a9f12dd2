import Domain
import JSON

/// What the operator command writes and lists. Secrets are sealed before they reach SQL.
extension PostgresStore {
    public struct RouterRow: Sendable {
        public var router: Router
        public var restURL: String
        public var apiUser: String
        public var trust: RouterEndpoint.Trust
        public var hotspotServer: String
    }

    public struct APIKeyRow: Sendable {
        public var keyID: String
        public var companyID: Int64
        public var routerID: Int64
        public var label: String?
        public var issuedAt: String
        public var expiresAt: String?
        public var revokedAt: String?
    }

    // MARK: Companies

    public func addCompany(name: String, contactEmail: String?, contactPhone: String?) throws(StoreFailure) -> Int64 {
        let rows = try run(
            "INSERT INTO companies (name, contact_email, contact_phone) VALUES ($1, $2, $3) RETURNING id",
            [name, contactEmail, contactPhone])
        return rows.first?.int64("id") ?? 0
    }

    public func companies() throws(StoreFailure) -> [Company] {
        try run("SELECT \(Self.companyColumns) FROM companies c ORDER BY c.id").all.map(Self.company(from:))
    }

    public func company(id: Int64) throws(StoreFailure) -> Company? {
        try run("SELECT \(Self.companyColumns) FROM companies c WHERE c.id = $1", [String(id)]).first.map(Self.company(from:))
    }

    /// Sets the company's Conekta keys; the private key is sealed. Returns false for an unknown company.
    public func setConektaKeys(companyID: Int64, publicKey: String, privateKey: String) throws(StoreFailure) -> Bool {
        let sealed = sealer.seal(privateKey, context: "company:\(companyID):conekta")
        return try run(
            "UPDATE companies SET conekta_public_key = $2, conekta_private_key = $3 WHERE id = $1",
            [String(companyID), publicKey, PostgresBytes.encode(sealed)]
        ).affectedRows == 1
    }

    /// The company's Conekta private key, opened; nil when none is set.
    public func conektaPrivateKey(companyID: Int64) throws(StoreFailure) -> GatewayKey? {
        guard let row = try run("SELECT conekta_private_key FROM companies WHERE id = $1", [String(companyID)]).first,
            let sealed = row.bytes("conekta_private_key")
        else { return nil }
        do {
            return GatewayKey(privateKey: try sealer.open(sealed, context: "company:\(companyID):conekta"))
        } catch {
            throw .failed("the Conekta key of company \(companyID) does not open with this secrets key")
        }
    }

    public func setCompanyActive(id: Int64, active: Bool) throws(StoreFailure) -> Bool {
        try run("UPDATE companies SET active = $2 WHERE id = $1", [String(id), active ? "true" : "false"]).affectedRows == 1
    }

    // MARK: Routers

    public func addRouter(
        companyID: Int64, name: String, location: String?, restURL: String, apiUser: String, apiPassword: String,
        trust: RouterEndpoint.Trust, hotspotServer: String
    ) throws(StoreFailure) -> Int64 {
        var caFile: String?
        var pin: String?
        var insecure = false
        switch trust {
        case .caFile(let path): caFile = path
        case .pinnedPublicKey(let value): pin = value
        case .insecure: insecure = true
        }
        return try withConnection { (connection) throws(PostgresError) -> Int64 in
            try connection.transaction { () throws(PostgresError) -> Int64 in
                let id =
                    try connection.query(
                        """
                        INSERT INTO routers (company_id, name, location, rest_url, api_user, api_password,
                                             tls_ca_file, tls_pinned_key, tls_insecure, hotspot_server)
                        VALUES ($1, $2, $3, $4, $5, '\\x', $6, $7, $8, $9) RETURNING id
                        """,
                        [
                            String(companyID), name, location, restURL, apiUser, caFile, pin, insecure ? "true" : "false",
                            hotspotServer,
                        ]
                    ).first?.int64("id") ?? 0
                let sealed = sealer.seal(apiPassword, context: "router:\(id):password")
                try connection.query("UPDATE routers SET api_password = $2 WHERE id = $1", [String(id), PostgresBytes.encode(sealed)])
                return id
            }
        }
    }

    public func routers(companyID: Int64?) throws(StoreFailure) -> [RouterRow] {
        try run(
            """
            SELECT id, company_id, name, location, active, rest_url, api_user, tls_ca_file, tls_pinned_key,
                   tls_insecure, hotspot_server
            FROM routers WHERE $1::bigint IS NULL OR company_id = $1 ORDER BY id
            """, [companyID.map(String.init)]
        ).all.map { row in
            RouterRow(
                router: Router(
                    id: row.int64("id") ?? 0, companyID: row.int64("company_id") ?? 0, name: row["name"] ?? "",
                    location: row["location"], active: row.bool("active") ?? false),
                restURL: row["rest_url"] ?? "",
                apiUser: row["api_user"] ?? "",
                trust: Self.trust(from: row),
                hotspotServer: row["hotspot_server"] ?? "all")
        }
    }

    /// How to reach a router, with its password opened.
    public func routerEndpoint(routerID: Int64) throws(StoreFailure) -> RouterEndpoint? {
        guard
            let row = try run(
                """
                SELECT id, rest_url, api_user, api_password, tls_ca_file, tls_pinned_key, tls_insecure, hotspot_server
                FROM routers WHERE id = $1
                """, [String(routerID)]
            ).first, let sealed = row.bytes("api_password")
        else { return nil }
        let password: String
        do {
            password = try sealer.open(sealed, context: "router:\(routerID):password")
        } catch {
            throw .failed("the password of router \(routerID) does not open with this secrets key")
        }
        return RouterEndpoint(
            routerID: routerID, baseURL: row["rest_url"] ?? "", user: row["api_user"] ?? "", password: password,
            trust: Self.trust(from: row), hotspotServer: row["hotspot_server"] ?? "all")
    }

    /// What `hotspotctl router set` changes; nil leaves a field as it is.
    public struct RouterChanges: Sendable, Equatable {
        public var restURL: String?
        public var apiUser: String?
        public var apiPassword: String?
        public var trust: RouterEndpoint.Trust?
        public var hotspotServer: String?

        public init(
            restURL: String? = nil, apiUser: String? = nil, apiPassword: String? = nil, trust: RouterEndpoint.Trust? = nil,
            hotspotServer: String? = nil
        ) {
            self.restURL = restURL
            self.apiUser = apiUser
            self.apiPassword = apiPassword
            self.trust = trust
            self.hotspotServer = hotspotServer
        }
    }

    /// Changes how a router is reached (the password sealed for its row); false for an unknown router.
    public func updateRouter(id: Int64, _ changes: RouterChanges) throws(StoreFailure) -> Bool {
        var caFile: String?
        var pin: String?
        var insecure: String?
        switch changes.trust {
        case .caFile(let path)?: (caFile, insecure) = (path, "false")
        case .pinnedPublicKey(let value)?: (pin, insecure) = (value, "false")
        case .insecure?: insecure = "true"
        case nil: break
        }
        let sealed = changes.apiPassword.map { PostgresBytes.encode(sealer.seal($0, context: "router:\(id):password")) }
        return try run(
            """
            UPDATE routers SET rest_url = coalesce($2, rest_url), api_user = coalesce($3, api_user),
                api_password = coalesce($4::bytea, api_password), hotspot_server = coalesce($5, hotspot_server),
                tls_ca_file = CASE WHEN $8::boolean IS NULL THEN tls_ca_file ELSE $6 END,
                tls_pinned_key = CASE WHEN $8::boolean IS NULL THEN tls_pinned_key ELSE $7 END,
                tls_insecure = coalesce($8::boolean, tls_insecure)
            WHERE id = $1
            """,
            [String(id), changes.restURL, changes.apiUser, sealed, changes.hotspotServer, caFile, pin, insecure]
        ).affectedRows == 1
    }

    public func setRouterActive(id: Int64, active: Bool) throws(StoreFailure) -> Bool {
        try run("UPDATE routers SET active = $2 WHERE id = $1", [String(id), active ? "true" : "false"]).affectedRows == 1
    }

    static func trust(from row: PostgresRow) -> RouterEndpoint.Trust {
        if let pin = row["tls_pinned_key"] { return .pinnedPublicKey(pin) }
        if let ca = row["tls_ca_file"] { return .caFile(ca) }
        return .insecure
    }

    // MARK: Products

    public func addProduct(_ product: Product) throws(StoreFailure) -> Int64 {
        let details = JSONValue.array(product.details.map { .string($0) }).serialized()
        return try run(
            """
            INSERT INTO products (company_id, router_id, name, description, price_cents, currency, profile_name,
                                  limit_uptime, limit_bytes_total, details, image_url, featured, display_order, active,
                                  validity_seconds, validity_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15, coalesce($16, 'first_login'))
            RETURNING id
            """,
            [
                String(product.companyID), String(product.routerID), product.name, product.description,
                String(product.price.cents), product.price.currency, product.profileName, product.limitUptime,
                product.limitBytesTotal.map(String.init), String(decoding: details, as: UTF8.self), product.imageURL,
                product.featured ? "true" : "false", String(product.displayOrder), product.active ? "true" : "false",
                product.validity.map { String($0.seconds) }, product.validity?.from.rawValue,
            ]
        ).first?.int64("id") ?? 0
    }

    /// What `hotspotctl product set` changes: each field that is set replaces the product's; a
    /// field set to nil clears it. Sales made before keep what they sold.
    public struct ProductChanges: Sendable, Equatable {
        public var name: String?
        /// The new price, in the product's currency.
        public var priceCents: Int64?
        public var limitUptime: String??
        public var limitBytesTotal: Int64??
        public var validity: AccessValidity??
        public var displayOrder: Int?

        public init() {}

        public var isEmpty: Bool { self == ProductChanges() }
    }

    /// Applies `changes` to a product; false when there is no such product.
    public func updateProduct(id: Int64, _ changes: ProductChanges) throws(StoreFailure) -> Bool {
        var assignments: [String] = []
        var parameters: [String?] = [String(id)]
        func set(_ column: String, _ value: String?, cast: String = "") {
            parameters.append(value)
            assignments.append("\(column) = $\(parameters.count)\(cast)")
        }
        if let name = changes.name { set("name", name) }
        if let cents = changes.priceCents { set("price_cents", String(cents), cast: "::bigint") }
        if let uptime = changes.limitUptime { set("limit_uptime", uptime) }
        if let bytes = changes.limitBytesTotal { set("limit_bytes_total", bytes.map(String.init), cast: "::bigint") }
        if let validity = changes.validity {
            set("validity_seconds", validity.map { String($0.seconds) }, cast: "::bigint")
            // The start stays as it was when the validity is cleared.
            if let validity { set("validity_from", validity.from.rawValue) }
        }
        if let order = changes.displayOrder { set("display_order", String(order), cast: "::int") }
        guard !assignments.isEmpty else {
            return try run("SELECT 1 FROM products WHERE id = $1", parameters).count == 1
        }
        return try run("UPDATE products SET \(assignments.joined(separator: ", ")) WHERE id = $1", parameters).affectedRows == 1
    }

    public func products(companyID: Int64?, routerID: Int64?) throws(StoreFailure) -> [Product] {
        try run(
            """
            SELECT \(Self.productColumns) FROM products p
            WHERE ($1::bigint IS NULL OR p.company_id = $1) AND ($2::bigint IS NULL OR p.router_id = $2)
            ORDER BY p.router_id, p.display_order, p.id
            """, [companyID.map(String.init), routerID.map(String.init)]
        ).all.map(Self.product(from:))
    }

    /// One product, active or not; nil when there is no such product.
    public func product(id: Int64) throws(StoreFailure) -> Product? {
        try run("SELECT \(Self.productColumns) FROM products p WHERE p.id = $1", [String(id)]).first.map(Self.product(from:))
    }

    public func setProductActive(id: Int64, active: Bool) throws(StoreFailure) -> Bool {
        try run("UPDATE products SET active = $2 WHERE id = $1", [String(id), active ? "true" : "false"]).affectedRows == 1
    }

    // MARK: API keys

    public func addAPIKey(
        keyID: String, companyID: Int64, routerID: Int64, fingerprint: String, label: String?, issuedAt: Int64, expiresAt: Int64?
    ) throws(StoreFailure) {
        _ = try run(
            """
            INSERT INTO api_keys (id, company_id, router_id, fingerprint, label, issued_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($7))
            """,
            [keyID, String(companyID), String(routerID), fingerprint, label, String(issuedAt), expiresAt.map(String.init)])
    }

    public func revokeAPIKey(keyID: String) throws(StoreFailure) -> Bool {
        try run("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [keyID]).affectedRows == 1
    }

    public func apiKeys(routerID: Int64?) throws(StoreFailure) -> [APIKeyRow] {
        try run(
            """
            SELECT id, company_id, router_id, label, to_char(issued_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS issued_at,
                   to_char(expires_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_at,
                   to_char(revoked_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS revoked_at
            FROM api_keys WHERE $1::bigint IS NULL OR router_id = $1 ORDER BY issued_at, id
            """, [routerID.map(String.init)]
        ).all.map { row in
            APIKeyRow(
                keyID: row["id"] ?? "", companyID: row.int64("company_id") ?? 0, routerID: row.int64("router_id") ?? 0,
                label: row["label"], issuedAt: row["issued_at"] ?? "", expiresAt: row["expires_at"], revokedAt: row["revoked_at"])
        }
    }
}
