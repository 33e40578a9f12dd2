#!/usr/bin/env python3
"""Starts and stops a whole hotspot-pay stack on loopback, for the tests, the demo and the
benchmarks: a throw-away PostgreSQL cluster, the sandbox router and Conekta, the server, and
nginx rendered from deploy/nginx.conf. Standard library only.

As root (CI), PostgreSQL runs as the `postgres` user (it refuses root), nginx's workers as
www-data, and the server's socket is group www-data with mode 0660, as in production.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import render_nginx  # noqa: E402
import render_portal  # noqa: E402

IS_ROOT = os.geteuid() == 0
SANDBOX_PRIVATE_KEY = "key_sandbox_private"
SANDBOX_PUBLIC_KEY = "key_sandbox_public"
ROUTER_USER = "api"
ROUTER_PASSWORD = "api-secret"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir():
    try:
        return subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        for version in ("17", "16", "15"):
            path = f"/usr/lib/postgresql/{version}/bin"
            if os.path.exists(os.path.join(path, "initdb")):
                return path
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)") from None


def as_postgres(command):
    return ["runuser", "-u", "postgres", "--"] + command if IS_ROOT else command


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Postgres:
    """A cluster in <dir>/pg listening only on a unix socket in that directory."""

    def __init__(self, directory):
        self.directory = os.path.join(directory, "pg")
        self.data = os.path.join(self.directory, "data")
        self.bindir = pg_bindir()
        self.log = os.path.join(self.directory, "postgres.log")

    @property
    def url(self):
        return f"postgresql://postgres@/hotspot?host={self.directory}"

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        if IS_ROOT:
            shutil.chown(self.directory, "postgres", "postgres")
        if not os.path.exists(self.data):
            subprocess.run(as_postgres([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres",
                                        "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]),
                           check=True, stdout=subprocess.DEVNULL)
        # A throwaway cluster: no fsync, and new WAL segments are not zero-filled. A fresh cluster
        # creates every 16 MiB segment that a long-running one would recycle, and zero-filling one
        # takes 10-20 ms here under WALWriteLock, so every commit in flight waits: in `make bench`,
        # one stalled wave of payments every ~2,700 payments (6 KiB of WAL each).
        self.pg_ctl("start", "-w", "-t", "30", "-l", self.log, "-o",
                    f"-k {self.directory} -c listen_addresses='' -c fsync=off -c wal_init_zero=off "
                    "-c max_connections=200")
        subprocess.run(as_postgres([os.path.join(self.bindir, "psql"), "-h", self.directory, "-U", "postgres",
                                    "-d", "postgres", "-qc", "CREATE DATABASE hotspot"]),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pg_ctl(self, *args):
        subprocess.run(as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data] + list(args)),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                self.pg_ctl("stop", "-m", "fast", "-w")
            except subprocess.CalledProcessError:
                pass

    def psql(self, sql):
        """Runs SQL and returns rows as lists of strings (tab-separated, unaligned)."""
        out = subprocess.run(["psql", "-h", self.directory, "-U", "postgres", "-d", "hotspot", "-AtF", "\t",
                              "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, check=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class Sandbox:
    def __init__(self, kind, directory, args=()):
        self.kind = kind
        self.directory = os.path.join(directory, f"sandbox-{kind}")
        self.args = list(args)
        self.process = None
        self.info = None

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        ready = os.path.join(self.directory, "ready.json")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "sandbox", f"{self.kind}.py"), "--port", "0",
             "--state-dir", self.directory, "--ready-file", ready] + self.args,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.directory, "stderr.log"), "w"))
        wait_for(lambda: os.path.exists(ready) or self.process.poll() is not None, 20, f"sandbox {self.kind}")
        if self.process.poll() is not None:
            raise RuntimeError(f"sandbox {self.kind} exited: {open(os.path.join(self.directory, 'stderr.log')).read()}")
        self.info = json.load(open(ready))

    @property
    def url(self):
        return self.info["url"]

    def control(self, method, path, payload=None):
        import ssl
        context = ssl.create_default_context(cafile=self.info["ca_file"]) if self.info.get("ca_file") else None
        data = json.dumps(payload).encode() if payload is not None else None
        # The router's REST port may be closed (www-ssl off): its controls have a port of their own.
        base = self.info.get("control_url") or self.url
        request = urllib.request.Request(base + "/_sandbox/" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=context, timeout=10) as reply:
            return json.loads(reply.read() or b"null")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Stack:
    """The whole product on loopback. `build_dir` holds hotspot-pay and hotspotctl."""

    def __init__(self, directory=None, build_dir=None, threads=8, router_args=("--profile", "1hora", "--profile", "1dia"),
                 conekta_args=(),
                 payment_rate=None, api_rate=None, conn_limit=None, extra_env=None, instances=1, cors_origins=(),
                 portal_countdown=None):
        self.directory = directory or tempfile.mkdtemp(prefix="hotspot-")
        os.makedirs(self.directory, exist_ok=True)
        os.chmod(self.directory, 0o755)  # nginx's workers (www-data) reach the socket through it
        self.build_dir = build_dir or os.environ.get("HOTSPOT_BUILD_DIR") or os.path.join(ROOT, ".build", "debug")
        self.threads = threads
        self.postgres = Postgres(self.directory)
        self.router = Sandbox("router", self.directory, router_args)
        self.conekta = Sandbox("conekta", self.directory, conekta_args)
        self.socket = os.path.join(self.directory, "run", "hotspot-pay.sock")
        self.nginx_prefix = os.path.join(self.directory, "nginx")
        self.port = None
        self.payment_rate = payment_rate
        self.api_rate = api_rate
        self.conn_limit = conn_limit
        self.extra_env = dict(extra_env or {})
        # The payment page at /portal/: a copy of deploy/portal/ that loads the sandbox's Conekta.js.
        self.portal_root = os.path.join(self.directory, "portal")
        self.portal_countdown = portal_countdown
        self.cors_origins = list(cors_origins)
        self.server = None
        self.nginx = None
        # More instances of the server on the same database (started before nginx).
        self.instances = []
        self.instance_count = instances
        self.server_log = os.path.join(self.directory, "server.log")
        self.env_file = os.path.join(self.directory, "hotspot-pay.env")

    # -- configuration -----------------------------------------------------------------------

    def write_env_file(self):
        os.makedirs(os.path.dirname(self.socket), exist_ok=True)
        os.chmod(os.path.dirname(self.socket), 0o755)
        values = {
            "HOTSPOT_DATABASE_URL": self.postgres.url,
            "HOTSPOT_KEY_SECRET": base64.b64encode(os.urandom(32)).decode(),
            "HOTSPOT_SECRETS_KEY": base64.b64encode(os.urandom(32)).decode(),
            "HOTSPOT_LISTEN": self.socket,
            "HOTSPOT_SOCKET_MODE": "0660",
            "HOTSPOT_THREADS": str(self.threads),
            "HOTSPOT_LOG_LEVEL": "info",
            "HOTSPOT_CONEKTA_BASE_URL": self.conekta.url if self.conekta.info else "https://127.0.0.1:9",
            "HOTSPOT_CONEKTA_CA_FILE": (self.conekta.info or {}).get("ca_file") or "",
            # The sweep of sold users (CONTRACT §11) removes revoked users and writes timeline
            # events at its own pace, which suites about other things must not race with: it is
            # off unless a stack turns it on (extra_env={"HOTSPOT_SWEEP_INTERVAL": "1"}).
            "HOTSPOT_SWEEP_INTERVAL": "0",
            # The server's own checks of routers (CONTRACT §13) read the router on their own: off
            # too, unless a stack turns them on (extra_env={"HOTSPOT_ROUTER_CHECK_INTERVAL": "1"}).
            "HOTSPOT_ROUTER_CHECK_INTERVAL": "0",
        }
        if IS_ROOT:
            values["HOTSPOT_SOCKET_GROUP"] = "www-data"
        values.update(self.extra_env)
        with open(self.env_file, "w") as f:
            for key, value in values.items():
                f.write(f"{key}={value}\n")
        os.chmod(self.env_file, 0o600)

    def ctl(self, *args, stdin=None, check=True):
        """Runs hotspotctl with --json and returns the decoded output. The global options go before
        the subcommand, as the README writes them (`hotspotctl --env-file FILE <subcommand>`)."""
        command = [os.path.join(self.build_dir, "hotspotctl"), "--env-file", self.env_file, "--json"] + list(args)
        result = subprocess.run(command, input=stdin, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"hotspotctl {' '.join(args)} failed: {result.stderr.strip()}")
        return json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else result

    # -- processes ---------------------------------------------------------------------------

    def start(self, sandboxes=True, provision=True):
        self.postgres.start()
        if sandboxes:
            self.router.start()
            self.conekta.start()
        self.write_env_file()
        self.ctl("migrate")
        self.start_server()
        for _ in range(self.instance_count - 1):
            self.start_instance()
        self.start_nginx()
        if provision:
            self.provision()
        return self

    def start_server(self):
        log = open(self.server_log, "a")
        self.server = subprocess.Popen([os.path.join(self.build_dir, "hotspot-pay"), "--env-file", self.env_file],
                                       stdout=log, stderr=log)
        wait_for(lambda: os.path.exists(self.socket) or self.server.poll() is not None, 30, "the server's socket")
        if self.server.poll() is not None:
            raise RuntimeError("hotspot-pay exited at start:\n" + open(self.server_log).read()[-2000:])

    def start_instance(self):
        """Another hotspot-pay on the same database, its own socket and log; call before start_nginx."""
        index = len(self.instances) + 2
        socket_path = os.path.join(self.directory, "run", f"hotspot-pay-{index}.sock")
        log_path = os.path.join(self.directory, f"server-{index}.log")
        env = dict(os.environ, HOTSPOT_LISTEN=socket_path)
        process = subprocess.Popen([os.path.join(self.build_dir, "hotspot-pay"), "--env-file", self.env_file],
                                   stdout=open(log_path, "a"), stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: os.path.exists(socket_path) or process.poll() is not None, 30, "the second instance's socket")
        self.instances.append((process, socket_path, log_path))
        return process

    def stop_server(self, sig=signal.SIGTERM, timeout=15):
        if self.server and self.server.poll() is None:
            self.server.send_signal(sig)
            try:
                self.server.wait(timeout)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    def start_nginx(self):
        self.port = self.port or free_port()
        os.makedirs(os.path.join(self.nginx_prefix, "tmp"), exist_ok=True)
        conekta_origin = self.conekta.url if self.conekta.info else None
        if conekta_origin:
            render_portal.render(self.portal_root, conekta_origin + "/conekta.js",
                                 countdown_seconds=self.portal_countdown)
        text = render_nginx.render(os.path.join(ROOT, "deploy", "nginx.conf"), self.nginx_prefix, self.port, self.socket,
                                   IS_ROOT, self.payment_rate, self.api_rate, self.conn_limit,
                                   [socket for _, socket, _ in self.instances],
                                   portal_root=self.portal_root if conekta_origin else None,
                                   conekta_origin=conekta_origin, cors_origins=self.cors_origins)
        config = os.path.join(self.nginx_prefix, "nginx.conf")
        with open(config, "w") as f:
            f.write(text)
        subprocess.run(["nginx", "-t", "-q", "-p", self.nginx_prefix, "-c", config, "-e", os.path.join(self.nginx_prefix, "error.log")],
                       check=True)
        self.nginx = subprocess.Popen(["nginx", "-p", self.nginx_prefix, "-c", config, "-e",
                                       os.path.join(self.nginx_prefix, "error.log"), "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._nginx_up, 15, "nginx")

    def _nginx_up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        self.stop_server()
        for process, _, _ in self.instances:
            if process.poll() is None:
                process.terminate()
                process.wait(15)
        self.router.stop()
        self.conekta.stop()
        self.postgres.stop()

    def discard(self):
        """Stops the stack and removes its directory (a cluster, logs, sockets); HOTSPOT_KEEP_STACK
        keeps the files to look at."""
        self.stop()
        if os.environ.get("HOTSPOT_KEEP_STACK") is None:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- provisioning ------------------------------------------------------------------------

    def provision(self):
        """A company, its Conekta keys, a router (trusted by pin), two products and a key."""
        company = self.ctl("company", "add", "--name", "Café Demo", "--email", "ops@cafe.example", "--phone", "5512345678")["id"]
        self.ctl("company", "set-conekta", "--company", str(company), "--public-key", SANDBOX_PUBLIC_KEY,
                 "--private-key-stdin", stdin=SANDBOX_PRIVATE_KEY + "\n")
        router = self.ctl("router", "add", "--company", str(company), "--name", "Router Terraza",
                          "--location", "Terraza, planta baja", "--url", self.router.url, "--user", ROUTER_USER,
                          "--password-stdin", "--pin", self.router.info["pin"], "--hotspot-server", "hotspot1",
                          stdin=ROUTER_PASSWORD + "\n")["id"]
        hour = self.ctl("product", "add", "--company", str(company), "--router", str(router), "--name", "1 Hora de Internet",
                        "--price", "15", "--profile", "1hora", "--uptime", "1h", "--order", "1",
                        "--detail", "Velocidad 5 Mbps", "--detail", "1 dispositivo", "--featured")["id"]
        day = self.ctl("product", "add", "--company", str(company), "--router", str(router), "--name", "1 Día de Internet",
                       "--price", "49.90", "--profile", "1dia", "--uptime", "1d", "--order", "2",
                       "--detail", "Velocidad 10 Mbps")["id"]
        key = self.ctl("key", "issue", "--router", str(router), "--label", "portal")
        self.ids = {"company": company, "router": router, "products": [hour, day], "key_id": key["key_id"]}
        self.api_key = key["api_key"]
        return self.ids

    def portal_url(self, mac="02:00:5E:00:00:01", ip="10.5.50.100", **details):
        """The payment page as a hotspot's login.html opens it: the key and the device in the fragment."""
        from urllib.parse import quote
        values = dict({"k": self.api_key, "mac": mac, "ip": ip}, **details)
        fragment = "&".join(f"{name}={quote(str(value), safe='')}" for name, value in values.items() if value)
        return f"http://127.0.0.1:{self.port}/portal/#{fragment}"

    def state(self, **more):
        """What stack.json records of a started stack: enough to find its processes again (for
        `down` and a second `make demo`) and to print its addresses without starting it anew."""
        state = {"directory": os.path.abspath(self.directory), "port": self.port, "api_key": self.api_key,
                 "ids": self.ids, "build_dir": os.path.abspath(self.build_dir), "env_file": self.env_file,
                 "server_log": self.server_log, "access_log": os.path.join(self.nginx_prefix, "access.log"),
                 "pids": {"nginx": self.nginx.pid, "server": self.server.pid, "router": self.router.process.pid,
                          "conekta": self.conekta.process.pid},
                 "pg_data": self.postgres.data, "pg_dir": self.postgres.directory,
                 "router_url": self.router.url, "router_ca": self.router.info["ca_file"],
                 "conekta_url": self.conekta.url, "portal_url": self.portal_url(), "started_at": time.time()}
        state.update(more)
        return state

    # -- HTTP through nginx --------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, raw=None, timeout=30):
        """(status, headers, parsed JSON or raw bytes) through nginx."""
        url = f"http://127.0.0.1:{self.port}{path}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        merged = {"Content-Type": "application/json"} if data is not None and raw is None else {}
        merged.update(headers or {})
        request = urllib.request.Request(url, data=data, method=method, headers=merged)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                status, reply_headers, payload = reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as error:
            status, reply_headers, payload = error.code, dict(error.headers), error.read()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload
        return status, reply_headers, parsed


# -- a stack left running (make demo): stack.json, its processes, stopping it ------------------------

STATE_FILE = "stack.json"

# Each long-lived process of a stack in `directory`: (name in stack.json's pids, what to call it,
# its program, the path under `directory` its command line names).
COMPONENTS = (
    ("nginx", "nginx", "nginx", "nginx"),
    ("server", "hotspot-pay", "hotspot-pay", "hotspot-pay.env"),
    ("router", "the sandbox router", "router.py", "sandbox-router"),
    ("conekta", "the sandbox Conekta", "conekta.py", "sandbox-conekta"),
    ("postgres", "PostgreSQL", "postgres", os.path.join("pg", "data")),
)
LABELS = {name: label for name, label, _, _ in COMPONENTS}


def read_state(directory):
    """stack.json of `directory`, or None when there is none (or it cannot be read)."""
    try:
        with open(os.path.join(directory, STATE_FILE)) as f:
            state = json.load(f)
        return state if isinstance(state, dict) else None
    except (OSError, ValueError):
        return None


def write_state(directory, state):
    """Replaces stack.json whole (never a half-written file for the next reader)."""
    path = os.path.join(directory, STATE_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump(state, f, indent=2)
    os.chmod(path + ".tmp", 0o600)  # it holds the API key
    os.replace(path + ".tmp", path)


def _command(pid):
    """A live (not zombie) process's arguments, or None. nginx rewrites its own into one string
    ("nginx: master process nginx -p …"), so that one is matched as text."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().rstrip(b"\0").decode(errors="replace").split("\0")
        return args if args != [""] else None
    except (OSError, IndexError):
        return None


def _belongs(args, program, path):
    """Whether a command line runs `program` on `path` (the stack's own file or directory)."""
    if os.path.basename(args[0]) == program or any(os.path.basename(arg) == program for arg in args[1:2]):
        return path in args  # the program and its interpreter, then exact arguments
    text = " ".join(args)
    return text.startswith(f"{program}: ") and f" {path} " in f"{text} "  # nginx's rewritten title


def running_processes(directory, state=None):
    """{name: pid} of the stack's processes alive now: the pids stack.json recorded, and any
    other process whose command line names this directory as one of the stack's (a demo killed
    before it wrote stack.json, or an older one). A recorded pid that another program reuses
    now does not count."""
    directory = os.path.abspath(directory)
    candidates = {}
    for name, pid in ((state or {}).get("pids") or {}).items():
        candidates.setdefault(name, []).append(pid)
    try:
        with open(os.path.join(directory, "pg", "data", "postmaster.pid")) as f:
            candidates.setdefault("postgres", []).append(int(f.readline()))
    except (OSError, ValueError):
        pass
    try:
        others = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        others = []
    cache = {}

    def command_of(pid):
        if pid not in cache:
            cache[pid] = _command(pid) if isinstance(pid, int) and pid > 0 else None
        return cache[pid]

    found = {}
    for name, _, program, path in COMPONENTS:
        for pid in candidates.get(name, []) + others:
            args = command_of(pid)
            if args and _belongs(args, program, os.path.join(directory, path)):
                found[name] = pid
                break
    return found


def health(port, timeout=3):
    """Whether GET /health through nginx on `port` answers 200 with status ok."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{int(port)}/health", timeout=timeout) as reply:
            return reply.status == 200 and json.loads(reply.read()).get("status") == "ok"
    except (OSError, ValueError, TypeError, AttributeError):
        return False


def stop_running(directory, state=None, timeout=15):
    """Stops whatever runs of the stack in `directory` (nginx first, PostgreSQL last) and
    returns [(name, pid)] of what it stopped."""
    directory = os.path.abspath(directory)
    running = running_processes(directory, state)
    order = [name for name, _, _, _ in COMPONENTS if name in running]
    for name in order:
        if name == "postgres":
            continue
        try:
            os.kill(running[name], signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + timeout
    for name in order:
        if name == "postgres":
            continue
        while _command(running[name]) is not None and time.time() < deadline:
            time.sleep(0.05)
        if _command(running[name]) is not None:
            try:
                os.kill(running[name], signal.SIGKILL)
            except ProcessLookupError:
                pass
    if "postgres" in running:
        Postgres(directory).stop()
        while _command(running["postgres"]) is not None and time.time() < deadline:
            time.sleep(0.05)
    return [(name, running[name]) for name in order]


def main():
    """`up` starts a stack in the given directory, records it in stack.json and prints that as
    JSON; `down` stops whatever runs of the stack recorded there (make demo-stop)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--build-dir")
    args = parser.parse_args()
    directory = os.path.abspath(args.dir)
    if args.action == "up":
        stack = Stack(directory=directory, build_dir=args.build_dir)
        stack.start()
        state = stack.state(complete=True)
        write_state(directory, state)
        print(json.dumps(state))
        # The children outlive this process (the demo leaves them running).
        os._exit(0)
    else:
        state = read_state(directory)
        stopped = stop_running(directory, state)
        if os.path.exists(os.path.join(directory, STATE_FILE)):
            os.remove(os.path.join(directory, STATE_FILE))
        if not stopped:
            print(f"no demo is running in {directory}" + (" (the one recorded there had already stopped)" if state else ""))
            return
        port = f" (port {state['port']})" if state and state.get("port") else ""
        names = ", ".join(f"{LABELS[name]} (pid {pid})" for name, pid in stopped)
        gone = [LABELS[name] for name, _, _, _ in COMPONENTS if name not in dict(stopped)]
        print(f"stopped the demo in {directory}{port}: {names}"
              + (f"; {', '.join(gone)} had already exited" if gone else ""))


if __name__ == "__main__":
    main()
