import Domain

/// Conekta's webhook events in `webhook_events`, and each company's receiving end in
/// `companies` (CONTRACT §10). Each call is one statement, so each commits on its own.
extension PostgresStore: WebhookInbox {
    static let eventColumns = """
        e.company_id, e.event_id, e.type, e.order_id, e.attempt_id::text AS attempt_id,
        extract(epoch FROM e.received_at)::bigint AS received_epoch, e.deliveries,
        extract(epoch FROM e.applied_at)::bigint AS applied_epoch, e.outcome
        """

    static func event(from row: PostgresRow) -> WebhookEventRecord {
        WebhookEventRecord(
            companyID: row.int64("company_id") ?? 0, eventID: row["event_id"] ?? "", type: row["type"] ?? "",
            orderID: row["order_id"], attemptID: row["attempt_id"], receivedAt: row.int64("received_epoch") ?? 0,
            deliveries: row.int("deliveries") ?? 0, appliedAt: row.int64("applied_epoch"), outcome: row["outcome"])
    }

    public func webhookReceiver(endpoint: String) throws(StoreFailure) -> WebhookReceiver? {
        try receiver(where: "webhook_endpoint = $1", endpoint)
    }

    public func webhookReceiver(companyID: Int64) throws(StoreFailure) -> WebhookReceiver? {
        try receiver(where: "id = $1", String(companyID))
    }

    private func receiver(where condition: String, _ value: String) throws(StoreFailure) -> WebhookReceiver? {
        guard
            let row = try run(
                "SELECT id, webhook_public_key, conekta_private_key FROM companies WHERE \(condition)", [value]
            ).first, let companyID = row.int64("id")
        else { return nil }
        var key: GatewayKey?
        if let sealed = row.bytes("conekta_private_key") {
            do {
                key = GatewayKey(privateKey: try sealer.open(sealed, context: "company:\(companyID):conekta"))
            } catch {
                throw .failed("the Conekta key of company \(companyID) does not open with this secrets key")
            }
        }
        return WebhookReceiver(companyID: companyID, publicKeyPEM: row["webhook_public_key"], gatewayKey: key)
    }

    public func record(_ event: IncomingWebhookEvent) throws(StoreFailure) -> WebhookRecording {
        // xmax = 0 only for a row this statement inserted (an update of a conflicting row sets it).
        guard
            let row = try run(
                """
                INSERT INTO webhook_events AS e (company_id, event_id, type, order_id, due_at)
                VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::int))
                ON CONFLICT (company_id, event_id) DO UPDATE SET deliveries = e.deliveries + 1
                RETURNING (xmax = 0) AS inserted, \(Self.eventColumns)
                """, [String(event.companyID), event.eventID, event.type, event.orderID, String(event.holdSeconds)]
            ).first
        else { throw .failed("recording a webhook event returned no row") }
        let stored = Self.event(from: row)
        return WebhookRecording(
            isNew: row.bool("inserted") ?? false, outcome: stored.outcome, deliveries: stored.deliveries, event: stored)
    }

    public func markApplied(companyID: Int64, eventID: String, attemptID: String?, outcome: String) throws(StoreFailure) -> Bool {
        try run(
            """
            UPDATE webhook_events SET applied_at = now(), outcome = $3, attempt_id = coalesce($4::uuid, attempt_id)
            WHERE company_id = $1 AND event_id = $2 AND applied_at IS NULL
            """, [String(companyID), eventID, outcome, attemptID]
        ).affectedRows == 1
    }

    public func postpone(companyID: Int64, eventID: String, retry: RetrySchedule) throws(StoreFailure) {
        _ = try run(
            """
            UPDATE webhook_events
            SET due_at = now() + make_interval(secs => least($3::bigint << least(tries, 16), $4::bigint)), tries = tries + 1
            WHERE company_id = $1 AND event_id = $2 AND applied_at IS NULL
            """, [String(companyID), eventID, String(retry.baseSeconds), String(retry.ceilingSeconds)])
    }

    public func claimPendingEvents(limit: Int, retry: RetrySchedule) throws(StoreFailure) -> [WebhookEventRecord] {
        try run(
            """
            WITH due AS (
                SELECT id FROM webhook_events
                WHERE applied_at IS NULL AND due_at <= now()
                ORDER BY due_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
            UPDATE webhook_events e
            SET due_at = now() + make_interval(secs => least($2::bigint << least(e.tries, 16), $3::bigint)), tries = e.tries + 1
            FROM due WHERE e.id = due.id
            RETURNING \(Self.eventColumns)
            """, [String(limit), String(retry.baseSeconds), String(retry.ceilingSeconds)]
        ).all.map(Self.event(from:)).sorted { ($0.receivedAt, $0.eventID) < ($1.receivedAt, $1.eventID) }
    }

    public func attemptOwnership(id: String) throws(StoreFailure) -> AttemptOwnership? {
        // Not a uuid: no attempt of ours (an order of someone else's naming one).
        guard Self.isUUID(id) else { return nil }
        return try run(
            "SELECT company_id, amount_cents, currency, state FROM payment_attempts WHERE id = $1::uuid", [id]
        ).first.map { row in
            AttemptOwnership(
                id: id, companyID: row.int64("company_id") ?? 0,
                amount: Money(cents: row.int64("amount_cents") ?? 0, currency: row["currency"] ?? ""), state: row["state"] ?? "")
        }
    }

    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) || (byte >= 65 && byte <= 70) else { return false }
            }
        }
        return true
    }
}

/// What the operator command sets and lists about webhooks.
extension PostgresStore {
    /// A company's webhook set-up as stored.
    public struct WebhookSetup: Sendable, Equatable {
        public var companyID: Int64
        public var endpoint: String?
        public var publicKeyPEM: String?
        public var webhookKeyID: String?
        public var webhookID: String?
    }

    public func webhookSetup(companyID: Int64) throws(StoreFailure) -> WebhookSetup? {
        try run(
            """
            SELECT id, webhook_endpoint, webhook_public_key, conekta_webhook_key_id, conekta_webhook_id
            FROM companies WHERE id = $1
            """, [String(companyID)]
        ).first.map { row in
            WebhookSetup(
                companyID: companyID, endpoint: row["webhook_endpoint"], publicKeyPEM: row["webhook_public_key"],
                webhookKeyID: row["conekta_webhook_key_id"], webhookID: row["conekta_webhook_id"])
        }
    }

    /// Gives the company `candidate` as its webhook endpoint unless it has one; returns the one
    /// it has (nil for an unknown company). Running the set-up again keeps the URL.
    public func ensureWebhookEndpoint(companyID: Int64, candidate: String) throws(StoreFailure) -> String? {
        try run(
            "UPDATE companies SET webhook_endpoint = coalesce(webhook_endpoint, $2) WHERE id = $1 RETURNING webhook_endpoint",
            [String(companyID), candidate]
        ).first?["webhook_endpoint"]
    }

    /// Stores the public key deliveries are checked against, with the Conekta ids of the key
    /// and the webhook when Conekta made them (nil keeps what is stored). False for an unknown company.
    public func setWebhookKey(
        companyID: Int64, publicKeyPEM: String, webhookKeyID: String?, webhookID: String?
    ) throws(StoreFailure) -> Bool {
        try run(
            """
            UPDATE companies SET webhook_public_key = $2, conekta_webhook_key_id = coalesce($3, conekta_webhook_key_id),
                   conekta_webhook_id = coalesce($4, conekta_webhook_id)
            WHERE id = $1
            """, [String(companyID), publicKeyPEM, webhookKeyID, webhookID]
        ).affectedRows == 1
    }

    /// Stores the id of the webhook Conekta registered. False for an unknown company.
    public func setWebhookID(companyID: Int64, webhookID: String) throws(StoreFailure) -> Bool {
        try run("UPDATE companies SET conekta_webhook_id = $2 WHERE id = $1", [String(companyID), webhookID]).affectedRows == 1
    }

    /// Events, newest first: of one company, or only those not applied yet.
    public func webhookEvents(companyID: Int64?, pendingOnly: Bool, limit: Int) throws(StoreFailure) -> [WebhookEventRecord] {
        try run(
            """
            SELECT \(Self.eventColumns) FROM webhook_events e
            WHERE ($1::bigint IS NULL OR e.company_id = $1) AND (NOT $2::boolean OR e.applied_at IS NULL)
            ORDER BY e.received_at DESC, e.id DESC LIMIT $3
            """, [companyID.map(String.init), pendingOnly ? "true" : "false", String(limit)]
        ).all.map(Self.event(from:))
    }

    /// The events that concerned an attempt, oldest first: those applied to it, and those not yet
    /// applied that name its order.
    public func webhookEvents(attemptID: String) throws(StoreFailure) -> [WebhookEventRecord] {
        guard Self.isUUID(attemptID) else { return [] }
        return try run(
            """
            SELECT \(Self.eventColumns) FROM webhook_events e
            WHERE e.attempt_id = $1::uuid
               OR (e.attempt_id IS NULL AND (e.company_id, e.order_id) IN (
                       SELECT company_id, order_id FROM payment_attempts WHERE id = $1::uuid AND order_id IS NOT NULL))
            ORDER BY e.received_at, e.id
            """, [attemptID]
        ).all.map(Self.event(from:))
    }
}
