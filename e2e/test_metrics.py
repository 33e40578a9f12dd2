"""Issue 8 end to end: GET /metrics through the real nginx rendered from deploy/nginx.conf.

The exposition is read with the reference parser (python3-prometheus-client), so a format
mistake fails here even where the server's own unit tests agree with themselves.

Refusal is proved without a second host: Linux routes all of 127.0.0.0/8 to the loopback
interface, so a client that binds 127.0.0.2 before connecting reaches the same nginx with a
different peer address. nginx's allow/deny looks only at that address ($remote_addr; the config
has no realip module), so 127.0.0.2 stands for any address not on the allow list. The nginx is
the production file unchanged, a control request from 127.0.0.1 to the same nginx succeeds, and
spoofed forwarding headers change nothing; the access log and the app's own counters show that
the refused requests never reached the app.
"""

import http.client
import json
import os
import signal
import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import running_stack
from invariants import pay

CONTENT_TYPE = "text/plain; version=0.0.4"


def scrape(stack, source="127.0.0.1", headers=None, path="/metrics"):
    """(status, headers, body text) of GET `path` through nginx, connecting from `source`."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read().decode()
    finally:
        connection.close()


def metrics(stack):
    """{(sample name, ((label, value), …)): value} of one scrape, through the reference parser."""
    status, headers, text = scrape(stack)
    assert status == 200, text
    assert headers["Content-Type"].startswith(CONTENT_TYPE), headers
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("hotspot_"), family.name
        assert family.documentation, f"{family.name} has no HELP"
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def histogram(samples, name, **labels):
    """(cumulative buckets by le, sum, count) of one histogram series."""
    buckets = {dict(key)["le"]: count for (sample, key), count in samples.items()
               if sample == name + "_bucket" and {k: v for k, v in key if k != "le"} == labels}
    return buckets, value(samples, name + "_sum", **labels), value(samples, name + "_count", **labels)


def test_metrics_are_prometheus_text_for_loopback_without_a_key(stack):
    status, headers, text = scrape(stack)
    assert status == 200
    assert headers["Content-Type"].startswith(CONTENT_TYPE)
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif not line.startswith("#"):
            assert line.startswith("hotspot_"), line
    assert types["hotspot_http_requests_total"] == "counter"
    assert types["hotspot_payments_total"] == "counter"
    assert types["hotspot_router_call_duration_seconds"] == "histogram"
    assert types["hotspot_conekta_call_duration_seconds"] == "histogram"
    assert types["hotspot_process_start_time_seconds"] == "gauge"


def test_a_purchase_moves_the_counters_and_histograms(stack):
    before = metrics(stack)
    reply = pay(stack)
    assert reply.status == 200, reply
    after = metrics(stack)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("hotspot_http_requests_total", route="payment", status="200") == 1
    assert delta("hotspot_payments_total", codigo="pagado") == 1
    # The scrape before the purchase is counted in the one after it.
    assert delta("hotspot_http_requests_total", route="metrics", status="200") == 1
    for operation in ("find_profile", "add_user", "enable_user"):
        assert delta("hotspot_router_call_duration_seconds_count", operation=operation, outcome="ok") >= 1, operation
    assert delta("hotspot_conekta_call_duration_seconds_count", operation="create_order", outcome="ok") >= 1
    assert delta("hotspot_conekta_call_duration_seconds_sum", operation="create_order", outcome="ok") > 0

    for name, labels in (("hotspot_router_call_duration_seconds", {"operation": "add_user", "outcome": "ok"}),
                         ("hotspot_conekta_call_duration_seconds", {"operation": "create_order", "outcome": "ok"})):
        buckets, total, count = histogram(after, name, **labels)
        bounds = sorted(buckets, key=float)
        assert bounds[0] == "0.005" and bounds[-1] == "+Inf" and float(bounds[-2]) == 30, bounds
        counts = [buckets[le] for le in bounds]
        assert counts == sorted(counts), f"{name} buckets are not cumulative: {counts}"
        assert buckets["+Inf"] == count and count >= 1
        assert 0 < total < 30 * count


def test_a_declined_payment_is_counted_by_its_codigo(stack):
    before = metrics(stack)
    reply = pay(stack, token_tarjeta=f"tok_sandbox_declined_{uuid.uuid4().hex}")
    assert reply.status == 402, reply
    after = metrics(stack)
    assert value(after, "hotspot_payments_total", codigo="pago_declinado") - \
        value(before, "hotspot_payments_total", codigo="pago_declinado") == 1
    assert value(after, "hotspot_http_requests_total", route="payment", status="402") - \
        value(before, "hotspot_http_requests_total", route="payment", status="402") == 1
    assert value(after, "hotspot_router_call_duration_seconds_count", operation="delete_user", outcome="ok") > \
        value(before, "hotspot_router_call_duration_seconds_count", operation="delete_user", outcome="ok")


def test_backlog_and_process_facts(stack):
    deadline = time.time() + 10
    samples = metrics(stack)
    while ("hotspot_payment_backlog_oldest_age_seconds", ()) not in samples and time.time() < deadline:
        time.sleep(0.3)  # the reconciler reads the backlog once per pass
        samples = metrics(stack)
    for state in ("pending", "charging", "paid", "declining", "aborting", "refunding", "revoking"):
        assert ("hotspot_payment_backlog_attempts", (("state", state),)) in samples, state
    assert samples[("hotspot_payment_backlog_oldest_age_seconds", ())] >= 0
    assert time.time() - 30 < samples[("hotspot_reconciler_last_pass_timestamp_seconds", ())] <= time.time() + 1
    assert time.time() - 3600 < samples[("hotspot_process_start_time_seconds", ())] <= time.time()
    assert samples[("hotspot_worker_threads", ())] == stack.threads
    assert samples[("hotspot_database_pool_connections", ())] == min(stack.threads, 16)
    assert 0 <= samples[("hotspot_database_pool_connections_in_use", ())] <= min(stack.threads, 16)
    instances = [dict(labels)["instance"] for (name, labels) in samples if name == "hotspot_instance_info"]
    assert len(instances) == 1 and instances[0].endswith(f":{stack.server.pid}"), instances
    assert samples[("hotspot_metrics_dropped_total", ())] == 0


def test_other_addresses_are_refused_by_nginx(stack):
    before = metrics(stack)
    request_ids = []
    for headers in ({}, {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1"}):
        request_id = f"metrics-deny-{uuid.uuid4().hex[:12]}"
        request_ids.append(request_id)
        status, reply_headers, text = scrape(stack, source="127.0.0.2", headers=dict(headers, **{"X-Request-Id": request_id}))
        assert status == 403, text
        assert reply_headers["Content-Type"].startswith("application/json")
        assert json.loads(text) == {"detail": "Acceso denegado.", "codigo": "acceso_denegado", "request_id": request_id}
        assert "hotspot_" not in text
    after = metrics(stack)

    # Only the control scrape (before) reached the app; nothing was answered 403 by it.
    assert value(after, "hotspot_http_requests_total", route="metrics", status="200") - \
        value(before, "hotspot_http_requests_total", route="metrics", status="200") == 1
    assert value(after, "hotspot_http_requests_total", route="metrics", status="403") == 0
    deadline = time.time() + 5  # nginx logs a request just after answering it
    while True:
        lines = [json.loads(line) for line in open(os.path.join(stack.nginx_prefix, "access.log"))]
        refused = [line for line in lines if line["request_id"] in request_ids]
        if len(refused) == 2 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert len(refused) == 2, refused
    for line in refused:
        assert (line["remote_addr"], line["status"], line["upstream_status"], line["uri"]) == ("127.0.0.2", 403, "", "/metrics")


def test_no_other_spelling_of_the_path_reaches_the_apps_metrics(stack):
    # nginx normalises the path before choosing a location: dot segments, encoded dots and
    # doubled slashes land on the allow-listed location; anything else is not /metrics at all.
    for path in ("/api/v1/../metrics", "/api/v1/%2e%2e/metrics", "//metrics", "/health/../metrics", "/metrics/",
                 "/metrics?format=text", "/METRICS", "/api/v1/..%2fmetrics"):
        status, _, body = scrape(stack, "127.0.0.2", path=path)
        assert status in (400, 403, 404), (path, status)
        assert "hotspot_" not in body, path


def test_the_allow_list_covers_metrics_only(stack):
    # The allow list is for /metrics alone: the API stays open to every address.
    status, _, body = scrape(stack, "127.0.0.2", path="/health")
    assert (status, json.loads(body)) == (200, {"status": "ok", "database": "ok"})


@pytest.fixture
def two_instances():
    yield from running_stack(instances=2)


def test_each_instance_is_scraped_through_its_own_location(two_instances):
    """README, "Metrics": with several instances behind one upstream, /metrics answers from any
    one of them, so each instance gets a location of its own; this adds them as documented."""
    stack = two_instances
    sockets = {"1": stack.socket, "2": stack.instances[0][1]}
    pids = {"1": stack.server.pid, "2": stack.instances[0][0].pid}
    locations = "".join(f"""
        location = /metrics/{name} {{
            allow 127.0.0.1;
            allow ::1;
            deny all;
            rewrite ^ /metrics break;
            fastcgi_pass unix:{path};
        }}
""" for name, path in sockets.items())
    config = os.path.join(stack.nginx_prefix, "nginx.conf")
    text = open(config).read()
    assert text.count("        location = /metrics {") == 1
    with open(config, "w") as f:
        f.write(text.replace("        location = /metrics {", locations + "\n        location = /metrics {"))
    stack.nginx.send_signal(signal.SIGHUP)  # reload
    time.sleep(1)

    def instance(path, source="127.0.0.1"):
        """The pid of the instance that answered, or the refusal's status."""
        status, _, body = scrape(stack, source, path=path)
        if status != 200:
            return status
        names = [dict(sample.labels)["instance"] for family in text_string_to_metric_families(body)
                 for sample in family.samples if sample.name == "hotspot_instance_info"]
        return int(names[0].rsplit(":", 1)[1])

    for name, pid in pids.items():
        assert {instance(f"/metrics/{name}") for _ in range(4)} == {pid}
        assert instance(f"/metrics/{name}", source="127.0.0.2") == 403
    assert {instance("/metrics") for _ in range(6)} == set(pids.values())  # round robin
