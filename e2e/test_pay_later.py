"""Issue 19, CONTRACT §12 end to end: orders paid later in cash at an OXXO store or by a SPEI
transfer, through nginx into the real server, against PostgreSQL, the sandbox router and the
sandbox Conekta (its cash and SPEI orders and their controls: pay, expire, lose a webhook), with
the invariants (I1–I7 and pay later's) after each test.

The stack's company offers both methods and hears Conekta's webhooks (`hotspotctl company
webhook` against the sandbox), so a payment at the store reaches the server as `order.paid`. The
reconciler's poll of waiting orders runs every 20 s here: long enough that an order paid right
after its 202 is moved on by its webhook, not by the poll, and short enough that a lost webhook
is made up for within a test. Every answer of the payment and claim endpoints is also checked
against docs/openapi.yaml."""

import concurrent.futures
import datetime
import http.client
import json
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid

import pytest

import openapi_spec as spec
from conftest import running_stack
from hotspot_stack import ROUTER_PASSWORD, ROUTER_USER, SANDBOX_PRIVATE_KEY
from invariants import PAY_PATH, Reply, attempt, check_invariants, is_enabled, pay, product_users, remember_secrets, wait_until
from test_metrics import metrics, value
from test_payments import AUTO_KEYS, CONNECTED_MESSAGE, SEED_KEYS, TIMESTAMP

CLAIM_PATH = "/api/v1/payments/canjear"
OTHER_ACCOUNT = "key_other_account"
POLL_SECONDS = 20
GUESSES_PER_MAC, GUESSES_PER_ADDRESS, GUESSES_PER_ROUTER = 3, 5, 12
ENV = {
    "HOTSPOT_RECONCILE_INTERVAL_MS": "300",
    "HOTSPOT_ROUTER_TIMEOUT_MS": "2000",
    "HOTSPOT_ROUTER_CONNECT_TIMEOUT_MS": "1000",
    # A paid order whose router did not answer is tried again within a few seconds.
    "HOTSPOT_RETRY_MAX_SECONDS": "3",
    "HOTSPOT_PAY_LATER_POLL_SECONDS": str(POLL_SECONDS),
    "HOTSPOT_PAY_LATER_POLL_MAX_SECONDS": str(POLL_SECONDS),
    # Small limits of failed claim-code guesses, each provoked from a device and an address
    # (127.0.0.N) of its own, on a router the other tests do not claim on, so that no other
    # test's claims are refused.
    "HOTSPOT_CLAIM_GUESSES_PER_MAC": str(GUESSES_PER_MAC),
    "HOTSPOT_CLAIM_GUESSES_PER_ADDRESS": str(GUESSES_PER_ADDRESS),
    "HOTSPOT_CLAIM_GUESSES_PER_ROUTER": str(GUESSES_PER_ROUTER),
}
EXPIRY_SECONDS = 4 * 3600  # the company's --pay-later-expiry 4h
# A claim code: 10 symbols of Crockford's base32 without I, L, O, U (32 symbols: 50 bits), as XXXXX-XXXXX.
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")
ORDER_KEYS = {"oxxo": ["codigo", "mensaje", "id_intento", "metodo_pago", "monto", "moneda", "expira", "codigo_canje",
                       "referencia", "url_codigo_barras", "producto", "request_id"],
              "spei": ["codigo", "mensaje", "id_intento", "metodo_pago", "monto", "moneda", "expira", "codigo_canje",
                       "clabe", "banco", "producto", "request_id"]}
PENDING_KEYS = {"oxxo": ["codigo", "mensaje", "id_intento", "metodo_pago", "monto", "moneda", "expira", "pago_recibido",
                         "referencia", "url_codigo_barras", "producto", "request_id"],
                "spei": ["codigo", "mensaje", "id_intento", "metodo_pago", "monto", "moneda", "expira", "pago_recibido",
                         "clabe", "banco", "producto", "request_id"]}
PRODUCT = {"nombre": "1 Hora de Internet", "precio": 15.0, "moneda": "MXN", "perfil_mikrotik": "1hora"}
CLAIM_NAMES = {False: ("codigo_canje", "mac_cliente", "ip_cliente", "conexion_automatica"),
               True: ("claim_code", "mac_address", "ip_address", "auto_connect")}


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(extra_env=ENV, conekta_args=["--private-key", SANDBOX_PRIVATE_KEY,
                                                          "--private-key", OTHER_ACCOUNT])


@pytest.fixture(scope="module")
def ready(stack):
    """The stack's company hears its webhooks and offers cash and SPEI, as the README sets it up."""
    company = str(stack.ids["company"])
    stack.ctl("company", "webhook", "--company", company, "--url", f"http://127.0.0.1:{stack.port}")
    stack.ctl("company", "set", company, "--pay-later", "oxxo,spei", "--pay-later-expiry", "4h")
    # The server reads a company's offer with its key (cached for a couple of seconds): the same
    # purchase (one key) is asked until it is taken, so at most one order is made.
    probe = "pay-later-on-" + uuid.uuid4().hex
    wait_until("the server to take pay-later orders", lambda: order(stack, "spei", idempotency_key=probe, check=False)
               .status == 202, 30)
    return company


@pytest.fixture(autouse=True)
def invariants(stack, ready):
    yield
    router_back(stack)
    stack.conekta.control("POST", "faults/clear", {})
    check_invariants(stack, settle_seconds=60)


# --- helpers ----------------------------------------------------------------------------------


def order(stack, method="oxxo", check=True, **fields):
    """A pay-later purchase through nginx (invariants.pay without a card token: product 1 unless
    `fields` say), its answer checked against the spec. Each by a customer of its own unless
    `fields` names one: without an idempotency key, the same request within ten minutes is the
    same purchase (README)."""
    fields.setdefault("metodo_pago" if not fields.get("canonical") else "payment_method", method)
    fields.setdefault("nombre_cliente" if not fields.get("canonical") else "customer_name",
                      f"Cliente {uuid.uuid4().hex[:12]}")
    if fields.get("canonical"):
        fields.setdefault("card_token", None)
    else:
        fields.setdefault("token_tarjeta", None)
    reply = pay(stack, **fields)
    spec.check("POST", PAY_PATH, reply.status, reply.headers, reply.raw)
    if check:
        assert reply.status == 202 and reply.codigo == "pago_pendiente", reply
    return reply


_sources = iter(range(10, 250))


def new_source():
    """A client address of its own on loopback (Linux routes all of 127.0.0.0/8 there), so one
    test's failed guesses count against no other test's address."""
    return f"127.0.0.{next(_sources)}"


_devices = iter(range(1, 250))


def device():
    n = next(_devices)
    return f"02:00:5E:19:00:{n:02X}", f"10.5.19.{n}"


def claim(stack, code, key=None, mac=None, ip=None, auto_connect=None, form=False, canonical=False,
          source="127.0.0.1", timeout=40):
    """POST /api/v1/payments/canjear through nginx from `source`, checked against the spec: a Reply."""
    name, mac_name, ip_name, auto_name = CLAIM_NAMES[canonical]
    fields = {name: code, mac_name: mac, ip_name: ip, auto_name: auto_connect}
    fields = {k: v for k, v in fields.items() if v is not None}
    if form:
        data = urllib.parse.urlencode({k: (str(v).lower() if isinstance(v, bool) else v) for k, v in fields.items()})
        content_type = "application/x-www-form-urlencoded"
    else:
        data, content_type = json.dumps(fields), "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=timeout, source_address=(source, 0))
    try:
        connection.request("POST", CLAIM_PATH, body=data.encode(),
                           headers={"X-API-Key": key or stack.api_key, "Content-Type": content_type})
        answer = connection.getresponse()
        status, headers, raw = answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()
    spec.check("POST", CLAIM_PATH, status, headers, raw)
    body = json.loads(raw)
    remember_secrets(stack, status, body)
    return Reply(status, headers, body, raw, fields)


def expect(reply, status, codigo=None):
    assert reply.status == status and (codigo is None or reply.codigo == codigo), reply
    return reply


def conekta_order(stack, order_id):
    """The order as Conekta's API answers it (GET /orders/{id} with the company's private key)."""
    context = ssl.create_default_context(cafile=stack.conekta.info["ca_file"])
    request = urllib.request.Request(f"{stack.conekta.url}/orders/{order_id}", headers={
        "Authorization": f"Bearer {SANDBOX_PRIVATE_KEY}", "Accept": "application/vnd.conekta-v2.2.0+json"})
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return json.loads(answer.read())


def orders_of(stack, attempt_id):
    """The sandbox's orders made for an attempt (metadata.attempt_id)."""
    return [o for o in stack.conekta.control("GET", "state")["orders"]
            if (o.get("metadata") or {}).get("attempt_id") == attempt_id]


def order_id_of(stack, attempt_id):
    (found,) = orders_of(stack, attempt_id)
    return found["id"]


def users_of(stack, attempt_id):
    return product_users(stack.router.control("GET", "state")).get(attempt_id, [])


def state_of(stack, attempt_id):
    return attempt(stack, attempt_id)["state"]


def timeline(stack, attempt_id):
    return [state for (state,) in stack.postgres.psql(
        f"SELECT to_state FROM payment_events WHERE attempt_id = '{attempt_id}' ORDER BY id")]


def webhook_outcomes(stack, order_id, event_type):
    """The outcomes our server recorded for the order's events of that type (one per event)."""
    return [outcome for (outcome,) in stack.postgres.psql(
        f"SELECT coalesce(outcome, 'pending') FROM webhook_events WHERE order_id = '{order_id}' AND type = '{event_type}'")]


def pay_at_store(stack, order_id, **payload):
    return stack.conekta.control("POST", f"orders/{order_id}/pay", payload)


def iso(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def router_back(stack):
    """The sandbox router answering again: its REST port open, no fault armed."""
    stack.router.control("POST", "faults/clear", {})
    stack.router.control("POST", "service", {"name": "www-ssl", "disabled": False})


def postpone(stack, attempt_id):
    """Pushes a waiting attempt's next poll an hour out, once no worker holds it."""
    wait_until("the attempt to be free of leases", lambda: stack.postgres.psql(
        f"UPDATE payment_attempts SET next_retry_at = now() + interval '1 hour' "
        f"WHERE id = '{attempt_id}' AND (lease_until IS NULL OR lease_until < now()) RETURNING id"), 20, interval=0.05)


def delivered(stack, attempt_id, seconds=60):
    wait_until(f"attempt {attempt_id} delivered", lambda: state_of(stack, attempt_id) == "delivered", seconds,
               describe=lambda: attempt(stack, attempt_id))


def claimed(stack, code, seconds=60, **options):
    """Claims until the access is handed out (200), as the portal's "ya pagué" screen asks again."""
    return wait_until("the claim to answer 200", lambda: (lambda reply: reply if reply.status == 200 else None)(
        claim(stack, code, **options)), seconds, interval=1)


def assert_receipt(stack, reply, purchase, mac=None, auto="no_solicitado"):
    """A claim's 200: the seed's success body field for field, its credentials those of the
    attempt's router user, enabled. Returns the router user."""
    body = reply.body
    assert list(body) == SEED_KEYS, list(body)
    assert list(body["usuario_hotspot"]) == ["usuario", "contrasena"] and list(body["auto_conexion"]) == AUTO_KEYS, body
    assert body["success"] is True and body["estado_pago"] == "paid" and body["tipo_usuario"] == "usuario_contrasena", body
    assert body["producto"] == PRODUCT, body
    assert body["cliente"] == {"nombre": purchase.sent.get("nombre_cliente", purchase.sent.get("customer_name")),
                               "email": purchase.sent.get("email_cliente", purchase.sent.get("customer_email"))}, body
    assert TIMESTAMP.match(body["timestamp"]), body
    attempt_id = purchase.body["id_intento"]
    assert body["id_transaccion"] == order_id_of(stack, attempt_id), body
    (user,) = users_of(stack, attempt_id)
    credentials = body["usuario_hotspot"]
    assert (user["name"], user.get("password", "")) == (credentials["usuario"], credentials["contrasena"]), (user, body)
    assert is_enabled(user) and user["profile"] == "1hora" and user["comment"] == f"hotspot-pay:{attempt_id}", user
    assert "mac-address" not in user or not user["mac-address"], "a pay-later user is bound to no device"
    row = attempt(stack, attempt_id)
    assert row["state"] == "delivered" and row["hotspot_username"] == credentials["usuario"], row
    assert body["auto_conexion"]["estado"] == auto and body["auto_conexion"]["mac"] == mac, body["auto_conexion"]
    return user


# --- 1. the 202: both methods, JSON and form, Spanish and English names ---------------------------


@pytest.mark.parametrize("method, form, canonical", [
    ("oxxo", False, False), ("cash", True, True), ("efectivo", True, False),
    ("spei", True, False), ("SPEI", False, True)])
def test_an_order_answers_202_with_how_to_pay_it_and_a_claim_code(stack, method, form, canonical):
    kind = "spei" if method.lower() == "spei" else "oxxo"
    started = int(time.time())
    reply = order(stack, method, form=form, canonical=canonical)
    finished = int(time.time())
    body = reply.body
    assert list(body) == ORDER_KEYS[kind], list(body)
    assert body["metodo_pago"] == kind and body["monto"] == 15.0 and body["moneda"] == "MXN", body
    assert body["producto"] == PRODUCT, body
    assert body["request_id"] == reply.headers.get("X-Request-Id"), (body, reply.headers)
    assert CODE.match(body["codigo_canje"]), body["codigo_canje"]
    assert b'"monto":15.00' in reply.raw, reply.raw
    attempt_id = body["id_intento"]
    row = attempt(stack, attempt_id)
    assert row["state"] == "awaiting_payment" and row["payment_method"] == kind, row

    # One order at Conekta, as the 202 says: its reference or CLABE, its expiry.
    (made,) = orders_of(stack, attempt_id)
    assert made["payment_status"] == "pending_payment" and made["amount"] == 1500 and made["currency"] == "MXN", made
    assert made["token"] is None and made["method"] == ("spei" if kind == "spei" else "oxxo"), made
    assert row["order_id"] == made["id"]
    charge = conekta_order(stack, made["id"])["charges"]["data"][0]["payment_method"]
    if kind == "oxxo":
        assert (body["referencia"], body["url_codigo_barras"]) == (charge["reference"], charge["barcode_url"]), charge
        assert re.fullmatch(r"\d{14}", body["referencia"])
    else:
        assert (body["clabe"], body["banco"]) == (charge["clabe"], charge["bank"]) == (charge["clabe"], "STP"), charge
    assert body["expira"] == iso(charge["expires_at"]), (body["expira"], charge["expires_at"])
    assert started + EXPIRY_SECONDS - 5 <= charge["expires_at"] <= finished + EXPIRY_SECONDS + 5, charge
    # What the product sent Conekta: a cash or SPEI charge, no card, no claim code.
    (sent,) = [r for r in stack.conekta.control("GET", "state")["create_requests"]
               if (r.get("body") or {}).get("metadata", {}).get("attempt_id") == attempt_id]
    assert sent["violations"] == [], sent["violations"]
    (sent_charge,) = sent["body"]["charges"]
    assert sent_charge["payment_method"] == {"type": "cash" if kind == "oxxo" else "spei",
                                             "expires_at": charge["expires_at"]}, sent_charge
    assert body["codigo_canje"].replace("-", "") not in json.dumps(sent)

    # No access before the money: no router user.
    assert users_of(stack, attempt_id) == []
    # The code is stored as a keyed hash only.
    (stored,) = stack.postgres.psql(f"SELECT claim_code_hash FROM payment_attempts WHERE id = '{attempt_id}'")
    assert stored[0] and body["codigo_canje"].replace("-", "") not in stored[0].upper()


def test_claim_codes_are_unique_and_use_the_whole_alphabet(stack):
    codes = [order(stack, method).body["codigo_canje"] for method in ("oxxo", "spei") * 6]
    assert len(set(codes)) == len(codes), codes
    assert all(CODE.match(code) for code in codes)
    # 120 symbols from a uniform draw over 32: many distinct ones (a constant or a narrow
    # alphabet would show here; the odds of fewer than 20 by chance are nil).
    assert len(set("".join(codes).replace("-", ""))) >= 20, codes


# --- 2, 3. paid, then claimed; claimed before paid ------------------------------------------------


def test_paid_by_webhook_then_claimed_with_the_device_logged_in(stack):
    # Ordered from one device with auto-connect asked; claimed later from another (a pay-later
    # user is bound to no device: the code may be redeemed anywhere on the hotspot).
    ordering_mac, ordering_ip = device()
    purchase = order(stack, "oxxo", mac_cliente=ordering_mac, ip_cliente=ordering_ip, conexion_automatica=True)
    attempt_id, code = purchase.body["id_intento"], purchase.body["codigo_canje"]
    assert users_of(stack, attempt_id) == [], "no router user before the money"
    order_id = order_id_of(stack, attempt_id)
    postpone(stack, attempt_id)  # no poll: only the webhook can find the money
    paid = pay_at_store(stack, order_id)
    assert paid["payment_status"] == "paid", paid
    delivered(stack, attempt_id)
    # The webhook made it: order.paid applied, delivering.
    wait_until("order.paid recorded as what delivered", lambda: webhook_outcomes(stack, order_id, "order.paid") ==
               ["delivered"], 30, describe=lambda: webhook_outcomes(stack, order_id, "order.paid"))
    assert timeline(stack, attempt_id) == ["pending", "charging", "awaiting_payment", "provisioning", "delivered"]
    (user,) = users_of(stack, attempt_id)
    assert is_enabled(user)

    mac, ip = device()
    stack.router.control("POST", "hosts", {"mac-address": mac, "address": ip})
    reply = expect(claim(stack, code, mac=mac, ip=ip, auto_connect=True), 200)
    assert_receipt(stack, reply, purchase, mac=mac, auto="conectado")
    assert reply.body["auto_conexion"]["mensaje"] == CONNECTED_MESSAGE and reply.body["auto_conexion"]["verificado"]
    sessions = [s for s in stack.router.control("GET", "state")["active"] if s.get("user") == user["name"]]
    assert [s.get("mac-address") for s in sessions] == [mac] and mac != ordering_mac, sessions
    # The code typed loosely (lower case, a space for its dash, O for 0, l for 1), as a form, under
    # its English name: the same credentials.
    typed = code.lower().replace("-", " ").replace("0", "O").replace("1", "l")
    again = expect(claim(stack, typed, form=True, canonical=True), 200)
    assert again.body["usuario_hotspot"] == reply.body["usuario_hotspot"]
    assert again.body["auto_conexion"]["estado"] == "no_solicitado"
    # nginx's access log names the attempt of each claim (never the code: no body is logged),
    # each line written once its answer is sent.
    def logged():
        with open(os.path.join(stack.nginx_prefix, "access.log")) as log:
            lines = [json.loads(line) for line in log if CLAIM_PATH in line]
        return [(line["status"], line["codigo"]) for line in lines if line["attempt"] == attempt_id]
    wait_until("both claims in the access log", lambda: len(logged()) == 2, 10, describe=logged)
    assert logged() == [(200, "pagado"), (200, "pagado")]


def test_claimed_before_paid_is_202_then_200_once_paid(stack):
    purchase = order(stack, "spei", canonical=True)
    attempt_id, code = purchase.body["id_intento"], purchase.body["codigo_canje"]
    pending = expect(claim(stack, code), 202, "pago_pendiente")
    assert list(pending.body) == PENDING_KEYS["spei"], list(pending.body)
    assert pending.body["pago_recibido"] is False and "Retry-After" not in pending.headers, pending
    assert {k: pending.body[k] for k in ("id_intento", "metodo_pago", "monto", "moneda", "expira", "clabe", "banco",
                                         "producto")} == \
        {k: purchase.body[k] for k in ("id_intento", "metodo_pago", "monto", "moneda", "expira", "clabe", "banco",
                                       "producto")}
    assert "codigo_canje" not in pending.body and code not in pending.raw.decode()
    assert users_of(stack, attempt_id) == [] and state_of(stack, attempt_id) == "awaiting_payment"

    pay_at_store(stack, order_id_of(stack, attempt_id))
    reply = claimed(stack, code)
    assert_receipt(stack, reply, purchase)


# --- 4. paid, its webhook lost: the poll delivers --------------------------------------------------


def test_paid_but_the_webhook_lost_the_poll_delivers(stack):
    purchase = order(stack, "oxxo")
    attempt_id = purchase.body["id_intento"]
    order_id = order_id_of(stack, attempt_id)
    rule = stack.conekta.control("POST", "webhooks/drop", {"order_id": order_id, "type": "order.paid"})
    pay_at_store(stack, order_id)
    wait_until("the order.paid delivery lost", lambda: [r for r in stack.conekta.control("GET", "webhooks/drop")
                                                        if r["id"] == rule["id"] and r["dropped"]], 20)
    # Not claimed meanwhile (a claim reads the order too): only the poll can find it paid.
    delivered(stack, attempt_id, seconds=POLL_SECONDS * 3 + 30)
    assert webhook_outcomes(stack, order_id, "order.paid") == [], "the webhook was lost; the poll delivered"
    assert timeline(stack, attempt_id)[-2:] == ["provisioning", "delivered"]
    assert_receipt(stack, expect(claim(stack, purchase.body["codigo_canje"]), 200), purchase)


def test_a_claim_reads_an_order_nothing_read_for_ten_seconds(stack):
    """Paid, its webhook lost and the poll an hour away: the customer's claim reads the order
    itself once nothing read it for ten seconds (README), and hands the access out."""
    purchase = order(stack, "spei")
    attempt_id, code = purchase.body["id_intento"], purchase.body["codigo_canje"]
    order_id = order_id_of(stack, attempt_id)
    stack.conekta.control("POST", "webhooks/drop", {"order_id": order_id, "type": "order.paid"})
    postpone(stack, attempt_id)
    pay_at_store(stack, order_id)
    reply = claimed(stack, code, seconds=60)
    assert_receipt(stack, reply, purchase)
    assert webhook_outcomes(stack, order_id, "order.paid") == []
    assert timeline(stack, attempt_id)[-2:] == ["provisioning", "delivered"]


# --- 5. expired; cancelled past the expiry -----------------------------------------------------------


@pytest.mark.parametrize("method", ["oxxo", "spei"])
def test_an_expired_reference_is_410_and_nothing_reaches_the_router(stack, method):
    purchase = order(stack, method)
    attempt_id, code = purchase.body["id_intento"], purchase.body["codigo_canje"]
    order_id = order_id_of(stack, attempt_id)
    stack.conekta.control("POST", f"orders/{order_id}/expire", {})
    wait_until("the attempt expired", lambda: state_of(stack, attempt_id) == "expired", 30)
    wait_until("order.expired recorded as what expired it", lambda: webhook_outcomes(stack, order_id, "order.expired") ==
               ["expired"], 30, describe=lambda: webhook_outcomes(stack, order_id, "order.expired"))
    reply = expect(claim(stack, code), 410, "referencia_expirada")
    assert reply.body["detail"] and reply.body["request_id"] == reply.headers.get("X-Request-Id")
    assert users_of(stack, attempt_id) == []
    assert timeline(stack, attempt_id)[-2:] == ["awaiting_payment", "expired"]
    row = attempt(stack, attempt_id)
    assert row["finished"] and "expired" in row["reason"], row


def test_an_order_still_payable_an_hour_past_its_expiry_is_cancelled_at_conekta(stack):
    purchase = order(stack, "oxxo")
    attempt_id, code = purchase.body["id_intento"], purchase.body["codigo_canje"]
    order_id = order_id_of(stack, attempt_id)
    # The reference expired an hour and a minute ago as far as our record goes (the company's
    # shortest expiry is 15 minutes, so the clock is moved on the record), and Conekta has not
    # marked it: the reconciler cancels it at Conekta, reads it again, and ends it expired. A run
    # that held the attempt meanwhile may write its own expiry back: moved again until it is over.
    def moved_past_expiry():
        stack.postgres.psql(
            "UPDATE payment_attempts SET pay_later_expires_at = now() - interval '61 minutes', next_retry_at = now() "
            f"WHERE id = '{attempt_id}' AND state = 'awaiting_payment' AND pay_later_expires_at > now() "
            "AND (lease_until IS NULL OR lease_until < now())")
        return state_of(stack, attempt_id) == "expired"
    wait_until("the order cancelled and the attempt expired", moved_past_expiry, 60, interval=1)
    (found,) = orders_of(stack, attempt_id)
    assert found["payment_status"] == "canceled", found
    assert "orders.cancel" in {c["op"] for c in stack.conekta.control("GET", "calls")
                               if c["path"] == f"/orders/{order_id}/cancel"}
    assert attempt(stack, attempt_id)["reason"] == f"order {order_id} canceled unpaid; nothing on the router"
    assert timeline(stack, attempt_id)[-1] == "expired" and users_of(stack, attempt_id) == []
    expect(claim(stack, code), 410, "referencia_expirada")


def test_an_order_paid_before_its_late_cancel_is_delivered(stack):
    """Never expired by the clock alone: an order paid at the store (its webhook lost) is read
    before any cancel, and the money wins."""
    purchase = order(stack, "spei")
    attempt_id = purchase.body["id_intento"]
    order_id = order_id_of(stack, attempt_id)
    stack.conekta.control("POST", "webhooks/drop", {"order_id": order_id, "type": "order.paid"})
    pay_at_store(stack, order_id)
    stack.postgres.psql(
        "UPDATE payment_attempts SET pay_later_expires_at = now() - interval '61 minutes', next_retry_at = now() "
        f"WHERE id = '{attempt_id}' AND state = 'awaiting_payment'")
    delivered(stack, attempt_id)
    assert not [c for c in stack.conekta.control("GET", "calls") if c["path"] == f"/orders/{order_id}/cancel"]
    assert orders_of(stack, attempt_id)[0]["payment_status"] == "paid"
    assert_receipt(stack, expect(claim(stack, purchase.body["codigo_canje"]), 200), purchase)


# --- 6. a double submit --------------------------------------------------------------------------


def _outside_a_ten_minute_boundary():
    """Waits while within 15 s of a ten-minute boundary: a purchase without an idempotency key is
    the same purchase within the same ten minutes (README), so two of them must not straddle one."""
    while (time.time() % 600) > 585 or (time.time() % 600) < 2:
        time.sleep(1)


@pytest.mark.parametrize("keyed", ["header", "derived"])
def test_a_double_submit_makes_one_order_with_one_reference_and_code(stack, keyed):
    key = f"double-{uuid.uuid4().hex}" if keyed == "header" else None
    fields = {"nombre_cliente": f"Doble {uuid.uuid4().hex[:8]}", "idempotency_key": key}
    _outside_a_ten_minute_boundary()
    creates = sum(1 for c in stack.conekta.control("GET", "calls") if c["op"] == "orders.create")
    # Conekta slow to make the order: the second request arrives while the first holds it.
    stack.conekta.control("POST", "faults", {"op": "orders.create", "kind": "latency", "ms": 1500, "times": 1})
    barrier = threading.Barrier(2)

    def submit(_):
        barrier.wait()
        return order(stack, "oxxo", check=False, **fields)

    with concurrent.futures.ThreadPoolExecutor(2) as workers:
        replies = list(workers.map(submit, range(2)))
    ok = [r for r in replies if r.status == 202]
    assert ok, replies
    for reply in replies:
        assert reply.status == 202 or (reply.status == 409 and reply.codigo == "en_proceso"), replies
    # And twice more in a row, once it is done: the same answer, request_id aside.
    later = [order(stack, "oxxo", **fields) for _ in range(2)]
    first = {k: v for k, v in ok[0].body.items() if k != "request_id"}
    for reply in ok + later:
        assert {k: v for k, v in reply.body.items() if k != "request_id"} == first, (reply, ok[0])
    attempt_id = first["id_intento"]
    assert len(orders_of(stack, attempt_id)) == 1
    assert sum(1 for c in stack.conekta.control("GET", "calls") if c["op"] == "orders.create") == creates + 1
    assert stack.postgres.psql(f"SELECT count(*) FROM payment_attempts WHERE idempotency_key = "
                               f"(SELECT idempotency_key FROM payment_attempts WHERE id = '{attempt_id}')") == [["1"]]
    # One code: the one shown redeems, and it is the attempt's.
    expect(claim(stack, first["codigo_canje"]), 202, "pago_pendiente")


# --- 7, 8. wrong codes, guessing, and codes of other routers -----------------------------------------


def new_router(stack, name, company=None):
    """A router of the company (the same sandbox router, another hotspot of it), with a product
    and a key of its own: {"router", "product", "key"}."""
    company = str(company or stack.ids["company"])
    router = stack.ctl("router", "add", "--company", company, "--name", name, "--url", stack.router.url,
                       "--user", ROUTER_USER, "--password-stdin", "--pin", stack.router.info["pin"],
                       "--hotspot-server", "hotspot1", stdin=ROUTER_PASSWORD + "\n")["id"]
    product = stack.ctl("product", "add", "--company", company, "--router", str(router), "--name", f"1 Hora {name}",
                        "--price", "15", "--profile", "1hora")["id"]
    key = stack.ctl("key", "issue", "--router", str(router))["api_key"]
    return {"router": router, "product": product, "key": key}


@pytest.fixture(scope="module")
def lobby(stack, ready):
    """A second router of the same company. The guessing tests guess there, so that the stack's
    own router stays far from its limit of failed guesses for the other tests' claims."""
    return new_router(stack, "Router Lobby")


@pytest.fixture(scope="module")
def other_company(stack, ready):
    """Another company (its own Conekta account) offering cash, with its router, product and key."""
    company = stack.ctl("company", "add", "--name", "Hotel Otro")["id"]
    stack.ctl("company", "set-conekta", "--company", str(company), "--public-key", "key_pub_other",
              "--private-key-stdin", stdin=OTHER_ACCOUNT + "\n")
    stack.ctl("company", "set", str(company), "--pay-later", "oxxo", "--pay-later-expiry", "2h")
    return dict(new_router(stack, "Recepción", company=company), company=company)


def lobby_order(stack, lobby, method="oxxo"):
    return order(stack, method, api_key=lobby["key"], producto_id=lobby["product"])


def failures_at(stack, router):
    return int(stack.postgres.psql(f"SELECT count(*) FROM claim_failures WHERE router_id = {router['router']}")[0][0])


def test_a_wrong_code_is_404_and_guessing_is_throttled_per_device(stack, lobby):
    real = lobby_order(stack, lobby).body["codigo_canje"]
    mac, _ = device()
    source = new_source()
    # A code never given, one with a symbol outside the alphabet, one too short: 404 each.
    for code in ("ZZZZZ-ZZZZ0", "UUUUU-UUUUU", "12345"):
        reply = expect(claim(stack, code, key=lobby["key"], mac=mac, source=source), 404, "codigo_desconocido")
        assert reply.body["request_id"] == reply.headers.get("X-Request-Id")
    # Past the device's limit: 429 with Retry-After, before any look-up (the real code too).
    for code in ("ZZZZZ-ZZZZ1", real):
        reply = expect(claim(stack, code, key=lobby["key"], mac=mac, source=source), 429, "demasiados_intentos")
        assert reply.headers["Retry-After"] == "600", reply.headers
    # Another device at another address: its own count.
    expect(claim(stack, real, key=lobby["key"], mac=device()[0], source=new_source()), 202, "pago_pendiente")
    assert stack.postgres.psql(f"SELECT count(*) FROM claim_failures WHERE client_mac = '{mac}'") == [[str(GUESSES_PER_MAC)]]


def test_guessing_is_throttled_per_address(stack, lobby):
    real = lobby_order(stack, lobby, "spei").body["codigo_canje"]
    source = new_source()
    for n in range(GUESSES_PER_ADDRESS):  # no MAC sent: the address alone counts
        expect(claim(stack, f"ZZZZZ-ZZZ{n:02d}", key=lobby["key"], source=source), 404, "codigo_desconocido")
    reply = expect(claim(stack, real, key=lobby["key"], source=source), 429, "demasiados_intentos")
    assert reply.headers["Retry-After"] == "600"
    expect(claim(stack, real, key=lobby["key"], mac=device()[0], source=source), 429, "demasiados_intentos")
    # The address's count holds on every router; another address is answered.
    expect(claim(stack, order(stack, "oxxo").body["codigo_canje"], source=source), 429, "demasiados_intentos")
    expect(claim(stack, real, key=lobby["key"], source=new_source()), 202, "pago_pendiente")


def test_a_code_of_another_router_is_404(stack, lobby, other_company):
    ours = order(stack, "oxxo").body["codigo_canje"]
    theirs_lobby = lobby_order(stack, lobby, "spei").body["codigo_canje"]
    theirs = order(stack, "oxxo", api_key=other_company["key"], producto_id=other_company["product"]).body
    assert orders_of(stack, theirs["id_intento"])[0]["metadata"]["attempt_id"] == theirs["id_intento"]
    # Each code is known on its own router only, whoever holds a key of another.
    for code, keys in ((ours, (lobby["key"], other_company["key"])),
                       (theirs_lobby, (stack.api_key, other_company["key"])),
                       (theirs["codigo_canje"], (stack.api_key, lobby["key"]))):
        for key in keys:
            expect(claim(stack, code, key=key, source=new_source()), 404, "codigo_desconocido")
    expect(claim(stack, ours), 202, "pago_pendiente")
    expect(claim(stack, theirs_lobby, key=lobby["key"]), 202, "pago_pendiente")
    expect(claim(stack, theirs["codigo_canje"], key=other_company["key"]), 202, "pago_pendiente")


def test_an_offer_turned_off_keeps_the_orders_already_made(stack, other_company):
    company = str(other_company["company"])
    key = f"offer-{uuid.uuid4().hex}"
    sold = {"api_key": other_company["key"], "producto_id": other_company["product"], "idempotency_key": key}
    purchase = order(stack, "oxxo", **sold)

    def attempts_of_company():
        return int(stack.postgres.psql(f"SELECT count(*) FROM payment_attempts WHERE company_id = {company}")[0][0])

    made = attempts_of_company()
    stack.ctl("company", "set", company, "--pay-later", "none")
    try:
        # Asked with the purchase's key and another body: while the server still has the offer
        # cached that is a key conflict, and nothing is made; then the method is refused.
        wait_until("new cash orders refused", lambda: order(stack, "oxxo", check=False, **sold).codigo ==
                   "metodo_pago_no_disponible", 30)
        for method in ("oxxo", "spei"):
            refused = order(stack, method, check=False, api_key=other_company["key"], producto_id=other_company["product"])
            assert refused.status == 422 and refused.codigo == "metodo_pago_no_disponible", refused
        assert attempts_of_company() == made, "a refused method records nothing"
        # The order made before keeps its terms: paid at the store (this account hears no
        # webhooks), its claim reads it and hands the access out.
        pay_at_store(stack, order_id_of(stack, purchase.body["id_intento"]))
        reply = claimed(stack, purchase.body["codigo_canje"], key=other_company["key"])
        assert reply.body["usuario_hotspot"]["usuario"] == attempt(stack, purchase.body["id_intento"])["hotspot_username"]
    finally:
        stack.ctl("company", "set", company, "--pay-later", "oxxo")


def test_guessing_is_throttled_per_router(stack, lobby):
    real = lobby_order(stack, lobby).body["codigo_canje"]
    ours_before = failures_at(stack, {"router": stack.ids["router"]})
    for n in range(GUESSES_PER_ROUTER - failures_at(stack, lobby)):  # each from a device and an address of its own
        expect(claim(stack, f"YYYYY-YYY{n:02d}", key=lobby["key"], mac=device()[0], source=new_source()), 404,
               "codigo_desconocido")
    reply = expect(claim(stack, real, key=lobby["key"], mac=device()[0], source=new_source()), 429, "demasiados_intentos")
    assert reply.headers["Retry-After"] == "600"
    # The stack's own router is another router: its codes are still answered.
    assert failures_at(stack, {"router": stack.ids["router"]}) == ours_before < GUESSES_PER_ROUTER
    expect(claim(stack, order(stack, "spei").body["codigo_canje"], source=new_source()), 202, "pago_pendiente")


# --- 9. the router down when the money arrives ----------------------------------------------------------


@pytest.mark.parametrize("how", ["unreachable", "failing"])
def test_the_router_down_when_the_money_arrives_delivers_once_it_is_back(stack, how):
    purchase = order(stack, "oxxo")
    attempt_id, code = purchase.body["id_intento"], purchase.body["codigo_canje"]
    if how == "unreachable":  # its REST port closed: connections refused
        stack.router.control("POST", "service", {"name": "www-ssl", "disabled": True})
    else:  # it answers, with 503 to everything
        stack.router.control("POST", "faults", {"op": "*", "kind": "error", "status": 503,
                                                "body": '{"error":503,"message":"Service Unavailable"}'})
    try:
        pay_at_store(stack, order_id_of(stack, attempt_id))
        wait_until("the attempt paid, its user not made", lambda: state_of(stack, attempt_id) == "provisioning", 30)
        wait_until("a try of the reconciler", lambda: stack.postgres.psql(
            f"SELECT 1 FROM payment_attempts WHERE id = '{attempt_id}' AND reason LIKE 'paid; %will retry'"), 30)
        pending = expect(claim(stack, code), 202, "pago_pendiente")
        assert pending.body["pago_recibido"] is True and pending.headers["Retry-After"] == "5", pending
        assert list(pending.body) == PENDING_KEYS["oxxo"]
        time.sleep(POLL_SECONDS / 4)  # several of the reconciler's tries: still nothing made, nothing refunded
        assert state_of(stack, attempt_id) == "provisioning" and users_of(stack, attempt_id) == []
        assert orders_of(stack, attempt_id)[0]["payment_status"] == "paid"
    finally:
        router_back(stack)
    delivered(stack, attempt_id)
    assert timeline(stack, attempt_id)[-2:] == ["provisioning", "delivered"]
    assert_receipt(stack, expect(claim(stack, code), 200), purchase)


# --- 10. money paid into a reference that expired -----------------------------------------------------------


def test_money_paid_after_the_expiry_is_refunded(stack):
    purchase = order(stack, "spei")
    attempt_id, code = purchase.body["id_intento"], purchase.body["codigo_canje"]
    order_id = order_id_of(stack, attempt_id)
    stack.conekta.control("POST", f"orders/{order_id}/expire", {})
    wait_until("the attempt expired", lambda: state_of(stack, attempt_id) == "expired", 30)
    late = pay_at_store(stack, order_id, force=True)  # a transfer Conekta accepted anyway
    assert late["payment_status"] == "paid", late
    wait_until("the late money refunded", lambda: state_of(stack, attempt_id) == "refunded", 60,
               describe=lambda: attempt(stack, attempt_id))
    (found,) = orders_of(stack, attempt_id)
    assert found["payment_status"] == "refunded" and found["amount_refunded"] == found["amount"] == 1500, found
    assert timeline(stack, attempt_id)[-4:] == ["awaiting_payment", "expired", "refunding", "refunded"]
    assert users_of(stack, attempt_id) == []
    expect(claim(stack, code), 410, "pago_reembolsado")


# --- 11. what the operator sees ------------------------------------------------------------------------


def test_metrics_and_hotspotctl_follow_the_orders(stack):
    def read():
        samples = metrics(stack)
        return {"pending_oxxo": value(samples, "hotspot_pay_later_pending", method="oxxo"),
                "pending_spei": value(samples, "hotspot_pay_later_pending", method="spei"),
                "paid_oxxo": value(samples, "hotspot_pay_later_paid_total", method="oxxo"),
                "expired_spei": value(samples, "hotspot_pay_later_expired_total", method="spei"),
                "pagado": value(samples, "hotspot_claims_total", codigo="pagado"),
                "pendiente": value(samples, "hotspot_claims_total", codigo="pago_pendiente"),
                "desconocido": value(samples, "hotspot_claims_total", codigo="codigo_desconocido"),
                "expirada": value(samples, "hotspot_claims_total", codigo="referencia_expirada")}

    def awaiting(method):
        return int(stack.postgres.psql(
            f"SELECT count(*) FROM payment_attempts WHERE state = 'awaiting_payment' AND payment_method = '{method}'")[0][0])

    # The gauges are the database's count at the reconciler's last pass.
    before = wait_until("the gauges to count the waiting orders", lambda: (lambda now: now if (
        now["pending_oxxo"], now["pending_spei"]) == (awaiting("oxxo"), awaiting("spei")) else None)(read()), 30)
    cash = order(stack, "oxxo")
    spei = order(stack, "spei")
    cash_id, spei_id = cash.body["id_intento"], spei.body["id_intento"]
    wait_until("the gauges to count both orders", lambda: (lambda now: now["pending_oxxo"] == before["pending_oxxo"] + 1
                                                          and now["pending_spei"] == before["pending_spei"] + 1)(read()), 30)

    # The operator's list of waiting orders: both, with how and until when; never a code.
    listed = {row["id"]: row for row in stack.ctl("payments", "list", "--pending", "--limit", "500")}
    for reply, reference in ((cash, cash.body["referencia"]), (spei, spei.body["clabe"])):
        row = listed[reply.body["id_intento"]]
        assert row["state"] == "awaiting_payment" and row["payment_method"] == reply.body["metodo_pago"], row
        assert (row["reference"] or row["clabe"]) == reference and row["expires_at"] == reply.body["expira"], row
    assert all(row["state"] in ("awaiting_payment", "provisioning") for row in listed.values()), listed
    text = subprocess.run([os.path.join(stack.build_dir, "hotspotctl"), "--env-file", stack.env_file, "payments", "list",
                           "--pending", "--limit", "500"], capture_output=True, text=True, check=True).stdout
    (line,) = [line for line in text.splitlines() if line.startswith(cash_id)]
    assert line.split("\t")[2:] == ["awaiting_payment", "15.00 MXN", "oxxo", cash.body["referencia"], cash.body["expira"]], line

    # Claimed before paid, then paid and claimed: the counters move by one each.
    expect(claim(stack, cash.body["codigo_canje"]), 202, "pago_pendiente")
    expect(claim(stack, "ZZZZZ-ZZZZZ", source=new_source()), 404, "codigo_desconocido")
    pay_at_store(stack, order_id_of(stack, cash_id))
    delivered(stack, cash_id)
    assert_receipt(stack, expect(claim(stack, cash.body["codigo_canje"]), 200), cash)
    stack.conekta.control("POST", f"orders/{order_id_of(stack, spei_id)}/expire", {})
    wait_until("the SPEI attempt expired", lambda: state_of(stack, spei_id) == "expired", 30)
    expect(claim(stack, spei.body["codigo_canje"]), 410, "referencia_expirada")
    expected = dict(before, paid_oxxo=before["paid_oxxo"] + 1, expired_spei=before["expired_spei"] + 1,
                    pagado=before["pagado"] + 1, pendiente=before["pendiente"] + 1,
                    desconocido=before["desconocido"] + 1, expirada=before["expirada"] + 1)
    wait_until("the metrics to follow", lambda: read() == expected, 30, describe=lambda: (read(), expected))
    listed = {row["id"] for row in stack.ctl("payments", "list", "--pending", "--limit", "500")}
    assert cash_id not in listed and spei_id not in listed

    # payments show: the method, the reference and the expiry; never the claim code.
    for reply in (cash, spei):
        attempt_id = reply.body["id_intento"]
        shown = stack.ctl("payments", "show", attempt_id)
        assert shown["attempt"]["payment_method"] == reply.body["metodo_pago"], shown
        assert shown["attempt"]["expires_at"] == reply.body["expira"]
        text = subprocess.run([os.path.join(stack.build_dir, "hotspotctl"), "--env-file", stack.env_file, "payments",
                               "show", attempt_id], capture_output=True, text=True, check=True).stdout
        how = (f"reference {reply.body['referencia']}" if reply.body["metodo_pago"] == "oxxo"
               else f"CLABE {reply.body['clabe']} (STP)")
        assert f"method   {reply.body['metodo_pago']}, {how}, expires {reply.body['expira']}" in text, text
        symbols = reply.body["codigo_canje"].replace("-", "")
        for output in (json.dumps(shown), text):
            assert symbols not in output.upper().replace("-", ""), "payments show shows the claim code"


def test_reconcile_once_reads_the_waiting_orders_and_reports_them_as_waiting(stack):
    waiting = order(stack, "oxxo")
    paid = order(stack, "spei")
    paid_id = paid.body["id_intento"]
    order_id = order_id_of(stack, paid_id)
    stack.conekta.control("POST", "webhooks/drop", {"order_id": order_id, "type": "order.paid"})
    postpone(stack, paid_id)  # the server's poll an hour away: the operator's pass finds the money
    pay_at_store(stack, order_id)
    report = stack.ctl("reconcile", "--once")  # exit status 0: waiting is not stuck
    assert report["unfinished"] == [], report
    (done,) = [row for row in report["finished"] if row["id"] == paid_id]
    # Its codigo is the purchase's own answer, stored for every retry of it: the 202.
    assert (done["from"], done["state"], done["codigo"]) == ("awaiting_payment", "delivered", "pago_pendiente"), done
    waiting_ids = {row["id"]: row for row in report["waiting"]}
    assert waiting_ids[waiting.body["id_intento"]]["state"] == "awaiting_payment", report
    assert {row["state"] for row in report["waiting"]} == {"awaiting_payment"}, report
    assert_receipt(stack, expect(claim(stack, paid.body["codigo_canje"]), 200), paid)
    # For people: one line for the attempt, and a summary that counts it as waiting.
    result = subprocess.run([os.path.join(stack.build_dir, "hotspotctl"), "--env-file", stack.env_file, "reconcile",
                             "--once", "--attempt", waiting.body["id_intento"]], capture_output=True, text=True)
    assert result.returncode == 0, result
    line, summary = result.stdout.strip().splitlines()
    assert line.startswith(f"waiting  {waiting.body['id_intento']}  awaiting_payment  (pago_pendiente)"), line
    assert summary == "finished 0, still unfinished 0, waiting for the customer's money 1", summary
