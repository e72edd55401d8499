"""The key tree of the real OpenClaw 2026.9 config schema, loaded lazily.

``upstream_keys.json.gz`` is produced by ``_gen_upstream_keys.py`` from the schema the real
CLI prints.  It answers two questions without shipping the 2.4 MB schema:

* is ``gateway.tls`` a real key (unsupported here, kept) or a typo like ``gateway.prot``?
* is ``channels.telegram.botToken`` a secret input (string or SecretRef) to redact?

Node encoding: ``0`` plain value, ``1`` secret input, ``dict`` object whose ``"*"`` child
stands for any key (free-form maps) and ``"[]"`` child for array items.
"""

from __future__ import annotations

import functools
import gzip
import json
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

from openclaw.config.errors import PathSegment

__all__ = [
    "ANY_KEY",
    "ITEMS",
    "SECRET",
    "UpstreamNode",
    "child_node",
    "node_at",
    "top_level_sections",
    "upstream_tree",
]

ANY_KEY = "*"
ITEMS = "[]"
LEAF = 0
SECRET = 1
_DATA_FILE = pathlib.Path(__file__).with_name("upstream_keys.json.gz")

UpstreamNode = int | Mapping[str, Any]


@functools.cache
def upstream_tree() -> Mapping[str, Any]:
    """The whole key tree (read and decompressed once, on first use)."""
    tree = json.loads(gzip.decompress(_DATA_FILE.read_bytes()))
    if not isinstance(tree, dict):
        raise RuntimeError(f"{_DATA_FILE} does not hold a key tree")
    return tree


def top_level_sections() -> frozenset[str]:
    """Names of the real schema's top-level sections (``gateway``, ``channels``, ...)."""
    return frozenset(key for key in upstream_tree() if key not in (ANY_KEY, ITEMS))


def child_node(node: UpstreamNode | None, segment: PathSegment) -> UpstreamNode | None:
    """The node for one step below ``node``; None when the real schema has no such key."""
    if not isinstance(node, Mapping):
        return None
    if isinstance(segment, int):
        return node.get(ITEMS)
    found: UpstreamNode | None = node.get(segment)
    if found is not None and segment not in (ANY_KEY, ITEMS):
        return found
    return node.get(ANY_KEY)


def node_at(path: Iterable[PathSegment]) -> UpstreamNode | None:
    """The node at ``path`` from the root (keys of maps match ``"*"``), or None if unknown."""
    node: UpstreamNode | None = upstream_tree()
    for segment in path:
        node = child_node(node, segment)
        if node is None:
            return None
    return node
