"""Hostile input (issue 7): injection strings in every field of the payment body and in the key
header. Structured fields refuse them with a clean 422 JSON and nothing reaches the router or
Conekta; free text that is merely odd is carried as data, never as SQL or a RouterOS query."""

import json
import urllib.request

import pytest

from conftest import running_stack
from invariants import check_invariants, pay

HOSTILE = {
    "sql": "x' OR '1'='1'; DROP TABLE payment_attempts; --",
    "routeros": "?name=a&.proplist=password,.id",
    "star": "*1",
    "crlf": "a\r\nX-Injected: 1",
    "nul": "a\u0000b",
    "overlong": "A" * 10_000,
    "script": "<script>alert(1)</script>",
}
STRUCTURED = ["producto_id", "token_tarjeta", "email_cliente", "telefono_cliente", "mac_cliente", "ip_cliente",
              "conexion_automatica"]
FREE_TEXT = ["nombre_cliente", "info_dispositivo", "tipo_usuario"]


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(threads=4, extra_env={"HOTSPOT_DECLINES_PER_ADDRESS": "0"})


def backend_calls(stack):
    return len(stack.router.control("GET", "calls")) + len(stack.conekta.control("GET", "calls"))


@pytest.mark.parametrize("field", STRUCTURED)
def test_hostile_values_in_structured_fields_are_refused_and_reach_nothing(stack, field):
    before = backend_calls(stack)
    for name, value in HOSTILE.items():
        reply = pay(stack, **{field: value})
        assert reply.status in (413, 422), (field, name, reply)
        assert isinstance(reply.body, dict) and reply.body["codigo"] in ("solicitud_invalida", "cuerpo_demasiado_grande"), reply
    assert backend_calls(stack) == before, f"a hostile {field} reached the router or Conekta"


@pytest.mark.parametrize("field", FREE_TEXT)
def test_odd_free_text_is_data_and_control_characters_are_refused(stack, field):
    for name, value in HOSTILE.items():
        before = backend_calls(stack)
        reply = pay(stack, **{field: value})
        if name in ("crlf", "nul", "overlong"):
            assert reply.status in (413, 422) and backend_calls(stack) == before, (field, name, reply)
            continue
        assert reply.status == 200, (field, name, reply)
        if field == "nombre_cliente":
            assert reply.body["cliente"]["nombre"] == value
            stored = stack.postgres.psql(f"SELECT customer_name FROM payment_attempts WHERE order_id = '{reply.body['id_transaccion']}'")
            assert stored[0][0] == value
    assert stack.postgres.psql("SELECT to_regclass('payment_attempts') IS NOT NULL")[0][0] == "t"
    check_invariants(stack)


def test_non_utf8_bodies_are_refused(stack):
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        body = (b'{"producto_id":1,"token_tarjeta":"tok_x","nombre_cliente":"\xff\xfe","email_cliente":"a@b.c"}'
                if content_type == "application/json" else b"producto_id=1&nombre_cliente=%ff%fe&token_tarjeta=t&email_cliente=a%40b.c")
        request = urllib.request.Request(f"http://127.0.0.1:{stack.port}/api/v1/payments/pagar-conekta", data=body, method="POST",
                                         headers={"Content-Type": content_type, "X-API-Key": stack.api_key})
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("a non-UTF-8 body was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 422 and json.loads(error.read())["codigo"] == "solicitud_invalida"


# Headers cannot carry control characters (nginx refuses such requests itself).
@pytest.mark.parametrize("name", [n for n, v in HOSTILE.items() if not any(ord(c) < 0x20 for c in v)])
def test_hostile_api_keys_are_clean_401s(stack, name):
    value = HOSTILE[name]
    for header in ("X-API-Key", "Authorization"):
        presented = value if header == "X-API-Key" else "Bearer " + value
        status, headers, body = stack.request("GET", "/api/v1/catalogo_perfiles_venta", headers={header: presented})
        assert headers["Content-Type"].startswith("application/json"), (name, header, body)
        if name == "overlong":  # nginx refuses 10 kB headers itself, as JSON too (CONTRACT §3)
            assert status == 400 and body["codigo"] == "encabezados_demasiado_grandes", (name, header, body)
        else:
            assert status == 401 and body["codigo"] in ("api_key_malformada", "api_key_requerida"), (name, header, body)
