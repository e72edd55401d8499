"""Generate ``upstream_keys.json.gz``: the key tree of the real OpenClaw config schema.

The real CLI prints its JSON Schema with ``openclaw config schema`` (2.4 MB for 2026.9.6).
We only need to know which keys exist (to tell a typo from a real-but-unimplemented key)
and which values are secret inputs (to redact them), so this script reduces the schema to a
nested tree of property names::

    node := 0                 a value with no structure we track (string, number, ...)
          | 1                 a secret input: a string or a SecretRef object
          | {key: node, ...}  an object; two reserved keys:
                                "*"  = any other key is allowed, its value is this node
                                       (free-form maps: agents.entries, models.providers, ...)
                                "[]" = the value (also) is an array whose items are this node

Unions (anyOf/oneOf/allOf) are merged branch by branch.  Run it again when the upstream
version changes::

    python -m openclaw.config._gen_upstream_keys path/to/config-schema.json

It writes ``openclaw/config/upstream_keys.json.gz`` next to this file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import sys
from typing import Any

Node = int | dict[str, Any]

LEAF = 0
SECRET = 1
ANY_KEY = "*"
ITEMS = "[]"
_SECRET_REF_KEYS = frozenset({"source", "provider", "id"})
OUTPUT_NAME = "upstream_keys.json.gz"


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for keyword in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(keyword) or ():
            if isinstance(branch, dict):
                found.append(branch)
    return found


def _flat_branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    nested = _branches(schema)
    if not nested:
        return [schema]
    flat: list[dict[str, Any]] = []
    for branch in nested:
        flat.extend(_flat_branches(branch))
    return flat


def _is_secret_ref(schema: dict[str, Any]) -> bool:
    return set((schema.get("properties") or {}).keys()) == _SECRET_REF_KEYS


def _is_secret_input(schema: dict[str, Any]) -> bool:
    flat = _flat_branches(schema)
    return any(_is_secret_ref(b) for b in flat) and any(b.get("type") == "string" for b in flat)


def merge_nodes(left: Node, right: Node) -> Node:
    """Union of two nodes: objects merge key by key, leaves keep the stronger marker."""
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = merge_nodes(merged[key], value) if key in merged else value
        return merged
    if isinstance(left, dict):
        return left
    if isinstance(right, dict):
        return right
    return max(left, right)


def convert(schema: Any) -> Node:
    """Reduce one JSON Schema node to a key-tree node."""
    if not isinstance(schema, dict):
        return LEAF
    if _is_secret_input(schema):
        return SECRET
    node: Node = LEAF
    for branch in _branches(schema):
        node = merge_nodes(node, convert(branch))
    properties = schema.get("properties")
    is_object = schema.get("type") == "object" or properties is not None
    if is_object:
        obj: dict[str, Any] = {}
        for key, child in (properties or {}).items():
            if key in (ANY_KEY, ITEMS):
                raise ValueError(f"schema property name collides with a marker: {key!r}")
            obj[key] = convert(child)
        extra = schema.get("additionalProperties", True)
        if isinstance(extra, dict):
            obj[ANY_KEY] = convert(extra)
        elif extra is True:
            obj[ANY_KEY] = LEAF
        node = merge_nodes(node, obj)
    items = schema.get("items")
    if isinstance(items, dict):
        item_node = convert(items)
        if item_node != LEAF:
            node = merge_nodes(node if isinstance(node, dict) else {}, {ITEMS: item_node})
    return node


def build_tree(schema: dict[str, Any]) -> dict[str, Any]:
    tree = convert(schema)
    if not isinstance(tree, dict):
        raise ValueError("the root of the config schema is not an object")
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("schema", help="config-schema.json printed by `openclaw config schema`")
    parser.add_argument(
        "--output",
        default=str(pathlib.Path(__file__).with_name(OUTPUT_NAME)),
        help="where to write the gzipped key tree (default: next to this script)",
    )
    args = parser.parse_args(argv)
    with open(args.schema, encoding="utf-8") as handle:
        schema = json.load(handle)
    tree = build_tree(schema)
    payload = json.dumps(tree, separators=(",", ":"), sort_keys=True).encode("utf-8")
    # mtime=0 keeps the output byte-identical across runs.
    with open(args.output, "wb") as handle:
        handle.write(gzip.compress(payload, compresslevel=9, mtime=0))
    print(
        f"wrote {args.output}: {len(tree)} top-level sections, {len(payload)} bytes of JSON",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
