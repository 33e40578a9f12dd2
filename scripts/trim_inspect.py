#!/usr/bin/env python3
"""Trims a RouterOS `/console/inspect` tree (tikoci/restraml's docs/<version>/inspect.json) to the
commands `hotspotctl router setup-script` writes, for sandbox/routeros-inspect-<version>-setup.json.

Each command is kept whole (all its arguments, as published), with the directories above it; the
rest of the tree is dropped. Keys sorted, one-space indent, as routeros-inspect-7.22-hotspot.json.
See sandbox/routeros-inspect-setup.md for the source and its licence.

    git show HEAD:docs/7.22/inspect.json > inspect.json   # in a clone of tikoci/restraml
    scripts/trim_inspect.py inspect.json 7.22 > sandbox/routeros-inspect-7.22-setup.json
"""

import json
import sys

# (menu, command): every command the setup script writes, its scripting commands included (the
# global ones live at the root of the tree). SetupScriptSchemaTests fails on one missing here.
COMMANDS = [
    ("", "foreach"), ("", "if"), ("", "len"), ("", "local"), ("", "pick"), ("", "put"),
    ("certificate", "add"), ("certificate", "print"), ("certificate", "sign"),
    ("file", "add"), ("file", "find"), ("file", "set"),
    ("interface/wireguard", "add"), ("interface/wireguard", "print"), ("interface/wireguard/peers", "add"),
    ("ip/address", "add"),
    ("ip/firewall/filter", "add"), ("ip/firewall/filter", "find"),
    ("ip/hotspot", "find"), ("ip/hotspot", "get"), ("ip/hotspot/profile", "find"), ("ip/hotspot/profile", "get"),
    ("ip/hotspot/walled-garden", "add"), ("ip/hotspot/walled-garden/ip", "add"),
    ("ip/service", "set"),
    ("system/clock", "set"), ("system/ntp/client", "set"),
    ("user", "add"), ("user/group", "add"),
]


def trim(tree, version):
    out = {"_source": f"tikoci/restraml docs/{version}/inspect.json (The Unlicense), trimmed by scripts/trim_inspect.py "
                      "to the commands of hotspotctl router setup-script; see routeros-inspect-setup.md"}
    for menu, command in COMMANDS:
        node, copy = tree, out
        for part in [p for p in menu.split("/") if p]:
            node = node[part]
            copy = copy.setdefault(part, {"_type": node["_type"]})
        copy[command] = node[command]
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        tree = json.load(f)
    json.dump(trim(tree, sys.argv[2]), sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
