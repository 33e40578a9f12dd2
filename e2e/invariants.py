"""CONTRACT §7 checked against the sandboxes' state, the database and the logs, and `pay()`, the
one way the payment tests post a payment.

check_invariants(stack) settles first (every attempt in a final state, or time runs out), then
reads the router sandbox, the Conekta sandbox and `payment_attempts` once and asserts:
- I1 no enabled product user (comment `hotspot-pay:<attempt id>`) unless that attempt is
  `delivered`; and a final attempt that is not delivered leaves nothing on the router (§5), but
  a `revoked` one, whose user stays disabled (§10);
- I2 every paid order belongs to a delivered attempt (user exists, enabled, its name) or is
  refunded (its attempt `refunded`, or `revoked` when the refund was made at Conekta); every
  delivered attempt has its paid order and its enabled user, unless its access ended (§11);
- I3 one idempotency key (one attempt) → at most one order and at most one router user;
- I4 every attempt final, with `finished_at`, a reason when not delivered, and a timeline in
  `payment_events` that ends in its state;
- I5 no card token, hotspot password, router password or Conekta private key in the server's
  or nginx's logs; hotspot passwords and stored replies not in clear in the database;
- I6 (CONTRACT §10) an order refunded or charged back leaves no active session of its attempt's
  user; a revoked attempt's user, if still there, is disabled and has no active session; a
  refunded or charged-back order of an attempt that was delivered, at a company whose webhooks
  are set up, has its attempt revoked once the stack settles;
- I7 no webhook event is recorded twice (one row per company and event id), and none is left
  pending once the stack settles;
- §11 an access whose end is recorded (`access_ended_at`) has no user on the router: the sweep
  (or `hotspotctl users end`) removes the user before it records the end.
- pay later (CONTRACT §12): an attempt waiting for its cash or SPEI money (`awaiting_payment`)
  counts as settled while its order is unpaid at Conekta (once the money arrived, it is still to
  be delivered), has its order pending payment and no router user; every paid pay-later
  order ends delivered or refunded (money is never kept without access); no router user exists
  for a pay-later attempt whose order was never paid (pending, expired, cancelled, or none); an
  `expired` attempt has nothing on the router; no claim code shown in a 202 appears in the logs
  (in any case, with or without its dash), in what was sent to Conekta, or in clear in the
  database (I5).
"""

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

PAY_PATH = "/api/v1/payments/pagar-conekta"
FINAL_STATES = {"delivered", "declined", "failed", "refunded", "revoked", "expired"}
# Waiting for a customer's cash or SPEI money is not unfinished work: it lasts hours by design.
WAITING_STATES = {"awaiting_payment"}
ALL_STATES = FINAL_STATES | WAITING_STATES | {"pending", "charging", "paid", "declining", "aborting", "refunding", "revoking",
                                              "provisioning"}
ROUTER_PASSWORD = "api-secret"
CONEKTA_PRIVATE_KEY = "key_sandbox_private"
COMMENT_PREFIX = "hotspot-pay:"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Spanish (seed) name → canonical (English) name.
ALIASES = {
    "producto_id": "product_id", "token_tarjeta": "card_token", "nombre_cliente": "customer_name",
    "email_cliente": "customer_email", "telefono_cliente": "customer_phone", "tipo_usuario": "user_type",
    "mac_cliente": "mac_address", "ip_cliente": "ip_address", "info_dispositivo": "device_info",
    "conexion_automatica": "auto_connect", "metodo_pago": "payment_method",
}
CANONICAL = {english: spanish for spanish, english in ALIASES.items()}


class Reply(tuple):
    """(status, headers, parsed body) like Stack.request, plus .raw (the body's bytes) and .sent
    (the fields posted)."""

    def __new__(cls, status, headers, body, raw, sent):
        reply = super().__new__(cls, (status, headers, body))
        reply.raw = raw
        reply.sent = sent
        return reply

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    @property
    def codigo(self):
        return self.body.get("codigo") if isinstance(self.body, dict) else None

    def __repr__(self):
        return f"Reply({self.status}, {self.raw[:600]!r})"


def new_token(kind="paid"):
    return f"tok_sandbox_{kind}_{uuid.uuid4().hex}"


def _registry(stack, name):
    if not hasattr(stack, name):
        setattr(stack, name, set())
    return getattr(stack, name)


def remember_token(stack, token):
    _registry(stack, "_sent_tokens").add(token)


def valid_payment(stack):
    """A valid payment's fields under the seed's Spanish names: product 1, a fresh paying token."""
    return {
        "producto_id": stack.ids["products"][0],
        "token_tarjeta": new_token(),
        "nombre_cliente": "Juan Pérez",
        "email_cliente": "juan.perez@example.com",
        "telefono_cliente": "+52 55 8765 4321",
    }


def as_sent(stack, fields):
    """The fields a payment sends: those set to None left out, its card token remembered."""
    fields = {name: value for name, value in fields.items() if value is not None}
    for name in ("token_tarjeta", "card_token"):
        if isinstance(fields.get(name), str):
            remember_token(stack, fields[name])
    return fields


def post_raw(stack, path, data, headers, timeout=40):
    """POST through nginx; (status, headers, raw body bytes). Transport errors propagate."""
    request = urllib.request.Request(f"http://127.0.0.1:{stack.port}{path}", data=data, method="POST",
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def pay(stack, form=False, canonical=False, idempotency_key=None, api_key=None, headers=None,
        content_type=None, raw=None, timeout=40, **overrides):
    """Posts a valid payment through nginx and returns a Reply.

    The body uses the seed's Spanish names (canonical=True: the English ones) for product 1
    ("1 Hora de Internet") with a fresh `tok_sandbox_paid_<uuid>` token. `overrides` set fields
    under either name (the default under the other name is dropped); a value of None drops the
    field. form=True sends application/x-www-form-urlencoded (booleans as given, or "true").
    """
    fields = {**valid_payment(stack), "tipo_usuario": "usuario_contrasena"}
    if canonical:
        fields = {ALIASES[name]: value for name, value in fields.items()}
    for name, value in overrides.items():
        counterpart = ALIASES.get(name) or CANONICAL.get(name)
        if counterpart in fields and counterpart not in overrides:
            del fields[counterpart]
        fields[name] = value
    fields = as_sent(stack, fields)

    merged = {"X-API-Key": api_key or stack.api_key}
    if idempotency_key is not None:
        merged["Idempotency-Key"] = idempotency_key
    if raw is not None:
        data = raw
        merged["Content-Type"] = content_type or "application/json"
    elif form:
        def text(value):
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)
        data = urllib.parse.urlencode({name: text(value) for name, value in fields.items()}).encode()
        merged["Content-Type"] = content_type or "application/x-www-form-urlencoded"
    else:
        data = json.dumps(fields, ensure_ascii=False).encode()
        merged["Content-Type"] = content_type or "application/json"
    merged.update(headers or {})
    status, reply_headers, payload = post_raw(stack, PAY_PATH, data, merged, timeout)
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload
    remember_secrets(stack, status, parsed)
    return Reply(status, reply_headers, parsed, payload, fields)


def remember_secrets(stack, status, parsed):
    """The hotspot password of a receipt and the claim code of a pay-later 202, which no log may show (I5)."""
    if status == 200 and isinstance(parsed, dict):
        password = (parsed.get("usuario_hotspot") or {}).get("contrasena")
        if password:
            _registry(stack, "_issued_passwords").add(password)
    if status == 202 and isinstance(parsed, dict) and parsed.get("codigo_canje"):
        _registry(stack, "_claim_codes").add(parsed["codigo_canje"])


def wait_until(what, predicate, seconds, describe=None, interval=0.2):
    """Polls predicate until it returns something truthy (returned), or fails after `seconds`
    naming what it waited for (and, with `describe`, what it saw last)."""
    deadline = time.time() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.time() >= deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}"
                                 + (f"; last seen: {describe()}" if describe else ""))
        time.sleep(interval)


# --- reading the three sources ------------------------------------------------------------

ATTEMPT_COLUMNS = ("id", "state", "reason", "idempotency_key", "company_id", "order_id", "hotspot_username",
                   "router_user_id", "finished", "product_id", "access_end_reason", "payment_method")
PAY_LATER_METHODS = {"oxxo", "spei"}
# A pay-later order at Conekta whose money never arrived.
UNPAID_STATUSES = {"pending_payment", "expired", "canceled"}


def attempts(stack, where="TRUE"):
    """payment_attempts rows as dicts (NULL → None)."""
    rows = stack.postgres.psql(
        "SELECT id, state, coalesce(reason, '\\N'), idempotency_key, company_id, coalesce(order_id, '\\N'), "
        "hotspot_username, coalesce(router_user_id, '\\N'), (finished_at IS NOT NULL)::text, product_id, "
        "coalesce(access_end_reason, '\\N'), payment_method "
        f"FROM payment_attempts WHERE {where} ORDER BY created_at")
    out = []
    for row in rows:
        row = row + [""] * (len(ATTEMPT_COLUMNS) - len(row))
        record = {name: (None if value == "\\N" else value) for name, value in zip(ATTEMPT_COLUMNS, row, strict=True)}
        record["finished"] = record["finished"] == "true"
        out.append(record)
    return out


def attempt(stack, attempt_id):
    rows = attempts(stack, f"id = '{uuid.UUID(str(attempt_id))}'")
    return rows[0] if rows else None


def product_users(router_state):
    """Router users made by the product, keyed by attempt id (a list each, to count them)."""
    users = {}
    for user in router_state["users"]:
        comment = user.get("comment") or ""
        if comment.startswith(COMMENT_PREFIX):
            users.setdefault(comment[len(COMMENT_PREFIX):], []).append(user)
    return users


def is_enabled(user):
    return user.get("disabled", "false") not in ("true", "yes")


def _news_on_its_way(stack, rows, ignore):
    """Whether Conekta knows something of a pay-later attempt that the attempt does not show yet:
    a waiting one whose order was paid, expired or cancelled, an expired one whose order was paid
    after all. Its webhook or the poll is about to move it on, so the stack has not settled."""
    states = {row["id"]: row["state"] for row in rows if row["payment_method"] in PAY_LATER_METHODS
              and row["state"] in WAITING_STATES | {"expired"} and row["id"] not in ignore}
    if not states:
        return False
    for order in stack.conekta.control("GET", "state")["orders"]:
        state = states.get((order.get("metadata") or {}).get("attempt_id"))
        if state in WAITING_STATES and order["payment_status"] != "pending_payment":
            return True
        if state == "expired" and order["payment_status"] in ("paid", "partially_refunded"):
            return True
    return False


def settle(stack, settle_seconds, ignore=()):
    """Polls until every attempt (but those in `ignore`) is final (or waiting for money that has
    not arrived) and no webhook event is pending, or time runs out; returns the last rows."""
    deadline = time.time() + settle_seconds
    while True:
        rows = attempts(stack)
        final = all(row["state"] in FINAL_STATES | WAITING_STATES or row["id"] in ignore for row in rows) \
            and not _news_on_its_way(stack, rows, ignore)
        # Webhook events not applied yet may still change an attempt (a refund revokes it).
        if (final and not stack.postgres.psql("SELECT 1 FROM webhook_events WHERE applied_at IS NULL LIMIT 1")) \
                or time.time() >= deadline:
            return rows
        time.sleep(0.2)


def _read(path):
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _value_candidates(text):
    """Every value in the text that _password_leaks could report: JSON strings, `=value` pairs,
    and values next to password-like keys."""
    found = set(re.findall(r'"([^"\\\n]{1,64})"', text))
    found |= set(re.findall(r"=\s*([0-9A-Za-z]{1,64})(?![0-9A-Za-z])", text))
    found |= set(re.findall(r'(?i)(?:pass|contras|secret|pin)[^,\n]{0,20}?[:=]\s*"?([0-9A-Za-z]{1,64})(?![0-9A-Za-z])', text))
    return found


def _password_leaks(text, password):
    """Where a hotspot password shows up as a value: a JSON string, a form/query value, or next
    to a password-like key. (A bare 4-digit number elsewhere — a duration, a port — is not it.)"""
    p = re.escape(password)
    patterns = [rf'"{p}"', rf'=\s*{p}(?![0-9A-Za-z])',
                rf'(?i)(pass|contras|secret|pin)[^,\n]{{0,20}}?[:=]\s*"?{p}(?![0-9A-Za-z])']
    return [m.group(0) for pattern in patterns for m in re.finditer(pattern, text)][:3]


# --- the invariants ---------------------------------------------------------------------------

def blame(stack, attempt_ids):
    """Attempts a failed test leaves behind: later checks do not wait for or report them again."""
    _registry(stack, "_reported_attempts").update(attempt_ids)


def check_invariants(stack, settle_seconds=20):
    """Asserts I1–I5 over everything the stack has done so far.

    A violation is reported once, by the test that first sees it: later checks neither wait for
    nor report again an attempt already reported (so one stuck attempt fails its own test, not
    every test after it). Violations not tied to an attempt are always reported."""
    reported = _registry(stack, "_reported_attempts")
    rows = settle(stack, settle_seconds, ignore=reported)
    router = stack.router.control("GET", "state")
    conekta = stack.conekta.control("GET", "state")
    by_id = {row["id"]: row for row in rows}
    users = product_users(router)
    orders = conekta["orders"]
    problems = []

    # I4: every attempt final, with its record.
    for row in rows:
        if row["state"] not in ALL_STATES:
            problems.append(f"I4 attempt {row['id']} in unknown state {row['state']!r}")
        if row["state"] in WAITING_STATES:
            continue
        if row["state"] not in FINAL_STATES:
            problems.append(f"I4 attempt {row['id']} not final after {settle_seconds}s: {row['state']} "
                            f"(reason {row['reason']!r})")
            continue
        if not row["finished"]:
            problems.append(f"I4 attempt {row['id']} is {row['state']} but finished_at is NULL")
        if row["state"] != "delivered" and not row["reason"]:
            problems.append(f"I4 attempt {row['id']} is {row['state']} without a reason")
    events = stack.postgres.psql(
        "SELECT DISTINCT ON (attempt_id) attempt_id, to_state FROM payment_events ORDER BY attempt_id, id DESC")
    last_event = {attempt_id: state for attempt_id, state in events}
    for row in rows:
        if last_event.get(row["id"]) != row["state"]:
            problems.append(f"I4 attempt {row['id']} is {row['state']} but its timeline ends in "
                            f"{last_event.get(row['id'])!r}")

    # I1: no enabled product user unless delivered; nothing left for a final undelivered attempt.
    for attempt_id, found in users.items():
        row = by_id.get(attempt_id)
        for user in found:
            if row is None:
                problems.append(f"I1 router user {user.get('name')} names unknown attempt {attempt_id} "
                                f"(disabled={user.get('disabled')})")
            elif is_enabled(user) and row["state"] != "delivered":
                problems.append(f"I1 router user {user.get('name')} is ENABLED but attempt {attempt_id} is {row['state']}")
            elif row["state"] in (FINAL_STATES | WAITING_STATES) - {"delivered", "revoked"}:
                problems.append(f"I1 attempt {attempt_id} is {row['state']} but its router user {user.get('name')} "
                                f"is still there (disabled={user.get('disabled')})")

    # I6: a revoked access is off the router: its user disabled (or gone), no session left.
    active_users = {session.get("user") for session in router.get("active", [])}
    for row in rows:
        if row["state"] != "revoked":
            continue
        for user in users.get(row["id"], []):
            if is_enabled(user):
                problems.append(f"I6 attempt {row['id']} is revoked but its router user {user.get('name')} is enabled")
        if row["hotspot_username"] in active_users:
            problems.append(f"I6 attempt {row['id']} is revoked but {row['hotspot_username']} still has an active session")
    hooked = {int(company) for (company,) in stack.postgres.psql(
        "SELECT id FROM companies WHERE webhook_public_key IS NOT NULL")}
    delivered_once = {attempt_id for (attempt_id,) in stack.postgres.psql(
        "SELECT DISTINCT attempt_id FROM payment_events WHERE to_state = 'delivered'")}
    for order in orders:
        row = by_id.get((order.get("metadata") or {}).get("attempt_id"))
        if (row is not None and order["payment_status"] in ("refunded", "charged_back") and int(row["company_id"]) in hooked
                and row["id"] in delivered_once and row["state"] != "revoked"):
            problems.append(f"I6 order {order['id']} is {order['payment_status']} but its delivered attempt {row['id']} "
                            f"is {row['state']}")

    # I7: one record per event, each applied.
    for company, event_id, count in stack.postgres.psql(
            "SELECT company_id, event_id, count(*) FROM webhook_events GROUP BY 1, 2 HAVING count(*) > 1"):
        problems.append(f"I7 event {event_id} of company {company} recorded {count} times")
    for company, event_id, event_type in stack.postgres.psql(
            "SELECT company_id, event_id, type FROM webhook_events WHERE applied_at IS NULL"):
        problems.append(f"I7 event {event_id} ({event_type}) of company {company} still pending")

    # I3: one key (one attempt) → at most one order and at most one router user.
    keys = {}
    for row in rows:
        keys.setdefault((row["company_id"], row["idempotency_key"]), []).append(row["id"])
    for key, ids in keys.items():
        if len(ids) > 1:
            problems.append(f"I3 idempotency key {key} has {len(ids)} attempts: {ids}")
    orders_by_attempt = {}
    for order in orders:
        attempt_id = (order.get("metadata") or {}).get("attempt_id")
        if not attempt_id:
            problems.append(f"I3 order {order['id']} ({order['payment_status']}) has no metadata.attempt_id")
            continue
        if attempt_id not in by_id:
            problems.append(f"I3 order {order['id']} ({order['payment_status']}) names unknown attempt {attempt_id}")
        orders_by_attempt.setdefault(attempt_id, []).append(order)
    for attempt_id, found in orders_by_attempt.items():
        if len(found) > 1:
            problems.append(f"I3 attempt {attempt_id} has {len(found)} orders: "
                            f"{[(o['id'], o['payment_status']) for o in found]}")
    for attempt_id, found in users.items():
        if len(found) > 1:
            problems.append(f"I3 attempt {attempt_id} has {len(found)} router users: {[u.get('name') for u in found]}")
    names = {}
    for user in router["users"]:
        names.setdefault(user.get("name"), []).append(user)
    for row in rows:
        if len(names.get(row["hotspot_username"], [])) > 1:
            problems.append(f"I3 {len(names[row['hotspot_username']])} router users named {row['hotspot_username']}")

    # I2: every paid order delivered (or refunded); every delivered attempt paid and enabled. A
    # refund or chargeback after delivery (CONTRACT §10) ends revoked: I6.
    for order in orders:
        attempt_id = (order.get("metadata") or {}).get("attempt_id")
        row = by_id.get(attempt_id)
        status = order["payment_status"]
        if status == "paid":
            if row is not None and row["payment_method"] in PAY_LATER_METHODS and row["state"] != "delivered":
                continue  # reported with pay later's invariants below
            if row is None or row["state"] != "delivered":
                problems.append(f"I2 order {order['id']} is paid but attempt {attempt_id} is "
                                f"{row and row['state']}")
                continue
            if row["order_id"] != order["id"]:
                problems.append(f"I2 attempt {attempt_id} records order {row['order_id']}, the paid one is {order['id']}")
        elif status == "partially_refunded" and row is not None and row["state"] == "delivered":
            pass  # a partial refund made in Conekta's dashboard keeps the access (CONTRACT §10)
        elif status in ("refunded", "partially_refunded"):
            if status != "refunded" or order["amount_refunded"] != order["amount"]:
                problems.append(f"I2 order {order['id']} only partly refunded: {order['amount_refunded']}/{order['amount']}")
            # refunded by the product (it could not deliver), or revoked after a refund in the dashboard
            if row is not None and row["state"] not in ("refunded", "revoked"):
                problems.append(f"I2 order {order['id']} is refunded but attempt {attempt_id} is {row['state']}")
        elif status == "pending_payment" and row is not None and row["state"] in WAITING_STATES:
            pass  # a cash or SPEI order waiting for its customer's money (CONTRACT §12)
        elif status in ("pending_payment", "pre_authorized"):
            problems.append(f"I2 order {order['id']} left {status} (attempt {attempt_id} is {row and row['state']})")
        elif row is not None and row["state"] == "delivered":
            problems.append(f"I2 attempt {attempt_id} is delivered but its order {order['id']} is {status}")
    # I6: an order refunded or charged back leaves no session of its attempt's user.
    for order in orders:
        row = by_id.get((order.get("metadata") or {}).get("attempt_id"))
        if row is not None and order["payment_status"] in ("refunded", "charged_back"):
            for session in router.get("active", []):
                if session.get("user") == row["hotspot_username"]:
                    problems.append(f"I6 order {order['id']} is {order['payment_status']} but {row['hotspot_username']} "
                                    f"still has session {session.get('.id')}")
    for row in rows:
        if row["state"] in WAITING_STATES and not any(
                o["payment_status"] == "pending_payment" for o in orders_by_attempt.get(row["id"], [])):
            problems.append(f"pay later: attempt {row['id']} waits for its money but its order is "
                            f"{[o['payment_status'] for o in orders_by_attempt.get(row['id'], [])]}")
        if row["state"] != "delivered":
            continue
        # partially refunded in the dashboard afterwards: the access is kept (CONTRACT §10)
        paid = [o for o in orders_by_attempt.get(row["id"], []) if o["payment_status"] in ("paid", "partially_refunded")]
        if not paid:
            problems.append(f"I2 attempt {row['id']} is delivered without a paid order")
        found = users.get(row["id"], [])
        if not found and not row["access_end_reason"]:
            problems.append(f"I2 attempt {row['id']} is delivered but its router user is missing")
        for user in found:
            if not is_enabled(user):
                problems.append(f"I2 attempt {row['id']} is delivered but its router user {user.get('name')} is disabled")
            if user.get("name") != row["hotspot_username"]:
                problems.append(f"I2 attempt {row['id']} records user {row['hotspot_username']}, the router has "
                                f"{user.get('name')}")

    # Pay later (CONTRACT §12): money is never kept without access, and no access comes before
    # the money.
    for order in orders:
        attempt_id = (order.get("metadata") or {}).get("attempt_id")
        row = by_id.get(attempt_id)
        if row is None or row["payment_method"] not in PAY_LATER_METHODS:
            continue
        status = order["payment_status"]
        if status == "paid" and row["state"] != "delivered":
            problems.append(f"pay later: {row['payment_method']} order {order['id']} is paid but attempt {attempt_id} is "
                            f"{row['state']}, neither delivered nor refunded ({row['reason']!r})")
        if status in UNPAID_STATUSES - {"pending_payment"} and row["state"] in WAITING_STATES:
            problems.append(f"pay later: order {order['id']} is {status} but attempt {attempt_id} still waits for its money")
        if status in UNPAID_STATUSES and users.get(attempt_id):
            problems.append(f"pay later: order {order['id']} was never paid ({status}) but attempt {attempt_id} has router "
                            f"user {users[attempt_id][0].get('name')}")
    for row in rows:
        if row["payment_method"] not in PAY_LATER_METHODS or not users.get(row["id"]):
            continue
        if not orders_by_attempt.get(row["id"]):
            problems.append(f"pay later: attempt {row['id']} ({row['state']}) has no order but router user "
                            f"{users[row['id']][0].get('name')}")
        if row["state"] == "expired":
            problems.append(f"pay later: attempt {row['id']} expired but its router user {users[row['id']][0].get('name')} "
                            "is there")

    # §11: an ended access left nothing on the router (its user goes before its end is recorded).
    for row in rows:
        if row["access_end_reason"] and users.get(row["id"]):
            problems.append(f"§11 attempt {row['id']}'s access ended ({row['access_end_reason']}) but its router user "
                            f"{users[row['id']][0].get('name')} is still there")

    # I5: no secret in the logs; passwords and stored replies sealed in the database.
    logs = {"server log": _read(stack.server_log),
            "nginx access.log": _read(os.path.join(stack.nginx_prefix, "access.log")),
            "nginx error.log": _read(os.path.join(stack.nginx_prefix, "error.log"))}
    # A claim code as shown (XXXXX-XXXXX) or typed (any case, its dash left out or a space).
    codes = sorted(_registry(stack, "_claim_codes"))
    claim_code = re.compile("|".join(f"{re.escape(code[:5])}[- ]?{re.escape(code[-5:])}" for code in codes),
                            re.IGNORECASE) if codes else None
    sent_to_conekta = json.dumps([conekta.get("create_requests", []), orders])
    if claim_code and claim_code.search(sent_to_conekta):
        problems.append("I5 a claim code was sent to Conekta")
    tokens = set(_registry(stack, "_sent_tokens")) | set(conekta.get("tokens", {}))
    passwords = set(_registry(stack, "_issued_passwords"))
    passwords |= {u.get("password") for found in users.values() for u in found if u.get("password")}
    for where, text in logs.items():
        for secret in (ROUTER_PASSWORD, CONEKTA_PRIVATE_KEY, getattr(stack, "api_key", None)):
            if secret and secret in text:
                problems.append(f"I5 {secret[:12]}… appears in the {where}")
        if claim_code and claim_code.search(text):
            problems.append(f"I5 a claim code appears in the {where}")
        # One pass over the log for every token and value it holds, then set intersections:
        # checking thousands of tokens and passwords one by one over megabytes of log is too slow.
        for token in sorted(tokens & set(re.findall(r"tok_[A-Za-z0-9_]+", text))):
            problems.append(f"I5 card token {token} appears in the {where}")
        for password in sorted(passwords & _value_candidates(text)):
            problems.append(f"I5 hotspot password {password!r} appears in the {where}: {_password_leaks(text, password)}")
    stored = stack.postgres.psql(
        "SELECT hotspot_username, encode(hotspot_password, 'hex'), coalesce(encode(response_body, 'hex'), '') "
        "FROM payment_attempts")
    users_by_name = {u.get("name"): u for found in users.values() for u in found}
    for username, sealed, body in stored:
        sealed_bytes, body_bytes = bytes.fromhex(sealed), bytes.fromhex(body)
        user = users_by_name.get(username)
        password = user and user.get("password")
        if password and password.encode() in sealed_bytes:
            problems.append(f"I5 attempt of {username}: hotspot password stored in clear")
        if body_bytes and (b'"contrasena"' in body_bytes or b'"usuario_hotspot"' in body_bytes or b'"codigo_canje"' in body_bytes):
            problems.append(f"I5 attempt of {username}: stored reply in clear")
    if claim_code:
        # Every column of every attempt and its timeline, as text: a claim code is kept as a keyed hash only.
        for table in ("payment_attempts", "payment_events"):
            for row in stack.postgres.psql(f"SELECT t::text FROM {table} t"):
                if claim_code.search("\t".join(row)):
                    problems.append(f"I5 a claim code is stored in clear in {table}: {row[0][:40]}…")

    fresh = []
    for problem in problems:
        named = set(UUID_RE.findall(problem))
        if named and named <= reported:
            continue
        fresh.append(problem)
    for problem in fresh:
        reported.update(UUID_RE.findall(problem))
    assert not fresh, "CONTRACT §7 violated:\n  " + "\n  ".join(fresh)
    stack._invariants_checked = True
    return {"attempts": rows, "router": router, "conekta": conekta}
