#!/usr/bin/env python3
"""make bench's drain section (issue 21 §2): how long the reconciler takes to finish the backlog an
outage leaves, by `hotspotctl reconcile --once` and by the server's background reconciler.

The backlog: BENCH_DRAIN_ATTEMPTS (10,000) unfinished attempts over BENCH_DRAIN_ROUTERS (100)
routers, each router a port of one nginx + njs stand-in answering after BENCH_ROUTER_MS (20 ms).
They are the states a router or database outage leaves a card payment in, each one router call
from its end: paid, its user to enable (half); declined, its user to delete (a quarter); never
charged, its user to delete (15%) or to look for (10%). They are written as the saga writes them
(passwords sealed with the stack's secrets key, timelines included), already due, as they are
once the outage is over. The same backlog is made again for each run:

- `hotspotctl`: `hotspotctl reconcile --once`, the server stopped;
- `server`: the server's background reconciler, from the server's start;
- `… slow router`: the same with one router answering after BENCH_DRAIN_SLOW_MS (2 s) instead: the
  others' attempts must not wait for it (`others`: when every attempt of the other routers was
  final).

Times come from the attempts' own `finished_at`, measured from the drainer's start. A run still
unfinished after BENCH_DRAIN_TIMEOUT seconds is stopped and reported with what it finished.
Standalone: `python3 bench/drain.py` prints the figures (HOTSPOT_BUILD_DIR: the release build)."""

import base64
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
sys.path.insert(0, HERE)
import hotspot_stack  # noqa: E402
import standin  # noqa: E402
from procstat import cpu_seconds, tree_cpu_seconds  # noqa: E402

ATTEMPTS = int(os.environ.get("BENCH_DRAIN_ATTEMPTS", "10000"))
ROUTERS = int(os.environ.get("BENCH_DRAIN_ROUTERS", "100"))
ROUTER_MS = int(os.environ.get("BENCH_ROUTER_MS", "20"))
SLOW_MS = int(os.environ.get("BENCH_DRAIN_SLOW_MS", "2000"))
TIMEOUT_S = int(os.environ.get("BENCH_DRAIN_TIMEOUT", "180"))
BUILD = os.environ.get("HOTSPOT_BUILD_DIR", os.path.join(HERE, "..", ".build", "release"))
# Which runs, in this order: a drainer, "-slow" for the variant with one slow router.
RUNS = os.environ.get("BENCH_DRAIN_RUNS", "hotspotctl,server,hotspotctl-slow,server-slow").split(",")
TARGET_S = 15.0
# (state, share of the backlog, its recorded reason, has a router user, has an order, timeline after pending).
MIX = (
    ("paid", 50, "paid; enabling the user failed: unreachable", True, True, ("charging", "paid")),
    ("declining", 25, "could not delete the hotspot user (unreachable); will retry", True, False, ("charging", "declining")),
    ("aborting", 15, "could not delete the hotspot user (unreachable); will retry", True, False, ("aborting",)),
    ("pending", 10, "recorded", False, False, ()),
)
USERNAME_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
# A slow router: the first one.
SLOW_ROUTER_INDEX = 0


def seal(key, plaintext, context):
    """SecretBox's layout: version byte 1, then nonce ‖ ciphertext ‖ tag (AES-256-GCM, the context as
    associated data)."""
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())


def env_value(stack, name):
    for line in open(stack.env_file):
        if line.startswith(name + "="):
            return line.split("=", 1)[1].strip()
    raise KeyError(name)


def provision(stack, fleet):
    """One company with its Conekta keys, ROUTERS routers (one stand-in port each) and a product on
    each, through hotspotctl as an operator adds them."""
    company = stack.ctl("company", "add", "--name", "Drain", "--email", "ops@drain.example")["id"]
    stack.ctl("company", "set-conekta", "--company", str(company), "--public-key", hotspot_stack.SANDBOX_PUBLIC_KEY,
              "--private-key-stdin", stdin=hotspot_stack.SANDBOX_PRIVATE_KEY + "\n")

    def add(index):
        router = stack.ctl("router", "add", "--company", str(company), "--name", f"Router {index + 1}",
                           "--url", fleet.urls[index], "--user", hotspot_stack.ROUTER_USER, "--password-stdin",
                           "--insecure", "--skip-check", "--hotspot-server", "hotspot1",
                           stdin=hotspot_stack.ROUTER_PASSWORD + "\n")["id"]
        product = stack.ctl("product", "add", "--company", str(company), "--router", str(router), "--name",
                            "1 Hora de Internet", "--price", "15", "--profile", "1hora", "--uptime", "1h",
                            "--skip-router-check")["id"]
        return router, product

    with ThreadPoolExecutor(4) as pool:
        routers = list(pool.map(add, range(ROUTERS)))
    return company, routers


def make_backlog(stack, company, routers):
    """ATTEMPTS unfinished attempts, round-robin over the routers, in the states of MIX, all due."""
    stack.postgres.psql("TRUNCATE payment_events, payment_attempts")
    key = base64.b64decode(env_value(stack, "HOTSPOT_SECRETS_KEY"))
    choose = random.Random(ATTEMPTS)
    rows = []
    for i in range(ATTEMPTS):
        router, product = routers[i % len(routers)]
        state, _, reason, has_user, has_order, _ = choose.choices(MIX, weights=[entry[1] for entry in MIX])[0]
        attempt = str(uuid.UUID(int=choose.getrandbits(128), version=4))
        username = "".join(random.choice(USERNAME_ALPHABET) for _ in range(6))
        password = f"{random.randrange(10000):04d}"
        sealed = "\\x" + seal(key, password, f"attempt:{attempt}:password").hex()
        rows.append(",".join([
            attempt, str(company), str(router), str(product), f"drain-{i}", f"hash-{i}", state, f'"{reason}"', "1500",
            "MXN", '"1 Hora de Internet"', "1hora", "1h", "Cliente", "cliente@example.com", "usuario_contrasena",
            username, sealed, "false", f"*{i + 1:X}" if has_user else "", f"ord_drain_{i}" if has_order else "",
            "visa" if has_order else "", "4242" if has_order else "", "5",
            # Due now, in the order the outage's retries left them; created 30 s ago (well within the
            # activation deadline a paid attempt is refunded after).
            f"{-random.random() * 15:.3f}", "card",
        ]))
    columns = ("id, company_id, router_id, product_id, idempotency_key, request_hash, state, reason, amount_cents, currency, "
               "product_name, profile_name, limit_uptime, customer_name, customer_email, user_type, hotspot_username, "
               "hotspot_password, auto_connect, router_user_id, order_id, card_brand, card_last4, retry_count, "
               "next_retry_at, payment_method")
    # next_retry_at arrives as seconds from now: COPY into a staging table, then one INSERT … SELECT.
    script = f"""
CREATE TEMP TABLE staging (LIKE payment_attempts INCLUDING DEFAULTS);
ALTER TABLE staging ALTER COLUMN next_retry_at TYPE text;
COPY staging ({columns}) FROM STDIN WITH (FORMAT csv);
{chr(10).join(rows)}
\\.
INSERT INTO payment_attempts ({columns}, created_at, updated_at, charge_sent_at)
SELECT {columns.replace("next_retry_at", "now() + make_interval(secs => next_retry_at::float8)")},
       now() - interval '30 seconds', now() - interval '20 seconds',
       CASE WHEN state IN ('paid', 'declining') THEN now() - interval '29 seconds' END
FROM staging;
INSERT INTO payment_events (attempt_id, at, from_state, to_state, reason)
SELECT id, created_at, NULL, 'pending', 'recorded' FROM payment_attempts;
"""
    for state, _, reason, _, _, timeline in MIX:
        previous = "pending"
        for step, to in enumerate(timeline):
            why = reason if to == state else "hotspot user created"
            script += (f"INSERT INTO payment_events (attempt_id, at, from_state, to_state, reason) SELECT id, "
                       f"created_at + interval '{step + 1} seconds', '{previous}', '{to}', '{why}' "
                       f"FROM payment_attempts WHERE state = '{state}';\n")
            previous = to
    # A database that has run for a while knows its tables: the planner's statistics, as autovacuum keeps them.
    script += "ANALYZE payment_attempts;\nANALYZE payment_events;\n"
    subprocess.run(["psql", "-h", stack.postgres.directory, "-U", "postgres", "-d", "hotspot", "-q", "-v", "ON_ERROR_STOP=1"],
                   input=script, text=True, check=True, capture_output=True)


def unfinished(stack):
    return int(stack.postgres.psql("SELECT count(*) FROM payment_attempts WHERE finished_at IS NULL")[0][0])


def timings(stack, started, slow_router):
    """Seconds from `started` until the last attempt became final, all of them and the other
    routers' (None while some are not), and the attempts by state."""
    rows = stack.postgres.psql(
        f"SELECT router_id = {slow_router or 0} AS slow, count(*), count(finished_at), "
        f"extract(epoch FROM max(finished_at)) - {started} FROM payment_attempts GROUP BY 1")
    total = finished = 0
    last = {}
    for slow, count, done, seconds in rows:
        total += int(count)
        finished += int(done)
        last[slow == "t"] = float(seconds) if int(done) == int(count) else None
    others = last.get(False)
    everything = others if slow_router is None else (others is not None and last.get(True) is not None
                                                     and max(others, last[True]) or None)
    states = {state: int(n) for state, n in stack.postgres.psql("SELECT state, count(*) FROM payment_attempts GROUP BY 1")}
    return everything, others, finished, total, states


def run_once(stack, fleet, company, routers, drainer, slow):
    slow_router = routers[SLOW_ROUTER_INDEX][0] if slow else None
    url = fleet.slow_url if slow else fleet.urls[SLOW_ROUTER_INDEX]
    stack.ctl("router", "set", str(routers[SLOW_ROUTER_INDEX][0]), "--url", url, "--insecure")
    make_backlog(stack, company, routers)
    postmaster = int(open(os.path.join(stack.postgres.data, "postmaster.pid")).readline())
    before = {"postgres": tree_cpu_seconds(postmaster), "router_standin": tree_cpu_seconds(fleet.process.pid)}
    timed_out = False
    started = time.time()
    if drainer == "hotspotctl":
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen([os.path.join(stack.build_dir, "hotspotctl"), "--env-file", stack.env_file, "--json",
                                    "reconcile", "--once"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            timed_out = True
            process.kill()
            process.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        drainer_cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
        exit_code = process.returncode
    else:
        stack.start_server()
        deadline = started + TIMEOUT_S
        while unfinished(stack) > 0 and time.time() < deadline:
            time.sleep(0.25)
        timed_out = unfinished(stack) > 0
        drainer_cpu = cpu_seconds(stack.server.pid)
        stack.stop_server()
        exit_code = None
    wall = time.time() - started
    cpu = {"drainer": drainer_cpu, "postgres": tree_cpu_seconds(postmaster) - before["postgres"],
           "router_standin": tree_cpu_seconds(fleet.process.pid) - before["router_standin"]}
    everything, others, finished, total, states = timings(stack, started, slow_router)
    result = {
        "drainer": drainer, "slow_router_ms": SLOW_MS if slow else None, "attempts": total, "routers": len(routers),
        "finished": finished, "unfinished": total - finished, "seconds": round(everything, 2) if everything else None,
        "others_seconds": round(others, 2) if others else None, "timed_out": timed_out, "wall_seconds": round(wall, 2),
        "per_s": round(finished / (everything or wall), 1), "exit_code": exit_code, "states": states,
        "cpu_s": {name: round(value, 2) for name, value in cpu.items()},
        "cpu_ms_per_attempt": round(sum(cpu.values()) * 1000 / max(finished, 1), 2),
    }
    return result


def measure():
    """Every run of RUNS on one stack: PostgreSQL, the router fleet, hotspotctl and the server."""
    # The server's default threads (16), hence its default database pool.
    stack = hotspot_stack.Stack(build_dir=BUILD, threads=16)
    fleet = standin.StandIn("router", stack.directory, ROUTER_MS, ports=ROUTERS, slow_ms=SLOW_MS)
    stack.router = fleet
    results = []
    try:
        stack.postgres.start()
        fleet.start()
        stack.write_env_file()
        stack.ctl("migrate")
        company, routers = provision(stack, fleet)
        settings = reconciler_settings(stack)
        for run in RUNS:
            drainer, _, variant = run.partition("-")
            results.append(run_once(stack, fleet, company, routers, drainer, variant == "slow"))
            print(f"  drain {line(results[-1])}", flush=True)
    finally:
        fleet.stop()
        stack.discard()
    return {"attempts": ATTEMPTS, "routers": ROUTERS, "router_ms": ROUTER_MS, "slow_ms": SLOW_MS, "timeout_s": TIMEOUT_S,
            "target_s": TARGET_S, "settings": settings, "runs": results}


def reconciler_settings(stack):
    """The settings the runs used: the server's defaults unless the environment says otherwise."""
    names = ("HOTSPOT_RECONCILE_THREADS", "HOTSPOT_ROUTER_MAX_CONCURRENCY", "HOTSPOT_RECONCILE_INTERVAL_MS")
    return {name: os.environ.get(name, "default") for name in names}


def settings_text(settings):
    changed = {name: value for name, value in settings.items() if value != "default"}
    return (", ".join(f"{name}={value}" for name, value in changed.items()) if changed
            else "the server's defaults (docs/configuration.md)")


def label(run):
    return run["drainer"] + (f", one router {run['slow_router_ms']} ms" if run["slow_router_ms"] else "")


def figure(seconds, run):
    if seconds is not None:
        return f"{seconds:.1f} s"
    return f"not in {run['wall_seconds']:.0f} s"


def line(run):
    return (f"{label(run):<32} all {figure(run['seconds'], run):>14}  others {figure(run['others_seconds'], run):>14}  "
            f"{run['finished']}/{run['attempts']} finished, {run['per_s']}/s, CPU {run['cpu_ms_per_attempt']} ms/attempt")


def targets(drain):
    """(target, this run's figure, met): the drain of issue 21 §2."""
    rows = []
    for run in drain["runs"]:
        what = "the other routers' attempts" if run["slow_router_ms"] else f"{run['attempts']:,} attempts"
        rows.append((f"drain by {label(run)}: {what} final < {drain['target_s']:.0f} s",
                     figure(run["others_seconds"], run),
                     run["others_seconds"] is not None and run["others_seconds"] < drain["target_s"]))
    return rows


def results_md(drain, history=None):
    """RESULTS.md's drain section: this run, its targets, and the recent runs' drains from
    `history` (results/history.jsonl)."""
    lines = ["## Drain after an outage (issue 21 §2)", "",
             f"{drain['attempts']:,} unfinished attempts over {drain['routers']} routers (router stand-in "
             f"{drain['router_ms']} ms per call; each attempt one router call from its end: paid to enable, declined or "
             f"never charged to delete or look up), all due; `bench/drain.py`. Seconds from the drainer's start until the "
             f"last attempt was final, from the attempts' `finished_at`; `others`: the attempts of every router but the "
             f"slow one ({drain['slow_ms']} ms per call). Settings: " + settings_text(drain["settings"]) + ".", "",
             "| drainer | all final | others final | finished | attempts/s | CPU ms/attempt (drainer, PostgreSQL, "
             "router stand-in) |",
             "|---|---:|---:|---:|---:|---:|"]
    for run in drain["runs"]:
        per = {k: round(v * 1000 / max(run["finished"], 1), 2) for k, v in run["cpu_s"].items()}
        lines.append(f"| {label(run)} | {figure(run['seconds'], run)} | {figure(run['others_seconds'], run)} | "
                     f"{run['finished']:,} / {run['attempts']:,} | {run['per_s']} | {run['cpu_ms_per_attempt']} "
                     f"({per['drainer']}, {per['postgres']}, {per['router_standin']}) |")
    lines += ["", "| target | this run | met |", "|---|---|:---:|"]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in targets(drain)]
    try:
        runs = [json.loads(text) for text in open(history) if text.strip()] if history else []
    except OSError:
        runs = []
    runs = [run for run in runs if run.get("drain")][-10:]
    if runs:
        names = list(dict.fromkeys(name for run in runs for name in run["drain"]))
        lines += ["", "Recent runs (seconds until the last attempt was final; with a slow router, the others'):", "",
                  "| date | commit | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
        for run in runs:
            cells = [f"{run['drain'][name]:.1f}" if run["drain"].get(name) is not None else "–" for name in names]
            lines.append(f"| {run['date'][:16]} | {run['commit']} | " + " | ".join(cells) + " |")
    return lines + [""]


def summary(drain):
    """The drain's headline figures for a line of history.jsonl."""
    return {label(run): run["others_seconds"] if run["slow_router_ms"] else run["seconds"] for run in drain["runs"]}


def main():
    drain = measure()
    print(json.dumps(drain, indent=2))
    print("\n".join(line(run) for run in drain["runs"]))


if __name__ == "__main__":
    main()
