"""zod 4's English messages, and the hints OpenClaw's config validator appends to them.

The wording is zod's ``locales/en`` (``Invalid input: expected number, received string``,
``Too big: expected number to be <=65535``, ``Unrecognized key: "prot"`` ...). The hints are
what the real config validator adds when it turns a zod issue into a config issue
(``appendNumericBoundHint``: ``(minimum: 1)``, ``(must be greater than 0)``,
``(maximum: 65535)``; ``appendAllowedValuesHint``: ``(allowed: true, false)``,
``(allowed: "off", "hot", ...)``). Specs attach hints to issues; whoever renders an issue
decides whether to show them (config does, HTTP bodies do not).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

INVALID_INPUT: Final = "Invalid input"
INVALID_INT: Final = "Invalid input: expected int, received number"
INVALID_URL: Final = "Invalid URL"
INVALID_RECORD_KEY: Final = "Invalid key in record"
BOOLEAN_HINT: Final = "(allowed: true, false)"
MAX_ALLOWED_SHOWN: Final = 12

Quote = Callable[[Any], str]


class Undefined:
    """The value of a key that is not there (JavaScript's ``undefined``)."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = Undefined()


def type_name(value: Any) -> str:
    """The name zod 4 prints after ``received`` (``parsedType`` + the locale's renaming)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return "number"
    if isinstance(value, int):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    if value is MISSING:
        return "undefined"
    return type(value).__name__


def zod_quote(value: Any) -> str:
    """zod's ``stringifyPrimitive``: strings in plain double quotes, others as JavaScript."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def json_quote(value: Any) -> str:
    """A JSON string literal (escapes quotes and control characters; keeps non-ASCII)."""
    return json.dumps(value, ensure_ascii=False)


def invalid_type(expected: str, received: str) -> str:
    return f"Invalid input: expected {expected}, received {received}"


def invalid_value(values: Sequence[Any]) -> str:
    """A value outside a literal or an enum."""
    if len(values) == 1:
        return f"Invalid input: expected {zod_quote(values[0])}"
    return "Invalid option: expected one of " + "|".join(zod_quote(item) for item in values)


def invalid_discriminator(options: Iterable[str]) -> str:
    """A discriminated union's tag that names no option."""
    return "Invalid discriminator value. Expected " + " | ".join(f"'{o}'" for o in options)


def unrecognized_keys(keys: Sequence[str], quote: Quote = zod_quote) -> str:
    noun = "key" if len(keys) == 1 else "keys"
    return f"Unrecognized {noun}: " + ", ".join(quote(key) for key in keys)


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def number_too_small(bound: float, *, inclusive: bool) -> tuple[str, str]:
    """The message and the config hint of a number below its minimum."""
    shown = _bound(bound)
    if inclusive:
        return f"Too small: expected number to be >={shown}", f"(minimum: {shown})"
    return f"Too small: expected number to be >{shown}", f"(must be greater than {shown})"


def number_too_big(bound: float) -> tuple[str, str]:
    """The message and the config hint of a number above its (inclusive) maximum."""
    shown = _bound(bound)
    return f"Too big: expected number to be <={shown}", f"(maximum: {shown})"


def too_short(origin: str, minimum: int) -> str:
    unit = "characters" if origin == "string" else "items"
    return f"Too small: expected {origin} to have >={minimum} {unit}"


def too_long(origin: str, maximum: int) -> str:
    unit = "characters" if origin == "string" else "items"
    return f"Too big: expected {origin} to have <={maximum} {unit}"


def pattern_mismatch(pattern: str) -> str:
    return f"Invalid string: must match pattern /{pattern}/"


def allowed_hint(values: Iterable[Any]) -> str:
    """``(allowed: "a", "b", ... (+N more))``: the first twelve values, JSON-quoted."""
    items = list(values)
    shown = ", ".join(json.dumps(item) for item in items[:MAX_ALLOWED_SHOWN])
    hidden = len(items) - MAX_ALLOWED_SHOWN
    if hidden > 0:
        shown += f", ... (+{hidden} more)"
    return f"(allowed: {shown})"
