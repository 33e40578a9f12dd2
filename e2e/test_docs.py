"""Issue 14: the documentation a newcomer reads stands alone and tells the truth. The README's
status table names every answer of the payment endpoint, nginx's own 429 included; no file cites
material outside the repository; every relative link resolves; the licence is there."""

import os
import re
import subprocess

from hotspot_stack import ROOT

README = os.path.join(ROOT, "README.md")


def tracked_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
    return [name for name in names if name]


def status_table():
    """The README's table of the payment endpoint's answers: its `codigo` cells."""
    text = open(README, encoding="utf-8").read()
    table = text[text.index("| status | `codigo` | when |"):]
    table = table[:table.index("\n\n")]
    return set(re.findall(r"`([a-z_]+)`", table))


def test_the_status_table_names_every_answer_of_the_payment_endpoint():
    presenter = open(os.path.join(ROOT, "Sources/API/PaymentPresenter.swift"), encoding="utf-8").read()
    server = set(re.findall(r'return \(\s*\d{3}, "([a-z_]+)"', presenter)) - {"pagado"}
    assert {"pago_declinado", "demasiados_intentos", "idempotencia_conflicto"} <= server, server
    # nginx answers the payment endpoint's rate limit itself; the server's validation and product look-up.
    missing = (server | {"demasiadas_solicitudes", "solicitud_invalida", "producto_no_encontrado"}) - status_table()
    assert not missing, f"the README's status table lacks {sorted(missing)}"


def test_nothing_cites_material_outside_the_repository():
    # Built from pieces so that this file does not match itself.
    outside = ["../" + "shared", "/work/" + "shared", "NOTES" + ".md", "swift-fcgi-" + "stack", "seed-pagar-" + "conekta"]
    offenders = []
    for name in tracked_files():
        path = os.path.join(ROOT, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            text = open(path, encoding="utf-8").read()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            offenders += [f"{name}:{number}: {needle}" for needle in outside if needle in line]
    assert not offenders, "cited outside the repository (keep the facts in docs/):\n" + "\n".join(offenders)


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = []
    for name in [n for n in tracked_files() if n == "README.md" or (n.startswith("docs/") and n.endswith(".md"))]:
        text = open(os.path.join(ROOT, name), encoding="utf-8").read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(name), target.split("#")[0]))
            if not os.path.exists(path):
                broken.append(f"{name}: {target}")
    assert not broken, broken


def test_no_two_tracked_paths_differ_only_by_case():
    """macOS (a declared platform) and Windows file systems ignore case: the Swift suites' `Tests`
    and the former pytest folder `tests` were one directory there, and a checkout mixed them."""
    paths = {"/".join(parts[:i]) for parts in (n.split("/") for n in tracked_files()) for i in range(1, len(parts) + 1)}
    by_folded = {}
    for path in sorted(paths):
        by_folded.setdefault(path.casefold(), []).append(path)
    clashes = [names for names in by_folded.values() if len(names) > 1]
    assert not clashes, f"paths that differ only by case: {clashes}"


def test_the_licence_is_apache_2_and_the_readme_says_so():
    licence = open(os.path.join(ROOT, "LICENSE"), encoding="utf-8").read()
    assert licence.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in licence
    assert "Apache-2.0" in open(README, encoding="utf-8").read() or "Apache License 2.0" in open(README).read()


def layout_entries():
    """The paths the README's Layout block names: top-level ones, and `Sources/` ones indented."""
    text = open(README, encoding="utf-8").read()
    block = text[text.index("## Layout"):]
    block = block[block.index("```\n") + 4:]
    block = block[:block.index("```")]
    entries = set()
    for line in block.splitlines():
        indented = line.startswith("  ") and not line.startswith("   ")
        head = re.split(r"\s{2,}", line.strip())[0] if line.strip() and not line.startswith("   ") else ""
        for token in head.split():
            if token.endswith("/") or "." in token:
                entries.add(("Sources/" if indented else "") + token.rstrip("/"))
    return entries


def test_the_readme_layout_matches_the_tree():
    """Every Swift target's folder and every top-level folder or file a reader meets is in the
    Layout block, and everything the block names exists."""
    entries = layout_entries()
    missing = sorted(e for e in entries if not os.path.exists(os.path.join(ROOT, e)))
    assert not missing, f"the Layout names what does not exist: {missing}"
    tracked = tracked_files()
    sources = {"/".join(name.split("/")[:2]) for name in tracked if name.startswith("Sources/")}
    top = {name.split("/")[0] for name in tracked if "/" in name and not name.startswith(".")}
    unnamed = sorted((sources | top) - entries)
    assert not unnamed, f"the Layout does not name {unnamed}"
    assert {"Sources/Wiring", "Sources/JSON", "e2e", "Tests"} <= entries


def test_every_sources_section_a_comment_cites_exists():
    """Comments cite facts as `docs/sources.md A4` (or `F2.4`): each such section is a heading
    there, so no comment points nowhere."""
    sources = open(os.path.join(ROOT, "docs", "sources.md"), encoding="utf-8").read()
    headings = set(re.findall(r"^#+ ([ACF]\d+(?:\.\d+)*)\b", sources, re.M))
    cited = {}
    for name in tracked_files():
        if not name.endswith((".swift", ".py", ".conf", ".sh")):
            continue
        text = open(os.path.join(ROOT, name), encoding="utf-8").read()
        for mention in re.findall(r"docs/sources\.md,? ((?:[ACF]\d+(?:\.\d+)*(?:,? (?:and )?)?)+)", text):
            for section in re.findall(r"[ACF]\d+(?:\.\d+)*", mention):
                cited.setdefault(section, name)
    assert len(cited) >= 10, cited
    missing = {section: name for section, name in cited.items() if section not in headings}
    assert not missing, f"comments cite sections docs/sources.md lacks: {missing}"
