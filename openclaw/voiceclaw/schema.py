"""Tool parameter schemas in the JSON Schema subset Gemini accepts (``cleanSchemaForGemini``).

Gemini's function declarations reject many JSON Schema keywords. The real 2026.9 cleaner
drops them (``additionalProperties``, ``$ref``/``$defs`` after resolving local references,
string/number/array bounds, ``format``, ``pattern``, ``not`` ...), turns ``const`` into a
one-value ``enum`` and enum values into strings, removes ``null`` from unions and type lists,
flattens unions of literals into an ``enum``, falls back to one representative type for other
unions, and keeps ``required`` only for properties that exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["EMPTY_PARAMETERS", "GEMINI_UNSUPPORTED_KEYWORDS", "clean_schema_for_gemini",
           "gemini_parameters"]

GEMINI_UNSUPPORTED_KEYWORDS: Final = frozenset({
    "~optional", "patternProperties", "additionalProperties", "$schema", "$id", "$ref", "$defs",
    "definitions", "examples", "minLength", "maxLength", "minimum", "maximum", "multipleOf",
    "pattern", "format", "minItems", "maxItems", "uniqueItems", "minProperties",
    "maxProperties", "not",
})
_META_KEYS: Final = ("description", "title", "default")
EMPTY_PARAMETERS: Final[Mapping[str, Any]] = {"type": "object", "properties": {}}

Defs = Mapping[str, Any]


def _copy_meta(source: Mapping[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    for key in _META_KEYS:
        if source.get(key) is not None:
            target[key] = source[key]
    return target


def _enum_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else str(value)
    return None


def _enum_values(values: Any) -> list[str] | None:
    if not isinstance(values, list):
        return None
    out: list[str] = []
    for value in values:
        text = _enum_text(value)
        if text is not None and text not in out:
            out.append(text)
    return out or None


def _is_null(variant: Any) -> bool:
    if not isinstance(variant, Mapping):
        return False
    if "const" in variant and variant["const"] is None:
        return True
    enum = variant.get("enum")
    if isinstance(enum, list) and len(enum) == 1 and enum[0] is None:
        return True
    kind = variant.get("type")
    return kind == "null" or (isinstance(kind, list) and kind == ["null"])


def _literal_enum(variants: Sequence[Any]) -> dict[str, Any] | None:
    """``anyOf`` of same-typed constants -> ``{"type", "enum"}``."""
    kind: str | None = None
    values: list[Any] = []
    for variant in variants:
        if not isinstance(variant, Mapping) or not isinstance(variant.get("type"), str):
            return None
        if "const" in variant:
            values.append(variant["const"])
        elif isinstance(variant.get("enum"), list) and len(variant["enum"]) == 1:
            values.append(variant["enum"][0])
        else:
            return None
        if kind is None:
            kind = variant["type"]
        elif kind != variant["type"]:
            return None
    if kind is None or not values:
        return None
    return {"type": kind, "enum": values}


def _defs_of(schema: Mapping[str, Any], defs: Defs) -> Defs:
    found = {**defs}
    for key in ("$defs", "definitions"):
        entries = schema.get(key)
        if isinstance(entries, Mapping):
            found.update(entries)
    return found


def _resolve_ref(ref: str, defs: Defs) -> Any:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            name = ref[len(prefix):].replace("~1", "/").replace("~0", "~")
            return defs.get(name) if name else None
    return None


def _fallback(schema: Mapping[str, Any], variants: Sequence[Any]) -> dict[str, Any] | None:
    """A union nothing simpler fits: one representative type (Gemini has no real unions)."""
    objects = [v for v in variants if isinstance(v, Mapping)]
    if not objects:
        return None
    if len(objects) == 1:
        return _copy_meta(schema, dict(objects[0]))
    types = {v["type"] for v in objects if isinstance(v.get("type"), str)}
    if len(types) == 1:
        return _copy_meta(schema, {"type": types.pop()})
    first = objects[0].get("type")
    return _copy_meta(schema, {"type": first} if first else {})


def _sanitize_required(schema: dict[str, Any]) -> dict[str, Any]:
    required = schema.get("required")
    if not isinstance(required, list):
        return schema
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        if schema.get("type") == "object":
            del schema["required"]
        return schema
    kept = [name for name in required if isinstance(name, str) and name in properties]
    if kept:
        schema["required"] = kept
    else:
        del schema["required"]
    return schema


def _clean(schema: Any, defs: Defs, refs: frozenset[str], seen: frozenset[int]) -> Any:
    if isinstance(schema, list):
        return [_clean(item, defs, refs, seen) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    if id(schema) in seen:
        raise ValueError("Tool schema contains a circular reference.")
    seen = seen | {id(schema)}
    defs = _defs_of(schema, defs)
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in refs:
            return {}
        target = _resolve_ref(ref, defs)
        if target is None:
            return _copy_meta(schema, {})
        cleaned = _clean(target, defs, refs | {ref}, frozenset())
        return _copy_meta(schema, dict(cleaned)) if isinstance(cleaned, Mapping) else cleaned

    unions: dict[str, list[Any]] = {}
    for key in ("anyOf", "oneOf"):
        variants = schema.get(key)
        if isinstance(variants, list):
            cleaned_variants = [_clean(v, defs, refs, seen) for v in variants]
            non_null = [v for v in cleaned_variants if not _is_null(v)]
            literal = _literal_enum(non_null)
            if literal is not None:
                return _copy_meta(schema, literal)
            if len(non_null) == 1 and len(non_null) != len(cleaned_variants):
                lone = non_null[0]
                return _copy_meta(schema, dict(lone)) if isinstance(lone, Mapping) else lone
            unions[key] = non_null if len(non_null) != len(cleaned_variants) \
                else cleaned_variants

    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in GEMINI_UNSUPPORTED_KEYWORDS:
            continue
        if key in ("const", "enum"):
            values = _enum_values([value] if key == "const" else value)
            if values is not None:
                out["enum"] = values
        elif (key == "required" and isinstance(value, list) and not value) or \
                (key == "type" and unions):
            continue  # an empty required list; a union's own type (its variants decide)
        elif key == "type" and isinstance(value, list) and all(isinstance(t, str) for t in value):
            types = [t for t in value if t != "null"]
            out["type"] = types[0] if len(types) == 1 else types
        elif key == "properties":
            out[key] = ({name: _clean(item, defs, refs, seen) for name, item in value.items()}
                        if isinstance(value, Mapping) else {})
        elif key == "items" and isinstance(value, Mapping | list):
            out[key] = _clean(value, defs, refs, seen)
        elif key in unions:
            out[key] = unions[key]
        elif key == "allOf" and isinstance(value, list):
            out[key] = [_clean(item, defs, refs, seen) for item in value]
        else:
            out[key] = value
    for key in ("anyOf", "oneOf"):
        variants = out.get(key)
        if isinstance(variants, list):
            flattened = _fallback(out, variants)
            if flattened is not None:
                return _sanitize_required(flattened)
    return _sanitize_required(out)


def clean_schema_for_gemini(schema: Any) -> Any:
    """``schema`` without what Gemini's function declarations reject (see the module doc)."""
    return _clean(schema, {}, frozenset(), frozenset())


def gemini_parameters(schema: Any) -> dict[str, Any]:
    """A tool's ``parameters`` for a Gemini function declaration (an object schema)."""
    try:
        cleaned = clean_schema_for_gemini(schema)
    except ValueError:
        cleaned = None
    if not isinstance(cleaned, Mapping) or not cleaned:
        return dict(EMPTY_PARAMETERS)
    return dict(cleaned)
