"""Card testing (CONTRACT §8): declined payments per device, per client address and per router
within a window are limited with 429 `demasiados_intentos`, while other customers keep paying."""

import uuid

import pytest

from conftest import running_stack
from invariants import check_invariants, pay

LIMITS = {"HOTSPOT_DECLINES_PER_MAC": "2", "HOTSPOT_DECLINES_PER_ADDRESS": "4", "HOTSPOT_DECLINES_PER_ROUTER": "100",
          "HOTSPOT_DECLINE_WINDOW_SECONDS": "600"}


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(threads=4, extra_env=LIMITS)


def declined(stack, **fields):
    reply = pay(stack, token_tarjeta="tok_sandbox_declined_" + uuid.uuid4().hex, **fields)
    assert reply.status == 402 and reply.body["codigo"] == "pago_declinado", reply
    return reply


def orders_with_token(stack, token):
    return [o for o in stack.conekta.control("GET", "state")["orders"] if token in str(o)]


def test_declines_from_one_device_are_limited_and_others_keep_paying(stack):
    device = "AA:BB:CC:00:00:01"
    declined(stack, mac_cliente=device)
    declined(stack, mac_cliente=device)
    token = "tok_sandbox_paid_" + uuid.uuid4().hex
    users_before = len(stack.router.control("GET", "state")["users"])
    refused = pay(stack, token_tarjeta=token, mac_cliente=device)
    assert refused.status == 429 and refused.body["codigo"] == "demasiados_intentos", refused
    assert refused.headers.get("Retry-After")
    assert orders_with_token(stack, token) == [], "a refused attempt must not charge"
    assert len(stack.router.control("GET", "state")["users"]) == users_before, "nor create a user"
    attempt = stack.postgres.psql(f"SELECT state, reason FROM payment_attempts WHERE id = '{refused.body['id_intento']}'")
    assert attempt[0][0] == "failed" and "card testing" in attempt[0][1]
    other = pay(stack, mac_cliente="AA:BB:CC:00:00:02")
    assert other.status == 200, other
    check_invariants(stack)


def test_declines_from_one_address_are_limited(stack):
    # Two declines came from this address in the previous test; two more reach its limit of four.
    declined(stack)
    declined(stack)
    refused = pay(stack, mac_cliente="AA:BB:CC:00:00:03")
    assert refused.status == 429 and refused.body["codigo"] == "demasiados_intentos", refused
    check_invariants(stack)
