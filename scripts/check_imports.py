#!/usr/bin/env python3
"""Every target imports exactly what Package.swift says it depends on.

SwiftPM's `--explicit-target-dependency-import-check` (also on in `make test`) only reports an
import of a target that is not in the importer's dependency graph at all; an import that
compiles because the module is a dependency of a dependency passes it
(https://github.com/swiftlang/swift/issues/70560). Such an import ties a target to another's
internals and breaks when that other target drops the dependency. This check is stricter, in
both directions:

- a target that imports a module of this package or of a package product must declare it;
- a target that declares a dependency must import it somewhere (an unused dependency hides
  the real shape of the graph).

Reads `swift package dump-package`; prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)")


def dependency_name(dependency: dict) -> str:
    """The module a dependency entry of dump-package names (target, product or either)."""
    for kind in ("byName", "target", "product"):
        if kind in dependency:
            return dependency[kind][0]
    raise ValueError(f"unknown dependency entry {dependency}")


def source_directory(target: dict) -> pathlib.Path:
    if target.get("path"):
        return ROOT / target["path"]
    base = "Tests" if target["type"] == "test" else "Sources"
    return ROOT / base / target["name"]


def imports_of(directory: pathlib.Path) -> set[str]:
    modules: set[str] = set()
    for path in directory.rglob("*"):
        if path.suffix != ".swift" or not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = IMPORT.match(line)
            if match:
                modules.add(match.group(1))
    return modules


def main() -> int:
    dump = subprocess.run(
        ["swift", "package", "dump-package"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    package = json.loads(dump)
    targets = package["targets"]
    products = {
        dependency_name(dependency)
        for target in targets
        for dependency in target["dependencies"]
        if "product" in dependency
    }
    modules = {target["name"] for target in targets} | products
    problems: list[str] = []
    for target in targets:
        if target["type"] in ("system", "plugin", "binary"):
            continue
        declared = {dependency_name(dependency) for dependency in target["dependencies"]}
        imported = imports_of(source_directory(target)) & modules
        imported.discard(target["name"])
        for module in sorted(imported - declared):
            problems.append(f"{target['name']} imports {module} without declaring it in Package.swift")
        for module in sorted(declared - imported):
            problems.append(f"{target['name']} declares {module} in Package.swift but never imports it")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
