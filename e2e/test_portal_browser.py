"""Issue 8, the portal kit: the payment page (deploy/portal/) in a real headless Chromium on a
phone-sized screen, against the whole stack (PostgreSQL, the sandboxes, hotspot-pay, nginx
rendered from deploy/nginx.conf serving the page at /portal/ with the sandbox's Conekta.js
stand-in).

A loopback HTTP server in the test stands in for the hotspot's `$(link-login-only)` and records
the login form the page submits; two more serve copies of the page on other origins, one in
nginx's CORS allow-list and one not. Screenshots land in .run/test-output/portal/ (git-ignored),
their paths printed as the tests run.
"""

import base64
import hashlib
import http.client
import json
import os
import queue
import re
import shutil
import threading
import time
import urllib.parse
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import render_portal
from conftest import ROOT, running_stack
from invariants import _registry, check_invariants, remember_token

OUTPUT = os.path.join(ROOT, ".run", "test-output", "portal")
PHONE = {"width": 390, "height": 844, "pixelRatio": 2}
COUNTDOWN = 4  # seconds the credentials stay on screen before the automatic login
ENV = {
    "HOTSPOT_RECONCILE_INTERVAL_MS": "500",
    "HOTSPOT_ORDER_LOOKUP_GRACE_SECONDS": "2",
}
CARD = {"tarjeta-nombre": "ANA LOPEZ", "tarjeta-mes": "12", "tarjeta-anio": "30", "tarjeta-cvc": "123"}
PAID, DECLINED, DROPPED = "4242424242424242", "4000000000000002", "4000000000000259"


# --- loopback servers: the hotspot's login, and the page on other origins -------------------------

class Server:
    """A ThreadingHTTPServer on 127.0.0.1 in a thread."""

    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class HotspotLogin(Server):
    """Stands in for the router's `$(link-login-only)`: records every form posted to it."""

    def __init__(self):
        self.posts = queue.Queue()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                posts.put({"path": self.path, "content_type": self.headers.get("Content-Type"),
                           "fields": dict(urllib.parse.parse_qsl(body, keep_blank_values=True))})
                page = "<!doctype html><html lang=es><title>Sesión iniciada</title><h1>Sesión iniciada</h1>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        super().__init__(Handler)
        self.url = self.origin + "/login"

    def drain(self):
        while not self.posts.empty():
            self.posts.get_nowait()

    def next_post(self, timeout):
        try:
            return self.posts.get(timeout=timeout)
        except queue.Empty:
            return None


class StaticPage(Server):
    """Serves a directory: a copy of the portal on another origin, as a router would host it."""

    def __init__(self, directory):
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        super().__init__(partial(Quiet, directory=directory))


@pytest.fixture(scope="module")
def origins(tmp_path_factory):
    base = tmp_path_factory.mktemp("origins")
    servers = {"allowed": StaticPage(str(base / "allowed")), "denied": StaticPage(str(base / "denied"))}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def stack(origins):
    yield from running_stack(extra_env=ENV, cors_origins=[origins["allowed"].origin], portal_countdown=COUNTDOWN)


@pytest.fixture(scope="module")
def hotspot_login():
    server = HotspotLogin()
    yield server
    server.stop()


@pytest.fixture
def hotspot(hotspot_login):
    """The hotspot's login endpoint, with nothing left from an earlier test."""
    hotspot_login.drain()
    return hotspot_login


# --- the browser ------------------------------------------------------------------------------------

@pytest.fixture
def browser(stack):
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    # The sandbox Conekta's certificate is self-signed: trust exactly its key, nothing else.
    pin = stack.conekta.info["pin"].split("//", 1)[1]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-default-apps", "--metrics-recording-only", "--no-default-browser-check",
                     "--lang=es-MX", f"--ignore-certificate-errors-spki-list={pin}"):
        options.add_argument(argument)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shoot(browser, capsys):
    """shoot(name): a full-page PNG of what the browser shows, its path printed."""
    os.makedirs(OUTPUT, exist_ok=True)

    def take(name):
        size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": PHONE["width"], "height": max(size["height"], PHONE["height"]), "scale": 1}})
        path = os.path.join(OUTPUT, name + ".png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        with capsys.disabled():
            print(f"\n  screenshot: {path}")
        return path

    return take


def console(browser):
    return [entry["message"] for entry in browser.get_log("browser")]


def wait_until(browser, predicate, what, timeout=20):
    try:
        return WebDriverWait(browser, timeout, poll_frequency=0.1).until(lambda driver: predicate())
    except TimeoutException:
        notice = browser.execute_script("var n = document.getElementById('aviso'); return n ? n.textContent : null")
        raise AssertionError(f"timed out waiting for {what}; notice: {notice!r}; console: {console(browser)}") from None


def visible(browser, element_id):
    elements = browser.find_elements(By.ID, element_id)
    return bool(elements) and elements[0].is_displayed()


def text_of(browser, element_id):
    return browser.find_element(By.ID, element_id).text


def open_page(browser, url):
    browser.get(url)
    wait_until(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "input[name=plan]") and visible(browser, "compra"),
               "the plans")


def fill(browser, card_number, plan=0, **fields):
    values = {"nombre": "Ana López", "email": "ana@example.com", "telefono": "55 1234 5678",
              "tarjeta-numero": card_number, **CARD, **fields}
    browser.find_elements(By.CSS_SELECTOR, "input[name=plan]")[plan].click()
    for element_id, value in values.items():
        field = browser.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)


def pay(browser):
    browser.find_element(By.ID, "pagar").click()


def no_horizontal_scroll(browser, width=360):
    """True when the page fits `width` CSS pixels (a small phone) without scrolling sideways."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    try:
        time.sleep(0.2)
        return browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    finally:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PHONE["width"], "height": PHONE["height"], "deviceScaleFactor": PHONE["pixelRatio"], "mobile": True})


def device(n):
    return f"02:00:5E:80:00:{n:02X}", f"10.5.80.{n}"


def router_user(stack, name):
    users = [u for u in stack.router.control("GET", "state")["users"] if u.get("name") == name]
    assert len(users) == 1, (name, users)
    return users[0]


def stored_receipt(browser):
    return browser.execute_script("return JSON.parse(sessionStorage.getItem('hotspot-pay:recibo'))")


def js_tokens(stack):
    tokens = stack.conekta.control("GET", "state")["js_tokens"]
    for token in tokens:  # the invariants' log check (I5) looks for these too
        remember_token(stack, token["id"])
    return tokens


def remember_password(stack, password):
    if password:
        _registry(stack, "_issued_passwords").add(password)


def attempt_keys(stack, order_id):
    return stack.postgres.psql(f"SELECT idempotency_key, state FROM payment_attempts WHERE order_id = '{order_id}'")


def assert_no_csp_violations(browser):
    refused = [line for line in console(browser) if "Content Security Policy" in line or "Refused to" in line]
    assert not refused, refused


# --- the tests --------------------------------------------------------------------------------------

def test_purchase_shows_the_credentials_and_logs_the_device_in(stack, hotspot, browser, shoot):
    mac, ip = device(1)
    dst = hotspot.origin + "/destino"
    open_page(browser, stack.portal_url(mac=mac, ip=ip, login=hotspot.url, dst=dst))
    assert text_of(browser, "empresa") == "Café Demo"
    assert "Router Terraza" in text_of(browser, "lugar")
    plans = [label.text for label in browser.find_elements(By.CSS_SELECTOR, "label.plan")]
    assert "1 Hora de Internet" in plans[0] and "$15.00" in plans[0] and "1 Día de Internet" in plans[1], plans
    assert no_horizontal_scroll(browser)[0] <= 360, no_horizontal_scroll(browser)
    shoot("01-form")

    fill(browser, PAID, plan=1)
    assert "49.90" in text_of(browser, "pagar")
    shoot("02-form-filled")
    pay(browser)
    wait_until(browser, lambda: visible(browser, "resultado"), "the receipt")
    receipt = stored_receipt(browser)
    username, password = receipt["usuario_hotspot"]["usuario"], receipt["usuario_hotspot"]["contrasena"]
    remember_password(stack, password)
    assert (text_of(browser, "cred-usuario"), text_of(browser, "cred-contrasena")) == (username, password)
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", username) and re.fullmatch(r"\d{4}", password), receipt
    assert receipt["producto"]["nombre"] == "1 Día de Internet" and receipt["auto_conexion"]["estado"] == "no_conectado"
    assert browser.switch_to.active_element.get_attribute("id") == "resultado-titulo"  # focus moved to the result
    announced = browser.find_element(By.ID, "aviso").get_attribute("textContent")  # for screen readers only
    assert "Pago aprobado" in announced and f"en {COUNTDOWN} segundos" in announced, announced
    shoot("03-receipt")
    assert no_horizontal_scroll(browser)[0] <= 360

    # What the router holds: that user, that password, bound to this device, enabled.
    user = router_user(stack, username)
    assert (user.get("password"), user.get("mac-address"), user.get("disabled")) == (password, mac, "false"), user

    # The automatic hotspot login after the countdown: PAP, the router's form fields.
    post = hotspot.next_post(COUNTDOWN + 15)
    assert post is not None, f"no hotspot login was submitted; console: {console(browser)}"
    assert post["path"] == "/login" and post["content_type"].startswith("application/x-www-form-urlencoded")
    assert post["fields"] == {"username": username, "password": password, "dst": dst, "popup": "true"}, post
    wait_until(browser, lambda: browser.title == "Sesión iniciada", "the hotspot's answer page")

    # Tokenized in the browser by Conekta.js (the stand-in) on the page's origin; one order, paid;
    # the purchase carried the page's own Idempotency-Key.
    tokens = [t for t in js_tokens(stack) if t["origin"] == f"http://127.0.0.1:{stack.port}"]
    assert tokens and tokens[-1]["kind"] == "paid" and tokens[-1]["last4"] == "4242", tokens
    orders = [o for o in stack.conekta.control("GET", "state")["orders"] if o["token"] == tokens[-1]["id"]]
    assert len(orders) == 1 and orders[0]["payment_status"] == "paid" and orders[0]["amount"] == 4990, orders
    keys = attempt_keys(stack, receipt["id_transaccion"])
    assert len(keys) == 1 and re.fullmatch(r"h:portal-[0-9a-f]{32}", keys[0][0]) and keys[0][1] == "delivered", keys
    assert_no_csp_violations(browser)
    check_invariants(stack)


def test_form_errors_and_a_declined_card(stack, hotspot, browser, shoot):
    mac, ip = device(2)
    open_page(browser, stack.portal_url(mac=mac, ip=ip, login=hotspot.url))
    orders_before = len(stack.conekta.control("GET", "state")["orders"])

    # Nothing filled in: every problem is marked, and the focus goes to the first one.
    pay(browser)
    wait_until(browser, lambda: browser.switch_to.active_element.get_attribute("id") == "nombre", "focus on the name")
    invalid = [e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, "input[aria-invalid=true]")]
    assert invalid == ["nombre", "email", "tarjeta-nombre", "tarjeta-numero", "tarjeta-mes", "tarjeta-anio", "tarjeta-cvc"]
    assert text_of(browser, "email-error") and visible(browser, "tarjeta-numero-error")
    assert "Revisa los datos" in text_of(browser, "aviso")
    shoot("04-form-errors")

    # A number Conekta.js refuses (Luhn): its message_to_purchaser, and no payment attempted.
    fill(browser, "4242424242424241")
    pay(browser)
    wait_until(browser, lambda: "número de tarjeta es inválido" in text_of(browser, "aviso"), "Conekta.js's refusal")
    assert browser.find_element(By.ID, "tarjeta-numero").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "pagar").is_enabled()

    # A declined card: the decline in Spanish, nothing charged, the form ready for another card.
    fill(browser, DECLINED)
    pay(browser)
    wait_until(browser, lambda: "rechazada" in text_of(browser, "aviso"), "the decline message")
    notice = text_of(browser, "aviso")
    assert "El pago fue declinado. Contacte a su banco." in notice and "No se hizo ningún cargo" in notice, notice
    assert browser.switch_to.active_element.get_attribute("id") == "aviso"
    assert browser.find_element(By.ID, "aviso").get_attribute("role") == "status"
    assert visible(browser, "compra") and browser.find_element(By.ID, "pagar").is_enabled()
    assert browser.find_element(By.ID, "tarjeta-numero").get_attribute("value") == ""
    assert not visible(browser, "resultado")
    shoot("05-declined")
    state = stack.conekta.control("GET", "state")
    declined = [o for o in state["orders"][orders_before:]]
    assert [o["payment_status"] for o in declined] == ["declined"], declined  # the Luhn error never reached Conekta
    assert hotspot.next_post(1) is None
    assert_no_csp_violations(browser)
    js_tokens(stack)
    check_invariants(stack)


def test_page_on_an_allowed_origin_buys_a_pin_and_logs_in_with_chap(stack, hotspot, origins, browser, shoot):
    page = origins["allowed"]
    render_portal.render(page.directory, stack.conekta.url + "/conekta.js", api_base=f"http://127.0.0.1:{stack.port}",
                         countdown_seconds=COUNTDOWN)
    mac, ip = device(3)
    chap_id, challenge = bytes([0o357]), os.urandom(16)
    fragment = urllib.parse.urlencode({"k": stack.api_key, "mac": mac, "ip": ip, "login": hotspot.url, "tipo": "pin",
                                       "chap_id": chap_id.hex(), "chap_challenge": challenge.hex()})
    open_page(browser, f"{page.origin}/#{fragment}")
    assert text_of(browser, "empresa") == "Café Demo"  # config/public read across origins

    # The page's MD5 (for CHAP) against Python's, across block boundaries.
    for sample in (b"", b"abc", bytes(range(55)), bytes(range(56)), bytes(range(64)), os.urandom(200)):
        assert browser.execute_script("return window.hotspotPortal.md5Hex(arguments[0])", list(sample)) == \
            hashlib.md5(sample).hexdigest(), sample

    fill(browser, PAID)
    pay(browser)
    wait_until(browser, lambda: visible(browser, "resultado"), "the receipt")
    receipt = stored_receipt(browser)
    pin = receipt["usuario_hotspot"]["usuario"]
    assert receipt["tipo_usuario"] == "pin" and re.fullmatch(r"\d{6}", pin) and receipt["usuario_hotspot"]["contrasena"] == ""
    assert text_of(browser, "etiqueta-usuario") == "PIN" and text_of(browser, "cred-usuario") == pin
    assert not visible(browser, "fila-contrasena")

    # The customer asks for time to note the PIN: no login until they press the button.
    browser.find_element(By.ID, "esperar").click()
    assert browser.switch_to.active_element.get_attribute("id") == "conectar"
    shoot("06-pin-paused")
    assert hotspot.next_post(COUNTDOWN + 1) is None
    browser.find_element(By.ID, "conectar").click()
    post = hotspot.next_post(15)
    assert post is not None, console(browser)
    expected = hashlib.md5(chap_id + b"" + challenge).hexdigest()
    assert post["fields"] == {"username": pin, "password": expected, "dst": "", "popup": "true"}, post

    token = [t for t in js_tokens(stack) if t["origin"] == page.origin]
    assert len(token) == 1 and token[0]["kind"] == "paid", token
    assert router_user(stack, pin)["disabled"] == "false"
    check_invariants(stack)


def test_a_page_on_another_origin_gets_no_cors(stack, origins, browser, shoot):
    page = origins["denied"]
    render_portal.render(page.directory, stack.conekta.url + "/conekta.js", api_base=f"http://127.0.0.1:{stack.port}")
    browser.get(f"{page.origin}/#k={stack.api_key}")
    wait_until(browser, lambda: "No pudimos conectar con el servidor de pagos" in text_of(browser, "aviso"),
               "the connection error")
    assert not visible(browser, "compra")
    shoot("07-origin-not-allowed")

    allowed = origins["allowed"].origin
    for origin, expected in ((allowed, allowed), (page.origin, None), ("null", None), (f"http://127.0.0.1:{stack.port}", None)):
        preflight = stack.request("OPTIONS", "/api/v1/payments/pagar-conekta", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key,x-api-key"})
        assert preflight[0] == 204, preflight
        assert preflight[1].get("Access-Control-Allow-Origin") == expected, (origin, preflight[1])
        reply = stack.request("GET", "/api/v1/catalogo_perfiles_venta", headers={"Origin": origin, "X-API-Key": stack.api_key})
        assert reply[0] == 200 and reply[1].get("Access-Control-Allow-Origin") == expected, (origin, reply[1])
        assert "Origin" in reply[1].get("Vary", ""), reply[1]
        if expected:
            allow_headers = {h.strip().lower() for h in preflight[1]["Access-Control-Allow-Headers"].split(",")}
            assert allow_headers == {"x-api-key", "authorization", "content-type", "idempotency-key"}, preflight[1]
            assert "POST" in preflight[1]["Access-Control-Allow-Methods"]
            assert "Retry-After" in reply[1]["Access-Control-Expose-Headers"]
        else:
            assert not any(name.lower().startswith("access-control-") for name in preflight[1]), preflight[1]
    # An error answered by nginx itself (a 404 here) carries the header too, so the page can read it.
    reply = stack.request("GET", "/api/v1/nope", headers={"Origin": allowed, "X-API-Key": stack.api_key})
    assert reply[0] == 404 and reply[1].get("Access-Control-Allow-Origin") == allowed


def test_a_payment_in_verification_is_asked_again_with_the_same_key(stack, hotspot, browser, shoot):
    mac, ip = device(4)
    open_page(browser, stack.portal_url(mac=mac, ip=ip, login=hotspot.url))
    access_log = os.path.join(stack.nginx_prefix, "access.log")
    seen = os.path.getsize(access_log)
    # Conekta charges, the reply is lost, and the server's own look-up right after fails too:
    # the outcome is unknown (500 pago_en_verificacion) until someone asks again.
    stack.conekta.control("POST", "faults", [{"op": "orders.list", "kind": "error", "status": 500, "times": 1},
                                             {"op": "orders.get", "kind": "error", "status": 500, "times": 1}])
    try:
        fill(browser, DROPPED)
        pay(browser)
        wait_until(browser, lambda: visible(browser, "pendiente"), "the payment-in-verification message")
        text = text_of(browser, "pendiente")
        assert "No vuelvas a pagar" in text and "respuesta del banco" in text, text
        assert browser.switch_to.active_element.get_attribute("id") == "pendiente-titulo"
        assert not visible(browser, "compra")  # no way to pay again while the outcome is unknown
        shoot("08-in-verification")
    finally:
        stack.conekta.control("POST", "faults/clear")
    browser.find_element(By.ID, "consultar").click()
    wait_until(browser, lambda: visible(browser, "resultado"), "the receipt after asking again", timeout=40)
    receipt = stored_receipt(browser)
    remember_password(stack, receipt["usuario_hotspot"]["contrasena"])
    assert text_of(browser, "cred-usuario") == receipt["usuario_hotspot"]["usuario"]

    token = [t for t in js_tokens(stack) if t["last4"] == "0259"]
    assert len(token) == 1, token  # one card tokenization for the whole purchase
    orders = [o for o in stack.conekta.control("GET", "state")["orders"] if o["token"] == token[0]["id"]]
    assert len(orders) == 1 and orders[0]["payment_status"] == "paid", orders
    keys = attempt_keys(stack, receipt["id_transaccion"])
    assert len(keys) == 1 and keys[0][0].startswith("h:portal-") and keys[0][1] == "delivered", keys
    with open(access_log) as log:
        log.seek(seen)
        answers = [json.loads(line)["codigo"] for line in log if '"/api/v1/payments/pagar-conekta"' in line]
    # First the unknown outcome, last the receipt; in between only "ask again" answers.
    assert answers[0] == "pago_en_verificacion" and answers[-1] == "pagado", answers
    assert set(answers[1:-1]) <= {"pago_en_verificacion", "en_proceso"}, answers
    assert hotspot.next_post(COUNTDOWN + 15) is not None
    check_invariants(stack)


def test_a_device_already_connected_is_not_sent_to_the_login(stack, hotspot, browser, shoot):
    mac, ip = device(5)
    stack.router.control("POST", "hosts", {"mac-address": mac, "address": ip})
    dst = hotspot.origin + "/destino"
    open_page(browser, stack.portal_url(mac=mac, ip=ip, login=hotspot.url, dst=dst))
    fill(browser, PAID)
    pay(browser)
    wait_until(browser, lambda: visible(browser, "resultado"), "the receipt")
    receipt = stored_receipt(browser)
    remember_password(stack, receipt["usuario_hotspot"]["contrasena"])
    assert receipt["auto_conexion"]["estado"] == "conectado", receipt
    assert "ya está conectado" in text_of(browser, "conexion-texto")
    assert visible(browser, "continuar") and browser.find_element(By.ID, "continuar").get_attribute("href") == dst
    assert not visible(browser, "conectar")
    shoot("09-already-connected")
    assert hotspot.next_post(COUNTDOWN + 2) is None
    js_tokens(stack)
    check_invariants(stack)


def test_nginx_serves_the_page_with_its_csp_and_cache_headers(stack):
    status, headers, body = stack.request("GET", "/portal/")
    assert status == 200 and headers["Content-Type"].startswith("text/html"), headers
    assert b"<html lang=\"es\">" in body
    csp = headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'self' {stack.conekta.url}" and directives["connect-src"] == f"'self' {stack.conekta.url}"
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["Cache-Control"] == "no-cache" and headers["X-Content-Type-Options"] == "nosniff" and "ETag" in headers
    for path, kind in (("/portal/portal.js", "application/javascript"), ("/portal/portal.css", "text/css"),
                       ("/portal/config.js", "application/javascript")):
        status, headers, _ = stack.request("GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind), (path, headers)
        assert headers["Content-Security-Policy"] == csp
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    connection.request("GET", "/portal")
    reply = connection.getresponse()
    assert reply.status == 301 and reply.getheader("Location").endswith("/portal/")
    connection.close()
    # The rendered config.js points at the sandbox's Conekta.js; the production file at the real one.
    _, _, config = stack.request("GET", "/portal/config.js")
    assert f'"{stack.conekta.url}/conekta.js"' in config.decode()
    production = open(os.path.join(ROOT, "deploy", "portal", "config.js")).read()
    assert 'conektaJsUrl: "https://cdn.conekta.io/js/latest/conekta.js"' in production
    # No inline script or style anywhere in the page (the CSP would refuse it).
    html = open(os.path.join(ROOT, "deploy", "portal", "index.html")).read()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
