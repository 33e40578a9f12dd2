/// The schema, as numbered migrations compiled into the binary (no files to find at deploy time).
///
/// Append only: a migration that has shipped is never edited.
public enum Migrations {
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    public static let all: [Migration] = [
        Migration(
            version: 1, name: "tenancy, catalogue, keys, payment attempts",
            sql: """
                CREATE TABLE companies (
                    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                    contact_email           text,
                    contact_phone           text,
                    conekta_public_key      text,
                    conekta_private_key     bytea,          -- sealed (AES-GCM), context company:<id>:conekta
                    username_length         int NOT NULL DEFAULT 6 CHECK (username_length BETWEEN 4 AND 32),
                    password_length         int NOT NULL DEFAULT 4 CHECK (password_length BETWEEN 4 AND 32),
                    pin_length              int NOT NULL DEFAULT 6 CHECK (pin_length BETWEEN 4 AND 32),
                    active                  boolean NOT NULL DEFAULT true,
                    created_at              timestamptz NOT NULL DEFAULT now()
                );

                CREATE TABLE routers (
                    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    company_id              bigint NOT NULL REFERENCES companies(id),
                    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                    location                text,
                    rest_url                text NOT NULL,
                    api_user                text NOT NULL,
                    api_password            bytea NOT NULL, -- sealed, context router:<id>:password
                    tls_ca_file             text,
                    tls_pinned_key          text,
                    tls_insecure            boolean NOT NULL DEFAULT false,
                    hotspot_server          text NOT NULL DEFAULT 'all',
                    active                  boolean NOT NULL DEFAULT true,
                    created_at              timestamptz NOT NULL DEFAULT now(),
                    UNIQUE (id, company_id),
                    CHECK (tls_insecure OR tls_ca_file IS NOT NULL OR tls_pinned_key IS NOT NULL
                           OR rest_url LIKE 'https://%')
                );
                CREATE INDEX routers_company ON routers (company_id);

                CREATE TABLE products (
                    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    company_id              bigint NOT NULL,
                    router_id               bigint NOT NULL,
                    name                    text NOT NULL CHECK (length(name) BETWEEN 3 AND 200),
                    description             text,
                    price_cents             bigint NOT NULL CHECK (price_cents > 0),
                    currency                text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
                    profile_name            text NOT NULL CHECK (length(profile_name) > 0),
                    limit_uptime            text,
                    limit_bytes_total       bigint CHECK (limit_bytes_total IS NULL OR limit_bytes_total > 0),
                    details                 jsonb NOT NULL DEFAULT '[]'::jsonb,
                    image_url               text,
                    featured                boolean NOT NULL DEFAULT false,
                    display_order           int NOT NULL DEFAULT 0,
                    active                  boolean NOT NULL DEFAULT true,
                    created_at              timestamptz NOT NULL DEFAULT now(),
                    FOREIGN KEY (router_id, company_id) REFERENCES routers (id, company_id)
                );
                CREATE INDEX products_router ON products (router_id, company_id) WHERE active;

                CREATE TABLE api_keys (
                    id                      text PRIMARY KEY,            -- the JWT's jti
                    company_id              bigint NOT NULL,
                    router_id               bigint NOT NULL,
                    fingerprint             text NOT NULL UNIQUE,        -- SHA-256 of the whole key, hex
                    label                   text,
                    issued_at               timestamptz NOT NULL DEFAULT now(),
                    expires_at              timestamptz,
                    revoked_at              timestamptz,
                    FOREIGN KEY (router_id, company_id) REFERENCES routers (id, company_id)
                );

                -- One row per payment request (CONTRACT §5–7). The saga commits every state change
                -- here before its next side effect; the reconciler finishes rows left mid-way.
                CREATE TABLE payment_attempts (
                    id                      uuid PRIMARY KEY,
                    company_id              bigint NOT NULL,
                    router_id               bigint NOT NULL,
                    product_id              bigint NOT NULL REFERENCES products(id),
                    api_key_id              text REFERENCES api_keys(id),
                    idempotency_key         text NOT NULL,
                    request_hash            text NOT NULL,
                    state                   text NOT NULL,
                    reason                  text,
                    amount_cents            bigint NOT NULL CHECK (amount_cents > 0),
                    currency                text NOT NULL,
                    profile_name            text NOT NULL,
                    customer_name           text NOT NULL,
                    customer_email          text NOT NULL,
                    customer_phone          text,
                    user_type               text NOT NULL CHECK (user_type IN ('usuario_contrasena', 'pin')),
                    hotspot_username        text NOT NULL,
                    hotspot_password        bytea NOT NULL,              -- sealed, context attempt:<id>:password
                    client_mac              text,
                    client_ip               text,
                    auto_connect            boolean NOT NULL DEFAULT false,
                    router_user_id          text,
                    order_id                text,
                    card_brand              text,
                    card_last4              text,
                    response_status         int,
                    response_body           bytea,                       -- sealed, context attempt:<id>:response
                    request_id              text,
                    lease_owner             text,
                    lease_until             timestamptz,
                    retry_count             int NOT NULL DEFAULT 0,
                    next_retry_at           timestamptz,
                    created_at              timestamptz NOT NULL DEFAULT now(),
                    updated_at              timestamptz NOT NULL DEFAULT now(),
                    finished_at             timestamptz,
                    FOREIGN KEY (router_id, company_id) REFERENCES routers (id, company_id),
                    UNIQUE (company_id, idempotency_key)
                );
                CREATE INDEX payment_attempts_open ON payment_attempts (next_retry_at) WHERE finished_at IS NULL;
                CREATE INDEX payment_attempts_router_created ON payment_attempts (router_id, created_at);
                CREATE UNIQUE INDEX payment_attempts_order ON payment_attempts (order_id) WHERE order_id IS NOT NULL;

                -- The timeline of each attempt: every state change with its time and reason.
                CREATE TABLE payment_events (
                    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    attempt_id              uuid NOT NULL REFERENCES payment_attempts(id),
                    at                      timestamptz NOT NULL DEFAULT clock_timestamp(),
                    from_state              text,
                    to_state                text NOT NULL,
                    reason                  text
                );
                CREATE INDEX payment_events_attempt ON payment_events (attempt_id, id);
                """),
        Migration(
            version: 2, name: "attempt details kept for receipts and replays",
            sql: """
                ALTER TABLE payment_attempts
                    ADD COLUMN product_name text NOT NULL DEFAULT '',
                    ADD COLUMN limit_uptime text,
                    ADD COLUMN limit_bytes_total bigint,
                    ADD COLUMN response_codigo text;
                CREATE INDEX payment_attempts_due ON payment_attempts (next_retry_at NULLS FIRST) WHERE finished_at IS NULL;
                """),
        Migration(
            version: 3, name: "card-testing limits: declines by client address and MAC",
            sql: """
                ALTER TABLE payment_attempts ADD COLUMN remote_address text;
                CREATE INDEX payment_attempts_declines_mac ON payment_attempts (client_mac, created_at)
                    WHERE response_codigo IN ('pago_declinado', 'pago_no_completado');
                CREATE INDEX payment_attempts_declines_address ON payment_attempts (remote_address, created_at)
                    WHERE response_codigo IN ('pago_declinado', 'pago_no_completado');
                """),
        Migration(
            version: 4, name: "card-testing limits: declines by router without scanning its sales",
            sql: """
                CREATE INDEX payment_attempts_declines_router ON payment_attempts (router_id, created_at)
                    WHERE response_codigo IN ('pago_declinado', 'pago_no_completado');
                """),
        Migration(
            version: 5, name: "sales reports by creation time, for all companies or one",
            sql: """
                CREATE INDEX payment_attempts_created ON payment_attempts (created_at);
                CREATE INDEX payment_attempts_company_created ON payment_attempts (company_id, created_at);
                """),
        Migration(
            version: 6, name: "fewer writes per payment",
            sql: """
                -- payment_attempts_due (migration 2) holds the same rows under the same key, and no
                -- statement looks attempts up by router and time but the card-testing count, which
                -- has its own partial index (migration 4); routers are never deleted.
                DROP INDEX payment_attempts_open;
                DROP INDEX payment_attempts_router_created;
                -- An event is written only by the statement that inserts or updates its attempt,
                -- from that statement's RETURNING, and attempts are never deleted: the reference
                -- holds by construction. The constraint's check (a query and a FOR KEY SHARE lock
                -- on the attempt, per event) was four of a payment's seven trigger queries.
                ALTER TABLE payment_events DROP CONSTRAINT payment_events_attempt_id_fkey;
                -- Room on each page for the next version of a row, so that the saga's updates
                -- that touch no indexed column stay heap-only (no index writes); new pages only.
                ALTER TABLE payment_attempts SET (fillfactor = 80);
                """),
        Migration(
            version: 7, name: "the rows payments refer to are kept by refusing their removal",
            sql: """
                -- Each payment's INSERT checked three foreign keys, and each check locks its parent
                -- row (SELECT ... FOR KEY SHARE): the product, router and key that every payment of
                -- a hotspot shares. Concurrent payments took turns on those three rows (a WAL record
                -- per lock, MultiXacts when they overlap), and the checks were 7% of PostgreSQL's CPU
                -- per payment. Nothing ever deletes these rows (products are deactivated and keys
                -- revoked), so the same guarantee holds on the rare side instead: removing one, or
                -- changing its id, is refused.
                -- Dropping the keys locks the four tables exclusively. Behind a long reader (a
                -- dump, a report) that lock would queue every payment behind it, so give up after
                -- 5 s instead: the server does not start, and the migration runs again at the next
                -- start or with `hotspotctl migrate` in a quieter moment.
                SET LOCAL lock_timeout = '5s';
                ALTER TABLE payment_attempts
                    DROP CONSTRAINT IF EXISTS payment_attempts_product_id_fkey,
                    DROP CONSTRAINT IF EXISTS payment_attempts_api_key_id_fkey,
                    DROP CONSTRAINT IF EXISTS payment_attempts_router_id_company_id_fkey;
                CREATE FUNCTION hotspot_refuse_removal() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '% rows are never removed or renumbered: payment attempts refer to them', TG_TABLE_NAME
                        USING ERRCODE = 'foreign_key_violation',
                              HINT = 'Deactivate a product or router, or revoke a key, instead.';
                END
                $$;
                CREATE TRIGGER products_kept BEFORE DELETE ON products
                    FOR EACH ROW EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER products_truncate_kept BEFORE TRUNCATE ON products
                    FOR EACH STATEMENT EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER products_id_kept BEFORE UPDATE OF id ON products
                    FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER routers_kept BEFORE DELETE ON routers
                    FOR EACH ROW EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER routers_truncate_kept BEFORE TRUNCATE ON routers
                    FOR EACH STATEMENT EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER routers_id_kept BEFORE UPDATE OF id, company_id ON routers
                    FOR EACH ROW WHEN (OLD.id <> NEW.id OR OLD.company_id <> NEW.company_id)
                    EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER api_keys_kept BEFORE DELETE ON api_keys
                    FOR EACH ROW EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER api_keys_truncate_kept BEFORE TRUNCATE ON api_keys
                    FOR EACH STATEMENT EXECUTE FUNCTION hotspot_refuse_removal();
                CREATE TRIGGER api_keys_id_kept BEFORE UPDATE OF id ON api_keys
                    FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION hotspot_refuse_removal();
                """),
        Migration(
            version: 8, name: "when an attempt's charge was sent, to bound the search for its order",
            sql: """
                -- Set when the attempt moves to charging, which is committed before the order is
                -- sent: the order, if any, was created between then and the gateway's timeout. A
                -- new nullable column is a catalogue change only (no table rewrite).
                ALTER TABLE payment_attempts ADD COLUMN charge_sent_at timestamptz;
                """),
        Migration(
            version: 9, name: "card-testing limits count declined attempts by state, not by the answer's codigo",
            sql: """
                -- A decline is an attempt the saga moved to declining (and then declined): a card
                -- declined, an order not paid, a token used by someone else. The API's codigo
                -- strings are presentation; renaming one must not switch the limits off.
                DROP INDEX payment_attempts_declines_mac, payment_attempts_declines_address,
                    payment_attempts_declines_router;
                CREATE INDEX payment_attempts_declines_mac ON payment_attempts (client_mac, created_at)
                    WHERE state IN ('declining', 'declined');
                CREATE INDEX payment_attempts_declines_address ON payment_attempts (remote_address, created_at)
                    WHERE state IN ('declining', 'declined');
                CREATE INDEX payment_attempts_declines_router ON payment_attempts (router_id, created_at)
                    WHERE state IN ('declining', 'declined');
                """),
        Migration(
            version: 10, name: "Conekta webhooks: each company's receiving end, and every event received",
            sql: """
                -- The endpoint is the unguessable path segment Conekta posts to (whe_ + 32 hex);
                -- the public key checks each delivery's Digest; the Conekta ids let the operator
                -- command run again without making a second key or webhook.
                ALTER TABLE companies
                    ADD COLUMN webhook_endpoint       text UNIQUE CHECK (webhook_endpoint ~ '^whe_[0-9a-f]{32}$'),
                    ADD COLUMN webhook_public_key     text,
                    ADD COLUMN conekta_webhook_key_id text,
                    ADD COLUMN conekta_webhook_id     text;

                -- One row per (company, Conekta event id), whatever the number of deliveries. A row
                -- with applied_at NULL is the action the event still requires: the reconciler
                -- applies it (due_at, tries: its backoff), so an answer given before acting loses
                -- nothing, and an applied event is never applied again.
                CREATE TABLE webhook_events (
                    id              bigserial PRIMARY KEY,
                    company_id      bigint NOT NULL REFERENCES companies(id),
                    event_id        text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
                    type            text NOT NULL CHECK (length(type) BETWEEN 1 AND 200),
                    order_id        text,
                    attempt_id      uuid,
                    received_at     timestamptz NOT NULL DEFAULT now(),
                    deliveries      int NOT NULL DEFAULT 1,
                    applied_at      timestamptz,
                    outcome         text,
                    tries           int NOT NULL DEFAULT 0,
                    due_at          timestamptz NOT NULL DEFAULT now(),
                    UNIQUE (company_id, event_id)
                );
                CREATE INDEX webhook_events_pending ON webhook_events (due_at) WHERE applied_at IS NULL;
                CREATE INDEX webhook_events_attempt ON webhook_events (attempt_id) WHERE attempt_id IS NOT NULL;
                CREATE INDEX webhook_events_order ON webhook_events (company_id, order_id);
                """),
        Migration(
            version: 11, name: "the end of an access: products' validity, attempts' first login and end, routers' sweeps",
            sql: """
                -- Adding columns locks the tables exclusively for a moment; behind a long reader
                -- give up after 5 s (the next start or `hotspotctl migrate` tries again), as 7 does.
                SET LOCAL lock_timeout = '5s';
                -- A product's validity (vigencia): wall-clock seconds from the first login or from
                -- the purchase, on top of RouterOS's own limits (CONTRACT §11).
                ALTER TABLE products
                    ADD COLUMN validity_seconds bigint CHECK (validity_seconds IS NULL OR validity_seconds > 0),
                    ADD COLUMN validity_from text NOT NULL DEFAULT 'first_login'
                        CHECK (validity_from IN ('first_login', 'purchase'));
                -- What was sold is kept on the attempt (like limit_uptime), and how its access went:
                -- first seen used, ended and why. Nullable columns without a default are a catalogue
                -- change only; their checks hold for new rows (NOT VALID: no scan of the old ones,
                -- which are all NULL).
                ALTER TABLE payment_attempts
                    ADD COLUMN validity_seconds bigint,
                    ADD COLUMN validity_from text,
                    ADD COLUMN first_login_at timestamptz,
                    ADD COLUMN access_ended_at timestamptz,
                    ADD COLUMN access_end_reason text;
                ALTER TABLE payment_attempts
                    ADD CONSTRAINT payment_attempts_validity_from
                        CHECK (validity_from IS NULL OR validity_from IN ('first_login', 'purchase')) NOT VALID,
                    ADD CONSTRAINT payment_attempts_access_end_reason
                        CHECK (access_end_reason IS NULL OR access_end_reason IN
                               ('validity', 'uptime', 'bytes', 'revoked', 'operator', 'missing')) NOT VALID;
                -- The accesses a sweep may find over with their user gone (revoked, or a validity
                -- from purchase): few at any time, since each leaves the index once its end is
                -- recorded.
                CREATE INDEX payment_attempts_access_lapsing ON payment_attempts (router_id)
                    WHERE access_ended_at IS NULL
                      AND (state = 'revoked' OR (state = 'delivered' AND validity_from = 'purchase'));

                -- One row per router: whose pass runs now (a lease, as attempts have), when the next
                -- is due, and how the last went. Rows are made for active routers as sweeps are
                -- claimed.
                CREATE TABLE router_sweeps (
                    router_id           bigint PRIMARY KEY REFERENCES routers(id),
                    next_sweep_at       timestamptz NOT NULL DEFAULT now(),
                    lease_owner         text,
                    lease_until         timestamptz,
                    last_started_at     timestamptz,
                    last_finished_at    timestamptz,
                    last_duration_ms    int,
                    last_users          int,         -- the product's users on the router
                    last_past_end       int,         -- of those, still there past their end after the pass
                    last_error          text,
                    failures            int NOT NULL DEFAULT 0   -- failed passes in a row (the backoff)
                );
                CREATE INDEX router_sweeps_due ON router_sweeps (next_sweep_at);
                """),
        Migration(
            version: 12, name: "pay later: cash (OXXO) and SPEI orders redeemed with a claim code",
            sql: """
                -- Self-contained: it needs nothing of any migration after 10, so it applies in any
                -- order with the others of its release. ALTER TABLE locks payment_attempts
                -- exclusively: behind a long reader, give up after 5 s rather than queue every
                -- payment (the migration runs again at the next start, as migration 7 explains).
                SET LOCAL lock_timeout = '5s';

                -- Off by default: a company's Conekta account must take cash and SPEI before it
                -- offers them. The expiry is hours, not days (15 minutes to 72 hours).
                ALTER TABLE companies
                    ADD COLUMN pay_later_methods text[] NOT NULL DEFAULT '{}'
                        CHECK (pay_later_methods <@ ARRAY['oxxo', 'spei']::text[]),
                    ADD COLUMN pay_later_expiry_seconds int NOT NULL DEFAULT 14400
                        CHECK (pay_later_expiry_seconds BETWEEN 900 AND 259200);

                -- A pay-later attempt keeps how to pay it (the reference or CLABE is no secret: the
                -- customer shows it at a store or types it in a banking app) and until when; its
                -- claim code only as a keyed hash (HMAC under the server's key secret), unique.
                -- New nullable columns and a constant default change the catalogue only (no
                -- rewrite); the method's CHECK is NOT VALID so that adding it reads no row (every
                -- existing attempt is a card's), and it holds for every row written from now on.
                ALTER TABLE payment_attempts
                    ADD COLUMN payment_method text NOT NULL DEFAULT 'card',
                    ADD COLUMN claim_code_hash text,
                    ADD COLUMN pay_later_reference text,
                    ADD COLUMN pay_later_barcode_url text,
                    ADD COLUMN pay_later_clabe text,
                    ADD COLUMN pay_later_bank text,
                    ADD COLUMN pay_later_expires_at timestamptz,
                    ADD CONSTRAINT payment_attempts_payment_method CHECK (payment_method IN ('card', 'oxxo', 'spei')) NOT VALID;
                CREATE UNIQUE INDEX payment_attempts_claim_code ON payment_attempts (claim_code_hash)
                    WHERE claim_code_hash IS NOT NULL;

                -- Failed claim-code guesses, counted per router, device and client address within a
                -- window (like the card-testing limits, CONTRACT §8). Rows older than a day are
                -- pruned as new ones are written.
                CREATE TABLE claim_failures (
                    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    company_id      bigint NOT NULL,
                    router_id       bigint NOT NULL,
                    client_mac      text,
                    remote_address  text,
                    at              timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX claim_failures_router ON claim_failures (router_id, at);
                CREATE INDEX claim_failures_mac ON claim_failures (client_mac, at) WHERE client_mac IS NOT NULL;
                CREATE INDEX claim_failures_address ON claim_failures (remote_address, at) WHERE remote_address IS NOT NULL;
                """),
        Migration(
            version: 13, name: "routers in the field: each router's last check, and when the server checks it next",
            sql: """
                -- Self-contained: it needs only routers (migration 1).
                SET LOCAL lock_timeout = '5s';
                -- One row per router (CONTRACT §13): its last check, by `hotspotctl router check`
                -- or a server; and when a server checks it next, leased like sweeps so that several
                -- instances check each router once per interval. Rows are made as checks run.
                CREATE TABLE router_checks (
                    router_id       bigint PRIMARY KEY REFERENCES routers(id),
                    next_check_at   timestamptz NOT NULL DEFAULT now(),
                    lease_owner     text,
                    lease_until     timestamptz,
                    checked_at      timestamptz,
                    checked_by      text,        -- 'hotspotctl', or the server instance (host:pid/thread)
                    status          text CHECK (status IN ('ok', 'warn', 'fail')),
                    -- Every check in order: [{"check": "address", "status": "ok", "code": "reached"}, …]
                    checks          jsonb NOT NULL DEFAULT '[]'
                );
                CREATE INDEX router_checks_due ON router_checks (next_check_at);
                """),
        Migration(
            version: 14, name: "leased attempts found without reading the ledger",
            sql: """
                -- Self-contained: it needs only payment_attempts (migration 1).
                -- The attempts someone works on now: a lease is taken when a payment begins or a
                -- worker claims an attempt and ends with its run, so this index holds the payments
                -- in flight (and the leases of processes that died, until freed) whatever the
                -- ledger's size. Without it, freeing the leases of dead processes (at every start
                -- and `hotspotctl reconcile --once`) read the whole table: 0.5 s at a million
                -- attempts. A payment writes three entries here (its begin and its two saves; its
                -- end clears the lease).
                -- Not CONCURRENTLY: a migration is one transaction with its version row, and CREATE
                -- INDEX CONCURRENTLY cannot run in one (docs/sources.md P3). A plain build reads the
                -- table once while writes to it wait (reads do not): at ten million attempts (14 GB)
                -- on the bench's 2-core machine, 3 s with the table in memory, 10 s from disk.
                -- Behind a long reader, give up taking the lock after 5 s rather than queue every
                -- payment behind it (the next start or `hotspotctl migrate` tries again), as 7 does;
                -- once it has the lock, the build takes what it takes: the connections' 5 s
                -- statement timeout would cancel it on a large ledger, and the server would not
                -- start. With a ledger too large for that pause, build the same index beforehand
                -- with CREATE INDEX CONCURRENTLY IF NOT EXISTS and this migration keeps it.
                SET LOCAL lock_timeout = '5s';
                SET LOCAL statement_timeout = 0;
                CREATE INDEX IF NOT EXISTS payment_attempts_leased ON payment_attempts (lease_owner)
                    WHERE lease_owner IS NOT NULL;
                """),
    ]

    /// Applies every migration not yet applied, each in its own transaction, under an advisory
    /// lock so several instances starting at once apply each exactly once.
    /// - Returns: the versions applied by this call.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection) throws(PostgresError) -> [Int] {
        // Arbitrary constant: the lock id for "hotspot-pay schema migrations".
        try connection.query("SELECT pg_advisory_lock(7305120613)")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(7305120613)") }
        try connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let applied = Set(try connection.query("SELECT version FROM schema_migrations").all.compactMap { $0.int("version") })
        var done: [Int] = []
        for migration in all where !applied.contains(migration.version) {
            try connection.transaction { () throws(PostgresError) in
                try connection.executeScript(migration.sql)
                try connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [String(migration.version), migration.name])
            }
            done.append(migration.version)
        }
        return done
    }

    /// The highest version applied, or 0.
    public static func currentVersion(_ connection: PostgresConnection) throws(PostgresError) -> Int {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present").first?.bool("present")
        guard exists == true else { return 0 }
        return try connection.query("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").first?.int("v") ?? 0
    }
}
