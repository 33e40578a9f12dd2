"""Faults worse than single failures (issue 7): the database going away under a running server,
and one router that hangs while another serves payments."""

import threading
import time

import pytest

from conftest import running_stack
from hotspot_stack import ROUTER_PASSWORD, ROUTER_USER, Sandbox
from invariants import check_invariants, pay

ENV = {
    "HOTSPOT_ROUTER_TIMEOUT_MS": "3000",
    "HOTSPOT_ROUTER_MAX_CONCURRENCY": "2",
    "HOTSPOT_ROUTER_QUEUE_WAIT_MS": "200",
    "HOTSPOT_RECONCILE_INTERVAL_MS": "300",
    "HOTSPOT_DECLINES_PER_ADDRESS": "0",
}


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(extra_env=ENV)


def timed(call):
    started = time.time()
    result = call()
    return result, time.time() - started


def test_database_outage_answers_fast_503_and_recovers(stack):
    assert stack.request("GET", "/health")[0] == 200
    stack.postgres.pg_ctl("stop", "-m", "fast", "-w")
    try:
        for _ in range(5):
            (status, headers, body), seconds = timed(lambda: stack.request("GET", "/health"))
            assert status == 503 and body["database"] == "no_disponible", body
            assert seconds < 1.0, f"a health check took {seconds:.2f} s while the database was down"
            reply, seconds = timed(lambda: pay(stack))
            assert reply.status == 503 and reply.body["codigo"] == "servicio_no_disponible", reply
            assert seconds < 1.0, f"a payment took {seconds:.2f} s to be refused while the database was down"
        assert stack.server.poll() is None, "the server must survive the outage"
    finally:
        stack.postgres.start()
    deadline = time.time() + 15
    while time.time() < deadline and stack.request("GET", "/health")[0] != 200:
        time.sleep(0.2)
    assert stack.request("GET", "/health")[0] == 200, "the server did not recover by itself"
    deadline = time.time() + 15
    reply = pay(stack)
    while reply.status != 200 and time.time() < deadline:
        time.sleep(0.3)
        reply = pay(stack)
    assert reply.status == 200, reply
    check_invariants(stack)


def test_a_hanging_router_does_not_slow_payments_on_another(stack):
    # A second router of the same company, its own sandbox, product and key.
    bad = Sandbox("router", stack.directory + "/bad-router", ["--profile", "1hora"])
    bad.start()
    try:
        router = stack.ctl("router", "add", "--company", str(stack.ids["company"]), "--name", "Router Colgado",
                           "--url", bad.url, "--user", ROUTER_USER, "--password-stdin", "--pin", bad.info["pin"],
                           "--hotspot-server", "hotspot1", stdin=ROUTER_PASSWORD + "\n")["id"]
        product = stack.ctl("product", "add", "--company", str(stack.ids["company"]), "--router", str(router),
                            "--name", "1 Hora Colgada", "--price", "15", "--profile", "1hora")["id"]
        key = stack.ctl("key", "issue", "--router", str(router))["api_key"]
        bad.control("POST", "faults", {"op": "*", "kind": "hang", "ms": 20000})

        stop = threading.Event()
        bad_results = []

        def hammer_bad_router():
            while not stop.is_set():
                bad_results.append(pay(stack, api_key=key, producto_id=product, timeout=30).status)

        # More clients than the server has threads: without the per-router cap they would hold them all.
        hammers = [threading.Thread(target=hammer_bad_router) for _ in range(12)]
        for thread in hammers:
            thread.start()
        time.sleep(1.0)  # the bad router now holds its slots and queues the rest
        good = []
        for _ in range(5):
            reply, seconds = timed(lambda: pay(stack))
            good.append((reply.status, seconds))
        stop.set()
        for thread in hammers:
            thread.join(40)
        assert all(status == 200 for status, _ in good), good
        assert max(seconds for _, seconds in good) < 1.5, f"payments on the healthy router slowed: {good}"
        assert bad_results and all(status >= 500 for status in bad_results), bad_results
        # Healthy again, the router stays up until the reconciler has finished its attempts there
        # (one whose last write failed is looked up on the router before it is closed).
        bad.control("POST", "reset", {})
        check_invariants(stack, settle_seconds=30)
    finally:
        bad.control("POST", "reset", {})
        bad.stop()
