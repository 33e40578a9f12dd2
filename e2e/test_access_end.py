"""Issue 18, CONTRACT §11: sold users leave the router when what was sold is over.

The real server sweeps the sandbox router every second (`HOTSPOT_SWEEP_INTERVAL=1`): it lists the
router's users with their usage, ends those of its own whose access is over (uptime or bytes used
up, validity elapsed, access revoked), and leaves every other user alone. Usage advances through
the sandbox router's `/_sandbox/usage` control, as a customer's browsing would. The invariants
(I1–I7, and "an ended access leaves no user on the router") are checked after each test."""

import statistics
import time
import uuid

import pytest

from conftest import running_stack
from invariants import attempt, check_invariants, pay, wait_until

ENV = {
    "HOTSPOT_SWEEP_INTERVAL": "1",
    "HOTSPOT_RECONCILE_INTERVAL_MS": "300",
    "HOTSPOT_ROUTER_TIMEOUT_MS": "2000",
    "HOTSPOT_ROUTER_CONNECT_TIMEOUT_MS": "1000",
    "HOTSPOT_DECLINES_PER_ADDRESS": "0",
}


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(extra_env=ENV)


@pytest.fixture(autouse=True)
def invariants(stack):
    yield
    stack.router.control("POST", "faults/clear", {})
    check_invariants(stack, settle_seconds=45)


# --- helpers ----------------------------------------------------------------------------------


def product(stack, name, *limits):
    """A product on the stack's router with these limit options (`--uptime`, `--validity`, …)."""
    return stack.ctl("product", "add", "--company", str(stack.ids["company"]), "--router", str(stack.ids["router"]),
                     "--name", name, "--price", "10", "--profile", "1hora", *limits)["id"]


def bought(stack, product_id, **fields):
    """A delivered purchase of the product: (attempt id, hotspot user name)."""
    reply = pay(stack, producto_id=product_id, **fields)
    assert reply.status == 200, reply
    order_id = reply.body["id_transaccion"]
    (attempt_id,) = stack.postgres.psql(f"SELECT id FROM payment_attempts WHERE order_id = '{order_id}'")[0]
    return attempt_id, reply.body["usuario_hotspot"]["usuario"]


def router_user(stack, name):
    return next((u for u in stack.router.control("GET", "state")["users"] if u.get("name") == name), None)


def ended(stack, attempt_id):
    """The attempt's end reason once recorded and its user gone from the router, else None."""
    row = attempt(stack, attempt_id)
    if row["access_end_reason"] and router_user(stack, row["hotspot_username"]) is None:
        return row["access_end_reason"]
    return None


def access_events(stack, attempt_id):
    return [reason for (reason,) in stack.postgres.psql(
        f"SELECT reason FROM payment_events WHERE attempt_id = '{attempt_id}' AND reason LIKE 'access ended%' ORDER BY id")]


def use(stack, user, **usage):
    return stack.router.control("POST", "usage", {"user": user, **usage})


_device = iter(range(1, 250))


def connected(stack, product_id):
    """A purchase with auto-connect from a device the hotspot knows: its user has a session."""
    n = next(_device)
    mac, ip = f"02:00:5E:40:00:{n:02X}", f"10.5.80.{n}"
    stack.router.control("POST", "hosts", {"mac-address": mac, "address": ip})
    attempt_id, user = bought(stack, product_id, mac_cliente=mac, ip_cliente=ip, conexion_automatica=True)
    assert sessions(stack, user), "auto-connect logged the device in"
    return attempt_id, user


def sessions(stack, user):
    return [s for s in stack.router.control("GET", "state")["active"] if s.get("user") == user]


# --- what was sold is over --------------------------------------------------------------------

def test_a_user_whose_uptime_is_used_up_is_ended(stack):
    attempt_id, user = connected(stack, stack.ids["products"][0])  # 1 hour of uptime
    use(stack, user, uptime="59m")
    time.sleep(2.5)
    assert router_user(stack, user) is not None, "59 minutes of an hour: still sold"
    reply = use(stack, user, uptime="1m")
    assert reply["limit"] == "uptime" and not sessions(stack, user), "RouterOS drops the session and keeps the user"
    assert wait_until("the user ended", lambda: ended(stack, attempt_id), 30) == "uptime"
    assert access_events(stack, attempt_id) == ["access ended: uptime"]
    assert attempt(stack, attempt_id)["state"] == "delivered", "the sale keeps its record"


def test_a_user_whose_bytes_are_used_up_is_ended(stack):
    product_id = product(stack, "100 MB", "--bytes", "100000000")
    attempt_id, user = bought(stack, product_id)
    use(stack, user, **{"bytes-in": 40_000_000, "bytes-out": 10_000_000})
    time.sleep(2.5)
    assert router_user(stack, user) is not None
    use(stack, user, **{"bytes-in": 50_000_000})
    assert wait_until("the user ended", lambda: ended(stack, attempt_id), 30) == "bytes"


def test_validity_from_first_login_starts_when_the_user_is_first_used(stack):
    product_id = product(stack, "Vigencia 4s desde el primer acceso", "--validity", "4s", "--validity-from", "first-login")
    attempt_id, user = bought(stack, product_id)
    time.sleep(6)
    assert router_user(stack, user) is not None, "never used: the validity has not started"
    assert attempt(stack, attempt_id)["access_end_reason"] is None
    use(stack, user, uptime=1)
    first_login = wait_until("the first login recorded", lambda: stack.postgres.psql(
        f"SELECT first_login_at FROM payment_attempts WHERE id = '{attempt_id}' AND first_login_at IS NOT NULL"), 10)
    assert first_login
    assert wait_until("the user ended", lambda: ended(stack, attempt_id), 30) == "validity"
    (seconds,) = stack.postgres.psql(
        f"SELECT extract(epoch FROM access_ended_at - first_login_at) FROM payment_attempts WHERE id = '{attempt_id}'")[0]
    assert 4 <= float(seconds) < 20, seconds


def test_validity_from_purchase_ends_an_unused_user(stack):
    product_id = product(stack, "Vigencia 3s desde la compra", "--validity", "3s", "--validity-from", "purchase")
    attempt_id, user = bought(stack, product_id)
    assert wait_until("the user ended", lambda: ended(stack, attempt_id), 30) == "validity"
    shown = stack.ctl("payments", "show", attempt_id)
    assert shown["attempt"]["access_end_reason"] == "validity" and shown["attempt"]["access_ended_at"]
    assert [e["reason"] for e in shown["timeline"]][-1] == "access ended: validity"


def test_a_revoked_user_is_removed_after_its_revocation(stack):
    stack.ctl("company", "webhook", "--company", str(stack.ids["company"]), "--url", f"http://127.0.0.1:{stack.port}")
    attempt_id, user = connected(stack, stack.ids["products"][0])
    (order_id,) = stack.postgres.psql(f"SELECT order_id FROM payment_attempts WHERE id = '{attempt_id}'")[0]
    stack.conekta.control("POST", f"orders/{order_id}/refund", {})
    wait_until("revoked", lambda: attempt(stack, attempt_id)["state"] == "revoked", 60)
    assert wait_until("the user ended", lambda: ended(stack, attempt_id), 30) == "revoked"
    assert not sessions(stack, user)


# --- what is not ours, and what fails ---------------------------------------------------------

def test_users_the_product_did_not_make_are_left_alone(stack):
    foreign = [
        {"name": "cafe-staff", "comment": "staff", "limit-uptime": "1h", "uptime": "5h"},
        {"name": "vip", "limit-bytes-total": "1000", "bytes-in": "999999"},
        {"name": "copy", "comment": f"hotspot-pay:{uuid.uuid4()}", "limit-uptime": "1m", "uptime": "2h"},
        {"name": "almost", "comment": "hotspot-pay-old", "limit-uptime": "1m", "uptime": "2h"},
    ]
    for user in foreign:
        stack.router.control("POST", "users", {"profile": "1hora", "server": "hotspot1", "password": "x", **user})
    product_id = product(stack, "Vigencia 2s (junto a ajenos)", "--validity", "2s", "--validity-from", "purchase")
    attempt_id, _ = bought(stack, product_id)
    wait_until("our own user ended", lambda: ended(stack, attempt_id), 30)
    time.sleep(2.5)
    for user in foreign:
        assert router_user(stack, user["name"]) is not None, user["name"]
    listed = stack.ctl("users", "list", "--router", str(stack.ids["router"]))
    names = {row["user"]: row["state"] for row in listed}
    assert "cafe-staff" not in names and "vip" not in names and "almost" not in names
    assert names.get("copy") == "unmatched"
    refused = stack.ctl("users", "end", "cafe-staff", "--router", str(stack.ids["router"]), check=False)
    assert refused.returncode == 1 and "not made by hotspot-pay" in refused.stderr
    assert router_user(stack, "cafe-staff") is not None
    # The hand-made copy would (rightly) fail I1, "every user of ours names an attempt": its owner,
    # not the product, removes it.
    stack.router.control("POST", "bulk-users/remove", {"prefix": "copy"})


def test_an_unreachable_router_is_swept_again_once_it_answers(stack):
    product_id = product(stack, "Vigencia 2s (router caído)", "--validity", "2s", "--validity-from", "purchase")
    attempt_id, user = bought(stack, product_id)
    stack.router.control("POST", "faults", {"op": "*", "kind": "error", "status": 503})
    failures = wait_until("a failed sweep", lambda: int(stack.postgres.psql(
        f"SELECT failures FROM router_sweeps WHERE router_id = {stack.ids['router']}")[0][0]), 30)
    time.sleep(3)
    assert router_user(stack, user) is not None and attempt(stack, attempt_id)["access_end_reason"] is None
    assert failures >= 1
    stack.router.control("POST", "faults/clear", {})
    # The backoff after failures is interval × 2^failures: a few seconds here.
    assert wait_until("the user ended once the router answers", lambda: ended(stack, attempt_id), 60) == "validity"


def test_the_operator_lists_users_by_state_and_ends_one_now(stack):
    unused_attempt, unused = bought(stack, stack.ids["products"][0])
    used_attempt, used = bought(stack, stack.ids["products"][0])
    use(stack, used, uptime="10m")
    wait_until("the first login recorded", lambda: stack.postgres.psql(
        f"SELECT 1 FROM payment_attempts WHERE id = '{used_attempt}' AND first_login_at IS NOT NULL"), 10)
    router = str(stack.ids["router"])
    states = {row["user"]: row for row in stack.ctl("users", "list", "--router", router)}
    assert states[unused]["state"] == "unused" and states[used]["state"] == "active"
    assert states[used]["uptime_seconds"] == 600
    active = [row["user"] for row in stack.ctl("users", "list", "--router", router, "--state", "active")]
    assert used in active and unused not in active
    stack.ctl("users", "end", unused, "--router", router)
    assert router_user(stack, unused) is None
    assert attempt(stack, unused_attempt)["access_end_reason"] == "operator"
    assert access_events(stack, unused_attempt) == ["access ended: operator"]


def test_the_sweep_reports_its_metrics(stack):
    status, _, body = stack.request("GET", "/metrics")
    assert status == 200
    text = body.decode() if isinstance(body, bytes) else str(body)
    router = stack.ids["router"]
    assert f'hotspot_sweep_duration_seconds{{router="{router}"}}' in text
    assert f'hotspot_users_past_end{{router="{router}"}} 0' in text
    assert 'hotspot_users_ended_total{reason="validity"}' in text


# --- several instances, and a big router ------------------------------------------------------

def test_two_instances_sweeping_at_once_end_each_user_once():
    with_two = running_stack(threads=6, extra_env=ENV, instances=2)
    stack = next(with_two)
    try:
        product_id = product(stack, "Vigencia 2s (dos instancias)", "--validity", "2s", "--validity-from", "purchase")
        bought_ids = [bought(stack, product_id)[0] for _ in range(12)]
        for attempt_id in bought_ids:
            assert wait_until("the user ended", lambda a=attempt_id: ended(stack, a), 60) == "validity"
        time.sleep(3)
        for attempt_id in bought_ids:
            assert access_events(stack, attempt_id) == ["access ended: validity"], attempt_id
        deletes = stack.router.control("GET", "stats").get("DELETE /rest/ip/hotspot/user/{id}", 0)
        assert deletes == len(bought_ids), "one DELETE per user: the sweeps never overlapped"
        check_invariants(stack, settle_seconds=45)
    finally:
        with_two.close()


def purchase_seconds(stack, count):
    times = []
    for _ in range(count):
        started = time.monotonic()
        reply = pay(stack)
        times.append(time.monotonic() - started)
        assert reply.status == 200, reply
    return times


def test_a_router_with_20000_users_is_swept_without_slowing_its_payments(stack):
    router = stack.ids["router"]
    baseline = purchase_seconds(stack, 12)
    # 20,000 sold users: attempts in the ledger (copies of a delivered one) and users on the router.
    (template,) = stack.postgres.psql(
        f"SELECT id FROM payment_attempts WHERE router_id = {router} AND state = 'delivered' "
        "AND access_ended_at IS NULL LIMIT 1")[0]
    stack.postgres.psql(
        "INSERT INTO payment_attempts SELECT (jsonb_populate_record(NULL::payment_attempts, to_jsonb(a) || "
        "jsonb_build_object('id', '00000000-0000-4000-8000-' || lpad(g::text, 12, '0'), "
        "'idempotency_key', 'bulk-' || g, 'hotspot_username', 'BULK' || g, 'order_id', NULL, "
        "'router_user_id', NULL, 'validity_seconds', NULL, 'first_login_at', NULL))).* "
        f"FROM payment_attempts a, generate_series(1, 20000) g WHERE a.id = '{template}'")
    stack.router.control("POST", "bulk-users", {
        "count": 20000, "prefix": "BULK", "profile": "1hora", "server": "hotspot1", "limit-uptime": "1h",
        "comment": "hotspot-pay:00000000-0000-4000-8000-{i:012d}"})
    try:
        stack.router.control("POST", "stats/reset", {})
        (before,) = stack.postgres.psql(f"SELECT coalesce(last_finished_at, 'epoch') FROM router_sweeps WHERE router_id = {router}")[0]
        wait_until("a full sweep of 20,000 users", lambda: stack.postgres.psql(
            f"SELECT 1 FROM router_sweeps WHERE router_id = {router} AND last_finished_at > '{before}' "
            "AND last_users >= 20000"), 60)
        # Purchases until at least one sweep's listing ran while they did (a sweep may have
        # listed just before the stats were reset, and the next one starts a second after it ends).
        stack.router.control("POST", "stats/reset", {})
        during, deadline = [], time.time() + 60
        while len(during) < 12 or (not stack.router.control("GET", "stats").get("POST /rest/ip/hotspot/user/print")
                                   and time.time() < deadline):
            during += purchase_seconds(stack, 1)
        (duration_ms, users) = stack.postgres.psql(
            f"SELECT last_duration_ms, last_users FROM router_sweeps WHERE router_id = {router}")[0]
        listings = stack.router.control("GET", "stats").get("POST /rest/ip/hotspot/user/print", 0)
        print(f"\nsweep of {users} users: {duration_ms} ms ({int(duration_ms) * 1000 / int(users):.0f} ms per 1,000 users); "
              f"listings during the purchases: {listings}; purchases p50 {statistics.median(baseline) * 1000:.0f} ms alone, "
              f"{statistics.median(during) * 1000:.0f} ms beside the sweeps")
        assert listings >= 1, "the sweeps kept running while the customers paid"
        # Payments on the swept router keep their normal latency: within a generous factor of the
        # same purchases without 20,000 users (the machine is shared; the margin absorbs its noise).
        assert statistics.median(during) <= max(3 * statistics.median(baseline), statistics.median(baseline) + 1.0)
        for attempt_id in ("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000020000"):
            assert attempt(stack, attempt_id)["access_end_reason"] is None, "unused users within their sale are kept"
    finally:
        stack.router.control("POST", "bulk-users/remove", {"prefix": "BULK"})
        stack.postgres.psql("DELETE FROM payment_events WHERE attempt_id::text LIKE '00000000-0000-4000-8000-%'")
        stack.postgres.psql("DELETE FROM payment_attempts WHERE id::text LIKE '00000000-0000-4000-8000-%'")
