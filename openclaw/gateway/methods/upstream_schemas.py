"""Upstream's params schemas, compiled on first use (``upstream_params.json.gz``).

``params_schema("chat.startup")`` is the validator of that method's params exactly as the
real gateway declares them (closed objects, same bounds, same error text). The data comes
from the Control UI reference (``_gen_upstream_params``).
"""

from __future__ import annotations

import functools
import gzip
import json
import pathlib
from typing import Any

from openclaw.gateway.protocol.json_schema import compile_json_schema
from openclaw.gateway.protocol.schema import Schema

_DATA = pathlib.Path(__file__).with_name("upstream_params.json.gz")


@functools.cache
def _methods() -> dict[str, Any]:
    with gzip.open(_DATA, "rb") as handle:
        data: dict[str, Any] = json.loads(handle.read().decode("utf-8"))
    methods: dict[str, Any] = data["methods"]
    return methods


def upstream_method_names() -> frozenset[str]:
    return frozenset(_methods())


@functools.cache
def params_schema(method: str) -> Schema:
    """The compiled params schema of ``method``; KeyError when upstream has none."""
    return compile_json_schema(_methods()[method])
