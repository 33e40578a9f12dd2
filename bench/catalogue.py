#!/usr/bin/env python3
"""Catalogue throughput through nginx: hotspot-pay (release build) against a minimal C libfcgi
responder serving a body of the same size behind the same nginx config, in one run.
Prints a JSON object with both rates, the ratio, errors and the server's RSS."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
import hotspot_stack  # noqa: E402
import render_nginx  # noqa: E402


def wrk(url, headers, connections=64, seconds=8):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return parse_wrk(subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout)


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    requests = int(done.group(1))
    duration = float(done.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[done.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    error_count = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)

    def percentile(label):
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "errors": error_count, "requests": requests, "ok_rps": max(requests - error_count, 0) / duration,
            "p50_ms": percentile("50"), "p99_ms": percentile("99")}


ROUNDS = int(os.environ.get("BENCH_CATALOGUE_ROUNDS", "5"))
ROUND_SECONDS = int(os.environ.get("BENCH_CATALOGUE_SECONDS", "5"))


def user_and_system(pid):
    """A process's user and system CPU so far, in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def median_run(runs):
    """The run with the median rate, its errors summed over all runs (any error counts)."""
    chosen = dict(sorted(runs, key=lambda r: r["rps"])[len(runs) // 2])
    chosen["errors"] = sum(r["errors"] for r in runs)
    return chosen


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure():
    build_dir = os.environ.get("HOTSPOT_BUILD_DIR", os.path.join(HERE, "..", ".build", "release"))
    threads = int(os.environ.get("HOTSPOT_BENCH_THREADS", "16"))
    stack = hotspot_stack.Stack(build_dir=build_dir, threads=threads, api_rate="1000000r/s", payment_rate="1000000r/s", conn_limit=10000,
                                extra_env={"HOTSPOT_LOG_LEVEL": "warning"})
    work = tempfile.mkdtemp(prefix="bench-c-")
    responder = None
    nginx_c = None
    try:
        stack.start()
        headers = {"X-API-Key": stack.api_key}
        url = f"http://127.0.0.1:{stack.port}/api/v1/catalogo_perfiles_venta"
        body = stack.request("GET", "/api/v1/catalogo_perfiles_venta", headers=headers)
        raw = subprocess.run(["curl", "-s", "-H", f"X-API-Key: {stack.api_key}", url], capture_output=True).stdout
        wrk(url, headers, seconds=2)  # warm up

        # The same nginx config in front of the C responder.
        binary = os.path.join(work, "c-responder")
        subprocess.run(["cc", "-O2", "-o", binary, os.path.join(HERE, "c-responder.c"), "-lfcgi", "-lpthread"], check=True)
        body_file = os.path.join(work, "body.json")
        open(body_file, "wb").write(raw)
        socket_path = os.path.join(work, "c.sock")
        os.chmod(work, 0o755)
        responder = subprocess.Popen([binary, socket_path, str(threads), body_file])
        hotspot_stack.wait_for(lambda: os.path.exists(socket_path), 10, "the C responder")
        prefix = os.path.join(work, "nginx")
        os.makedirs(os.path.join(prefix, "tmp"))
        port = hotspot_stack.free_port()
        open(os.path.join(prefix, "nginx.conf"), "w").write(render_nginx.render(
            os.path.join(HERE, "..", "deploy", "nginx.conf"), prefix, port, socket_path, os.geteuid() == 0,
            "1000000r/s", "1000000r/s", 10000))
        nginx_c = subprocess.Popen(["nginx", "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"), "-e",
                                    os.path.join(prefix, "error.log"), "-g", "daemon off;"])
        time.sleep(0.5)
        c_url = f"http://127.0.0.1:{port}/api/v1/catalogo_perfiles_venta"
        wrk(c_url, headers, seconds=2)
        # Alternate the two, several rounds, and compare medians: this machine's speed drifts
        # (a shared VM), and one run of each minutes apart compared the drift, not the servers.
        swift_runs, reference_runs = [], []
        for round_index in range(ROUNDS):
            order = [(url, swift_runs, stack.server.pid), (c_url, reference_runs, responder.pid)]
            for target, runs, pid in order if round_index % 2 == 0 else reversed(order):
                before = user_and_system(pid)
                run = wrk(target, headers, seconds=ROUND_SECONDS)
                after = user_and_system(pid)
                # The responder's own CPU per request: user space is each program's work; the
                # system part (accept, read, write, close) is the same FastCGI for both.
                run["user_us_per_request"] = round((after[0] - before[0]) * 1e6 / max(run["requests"], 1), 1)
                run["system_us_per_request"] = round((after[1] - before[1]) * 1e6 / max(run["requests"], 1), 1)
                runs.append(run)
        swift, reference = median_run(swift_runs), median_run(reference_runs)
        swift["rss_mib"] = rss_mib(stack.server.pid)
        # Each round's two runs are seconds apart: the median of their ratios is the comparison
        # least moved by the drift.
        ratios = sorted(s["rps"] / c["rps"] for s, c in zip(swift_runs, reference_runs, strict=True))
        result = {"body_bytes": len(raw), "threads": threads, "swift": swift, "c_reference": reference,
                  "ratio": round(ratios[len(ratios) // 2], 3), "products": len(body[2]),
                  "rounds": {"swift_rps": [r["rps"] for r in swift_runs], "c_reference_rps": [r["rps"] for r in reference_runs]}}
        return result
    finally:
        # nginx's master must be asked to stop (SIGQUIT): killing it orphans its workers.
        if nginx_c:
            nginx_c.send_signal(signal.SIGQUIT)
            nginx_c.wait(10)
        if responder:
            responder.kill()
            responder.wait()
        stack.discard()


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
