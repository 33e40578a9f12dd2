"""Webhook plumbing for the Conekta sandbox (conekta.py): RSA webhook keys made and used with the
openssl command line, and the delivery of signed event bodies to receivers, with retries.

What Conekta documents and what is inferred: docs/sources.md C6. The HTTP surface (keys, webhooks,
events and the /_sandbox/ controls) lives in conekta.py; this module knows nothing of orders.
Standard library and `openssl` only, like common.py.
"""

import base64
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
from urllib.parse import unquote, urlsplit


def compact_json(value):
    """The bytes of a body as Conekta sends one: compact JSON, UTF-8, non-ASCII left as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def is_loopback(host):
    return host in ("localhost", "::1") or (host or "").startswith("127.")


class KeyMaker:
    """RSA key pairs in PEM files under the sandbox's state directory (a private temporary one
    when none was given), and signatures made with them."""

    def __init__(self, state_dir=None):
        self.state_dir = state_dir
        self.directory = None
        self.lock = threading.Lock()
        self.count = 0

    def _path(self, name):
        with self.lock:
            if self.directory is None:
                if self.state_dir:
                    self.directory = os.path.join(self.state_dir, "webhook-keys")
                    os.makedirs(self.directory, mode=0o700, exist_ok=True)
                else:
                    self.directory = tempfile.mkdtemp(prefix="hotspot-sandbox-webhook-keys-")
            self.count += 1
            return os.path.join(self.directory, f"{self.count:04d}-{name}.pem")

    def generate(self, name):
        """(private key file, public key PEM as SubjectPublicKeyInfo) of a new 2048-bit RSA pair."""
        path = self._path(name)
        old = os.umask(0o077)
        try:
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path],
                           check=True, capture_output=True)
        finally:
            os.umask(old)
        public = subprocess.run(["openssl", "pkey", "-in", path, "-pubout"], check=True, capture_output=True).stdout
        return path, public.decode("ascii")


def sign(private_path, body):
    """base64 of the RSASSA-PKCS1-v1_5 SHA-256 signature of `body` (bytes): the Digest header."""
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", private_path], input=body,
                               check=True, capture_output=True).stdout
    return base64.b64encode(signature).decode("ascii")


class Payload:
    """The exact bytes of one event body and the headers sent with them, made once: every attempt,
    retry and redelivery sends the same bytes with the same Digest."""

    def __init__(self, body, signer=None, digest=None):
        self.body = body  # bytes
        self.signer = signer  # body -> Digest value, run once on the first delivery (signing costs a process)
        self.digest = digest  # a fixed Digest value (forged events), or None
        self.lock = threading.Lock()

    def headers(self):
        with self.lock:
            if self.signer is not None:
                self.digest, self.signer = self.signer(self.body), None
            headers = {"Content-Type": "application/json"}
            if self.digest is not None:
                headers["Digest"] = self.digest
            return headers


class Delivery:
    """One event body to one URL: its attempts, its status (held, pending, delivering, retrying,
    delivered, failed, dropped) and when it is due next. A lost one (the Conekta sandbox's drop
    control) is recorded as delivered but was never sent."""

    def __init__(self, identifier, event_id, url, payload, webhook_id=None, kind="event"):
        self.id = identifier
        self.event_id = event_id
        self.url = url
        self.payload = payload
        self.webhook_id = webhook_id
        self.kind = kind  # event, redelivery, resend, forged, test
        self.lost = False
        self.status = "pending"
        self.attempts = []
        self.seq = 0
        self.next_at = 0.0
        self.held = False
        self.generation = 0
        self.enqueued_at = time.time()

    def view(self):
        return {"id": self.id, "event_id": self.event_id, "url": self.url, "webhook_id": self.webhook_id,
                "kind": self.kind, "status": self.status, "lost": self.lost, "enqueued_at": self.enqueued_at,
                "attempts": [dict(a) for a in self.attempts]}


class Deliverer:
    """Delivers in background threads, one per receiver (scheme, host, port), each taking its due
    deliveries in order; a failed attempt (no 2xx answer, or no answer) is tried again after
    retry_ms, doubling each time up to max_retry_ms, until `attempts` attempts were made.

    pause() holds every delivery not yet begun, retries included; resume("reverse") releases the
    ones made while paused newest first, so a receiver gets them in the reverse of their order.
    `still_wanted(delivery)` is asked before each attempt (a deleted webhook gets no more)."""

    def __init__(self, still_wanted=None):
        self.cond = threading.Condition()
        self.queue = []  # deliveries not yet delivered, failed or dropped
        self.workers = {}
        self.paused = False
        self.seq = 0
        self.generation = 0
        self.retry_ms = 200
        self.max_retry_ms = 60000
        self.attempts = 8
        self.timeout_ms = 5000
        self.delay_ms = 0
        self.ca_file = None
        self.still_wanted = still_wanted or (lambda delivery: True)

    def config(self):
        return {"retry_ms": self.retry_ms, "max_retry_ms": self.max_retry_ms, "attempts": self.attempts,
                "timeout_ms": self.timeout_ms, "delay_ms": self.delay_ms, "ca_file": self.ca_file, "paused": self.paused}

    def configure(self, **settings):
        with self.cond:
            for name in ("retry_ms", "max_retry_ms", "attempts", "timeout_ms", "delay_ms"):
                if settings.get(name) is not None:
                    value = int(settings[name])
                    if value < (1 if name == "attempts" else 0):
                        raise ValueError(f"{name} must be at least {1 if name == 'attempts' else 0}")
                    setattr(self, name, value)
            self.cond.notify_all()
            return self.config()

    @staticmethod
    def destination(url):
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname, parts.port)

    def enqueue(self, delivery):
        with self.cond:
            self.seq += 1
            delivery.seq = self.seq
            delivery.generation = self.generation
            delivery.next_at = time.monotonic() + self.delay_ms / 1000
            delivery.held = self.paused
            delivery.status = "held" if self.paused else "pending"
            self.queue.append(delivery)
            destination = self.destination(delivery.url)
            worker = self.workers.get(destination)
            if worker is None or not worker.is_alive():
                worker = threading.Thread(target=self._work, args=(destination,), daemon=True,
                                          name=f"webhooks {destination[1]}:{destination[2]}")
                self.workers[destination] = worker
                worker.start()
            self.cond.notify_all()
        return delivery

    def pause(self):
        with self.cond:
            self.paused = True
            for delivery in self.queue:
                if delivery.status == "pending":
                    delivery.held, delivery.status = True, "held"
            return self.config()

    def resume(self, order="fifo"):
        """Releases what was held, oldest first (fifo) or newest first (reverse)."""
        if order not in ("fifo", "reverse"):
            raise ValueError("order must be fifo or reverse")
        with self.cond:
            held = sorted((d for d in self.queue if d.held), key=lambda d: d.seq, reverse=order == "reverse")
            now = time.monotonic()
            for delivery in held:
                self.seq += 1
                delivery.seq, delivery.held, delivery.next_at = self.seq, False, now
                delivery.status = "retrying" if delivery.attempts else "pending"
            self.paused = False
            self.cond.notify_all()
            return dict(self.config(), released=[d.id for d in held])

    def reset(self):
        """Forgets every delivery not yet finished (attempts under way finish unrecorded)."""
        with self.cond:
            self.generation += 1
            self.queue = []
            self.paused = False
            self.cond.notify_all()

    def _next(self, destination):
        """The next due delivery for `destination`, marked delivering; waits for one."""
        with self.cond:
            while True:
                wait = None
                if not self.paused:
                    now = time.monotonic()
                    ready = [d for d in self.queue if not d.held and d.status in ("pending", "retrying")
                             and self.destination(d.url) == destination]
                    if ready:
                        delivery = min(ready, key=lambda d: (d.next_at, d.seq))
                        if delivery.next_at <= now:
                            delivery.status = "delivering"
                            return delivery
                        wait = delivery.next_at - now
                self.cond.wait(wait)

    def _work(self, destination):
        while True:
            delivery = self._next(destination)
            if not self.still_wanted(delivery):
                with self.cond:
                    delivery.status = "dropped"
                    if delivery in self.queue:
                        self.queue.remove(delivery)
                continue
            started, clock = time.time(), time.monotonic()
            status, error, reply = None, None, None
            try:
                status, reply = self._post(delivery.url, delivery.payload.body, delivery.payload.headers())
            except (OSError, http.client.HTTPException, ValueError, subprocess.CalledProcessError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            with self.cond:
                if delivery.generation != self.generation:
                    continue
                delivery.attempts.append({"attempt": len(delivery.attempts) + 1, "at": started, "status": status,
                                          "error": error, "ms": round((time.monotonic() - clock) * 1000, 1),
                                          "reply": reply})
                if status is not None and 200 <= status < 300:
                    delivery.status = "delivered"
                elif len(delivery.attempts) >= self.attempts:
                    delivery.status = "failed"
                else:
                    delivery.status = "retrying"
                    backoff = min(self.retry_ms * 2 ** (len(delivery.attempts) - 1), self.max_retry_ms)
                    delivery.next_at = time.monotonic() + backoff / 1000
                    if self.paused:
                        delivery.held = True
                if delivery.status in ("delivered", "failed") and delivery in self.queue:
                    self.queue.remove(delivery)
                self.cond.notify_all()

    def _post(self, url, body, headers):
        """(status, the first 200 characters of the reply) of one POST."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        headers = dict(headers)
        if parts.username is not None:
            # A URL's user:password (Conekta's own examples carry one) is sent as Basic authentication.
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        timeout = self.timeout_ms / 1000
        if parts.scheme == "https":
            if self.ca_file:
                context = ssl.create_default_context(cafile=self.ca_file)
            elif is_loopback(parts.hostname):
                # A loopback receiver's certificate is the test's own: not checked.
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context()
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            reply = response.read(4096)
            return response.status, reply[:200].decode("utf-8", "replace")
        finally:
            connection.close()
