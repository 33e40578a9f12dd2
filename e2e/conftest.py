"""End-to-end fixtures: one whole stack (PostgreSQL, sandboxes, hotspot-pay, nginx) per session."""

import base64
import hashlib
import hmac
import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from hotspot_stack import Stack  # noqa: E402


def running_stack(threads=8, **options):
    """A whole stack for one test module (or the session), with room under nginx's limits for
    the suites' own bursts, stopped and removed afterwards (HOTSPOT_KEEP_STACK keeps the files)."""
    s = Stack(threads=threads, payment_rate="100000r/s", api_rate="100000r/s", conn_limit=1000, **options)
    try:
        s.start()
        yield s
    finally:
        s.discard()


@pytest.fixture(scope="session")
def stack():
    yield from running_stack()


def env_value(stack, key):
    for line in open(stack.env_file):
        if line.startswith(key + "="):
            return line.split("=", 1)[1].strip()
    raise KeyError(key)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_key(stack, claims, header=None, secret=None):
    """A jwt_ key signed with the server's key secret (or another), for attack tests."""
    header = header or {"alg": "HS256", "typ": "JWT"}
    secret = secret if secret is not None else env_value(stack, "HOTSPOT_KEY_SECRET").encode()
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return "jwt_" + signing_input + "." + b64url(signature)


def get(stack, path, key=None, bearer=False, headers=None):
    merged = dict(headers or {})
    if key is not None:
        merged["Authorization" if bearer else "X-API-Key"] = ("Bearer " + key) if bearer else key
    return stack.request("GET", path, headers=merged)


def other_company(stack):
    """A second company with its own router, product and key."""
    if not hasattr(stack, "_other"):
        company = stack.ctl("company", "add", "--name", "Hotel Otro")["id"]
        router = stack.ctl("router", "add", "--company", str(company), "--name", "Lobby", "--url", stack.router.url,
                           "--user", "api", "--password", "x", "--insecure")["id"]
        product = stack.ctl("product", "add", "--company", str(company), "--router", str(router), "--name", "Otro plan",
                            "--price", "10", "--profile", "1hora", "--skip-router-check")["id"]
        key = stack.ctl("key", "issue", "--router", str(router))["api_key"]
        stack._other = {"company": company, "router": router, "product": product, "key": key}
    return stack._other
