import Domain

/// `hotspotctl report`: sales and outcomes per UTC day, router or product.
extension PostgresStore {
    public enum SalesGrouping: String, Sendable, CaseIterable {
        case day
        case router
        case product
    }

    /// One group's attempts in one currency (amounts in different currencies are never added).
    public struct SalesRow: Sendable, Equatable {
        /// `YYYY-MM-DD` (UTC) by day; the router's or product's id otherwise.
        public var key: String
        /// The router's or product's name; nil by day.
        public var name: String?
        public var currency: String
        public var attempts: Int
        public var delivered: Int
        public var declined: Int
        public var failed: Int
        public var refunded: Int
        /// Attempts not in a final state yet.
        public var inProgress: Int
        /// The delivered attempts' amounts.
        public var grossCents: Int64

        public init(
            key: String, name: String?, currency: String, attempts: Int, delivered: Int, declined: Int, failed: Int,
            refunded: Int, inProgress: Int, grossCents: Int64
        ) {
            self.key = key
            self.name = name
            self.currency = currency
            self.attempts = attempts
            self.delivered = delivered
            self.declined = declined
            self.failed = failed
            self.refunded = refunded
            self.inProgress = inProgress
            self.grossCents = grossCents
        }
    }

    /// The attempts created from the start of `from` to the end of `to` (UTC days, `YYYY-MM-DD`),
    /// grouped, in one aggregate statement over the `created_at` indexes.
    public func salesReport(
        from: String, to: String, by grouping: SalesGrouping, companyID: Int64?
    ) throws(StoreFailure)
        -> [SalesRow]
    {
        try run(Self.salesReportStatement(by: grouping), [from, to, companyID.map(String.init)]).all.map { row in
            SalesRow(
                key: row["key"] ?? "", name: row["name"], currency: row["currency"] ?? "", attempts: row.int("attempts") ?? 0,
                delivered: row.int("delivered") ?? 0, declined: row.int("declined") ?? 0, failed: row.int("failed") ?? 0,
                refunded: row.int("refunded") ?? 0, inProgress: row.int("in_progress") ?? 0,
                grossCents: row.int64("gross_cents") ?? 0)
        }
    }

    static func salesReportStatement(by grouping: SalesGrouping) -> String {
        let key: String
        let name: String
        let join: String
        let order: String
        switch grouping {
        case .day:
            key = "to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            (name, join, order) = ("NULL::text", "", "1")
        case .router:
            key = "a.router_id::text"
            (name, join, order) = ("r.name", "JOIN routers r ON r.id = a.router_id", "a.router_id")
        case .product:
            key = "a.product_id::text"
            (name, join, order) = ("p.name", "JOIN products p ON p.id = a.product_id", "a.product_id")
        }
        return """
            SELECT \(key) AS key, \(name) AS name, a.currency,
                   count(*) AS attempts,
                   count(*) FILTER (WHERE a.state = 'delivered') AS delivered,
                   count(*) FILTER (WHERE a.state = 'declined') AS declined,
                   count(*) FILTER (WHERE a.state = 'failed') AS failed,
                   count(*) FILTER (WHERE a.state = 'refunded') AS refunded,
                   count(*) FILTER (WHERE a.state NOT IN \(finalStates)) AS in_progress,
                   coalesce(sum(a.amount_cents) FILTER (WHERE a.state = 'delivered'), 0) AS gross_cents
            FROM payment_attempts a \(join)
            WHERE a.created_at >= ($1::date::timestamp AT TIME ZONE 'UTC')
              AND a.created_at < (($2::date + 1)::timestamp AT TIME ZONE 'UTC')
              AND ($3::bigint IS NULL OR a.company_id = $3)
            GROUP BY \(key), \(name), \(order), a.currency
            ORDER BY \(order), a.currency
            """
    }
}
