"""Request-body schemas in zod's vocabulary, built on the shared validator kit.

Upstream validates bodies with zod and answers the first issue as
``"<path joined by .>: <message>"`` (``parseGatewayJsonRequest``), e.g.
``temperature: Invalid input: expected number, received string`` or, for an unknown key on a
strict object, ``: Unrecognized key: "foo"``. The constructors here read like upstream's zod
declarations (``opt(Num(integer=True, positive=True))`` is
``z.number().int().positive().optional()``) and build :mod:`openclaw.validation` specs, so
bodies and config share one implementation of types, checks and wording.

The answers are zod 4's, as the real gateway (zod 4.6.5) gives them, including the issues
of the one union branch that failed on checks alone (``input.0: Unrecognized key: "extra"``)
and ``received Infinity`` for ``1e999``; ``tests/gateway/http/test_body_schema.py`` pins the
cases checked against the real gateway's zod.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import openclaw.validation as kit
from openclaw.validation import (
    Bool,
    Context,
    Literal,
    Obj,
    Spec,
    Str,
    Tagged,
    nullish,
    optional,
)

__all__ = [
    "Arr",
    "Bool",
    "Enum",
    "Literal",
    "Num",
    "Obj",
    "Record",
    "Schema",
    "Str",
    "Tagged",
    "Union",
    "Unknown",
    "first_issue",
    "nullish",
    "opt",
]

Schema = Spec
Arr = kit.ListOf
Record = kit.MapOf
opt = optional


def Num(*, integer: bool = False, positive: bool = False, minimum: float | None = None,
        maximum: float | None = None) -> Spec:
    """``z.number()`` with ``.int()``, ``.positive()``, ``.min()``, ``.max()``."""
    kind = kit.Int if integer else kit.Num
    return kind(minimum=minimum, maximum=maximum, exclusive_minimum=0 if positive else None)


def Enum(values: Sequence[str]) -> Spec:
    """``z.enum([...])``."""
    return kit.Enum(*values, style="enum")


def Union(options: Sequence[Spec]) -> Spec:
    """``z.union([...])``."""
    return kit.OneOf(*options)


def Unknown() -> Spec:
    """``z.unknown()``: anything, and the key may be absent."""
    return optional(kit.Unknown())


def first_issue(schema: Spec, value: Any) -> str | None:
    """The upstream 400 message of the first problem, or None when ``value`` is valid."""
    ctx = Context()
    schema.convert(value, (), ctx)
    if not ctx.issues:
        return None
    issue = ctx.issues[0]
    return ".".join(str(part) for part in issue.path) + ": " + issue.message

