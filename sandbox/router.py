"""A stand-in for a MikroTik router's RouterOS 7 REST API, hotspot menus only.

Emulates /rest/ip/hotspot/user, user/profile, active, active/login and host closely enough that a
client passing against it should pass against a real router. Each behaviour cites its source in
docs/sources.md (A1..A8); [VERIFY] marks wording no public source could confirm.

Users carry RouterOS's read-only counters (`uptime` as interval text, `bytes-in`, `bytes-out`,
`packets-in`, `packets-out`), which only /_sandbox/usage advances: no clock runs here. A user whose
counters reach its `limit-uptime` or `limit-bytes-total` (or -in/-out) is refused at login and loses
its sessions, but stays in /ip/hotspot/user, as on RouterOS.

Control endpoints (besides common.py's state/calls/faults/latency/reset; reset also clears stats):
  POST   /_sandbox/profiles        {"name", "rate-limit"?, "session-timeout"?, "shared-users"?}
  DELETE /_sandbox/profiles/<name>
  POST   /_sandbox/hosts           {"mac-address", "address", "to-address"?, "server"?}
  DELETE /_sandbox/hosts/<mac-address>
  POST   /_sandbox/users           a user row stored as given (no validation; e.g. a raw ESC in a
                                   comment, to exercise reply sanitising); missing counters start at 0
  POST   /_sandbox/usage           {"user": name or .id, "uptime"?: seconds (int) or interval text ("1h",
                                   "90", "1:00:00"), "bytes-in"?: n, "bytes-out"?: n (int or decimal text)}
                                   adds to the user and to its first active session (all optional,
                                   additive, not capped at the limits); when the user has now reached a
                                   limit, every session of it is removed and the user kept. Answers
                                   {"user": row, "session": the credited session or null,
                                    "limit": "uptime" | "traffic" | null, "dropped": [session .id, ...]};
                                   404 for an unknown user, 400 for a malformed amount.
  POST   /_sandbox/bulk-users/remove {"prefix": text}: removes every user whose name starts with it
                                   (a test's clean-up); answers {"removed": n}
  POST   /_sandbox/bulk-users      {"count": n, "prefix"?: "BULK", "start"?: 1, "comment"?: text where
                                   "{i}" or "{i:<format spec>}" becomes the index, "uptime"?, "bytes-in"?,
                                   "bytes-out"? (as for usage), and any /ip/hotspot/user/add field
                                   ("profile", "password", "limit-uptime", "limit-bytes-total", "disabled",
                                   ...), validated as add does} creates users prefix+start ..
                                   prefix+(start+n-1) at once; a name already taken refuses the whole
                                   batch (400). Answers {"created": n, "first": {".id", "name"},
                                   "last": {".id", "name"}}.
  GET    /_sandbox/stats           REST requests received (faulted ones included) by method and path,
                                   an item's id or name shown as {id}: {"GET /rest/ip/hotspot/user": 3,
                                   "POST /rest/ip/hotspot/user/print": 1, "DELETE
                                   /rest/ip/hotspot/active/{id}": 2, ...}
  POST   /_sandbox/stats/reset     zeroes them

The router's own menus a check reads (CONTRACT §13; docs/sources.md A9), read-only over REST:
/rest/system/resource (version, board, uptime…), /rest/system/clock (date and time as RouterOS
prints them: YYYY-MM-DD from 7.10, mmm/DD/YYYY before), /rest/user and /rest/user/group (the API
user, its group and the group's policy text), /rest/ip/service (www-ssl's port, address,
certificate) and /rest/ip/hotspot (the hotspot servers). Every value is a string. The API user's
group's policies are enforced: without rest-api every request is 401, without read a print is
RouterOS's 500 "not allowed", without write a change is 403. Controls for them:
  POST   /_sandbox/system          {"version"?: "7.16.2" or "6.49.17 (long-term)", "board-name"?,
                                    "clock_offset_seconds"?: n (the router's clock minus ours),
                                    "time-zone-name"?, "gmt-offset"?: "-06:00"}; a 6.x version serves
                                   no REST: every /rest path answers WebFig's 404 page (text/html),
                                   credentials or not. Answers the system's state.
  POST   /_sandbox/policies        {"policy": "read,write,api,rest-api"} the API user's group's policies
  POST   /_sandbox/service         {"name": "www-ssl" | "www" | …, "disabled"?, "address"?, "certificate"?}:
                                   www-ssl disabled closes the REST port (connections are refused) until it
                                   is enabled again; send it to control_url, which stays open
  POST   /_sandbox/hotspot-servers {"servers": [{"name", "disabled"?}, …]} replaces the hotspot servers
reset restores all of these (REST on, 7.16.2, the four policies, the clock in step).
"""

import base64
import datetime
import ipaddress
import json
import operator
import os
import re
import sys
import time
from urllib.parse import unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import App, Reply, serve

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "routeros-inspect-7.22-hotspot.json")) as f:
    INSPECT = json.load(f)["ip"]["hotspot"]
with open(os.path.join(HERE, "routeros-properties-7.json")) as f:
    PROPERTIES = json.load(f)

# Menu path under /rest/ip/hotspot/ -> short name used in operation names ("user.add").
MENUS = {"user/profile": "profile", "user": "user", "active": "active", "host": "host"}
PREFIX = "/rest/ip/hotspot/"


def command_arguments(menu, command):
    """The argument names of a command in the inspect tree, or None when the command is absent."""
    node = INSPECT
    for part in menu.split("/"):
        node = node[part]
    node = node.get(command)
    if not isinstance(node, dict) or node.get("_type") != "cmd":
        return None
    return {name for name, child in node.items() if isinstance(child, dict) and child.get("_type") == "arg"}


def routeros_json(value):
    """JSON as RouterOS writes it: every value a string, and control characters inside strings left
    raw instead of escaped (docs/sources.md A2; terraform-provider-routeros #165)."""
    if isinstance(value, dict):
        return "{" + ",".join(routeros_json(k) + ":" + routeros_json(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(routeros_json(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def data(value, status=200):
    return Reply(status, routeros_json(value).encode("utf-8"))


def error(status, message, detail=None):
    """RouterOS's error body (docs/sources.md A3): {"error": <status>, "message": ..., "detail": ...}."""
    body = {"error": status, "message": message}
    if detail is not None:
        body["detail"] = detail
    return Reply(status, body)


def bad_request(detail):
    return error(400, "Bad Request", detail)


NOT_FOUND = (404, "Not Found")

# A user's read-only counters as a fresh user has them (docs/sources.md A4, A8).
USER_COUNTERS = {"uptime": "0s", "bytes-in": "0", "bytes-out": "0", "packets-in": "0", "packets-out": "0"}


class Trap(Exception):
    """A RouterOS trap: becomes a 400 with this detail."""

    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail


# --- value parsing, as RouterOS's argument parser does it ----------------------------------

MAC_RE = re.compile(r"^([0-9A-Fa-f]{2})[:.-]?([0-9A-Fa-f]{2})[:.-]?([0-9A-Fa-f]{2})[:.-]?"
                    r"([0-9A-Fa-f]{2})[:.-]?([0-9A-Fa-f]{2})[:.-]?([0-9A-Fa-f]{2})$")
DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
CLOCK_RE = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})$")


def parse_mac(text):
    """inspect: AB[:|-|.]CD...; stored in capitals with colons. Error text from docs/sources.md A6.1."""
    match = MAC_RE.match(text)
    if not match:
        raise Trap("invalid value of mac-address")
    return ":".join(group.upper() for group in match.groups())


def parse_ip(text, argument):
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise Trap(f"invalid value for argument {argument}") from None


def duration_seconds(text):
    """Seconds in a RouterOS interval (`90`, `1w2d3h4m5s`, `hh:mm:ss`), or None when it is not one."""
    if text.isdigit():
        return int(text)
    clock = CLOCK_RE.match(text)
    if clock:
        h, m, s = (int(x) for x in clock.groups())
        return h * 3600 + m * 60 + s
    compact = DURATION_RE.match(text) if text else None
    if compact:
        w, d, h, m, s = (int(x or 0) for x in compact.groups())
        return (((w * 7 + d) * 24 + h) * 60 + m) * 60 + s
    return None


def format_duration(seconds):
    """v7's compact form: 1w2d3h4m5s, `0s` for nothing (docs/sources.md A2)."""
    out = ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    if seconds or not out:
        out += f"{seconds}s"
    return out


def parse_duration(text, argument):
    """Seconds, 1w2d3h4m5s or hh:mm:ss; stored in v7's compact form (docs/sources.md A2). The error text is
    the observed one (docs/sources.md A4)."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise Trap(f"invalid time value for argument {argument}")
    return format_duration(seconds)


def parse_bool(text, argument):
    """yes/no and true/false are both accepted on input; replies say true/false (docs/sources.md A2)."""
    if text in ("yes", "true"):
        return "true"
    if text in ("no", "false"):
        return "false"
    raise Trap(f"invalid value for argument {argument}")  # [VERIFY] wording


def parse_integer(text, argument):
    if not text.isdigit():
        raise Trap(f"invalid value for argument {argument}")  # [VERIFY] wording
    return str(int(text))


# --- print's query words (docs/sources.md A8) -------------------------------------------------

def _ordered(a, b):
    """(a, b) as comparable values: integers, then intervals, else text [INF]."""
    if a.isdigit() and b.isdigit():
        return int(a), int(b)
    da, db = duration_seconds(a), duration_seconds(b)
    if da is not None and db is not None:
        return da, db
    return a, b


def _word_test(word):
    """One query word that pushes a value: `name=value`, `name`, `-name`, `<name=value`, `>name=value`."""
    if word[:1] in ("<", ">"):
        name, equals, value = word[1:].partition("=")
        if not name or not equals:
            raise Trap(f"invalid query word {word}")  # [VERIFY] wording
        compare = operator.lt if word[0] == "<" else operator.gt
        return lambda row: name in row and compare(*_ordered(row[name], value))
    if word[:1] == "-":
        name = word[1:]
        return lambda row: name not in row
    name, equals, value = word.partition("=")
    if not name:
        raise Trap(f"invalid query word {word}")  # [VERIFY] wording
    if equals:
        return lambda row: row.get(name) == value
    return lambda row: name in row


def _apply_operations(stack, operations):
    """`#…`: digits name a stack index (0 = top); an index then a character pushes a copy of that value, an
    index at the end keeps only that value; `!` negates the top, `&` and `|` combine the top two, `.` pushes a
    copy of the top (after an index it does nothing)."""
    index = ""
    for char in list(operations) + [None]:  # None: the end of the word
        if char is not None and char.isdigit():
            index += char
            continue
        if index:
            value = stack[-1 - int(index)]
            index = ""
            if char is None:
                stack[:] = [value]
                return
            stack.append(value)
            if char == ".":
                continue
        if char is None:
            return
        if char == "!":
            stack[-1] = not stack[-1]
        elif char in "&|":
            b, a = stack.pop(), stack.pop()
            stack.append((a and b) if char == "&" else (a or b))
        elif char == ".":
            stack.append(stack[-1])
        else:
            raise Trap(f"invalid query operation {char}")  # [VERIFY] wording


def compile_query(words):
    """A predicate for a print's `.query`: words run in order on a stack of booleans, and a row matches
    when every value left on the stack is true (an empty query matches all)."""
    steps = []
    for word in words:
        if not isinstance(word, str):
            raise Trap("invalid value for argument .query")  # [VERIFY] wording
        if word.startswith("#"):
            steps.append((None, word[1:]))
        else:
            steps.append((_word_test(word), None))
    if all(test is not None for test, _ in steps):
        tests = [test for test, _ in steps]
        return lambda row: all(test(row) for test in tests)

    def matches(row):
        stack = []
        try:
            for test, operations in steps:
                if test is not None:
                    stack.append(test(row))
                else:
                    _apply_operations(stack, operations)
        except IndexError:
            raise Trap("invalid query: not enough values on the stack") from None  # [VERIFY] wording
        return all(stack)

    return matches


def query_names(words):
    """The names a query pins with `name=…` when its words are simply ANDed (no `#`), for the name index."""
    if any(word.startswith("#") for word in words):
        return []
    return [word[len("name="):] for word in words if word.startswith("name=")]


class Table:
    """One menu's rows in insertion order, indexed by `.id` and by `name`, so a router holding
    thousands of users answers a lookup in constant time (the benchmark adds hundreds a second)."""

    def __init__(self):
        self.rows = {}  # .id -> row, insertion-ordered
        self.names = {}  # name -> {.id: row}

    def __iter__(self):
        return iter(list(self.rows.values()))

    def __len__(self):
        return len(self.rows)

    def append(self, row):
        self.rows[row[".id"]] = row
        self.names.setdefault(row.get("name"), {})[row[".id"]] = row

    def remove(self, row):
        del self.rows[row[".id"]]
        self._unname(row, row.get("name"))

    def by_id(self, item):
        return self.rows.get(item)

    def named(self, name):
        return list(self.names.get(name, {}).values())

    def renamed(self, row, old_name):
        """Call after a row's name changed from old_name."""
        if row.get("name") != old_name:
            self._unname(row, old_name)
            self.names.setdefault(row.get("name"), {})[row[".id"]] = row

    def _unname(self, row, name):
        same = self.names.get(name)
        if same is not None:
            same.pop(row[".id"], None)
            if not same:
                del self.names[name]


COMMENT_INDEX_RE = re.compile(r"\{i(?::([^}]*))?\}")


def usage_seconds(value):
    """Seconds of uptime given to a control: an integer, or interval text (`1h`, `90`, `1:00:00`)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid uptime {value!r}")
    seconds = value if isinstance(value, int) else duration_seconds(str(value))
    if seconds is None or seconds < 0:
        raise ValueError(f"invalid uptime {value!r}")
    return seconds


def usage_bytes(payload, name):
    """A byte count given to a control: a non-negative integer or decimal text."""
    value = payload.get(name, 0)
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise ValueError(f"invalid {name} {value!r}")
    if int(value) < 0:
        raise ValueError(f"invalid {name} {value!r}")
    return int(value)


# --- the router's own menus (CONTRACT §13; docs/sources.md A9) ---------------------------------

# RouterOS 7's policies in the order it prints a group's (docs/sources.md A9).
POLICIES = ["local", "telnet", "ssh", "ftp", "reboot", "read", "write", "policy", "test", "winbox", "password", "web",
            "sniff", "sensitive", "api", "romon", "rest-api"]
REQUIRED_POLICIES = ["read", "write", "api", "rest-api"]
DEFAULT_VERSION = "7.16.2"
API_GROUP = "hotspot-pay"
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
# Menus outside /ip/hotspot/ -> the short name of their print (faults, stats).
SYSTEM_MENUS = {"/rest/system/resource": "resource", "/rest/system/clock": "clock", "/rest/user": "router-user",
                "/rest/user/group": "group", "/rest/ip/service": "service", "/rest/ip/hotspot": "server"}
# What a RouterOS 6 router's web server (WebFig) answers for a path it does not have: there is no
# REST before 7.1 (docs/sources.md A1, A9). [VERIFY] the exact page.
V6_NOT_FOUND = (b"<html><head><title>Error 404: Not Found</title></head>"
                b"<body><h1>Error 404: Not Found</h1></body></html>")
NOT_ALLOWED = (500, "Internal Server Error", "std failure: not allowed (9)")  # docs/sources.md A9 [VERIFY]
NOT_ENOUGH_PERMISSIONS = (403, "Forbidden", "not enough permissions (9)")  # docs/sources.md A9 [VERIFY]


def version_numbers(text):
    """(major, minor, patch) of `7.16.2 (stable)` or `7.1beta4`."""
    numbers = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not numbers:
        raise ValueError(f"invalid version {text!r}")
    return tuple(int(n or 0) for n in numbers.groups())


def offset_seconds(text):
    """`+02:00` / `-06:00` as seconds."""
    match = re.fullmatch(r"([+-])(\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError(f"invalid gmt-offset {text!r}")
    sign = -1 if match.group(1) == "-" else 1
    return sign * (int(match.group(2)) * 3600 + int(match.group(3)) * 60)


def print_rows(rows, request, menu):
    """GET on a menu outside the hotspot's: filters in the query (exact, ANDed), `.proplist`, an item by
    `.id` or name (docs/sources.md A3)."""
    tail = request.path[len(menu):].lstrip("/")
    proplist, filters = None, []
    for name, value in request.query:
        if name == ".proplist":
            proplist = [p for p in value.split(",") if p]
        else:
            filters.append((name, value))

    def project(row):
        return {k: v for k, v in row.items() if proplist is None or k in proplist}

    if tail:
        row = next((r for r in rows if tail in (r.get(".id"), r.get("name"))), None)
        return data(project(row)) if row is not None else error(*NOT_FOUND)
    return data([project(r) for r in rows if all(r.get(n) == v for n, v in filters)])


class RouterApp(App):
    name = "router"
    separate_control = True  # the REST port may close (www-ssl off); controls answer on control_url

    def __init__(self):
        super().__init__()
        self.api_user = "api"
        self.api_password = "api-secret"
        self.seed_profiles = ["default"]
        self.servers = ["hotspot1"]
        self.login_by = "api"
        self.started = time.monotonic()
        self.listener = None
        self.reset()

    def add_arguments(self, parser):
        parser.add_argument("--user", default="api", help="REST user (basic auth)")
        parser.add_argument("--password", default="api-secret", help="REST password (basic auth)")
        parser.add_argument("--profile", action="append", default=[],
                            help="seed a user profile (repeatable); 'default' always exists")
        parser.add_argument("--server", action="append", default=[],
                            help="a hotspot server name (repeatable; default hotspot1)")

    def configure(self, args):
        self.api_user = args.user
        self.api_password = args.password
        self.seed_profiles = ["default"] + [p for p in args.profile if p != "default"]
        self.servers = args.server or ["hotspot1"]
        self.seed_servers = list(self.servers)
        with self.lock:
            self.reset()

    def reset(self):
        self.tables = {menu: Table() for menu in MENUS}
        self.counters = {menu: 0 for menu in MENUS}
        self.stats = {}
        self.servers = list(getattr(self, "seed_servers", self.servers))
        self.disabled_servers = set()
        self.version = DEFAULT_VERSION + " (stable)"
        self.board = "hAP ac^2"
        self.clock_offset = 0
        self.time_zone = "America/Mexico_City"
        self.gmt_offset = "-06:00"
        self.api_policies = list(REQUIRED_POLICIES)
        self.services = {
            name: {"name": name, "port": str(port), "address": "", "certificate": "none", "disabled": "false",
                   "invalid": "false", "max-sessions": "20", "tls-version": "any", "vrf": "main"}
            for name, port in (("telnet", 23), ("ftp", 21), ("www", 80), ("ssh", 22), ("www-ssl", 443), ("api", 8728),
                               ("winbox", 8291), ("api-ssl", 8729))}
        self.services["www"]["disabled"] = "true"
        self.services["www-ssl"]["certificate"] = "hotspot-pay-rest"
        self.services["www-ssl"]["address"] = "127.0.0.1/32"
        if self.listener is not None and not self.listener.is_open:
            self.listener.open()
        for name in self.seed_profiles:
            self._insert("user/profile", {"name": name, "shared-users": "1", "session-timeout": "0s",
                                          "idle-timeout": "none", "add-mac-cookie": "true",
                                          "mac-cookie-timeout": "3d", "default": str(name == "default").lower()})

    def state(self):
        return {"users": list(self.tables["user"]), "profiles": list(self.tables["user/profile"]),
                "hosts": list(self.tables["host"]), "active": list(self.tables["active"]), "servers": self.servers,
                "system": self._system_state()}

    def _system_state(self):
        return {"version": self.version, "board-name": self.board, "clock_offset_seconds": self.clock_offset,
                "time-zone-name": self.time_zone, "gmt-offset": self.gmt_offset, "policy": ",".join(self.api_policies),
                "rest": self.listener.is_open if self.listener is not None else True,
                "disabled_servers": sorted(self.disabled_servers)}

    # --- routing -------------------------------------------------------------------------

    def route(self, request):
        """(menu, command, item) for a REST request; command is a RouterOS verb (docs/sources.md A3)."""
        if not request.path.startswith(PREFIX):
            return None, None, None
        rest = request.path[len(PREFIX):]
        for menu in MENUS:  # "user/profile" before "user"
            if rest == menu or rest.startswith(menu + "/"):
                tail = rest[len(menu) + 1:]
                break
        else:
            return None, None, None
        method = request.method
        if method == "POST":
            return menu, tail or "", None
        if method == "GET":
            return menu, "print", tail or None
        if method == "PUT" and not tail:
            return menu, "add", None
        if method == "PATCH" and tail:
            return menu, "set", tail
        if method == "DELETE" and tail:
            return menu, "remove", tail
        return menu, None, tail

    def operation(self, request):
        menu = self._system_menu(request)
        if menu is not None:
            return SYSTEM_MENUS[menu] + "." + ("print" if request.method == "GET" else request.method.lower())
        menu, command, _ = self.route(request)
        if menu is None or not command:
            return "unknown"
        return MENUS[menu] + "." + command

    def received(self, request, op):
        """Counts the request for /_sandbox/stats under its method and path, an item's id or name as {id}."""
        menu, command, item = self.route(request)
        if menu is None:
            path = request.path
        else:
            path = PREFIX + menu + ("/" + command if request.method == "POST" and command else "")
            path += "/{id}" if item is not None else ""
        key = request.method + " " + path
        self.stats[key] = self.stats.get(key, 0) + 1

    # --- REST ----------------------------------------------------------------------------

    def handle(self, request):
        if version_numbers(self.version) < (7, 1):
            # RouterOS 6 has no REST: its web server answers WebFig's 404, before any login.
            return Reply(404, V6_NOT_FOUND, content_type="text/html")
        if not self._authorized(request) or "rest-api" not in self.api_policies:
            # A group without rest-api cannot log in over REST (docs/sources.md A9).
            # [VERIFY] body; docs/sources.md A3 only says 401 for bad credentials.
            return Reply(401, {"error": 401, "message": "Unauthorized"},
                         headers={"WWW-Authenticate": 'Basic realm="RouterOS"'})
        system_menu = self._system_menu(request)
        if system_menu is not None:
            if request.method != "GET":
                return bad_request("sandbox: this menu is read-only over REST; use /_sandbox/")
            if "read" not in self.api_policies:
                return error(*NOT_ALLOWED)
            with self.lock:
                return print_rows(self._system_rows(system_menu), request, system_menu)
        menu, command, item = self.route(request)
        if command == "print" and "read" not in self.api_policies:
            return error(*NOT_ALLOWED)
        if command not in (None, "print") and "write" not in self.api_policies:
            return error(*NOT_ENOUGH_PERMISSIONS)
        if menu is None:
            return bad_request("no such command prefix")  # [VERIFY]
        if command is None or command_arguments(menu, command) is None:
            # docs/sources.md A3: "no such command or directory (remove)" for a verb a menu lacks.
            verb = {"PUT": "add", "PATCH": "set", "DELETE": "remove"}.get(request.method, command or "")
            return error(406, "Not Acceptable", f"no such command or directory ({verb})")
        if command == "print":
            # The rows are copied under the lock and written out after it, so a listing of thousands
            # of users does not hold up the requests behind it for longer than the copy.
            try:
                with self.lock:
                    rows = self._print(menu, item, request)
            except Trap as trap:
                return bad_request(trap.detail)
            return rows if isinstance(rows, Reply) else data(rows)
        with self.lock:
            try:
                body = self._arguments(menu, command, request)
                if command == "add":
                    return self._add(menu, body)
                if command == "set":
                    return self._set(menu, item, body)
                if command == "remove":
                    return self._remove(menu, item, body)
                if command == "login":
                    return self._login(body)
            except Trap as trap:
                return bad_request(trap.detail)
        return error(406, "Not Acceptable", f"no such command or directory ({command})")

    @staticmethod
    def _system_menu(request):
        """The menu outside /ip/hotspot/ a request reads (or an item of it), or None."""
        for menu in sorted(SYSTEM_MENUS, key=len, reverse=True):
            if request.path == menu or (request.path.startswith(menu + "/") and "/" not in request.path[len(menu) + 1:]
                                        and menu != "/rest/ip/hotspot" and menu != "/rest/user"):
                return menu
        return None

    def _system_rows(self, menu):
        """The rows of a menu outside the hotspot's, every value a string (docs/sources.md A2, A9)."""
        if menu == "/rest/system/resource":
            version = self.version if " " in self.version else self.version + " (stable)"
            return [{"uptime": format_duration(int(time.monotonic() - self.started)), "version": version,
                     "build-time": "2024-10-10 14:03:32", "factory-software": "6.45.9", "free-memory": "197386240",
                     "total-memory": "268435456", "cpu": "ARMv7", "cpu-count": "4", "cpu-frequency": "716",
                     "cpu-load": "1", "free-hdd-space": "1409024", "total-hdd-space": "16777216",
                     "architecture-name": "arm", "board-name": self.board, "platform": "MikroTik"}]
        if menu == "/rest/system/clock":
            now = time.time() + self.clock_offset
            local = datetime.datetime.fromtimestamp(now + offset_seconds(self.gmt_offset), datetime.timezone.utc)
            # The date's form changed in 7.10 (docs/sources.md A2, A9).
            date = (local.strftime("%Y-%m-%d") if version_numbers(self.version) >= (7, 10)
                    else f"{MONTHS[local.month - 1]}/{local.day:02d}/{local.year}")
            return [{"time": local.strftime("%H:%M:%S"), "date": date, "time-zone-autodetect": "false",
                     "time-zone-name": self.time_zone, "gmt-offset": self.gmt_offset, "dst-active": "false"}]
        if menu == "/rest/user":
            return [{".id": "*1", "name": "admin", "group": "full", "address": "", "disabled": "false",
                     "expired": "false", "last-logged-in": "2026-01-01 00:00:00"},
                    {".id": "*2", "name": self.api_user, "group": API_GROUP, "address": "", "disabled": "false",
                     "expired": "false", "comment": "hotspot-pay"}]
        if menu == "/rest/user/group":
            return [{".id": "*1", "name": "read", "policy": self._policy_text(
                        ["local", "telnet", "ssh", "reboot", "read", "test", "winbox", "password", "web", "sniff",
                         "sensitive", "api", "romon", "rest-api"]), "skin": "default"},
                    {".id": "*2", "name": "write", "policy": self._policy_text(
                        ["local", "telnet", "ssh", "reboot", "read", "write", "test", "winbox", "password", "web",
                         "sniff", "sensitive", "api", "romon", "rest-api"]), "skin": "default"},
                    {".id": "*3", "name": "full", "policy": self._policy_text(POLICIES), "skin": "default"},
                    {".id": "*4", "name": API_GROUP, "policy": self._policy_text(self.api_policies),
                     "skin": "default", "comment": "hotspot-pay"}]
        if menu == "/rest/ip/service":
            rows = []
            for index, service in enumerate(self.services.values(), 1):
                row = dict(service)
                if row["name"] == "www-ssl" and getattr(self, "rest_port", None):
                    row["port"] = str(self.rest_port)  # the port it really serves on here
                rows.append({".id": f"*{index:X}", **row})
            return rows
        if menu == "/rest/ip/hotspot":
            return [{".id": f"*{index:X}", "name": name, "interface": "bridge", "address-pool": "hs-pool-1",
                     "profile": "hsprof1", "idle-timeout": "5m", "keepalive-timeout": "none", "login-timeout": "none",
                     "addresses-per-mac": "2", "disabled": str(name in self.disabled_servers).lower(),
                     "invalid": "false", "HTTPS": "false"}
                    for index, name in enumerate(self.servers, 1)]
        return []

    @staticmethod
    def _policy_text(granted):
        """A group's policy as RouterOS prints it: what it grants, then `!` and each it does not
        (docs/sources.md A9)."""
        known = [p for p in POLICIES if p in granted] + [p for p in granted if p not in POLICIES]
        return ",".join(known + ["!" + p for p in POLICIES if p not in granted])

    def _control_system(self, payload):
        if "version" in payload:
            version_numbers(str(payload["version"]))
            self.version = str(payload["version"])
        if "board-name" in payload:
            self.board = str(payload["board-name"])
        if "clock_offset_seconds" in payload:
            self.clock_offset = int(payload["clock_offset_seconds"])
        if "time-zone-name" in payload:
            self.time_zone = str(payload["time-zone-name"])
        if "gmt-offset" in payload:
            offset_seconds(str(payload["gmt-offset"]))
            self.gmt_offset = str(payload["gmt-offset"])
        return Reply(200, self._system_state())

    def _control_service(self, request, payload):
        service = self.services.get(payload["name"])
        if service is None:
            return Reply(404, {"error": "no such service", "detail": payload["name"]})
        for field in ("address", "certificate", "port"):
            if field in payload:
                service[field] = str(payload[field])
        if "disabled" in payload:
            disabled = bool(payload["disabled"])
            service["disabled"] = str(disabled).lower()
            if service["name"] == "www-ssl" and self.listener is not None:
                if disabled:
                    if request.server is not self.control_server:
                        return Reply(409, {"error": "send this to control_url: the REST port is closing"})
                    self.listener.close()
                else:
                    self.listener.open()
        return Reply(200, dict(service))

    def _authorized(self, request):
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        return user == self.api_user and password == self.api_password

    def _arguments(self, menu, command, request):
        """The JSON body as strings; any name not in the inspect tree is `unknown parameter`
        (docs/sources.md A6.1, A7). Numbers are accepted and kept as decimal text (docs/sources.md A2)."""
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else {}
        except (ValueError, UnicodeDecodeError):
            raise Trap("JSON parse error") from None  # [VERIFY] wording
        if not isinstance(body, dict):
            raise Trap("JSON object expected")  # [VERIFY] wording
        allowed = command_arguments(menu, command) | {".id"}
        values = {}
        for name, value in body.items():
            if name not in allowed:
                raise Trap(f"unknown parameter {name}")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise Trap(f"invalid value for argument {name}")  # [VERIFY] send strings (docs/sources.md A2)
            values[name] = str(value)
        return values

    def _find(self, menu, item):
        """Look up by .id, or by name in named menus (docs/sources.md A3, reading one object)."""
        table = self.tables[menu]
        row = table.by_id(item)
        if row is None and menu in ("user", "user/profile"):
            row = next(iter(table.named(item)), None)
        return row

    def _print(self, menu, item, request):
        """GET: filters in the query string (exact, ANDed) and `.proplist` (docs/sources.md A3); POST …/print:
        a JSON body with `.proplist` (a list, or names separated by commas) and `.query`, API query words
        (docs/sources.md A8). Returns a list (or one row), or a Reply for a missing item."""
        if request.method == "POST":
            proplist, words = self._print_arguments(menu, request)
            test = compile_query(words)
            named = query_names(words)
        else:
            proplist = None
            filters = []
            for name, value in request.query:
                if name == ".proplist":
                    proplist = [p for p in value.split(",") if p]
                else:
                    filters.append((name, value))
            if item is not None:
                row = self._find(menu, item)
                if row is None:
                    return error(*NOT_FOUND)
                return self._project(row, proplist)
            # A property the row lacks never matches [INF].
            test = (lambda row: all(row.get(n) == v for n, v in filters)) if filters else None
            named = [v for n, v in filters if n == "name"]
        candidates = self.tables[menu].named(named[0]) if named else self.tables[menu].rows.values()
        rows = candidates if test is None else [row for row in candidates if test(row)]
        return [self._project(row, proplist) for row in rows]

    def _print_arguments(self, menu, request):
        """(proplist or None, query words) from a POST …/print body; other print arguments are accepted and
        ignored, unknown ones refused as for any command (docs/sources.md A6.1, A7)."""
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else {}
        except (ValueError, UnicodeDecodeError):
            raise Trap("JSON parse error") from None  # [VERIFY] wording
        if not isinstance(body, dict):
            raise Trap("JSON object expected")  # [VERIFY] wording
        allowed = command_arguments(menu, "print") | {".proplist", ".query"}
        for name in body:
            if name not in allowed:
                raise Trap(f"unknown parameter {name}")
        proplist = body.get(".proplist")
        if isinstance(proplist, str):
            proplist = [p for p in proplist.split(",") if p]
        elif proplist is not None and not (isinstance(proplist, list) and all(isinstance(p, str) for p in proplist)):
            raise Trap("invalid value for argument .proplist")  # [VERIFY] wording
        words = body.get(".query", [])
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list):
            raise Trap("invalid value for argument .query")  # [VERIFY] wording
        return proplist, words

    @staticmethod
    def _project(row, proplist):
        if proplist is None:
            return dict(row)
        return {name: row[name] for name in proplist if name in row}

    def _insert(self, menu, row):
        self.counters[menu] += 1
        stored = {".id": f"*{self.counters[menu]:X}"}
        stored.update(row)
        self.tables[menu].append(stored)
        return stored

    def _resolve_profile(self, text):
        """RouterOS resolves profile= by unique prefix (docs/sources.md A4): exact name wins; one prefix match
        silently becomes the full name; several are ambiguous; none does not match."""
        names = [row["name"] for row in self.tables["user/profile"]]
        if text in names:
            return text
        matches = [name for name in names if name.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Trap("ambiguous value of profile, more than one possible value matches input")
        raise Trap("input does not match any value of profile")

    def _resolve_server(self, text):
        if text == "all" or text in self.servers:
            return text
        raise Trap("input does not match any value of server")  # [INF] by analogy with profile

    def _user_values(self, body):
        values = {}
        for name, text in body.items():
            if name == ".id":
                continue
            if name == "profile":
                values[name] = self._resolve_profile(text)
            elif name == "server":
                values[name] = self._resolve_server(text)
            elif name == "disabled":
                values[name] = parse_bool(text, name)
            elif name == "mac-address":
                values[name] = parse_mac(text)
            elif name == "address":
                values[name] = parse_ip(text, name)
            elif name == "limit-uptime":
                values[name] = parse_duration(text, name)
            elif name.startswith("limit-bytes-"):
                values[name] = parse_integer(text, name)
            else:
                values[name] = text
        return values

    def _check_unique(self, name, server, except_id=None):
        """Names are unique per server; `all` overlaps every server [INF] (docs/sources.md A4)."""
        for row in self.tables["user"].named(name):
            if row[".id"] == except_id:
                continue
            if row["server"] == server or "all" in (row["server"], server):
                raise Trap("failure: already have user with this name for this server")

    def _add(self, menu, body):
        if menu != "user":
            return bad_request("sandbox: only /ip/hotspot/user is writable over REST; use /_sandbox/")
        values = self._user_values(body)
        if not values.get("name"):
            raise Trap("missing value(s) of argument(s) name")  # [VERIFY] wording
        row = {"name": values["name"], "server": "all", "profile": "default", "disabled": "false"}
        row.update(values)
        self._check_unique(row["name"], row["server"])
        row.update(USER_COUNTERS)
        row["dynamic"] = "false"
        # PUT answers with the created object, .id included (docs/sources.md A3).
        return data(self._insert("user", row))

    def _set(self, menu, item, body):
        if menu != "user":
            return bad_request("sandbox: only /ip/hotspot/user is writable over REST; use /_sandbox/")
        row = self._find(menu, item)
        if row is None:
            return error(*NOT_FOUND)  # docs/sources.md A3: PATCH of a missing id is 400/404
        values = self._user_values(body)
        self._check_unique(values.get("name", row["name"]), values.get("server", row["server"]), row[".id"])
        old_name = row["name"]
        row.update(values)
        self.tables[menu].renamed(row, old_name)
        return data(row)  # the updated object (docs/sources.md A3)

    def _remove(self, menu, item, body):
        if item is None:
            # POST …/remove {".id": …} or {"numbers": …}: [] or "no such item" (docs/sources.md A3, A4).
            item = body.get(".id") or body.get("numbers")
            row = self._find(menu, item) if item else None
            if row is None:
                raise Trap("no such item")
            self._delete(menu, row)
            return data([])
        row = self._find(menu, item)
        if row is None:
            return error(*NOT_FOUND)  # second DELETE -> 404 (docs/sources.md A3)
        self._delete(menu, row)
        return Reply(200, b"")  # empty body (docs/sources.md A3)

    def _delete(self, menu, row):
        # Removing a user leaves its active sessions, as disabling it does: whether RouterOS ends
        # them is unverified, so the product must not rely on it (docs/sources.md A6.1).
        self.tables[menu].remove(row)
        if menu == "active":
            for host in self.tables["host"]:
                if host["mac-address"] == row["mac-address"]:
                    host["authorized"] = "false"

    def _login(self, body):
        """/ip/hotspot/active/login: user, password, ip, mac-address, domain (docs/sources.md A6.1)."""
        ip = parse_ip(body.get("ip", ""), "ip")
        mac = parse_mac(body["mac-address"]) if "mac-address" in body else None
        host = next((h for h in self.tables["host"] if ip in (h.get("address"), h.get("to-address"))), None)
        if host is None:
            raise Trap(f"unknown host IP {ip}")  # docs/sources.md A6.1
        if mac is not None and mac != host["mac-address"]:
            raise Trap("wrong MAC provided")  # docs/sources.md A6.1 (exact wording [VERIFY])
        name = body.get("user", "")
        user = next((u for u in self.tables["user"].named(name) if u["server"] in ("all", host["server"])), None)
        if user is None or user.get("password", "") != body.get("password", ""):
            raise Trap("invalid username or password")  # docs/sources.md A6.1
        if user["disabled"] == "true":
            raise Trap("user is disabled")  # [VERIFY] wording
        bound = user.get("mac-address")
        if bound and bound != "00:00:00:00:00:00" and bound != host["mac-address"]:
            # A user with mac-address may log in only from that MAC (docs/sources.md A4), in the hotspot's
            # words (docs/sources.md A8).
            raise Trap(f"user {name} is not allowed to log in from this MAC address")
        # A used-up user stays on the router and is refused, in the hotspot's words (docs/sources.md A8).
        reached = self._limit_reached(user)
        if reached is not None:
            raise Trap(f"user {name} has reached {reached} limit")
        if any(a["address"] == ip for a in self.tables["active"]):
            raise Trap(f"IP {ip} is already logged in")  # [VERIFY] wording
        profile = next((p for p in self.tables["user/profile"] if p["name"] == user["profile"]), {})
        shared = int(profile.get("shared-users", "1") or 1)
        if sum(1 for a in self.tables["active"] if a["user"] == name) >= shared:
            # shared-users (docs/sources.md A5); the hotspot's words (docs/sources.md A8)
            raise Trap(f"no more sessions are allowed for user {name}")
        self._insert("active", {"server": host["server"], "user": name, "domain": body.get("domain", ""),
                                "address": ip, "mac-address": host["mac-address"],
                                "login-by": self.login_by,  # [VERIFY] what active/login records
                                "uptime": "0s", "idle-time": "0s", "bytes-in": "0", "bytes-out": "0",
                                "packets-in": "0", "packets-out": "0"})
        host["authorized"] = "true"
        return data([])  # a command without data answers [] (docs/sources.md A3)

    @staticmethod
    def _limit_reached(user):
        """"uptime" or "traffic" when the user's counters reached one of its limits (0: none), else None
        (docs/sources.md A4, A8). limit-bytes-in/-out count like limit-bytes-total [INF]."""
        limit = duration_seconds(user.get("limit-uptime") or "0") or 0
        if limit and (duration_seconds(user.get("uptime") or "0") or 0) >= limit:
            return "uptime"
        used_in, used_out = int(user.get("bytes-in") or 0), int(user.get("bytes-out") or 0)
        for name, used in (("limit-bytes-total", used_in + used_out), ("limit-bytes-in", used_in),
                           ("limit-bytes-out", used_out)):
            limit = int(user.get(name) or 0)
            if limit and used >= limit:
                return "traffic"
        return None

    # --- control -------------------------------------------------------------------------

    def control(self, request):
        what = request.path[len("/_sandbox/"):]
        payload = request.json() if request.body else {}
        with self.lock:
            try:
                if what == "profiles" and request.method == "POST":
                    row = {"name": payload["name"], "shared-users": "1", "session-timeout": "0s",
                           "default": "false"}
                    row.update({k: str(v) for k, v in payload.items()})
                    return Reply(200, self._insert("user/profile", row))
                if what.startswith("profiles/") and request.method == "DELETE":
                    return self._control_delete("user/profile", "name", unquote(what[len("profiles/"):]))
                if what == "hosts" and request.method == "POST":
                    row = {"mac-address": parse_mac(payload["mac-address"]),
                           "address": parse_ip(payload["address"], "address"),
                           "server": payload.get("server", self.servers[0]),
                           "authorized": "false", "bypassed": "false"}
                    if payload.get("to-address"):
                        row["to-address"] = parse_ip(payload["to-address"], "to-address")
                    return Reply(200, self._insert("host", row))
                if what.startswith("hosts/") and request.method == "DELETE":
                    return self._control_delete("host", "mac-address", parse_mac(unquote(what[len("hosts/"):])))
                if what == "users" and request.method == "POST":
                    row = {"server": "all", "profile": "default", "disabled": "false"}
                    row.update({k: str(v) for k, v in payload.items()})
                    for name, value in USER_COUNTERS.items():
                        row.setdefault(name, value)
                    return Reply(200, self._insert("user", row))
                if what == "usage" and request.method == "POST":
                    return self._control_usage(payload)
                if what == "bulk-users" and request.method == "POST":
                    return self._control_bulk_users(payload)
                if what == "bulk-users/remove" and request.method == "POST":
                    prefix = str(payload["prefix"])
                    gone = [row for row in self.tables["user"] if str(row.get("name", "")).startswith(prefix)]
                    for row in gone:
                        self.tables["user"].remove(row)
                    return Reply(200, {"removed": len(gone)})
                if what == "stats" and request.method == "GET":
                    return Reply(200, dict(sorted(self.stats.items())))
                if what == "stats/reset" and request.method == "POST":
                    self.stats = {}
                    return Reply(200, {"reset": True})
                if what == "system" and request.method == "POST":
                    return self._control_system(payload)
                if what == "policies" and request.method == "POST":
                    self.api_policies = [p for p in str(payload["policy"]).split(",") if p and not p.startswith("!")]
                    return Reply(200, {"policy": self._policy_text(self.api_policies)})
                if what == "service" and request.method == "POST":
                    return self._control_service(request, payload)
                if what == "hotspot-servers" and request.method == "POST":
                    servers = payload["servers"]
                    self.servers = [str(server["name"]) for server in servers]
                    self.disabled_servers = {str(server["name"]) for server in servers if server.get("disabled")}
                    return Reply(200, {"servers": self.servers, "disabled": sorted(self.disabled_servers)})
            except (KeyError, ValueError, Trap) as problem:
                detail = problem.detail if isinstance(problem, Trap) else str(problem)
                return Reply(400, {"error": "bad control request", "detail": detail})
        return None

    def _control_usage(self, payload):
        """Adds usage to a user and to its first active session; a user that reaches a limit loses its
        sessions and stays (docs/sources.md A8)."""
        user = self._find("user", str(payload["user"]))
        if user is None:
            return Reply(404, {"error": "no such user", "detail": str(payload["user"])})
        seconds = usage_seconds(payload.get("uptime", 0))
        more_in, more_out = usage_bytes(payload, "bytes-in"), usage_bytes(payload, "bytes-out")
        sessions = [a for a in self.tables["active"] if a["user"] == user["name"]]
        for row in [user] + sessions[:1]:
            row["uptime"] = format_duration((duration_seconds(row.get("uptime") or "0") or 0) + seconds)
            row["bytes-in"] = str(int(row.get("bytes-in") or 0) + more_in)
            row["bytes-out"] = str(int(row.get("bytes-out") or 0) + more_out)
        session = dict(sessions[0]) if sessions else None
        dropped = []
        reached = self._limit_reached(user)
        if reached is not None:
            for row in sessions:
                self._delete("active", row)
                dropped.append(row[".id"])
        return Reply(200, {"user": dict(user), "session": session, "limit": reached, "dropped": dropped})

    def _control_bulk_users(self, payload):
        """N users at once, named prefix + index (from `start`, default 1); `{i}` or `{i:<format>}` in the
        comment becomes the index. Other fields as for add (validated the same way) plus the counters."""
        count = int(payload["count"])
        start = int(payload.get("start", 1))
        prefix = str(payload.get("prefix", "BULK"))
        comment = payload.get("comment")
        if count < 0 or count > 1_000_000:
            raise ValueError("count must be between 0 and 1000000")
        counters = {"uptime": format_duration(usage_seconds(payload.get("uptime", 0))),
                    "bytes-in": str(usage_bytes(payload, "bytes-in")), "bytes-out": str(usage_bytes(payload, "bytes-out"))}
        special = {"count", "start", "prefix", "comment", "uptime", "bytes-in", "bytes-out"}
        allowed = command_arguments("user", "add") - {"name", "comment", "copy-from"}
        fields = {}
        for name, value in payload.items():
            if name in special:
                continue
            if name not in allowed:
                raise Trap(f"unknown parameter {name}")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise Trap(f"invalid value for argument {name}")
            fields[name] = str(value)
        values = self._user_values(fields)
        server = values.get("server", "all")
        names = [f"{prefix}{i}" for i in range(start, start + count)]
        for name in names:
            self._check_unique(name, server)
        base = {"server": "all", "profile": "default", "disabled": "false"}
        base.update(values)
        first = last = None
        for i, name in zip(range(start, start + count), names):
            row = {"name": name}
            row.update(base)
            if comment is not None:
                row["comment"] = COMMENT_INDEX_RE.sub(lambda m, i=i: format(i, m.group(1) or ""), str(comment))
            row.update(counters)
            row["packets-in"] = row["packets-out"] = "0"
            row["dynamic"] = "false"
            last = self._insert("user", row)
            first = first or last
        ends = {"first": {".id": first[".id"], "name": first["name"]} if first else None,
                "last": {".id": last[".id"], "name": last["name"]} if last else None}
        return Reply(200, dict(created=count, **ends))

    def _control_delete(self, menu, key, value):
        rows = [row for row in self.tables[menu] if row.get(key) == value]
        for row in rows:
            self.tables[menu].remove(row)
        return Reply(200 if rows else 404, {"removed": len(rows)})


if __name__ == "__main__":
    serve(RouterApp())
