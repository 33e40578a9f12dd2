"""The bench's stand-ins for the router and Conekta: nginx + njs (bench/standin/standin.js).

The Python sandboxes are faithful and scriptable, which is what tests need, but under load each
call costs them ~0.5 ms of interpreted CPU and their garbage collector pauses every thread for tens
of ms as their records grow: on a two-core machine that is CPU and tail latency taken from the
product under test. A real router and Conekta are other machines. These answer only what a paying
purchase calls, in the same shapes, in a few µs of C each, after the configured latency."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
import hotspot_stack  # noqa: E402

MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"


class StandIn:
    """One nginx answering as a router or Conekta on one port; with `ports`, as that many routers,
    one per port (each router its own address, so its own connections), and with `slow_ms`, one
    more router on a port of its own answering after that latency instead (bench/drain.py)."""

    def __init__(self, kind, directory, latency_ms, ports=1, slow_ms=None):
        assert kind in ("router", "conekta")
        self.kind = kind
        self.latency_ms = latency_ms
        self.directory = os.path.join(directory, f"standin-{kind}")
        self.process = None
        self.port = None
        self.ports = []
        self.port_count = ports
        self.slow_ms = slow_ms
        self.slow_port = None
        self.info = None

    def start(self):
        if not os.path.exists(MODULE):
            raise RuntimeError(f"{MODULE} is missing: apt-get install libnginx-mod-http-js (make bench installs it)")
        os.makedirs(os.path.join(self.directory, "tmp"), exist_ok=True)
        script = os.path.join(self.directory, "standin.js")
        shutil.copy(os.path.join(HERE, "standin", "standin.js"), script)
        # Distinct ports: the kernel may hand a port just released out again.
        ports = set()
        while len(ports) < self.port_count + (self.slow_ms is not None):
            ports.add(hotspot_stack.free_port())
        ports = sorted(ports)
        self.ports = ports[:self.port_count]
        self.port = self.ports[0]
        listens = "\n".join(f"        listen 127.0.0.1:{port} backlog=4096;" for port in self.ports)
        slow = ""
        if self.slow_ms is not None:
            self.slow_port = ports[-1]
            slow = f"""    server {{
        listen 127.0.0.1:{self.slow_port} backlog=4096;
        keepalive_requests 1000000;
        keepalive_timeout 120s;
        client_body_buffer_size 64k;
        set $standin_latency_ms {self.slow_ms};
        location / {{ js_content standin.{self.kind}; }}
    }}
"""
        conf = os.path.join(self.directory, "nginx.conf")
        temp = os.path.join(self.directory, "tmp")
        with open(conf, "w") as f:
            f.write(f"""load_module {MODULE};
worker_processes 1;
daemon off;
pid {self.directory}/nginx.pid;
error_log {self.directory}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    js_import standin from {script};
    server {{
{listens}
        keepalive_requests 1000000;
        keepalive_timeout 120s;
        client_body_buffer_size 64k;
        set $standin_latency_ms {self.latency_ms};
        location / {{ js_content standin.{self.kind}; }}
    }}
{slow}}}
""")
        self.process = subprocess.Popen(["nginx", "-p", self.directory, "-e", os.path.join(self.directory, "error.log"),
                                         "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1)
            except urllib.error.HTTPError:
                break  # any answer: it is up
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the {self.kind} stand-in did not start: "
                                       + open(os.path.join(self.directory, "error.log")).read()[-2000:]) from None
                time.sleep(0.02)
        self.info = {"url": self.url, "ca_file": None, "pin": None}

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def urls(self):
        """One URL per port: one per router of a fleet."""
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def slow_url(self):
        return f"http://127.0.0.1:{self.slow_port}" if self.slow_port else None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(3)  # SIGQUIT: graceful
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
