"""Issue 21 §2 end to end: the backlog an outage leaves, spread over three routers, drains with
one of them down. The other routers' attempts finish; the down router's wait, backing off, and
finish once it is back: by `hotspotctl reconcile --once`, then by the server's background
reconciler. No timing is asserted: only where each attempt ends, and that nothing ran twice."""

import os

import pytest

from conftest import running_stack
from hotspot_stack import ROUTER_PASSWORD, ROUTER_USER, Sandbox
from invariants import COMMENT_PREFIX, attempts, is_enabled, pay, wait_until
from test_payments import reconcile_once, server_log

ENV = {
    # No background reconciler until the server's test turns it on: the one-shot runs alone first.
    "HOTSPOT_RECONCILE_INTERVAL_MS": "0",
    "HOTSPOT_ROUTER_TIMEOUT_MS": "2000",
    # The reconciler's share of a router: two attempts at once.
    "HOTSPOT_ROUTER_MAX_CONCURRENCY": "4",
    "HOTSPOT_RECONCILE_THREADS": "6",
    "HOTSPOT_RETRY_MAX_SECONDS": "3",
    "HOTSPOT_DECLINES_PER_MAC": "0",
    "HOTSPOT_DECLINES_PER_ADDRESS": "0",
    "HOTSPOT_DECLINES_PER_ROUTER": "0",
}
PER_ROUTER = 5
ENABLE_REFUSED = {"op": "user.set", "kind": "error", "status": 503, "times": 1000,
                  "body": '{"error":503,"message":"Service Unavailable"}'}


@pytest.fixture(scope="module")
def fleet():
    """The stack's router and two more of the same company, each with a product and a key."""
    for stack in running_stack(extra_env=ENV):
        routers = [{"sandbox": stack.router, "id": stack.ids["router"], "product": stack.ids["products"][0],
                    "key": stack.api_key}]
        extra = []
        try:
            for name in ("Router Patio", "Router Alberca"):
                sandbox = Sandbox("router", os.path.join(stack.directory, name.split()[-1].lower()), ["--profile", "1hora"])
                sandbox.start()
                extra.append(sandbox)
                router = stack.ctl("router", "add", "--company", str(stack.ids["company"]), "--name", name,
                                   "--url", sandbox.url, "--user", ROUTER_USER, "--password-stdin",
                                   "--pin", sandbox.info["pin"], "--hotspot-server", "hotspot1",
                                   stdin=ROUTER_PASSWORD + "\n")["id"]
                product = stack.ctl("product", "add", "--company", str(stack.ids["company"]), "--router", str(router),
                                    "--name", "1 Hora", "--price", "15", "--profile", "1hora")["id"]
                key = stack.ctl("key", "issue", "--router", str(router))["api_key"]
                routers.append({"sandbox": sandbox, "id": router, "product": product, "key": key})
            yield stack, routers
        finally:
            for sandbox in extra:
                sandbox.stop()


def backlog(stack, routers):
    """PER_ROUTER paid attempts on each router whose user could not be enabled (the router refused
    every enable): what a router outage between charge and enable leaves. Attempt ids by router."""
    made = {}
    for router in routers:
        router["sandbox"].control("POST", "faults", ENABLE_REFUSED)
        made[router["id"]] = []
        for _ in range(PER_ROUTER):
            reply = pay(stack, api_key=router["key"], producto_id=router["product"])
            assert reply.status == 500 and reply.body["codigo"] == "activacion_pendiente", reply
            made[router["id"]].append(reply.body["id_intento"])
    return made


def set_down(router, down):
    """The router's REST port closed (connections refused) or open again, its faults gone."""
    router["sandbox"].control("POST", "faults/clear", {})
    router["sandbox"].control("POST", "service", {"name": "www-ssl", "disabled": down})


def states(stack, ids):
    rows = {row["id"]: row for row in attempts(stack, "id IN ({})".format(",".join(f"'{i}'" for i in ids)))}
    return {i: rows[i]["state"] for i in ids}


def check_routers(stack, routers, ids_by_router):
    """Each attempt as its own router has it: a delivered one's user enabled, a paid one's
    disabled, one user per attempt, none on another router."""
    rows = {row["id"]: row for row in attempts(stack)}
    router_of = {attempt_id: int(router) for attempt_id, router in stack.postgres.psql(
        "SELECT id, router_id FROM payment_attempts")}
    problems = []
    for router in routers:
        users = {}
        for user in router["sandbox"].control("GET", "state")["users"]:
            comment = user.get("comment") or ""
            if comment.startswith(COMMENT_PREFIX):
                users.setdefault(comment[len(COMMENT_PREFIX):], []).append(user)
        for attempt_id in users:
            if router_of.get(attempt_id, router["id"]) != router["id"]:
                problems.append(f"router {router['id']} has a user of attempt {attempt_id} of another router")
        for attempt_id in ids_by_router[router["id"]]:
            found = users.get(attempt_id, [])
            state = rows[attempt_id]["state"]
            if len(found) != 1:
                problems.append(f"attempt {attempt_id} ({state}) has {len(found)} users on router {router['id']}")
            elif state == "delivered" and not is_enabled(found[0]):
                problems.append(f"attempt {attempt_id} is delivered but its user is disabled")
            elif state == "paid" and is_enabled(found[0]):
                problems.append(f"attempt {attempt_id} is paid but its user is enabled")
    assert not problems, problems


def backlog_with_one_router_down(stack, routers):
    """A backlog on every router, then the first two answering and the third down: (the attempts
    by router id, the routers up, the router down)."""
    made = backlog(stack, routers)
    up, down = routers[:2], routers[2]
    for router in up:
        set_down(router, False)
    set_down(down, True)
    return made, up, down


def test_reconcile_once_finishes_the_routers_that_answer_and_leaves_the_down_ones_for_later(fleet):
    stack, routers = fleet
    made, up, down = backlog_with_one_router_down(stack, routers)
    try:
        code, report = reconcile_once(stack)
        finished = {row["id"]: row for row in report["finished"]}
        unfinished = {row["id"]: row for row in report["unfinished"]}
        assert code == 1, report
        for router in up:
            for attempt_id in made[router["id"]]:
                assert finished.get(attempt_id, {}).get("state") == "delivered", (attempt_id, report)
        # The down router: every attempt still paid; those not tried wait for a later pass.
        for attempt_id in made[down["id"]]:
            row = unfinished.get(attempt_id)
            assert row and row["state"] == "paid", (attempt_id, report)
            assert row["reason"].startswith(("paid; enabling the user failed", "not tried: router")), row
        assert any(unfinished[i]["reason"].startswith("not tried") for i in made[down["id"]]), report
        assert set(states(stack, made[down["id"]]).values()) == {"paid"}
        check_routers(stack, routers, made)
    finally:
        set_down(down, False)
    # Back: the next pass finishes it, whatever backoff the failed tries scheduled.
    code, report = reconcile_once(stack)
    assert code == 0 and not report["unfinished"], report
    assert set(states(stack, made[down["id"]]).values()) == {"delivered"}
    check_routers(stack, routers, made)


def test_the_background_reconciler_finishes_the_others_while_one_router_is_down_then_that_one(fleet):
    stack, routers = fleet
    made, up, down = backlog_with_one_router_down(stack, routers)
    try:
        # The same server, now with its reconciler on (the file's later line wins).
        stack.stop_server()
        with open(stack.env_file, "a") as env:
            env.write("HOTSPOT_RECONCILE_INTERVAL_MS=300\n")
        stack.start_server()
        others = [i for router in up for i in made[router["id"]]]
        wait_until("the routers that answer to have their attempts delivered",
                   lambda: set(states(stack, others).values()) == {"delivered"}, 60,
                   describe=lambda: states(stack, others))
        # The down router's attempts were tried, got no answer and wait, backing off.
        tried = stack.postgres.psql(
            "SELECT state, min(retry_count) FROM payment_attempts WHERE id IN ({}) GROUP BY state".format(
                ",".join(f"'{i}'" for i in made[down["id"]])))
        assert [row[0] for row in tried] == ["paid"] and int(tried[0][1]) >= 1, tried
        wait_until("the reconciler to hold the down router back",
                   lambda: any(line.get("msg") == "reconciler holding a router back" and line.get("router") == str(down["id"])
                               for line in server_log(stack)), 30)
        check_routers(stack, routers, made)
    finally:
        set_down(down, False)
    wait_until("the router that was down to have its attempts delivered",
               lambda: set(states(stack, made[down["id"]]).values()) == {"delivered"}, 60,
               describe=lambda: states(stack, made[down["id"]]))
    check_routers(stack, routers, made)
    # Every attempt of this suite was charged once.
    orders = stack.conekta.control("GET", "state")["orders"]
    charged = [order["metadata"].get("attempt_id") for order in orders]
    for ids in made.values():
        for attempt_id in ids:
            assert charged.count(attempt_id) == 1, attempt_id
