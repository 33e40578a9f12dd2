#!/usr/bin/env python3
"""Renders deploy/portal/ for a test or demo stack: a copy whose config.js loads the sandbox's
Conekta.js stand-in instead of the real one (and, for a page on another origin, names the API's
address). Exact substitutions of config.js's defaults, each expected exactly once, as
render_nginx.py does for nginx.conf."""

import argparse
import json
import os
import shutil

from render_nginx import ExactEdits

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy", "portal")
CONEKTA_JS = 'conektaJsUrl: "https://cdn.conekta.io/js/latest/conekta.js",'
API_BASE = 'apiBase: "",'
COUNTDOWN = "segundosAntesDeConectar: 10,"


def render(destination, conekta_js_url, api_base=None, countdown_seconds=None, source=SOURCE):
    """Copies the portal into `destination` (replaced) and rewrites its config.js."""
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(source, destination)
    config = ExactEdits("render_portal", os.path.join(destination, "config.js"))
    config.sub(CONEKTA_JS, f"conektaJsUrl: {json.dumps(conekta_js_url)},")
    if api_base is not None:
        config.sub(API_BASE, f"apiBase: {json.dumps(api_base)},")
    if countdown_seconds is not None:
        config.sub(COUNTDOWN, f"segundosAntesDeConectar: {int(countdown_seconds)},")
    with open(config.source, "w") as f:
        f.write(config.text)
    # nginx's workers (www-data when run as root) read the copy.
    for root, _, files in os.walk(destination):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    return destination


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--conekta-js-url", required=True)
    parser.add_argument("--api-base")
    parser.add_argument("--countdown-seconds", type=int)
    args = parser.parse_args()
    render(args.out, args.conekta_js_url, args.api_base, args.countdown_seconds)


if __name__ == "__main__":
    main()
