#!/usr/bin/env bash
# Installs the pinned Python tools, each into its own venv in the git-ignored .run/ (Debian 12's
# python3 is externally managed, PEP 668, so not into the system), bumping one leaves the other:
#   schemathesis  .run/schemathesis  e2e/requirements-schemathesis.txt  (make test-e2e)
#   ruff          .run/ruff          scripts/requirements-ruff.txt      (make lint)
# Usage: install-python-tools.sh [schemathesis|ruff]... (none: both). Needs python3-venv
# (scripts/install-deps.sh). Idempotent: a venv already holding its pinned requirements is kept;
# a changed pin rebuilds it.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {  # name requirements-file command
  local venv=.run/$1 requirements=$2 command=$3
  local stamp="$venv/.requirements"
  if [ -x "$venv/bin/$command" ] && cmp -s "$stamp" "$requirements"; then
    return 0
  fi
  echo "installing $1 into $venv"
  rm -rf "$venv"
  mkdir -p .run
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  "$venv/bin/$command" --version >/dev/null
  cp "$requirements" "$stamp"
}

[ $# -gt 0 ] || set -- schemathesis ruff
for tool in "$@"; do
  case "$tool" in
    schemathesis) install schemathesis e2e/requirements-schemathesis.txt st ;;
    ruff) install ruff scripts/requirements-ruff.txt ruff ;;
    *) echo "usage: $0 [schemathesis|ruff]..." >&2; exit 2 ;;
  esac
done
