/// One metric as `GET /metrics` shows it: name, help, type and label names. The catalogue below is
/// every family the server exports, in exposition order (README, "Metrics").
struct MetricFamily: Sendable, Hashable {
    enum Kind: String, Sendable {
        case counter
        case gauge
        case histogram
    }

    let name: String
    let help: String
    let kind: Kind
    let labelNames: [String]
    /// Upper bounds in seconds, for histograms.
    let bounds: [Double]

    init(_ name: String, _ kind: Kind, labels: [String] = [], bounds: [Double] = [], help: String) {
        self.name = name
        self.kind = kind
        self.labelNames = labels
        self.bounds = bounds
        self.help = help
    }

    /// Counters a shard keeps per series: one, or for a histogram one per bucket, one for the
    /// observations above the last bound and one for the sum in nanoseconds.
    var cellCount: Int { kind == .histogram ? bounds.count + 2 : 1 }

    /// From 5 ms (a router on the LAN) to 30 s (beyond Conekta's longest allowed timeout).
    static let callSeconds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30]

    /// Event types counted under their own name (docs/sources.md C6); any other is `other`, so a
    /// signed but unexpected type cannot make endless series.
    static let webhookTypes: Set<String> = [
        "order.created", "order.updated", "order.paid", "order.pending_payment", "order.declined", "order.expired",
        "order.canceled", "order.refunded", "order.partially_refunded", "order.pre_authorized", "order.voided",
        "order.charged_back", "order.fraudulent", "order.under_fraud_review", "webhook_ping",
    ]
}

extension MetricFamily {
    // Counted by the threads (MetricsRecorder).
    static let requests = MetricFamily(
        "hotspot_http_requests_total", .counter, labels: ["route", "status"],
        help: "Requests this instance answered, by route (unmatched: no route or method) and HTTP status.")
    static let payments = MetricFamily(
        "hotspot_payments_total", .counter, labels: ["codigo"],
        help: "Answers of POST /api/v1/payments/pagar-conekta by codigo (pagado: paid and delivered).")
    static let reconciled = MetricFamily(
        "hotspot_reconciler_outcomes_total", .counter, labels: ["codigo"],
        help: "Attempts the reconciler moved on, by the codigo of their answer at that point.")
    static let absenceUnproven = MetricFamily(
        "hotspot_reconciler_unproven_absences_total", .counter,
        help: "Attempts declared not charged without proof that no order exists (CONTRACT §6); check each in Conekta.")
    static let webhookEvents = MetricFamily(
        "hotspot_webhook_events_total", .counter, labels: ["type", "outcome"],
        help: "Signed Conekta webhook deliveries by event type and what applying them did (pending: left to the reconciler).")
    static let claims = MetricFamily(
        "hotspot_claims_total", .counter, labels: ["codigo"],
        help: "Answers of POST /api/v1/payments/canjear by codigo (pagado: the access handed out; codigo_desconocido: a failed guess).")
    static let payLaterPaid = MetricFamily(
        "hotspot_pay_later_paid_total", .counter, labels: ["method"],
        help: "Cash (oxxo) and SPEI orders this instance found paid, whose access it then began to make.")
    static let payLaterExpired = MetricFamily(
        "hotspot_pay_later_expired_total", .counter, labels: ["method"],
        help: "Cash (oxxo) and SPEI orders this instance saw expire or be cancelled unpaid (attempts ended expired).")
    static let webhookSignatureFailures = MetricFamily(
        "hotspot_webhook_signature_failures_total", .counter,
        help: "Webhook deliveries refused because their Digest was missing or did not verify (401 firma_invalida).")
    static let routerCalls = MetricFamily(
        "hotspot_router_call_duration_seconds", .histogram, labels: ["operation", "outcome"], bounds: callSeconds,
        help: "RouterOS REST calls by operation and outcome (ok or error), including the wait for a router slot.")
    static let conektaCalls = MetricFamily(
        "hotspot_conekta_call_duration_seconds", .histogram, labels: ["operation", "outcome"], bounds: callSeconds,
        help: "Conekta API calls by operation and outcome (ok: a definite answer, a decline included; error: none).")
    static let usersEnded = MetricFamily(
        "hotspot_users_ended_total", .counter, labels: ["reason"],
        help: "Sold accesses this instance ended (user removed, end recorded), by reason (validity, uptime, bytes, revoked, missing).")
    static let sweepFailures = MetricFamily(
        "hotspot_sweep_failures_total", .counter, labels: ["router"],
        help: "Passes of this instance's sweep of sold users that stopped short, by router (unreachable, timed out, busy…).")
    static let dropped = MetricFamily(
        "hotspot_metrics_dropped_total", .counter,
        help: "Observations not recorded because a thread's metrics were full (should stay 0).")

    // Read at scrape time.
    static let backlog = MetricFamily(
        "hotspot_payment_backlog_attempts", .gauge, labels: ["state"],
        help: "Attempts in a non-final state, database-wide, at the reconciler's last pass.")
    static let backlogOldestAge = MetricFamily(
        "hotspot_payment_backlog_oldest_age_seconds", .gauge,
        help: "Age of the oldest attempt in a non-final state at the reconciler's last pass (0: none).")
    static let reconcilerLastPass = MetricFamily(
        "hotspot_reconciler_last_pass_timestamp_seconds", .gauge,
        help: "Unix time of the reconciler's last pass that read the backlog.")
    static let payLaterPending = MetricFamily(
        "hotspot_pay_later_pending", .gauge, labels: ["method"],
        help: "Cash (oxxo) and SPEI orders waiting for their money (state awaiting_payment), database-wide, at the reconciler's last pass.")
    static let revocationsPending = MetricFamily(
        "hotspot_revocations_pending", .gauge,
        help: "Attempts whose access is being revoked (state revoking), database-wide, at the reconciler's last pass.")
    static let usersPastEnd = MetricFamily(
        "hotspot_users_past_end", .gauge, labels: ["router"],
        help: "Sold users still on the router past their end after its last sweep, database-wide.")
    static let sweepDuration = MetricFamily(
        "hotspot_sweep_duration_seconds", .gauge, labels: ["router"],
        help: "How long the router's last sweep of sold users took, whichever instance ran it.")
    static let routerHealth = MetricFamily(
        "hotspot_router_health", .gauge, labels: ["router", "check"],
        help: "1 when the check held at the router's last check (ok or warning), 0 when it failed or could not run (CONTRACT §13).")
    static let routerHealthWarning = MetricFamily(
        "hotspot_router_health_warning", .gauge, labels: ["router", "check"],
        help: "1 when the check held with a warning at the router's last check (extra policies, clock skew, www-ssl open to all).")
    static let routerCheckedAt = MetricFamily(
        "hotspot_router_checked_timestamp_seconds", .gauge, labels: ["router"],
        help: "Unix time of the router's last check, by a server or hotspotctl, database-wide.")
    static let startTime = MetricFamily(
        "hotspot_process_start_time_seconds", .gauge, help: "Unix time this process started.")
    static let instance = MetricFamily(
        "hotspot_instance_info", .gauge, labels: ["instance"],
        help: "Always 1; names the instance (host:pid) that answered this scrape.")
    static let workerThreads = MetricFamily(
        "hotspot_worker_threads", .gauge, help: "Worker threads, so concurrent requests this instance can serve.")
    static let poolConnections = MetricFamily(
        "hotspot_database_pool_connections", .gauge, help: "PostgreSQL connections in this process's pool.")
    static let poolInUse = MetricFamily(
        "hotspot_database_pool_connections_in_use", .gauge, help: "PostgreSQL connections lent to a thread right now.")
}
