import Domain

/// Pay later (CONTRACT §12): claim codes found by their keyed hash within one company's router,
/// failed guesses counted like card testing, the companies' offer, and what the operator lists.
extension PostgresStore {
    public func redeemable(claimCodeHash: String, companyID: Int64, routerID: Int64) throws(StoreFailure) -> RedeemableAttempt? {
        try run(
            """
            SELECT \(Self.attemptColumns),
                   greatest(0, extract(epoch FROM now() - updated_at))::bigint AS idle_seconds,
                   coalesce(lease_until > now(), false) AS leased
            FROM payment_attempts
            WHERE claim_code_hash = $1 AND company_id = $2 AND router_id = $3
            """, [claimCodeHash, String(companyID), String(routerID)]
        ).first.map { row throws(StoreFailure) in
            RedeemableAttempt(
                attempt: try attempt(from: row), idleSeconds: row.int64("idle_seconds") ?? 0, leased: row.bool("leased") ?? false)
        }
    }

    public func failedClaims(
        routerID: Int64, mac: MACAddress?, address: String?, windowSeconds: Int
    ) throws(StoreFailure)
        -> DeclineCounts
    {
        // One count per criterion, each over the window of its own index, the window written into
        // the statement (as `begin`'s declines, `beginStatement`).
        let row = try run(
            """
            SELECT (SELECT count(*) FROM claim_failures
                    WHERE router_id = $1 AND at > now() - make_interval(secs => \(windowSeconds))) AS by_router,
                   (SELECT count(*) FROM claim_failures
                    WHERE client_mac = $2 AND at > now() - make_interval(secs => \(windowSeconds))) AS by_mac,
                   (SELECT count(*) FROM claim_failures
                    WHERE remote_address = $3 AND at > now() - make_interval(secs => \(windowSeconds))) AS by_address
            """, [String(routerID), mac?.value, address]
        ).first
        return DeclineCounts(router: row?.int("by_router") ?? 0, mac: row?.int("by_mac") ?? 0, address: row?.int("by_address") ?? 0)
    }

    public func recordFailedClaim(companyID: Int64, routerID: Int64, mac: MACAddress?, address: String?) throws(StoreFailure) {
        // The router's guesses older than any window are dropped as it gets new ones.
        _ = try run(
            """
            WITH pruned AS (DELETE FROM claim_failures WHERE router_id = $2 AND at < now() - interval '1 day')
            INSERT INTO claim_failures (company_id, router_id, client_mac, remote_address) VALUES ($1, $2, $3, $4)
            """, [String(companyID), String(routerID), mac?.value, address])
    }

    // MARK: The operator's

    /// Sets what a company offers to pay later (nil leaves a setting as it is). False for an
    /// unknown company.
    public func setPayLater(companyID: Int64, methods: Set<PaymentMethod>?, expirySeconds: Int?) throws(StoreFailure) -> Bool {
        let list = methods.map { "{" + $0.filter(\.isPayLater).map(\.rawValue).sorted().joined(separator: ",") + "}" }
        return try run(
            """
            UPDATE companies SET pay_later_methods = coalesce($2::text[], pay_later_methods),
                pay_later_expiry_seconds = coalesce($3::int, pay_later_expiry_seconds)
            WHERE id = $1
            """, [String(companyID), list, expirySeconds.map(String.init)]
        ).affectedRows == 1
    }

    /// Pay-later attempts not delivered yet (waiting for their money, or paid with their user
    /// being made), the soonest to expire first.
    public func pendingPayLater(limit: Int, companyID: Int64?) throws(StoreFailure) -> [AttemptSummary] {
        var out: [AttemptSummary] = []
        for row in try run(
            """
            SELECT \(Self.summaryColumns) FROM payment_attempts
            WHERE finished_at IS NULL AND state IN ('awaiting_payment', 'provisioning')
              AND ($1::bigint IS NULL OR company_id = $1)
            ORDER BY pay_later_expires_at NULLS LAST, created_at LIMIT $2
            """, [companyID.map(String.init), String(limit)]
        ).all {
            out.append(try summary(from: row))
        }
        return out
    }

    /// The offer stored for a company row (`pay_later_methods` as PostgreSQL prints a text array).
    static func payLater(from row: PostgresRow) -> PayLaterSettings {
        let list = (row["pay_later_methods"] ?? "{}").filter { $0 != "{" && $0 != "}" }
        let methods = Set(list.split(separator: ",").compactMap { PaymentMethod(rawValue: String($0)) })
        return PayLaterSettings(
            methods: methods, expirySeconds: row.int("pay_later_expiry_seconds") ?? PayLaterSettings.defaultExpirySeconds)
    }
}
