import Domain

/// The saga's ledger in `payment_attempts` and `payment_events`. Each call is one statement (data-
/// modifying CTEs keep the attempt and its timeline in step), so each commits on its own.
extension PostgresStore: PaymentLedger {
    static let attemptColumns = """
        id::text AS id, company_id, router_id, product_id, api_key_id, idempotency_key, request_hash, state, reason,
        amount_cents, currency, product_name, profile_name, limit_uptime, limit_bytes_total, customer_name, customer_email,
        customer_phone, user_type, hotspot_username, hotspot_password, client_mac, client_ip, auto_connect, router_user_id,
        order_id, card_brand, card_last4, extract(epoch FROM created_at)::bigint AS created_epoch, request_id,
        response_codigo AS answered_codigo, extract(epoch FROM charge_sent_at)::bigint AS charge_sent_epoch,
        validity_seconds, validity_from, extract(epoch FROM first_login_at)::bigint AS first_login_epoch,
        extract(epoch FROM access_ended_at)::bigint AS access_ended_epoch, access_end_reason,
        payment_method, claim_code_hash, pay_later_reference, pay_later_barcode_url, pay_later_clabe, pay_later_bank,
        extract(epoch FROM pay_later_expires_at)::bigint AS pay_later_expires_epoch
        """

    static let finalStates = "('delivered','declined','failed','refunded','revoked','expired')"

    /// `begin`'s statement: the attempt and its first event, and with a window the declines of
    /// its last `window` seconds (the card-testing limits) in the same round trip; the statement's
    /// snapshot does not see the row it inserts. One count per criterion, each an index-only scan
    /// of its own partial index of declines (migration 9) over the window: combined with OR, the
    /// planner may pick one index for all three and read it from the start (every decline ever
    /// recorded of a busy router), or every attempt of the window from the table. The window is
    /// written into the statement, not bound: it is the process's for every call, and as a
    /// parameter the plan kept for all calls would take it for a third of the table, so
    /// PostgreSQL would plan the statement again on every call (docs/sources.md P1).
    static func beginStatement(declineWindowSeconds window: Int?) -> String {
        var counts = ""
        if let window {
            for (column, parameter, name) in [
                ("router_id", "$3", "by_router"), ("client_mac", "$20", "by_mac"), ("remote_address", "$27", "by_address"),
            ] {
                counts += """
                    ,
                        (SELECT count(*) FROM payment_attempts
                         WHERE \(column) = \(parameter) AND state IN ('declining', 'declined')
                           AND created_at > now() - make_interval(secs => \(window))) AS \(name)
                    """
            }
        }
        return """
            WITH inserted AS (
                INSERT INTO payment_attempts (
                    id, company_id, router_id, product_id, api_key_id, idempotency_key, request_hash, state, reason,
                    amount_cents, currency, product_name, profile_name, limit_uptime, limit_bytes_total, customer_name,
                    customer_email, customer_phone, user_type, hotspot_username, hotspot_password, client_mac, client_ip,
                    auto_connect, request_id, lease_owner, lease_until, created_at, remote_address, validity_seconds,
                    validity_from, payment_method, claim_code_hash, pay_later_expires_at)
                VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, 'pending', 'recorded', $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                        $18, $19, $20, $21, $22, $23, $24, now() + make_interval(secs => $25), to_timestamp($26), $27,
                        $28::bigint, $29, $30, $31, to_timestamp($32::bigint))
                ON CONFLICT (company_id, idempotency_key) DO NOTHING
                RETURNING id),
            event AS (
                INSERT INTO payment_events (attempt_id, from_state, to_state, reason)
                SELECT id, NULL, 'pending', 'recorded' FROM inserted)
            SELECT inserted.id\(counts)
            FROM inserted
            """
    }

    public func begin(
        _ attempt: PaymentAttempt, owner: String, leaseSeconds: Int, declineWindowSeconds: Int?
    ) throws(StoreFailure) -> LedgerBegin {
        let password = sealedPassword(of: attempt)
        let statement: String
        if let cached = cachedBeginStatement, cached.window == declineWindowSeconds {
            statement = cached.sql
        } else {
            statement = Self.beginStatement(declineWindowSeconds: declineWindowSeconds)
            cachedBeginStatement = (declineWindowSeconds, statement)
        }
        let inserted = try run(
            statement,
            [
                attempt.id, String(attempt.companyID), String(attempt.routerID), String(attempt.productID), attempt.apiKeyID,
                attempt.idempotencyKey, attempt.requestHash, String(attempt.amount.cents), attempt.amount.currency,
                attempt.productName, attempt.profileName, attempt.limitUptime, attempt.limitBytesTotal.map(String.init),
                attempt.customerName, attempt.customerEmail, attempt.customerPhone, attempt.userType.rawValue,
                attempt.credentials.username, password, attempt.mac?.value, attempt.ip?.value, attempt.autoConnect ? "true" : "false",
                attempt.requestID, owner, String(leaseSeconds), String(attempt.createdAt), attempt.remoteAddress,
                attempt.validity.map { String($0.seconds) }, attempt.validity?.from.rawValue, attempt.method.rawValue,
                attempt.claimCodeHash, attempt.payLaterExpiresAt.map(String.init),
            ])
        if let row = inserted.first {
            guard declineWindowSeconds != nil else { return .started(recentDeclines: nil) }
            return .started(
                recentDeclines: DeclineCounts(
                    router: row.int("by_router") ?? 0, mac: row.int("by_mac") ?? 0, address: row.int("by_address") ?? 0))
        }

        guard
            let row = try run(
                """
                SELECT \(Self.attemptColumns), response_status, response_body, response_codigo,
                       coalesce(lease_until > now(), false) AS lease_active
                FROM payment_attempts WHERE company_id = $1 AND idempotency_key = $2
                """, [String(attempt.companyID), attempt.idempotencyKey]
            ).first
        else { throw .failed("an attempt conflicted on its idempotency key but cannot be read") }
        let existing = try self.attempt(from: row)
        var response: StoredResponse?
        if let status = row.int("response_status"), let sealed = row.bytes("response_body") {
            do {
                let body = try sealer.openBytes(sealed, context: "attempt:\(existing.id):response")
                response = StoredResponse(status: status, body: body, codigo: row["response_codigo"] ?? "")
            } catch {
                throw .failed("the stored response of attempt \(existing.id) does not open with this secrets key")
            }
        }
        return .existing(existing, response: response, leaseActive: row.bool("lease_active") ?? false)
    }

    public func save(_ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?) throws(StoreFailure) -> Bool {
        try advance(attempt, expecting: expecting, reason: reason, Self.saveStatement)
    }

    public func conclude(
        _ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?, storing response: StoredResponse?,
        retry: RetrySchedule
    ) throws(StoreFailure) -> Bool {
        let sealed = response.map { PostgresBytes.encode(sealer.seal(bytes: $0.body, context: "attempt:\(attempt.id):response")) }
        return try advance(
            attempt, expecting: expecting, reason: reason, Self.concludeStatement,
            [
                String(retry.baseSeconds), sealed, response.map { String($0.status) }, response?.codigo, String(retry.ceilingSeconds),
                retry.latest.map(String.init),
            ])
    }

    /// When an unfinished attempt is due again: `base × 2^tries` seconds from now (`tries`: the
    /// count before this one), at most `ceiling`, and no later than `latest` (unix seconds) when
    /// one is given: the SQL of `RetrySchedule.nextTry`, over parameters `$base`, `$ceiling` and
    /// `$latest`.
    static func nextRetry(base: String, ceiling: String, latest: String) -> String {
        """
        least(now() + make_interval(secs => least(\(base) * power(2, least(retry_count, 16)), \(ceiling))),
                          coalesce(to_timestamp(\(latest)::bigint), 'infinity'))
        """
    }

    /// Moves an attempt from `expecting` to its state, with its timeline event: $1–$16 as
    /// `advance` binds them, then `more` set from $17 on. The pay-later fields are written once
    /// known and never cleared.
    private static func advanceStatement(setting more: String = "") -> String {
        """
        WITH updated AS (
            UPDATE payment_attempts SET
                state = $2, reason = $3, router_user_id = $4, order_id = $5, card_brand = $6, card_last4 = $7,
                hotspot_username = $8, hotspot_password = $9, updated_at = now(),
                finished_at = CASE WHEN $2 IN \(finalStates) THEN coalesce(finished_at, now()) ELSE NULL END,
                charge_sent_at = CASE WHEN $2 = 'charging' AND $10 <> 'charging' THEN now() ELSE charge_sent_at END,
                claim_code_hash = coalesce($11, claim_code_hash), pay_later_reference = coalesce($12, pay_later_reference),
                pay_later_barcode_url = coalesce($13, pay_later_barcode_url), pay_later_clabe = coalesce($14, pay_later_clabe),
                pay_later_bank = coalesce($15, pay_later_bank),
                pay_later_expires_at = coalesce(to_timestamp($16::bigint), pay_later_expires_at)\(more)
            WHERE id = $1::uuid AND state = $10
            RETURNING id),
        event AS (
            INSERT INTO payment_events (attempt_id, from_state, to_state, reason)
            SELECT id, $10, $2, $3 FROM updated WHERE $10 <> $2)
        SELECT id FROM updated
        """
    }

    static let saveStatement = advanceStatement()

    /// `save` and `release` in one statement: one row version and one round trip fewer for every
    /// run's end. Unfinished attempts come back as `release` schedules them.
    static let concludeStatement = advanceStatement(
        setting: """
            ,
                lease_owner = NULL, lease_until = NULL,
                retry_count = CASE WHEN $2 IN \(finalStates) THEN retry_count ELSE retry_count + 1 END,
                next_retry_at = CASE WHEN $2 NOT IN \(finalStates)
                    THEN \(nextRetry(base: "$17", ceiling: "$21", latest: "$22")) END,
                response_status = CASE WHEN response_body IS NULL AND $18::bytea IS NOT NULL THEN $19::int ELSE response_status END,
                response_codigo = CASE WHEN response_body IS NULL AND $18::bytea IS NOT NULL THEN $20 ELSE response_codigo END,
                response_body = coalesce(response_body, $18::bytea)
            """)

    private func advance(
        _ attempt: PaymentAttempt, expecting: PaymentAttempt.State, reason: String?, _ statement: String, _ more: [String?] = []
    ) throws(StoreFailure) -> Bool {
        let rows = try run(
            statement,
            [
                attempt.id, attempt.state.rawValue, reason, attempt.routerUserID, attempt.orderID, attempt.cardBrand,
                attempt.cardLast4, attempt.credentials.username, sealedPassword(of: attempt), expecting.rawValue,
                attempt.claimCodeHash, attempt.instructions?.reference, attempt.instructions?.barcodeURL,
                attempt.instructions?.clabe, attempt.instructions?.bank, attempt.payLaterExpiresAt.map(String.init),
            ] + more)
        return rows.count == 1
    }

    public func storeResponse(attemptID: String, _ response: StoredResponse) throws(StoreFailure) {
        let sealed = PostgresBytes.encode(sealer.seal(bytes: response.body, context: "attempt:\(attemptID):response"))
        _ = try run(
            """
            UPDATE payment_attempts SET response_status = $2, response_body = $3, response_codigo = $4, updated_at = now()
            WHERE id = $1::uuid AND response_body IS NULL
            """, [attemptID, String(response.status), sealed, response.codigo])
    }

    public func release(attemptID: String, storing response: StoredResponse?, retry: RetrySchedule) throws(StoreFailure) {
        let sealed = response.map { PostgresBytes.encode(sealer.seal(bytes: $0.body, context: "attempt:\(attemptID):response")) }
        // Unfinished attempts come back with a growing delay (base × 2^tries, at most the
        // schedule's ceiling: after an outage the backlog must drain in seconds, not minutes,
        // docs/convergence.md). A stored response is never replaced (the first final answer is
        // the one every retry gets).
        _ = try run(
            """
            UPDATE payment_attempts SET lease_owner = NULL, lease_until = NULL,
                retry_count = CASE WHEN finished_at IS NULL THEN retry_count + 1 ELSE retry_count END,
                next_retry_at = CASE WHEN finished_at IS NULL
                    THEN \(Self.nextRetry(base: "$2", ceiling: "$6", latest: "$7")) END,
                response_status = CASE WHEN response_body IS NULL AND $3::bytea IS NOT NULL THEN $4::int ELSE response_status END,
                response_codigo = CASE WHEN response_body IS NULL AND $3::bytea IS NOT NULL THEN $5 ELSE response_codigo END,
                response_body = coalesce(response_body, $3::bytea),
                updated_at = now()
            WHERE id = $1::uuid
            """,
            [
                attemptID, String(retry.baseSeconds), sealed, response.map { String($0.status) }, response?.codigo,
                String(retry.ceilingSeconds), retry.latest.map(String.init),
            ])
    }

    public func renewLease(attemptID: String, owner: String, leaseSeconds: Int) throws(StoreFailure) -> Bool {
        try run(
            """
            UPDATE payment_attempts SET lease_until = now() + make_interval(secs => $3)
            WHERE id = $1::uuid AND lease_owner = $2
            """, [attemptID, owner, String(leaseSeconds)]
        ).affectedRows == 1
    }

    public func claim(
        attemptID: String, owner: String, leaseSeconds: Int, includingFinished: Bool
    ) throws(StoreFailure) -> PaymentAttempt? {
        // A final attempt stays final however long its lease is held: only a save of a non-final
        // state reopens it (`advanceStatement` clears finished_at; next_retry_at of a final row is
        // NULL, so the reconciler finds it due as soon as the lease ends).
        try run(
            """
            UPDATE payment_attempts SET lease_owner = $2, lease_until = now() + make_interval(secs => $3)
            WHERE id = $1::uuid AND (lease_until IS NULL OR lease_until < now())
              AND ($4::boolean OR finished_at IS NULL OR response_body IS NULL)
            RETURNING \(Self.attemptColumns)
            """, [attemptID, owner, String(leaseSeconds), includingFinished ? "true" : "false"]
        ).first.map { row throws(StoreFailure) in try attempt(from: row) }
    }

    public func claimDue(_ claim: DueClaim, owner: String, leaseSeconds: Int) throws(StoreFailure) -> [PaymentAttempt] {
        let rows: PostgresRows
        if claim.perRouter == nil, claim.allowances.isEmpty {
            rows = try run(
                """
                UPDATE payment_attempts SET lease_owner = $1, lease_until = now() + make_interval(secs => $3)
                WHERE id IN (
                    SELECT id FROM payment_attempts
                    WHERE finished_at IS NULL AND (lease_until IS NULL OR lease_until < now())
                      AND (next_retry_at IS NULL OR next_retry_at <= now())
                    ORDER BY next_retry_at NULLS FIRST
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED)
                RETURNING \(Self.attemptColumns)
                """, [owner, String(claim.limit), String(leaseSeconds)])
        } else {
            // The due rows are locked first (a window function cannot be), several times the
            // claim's size so that a router at its allowance leaves room for others; routers with
            // no allowance left are not even read. The locks of rows read and not taken end with
            // the statement.
            let excluded = claim.allowances.filter { $0.value <= 0 }.keys.sorted()
            let limited = claim.allowances.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            rows = try run(
                """
                WITH due AS (
                    SELECT id, router_id, next_retry_at FROM payment_attempts
                    WHERE finished_at IS NULL AND (lease_until IS NULL OR lease_until < now())
                      AND (next_retry_at IS NULL OR next_retry_at <= now())
                      AND router_id <> ALL($4::bigint[])
                    ORDER BY next_retry_at NULLS FIRST
                    LIMIT $5
                    FOR UPDATE SKIP LOCKED),
                ranked AS (
                    SELECT due.id, due.next_retry_at, coalesce(allowed.n, $6::int) AS allowance,
                           row_number() OVER (PARTITION BY due.router_id ORDER BY due.next_retry_at NULLS FIRST) AS rank
                    FROM due LEFT JOIN unnest($7::bigint[], $8::int[]) AS allowed(router_id, n) USING (router_id))
                UPDATE payment_attempts SET lease_owner = $1, lease_until = now() + make_interval(secs => $3)
                WHERE id IN (SELECT id FROM ranked WHERE rank <= allowance ORDER BY next_retry_at NULLS FIRST LIMIT $2)
                RETURNING \(Self.attemptColumns)
                """,
                [
                    owner, String(claim.limit), String(leaseSeconds), Self.arrayLiteral(excluded.map(String.init)),
                    String(claim.perRouter == nil ? claim.limit : claim.limit * 4), String(claim.perRouter ?? claim.limit),
                    Self.arrayLiteral(limited.map { String($0.key) }), Self.arrayLiteral(limited.map { String($0.value) }),
                ])
        }
        var claimed: [PaymentAttempt] = []
        for row in rows.all {
            claimed.append(try attempt(from: row))
        }
        return claimed
    }

    public func postpone(attemptIDs: [String], owner: String, seconds: Int) throws(StoreFailure) {
        guard !attemptIDs.isEmpty else { return }
        _ = try run(
            """
            UPDATE payment_attempts SET lease_owner = NULL, lease_until = NULL,
                next_retry_at = now() + make_interval(secs => $3), updated_at = now()
            WHERE id = ANY($1::uuid[]) AND lease_owner = $2 AND finished_at IS NULL
            """, [Self.arrayLiteral(attemptIDs), owner, String(seconds)])
    }

    /// A PostgreSQL array literal of plain values (numbers, UUIDs: nothing to quote).
    static func arrayLiteral(_ values: [String]) -> String { "{" + values.joined(separator: ",") + "}" }

    func attempt(from row: PostgresRow) throws(StoreFailure) -> PaymentAttempt {
        let id = row["id"] ?? ""
        guard let state = row["state"].flatMap(PaymentAttempt.State.init(rawValue:)),
            let userType = row["user_type"].flatMap(PaymentRequest.UserType.init(rawValue:)),
            let method = PaymentMethod(rawValue: row["payment_method"] ?? "card"),
            let sealed = row.bytes("hotspot_password")
        else { throw .failed("attempt \(id) has an unreadable row") }
        let paying = (row["pay_later_reference"], row["pay_later_barcode_url"], row["pay_later_clabe"], row["pay_later_bank"])
        let instructions =
            paying.0 == nil && paying.1 == nil && paying.2 == nil && paying.3 == nil
            ? nil : PaymentInstructions(reference: paying.0, barcodeURL: paying.1, clabe: paying.2, bank: paying.3)
        let password: String
        do {
            password = try sealer.open(sealed, context: "attempt:\(id):password")
        } catch {
            throw .failed("the hotspot password of attempt \(id) does not open with this secrets key")
        }
        return PaymentAttempt(
            id: id, companyID: row.int64("company_id") ?? 0, routerID: row.int64("router_id") ?? 0,
            productID: row.int64("product_id") ?? 0, apiKeyID: row["api_key_id"], idempotencyKey: row["idempotency_key"] ?? "",
            requestHash: row["request_hash"] ?? "", state: state, reason: row["reason"],
            amount: Money(cents: row.int64("amount_cents") ?? 0, currency: row["currency"] ?? ""),
            productName: row["product_name"] ?? "", profileName: row["profile_name"] ?? "", limitUptime: row["limit_uptime"],
            limitBytesTotal: row.int64("limit_bytes_total"), customerName: row["customer_name"] ?? "",
            customerEmail: row["customer_email"] ?? "", customerPhone: row["customer_phone"], userType: userType,
            credentials: HotspotCredentials(username: row["hotspot_username"] ?? "", password: password),
            mac: row["client_mac"].flatMap(MACAddress.init), ip: row["client_ip"].flatMap(IPv4Address.init),
            autoConnect: row.bool("auto_connect") ?? false, routerUserID: row["router_user_id"], orderID: row["order_id"],
            cardBrand: row["card_brand"], cardLast4: row["card_last4"], createdAt: row.int64("created_epoch") ?? 0,
            requestID: row["request_id"], answeredCodigo: row["answered_codigo"], chargeSentAt: row.int64("charge_sent_epoch"),
            validity: Self.validity(from: row), firstLoginAt: row.int64("first_login_epoch"),
            accessEndedAt: row.int64("access_ended_epoch"),
            accessEndReason: row["access_end_reason"].flatMap(AccessEndReason.init(rawValue:)),
            method: method, claimCodeHash: row["claim_code_hash"], payLaterExpiresAt: row.int64("pay_later_expires_epoch"),
            instructions: instructions)
    }

    /// Frees the leases held by processes of this host that no longer exist (a crash or SIGKILL),
    /// so their attempts need not wait for the lease to expire. Owners look like `host:pid/…`.
    /// Both statements read the partial index of leased attempts (migration 14): the attempts
    /// being worked on now, not the ledger.
    /// - Returns: how many attempts were freed.
    @discardableResult
    public func releaseLeasesOfDeadProcesses(host: String, isAlive: (Int32) -> Bool) throws(StoreFailure) -> Int {
        let owners = try run(
            """
            SELECT DISTINCT lease_owner FROM payment_attempts
            WHERE lease_owner IS NOT NULL AND lease_owner LIKE $1 || ':%' AND lease_until > now()
            """, [host]
        ).all.compactMap { $0["lease_owner"] }
        var freed = 0
        for owner in owners {
            let afterHost = owner.dropFirst(host.count + 1)
            guard let pid = Int32(afterHost.prefix { $0.isNumber }), !isAlive(pid) else { continue }
            freed += try run(
                "UPDATE payment_attempts SET lease_owner = NULL, lease_until = NULL, next_retry_at = now() WHERE lease_owner = $1",
                [owner]
            ).affectedRows
        }
        return freed
    }

    // MARK: Operator views

    /// An attempt not yet in a final state, and who holds it now.
    public struct UnfinishedAttempt: Sendable, Equatable {
        public var id: String
        public var state: String
        public var routerID: Int64
        /// The worker whose lease is still running, and until when (UTC, ISO 8601).
        public var leaseOwner: String?
        public var leaseUntil: String?
    }

    /// Up to `limit` unfinished attempts, oldest first (or the one with `id`, if unfinished),
    /// whatever their retry backoff: what `hotspotctl reconcile --once` works through.
    public func unfinishedAttempts(id: String? = nil, limit: Int) throws(StoreFailure) -> [UnfinishedAttempt] {
        try run(
            """
            SELECT id::text AS id, state, router_id,
                   CASE WHEN lease_until > now() THEN lease_owner END AS lease_owner,
                   CASE WHEN lease_until > now() THEN to_char(lease_until, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END AS lease_text
            FROM payment_attempts
            WHERE finished_at IS NULL AND ($1::uuid IS NULL OR id = $1::uuid)
            ORDER BY created_at LIMIT $2
            """, [id, String(limit)]
        ).all.map {
            UnfinishedAttempt(
                id: $0["id"] ?? "", state: $0["state"] ?? "", routerID: $0.int64("router_id") ?? 0, leaseOwner: $0["lease_owner"],
                leaseUntil: $0["lease_text"])
        }
    }

    /// The attempts not in a final state: how many in each state, and the oldest one's creation.
    public struct Backlog: Sendable, Equatable {
        public var attemptsByState: [String: Int]
        /// Unix time; nil when there is no unfinished attempt. Attempts waiting for their cash or
        /// SPEI money are not late (they wait hours by design) and do not count here.
        public var oldestCreatedAt: Int64?
        /// Attempts waiting for their cash or SPEI money, by method (`oxxo`, `spei`).
        public var awaitingPaymentByMethod: [String: Int] = [:]
    }

    /// Reads the backlog through the partial index on unfinished attempts (cheap at any table size).
    public func backlog() throws(StoreFailure) -> Backlog {
        var backlog = Backlog(attemptsByState: [:], oldestCreatedAt: nil)
        for row in try run(
            """
            SELECT state, payment_method, count(*) AS n, extract(epoch FROM min(created_at))::bigint AS oldest
            FROM payment_attempts WHERE finished_at IS NULL GROUP BY state, payment_method
            """
        ).all {
            guard let state = row["state"], let oldest = row.int64("oldest") else { continue }
            let count = row.int("n") ?? 0
            backlog.attemptsByState[state, default: 0] += count
            if state == PaymentAttempt.State.awaitingPayment.rawValue {
                backlog.awaitingPaymentByMethod[row["payment_method"] ?? "", default: 0] += count
                continue
            }
            backlog.oldestCreatedAt = min(backlog.oldestCreatedAt ?? oldest, oldest)
        }
        return backlog
    }

    /// The unfinished attempt waiting longest, and why it is still unfinished.
    public struct OldestUnfinished: Sendable, Equatable {
        public var id: String
        public var state: String
        public var reason: String?
        public var createdAt: Int64
        public var tries: Int
    }

    /// The oldest unfinished attempt, through the partial index on unfinished attempts; one
    /// waiting for its cash or SPEI money is not late and does not count.
    public func oldestUnfinished() throws(StoreFailure) -> OldestUnfinished? {
        try run(
            """
            SELECT id::text AS id, state, reason, extract(epoch FROM created_at)::bigint AS created_epoch, retry_count
            FROM payment_attempts WHERE finished_at IS NULL AND state <> 'awaiting_payment' ORDER BY created_at LIMIT 1
            """
        ).first.map {
            OldestUnfinished(
                id: $0["id"] ?? "", state: $0["state"] ?? "", reason: $0["reason"], createdAt: $0.int64("created_epoch") ?? 0,
                tries: $0.int("retry_count") ?? 0)
        }
    }

    public struct AttemptSummary: Sendable {
        public var attempt: PaymentAttempt
        public var createdAt: String
        public var finishedAt: String?
        public var responseCodigo: String?
        public var nextRetryAt: String?
        /// When the user was first seen used, and when its access ended (UTC, ISO 8601).
        public var firstLoginAt: String? = nil
        public var accessEndedAt: String? = nil
    }

    static let summaryColumns = """
        \(attemptColumns), to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_text,
        to_char(finished_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS finished_text, response_codigo,
        to_char(next_retry_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS retry_text,
        to_char(first_login_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_login_text,
        to_char(access_ended_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS access_ended_text
        """

    public func attempts(limit: Int, state: String?, companyID: Int64?) throws(StoreFailure) -> [AttemptSummary] {
        var out: [AttemptSummary] = []
        for row in try run(
            """
            SELECT \(Self.summaryColumns) FROM payment_attempts
            WHERE ($1::text IS NULL OR state = $1) AND ($2::bigint IS NULL OR company_id = $2)
            ORDER BY created_at DESC LIMIT $3
            """, [state, companyID.map(String.init), String(limit)]
        ).all {
            out.append(try summary(from: row))
        }
        return out
    }

    /// One attempt, or nil. `id` must be a UUID.
    public func attemptSummary(id: String) throws(StoreFailure) -> AttemptSummary? {
        try run("SELECT \(Self.summaryColumns) FROM payment_attempts WHERE id = $1::uuid", [id]).first.map {
            row throws(StoreFailure) in try summary(from: row)
        }
    }

    func summary(from row: PostgresRow) throws(StoreFailure) -> AttemptSummary {
        AttemptSummary(
            attempt: try attempt(from: row), createdAt: row["created_text"] ?? "", finishedAt: row["finished_text"],
            responseCodigo: row["response_codigo"], nextRetryAt: row["retry_text"], firstLoginAt: row["first_login_text"],
            accessEndedAt: row["access_ended_text"])
    }

    public struct AttemptEvent: Sendable {
        public var at: String
        public var from: String?
        public var to: String
        public var reason: String?
    }

    public func events(attemptID: String) throws(StoreFailure) -> [AttemptEvent] {
        try run(
            """
            SELECT to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at_text, from_state, to_state, reason
            FROM payment_events WHERE attempt_id = $1::uuid ORDER BY id
            """, [attemptID]
        ).all.map {
            AttemptEvent(at: $0["at_text"] ?? "", from: $0["from_state"], to: $0["to_state"] ?? "", reason: $0["reason"])
        }
    }
}
