"""Issue 8, the portal kit: the payment page (deploy/portal/) in a real headless Chromium on a
phone-sized screen, against the whole stack (PostgreSQL, the sandboxes, hotspot-pay, nginx
rendered from deploy/nginx.conf serving the page at /portal/ with the sandbox's Conekta.js
stand-in).

A loopback HTTP server in the test stands in for the hotspot's `$(link-login-only)` and records
the login form the page submits; two more serve copies of the page on other origins, one in
nginx's CORS allow-list and one not; and an HTTPS one stands in for Conekta's barcode images
(Chromium resolves barcodes.conekta.com to it). The company sells pay later (OXXO, SPEI) too, so
the page offers the choice. Screenshots land in .run/test-output/portal/ (git-ignored), their
paths printed as the tests run (docs/screenshots/ keeps copies of the pay-later ones).
"""

import base64
import datetime
import hashlib
import http.client
import json
import os
import queue
import re
import shutil
import ssl
import struct
import threading
import time
import urllib.parse
import zlib
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import render_portal
from conftest import ROOT, get, running_stack
from invariants import _registry, check_invariants, remember_token

OUTPUT = os.path.join(ROOT, ".run", "test-output", "portal")
PHONE = {"width": 390, "height": 844, "pixelRatio": 2}
COUNTDOWN = 4  # seconds the credentials stay on screen before the automatic login
ENV = {
    "HOTSPOT_RECONCILE_INTERVAL_MS": "500",
    "HOTSPOT_ORDER_LOOKUP_GRACE_SECONDS": "2",
    # A cash or SPEI payment is found by the reconciler's poll within a second or two.
    "HOTSPOT_PAY_LATER_POLL_SECONDS": "1",
    "HOTSPOT_PAY_LATER_POLL_MAX_SECONDS": "1",
    # Three wrong claim codes from one device, then 429 (the address's and router's limits stay).
    "HOTSPOT_CLAIM_GUESSES_PER_MAC": "3",
}
TIME_ZONE = "America/Mexico_City"  # the phone's, for the expiry in local time
BARCODE_HOST = "barcodes.conekta.com"
CARD = {"tarjeta-nombre": "ANA LOPEZ", "tarjeta-mes": "12", "tarjeta-anio": "30", "tarjeta-cvc": "123"}
PAID, DECLINED, DROPPED = "4242424242424242", "4000000000000002", "4000000000000259"


# --- loopback servers: the hotspot's login, and the page on other origins -------------------------

class Server:
    """A ThreadingHTTPServer on 127.0.0.1 in a thread (HTTPS with `tls`, an SSLContext)."""

    def __init__(self, handler, tls=None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
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


def barcode_png(seed, height=60):
    """A barcode-like PNG (8-bit grey): bars drawn from the hash of `seed`, white margins."""
    bits = "".join(f"{byte:08b}" for byte in hashlib.sha256(seed).digest())[:100]
    row = bytes([255] * 16) + bytes(px for bit in bits for px in ((0, 0) if bit == "1" else (255, 255))) + bytes([255] * 16)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", len(row), height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + row for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


class BarcodeImages(Server):
    """Stands in for Conekta's barcode images at https://barcodes.conekta.com/…: Chromium resolves
    that host here (--host-resolver-rules) and trusts this certificate's key alone. Records the
    paths asked for."""

    def __init__(self, directory):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BARCODE_HOST)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=7))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(BARCODE_HOST)]), critical=False)
                .sign(key, hashes.SHA256()))
        spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
        cert_file, key_file = os.path.join(directory, "barcodes.pem"), os.path.join(directory, "barcodes.key")
        with open(cert_file, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_file, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_file, key_file)
        self.paths = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                image = barcode_png(self.path.encode())
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(image)))
                self.end_headers()
                self.wfile.write(image)

            def log_message(self, *args):
                pass

        super().__init__(Handler, tls)


@pytest.fixture(scope="module")
def barcodes(tmp_path_factory):
    server = BarcodeImages(str(tmp_path_factory.mktemp("barcodes")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def origins(tmp_path_factory):
    base = tmp_path_factory.mktemp("origins")
    servers = {"allowed": StaticPage(str(base / "allowed")), "denied": StaticPage(str(base / "denied"))}
    yield servers
    for server in servers.values():
        server.stop()


def offer_pay_later(stack, methods):
    """`hotspotctl company set --pay-later`, then waits out the keys' cache, which carries the
    company's offer, until config/public names exactly those methods."""
    stack.ctl("company", "set", str(stack.ids["company"]), "--pay-later", ",".join(methods) or "none")
    expected = ["tarjeta"] + list(methods)
    deadline = time.time() + 15
    while get(stack, "/api/v1/config/public", stack.api_key)[2]["empresa"]["metodos_pago"] != expected:
        assert time.time() < deadline, f"config/public never named {expected}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(origins):
    for s in running_stack(extra_env=ENV, cors_origins=[origins["allowed"].origin], portal_countdown=COUNTDOWN):
        offer_pay_later(s, ["oxxo", "spei"])
        yield s


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
def browser(stack, barcodes):
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    # The sandbox Conekta's certificate is self-signed: trust exactly its key, nothing else; and
    # the barcode stand-in's, at Conekta's barcode host.
    pin = stack.conekta.info["pin"].split("//", 1)[1]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-default-apps", "--metrics-recording-only", "--no-default-browser-check",
                     "--lang=es-MX", f"--ignore-certificate-errors-spki-list={pin},{barcodes.pin}",
                     f"--host-resolver-rules=MAP {BARCODE_HOST} 127.0.0.1:{barcodes.port}"):
        options.add_argument(argument)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": TIME_ZONE})
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shoot(browser, capsys):
    """shoot(name): a full-page PNG of what the browser shows, its path printed. `scale` 0.5 makes
    it one image pixel per CSS pixel (small enough to keep in docs/screenshots/)."""
    os.makedirs(OUTPUT, exist_ok=True)

    def take(name, scale=1):
        size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": PHONE["width"], "height": max(size["height"], PHONE["height"]), "scale": scale}})
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
    """The plan, the customer and, with a `card_number`, the card (else only the customer)."""
    values = {"nombre": "Ana López", "email": "ana@example.com", "telefono": "55 1234 5678", **fields}
    if card_number:
        values.update({"tarjeta-numero": card_number, **CARD})
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
    assert directives["img-src"] == f"'self' data: https://{BARCODE_HOST}"  # an OXXO reference's barcode
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


# --- pay later: OXXO and SPEI, the claim code (CONTRACT §12) --------------------------------------------

CLAIM_CODE = r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"  # Crockford base32, no I L O U


def choose(browser, method):
    browser.find_element(By.CSS_SELECTOR, f"input[name=metodo][value={method}]").click()


def reopen(browser, url):
    """The page loaded anew (the same address with its fragment would only scroll)."""
    browser.get("about:blank")
    open_page(browser, url)


def offered_methods(browser):
    return [label.text for label in browser.find_elements(By.CSS_SELECTOR, "label.metodo") if label.is_displayed()]


def stored_claim(browser, stack):
    """What the page keeps of a pay-later order (localStorage, per router): its terms and code."""
    return browser.execute_script("return JSON.parse(localStorage.getItem(arguments[0]))",
                                  f"hotspot-pay:canje:{stack.ids['router']}")


def remember_claim_code(stack, code):
    """The invariants' log check (I5) looks for it: a claim code is a secret."""
    _registry(stack, "_claim_codes").add(code)


def attempt_of(stack, column, value):
    rows = stack.postgres.psql("SELECT id, state, payment_method, idempotency_key, order_id, "
                               f"extract(epoch FROM pay_later_expires_at)::bigint FROM payment_attempts WHERE {column} = '{value}'")
    assert len(rows) == 1, rows
    return dict(zip(("id", "state", "method", "key", "order", "expires"), rows[0], strict=True))


def claims_logged(stack, since):
    """(method, status, codigo, attempt) of each claim nginx logged after byte `since` of its access log."""
    with open(os.path.join(stack.nginx_prefix, "access.log")) as log:
        log.seek(since)
        lines = [json.loads(line) for line in log if '"/api/v1/payments/canjear"' in line]
    return [(line["method"], line["status"], line["codigo"], line["attempt"]) for line in lines]


def access_log_size(stack):
    return os.path.getsize(os.path.join(stack.nginx_prefix, "access.log"))


def clipboard_after_copy(browser, button, without_clipboard_api=False):
    """Clicks a copy button and returns what the clipboard then holds. `without_clipboard_api`
    hides navigator.clipboard from the page first, as on a plain-HTTP hotspot page, so the
    page's fallback copies."""
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": browser.execute_script("return location.origin"),
        "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.execute_script("window.__clipboard = navigator.clipboard; return navigator.clipboard.writeText('')")
    if without_clipboard_api:
        browser.execute_script("Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})")
    try:
        button.click()
        wait_until(browser, lambda: button.text == "Copiado", "the copy confirmed")
        return browser.execute_async_script("var done = arguments[0]; window.__clipboard.readText().then(done, "
                                            "function (e) { done('error: ' + e); });")
    finally:
        browser.execute_script("Object.defineProperty(navigator, 'clipboard', {value: window.__clipboard, configurable: true})")


def small_shot(shoot, name):
    """A screenshot at one pixel per CSS pixel: the kind docs/screenshots/ keeps copies of."""
    return shoot(name, scale=0.5)


def test_the_choice_follows_what_the_company_offers(stack, browser):
    open_page(browser, stack.portal_url())
    assert offered_methods(browser) == ["Tarjeta", "Efectivo en OXXO", "Transferencia SPEI"]
    assert browser.find_element(By.CSS_SELECTOR, "input[name=metodo][value=tarjeta]").is_selected()
    assert visible(browser, "tarjeta") and text_of(browser, "tarjeta-titulo") == "4. Tu tarjeta"
    assert visible(browser, "ya-tienes")
    choose(browser, "spei")
    assert not visible(browser, "tarjeta") and text_of(browser, "pagar") == "Obtener CLABE para transferir · $15.00"
    assert "CLABE" in text_of(browser, "metodo-ayuda")
    try:
        offer_pay_later(stack, ["spei"])
        reopen(browser, stack.portal_url())
        assert offered_methods(browser) == ["Tarjeta", "Transferencia SPEI"]
        offer_pay_later(stack, [])
        reopen(browser, stack.portal_url())
        assert offered_methods(browser) == [] and not visible(browser, "metodos") and not visible(browser, "ya-tienes")
        assert visible(browser, "tarjeta") and text_of(browser, "tarjeta-titulo") == "3. Tu tarjeta"
        assert text_of(browser, "pagar") == "Pagar $15.00"
    finally:
        offer_pay_later(stack, ["oxxo", "spei"])


def test_cash_at_oxxo_then_ya_pague_until_the_money_arrives(stack, hotspot, barcodes, browser, shoot):
    mac, ip = device(6)
    open_page(browser, stack.portal_url(mac=mac, ip=ip, login=hotspot.url))
    orders_before = len(stack.conekta.control("GET", "state")["orders"])
    choose(browser, "oxxo")
    assert not visible(browser, "tarjeta")  # no card form for cash
    fill(browser, None, plan=0)
    pay(browser)
    wait_until(browser, lambda: visible(browser, "instrucciones"), "the OXXO reference")

    # The 202 on screen: amount, reference, barcode, expiry in local time, the claim code.
    claim = stored_claim(browser, stack)
    code = claim["codigo"]
    remember_claim_code(stack, code)
    assert re.fullmatch(CLAIM_CODE, code), claim
    assert text_of(browser, "instrucciones-titulo") == "Paga en efectivo en OXXO"
    assert browser.switch_to.active_element.get_attribute("id") == "instrucciones-titulo"
    assert text_of(browser, "pago-monto") == "$15.00 MXN" and claim["monto"] == 15.0 and claim["moneda"] == "MXN"
    assert text_of(browser, "pago-referencia") == claim["referencia"] and re.fullmatch(r"\d{14}", claim["referencia"])
    assert not visible(browser, "fila-clabe") and not visible(browser, "fila-banco")
    assert text_of(browser, "pago-codigo") == code and visible(browser, "ya-pague")
    assert "Guárdalo" in text_of(browser, "caja-codigo")
    barcode = browser.find_element(By.ID, "pago-codigo-barras")
    wait_until(browser, lambda: barcode.is_displayed() and browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", barcode) > 0, "the barcode image")
    assert barcode.get_attribute("src") == claim["barras"]
    assert claim["barras"].startswith(f"https://{BARCODE_HOST}/") and urllib.parse.urlparse(claim["barras"]).path in barcodes.paths
    attempt = attempt_of(stack, "pay_later_reference", claim["referencia"])
    assert (attempt["state"], attempt["method"]) == ("awaiting_payment", "oxxo"), attempt
    assert re.fullmatch(r"h:portal-[0-9a-f]{32}", attempt["key"]), attempt  # the page's own Idempotency-Key
    expires = datetime.datetime.fromtimestamp(int(attempt["expires"]), ZoneInfo(TIME_ZONE))
    assert claim["expira"] == datetime.datetime.fromtimestamp(int(attempt["expires"]), datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    shown = text_of(browser, "pago-expira")
    assert f"{expires.day} de " in shown and f"{expires.minute:02d}" in shown and str(expires.year) in shown, shown
    assert f"{expires.hour % 12 or 12}:{expires.minute:02d}" in shown or f"{expires.hour}:{expires.minute:02d}" in shown, shown
    orders = [o for o in stack.conekta.control("GET", "state")["orders"][orders_before:]]
    assert [(o["id"], o["payment_status"], o["amount"]) for o in orders] == [(attempt["order"], "pending_payment", 1500)]
    assert clipboard_after_copy(browser, browser.find_element(By.CSS_SELECTOR, "#fila-referencia button.copiar")) == \
        claim["referencia"]
    assert no_horizontal_scroll(browser)[0] <= 360, no_horizontal_scroll(browser)
    small_shot(shoot, "10-oxxo-reference")

    # "Ya pagué" before paying: pending, a countdown to the next ask, and a button to ask now.
    seen = access_log_size(stack)
    browser.find_element(By.ID, "ya-pague").click()
    wait_until(browser, lambda: visible(browser, "canje-espera") and "Volvemos a consultar en" in text_of(browser, "canje-cuenta"),
               "the pending claim")
    assert "Aún no recibimos tu pago" in text_of(browser, "aviso")
    assert browser.find_element(By.ID, "codigo-canje").get_attribute("value") == code
    assert visible(browser, "canje-ahora")
    assert re.search(r"en [1-5] segundos?\.", text_of(browser, "canje-cuenta")), text_of(browser, "canje-cuenta")
    users = stack.router.control("GET", "state")["users"]
    assert not [u for u in users if u.get("comment") == f"hotspot-pay:{attempt['id']}"], "no user before the money"
    assert no_horizontal_scroll(browser)[0] <= 360
    small_shot(shoot, "11-oxxo-claim-pending")

    # Paid at the store: the page's next automatic ask gets the credentials and logs the device in.
    paid = stack.conekta.control("POST", f"orders/{attempt['order']}/pay", {})
    assert paid["payment_status"] == "paid", paid
    wait_until(browser, lambda: visible(browser, "resultado"), "the credentials after paying", timeout=150)
    receipt = stored_receipt(browser)
    username, password = receipt["usuario_hotspot"]["usuario"], receipt["usuario_hotspot"]["contrasena"]
    remember_password(stack, password)
    assert (text_of(browser, "cred-usuario"), text_of(browser, "cred-contrasena")) == (username, password)
    assert receipt["id_transaccion"] == attempt["order"] and receipt["producto"]["nombre"] == "1 Hora de Internet"
    assert stored_claim(browser, stack) is None  # redeemed: nothing left to claim
    # Enabled, and bound to no device: a code may be redeemed on another phone. The claim named
    # this one, for the server's attempt to connect it, as a card purchase does.
    user = router_user(stack, username)
    assert (user.get("password"), user.get("mac-address"), user.get("disabled")) == (password, None, "false"), user
    assert receipt["auto_conexion"]["mac"] == mac and receipt["auto_conexion"]["estado"] == "no_conectado", receipt
    assert attempt_of(stack, "id", attempt["id"])["state"] == "delivered"
    small_shot(shoot, "12-oxxo-claimed")
    post = hotspot.next_post(COUNTDOWN + 15)
    assert post is not None and post["fields"]["username"] == username and post["fields"]["password"] == password, post

    # The claims the page made: pending answers, then the credentials; the code in no URL or log.
    claims = claims_logged(stack, seen)
    assert claims[-1][:2] == ("POST", 200) and {c[:3] for c in claims[:-1]} == {("POST", 202, "pago_pendiente")}, claims
    assert {c[3] for c in claims} == {attempt["id"]}, claims  # the log names the attempt, never the code
    assert 2 <= len(claims) <= 12, claims  # asked again with backoff, not in a tight loop
    assert all(code not in line and code.replace("-", "") not in line for line in console(browser))
    assert_no_csp_violations(browser)
    check_invariants(stack)


def test_spei_shows_the_clabe_and_a_returning_customer_finds_the_code(stack, browser, shoot):
    mac, ip = device(7)
    url = stack.portal_url(mac=mac, ip=ip)
    open_page(browser, url)
    choose(browser, "spei")
    fill(browser, None, plan=1)
    pay(browser)
    wait_until(browser, lambda: visible(browser, "instrucciones"), "the CLABE")
    claim = stored_claim(browser, stack)
    code = claim["codigo"]
    remember_claim_code(stack, code)
    assert text_of(browser, "instrucciones-titulo") == "Paga por transferencia SPEI"
    assert text_of(browser, "pago-clabe") == claim["clabe"] and re.fullmatch(r"\d{18}", claim["clabe"]), claim
    assert text_of(browser, "pago-banco") == claim["banco"] == "STP"
    assert text_of(browser, "pago-monto") == "$49.90 MXN"
    assert not visible(browser, "fila-referencia") and not visible(browser, "pago-codigo-barras")
    assert text_of(browser, "pago-codigo") == code and re.fullmatch(CLAIM_CODE, code)
    attempt = attempt_of(stack, "pay_later_clabe", claim["clabe"])
    assert (attempt["state"], attempt["method"]) == ("awaiting_payment", "spei"), attempt
    # Copied without navigator.clipboard (a plain-HTTP page): the page's fallback.
    assert clipboard_after_copy(browser, browser.find_element(By.CSS_SELECTOR, "#fila-clabe button.copiar"),
                                without_clipboard_api=True) == claim["clabe"]
    assert clipboard_after_copy(browser, browser.find_element(By.ID, "copiar-monto")) == "49.90"
    assert no_horizontal_scroll(browser)[0] <= 360
    small_shot(shoot, "13-spei-clabe")

    # Closed and opened again: the page shows the same order and code (localStorage).
    browser.get("about:blank")
    browser.get(url)
    wait_until(browser, lambda: visible(browser, "instrucciones"), "the order kept across visits")
    assert (text_of(browser, "pago-clabe"), text_of(browser, "pago-codigo")) == (claim["clabe"], code)

    # Forgotten by the browser, typed by hand (any case, no dash): still pending, and kept again.
    browser.execute_script("localStorage.clear()")
    reopen(browser, url)
    browser.find_element(By.ID, "tengo-codigo").click()
    assert browser.switch_to.active_element.get_attribute("id") == "codigo-canje"
    field = browser.find_element(By.ID, "codigo-canje")
    field.send_keys(code.lower().replace("-", " "))
    browser.find_element(By.ID, "canjear").click()
    wait_until(browser, lambda: visible(browser, "canje-espera"), "the pending claim")
    assert field.get_attribute("value") == code and "Aún no recibimos tu pago" in text_of(browser, "aviso")
    assert stored_claim(browser, stack)["clabe"] == claim["clabe"]
    browser.find_element(By.ID, "canje-volver").click()
    assert visible(browser, "instrucciones") and text_of(browser, "pago-clabe") == claim["clabe"]

    # Expired unpaid at Conekta: "Ya pagué" gets the 410 in the page's words, and the code is let go.
    stack.conekta.control("POST", f"orders/{attempt['order']}/expire", {})
    deadline = time.time() + 30
    while attempt_of(stack, "id", attempt["id"])["state"] != "expired":
        assert time.time() < deadline, attempt_of(stack, "id", attempt["id"])
        time.sleep(0.2)
    browser.find_element(By.ID, "ya-pague").click()
    wait_until(browser, lambda: "La referencia venció sin que recibiéramos tu pago" in text_of(browser, "aviso"),
               "the 410 message")
    assert "No se hizo ningún cargo" in text_of(browser, "aviso") and not visible(browser, "canje-espera")
    assert stored_claim(browser, stack) is None
    assert all(code not in line for line in console(browser))
    check_invariants(stack)


def test_a_wrong_code_typed_by_hand_gets_the_404_message(stack, browser, shoot):
    mac, ip = device(8)
    open_page(browser, stack.portal_url(mac=mac, ip=ip))
    browser.find_element(By.ID, "tengo-codigo").click()
    field = browser.find_element(By.ID, "codigo-canje")

    # Not a code at all: said on the field, nothing sent.
    seen = access_log_size(stack)
    field.send_keys("123")
    browser.find_element(By.ID, "canjear").click()
    assert field.get_attribute("aria-invalid") == "true" and "10 letras y números" in text_of(browser, "codigo-canje-error")
    assert browser.switch_to.active_element.get_attribute("id") == "codigo-canje"

    # A code of the right shape nobody was given: the 404 in the page's words.
    field.clear()
    field.send_keys("zzzzz zzzz9")
    browser.find_element(By.ID, "canjear").click()
    wait_until(browser, lambda: "No encontramos ese código" in text_of(browser, "aviso"), "the 404 message")
    assert browser.switch_to.active_element.get_attribute("id") == "aviso"
    assert field.get_attribute("value") == "ZZZZZ-ZZZZ9" and field.get_attribute("aria-invalid") == "true"
    assert not visible(browser, "canje-espera")
    assert [c[:3] for c in claims_logged(stack, seen)] == [("POST", 404, "codigo_desconocido")]
    assert no_horizontal_scroll(browser)[0] <= 360
    small_shot(shoot, "14-wrong-code")

    # Two more wrong codes from this device, then the server's limit: 429 in the page's words.
    for guess in ("ZZZZZ-ZZZZ8", "ZZZZZ-ZZZZ7", "ZZZZZ-ZZZZ6"):
        field.clear()
        field.send_keys(guess)
        browser.find_element(By.ID, "canjear").click()
        wait_until(browser, lambda: "Consultando" not in text_of(browser, "aviso"), "the answer")
    notice = text_of(browser, "aviso")
    assert "Demasiados códigos incorrectos desde este dispositivo. Espera 10 minutos" in notice, notice
    assert [c[1:3] for c in claims_logged(stack, seen)] == [(404, "codigo_desconocido")] * 3 + [(429, "demasiados_intentos")]
    browser.find_element(By.ID, "canje-volver").click()
    assert visible(browser, "compra")
