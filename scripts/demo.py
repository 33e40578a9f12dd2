#!/usr/bin/env python3
"""make demo: the product's main job on this machine. Starts a throw-away PostgreSQL cluster,
the sandbox router and Conekta, hotspot-pay and nginx (from deploy/nginx.conf), provisions a
company, router, products and key with hotspotctl, fetches the catalogue through nginx with
curl, buys the first product through nginx with curl (the sandbox's tok_test_visa_4242 card),
shows the hotspot user the purchase created on the sandbox router and the metrics an operator
scrapes, prints the payment page's address (deploy/portal/ served by nginx, as a hotspot's
login.html opens it), and leaves everything running."""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hotspot_stack import Stack  # noqa: E402


def run(title, command):
    print(f"\n$ {shlex.join(command)}")
    result = subprocess.run(command, capture_output=True, text=True)
    output = result.stdout.strip()
    try:
        output = json.dumps(json.loads(output), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    print(output)
    if result.returncode != 0:
        sys.exit(f"demo: {title} failed: {result.stderr.strip()}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()

    if os.path.exists(os.path.join(args.dir, "stack.json")):
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "hotspot_stack.py"), "down", "--dir", args.dir],
                       stdout=subprocess.DEVNULL)
    shutil.rmtree(args.dir, ignore_errors=True)
    stack = Stack(directory=args.dir, build_dir=args.build_dir)
    print("Starting PostgreSQL, the sandbox router and Conekta, hotspot-pay and nginx …")
    stack.start()
    base = f"http://127.0.0.1:{stack.port}"
    print(f"Provisioned with hotspotctl: company {stack.ids['company']}, router {stack.ids['router']}, "
          f"products {stack.ids['products']}, key {stack.ids['key_id']}")

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
        sys.exit(f"demo: expected one hotspot user {credentials['usuario']} on the sandbox router, found {len(users)}")
    row = {name: value for name, value in users[0].items() if name != "password"}
    print("\nThe hotspot user on the sandbox router (its state, password left out):")
    print(json.dumps(row, indent=2, ensure_ascii=False))
    if row.get("disabled") != "false":
        sys.exit(f"demo: the hotspot user {credentials['usuario']} is not enabled on the router")
    print(f"The user is enabled with profile {row.get('profile')}: the customer can log in to the hotspot now.")

    print("\nWhat an operator's Prometheus sees (/metrics, served by nginx to loopback only):")
    print(f"$ curl -sS {base}/metrics | grep '^hotspot_'")
    metrics = subprocess.run(["curl", "-sS", "--fail", f"{base}/metrics"], capture_output=True, text=True)
    if metrics.returncode != 0:
        sys.exit(f"demo: /metrics failed: {metrics.stderr.strip()}")
    samples = [line for line in metrics.stdout.splitlines() if line.startswith("hotspot_")]
    print("\n".join(samples))
    for expected in ('hotspot_payments_total{codigo="pagado"} 1', 'operation="create_order",outcome="ok"'):
        if not any(expected in line for line in samples):
            sys.exit(f"demo: /metrics does not show {expected}")

    state = {"port": stack.port, "api_key": stack.api_key, "ids": stack.ids, "env_file": stack.env_file,
             "pids": {"nginx": stack.nginx.pid, "server": stack.server.pid, "router": stack.router.process.pid,
                      "conekta": stack.conekta.process.pid}}
    with open(os.path.join(args.dir, "stack.json"), "w") as f:
        json.dump(state, f, indent=2)
    print(f"""
The stack is running:
  API through nginx   {base}   (key: {stack.api_key[:24]}…, full key in {args.dir}/stack.json)
  operator command    {args.build_dir}/hotspotctl --env-file {stack.env_file} --help
  logs                {stack.server_log}  and  {stack.nginx_prefix}/access.log
  metrics             curl -sS {base}/metrics   (loopback only)

The payment page, as a hotspot's login.html opens it (this router's key and a sample device in
the fragment; open it in a browser on this machine, phone-sized for the real look):
  {stack.portal_url()}
It loads the sandbox's Conekta.js stand-in from {stack.conekta.url}/conekta.js, whose
certificate is self-signed: open that address once and accept the certificate first. Test
cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, any name, a future date, any
CVC (the whole table is in the README, "Portal").

Stop with: make demo-stop""")
    sys.stdout.flush()
    os._exit(0)  # leave the children running


if __name__ == "__main__":
    main()
