"""docs/openapi.yaml as a checker: real responses are validated against the operation's declared
responses with a JSON Schema 2020-12 validator (Debian's python3-jsonschema), and the `codigo`s
of the spec are compared with the ones the server and nginx can answer.

    check(method, path_template, status, headers, raw)   → the parsed body, or AssertionError

fails on an undocumented status, a media type or body not in the spec (the media type with its
parameters: `application/json; charset=utf-8` where the spec says so), a missing or malformed
documented header. `check_component(name, ...)` does the same for a response documented under
components/responses (404 for unknown paths, 405, 501: answers of any path).
"""

import json
import os
import re

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

with open(SPEC_PATH, encoding="utf-8") as _f:
    SPEC = yaml.safe_load(_f)


def resolve(node):
    """Follows local `$ref`s ("#/components/...") until a node without one."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/") and ref not in seen, f"unresolvable or circular $ref {ref}"
        seen.add(ref)
        target = SPEC
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(target, dict) and part in target, f"dangling $ref {ref}"
            target = target[part]
        node = target
    return node


def validator(schema):
    """A 2020-12 validator for a schema of the spec; its `#/components/...` refs resolve within
    the spec (the components ride along in the root schema, where unknown keywords are inert)."""
    root = dict(schema)
    root["components"] = SPEC["components"]
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def assert_valid(schema, instance, what):
    errors = sorted(validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:8])
        raise AssertionError(f"{what} does not match the spec:\n{details}\ninstance: {json.dumps(instance, ensure_ascii=False)[:1500]}")


def operation(method, path_template):
    item = SPEC["paths"].get(path_template)
    assert item is not None, f"{path_template} is not in the spec"
    op = item.get(method.lower())
    assert op is not None, f"{method} {path_template} is not in the spec"
    return op


def documented_response(method, path_template, status):
    responses = operation(method, path_template)["responses"]
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses:
            return key, resolve(responses[key])
    raise AssertionError(f"{method} {path_template} answered {status}, which the spec does not document "
                         f"(documented: {', '.join(sorted(responses))})")


def _header(headers, name):
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _coerce(value, schema):
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return value


def media_type(value):
    """("type/subtype", {parameter: value}) of a Content-Type, lower-cased but for parameter
    values other than charset's; quotes and spaces around `;` and `=` do not count."""
    kind, *parameters = value.split(";")
    parsed = {}
    for parameter in parameters:
        name, _, setting = parameter.partition("=")
        name, setting = name.strip().lower(), setting.strip().strip('"')
        parsed[name] = setting.lower() if name == "charset" else setting
    return kind.strip().lower(), parsed


def documented_media_type(content, received):
    """The key of `content` that is exactly the received Content-Type, its parameters included
    (a documented `charset=utf-8` must be sent, an undocumented parameter must not), or None."""
    for key in content:
        if media_type(key) == media_type(received):
            return key
    return None


MONEY = re.compile(rb'"precio":(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)')


def check_response(response, status, headers, raw, what, method="GET"):
    """Validates one answer against a response object of the spec; returns the parsed body."""
    for name, header in (response.get("headers") or {}).items():
        header = resolve(header)
        value = _header(headers, name)
        if value is None:
            assert not header.get("required"), f"{what}: required header {name} is missing ({headers})"
            continue
        assert_valid(header["schema"], _coerce(value, resolve(header["schema"])), f"{what}: header {name}={value!r}")
    content = response.get("content")
    if method.upper() == "HEAD":
        assert raw == b"", f"{what}: a HEAD answer has a body"
        return None
    if not content:
        assert raw == b"", f"{what}: the spec documents no body, got {raw[:200]!r}"
        return None
    received = _header(headers, "Content-Type") or ""
    content_type = documented_media_type(content, received)
    assert content_type is not None, f"{what}: Content-Type {received!r} is not documented ({list(content)})"
    if content_type.startswith("text/"):
        text = raw.decode("utf-8")
        assert_valid(content[content_type]["schema"], text, f"{what}: body")
        return text
    try:
        body = json.loads(raw)
    except ValueError:
        raise AssertionError(f"{what}: the body is not JSON: {raw[:300]!r}") from None
    assert_valid(content[content_type]["schema"], body, f"{what}: body")
    # JSON numbers lose their text once parsed: money must be written with two decimals.
    for amount in MONEY.findall(raw):
        assert re.fullmatch(rb"-?[0-9]+\.[0-9]{2}", amount), f"{what}: precio {amount!r} is not written with two decimals"
    return body


def check(method, path_template, status, headers, raw, seen=None):
    """Validates a real answer of a documented operation. `seen` collects (method, path, status, codigo)."""
    key, response = documented_response(method, path_template, status)
    what = f"{method} {path_template} → {status}"
    body = check_response(response, status, headers, raw, what, method)
    if seen is not None:
        codigo = body.get("codigo") if isinstance(body, dict) else None
        seen.add((method.lower(), path_template, str(status), codigo))
    return body


def check_component(name, status, headers, raw, method="GET"):
    response = resolve({"$ref": f"#/components/responses/{name}"})
    return check_response(response, status, headers, raw, f"{method} (components/responses/{name}) → {status}", method)


# --- what the spec documents ---------------------------------------------------------------------

def _codigos_of_schema(schema, found, depth=0):
    """Every value `codigo` may take under a schema (its enum/const, through allOf/oneOf/anyOf)."""
    schema = resolve(schema)
    if not isinstance(schema, dict) or depth > 20:
        return
    codigo = (schema.get("properties") or {}).get("codigo")
    if isinstance(codigo, dict):
        codigo = resolve(codigo)
        if "const" in codigo:
            found.add(codigo["const"])
        found.update(codigo.get("enum", []))
    for keyword in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(keyword, []):
            _codigos_of_schema(sub, found, depth + 1)


def codigos_of_response(response):
    found = set()
    for media in (resolve(response).get("content") or {}).values():
        _codigos_of_schema(media["schema"], found)
    return found


def documented_statuses():
    """{(method, path, status): {codigos}} for every operation's responses."""
    out = {}
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                for status, response in op["responses"].items():
                    out[(method, path, status)] = codigos_of_response(response)
    return out


def component_statuses():
    """{status: {codigos}} of the responses documented for any path (components/responses)."""
    out = {}
    names = {"RouteNotFound": "404", "MethodNotAllowed": "405", "NotImplemented": "501", "HttpVersionNotSupported": "505",
             "CorsPreflight": "204"}
    for name, status in names.items():
        response = resolve({"$ref": f"#/components/responses/{name}"})
        out.setdefault(status, set()).update(codigos_of_response(response))
    return out


def codigos_by_status():
    """{status: {codigos}} over every operation and the any-path responses."""
    out = {}
    for (_, _, status), codigos in documented_statuses().items():
        out.setdefault(status, set()).update(codigos)
    for status, codigos in component_statuses().items():
        out.setdefault(status, set()).update(codigos)
    return out


# --- what the product can answer ------------------------------------------------------------------

def source_codigos():
    """(status or None, codigo, where) for every codigo literal the server (Sources/API, the HTTP
    handler) and nginx (deploy/nginx.conf) can put in an answer."""
    found = []
    sources = []
    for directory in ("Sources/API", "Sources/FCGIEntry/HTTP", "Sources/FCGIEntry"):
        base = os.path.join(ROOT, directory)
        for name in sorted(os.listdir(base)):
            if name.endswith(".swift"):
                sources.append(os.path.join(base, name))
    for path in sources:
        text = open(path, encoding="utf-8").read()
        where = os.path.relpath(path, ROOT)
        # (status, "codigo", …) tuples: describe() of ErrorResponse and PaymentPresenter.
        for status, codigo in re.findall(r'\(\s*([1-5][0-9]{2})\s*,\s*"([a-z][a-z0-9_]*)"', text):
            found.append((status, codigo, where))
        # codigo: "x" (Response.json's argument), including `codigo: cond ? "a" : "b"`.
        for match in re.finditer(r'codigo:\s*([^,)\n]*)', text):
            for codigo in re.findall(r'"([a-z][a-z0-9_]*)"', match.group(1)):
                found.append((None, codigo, where))
        # ErrorResponse.body("detail", "codigo", requestID)
        for codigo in re.findall(r'body\(\s*"[^"]*"\s*,\s*"([a-z][a-z0-9_]*)"', text):
            found.append((None, codigo, where))
    nginx = open(os.path.join(ROOT, "deploy", "nginx.conf"), encoding="utf-8").read()
    for status, codigo in re.findall(r'return\s+([1-5][0-9]{2})\s+\'\{[^\']*"codigo":"([a-z][a-z0-9_]*)"', nginx):
        found.append((status, codigo, "deploy/nginx.conf"))
    return found


def source_field_names():
    """Every `campo` a 422 can name: FieldProblem(field: "x"), the labels given to text(…), and
    the Spanish aliases of the decoders' names (PaymentRequestDecoder's and ClaimRequestDecoder's:
    problems about a field use its alias)."""
    names = set()
    for path in (os.path.join(ROOT, "Sources", "API", "PaymentRequestDecoder.swift"),
                 os.path.join(ROOT, "Sources", "API", "ClaimRequestDecoder.swift"),
                 os.path.join(ROOT, "Sources", "FCGIEntry", "HTTP", "PortalHandler.swift")):
        text = open(path, encoding="utf-8").read()
        names.update(re.findall(r'FieldProblem\(field:\s*"([^"]+)"', text))
        names.update(re.findall(r'\btext\(\s*"[a-z_]+"\s*,\s*"([a-z_]+)"', text))
        table = re.search(r'static let names: \[\(String, String\)\] = \[(.*?)\]\n', text, re.S)
        if table:
            names.update(alias for _, alias in re.findall(r'\(\s*"([a-z_]+)"\s*,\s*"([a-z_]+)"\s*\)', table.group(1)))
    return names
