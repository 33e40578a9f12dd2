"""`make demo` and `make demo-stop` as a user runs them (scripts/demo.py and `hotspot_stack.py
down`, which the Makefile calls), on one demo started in a temporary directory:

- what the demo shows under a `$ curl` line is what curl printed, byte for byte (`15.00` as the
  server writes it, not re-rendered JSON);
- a second run while the demo runs whole keeps it (same port, key, processes, database) and
  prints its addresses again; a demo missing one of its processes is reported with what exited;
- `down` says what it stopped, stops all of it, and says "no demo is running" the second time.

One demo start only (it costs about ten seconds); everything it starts is stopped afterwards.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

import pytest

from conftest import ROOT

SCRIPTS = os.path.join(ROOT, "scripts")
sys.path.insert(0, SCRIPTS)
import demo  # noqa: E402
import hotspot_stack  # noqa: E402

BUILD_DIR = os.environ.get("HOTSPOT_BUILD_DIR") or os.path.join(ROOT, ".build", "debug")


def run_demo(directory):
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, "demo.py"), "--dir", directory, "--build-dir", BUILD_DIR],
                          capture_output=True, timeout=300)


def stop_demo(directory):
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, "hotspot_stack.py"), "down", "--dir", directory],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_dir():
    """A demo directory under a fresh temporary one, stopped and removed afterwards whatever
    the tests did."""
    parent = tempfile.mkdtemp(prefix="hotspot-demo-test-")
    os.chmod(parent, 0o755)  # as root, nginx's workers (www-data) reach the socket through it
    directory = os.path.join(parent, "demo")
    try:
        yield directory
    finally:
        stop_demo(directory)
        for pid in hotspot_stack.running_processes(directory).values():  # belt and braces
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
def first_run(demo_dir):
    result = run_demo(demo_dir)
    assert result.returncode == 0, (result.stdout.decode(errors="replace")[-3000:], result.stderr.decode(errors="replace"))
    return result.stdout, json.load(open(os.path.join(demo_dir, "stack.json")))


def shown_after(output, pattern):
    """What the demo printed under the `$ curl …` line matching `pattern`: the bytes up to the next blank line."""
    match = re.search(rb"\n\$ curl [^\n]*" + pattern + rb"[^\n]*\n(.*?)\n\n", output, re.S)
    assert match, f"no `$ curl … {pattern!r}` block in:\n{output.decode(errors='replace')[:3000]}"
    return match.group(1) + b"\n"


def test_the_demo_shows_a_dashboard_refund_revoking_the_access(first_run):
    output, state = first_run
    text = output.decode(errors="replace")
    assert "hotspotctl --env-file" in text and " company webhook --company " in text
    assert re.search(r"the hotspot user \S+ is disabled on the router: .*\"disabled\": \"true\"", text), text[-3000:]
    timeline = text[text.index(" payments show "):]
    assert re.search(r"revoking.*\n.*revoked", timeline) or "→ revoked" in timeline, timeline[:2000]
    assert "order.refunded" in text


def test_the_demo_shows_what_curl_prints(first_run):
    output, state = first_run
    base = f"http://127.0.0.1:{state['port']}"
    # The catalogue, asked for again with the same command, is what the demo showed byte for byte.
    shown = shown_after(output, rb"/api/v1/catalogo_perfiles_venta")
    again = subprocess.run(["curl", "-sS", "-H", f"X-API-Key: {state['api_key']}", f"{base}/api/v1/catalogo_perfiles_venta"],
                           capture_output=True, check=True).stdout
    assert shown == (again if again.endswith(b"\n") else again + b"\n"), (shown, again)
    # The purchase: the server's own bytes (money with two decimals), not JSON re-rendered.
    receipt = shown_after(output, rb"/api/v1/payments/pagar-conekta")
    assert receipt.count(b"\n") == 1 and b'"precio":15.00' in receipt, receipt
    assert json.loads(receipt)["success"] is True
    assert shown_after(output, rb"/health") == b'{"status":"ok","database":"ok"}\n'


def test_a_second_run_keeps_the_running_demo_and_prints_its_addresses(demo_dir, first_run):
    _, state = first_run
    running = hotspot_stack.running_processes(demo_dir, state)
    assert set(running) == {"nginx", "server", "router", "conekta", "postgres"}, running
    result = run_demo(demo_dir)
    output = result.stdout.decode()
    assert result.returncode == 0, (output, result.stderr)
    assert "already running" in output and "Starting PostgreSQL" not in output, output
    assert f"http://127.0.0.1:{state['port']} " in output and state["portal_url"] in output, output
    assert "make demo-stop" in output
    assert json.load(open(os.path.join(demo_dir, "stack.json")))["api_key"] == state["api_key"]
    assert hotspot_stack.running_processes(demo_dir, state) == running
    # The same database: the purchase of the first run is still there.
    with urllib.request.urlopen(f"http://127.0.0.1:{state['port']}/metrics", timeout=10) as reply:
        assert 'hotspot_payments_total{codigo="pagado"}' in reply.read().decode()


def test_a_half_dead_demo_is_reported_with_what_exited(demo_dir, first_run):
    """Without a second start: the check a second `make demo` runs, after one process exited."""
    _, state = first_run
    os.kill(state["pids"]["conekta"], signal.SIGTERM)
    hotspot_stack.wait_for(lambda: "conekta" not in hotspot_stack.running_processes(demo_dir, state), 10,
                           "the sandbox Conekta to exit")
    recorded, problems = demo.recorded_demo(demo_dir)
    assert recorded["port"] == state["port"]
    assert problems == ["the sandbox Conekta has exited"], problems


def test_demo_stop_says_what_it_stopped_then_that_no_demo_is_running(demo_dir, first_run):
    _, state = first_run
    running = hotspot_stack.running_processes(demo_dir, state)
    assert running, "the demo is not running any more"
    first = stop_demo(demo_dir)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"stopped the demo in {demo_dir} (port {state['port']}): nginx (pid "), first.stdout
    for name, pid in running.items():
        assert f"{hotspot_stack.LABELS[name]} (pid {pid})" in first.stdout, (name, first.stdout)
    assert hotspot_stack.running_processes(demo_dir, state) == {}
    second = stop_demo(demo_dir)
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"no demo is running in {demo_dir}\n", second.stdout
