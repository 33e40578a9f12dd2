"""Shared plumbing for the sandbox servers: a threaded HTTP(S) server on loopback, a generated
self-signed certificate, fault injection and a control API under /_sandbox/ for tests.

Each sandbox (router.py, conekta.py) supplies an App with a handle() method. Standard library
only, so a fresh Debian 12 needs nothing but python3 and openssl.
"""

import json
import os
import random
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class Reply:
    """What an App returns for one request."""

    def __init__(self, status=200, body=b"", headers=None, content_type="application/json"):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.headers = dict(headers or {})
        if content_type and "Content-Type" not in self.headers:
            self.headers["Content-Type"] = content_type


class Drop(Exception):
    """Close the connection without any reply (after the App has applied the request, if it chose to)."""


class Faults:
    """Faults armed by tests through POST /_sandbox/faults.

    A fault is a dict: {"op": "<operation name or *>", "kind": "latency|hang|error|drop|drop_after|reset",
    "ms": int, "status": int, "body": str, "nth": int, "times": int, "probability": float}.
    - latency: sleep ms before handling; hang: sleep ms and then drop without reply;
    - error: reply status/body without applying; drop: close without reply, not applied;
    - drop_after: apply the request, then close without reply ("applied but the reply was lost");
    - reset: close the connection at once (TCP RST), not applied.
    nth: fire only on the nth matching call (1-based) counted from arming; times: fire at most this
    many times (default unlimited unless nth is set); probability: fire at random.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []
        self.default_latency_ms = 0

    def arm(self, fault):
        with self.lock:
            fault = dict(fault)
            fault.setdefault("op", "*")
            fault["_seen"] = 0
            fault["_fired"] = 0
            self.items.append(fault)

    def clear(self):
        with self.lock:
            self.items = []
            self.default_latency_ms = 0

    def pick(self, op):
        """The faults that fire for this call, in arming order."""
        fired = []
        with self.lock:
            for fault in self.items:
                if fault["op"] not in ("*", op):
                    continue
                fault["_seen"] += 1
                nth = fault.get("nth")
                if nth is not None and fault["_seen"] != nth:
                    continue
                times = fault.get("times")
                if times is not None and fault["_fired"] >= times:
                    continue
                probability = fault.get("probability")
                if probability is not None and random.random() >= probability:
                    continue
                fault["_fired"] += 1
                fired.append(dict(fault))
        return fired


class App:
    """Base class: subclasses implement handle(request) -> Reply and state() -> dict."""

    name = "sandbox"

    def __init__(self):
        self.faults = Faults()
        self.lock = threading.RLock()
        self.calls = []

    def operation(self, request):
        """A short name for the request, used to target faults (e.g. 'user.add')."""
        return request.method + " " + request.path

    def received(self, request, op):
        """Called under the lock for every request outside /_sandbox/, before faults apply."""

    def handle(self, request):
        raise NotImplementedError

    def state(self):
        return {}

    def reset(self):
        pass

    def control(self, request):
        """Extra /_sandbox/ endpoints; return a Reply or None."""
        return None


class Request:
    def __init__(self, method, target, headers, body, peer=None):
        self.method = method
        self.peer = peer  # (address, port) of the client's connection
        self.target = target
        parts = urlsplit(target)
        self.path = parts.path
        self.query = parse_qsl(parts.query, keep_blank_values=True)
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8")) if self.body else None


def make_handler(app):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "hotspot-sandbox"

        def log_message(self, fmt, *args):  # quiet: tests read state, not logs
            pass

        def setup(self):
            super().setup()
            # A new connection's first request arrived when the connection was accepted (before
            # a thread was started for it and before its headers were parsed).
            self._arrived = getattr(self.server, "accepted_at", {}).pop(id(self.request), None)

        def parse_request(self):
            if self._arrived is None:  # a later request on a kept-alive connection
                self._arrived = time.monotonic()
            return super().parse_request()

        def _serve(self):
            arrived, self._arrived = self._arrived or time.monotonic(), None
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, self.headers, body, self.client_address)
            request.server = self.server  # which listener it came on
            if request.path.startswith("/_sandbox/"):
                return self._send(self._control(request))
            op = app.operation(request)
            with app.lock:
                app.calls.append({"op": op, "method": request.method, "path": request.path, "at": time.time()})
                app.received(request, op)
            # The default latency is the time to answer, counted from the request's arrival: the
            # sandbox's own work overlaps it, so "20 ms" means 20 ms, not 20 ms plus Python.
            answer_at = arrived + app.faults.default_latency_ms / 1000
            apply_then_drop = False
            for fault in app.faults.pick(op):
                kind = fault.get("kind")
                if kind == "latency":
                    time.sleep(fault.get("ms", 0) / 1000)
                elif kind == "hang":
                    time.sleep(fault.get("ms", 30000) / 1000)
                    return self._drop()
                elif kind == "error":
                    return self._send(Reply(fault.get("status", 500), fault.get("body", "").encode(),
                                            content_type=fault.get("content_type", "application/json")))
                elif kind == "drop":
                    return self._drop()
                elif kind == "reset":
                    return self._reset()
                elif kind == "drop_after":
                    apply_then_drop = True
            try:
                reply = app.handle(request)
            except Drop:
                return self._drop()
            if apply_then_drop:
                return self._drop()
            wait = answer_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._send(reply)

        def _control(self, request):
            what = request.path[len("/_sandbox/"):]
            if what == "state" and request.method == "GET":
                with app.lock:
                    return Reply(200, app.state())
            if what == "calls" and request.method == "GET":
                with app.lock:
                    return Reply(200, list(app.calls))
            if what == "faults" and request.method == "POST":
                payload = request.json() or {}
                for fault in payload if isinstance(payload, list) else [payload]:
                    app.faults.arm(fault)
                return Reply(200, {"armed": True})
            if what == "faults/clear" and request.method == "POST":
                with app.faults.lock:
                    app.faults.items = []
                return Reply(200, {"cleared": True})
            if what == "latency" and request.method == "POST":
                app.faults.default_latency_ms = int((request.json() or {}).get("ms", 0))
                return Reply(200, {"ms": app.faults.default_latency_ms})
            if what == "reset" and request.method == "POST":
                app.faults.clear()
                with app.lock:
                    app.calls.clear()
                    app.reset()
                return Reply(200, {"reset": True})
            reply = app.control(request)
            return reply if reply is not None else Reply(404, {"error": "unknown control endpoint"})

        def _send(self, reply):
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
            self.wfile.flush()

        def _drop(self):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _reset(self):
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass

        def do_GET(self):
            self._serve()

        # OPTIONS too: a browser's CORS preflight reaches the App (conekta.py's tokens endpoint).
        do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    return Handler


def generate_certificate(directory):
    """A self-signed certificate for 127.0.0.1/localhost; returns (cert, key, pin)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=hotspot-sandbox",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key, public_key_pin(cert)


def public_key_pin(cert):
    """curl's pin format: sha256// + base64(SHA-256(DER SubjectPublicKeyInfo))."""
    pubkey = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                            check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pubkey,
                         check=True, capture_output=True).stdout
    import base64
    import hashlib
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


class StampingHTTPServer(ThreadingHTTPServer):
    """Notes when each connection was accepted, for the latency the sandbox simulates, and keeps
    its open connections, so that closing the listener can close them too."""

    def __init__(self, *args, **kwargs):
        self.accepted_at = {}  # id(socket) -> monotonic time, popped by the handler's setup()
        self.open_connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        self.accepted_at[id(request)] = time.monotonic()
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self):
        with self.connections_lock:
            connections, self.open_connections = list(self.open_connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Listener:
    """An app's main listening socket, which the app may close and open again on the same port:
    a router whose REST service is turned off refuses connections, as a closed port does. The
    sandbox's control API then answers on a listener of its own (`control_url`)."""

    def __init__(self, make_server):
        self.make_server = make_server
        self.lock = threading.Lock()
        self.server = None

    def open(self):
        with self.lock:
            if self.server is not None:
                return
            self.server = self.make_server()
            threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def close(self):
        """Stops accepting, closes the socket and every connection it accepted. Not from one of its
        own request threads (shutdown() would wait for itself)."""
        with self.lock:
            server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.drop_connections()

    @property
    def is_open(self):
        with self.lock:
            return self.server is not None


def serve(app, argv=None):
    """Parses --port, --host, --tls/--no-tls, --state-dir, --ready-file; prints one JSON line with
    url, port, ca_file and pin (and control_url, for an app whose main listener may close) on
    stdout, then serves until killed."""
    import argparse
    import signal

    # A process spawned from a thread that blocks signals inherits the mask: Foundation's Process
    # started from a Swift test's dispatch worker leaves SIGTERM blocked, and then
    # SandboxProcess.deinit's terminate() + waitUntilExit() waits forever.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})

    parser = argparse.ArgumentParser(prog="hotspot-sandbox " + app.name)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", dest="tls", action="store_true", default=True)
    parser.add_argument("--no-tls", dest="tls", action="store_false")
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--ready-file", default=None, help="also write the JSON line here")
    app.add_arguments(parser) if hasattr(app, "add_arguments") else None
    args = parser.parse_args(argv)
    if hasattr(app, "configure"):
        app.configure(args)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        sys.exit("the sandbox listens on loopback only")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    state_dir = args.state_dir or tempfile.mkdtemp(prefix="hotspot-sandbox-")
    os.makedirs(state_dir, exist_ok=True)
    # socketserver's default listen backlog is 5: a burst of fresh connections (every mutation
    # uses one) would then time out in connect() before the sandbox even sees it.
    ThreadingHTTPServer.request_queue_size = 1024
    context = None
    info = {"name": app.name}
    if args.tls:
        cert, key, pin = generate_certificate(state_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        info.update(ca_file=cert, pin=pin)
    else:
        info.update(ca_file=None, pin=None)
    scheme = "https" if args.tls else "http"

    def make_server(port):
        server = StampingHTTPServer((args.host, port), make_handler(app))
        server.daemon_threads = True
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        return server

    main = make_server(args.port)
    info["port"] = main.server_address[1]
    info["url"] = f"{scheme}://127.0.0.1:{info['port']}"
    servers = [main]
    if getattr(app, "separate_control", False):
        control = make_server(0)
        info["control_url"] = f"{scheme}://127.0.0.1:{control.server_address[1]}"
        servers.append(control)
        listener = Listener(lambda: make_server(info["port"]))
        listener.server = main
        app.listener = listener
        app.control_server = control
        app.rest_port = info["port"]
    line = json.dumps(info)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(line + "\n")
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(line, flush=True)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    try:
        if len(servers) == 1:
            main.serve_forever(poll_interval=0.2)
        else:
            threading.Thread(target=main.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
