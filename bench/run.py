#!/usr/bin/env python3
"""make bench: catalogue against the C responder, payments at several concurrencies with slow
sandboxes, memory and start-up. Release build, everything on loopback, everything stopped at the
end. Prints a table and writes bench/results/latest.json."""

import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
sys.path.insert(0, HERE)
import catalogue  # noqa: E402
import drain  # noqa: E402
import growth  # noqa: E402
import hotspot_stack  # noqa: E402
import instructions  # noqa: E402
import openloop  # noqa: E402
import standin  # noqa: E402
from catalogue import rss_mib  # noqa: E402
from procstat import children, cpu_seconds, tree_cpu_seconds  # noqa: E402

ROUTER_MS = int(os.environ.get("BENCH_ROUTER_MS", "20"))
CONEKTA_MS = int(os.environ.get("BENCH_CONEKTA_MS", "300"))
CONCURRENCIES = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "16,64,256").split(",")]
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
WARMUP_SECONDS = int(os.environ.get("BENCH_WARMUP_SECONDS", "5"))
THREADS = int(os.environ.get("HOTSPOT_BENCH_THREADS", "256"))
# "nginx" (default): the lean nginx + njs stand-ins of bench/standin.py; "python": the sandboxes.
STANDINS = os.environ.get("BENCH_STANDINS", "nginx")
BUILD = os.environ.get("HOTSPOT_BUILD_DIR", os.path.join(HERE, "..", ".build", "release"))
# Router calls on a payment's critical path: create, enable (the exact-name profile check is
# cached per worker for HOTSPOT_PROFILE_CHECK_SECONDS; its first call is not on the steady path).
ROUTER_CALLS = 2


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_by_component(stack):
    """CPU seconds so far of each part of the stack: where a payment's CPU goes."""
    postmaster = int(open(os.path.join(stack.postgres.data, "postmaster.pid")).readline())
    nginx = stack.nginx.pid
    return {
        "server": cpu_seconds(stack.server.pid),
        "nginx": cpu_seconds(nginx) + sum(cpu_seconds(c) for c in children(nginx)),
        "postgres": cpu_seconds(postmaster) + sum(cpu_seconds(c) for c in children(postmaster)),
        "router_sandbox": tree_cpu_seconds(stack.router.process.pid),
        "conekta_sandbox": tree_cpu_seconds(stack.conekta.process.pid),
    }


def wait_until_finished(stack, seconds=60):
    """Lets the requests wrk abandoned at the end, and the reconciler, finish."""
    deadline = time.time() + seconds
    while time.time() < deadline and int(stack.postgres.psql(
            "SELECT count(*) FROM payment_attempts WHERE finished_at IS NULL")[0][0]) > 0:
        time.sleep(0.5)


def percentile(values, fraction):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 1) if ordered else 0.0


def phases_ms(stack, since):
    """p50/p99 of each backend step of the payments recorded since `since`, from the attempts'
    timelines: each step is one call (router create, Conekta charge, router enable) plus the
    commit that records its outcome. What the steps add above their backend's latency is the
    sandboxes' and the machine's share of the tail; what the whole request adds above the steps
    is the server's."""
    rows = stack.postgres.psql(
        "SELECT e.attempt_id, e.to_state, extract(epoch FROM e.at) FROM payment_events e "
        f"JOIN payment_attempts a ON a.id = e.attempt_id WHERE a.created_at >= to_timestamp({since})")
    at = {}
    for attempt, state, when in rows:
        at.setdefault(attempt, {})[state] = float(when) * 1000
    steps = {"router_create": ("pending", "charging"), "conekta_charge": ("charging", "paid"),
             "router_enable": ("paid", "delivered"), "all_steps": ("pending", "delivered")}
    result = {}
    for name, (start, end) in steps.items():
        values = [t[end] - t[start] for t in at.values() if start in t and end in t]
        result[name] = {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99)}
    return result


SETTLED_AFTER_S = 2.0


def waves(stack, since, concurrency, backend_ms):
    """The tail's shape, from nginx's access log (request_time, and msec: when each answer ended).
    wrk's clients all send their first payment at once and, every payment taking the same time,
    keep arriving in waves of `concurrency`; the first waves queue for the two cores until their
    spread settles. Reported beside the targets, never instead of them: the first wave (each
    client's first payment), and the p99 of the payments that started after SETTLED_AFTER_S.
    Answered payments only (status 200): wrk's p99 counts every answer, and errors are reported
    on their own."""
    rows = []
    with open(os.path.join(stack.nginx_prefix, "access.log")) as log:
        for line in log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msec", 0) >= since and entry.get("status") == 200 and entry.get("uri", "").endswith("pagar-conekta"):
                rows.append((entry["msec"] - entry["request_time"], entry["request_time"] * 1000 - backend_ms))
    if not rows:
        return None
    rows.sort()
    first = sorted(over for _, over in rows[:concurrency])
    settled = [over for start, over in rows if start >= rows[0][0] + SETTLED_AFTER_S]
    return {"first_wave_p50_over_ms": percentile(first, 0.5), "first_wave_max_over_ms": round(first[-1], 1),
            "settled_p99_over_ms": percentile(settled, 0.99), "settled_requests": len(settled),
            "nginx_p99_over_ms": percentile([over for _, over in rows], 0.99)}


def payments_scenario():
    # Plain HTTP backends: the benchmark measures the server, not the stand-ins' TLS handshakes.
    stack = hotspot_stack.Stack(
        build_dir=BUILD, threads=THREADS, api_rate="1000000r/s", payment_rate="1000000r/s", conn_limit=10000,
        conekta_args=("--latency-ms", str(CONEKTA_MS), "--no-tls"),
        router_args=("--profile", "1hora", "--profile", "1dia", "--no-tls"),
        extra_env={"HOTSPOT_LOG_LEVEL": "warning", "HOTSPOT_ROUTER_MAX_CONCURRENCY": "64", "HOTSPOT_DECLINES_PER_ADDRESS": "0",
                   "HOTSPOT_ROUTER_QUEUE_WAIT_MS": "30000"})
    if STANDINS == "nginx":
        stack.router = standin.StandIn("router", stack.directory, ROUTER_MS)
        stack.conekta = standin.StandIn("conekta", stack.directory, CONEKTA_MS)
    results = []
    memory = {}
    try:
        stack.postgres.start()
        stack.router.start()
        stack.conekta.start()
        stack.write_env_file()
        stack.ctl("migrate")
        # nginx first, so the clock runs from the server's launch to its first answer through nginx.
        stack.start_nginx()
        started = time.time()
        server = subprocess.Popen([os.path.join(BUILD, "hotspot-pay"), "--env-file", stack.env_file],
                                  stdout=subprocess.DEVNULL, stderr=open(stack.server_log, "a"))
        stack.server = server
        health = f"http://127.0.0.1:{stack.port}/health"
        while True:
            try:
                with urllib.request.urlopen(health, timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.time() - started > 10:
                raise RuntimeError("the server did not answer within 10 s")
            time.sleep(0.002)
        startup_ms = (time.time() - started) * 1000
        company = stack.ctl("company", "add", "--name", "Bench", "--phone", "5512345678")["id"]
        stack.ctl("company", "set-conekta", "--company", str(company), "--public-key", "key_pub", "--private-key-stdin",
                  stdin=hotspot_stack.SANDBOX_PRIVATE_KEY + "\n")
        router = stack.ctl("router", "add", "--company", str(company), "--name", "R", "--url", stack.router.url,
                           "--user", hotspot_stack.ROUTER_USER, "--password-stdin", "--insecure", "--hotspot-server",
                           "hotspot1", stdin=hotspot_stack.ROUTER_PASSWORD + "\n")["id"]
        product = stack.ctl("product", "add", "--company", str(company), "--router", str(router), "--name", "1 Hora",
                            "--price", "15", "--profile", "1hora")["id"]
        key = stack.ctl("key", "issue", "--router", str(router))["api_key"]
        if STANDINS != "nginx":
            stack.router.control("POST", "latency", {"ms": ROUTER_MS})
        memory["idle_rss_mib"] = round(rss_mib(stack.server.pid), 1)
        url = f"http://127.0.0.1:{stack.port}"
        env = dict(os.environ, PRODUCT=str(product), KEY=key)
        # Steady state: the first payments after a start open the pool's PostgreSQL backends and
        # fill their caches and plans, which is start-up cost (measured above), not throughput.
        if WARMUP_SECONDS:
            subprocess.run(["wrk", "-t2", f"-c{max(CONCURRENCIES)}", f"-d{WARMUP_SECONDS}s", "--timeout", "30s",
                            "-s", os.path.join(HERE, "payment.lua"), url], capture_output=True, text=True, env=env, check=True)
            wait_until_finished(stack)
        for concurrency in CONCURRENCIES:
            before = int(stack.postgres.psql("SELECT count(*) FROM payment_attempts")[0][0])
            run_started = time.time()
            cpu_before = cpu_by_component(stack)
            wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(["wrk", "-t2", f"-c{concurrency}", f"-d{SECONDS}s", "--latency", "--timeout", "30s",
                                  "-s", os.path.join(HERE, "payment.lua"), url], capture_output=True, text=True,
                                 env=env, check=True).stdout
            parsed = catalogue.parse_wrk(out)
            wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_after = cpu_by_component(stack)
            # CPU per answered payment, by component (wrk's own included: it shares the cores).
            answered = max(parsed["requests"] - parsed["errors"], 1)
            cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / answered, 2) for name in cpu_after}
            cpu_ms["wrk"] = round((wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime)
                                  * 1000 / answered, 2)
            cpu_ms["total"] = round(sum(cpu_ms.values()), 2)
            wait_until_finished(stack)
            rows = stack.postgres.psql("SELECT state, count(*) FROM payment_attempts GROUP BY state")
            states = {state: int(count) for state, count in rows}
            total = sum(states.values()) - before
            bound = concurrency / ((ROUTER_CALLS * ROUTER_MS + CONEKTA_MS) / 1000)
            backend_ms = ROUTER_CALLS * ROUTER_MS + CONEKTA_MS
            results.append({
                # Only answered payments count: fast errors (nginx 503s, 429s) are not throughput.
                "concurrency": concurrency, "payments_per_s": round(parsed["ok_rps"], 1), "bound_per_s": round(bound, 1),
                "ratio": round(parsed["ok_rps"] / bound, 3), "requests": parsed["requests"],
                "p50_ms": parsed["p50_ms"], "p99_ms": parsed["p99_ms"],
                "p99_over_backend_ms": round(parsed["p99_ms"] - backend_ms, 1), "errors": parsed["errors"],
                "attempts": total, "undelivered": sum(n for s, n in states.items() if s != "delivered"),
                # What the machine's cores allow at that CPU cost: the bound that is not latency.
                "cpu_ms_per_payment": cpu_ms, "cpu_bound_per_s": round(os.cpu_count() * 1000 / cpu_ms["total"], 1),
                "steps_ms": phases_ms(stack, run_started),
                "waves": waves(stack, run_started, concurrency, backend_ms),
            })
        memory["peak_rss_mib"] = round(peak_rss_mib(stack.server.pid), 1)
        # The same payments arriving independently (open loop), on the warm stack.
        open_loop = openloop.measure(stack, product, key, results, THREADS, ROUTER_CALLS * ROUTER_MS + CONEKTA_MS,
                                     cpu_by_component, wait_until_finished, phases_ms)
        return results, memory, round(startup_ms, 1), open_loop
    finally:
        stack.discard()


HISTORY = os.path.join(HERE, "results", "history.jsonl")


def summary(result):
    """One line of bench/results/history.jsonl: the run's headline figures, its commit, and the CPU
    a payment cost at 16 clients (how fast the machine was that day: a shared VM drifts)."""
    try:
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {"date": result["date"], "commit": commit, "catalogue_ratio": result["catalogue"]["ratio"],
            "payments": {str(row["concurrency"]): {"per_s": row["payments_per_s"], "ratio": row["ratio"],
                                                   "p99_over_backend_ms": row["p99_over_backend_ms"]}
                         for row in result["payments"]},
            "cpu_ms_per_payment_16": next((row["cpu_ms_per_payment"]["total"] for row in result["payments"]
                                           if row["concurrency"] == 16), None),
            "openloop": {f"{run['fraction']:g}": {"per_s": run["rate_per_s"], "p99_over_backend_ms": run["p99_over_backend_ms"],
                                                  "errors": run["errors"]}
                         for run in result["openloop"]["runs"]},
            "instructions": {"per_catalogue": result["instructions"]["per_catalogue"],
                             "per_payment": result["instructions"]["per_payment"]},
            "drain": drain.summary(result["drain"])}


def history_lines(count=10):
    try:
        runs = [json.loads(line) for line in open(HISTORY) if line.strip()]
    except OSError:
        return []
    lines = ["## Recent runs", "",
             "This VM drifts by up to 75% between runs of the same code (see the CPU a payment costs at 16 clients, the "
             "same work every run). Ratios to the bound; p99 above the backend in ms.", "",
             "| date | commit | catalogue | 16 clients | 64 clients | 256 clients | CPU ms/payment at 16 |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for run in runs[-count:]:
        cells = []
        for n in ("16", "64", "256"):
            p = run["payments"].get(n)
            cells.append(f"{p['per_s']:.0f}/s, {p['ratio']:.2f}, +{p['p99_over_backend_ms']:.0f}" if p else "–")
        lines.append(f"| {run['date'][:16]} | {run['commit']} | {run['catalogue_ratio']:.2f} | {' | '.join(cells)} | "
                     f"{run['cpu_ms_per_payment_16']} |")
    lines += ["", "Open loop (p99 above the backend in ms at each load) and the server's instructions (issue 21), the runs "
              "that recorded them:", "",
              "| date | commit | open loop 25 % | 50 % | 80 % | instructions per catalogue request | per payment |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for run in runs[-count:]:
        if "instructions" in run:
            loads = [run["openloop"].get(f) for f in ("0.25", "0.5", "0.8")]
            cells = " | ".join(f"{o['per_s']:.0f}/s, {o['p99_over_backend_ms']:+.0f}"
                               + (f", {o['errors']} errors" if o.get("errors") else "") if o else "–" for o in loads)
            lines.append(f"| {run['date'][:16]} | {run['commit']} | {cells} | {run['instructions']['per_catalogue']:,} | "
                         f"{run['instructions']['per_payment']:,} |")
    return lines + [""]


def targets(result):
    """(target, this run's figure, met) for each of issue 6's targets."""
    c = result["catalogue"]
    rows = [("catalogue ≥ 0.85 × the C responder, 0 errors", f"{c['ratio']:.2f}, {c['errors']} errors",
             c["ratio"] >= 0.85 and c["errors"] == 0)]
    for row in result["payments"]:
        n = row["concurrency"]
        rows.append((f"payments at {n} clients ≥ 0.9 × bound", f"{row['ratio']:.2f}", row["ratio"] >= 0.9))
        rows.append((f"p99 at {n} clients ≤ backend + 15 ms", f"+{row['p99_over_backend_ms']:.0f} ms",
                     row["p99_over_backend_ms"] <= 15))
        rows.append((f"{n} clients: 0 errors, every attempt delivered",
                     f"{row['errors']} errors, {row['undelivered']} undelivered", row["errors"] == 0 and row["undelivered"] == 0))
    m = result["memory"]
    rows.append(("peak RSS ≤ 80 MiB at 256 payments", f"{m['peak_rss_mib']} MiB", m["peak_rss_mib"] <= 80))
    rows.append(("start-up ≤ 100 ms", f"{result['startup_ms']} ms", result["startup_ms"] <= 100))
    rows += openloop.target_rows(result["openloop"], ROUTER_CALLS * result["settings"]["router_ms"] + result["settings"]["conekta_ms"])
    rows += instructions.target_rows(result["instructions"])
    return rows


def write_results_md(result):
    c = result["catalogue"]
    lines = [
        "# Benchmark results",
        "",
        f"Latest run: {result['date']} on {result['machine']['cores']} cores ({result['machine']['model']}), "
        f"kernel {result['machine']['kernel']}; `make bench` (release build, {result['settings']['threads']} server threads, "
        f"wrk, nginx, PostgreSQL, the router and Conekta stand-ins ({result['settings']['standins']}) and the server all on "
        "the same machine). Raw figures: `results/latest.json`.",
        "",
        f"Catalogue: {catalogue.ROUNDS} rounds of {catalogue.ROUND_SECONDS} s, the server and the C responder alternating; "
        "req/s are the medians, the ratio is the median of each round's ratio (this VM's speed drifts between runs).",
        "",
        "| catalogue | req/s | C responder req/s | ratio | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| through nginx, 64 connections | {c['rps']:.0f} | {c['c_reference_rps']:.0f} | {c['ratio']:.2f} | {c['p50_ms']} "
        f"| {c['p99_ms']} | {c['errors']} |",
        "",
        f"CPU per request of the responder itself (median round): hotspot-pay {c['user_us']} µs user + {c['system_us']} µs system; "
        f"the C responder {c['c_user_us']} µs user + {c['c_system_us']} µs system. nginx and wrk share the same two cores.",
        "",
        f"Payments: router {result['settings']['router_ms']} ms per call ({ROUTER_CALLS} on the critical path), "
        f"Conekta {result['settings']['conekta_ms']} ms; bound = clients ÷ backend time; each run {result['settings']['seconds']} s "
        f"after a {result['settings']['warmup_seconds']} s warm-up at {max(CONCURRENCIES)} clients. "
        "All payments go to one Conekta account, so payments/s is also the orders per second that account "
        "receives, a load dimension of its own (docs/convergence.md: how orders are looked up on a busy account).",
        "",
        "| clients | payments/s | bound/s | ratio | p50 ms | p99 ms | p99 − backend ms | errors | undelivered |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["payments"]:
        lines.append(f"| {row['concurrency']} | {row['payments_per_s']:.1f} | {row['bound_per_s']:.1f} | {row['ratio']:.2f} | "
                     f"{row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['p99_over_backend_ms']:.0f} | {row['errors']} "
                     f"| {row['undelivered']} |")
    lines += ["", "CPU per answered payment, in ms, by component (all on the same cores; `cpu bound` = cores ÷ total):", "",
              "| clients | server | nginx | PostgreSQL | router stand-in | Conekta stand-in | wrk | total | cpu bound/s |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["payments"]:
        c = row["cpu_ms_per_payment"]
        lines.append(f"| {row['concurrency']} | {c['server']} | {c['nginx']} | {c['postgres']} | {c['router_sandbox']} | "
                     f"{c['conekta_sandbox']} | {c['wrk']} | {c['total']} | {row['cpu_bound_per_s']} |")
    lines += ["", "Where the time goes, from the attempts' timelines (each step: one backend call and the commit "
              "of its outcome; nominal: router 20 ms, Conekta 300 ms), p50 / p99 in ms:", "",
              "| clients | router create | Conekta charge | router enable | all steps | whole request (wrk) |",
              "|---:|---:|---:|---:|---:|---:|"]
    for row in result["payments"]:
        t = row["steps_ms"]
        cells = " | ".join(f"{t[k]['p50']:.0f} / {t[k]['p99']:.0f}"
                           for k in ("router_create", "conekta_charge", "router_enable", "all_steps"))
        lines.append(f"| {row['concurrency']} | {cells} | {row['p50_ms']:.0f} / {row['p99_ms']:.0f} |")
    backend_ms = ROUTER_CALLS * result["settings"]["router_ms"] + result["settings"]["conekta_ms"]
    lines += ["", f"The tail's shape, from nginx's access log (answered payments, ms above the backend's {backend_ms} ms; diagnostics, not "
              f"targets). wrk's clients send their first payments at once and keep arriving in waves; the first "
              f"waves queue for the cores until they spread out. Settled: payments that started {SETTLED_AFTER_S:.0f} s "
              "or more into the run.", "",
              "| clients | p99 (wrk) | p99 (nginx) | first wave p50 / max | settled p99 | settled payments |",
              "|---:|---:|---:|---:|---:|---:|"]
    for row in result["payments"]:
        w = row.get("waves")
        if w:
            settled = f"{w['settled_p99_over_ms']:+.0f}" if w["settled_requests"] else "–"
            lines.append(f"| {row['concurrency']} | {row['p99_over_backend_ms']:+.0f} | {w['nginx_p99_over_ms']:+.0f} | "
                         f"{w['first_wave_p50_over_ms']:+.0f} / {w['first_wave_max_over_ms']:+.0f} | "
                         f"{settled} | {w['settled_requests']} |")
    m = result["memory"]
    lines += ["", f"Memory: idle {m['idle_rss_mib']} MiB, peak during the payment runs {m['peak_rss_mib']} MiB. "
              f"Start-up to the first answered request through nginx: {result['startup_ms']} ms.", ""]
    lines += ["## Open loop (issue 21)", ""] + openloop.markdown(result["openloop"], backend_ms, result["payments"])
    lines += ["## Instructions (issue 21)", ""] + instructions.markdown(result["instructions"])
    lines += drain.results_md(result["drain"], HISTORY)
    lines += ["## Targets (issues 6 and 21)", "", "| target | this run | met |", "|---|---|:---:|"]
    for name, figure, met in targets(result):
        lines.append(f"| {name} | {figure} | {'yes' if met else '**no**'} |")
    lines.append("")
    lines += growth.results_lines(result)
    lines += history_lines()
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    catalogue_result = catalogue.measure()
    payments, memory, startup_ms, open_loop = payments_scenario()
    instruction_counts = instructions.measure(BUILD, HISTORY)
    drain_result = drain.measure()
    growth_result = growth.measure()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "model": cpu, "kernel": platform.release()},
        "settings": {"threads": THREADS, "router_ms": ROUTER_MS, "conekta_ms": CONEKTA_MS, "seconds": SECONDS,
                     "warmup_seconds": WARMUP_SECONDS,
                     "standins": "nginx + njs" if STANDINS == "nginx" else "the Python sandboxes"},
        "catalogue": {"rps": catalogue_result["swift"]["rps"], "c_reference_rps": catalogue_result["c_reference"]["rps"],
                      "ratio": catalogue_result["ratio"], "errors": catalogue_result["swift"]["errors"],
                      "p50_ms": catalogue_result["swift"]["p50_ms"], "p99_ms": catalogue_result["swift"]["p99_ms"],
                      "user_us": catalogue_result["swift"]["user_us_per_request"],
                      "system_us": catalogue_result["swift"]["system_us_per_request"],
                      "c_user_us": catalogue_result["c_reference"]["user_us_per_request"],
                      "c_system_us": catalogue_result["c_reference"]["system_us_per_request"],
                      "rounds": catalogue_result["rounds"]},
        "payments": payments,
        "memory": memory,
        "startup_ms": startup_ms,
        "openloop": open_loop,
        "instructions": instruction_counts,
        "drain": drain_result,
        "growth": growth_result,
    }
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "latest.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(HISTORY, "a") as f:
        f.write(json.dumps(summary(result) | growth.summary(result), separators=(",", ":")) + "\n")
    write_results_md(result)
    print(f"\nhotspot-pay benchmark, {result['date']}, {os.cpu_count()} cores ({cpu}), {THREADS} server threads")
    c = result["catalogue"]
    print(f"\ncatalogue    {c['rps']:>9.0f} req/s   C responder {c['c_reference_rps']:.0f} req/s   ratio {c['ratio']:.2f}   "
          f"p50 {c['p50_ms']} ms  p99 {c['p99_ms']} ms  errors {c['errors']}")
    print(f"\npayments (router {ROUTER_MS} ms × {ROUTER_CALLS}, Conekta {CONEKTA_MS} ms)")
    print(f"{'clients':>8} {'pay/s':>8} {'bound':>8} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99-backend':>12} {'errors':>7} "
          f"{'undelivered':>12}")
    for row in payments:
        print(f"{row['concurrency']:>8} {row['payments_per_s']:>8.1f} {row['bound_per_s']:>8.1f} {row['ratio']:>6.2f} "
              f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['p99_over_backend_ms']:>12.1f} {row['errors']:>7} "
              f"{row['undelivered']:>12}")
    print(f"\nCPU ms per payment: {'clients':>7} {'server':>7} {'nginx':>6} {'pg':>6} {'router':>7} {'conekta':>8} {'wrk':>6} "
          f"{'total':>6} {'cpu bound/s':>12}")
    for row in payments:
        c = row["cpu_ms_per_payment"]
        print(f"{'':>20}{row['concurrency']:>7} {c['server']:>7} {c['nginx']:>6} {c['postgres']:>6} {c['router_sandbox']:>7} "
              f"{c['conekta_sandbox']:>8} {c['wrk']:>6} {c['total']:>6} {row['cpu_bound_per_s']:>12}")
    print(f"\ntail (ms over backend)  {'clients':>7} {'p99 wrk':>8} {'p99 nginx':>10} {'1st wave p50':>13} {'1st wave max':>13} "
          f"{'settled p99':>12}")
    for row in payments:
        w = row.get("waves")
        if w:
            settled = f"{w['settled_p99_over_ms']:.1f}" if w["settled_requests"] else "–"
            print(f"{'':>24}{row['concurrency']:>7} {row['p99_over_backend_ms']:>8.1f} {w['nginx_p99_over_ms']:>10.1f} "
                  f"{w['first_wave_p50_over_ms']:>13.1f} {w['first_wave_max_over_ms']:>13.1f} {settled:>12}")
    print(f"\nmemory: idle {memory['idle_rss_mib']} MiB, peak {memory['peak_rss_mib']} MiB   start-up: {startup_ms} ms")
    openloop.print_summary(open_loop, ROUTER_CALLS * ROUTER_MS + CONEKTA_MS)
    instructions.print_summary(instruction_counts)
    print(f"\ndrain after an outage ({drain_result['attempts']:,} attempts, {drain_result['routers']} routers)")
    print("\n".join(f"  {drain.line(run)}" for run in drain_result["runs"]))
    for name, figure, met in drain.targets(drain_result):
        print(f"  {'met   ' if met else 'MISSED'}  {name}: {figure}")
    print("\ntargets")
    for name, figure, met in targets(result):
        print(f"  {'met   ' if met else 'MISSED'}  {name}: {figure}")
    growth.print_report(result)
    print("\nwritten to bench/results/latest.json")


if __name__ == "__main__":
    main()
