#!/usr/bin/env python3
"""make bench, `growth` section (issue 21 §1): what a payment costs once the ledger holds years of
history, against what it costs on an empty one.

One PostgreSQL cluster holds two databases provisioned alike: `hotspot`, whose ledger starts empty,
and `hotspot_ledger`, bulk-loaded first with BENCH_LEDGER past attempts (default 1,000,000; four
events each). After one untimed run on each, the same payment run alternates between them,
BENCH_GROWTH_ROUNDS rounds (default 3) of (empty, loaded), the server restarted on each database
in turn: this VM's speed drifts between minutes, so each loaded run is compared with the empty
run just before it. Each start is timed to
its first answered request, and `hotspotctl reconcile --once` is timed after each run.

Then the plans: PostgreSQL is restarted with pg_stat_statements and auto_explain (ANALYZE,
BUFFERS; every statement), the server runs a few payments and failed claim-code guesses on each
database, and the pages each statement touched per call (pg_stat_statements: shared buffers hit +
read) and its last plan (auto_explain) are kept: bench/results/explain-<N>.txt.

`python3 bench/growth.py` runs this section alone (HOTSPOT_BUILD_DIR: a release build) and prints it;
`make bench` records it in results/latest.json, the history and RESULTS.md."""

import datetime
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
sys.path.insert(0, HERE)
import catalogue  # noqa: E402
import hotspot_stack  # noqa: E402
import standin  # noqa: E402

LEDGER = int(os.environ.get("BENCH_LEDGER", "1000000"))
CLIENTS = int(os.environ.get("BENCH_GROWTH_CLIENTS", "64"))
ROUNDS = int(os.environ.get("BENCH_GROWTH_ROUNDS", "3"))
# Sequential payments and failed claim-code guesses per database while every plan is logged: more
# than five, so that the steady plans (generic ones, where PostgreSQL chooses them) are among them.
EXPLAIN_PAYMENTS = 12
EXPLAIN_CLAIMS = 8
LOADED_DB = "hotspot_ledger"


def default_shared_buffers():
    """A quarter of the machine's memory, PostgreSQL's own starting point for a dedicated server
    (docs/sources.md P4), in MB."""
    with open("/proc/meminfo") as meminfo:
        kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return f"{kib // 4 // 1024}MB"


# The cluster's settings for both databases, as a host would size them for a ledger of years:
# shared buffers that hold the indexes of the keys that come from outside (idempotency key, order
# id, device), which cannot be ordered, and full-page images compressed in the WAL. "default"
# keeps PostgreSQL's own (128 MB, no compression), the figures of the runs before.
SHARED_BUFFERS = os.environ.get("BENCH_GROWTH_SHARED_BUFFERS") or default_shared_buffers()
WAL_COMPRESSION = os.environ.get("BENCH_GROWTH_WAL_COMPRESSION", "lz4")
RESULTS = os.path.join(HERE, "results")

# The loaded ledger's shape: two years of attempts, one router with most of them (where the
# card-testing count per router has the most to read), the rest over 49 other routers of 10
# companies; 70% with a device from a pool of a fifth as many MACs; each router's public address
# (the client address the server sees) changing daily, the busy router's today being the bench
# clients' own (127.0.0.1); 10% declined, 5% paid later (a claim code each), 2% failed or refunded.
DAYS = 730
BUSY_SHARE = 0.9
OTHER_ROUTERS = 49
# Failed claim-code guesses of the last day (the table keeps a day: older ones are pruned).
CLAIM_FAILURES_PER_ATTEMPT = 0.001

# Statements by what runs them, found by a fragment of their text (pg_stat_statements shows
# constants, NULL included, as $n, so no fragment has one). Per payment: the first five (save twice per
# payment; the key and the catalogue are read once per cache period, the product from the catalogue).
STATEMENTS = [
    ("begin", "payment", ("INSERT INTO payment_attempts (",)),
    ("conclude", "payment", ("WITH updated AS (", "retry_count = CASE WHEN")),
    ("save", "payment", ("WITH updated AS (", "UPDATE payment_attempts SET")),
    ("key look-up", "payment", ("FROM api_keys k",)),
    ("catalogue", "payment", ("FROM products p", "ORDER BY p.display_order")),
    ("product look-up", "payment", ("FROM products p", "p.id = $1")),
    ("claim-code look-up", "pay later", ("WHERE claim_code_hash = $1",)),
    ("failed claims count", "pay later", ("FROM claim_failures", "count(*)")),
    ("failed claim record", "pay later", ("INSERT INTO claim_failures",)),
    ("dead leases: owners", "start, reconcile --once", ("SELECT DISTINCT lease_owner",)),
    ("dead leases: release", "start, reconcile --once", ("next_retry_at = now() WHERE lease_owner =",)),
    ("unfinished attempts", "reconcile --once", ("CASE WHEN lease_until > now() THEN lease_owner END",)),
    ("warm-up", "start", ("WHERE id IS NULL",)),
    ("due attempts", "reconciler", ("FOR UPDATE SKIP LOCKED", "FROM payment_attempts")),
    ("backlog", "reconciler", ("GROUP BY state, payment_method",)),
    ("due webhook events", "reconciler", ("FROM webhook_events",)),
]
PER_PAYMENT = ("begin", "save", "conclude", "key look-up", "catalogue")


def statement_name(text):
    text = " ".join(text.split())
    for name, _, fragments in STATEMENTS:
        if all(fragment in text for fragment in fragments):
            return name
    return None


def bench_module():
    """bench/run.py's settings and CPU accounting (imported late: run.py imports this module)."""
    import run
    return run


# -- PostgreSQL ---------------------------------------------------------------------------------

def psql(stack, database, *commands, stdin=None):
    """Runs each command in one session (psql -c …), or a script on stdin; rows as lists of strings."""
    arguments = ["psql", "-h", stack.postgres.directory, "-U", "postgres", "-d", database, "-AtF", "\t", "-v", "ON_ERROR_STOP=1"]
    for command in commands:
        arguments += ["-c", command]
    out = subprocess.run(arguments, input=stdin, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def restart_postgres(stack):
    stack.postgres.pg_ctl("restart", "-w", "-t", "60", "-m", "fast", "-l", stack.postgres.log)


def configure_postgres(stack):
    """Applies SHARED_BUFFERS and WAL_COMPRESSION (each unless "default") and restarts; returns the
    settings in force."""
    changes = [f"ALTER SYSTEM SET {name} = '{value}'"
               for name, value in (("shared_buffers", SHARED_BUFFERS), ("wal_compression", WAL_COMPRESSION)) if value != "default"]
    if changes:
        psql(stack, "postgres", *changes)
        restart_postgres(stack)
    return dict(psql(stack, "postgres", "SELECT name, current_setting(name) FROM pg_settings "
                                       "WHERE name IN ('shared_buffers', 'wal_compression')"))


# Attempts and their four events in one statement (the events from the insert's RETURNING, so the
# attempts are not read again). psql variables: n, busy, company, product, key, pool.
LOAD_ATTEMPTS = """
SELECT setseed(0.21);
WITH others AS (
    SELECT array_agg(id ORDER BY id) AS router, array_agg(company_id ORDER BY id) AS company, count(*)::int AS n
    FROM routers WHERE name LIKE 'Ledger router %'),
drawn AS (
    SELECT i, random() AS u_router, random() AS u_state, random() AS u_mac, random() AS u_method,
           ((:n - i) * :days::float8 / :n) AS age_days
    FROM generate_series(1, :n) i),
shaped AS (
    SELECT d.i, now() - interval '1 second' - make_interval(secs => d.age_days * 86400) AS created_at, floor(d.age_days)::int AS day,
           CASE WHEN d.u_router < :share THEN :busy
                ELSE o.router[least(o.n, 1 + floor((d.u_router - :share) / (1 - :share) * o.n)::int)] END AS router_id,
           CASE WHEN d.u_router < :share THEN :company
                ELSE o.company[least(o.n, 1 + floor((d.u_router - :share) / (1 - :share) * o.n)::int)] END AS company_id,
           CASE WHEN d.u_method < 0.03 THEN 'oxxo' WHEN d.u_method < 0.05 THEN 'spei' ELSE 'card' END AS method,
           CASE WHEN d.u_method < 0.05 THEN CASE WHEN d.u_state < 0.25 THEN 'expired' ELSE 'delivered' END
                WHEN d.u_state < 0.10 THEN 'declined' WHEN d.u_state < 0.115 THEN 'failed'
                WHEN d.u_state < 0.12 THEN 'refunded' ELSE 'delivered' END AS state,
           CASE WHEN d.u_mac < 0.7 THEN lpad(to_hex(floor(d.u_mac / 0.7 * :pool)::bigint), 8, '0') END AS mac
    FROM drawn d CROSS JOIN others o),
inserted AS (
    INSERT INTO payment_attempts (
        id, company_id, router_id, product_id, api_key_id, idempotency_key, request_hash, state, reason, amount_cents,
        currency, product_name, profile_name, limit_uptime, customer_name, customer_email, user_type, hotspot_username,
        hotspot_password, client_mac, client_ip, router_user_id, order_id, card_brand, card_last4, response_status,
        response_body, response_codigo, request_id, created_at, updated_at, finished_at, charge_sent_at, remote_address,
        payment_method, claim_code_hash, pay_later_reference, pay_later_expires_at, lease_owner, lease_until)
    SELECT gen_random_uuid(), s.company_id, s.router_id, :product, CASE WHEN s.router_id = :busy THEN :'key' END,
           't:' || md5(s.i::text) || md5('k' || s.i), md5('r' || s.i) || md5('s' || s.i), s.state,
           CASE s.state WHEN 'delivered' THEN 'hotspot user enabled' WHEN 'declined' THEN 'card declined'
                WHEN 'failed' THEN 'router unavailable' WHEN 'refunded' THEN 'refunded' ELSE 'order expired' END,
           1500, 'MXN', '1 Hora de Internet', '1hora', '1h', 'Cliente', 'cliente@example.com', 'usuario_contrasena',
           upper(substr(md5('u' || s.i), 1, 6)), decode(repeat('ab', 33), 'hex'),
           CASE WHEN s.mac IS NOT NULL THEN '02:00:' || upper(substr(s.mac, 1, 2) || ':' || substr(s.mac, 3, 2) || ':' ||
                substr(s.mac, 5, 2) || ':' || substr(s.mac, 7, 2)) END,
           '10.5.50.' || (2 + s.i % 250), '*' || upper(to_hex(s.i)),
           CASE WHEN s.state <> 'failed' THEN 'ord_' || lpad(to_hex(s.i), 9, '0') || substr(md5('o' || s.i), 1, 8) END,
           CASE WHEN s.method = 'card' AND s.state <> 'failed' THEN 'visa' END,
           CASE WHEN s.method = 'card' AND s.state <> 'failed' THEN '4242' END,
           CASE s.state WHEN 'declined' THEN 402 WHEN 'failed' THEN 503 ELSE 200 END,
           -- Sealed bodies of the sizes the server stores (a receipt, an error).
           CASE WHEN s.state IN ('declined', 'failed') THEN decode(repeat('cd', 180), 'hex') ELSE decode(repeat('ef', 574), 'hex') END,
           CASE s.state WHEN 'declined' THEN 'pago_declinado' WHEN 'failed' THEN 'router_no_disponible' ELSE 'pagado' END,
           md5('q' || s.i), s.created_at, s.created_at + interval '350 ms', s.created_at + interval '350 ms',
           CASE WHEN s.method = 'card' THEN s.created_at + interval '25 ms' END,
           CASE WHEN s.router_id = :busy AND s.day = 0 THEN '127.0.0.1'
                WHEN s.router_id = :busy THEN '203.0.113.' || (s.day % 250)
                ELSE '198.51.' || (s.router_id % 250) || '.' || (s.day % 250) END,
           s.method,
           CASE WHEN s.method <> 'card' THEN md5('c' || s.i) || md5('d' || s.i) END,
           CASE WHEN s.method <> 'card' THEN lpad(s.i::text, 14, '9') END,
           CASE WHEN s.method <> 'card' THEN s.created_at + interval '4 hours' END,
           -- A few leases left by processes that died long ago (expired, so nobody's now).
           CASE WHEN s.i % 250000 = 7 THEN 'oldhost:4242/3' END,
           CASE WHEN s.i % 250000 = 7 THEN s.created_at + interval '2 minutes' END
    FROM shaped s
    RETURNING id, state, payment_method, created_at)
INSERT INTO payment_events (attempt_id, at, from_state, to_state, reason)
SELECT a.id, a.created_at + (k - 1) * interval '100 ms', CASE WHEN k > 1 THEN steps[k - 1] END, steps[k],
       CASE WHEN k = 1 THEN 'recorded' ELSE steps[k] END
FROM inserted a
CROSS JOIN LATERAL (SELECT CASE WHEN a.payment_method <> 'card' THEN
        CASE a.state WHEN 'expired' THEN ARRAY['pending', 'awaiting_payment', 'aborting', 'expired']
                     ELSE ARRAY['pending', 'awaiting_payment', 'provisioning', 'delivered'] END
    ELSE CASE a.state WHEN 'declined' THEN ARRAY['pending', 'charging', 'declining', 'declined']
                      WHEN 'failed' THEN ARRAY['pending', 'charging', 'aborting', 'failed']
                      WHEN 'refunded' THEN ARRAY['pending', 'charging', 'paid', 'refunded']
                      ELSE ARRAY['pending', 'charging', 'paid', 'delivered'] END END AS steps) s
CROSS JOIN generate_series(1, 4) k;

-- The last day's failed claim-code guesses, spread like the attempts.
INSERT INTO claim_failures (company_id, router_id, client_mac, remote_address, at)
SELECT CASE WHEN u < :share THEN :company ELSE (SELECT company_id FROM routers WHERE name = 'Ledger router ' || (1 + j % 49)) END,
       CASE WHEN u < :share THEN :busy ELSE (SELECT id FROM routers WHERE name = 'Ledger router ' || (1 + j % 49)) END,
       '02:00:' || upper(substr(m, 1, 2) || ':' || substr(m, 3, 2) || ':' || substr(m, 5, 2) || ':' || substr(m, 7, 2)),
       CASE WHEN u < :share THEN '127.0.0.1' ELSE '198.51.' || (j % 49) || '.0' END,
       now() - interval '1 second' - make_interval(secs => 86400.0 * j / :claims)
FROM (SELECT j, random() AS u, lpad(to_hex(floor(random() * :pool)::bigint), 8, '0') AS m
      FROM generate_series(1, :claims) j) f;
"""

# Every index and unique or primary-key constraint of the two ledger tables: dropped before the
# load and made again after it (one sorted build each instead of ten million random insertions).
INDEX_DEFINITIONS = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
FROM pg_constraint WHERE conrelid IN ('payment_attempts'::regclass, 'payment_events'::regclass) AND contype IN ('p', 'u')
UNION ALL
SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid)
FROM pg_index i WHERE indrelid IN ('payment_attempts'::regclass, 'payment_events'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


def load_ledger(stack, ids, attempts):
    """Bulk-loads the ledger database to `attempts` past attempts; returns how long each step took and
    the sizes it came to."""
    timings = {}
    started = time.time()
    psql(stack, LOADED_DB,
         "INSERT INTO companies (name) SELECT 'Ledger company ' || c FROM generate_series(1, 10) c",
         f"""INSERT INTO routers (company_id, name, rest_url, api_user, api_password)
             SELECT c.id, 'Ledger router ' || r, 'https://192.0.2.' || r || ':443', 'hotspot-pay', '\\x00'::bytea
             FROM generate_series(1, {OTHER_ROUTERS}) r
             JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM companies WHERE name LIKE 'Ledger company %') c
               ON c.k = r % 10""")
    definitions = psql(stack, LOADED_DB, INDEX_DEFINITIONS)
    psql(stack, LOADED_DB, *[drop for drop, _ in definitions])
    variables = {"n": attempts, "days": DAYS, "share": BUSY_SHARE, "busy": ids["router"], "company": ids["company"],
                 "product": ids["product"], "key": ids["key_id"], "pool": mac_pool(attempts),
                 "claims": max(1, int(attempts * CLAIM_FAILURES_PER_ATTEMPT))}
    arguments = ["psql", "-h", stack.postgres.directory, "-U", "postgres", "-d", LOADED_DB, "-q", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        arguments += ["-v", f"{name}={value}"]
    subprocess.run(arguments, input=LOAD_ATTEMPTS, capture_output=True, text=True, check=True)
    timings["rows_s"] = round(time.time() - started, 1)
    started = time.time()
    timings["each_index_s"] = {}
    for _, make in definitions:
        each = time.time()
        psql(stack, LOADED_DB, "SET maintenance_work_mem = '512MB'", make)
        name = re.search(r"(?:INDEX|CONSTRAINT) (\S+)", make).group(1)
        timings["each_index_s"][name] = round(time.time() - each, 1)
    timings["indexes_s"] = round(time.time() - started, 1)
    # What autovacuum would have done over two years: statistics, and the visibility map that lets
    # an index-only scan skip the table's pages. Then a checkpoint, so the load's dirty pages are
    # not written during the runs.
    started = time.time()
    psql(stack, LOADED_DB, "VACUUM (ANALYZE) payment_attempts", "VACUUM (ANALYZE) payment_events", "VACUUM (ANALYZE) claim_failures",
         "CHECKPOINT")
    timings["vacuum_s"] = round(time.time() - started, 1)
    return timings


def sizes_mib(stack, database):
    rows = psql(stack, database, """
        SELECT c.relname, c.relkind, pg_relation_size(c.oid) FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')
          AND (c.relname LIKE 'payment_%' OR c.relname LIKE 'claim_failures%')""")
    tables = {name: round(int(size) / 2**20, 1) for name, kind, size in rows if kind == "r"}
    indexes = {name: round(int(size) / 2**20, 1) for name, kind, size in rows if kind == "i"}
    return {"tables": tables, "indexes": indexes, "total": round(sum(tables.values()) + sum(indexes.values()), 1)}


def mac_pool(attempts):
    return max(1000, attempts // 5)


# -- the stack ------------------------------------------------------------------------------------

def new_stack(bench):
    """The stack of bench/run.py's payment runs; the card-testing and claim-guess limits per client
    address are off because every request of the bench comes from one address (the counts are still
    read)."""
    stack = hotspot_stack.Stack(
        build_dir=bench.BUILD, threads=bench.THREADS, api_rate="1000000r/s", payment_rate="1000000r/s", conn_limit=10000,
        conekta_args=("--latency-ms", str(bench.CONEKTA_MS), "--no-tls"),
        router_args=("--profile", "1hora", "--profile", "1dia", "--no-tls"),
        extra_env={"HOTSPOT_LOG_LEVEL": "warning", "HOTSPOT_ROUTER_MAX_CONCURRENCY": "64", "HOTSPOT_DECLINES_PER_ADDRESS": "0",
                   "HOTSPOT_CLAIM_GUESSES_PER_ADDRESS": "0", "HOTSPOT_ROUTER_QUEUE_WAIT_MS": "30000"})
    if bench.STANDINS == "nginx":
        stack.router = standin.StandIn("router", stack.directory, bench.ROUTER_MS)
        stack.conekta = standin.StandIn("conekta", stack.directory, bench.CONEKTA_MS)
    return stack


def ctl(stack, env_file, *args, stdin=None):
    command = [os.path.join(stack.build_dir, "hotspotctl"), "--env-file", env_file, "--json"] + list(args)
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"hotspotctl {' '.join(args)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout) if result.stdout.strip() else None


def provision(stack, env_file):
    """bench/run.py's company, router, product and key."""
    company = ctl(stack, env_file, "company", "add", "--name", "Bench", "--phone", "5512345678")["id"]
    ctl(stack, env_file, "company", "set-conekta", "--company", str(company), "--public-key", "key_pub", "--private-key-stdin",
        stdin=hotspot_stack.SANDBOX_PRIVATE_KEY + "\n")
    router = ctl(stack, env_file, "router", "add", "--company", str(company), "--name", "R", "--url", stack.router.url,
                 "--user", hotspot_stack.ROUTER_USER, "--password-stdin", "--insecure", "--hotspot-server", "hotspot1",
                 stdin=hotspot_stack.ROUTER_PASSWORD + "\n")["id"]
    product = ctl(stack, env_file, "product", "add", "--company", str(company), "--router", str(router), "--name", "1 Hora",
                  "--price", "15", "--profile", "1hora")["id"]
    key = ctl(stack, env_file, "key", "issue", "--router", str(router))
    return {"company": company, "router": router, "product": product, "key_id": key["key_id"], "api_key": key["api_key"]}


def start_server(stack, env_file):
    """Starts the server on `env_file`'s database; milliseconds from its launch to its first answer
    through nginx (as bench/run.py measures start-up)."""
    started = time.time()
    stack.server = subprocess.Popen([os.path.join(stack.build_dir, "hotspot-pay"), "--env-file", env_file],
                                    stdout=subprocess.DEVNULL, stderr=open(stack.server_log, "a"))
    health = f"http://127.0.0.1:{stack.port}/health"
    while True:
        try:
            with urllib.request.urlopen(health, timeout=1) as reply:
                if reply.status == 200:
                    return round((time.time() - started) * 1000, 1)
        except OSError:
            pass
        if time.time() - started > 30:
            raise RuntimeError("the server did not answer within 30 s")
        time.sleep(0.002)


# The indexes whose keys arrive in random order: every payment writes to a random leaf of each, so
# a server that has run for a while has touched all of them, and with shared buffers sized for them
# (SHARED_BUFFERS) keeps them there. A warm-up of a few thousand payments touches a few percent of
# their leaves: the rest are read into shared buffers now (pg_prewarm), as they would have been.
RANDOM_KEY_INDEXES = ("payment_attempts_company_id_idempotency_key_key", "payment_attempts_order",
                      "payment_attempts_declines_mac")


def prewarm(stack, database):
    """Reads RANDOM_KEY_INDEXES into shared buffers (unless SHARED_BUFFERS is "default": they do
    not fit in 128 MB); returns the MiB read."""
    if SHARED_BUFFERS == "default":
        return 0
    blocks = psql(stack, database, "CREATE EXTENSION IF NOT EXISTS pg_prewarm",
                  "SELECT coalesce(sum(pg_prewarm(c.oid)), 0) FROM pg_class c WHERE c.relname IN ("
                  + ", ".join(f"'{name}'" for name in RANDOM_KEY_INDEXES) + ")")
    return round(int(blocks[-1][0]) * 8 / 1024, 1)


def timed_reconcile(stack, env_file):
    """Milliseconds `hotspotctl reconcile --once` takes (nothing unfinished: its fixed cost)."""
    started = time.time()
    done = subprocess.run([os.path.join(stack.build_dir, "hotspotctl"), "--env-file", env_file, "--json", "reconcile", "--once"],
                          capture_output=True, text=True)
    elapsed = round((time.time() - started) * 1000, 1)
    if done.returncode != 0:
        print(f"hotspotctl reconcile --once: exit {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}", flush=True)
    return elapsed


def wait_until_finished(stack, database, seconds=60):
    """bench/run.py's, on either database: lets the requests wrk abandoned at the end finish."""
    deadline = time.time() + seconds
    while time.time() < deadline and int(psql(stack, database, "SELECT count(*) FROM payment_attempts WHERE finished_at IS NULL")[0][0]):
        time.sleep(0.5)


COUNTERS = ("wal_records", "wal_fpi", "wal_bytes", "blks_read", "blks_hit", "buffers_written")


def pg_counters(stack, database):
    """PostgreSQL's cumulative counters: WAL (all databases), shared buffers read and hit (this one)
    and written out (all)."""
    row = psql(stack, database, """
        SELECT w.wal_records, w.wal_fpi, w.wal_bytes, d.blks_read, d.blks_hit,
               b.buffers_checkpoint + b.buffers_clean + b.buffers_backend
        FROM pg_stat_wal w, pg_stat_bgwriter b, pg_stat_database d WHERE d.datname = current_database()""")[0]
    return dict(zip(COUNTERS, (float(value) for value in row), strict=True))


def wrk_env(ids):
    return dict(os.environ, PRODUCT=str(ids["product"]), KEY=ids["api_key"], MACS=str(mac_pool(LEDGER)))


def warm_up(stack, database, ids, seconds):
    """Payments not measured: the server's connections, caches and plans, and PostgreSQL's pages."""
    if seconds:
        subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--timeout", "30s", "-s", os.path.join(HERE, "growth.lua"),
                        f"http://127.0.0.1:{stack.port}"], capture_output=True, text=True, env=wrk_env(ids), check=True)
        wait_until_finished(stack, database)


def payment_run(stack, bench, database, ids, seconds):
    """The payment run of bench/run.py at CLIENTS clients, each payment from a device of the pool."""
    env = wrk_env(ids)
    url = f"http://127.0.0.1:{stack.port}"
    script = os.path.join(HERE, "growth.lua")
    warm_up(stack, database, ids, bench.WARMUP_SECONDS)
    time.sleep(1.5)  # backends report their counters at most once a second
    counters_before = pg_counters(stack, database)
    cpu_before = bench.cpu_by_component(stack)
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--latency", "--timeout", "30s", "-s", script, url],
                         capture_output=True, text=True, env=env, check=True).stdout
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_after = bench.cpu_by_component(stack)
    parsed = catalogue.parse_wrk(out)
    answered = max(parsed["requests"] - parsed["errors"], 1)
    cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / answered, 3) for name in cpu_after}
    cpu_ms["wrk"] = round((wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime) * 1000 / answered, 3)
    cpu_ms["total"] = round(sum(cpu_ms.values()), 3)
    wait_until_finished(stack, database)
    time.sleep(1.5)
    counters_after = pg_counters(stack, database)
    # What PostgreSQL did per payment: WAL records, full-page images and bytes, shared buffers read
    # (from the OS) and hit, and buffers written out (by checkpoints, the background writer and
    # backends). Counted until the run's last attempt is final, so slightly over a run's worth.
    per_payment = {name: round((counters_after[name] - counters_before[name]) / answered, 2) for name in COUNTERS}
    per_payment["wal_kib"] = round(per_payment.pop("wal_bytes") / 1024, 1)
    return {"payments_per_s": round(parsed["ok_rps"], 1), "p50_ms": parsed["p50_ms"], "p99_ms": parsed["p99_ms"],
            "errors": parsed["errors"], "answered": answered, "cpu_ms_per_payment": cpu_ms, "postgres_per_payment": per_payment}


# -- plans ----------------------------------------------------------------------------------------

EXPLAIN_SETTINGS = {"auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on", "auto_explain.log_buffers": "on",
                    "auto_explain.log_timing": "on", "auto_explain.log_nested_statements": "off"}


def log_plans(stack, start):
    """(query text, plan text) of each plan auto_explain logged after byte `start` of PostgreSQL's log.
    A logged message's continuation lines start with a tab; the plan begins at its first line with a
    cost (no statement of the product has one in its text)."""
    with open(stack.postgres.log, "rb") as log:
        log.seek(start)
        text = log.read().decode("utf-8", "replace")
    plans = []
    for entry in re.split(r"\n(?=\S)", text):
        head, _, rest = entry.partition("\n")
        if "LOG:  duration:" not in head or "plan:" not in head:
            continue
        lines = [line[1:] if line.startswith("\t") else line for line in rest.split("\n")]
        first = next((i for i, line in enumerate(lines) if "(cost=" in line), None)
        if first is None:
            continue
        query = "\n".join(lines[:first]).removeprefix("Query Text: ")
        plans.append((query, "\n".join(lines[first:]).rstrip()))
    return plans


def scans(plan):
    """How a plan reaches its rows: its scan nodes (the index each uses), in order, once each."""
    found = []
    for line in plan.splitlines():
        match = re.search(r"((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan)"
                          r"(?: Backward)?(?: using| on) \S+)", line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def dead_pid():
    """A process id no process has now."""
    return next(pid for pid in range(4_000_000, 1, -1) if not os.path.exists(f"/proc/{pid}"))


def explain_phase(stack, databases):
    """Runs a few payments and failed claim-code guesses on each database with every plan logged;
    returns {database: {statement: {calls, pages, ms, plan}}}."""
    psql(stack, "postgres", "LOAD 'auto_explain'", "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, auto_explain",
         *[f"ALTER SYSTEM SET {name} = {value}" for name, value in EXPLAIN_SETTINGS.items()])
    restart_postgres(stack)
    found = {}
    try:
        for database, (env_file, ids) in databases.items():
            psql(stack, database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "SELECT pg_stat_statements_reset()")
            # Three of the latest attempts still leased by a process of this host that died: the
            # server frees them as it starts.
            psql(stack, database, f"""UPDATE payment_attempts SET lease_owner = '{socket.gethostname()}:{dead_pid()}/fcgi-1',
                                          lease_until = now() + interval '1 hour'
                                      WHERE id IN (SELECT id FROM payment_attempts ORDER BY created_at DESC LIMIT 3)""")
            start = os.path.getsize(stack.postgres.log)
            start_server(stack, env_file)
            answers = {}
            for number in range(EXPLAIN_PAYMENTS):
                status, _, _ = stack.request("POST", "/api/v1/payments/pagar-conekta",
                              {"producto_id": ids["product"], "token_tarjeta": f"tok_sandbox_paid_explain_{number}_{time.time_ns()}",
                               "nombre_cliente": "Bench", "email_cliente": "bench@example.com",
                               "mac_cliente": f"02:00:00:00:{number // 256:02X}:{number % 256:02X}"},
                              headers={"X-API-Key": ids["api_key"]})
                answers[f"payment {status}"] = answers.get(f"payment {status}", 0) + 1
            for number in range(EXPLAIN_CLAIMS):
                # A well-formed code that no attempt has: looked up, then counted as a failed guess.
                status, _, _ = stack.request("POST", "/api/v1/payments/canjear",
                              {"codigo_canje": f"ZZZZZ{number:05d}", "mac_cliente": f"02:00:00:01:00:{number:02X}"},
                              headers={"X-API-Key": ids["api_key"]})
                answers[f"claim {status}"] = answers.get(f"claim {status}", 0) + 1
            timed_reconcile(stack, env_file)
            stack.stop_server()
            time.sleep(0.5)  # the log's last lines
            plans = {}
            for query, plan in log_plans(stack, start):
                name = statement_name(query)
                if name:
                    plans[name] = plan  # the last one: after five runs, the plan PostgreSQL keeps
            stats = {}
            for query, calls, pages, dirtied, total_ms in psql(stack, database, """
                    SELECT regexp_replace(query, '[[:space:]]+', ' ', 'g'), calls, shared_blks_hit + shared_blks_read,
                           shared_blks_dirtied, total_exec_time
                    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"""):
                name = statement_name(query)
                if name:
                    entry = stats.setdefault(name, {"calls": 0, "pages": 0, "dirtied": 0, "ms": 0.0})
                    entry["calls"] += int(calls)
                    entry["pages"] += int(pages)
                    entry["dirtied"] += int(dirtied)
                    entry["ms"] += float(total_ms)
            found[database] = {"answers": answers} | {
                name: {"calls": entry["calls"], "pages_per_call": round(entry["pages"] / entry["calls"], 1),
                       "dirtied_per_call": round(entry["dirtied"] / entry["calls"], 1),
                       "ms_per_call": round(entry["ms"] / entry["calls"], 3), "plan": plans.get(name, "")}
                for name, entry in stats.items()}
    finally:
        stack.stop_server()
        psql(stack, "postgres", "ALTER SYSTEM RESET ALL")  # from the next start on; the stack stops next
    return found


def bounded(empty, loaded):
    """A statement touches a bounded number of pages when the loaded ledger costs it no more than
    twice the empty one's pages and four more (each B-tree it descends is one or two levels deeper
    there), and no plan node reads a ledger table whole (small tables, such as the day of failed
    claim-code guesses, may be read whole: then the pages tell)."""
    if re.search(r"Seq Scan on (payment_attempts|payment_events)\b", loaded.get("plan", "")):
        return False
    return loaded["pages_per_call"] <= 2 * empty["pages_per_call"] + 4


# -- the section ----------------------------------------------------------------------------------

def measure():
    """The growth section: see the module's documentation. None when BENCH_LEDGER is 0."""
    if LEDGER <= 0:
        return None
    bench = bench_module()
    stack = new_stack(bench)
    result = {"ledger_attempts": LEDGER, "ledger_events": 4 * LEDGER, "clients": CLIENTS, "seconds": bench.SECONDS,
              "warmup_seconds": bench.WARMUP_SECONDS, "busy_router_share": BUSY_SHARE, "days": DAYS}
    try:
        stack.postgres.start()
        result["postgres_settings"] = configure_postgres(stack)
        stack.router.start()
        stack.conekta.start()
        stack.write_env_file()
        psql(stack, "postgres", f"CREATE DATABASE {LOADED_DB}")
        loaded_env = os.path.join(stack.directory, "hotspot-pay-ledger.env")
        with open(stack.env_file) as source:
            text = source.read().replace(stack.postgres.url, stack.postgres.url.replace("/hotspot?", f"/{LOADED_DB}?"))
        with open(loaded_env, "w") as target:
            target.write(text)
        os.chmod(loaded_env, 0o600)
        databases = {"hotspot": [stack.env_file, None], LOADED_DB: [loaded_env, None]}
        for entry in databases.values():
            ctl(stack, entry[0], "migrate")
            entry[1] = provision(stack, entry[0])
        started = time.time()
        result["load_s"] = load_ledger(stack, databases[LOADED_DB][1], LEDGER)
        result["load_s"]["total_s"] = round(time.time() - started, 1)
        result["sizes_mib"] = sizes_mib(stack, LOADED_DB)
        stack.start_nginx()
        # One untimed run on each ledger first: the load's last checkpoint and vacuum leave the
        # pages payments use cold, which a server running on that ledger would have warm.
        for database in ("hotspot", LOADED_DB):
            env_file, ids = databases[database]
            start_server(stack, env_file)
            warm_up(stack, database, ids, 3 * bench.WARMUP_SECONDS)
            stack.stop_server()
            result.setdefault("prewarmed_mib", {})[database] = prewarm(stack, database)
        rounds = []
        for number in range(ROUNDS):
            for database, ledger in (("hotspot", "empty"), (LOADED_DB, "loaded")):
                env_file, ids = databases[database]
                startup_ms = start_server(stack, env_file)
                run = payment_run(stack, bench, database, ids, bench.SECONDS)
                run.update({"round": number + 1, "ledger": ledger, "startup_ms": startup_ms,
                            "reconcile_once_ms": timed_reconcile(stack, env_file)})
                stack.stop_server()
                rounds.append(run)
                print(f"growth round {number + 1}, {ledger} ledger: {run['payments_per_s']}/s, CPU ms per payment "
                      f"{run['cpu_ms_per_payment']}, PostgreSQL per payment {run['postgres_per_payment']}, start-up {startup_ms} ms",
                      flush=True)
        result["rounds"] = rounds
        result["ratios"] = ratios(rounds)
        plans = explain_phase(stack, {name: tuple(entry) for name, entry in databases.items()})
        result["explain_answers"] = {database: found.get("answers") for database, found in plans.items()}
        result["statements"] = statements(plans.get("hotspot", {}), plans.get(LOADED_DB, {}))
        result["explain_file"] = write_explain(result)
        return result
    finally:
        # The loaded cluster is gigabytes: nothing of it is kept but the figures and the plans.
        stack.discard()


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return (ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2) if ordered else None


def ratios(rounds):
    """CPU per payment of the loaded ledger over the empty one's in the same round, by component;
    the median over the rounds, and each round's."""
    empty = {row["round"]: row["cpu_ms_per_payment"] for row in rounds if row["ledger"] == "empty"}
    loaded = {row["round"]: row["cpu_ms_per_payment"] for row in rounds if row["ledger"] == "loaded"}
    out = {}
    for component in ("server", "postgres", "total"):
        each = [round(loaded[n][component] / empty[n][component], 3) for n in sorted(loaded) if empty.get(n, {}).get(component)]
        out[component] = {"median": round(median(each), 3) if each else None, "rounds": each}
    return out


def statements(empty, loaded):
    rows = []
    for name, kind, _ in STATEMENTS:
        if name not in loaded:
            continue
        e, big = empty.get(name), loaded[name]
        rows.append({"name": name, "kind": kind, "calls": big["calls"], "pages_empty": e["pages_per_call"] if e else None,
                     "pages_loaded": big["pages_per_call"], "dirtied_loaded": big["dirtied_per_call"],
                     "ms_empty": e["ms_per_call"] if e else None, "ms_loaded": big["ms_per_call"], "scans": scans(big["plan"]),
                     "bounded": bounded(e, big) if e else None, "plan": big["plan"]})
    return rows


def write_explain(result):
    """bench/results/explain-<N>.txt: each statement's pages per call on both ledgers and its last plan
    on the loaded one, as auto_explain logged it."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"explain-{result['ledger_attempts']}.txt")
    lines = [f"EXPLAIN (ANALYZE, BUFFERS) of the statements a payment runs, with {result['ledger_attempts']:,} past attempts "
             f"({result['ledger_events']:,} events) in the ledger.",
             f"make bench, growth section, {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}; logged by "
             "auto_explain from the server's own prepared statements (the last execution of each, after at least five: the "
             "plan PostgreSQL keeps). Pages: shared buffers hit + read per call (pg_stat_statements), empty ledger → loaded.", ""]
    for row in result["statements"]:
        lines.append(f"{row['name']} ({row['kind']}): {row['calls']} calls, pages per call {row['pages_empty']} → "
                     f"{row['pages_loaded']}, ms per call {row['ms_empty']} → {row['ms_loaded']}")
    for row in result["statements"]:
        lines += ["", f"== {row['name']} ({row['kind']})", row["plan"] or "(no plan logged)"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return os.path.relpath(path, HERE)


# -- reporting ------------------------------------------------------------------------------------

def startup(result, ledger):
    return [row["startup_ms"] for row in result["rounds"] if row["ledger"] == ledger]


def targets(result):
    """(target, this run's figure, met) for issue 21 §1."""
    r = result["ratios"]
    loaded_startup = startup(result, "loaded")
    per_payment = [row for row in result["statements"] if row["name"] in PER_PAYMENT]
    unbounded = [row["name"] for row in per_payment if row["bounded"] is False]
    return [
        (f"PostgreSQL CPU per payment with {result['ledger_attempts']:,} attempts ≤ 1.10 × empty",
         f"{r['postgres']['median']} (rounds {r['postgres']['rounds']})", (r["postgres"]["median"] or 99) <= 1.10),
        (f"server CPU per payment with {result['ledger_attempts']:,} attempts ≤ 1.10 × empty",
         f"{r['server']['median']} (rounds {r['server']['rounds']})", (r["server"]["median"] or 99) <= 1.10),
        (f"start-up with {result['ledger_attempts']:,} attempts ≤ 100 ms", f"{max(loaded_startup)} ms (each: {loaded_startup})",
         max(loaded_startup) <= 100),
        ("every per-payment statement touches a bounded number of pages",
         "all bounded" if not unbounded else "unbounded: " + ", ".join(unbounded), not unbounded and len(per_payment) == len(PER_PAYMENT)),
    ]


def settings_text(g):
    found = g.get("postgres_settings") or {}
    warm = (g.get("prewarmed_mib") or {}).get(LOADED_DB)
    return (f"shared_buffers {found.get('shared_buffers', '128MB')}, wal_compression {found.get('wal_compression', 'off')}"
            + (f", the random-key indexes prewarmed ({warm} MiB on the loaded ledger)" if warm else ""))


def summary(result):
    """The growth figures of one line of results/history.jsonl."""
    g = result.get("growth")
    if not g:
        return {}
    return {"growth": {"ledger": g["ledger_attempts"], "postgres_ratio": g["ratios"]["postgres"]["median"],
                       "server_ratio": g["ratios"]["server"]["median"], "startup_ms": max(startup(g, "loaded")),
                       "shared_buffers": (g.get("postgres_settings") or {}).get("shared_buffers", "128MB"),
                       "bounded": all(row["bounded"] is not False for row in g["statements"] if row["name"] in PER_PAYMENT)}}


def results_lines(result):
    """RESULTS.md's growth section."""
    g = result.get("growth")
    if not g:
        return []
    s = g["sizes_mib"]
    lines = [f"## Growth (issue 21 §1): {g['ledger_attempts']:,} past attempts in the ledger", "",
             f"The ledger bulk-loaded to {g['ledger_attempts']:,} attempts and {g['ledger_events']:,} events over {g['days']} days "
             f"({round(g['busy_router_share'] * 100)}% on the bench's router, the rest on {OTHER_ROUTERS} others; 10% declined; "
             f"tables {round(sum(s['tables'].values()) / 1024, 1)} GiB, indexes {round(sum(s['indexes'].values()) / 1024, 1)} GiB; "
             f"loaded in {g['load_s']['total_s']} s). The same payment run ({g['clients']} clients, each payment from a device of "
             f"the ledger's, {g['seconds']} s after a {g['warmup_seconds']} s warm-up) alternates between an empty ledger and the "
             "loaded one after an untimed run on each, the server restarted each time; ratios are loaded ÷ empty in the same "
             f"round. PostgreSQL for both: {settings_text(g)}.", "",
             "CPU in ms per answered payment; what PostgreSQL did per payment: WAL written (KiB) and full-page images in it, "
             "pages read from outside its shared buffers.", "",
             "| round | ledger | payments/s | p99 ms | server | PostgreSQL | total | WAL KiB | full pages | pages read "
             "| start-up ms | reconcile --once ms |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in g["rounds"]:
        c, p = row["cpu_ms_per_payment"], row["postgres_per_payment"]
        lines.append(f"| {row['round']} | {row['ledger']} | {row['payments_per_s']} | {row['p99_ms']:.0f} | {c['server']:.2f} | "
                     f"{c['postgres']:.2f} | {c['total']:.2f} | {p['wal_kib']} | {p['wal_fpi']} | {p['blks_read']} | "
                     f"{row['startup_ms']} | {row['reconcile_once_ms']} |")
    r = g["ratios"]
    lines += ["", f"CPU per payment, loaded ÷ empty (median of the rounds): server {r['server']['median']}, PostgreSQL "
              f"{r['postgres']['median']}, whole stack {r['total']['median']}.", "",
              "Pages each statement touches per call (shared buffers hit + read, pg_stat_statements) and how its plan reaches "
              f"its rows; plans in [`{g['explain_file']}`]({g['explain_file']}):", "",
              "| statement | runs at | pages, empty | pages, loaded | ms, loaded | scans (loaded) | bounded |",
              "|---|---|---:|---:|---:|---|:---:|"]
    for row in g["statements"]:
        verdict = {True: "yes", False: "**no**", None: "–"}[row["bounded"]]
        lines.append(f"| {row['name']} | {row['kind']} | {row['pages_empty'] if row['pages_empty'] is not None else '–'} | "
                     f"{row['pages_loaded']} | {row['ms_loaded']} | {'; '.join(row['scans']) or '–'} | {verdict} |")
    lines += ["", "### Targets (issue 21 §1)", "", "| target | this run | met |", "|---|---|:---:|"]
    for name, figure, met in targets(g):
        lines.append(f"| {name} | {figure} | {'yes' if met else '**no**'} |")
    lines.append("")
    runs = []
    try:
        runs = [json.loads(line) for line in open(os.path.join(RESULTS, "history.jsonl")) if '"growth"' in line]
    except OSError:
        pass
    if runs:
        lines += ["Recent growth runs (loaded ÷ empty CPU per payment; start-up with the loaded ledger):", "",
                  "| date | commit | attempts | shared buffers | server | PostgreSQL | start-up ms | pages bounded |",
                  "|---|---|---:|---:|---:|---:|---:|:---:|"]
        for run in runs[-10:]:
            x = run["growth"]
            lines.append(f"| {run['date'][:16]} | {run['commit']} | {x['ledger']:,} | {x.get('shared_buffers', '128MB')} | "
                         f"{x['server_ratio']} | {x['postgres_ratio']} | "
                         f"{x['startup_ms']} | {'yes' if x['bounded'] else 'no'} |")
        lines.append("")
    return lines


def print_report(result):
    g = result.get("growth")
    if not g:
        return
    print(f"\ngrowth: {g['ledger_attempts']:,} attempts loaded in {g['load_s']['total_s']} s ({g['sizes_mib']['total']} MiB); "
          f"PostgreSQL {settings_text(g)}")
    print(f"{'round':>6} {'ledger':>7} {'pay/s':>7} {'p99 ms':>7} {'server':>7} {'pg':>6} {'total':>6} {'WAL KiB':>8} {'FPI':>5} "
          f"{'read':>5} {'start-up':>9} {'reconcile':>10}")
    for row in g["rounds"]:
        c, p = row["cpu_ms_per_payment"], row["postgres_per_payment"]
        print(f"{row['round']:>6} {row['ledger']:>7} {row['payments_per_s']:>7} {row['p99_ms']:>7.0f} {c['server']:>7.2f} "
              f"{c['postgres']:>6.2f} {c['total']:>6.2f} {p['wal_kib']:>8} {p['wal_fpi']:>5} {p['blks_read']:>5} "
              f"{row['startup_ms']:>9} {row['reconcile_once_ms']:>10}")
    r = g["ratios"]
    print(f"loaded ÷ empty: server {r['server']}, PostgreSQL {r['postgres']}, total {r['total']}")
    print(f"{'statement':>24} {'pages empty':>12} {'pages loaded':>13} {'ms loaded':>10}  scans")
    for row in g["statements"]:
        print(f"{row['name']:>24} {row['pages_empty']!s:>12} {row['pages_loaded']!s:>13} {row['ms_loaded']!s:>10}  "
              f"{'; '.join(row['scans'])}")
    for name, figure, met in targets(g):
        print(f"  {'met   ' if met else 'MISSED'}  {name}: {figure}")
    print(f"plans: bench/{g['explain_file']}")


def main():
    result = {"growth": measure()}
    print_report(result)
    if result["growth"]:
        path = os.path.join(RESULTS, f"growth-{LEDGER}.tmp")
        with open(path, "w") as f:
            json.dump(result["growth"], f, indent=2)
        print(f"figures: {os.path.relpath(path)} (make bench records them in latest.json)")


if __name__ == "__main__":
    main()
