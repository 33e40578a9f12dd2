"""Issue 19: the Conekta sandbox's cash (OXXO) and SPEI orders, alone (no product): their shapes
(checked against the trimmed spec schemas in sandbox/schemas/), unique references and CLABEs,
validation, payment at the store or by transfer with signed charge.paid and order.paid events,
expiry (by control and by the clock), cancel, a lost webhook delivery shown again by
redelivery, a dead reference refused unless forced, and no idempotency beyond Conekta's
(docs/sources.md C11)."""

import itertools
import json
import os
import re
import time
import urllib.error
import uuid

import jsonschema
import pytest

from hotspot_stack import ROOT
from test_sandbox_webhooks import Receiver, api, conekta_sandbox, control, digest_of, hook_path, new_key, register, verifies

ORDER_SCHEMAS = json.load(open(os.path.join(ROOT, "sandbox", "schemas", "conekta-orders.schema.json"), encoding="utf-8"))
WEBHOOK_SCHEMAS = json.load(open(os.path.join(ROOT, "sandbox", "schemas", "conekta-webhooks.schema.json"),
                                 encoding="utf-8"))
ACCOUNTS = [f"key_pay_later_{n}" for n in range(30)]
RETRY_MS = 50
ATTEMPTS = 4
METHODS = ("cash", "spei")


def assert_shape(value, name, schemas=ORDER_SCHEMAS):
    """`value` against the named schema of a trimmed spec (draft 4, as the spec's OpenAPI 3.0)."""
    root = {"$ref": "#/components/schemas/" + name, "components": schemas["components"]}
    jsonschema.Draft4Validator(root).validate(value)


def clabe_is_valid(clabe):
    """Banxico's CLABE check: 17 digits weighted 3, 7, 1, each product mod 10, the sum's
    complement to 10 (mod 10) is the 18th digit. Written here apart from the sandbox's."""
    if not re.fullmatch(r"\d{18}", clabe):
        return False
    weights = [3, 7, 1] * 6
    total = sum((int(clabe[i]) * weights[i]) % 10 for i in range(17))
    return (10 - total % 10) % 10 == int(clabe[17])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    yield from conekta_sandbox(str(tmp_path_factory.mktemp("conekta-pay-later")), ACCOUNTS, RETRY_MS, ATTEMPTS)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


_accounts = itertools.count()


@pytest.fixture
def account():
    """An account (private key) of its own for each test: its webhooks hear of its orders only."""
    return ACCOUNTS[next(_accounts)]


def order_body(method, attempt=None, expires_in=4 * 3600, **payment_method):
    """An order of one hotspot plan paid later by `method` (cash or spei), as the product makes one."""
    attempt = attempt or str(uuid.uuid4())
    pm = {"type": method}
    if expires_in is not None:
        pm["expires_at"] = int(time.time()) + expires_in
    pm.update(payment_method)
    return {"currency": "MXN", "customer_info": {"name": "Ana Pérez", "email": "ana@example.com", "phone": "5512345678"},
            "line_items": [{"name": "Plan 1 hora", "unit_price": 1500, "quantity": 1}],
            "charges": [{"payment_method": pm, "reference_id": attempt}],
            "metadata": {"attempt_id": attempt, "router": "r-1"}}


def create(sandbox, account, method, **options):
    """A new pay-later order of `account`: (order, the body sent)."""
    body = order_body(method, **options)
    status, order = api(sandbox, "POST", "/orders", body, key=account)
    assert status == 200, order
    assert_shape(order, "order_response")
    return order, body


def get_order(sandbox, account, order_id):
    status, order = api(sandbox, "GET", f"/orders/{order_id}", key=account)
    assert status == 200, order
    assert_shape(order, "order_response")
    return order


def charge_of(order):
    assert order["charges"]["object"] == "list" and order["charges"]["total"] == 1
    (charge,) = order["charges"]["data"]
    return charge


def events_of(sandbox, order_id):
    return [e["type"] for e in control(sandbox, "GET", f"events?order_id={order_id}")[1]]


# MARK: shapes


def test_a_cash_order_waits_with_an_oxxo_reference(sandbox, account):
    order, body = create(sandbox, account, "cash")
    attempt = body["metadata"]["attempt_id"]
    expires_at = body["charges"][0]["payment_method"]["expires_at"]
    assert order["payment_status"] == "pending_payment" and order["is_refundable"] is False
    assert (order["amount"], order["currency"], order["metadata"]) == (1500, "MXN", body["metadata"])
    charge = charge_of(order)
    assert charge["status"] == "pending_payment" and charge["paid_at"] is None and charge["amount"] == 1500
    assert charge["reference_id"] == attempt and charge["order_id"] == order["id"]
    assert re.fullmatch(r"[0-9a-f]{24}", charge["id"])
    method = charge["payment_method"]
    # Keys and values as in the recorded mock's cash charges (docs/sources.md C11).
    assert list(method) == ["service_name", "barcode_url", "store", "auth_code", "object", "type", "expires_at",
                            "store_name", "reference", "cashier_id"]
    assert (method["object"], method["type"], method["service_name"], method["store_name"]) == (
        "cash_payment", "oxxo", "OxxoPay", "OXXO")
    assert re.fullmatch(r"\d{14}", method["reference"]), method
    assert re.fullmatch(r"https://barcodes\.conekta\.com/[0-9a-f]{40}\.png", method["barcode_url"]), method
    assert method["expires_at"] == expires_at
    assert (method["auth_code"], method["store"], method["cashier_id"]) == (None, None, None)
    assert_shape(method, "payment_method_cash")

    assert get_order(sandbox, account, order["id"]) == order
    state = [o for o in control(sandbox, "GET", "state")[1]["orders"] if o["id"] == order["id"]]
    assert state[0]["method"] == "oxxo" and state[0]["reference"] == method["reference"] and state[0]["token"] is None


def test_a_spei_order_waits_with_a_clabe_of_its_own(sandbox, account):
    order, body = create(sandbox, account, "spei")
    assert order["payment_status"] == "pending_payment"
    charge = charge_of(order)
    assert charge["status"] == "pending_payment" and charge["reference_id"] == body["metadata"]["attempt_id"]
    method = charge["payment_method"]
    assert list(method) == ["clabe", "bank", "issuing_account_holder_name", "issuing_account_tax_id",
                            "issuing_account_bank", "issuing_account_number", "receiving_account_holder_name",
                            "receiving_account_tax_id", "receiving_account_number", "receiving_account_bank",
                            "reference_number", "description", "tracking_code", "executed_at", "payment_attempts",
                            "object", "type", "expires_at"]
    assert (method["object"], method["type"], method["bank"], method["receiving_account_bank"]) == (
        "bank_transfer_payment", "spei", "STP", "STP")
    assert clabe_is_valid(method["clabe"]) and method["clabe"].startswith("646"), method
    assert method["receiving_account_number"] == method["clabe"]
    assert method["expires_at"] == body["charges"][0]["payment_method"]["expires_at"]
    assert method["payment_attempts"] == [] and method["issuing_account_number"] is None
    assert_shape(method, "payment_method_bank_transfer")
    assert get_order(sandbox, account, order["id"]) == order


def test_the_clabe_check_agrees_with_captured_clabes():
    # CLABEs from Conekta's recorded answers (api.yaml's example, the Mockoon mock's charges).
    for clabe in ("646180111805034237", "646180111805035472", "646021111870483040", "734180008033435128"):
        assert clabe_is_valid(clabe), clabe
    assert not clabe_is_valid("646180111805034238")


def test_references_and_clabes_are_unique(sandbox, account):
    references = [charge_of(create(sandbox, account, "cash")[0])["payment_method"]["reference"] for _ in range(25)]
    clabes = [charge_of(create(sandbox, account, "spei")[0])["payment_method"]["clabe"] for _ in range(25)]
    assert len(set(references)) == 25 and len(set(clabes)) == 25
    assert all(clabe_is_valid(c) for c in clabes)


def test_orders_are_found_by_attempt_reference_and_clabe(sandbox, account):
    cash, cash_body = create(sandbox, account, "cash")
    spei, _ = create(sandbox, account, "spei")
    for needle, order in ((cash_body["metadata"]["attempt_id"], cash),
                          (charge_of(cash)["payment_method"]["reference"], cash),
                          (charge_of(spei)["payment_method"]["clabe"], spei)):
        status, listing = api(sandbox, "GET", f"/orders?search={needle}&created_at.gte={cash['created_at'] - 5}",
                              key=account)
        assert status == 200 and [o["id"] for o in listing["data"]] == [order["id"]], (needle, listing)
        assert_shape(listing, "get_orders_response")
    status, listing = api(sandbox, "GET", "/orders?payment_status=pending_payment&limit=250", key=account)
    assert {cash["id"], spei["id"]} <= {o["id"] for o in listing["data"]}


# MARK: validation


@pytest.mark.parametrize("method", METHODS)
def test_what_a_pay_later_order_refuses(sandbox, account, method):
    def refused(body, param, code=None):
        status, error = api(sandbox, "POST", "/orders", body, key=account)
        assert status == 422, error
        assert_shape(error, "error")
        assert error["type"] == "parameter_validation_error" and error["details"][0]["param"] == param, error
        if code:
            assert error["details"][0]["code"] == code, error

    refused(order_body(method, expires_in=-60), "payment_method.expires_at",
            "conekta.errors.parameter_validation.payment_method.expires_at.invalid")
    refused(order_body(method, expires_in=0), "payment_method.expires_at")
    usd = order_body(method)
    usd["currency"] = "USD"
    refused(usd, "currency")
    refused(order_body(method, token_id="tok_test_visa_4242"), "payment_method.token_id",
            "conekta.errors.parameter_validation.whitelist")
    stringly = order_body(method, expires_in=None)
    stringly["charges"][0]["payment_method"]["expires_at"] = "mañana"
    status, _ = api(sandbox, "POST", "/orders", stringly, key=account)
    assert status == 422
    wrong_total = order_body(method)
    wrong_total["charges"][0]["amount"] = 1400
    refused(wrong_total, "charges.amount")
    other = order_body(method)
    other["charges"][0]["payment_method"]["type"] = "bitcoin"
    refused(other, "payment_method.type")

    # No expiry given: Conekta's default for a cash reference, 30 days.
    before = int(time.time())
    order, _ = create(sandbox, account, method, expires_in=None)
    expires_at = charge_of(order)["payment_method"]["expires_at"]
    assert before + 30 * 86400 <= expires_at <= int(time.time()) + 30 * 86400


# MARK: paying


@pytest.mark.parametrize("method", METHODS)
def test_paying_sends_signed_charge_paid_and_order_paid(sandbox, account, receiver, tmp_path, method):
    key = new_key(sandbox, account)
    path = hook_path()
    register(sandbox, account, receiver.base + path)
    order, _ = create(sandbox, account, method)
    pending_method = dict(charge_of(order)["payment_method"])
    created, pending = receiver.wait(path, 2)
    assert [json.loads(p["body"])["type"] for p in (created, pending)] == ["order.created", "order.pending_payment"]

    status, paid = control(sandbox, "POST", f"orders/{order['id']}/pay")
    assert status == 200 and paid["payment_status"] == "paid" and paid["is_refundable"] is True, paid
    assert_shape(paid, "order_response")
    got = get_order(sandbox, account, order["id"])
    assert got == paid
    charge = charge_of(got)
    assert charge["status"] == "paid" and isinstance(charge["paid_at"], int) and charge["paid_at"] >= order["created_at"]
    method_now = charge["payment_method"]
    if method == "cash":
        assert method_now == pending_method, "the reference and its barcode stay"
    else:
        assert method_now["clabe"] == pending_method["clabe"] and clabe_is_valid(method_now["issuing_account_number"])
        assert method_now["tracking_code"] and method_now["issuing_account_bank"]

    posts = receiver.wait(path, 4)[2:]
    events = [json.loads(p["body"]) for p in posts]
    assert [e["type"] for e in events] == ["charge.paid", "order.paid"]
    for post, event in zip(posts, events, strict=True):
        assert verifies(tmp_path, key["public_key"], post["body"], digest_of(post)), event["type"]
        assert_shape(event, "event_response", WEBHOOK_SCHEMAS)
    charge_paid, order_paid = events
    assert charge_paid["data"] == {"object": charge, "previous_attributes": {"status": "pending_payment"}}
    assert order_paid["data"] == {"object": got, "previous_attributes": {}}
    assert events_of(sandbox, order["id"]) == ["order.created", "order.pending_payment", "charge.paid", "order.paid"]

    status, error = control(sandbox, "POST", f"orders/{order['id']}/pay")
    assert status == 409 and "paid" in error["error"], "a paid order is not paid twice"
    assert control(sandbox, "POST", "orders/ord_nope/pay")[0] == 404
    assert control(sandbox, "POST", f"orders/{order['id']}/pay", {"force": "yes"})[0] == 422


def test_a_card_order_is_not_paid_by_the_control(sandbox, account):
    status, card = api(sandbox, "POST", "/orders", {
        "currency": "MXN", "customer_info": {"name": "Ana", "email": "ana@example.com", "phone": "5512345678"},
        "line_items": [{"name": "Plan 1 hora", "unit_price": 1500, "quantity": 1}],
        "charges": [{"payment_method": {"type": "card", "token_id": f"tok_sandbox_3ds_{uuid.uuid4().hex}"}}]}, key=account)
    assert status == 200 and card["payment_status"] == "pending_payment"
    status, error = control(sandbox, "POST", f"orders/{card['id']}/pay")
    assert status == 409 and "complete_3ds" in error["error"]


def test_a_paid_pay_later_order_is_refunded_but_never_charged_back(sandbox, account):
    order, _ = create(sandbox, account, "spei")
    control(sandbox, "POST", f"orders/{order['id']}/pay")
    status, error = control(sandbox, "POST", f"orders/{order['id']}/chargeback")
    assert status == 409 and "cannot be charged back" in error["error"]
    status, refunded = api(sandbox, "POST", f"/orders/{order['id']}/refunds",
                           {"amount": 1500, "reason": "cannot_be_fulfilled"}, key=account)
    assert status == 200 and refunded["payment_status"] == "refunded", refunded
    assert_shape(refunded, "order_response")
    (refund,) = charge_of(refunded)["refunds"]["data"]
    assert refund["amount"] == -1500 and "auth_code" not in refund, "no card authorisation to repeat"


# MARK: expiry and cancel


@pytest.mark.parametrize("method", METHODS)
def test_an_expired_reference_cannot_be_paid_unless_forced(sandbox, account, receiver, method):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["charge.expired", "order.expired", "order.paid"])
    order, _ = create(sandbox, account, method)
    status, expired = control(sandbox, "POST", f"orders/{order['id']}/expire")
    assert status == 200 and expired["payment_status"] == "expired" and charge_of(expired)["status"] == "expired"
    assert_shape(expired, "order_response")
    first, second = receiver.wait(path, 2)
    assert [json.loads(p["body"])["type"] for p in (first, second)] == ["charge.expired", "order.expired"]
    assert json.loads(first["body"])["data"]["previous_attributes"] == {"status": "pending_payment"}
    assert json.loads(second["body"])["data"]["object"] == get_order(sandbox, account, order["id"])

    status, error = control(sandbox, "POST", f"orders/{order['id']}/pay")
    assert status == 409 and "dead" in error["error"] and "force" in error["error"], error
    assert get_order(sandbox, account, order["id"])["payment_status"] == "expired"
    assert control(sandbox, "POST", f"orders/{order['id']}/expire")[0] == 409, "only once"
    status, error = api(sandbox, "POST", f"/orders/{order['id']}/cancel", key=account)
    assert status == 428 and error["type"] == "precondition_required_error"

    # A late payment Conekta accepted anyway: the product must refund it (CONTRACT §12).
    status, late = control(sandbox, "POST", f"orders/{order['id']}/pay", {"force": True})
    assert status == 200 and late["payment_status"] == "paid" and charge_of(late)["status"] == "paid"
    (post,) = receiver.wait(path, 3)[2:]
    assert json.loads(post["body"])["type"] == "order.paid"
    assert events_of(sandbox, order["id"])[-4:] == ["charge.expired", "order.expired", "charge.paid", "order.paid"]


def test_orders_expire_by_themselves_at_expires_at(sandbox, account, receiver):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.expired"])
    cash, _ = create(sandbox, account, "cash", expires_in=2)
    spei, _ = create(sandbox, account, "spei", expires_in=2)
    posts = receiver.wait(path, 2, seconds=8)
    assert {json.loads(p["body"])["data"]["object"]["id"] for p in posts} == {cash["id"], spei["id"]}
    for order in (cash, spei):
        got = get_order(sandbox, account, order["id"])
        assert got["payment_status"] == "expired" and charge_of(got)["status"] == "expired"
        assert int(time.time()) >= charge_of(got)["payment_method"]["expires_at"]
        assert events_of(sandbox, order["id"])[-2:] == ["charge.expired", "order.expired"]


def test_a_reference_past_its_expiry_is_dead_before_conekta_marks_it(sandbox, account):
    assert control(sandbox, "POST", "expiry", {"auto": False})[1]["auto"] is False
    try:
        order, _ = create(sandbox, account, "cash", expires_in=2)
        time.sleep(2.2)
        assert get_order(sandbox, account, order["id"])["payment_status"] == "pending_payment", "not swept"
        status, error = control(sandbox, "POST", f"orders/{order['id']}/pay")
        assert status == 409 and "expired at" in error["error"], error
        status, paid = control(sandbox, "POST", f"orders/{order['id']}/pay", {"force": True})
        assert status == 200 and paid["payment_status"] == "paid"
    finally:
        assert control(sandbox, "POST", "expiry", {"auto": True})[1]["auto"] is True
    assert control(sandbox, "GET", "expiry")[1]["auto"] is True
    assert control(sandbox, "POST", "expiry", {"auto": "no"})[0] == 422


@pytest.mark.parametrize("method", METHODS)
def test_a_pending_order_is_canceled_and_a_paid_one_is_not(sandbox, account, receiver, method):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.canceled"])
    order, _ = create(sandbox, account, method)
    status, canceled = api(sandbox, "POST", f"/orders/{order['id']}/cancel", key=account)
    assert status == 200 and canceled["payment_status"] == "canceled" and canceled["is_refundable"] is False
    assert charge_of(canceled)["status"] == "canceled"
    assert_shape(canceled, "order_response")
    (post,) = receiver.wait(path, 1)
    assert json.loads(post["body"])["type"] == "order.canceled"
    assert json.loads(post["body"])["data"]["object"] == get_order(sandbox, account, order["id"])
    assert control(sandbox, "POST", f"orders/{order['id']}/pay")[0] == 409, "a canceled reference is dead"
    assert api(sandbox, "POST", f"/orders/{order['id']}/cancel", key=account)[0] == 428

    paid, _ = create(sandbox, account, method)
    control(sandbox, "POST", f"orders/{paid['id']}/pay")
    status, error = api(sandbox, "POST", f"/orders/{paid['id']}/cancel", key=account)
    assert status == 428, error
    assert_shape(error, "error")
    assert error["type"] == "precondition_required_error"
    assert error["details"][0]["code"] == "conekta.errors.precondition_required.combo.order.cannot_be_canceled"
    assert get_order(sandbox, account, paid["id"])["payment_status"] == "paid"


# MARK: a lost webhook


def test_a_lost_order_paid_is_shown_again_by_redelivery(sandbox, account, receiver, tmp_path):
    key = new_key(sandbox, account)
    path = hook_path()
    webhook = register(sandbox, account, receiver.base + path, ["charge.paid", "order.paid"])
    order, _ = create(sandbox, account, "cash")
    status, rule = control(sandbox, "POST", "webhooks/drop", {"order_id": order["id"], "type": "order.paid"})
    assert status == 200 and (rule["count"], rule["remaining"], rule["dropped"]) == (1, 1, [])
    assert rule["id"].startswith("drop_")

    control(sandbox, "POST", f"orders/{order['id']}/pay")
    (charge_paid,) = receiver.wait(path, 1)
    assert json.loads(charge_paid["body"])["type"] == "charge.paid"
    time.sleep(0.5)
    assert len(receiver.posts(path)) == 1, "order.paid never reached the receiver"
    # What the product's poll finds meanwhile: the order is paid.
    assert get_order(sandbox, account, order["id"])["payment_status"] == "paid"

    (event,) = control(sandbox, "GET", f"events?order_id={order['id']}&type=order.paid")[1]
    (delivery,) = event["deliveries"]
    assert delivery["lost"] is True and delivery["status"] == "delivered" and delivery["attempts"][0]["status"] == 200
    status, seen = api(sandbox, "GET", f"/events/{event['id']}", key=account)
    assert status == 200 and seen["webhook_status"] == "successful", "Conekta believes it was delivered"
    assert seen["webhook_logs"][0]["last_http_response_status"] == 200
    (listed,) = [r for r in control(sandbox, "GET", "webhooks/drop")[1] if r["id"] == rule["id"]]
    assert listed["remaining"] == 0 and [d["event_id"] for d in listed["dropped"]] == [event["id"]]

    # Shown again: the same id, bytes and signature arrive.
    status, answer = control(sandbox, "POST", f"events/{event['id']}/redeliver")
    assert status == 200 and len(answer["deliveries"]) == 1
    (post,) = receiver.wait(path, 2)[1:]
    assert json.loads(post["body"])["id"] == event["id"] and json.loads(post["body"])["type"] == "order.paid"
    assert post["body"] == sandbox_body(sandbox, event["id"])
    assert verifies(tmp_path, key["public_key"], post["body"], digest_of(post))
    status, _ = api(sandbox, "POST", f"/events/{event['id']}/resend", {"webhooks_ids": [webhook["id"]]}, key=account)
    assert status == 200
    receiver.wait(path, 3)


def sandbox_body(sandbox, event_id):
    status, event = control(sandbox, "GET", f"events/{event_id}")
    assert status == 200
    return event["body"].encode()


def test_a_drop_rule_takes_only_its_count(sandbox, account, receiver):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.paid"])
    orders = [create(sandbox, account, "spei")[0] for _ in range(3)]
    status, rule = control(sandbox, "POST", "webhooks/drop", {"type": "order.paid", "count": 2})
    assert status == 200
    for order in orders:
        control(sandbox, "POST", f"orders/{order['id']}/pay")
    (post,) = receiver.wait(path, 1)
    assert json.loads(post["body"])["data"]["object"]["id"] == orders[2]["id"]
    time.sleep(0.3)
    assert len(receiver.posts(path)) == 1
    (listed,) = [r for r in control(sandbox, "GET", "webhooks/drop")[1] if r["id"] == rule["id"]]
    assert [d["order_id"] for d in listed["dropped"]] == [orders[0]["id"], orders[1]["id"]]
    assert control(sandbox, "POST", "webhooks/drop", {"count": 0})[0] == 422
    assert control(sandbox, "POST", "webhooks/drop", {"type": 7})[0] == 422


# MARK: no idempotency beyond Conekta's


def test_the_same_order_twice_is_two_orders_found_by_attempt(sandbox, account):
    attempt = str(uuid.uuid4())
    first, body = create(sandbox, account, "cash", attempt=attempt)
    status, second = api(sandbox, "POST", "/orders", body, key=account)
    assert status == 200 and second["id"] != first["id"], "Conekta has no idempotency key, and cash no token"
    assert charge_of(second)["payment_method"]["reference"] != charge_of(first)["payment_method"]["reference"]
    assert second["metadata"] == first["metadata"] == body["metadata"]
    status, listing = api(sandbox, "GET", f"/orders?search={attempt}&created_at.gte={first['created_at'] - 5}", key=account)
    assert status == 200 and [o["id"] for o in listing["data"]] == [second["id"], first["id"]], "newest first"


def test_an_order_whose_reply_was_lost_is_found_by_its_attempt(sandbox, account):
    attempt = str(uuid.uuid4())
    control(sandbox, "POST", "faults", {"op": "orders.create", "kind": "drop_after", "times": 1})
    try:
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            api(sandbox, "POST", "/orders", order_body("spei", attempt=attempt), key=account)
    finally:
        control(sandbox, "POST", "faults/clear")
    status, listing = api(sandbox, "GET", f"/orders?search={attempt}", key=account)
    assert status == 200 and len(listing["data"]) == 1
    (order,) = listing["data"]
    assert order["metadata"]["attempt_id"] == attempt and order["payment_status"] == "pending_payment"
    assert clabe_is_valid(charge_of(order)["payment_method"]["clabe"])
