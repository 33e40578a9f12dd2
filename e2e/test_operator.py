"""Issue 8 end to end: what an operator does after purchases through nginx — find a payment in
the access log by request id, follow it with `hotspotctl payments show`, and read the sales with
`hotspotctl report` (text, JSON and CSV), checked against the database."""

import csv
import datetime
import io
import json
import os
import subprocess
import time
import uuid

from invariants import UUID_RE, pay, settle

PRODUCT_PRICE = {"1 Hora de Internet": "15.00", "1 Día de Internet": "49.90"}


def hotspotctl(stack, *args):
    """(exit code, stdout, stderr) of hotspotctl with the stack's env file (no --json unless asked),
    in the README's form: `hotspotctl --env-file FILE <subcommand> …`."""
    result = subprocess.run([os.path.join(stack.build_dir, "hotspotctl"), "--env-file", stack.env_file] + list(args),
                            capture_output=True)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def access_log_line(stack, request_id):
    """The request's access log line; nginx writes it just after the response, so wait a little."""
    deadline = time.time() + 5
    while True:
        with open(os.path.join(stack.nginx_prefix, "access.log")) as log:
            lines = [json.loads(line) for line in log if request_id in line]
        if lines or time.time() > deadline:
            assert len(lines) == 1, lines
            return lines[0]
        time.sleep(0.05)


def events(stack, attempt_id):
    return stack.postgres.psql(
        "SELECT coalesce(from_state, '-'), to_state, coalesce(reason, '') FROM payment_events "
        f"WHERE attempt_id = '{uuid.UUID(attempt_id)}' ORDER BY id")


def test_from_an_access_log_line_to_the_attempts_timeline(stack):
    request_id = f"op-{uuid.uuid4().hex[:16]}"
    reply = pay(stack, headers={"X-Request-Id": request_id})
    assert reply.status == 200, reply
    line = access_log_line(stack, request_id)
    assert (line["status"], line["codigo"], line["transaction"]) == (200, "pagado", reply.body["id_transaccion"])
    attempt_id = line["attempt"]
    assert UUID_RE.fullmatch(attempt_id), line

    code, out, err = hotspotctl(stack, "payments", "show", attempt_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    attempt = shown["attempt"]
    assert (attempt["id"], attempt["state"], attempt["codigo"], attempt["request_id"], attempt["order_id"]) == \
        (attempt_id, "delivered", "pagado", request_id, reply.body["id_transaccion"])
    assert attempt["product_name"] == "1 Hora de Internet" and attempt["amount"] == 15.0 and attempt["currency"] == "MXN"
    timeline = shown["timeline"]
    recorded = events(stack, attempt_id)
    assert [[e["from"] or "-", e["to"], e["reason"] or ""] for e in timeline] == recorded
    assert timeline[0]["from"] is None and timeline[0]["to"] == "pending" and timeline[-1]["to"] == "delivered"
    assert all(datetime.datetime.strptime(e["at"], "%Y-%m-%dT%H:%M:%S.%fZ") for e in timeline)

    code, text, err = hotspotctl(stack, "payments", "show", attempt_id.upper())
    assert code == 0, err
    assert text.startswith(f"attempt  {attempt_id}\nstate    delivered (answered pagado)")
    assert f"request  {request_id}" in text and f"order    {reply.body['id_transaccion']}" in text
    steps = [row for row in text.splitlines() if " → " in row]
    assert len(steps) == len(recorded)
    for row, (before, after, reason) in zip(steps, recorded, strict=True):
        assert row.split()[1:4] == [before, "→", after] and row.rstrip().endswith(reason), row


def test_a_declined_attempts_timeline_ends_declined_with_its_reason(stack):
    request_id = f"op-{uuid.uuid4().hex[:16]}"
    reply = pay(stack, token_tarjeta=f"tok_sandbox_declined_{uuid.uuid4().hex}", headers={"X-Request-Id": request_id})
    assert reply.status == 402, reply
    attempt_id = access_log_line(stack, request_id)["attempt"]
    assert attempt_id == reply.body["id_intento"]
    settle(stack, 20)
    code, out, err = hotspotctl(stack, "payments", "show", attempt_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["attempt"]["state"] == "declined" and shown["attempt"]["codigo"] == "pago_declinado"
    assert [e["to"] for e in shown["timeline"]][-1] == "declined"
    assert shown["timeline"][-1]["reason"]


def test_payments_show_refuses_what_is_not_an_attempt(stack):
    code, _, err = hotspotctl(stack, "payments", "show", "not-a-uuid")
    assert code != 0 and "not an attempt id" in err
    unknown = str(uuid.uuid4())
    code, _, err = hotspotctl(stack, "payments", "show", unknown)
    assert code != 0 and f"no attempt {unknown}" in err


def test_report_matches_the_database_as_csv_json_and_text(stack):
    for token in ("paid", "paid", "declined"):
        pay(stack, token_tarjeta=f"tok_sandbox_{token}_{uuid.uuid4().hex}")
    settle(stack, 20)
    today = stack.postgres.psql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')")[0][0]
    expected = {
        row[0]: row[1:] for row in stack.postgres.psql(
            "SELECT p.id, p.name, a.currency, count(*), count(*) FILTER (WHERE state = 'delivered'), "
            "count(*) FILTER (WHERE state = 'declined'), count(*) FILTER (WHERE state = 'failed'), "
            "count(*) FILTER (WHERE state = 'refunded'), "
            "count(*) FILTER (WHERE state NOT IN ('delivered', 'declined', 'failed', 'refunded')), "
            "to_char(coalesce(sum(amount_cents) FILTER (WHERE state = 'delivered'), 0) / 100.0, 'FM999999990.00') "
            "FROM payment_attempts a JOIN products p ON p.id = a.product_id "
            f"WHERE (a.created_at AT TIME ZONE 'UTC')::date = '{today}' AND a.company_id = {stack.ids['company']} "
            "GROUP BY p.id, p.name, a.currency")}
    assert expected

    code, out, err = hotspotctl(stack, "report", "--from", today, "--to", today, "--by", "product", "--csv",
                                "--company", str(stack.ids["company"]))
    assert code == 0, err
    assert out.endswith("\r\n") and "\n" not in out.replace("\r\n", "")
    records = list(csv.reader(io.StringIO(out, newline="")))
    assert records[0] == ["product_id", "product", "currency", "attempts", "delivered", "declined", "failed", "refunded",
                          "in_progress", "gross_sales"]
    assert {record[0]: record[1:] for record in records[1:]} == expected
    for record in records[1:]:
        assert record[-1] == f"{int(record[4]) * float(PRODUCT_PRICE[record[1]]):.2f}"

    code, out, err = hotspotctl(stack, "report", "--from", today, "--to", today, "--json",
                                "--company", str(stack.ids["company"]))
    assert code == 0, err
    report = json.loads(out)
    assert (report["from"], report["to"], report["by"]) == (today, today, "day")
    assert [row["day"] for row in report["rows"]] == [today]
    day = report["rows"][0]
    assert day["attempts"] == sum(int(row[2]) for row in expected.values())
    assert day["delivered"] == sum(int(row[3]) for row in expected.values())
    assert f"{day['gross_sales']:.2f}" == f"{sum(float(row[-1]) for row in expected.values()):.2f}"
    assert report["totals"] == [{key: value for key, value in day.items() if key != "day"}]

    code, text, err = hotspotctl(stack, "report", "--from", today, "--to", today, "--by", "router")
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0].split() == ["router_id", "router", "attempts", "delivered", "declined", "failed", "refunded", "in_progress",
                                "gross_sales"]
    assert lines[-1].startswith("total") and lines[-1].endswith(" MXN")


def test_report_refuses_bad_days(stack):
    for args in (["--from", "2026-02-30", "--to", "2026-03-01"], ["--from", "2026-03-02", "--to", "2026-03-01"],
                 ["--from", "2026-03-01", "--to", "2026-03-01", "--by", "week"]):
        code, _, err = hotspotctl(stack, "report", *args)
        assert code != 0 and "Error" in err, err
