"""Issue 17, CONTRACT §10: Conekta's webhooks through nginx into the real server, against the
Conekta sandbox's signed deliveries and controls, with the invariants (I1–I7) after each test.

The stack's company sets its webhooks up with `hotspotctl company webhook` against the sandbox
(a key made at "Conekta", the URL registered), so every event of its account is delivered
signed to nginx, as Conekta would. A second Conekta account (company B) signs its own."""

import json
import os
import time
import uuid

import pytest

from conftest import running_stack
from hotspot_stack import ROUTER_PASSWORD, ROUTER_USER
from invariants import attempt, check_invariants, is_enabled, new_token, pay, wait_until

OTHER_ACCOUNT = "key_other_account"
ENV = {
    "HOTSPOT_RECONCILE_INTERVAL_MS": "300",
    "HOTSPOT_ROUTER_TIMEOUT_MS": "2000",
    "HOTSPOT_ROUTER_CONNECT_TIMEOUT_MS": "1000",
}


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(extra_env=ENV, conekta_args=["--private-key", "key_sandbox_private",
                                                          "--private-key", OTHER_ACCOUNT])


@pytest.fixture(scope="module")
def hooked(stack):
    """The stack's company with its webhooks set up at the sandbox."""
    setup = stack.ctl("company", "webhook", "--company", str(stack.ids["company"]), "--url", f"http://127.0.0.1:{stack.port}")
    return setup


@pytest.fixture(autouse=True)
def invariants(stack):
    yield
    stack.router.control("POST", "faults/clear", {})
    check_invariants(stack, settle_seconds=45)


# --- helpers ----------------------------------------------------------------------------------


def paid(stack, **fields):
    """A delivered payment: (attempt id, order id, hotspot user name)."""
    reply = pay(stack, **fields)
    assert reply.status == 200, reply
    order_id = reply.body["id_transaccion"]
    (attempt_id,) = stack.postgres.psql(f"SELECT id FROM payment_attempts WHERE order_id = '{order_id}'")[0]
    return attempt_id, order_id, reply.body["usuario_hotspot"]["usuario"]


def events(stack, order_id):
    """Our webhook_events rows of an order: {event_id: (type, deliveries, outcome or None)}."""
    rows = stack.postgres.psql(
        "SELECT event_id, type, deliveries, coalesce(outcome, '\\N') FROM webhook_events "
        f"WHERE order_id = '{order_id}' ORDER BY id")
    return {e: (t, int(d), None if o == "\\N" else o) for e, t, d, o in rows}


def sandbox_events(stack, order_id, event_type=None):
    query = f"events?order_id={order_id}" + (f"&type={event_type}" if event_type else "")
    return stack.conekta.control("GET", query)


def applied(stack, order_id, event_type):
    """The outcome of the order's event of that type, once applied."""
    found = [o for t, _, o in events(stack, order_id).values() if t == event_type and o and not o.startswith("pending")]
    return found[0] if found else None


def router_user(stack, username):
    return next((u for u in stack.router.control("GET", "state")["users"] if u.get("name") == username), None)


def sessions(stack, username):
    return [s for s in stack.router.control("GET", "state")["active"] if s.get("user") == username]


def timeline(stack, attempt_id):
    return [state for (state,) in stack.postgres.psql(
        f"SELECT to_state FROM payment_events WHERE attempt_id = '{attempt_id}' ORDER BY id")]


_device = iter(range(1, 250))


def connected(stack):
    """A payment with auto-connect from a device the hotspot knows: its user has a session."""
    n = next(_device)
    mac, ip = f"02:00:5E:30:00:{n:02X}", f"10.5.70.{n}"
    stack.router.control("POST", "hosts", {"mac-address": mac, "address": ip})
    attempt_id, order_id, user = paid(stack, mac_cliente=mac, ip_cliente=ip, conexion_automatica=True)
    assert sessions(stack, user), "auto-connect logged the device in"
    return attempt_id, order_id, user


def access_log(stack):
    with open(os.path.join(stack.nginx_prefix, "access.log")) as log:
        return [json.loads(line) for line in log]


def metric(stack, name):
    status, _, body = stack.request("GET", "/metrics")
    assert status == 200
    text = body.decode() if isinstance(body, bytes) else str(body)
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name) and not line.startswith("#"))


# --- the set-up -------------------------------------------------------------------------------

def test_the_set_up_registers_one_webhook_and_can_run_again(stack, hooked):
    assert hooked["url"] == f"http://127.0.0.1:{stack.port}/api/v1/webhooks/conekta/{hooked['endpoint']}"
    assert hooked["key_created"] and hooked["webhook_registered"], hooked
    again = stack.ctl("company", "webhook", "--company", str(stack.ids["company"]), "--url", f"http://127.0.0.1:{stack.port}/")
    assert (again["url"], again["webhook_key_id"], again["webhook_id"]) == (hooked["url"], hooked["webhook_key_id"],
                                                                            hooked["webhook_id"])
    assert not again["key_created"] and not again["webhook_registered"], again
    state = stack.conekta.control("GET", "state")
    assert [w["id"] for w in state["webhooks"] if w["url"] == hooked["url"] and not w["deleted"]] == [hooked["webhook_id"]]
    assert len([k for k in state["webhook_keys"] if k["account"] == "key_sandbox_private"]) == 1


def test_an_unknown_endpoint_is_404(stack, hooked):
    status, _, body = stack.request("POST", f"/api/v1/webhooks/conekta/whe_{uuid.uuid4().hex}",
                                    raw=b'{"id":"x","type":"order.paid"}', headers={"Digest": "eA=="})
    assert (status, body["codigo"]) == (404, "webhook_desconocido")


def test_a_payments_own_events_are_recorded_and_change_nothing(stack, hooked):
    attempt_id, order_id, user = paid(stack)
    wait_until("order.paid applied", lambda: applied(stack, order_id, "order.paid"), 30)
    recorded = events(stack, order_id)
    assert {t for t, _, _ in recorded.values()} == {"order.created", "order.paid"}, recorded
    assert applied(stack, order_id, "order.created") == "recorded"
    assert applied(stack, order_id, "order.paid") == "nothing to do: delivered"
    assert attempt(stack, attempt_id)["state"] == "delivered"
    assert is_enabled(router_user(stack, user))


# --- refunds and chargebacks revoke ----------------------------------------------------------------

def test_a_dashboard_refund_revokes_the_access_within_a_minute(stack, hooked):
    attempt_id, order_id, user = connected(stack)
    started = time.time()
    stack.conekta.control("POST", f"orders/{order_id}/refund", {})
    wait_until("the attempt revoked", lambda: attempt(stack, attempt_id)["state"] == "revoked", 60)
    assert not is_enabled(router_user(stack, user))
    assert sessions(stack, user) == []
    assert time.time() - started < 60
    assert applied(stack, order_id, "order.refunded") == "revoked"
    assert timeline(stack, attempt_id)[-2:] == ["revoking", "revoked"]
    # The operator sees it: payments show lists the event, events list has it, the access log tells it.
    shown = stack.ctl("payments", "show", attempt_id)
    assert [(e["type"], e["outcome"]) for e in shown["webhook_events"] if e["type"] == "order.refunded"] == \
        [("order.refunded", "revoked")]
    listed = stack.ctl("events", "list", "--company", str(stack.ids["company"]))
    (refund,) = [e for e in listed if e["order_id"] == order_id and e["type"] == "order.refunded"]
    assert refund["attempt_id"] == attempt_id and refund["applied_at"]
    # nginx's line: applied at once, or (the attempt busy with the payment's own order.paid) left
    # to the reconciler, whose log line then says what it did.
    line = next(entry for entry in access_log(stack) if entry["event"] == refund["event_id"])
    assert (line["status"], line["event_type"]) == (200, "order.refunded") and hooked["endpoint"] in line["uri"]
    if line["outcome"] == "revoked":
        assert line["attempt"] == attempt_id
    else:
        assert line["outcome"].startswith("pending: "), line
        logged = [json.loads(text) for text in open(stack.server_log) if refund["event_id"] in text]
        assert any(entry.get("msg") == "webhook event applied late" and entry.get("outcome") == "revoked"
                   and entry.get("attempt") == attempt_id for entry in logged), logged


def test_a_redelivered_event_changes_nothing(stack, hooked):
    attempt_id, order_id, _ = paid(stack)
    stack.conekta.control("POST", f"orders/{order_id}/refund", {})
    wait_until("revoked", lambda: attempt(stack, attempt_id)["state"] == "revoked", 60)
    before = timeline(stack, attempt_id)
    (event,) = sandbox_events(stack, order_id, "order.refunded")
    for _ in range(3):
        stack.conekta.control("POST", f"events/{event['id']}/redeliver", {})
    wait_until("three more deliveries", lambda: events(stack, order_id)[event["id"]][1] == 4, 30)
    assert events(stack, order_id)[event["id"]] == ("order.refunded", 4, "revoked")
    assert timeline(stack, attempt_id) == before


def test_a_chargeback_revokes(stack, hooked):
    attempt_id, order_id, user = connected(stack)
    stack.conekta.control("POST", f"orders/{order_id}/chargeback", {})
    wait_until("revoked", lambda: attempt(stack, attempt_id)["state"] == "revoked", 60)
    assert applied(stack, order_id, "order.charged_back") == "revoked"
    assert not is_enabled(router_user(stack, user)) and sessions(stack, user) == []


def test_a_partial_refund_is_recorded_and_the_access_kept(stack, hooked):
    attempt_id, order_id, user = paid(stack)
    stack.conekta.control("POST", f"orders/{order_id}/refund", {"amount": 500})
    wait_until("the partial refund applied", lambda: applied(stack, order_id, "order.partially_refunded"), 30)
    assert attempt(stack, attempt_id)["state"] == "delivered"
    assert is_enabled(router_user(stack, user))


def test_events_out_of_order_refunded_before_paid_end_the_same(stack, hooked):
    stack.conekta.control("POST", "webhooks/pause", {})
    try:
        attempt_id, order_id, user = paid(stack)
        stack.conekta.control("POST", f"orders/{order_id}/refund", {})
    finally:
        stack.conekta.control("POST", "webhooks/resume", {"order": "reverse"})
    wait_until("every event applied", lambda: len([o for _, _, o in events(stack, order_id).values()
                                                   if o and not o.startswith("pending")]) == 3, 60)
    recorded = events(stack, order_id)
    order_of_arrival = [t for t, _, _ in recorded.values()]
    assert order_of_arrival.index("order.refunded") < order_of_arrival.index("order.paid"), recorded
    assert attempt(stack, attempt_id)["state"] == "revoked"
    assert not is_enabled(router_user(stack, user))
    # The paid event, read against the API's refunded order, changed nothing more.
    assert timeline(stack, attempt_id).count("revoked") == 1


# --- what must not be believed ------------------------------------------------------------------

def test_forged_signatures_are_refused_and_nothing_is_applied(stack, hooked):
    attempt_id, order_id, user = paid(stack)
    failures = metric(stack, "hotspot_webhook_signature_failures_total")
    forged = []
    for mode in ("other_key", "garbled", "tampered", "none"):
        forged.append(stack.conekta.control("POST", "webhooks/forge", {"order_id": order_id, "type": "order.refunded",
                                                                       "signature": mode,
                                                                       "object": {"payment_status": "refunded"}})["id"])
    wait_until("four refusals", lambda: metric(stack, "hotspot_webhook_signature_failures_total") >= failures + 4, 30)
    assert not set(forged) & set(events(stack, order_id))
    assert attempt(stack, attempt_id)["state"] == "delivered" and is_enabled(router_user(stack, user))
    refused = [entry for entry in access_log(stack) if entry["codigo"] == "firma_invalida"]
    assert len(refused) >= 4 and all(entry["status"] == 401 for entry in refused)


def test_a_valid_signature_over_another_companys_order_is_ignored(stack, hooked):
    attempt_id, order_id, user = paid(stack)
    # Company B: its own Conekta account, webhook key and URL.
    company_b = stack.ctl("company", "add", "--name", "Hotel B")["id"]
    stack.ctl("company", "set-conekta", "--company", str(company_b), "--public-key", "key_pub_b", "--private-key-stdin",
              stdin=OTHER_ACCOUNT + "\n")
    setup_b = stack.ctl("company", "webhook", "--company", str(company_b), "--url", f"http://127.0.0.1:{stack.port}")
    # B sells on the same router: one of B's own payments makes an order in B's account, whose
    # order.paid B's key signs; then an event B's key signs that names A's order.
    router_b = stack.ctl("router", "add", "--company", str(company_b), "--name", "Lobby B", "--url", stack.router.url,
                         "--user", ROUTER_USER, "--password-stdin", "--pin", stack.router.info["pin"],
                         "--hotspot-server", "hotspot1", stdin=ROUTER_PASSWORD + "\n")["id"]
    product_b = stack.ctl("product", "add", "--company", str(company_b), "--router", str(router_b), "--name", "Plan B",
                          "--price", "15", "--profile", "1hora")["id"]
    key_b = stack.ctl("key", "issue", "--router", str(router_b))["api_key"]
    reply = pay(stack, api_key=key_b, producto_id=product_b)
    assert reply.status == 200, reply
    order_b = {"id": reply.body["id_transaccion"]}
    wait_until("B's own order.paid applied", lambda: applied(stack, order_b["id"], "order.paid"), 30)
    assert applied(stack, order_b["id"], "order.paid") == "nothing to do: delivered"
    (source,) = sandbox_events(stack, order_b["id"], "order.paid")
    lie = stack.conekta.control("POST", "webhooks/forge", {"event_id": source["id"], "type": "order.refunded",
                                                           "signature": "valid", "object": {"id": order_id},
                                                           "url": setup_b["url"]})
    assert lie["id"] == source["id"]
    # Same event id, another type and order: a redelivery to B, which applied it already.
    wait_until("B got it", lambda: events(stack, order_b["id"])[source["id"]][1] >= 2, 30)
    fresh = stack.conekta.control("POST", "webhooks/forge", {"order_id": order_b["id"], "type": "order.refunded",
                                                             "signature": "valid", "object": {"id": order_id},
                                                             "url": setup_b["url"]})
    wait_until("the lie applied", lambda: applied(stack, order_id, "order.refunded"), 30)
    (row,) = stack.postgres.psql(f"SELECT company_id, outcome FROM webhook_events WHERE event_id = '{fresh['id']}'")
    # B's key reads A's order, whose attempt is not B's: the company check refuses it.
    assert row == [str(company_b), "ignored: not our order"]
    assert attempt(stack, attempt_id)["state"] == "delivered" and is_enabled(router_user(stack, user))


def test_a_storm_of_events_leaves_payments_unaffected(stack, hooked):
    import concurrent.futures

    delivered = [paid(stack) for _ in range(4)]
    before = {attempt_id: timeline(stack, attempt_id) for attempt_id, _, _ in delivered}
    # Hundreds of signed events held back, then let go at once while customers pay: new events
    # naming delivered orders (each one fetched again and found to need nothing), and Conekta
    # retrying events already applied (each answered from the record).
    stack.conekta.control("POST", "webhooks/pause", {})
    try:
        fresh = {stack.conekta.control("POST", "webhooks/forge", {"order_id": delivered[n % 4][1], "type": "order.paid",
                                                                  "signature": "valid"})["id"] for n in range(100)}
        old = [e["id"] for _, order_id, _ in delivered for e in sandbox_events(stack, order_id)]
        for n in range(200):
            stack.conekta.control("POST", f"events/{old[n % len(old)]}/redeliver", {})
    finally:
        stack.conekta.control("POST", "webhooks/resume", {})
    with concurrent.futures.ThreadPoolExecutor(4) as workers:
        replies = list(workers.map(lambda _: pay(stack), range(12)))
    assert [(r.status, r.codigo) for r in replies] == [(200, None)] * 12, [(r.status, r.codigo) for r in replies]
    quoted = ",".join(f"'{i}'" for i in fresh)
    wait_until("every new event applied", lambda: int(stack.postgres.psql(
        f"SELECT count(*) FROM webhook_events WHERE applied_at IS NOT NULL AND event_id IN ({quoted})")[0][0]) == 100, 120)
    outcomes = {o for (o,) in stack.postgres.psql(f"SELECT DISTINCT outcome FROM webhook_events WHERE event_id IN ({quoted})")}
    assert outcomes == {"nothing to do: delivered"}, outcomes
    wait_until("every redelivery received", lambda: sum(
        d for _, order_id, _ in delivered for _, d, _ in events(stack, order_id).values()) >= 100 + len(old) + 200, 120)
    for attempt_id, _, user in delivered:
        assert attempt(stack, attempt_id)["state"] == "delivered" and is_enabled(router_user(stack, user))
        assert timeline(stack, attempt_id) == before[attempt_id]


# --- money after the answer -------------------------------------------------------------------

def test_a_late_3d_secure_payment_is_refunded(stack, hooked):
    reply = pay(stack, token_tarjeta=new_token("3dslate"))
    assert reply.status == 402 and reply.codigo == "pago_no_completado", reply
    attempt_id = reply.body["id_intento"]
    order_id = wait_until("the 3-D Secure order recorded", lambda: attempt(stack, attempt_id)["order_id"], 10)
    stack.conekta.control("POST", f"orders/{order_id}/complete_3ds", {})
    wait_until("refunded", lambda: attempt(stack, attempt_id)["state"] == "refunded", 60)
    order = next(o for o in stack.conekta.control("GET", "state")["orders"] if o["id"] == order_id)
    assert order["payment_status"] == "refunded"
    assert applied(stack, order_id, "order.paid") in ("refunded", "refunding")


def test_an_event_while_the_router_is_down_revokes_when_it_is_back(stack, hooked):
    attempt_id, order_id, user = connected(stack)
    stack.router.control("POST", "faults", {"op": "*", "kind": "error", "status": 503})
    stack.conekta.control("POST", f"orders/{order_id}/refund", {})
    wait_until("the refund applied", lambda: applied(stack, order_id, "order.refunded"), 30)
    assert applied(stack, order_id, "order.refunded") == "revoking"
    time.sleep(2)
    assert attempt(stack, attempt_id)["state"] == "revoking"
    wait_until("the revocation counted as pending", lambda: metric(stack, "hotspot_revocations_pending") >= 1, 10)
    assert is_enabled(router_user(stack, user))
    stack.router.control("POST", "faults/clear", {})
    wait_until("revoked once the router answers", lambda: attempt(stack, attempt_id)["state"] == "revoked", 60)
    assert not is_enabled(router_user(stack, user)) and sessions(stack, user) == []


def test_the_database_down_during_a_delivery_is_retried_and_applied_once(stack, hooked):
    # Last but one: right after PostgreSQL restarts, each pooled connection fails once before it
    # reconnects (a 503 for whoever uses it), which would blur the tests after this one.
    attempt_id, order_id, user = paid(stack)
    stack.conekta.control("POST", "webhooks/config", {"retry_ms": 500, "max_retry_ms": 2000, "attempts": 30})
    stack.postgres.stop()
    try:
        stack.conekta.control("POST", f"orders/{order_id}/refund", {})
        wait_until("a refused delivery", lambda: any(
            a["status"] == 503 for e in sandbox_events(stack, order_id, "order.refunded")
            for d in e["deliveries"] for a in d["attempts"]), 30)
    finally:
        stack.postgres.start()
    wait_until("revoked", lambda: attempt(stack, attempt_id)["state"] == "revoked", 60)
    (event,) = sandbox_events(stack, order_id, "order.refunded")
    statuses = [a["status"] for d in event["deliveries"] for a in d["attempts"]]
    assert 503 in statuses and statuses[-1] == 200, statuses
    # Recorded once (one delivery counted) and applied once. Its outcome is what applying did
    # then: `revoked`, or `revoking` when a router call was left to the reconciler (a pooled
    # connection's first use after the restart fails once).
    kind, deliveries, outcome = events(stack, order_id)[event["id"]]
    assert (kind, deliveries) == ("order.refunded", 1) and outcome in ("revoked", "revoking"), (kind, deliveries, outcome)
    assert timeline(stack, attempt_id).count("revoked") == 1
