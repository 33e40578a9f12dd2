"""make bench's open-loop section: payments arriving at a constant Poisson rate (25 %, 50 % and
80 % of the stack's measured ceiling), the way independent customers arrive, each payment's
latency counted from the moment it was due (no coordinated omission). wrk's closed loop sends a
client's next payment only when its last one is answered, so its clients arrive in waves and a
slow answer delays the payments behind it, hiding them from the tail.

The load generator is bench/openloop.c (wrk2 is not packaged on Debian 12; see bench/README.md):
one epoll thread, a kept-alive connection per payment in flight, and the lag of every send behind
its schedule reported, so a run shows it kept the schedule."""

import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FRACTIONS = [float(f) for f in os.environ.get("BENCH_OPENLOOP_LOADS", "0.25,0.5,0.8").split(",")]
SECONDS = int(os.environ.get("BENCH_OPENLOOP_SECONDS", os.environ.get("BENCH_SECONDS", "15")))
# p99 of the payments sent at this fraction of the ceiling, at most this far above the backend.
TARGET_FRACTION = 0.5
TARGET_OVER_MS = 15


def percentile(values, fraction):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 1) if ordered else 0.0


def build(directory):
    binary = os.path.join(directory, "openloop")
    subprocess.run(["cc", "-O2", "-o", binary, os.path.join(HERE, "openloop.c"), "-lm"], check=True)
    return binary


def ceiling(closed_loop, threads, backend_ms):
    """The rate the loads are fractions of: the CPU bound of the closed-loop run at the most clients
    (cores ÷ the stack's CPU per payment), unless less was possible. A payment holds a server
    thread for the whole backend time, so `threads` allow threads ÷ backend payments a second,
    and a rate above that queues without end whatever the CPU. And the CPU bound assumes both
    cores are the stack's: on a shared machine, other users' work takes its share, which shows as
    the closed-loop run at the most clients delivering less than either bound. The lowest of the
    three is the ceiling, and `bound_by` says which it was."""
    busiest = max(closed_loop, key=lambda row: row["concurrency"])
    bounds = {"cpu": busiest["cpu_bound_per_s"], "threads": round(threads * 1000 / backend_ms, 1),
              "delivered": busiest["payments_per_s"]}
    bound_by = min(bounds, key=bounds.get)
    return {"cpu_bound_per_s": bounds["cpu"], "thread_bound_per_s": bounds["threads"],
            "delivered_per_s": bounds["delivered"], "per_s": bounds[bound_by], "bound_by": bound_by,
            "from_clients": busiest["concurrency"]}


def run_once(binary, port, rate, seed, product, key, backend_ms):
    # Enough connections opened before the clock starts for the payments expected in flight.
    connections = int(rate * backend_ms / 1000 * 1.3) + 32
    out = subprocess.run([binary, str(port), f"{rate:.3f}", str(SECONDS), str(seed), str(connections)],
                         env=dict(os.environ, PRODUCT=str(product), KEY=key), capture_output=True, text=True,
                         check=True).stdout
    rows, tail = [], None
    for line in out.splitlines():
        if line.startswith("#"):
            words = line.split()
            tail = {words[i]: int(words[i + 1]) for i in range(1, len(words), 2)}
        else:
            index, due, lag, latency, status = (int(word) for word in line.split())
            rows.append((due, lag, latency, status))
    return rows, tail, connections


def measure(stack, product, key, closed_loop, threads, backend_ms, cpu_by_component, wait_until_finished, phases_ms):
    """One run per fraction of the ceiling, on the stack the closed-loop runs used (warm). The
    callables are run.py's: CPU so far by process, waiting for the reconciler, steps' timings."""
    binary = build(stack.directory)
    base = ceiling(closed_loop, threads, backend_ms)
    results = []
    for number, fraction in enumerate(FRACTIONS):
        rate = base["per_s"] * fraction
        started = time.time()
        cpu_before = cpu_by_component(stack)
        rows, tail, connections = run_once(binary, stack.port, rate, 1000 + number, product, key, backend_ms)
        cpu_after = cpu_by_component(stack)
        wait_until_finished(stack)
        answered = [latency / 1000 for _, _, latency, status in rows if status == 200]
        lags = [lag / 1000 for _, lag, _, _ in rows if lag >= 0]
        count = max(len(answered), 1)
        cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / count, 2) for name in cpu_after}
        cpu_ms["generator"] = round(tail["cpu_us"] / 1000 / count, 3)
        cpu_ms["total"] = round(sum(cpu_ms.values()), 2)
        states = {state: int(n) for state, n in stack.postgres.psql(
            "SELECT state, count(*) FROM payment_attempts "
            f"WHERE created_at >= to_timestamp({started}) GROUP BY state")}
        p99 = percentile(answered, 0.99)
        statuses = {}
        for _, _, _, status in rows:
            if status != 200:  # 0: no answer (the connection closed or failed)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        results.append({
            "fraction": fraction, "rate_per_s": round(rate, 1), "scheduled": len(rows), "answered": len(answered),
            "answered_per_s": round(len(answered) / SECONDS, 1),
            "errors": len(rows) - len(answered), "error_statuses": statuses,
            "undelivered": sum(n for s, n in states.items() if s != "delivered"),
            "p50_ms": percentile(answered, 0.5), "p90_ms": percentile(answered, 0.9), "p99_ms": p99,
            "p999_ms": percentile(answered, 0.999), "max_ms": round(max(answered), 1) if answered else 0.0,
            "p99_over_backend_ms": round(p99 - backend_ms, 1),
            # The generator's own proof: how late each payment was written after it was due.
            "send_lag_ms": {"p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99),
                            "max": round(max(lags), 2) if lags else 0.0},
            "connections": {"opened_before": connections, "opened_while_running": tail["opened"],
                            "closed_by_server": tail["closed"]},
            "cpu_ms_per_payment": cpu_ms, "steps_ms": phases_ms(stack, started),
        })
    return {"seconds": SECONDS, "ceiling": base, "runs": results}


def target_rows(openloop, backend_ms):
    rows = []
    for run in openloop["runs"]:
        share = f"{run['fraction'] * 100:.0f} %"
        if run["fraction"] == TARGET_FRACTION:
            rows.append((f"open loop at {share} of the ceiling: p99 ≤ backend + {TARGET_OVER_MS} ms",
                         f"{run['p99_over_backend_ms']:+.0f} ms", run["p99_over_backend_ms"] <= TARGET_OVER_MS))
        rows.append((f"open loop at {share}: 0 errors, every attempt delivered",
                     f"{run['errors']} errors, {run['undelivered']} undelivered",
                     run["errors"] == 0 and run["undelivered"] == 0))
    return rows


def markdown(openloop, backend_ms, closed_loop):
    base = openloop["ceiling"]
    bound = {"cpu": f"the CPU bound of the closed-loop run at {base['from_clients']} clients, {base['cpu_bound_per_s']}/s",
             "threads": f"the server's threads ÷ the backend time, {base['thread_bound_per_s']}/s",
             "delivered": f"what the closed-loop run at {base['from_clients']} clients delivered, {base['delivered_per_s']}/s"
             }[base["bound_by"]]
    bound += (f"; the lowest of the CPU bound at {base['from_clients']} clients ({base['cpu_bound_per_s']}/s), the "
              f"threads' ({base['thread_bound_per_s']}/s) and that run's payments/s ({base['delivered_per_s']}/s)")
    lines = [f"Open loop: payments sent at a constant Poisson rate, a fraction of the ceiling ({bound}), "
             f"{openloop['seconds']} s each, by bench/openloop.c; latency counted from each payment's scheduled send "
             "time, so a slow answer never delays the payments behind it. Send lag: how late the generator actually "
             f"wrote a payment after it was due (its proof of keeping the schedule). Backend: {backend_ms} ms.", "",
             "| load | rate/s | answered/s | p50 ms | p90 ms | p99 ms | p99 − backend ms | p99.9 ms | max ms | errors "
             "| undelivered | send lag p99 / max ms | CPU ms/payment |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in openloop["runs"]:
        lag = run["send_lag_ms"]
        lines.append(f"| {run['fraction'] * 100:.0f} % | {run['rate_per_s']:.0f} | {run['answered_per_s']:.0f} | "
                     f"{run['p50_ms']:.0f} | {run['p90_ms']:.0f} | {run['p99_ms']:.0f} | {run['p99_over_backend_ms']:+.0f} | "
                     f"{run['p999_ms']:.0f} | {run['max_ms']:.0f} | {run['errors']} | {run['undelivered']} | "
                     f"{lag['p99']:.2f} / {lag['max']:.2f} | {run['cpu_ms_per_payment']['total']} |")
    failed = [f"{run['fraction'] * 100:.0f} %: " + ", ".join(f"{n} × {'no answer' if s == '0' else s}"
                                                        for s, n in sorted(run["error_statuses"].items()))
              for run in openloop["runs"] if run.get("error_statuses")]
    if failed:
        lines += ["", "Errors by answer: " + "; ".join(failed) + "."]
    lines += ["", "Beside it, the closed loop above (wrk, clients waiting for their answers):", "",
              "| clients | payments/s | p50 ms | p99 ms | p99 − backend ms |", "|---:|---:|---:|---:|---:|"]
    for row in closed_loop:
        lines.append(f"| {row['concurrency']} | {row['payments_per_s']:.0f} | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} | "
                     f"{row['p99_over_backend_ms']:+.0f} |")
    lines += ["", "Open loop, where the time goes (p50 / p99 in ms, from the attempts' timelines) and the CPU per payment "
              "by process (generator in place of wrk):", "",
              "| load | router create | Conekta charge | router enable | all steps | server | nginx | PostgreSQL | "
              "stand-ins | generator |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in openloop["runs"]:
        t, c = run["steps_ms"], run["cpu_ms_per_payment"]
        steps = " | ".join(f"{t[k]['p50']:.0f} / {t[k]['p99']:.0f}"
                           for k in ("router_create", "conekta_charge", "router_enable", "all_steps"))
        standins = round(c["router_sandbox"] + c["conekta_sandbox"], 2)
        lines.append(f"| {run['fraction'] * 100:.0f} % | {steps} | {c['server']} | {c['nginx']} | {c['postgres']} | "
                     f"{standins} | {c['generator']} |")
    return lines + [""]


def print_summary(openloop, backend_ms):
    base = openloop["ceiling"]
    print(f"\nopen loop (Poisson, {openloop['seconds']} s each; ceiling {base['per_s']}/s, bound by {base['bound_by']}; "
          f"latency from the scheduled send)")
    print(f"{'load':>6} {'rate/s':>7} {'ok/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'p99-backend':>12} {'p99.9':>7} {'max':>7} "
          f"{'errors':>7} {'undeliv':>8} {'lag p99/max ms':>15}")
    for run in openloop["runs"]:
        lag = run["send_lag_ms"]
        print(f"{run['fraction'] * 100:>5.0f}% {run['rate_per_s']:>7.1f} {run['answered_per_s']:>7.1f} {run['p50_ms']:>7.1f} "
              f"{run['p99_ms']:>7.1f} {run['p99_over_backend_ms']:>12.1f} {run['p999_ms']:>7.1f} {run['max_ms']:>7.1f} "
              f"{run['errors']:>7} {run['undelivered']:>8} {lag['p99']:>7.2f}/{lag['max']:<7.2f}")
