#!/usr/bin/env bash
# Installs the Debian 12 packages hotspot-pay needs to build, test, demo and benchmark, when they
# are missing. Run as root (CI is root); otherwise it uses sudo. Idempotent and quiet.
set -euo pipefail
packages=(libfcgi-dev libcurl4-openssl-dev libpq-dev libssl-dev pkg-config
          postgresql nginx-light python3 python3-pytest python3-prometheus-client openssl curl jq ca-certificates
          python3-venv python3-yaml python3-jsonschema
          # the payment page's tests drive a real headless browser
          chromium chromium-driver python3-selenium)
# valgrind (and objcopy, in binutils): the instruction counts of `make bench` (bench/instructions.py)
[ "${1:-}" = "--bench" ] && packages+=(wrk libnginx-mod-http-js valgrind binutils)
missing=()
for package in "${packages[@]}"; do
  # nginx-light, nginx-core, nginx-full and nginx-extras all provide the binary we need.
  if [ "$package" = nginx-light ] && command -v nginx >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
