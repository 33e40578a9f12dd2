#!/usr/bin/env python3
"""The soak (issue 7): 32 clients pay continuously while the sandbox router and Conekta inject
faults at random (latency spikes, refused and reset connections, 5xx, hangs, replies lost after
applying), PostgreSQL is restarted once and the server is SIGKILLed and restarted once. Then the
faults are cleared, and the convergence promise is checked (docs/convergence.md): every attempt
unfinished at that moment is final within CONVERGENCE_SECONDS (60). Then every invariant of
CONTRACT §7 must hold. Prints the load (clients, and orders per second on the one Conekta
account, a load dimension of its own), how long each class of unfinished attempt took to
converge, the attempts by final state and any violation; exits non-zero on one.

    SOAK_SECONDS=600 python3 e2e/soak.py      (make soak; e2e/test_soak.py runs ~60 s)
    SOAK_KEEP=1 keeps the stack's directory (logs, database, sandboxes' state) when it fails.
"""

import collections
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
from hotspot_stack import Stack  # noqa: E402
from invariants import check_invariants, pay  # noqa: E402

ENV = {
    "HOTSPOT_CONEKTA_TIMEOUT_MS": "2000",
    "HOTSPOT_ROUTER_TIMEOUT_MS": "1500",
    "HOTSPOT_RECONCILE_INTERVAL_MS": "300",
    "HOTSPOT_ORDER_LOOKUP_GRACE_SECONDS": "3",
    "HOTSPOT_ACTIVATION_DEADLINE_SECONDS": "20",
    "HOTSPOT_DECLINES_PER_MAC": "0",
    "HOTSPOT_DECLINES_PER_ADDRESS": "0",
    "HOTSPOT_DECLINES_PER_ROUTER": "0",
}

ROUTER_OPS = ["user.add", "user.set", "user.remove", "user.print", "profile.print"]
CONEKTA_OPS = ["orders.create", "orders.get", "orders.list", "orders.cancel", "orders.refund"]


def random_fault(ops):
    kind = random.choice(["latency", "latency", "error", "reset", "hang", "drop_after", "drop"])
    fault = {"op": random.choice(ops), "kind": kind, "times": random.randint(1, 4)}
    if kind == "latency":
        fault["ms"] = random.randint(200, 1500)
    elif kind == "hang":
        fault["ms"] = 4000
    elif kind == "error":
        fault["status"] = random.choice([500, 502, 503])
    return fault


def soak(seconds, clients=32, stack=None):
    own = stack is None
    stack = stack or Stack(threads=16, payment_rate="100000r/s", api_rate="100000r/s", conn_limit=1000, extra_env=ENV)
    if own:
        stack.start()
    stop = threading.Event()
    answers = collections.Counter()
    lock = threading.Lock()

    def client(number):
        rng = random.Random(number)
        while not stop.is_set():
            kind = rng.choices(["paid", "declined", "3ds"], weights=[8, 1, 1])[0]
            token = f"tok_sandbox_{kind}_{uuid.uuid4().hex}"
            key = f"soak-{uuid.uuid4().hex}"
            email = f"cliente-{uuid.uuid4().hex[:12]}@example.com"  # each payment its own customer
            try:
                reply = pay(stack, token_tarjeta=token, idempotency_key=key, email_cliente=email, timeout=60)
                label = f"{reply.status} {reply.body.get('codigo', 'ok') if isinstance(reply.body, dict) else 'not-json'}"
                if rng.random() < 0.1:  # the customer retries the same request
                    again = pay(stack, token_tarjeta=token, idempotency_key=key, email_cliente=email, timeout=60)
                    label_again = f"{again.status} {again.body.get('codigo', 'ok') if isinstance(again.body, dict) else 'not-json'}"
                    with lock:
                        answers["retry " + label_again] += 1
            except OSError as error:  # nginx or the server restarting
                label = f"transport {type(error).__name__}"
            with lock:
                answers[label] += 1

    def chaos():
        while not stop.is_set():
            try:
                stack.router.control("POST", "faults", random_fault(ROUTER_OPS))
                stack.conekta.control("POST", "faults", random_fault(CONEKTA_OPS))
            except OSError:
                pass
            stop.wait(1.5)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)] + [threading.Thread(target=chaos)]
    for thread in threads:
        thread.start()
    started = time.time()
    events = []
    try:
        time.sleep(seconds / 3)
        stack.postgres.pg_ctl("restart", "-m", "fast", "-w", "-t", "30")
        events.append(f"PostgreSQL restarted at {time.time() - started:.0f} s")
        time.sleep(seconds / 3)
        stack.server.send_signal(signal.SIGKILL)
        stack.server.wait(10)
        stack.start_server()
        events.append(f"server SIGKILLed and restarted at {time.time() - started:.0f} s")
        time.sleep(max(0, seconds - (time.time() - started)))
    finally:
        stop.set()
        stopped = time.time()
        try:
            at_stop = stack.postgres.psql("SELECT id, state FROM payment_attempts WHERE finished_at IS NULL")
        except Exception:  # noqa: BLE001 - PostgreSQL restarting: nothing to report
            at_stop = []
        for thread in threads:
            thread.join(90)
        for sandbox in (stack.router, stack.conekta):
            sandbox.control("POST", "faults/clear", {})

    ran = time.time() - started
    orders = len(stack.conekta.control("GET", "state")["orders"])
    violations = []
    convergence = converge(stack, violations)
    convergence["unfinished_when_clients_stopped"] = since(stack, at_stop, stopped)
    try:
        check_invariants(stack, settle_seconds=5)
    except AssertionError as error:
        violations.append(str(error))
    states = dict(stack.postgres.psql("SELECT state, count(*) FROM payment_attempts GROUP BY state ORDER BY 1"))
    report = {"seconds": seconds, "load": {"clients": clients, "conekta_accounts": 1,
                                           "orders_per_second_per_account": round(orders / ran, 1)},
              "events": events, "answers": dict(sorted(answers.items())), "convergence": convergence,
              "attempts_by_state": {k: int(v) for k, v in states.items()}, "violations": violations}
    if own:
        stack.stop()
        if violations and os.environ.get("SOAK_KEEP"):
            report["kept"] = stack.directory
            print(f"soak: kept the stack's files in {stack.directory} (server.log, nginx/, sandboxes, database)",
                  file=sys.stderr)
        else:
            shutil.rmtree(stack.directory, ignore_errors=True)
    return report


def since(stack, rows, moment):
    """For the attempts unfinished at `moment`: how many of each state, and the seconds after it
    the slowest of each became final (the clients' last requests and the faults still armed
    while they finish included)."""
    counts, seconds = {}, {}
    if rows:
        ids = ",".join(f"'{attempt}'" for attempt, _ in rows)
        finished = dict(stack.postgres.psql(
            f"SELECT id, coalesce(extract(epoch FROM finished_at)::text, '') FROM payment_attempts WHERE id IN ({ids})"))
        for attempt, state in rows:
            counts[state] = counts.get(state, 0) + 1
            took = float(finished[attempt]) - moment if finished.get(attempt) else None
            if state not in seconds or seconds[state] is not None:
                seconds[state] = None if took is None else max(seconds.get(state) or 0, round(max(took, 0), 1))
    return {"attempts": counts, "seconds_by_class": seconds}


def converge(stack, violations, limit=None, patience=180):
    """Watches every attempt unfinished now (the faults are cleared) until it is final: how long
    each class (its state now) took, against the promise of `limit` seconds. Waits up to
    `patience` seconds to report the real times even when the promise is broken."""
    limit = limit or int(os.environ.get("CONVERGENCE_SECONDS", "60"))
    cleared = time.time()
    rows = stack.postgres.psql("SELECT id, state, coalesce(reason, '') FROM payment_attempts WHERE finished_at IS NULL")
    classes = {attempt: state for attempt, state, _ in rows}
    while classes and time.time() - cleared < patience:
        ids = ",".join(f"'{attempt}'" for attempt in classes)
        if not stack.postgres.psql(f"SELECT 1 FROM payment_attempts WHERE finished_at IS NULL AND id IN ({ids}) LIMIT 1"):
            break
        time.sleep(0.5)
    seconds_by_class = {}
    late = []
    if classes:
        ids = ",".join(f"'{attempt}'" for attempt in classes)
        for attempt, finished, state, reason in stack.postgres.psql(
                f"SELECT id, coalesce(extract(epoch FROM finished_at)::text, ''), state, coalesce(reason, '') "
                f"FROM payment_attempts WHERE id IN ({ids})"):
            took = float(finished) - cleared if finished else None
            was = classes[attempt]
            if took is None or took > limit:
                late.append(f"{attempt} ({was} → {state}: {reason}) "
                            + ("not final" if took is None else f"final after {took:.1f} s"))
            previous = seconds_by_class.get(was, 0)
            seconds_by_class[was] = None if took is None or previous is None else max(previous, round(max(took, 0), 1))
    if late:
        violations.append(f"convergence: {len(late)} attempt(s) unfinished when the faults were cleared were not final "
                          f"within {limit} s:\n  " + "\n  ".join(late))
    counts = {}
    for state in classes.values():
        counts[state] = counts.get(state, 0) + 1
    finished = [value for value in seconds_by_class.values()]
    return {"limit_seconds": limit, "unfinished_when_cleared": counts, "seconds_by_class": seconds_by_class,
            "seconds": None if None in finished else max(finished, default=0)}


def main():
    report = soak(int(os.environ.get("SOAK_SECONDS", "300")))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    sys.exit(1 if report["violations"] else 0)


if __name__ == "__main__":
    main()
