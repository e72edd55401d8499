"""Request-body schemas in zod's vocabulary, built on the shared validator kit.

Upstream validates bodies with zod and answers the first issue as
``"<path joined by .>: <message>"`` (``parseGatewayJsonRequest``), e.g.
``temperature: Invalid input: expected number, received string`` or, for an unknown key on a
strict object, ``: Unrecognized key: "foo"``. The constructors here read like upstream's zod
declarations (``opt(Num(integer=True, positive=True))`` is
``z.number().int().positive().optional()``) and build :mod:`openclaw.validation` specs, so
bodies and config share one implementation of types, checks and wording.

Three answers differ from zod 4 (the real gateway runs zod 4.6.5) and are kept as this API
has always given them; they live in ``_BodyContext`` alone, and tests pin them, so changing
one is a deliberate decision:

* a union answers any failure as a whole, ``input: Invalid input`` (zod reports the issues of
  the only branch that failed on checks alone, e.g. ``input.0: Unrecognized key: "extra"``);
* a missing required union, enum or literal is ``Invalid input: expected unknown, received
  undefined`` (zod: ``Invalid input``, ``Invalid option: ...``, ``Invalid input: expected
  "function"``);
* a number too large for a double (``1e999``, read as infinity) is received as ``number``
  (zod: ``Infinity``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import openclaw.validation as kit
from openclaw.validation import (
    MISSING,
    Bool,
    Context,
    Literal,
    Nullable,
    Obj,
    OneOf,
    Path,
    Spec,
    Str,
    Tagged,
    nullish,
    optional,
)
from openclaw.validation.messages import INVALID_INPUT

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


class _BodyContext(Context):
    """The HTTP API's pre-kit answers (see the module docstring)."""

    def received(self, value: Any) -> str:
        if isinstance(value, float) and math.isinf(value):
            return "number"
        return super().received(value)

    def missing(self, spec: Spec, path: Path) -> None:
        inner = spec.inner if isinstance(spec, Nullable) else spec
        if isinstance(inner, Literal | kit.Enum | OneOf):
            self.invalid_type(path, "unknown", MISSING)
        else:
            super().missing(spec, path)

    def union_failed(self, path: Path, soft_failures: list[Context]) -> None:
        self.add(path, INVALID_INPUT, hard=True)


def first_issue(schema: Spec, value: Any) -> str | None:
    """The upstream 400 message of the first problem, or None when ``value`` is valid."""
    ctx = _BodyContext()
    schema.convert(value, (), ctx)
    if not ctx.issues:
        return None
    issue = ctx.issues[0]
    return ".".join(str(part) for part in issue.path) + ": " + issue.message

