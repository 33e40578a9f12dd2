"""A small JSON Schema validator for the subset of keywords Conekta's OpenAPI spec uses.

Used by the Conekta sandbox to validate every request (422 with `param` on a violation, and the
violations kept in its state) and from the command line by tests and people:

    python3 sandbox/jsonschema_lite.py sandbox/schemas/conekta-order-request.schema.json order_request body.json

Keywords: $ref (local), type, nullable, required, properties, additionalProperties, maxProperties,
items, minItems, minLength, maxLength, minimum, maximum, enum, format (int8/int32/int64 ranges,
email, uri), allOf, anyOf, oneOf. As in JSON Schema, a keyword only applies to values of its type.
"""

import json
import sys

_INT_RANGES = {"int8": (-2**7, 2**7 - 1), "int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}


class Violation(dict):
    """{"path": "customer_info.email", "keyword": "required", "message": "..."}"""

    def __init__(self, path, keyword, message):
        super().__init__(path=".".join(str(p) for p in path), keyword=keyword, message=message)


class Validator:
    def __init__(self, document):
        self.document = document

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def schema(self, name):
        return self.document["components"]["schemas"][name]

    def validate(self, instance, name):
        """All violations of `instance` against the named schema; [] when valid."""
        return self._check(instance, self.schema(name), [])

    def _resolve(self, ref):
        if not ref.startswith("#/"):
            raise ValueError("only local $ref is supported: " + ref)
        node = self.document
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def _check(self, value, schema, path):
        if "$ref" in schema:
            return self._check(value, self._resolve(schema["$ref"]), path)
        if value is None and schema.get("nullable"):
            return []
        out = []
        expected = schema.get("type")
        if expected is not None and not _is_type(value, expected):
            return [Violation(path, "type", f"expected {expected}, got {_type_name(value)}")]
        if "enum" in schema and value not in schema["enum"]:
            out.append(Violation(path, "enum", f"must be one of {schema['enum']}"))
        if isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                out.append(Violation(path, "minLength", f"shorter than {schema['minLength']} characters"))
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                out.append(Violation(path, "maxLength", f"longer than {schema['maxLength']} characters"))
            fmt = schema.get("format")
            if fmt == "email" and not _looks_like_email(value):
                out.append(Violation(path, "format", "not an email address"))
            if fmt == "uri" and "://" not in value:
                out.append(Violation(path, "format", "not an absolute URI"))
        if _is_type(value, "number"):
            if "minimum" in schema and value < schema["minimum"]:
                out.append(Violation(path, "minimum", f"less than {schema['minimum']}"))
            if "maximum" in schema and value > schema["maximum"]:
                out.append(Violation(path, "maximum", f"greater than {schema['maximum']}"))
            low_high = _INT_RANGES.get(schema.get("format"))
            if low_high and not (low_high[0] <= value <= low_high[1]):
                out.append(Violation(path, "format", f"outside {schema['format']}"))
        if isinstance(value, dict):
            for key in schema.get("required", []):
                if key not in value:
                    out.append(Violation(path + [key], "required", "is required"))
            if "maxProperties" in schema and len(value) > schema["maxProperties"]:
                out.append(Violation(path, "maxProperties", f"more than {schema['maxProperties']} properties"))
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties", True)
            for key, item in value.items():
                if key in properties:
                    out += self._check(item, properties[key], path + [key])
                elif extra is False:
                    out.append(Violation(path + [key], "additionalProperties", "is not allowed"))
                elif isinstance(extra, dict):
                    out += self._check(item, extra, path + [key])
        if isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                out.append(Violation(path, "minItems", f"fewer than {schema['minItems']} items"))
            if "items" in schema:
                for index, item in enumerate(value):
                    out += self._check(item, schema["items"], path + [index])
        for sub in schema.get("allOf", []):
            out += self._check(value, sub, path)
        if "anyOf" in schema:
            results = [self._check(value, sub, path) for sub in schema["anyOf"]]
            if all(results):
                out += min(results, key=len)
        if "oneOf" in schema:
            results = [self._check(value, sub, path) for sub in schema["oneOf"]]
            passing = sum(1 for r in results if not r)
            if passing == 0:
                # Report the branch that came closest: its violations name the missing field.
                out += min(results, key=len)
            elif passing > 1:
                out.append(Violation(path, "oneOf", f"matches {passing} alternatives, expected exactly one"))
        return out


def _is_type(value, expected):
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "null":
        return value is None
    raise ValueError("unknown type " + expected)


def _type_name(value):
    for name in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _is_type(value, name):
            return name
    return type(value).__name__


def _looks_like_email(text):
    local, at, domain = text.rpartition("@")
    return bool(at and local and "." in domain and " " not in text)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: jsonschema_lite.py SCHEMA_FILE SCHEMA_NAME INSTANCE_FILE")
    with open(sys.argv[3], encoding="utf-8") as f:
        instance = json.load(f)
    violations = Validator.load(sys.argv[1]).validate(instance, sys.argv[2])
    print(json.dumps(violations, indent=1))
    sys.exit(1 if violations else 0)
