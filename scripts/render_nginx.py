#!/usr/bin/env python3
"""Renders deploy/nginx.conf for a temporary prefix and a loopback port: the tests, the demo and
the benchmark run nginx from the production file itself. Every substitution must match exactly
once, so an edit to deploy/nginx.conf that a test relies on fails loudly here."""

import argparse
import os
import re
import sys


class ExactEdits:
    """A file's text changed only by substitutions that each match exactly once: an edit to the
    source that a rendering relies on stops `program` with a message naming it."""

    def __init__(self, program, source):
        self.program, self.source = program, source
        with open(source) as f:
            self.text = f.read()

    def sub(self, old, new, count=1):
        found = self.text.count(old)
        if found != count:
            sys.exit(f"{self.program}: expected {'exactly one' if count == 1 else count} {old!r} in {self.source}, found {found}")
        self.text = self.text.replace(old, new)


def render(source, prefix, port, socket, run_as_root, payment_rate=None, api_rate=None, conn_limit=None, more_sockets=(),
           portal_root=None, conekta_origin=None, cors_origins=()):
    """portal_root: the directory served at /portal/ (a copy rendered by render_portal.py);
    conekta_origin: where Conekta.js comes from and tokenizes (the sandbox), for the page's CSP;
    cors_origins: origins added to the CORS allow-list."""
    config = ExactEdits("render_nginx", source)
    sub = config.sub
    sub("user www-data;", "user www-data;" if run_as_root else "# user: running unprivileged")
    sub("pid /run/nginx.pid;", f"pid {prefix}/nginx.pid;")
    sub("error_log /var/log/nginx/error.log warn;", f"error_log {prefix}/error.log warn;")
    sub("access_log /var/log/nginx/hotspot-pay.access.log hotspot_json;", f"access_log {prefix}/access.log hotspot_json;")
    sub("listen 80;", f"listen 127.0.0.1:{port};")
    sub("unix:/run/hotspot-pay/hotspot-pay.sock", f"unix:{socket}")
    for extra in more_sockets:  # several instances behind one upstream
        sub(f"server unix:{socket};", f"server unix:{socket};\n        server unix:{extra};")
        socket = extra
    for name in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
        sub(f"/var/lib/nginx/{name};", f"{prefix}/tmp/{name};")
    if payment_rate:
        sub("zone=hotspot_payments:10m rate=2r/s;", f"zone=hotspot_payments:10m rate={payment_rate};")
        # limit_req counts in milliseconds: a raised rate still refuses same-millisecond bursts
        # beyond `burst`, so a load test needs the burst raised with it.
        sub("limit_req zone=hotspot_payments burst=5 nodelay;", "limit_req zone=hotspot_payments burst=10000 nodelay;")
        # Claims share the payments' knob: a test that raises one raises both.
        sub("zone=hotspot_claims:10m rate=2r/s;", f"zone=hotspot_claims:10m rate={payment_rate};")
        sub("limit_req zone=hotspot_claims burst=5 nodelay;", "limit_req zone=hotspot_claims burst=10000 nodelay;")
    if api_rate:
        sub("zone=hotspot_api:10m rate=50r/s;", f"zone=hotspot_api:10m rate={api_rate};")
    if conn_limit:
        sub("limit_conn hotspot_conn 20;", f"limit_conn hotspot_conn {conn_limit};", count=2)
        sub("limit_conn hotspot_conn 50;", f"limit_conn hotspot_conn {conn_limit};")
    if portal_root:
        sub("alias /usr/share/hotspot-pay/portal/;", f"alias {portal_root.rstrip('/')}/;")
    if conekta_origin:
        sub('set $portal_conekta_script "https://cdn.conekta.io";', f'set $portal_conekta_script "{conekta_origin}";')
        sub('set $portal_conekta_api "https://api.conekta.io";', f'set $portal_conekta_api "{conekta_origin}";')
    if cors_origins:
        marker = "        # allowed origins, one a line:\n"
        for origin in cors_origins:
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?", origin):
                sys.exit(f"render_nginx: {origin!r} is not an origin (scheme://host[:port])")
        entries = "".join(f'        "{origin}" $http_origin;\n' for origin in cors_origins)
        sub(marker, marker + entries)
    return config.text


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", "deploy", "nginx.conf"))
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--payment-rate")
    parser.add_argument("--api-rate")
    parser.add_argument("--conn-limit")
    parser.add_argument("--portal-root")
    parser.add_argument("--conekta-origin")
    parser.add_argument("--cors-origin", action="append", default=[])
    args = parser.parse_args()
    os.makedirs(os.path.join(args.prefix, "tmp"), exist_ok=True)
    out = render(args.source, args.prefix, args.port, args.socket, os.geteuid() == 0, args.payment_rate, args.api_rate,
                 args.conn_limit, portal_root=args.portal_root, conekta_origin=args.conekta_origin,
                 cors_origins=args.cors_origin)
    with open(os.path.join(args.prefix, "nginx.conf"), "w") as f:
        f.write(out)


if __name__ == "__main__":
    main()
