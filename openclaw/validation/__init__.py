"""One validator kit for parsed JSON: config sections and HTTP request bodies.

* :mod:`.specs`: the value specs (strings, numbers, integers, booleans, enums, literals,
  arrays, maps, objects strict or not, unions and discriminated unions, optional/nullable),
  each converting a value and describing itself as JSON Schema, with zod 4's semantics.
* :mod:`.messages`: zod 4's English wording, and the hints OpenClaw's config validator adds.

The bottom of the dependency graph: it imports nothing else from ``openclaw``, so both
:mod:`openclaw.config` (typed sections, defaults, ``config.schema``) and
:mod:`openclaw.gateway.http` (request bodies) build on it without importing each other.
The WebSocket RPC params use a different validator on purpose
(:mod:`openclaw.gateway.protocol.schema`: TypeBox/AJV wording).
"""

from __future__ import annotations

from openclaw.validation.messages import MISSING, type_name
from openclaw.validation.specs import (
    INVALID,
    Bool,
    Context,
    Enum,
    Int,
    Issue,
    LeanRepr,
    ListOf,
    Literal,
    MapOf,
    Nullable,
    Num,
    Obj,
    OneOf,
    Optional,
    Path,
    Spec,
    Str,
    Tagged,
    Transformed,
    Unknown,
    nullable,
    nullish,
    optional,
)

__all__ = [
    "INVALID",
    "MISSING",
    "Bool",
    "Context",
    "Enum",
    "Int",
    "Issue",
    "LeanRepr",
    "ListOf",
    "Literal",
    "MapOf",
    "Nullable",
    "Num",
    "Obj",
    "OneOf",
    "Optional",
    "Path",
    "Spec",
    "Str",
    "Tagged",
    "Transformed",
    "Unknown",
    "nullable",
    "nullish",
    "optional",
    "type_name",
]
