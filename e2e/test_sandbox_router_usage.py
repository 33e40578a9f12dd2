"""Issue 18: the sandbox router alone (no product), over its HTTPS REST API as a client sees it:
usage counters advanced by /_sandbox/usage, logins refused past a limit in RouterOS's words while
the user stays, sessions dropped when usage reaches a limit, active sessions listed and removed,
print with .proplist and .query, 20,000 users made at once and listed in one call, and the
request counts that show what a sweep cost (docs/sources.md A3, A4, A6.1, A8)."""

import base64
import json
import shutil
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from hotspot_stack import ROUTER_PASSWORD, ROUTER_USER, Sandbox

SWEEP_PROPLIST = ".id,name,comment,disabled,uptime,bytes-in,bytes-out,limit-uptime,limit-bytes-total"


class Router:
    """The sandbox router and a REST client for it (Basic auth, its own CA)."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.context = ssl.create_default_context(cafile=sandbox.info["ca_file"])
        self.auth = "Basic " + base64.b64encode(f"{ROUTER_USER}:{ROUTER_PASSWORD}".encode()).decode()

    def rest(self, method, path, body=None):
        """(status, decoded JSON or None for an empty body) of a call under /rest/ip/hotspot/."""
        request = urllib.request.Request(self.sandbox.url + "/rest/ip/hotspot/" + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": self.auth, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as reply:
                status, raw = reply.status, reply.read()
        except urllib.error.HTTPError as failure:
            status, raw = failure.code, failure.read()
        return status, (json.loads(raw) if raw else None)

    def ok(self, method, path, body=None):
        status, reply = self.rest(method, path, body)
        assert status == 200, (method, path, status, reply)
        return reply

    def control(self, method, path, payload=None):
        return self.sandbox.control(method, path, payload)

    def control_error(self, method, path, payload):
        """(status, body) of a control call expected to fail."""
        with pytest.raises(urllib.error.HTTPError) as failure:
            self.sandbox.control(method, path, payload)
        return failure.value.code, json.loads(failure.value.read())

    def user(self, name):
        return self.ok("GET", "user/" + name)

    def add_user(self, name, **fields):
        body = {"name": name, "password": "pw-" + name}
        body.update(fields)
        return self.ok("PUT", "user", body)

    def login(self, name, mac, ip, password=None):
        """Registers the device as a hotspot host, then logs the user in from it: (status, reply)."""
        self.control("POST", "hosts", {"mac-address": mac, "address": ip})
        return self.rest("POST", "active/login", {"user": name, "password": password or "pw-" + name, "ip": ip,
                                                  "mac-address": mac})

    def sessions(self, name=None):
        return self.ok("GET", "active" + (f"?user={name}" if name else ""))


@pytest.fixture(scope="module")
def router():
    directory = tempfile.mkdtemp(prefix="hotspot-sandbox-router-")
    sandbox = Sandbox("router", directory, ["--profile", "1hora"])
    sandbox.start()
    try:
        yield Router(sandbox)
    finally:
        sandbox.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh(router):
    router.control("POST", "reset")


def assert_all_strings(row):
    """Every value in a reply is a string (docs/sources.md A2)."""
    assert all(isinstance(value, str) for value in row.values()), row


def test_counters_start_at_zero_and_advance_with_usage(router):
    created = router.add_user("COUNT1", **{"limit-uptime": "1d"})
    assert (created["uptime"], created["bytes-in"], created["bytes-out"]) == ("0s", "0", "0")
    reply = router.control("POST", "usage", {"user": "COUNT1", "uptime": "1h2m", "bytes-in": 1500, "bytes-out": "2500"})
    assert reply["session"] is None and reply["dropped"] == [] and reply["limit"] is None
    router.control("POST", "usage", {"user": "COUNT1", "uptime": 61})
    router.control("POST", "usage", {"user": created[".id"], "bytes-out": 1})  # by .id too
    user = router.user("COUNT1")
    assert_all_strings(user)
    assert (user["uptime"], user["bytes-in"], user["bytes-out"]) == ("1h3m1s", "1500", "2501")
    # The same through a print with .proplist, and through GET with .proplist.
    printed = router.ok("POST", "user/print", {".proplist": ["name", "uptime", "bytes-in", "bytes-out"],
                                               ".query": ["name=COUNT1"]})
    assert printed == [{"name": "COUNT1", "uptime": "1h3m1s", "bytes-in": "1500", "bytes-out": "2501"}]
    assert router.ok("GET", "user?name=COUNT1&.proplist=uptime,bytes-in") == [{"uptime": "1h3m1s", "bytes-in": "1500"}]

    # With a session, usage counts on the user and on the session.
    status, reply = router.login("COUNT1", "AA:BB:CC:00:00:01", "10.5.50.11")
    assert (status, reply) == (200, [])
    reply = router.control("POST", "usage", {"user": "COUNT1", "uptime": "5m", "bytes-in": 10})
    session = router.sessions("COUNT1")[0]
    assert reply["session"][".id"] == session[".id"] and reply["dropped"] == []
    assert (session["uptime"], session["bytes-in"], session["bytes-out"]) == ("5m", "10", "0")
    assert router.user("COUNT1")["uptime"] == "1h8m1s"

    # Malformed amounts and unknown users are refused, and change nothing.
    for payload in ({"user": "COUNT1", "uptime": "soon"}, {"user": "COUNT1", "bytes-in": -5},
                    {"user": "COUNT1", "bytes-out": "1e3"}, {"user": "COUNT1", "uptime": True}):
        assert router.control_error("POST", "usage", payload)[0] == 400, payload
    assert router.control_error("POST", "usage", {"user": "NOBODY", "uptime": 1})[0] == 404
    assert router.user("COUNT1")["uptime"] == "1h8m1s"


def test_login_past_the_uptime_limit_is_refused_in_routeros_words_and_the_user_stays(router):
    router.add_user("UP1", **{"limit-uptime": "1h"})
    router.control("POST", "usage", {"user": "UP1", "uptime": "59m59s"})
    status, reply = router.login("UP1", "AA:BB:CC:00:01:01", "10.5.50.21")
    assert (status, reply) == (200, []), "one second left is still a login"
    router.ok("DELETE", "active/" + router.sessions("UP1")[0][".id"])
    router.control("POST", "usage", {"user": "UP1", "uptime": 1})
    status, reply = router.login("UP1", "AA:BB:CC:00:01:01", "10.5.50.21")
    assert status == 400 and reply == {"error": 400, "message": "Bad Request", "detail": "user UP1 has reached uptime limit"}
    assert router.sessions("UP1") == []
    user = router.user("UP1")
    assert (user["uptime"], user["limit-uptime"]) == ("1h", "1h"), "RouterOS keeps a used-up user"
    # A wrong password is still just that: credentials are checked before limits.
    status, reply = router.login("UP1", "AA:BB:CC:00:01:01", "10.5.50.21", password="wrong")
    assert status == 400 and reply["detail"] == "invalid username or password"


def test_login_past_the_byte_limit_is_refused_in_routeros_words_and_the_user_stays(router):
    router.add_user("BYTES1", **{"limit-bytes-total": "1000"})
    router.control("POST", "usage", {"user": "BYTES1", "bytes-in": 600, "bytes-out": 399})
    assert router.login("BYTES1", "AA:BB:CC:00:02:01", "10.5.50.31") == (200, [])
    router.ok("POST", "active/remove", {".id": router.sessions("BYTES1")[0][".id"]})
    router.control("POST", "usage", {"user": "BYTES1", "bytes-out": 1})  # in + out = 1000
    status, reply = router.login("BYTES1", "AA:BB:CC:00:02:01", "10.5.50.31")
    assert status == 400 and reply["detail"] == "user BYTES1 has reached traffic limit"
    assert router.user("BYTES1")["bytes-out"] == "400"
    # limit-bytes-in counts the same way.
    router.add_user("BYTES2", **{"limit-bytes-in": "100"})
    router.control("POST", "usage", {"user": "BYTES2", "bytes-in": 100})
    status, reply = router.login("BYTES2", "AA:BB:CC:00:02:02", "10.5.50.32")
    assert status == 400 and reply["detail"] == "user BYTES2 has reached traffic limit"
    # 0 means no limit.
    router.add_user("BYTES3", **{"limit-bytes-total": "0", "limit-uptime": "0"})
    router.control("POST", "usage", {"user": "BYTES3", "bytes-in": 10**12, "uptime": "52w"})
    assert router.login("BYTES3", "AA:BB:CC:00:02:03", "10.5.50.33") == (200, [])


def test_a_session_is_dropped_when_usage_reaches_a_limit_and_the_user_is_kept(router):
    router.add_user("DROP1", **{"limit-uptime": "1h"})
    assert router.login("DROP1", "AA:BB:CC:00:03:01", "10.5.50.41") == (200, [])
    session_id = router.sessions("DROP1")[0][".id"]
    reply = router.control("POST", "usage", {"user": "DROP1", "uptime": "30m"})
    assert reply["dropped"] == [] and router.sessions("DROP1")[0]["uptime"] == "30m"
    reply = router.control("POST", "usage", {"user": "DROP1", "uptime": "30m"})
    assert reply["limit"] == "uptime" and reply["dropped"] == [session_id]
    assert reply["session"]["uptime"] == "1h", "the session's counters as they were when it ended"
    assert router.sessions("DROP1") == []
    assert router.user("DROP1")["uptime"] == "1h"
    host = next(h for h in router.control("GET", "state")["hosts"] if h["mac-address"] == "AA:BB:CC:00:03:01")
    assert host["authorized"] == "false"

    # By bytes, with two sessions (shared-users 2): both end.
    router.control("POST", "profiles", {"name": "shared2", "shared-users": "2"})
    router.add_user("DROP2", profile="shared2", **{"limit-bytes-total": "5000"})
    assert router.login("DROP2", "AA:BB:CC:00:03:02", "10.5.50.42") == (200, [])
    assert router.login("DROP2", "AA:BB:CC:00:03:03", "10.5.50.43") == (200, [])
    ids = sorted(s[".id"] for s in router.sessions("DROP2"))
    reply = router.control("POST", "usage", {"user": "DROP2", "bytes-in": 4000, "bytes-out": 1000})
    assert reply["limit"] == "traffic" and sorted(reply["dropped"]) == ids
    assert router.sessions("DROP2") == [] and router.user("DROP2")["bytes-in"] == "4000"


def test_active_sessions_are_listed_and_removed_by_delete_and_by_remove(router):
    for n in range(1, 4):
        router.add_user(f"ACT{n}")
        assert router.login(f"ACT{n}", f"AA:BB:CC:00:04:0{n}", f"10.5.50.5{n}") == (200, [])
    sessions = router.sessions()
    assert [s["user"] for s in sessions] == ["ACT1", "ACT2", "ACT3"]
    for session in sessions:
        assert_all_strings(session)
        assert {".id", "user", "address", "mac-address", "server", "uptime", "bytes-in", "bytes-out", "login-by"} <= set(session)
    assert (sessions[1]["address"], sessions[1]["mac-address"], sessions[1]["server"]) == ("10.5.50.52", "AA:BB:CC:00:04:02",
                                                                                            "hotspot1")
    printed = router.ok("POST", "active/print", {".proplist": ".id,user,uptime", ".query": ["user=ACT1", "user=ACT3", "#|"]})
    assert printed == [{".id": sessions[0][".id"], "user": "ACT1", "uptime": "0s"},
                       {".id": sessions[2][".id"], "user": "ACT3", "uptime": "0s"}]
    assert router.ok("GET", "active/" + sessions[1][".id"])["user"] == "ACT2"

    # DELETE: empty 2xx, then 404 (docs/sources.md A3).
    status, reply = router.rest("DELETE", "active/" + sessions[0][".id"])
    assert (status, reply) == (200, None)
    status, reply = router.rest("DELETE", "active/" + sessions[0][".id"])
    assert status == 404 and reply["message"] == "Not Found"
    # POST …/remove: [], then "no such item".
    assert router.ok("POST", "active/remove", {".id": sessions[1][".id"]}) == []
    status, reply = router.rest("POST", "active/remove", {".id": sessions[1][".id"]})
    assert status == 400 and reply["detail"] == "no such item"
    assert [s["user"] for s in router.sessions()] == ["ACT3"]
    # The users themselves stay.
    assert [u["name"] for u in router.ok("POST", "user/print", {".proplist": "name"})] == ["ACT1", "ACT2", "ACT3"]


def test_print_with_proplist_and_query(router):
    router.add_user("Q1", comment="hotspot-pay:a")
    router.add_user("Q2", comment="hotspot-pay:b", disabled="yes")
    router.add_user("Q3", comment="hand-made")
    router.add_user("Q4", **{"limit-uptime": "2h"})
    router.control("POST", "usage", {"user": "Q2", "uptime": "3h"})

    def names(query, proplist="name"):
        return [row["name"] for row in router.ok("POST", "user/print", {".proplist": proplist, ".query": query})]

    assert names([]) == ["Q1", "Q2", "Q3", "Q4"]
    assert names(["name=Q3"]) == ["Q3"]
    assert names(["comment=hotspot-pay:b"]) == ["Q2"]
    assert names(["comment=hotspot-pay"]) == [], "exact match only: RouterOS has no prefix query"
    assert names(["name=Q1", "name=Q4", "#|"]) == ["Q1", "Q4"]
    assert names(["name=Q1", "name=Q4", "#|!"]) == ["Q2", "Q3"]
    assert names(["comment"]) == ["Q1", "Q2", "Q3"]
    assert names(["-comment"]) == ["Q4"]
    assert names(["disabled=false", "comment"]) == ["Q1", "Q3"], "words without # are ANDed"
    assert names([">uptime=1h"]) == ["Q2"]
    assert names(["<uptime=1h"]) == ["Q1", "Q3", "Q4"]
    assert names(["name=Q1", "name=Q2", "name=Q3", "#||"]) == ["Q1", "Q2", "Q3"]
    # .proplist as a list, only the properties asked for, in every row; a name it lacks is left out.
    rows = router.ok("POST", "user/print", {".proplist": [".id", "name", "comment", "uptime"], ".query": ["name=Q4"]})
    assert rows == [{".id": rows[0][".id"], "name": "Q4", "uptime": "0s"}]
    # Without .proplist: whole rows, counters included.
    row = router.ok("POST", "user/print", {".query": ["name=Q2"]})[0]
    assert_all_strings(row)
    assert (row["uptime"], row["bytes-in"], row["bytes-out"], row["disabled"]) == ("3h", "0", "0", "true")
    # Unknown arguments and malformed queries are refused as RouterOS refuses them.
    status, reply = router.rest("POST", "user/print", {".proplist": "name", "filter": "x"})
    assert status == 400 and reply["detail"] == "unknown parameter filter"
    status, reply = router.rest("POST", "user/print", {".query": ["#|"]})
    assert status == 400
    # GET filters stay exact and ANDed.
    assert [r["name"] for r in router.ok("GET", "user?comment=hand-made&.proplist=name")] == ["Q3"]
    assert router.ok("GET", "user?comment=hand-made&name=Q1") == []


def test_twenty_thousand_users_are_made_at_once_and_listed_in_one_call(router):
    started = time.monotonic()
    reply = router.control("POST", "bulk-users", {"count": 20000, "prefix": "BULK",
                                                  "comment": "hotspot-pay:00000000-0000-4000-8000-{i:012d}",
                                                  "profile": "1hora", "limit-uptime": "1h", "uptime": "10m",
                                                  "bytes-in": 5, "password": "x"})
    made = time.monotonic() - started
    print(f"\nbulk-users: 20,000 users in {made:.3f} s")
    assert reply["created"] == 20000
    assert reply["first"]["name"] == "BULK1" and reply["last"]["name"] == "BULK20000"
    assert made < 10

    timings = []
    for _ in range(3):
        started = time.monotonic()
        rows = router.ok("POST", "user/print", {".proplist": SWEEP_PROPLIST})
        timings.append(time.monotonic() - started)
    print("print of 20,000 users with .proplist: " + ", ".join(f"{t:.3f} s" for t in timings))
    started = time.monotonic()
    everything = router.ok("GET", "user")
    print(f"GET of 20,000 whole users: {time.monotonic() - started:.3f} s")
    assert max(timings) < 10
    assert len(rows) == len(everything) == 20000
    assert rows[0] == {".id": reply["first"][".id"], "name": "BULK1", "comment": "hotspot-pay:00000000-0000-4000-8000-000000000001",
                       "disabled": "false", "uptime": "10m", "bytes-in": "5", "bytes-out": "0", "limit-uptime": "1h"}
    assert rows[-1]["name"] == "BULK20000" and rows[-1]["comment"].endswith("-000000020000")
    assert everything[1]["profile"] == "1hora" and everything[1]["password"] == "x"
    # The users are ordinary users: looked up by name, and refused at login when used up.
    assert router.ok("GET", "user?name=BULK777&.proplist=name,uptime") == [{"name": "BULK777", "uptime": "10m"}]
    router.control("POST", "usage", {"user": "BULK777", "uptime": "50m"})
    status, reply = router.login("BULK777", "AA:BB:CC:00:05:01", "10.5.50.61", password="x")
    assert status == 400 and reply["detail"] == "user BULK777 has reached uptime limit"

    # While listings run, a one-user call is not held behind them for long (the copy is under the lock,
    # the JSON is written after it).
    stop = threading.Event()

    def list_repeatedly():
        while not stop.is_set():
            router.ok("POST", "user/print", {".proplist": SWEEP_PROPLIST})

    lister = threading.Thread(target=list_repeatedly)
    lister.start()
    try:
        single = []
        for n in range(20):
            started = time.monotonic()
            router.ok("GET", f"user?name=BULK{n + 1}&.proplist=name")
            single.append(time.monotonic() - started)
    finally:
        stop.set()
        lister.join()
    single.sort()
    print(f"one-user GET during listings: median {single[len(single) // 2] * 1000:.0f} ms, max {single[-1] * 1000:.0f} ms")
    assert single[-1] < 10

    # A batch that would reuse a name is refused whole.
    status, body = router.control_error("POST", "bulk-users", {"count": 10, "prefix": "BULK", "start": 19995})
    assert status == 400 and "already have user" in body["detail"]
    status, body = router.control_error("POST", "bulk-users", {"count": 2, "prefix": "X", "profile": "nope"})
    assert status == 400 and body["detail"] == "input does not match any value of profile"
    assert len(router.control("GET", "state")["users"]) == 20000


def test_stats_count_rest_requests_by_method_and_path(router):
    router.control("POST", "stats/reset")
    created = router.add_user("STAT1")
    router.ok("GET", "user")
    router.ok("GET", "user?name=STAT1")
    router.ok("GET", "user/" + created[".id"])
    router.ok("GET", "user/STAT1")
    router.ok("POST", "user/print", {".proplist": "name"})
    router.ok("PATCH", "user/" + created[".id"], {"comment": "x"})
    router.rest("DELETE", "user/" + created[".id"])
    router.rest("DELETE", "user/" + created[".id"])
    router.rest("GET", "active")
    router.control("GET", "state")  # control calls are not counted
    assert router.control("GET", "stats") == {
        "DELETE /rest/ip/hotspot/user/{id}": 2,
        "GET /rest/ip/hotspot/active": 1,
        "GET /rest/ip/hotspot/user": 2,
        "GET /rest/ip/hotspot/user/{id}": 2,
        "PATCH /rest/ip/hotspot/user/{id}": 1,
        "POST /rest/ip/hotspot/user/print": 1,
        "PUT /rest/ip/hotspot/user": 1,
    }
    # A request a fault answers still reached the router, so it counts.
    router.control("POST", "faults", {"op": "user.print", "kind": "error", "status": 503, "times": 1})
    assert router.rest("GET", "user")[0] == 503
    assert router.control("GET", "stats")["GET /rest/ip/hotspot/user"] == 3
    assert router.control("POST", "stats/reset") == {"reset": True}
    assert router.control("GET", "stats") == {}
    router.ok("GET", "user")
    router.control("POST", "reset")  # the whole sandbox's reset clears them too
    assert router.control("GET", "stats") == {}


def test_reset_and_state_carry_the_new_data(router):
    router.add_user("ST1", **{"limit-uptime": "1h"})
    assert router.login("ST1", "AA:BB:CC:00:06:01", "10.5.50.71") == (200, [])
    router.control("POST", "usage", {"user": "ST1", "uptime": "10m", "bytes-out": 7})
    raw = router.control("POST", "users", {"name": "RAW1"})
    assert (raw["uptime"], raw["bytes-in"], raw["bytes-out"]) == ("0s", "0", "0")
    state = router.control("GET", "state")
    user = next(u for u in state["users"] if u["name"] == "ST1")
    assert (user["uptime"], user["bytes-out"]) == ("10m", "7")
    assert [(s["user"], s["uptime"], s["bytes-out"]) for s in state["active"]] == [("ST1", "10m", "7")]
    router.control("POST", "reset")
    state = router.control("GET", "state")
    assert state["users"] == [] and state["active"] == [] and state["hosts"] == []
