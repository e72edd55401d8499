"""JSON Schema (as TypeBox emits it) → the protocol's :class:`~.schema.Schema` validators.

Upstream declares every RPC's params with TypeBox; their JSON Schema form is what we keep as
data (``openclaw/gateway/methods/upstream_params.json.gz``), so a method accepts exactly
upstream's fields and answers the same error text. The subset TypeBox produces is covered:
``type`` (object, array, string, integer, number, boolean, null), ``properties`` /
``required`` / ``additionalProperties`` / ``patternProperties`` / ``maxProperties``,
``items`` / ``minItems`` / ``maxItems`` / ``uniqueItems``, ``minLength`` / ``maxLength`` /
``pattern``, ``minimum`` / ``maximum``, ``const``, ``enum``, ``anyOf``, ``allOf``, ``not``.
Anything else (``description``, ``default``, ``x-*``) is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from openclaw.gateway.protocol.schema import (
    AllOf,
    AnyOf,
    AnyValue,
    Array,
    Boolean,
    Const,
    Enum,
    Field,
    Integer,
    Not,
    Null,
    Number,
    Object,
    Record,
    Schema,
    String,
)


def _pattern(text: Any) -> str | None:
    """An ECMAScript pattern Python can run (upstream's are plain), else no pattern."""
    if not isinstance(text, str):
        return None
    try:
        re.compile(text)
    except re.error:
        return None
    return text


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _object(node: Mapping[str, Any]) -> Schema:
    properties: Mapping[str, Any] = node.get("properties") or {}
    required = set(node.get("required") or ())
    fields = {name: Field(compile_json_schema(sub), name in required)
              for name, sub in properties.items()}
    for name in node.get("required") or ():
        fields.setdefault(name, Field(AnyValue(), True))
    additional = node.get("additionalProperties", True)
    patterns: Mapping[str, Any] = node.get("patternProperties") or {}
    if patterns and not properties:
        key, value_schema = next(iter(patterns.items()))
        return Record(compile_json_schema(value_schema), key_pattern=_pattern(key),
                      max_properties=_int(node.get("maxProperties")),
                      closed=additional is False)
    if not properties and isinstance(additional, Mapping):
        return Record(compile_json_schema(additional),
                      max_properties=_int(node.get("maxProperties")))
    if isinstance(additional, Mapping):
        return Object(fields, extra=compile_json_schema(additional))
    return Object(fields, closed=additional is False)


def _typed(kind: str, node: Mapping[str, Any]) -> Schema:
    if kind == "object":
        return _object(node)
    if kind == "array":
        items = node.get("items")
        return Array(compile_json_schema(items) if isinstance(items, Mapping) else AnyValue(),
                     min_items=_int(node.get("minItems")), max_items=_int(node.get("maxItems")),
                     unique_items=node.get("uniqueItems") is True)
    if kind == "string":
        return String(min_length=_int(node.get("minLength")),
                      max_length=_int(node.get("maxLength")),
                      pattern=_pattern(node.get("pattern")))
    if kind == "integer":
        return Integer(minimum=_int(node.get("minimum")), maximum=_int(node.get("maximum")))
    if kind == "number":
        return Number(minimum=node.get("minimum"), maximum=node.get("maximum"))
    if kind == "boolean":
        return Boolean()
    if kind == "null":
        return Null()
    return AnyValue()


def compile_json_schema(node: Any) -> Schema:
    """The validator of one JSON Schema node."""
    if not isinstance(node, Mapping) or node is True:
        return AnyValue()
    parts: list[Schema] = []
    # As TypeBox reports them: the type first, then the value (``{type, const}`` gives both
    # "must be string" and "must be equal to constant" for a number).
    kind = node.get("type")
    if isinstance(kind, str):
        parts.append(_typed(kind, node))
    elif isinstance(kind, list):
        parts.append(AnyOf(tuple(_typed(str(k), node) for k in kind)))
    elif "properties" in node or "required" in node:
        # Object keywords without a type (``not: {required: [...]}``) constrain objects.
        parts.append(_object(node))
    if "const" in node:
        parts.append(Const(node["const"]))
    elif isinstance(node.get("enum"), list):
        values = node["enum"]
        parts.append(Enum(tuple(values)) if all(isinstance(v, str) for v in values)
                     else AnyOf(tuple(Const(v) for v in values)))
    if isinstance(node.get("anyOf"), list):
        parts.append(AnyOf(tuple(compile_json_schema(sub) for sub in node["anyOf"])))
    if isinstance(node.get("allOf"), list):
        parts.extend(compile_json_schema(sub) for sub in node["allOf"])
    if isinstance(node.get("not"), Mapping):
        parts.append(Not(compile_json_schema(node["not"])))
    if not parts:
        return AnyValue()
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))
