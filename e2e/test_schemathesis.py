"""schemathesis (pinned in requirements-schemathesis.txt, installed into .run/schemathesis by
scripts/install-python-tools.sh) generates requests from docs/openapi.yaml — valid and invalid
ones, every documented example, boundary values, undocumented methods — and sends them through
nginx to the whole stack, with a provisioned key. The run fails on any 5xx, any status, media
type, body or header the spec does not document, and any undocumented method that is not a 405
with `Allow`. Afterwards the contract's invariants must still hold.

The stack is the product's defaults but for the card-testing limits per client address and per
router: every generated payment comes from 127.0.0.1 to one router, and most carry random card
tokens that Conekta refuses (402), so those limits would soon refuse everything (429, which is
documented) and leave nothing else to test. The per-device limit stays on.

SCHEMATHESIS_SEED reproduces a run (the seed is printed); SCHEMATHESIS_MAX_EXAMPLES changes its size.
"""

import os
import re
import subprocess

import pytest

from conftest import ROOT, running_stack
from invariants import check_invariants

VENV = os.path.join(ROOT, ".run", "schemathesis")
ST = os.path.join(VENV, "bin", "st")
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
CONFIG = os.path.join(ROOT, "e2e", "schemathesis.toml")
LOG = os.path.join(ROOT, ".run", "schemathesis-last.log")
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
          "response_headers_conformance", "unsupported_method"]


@pytest.fixture(scope="module")
def stack():
    yield from running_stack(extra_env={"HOTSPOT_DECLINES_PER_ADDRESS": "0", "HOTSPOT_DECLINES_PER_ROUTER": "0"})


def pinned_version():
    text = open(os.path.join(ROOT, "e2e", "requirements-schemathesis.txt")).read()
    return re.search(r"^schemathesis==(\S+)$", text, re.M).group(1)


def test_the_spec_is_valid_against_the_openapi_3_1_meta_schema():
    """The official OAS 3.1 schema as schemathesis bundles it, with its own validator (the venv's)."""
    assert os.access(ST, os.X_OK), f"{ST} is missing: run scripts/install-python-tools.sh (make test does)"
    script = (
        "import sys, yaml, jsonschema_rs\n"
        "from schemathesis.specs.openapi.definitions import OPENAPI_31\n"
        "errors = list(jsonschema_rs.validator_for(OPENAPI_31).iter_errors(yaml.safe_load(open(sys.argv[1]))))\n"
        "print('\\n'.join(str(e)[:300] for e in errors[:10]))\n"
        "sys.exit(1 if errors else 0)\n")
    result = subprocess.run([os.path.join(VENV, "bin", "python"), "-c", script, SPEC], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schemathesis_finds_no_server_error_and_nothing_undocumented(stack):
    assert os.access(ST, os.X_OK), f"{ST} is missing: run scripts/install-python-tools.sh (make test does)"
    version = subprocess.run([ST, "--version"], capture_output=True, text=True, check=True).stdout
    assert pinned_version() in version, (version, pinned_version())
    command = [ST, "--config-file", CONFIG, "--no-color", "run", SPEC,
               "--checks", ",".join(CHECKS),
               "--phases", "examples,coverage,fuzzing",
               "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "300"),
               "--workers", "2",
               "--request-timeout", "30",
               "--generation-database", "none",
               "--output-truncate", "false"]
    if os.environ.get("SCHEMATHESIS_SEED"):
        command += ["--seed", os.environ["SCHEMATHESIS_SEED"]]
    env = dict(os.environ, HOTSPOT_ST_BASE_URL=f"http://127.0.0.1:{stack.port}", HOTSPOT_ST_API_KEY=stack.api_key,
               NO_COLOR="1")
    # Run from the stack's directory: nothing schemathesis may write lands in the work tree.
    result = subprocess.run(command, cwd=stack.directory, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    with open(LOG, "w") as f:
        f.write(output)
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    print(summary)
    assert result.returncode == 0, f"schemathesis failed (full log: {LOG}):\n{output[-12000:]}"
    generated = re.search(r"(\d+) generated", summary)
    assert generated and int(generated.group(1)) >= 500, f"schemathesis ran too little:\n{summary}"
    assert "8 selected / 8 total" in output and "Tested: 8" in summary, summary
    check_invariants(stack)
