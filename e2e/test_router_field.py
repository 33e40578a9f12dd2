"""CONTRACT §13 end to end: `hotspotctl router check` against the sandbox router in each way a
router in the field goes wrong (its message, its fix, its exit code), a healthy router, `--json`,
`router add` checking what it added, `router list`'s status, the server's own periodic check and
its metric, and `router setup-script` as the operator runs it.

The stack's server checks its routers every second (HOTSPOT_ROUTER_CHECK_INTERVAL=1), so the
metric follows what the sandbox is made to be; every test puts the router back as it found it."""

import json
import os
import re
import subprocess
import time

import pytest

from conftest import running_stack
from hotspot_stack import ROUTER_PASSWORD
from test_metrics import metrics, value
from test_payments import server_log

CHECKS = ["address", "tls", "credentials", "version", "policies", "service", "hotspot_server", "profiles", "clock"]
WRONG_PIN = "sha256//" + "A" * 43 + "="


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(threads=2, extra_env={"HOTSPOT_ROUTER_CHECK_INTERVAL": "1"})


@pytest.fixture(autouse=True)
def router_as_found(stack):
    """Each test starts and ends with router 1 healthy: the sandbox's router reset, the record's
    password and pin as provisioned."""
    yield
    stack.router.control("POST", "reset")
    for name in ("1hora", "1dia"):
        if name not in [p["name"] for p in stack.router.control("GET", "state")["profiles"]]:
            stack.router.control("POST", "profiles", {"name": name})
    hotspotctl(stack, "router", "set", "1", "--pin", stack.router.info["pin"], "--password-stdin",
               "--hotspot-server", "hotspot1", stdin=ROUTER_PASSWORD + "\n")


def hotspotctl(stack, *args, stdin=None):
    """(exit code, stdout, stderr) of hotspotctl with the stack's env file, as the README runs it."""
    result = subprocess.run([os.path.join(stack.build_dir, "hotspotctl"), "--env-file", stack.env_file] + list(args),
                            input=stdin, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


def check_lines(out):
    """{check: (status word, rest of the line)} of `router check`'s text."""
    found = {}
    for line in out.splitlines():
        match = re.match(r"(ok|warn|FAIL|skip) +(\w+) +(.*)$", line)
        if match and match.group(2) in CHECKS:
            found[match.group(2)] = (match.group(1), match.group(3))
    return found


def check(stack, router="1"):
    code, out, err = hotspotctl(stack, "router", "check", router)
    lines = check_lines(out)
    assert list(lines) == CHECKS, out + err
    return code, lines, out


def test_a_healthy_router_passes_every_check(stack):
    code, lines, out = check(stack)
    assert code == 0, out
    assert all(status == "ok" for status, _ in lines.values()), out
    assert out.splitlines()[0] == f"router 1 at {stack.router.url} (user api)"
    assert out.splitlines()[-1] == "router 1 is ready"
    assert lines["tls"][1] == f"the router's key matches the pin {stack.router.info['pin']}"
    assert lines["version"][1] == "RouterOS 7.16.2 (stable) on hAP ac^2"
    assert lines["policies"][1] == "group hotspot-pay grants read, write, api, rest-api and nothing more"
    assert lines["hotspot_server"][1] == "hotspot server hotspot1 runs"
    assert lines["profiles"][1] == "every product's profile exists: 1hora, 1dia"


def test_json_names_every_check_with_its_status_code_message_and_fix(stack):
    code, out, err = hotspotctl(stack, "router", "check", "1", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert set(body) == {"router", "url", "status", "checked_at", "checks"}
    assert (body["router"], body["url"], body["status"]) == (1, stack.router.url, "ok")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["checked_at"])
    assert [c["check"] for c in body["checks"]] == CHECKS
    for entry in body["checks"]:
        assert set(entry) == {"check", "status", "code", "message", "fix"}
        assert entry["status"] == "ok" and entry["fix"] is None and entry["message"]
    assert body["checks"][0]["code"] == "reached" and body["checks"][1]["code"] == "pin_matched"

    stack.router.control("POST", "system", {"version": "6.49.17 (long-term)"})
    code, out, _ = hotspotctl(stack, "router", "check", "1", "--json")
    body = json.loads(out)
    assert code == 1 and body["status"] == "fail"
    version = body["checks"][3]
    assert (version["check"], version["status"], version["code"]) == ("version", "fail", "no_rest")
    assert "upgrade to RouterOS 7" in version["fix"]


# (what breaks the router, the check that fails, words of its message, words of its fix)
FAILURES = {
    "wrong password": ("credentials", "the router refused user api (401)", "/user set api password="),
    "wrong pin": ("tls", f"the router's key is not the pinned {WRONG_PIN}", "hotspotctl router set 1 --pin"),
    "REST off": ("address", "refused the connection: REST (the www-ssl service) is off",
                 "/ip service set www-ssl disabled=no"),
    "RouterOS 6": ("version", "no REST API at", "upgrade to RouterOS 7"),
    "no write policy": ("policies", "group hotspot-pay lacks write", "/user group set hotspot-pay policy=read,write,api,rest-api"),
    "no read policy": ("policies", "may not read the configuration (std failure: not allowed (9)): its group lacks read",
                       "policy=read,write,api,rest-api"),
    "no hotspot server": ("hotspot_server", "no hotspot server named hotspot1; the router has lobby",
                          "hotspotctl router set 1 --hotspot-server"),
    "missing profile": ("profiles", 'no user profile named exactly "1dia" (product 2)',
                        "/ip hotspot user profile add name=1dia"),
}


def break_router(stack, how):
    if how == "wrong password":
        hotspotctl(stack, "router", "set", "1", "--password-stdin", stdin="not-the-password\n")
    elif how == "wrong pin":
        hotspotctl(stack, "router", "set", "1", "--pin", WRONG_PIN)
    elif how == "REST off":
        stack.router.control("POST", "service", {"name": "www-ssl", "disabled": True})
    elif how == "RouterOS 6":
        stack.router.control("POST", "system", {"version": "6.49.17 (long-term)"})
    elif how == "no write policy":
        stack.router.control("POST", "policies", {"policy": "read,api,rest-api"})
    elif how == "no read policy":
        stack.router.control("POST", "policies", {"policy": "write,api,rest-api"})
    elif how == "no hotspot server":
        stack.router.control("POST", "hotspot-servers", {"servers": [{"name": "lobby"}]})
    elif how == "missing profile":
        stack.router.control("DELETE", "profiles/1dia")


@pytest.mark.parametrize("how", list(FAILURES))
def test_each_failing_check_says_what_and_how_to_fix_it_and_exits_1(stack, how):
    failed, message, fix = FAILURES[how]
    break_router(stack, how)
    code, lines, out = check(stack)
    assert code == 1, out
    status, text = lines[failed]
    assert status == "FAIL", out
    assert message in text, text
    assert " — fix: " in text and fix in text.split(" — fix: ", 1)[1], text
    # What the failed check needs is not tried; what it does not need still is.
    index = CHECKS.index(failed)
    if failed in ("address", "tls", "credentials", "version"):
        assert all(lines[c][0] == "skip" for c in CHECKS[index + 1:]), out
    assert all(lines[c][0] in ("ok", "skip") for c in CHECKS[:index]), out
    assert out.splitlines()[-1] == f"router 1 is not ready: {failed} failed"


def test_warnings_exit_0_a_skewed_clock_and_extra_policies(stack):
    stack.router.control("POST", "system", {"clock_offset_seconds": 600})
    stack.router.control("POST", "policies", {"policy": "read,write,api,rest-api,policy,sensitive,ftp"})
    code, lines, out = check(stack)
    assert code == 0, out
    assert lines["clock"][0] == "warn" and "the router's clock is 10 min ahead of ours" in lines["clock"][1], out
    assert "/system ntp client set enabled=yes servers=pool.ntp.org" in lines["clock"][1]
    assert lines["policies"] == ("warn", "group hotspot-pay also grants ftp, policy, sensitive: more than hotspot-pay needs"
                                 " — fix: /user group set hotspot-pay policy=read,write,api,rest-api"), out
    assert out.splitlines()[-1] == "router 1 is ready, with warnings: policies, clock"


def test_router_list_shows_each_routers_last_check(stack):
    # The server checks every second too: a check it began before the break may land after
    # hotspotctl's. Break the router for both, wait until the server has seen it (a check begun
    # later, under its per-router lease), then read what they agree on.
    break_router(stack, "wrong password")
    deadline = time.monotonic() + 30
    while True:
        _, out, _ = hotspotctl(stack, "router", "list", "--json")
        health = next(r for r in json.loads(out) if r["id"] == 1)["health"]
        if health["status"] == "fail" and health["checked_by"] != "hotspotctl":
            break
        assert time.monotonic() < deadline, f"the server never saw the broken router: {health}"
        time.sleep(0.2)
    check(stack)
    code, out, err = hotspotctl(stack, "router", "list")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("1\t")).split("\t")
    assert row[:4] == ["1", "company 1", "active", "FAIL (credentials)"], out
    code, out, _ = hotspotctl(stack, "router", "list", "--json")
    health = next(r for r in json.loads(out) if r["id"] == 1)["health"]
    assert health["status"] == "fail" and health["failing"] == ["credentials"] and health["warnings"] == []
    assert health["checks"]["address"] == "ok" and health["checks"]["version"] == "skip"
    assert health["checked_by"], "hotspotctl, or the server instance that checked it last"


def test_router_add_checks_what_it_added_and_adds_it_anyway(stack):
    code, out, err = hotspotctl(stack, "router", "add", "--company", "1", "--name", "Sin REST",
                                "--url", "https://127.0.0.1:9", "--user", "api", "--password-stdin", "--insecure",
                                stdin="x\n")
    assert code == 0, err
    assert re.fullmatch(r"router \d+ added", out.strip()), out
    router = out.split()[1]
    assert re.search(r"^FAIL address +127\.0\.0\.1:9 refused the connection", err, re.M), err
    assert err.splitlines()[-1] == f"router {router} is not ready: address failed"
    code, out, _ = hotspotctl(stack, "router", "add", "--company", "1", "--name", "Otra", "--url", "https://127.0.0.1:9",
                              "--user", "api", "--password", "x", "--insecure", "--json")
    added = json.loads(out)
    assert code == 0 and added["check"]["status"] == "fail" and added["check"]["checks"][0]["code"] == "refused"
    code, out, _ = hotspotctl(stack, "router", "list")
    assert f"{router}\tcompany 1\tactive\tFAIL (address)\tSin REST\thttps://127.0.0.1:9" in out.splitlines()
    # Out of the way of the server's checks and the metric's series.
    for each in (router, str(added["id"])):
        hotspotctl(stack, "router", "disable", each)


def health_samples(stack, router="1"):
    samples = metrics(stack)
    return {check: value(samples, "hotspot_router_health", router=router, check=check) for check in CHECKS}, samples


def wait_for_health(stack, predicate, what, timeout=20):
    deadline = time.time() + timeout
    while True:
        health, samples = health_samples(stack)
        if predicate(health, samples):
            return health, samples
        assert time.time() < deadline, f"{what}: {health}"
        time.sleep(0.5)


def test_the_server_checks_routers_and_exports_their_health(stack):
    health, samples = wait_for_health(stack, lambda h, s: all(v == 1 for v in h.values()), "a healthy router")
    checked = value(samples, "hotspot_router_checked_timestamp_seconds", router="1")
    assert abs(checked - time.time()) < 30

    break_router(stack, "no write policy")
    health, samples = wait_for_health(stack, lambda h, s: h["policies"] == 0, "policies failing")
    assert health["address"] == health["credentials"] == health["profiles"] == 1
    assert value(samples, "hotspot_router_health_warning", router="1", check="policies") == 0

    stack.router.control("POST", "reset")
    stack.router.control("POST", "system", {"clock_offset_seconds": -400})
    health, samples = wait_for_health(
        stack, lambda h, s: h["policies"] == 1 and value(s, "hotspot_router_health_warning", router="1", check="clock") == 1,
        "the clock a warning")
    assert health["clock"] == 1, "a warning still holds"

    break_router(stack, "REST off")
    health, _ = wait_for_health(stack, lambda h, s: h["address"] == 0, "address failing")
    assert all(health[c] == 0 for c in CHECKS[1:]), "what could not run is not healthy"
    failed = [line for line in server_log(stack) if line.get("msg") == "router check failed" and line.get("router") == "1"]
    assert failed and failed[-1]["failing"].startswith("address:refused"), failed[-1:]


def test_setup_script_prints_the_routers_script_and_keeps_its_password_unless_asked(stack):
    args = ["router", "setup-script", "1", "--server-address", "203.0.113.10", "--portal-url", "https://pay.example.com/portal/"]
    code, out, err = hotspotctl(stack, *args)
    assert code == 0, err
    assert out.startswith('# hotspot-pay: router 1 "Router Terraza", printed ')
    assert "/user group add name=hotspot-pay policy=read,write,api,rest-api" in out
    assert 'password="REPLACE-WITH-THE-PASSWORD-GIVEN-TO-ROUTER-ADD"' in out and ROUTER_PASSWORD not in out
    assert "address=203.0.113.10/32" in out and "/ip hotspot walled-garden ip add action=accept dst-host=api.conekta.io" in out
    assert ':local page "<!doctype html>' in out and "pay.example.com/portal/" in out
    assert "warning: the script's password is a placeholder" in err and "login.html has no API key" in err
    # How to pin it, for this router's address: the openssl pipeline that prints the pin.
    port = stack.router.info["port"]
    pin_command = re.search(rf"^openssl s_client -connect 127\.0\.0\.1:{port} .*\| base64$", err, re.M)
    assert pin_command, err
    pin = subprocess.run(["bash", "-c", pin_command.group(0)], capture_output=True, text=True).stdout.strip()
    assert "sha256//" + pin == stack.router.info["pin"]

    code, out, err = hotspotctl(stack, *args, "--include-password", "--api-key", "jwt_a.b.c")
    assert code == 0 and f'password="{ROUTER_PASSWORD}"' in out and "jwt_a.b.c" in out and "warning" not in err

    wireguard = ["--portal-url", "https://pay.example.com/portal/", "--wireguard", "--hub-endpoint", "hub.example.net:51820",
                 "--hub-public-key", "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="]
    code, out, err = hotspotctl(stack, "router", "add", "--company", "1", "--name", "Por nombre", "--url",
                                "https://terraza.example", "--user", "api", "--password", "x", "--insecure", "--skip-check")
    named = out.split()[1]
    code, _, err = hotspotctl(stack, "router", "setup-script", named, *wireguard)
    hotspotctl(stack, "router", "disable", named)
    assert code != 0 and "the router's URL must be its tunnel address, such as https://10.99.0.2" in err, err

    code, out, err = hotspotctl(stack, "router", "add", "--company", "1", "--name", "Tras NAT", "--url", "https://10.99.0.2",
                                "--user", "api", "--password", "x", "--insecure", "--skip-check")
    assert code == 0, err
    router = out.split()[1]
    code, out, err = hotspotctl(stack, "router", "setup-script", router, *wireguard, "--json")
    hotspotctl(stack, "router", "disable", router)
    assert code == 0, err
    body = json.loads(out)
    assert body["password"] == "placeholder" and re.fullmatch(r"[A-Za-z0-9+/]{43}=", body["router_public_key"])
    assert f"[Peer]\nPublicKey = {body['router_public_key']}\nAllowedIPs = 10.99.0.2/32\n" in body["hub_peer"]
    script = body["script"]
    assert "/interface wireguard add name=wg-hotspot-pay private-key=" in script
    assert "endpoint-address=hub.example.net endpoint-port=51820 allowed-address=10.99.0.0/24 persistent-keepalive=25s" in script
    assert "/ip service set www-ssl certificate=hotspot-pay-rest port=443 address=10.99.0.1/32 disabled=no" in script
    assert "in-interface=wg-hotspot-pay" in script
