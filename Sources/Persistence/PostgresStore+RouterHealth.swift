import Domain
import JSON

/// Routers' checks (CONTRACT §13): `router_checks`, leased like sweeps, with each router's last
/// outcome for `hotspotctl router list` and the health metric.
extension PostgresStore: RouterHealthLedger {
    public func claimDueRouterCheck(owner: String, leaseSeconds: Int) throws(StoreFailure) -> Int64? {
        // A router added since the last claim gets its row, due at once; the anti-join keeps this
        // a read when every active router has one.
        _ = try run(
            """
            INSERT INTO router_checks (router_id)
            SELECT r.id FROM routers r
            WHERE r.active AND NOT EXISTS (SELECT 1 FROM router_checks c WHERE c.router_id = r.id)
            ON CONFLICT (router_id) DO NOTHING
            """)
        return try run(
            """
            UPDATE router_checks SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
            WHERE router_id = (
                SELECT c.router_id FROM router_checks c JOIN routers r ON r.id = c.router_id
                WHERE r.active AND c.next_check_at <= now() AND (c.lease_until IS NULL OR c.lease_until < now())
                ORDER BY c.next_check_at
                LIMIT 1
                FOR UPDATE OF c SKIP LOCKED)
            RETURNING router_id
            """, [owner, String(leaseSeconds)]
        ).first?.int64("router_id")
    }

    public func routerCheckTarget(routerID: Int64) throws(StoreFailure) -> RouterChecker.Target? {
        guard let endpoint = try routerEndpoint(routerID: routerID) else { return nil }
        return RouterChecker.Target(endpoint: endpoint, products: try products(companyID: nil, routerID: routerID))
    }

    /// Keeps a check's outcome. With `nextInSeconds` (the server's periodic check) it also ends
    /// `checkedBy`'s lease and schedules the next; without (`hotspotctl`), the schedule is kept.
    public func recordRouterHealth(_ health: RouterHealth, checkedBy: String, nextInSeconds: Int?) throws(StoreFailure) {
        let record = health.record
        let checks = JSONValue.array(
            record.checks.map {
                .object([("check", .string($0.check.rawValue)), ("status", .string($0.status.rawValue)), ("code", .string($0.code))])
            })
        _ = try run(
            """
            INSERT INTO router_checks AS c (router_id, checked_at, checked_by, status, checks, next_check_at)
            VALUES ($1, to_timestamp($2), $3, $4, $5::jsonb, now() + make_interval(secs => coalesce($6::int, 0)))
            ON CONFLICT (router_id) DO UPDATE SET
                checked_at = excluded.checked_at, checked_by = excluded.checked_by, status = excluded.status,
                checks = excluded.checks,
                next_check_at = CASE WHEN $6::int IS NULL THEN c.next_check_at ELSE excluded.next_check_at END,
                lease_owner = CASE WHEN c.lease_owner = $3 THEN NULL ELSE c.lease_owner END,
                lease_until = CASE WHEN c.lease_owner = $3 THEN NULL ELSE c.lease_until END
            """,
            [
                String(health.routerID), String(health.checkedAt), checkedBy, record.status.rawValue,
                String(decoding: checks.serialized(), as: UTF8.self), nextInSeconds.map(String.init),
            ])
    }

    /// The last check of every router checked so far (or of one); only active routers' for the
    /// metrics.
    public func routerHealthRecords(routerID: Int64? = nil, activeOnly: Bool = false) throws(StoreFailure) -> [RouterHealthRecord] {
        try run(
            """
            SELECT c.router_id, extract(epoch FROM c.checked_at)::bigint AS checked_epoch, c.checked_by, c.checks::text AS checks
            FROM router_checks c JOIN routers r ON r.id = c.router_id
            WHERE c.checked_at IS NOT NULL AND ($1::bigint IS NULL OR c.router_id = $1) AND (r.active OR NOT $2::boolean)
            ORDER BY c.router_id
            """, [routerID.map(String.init), activeOnly ? "true" : "false"]
        ).all.map { row in
            RouterHealthRecord(
                routerID: row.int64("router_id") ?? 0, checkedAt: row.int64("checked_epoch") ?? 0,
                checks: Self.checkEntries(row["checks"] ?? "[]"), checkedBy: row["checked_by"])
        }
    }

    /// The stored checks; entries this version does not know are left out.
    static func checkEntries(_ text: String) -> [RouterHealthRecord.Entry] {
        guard case .array(let items)? = try? JSONParser.parse(Array(text.utf8)) else { return [] }
        return items.compactMap { item in
            guard let check = item["check"]?.stringValue.flatMap(RouterCheck.init(rawValue:)),
                let status = item["status"]?.stringValue.flatMap(RouterCheckStatus.init(rawValue:))
            else { return nil }
            return RouterHealthRecord.Entry(check: check, status: status, code: item["code"]?.stringValue ?? "")
        }
    }
}
