"""make bench's stable figure: instructions the server executes per catalogue request and per
payment, counted by valgrind's callgrind over a fixed number of requests. Wall-clock figures on
this shared VM drift by up to 2× between runs; an instruction count of the same requests does not
(perf's hardware counters would do it without valgrind's slowdown, but this VM does not expose
them: `perf stat -e instructions` answers <not supported>).

The server runs under callgrind behind the same nginx, with the stand-ins answering at once (the
count does not depend on their latency) and one request at a time, so no count depends on how
threads interleave. After a warm-up (pools, caches, prepared statements, kept-alive connections),
the counters are zeroed and dumped around each phase with callgrind_control; each dump's total is
divided by the phase's requests. User-space instructions only: the kernel's work for the server's
system calls is not in them. Each phase's dump stays in .run/bench/callgrind (`directory` in the
results) until the next run; its top functions go into the results (bench/README.md: where they
went). The stack's own directory is removed."""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
import hotspot_stack  # noqa: E402
import standin  # noqa: E402

CATALOGUE_REQUESTS = int(os.environ.get("BENCH_INSTRUCTIONS_CATALOGUE", "1000"))
PAYMENTS = int(os.environ.get("BENCH_INSTRUCTIONS_PAYMENTS", "200"))
WARMUP = 30
TOP = 25
# Target (issue 21): server instructions per payment down 30 % from the first recorded figure.
TARGET_REDUCTION = 0.30


def first_recorded(history_path):
    """The first run in the history that recorded instructions per payment: the baseline."""
    try:
        for line in open(history_path):
            if line.strip():
                run = json.loads(line)
                figure = (run.get("instructions") or {}).get("per_payment")
                if figure:
                    return {"per_payment": figure, "per_catalogue": run["instructions"].get("per_catalogue"),
                            "commit": run.get("commit"), "date": run.get("date")}
    except OSError:
        pass
    return None


def commit():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def callgrind_control(*args):
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, text=True)


def dump_total(directory, name, before):
    """The instruction total of the dump named `name` (a new file in `directory`), and its path."""
    deadline = time.time() + 60
    while time.time() < deadline:
        for path in sorted(set(os.listdir(directory)) - before):
            full = os.path.join(directory, path)
            text = open(full, errors="replace").read()
            if f"desc: Trigger: Client Request: {name}" in text or f"dump {name}" in text:
                match = re.search(r"^totals:\s+(\d+)", text, re.MULTILINE) or re.search(r"^summary:\s+(\d+)", text, re.MULTILINE)
                if match:
                    return int(match.group(1)), full
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no dump for {name}")


NAME = re.compile(r"^(ob|fn|cob|cfn|fl|fi|fe|cfi|cfl)=\((\d+)\)(?: (.*))?$")


def profile(path):
    """A callgrind dump's functions: {name: (own instructions, inclusive instructions)}.

    Read here rather than by callgrind_annotate, which (3.19) charges these dumps' whole cost to
    `clone`. The format (https://valgrind.org/docs/manual/cl-format.html): `fn=` opens a
    function's costs, a cost line after `calls=` is the inclusive cost of that call, every other
    cost line is the function's own; names are given once as `(id) name`, then as `(id)`."""
    names = {"ob": {}, "fn": {}}
    own, called = {}, {}
    function, binary, after_call = None, None, False
    for line in open(path, errors="replace"):
        match = NAME.match(line)
        if match:
            kind, ident, name = match.groups()
            table = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn"}.get(kind)
            if table and name is not None:
                names[table][ident] = name.strip()
            if kind == "ob":
                binary = ident
            elif kind == "fn":
                function = (binary, ident)
            continue
        if line.startswith("calls="):
            after_call = True
            continue
        words = line.split()
        if len(words) >= 2 and (line[0].isdigit() or line[0] in "+-*"):
            costs = called if after_call else own
            costs[function] = costs.get(function, 0) + int(words[1])
        after_call = False
    raw = {}
    for key in set(own) | set(called):
        label = f"{names['fn'].get(key[1], '?')} [{names['ob'].get(key[0], '?').rsplit('/', 1)[-1]}]"
        mine = own.get(key, 0)
        previous = raw.get(label, (0, 0))
        raw[label] = (previous[0] + mine, previous[1] + mine + called.get(key, 0))
    return demangled(raw)


def demangled(functions):
    """Swift's symbols readable (swift-demangle, beside swift), else as they are."""
    labels = list(functions)
    tool = next((os.path.join(d, "swift-demangle") for d in os.environ.get("PATH", "").split(":") + ["/opt/swift/usr/bin"]
                 if os.path.exists(os.path.join(d, "swift-demangle"))), None)
    if not tool:
        return functions
    out = subprocess.run([tool, "--simplified"], input="\n".join(labels), capture_output=True, text=True).stdout.split("\n")
    if len(out) < len(labels):
        return functions
    result = {}
    for label, readable in zip(labels, out, strict=False):
        previous = result.get(readable, (0, 0))
        result[readable] = (previous[0] + functions[label][0], previous[1] + functions[label][1])
    return result


def top_functions(path, count=TOP):
    """The functions that execute most instructions themselves, and those that do most including
    what they call (the threads' entry points and the worker's loop left out: they include it all)."""
    functions = profile(path)
    own = sorted(((costs[0], name) for name, costs in functions.items()), reverse=True)[:count]
    skip = ("clone", "start_thread", "workerThreadEntry", "WorkerThread", "Application.run", "Worker.serve")
    inclusive = sorted(((costs[1], name) for name, costs in functions.items() if not any(s in name for s in skip)),
                       reverse=True)[:count * 2]
    return {"own": own, "inclusive": inclusive}


class Client:
    """One kept-alive HTTP/1.1 connection to nginx: one request at a time."""

    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method, path, headers, body=None):
        self.connection.request(method, path, body=body, headers=headers)
        reply = self.connection.getresponse()
        payload = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"{method} {path}: {reply.status} {payload[:300]!r}")
        return payload


def provision(stack):
    company = stack.ctl("company", "add", "--name", "Bench", "--phone", "5512345678")["id"]
    stack.ctl("company", "set-conekta", "--company", str(company), "--public-key", "key_pub", "--private-key-stdin",
              stdin=hotspot_stack.SANDBOX_PRIVATE_KEY + "\n")
    router = stack.ctl("router", "add", "--company", str(company), "--name", "R", "--url", stack.router.url,
                       "--user", hotspot_stack.ROUTER_USER, "--password-stdin", "--insecure", "--hotspot-server",
                       "hotspot1", stdin=hotspot_stack.ROUTER_PASSWORD + "\n")["id"]
    # Two products, so the catalogue is a list; the payments buy the first.
    products = [stack.ctl("product", "add", "--company", str(company), "--router", str(router), "--name", name,
                          "--price", price, "--profile", "1hora", "--detail", "Velocidad 5 Mbps")["id"]
                for name, price in (("1 Hora", "15"), ("1 Día", "49.90"))]
    return products[0], stack.ctl("key", "issue", "--router", str(router))["api_key"]


def measure(build_dir, history_path):
    stack = hotspot_stack.Stack(build_dir=build_dir, threads=8, api_rate="1000000r/s", payment_rate="1000000r/s",
                                conn_limit=10000,
                                extra_env={"HOTSPOT_LOG_LEVEL": "warning", "HOTSPOT_DECLINES_PER_ADDRESS": "0"})
    stack.router = standin.StandIn("router", stack.directory, 0)
    stack.conekta = standin.StandIn("conekta", stack.directory, 0)
    dumps = os.path.join(hotspot_stack.ROOT, ".run", "bench", "callgrind")
    shutil.rmtree(dumps, ignore_errors=True)
    os.makedirs(dumps)
    try:
        stack.postgres.start()
        stack.router.start()
        stack.conekta.start()
        stack.write_env_file()
        stack.ctl("migrate")
        # Valgrind 3.19 cannot read the DWARF 5 that Swift's compiler writes, and gives up on the
        # whole program: it runs a copy without the debug sections (the symbol table, which names
        # the functions, stays).
        binary = os.path.join(stack.directory, "hotspot-pay")
        subprocess.run(["objcopy", "--strip-debug", os.path.join(build_dir, "hotspot-pay"), binary], check=True)
        log = os.path.join(stack.directory, "valgrind.log")
        stack.server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={dumps}/callgrind.out", binary, "--env-file",
             stack.env_file], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        hotspot_stack.wait_for(lambda: os.path.exists(stack.socket) or stack.server.poll() is not None, 120,
                               "the server under valgrind")
        if stack.server.poll() is not None:
            raise RuntimeError("the server under valgrind exited:\n" + open(log).read()[-3000:])
        stack.start_nginx()
        product, key = provision(stack)
        client = Client(stack.port)
        catalogue = ("GET", "/api/v1/catalogo_perfiles_venta", {"X-API-Key": key}, None)
        counter = iter(range(10**9))

        def payment():
            body = json.dumps({"producto_id": product, "token_tarjeta": f"tok_sandbox_paid_count_{next(counter)}",
                               "nombre_cliente": "Bench", "email_cliente": "bench@example.com"})
            return ("POST", "/api/v1/payments/pagar-conekta", {"X-API-Key": key, "Content-Type": "application/json"}, body)

        for _ in range(WARMUP):
            client.request(*catalogue)
            client.request(*payment())
        result = {"catalogue_requests": CATALOGUE_REQUESTS, "payment_count": PAYMENTS, "directory": dumps, "phases": {}}
        phases = (("catalogue", CATALOGUE_REQUESTS, lambda: catalogue), ("payments", PAYMENTS, payment))
        callgrind_control("--zero")
        for name, count, make in phases:
            for _ in range(count):
                client.request(*make())
            before = set(os.listdir(dumps))
            callgrind_control(f"--dump={name}")
            total, path = dump_total(dumps, name, before)
            result["phases"][name] = {"instructions": total, "dump": path, "top": top_functions(path)}
        unfinished = int(stack.postgres.psql("SELECT count(*) FROM payment_attempts WHERE state <> 'delivered'")[0][0])
        if unfinished:
            raise RuntimeError(f"{unfinished} payments not delivered in the instruction count")
        result["per_catalogue"] = round(result["phases"]["catalogue"]["instructions"] / CATALOGUE_REQUESTS)
        result["per_payment"] = round(result["phases"]["payments"]["instructions"] / PAYMENTS)
        result["baseline"] = first_recorded(history_path) or {"per_payment": result["per_payment"],
                                                               "per_catalogue": result["per_catalogue"],
                                                               "commit": commit(), "date": None}
        return result
    finally:
        stack.discard()


def target_rows(instructions):
    base = instructions["baseline"]
    change = instructions["per_payment"] / base["per_payment"] - 1
    return [(f"server instructions per payment ≤ {1 - TARGET_REDUCTION:.2f} × the first recorded "
             f"({base['per_payment']:,} at {base['commit']})",
             f"{instructions['per_payment']:,} ({change * 100:+.1f} %)",
             instructions["per_payment"] <= (1 - TARGET_REDUCTION) * base["per_payment"])]


def markdown(instructions):
    base = instructions["baseline"]
    top = instructions["phases"]["payments"]["top"]["own"]
    lines = [f"Instructions executed by the server process (user space, valgrind's callgrind), one request at a time "
             f"after a warm-up: {instructions['catalogue_requests']} catalogue requests, then {instructions['payment_count']} "
             "payments (stand-ins answering at once). Unlike the wall-clock figures, these do not drift with the VM.", "",
             "| | per catalogue request | per payment |", "|---|---:|---:|",
             f"| this run | {instructions['per_catalogue']:,} | {instructions['per_payment']:,} |",
             f"| first recorded ({base['commit']}) | {base['per_catalogue']:,} | {base['per_payment']:,} |",
             f"| change | {(instructions['per_catalogue'] / base['per_catalogue'] - 1) * 100:+.1f} % | "
             f"{(instructions['per_payment'] / base['per_payment'] - 1) * 100:+.1f} % |", "",
             "Where a payment's instructions go (this run, the functions' own instructions per payment, top "
             f"{min(12, len(top))}):", "", "| per payment | function |", "|---:|---|"]
    for count, name in top[:12]:
        lines.append(f"| {count / instructions['payment_count']:,.0f} | `{name}` |")
    return lines + [""]


def print_summary(instructions):
    base = instructions["baseline"]
    print(f"\ninstructions (callgrind, server process): {instructions['per_catalogue']:,} per catalogue request, "
          f"{instructions['per_payment']:,} per payment (first recorded {base['per_payment']:,} at {base['commit']}, "
          f"{(instructions['per_payment'] / base['per_payment'] - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    build = os.environ.get("HOTSPOT_BUILD_DIR", os.path.join(HERE, "..", ".build", "release"))
    print(json.dumps(measure(build, os.path.join(HERE, "results", "history.jsonl")), indent=2))
