#!/usr/bin/env python3
"""make demo: the product's main job on this machine. Starts a throw-away PostgreSQL cluster,
the sandbox router and Conekta, hotspot-pay and nginx (from deploy/nginx.conf), provisions a
company, router, products and key with hotspotctl, sets up the company's Conekta webhook,
fetches the catalogue through nginx with curl, buys the first product through nginx with curl
(the sandbox's tok_test_visa_4242 card), shows the hotspot user the purchase created on the
sandbox router, refunds the order in the sandbox's "dashboard" and shows the webhook revoking
that user (the event, the attempt's timeline), then the metrics an operator scrapes, prints
the payment page's address (deploy/portal/ served by nginx, as a hotspot's login.html opens
it), and leaves everything running.

Run again while that demo runs whole (every process alive, /health through nginx answering),
it keeps it, data and all, and prints its addresses again. A demo found dead or half-dead is
stopped (what is left of it) and a new one started, with one line saying so."""

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hotspot_stack import COMPONENTS, LABELS, Stack, health, read_state, running_processes, stop_running, write_state


class DemoFailed(Exception):
    pass


class ReaderGone:
    """stdout that outlives its reader (`make demo | head`): once the pipe is closed, the rest
    goes to /dev/null and the demo still finishes, rather than dying half-started."""

    def __init__(self, stream):
        self._stream = stream

    def _guarded(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            return method(*args)

    def write(self, data):
        return self._guarded(self._stream.write, data)

    def flush(self):
        return self._guarded(self._stream.flush)

    @property
    def buffer(self):
        return ReaderGone(self._stream.buffer)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def run(title, command):
    """Prints the command and exactly what it printed (its stdout's bytes, a newline added when
    they lack one); returns those bytes. Nothing is parsed or re-rendered for the reader."""
    print(f"\n$ {shlex.join(command)}", flush=True)
    result = subprocess.run(command, capture_output=True)
    output = result.stdout
    sys.stdout.buffer.write(output if output.endswith(b"\n") or not output else output + b"\n")
    sys.stdout.buffer.flush()
    if result.returncode != 0:
        raise DemoFailed(f"{title} failed: {result.stderr.decode(errors='replace').strip()}")
    return output


def summary(state):
    base = f"http://127.0.0.1:{state['port']}"
    return f"""The stack is running:
  API through nginx   {base}   (key: {state['api_key'][:24]}…, full key in {state['directory']}/stack.json)
  operator command    {state['build_dir']}/hotspotctl --env-file {state['env_file']} --help
  logs                {state['server_log']}  and  {state['access_log']}
  metrics             curl -sS {base}/metrics   (loopback only)

The payment page, as a hotspot's login.html opens it (this router's key and a sample device in
the fragment; open it in a browser on this machine, phone-sized for the real look):
  {state['portal_url']}
It loads the sandbox's Conekta.js stand-in from {state['conekta_url']}/conekta.js, whose
certificate is self-signed: open that address once and accept the certificate first. Test
cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, any name, a future date, any
CVC (every test card and token: the README, "Test cards and tokens").

Stop with: make demo-stop"""


def recorded_demo(directory):
    """(state, problems) of the demo recorded in `directory`: state is stack.json (None when
    there is none); problems is empty when that demo runs whole, else why it does not (what
    exited, a /health that does not answer), or None when nothing of a demo is there at all."""
    state = read_state(directory)
    running = running_processes(directory, state)
    if state is None and not running:
        return None, None
    if not running:
        return state, ["it had stopped"]
    problems = []
    if state is None:
        problems.append("it left no stack.json")
    elif "complete" not in state:
        problems.append("an older make demo started it")
    elif not state["complete"]:
        problems.append("it never finished starting")
    exited = [label for name, label, _, _ in COMPONENTS if name not in running]
    if exited:
        problems.append(f"{', '.join(exited)} {'has' if len(exited) == 1 else 'have'} exited")
    if state and not exited and not health(state.get("port")):
        problems.append(f"its /health through nginx on port {state.get('port')} does not answer")
    return state, problems


def revoke(stack, ctl, order_id, username):
    """A refund made in Conekta's dashboard (the sandbox's control stands in for it) takes the
    access back: Conekta signs an `order.refunded` event, hotspot-pay checks it, reads the order
    again and disables the user (CONTRACT §10)."""
    print(f"\nThe café refunds order {order_id} in Conekta's dashboard (here: the sandbox's control) …")
    stack.conekta.control("POST", f"orders/{order_id}/refund", {})
    deadline = time.time() + 60
    while True:
        (user,) = [u for u in stack.router.control("GET", "state")["users"] if u.get("name") == username]
        (attempt,) = stack.ctl("payments", "list", "--limit", "1")
        if user.get("disabled") == "true" and attempt["state"] == "revoked":
            break
        if time.time() > deadline:
            raise DemoFailed(f"the access of {username} was not revoked within a minute of the refund "
                             f"(user disabled={user.get('disabled')}, attempt {attempt['state']})")
        time.sleep(0.2)
    print(f"… and within {60 - (deadline - time.time()):.1f} s the hotspot user {username} is disabled on the router: "
          f"{json.dumps({k: v for k, v in user.items() if k in ('name', 'disabled', 'profile')}, ensure_ascii=False)}")
    listed = run("events", ctl + ["events", "list", "--company", str(stack.ids["company"])])
    if b"order.refunded" not in listed:
        raise DemoFailed("hotspotctl events list does not show the order.refunded event")
    shown = run("timeline", ctl + ["payments", "show", attempt["id"]])
    if b"revoked" not in shown:
        raise DemoFailed("hotspotctl payments show does not end in revoked")


def demonstrate(stack, directory):
    base = f"http://127.0.0.1:{stack.port}"
    print(f"Provisioned with hotspotctl: company {stack.ids['company']}, router {stack.ids['router']}, "
          f"products {stack.ids['products']}, key {stack.ids['key_id']}")

    ctl = [os.path.join(stack.build_dir, "hotspotctl"), "--env-file", stack.env_file]
    print("\nConekta's events reach hotspot-pay through nginx once the company's webhook is set up "
          "(a key pair made at Conekta, the receiving URL registered there):")
    run("webhook set-up", ctl + ["company", "webhook", "--company", str(stack.ids["company"]), "--url", base])

    run("health", ["curl", "-sS", f"{base}/health"])
    run("config", ["curl", "-sS", "-H", f"X-API-Key: {stack.api_key}", f"{base}/api/v1/config/public"])
    catalogue = json.loads(run("catalogue", ["curl", "-sS", "-H", f"X-API-Key: {stack.api_key}",
                                             f"{base}/api/v1/catalogo_perfiles_venta"]))

    print(f"\nBuying \"{catalogue[0]['nombre_venta']}\" with the sandbox card tok_test_visa_4242 …")
    purchase = {"producto_id": catalogue[0]["id"], "token_tarjeta": "tok_test_visa_4242",
                "nombre_cliente": "Cliente Demo", "email_cliente": "cliente@demo.example",
                "tipo_usuario": "usuario_contrasena"}
    receipt = json.loads(run("purchase", ["curl", "-sS", "--fail-with-body", "-X", "POST",
                                          "-H", f"X-API-Key: {stack.api_key}", "-H", "Content-Type: application/json",
                                          "--data-binary", json.dumps(purchase, ensure_ascii=False),
                                          f"{base}/api/v1/payments/pagar-conekta"]))
    credentials = receipt["usuario_hotspot"]
    print(f"\nWi-Fi credentials: usuario {credentials['usuario']}, contraseña {credentials['contrasena']} "
          f"(order {receipt['id_transaccion']})")

    users = [user for user in stack.router.control("GET", "state")["users"] if user.get("name") == credentials["usuario"]]
    if len(users) != 1:
        raise DemoFailed(f"expected one hotspot user {credentials['usuario']} on the sandbox router, found {len(users)}")
    row = {name: value for name, value in users[0].items() if name != "password"}
    print("\nThe hotspot user on the sandbox router (its state, password left out):")
    print(json.dumps(row, indent=2, ensure_ascii=False))
    if row.get("disabled") != "false":
        raise DemoFailed(f"the hotspot user {credentials['usuario']} is not enabled on the router")
    print(f"The user is enabled with profile {row.get('profile')}: the customer can log in to the hotspot now.")

    revoke(stack, ctl, receipt["id_transaccion"], credentials["usuario"])

    print("\nWhat an operator's Prometheus sees (/metrics, served by nginx to loopback only):")
    print(f"$ curl -sS {base}/metrics | grep '^hotspot_'")
    metrics = subprocess.run(["curl", "-sS", "--fail", f"{base}/metrics"], capture_output=True, text=True)
    if metrics.returncode != 0:
        raise DemoFailed(f"/metrics failed: {metrics.stderr.strip()}")
    samples = [line for line in metrics.stdout.splitlines() if line.startswith("hotspot_")]
    print("\n".join(samples))
    for expected in ('hotspot_payments_total{codigo="pagado"} 1', 'operation="create_order",outcome="ok"'):
        if not any(expected in line for line in samples):
            raise DemoFailed(f"/metrics does not show {expected}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()
    directory = os.path.abspath(args.dir)
    sys.stdout = ReaderGone(sys.stdout)

    state, problems = recorded_demo(directory)
    if problems == []:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(state.get("started_at", 0)))
        print(f"A demo is already running in {directory} (since {started}, port {state['port']}): kept as it is, "
              "its database too. `make demo-stop` stops it; `make demo` then starts a new one.")
        binary = os.path.join(args.build_dir, "hotspot-pay")
        if os.path.exists(binary) and os.path.getmtime(binary) > state.get("started_at", 0):
            print("hotspot-pay was rebuilt since: this demo still runs the build it started with.")
        print()
        print(summary(state))
        return
    if problems:
        stopped = stop_running(directory, state)
        if stopped:
            print(f"demo: the demo in {directory} was not running whole ({'; '.join(problems)}): stopped what was "
                  f"left ({', '.join(LABELS[name] for name, _ in stopped)}), starting a new one.")
        else:
            print(f"demo: the demo recorded in {directory} had stopped: starting a new one.")
    shutil.rmtree(directory, ignore_errors=True)

    # Whatever ends this run before the demo is whole (a failure, Ctrl-C, a closed terminal)
    # stops what it started: nothing is left running that no stack.json describes.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)

    stack = Stack(directory=directory, build_dir=args.build_dir)
    print("Starting PostgreSQL, the sandbox router and Conekta, hotspot-pay and nginx …", flush=True)
    try:
        stack.start()
        write_state(directory, stack.state(complete=False))
        demonstrate(stack, directory)
        state = stack.state(complete=True)
        write_state(directory, state)
    except BaseException as error:  # noqa: BLE001 - a failure or Ctrl-C alike: stop what it started, say why
        stack.stop()
        if os.path.exists(os.path.join(directory, "stack.json")):
            os.remove(os.path.join(directory, "stack.json"))
        reason = str(error) if isinstance(error, (DemoFailed, RuntimeError, subprocess.CalledProcessError)) else \
            f"interrupted ({error or 'SIGINT'})" if isinstance(error, KeyboardInterrupt) else f"{type(error).__name__}: {error}"
        try:
            print(f"\ndemo: {reason}; stopped what it had started (logs in {directory})", file=sys.stderr)
        except OSError:
            pass
        os._exit(1)

    print()
    print(summary(state))
    sys.stdout.flush()
    os._exit(0)  # leave the children running


if __name__ == "__main__":
    main()
