"""Render JSON Schemas (TypeBox dumps from dump-schemas.mjs) as compact TypeScript-like text.

``?`` marks optional properties, ``/*open*/`` objects that allow extra keys (everything else is
``additionalProperties: false``), ``/*min N, max N*/`` string lengths, ``>=``/``<=`` bounds.

    python render.py --schemas schemas.json ChatSendParamsSchema validateChatStartupParams
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

LIMITS = (("minLength", "min"), ("maxLength", "max"), ("minimum", ">="), ("maximum", "<="),
          ("exclusiveMinimum", ">"), ("minItems", "minItems"), ("maxItems", "maxItems"),
          ("maxProperties", "maxProps"), ("pattern", "pattern"), ("format", "format"),
          ("default", "default"))


def limits(schema: dict[str, Any]) -> str:
    parts = []
    for key, label in LIMITS:
        if key in schema:
            value = json.dumps(schema[key]) if key in ("pattern", "default") else schema[key]
            parts.append(f"{label} {value}")
    return f" /*{', '.join(parts)}*/" if parts else ""


def render(schema: Any, indent: int = 0, depth: int = 0) -> str:
    pad = "  " * indent
    if not isinstance(schema, dict):
        return json.dumps(schema)
    if depth > 7:
        return "…"
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        parts = [render(a, indent, depth + 1) for a in alternatives]
        if all("\n" not in p for p in parts) and sum(map(len, parts)) < 120:
            return " | ".join(parts) + limits(schema)
        return "(\n" + "\n".join(f"{pad}  | {p}" for p in parts) + f"\n{pad})"
    if "allOf" in schema:
        if "properties" not in schema:
            return " & ".join(render(a, indent, depth + 1) for a in schema["allOf"])
        notes = []
        for part in schema["allOf"]:
            negated = part.get("not", {})
            if "required" in negated:
                consts = {k: v.get("const") for k, v in negated.get("properties", {}).items()}
                suffix = f" being {json.dumps(consts)}" if consts else ""
                notes.append("not all of " + "+".join(negated["required"]) + suffix)
            else:
                notes.append(json.dumps(part)[:120])
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return render(rest, indent, depth) + " /* constraints: " + "; ".join(notes) + " */"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(kind) + limits(schema)
    if kind == "object" or "properties" in schema:
        return render_object(schema, indent, depth)
    if kind == "array":
        inner = render(schema.get("items", {}), indent, depth + 1)
        body = f"Array<{inner}>" if "\n" in inner or "|" in inner else f"{inner}[]"
        return body + limits(schema)
    if kind in ("string", "number", "integer", "boolean", "null"):
        return kind + limits(schema)
    if not schema or set(schema) <= {"__file", "description", "title"}:
        return "unknown"
    return json.dumps({k: v for k, v in schema.items() if k != "__file"})[:200]


def render_object(schema: dict[str, Any], indent: int, depth: int) -> str:
    pad = "  " * indent
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties")
    patterns = schema.get("patternProperties")
    if not props and not patterns:
        if isinstance(extra, dict):
            return f"Record<string, {render(extra, indent, depth + 1)}>{limits(schema)}"
        return ("{}" if extra is False else "object") + limits(schema)
    lines = [f"{pad}  {name}{'' if name in required else '?'}: "
             f"{render(value, indent + 1, depth + 1)}" for name, value in props.items()]
    for pattern, value in (patterns or {}).items():
        lines.append(f"{pad}  [/{pattern}/]: {render(value, indent + 1, depth + 1)}")
    if isinstance(extra, dict):
        lines.append(f"{pad}  [k: string]: {render(extra, indent + 1, depth + 1)}")
    closed = "" if extra is False else " /*open*/"
    return "{" + closed + limits(schema) + "\n" + "\n".join(lines) + f"\n{pad}}}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schemas", required=True, type=Path)
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    schemas = json.loads(args.schemas.read_text())
    for name in args.names:
        schema = schemas.get(name)
        print(f"// {name} ({schema.get('__file') if schema else 'MISSING'})")
        if schema:
            print(render(schema))


if __name__ == "__main__":
    main()
