"""Issue 14: every command the README shows an operator runs here, in exactly the README's form.

The README's fenced blocks are read at test time, not copied: each ```sh block that runs
`hotspotctl` (the "Operating it" block, the steps after `make demo`) and each transcript (a
block of `$ …` lines followed by their output, such as the report and `payments show`). Their
lines go through bash unchanged except for the few placeholders in PLACEHOLDERS, which stand
for what only a real installation has (its env file, its router's address and pinned key, a key
id, an attempt id). A README command with no placeholder simply runs. Each must exit 0 and print
what the README says it prints: the shapes in SHAPES, and a transcript's shown output line for
line once ids and times are masked.

The commands provision a stack of their own, started empty: a fresh installation, on which the
README's literal ids (company 1, router 1, product 1) mean what they say and `reconcile --once`
sees no attempt of another suite."""

import base64
import datetime
import json
import os
import re
import shlex
import subprocess
import time
import uuid

import pytest

from hotspot_stack import ROOT, SANDBOX_PRIVATE_KEY, SANDBOX_PUBLIC_KEY, Stack

README = os.path.join(ROOT, "README.md")
# The sandbox router takes the README's API user, with this password (ROUTER_PASSWORD below).
ROUTER_USER = "hotspot-pay"
ROUTER_PASSWORD = "readme-router-secret"
# The README's credentials alphabet for user names (no 0/O, 1/I/L).
USER_NAME = r"[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# What a README line says that only a real installation has -> what stands for it here. Keys are
# exact README text; values are computed from the stack (see Walk.value). Keep this short: a
# command without any of these runs as written.
PLACEHOLDERS = {
    # The service user exists only on a deployed machine, and the test stack's files belong to
    # the user running the tests: hotspotctl runs as that user, the rest of the line unchanged.
    "runuser -u hotspot-pay -- hotspotctl": "hotspotctl binary",
    ".build/debug/hotspotctl": "hotspotctl binary",
    "/etc/hotspot-pay/hotspot-pay.env": "env file",
    "key_pub…": "Conekta public key",
    "https://10.0.0.1": "router URL",
    "sha256//…": "router pin",
    "key_…": "a key id to revoke",
    "<attempt id>": "a delivered attempt",
    "<hotspot user>": "its hotspot user",
    "9a1c…": "its request id",
    "/var/log/nginx/hotspot-pay.access.log": "nginx access log",
    "2026-11-25": "today (UTC)",
    ".run/demo/stack.json": "stack.json",
    "/etc/wireguard/hub.pub": "the WireGuard hub's public key file",
}
# Environment variables the README's lines read, as an operator's shell would hold them.
ENVIRONMENT = {"CONEKTA_PRIVATE_KEY": SANDBOX_PRIVATE_KEY, "ROUTER_PASSWORD": ROUTER_PASSWORD}

# hotspotctl subcommand -> what its text output must look like (a regex over the whole output).
SHAPES = {
    "migrate": r"schema is up to date \(version \d+\)|applied [\d, ]+; schema version \d+",
    "company add": r"company \d+ added",
    "company set-conekta": r"company \d+: Conekta keys set",
    "router add": r"router \d+ added",
    "product add": r"product \d+ added",
    "product set": r"product \d+ updated\n[^\n]+",
    "users list": r"user +attempt [^\n]*\n(?:[^\n]+\n)*\d+ user\(s\)[^\n]*|no hotspot-pay users [^\n]*",
    "users end": rf"user {USER_NAME} ended on router \d+: attempt {UUID}, \d+ session\(s\) ended, reason operator",
    "key issue": r"jwt_[\w-]+\.[\w-]+\.[\w-]+\n\(key id key_\w+;[^\n]*\)",
    "key revoke": r"key key_\w+ revoked",
    "payments list": rf"(?:{UUID}\t[^\n]*(?:\n|$))*",
    "payments show": rf"attempt  {UUID}\nstate +\w[\s\S]*\n\ntimeline\n(?:  [^\n]+\n)+\nwebhook events\n(?:  [^\n]+(?:\n|$))+",
    "company webhook": r"company \d+: webhook URL https?://\S+/api/v1/webhooks/conekta/whe_[0-9a-f]{32}\n"
                       r"(?:webhook key \S+ \((?:created|kept)\)\nwebhook \S+ \((?:registered|already registered)\)"
                       r"|public key stored[^\n]*)",
    "events list": r"(?:[^\n\t]+(?:\t[^\n\t]+){6}(?:\n|$))*",
    "reconcile": r"nothing to reconcile[^\n]*|attempt \S+ is already \w+; nothing to reconcile"
                 r"|(?:finished  [^\n]*\n)*finished \d+, still unfinished 0",
    "report": r"no payment attempts from [^\n]*|(?:day|router_id|product_id)[ ,][\s\S]*",
}


def _json(out):
    return json.loads(out)


# Other commands the README shows, by what the line contains -> a check of their output.
OTHER_SHAPES = [
    ("/api/v1/catalogo_perfiles_venta", lambda out: isinstance(_json(out), list) and len(_json(out)) > 0),
    ("/api/v1/payments/pagar-conekta", lambda out: _json(out).get("success") is True
     and re.fullmatch(USER_NAME, _json(out)["usuario_hotspot"]["usuario"]) is not None),
    ("/metrics", lambda out: re.search(r'^hotspot_payments_total\{codigo="pagado"\} [1-9]', out, re.M) is not None),
]


# -- reading the README ---------------------------------------------------------------------------

def fenced_blocks(text):
    """[(heading, info string, [lines])] of every fenced block, indented ones included."""
    blocks, heading, lines = [], None, iter(text.splitlines())
    for line in lines:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            continue
        match = re.fullmatch(r"( *)```(\S*)\s*", line)
        if not match:
            continue
        indent, body = len(match.group(1)), []
        for inner in lines:
            if inner.strip() == "```":
                break
            body.append(inner[indent:] if inner[:indent].strip() == "" else inner)
        blocks.append((heading, match.group(2), body))
    return blocks


def logical_lines(lines):
    """Commands of a script block: comment-only and blank lines dropped, `\\` continuations joined."""
    commands, current = [], ""
    for line in lines:
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line + "\n"
        if not line.rstrip().endswith("\\"):
            commands.append(current.rstrip("\n"))
            current = ""
    assert not current, f"a README command ends with a continuation: {current!r}"
    return commands


def transcript(lines):
    """[(command, [shown output lines])] of a block of `$ command` lines and their output."""
    steps = []
    for line in lines:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def runs_hotspotctl(commands):
    """Whether one of these commands runs hotspotctl: `$ctl …`, or hotspotctl as a command of its
    own (not a mention in a comment, nor a file being copied)."""
    for command in commands:
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            continue
        segments, current = [], []
        for word in words:
            if word in ("|", "||", "&&", ";"):
                segments.append(current)
                current = []
            else:
                current.append(word)
        segments.append(current)
        for segment in segments:
            while segment and is_assignment(segment[0]) and "$" not in segment[0]:
                segment = segment[1:]  # VAR=value before a command
            if segment and segment[0] == "runuser" and "--" in segment:
                segment = segment[segment.index("--") + 1:]
            if segment and (segment[0] == "$ctl" or os.path.basename(segment[0]) == "hotspotctl"):
                return True
    return False


def operator_blocks():
    """(script blocks, transcripts) of the README that run hotspotctl."""
    blocks = fenced_blocks(open(README).read())
    scripts = [(h, body) for h, info, body in blocks if info == "sh" and runs_hotspotctl(logical_lines(body))]
    transcripts = [(h, body) for h, info, body in blocks
                   if info == "" and runs_hotspotctl([command for command, _ in transcript(body)])]
    for heading, body in scripts + transcripts:
        # These blocks run here: one that also starts the whole build or test suite is a mistake.
        assert not any(re.match(r"\$? ?make\b", line) for line in body), f"a make command in the block under {heading!r}"
    return scripts, transcripts


def is_assignment(command):
    return re.match(r"[A-Za-z_][A-Za-z0-9_]*=", command) is not None


def subcommand(command):
    """The hotspotctl subcommand words of a `$ctl …` command (None for anything else)."""
    try:
        words = shlex.split(command.split("|")[-1], comments=True)
    except ValueError:
        return None
    if "$ctl" not in words:
        return None
    rest = [w for w in words[words.index("$ctl") + 1:] if not w.startswith("-")]
    for size in (2, 1):
        if " ".join(rest[:size]) in SHAPES:
            return " ".join(rest[:size])
    return rest[0] if rest else ""


# -- running it -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """A stack started empty (no company, router, product nor key), and what the README's
    commands learn on it."""
    stack = Stack(threads=4, payment_rate="100000r/s", api_rate="100000r/s", conn_limit=1000,
                  router_args=("--profile", "1hora", "--profile", "1dia", "--profile", "1h-premium",
                               "--user", ROUTER_USER, "--password", ROUTER_PASSWORD))
    try:
        stack.start(provision=False)
        yield Walk(stack, tmp_path_factory.mktemp("readme"))
    finally:
        stack.discard()


class Walk:
    def __init__(self, stack, scratch):
        self.stack = stack
        self.scratch = str(scratch)
        self.api_key = None        # printed by the README's `key issue`
        self.delivered = None      # (attempt id, request id) of a purchase through nginx
        self.values = {}

    # The value standing for one placeholder, computed when a command first needs it.
    def value(self, placeholder):
        if placeholder not in self.values:
            self.values[placeholder] = self._compute(placeholder)
        return self.values[placeholder]

    def _compute(self, placeholder):
        stack = self.stack
        if placeholder in ("runuser -u hotspot-pay -- hotspotctl", ".build/debug/hotspotctl"):
            return shlex.quote(os.path.join(stack.build_dir, "hotspotctl"))
        if placeholder == "/etc/hotspot-pay/hotspot-pay.env":
            return stack.env_file
        if placeholder == "key_pub…":
            return SANDBOX_PUBLIC_KEY
        if placeholder == "https://10.0.0.1":
            return stack.router.url
        if placeholder == "sha256//…":
            return stack.router.info["pin"]
        if placeholder == "key_…":
            return stack.ctl("key", "issue", "--router", "1", "--label", "to revoke")["key_id"]
        if placeholder == "<attempt id>":
            return self.purchases()[0]
        if placeholder == "<hotspot user>":
            attempt_id = self.purchases()[0]
            return self.stack.postgres.psql(f"SELECT hotspot_username FROM payment_attempts WHERE id = '{attempt_id}'")[0][0]
        if placeholder == "9a1c…":
            return self.purchases()[1]
        if placeholder == "/var/log/nginx/hotspot-pay.access.log":
            return os.path.join(stack.nginx_prefix, "access.log")
        if placeholder == "2026-11-25":
            return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
        if placeholder == "/etc/wireguard/hub.pub":
            # What `wg pubkey` wrote on the hub: base64 of 32 bytes.
            path = os.path.join(self.scratch, "hub.pub")
            with open(path, "w") as f:
                f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
            return path
        if placeholder == ".run/demo/stack.json":
            # What make demo records, for the same keys the README's steps read.
            path = os.path.join(self.scratch, "stack.json")
            with open(path, "w") as f:
                json.dump({"port": stack.port, "api_key": self.need_key(), "env_file": stack.env_file}, f)
            return path
        raise AssertionError(f"no value for the README placeholder {placeholder!r}")

    def need_key(self):
        assert self.api_key, "the README's `key issue` did not run (or printed no jwt_ key) before a command needed the key"
        return self.api_key

    def purchases(self):
        """The README's report example: one delivered and one declined purchase of product 1,
        through nginx with the key the README issued. Returns (delivered attempt, its request id)."""
        if self.delivered is None:
            headers = {"X-API-Key": self.need_key()}
            body = {"producto_id": 1, "nombre_cliente": "Ana", "email_cliente": "ana@example.com"}
            paid = self.stack.request("POST", "/api/v1/payments/pagar-conekta",
                                      dict(body, token_tarjeta=f"tok_sandbox_paid_{uuid.uuid4().hex}"), headers)
            assert paid[0] == 200, paid
            declined = self.stack.request("POST", "/api/v1/payments/pagar-conekta",
                                          dict(body, token_tarjeta=f"tok_sandbox_declined_{uuid.uuid4().hex}"), headers)
            assert declined[0] == 402, declined
            request_id = paid[1]["X-Request-Id"]
            self.delivered = (self.attempt_of(request_id), request_id)
        return self.delivered

    def attempt_of(self, request_id):
        """The attempt nginx logged for a request (the line is written just after the answer)."""
        log = os.path.join(self.stack.nginx_prefix, "access.log")
        deadline = time.time() + 5
        while True:
            with open(log) as f:
                lines = [json.loads(line) for line in f if request_id in line]
            if lines or time.time() > deadline:
                assert len(lines) == 1 and re.fullmatch(UUID, lines[0].get("attempt") or ""), lines
                return lines[0]["attempt"]
            time.sleep(0.05)

    def substitute(self, text):
        """The README text with each placeholder it holds replaced, in one pass (the longest
        first where two overlap, so that `key_pub…` is not read as `key_…`; a value is never
        read again as a placeholder)."""
        pattern = "|".join(re.escape(p) for p in sorted(PLACEHOLDERS, key=len, reverse=True))
        return re.sub(pattern, lambda match: self.value(match.group(0)), text)

    def run(self, command, prelude=()):
        """(exit status, stdout, stderr) of one README command through bash, after the block's
        earlier assignments (`ctl=…`), in the repository's directory as the README assumes."""
        runnable = self.substitute(command)
        words = " ".join(shlex.split(runnable, comments=True))
        leftover = re.findall(r"\S*…\S*|<[a-z][a-z ]*>", words)
        assert not leftover, f"README placeholder {leftover} has no value in PLACEHOLDERS: {command}"
        script = "\n".join([self.substitute(line) for line in prelude] + [runnable])
        result = subprocess.run(["bash", "-o", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True,
                                env=dict(os.environ, **ENVIRONMENT), timeout=120)
        if "key issue" in command and result.returncode == 0 and result.stdout.startswith("jwt_"):
            self.api_key = result.stdout.split()[0]
        return result.returncode, result.stdout, result.stderr


def check_shape(command, out):
    """The output of one README command against SHAPES / OTHER_SHAPES."""
    name = subcommand(command)
    if name is not None:
        if name in SHAPES:
            assert re.fullmatch(SHAPES[name], out.strip()) is not None, f"`{command}` printed:\n{out}"
        return
    for marker, check in OTHER_SHAPES:
        if marker in command:
            assert check(out), f"`{command}` printed:\n{out}"


def run_script_block(walk, heading, lines, prelude=()):
    """Runs a block's commands in order, each after `prelude` and the block's own assignments."""
    prelude = list(prelude)
    commands = logical_lines(lines)
    assert commands, f"an empty block under {heading!r}"
    for command in commands:
        status, out, err = walk.run(command, prelude)
        assert status == 0, f"README ({heading}) `{command}` exited {status}:\n{err}{out}"
        if is_assignment(command):
            prelude.append(command)
        else:
            check_shape(command, out)
    return prelude


# -- the tests --------------------------------------------------------------------------------------

def test_the_readme_shows_hotspotctl_as_it_is_run():
    """The README's operator block defines `ctl` as a deployment runs it (as the service user,
    with the env file before the subcommand), and every placeholder this file knows is still in
    the README (a renamed one would otherwise leave its command untested)."""
    scripts, transcripts = operator_blocks()
    operating = [body for heading, body in scripts if heading == "Operating it"]
    assert len(operating) == 1, [heading for heading, _ in scripts]
    assert operating[0][0] == 'ctl="runuser -u hotspot-pay -- hotspotctl --env-file /etc/hotspot-pay/hotspot-pay.env"'
    assert transcripts, "no README transcript of a hotspotctl command"
    text = open(README).read()
    unused = [placeholder for placeholder in PLACEHOLDERS if placeholder not in text]
    assert not unused, f"placeholders no README command uses any more: {unused}"


def test_operating_it_runs_as_written(walk):
    """The "Operating it" block, line by line, on an empty installation: it provisions the
    company, its Conekta keys, the router, a product and a key, then reads the payments made
    with that key, reconciles and reports."""
    scripts, _ = operator_blocks()
    [(heading, lines)] = [(h, body) for h, body in scripts if h == "Operating it"]
    walk.operating_prelude = run_script_block(walk, heading, lines)
    assert walk.api_key, "the README's `key issue` printed no key"


def test_transcripts_print_what_the_readme_shows(walk):
    """Each `$ …` transcript runs after the "Operating it" block's definitions, and prints what
    the README shows under it, ids and times aside: the report of one delivered and one
    declined purchase today, and an attempt's story from its request id."""
    prelude = getattr(walk, "operating_prelude", None)
    assert prelude, "the \"Operating it\" block did not run (see the test before this one)"
    walk.purchases()
    _, transcripts = operator_blocks()
    for heading, lines in transcripts:
        local = list(prelude)
        for command, shown in transcript(lines):
            status, out, err = walk.run(command, local)
            assert status == 0, f"README ({heading}) `$ {command}` exited {status}:\n{err}{out}"
            if is_assignment(command):
                local.append(command)
                continue
            check_shape(command, out)
            expected = [mask(walk.substitute(line)) for line in shown if line.strip()]
            printed = [mask(line) for line in out.splitlines() if line.strip()]
            assert printed == expected, f"README ({heading}) `$ {command}` printed:\n{out}"
            names = re.findall(r"^user\s+(\S+)", out, re.M)
            assert all(re.fullmatch(USER_NAME, name) for name in names), names


def test_first_steps_after_make_demo_run_as_written(walk):
    """The block after `make demo` (catalogue and a purchase with curl, `hotspotctl payments
    list`, the metrics), on a stack.json like the demo's; every other README script block that
    runs hotspotctl too, in the README's order, after the "Operating it" block's definitions (its
    `ctl`), as a reader who set `ctl` there runs them (a block may define its own)."""
    assert walk.api_key, "the \"Operating it\" block did not issue a key (see the tests before this one)"
    scripts, _ = operator_blocks()
    others = [(h, body) for h, body in scripts if h != "Operating it"]
    assert any(".run/demo/stack.json" in "\n".join(body) for _, body in others), [h for h, _ in others]
    for heading, lines in others:
        run_script_block(walk, heading, lines, getattr(walk, "operating_prelude", ()))


def mask(line):
    """A line of hotspotctl's output with what differs between runs masked: ids, times, order
    ids and the generated user name; runs of spaces count as one."""
    line = re.sub(UUID, "<uuid>", line)
    line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", line)
    line = re.sub(r"\bord_[A-Za-z0-9]+", "<order>", line)
    line = re.sub(r"^(user\s+)\S+", r"\1<name>", line)
    line = re.sub(r"\(router id \*[0-9A-F]+\)", "(router id <id>)", line)
    return " ".join(line.split())
