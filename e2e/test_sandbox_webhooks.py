"""Issue 17: the Conekta sandbox's webhooks, alone (no product): webhook keys, signed deliveries
that openssl verifies, retries, redelivery, reverse order, forgeries, and the order changes that
the sandbox controls make (dashboard refund, chargeback, late 3-D Secure, expiry). Shapes are
checked against the trimmed spec schemas in sandbox/schemas/ (docs/sources.md C6)."""

import base64
import itertools
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest

from hotspot_stack import ROOT, Sandbox

sys.path.insert(0, os.path.join(ROOT, "sandbox"))
from common import generate_certificate

SCHEMAS = json.load(open(os.path.join(ROOT, "sandbox", "schemas", "conekta-webhooks.schema.json"), encoding="utf-8"))
ACCOUNTS = [f"key_webhooks_{n}" for n in range(40)]
ACCEPT = "application/vnd.conekta-v2.2.0+json"
RETRY_MS = 50
ATTEMPTS = 4


def assert_shape(value, name):
    """`value` against the named schema of the trimmed spec (draft 4, as the spec's OpenAPI 3.0)."""
    root = {"$ref": "#/components/schemas/" + name, "components": SCHEMAS["components"]}
    jsonschema.Draft4Validator(root).validate(value)


class Receiver:
    """A loopback HTTP(S) server that records every POST and answers each path with the statuses
    scripted for it, in turn (then 200)."""

    def __init__(self, tls_directory=None):
        self.cond = threading.Condition()
        self.got = []  # {"path", "headers", "body", "at"}
        self.script = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    receiver.got.append({"path": self.path, "headers": dict(self.headers), "body": body, "at": time.time()})
                    statuses = receiver.script.get(self.path) or []
                    status = statuses.pop(0) if statuses else 200
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls_directory:
            cert, key, _ = generate_certificate(tls_directory)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path, *statuses):
        with self.cond:
            self.script[path] = list(statuses)

    def posts(self, path):
        with self.cond:
            return [g for g in self.got if g["path"] == path]

    def wait(self, path, count, seconds=10, event_type=None):
        """The first `count` posts to `path` (of one event type, when given), waiting for them."""
        def matching():
            found = self.posts(path)
            if event_type:
                found = [g for g in found if json.loads(g["body"])["type"] == event_type]
            return found
        deadline = time.time() + seconds
        with self.cond:
            while len(matching()) < count:
                if not self.cond.wait(deadline - time.time()) and time.time() >= deadline:
                    raise AssertionError(f"{path}: {len(matching())} of {count} posts after {seconds} s: {matching()}")
        return matching()[:count]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def conekta_sandbox(directory, accounts, retry_ms, attempts):
    """The sandbox Conekta with one private key per account, delivering webhooks every `retry_ms`
    up to `attempts` times; stopped when the generator is closed."""
    args = [arg for key in ["key_sandbox_private"] + accounts for arg in ("--private-key", key)]
    s = Sandbox("conekta", directory, args + ["--webhook-retry-ms", str(retry_ms), "--webhook-attempts", str(attempts),
                                              "--webhook-timeout-ms", "2000"])
    s.start()
    s.context = ssl.create_default_context(cafile=s.info["ca_file"])
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    yield from conekta_sandbox(str(tmp_path_factory.mktemp("conekta-webhooks")), ACCOUNTS, RETRY_MS, ATTEMPTS)


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


def api(sandbox, method, path, body=None, key="key_sandbox_private"):
    headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(), "Accept": ACCEPT,
               "Accept-Language": "en", "Content-Type": "application/json"}
    request = urllib.request.Request(sandbox.url + path, data=None if body is None else json.dumps(body).encode(),
                                     method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, context=sandbox.context, timeout=20) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def control(sandbox, method, path, payload=None):
    """A /_sandbox/ call: (status, body), errors included."""
    request = urllib.request.Request(sandbox.url + "/_sandbox/" + path, method=method,
                                     data=None if payload is None else json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=sandbox.context, timeout=20) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def new_key(sandbox, account):
    status, key = api(sandbox, "POST", "/webhook_keys", {"active": True}, key=account)
    assert status == 200, key
    return key


def register(sandbox, account, url, events=None):
    body = {"url": url} if events is None else {"url": url, "subscribed_events": events}
    status, webhook = api(sandbox, "POST", "/webhooks", body, key=account)
    assert status == 200, webhook
    return webhook


def order_body(token):
    return {"currency": "MXN", "customer_info": {"name": "Ana Pérez", "email": "ana@example.com", "phone": "5512345678"},
            "line_items": [{"name": "Plan 1 hora", "unit_price": 1500, "quantity": 1}],
            "charges": [{"payment_method": {"type": "card", "token_id": token}, "reference_id": "att-" + token[-8:]}],
            "metadata": {"attempt_id": "att-" + token[-8:]}}


def pay(sandbox, account, kind="paid"):
    """An order of `account` charged with a new tok_sandbox_<kind>_ token: (status, order)."""
    status, order = api(sandbox, "POST", "/orders", order_body(f"tok_sandbox_{kind}_{uuid.uuid4().hex}"), key=account)
    if status == 402:
        order = order["data"]
    return status, order


def hook_path():
    return "/hook/" + uuid.uuid4().hex


def verifies(tmp_path, public_pem, body, digest):
    """openssl's own verdict on a Digest (RSASSA-PKCS1-v1_5, SHA-256) over the exact body bytes."""
    name = uuid.uuid4().hex
    pub, sig, data = (tmp_path / f"{name}.pub.pem", tmp_path / f"{name}.sig", tmp_path / f"{name}.body")
    pub.write_text(public_pem)
    sig.write_bytes(base64.b64decode(digest))
    data.write_bytes(body)
    result = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(data)],
                            capture_output=True, text=True)
    assert (result.returncode == 0) == ("Verified OK" in result.stdout), result
    return result.returncode == 0


def sandbox_event(sandbox, event_id):
    status, event = control(sandbox, "GET", f"events/{event_id}")
    assert status == 200, event
    return event


def wait_event(sandbox, event_id, predicate, seconds=10):
    deadline = time.time() + seconds
    while True:
        event = sandbox_event(sandbox, event_id)
        if predicate(event):
            return event
        assert time.time() < deadline, f"event {event_id} never got there: {event}"
        time.sleep(0.05)


def digest_of(post):
    return {k.lower(): v for k, v in post["headers"].items()}.get("digest")


# MARK: keys


def test_webhook_keys_are_created_listed_deactivated_and_deleted(sandbox, account, tmp_path):
    first, second = new_key(sandbox, account), new_key(sandbox, account)
    assert_shape(second, "webhook_key_create_response")
    assert second["object"] == "webhook_key" and second["active"] is True and second["livemode"] is False
    assert len(second["id"]) == 24 and int(second["id"], 16) >= 0
    assert second["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert second["public_key"].rstrip().endswith("-----END PUBLIC KEY-----")
    pem = tmp_path / "pub.pem"
    pem.write_text(second["public_key"])
    text = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pem), "-text", "-noout"], capture_output=True,
                          text=True, check=True).stdout
    assert "2048 bit" in text, text

    status, listing = api(sandbox, "GET", "/webhook_keys", key=account)
    assert status == 200
    assert_shape(listing, "get_webhook_keys_response")
    assert [k["id"] for k in listing["data"]] == [second["id"], first["id"]], "newest first"
    assert all("public_key" not in k for k in listing["data"]), "the public key is shown once, at creation"
    assert api(sandbox, "GET", "/webhook_keys", key=ACCOUNTS[-1])[1]["data"] == [], "another account's keys"

    status, updated = api(sandbox, "PUT", f"/webhook_keys/{second['id']}", {"active": False}, key=account)
    assert status == 200 and updated["active"] is False and isinstance(updated["deactivated_at"], int)
    assert_shape(updated, "webhook_key_response")
    status, deleted = api(sandbox, "DELETE", f"/webhook_keys/{first['id']}", key=account)
    assert status == 200 and deleted["deleted"] is True and deleted["id"] == first["id"]
    assert_shape(deleted, "webhook_key_delete_response")
    status, error = api(sandbox, "GET", f"/webhook_keys/{first['id']}", key=account)
    assert status == 404 and error["type"] == "resource_not_found_error"
    assert api(sandbox, "GET", f"/webhook_keys/{second['id']}", key=ACCOUNTS[-1])[0] == 404
    assert api(sandbox, "POST", "/webhook_keys", {"active": "yes"}, key=account)[0] == 422
    assert api(sandbox, "POST", "/webhook_keys", {"active": True}, key="key_nobody")[0] == 401


def test_webhooks_are_registered_listed_and_deleted(sandbox, account, receiver):
    url = receiver.base + hook_path()
    webhook = register(sandbox, account, url)
    assert_shape(webhook, "webhook_response")
    assert webhook["url"] == url and webhook["status"] == "listening" and webhook["object"] == "webhook"
    assert {"order.paid", "order.refunded", "order.charged_back", "webhook_ping"} <= set(webhook["subscribed_events"])
    status, listing = api(sandbox, "GET", "/webhooks", key=account)
    assert status == 200 and [w["id"] for w in listing["data"]] == [webhook["id"]]
    assert_shape(listing, "get_webhooks_response")
    assert api(sandbox, "GET", f"/webhooks/{webhook['id']}", key=account)[1]["url"] == url
    status, deleted = api(sandbox, "DELETE", f"/webhooks/{webhook['id']}", key=account)
    assert status == 200 and deleted["deleted"] is True
    assert api(sandbox, "GET", "/webhooks", key=account)[1]["data"] == []
    assert api(sandbox, "GET", f"/webhooks/{webhook['id']}", key=account)[0] == 404

    status, error = api(sandbox, "POST", "/webhooks", {"subscribed_events": ["order.paid"]}, key=account)
    assert status == 422 and error["details"][0]["param"] == "url"
    assert api(sandbox, "POST", "/webhooks", {"url": "ftp://127.0.0.1/x"}, key=account)[0] == 422


def test_a_loopback_url_is_refused_when_asked_to_follow_the_spec(tmp_path):
    strict = Sandbox("conekta", str(tmp_path), ["--no-tls", "--webhook-refuse-loopback"])
    strict.start()
    strict.context = None
    try:
        status, error = api(strict, "POST", "/webhooks", {"url": "http://127.0.0.1:9/hook"})
        assert status == 422 and error["details"][0]["param"] == "url", error
        assert api(strict, "POST", "/webhooks", {"url": "https://hooks.example.com/conekta"})[0] == 200
    finally:
        strict.stop()


# MARK: deliveries


def test_a_payment_is_delivered_signed_and_openssl_verifies_it(sandbox, account, receiver, tmp_path):
    key = new_key(sandbox, account)
    path = hook_path()
    register(sandbox, account, receiver.base + path)
    status, order = pay(sandbox, account)
    assert status == 200 and order["payment_status"] == "paid"

    created, paid = receiver.wait(path, 2)
    for post in (created, paid):
        assert post["headers"]["Content-Type"] == "application/json"
        assert verifies(tmp_path, key["public_key"], post["body"], digest_of(post)), post
    event = json.loads(paid["body"])
    assert json.loads(created["body"])["type"] == "order.created" and event["type"] == "order.paid"
    assert list(event) == ["data", "livemode", "webhook_status", "webhook_logs", "id", "object", "type", "created_at"]
    assert_shape(event, "event_response")
    assert len(event["id"]) == 24 and int(event["id"], 16) >= 0
    assert event["object"] == "event" and event["livemode"] is False and isinstance(event["created_at"], int)
    assert event["data"] == {"object": api(sandbox, "GET", f"/orders/{order['id']}", key=account)[1], "previous_attributes": {}}
    assert event["webhook_status"] == "pending"
    log = event["webhook_logs"][0]
    assert log["id"].startswith("webhl_") and log["url"] == receiver.base + path
    assert (log["failed_attempts"], log["last_http_response_status"], log["object"]) == (0, -1, "webhook_log")
    assert paid["body"] == json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode(), "compact UTF-8 JSON"
    assert "Ana Pérez".encode() in paid["body"]

    # The API's view: the same event, its delivery now known.
    shown = wait_event(sandbox, event["id"], lambda e: e["webhook_status"] == "successful")
    assert shown["body"].encode() == paid["body"] and shown["digest"] == digest_of(paid)
    status, fetched = api(sandbox, "GET", f"/events/{event['id']}", key=account)
    assert status == 200 and fetched["webhook_status"] == "successful"
    assert fetched["webhook_logs"][0]["last_http_response_status"] == 200
    assert_shape(fetched, "event_response")
    status, listing = api(sandbox, "GET", "/events?limit=5", key=account)
    assert status == 200 and [e["id"] for e in listing["data"][:2]] == [event["id"], json.loads(created["body"])["id"]]
    assert_shape(listing, "get_events_response")
    assert api(sandbox, "GET", f"/events/{event['id']}", key=ACCOUNTS[-1])[0] == 404, "another account's event"


def test_an_account_without_a_webhook_key_gets_unsigned_deliveries(sandbox, account, receiver):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.paid"])
    pay(sandbox, account)
    (post,) = receiver.wait(path, 1)
    assert digest_of(post) is None


def test_the_newest_active_key_signs(sandbox, account, receiver, tmp_path):
    old, new = new_key(sandbox, account), new_key(sandbox, account)
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.paid"])
    pay(sandbox, account)
    (post,) = receiver.wait(path, 1)
    assert verifies(tmp_path, new["public_key"], post["body"], digest_of(post))
    assert not verifies(tmp_path, old["public_key"], post["body"], digest_of(post))
    api(sandbox, "PUT", f"/webhook_keys/{new['id']}", {"active": False}, key=account)
    pay(sandbox, account)
    _, post = receiver.wait(path, 2)
    assert verifies(tmp_path, old["public_key"], post["body"], digest_of(post))


def test_a_failing_receiver_gets_retries_with_backoff_then_succeeds(sandbox, account, receiver, tmp_path):
    key = new_key(sandbox, account)
    path = hook_path()
    receiver.on(path, 500, 503)
    register(sandbox, account, receiver.base + path, ["order.paid"])
    pay(sandbox, account)
    posts = receiver.wait(path, 3)
    assert len({p["body"] for p in posts}) == 1 and len({digest_of(p) for p in posts}) == 1, "the same bytes each time"
    assert verifies(tmp_path, key["public_key"], posts[0]["body"], digest_of(posts[0]))
    event_id = json.loads(posts[0]["body"])["id"]
    event = wait_event(sandbox, event_id, lambda e: e["webhook_status"] == "successful")
    (delivery,) = event["deliveries"]
    attempts = delivery["attempts"]
    assert [a["status"] for a in attempts] == [500, 503, 200] and delivery["status"] == "delivered"
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= RETRY_MS / 1000 * 0.9 and gaps[1] >= 2 * RETRY_MS / 1000 * 0.9, gaps
    log = api(sandbox, "GET", f"/events/{event_id}", key=account)[1]["webhook_logs"][0]
    assert (log["failed_attempts"], log["last_http_response_status"]) == (2, 200)


def test_an_unreachable_receiver_is_tried_a_bounded_number_of_times(sandbox, account):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    register(sandbox, account, f"http://127.0.0.1:{port}/gone", ["order.paid"])
    _, order = pay(sandbox, account)
    status, events = control(sandbox, "GET", f"events?order_id={order['id']}&type=order.paid")
    event = wait_event(sandbox, events[0]["id"], lambda e: e["webhook_status"] == "failed")
    attempts = event["deliveries"][0]["attempts"]
    assert len(attempts) == ATTEMPTS and all(a["status"] is None and a["error"] for a in attempts), attempts
    log = api(sandbox, "GET", f"/events/{event['id']}", key=account)[1]["webhook_logs"][0]
    assert (log["failed_attempts"], log["last_http_response_status"]) == (ATTEMPTS, -1)


def test_an_https_receiver_with_its_own_certificate_is_delivered_to(sandbox, account, tmp_path):
    tls = Receiver(str(tmp_path))
    try:
        register(sandbox, account, tls.base + "/tls", ["order.paid"])
        pay(sandbox, account)
        (post,) = tls.wait("/tls", 1)
        assert json.loads(post["body"])["type"] == "order.paid"
    finally:
        tls.stop()


def test_subscribed_events_choose_what_a_webhook_hears(sandbox, account, receiver):
    everything, refunds = hook_path(), hook_path()
    register(sandbox, account, receiver.base + everything)
    register(sandbox, account, receiver.base + refunds, ["order.refunded"])
    _, order = pay(sandbox, account)
    api(sandbox, "POST", f"/orders/{order['id']}/refunds", {"amount": 1500, "reason": "other"}, key=account)
    receiver.wait(everything, 3)
    (post,) = receiver.wait(refunds, 1)
    assert json.loads(post["body"])["type"] == "order.refunded"
    assert [json.loads(p["body"])["type"] for p in receiver.posts(everything)] == [
        "order.created", "order.paid", "order.refunded"]


def test_a_webhook_test_sends_a_ping(sandbox, account, receiver):
    path = hook_path()
    webhook = register(sandbox, account, receiver.base + path, ["order.paid"])
    status, answer = api(sandbox, "POST", f"/webhooks/{webhook['id']}/test", key=account)
    assert status == 200 and answer["id"] == webhook["id"]
    (post,) = receiver.wait(path, 1)
    event = json.loads(post["body"])
    assert event["type"] == "webhook_ping" and event["data"] == {"livemode": False, "action": "ping"}


def test_a_deleted_webhook_gets_no_more_retries(sandbox, account, receiver):
    path = hook_path()
    receiver.on(path, *[500] * 3)
    webhook = register(sandbox, account, receiver.base + path, ["order.paid"])
    sandbox_config = control(sandbox, "POST", "webhooks/config", {"retry_ms": 300})[1]
    try:
        _, order = pay(sandbox, account)
        receiver.wait(path, 1)
        api(sandbox, "DELETE", f"/webhooks/{webhook['id']}", key=account)
        event_id = control(sandbox, "GET", f"events?order_id={order['id']}&type=order.paid")[1][0]["id"]
        event = wait_event(sandbox, event_id, lambda e: e["deliveries"][0]["status"] == "dropped")
        assert len(event["deliveries"][0]["attempts"]) == 1
    finally:
        control(sandbox, "POST", "webhooks/config", {"retry_ms": RETRY_MS})
    assert sandbox_config["retry_ms"] == 300


# MARK: redelivery, order, forgeries


def test_a_redelivery_has_the_same_id_body_and_signature(sandbox, account, receiver, tmp_path):
    key = new_key(sandbox, account)
    path = hook_path()
    webhook = register(sandbox, account, receiver.base + path, ["order.paid"])
    pay(sandbox, account)
    (first,) = receiver.wait(path, 1)
    event_id = json.loads(first["body"])["id"]
    status, answer = control(sandbox, "POST", f"events/{event_id}/redeliver")
    assert status == 200 and len(answer["deliveries"]) == 1
    status, resent = api(sandbox, "POST", f"/events/{event_id}/resend", {"webhooks_ids": [webhook["id"]]}, key=account)
    assert status == 200 and resent["url"] == receiver.base + path, resent
    assert_shape(resent, "events_resend_response")
    posts = receiver.wait(path, 3)
    assert {p["body"] for p in posts} == {first["body"]} and {digest_of(p) for p in posts} == {digest_of(first)}
    assert verifies(tmp_path, key["public_key"], posts[2]["body"], digest_of(posts[2]))
    other = hook_path()
    control(sandbox, "POST", f"events/{event_id}/redeliver", {"url": receiver.base + other})
    (elsewhere,) = receiver.wait(other, 1)
    assert elsewhere["body"] == first["body"] and digest_of(elsewhere) == digest_of(first)
    assert api(sandbox, "POST", f"/events/{event_id}/resend", {"webhooks_ids": ["nope"]}, key=account)[0] == 404


def test_held_deliveries_are_released_in_reverse_order(sandbox, account, receiver):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.paid"])
    assert control(sandbox, "POST", "webhooks/pause")[1]["paused"] is True
    try:
        orders = [pay(sandbox, account)[1]["id"] for _ in range(3)]
        time.sleep(0.3)
        assert receiver.posts(path) == [], "nothing goes out while paused"
        held = control(sandbox, "GET", "events?type=order.paid&account=" + account)[1]
        assert [e["deliveries"][0]["status"] for e in held] == ["held"] * 3
    finally:
        status, released = control(sandbox, "POST", "webhooks/resume", {"order": "reverse"})
    assert status == 200 and released["paused"] is False and len(released["released"]) >= 3
    posts = receiver.wait(path, 3)
    assert [json.loads(p["body"])["data"]["object"]["id"] for p in posts] == orders[::-1]


def test_forged_events_fail_verification(sandbox, account, receiver, tmp_path):
    key = new_key(sandbox, account)
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.paid"])
    status, declined = pay(sandbox, account, "declined")
    assert status == 402 and declined["payment_status"] == "declined"

    verdicts, forgeries = {}, {}
    for mode in ("other_key", "garbled", "tampered", "none", "valid"):
        status, forgery = control(sandbox, "POST", "webhooks/forge", {"order_id": declined["id"], "signature": mode})
        assert status == 200, forgery
        forgeries[mode] = forgery
        (post,) = [p for p in receiver.wait(path, len(verdicts) + 1) if json.loads(p["body"])["id"] == forgery["id"]]
        assert post["body"].decode() == forgery["body"] and digest_of(post) == forgery["digest"]
        event = json.loads(post["body"])
        assert event["type"] == "order.paid" and event["data"]["object"]["id"] == declined["id"]
        verdicts[mode] = None if digest_of(post) is None else verifies(tmp_path, key["public_key"], post["body"], digest_of(post))
    assert verdicts == {"other_key": False, "garbled": False, "tampered": False, "none": None, "valid": True}
    assert json.loads(forgeries["tampered"]["body"])["data"]["object"]["payment_status"] == "paid", "the body says paid"
    assert forgeries["tampered"]["id"] in [f["id"] for f in control(sandbox, "GET", "state")[1]["forgeries"]]
    assert api(sandbox, "GET", f"/orders/{declined['id']}", key=account)[1]["payment_status"] == "declined"

    # A replay of a genuine event's id with another body, to a URL of the test's choosing.
    genuine = control(sandbox, "GET", f"events?order_id={declined['id']}&type=order.declined")[1][0]
    elsewhere = hook_path()
    status, replay = control(sandbox, "POST", "webhooks/forge", {
        "event_id": genuine["id"], "signature": "other_key", "object": {"amount": 1}, "url": receiver.base + elsewhere})
    assert status == 200 and replay["id"] == genuine["id"]
    (post,) = receiver.wait(elsewhere, 1)
    assert json.loads(post["body"])["data"]["object"]["amount"] == 1
    assert not verifies(tmp_path, key["public_key"], post["body"], digest_of(post))
    assert control(sandbox, "POST", "webhooks/forge", {"order_id": "ord_nope"})[0] == 404
    assert control(sandbox, "POST", "webhooks/forge", {"order_id": declined["id"], "signature": "meh"})[0] == 422


# MARK: order changes


def events_of(sandbox, order_id):
    return [e["type"] for e in control(sandbox, "GET", f"events?order_id={order_id}")[1]]


def test_dashboard_refunds_partial_then_full(sandbox, account, receiver):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.refunded", "order.partially_refunded"])
    _, order = pay(sandbox, account)
    status, partial = control(sandbox, "POST", f"orders/{order['id']}/refund", {"amount": 500})
    assert status == 200 and partial["payment_status"] == "partially_refunded"
    got = api(sandbox, "GET", f"/orders/{order['id']}", key=account)[1]
    assert (got["payment_status"], got["amount_refunded"]) == ("partially_refunded", 500)
    status, full = control(sandbox, "POST", f"orders/{order['id']}/refund", {})
    assert status == 200 and full["payment_status"] == "refunded" and full["amount_refunded"] == 1500
    assert control(sandbox, "POST", f"orders/{order['id']}/refund", {})[0] == 422  # nothing left
    first, second = receiver.wait(path, 2)
    assert [json.loads(p["body"])["type"] for p in (first, second)] == ["order.partially_refunded", "order.refunded"]
    assert json.loads(second["body"])["data"]["object"]["payment_status"] == "refunded"
    assert events_of(sandbox, order["id"]) == ["order.created", "order.paid", "order.partially_refunded", "order.refunded"]


def test_an_api_refund_and_cancel_are_reported_too(sandbox, account, receiver):
    _, before = pay(sandbox, account)
    assert events_of(sandbox, before["id"]) == [], "an account keeps events from its first webhook on"
    register(sandbox, account, receiver.base + hook_path(), ["order.paid"])
    _, order = pay(sandbox, account)
    status, _ = api(sandbox, "POST", f"/orders/{order['id']}/refunds", {"amount": 1500, "reason": "other"}, key=account)
    assert status == 200
    assert events_of(sandbox, order["id"])[-1] == "order.refunded"
    _, pending = pay(sandbox, account, "3ds")
    assert api(sandbox, "POST", f"/orders/{pending['id']}/cancel", key=account)[0] == 200
    assert events_of(sandbox, pending["id"]) == ["order.created", "order.pending_payment", "order.canceled"]
    _, declined = pay(sandbox, account, "declined")
    assert events_of(sandbox, declined["id"]) == ["order.created", "order.declined"]
    _, preauth = pay(sandbox, account, "preauth")
    assert events_of(sandbox, preauth["id"]) == ["order.created", "order.pre_authorized"]


def test_a_chargeback(sandbox, account, receiver):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.charged_back"])
    _, order = pay(sandbox, account)
    status, charged_back = control(sandbox, "POST", f"orders/{order['id']}/chargeback")
    assert status == 200 and charged_back["payment_status"] == "charged_back"
    got = api(sandbox, "GET", f"/orders/{order['id']}", key=account)[1]
    assert got["payment_status"] == "charged_back" and got["charges"]["data"][0]["status"] == "charged_back"
    (post,) = receiver.wait(path, 1)
    assert json.loads(post["body"])["type"] == "order.charged_back"
    assert control(sandbox, "POST", f"orders/{order['id']}/chargeback")[0] == 409
    _, pending = pay(sandbox, account, "3ds")
    assert control(sandbox, "POST", f"orders/{pending['id']}/chargeback")[0] == 409


def test_a_late_3ds_payment_whose_cancel_was_refused(sandbox, account, receiver, tmp_path):
    key = new_key(sandbox, account)
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.paid", "order.canceled"])
    status, order = pay(sandbox, account, "3dslate")
    assert status == 200 and order["payment_status"] == "pending_payment" and order["charges"] is None
    status, error = api(sandbox, "POST", f"/orders/{order['id']}/cancel", key=account)
    assert status == 428 and error["details"][0]["code"].endswith("order.cannot_be_canceled"), error
    assert api(sandbox, "GET", f"/orders/{order['id']}", key=account)[1]["payment_status"] == "pending_payment"

    status, paid = control(sandbox, "POST", f"orders/{order['id']}/complete_3ds")
    assert status == 200 and paid["payment_status"] == "paid"
    got = api(sandbox, "GET", f"/orders/{order['id']}", key=account)[1]
    charge = got["charges"]["data"][0]
    assert got["payment_status"] == "paid" and charge["status"] == "paid"
    assert charge["reference_id"] == got["metadata"]["attempt_id"], "the charge its POST asked for"
    (post,) = receiver.wait(path, 1)
    event = json.loads(post["body"])
    assert event["type"] == "order.paid" and event["data"]["object"] == got
    assert verifies(tmp_path, key["public_key"], post["body"], digest_of(post))
    assert control(sandbox, "POST", f"orders/{order['id']}/complete_3ds")[0] == 409, "only once"


def test_a_canceled_3ds_order_is_completed_only_when_forced(sandbox, account, receiver):
    register(sandbox, account, receiver.base + hook_path(), ["order.paid"])
    _, order = pay(sandbox, account, "3ds")
    assert api(sandbox, "POST", f"/orders/{order['id']}/cancel", key=account)[0] == 200
    status, error = control(sandbox, "POST", f"orders/{order['id']}/complete_3ds")
    assert status == 409 and "even_if_canceled" in error["error"]
    status, paid = control(sandbox, "POST", f"orders/{order['id']}/complete_3ds", {"even_if_canceled": True})
    assert status == 200 and paid["payment_status"] == "paid"
    assert events_of(sandbox, order["id"])[-2:] == ["order.canceled", "order.paid"]
    _, card = pay(sandbox, account)
    assert control(sandbox, "POST", f"orders/{card['id']}/complete_3ds")[0] == 409, "not a 3-D Secure order"


def test_orders_expire(sandbox, account, receiver):
    path = hook_path()
    register(sandbox, account, receiver.base + path, ["order.expired"])
    _, pending = pay(sandbox, account, "3ds")
    _, preauth = pay(sandbox, account, "preauth")
    for order in (pending, preauth):
        status, expired = control(sandbox, "POST", f"orders/{order['id']}/expire")
        assert status == 200 and expired["payment_status"] == "expired"
        assert api(sandbox, "GET", f"/orders/{order['id']}", key=account)[1]["payment_status"] == "expired"
    posts = receiver.wait(path, 2)
    assert [json.loads(p["body"])["data"]["object"]["id"] for p in posts] == [pending["id"], preauth["id"]]
    assert control(sandbox, "POST", f"orders/{pending['id']}/complete_3ds")[0] == 409, "too late"
    _, paid = pay(sandbox, account)
    assert control(sandbox, "POST", f"orders/{paid['id']}/expire")[0] == 409
    assert control(sandbox, "POST", "orders/ord_nope/expire")[0] == 404


def test_the_state_shows_keys_webhooks_and_settings(sandbox, account, receiver):
    key = new_key(sandbox, account)
    webhook = register(sandbox, account, receiver.base + hook_path())
    state = control(sandbox, "GET", "state")[1]
    assert {k["id"]: k["public_key"] for k in state["webhook_keys"] if k["account"] == account} == {key["id"]: key["public_key"]}
    assert [w["id"] for w in state["webhooks"] if w["account"] == account] == [webhook["id"]]
    assert state["webhook_delivery"]["retry_ms"] == RETRY_MS and state["webhook_delivery"]["attempts"] == ATTEMPTS
    assert isinstance(state["events"], int)
