#!/usr/bin/env bash
# Installs the pinned schemathesis (e2e/requirements-schemathesis.txt) into a venv in the
# git-ignored .run/schemathesis: Debian 12's python3 is externally managed (PEP 668), so not into
# the system. Needs python3-venv (scripts/install-deps.sh). Idempotent: a venv already holding the
# pinned requirements is kept; a changed pin rebuilds it.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=e2e/requirements-schemathesis.txt
venv=.run/schemathesis
stamp="$venv/.requirements"
if [ -x "$venv/bin/st" ] && cmp -s "$stamp" "$requirements"; then
  exit 0
fi
echo "installing schemathesis into $venv"
rm -rf "$venv"
mkdir -p .run
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/st" --version >/dev/null
cp "$requirements" "$stamp"
