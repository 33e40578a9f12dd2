"""Issue 2 end to end, through the real nginx rendered from deploy/nginx.conf."""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from conftest import forge_key, get, other_company

CATALOGUE = "/api/v1/catalogo_perfiles_venta"


def codigo(reply):
    return reply[2]["codigo"] if isinstance(reply[2], dict) else None


def test_nginx_accepts_the_production_config(stack):
    conf = os.path.join(stack.nginx_prefix, "nginx.conf")
    result = subprocess.run(["nginx", "-t", "-p", stack.nginx_prefix, "-c", conf, "-e", os.path.join(stack.nginx_prefix, "error.log")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_health_needs_no_key(stack):
    status, _, body = get(stack, "/health")
    assert (status, body) == (200, {"status": "ok", "database": "ok"})


def test_catalogue_with_either_header(stack):
    for bearer in (False, True):
        status, headers, body = get(stack, CATALOGUE, stack.api_key, bearer=bearer)
        assert status == 200
        assert headers["Content-Type"].startswith("application/json")
        assert [p["nombre_venta"] for p in body] == ["1 Hora de Internet", "1 Día de Internet"]
        first = body[0]
        assert set(first) == {"id", "nombre_venta", "descripcion", "precio", "moneda", "perfil_mikrotik_nombre", "tiempo_uso",
                              "datos_bytes", "vigencia", "detalles", "imagen_url", "destacado", "orden"}
        assert (first["precio"], first["moneda"], first["perfil_mikrotik_nombre"]) == (15.0, "MXN", "1hora")
        # What the product sells: its uptime limit, no data limit, no validity (CONTRACT §11).
        assert (first["tiempo_uso"], first["datos_bytes"], first["vigencia"]) == ("1h", None, None)
        assert first["detalles"] == ["Velocidad 5 Mbps", "1 dispositivo"]


def test_prices_are_json_numbers_with_two_decimals(stack):
    url = f"http://127.0.0.1:{stack.port}{CATALOGUE}"
    raw = urllib.request.urlopen(urllib.request.Request(url, headers={"X-API-Key": stack.api_key})).read().decode()
    assert '"precio":15.00' in raw and '"precio":49.90' in raw


def test_one_product_and_config(stack):
    product = stack.ids["products"][1]
    status, _, body = get(stack, f"{CATALOGUE}/{product}", stack.api_key)
    assert status == 200 and body["id"] == product and body["precio"] == 49.9
    status, _, body = get(stack, "/api/v1/config/public", stack.api_key)
    assert status == 200
    assert body["empresa"] == {"id": stack.ids["company"], "nombre": "Café Demo", "conekta_public_key": "key_sandbox_public",
                               "metodos_pago": ["tarjeta"]}
    assert body["router"]["nombre"] == "Router Terraza"
    assert "private" not in json.dumps(body)


def test_config_names_the_payment_methods_the_company_turned_on(stack):
    """The payment page offers what config/public names (CONTRACT §12): cards, then the pay-later
    methods the operator turned on, in a fixed order; another company's offer is its own."""
    tenant = stack.ctl("company", "add", "--name", "Con pago diferido")["id"]
    router = stack.ctl("router", "add", "--company", str(tenant), "--name", "R", "--url", stack.router.url,
                       "--user", "api", "--password", "x", "--insecure")["id"]
    key = stack.ctl("key", "issue", "--router", str(router))["api_key"]
    assert get(stack, "/api/v1/config/public", key)[2]["empresa"]["metodos_pago"] == ["tarjeta"]
    for offer, expected in (("spei,oxxo", ["tarjeta", "oxxo", "spei"]), ("spei", ["tarjeta", "spei"]), ("none", ["tarjeta"])):
        stack.ctl("company", "set", str(tenant), "--pay-later", offer)
        # The keys' cache carries the company's offer for a few seconds.
        reply = wait_for(lambda: get(stack, "/api/v1/config/public", key),
                         lambda r, expected=expected: r[0] == 200 and r[2]["empresa"]["metodos_pago"] == expected)
        assert reply[2]["empresa"]["metodos_pago"] == expected, (offer, reply)
        assert get(stack, "/api/v1/config/public", stack.api_key)[2]["empresa"]["metodos_pago"] == ["tarjeta"]


def wait_for(ask, done, seconds=8):
    deadline = time.time() + seconds
    reply = ask()
    while not done(reply) and time.time() < deadline:
        time.sleep(0.2)
        reply = ask()
    return reply


def test_another_companys_product_is_not_found(stack):
    other = other_company(stack)
    status, _, body = get(stack, f"{CATALOGUE}/{other['product']}", stack.api_key)
    assert status == 404 and body["codigo"] == "producto_no_encontrado" and body["detail"] == "Producto no encontrado"
    status, _, body = get(stack, f"{CATALOGUE}/{stack.ids['products'][0]}", other["key"])
    assert status == 404
    status, _, body = get(stack, CATALOGUE, other["key"])
    assert status == 200 and [p["nombre_venta"] for p in body] == ["Otro plan"]


def test_each_auth_failure_has_its_own_code(stack):
    key = stack.api_key
    header, payload, signature = key[4:].split(".")
    claims = {"jti": stack.ids["key_id"], "sub": str(stack.ids["router"]), "empresa": str(stack.ids["company"]), "iat": 1,
              "type": "router_api_key"}
    cases = {
        "missing": (None, 401, "api_key_requerida"),
        "no prefix": (key[4:], 401, "api_key_malformada"),
        "garbage": ("jwt_garbage", 401, "api_key_malformada"),
        "bad signature": (f"jwt_{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}", 401, "api_key_invalida"),
        "alg none": (forge_key(stack, claims, header={"alg": "none"}, secret=b""), 401, None),
        "other secret": (forge_key(stack, claims, secret=b"another-secret-another-secret-xx"), 401, "api_key_invalida"),
        "not in database": (forge_key(stack, {**claims, "jti": "key_0000000000000000"}), 401, "api_key_desconocida"),
        "claims of another router": (forge_key(stack, {**claims, "sub": "999"}), 401, "api_key_desconocida"),
        "expired": (forge_key(stack, {**claims, "exp": 2}), 401, "api_key_expirada"),
    }
    for name, (presented, status, code) in cases.items():
        reply = get(stack, CATALOGUE, presented)
        assert reply[0] == status, name
        assert reply[1]["Content-Type"].startswith("application/json"), name
        assert code is None or codigo(reply) == code, (name, reply[2])
        assert reply[2]["detail"], name


def wait_for_status(stack, path, key, status, seconds=6, code=None):
    """Polls until the reply has `status` (and `code`): caches may answer the old way for ≤ 5 s."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        reply = get(stack, path, key)
        if reply[0] == status and (code is None or codigo(reply) == code):
            return reply
        time.sleep(0.2)
    return reply


def test_revoked_key_stops_within_five_seconds(stack):
    issued = stack.ctl("key", "issue", "--router", str(stack.ids["router"]), "--label", "to revoke")
    assert get(stack, CATALOGUE, issued["api_key"])[0] == 200
    stack.ctl("key", "revoke", issued["key_id"])
    started = time.time()
    reply = wait_for_status(stack, CATALOGUE, issued["api_key"], 401)
    assert reply[0] == 401 and codigo(reply) == "api_key_revocada"
    assert time.time() - started <= 5.5
    assert get(stack, CATALOGUE, stack.api_key)[0] == 200  # other keys unaffected


def test_expired_key_row(stack):
    issued = stack.ctl("key", "issue", "--router", str(stack.ids["router"]), "--expires-days", "0")
    reply = get(stack, CATALOGUE, issued["api_key"])
    assert reply[0] == 401 and codigo(reply) == "api_key_expirada"


def test_inactive_router_and_company_are_forbidden(stack):
    company = stack.ctl("company", "add", "--name", "Temporal")["id"]
    router = stack.ctl("router", "add", "--company", str(company), "--name", "R", "--url", stack.router.url,
                       "--user", "api", "--password", "x", "--insecure")["id"]
    key = stack.ctl("key", "issue", "--router", str(router))["api_key"]
    assert get(stack, CATALOGUE, key)[0] == 200
    stack.ctl("router", "disable", str(router))
    reply = wait_for_status(stack, CATALOGUE, key, 403)
    assert reply[0] == 403 and codigo(reply) == "router_inactivo"
    stack.ctl("router", "enable", str(router))
    stack.ctl("company", "disable", str(company))
    reply = wait_for_status(stack, CATALOGUE, key, 403, code="empresa_inactiva")
    assert reply[0] == 403 and codigo(reply) == "empresa_inactiva"


def test_unknown_paths_and_wrong_methods_are_json(stack):
    for path in ("/nope", "/api/v1/nope", f"{CATALOGUE}/abc"):
        status, headers, body = get(stack, path, stack.api_key)
        assert status == 404 and body["codigo"] == "ruta_no_encontrada", path
    status, headers, body = stack.request("DELETE", CATALOGUE, headers={"X-API-Key": stack.api_key})
    assert status == 405 and body["codigo"] == "metodo_no_permitido" and headers["Allow"] == "GET, HEAD"
    status, headers, body = stack.request("GET", "/api/v1/payments/pagar-conekta", headers={"X-API-Key": stack.api_key})
    assert status == 405 and headers["Allow"] == "POST"


def test_oversized_body_is_413_json(stack):
    status, headers, body = stack.request("POST", "/api/v1/payments/pagar-conekta", raw=b"{" + b" " * 40_000 + b"}",
                                          headers={"X-API-Key": stack.api_key, "Content-Type": "application/json"})
    assert status == 413 and body["codigo"] == "cuerpo_demasiado_grande"
    assert headers["Content-Type"].startswith("application/json")


def test_request_id_is_echoed_logged_and_caller_ids_are_kept(stack):
    status, headers, body = get(stack, CATALOGUE, "jwt_bad", headers={"X-Request-Id": "portal-req-42"})
    assert headers["X-Request-Id"] == "portal-req-42" and body["request_id"] == "portal-req-42"
    status, headers, body = get(stack, CATALOGUE, "jwt_bad", headers={"X-Request-Id": "bad id with spaces"})
    assert headers["X-Request-Id"] != "bad id with spaces" and body["request_id"] == headers["X-Request-Id"]
    time.sleep(0.2)
    lines = [json.loads(line) for line in open(os.path.join(stack.nginx_prefix, "access.log"))]
    mine = [line for line in lines if line["request_id"] == "portal-req-42"]
    assert mine and mine[-1]["status"] == 401 and mine[-1]["codigo"] == "api_key_malformada"
    assert all(stack.api_key not in json.dumps(line) for line in lines)


def test_operator_errors_are_one_line_and_nonzero(stack):
    result = stack.ctl("product", "add", "--company", "1", "--router", "999", "--name", "Nada", "--price", "10",
                       "--profile", "x", check=False)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = stack.ctl("product", "add", "--company", "1", "--router", "1", "--name", "Nada", "--price", "10.999",
                       "--profile", "x", check=False)
    assert result.returncode != 0 and "--price" in result.stderr
    for command in ([], ["company"], ["router", "add"], ["product", "add"], ["key", "issue"], ["migrate"]):
        help_run = subprocess.run([os.path.join(stack.build_dir, "hotspotctl")] + command + ["--help"], capture_output=True, text=True)
        assert help_run.returncode == 0 and "USAGE" in help_run.stdout.upper(), command


def test_secrets_stay_out_of_the_database_in_clear(stack):
    rows = stack.postgres.psql("SELECT encode(conekta_private_key, 'escape') FROM companies WHERE conekta_private_key IS NOT NULL "
                               "UNION ALL SELECT encode(api_password, 'escape') FROM routers")
    dump = json.dumps(rows)
    assert rows and "key_sandbox_private" not in dump and "api-secret" not in dump
    keys = stack.postgres.psql("SELECT fingerprint FROM api_keys")
    assert all(stack.api_key not in row[0] for row in keys)


def test_sigterm_under_load_loses_no_request(stack):
    """Clients keep requesting while the server is stopped with SIGTERM: every answer is the
    catalogue or nginx's JSON 503 once the socket is gone; none is cut off or a bare 502."""
    stop = threading.Event()
    results = []
    lock = threading.Lock()

    def client():
        url = f"http://127.0.0.1:{stack.port}{CATALOGUE}"
        while not stop.is_set():
            request = urllib.request.Request(url, headers={"X-API-Key": stack.api_key})
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:
                    outcome = (reply.status, json.loads(reply.read())[0]["id"] if reply.status == 200 else None)
            except urllib.error.HTTPError as error:
                body = error.read()
                try:
                    outcome = (error.code, json.loads(body).get("codigo"))
                except ValueError:
                    outcome = (error.code, "not json")
            except Exception as error:  # noqa: BLE001 - any transport failure is a lost request
                outcome = ("lost", repr(error))
            with lock:
                results.append(outcome)

    error_log = os.path.join(stack.nginx_prefix, "error.log")
    before = os.path.getsize(error_log) if os.path.exists(error_log) else 0
    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    stack.server.send_signal(signal.SIGTERM)
    exit_code = stack.server.wait(15)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    stack.start_server()
    try:
        assert exit_code == 0
        served = [r for r in results if r[0] == 200]
        refused = [r for r in results if r[0] == 503]
        other = [r for r in results if r[0] not in (200, 503)]
        assert len(served) > 100, f"too little load: {len(served)}"
        assert not other, other[:5]
        assert all(code == "servicio_no_disponible" for _, code in refused)
        with open(error_log) as f:
            f.seek(before)
            log = f.read()
        assert "reset by peer" not in log and "prematurely closed" not in log, log[-2000:]
    finally:
        assert get(stack, CATALOGUE, stack.api_key)[0] == 200


def test_server_logs_are_json_lines_without_keys(stack):
    lines = open(stack.server_log).read().splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"ts", "level", "msg"} <= set(record)
    text = "\n".join(lines)
    assert stack.api_key not in text and "key_sandbox_private" not in text and "api-secret" not in text
