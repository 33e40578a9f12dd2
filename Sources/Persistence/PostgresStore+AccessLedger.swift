import Domain

/// The sweeps of sold users (CONTRACT §11): `router_sweeps` leased like attempts, and the first
/// login and end of each access on its attempt, the end with its timeline event.
extension PostgresStore: AccessLedger {
    public func claimDueSweep(owner: String, leaseSeconds: Int) throws(StoreFailure) -> SweepClaim? {
        // A router added since the last claim gets its row, due at once. The anti-join keeps
        // this a read when every active router has one (nearly always).
        _ = try run(
            """
            INSERT INTO router_sweeps (router_id)
            SELECT r.id FROM routers r
            WHERE r.active AND NOT EXISTS (SELECT 1 FROM router_sweeps s WHERE s.router_id = r.id)
            ON CONFLICT (router_id) DO NOTHING
            """)
        // One due router nobody holds, the one waiting longest; rows another claimer is taking
        // are skipped, not waited for.
        return try run(
            """
            UPDATE router_sweeps SET lease_owner = $1, lease_until = now() + make_interval(secs => $2),
                last_started_at = now()
            WHERE router_id = (
                SELECT s.router_id FROM router_sweeps s JOIN routers r ON r.id = s.router_id
                WHERE r.active AND s.next_sweep_at <= now() AND (s.lease_until IS NULL OR s.lease_until < now())
                ORDER BY s.next_sweep_at
                LIMIT 1
                FOR UPDATE OF s SKIP LOCKED)
            RETURNING router_id, failures
            """, [owner, String(leaseSeconds)]
        ).first.map { SweepClaim(routerID: $0.int64("router_id") ?? 0, failures: $0.int("failures") ?? 0) }
    }

    public func finishSweep(_ claim: SweepClaim, owner: String, outcome: SweepOutcome) throws(StoreFailure) {
        _ = try run(
            """
            UPDATE router_sweeps SET lease_owner = NULL, lease_until = NULL, last_finished_at = now(),
                last_duration_ms = $3, last_users = coalesce($4::int, last_users),
                last_past_end = coalesce($5::int, last_past_end), last_error = $6,
                failures = CASE WHEN $6::text IS NULL THEN 0 ELSE failures + 1 END,
                next_sweep_at = now() + make_interval(secs => $7)
            WHERE router_id = $1 AND lease_owner = $2
            """,
            [
                String(claim.routerID), owner, String(outcome.durationMilliseconds), outcome.users.map(String.init),
                outcome.pastEnd.map(String.init), outcome.error, String(outcome.nextInSeconds),
            ])
    }

    static let accessColumns = """
        a.id::text AS id, a.router_id, a.state, a.hotspot_username, a.product_id, a.product_name, a.limit_uptime,
        a.limit_bytes_total, a.validity_seconds, a.validity_from,
        CASE WHEN a.state = 'delivered' THEN extract(epoch FROM a.finished_at)::bigint END AS delivered_epoch,
        extract(epoch FROM a.first_login_at)::bigint AS first_login_epoch,
        extract(epoch FROM a.access_ended_at)::bigint AS access_ended_epoch, a.access_end_reason
        """

    public func soldAccesses(attemptIDs: [String], routerID: Int64) throws(StoreFailure) -> [SoldAccess] {
        guard !attemptIDs.isEmpty else { return [] }
        // One query for the whole listing; the router's company must be the attempt's too.
        var accesses: [SoldAccess] = []
        for row in try run(
            """
            SELECT \(Self.accessColumns)
            FROM payment_attempts a JOIN routers r ON r.id = a.router_id AND r.company_id = a.company_id
            WHERE a.id = ANY($1::uuid[]) AND a.router_id = $2
            """, [try Self.uuidArray(attemptIDs), String(routerID)]
        ).all {
            accesses.append(try Self.access(from: row))
        }
        return accesses
    }

    public func lapsedAccesses(routerID: Int64, listed: [String], now: Int64, limit: Int) throws(StoreFailure) -> [SoldAccess] {
        // A delivered attempt's finished_at is when it was delivered (finished_at is set when an
        // attempt reaches a final state, and cleared when a report reopens it).
        var accesses: [SoldAccess] = []
        for row in try run(
            """
            SELECT \(Self.accessColumns)
            FROM payment_attempts a
            WHERE a.router_id = $1 AND a.access_ended_at IS NULL
              AND (a.state = 'revoked'
                   OR (a.state = 'delivered' AND a.validity_from = 'purchase' AND a.validity_seconds IS NOT NULL
                       AND a.finished_at + make_interval(secs => a.validity_seconds) <= to_timestamp($3)))
              AND NOT (a.id = ANY($2::uuid[]))
            ORDER BY a.finished_at
            LIMIT $4
            """, [String(routerID), try Self.uuidArray(listed), String(now), String(limit)]
        ).all {
            accesses.append(try Self.access(from: row))
        }
        return accesses
    }

    @discardableResult
    public func recordFirstLogins(_ logins: [FirstLogin]) throws(StoreFailure) -> Int {
        guard !logins.isEmpty else { return 0 }
        return try run(
            """
            UPDATE payment_attempts a SET first_login_at = to_timestamp(f.at)
            FROM unnest($1::uuid[], $2::bigint[]) AS f(id, at)
            WHERE a.id = f.id AND a.first_login_at IS NULL
            """,
            [try Self.uuidArray(logins.map(\.attemptID)), "{" + logins.map { String($0.at) }.joined(separator: ",") + "}"]
        ).affectedRows
    }

    public func recordAccessEnd(attemptID: String, reason: AccessEndReason, at: Int64) throws(StoreFailure) -> Bool {
        // The guard on access_ended_at makes the first caller the only one: two instances that
        // both removed the user record (and count) one end.
        try run(
            """
            WITH ended AS (
                UPDATE payment_attempts SET access_ended_at = to_timestamp($3), access_end_reason = $2
                WHERE id = $1::uuid AND access_ended_at IS NULL
                RETURNING id, state),
            event AS (
                INSERT INTO payment_events (attempt_id, from_state, to_state, reason)
                SELECT id, state, state, 'access ended: ' || $2 FROM ended)
            SELECT id FROM ended
            """, [attemptID, reason.rawValue, String(at)]
        ).count == 1
    }

    static func access(from row: PostgresRow) throws(StoreFailure) -> SoldAccess {
        let id = row["id"] ?? ""
        guard let state = row["state"].flatMap(PaymentAttempt.State.init(rawValue:)) else {
            throw .failed("attempt \(id) has an unreadable row")
        }
        return SoldAccess(
            attemptID: id, routerID: row.int64("router_id") ?? 0, state: state, username: row["hotspot_username"] ?? "",
            productID: row.int64("product_id") ?? 0, productName: row["product_name"] ?? "", limitUptime: row["limit_uptime"],
            limitBytesTotal: row.int64("limit_bytes_total"), validity: validity(from: row),
            deliveredAt: row.int64("delivered_epoch"), firstLoginAt: row.int64("first_login_epoch"),
            endedAt: row.int64("access_ended_epoch"), endReason: row["access_end_reason"].flatMap(AccessEndReason.init(rawValue:)))
    }

    /// A PostgreSQL array literal of attempt ids. Each must be a lowercase UUID (router comments
    /// are checked before they get here), so nothing in it needs quoting.
    static func uuidArray(_ ids: [String]) throws(StoreFailure) -> String {
        for id in ids where PaymentAttempt.attemptID(inComment: PaymentAttempt.commentPrefix + id) != id {
            throw .failed("not an attempt id: \(id.prefix(40))")
        }
        return "{" + ids.joined(separator: ",") + "}"
    }

    // MARK: Operator views

    /// A router's sweep as its row keeps it.
    public struct SweepStatus: Sendable, Equatable {
        public var routerID: Int64
        public var lastUsers: Int?
        public var lastPastEnd: Int?
        public var lastDurationMilliseconds: Int?
        /// UTC, ISO 8601.
        public var lastFinishedAt: String?
        public var nextSweepAt: String
        public var failures: Int
        public var lastError: String?
    }

    /// Every active router's sweep (for the metrics and the operator).
    public func sweepStatuses(routerID: Int64? = nil) throws(StoreFailure) -> [SweepStatus] {
        try run(
            """
            SELECT s.router_id, s.last_users, s.last_past_end, s.last_duration_ms, s.failures, s.last_error,
                   to_char(s.last_finished_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS finished_text,
                   to_char(s.next_sweep_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS next_text
            FROM router_sweeps s JOIN routers r ON r.id = s.router_id
            WHERE r.active AND ($1::bigint IS NULL OR s.router_id = $1)
            ORDER BY s.router_id
            """, [routerID.map(String.init)]
        ).all.map {
            SweepStatus(
                routerID: $0.int64("router_id") ?? 0, lastUsers: $0.int("last_users"), lastPastEnd: $0.int("last_past_end"),
                lastDurationMilliseconds: $0.int("last_duration_ms"), lastFinishedAt: $0["finished_text"],
                nextSweepAt: $0["next_text"] ?? "", failures: $0.int("failures") ?? 0, lastError: $0["last_error"])
        }
    }
}
