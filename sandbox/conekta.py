"""A loopback stand-in for Conekta's Orders API (`hotspot-sandbox conekta`).

Shapes follow Conekta's OpenAPI spec and the recorded Mockoon mock (see docs/sources.md C10 for
the checklist). Requests are validated with jsonschema against the trimmed spec schemas in
schemas/ (what the Swift tests rely on), and every POST /orders records its schema violations in
GET /_sandbox/state.

Endpoints: POST /orders, GET /orders/{id}, GET /orders (search, created_at.gte/.lte,
payment_status, limit, next), POST /orders/{id}/refunds (alias /refund), POST /orders/{id}/cancel
(alias /void). POST /_sandbox/orders/bulk adds many paid orders of other attempts at once.

Card tokens (each is single use; a second use answers 402 conekta.errors.processing.tokenization.used):
- documented test tokens: tok_test_visa_4242, tok_test_visa_1881, tok_test_mastercard_4444,
  tok_test_mastercard_5100, tok_test_amex_0005, tok_test_amex_8431 pay;
  tok_test_card_declined and tok_test_insufficient_funds answer 402;
- sandbox-only, unlimited supply (anything after the prefix):
  tok_sandbox_paid_<x>          pays (Visa 4242)
  tok_sandbox_declined_<x>      402 card_declined
  tok_sandbox_insufficient_<x>  402 insufficient_funds
  tok_sandbox_3ds_<x>           200 pending_payment, charges null, next_action redirect_to_url
  tok_sandbox_3dslate_<x>       as 3ds, but POST /orders/{id}/cancel is refused (428
                                …combo.order.cannot_be_canceled): the customer is paying, so a
                                late payment (complete_3ds below) is genuine
  tok_sandbox_preauth_<x>       200 pre_authorized (as pre_authorize:true does with a paying token)
  tok_sandbox_slow_<ms>_<x>     waits <ms> milliseconds, then pays
  tok_sandbox_error500_<x>      500 with an empty body, nothing applied, token not consumed
  tok_sandbox_drop_<x>          pays, then closes the connection without a reply
- any other token: 422 nonexistent_token.
Faults from common.py target the operations orders.create, orders.get, orders.list,
orders.refund and orders.cancel (e.g. {"op": "orders.create", "kind": "drop_after"}).

Pay later (docs/sources.md C11): a charge {"payment_method": {"type": "cash" | "spei",
"expires_at"?: <unix s>}} (no token) makes an order pending_payment whose charge is
pending_payment with the payment method Conekta's recorded answers show:
- cash: {service_name: "OxxoPay", barcode_url, store: null, auth_code: null, object:
  "cash_payment", type: "oxxo", expires_at, store_name: "OXXO", reference (14 digits, unique),
  cashier_id: null};
- spei: {clabe (18 digits, STP's bank code 646, a valid check digit, unique), bank: "STP",
  issuing_account_* null, receiving_account_number (the CLABE), receiving_account_bank: "STP",
  reference_number, description, tracking_code, executed_at null, payment_attempts: [], object:
  "bank_transfer_payment", type: "spei", expires_at}.
expires_at defaults to 30 days from now (Conekta's documented default for a cash reference; the
same is assumed for SPEI) and must be in the future; the currency must be MXN; a card's fields
(token_id, …) are refused. Such an order expires by itself at expires_at (charge.expired, then
order.expired; --no-auto-expire or POST /_sandbox/expiry {"auto": false} turns that off), can be
canceled with POST /orders/{id}/cancel while pending, has no chargebacks, and is paid only by the
control below. GET /orders?search= also matches the OXXO reference and the CLABE.

For browsers (the portal page), with CORS open to any origin as Conekta's public endpoints are:
- GET /conekta.js: a stand-in for Conekta.js (conekta_js.js) that tokenizes against this server;
- POST /tokens: what the stand-in calls, authenticated with the public key (Basic, key then a
  colon). It turns a test card number into a token of one of the kinds above (CARD_TOKENS:
  4242424242424242 gives tok_sandbox_paid_<x>, 4000000000000002 tok_sandbox_declined_<x>, …),
  answering in Conekta.js's callback shapes: {id, object: "token", used, livemode} or
  {object: "error", type, code, param, message, message_to_purchaser}. Faults target
  tokens.create.

Webhooks (docs/sources.md C6; shapes in schemas/conekta-webhooks.schema.json), per account (the
private key a request authenticates with; orders belong to the key that made them). Faults target
webhook_keys.*, webhooks.* and events.* (create, list, get, update, delete, test, resend).
- POST /webhook_keys {"active"?: true}: a new 2048-bit RSA pair (openssl); answers {active,
  livemode, created_at, id, object: "webhook_key", public_key} with the public key as PEM
  (SubjectPublicKeyInfo), the only time it is shown. GET /webhook_keys lists (newest first, no
  public_key), GET/PUT {"active"}/DELETE /webhook_keys/{id} read, (de)activate, delete.
- POST /webhooks {"url", "subscribed_events"?, "description"?}: answers {url, status: "listening",
  subscribed_events (default: every event, as Conekta's mock), synchronous, id, object: "webhook",
  livemode, active, production_enabled, development_enabled}. GET /webhooks[?url=] lists,
  GET/PUT {url, subscribed_events, active}/DELETE /webhooks/{id}; POST /webhooks/{id}/test sends
  it a webhook_ping. Loopback URLs are accepted unless --webhook-refuse-loopback (the spec's
  pattern refuses them); http and https only.
- Events: each new order makes order.created and the event of its status (order.paid,
  order.pending_payment, order.declined, order.pre_authorized); refunds (API or control) make
  order.refunded or order.partially_refunded, cancel order.canceled, and the controls below
  order.charged_back, order.paid, order.expired. Sandbox economy: an account keeps events only
  from its first webhook on (the load tests' account registers none and pays nothing for them).
  An event is {data: {object: the order as GET /orders/{id} answers it then,
  previous_attributes: {}}, livemode: false, webhook_status, webhook_logs: [{id: "webhl_…", url,
  failed_attempts, last_http_response_status, object: "webhook_log", last_attempted_at}], id (24
  hex), object: "event", type, created_at}. GET /events (limit, next) and GET /events/{id} show
  it with live webhook_status (pending, successful, failed, not_applicable) and logs; POST
  /events/{id}/resend {"webhooks_ids"} sends it again.
- Delivery: the body is made once, compact UTF-8 JSON, and POSTed to each active webhook of the
  account subscribed to its type, from a background thread per receiver, with Content-Type:
  application/json and Digest: base64 of the RSASSA-PKCS1-v1_5 SHA-256 signature of the exact
  body bytes by the account's newest active webhook key at the event's making (no key: no Digest).
  No 2xx answer (or none at all) is retried after --webhook-retry-ms (200), doubling up to
  --webhook-max-retry-ms, until --webhook-attempts (8) attempts; --webhook-timeout-ms (5000) per
  attempt, --webhook-delay-ms (0) before the first. https receivers on loopback are not verified
  (--webhook-ca verifies every receiver with that CA). A URL's user:password is sent as Basic.

Sandbox controls for webhooks (no authentication, like the others; errors are {"error"}):
- POST /_sandbox/orders/{id}/refund {"amount"?}: a refund from the dashboard (default: the rest).
- POST /_sandbox/orders/{id}/chargeback: a paid order becomes charged_back.
- POST /_sandbox/orders/{id}/complete_3ds {"even_if_canceled"?}: a 3-D Secure order pending
  payment is paid with the charge its POST asked for (a canceled one only with the flag).
- POST /_sandbox/orders/{id}/expire: a pending_payment or pre_authorized order expires (a cash or
  SPEI one with charge.expired, then order.expired).
- POST /_sandbox/orders/{id}/pay {"force"?}: the customer paid a cash or SPEI order at the store
  or by transfer: charge.paid ({"status": "pending_payment"} as previous_attributes), then
  order.paid. A dead reference (the order expired or canceled, or past its expires_at) cannot be
  paid: 409, unless "force": true (a late payment Conekta accepted anyway).
- GET|POST /_sandbox/expiry {"auto"?}: whether cash and SPEI orders expire by themselves.
- GET /_sandbox/events[?order_id=&type=&account=]: every event with its deliveries, each with
  its attempts ({attempt, at, status, error, ms, reply}); GET /_sandbox/events/{id} adds the body
  as sent and its Digest; POST /_sandbox/events/{id}/redeliver {"url"?}: the same id, bytes and
  Digest again, to the url or to the account's webhooks.
- POST /_sandbox/webhooks/pause holds every delivery not begun (retries too); POST
  /_sandbox/webhooks/resume {"order"?: "fifo"|"reverse"} releases them (reverse: newest first).
- GET|POST /_sandbox/webhooks/config {retry_ms, max_retry_ms, attempts, timeout_ms, delay_ms}.
- POST /_sandbox/webhooks/drop {"order_id"?, "type"?, "count"?: 1}: the next `count` deliveries
  of events matching both filters (one per event and webhook; redeliveries, resends, forgeries
  and pings are never dropped) are lost: recorded as delivered with a 200 (so Conekta's view,
  GET /events/{id}, says successful and nothing is retried) but never sent. GET lists the rules
  with what each dropped; a lost delivery shows "lost": true in GET /_sandbox/events.
- POST /_sandbox/webhooks/forge {"order_id"|"event_id", "type"?, "signature"?: valid|other_key|
  garbled|tampered|none, "object"?, "url"?}: an event Conekta never sent (see _forge).
GET /_sandbox/state adds webhook_keys (with public keys), webhooks, forgeries, the number of
events and the delivery settings. POST /_sandbox/reset forgets orders, events and deliveries but
keeps the accounts' webhook keys and webhooks (as a restarted product would find them).
"""

import base64
import copy
import json
import os
import re
import secrets
import sys
import threading
import time
import uuid
from urllib.parse import quote, urlencode, urlsplit

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import App, Drop, Reply, serve
from conekta_webhooks import Deliverer, Delivery, KeyMaker, Payload, compact_json, sign

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", "conekta-order-request.schema.json")
WEBHOOK_SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", "conekta-webhooks.schema.json")

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ACCEPT = re.compile(r"application/vnd\.conekta-v(2\.\d+\.\d+)\+json")
REFUND_REASONS = ("requested_by_client", "cannot_be_fulfilled", "duplicated_transaction", "suspected_fraud", "other")

# An order's payment_status -> the event Conekta reports it with (docs/sources.md C6).
STATUS_EVENTS = {
    "paid": "order.paid", "pending_payment": "order.pending_payment", "declined": "order.declined",
    "pre_authorized": "order.pre_authorized", "canceled": "order.canceled", "expired": "order.expired",
    "refunded": "order.refunded", "partially_refunded": "order.partially_refunded", "charged_back": "order.charged_back",
}
FORGERIES = ("valid", "other_key", "garbled", "tampered", "none")

# Pay later (docs/sources.md C11): the payment method a charge request names -> the object its
# charge answers with. A cash reference lives 30 days unless the request says otherwise.
PAY_LATER = {"cash": "cash_payment", "spei": "bank_transfer_payment"}
PAY_LATER_DEFAULT_EXPIRY_S = 30 * 24 * 3600
# A card's fields, which a cash or SPEI payment method does not take.
CARD_ONLY_FIELDS = ("token_id", "payment_source_id", "monthly_installments", "cvc", "contract_id")

# token -> (brand, last4, card type)
PAYING_TOKENS = {
    "tok_test_visa_4242": ("visa", "4242", "credit"),
    "tok_test_visa_1881": ("visa", "1881", "credit"),
    "tok_test_mastercard_4444": ("mastercard", "4444", "credit"),
    "tok_test_mastercard_5100": ("mastercard", "5100", "debit"),
    "tok_test_amex_0005": ("american_express", "0005", "credit"),
    "tok_test_amex_8431": ("american_express", "8431", "credit"),
}

# failure -> (details code, charge failure_code, es message, en message, debug message)
DECLINES = {
    "declined": ("conekta.errors.processing.bank.declined", "card_declined",
                 "La tarjeta ingresada ha sido declinada. Por favor intenta con otro método de pago.",
                 "The card issuing bank declined to process this charge.",
                 "The card issuing bank declined to process this charge."),
    "insufficient": ("conekta.errors.processing.bank.insufficient_funds", "insufficient_funds",
                     "Esta tarjeta no tiene suficientes fondos para completar la compra.",
                     "This card has insufficient funds to complete the purchase.",
                     "This card has insufficient funds to complete the purchase."),
}


# Test card number -> the token kind the stand-in Conekta.js gets for it (README "Portal").
# Conekta's documented test cards first, then sandbox-only numbers (Luhn-valid) for the rest.
CARD_TOKENS = {
    "4242424242424242": "paid", "4012888888881881": "paid", "5555555555554444": "paid",
    "5105105105105100": "paid", "378282246310005": "paid", "371449635398431": "paid",
    "4000000000000002": "declined",
    "4000000000000127": "insufficient",
    "4000000000003220": "3ds",
    "4000000000000119": "error500",
    "4000000000000259": "drop",
    "4000000000000077": "slow_3000",
}
JS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conekta_js.js")
# Conekta's public endpoints are called from any shop's page.
CORS = {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}


def luhn(number):
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def clabe_check_digit(first17):
    """The 18th digit of a CLABE: weights 3, 7, 1 repeated, each product taken mod 10, and the
    sum's complement to 10 (docs/sources.md C11)."""
    total = sum(int(digit) * weight % 10 for digit, weight in zip(first17, (3, 7, 1) * 6))
    return str((10 - total % 10) % 10)


def order_id():
    return "ord_" + "".join(secrets.choice(BASE58) for _ in range(17))


def prefixed_id(prefix):
    return prefix + "".join(secrets.choice(BASE58) for _ in range(17))


def object_id():
    """24 hex like a MongoDB ObjectId: 4 bytes of time, then 8 random bytes."""
    return f"{int(time.time()):08x}" + secrets.token_hex(8)


def list_envelope(items):
    return {"object": "list", "has_more": False, "total": len(items), "data": items}


class ApiError(Exception):
    """An error reply in Conekta's envelope."""

    def __init__(self, status, type_, code, message, debug_message=None, param=None, data=None):
        super().__init__(code)
        self.status, self.type, self.code = status, type_, code
        self.message = message  # str or {"es": ..., "en": ...}
        self.debug_message = debug_message if debug_message is not None else (
            message["en"] if isinstance(message, dict) else message)
        self.param, self.data = param, data

    def reply(self, language, headers):
        message = self.message[language] if isinstance(self.message, dict) else self.message
        body = {"object": "error", "type": self.type, "log_id": object_id(),
                "details": [{"code": self.code, "message": message, "debug_message": self.debug_message,
                             "param": self.param}]}
        if self.data is not None:
            body["data"] = self.data
        return Reply(self.status, body, headers=headers, content_type=None)


def validation_error(param, debug_message, code=None, message=None):
    code = code or "conekta.errors.parameter_validation." + re.sub(r"\.\d+(?=\.|$)", "", param) + ".invalid"
    message = message or {"es": f'El parámetro "{param}" no es válido.', "en": f'The parameter "{param}" is invalid.'}
    return ApiError(422, "parameter_validation_error", code, message, debug_message, param)


# MARK: request schemas

# The formats Conekta's spec uses, checked as Conekta documents them; a format applies only to the
# values of its type (jsonschema's own email check is looser, and uri needs a package Debian lacks).
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("email")
def is_email(value):
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain and " " not in value)


@FORMATS.checks("uri")
def is_absolute_uri(value):
    return not isinstance(value, str) or "://" in value


def int_format(bits):
    def check(value):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return not number or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
    return check


for _bits in (8, 32, 64):
    FORMATS.checks(f"int{_bits}")(int_format(_bits))


def json_type(value):
    kinds = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null" if value is None else type(value).__name__)


# What a violation of each keyword says after its field's path ("customer_info.email is required").
MESSAGES = {
    "type": lambda e: f"expected {e.validator_value}, got {json_type(e.instance)}",
    "enum": lambda e: f"must be one of {e.validator_value}",
    "minLength": lambda e: f"shorter than {e.validator_value} characters",
    "maxLength": lambda e: f"longer than {e.validator_value} characters",
    "minimum": lambda e: f"less than {e.validator_value}",
    "maximum": lambda e: f"greater than {e.validator_value}",
    "format": lambda e: {"email": "not an email address", "uri": "not an absolute URI"}.get(
        e.validator_value, f"outside {e.validator_value}"),
    "maxProperties": lambda e: f"more than {e.validator_value} properties",
    "minItems": lambda e: f"fewer than {e.validator_value} items",
}
# Among one field's violations, the one named first: its type, then its value.
KEYWORD_RANK = {keyword: rank for rank, keyword in enumerate(
    ("type", "enum", "minLength", "maxLength", "minimum", "maximum", "format", "required", "maxProperties", "minItems"))}


def body_position(body, path):
    """Where `path` is in `body`, in the body's own order (a missing field before the others)."""
    position, node = [], body
    for part in path:
        if isinstance(node, dict):
            position.append(list(node).index(part) if part in node else -1)
            node = node.get(part)
        else:
            position.append(part)
            node = node[part]
    return position


class RequestSchemas:
    """The request schemas of schemas/, with jsonschema: OpenAPI 3.0's schemas are JSON Schema
    draft 4's (an integer is never 1.0)."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.components = json.load(f)["components"]
        self.validators = {}

    def validate(self, body, name):
        """Every violation of `body` against the named schema, the one a 422 names first: by where
        it is in the body, then by keyword. [] when valid, else like
        [{"path": "customer_info.email", "keyword": "required", "message": "is required"}]."""
        if name not in self.validators:
            root = {"$ref": "#/components/schemas/" + name, "components": self.components}
            self.validators[name] = jsonschema.Draft4Validator(root, format_checker=FORMATS)
        validator = self.validators[name]
        found = self.violations(validator, list(validator.iter_errors(body)))
        found.sort(key=lambda v: (body_position(body, v[0]), KEYWORD_RANK.get(v[1], len(KEYWORD_RANK))))
        return [{"path": ".".join(str(part) for part in path), "keyword": keyword, "message": message}
                for path, keyword, message in found]

    def violations(self, validator, errors):
        """(path, keyword, message) for each of jsonschema's errors, as a reader wants them."""
        # A value of the wrong type is only that: not also outside its schema's enum or combinators.
        mistyped = [(tuple(e.absolute_path), tuple(e.absolute_schema_path)[:-1]) for e in errors if e.validator == "type"]
        out, objects = [], set()
        for e in errors:
            path, schema_path = tuple(e.absolute_path), tuple(e.absolute_schema_path)
            if e.validator != "type" and any(path == p and schema_path[:len(s)] == s for p, s in mistyped):
                continue
            if e.validator == "required":
                # One error per missing field, each at the object: name each field by its own path, once.
                if (path, schema_path) not in objects:
                    objects.add((path, schema_path))
                    out += [(path + (key,), "required", "is required") for key in e.validator_value if key not in e.instance]
            elif e.validator in ("anyOf", "oneOf") and e.context:
                # No alternative matched: the one that came closest, whose violations name the missing field.
                alternatives = {}
                for sub in e.context:
                    alternatives.setdefault(sub.relative_schema_path[0], []).append(sub)
                out += min((self.violations(validator, subs) for subs in alternatives.values()), key=len)
            elif e.validator == "oneOf":
                passing = sum(validator.evolve(schema=sub).is_valid(e.instance) for sub in e.validator_value)
                out.append((path, "oneOf", f"matches {passing} alternatives, expected exactly one"))
            else:
                out.append((path, e.validator, MESSAGES[e.validator](e) if e.validator in MESSAGES else e.message))
        return out


def not_found(identifier, kind="Order"):
    return ApiError(404, "resource_not_found_error", "conekta.errors.resource_not_found.entity",
                    "The resource was not found.", f'The object {kind} "{identifier}" could not be found.')


def control_error(status, message):
    return Reply(status, {"error": message})


class Event:
    """One event of an account: its body, made once (exact bytes, signed on first delivery), and
    its deliveries. `logs` holds a webhook_log id per webhook it went to. Only the body's bytes
    are kept: `data` is read back from them."""

    def __init__(self, identifier, type_, account, order_id=None):
        self.id, self.type, self.account, self.order_id = identifier, type_, account, order_id
        self.created_at = int(time.time())
        self.logs = {}  # webhook id -> {"id": "webhl_…", "url": …}
        self.deliveries = []
        self.payload = None
        self.key_id = None  # the webhook key that signs it, None: sent without a Digest

    @property
    def data(self):
        return json.loads(self.payload.body)["data"]


class ConektaApp(App):
    name = "conekta"

    def __init__(self):
        super().__init__()
        self.schemas = RequestSchemas(SCHEMA_FILE)
        self.webhook_schemas = RequestSchemas(WEBHOOK_SCHEMA_FILE)
        with open(WEBHOOK_SCHEMA_FILE, encoding="utf-8") as f:
            self.default_subscribed_events = json.load(f)["x-default-subscribed-events"]
        self.private_keys = {"key_sandbox_private"}
        self.public_keys = {"key_sandbox_public"}
        self.latency_ms = 0
        self.search_mode = "reference"
        self.allow_loopback_webhooks = True
        self.key_maker = KeyMaker()
        self.deliverer = Deliverer(self._still_wanted)
        # An account's configuration (what its private key made), kept across POST /_sandbox/reset.
        self.webhook_keys = {}  # account -> [key], oldest first
        self.webhooks = {}  # account -> [webhook], oldest first
        self.forger_key = None  # (private key file, public PEM) of no account, for forged events
        # Every OXXO reference and CLABE ever handed out (kept across resets: each stays unique).
        self.references = set()
        self.clabes = set()
        self.auto_expire = True
        self.reset()
        threading.Thread(target=self._expiry_loop, daemon=True, name="pay-later expiry").start()

    def add_arguments(self, parser):
        parser.add_argument("--private-key", action="append", default=None,
                            help="an accepted private key (repeatable); default key_sandbox_private")
        parser.add_argument("--public-key", action="append", default=None,
                            help="a public key /tokens accepts (repeatable); default key_sandbox_public")
        parser.add_argument("--latency-ms", type=int, default=0, help="time to answer every API call, counted from its arrival")
        parser.add_argument("--search-mode", choices=("reference", "none"), default="reference",
                            help="what GET /orders?search= matches: id, customer fields and the charge's "
                                 "reference_id (reference), or nothing (none, to exercise paging)")
        parser.add_argument("--webhook-retry-ms", type=int, default=200,
                            help="wait before a failed webhook delivery's second attempt, doubled each time after")
        parser.add_argument("--webhook-max-retry-ms", type=int, default=60000, help="the longest wait between attempts")
        parser.add_argument("--webhook-attempts", type=int, default=8, help="attempts per delivery before it is failed")
        parser.add_argument("--webhook-timeout-ms", type=int, default=5000, help="time one attempt may take")
        parser.add_argument("--webhook-delay-ms", type=int, default=0, help="wait before a delivery's first attempt")
        parser.add_argument("--webhook-ca", default=None,
                            help="CA file to verify https receivers with (default: loopback receivers are not verified, "
                                 "others against the system's CAs)")
        parser.add_argument("--webhook-refuse-loopback", action="store_true",
                            help="refuse webhook URLs naming localhost or 127.0.0.1, as Conekta's spec does")
        parser.add_argument("--no-auto-expire", dest="auto_expire", action="store_false", default=True,
                            help="cash and SPEI orders expire only by POST /_sandbox/orders/{id}/expire")

    def configure(self, args):
        if args.private_key:
            self.private_keys = set(args.private_key)
        if args.public_key:
            self.public_keys = set(args.public_key)
        self.latency_ms = args.latency_ms
        self.faults.default_latency_ms = args.latency_ms
        self.search_mode = args.search_mode
        self.key_maker = KeyMaker(args.state_dir)
        self.deliverer.configure(retry_ms=args.webhook_retry_ms, max_retry_ms=args.webhook_max_retry_ms,
                                 attempts=args.webhook_attempts, timeout_ms=args.webhook_timeout_ms,
                                 delay_ms=args.webhook_delay_ms)
        self.deliverer.ca_file = args.webhook_ca
        self.allow_loopback_webhooks = not args.webhook_refuse_loopback
        self.auto_expire = args.auto_expire

    def reset(self):
        self.orders = {}  # id -> order object as served
        self.order_ids = []  # creation order
        self.tokens = {}  # token -> {"uses": n, "order_id": ...}
        self.requests = []  # one entry per POST /orders: schema violations and outcome
        self.js_tokens = []  # one entry per token made for a browser: id, kind, last4 (never the number)
        self.order_accounts = {}  # order id -> the private key that made it (whose webhooks hear of it)
        self.pending_3ds = {}  # order id -> (charge request, token, card) of a 3-D Secure order not completed
        self.uncancelable = set()  # orders of tok_sandbox_3dslate_ tokens: cancel is refused
        self.events = []  # every event, oldest first
        self.event_index = {}
        self.forgeries = []
        self.pay_later_due = {}  # order id -> expires_at of a cash or SPEI order pending payment
        self.drop_rules = []  # POST /_sandbox/webhooks/drop: deliveries to lose, oldest rule first
        self.deliverer.reset()
        # common.py's reset clears the default latency with the faults; keep the configured one.
        self.faults.default_latency_ms = self.latency_ms

    def operation(self, request):
        if request.path == "/conekta.js":
            return "conektajs"
        if request.path == "/tokens":
            return "tokens.create" if request.method == "POST" else "tokens.preflight"
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] in (["webhook_keys"], ["webhooks"], ["events"]):
            verbs = {"POST": "create", "GET": "list"} if len(parts) == 1 else \
                {"GET": "get", "PUT": "update", "DELETE": "delete"} if len(parts) == 2 else {}
            if len(parts) == 3 and request.method == "POST" and parts[2] in ("test", "resend"):
                verbs = {"POST": parts[2]}
            return parts[0] + "." + verbs.get(request.method, "other")
        if parts[:1] != ["orders"]:
            return request.method + " " + request.path
        if len(parts) == 1:
            return "orders.create" if request.method == "POST" else "orders.list"
        if len(parts) == 2:
            return "orders.get"
        return {"refunds": "orders.refund", "refund": "orders.refund",
                "cancel": "orders.cancel", "void": "orders.cancel"}.get(parts[2], "orders.other")

    # MARK: dispatch

    def handle(self, request):
        if request.path in ("/conekta.js", "/tokens"):
            return self._browser(request)
        language = "en" if (request.headers.get("Accept-Language") or "es").lower().startswith("en") else "es"
        headers = {}
        try:
            version = self._check_headers(request)
            headers = {"Conekta-Media-Type": f"conekta-v{version}; format=application/json",
                       "Content-Type": f"application/vnd.conekta-v{version}+json"}
            op = self.operation(request)
            parts = [p for p in request.path.split("/") if p]
            if op == "orders.create" and request.method == "POST":
                status, body = self._create(request)
            elif op == "orders.list" and request.method == "GET":
                status, body = self._list(request)
            elif op == "orders.get" and request.method == "GET":
                status, body = 200, self._order(parts[1])
            elif op == "orders.refund" and request.method == "POST":
                status, body = 200, self._refund(parts[1], request)
            elif op == "orders.cancel" and request.method == "POST":
                status, body = 200, self._cancel(parts[1])
            elif op in ("webhook_keys.create", "webhook_keys.list", "webhook_keys.get", "webhook_keys.update",
                        "webhook_keys.delete"):
                status, body = 200, self._webhook_keys_api(request, self._key(request), parts)
            elif op in ("webhooks.create", "webhooks.list", "webhooks.get", "webhooks.update", "webhooks.delete",
                        "webhooks.test"):
                status, body = 200, self._webhooks_api(request, self._key(request), parts)
            elif op in ("events.list", "events.get", "events.resend"):
                status, body = 200, self._events_api(request, self._key(request), parts)
            else:
                raise ApiError(404, "resource_not_found_error", "conekta.errors.resource_not_found.route",
                               "The resource was not found.", f"No route for {request.method} {request.path}.")
            return Reply(status, body, headers=headers, content_type=None)
        except ApiError as error:
            if not headers:
                headers = {"Content-Type": "application/json; charset=utf-8"}
            return error.reply(language, headers)

    @staticmethod
    def _key(request):
        """The private key a request carries (Bearer, or Basic with the key as user name), or None."""
        authorization = request.headers.get("Authorization") or ""
        if authorization.startswith("Bearer "):
            return authorization[len("Bearer "):].strip()
        if authorization.startswith("Basic "):
            try:
                return base64.b64decode(authorization[len("Basic "):]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                return None
        return None

    def _check_headers(self, request):
        key = self._key(request)
        if key not in self.private_keys:
            raise ApiError(401, "authentication_error", "conekta.errors.authentication.missing_key",
                           {"es": "Acceso no autorizado.", "en": "Please include your access key in your request."},
                           "Please include your access key in your request.")
        match = ACCEPT.search(request.headers.get("Accept") or "")
        if not match:
            # Sandbox choice: Conekta's docs name 409 conflict_error for API version problems.
            raise ApiError(409, "conflict_error", "conekta.errors.conflict.api_version",
                           "Please include a valid API version in the Accept header.",
                           "Accept must be application/vnd.conekta-v2.X.0+json.")
        return match.group(1)

    def _json_body(self, request):
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "malformed_request_error", "conekta.errors.malformed_request.json",
                           {"es": "La solicitud no es JSON válido.", "en": "The request body is not valid JSON."}) from None

    # MARK: Conekta.js stand-in and POST /tokens

    def _browser(self, request):
        if request.path == "/conekta.js" and request.method in ("GET", "HEAD"):
            with open(JS_FILE, "rb") as f:
                return Reply(200, f.read(), headers=dict(CORS, **{"Cache-Control": "no-store"}),
                             content_type="application/javascript; charset=utf-8")
        if request.path == "/tokens" and request.method == "OPTIONS":
            return Reply(204, b"", headers=dict(CORS, **{
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, Accept-Language",
                "Access-Control-Max-Age": "600"}), content_type=None)
        if request.path == "/tokens" and request.method == "POST":
            status, body = self._tokenize(request)
            return Reply(status, body, headers=dict(CORS), content_type="application/json; charset=utf-8")
        return Reply(405, {"object": "error", "type": "resource_not_found_error", "message": "Method not allowed"},
                     headers=dict(CORS, Allow="POST, OPTIONS" if request.path == "/tokens" else "GET"))

    def _tokenize(self, request):
        """(status, body) in Conekta.js's shapes for a {"card": {...}} body."""
        def refuse(status, type_, code, param, purchaser, message):
            return status, {"object": "error", "type": type_, "code": code, "param": param,
                            "message": message, "message_to_purchaser": purchaser}

        authorization = request.headers.get("Authorization") or ""
        key = None
        if authorization.startswith("Basic "):
            try:
                key = base64.b64decode(authorization[len("Basic "):]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = None
        if key not in self.public_keys:
            return refuse(401, "authentication_error", "invalid_key", None, "No se pudo procesar la tarjeta.",
                          "Please include a valid public key in your request.")
        try:
            card = (request.json() or {}).get("card")
        except (ValueError, UnicodeDecodeError, AttributeError):
            card = None
        if not isinstance(card, dict):
            return refuse(400, "malformed_request_error", "missing_card", "card", "No se pudo procesar la tarjeta.",
                          "The request must carry a card object.")
        number = re.sub(r"[\s-]", "", str(card.get("number") or ""))
        month, year = str(card.get("exp_month") or "").strip(), str(card.get("exp_year") or "").strip()
        if not (re.fullmatch(r"\d{12,19}", number) and luhn(number)):
            return refuse(422, "parameter_validation_error", "invalid_number", "card[number]",
                          "El número de tarjeta es inválido.", "The card number is invalid.")
        if not str(card.get("name") or "").strip():
            return refuse(422, "parameter_validation_error", "invalid_name", "card[name]",
                          "El nombre del tarjetahabiente es inválido.", "The cardholder name is invalid.")
        full_year = 2000 + int(year) if re.fullmatch(r"\d{2}", year) else int(year) if re.fullmatch(r"\d{4}", year) else 0
        now = time.gmtime()
        if not (re.fullmatch(r"\d{1,2}", month) and 1 <= int(month) <= 12) or \
                (full_year, int(month) if month.isdigit() else 0) < (now.tm_year, now.tm_mon):
            return refuse(422, "parameter_validation_error", "invalid_expiry_date", "card[exp_month]",
                          "La fecha de vencimiento de la tarjeta es inválida.", "The expiration date is invalid.")
        if not re.fullmatch(r"\d{3,4}", str(card.get("cvc") or "").strip()):
            return refuse(422, "parameter_validation_error", "invalid_cvc", "card[cvc]",
                          "El código de seguridad (CVC) es inválido.", "The CVC is invalid.")
        kind = CARD_TOKENS.get(number)
        if kind is None:
            return refuse(402, "processing_error", "card_not_supported", "card[number]",
                          "Esta tarjeta no se acepta en el sandbox: usa una tarjeta de prueba.",
                          "The sandbox tokenizes its test card numbers only.")
        token = f"tok_sandbox_{kind}_" + "".join(secrets.choice(BASE58) for _ in range(16))
        with self.lock:
            self.js_tokens.append({"id": token, "kind": kind, "last4": number[-4:],
                                   "origin": request.headers.get("Origin")})
        return 200, {"id": token, "object": "token", "used": False, "livemode": False}

    # MARK: POST /orders

    def _create(self, request):
        body = self._json_body(request)
        violations = self.schemas.validate(body, "order_request") if isinstance(body, dict) else [
            {"path": "", "keyword": "type", "message": "expected object"}]
        record = {"violations": violations, "body": body, "outcome": None}
        with self.lock:
            self.requests.append(record)
        try:
            status, reply = self._create_checked(body, violations, self._key(request))
            record["outcome"] = status
            return status, reply
        except ApiError as error:
            record["outcome"] = error.status
            raise
        except Drop:
            record["outcome"] = "dropped"
            raise

    def _create_checked(self, body, violations, account):
        if violations:
            first = violations[0]
            param = first["path"] or "body"
            code = None
            if first["keyword"] == "required":
                code = "conekta.errors.parameter_validation." + re.sub(r"\.\d+(?=\.|$)", "", param) + ".missing"
            raise validation_error(param, f'{param} {first["message"]}', code)
        metadata = body.get("metadata", {})
        if not isinstance(metadata, dict):
            raise validation_error("metadata", "metadata must be an object")
        if not re.fullmatch(r"[A-Za-z]{3}", body["currency"]):
            raise validation_error("currency", "currency must be a 3-letter ISO 4217 code")
        items = body["line_items"]
        if not items:
            raise validation_error("line_items", "The order must have at least one line item.",
                                   "conekta.errors.parameter_validation.line_items.missing")
        total = sum(item["unit_price"] * item["quantity"] for item in items)
        if total <= 0:
            raise validation_error("amount", "The amount must be greater than 0.",
                                   "conekta.errors.parameter_validation.amount.number_is_not_greater_than")
        charges = body.get("charges") or []
        if len(charges) > 1:
            raise validation_error("charges", "The sandbox supports one charge per order.")
        expires_at = None
        for charge in charges:
            if "amount" in charge and charge["amount"] != total:
                raise validation_error("charges.amount", "The order amount does not match with the sum of charges amounts",
                                       "conekta.errors.parameter_validation.charges.amount.mismatch")
            method = charge["payment_method"]
            if method.get("type") in PAY_LATER:
                expires_at = self._check_pay_later(body, method)
                continue
            if method.get("type") != "card":
                raise validation_error("payment_method.type", "The sandbox charges card, cash and spei payment methods only.")
            if not isinstance(method.get("token_id"), str):
                raise validation_error("payment_method.token_id", "The token does not exist.",
                                       "conekta.errors.parameter_validation.payment_method.token_id.missing")
        customer = body["customer_info"]
        if "customer_id" in customer and "name" not in customer:
            raise validation_error("customer_info.customer_id", "The sandbox knows no customers.")

        order = self._new_order(body, total)
        if not charges:
            order["payment_status"] = "pending_payment"
            return self._store(order, account)
        charge_request = charges[0]
        if expires_at is not None:
            # Cash or SPEI: nothing is charged now; the customer pays later (POST
            # /_sandbox/orders/{id}/pay), or the reference expires.
            with self.lock:
                charge = self._new_pay_later_charge(order, charge_request, expires_at)
                order.update(payment_status="pending_payment", charges=list_envelope([charge]), is_refundable=False)
                result = self._store(order, account)
                self.pay_later_due[order["id"]] = expires_at
            return result
        token = charge_request["payment_method"]["token_id"]
        behaviour, card = self._token_behaviour(token)
        if behaviour == "nonexistent":
            raise validation_error("payment_method.token_id", "The token does not exist.",
                                   "conekta.errors.parameter_validation.payment_method.token_id.nonexistent_token",
                                   "The token does not exist.")
        if behaviour == "error500":
            raise Drop500()
        if behaviour.startswith("slow:"):
            time.sleep(int(behaviour[5:]) / 1000)
            behaviour = "paid"
        with self.lock:
            usage = self.tokens.setdefault(token, {"uses": 0, "order_id": None})
            usage["uses"] += 1
            if usage["uses"] > 1:
                raise ApiError(402, "processing_error", "conekta.errors.processing.tokenization.used",
                               {"es": "La tarjeta no pudo ser procesada.", "en": "The card could not be processed."},
                               "The token has already been used.")
            usage["order_id"] = order["id"]
        charge = self._new_charge(order, charge_request, token, card)
        order["charges"] = list_envelope([charge])
        if behaviour in DECLINES:
            code, failure_code, es, en, debug = DECLINES[behaviour]
            charge.update(status="declined", failure_code=failure_code, failure_message=es, paid_at=None,
                          is_refundable=False)
            order.update(payment_status="declined", is_refundable=False)
            self._store(order, account)
            raise ApiError(402, "processing_error", code, {"es": es, "en": en}, debug, data=order)
        if behaviour in ("3ds", "3dslate"):
            order.update(payment_status="pending_payment", charges=None, is_refundable=False,
                         next_action={"type": "redirect_to_url", "redirect_to_url": {
                             "url": "https://3ds-pay.conekta.com/" + secrets.token_hex(16),
                             "return_url": body.get("return_url")}})
            with self.lock:
                # What POST /_sandbox/orders/{id}/complete_3ds charges when the customer "completes" it.
                self.pending_3ds[order["id"]] = (charge_request, token, card)
                if behaviour == "3dslate":
                    self.uncancelable.add(order["id"])
            return self._store(order, account)
        if behaviour == "preauth" or body.get("pre_authorize") is True:
            charge.update(status="pre_authorized", paid_at=None, is_refundable=False)
            order.update(payment_status="pre_authorized", is_refundable=False)
            return self._store(order, account)
        order["payment_status"] = "paid"
        result = self._store(order, account)
        if behaviour == "drop":
            raise Drop()
        return result

    def _check_pay_later(self, body, method):
        """The expires_at of a valid cash or SPEI payment method (its default when absent), or a
        422 (docs/sources.md C11: MXN only; the expiry in the future; none of a card's fields)."""
        kind = method["type"]
        for name in CARD_ONLY_FIELDS:
            if name in method:
                # Sandbox strictness: what Conekta does with a token on a cash charge is unknown.
                raise validation_error(f"payment_method.{name}", f'The "{name}" parameter is not allowed for {kind} payments.',
                                       "conekta.errors.parameter_validation.whitelist",
                                       {"es": f'El parámetro "{name}" no está permitido.',
                                        "en": f'The "{name}" parameter is not allowed.'})
        if body["currency"].upper() != "MXN":
            raise validation_error("currency", f"{kind} payments are in MXN only.",
                                   "conekta.errors.parameter_validation.currency.invalid")
        now = int(time.time())
        expires_at = method.get("expires_at", now + PAY_LATER_DEFAULT_EXPIRY_S)
        if expires_at <= now:
            raise validation_error("payment_method.expires_at", "expires_at must be in the future.",
                                   "conekta.errors.parameter_validation.payment_method.expires_at.invalid")
        return expires_at

    def _new_pay_later_charge(self, order, charge_request, expires_at):
        """A cash (OXXO) or SPEI charge pending payment, in the recorded mock's key order; under
        the lock (its reference or CLABE is new)."""
        requested = charge_request["payment_method"]
        if requested["type"] == "cash":
            reference = self._new_reference()
            method = {"service_name": "OxxoPay", "barcode_url": "https://barcodes.conekta.com/" + secrets.token_hex(20) + ".png",
                      "store": None, "auth_code": None, "object": "cash_payment", "type": "oxxo",
                      "expires_at": expires_at, "store_name": "OXXO", "reference": reference, "cashier_id": None}
        else:
            clabe = self._new_clabe("646180")
            method = {"clabe": clabe, "bank": "STP", "issuing_account_holder_name": None, "issuing_account_tax_id": None,
                      "issuing_account_bank": None, "issuing_account_number": None,
                      "receiving_account_holder_name": None, "receiving_account_tax_id": None,
                      "receiving_account_number": clabe, "receiving_account_bank": "STP", "reference_number": None,
                      "description": None, "tracking_code": None, "executed_at": None, "payment_attempts": [],
                      "object": "bank_transfer_payment", "type": "spei", "expires_at": expires_at}
        if "customer_ip_address" in requested:
            method["customer_ip_address"] = requested["customer_ip_address"]
        return {
            "id": object_id(), "livemode": False, "created_at": order["created_at"], "currency": order["currency"],
            "failure_code": None, "failure_message": None, "monthly_installments": None,
            "device_fingerprint": None, "session_id": None, "channel": None, "payment_method": method,
            "object": "charge", "description": "Payment from order", "is_refundable": False,
            "reference_id": charge_request.get("reference_id"), "status": "pending_payment", "amount": order["amount"],
            "paid_at": None, "customer_id": "", "order_id": order["id"], "refunds": None,
        }

    def _new_reference(self):
        """A 14-digit OXXO reference never handed out before; test-mode captures start with 98."""
        while True:
            reference = "9800" + f"{secrets.randbelow(10 ** 10):010d}"
            if reference not in self.references:
                self.references.add(reference)
                return reference

    def _new_clabe(self, bank_and_plaza):
        """An 18-digit CLABE of that bank and plaza (6 digits) with a valid check digit, never
        handed out before."""
        while True:
            first17 = bank_and_plaza + f"{secrets.randbelow(10 ** 11):011d}"
            clabe = first17 + clabe_check_digit(first17)
            if clabe not in self.clabes:
                self.clabes.add(clabe)
                return clabe

    @staticmethod
    def _pay_later_charge(order):
        """The cash or SPEI charge of an order, or None."""
        for charge in (order.get("charges") or {}).get("data", []):
            if charge["payment_method"].get("object") in PAY_LATER.values():
                return charge
        return None

    def _token_behaviour(self, token):
        """(behaviour, (brand, last4, type)) for a token."""
        visa = PAYING_TOKENS["tok_test_visa_4242"]
        if token in PAYING_TOKENS:
            return "paid", PAYING_TOKENS[token]
        if token == "tok_test_card_declined":
            return "declined", ("visa", "0002", "credit")
        if token == "tok_test_insufficient_funds":
            return "insufficient", ("visa", "0127", "credit")
        match = re.fullmatch(r"tok_sandbox_(paid|declined|insufficient|3ds|3dslate|preauth|error500|drop)_.+", token)
        if match:
            return match.group(1), {"declined": ("visa", "0002", "credit"),
                                    "insufficient": ("visa", "0127", "credit")}.get(match.group(1), visa)
        match = re.fullmatch(r"tok_sandbox_slow_(\d{1,6})_.+", token)
        if match:
            return "slow:" + match.group(1), visa
        return "nonexistent", None

    def _new_order(self, body, total):
        now = int(time.time())
        identifier = order_id()
        customer = body["customer_info"]
        items = []
        for item in body["line_items"]:
            items.append({"name": item["name"], "description": item.get("description"),
                          "unit_price": item["unit_price"], "quantity": item["quantity"], "sku": item.get("sku"),
                          "tags": item.get("tags"), "brand": item.get("brand"), "type": None,
                          "object": "line_item", "id": prefixed_id("line_item_"), "parent_id": identifier,
                          "metadata": item.get("metadata", {}), "antifraud_info": item.get("antifraud_info", {})})
        return {
            "livemode": False, "amount": total, "currency": body["currency"].upper(), "payment_status": None,
            "amount_refunded": 0, "split_payment": None,
            "customer_info": {"email": customer.get("email"), "phone": customer.get("phone"),
                              "name": customer.get("name"), "corporate": customer.get("corporate"),
                              "customer_id": None, "date_of_birth": None, "national_id": None,
                              "object": "customer_info"},
            "channel": None, "fiscal_entity": None, "object": "order", "id": identifier,
            "metadata": dict(body.get("metadata", {})), "is_refundable": True, "processing_mode": None,
            "created_at": now, "updated_at": now, "line_items": list_envelope(items),
            "shipping_lines": None, "tax_lines": None, "discount_lines": None, "charges": None,
        }

    def _new_charge(self, order, charge_request, token, card):
        brand, last4, kind = card
        now = order["created_at"]
        return {
            "id": object_id(), "livemode": False, "created_at": now, "currency": order["currency"],
            "failure_code": None, "failure_message": None, "monthly_installments": None,
            "device_fingerprint": None, "session_id": None, "channel": None,
            "payment_method": {"name": "Cliente Sandbox", "exp_month": "12", "exp_year": "30",
                               "auth_code": f"{secrets.randbelow(10**6):06d}", "object": "card_payment",
                               "type": kind, "normalized_device_fingerprint": None, "last4": last4,
                               "brand": brand, "issuer": "BANAMEX", "account_type": kind.capitalize(),
                               "contract_id": None, "country": "MX", "fraud_score": None, "fraud_indicators": [],
                               "token_id": token, "antifraud_is_self_service_rules": False,
                               "three_ds_flow_required": False},
            "object": "charge", "description": "Payment from order", "is_refundable": True,
            "reference_id": charge_request.get("reference_id"), "status": "paid", "amount": order["amount"],
            "paid_at": now, "customer_id": "", "order_id": order["id"], "refunds": None,
        }

    def _store(self, order, account=None):
        """Keeps a new order and reports it to its account's webhooks: order.created, then the
        event of its status (order.paid, order.pending_payment, order.declined, …)."""
        with self.lock:
            self.orders[order["id"]] = order
            self.order_ids.append(order["id"])
            self.order_accounts[order["id"]] = account
            self._order_event(order, "order.created")
            self._order_event(order, STATUS_EVENTS[order["payment_status"]])
        return 200, order

    # MARK: GET /orders, GET /orders/{id}

    def _order(self, identifier):
        with self.lock:
            order = self.orders.get(identifier)
        if order is None:
            raise not_found(identifier)
        return order

    def _list(self, request):
        query = dict(request.query)
        try:
            limit = int(query.get("limit", "20"))
            gte = int(query["created_at.gte"]) if "created_at.gte" in query else None
            lte = int(query["created_at.lte"]) if "created_at.lte" in query else None
        except ValueError:
            raise validation_error("limit", "limit and created_at filters must be integers") from None
        if not 1 <= limit <= 250:
            raise validation_error("limit", "limit must be between 1 and 250")
        search = query.get("search")
        with self.lock:
            # Newest first, as Conekta lists.
            matching = [self.orders[i] for i in reversed(self.order_ids)
                        if (gte is None or self.orders[i]["created_at"] >= gte)
                        and (lte is None or self.orders[i]["created_at"] <= lte)
                        and ("payment_status" not in query or self.orders[i]["payment_status"] == query["payment_status"])
                        and (search is None or self._search_matches(self.orders[i], search))]
        start = 0
        if "next" in query:
            ids = [o["id"] for o in matching]
            if query["next"] not in ids:
                raise validation_error("next", "The cursor is not an order of this listing.")
            start = ids.index(query["next"]) + 1
        page = matching[start:start + limit]
        has_more = start + limit < len(matching)
        body = {"object": "list", "has_more": has_more, "total": len(matching), "data": page}
        base = f"https://{request.headers.get('Host', '127.0.0.1')}/orders?"
        keep = [(k, v) for k, v in request.query if k not in ("next", "previous")]
        if has_more and page:
            body["next_page_url"] = base + urlencode(keep + [("next", page[-1]["id"])], quote_via=quote)
        if start > 0 and page:
            body["previous_page_url"] = base + urlencode(keep + [("previous", page[0]["id"])], quote_via=quote)
        return 200, body

    def _search_matches(self, order, search):
        if self.search_mode == "none":
            return False
        needle = search.lower()
        customer = order["customer_info"]
        fields = [order["id"], customer.get("email"), customer.get("name"), customer.get("phone")]
        for charge in (order.get("charges") or {}).get("data", []):
            # Conekta: "search by mail, reference etc."; an OXXO reference and a CLABE are the
            # references a customer quotes (docs/sources.md C7, C11).
            method = charge.get("payment_method") or {}
            fields += [charge.get("reference_id"), method.get("reference"), method.get("clabe")]
        return any(needle in str(f).lower() for f in fields if f)

    # MARK: refunds and cancel

    def _refund(self, identifier, request):
        order = self._order(identifier)
        body = self._json_body(request)
        violations = self.schemas.validate(body, "orderRefund_request") if isinstance(body, dict) else [
            {"path": "", "keyword": "type", "message": "expected object"}]
        if violations:
            raise validation_error(violations[0]["path"] or "body", violations[0]["message"])
        if body["reason"] not in REFUND_REASONS:
            raise validation_error("reason", "The reason is invalid.", "conekta.errors.parameter_validation.reason.invalid")
        amount = body["amount"]
        if amount <= 0:
            raise validation_error("amount", "The amount must be greater than 0.",
                                   "conekta.errors.parameter_validation.amount.number_is_not_greater_than")
        return self._apply_refund(order, amount)

    def _apply_refund(self, order, amount):
        """Refunds `amount` of a paid order (the API's refund and the dashboard's, a control) and
        reports order.refunded or order.partially_refunded."""
        with self.lock:
            if order["payment_status"] not in ("paid", "partially_refunded"):
                raise ApiError(428, "precondition_required_error",
                               "conekta.errors.precondition_required.combo.order.is_not_returnable",
                               {"es": "La orden no puede ser reembolsada.", "en": "The order can not be returned."})
            refundable = order["amount"] - order["amount_refunded"]
            if amount > refundable:
                raise validation_error("amount", f"The amount exceeds the refundable amount ({refundable}).",
                                       "conekta.errors.parameter_validation.refund.amount_exceeds_refundable")
            charge = order["charges"]["data"][0]
            refunds = charge["refunds"] or list_envelope([])
            refund = {"object": "refund", "amount": -amount, "id": object_id(), "created_at": int(time.time())}
            if charge["payment_method"].get("auth_code") is not None:
                # A card's authorisation code; a cash or SPEI charge has none to repeat.
                refund["auth_code"] = charge["payment_method"]["auth_code"]
            refunds["data"].append(refund)
            refunds["total"] = len(refunds["data"])
            charge["refunds"] = refunds
            order["amount_refunded"] += amount
            status = "refunded" if order["amount_refunded"] == order["amount"] else "partially_refunded"
            order["payment_status"] = charge["status"] = status
            order["is_refundable"] = charge["is_refundable"] = status != "refunded"
            order["updated_at"] = int(time.time())
            self._order_event(order, STATUS_EVENTS[status])
            return order

    def _cancel(self, identifier):
        order = self._order(identifier)
        with self.lock:
            if order["payment_status"] not in ("pending_payment", "pre_authorized") or identifier in self.uncancelable:
                # Inferred (docs/sources.md C5): a paid order is refunded, not canceled. A
                # tok_sandbox_3dslate_ order stands for a customer completing 3-D Secure while the
                # merchant cancels and the payment winning: its late order.paid comes with complete_3ds.
                raise ApiError(428, "precondition_required_error",
                               "conekta.errors.precondition_required.combo.order.cannot_be_canceled",
                               {"es": "La orden no puede ser cancelada.", "en": "The order can not be canceled."})
            order["payment_status"] = "canceled"
            order["is_refundable"] = False
            self.pay_later_due.pop(identifier, None)
            for charge in (order.get("charges") or {}).get("data", []):
                charge["status"] = "canceled"
                charge["is_refundable"] = False
            order["updated_at"] = int(time.time())
            self._order_event(order, "order.canceled")
            return order

    # MARK: webhook keys (POST/GET /webhook_keys, GET/PUT/DELETE /webhook_keys/{id})

    def _checked_body(self, request, schema, required=True):
        """The JSON object body of a request, valid against a schema of schemas/conekta-webhooks…;
        an empty body is {} unless required."""
        body = self._json_body(request)
        if body is None and not required:
            body = {}
        violations = self.webhook_schemas.validate(body, schema) if isinstance(body, dict) else [
            {"path": "", "keyword": "type", "message": "expected object"}]
        return body, violations

    def _raise_first(self, violations):
        if violations:
            first = violations[0]
            param = first["path"] or "body"
            code = None
            if first["keyword"] == "required":
                code = "conekta.errors.parameter_validation." + param + ".missing"
            raise validation_error(param, f'{param} {first["message"]}', code)

    @staticmethod
    def _key_view(key, fields=("active", "livemode", "created_at", "deactivated_at", "id", "object")):
        view = {"active": key["active"], "livemode": False, "created_at": key["created_at"],
                "deactivated_at": key["deactivated_at"], "deleted": True, "id": key["id"], "object": "webhook_key",
                "public_key": key["public_key"]}
        return {name: view[name] for name in fields}

    def _find(self, items, identifier, kind):
        for item in items:
            if item["id"] == identifier and not item.get("deleted"):
                return item
        raise not_found(identifier, kind)

    def _webhook_keys_api(self, request, account, parts):
        keys = self.webhook_keys.setdefault(account, [])
        if len(parts) == 1 and request.method == "POST":
            body, violations = self._checked_body(request, "webhook_key_request", required=False)
            self._raise_first(violations)
            identifier = object_id()
            path, public_key = self.key_maker.generate(identifier)  # Conekta keeps the private key
            now = int(time.time())
            active = body.get("active", True)
            key = {"id": identifier, "active": active, "created_at": now, "deactivated_at": None if active else now,
                   "public_key": public_key, "private_key_file": path, "deleted": False}
            with self.lock:
                keys.append(key)
            # The public key is in this answer only: listed or read later, a key shows no public_key.
            return self._key_view(key, ("active", "livemode", "created_at", "id", "object", "public_key"))
        if len(parts) == 1:
            with self.lock:
                data = [self._key_view(k) for k in reversed(keys) if not k["deleted"]]
            return {"next_page_url": None, "previous_page_url": None, "has_more": False, "object": "list", "data": data}
        with self.lock:
            key = self._find(keys, parts[1], "WebhookKey")
        if request.method == "GET":
            return self._key_view(key)
        if request.method == "PUT":
            body, violations = self._checked_body(request, "webhook_key_update_request", required=False)
            self._raise_first(violations)
            with self.lock:
                active = body.get("active", False)
                if active != key["active"]:
                    key["active"], key["deactivated_at"] = active, None if active else int(time.time())
                return self._key_view(key)
        with self.lock:  # DELETE
            key.update(deleted=True, active=False, deactivated_at=key["deactivated_at"] or int(time.time()))
            return self._key_view(key, ("active", "livemode", "created_at", "deleted", "id", "object"))

    def _signing_key(self, account):
        """The account's newest active webhook key, which signs its events; None: no Digest."""
        for key in reversed(self.webhook_keys.get(account, [])):
            if key["active"] and not key["deleted"]:
                return key
        return None

    # MARK: webhooks (POST/GET /webhooks, GET/PUT/DELETE /webhooks/{id}, POST /webhooks/{id}/test)

    def _check_url(self, url):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise validation_error("url", "The url must be an absolute http or https URL.",
                                   "conekta.errors.parameter_validation.url.invalid")

    def _webhook_violations(self, violations):
        if self.allow_loopback_webhooks:
            # The spec's pattern refuses localhost and 127.0.0.1; this sandbox's receivers are there.
            violations = [v for v in violations if not (v["path"] == "url" and v["keyword"] == "pattern")]
        return violations

    @staticmethod
    def _webhook_view(webhook):
        view = {"url": webhook["url"], "status": "listening" if webhook["active"] else "deactivated",
                "subscribed_events": list(webhook["subscribed_events"]), "synchronous": False, "id": webhook["id"],
                "object": "webhook", "livemode": False, "active": webhook["active"],
                "production_enabled": False, "development_enabled": True}
        if webhook.get("description") is not None:
            view["description"] = webhook["description"]
        return view

    def _webhooks_api(self, request, account, parts):
        hooks = self.webhooks.setdefault(account, [])
        if len(parts) == 1 and request.method == "POST":
            body, violations = self._checked_body(request, "webhook_request")
            self._raise_first(self._webhook_violations(violations))
            self._check_url(body["url"])
            webhook = {"id": object_id(), "url": body["url"], "active": True, "deleted": False,
                       "subscribed_events": list(body.get("subscribed_events") or self.default_subscribed_events),
                       "description": body.get("description") if isinstance(body.get("description"), str) else None}
            with self.lock:
                hooks.append(webhook)
                return self._webhook_view(webhook)
        if len(parts) == 1:
            url = dict(request.query).get("url")
            with self.lock:
                data = [self._webhook_view(w) for w in reversed(hooks)
                        if not w["deleted"] and (url is None or w["url"] == url)]
            return {"next_page_url": None, "previous_page_url": None, "has_more": False, "object": "list", "data": data}
        with self.lock:
            webhook = self._find(hooks, parts[1], "Webhook")
        if len(parts) == 3:  # POST /webhooks/{id}/test: a webhook_ping to this webhook alone
            self._emit(account, "webhook_ping", {"livemode": False, "action": "ping"}, only=[webhook])
            return self._webhook_view(webhook)
        if request.method == "GET":
            with self.lock:
                return self._webhook_view(webhook)
        if request.method == "PUT":
            body, violations = self._checked_body(request, "update_webhook")
            self._raise_first(self._webhook_violations(violations))
            if "url" in body:
                self._check_url(body["url"])
            with self.lock:
                for name in ("url", "subscribed_events", "active"):
                    if name in body:
                        webhook[name] = body[name]
                return self._webhook_view(webhook)
        with self.lock:  # DELETE: nothing more is delivered to it, retries included
            webhook["deleted"] = True
            return dict(self._webhook_view(webhook), deleted=True)

    def _still_wanted(self, delivery):
        """Asked by the deliverer before each attempt: a deleted or deactivated webhook gets no more."""
        if delivery.webhook_id is None:
            return True
        with self.lock:
            for hooks in self.webhooks.values():
                for webhook in hooks:
                    if webhook["id"] == delivery.webhook_id:
                        return webhook["active"] and not webhook["deleted"]
        return False

    def _targets(self, account, type_):
        return [w for w in self.webhooks.get(account, []) if w["active"] and not w["deleted"]
                and (type_ in w["subscribed_events"] or type_ == "webhook_ping")]

    # MARK: events: made, signed, delivered (GET /events, GET /events/{id}, POST /events/{id}/resend)

    @staticmethod
    def _body_of(event, data, logs):
        """An event body as delivered, in the key order of captured Conekta deliveries: its logs as
        they stand before the first attempt (no status yet: -1)."""
        return {"data": data, "livemode": False, "webhook_status": "pending" if logs else "not_applicable",
                "webhook_logs": [{"id": log["id"], "url": log["url"], "failed_attempts": 0, "last_http_response_status": -1,
                                  "object": "webhook_log", "last_attempted_at": event.created_at} for log in logs],
                "id": event.id, "object": "event", "type": event.type, "created_at": event.created_at}

    def _order_event(self, order, type_):
        """An event about an order, carrying the order as GET /orders/{id} answers it now. An
        account keeps events from its first webhook on: one that never registered any (the load
        tests' account) pays nothing for them."""
        account = self.order_accounts.get(order["id"])
        if self.webhooks.get(account):
            self._emit(account, type_, {"object": order, "previous_attributes": {}}, order["id"])

    def _charge_event(self, order, charge, type_, previous_attributes):
        """An event about an order's charge, carrying the charge as it is now and what changed (a
        captured charge.paid of an OXXO charge carries {"status": "pending_payment"})."""
        account = self.order_accounts.get(order["id"])
        if self.webhooks.get(account):
            self._emit(account, type_, {"object": charge, "previous_attributes": previous_attributes}, order["id"])

    def _emit(self, account, type_, data, order_id=None, only=None):
        """Makes an event, signed with the account's newest active webhook key, and delivers it to
        every active webhook of the account subscribed to its type (or to `only`)."""
        with self.lock:
            event = Event(object_id(), type_, account, order_id)
            targets = only if only is not None else self._targets(account, type_)
            for webhook in targets:
                event.logs[webhook["id"]] = {"id": prefixed_id("webhl_"), "url": webhook["url"]}
            key = self._signing_key(account)
            event.key_id = key and key["id"]
            body = compact_json(self._body_of(event, data, list(event.logs.values())))
            event.payload = Payload(body, signer=(lambda b, path=key["private_key_file"]: sign(path, b)) if key else None)
            self.events.append(event)
            self.event_index[event.id] = event
            for webhook in targets:
                self._deliver(event, webhook)
            return event

    def _deliver(self, event, webhook=None, url=None, kind="event"):
        with self.lock:
            if webhook is not None:
                url = webhook["url"]
                event.logs.setdefault(webhook["id"], {"id": prefixed_id("webhl_"), "url": url})
            delivery = Delivery(prefixed_id("dlv_"), event.id, url, event.payload, webhook and webhook["id"], kind)
            event.deliveries.append(delivery)
            if kind == "event" and self._lose(event, delivery):
                return delivery
            return self.deliverer.enqueue(delivery)

    def _lose(self, event, delivery):
        """Whether a drop rule takes this delivery (under the lock): then it is recorded as
        delivered, with a 200, and never sent."""
        for rule in self.drop_rules:
            if rule["remaining"] > 0 and rule["order_id"] in (None, event.order_id) and rule["type"] in (None, event.type):
                rule["remaining"] -= 1
                rule["dropped"].append({"delivery": delivery.id, "event_id": event.id, "type": event.type,
                                        "order_id": event.order_id, "url": delivery.url})
                with self.deliverer.cond:
                    delivery.lost = True
                    delivery.status = "delivered"
                    delivery.attempts.append({"attempt": 1, "at": time.time(), "status": 200, "error": None, "ms": 0.0,
                                              "reply": None})
                return True
        return False

    def _log_view(self, event, webhook_id):
        """A webhook_log as it stands: attempts of every delivery of the event to that webhook."""
        log = event.logs[webhook_id]
        attempts = [a for d in event.deliveries if d.webhook_id == webhook_id for a in d.attempts]
        last = max(attempts, key=lambda a: a["at"]) if attempts else None
        return {"id": log["id"], "url": log["url"],
                "failed_attempts": sum(1 for a in attempts if not (a["status"] and 200 <= a["status"] < 300)),
                "last_http_response_status": last["status"] if last and last["status"] is not None else -1,
                "object": "webhook_log", "last_attempted_at": int(last["at"]) if last else event.created_at,
                "response_data": {}}

    @staticmethod
    def _webhook_status(event):
        """successful when the latest delivery to each webhook succeeded, failed when one gave up,
        pending while one is under way, not_applicable when it went to no webhook."""
        latest = {}
        for delivery in event.deliveries:
            if delivery.webhook_id is not None:
                latest[delivery.webhook_id] = delivery.status
        if not latest:
            return "not_applicable"
        if all(status == "delivered" for status in latest.values()):
            return "successful"
        if any(status in ("held", "pending", "delivering", "retrying") for status in latest.values()):
            return "pending"
        return "failed"

    def _event_view(self, event):
        with self.lock, self.deliverer.cond:
            return {"data": event.data, "livemode": False, "webhook_status": self._webhook_status(event),
                    "webhook_logs": [self._log_view(event, w) for w in event.logs], "id": event.id,
                    "object": "event", "type": event.type, "created_at": event.created_at}

    def _account_event(self, account, identifier):
        with self.lock:
            event = self.event_index.get(identifier)
        if event is None or event.account != account:
            raise not_found(identifier, "Event")
        return event

    def _events_api(self, request, account, parts):
        if len(parts) == 1:
            query = dict(request.query)
            try:
                limit = int(query.get("limit", "20"))
            except ValueError:
                raise validation_error("limit", "limit must be an integer") from None
            if not 1 <= limit <= 250:
                raise validation_error("limit", "limit must be between 1 and 250")
            with self.lock:
                mine = [e for e in reversed(self.events) if e.account == account]
            start = 0
            if "next" in query:
                ids = [e.id for e in mine]
                if query["next"] not in ids:
                    raise validation_error("next", "The cursor is not an event of this listing.")
                start = ids.index(query["next"]) + 1
            page = mine[start:start + limit]
            has_more = start + limit < len(mine)
            base = f"https://{request.headers.get('Host', '127.0.0.1')}/events?"
            return {"next_page_url": base + urlencode([("limit", limit), ("next", page[-1].id)]) if has_more and page else None,
                    "previous_page_url": None, "has_more": has_more, "object": "list",
                    "data": [self._event_view(e) for e in page]}
        event = self._account_event(account, parts[1])
        if len(parts) == 2:
            return self._event_view(event)
        body, violations = self._checked_body(request, "resendEvent_request")  # POST /events/{id}/resend
        self._raise_first(violations)
        with self.lock:
            hooks = [self._find(self.webhooks.get(account, []), i, "Webhook") for i in body["webhooks_ids"]]
        if not hooks:
            raise validation_error("webhooks_ids", "webhooks_ids must name at least one webhook.")
        for webhook in hooks:
            self._deliver(event, webhook, kind="resend")
        with self.lock, self.deliverer.cond:
            log = self._log_view(event, hooks[0]["id"])
        return {name: log[name] for name in ("failed_attempts", "id", "last_attempted_at", "last_http_response_status",
                                             "response_data", "url")}

    def _sandbox_event_view(self, event, body=False):
        with self.lock, self.deliverer.cond:
            view = {"id": event.id, "type": event.type, "account": event.account, "order_id": event.order_id,
                    "created_at": event.created_at, "key_id": event.key_id, "webhook_status": self._webhook_status(event),
                    "deliveries": [d.view() for d in event.deliveries]}
        if body:
            view["body"] = event.payload.body.decode("utf-8")
            view["digest"] = event.payload.headers().get("Digest")
        return view

    # MARK: control

    def control(self, request):
        """The Conekta sandbox's own /_sandbox/ endpoints (the module docstring lists them)."""
        what = request.path[len("/_sandbox/"):]
        parts = [p for p in what.split("/") if p]
        try:
            payload = (request.json() if request.body else None) or {}
        except (ValueError, UnicodeDecodeError):
            return control_error(400, "the body is not JSON")
        if not isinstance(payload, dict):
            return control_error(400, "the body must be a JSON object")
        try:
            if parts == ["orders", "bulk"] and request.method == "POST":
                return self._bulk(payload)
            if len(parts) == 3 and parts[0] == "orders" and request.method == "POST":
                action = {"refund": self._control_refund, "chargeback": self._control_chargeback,
                          "complete_3ds": self._control_complete_3ds, "expire": self._control_expire,
                          "pay": self._control_pay}.get(parts[2])
                if action is None:
                    return None
                with self.lock:
                    order = self.orders.get(parts[1])
                if order is None:
                    return control_error(404, f"no order {parts[1]}")
                return action(order, payload)
            if parts == ["expiry"]:
                return self._control_expiry(request, payload)
            if parts[:1] == ["events"]:
                return self._control_events(request, parts, payload)
            if parts[:1] == ["webhooks"] and len(parts) == 2:
                return self._control_webhooks(request, parts[1], payload)
        except ApiError as error:
            return control_error(error.status, f"{error.code}: {error.debug_message}")
        except (ValueError, TypeError) as error:
            return control_error(422, str(error))
        return None

    # MARK: control: what happens to an order outside the API

    def _control_refund(self, order, payload):
        """POST /_sandbox/orders/{id}/refund {"amount"?}: a refund made in Conekta's dashboard
        (default: what is left to refund)."""
        amount = payload.get("amount", order["amount"] - order["amount_refunded"])
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return control_error(422, "amount must be a positive integer (cents)")
        return Reply(200, self._apply_refund(order, amount))

    def _control_chargeback(self, order, payload):
        """POST /_sandbox/orders/{id}/chargeback: the card holder disputed the charge."""
        with self.lock:
            if order["payment_status"] not in ("paid", "partially_refunded"):
                return control_error(409, f"a {order['payment_status']} order cannot be charged back")
            if self._pay_later_charge(order) is not None:
                # docs/sources.md C11: cash at the store and SPEI transfers have no chargebacks.
                return control_error(409, "cash and SPEI payments cannot be charged back")
            for charge in order["charges"]["data"]:
                charge.update(status="charged_back", is_refundable=False)
            order.update(payment_status="charged_back", is_refundable=False, updated_at=int(time.time()))
            self._order_event(order, "order.charged_back")
            return Reply(200, order)

    def _control_complete_3ds(self, order, payload):
        """POST /_sandbox/orders/{id}/complete_3ds {"even_if_canceled"?}: the customer finished
        3-D Secure; the order is paid with the charge its POST asked for."""
        with self.lock:
            pending = self.pending_3ds.get(order["id"])
            status = order["payment_status"]
            if pending is None:
                return control_error(409, "not a 3-D Secure order awaiting its customer")
            if status != "pending_payment" and not (status == "canceled" and payload.get("even_if_canceled") is True):
                return control_error(409, f"a {status} order cannot be completed"
                                          + (" (even_if_canceled: true forces it)" if status == "canceled" else ""))
            charge_request, token, card = pending
            charge = self._new_charge(order, charge_request, token, card)
            now = int(time.time())
            charge.update(created_at=now, paid_at=now)
            order.update(payment_status="paid", charges=list_envelope([charge]), is_refundable=True, updated_at=now)
            del self.pending_3ds[order["id"]]
            self._order_event(order, "order.paid")
            return Reply(200, order)

    def _control_expire(self, order, payload):
        """POST /_sandbox/orders/{id}/expire: a pending or pre-authorized order ran out of time."""
        with self.lock:
            if order["payment_status"] not in ("pending_payment", "pre_authorized"):
                return control_error(409, f"a {order['payment_status']} order cannot expire")
            self._expire(order)
            return Reply(200, order)

    def _expire(self, order):
        """Expires an order (under the lock): its charges and itself, charge.expired for a cash or
        SPEI charge (docs/sources.md C11), then order.expired."""
        pay_later = self._pay_later_charge(order)
        previous = pay_later and pay_later["status"]
        for charge in (order.get("charges") or {}).get("data", []):
            charge.update(status="expired", is_refundable=False)
        order.update(payment_status="expired", is_refundable=False, updated_at=int(time.time()))
        self.pending_3ds.pop(order["id"], None)
        self.pay_later_due.pop(order["id"], None)
        if pay_later is not None:
            self._charge_event(order, pay_later, "charge.expired", {"status": previous})
        self._order_event(order, "order.expired")

    def _expiry_loop(self):
        """Expires cash and SPEI orders still pending at their expires_at, as Conekta does (the
        mock's expired OXXO and SPEI charges), checking four times a second."""
        while True:
            time.sleep(0.25)
            if not self.auto_expire:
                continue
            now = time.time()
            with self.lock:
                for identifier in [i for i, at in self.pay_later_due.items() if at <= now]:
                    order = self.orders.get(identifier)
                    if order is not None and order["payment_status"] == "pending_payment":
                        self._expire(order)
                    self.pay_later_due.pop(identifier, None)

    def _control_expiry(self, request, payload):
        """GET|POST /_sandbox/expiry {"auto"?: bool}: whether cash and SPEI orders expire by
        themselves at their expires_at."""
        if request.method == "POST" and "auto" in payload:
            if not isinstance(payload["auto"], bool):
                return control_error(422, "auto must be true or false")
            self.auto_expire = payload["auto"]
        with self.lock:
            return Reply(200, {"auto": self.auto_expire, "pending": len(self.pay_later_due)})

    def _control_pay(self, order, payload):
        """POST /_sandbox/orders/{id}/pay {"force"?}: the customer paid a cash order at the store
        or a SPEI order by transfer. A dead reference cannot be paid (409): an expired or canceled
        order, or one past its expires_at; "force": true pays it anyway, for a late payment."""
        force = payload.get("force", False)
        if not isinstance(force, bool):
            return control_error(422, "force must be true or false")
        with self.lock:
            charge = self._pay_later_charge(order)
            status = order["payment_status"]
            if charge is None:
                return control_error(409, "not a cash or SPEI order (a 3-D Secure card order is paid by complete_3ds)")
            if status not in ("pending_payment", "expired", "canceled"):
                return control_error(409, f"a {status} order cannot be paid")
            method = charge["payment_method"]
            now = int(time.time())
            if not force and (status != "pending_payment" or now >= method["expires_at"]):
                what = "OXXO reference" if method["object"] == "cash_payment" else "CLABE"
                why = f"the order is {status}" if status != "pending_payment" else \
                    f"it expired at {method['expires_at']} (now {now})"
                return control_error(409, f"the {what} is dead: {why}; force: true pays it anyway")
            previous = charge["status"]
            if method["object"] == "bank_transfer_payment":
                # What a received transfer carries: who sent it and SPEI's tracking key.
                method.update(issuing_account_holder_name="CLIENTE SANDBOX", issuing_account_bank="BBVA MEXICO",
                              issuing_account_number=self._new_clabe("012180"),
                              tracking_code=f"SANDBOX{now}{secrets.randbelow(10 ** 6):06d}",
                              reference_number=f"{secrets.randbelow(10 ** 7):07d}")
            charge.update(status="paid", paid_at=now, is_refundable=True)
            order.update(payment_status="paid", is_refundable=True, updated_at=now)
            self.pay_later_due.pop(order["id"], None)
            self._charge_event(order, charge, "charge.paid", {"status": previous})
            self._order_event(order, "order.paid")
            return Reply(200, order)

    # MARK: control: events and their delivery

    def _control_events(self, request, parts, payload):
        """GET /_sandbox/events[?order_id=&type=&account=], GET /_sandbox/events/{id} (with the
        body as sent and its Digest), POST /_sandbox/events/{id}/redeliver {"url"?}."""
        if len(parts) == 1 and request.method == "GET":
            query = dict(request.query)
            with self.lock:
                events = [e for e in self.events if all(
                    query.get(name) in (None, value) for name, value in
                    (("order_id", e.order_id), ("type", e.type), ("account", e.account)))]
            return Reply(200, [self._sandbox_event_view(e) for e in events])
        with self.lock:
            event = self.event_index.get(parts[1]) if len(parts) > 1 else None
        if event is None:
            return control_error(404, "no such event")
        if len(parts) == 2 and request.method == "GET":
            return Reply(200, self._sandbox_event_view(event, body=True))
        if parts[2:] == ["redeliver"] and request.method == "POST":
            # The same id, bytes and Digest again: to the given URL, or to the account's webhooks.
            if payload.get("url"):
                deliveries = [self._deliver(event, url=payload["url"], kind="redelivery")]
            else:
                with self.lock:
                    targets = [w for w in self.webhooks.get(event.account, []) if w["active"] and not w["deleted"]
                               and (w["id"] in event.logs or event.type in w["subscribed_events"])]
                if not targets:
                    return control_error(409, "the event's account has no webhook to deliver it to")
                deliveries = [self._deliver(event, webhook, kind="redelivery") for webhook in targets]
            return Reply(200, {"event": event.id, "deliveries": [d.id for d in deliveries]})
        return None

    def _control_webhooks(self, request, what, payload):
        """POST /_sandbox/webhooks/pause, /resume {"order": "fifo"|"reverse"}, /config {...},
        GET /_sandbox/webhooks/config, POST /_sandbox/webhooks/forge {...}."""
        if what == "config" and request.method == "GET":
            return Reply(200, self.deliverer.config())
        if what == "drop" and request.method == "GET":
            with self.lock:
                return Reply(200, [dict(r) for r in self.drop_rules])
        if request.method != "POST":
            return None
        if what == "drop":
            return self._control_drop(payload)
        if what == "pause":
            return Reply(200, self.deliverer.pause())
        if what == "resume":
            return Reply(200, self.deliverer.resume(payload.get("order", "fifo")))
        if what == "config":
            return Reply(200, self.deliverer.configure(**{k: payload.get(k) for k in (
                "retry_ms", "max_retry_ms", "attempts", "timeout_ms", "delay_ms")}))
        if what == "forge":
            return self._forge(payload)
        return None

    def _control_drop(self, payload):
        """POST /_sandbox/webhooks/drop {"order_id"?, "type"?, "count"?: 1}: loses the next
        `count` deliveries of matching events (see _lose)."""
        count = payload.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            return control_error(422, "count must be a positive integer")
        for name in ("order_id", "type"):
            if payload.get(name) is not None and not isinstance(payload[name], str):
                return control_error(422, f"{name} must be a string")
        rule = {"id": prefixed_id("drop_"), "order_id": payload.get("order_id"), "type": payload.get("type"),
                "count": count, "remaining": count, "dropped": []}
        with self.lock:
            self.drop_rules.append(rule)
            return Reply(200, dict(rule))

    def _forger(self):
        with self.lock:
            if self.forger_key is None:
                self.forger_key = self.key_maker.generate("forger")
            return self.forger_key

    def _forge(self, payload):
        """POST /_sandbox/webhooks/forge {"order_id" | "event_id", "type"?, "signature"?, "object"?,
        "url"?}: an event Conekta never sent. From an order (as it is now) or from an event (its
        data, type and id: a replay with another body); "object" is merged into data.object; sent
        to `url` or to the account's webhooks. signature: valid (the account's key: a lying body),
        other_key (a key of no account, the default), garbled (the account's signature with one bit
        flipped), tampered (the account's signature of the body before "object" was merged; default
        object {"payment_status": "paid"}), none (no Digest)."""
        mode = payload.get("signature", "other_key")
        if mode not in FORGERIES:
            return control_error(422, f"signature must be one of {list(FORGERIES)}")
        overrides = payload.get("object") or ({"payment_status": "paid"} if mode == "tampered" else {})
        if not isinstance(overrides, dict):
            return control_error(422, "object must be a JSON object")
        with self.lock:
            source = self.event_index.get(payload.get("event_id") or "")
            order = self.orders.get(payload.get("order_id") or "")
            if source is not None and order is None:
                account, data, type_ = source.account, source.data, payload.get("type", source.type)
            elif order is not None:
                account, type_ = self.order_accounts.get(order["id"]), payload.get("type", "order.paid")
                data = {"object": copy.deepcopy(order), "previous_attributes": {}}
            else:
                return control_error(404, "order_id must name an order, or event_id an event")
            targets = [] if payload.get("url") else [w for w in self.webhooks.get(account, []) if w["active"] and not w["deleted"]]
            key = self._signing_key(account)
        if not targets and not payload.get("url"):
            return control_error(409, "the account has no webhook: give a url")
        if mode in ("valid", "tampered") and key is None:
            return control_error(409, f"a {mode} signature needs a webhook key of the order's account")
        event = Event(payload.get("event_id") or object_id(), type_, account,
                      order["id"] if order is not None else source.order_id)
        logs = [{"id": prefixed_id("webhl_"), "url": w["url"]} for w in targets] or [
            {"id": prefixed_id("webhl_"), "url": payload["url"]}]
        genuine = compact_json(self._body_of(event, data, logs))
        if isinstance(data.get("object"), dict):
            data["object"].update(overrides)
        body = compact_json(self._body_of(event, data, logs))
        signer = self._forger()[0] if mode == "other_key" or (mode == "garbled" and key is None) else key and key["private_key_file"]
        digest = None
        if mode in ("valid", "other_key"):
            digest = sign(signer, body)
        elif mode == "tampered":
            digest = sign(signer, genuine)
        elif mode == "garbled":
            raw = bytearray(base64.b64decode(sign(signer, body)))
            raw[len(raw) // 2] ^= 0x01
            digest = base64.b64encode(bytes(raw)).decode("ascii")
        event.payload = Payload(body, digest=digest)
        with self.lock:
            forgery = {"id": event.id, "type": type_, "signature": mode, "account": account, "order_id": event.order_id,
                       "body": body.decode("utf-8"), "digest": digest, "deliveries": []}
            self.forgeries.append((forgery, event))
        if payload.get("url"):
            deliveries = [self._deliver(event, url=payload["url"], kind="forged")]
        else:
            deliveries = [self._deliver(event, url=w["url"], kind="forged") for w in targets]
        return Reply(200, dict(forgery, deliveries=[d.id for d in deliveries]))

    def _bulk(self, payload):
        """POST /_sandbox/orders/bulk {"count", "created_at"?}: that many paid orders of other
        attempts, created at one time (default now), to load an account the way a busy one is
        (the look-up tests: thousands of orders in an attempt's window). Built from one order
        made the ordinary way, so they list exactly like real ones; no events."""
        count = int(payload.get("count", 0))
        created_at = int(payload.get("created_at", time.time()))
        body = {"currency": "MXN", "customer_info": {"name": "Carga", "email": "carga@example.com", "phone": "5512345678"},
                "line_items": [{"name": "Carga", "unit_price": 1500, "quantity": 1}]}
        template = self._new_order(body, 1500)
        card = ("visa", "4242", "credit")
        template["charges"] = list_envelope([self._new_charge(template, {"reference_id": ""}, "tok_bulk", card)])
        template.update(payment_status="paid", created_at=created_at, updated_at=created_at)
        text = json.dumps(template)
        made = []
        for _ in range(count):
            attempt = str(uuid.uuid4())
            order = json.loads(text)
            order["id"] = order_id()
            order["metadata"] = {"attempt_id": attempt}
            order["charges"]["data"][0].update(id=object_id(), order_id=order["id"], reference_id=attempt)
            made.append(order)
        with self.lock:
            for order in made:
                self.orders[order["id"]] = order
                self.order_ids.append(order["id"])
            total = len(self.order_ids)
        return Reply(200, {"created": count, "orders": total})

    # MARK: state

    def state(self):
        orders = []
        for identifier in self.order_ids:
            order = self.orders[identifier]
            charge = ((order.get("charges") or {}).get("data") or [None])[0]
            orders.append({
                "id": identifier, "payment_status": order["payment_status"], "amount": order["amount"],
                "amount_refunded": order["amount_refunded"], "currency": order["currency"],
                "metadata": order["metadata"], "created_at": order["created_at"],
                "charge_status": charge and charge["status"], "reference_id": charge and charge["reference_id"],
                "token": charge and charge["payment_method"].get("token_id"),
                "method": charge and charge["payment_method"].get("type"),
                "reference": charge and (charge["payment_method"].get("reference") or charge["payment_method"].get("clabe")),
                "expires_at": charge and charge["payment_method"].get("expires_at"),
                "refunds": [-r["amount"] for r in ((charge or {}).get("refunds") or {}).get("data", [])],
            })
        # Events and their deliveries are in GET /_sandbox/events (an account's traffic can be large).
        keys = [dict(self._key_view(k, ("id", "active", "created_at", "deactivated_at", "public_key")), account=account,
                     deleted=k["deleted"]) for account, items in self.webhook_keys.items() for k in items]
        hooks = [dict(self._webhook_view(w), account=account, deleted=w["deleted"])
                 for account, items in self.webhooks.items() for w in items]
        return {"orders": orders, "tokens": self.tokens, "js_tokens": self.js_tokens, "create_requests": self.requests,
                "schema_violations": [v for r in self.requests for v in r["violations"]],
                "webhook_keys": keys, "webhooks": hooks, "events": len(self.events),
                "forgeries": [f for f, _ in self.forgeries], "webhook_delivery": self.deliverer.config(),
                "drop_rules": [dict(r) for r in self.drop_rules], "auto_expire": self.auto_expire}


class Drop500(ApiError):
    """500 with an empty body, as the recorded mock sometimes answers."""

    def __init__(self):
        super().__init__(500, "api_error", "conekta.errors.api.system.general_failure", "")

    def reply(self, language, headers):
        return Reply(500, b"", headers={"Content-Type": headers.get("Content-Type", "application/json")},
                     content_type=None)


if __name__ == "__main__":
    serve(ConektaApp())
