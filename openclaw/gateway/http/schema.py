"""A small zod-like validator for request bodies, with zod 4's messages.

Upstream validates bodies with zod and answers the first issue as
``"<path joined by .>: <message>"`` (``parseGatewayJsonRequest``), e.g.
``temperature: Invalid input: expected number, received string`` or, for an unknown key on a
strict object, ``: Unrecognized key: "foo"``. This module reproduces the subset the HTTP API
needs: objects (passthrough or strict), strings, booleans, numbers (int/positive/min/max),
arrays, records, literals, enums, unions and discriminated unions, each optional/nullable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

Path = tuple[str | int, ...]


class Issue(Exception):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def text(self) -> str:
        return ".".join(str(part) for part in self.path) + ": " + self.message


def type_name(value: Any) -> str:
    """zod's ``parsedType``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


_MISSING = object()


def _received(value: Any) -> str:
    return "undefined" if value is _MISSING else type_name(value)


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Schema:
    optional: bool = False
    nullable: bool = False

    def check(self, value: Any, path: Path) -> None:
        if value is _MISSING:
            if self.optional:
                return
            raise Issue(path, f"Invalid input: expected {self.expected}, received undefined")
        if value is None and self.nullable:
            return
        self._check(value, path)

    expected = "unknown"

    def _check(self, value: Any, path: Path) -> None:
        raise NotImplementedError


def opt(schema: Schema) -> Schema:
    return attrs.evolve(schema, optional=True)  # type: ignore[misc]


def nullish(schema: Schema) -> Schema:
    return attrs.evolve(schema, optional=True, nullable=True)  # type: ignore[misc]


@attrs.frozen
class Unknown(Schema):
    optional: bool = True
    nullable: bool = True

    def _check(self, value: Any, path: Path) -> None:
        return None


@attrs.frozen
class Str(Schema):
    min_length: int | None = None
    url: bool = False
    optional: bool = False
    nullable: bool = False
    expected = "string"

    def _check(self, value: Any, path: Path) -> None:
        if not isinstance(value, str):
            raise Issue(path, f"Invalid input: expected string, received {type_name(value)}")
        if self.min_length is not None and len(value) < self.min_length:
            raise Issue(path, f"Too small: expected string to have >={self.min_length} "
                              "characters")
        if self.url and "://" not in value:
            raise Issue(path, "Invalid URL")


@attrs.frozen
class Bool(Schema):
    optional: bool = False
    nullable: bool = False
    expected = "boolean"

    def _check(self, value: Any, path: Path) -> None:
        if not isinstance(value, bool):
            raise Issue(path, f"Invalid input: expected boolean, received {type_name(value)}")


@attrs.frozen
class Num(Schema):
    integer: bool = False
    positive: bool = False
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False
    nullable: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "number"

    def _check(self, value: Any, path: Path) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise Issue(path, f"Invalid input: expected number, received {type_name(value)}")
        if self.integer and not (isinstance(value, int) or float(value).is_integer()):
            raise Issue(path, "Invalid input: expected int, received number")
        if self.positive and value <= 0:
            raise Issue(path, "Too small: expected number to be >0")
        if self.minimum is not None and value < self.minimum:
            raise Issue(path, f"Too small: expected number to be >={_num(self.minimum)}")
        if self.maximum is not None and value > self.maximum:
            raise Issue(path, f"Too big: expected number to be <={_num(self.maximum)}")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@attrs.frozen
class Literal(Schema):
    value: Any
    optional: bool = False
    nullable: bool = False

    def _check(self, value: Any, path: Path) -> None:
        if value != self.value or type(value) is not type(self.value):
            raise Issue(path, f"Invalid input: expected {_quote(self.value)}")


@attrs.frozen
class Enum(Schema):
    values: tuple[Any, ...]
    optional: bool = False
    nullable: bool = False

    def _check(self, value: Any, path: Path) -> None:
        if value not in self.values or isinstance(value, bool):
            if len(self.values) == 1:
                raise Issue(path, f"Invalid input: expected {_quote(self.values[0])}")
            raise Issue(path, "Invalid option: expected one of "
                              + "|".join(_quote(v) for v in self.values))


@attrs.frozen
class Arr(Schema):
    items: Schema
    optional: bool = False
    nullable: bool = False
    expected = "array"

    def _check(self, value: Any, path: Path) -> None:
        if not isinstance(value, list):
            raise Issue(path, f"Invalid input: expected array, received {type_name(value)}")
        for index, item in enumerate(value):
            self.items.check(item, (*path, index))


@attrs.frozen
class Record(Schema):
    values: Schema
    optional: bool = False
    nullable: bool = False
    expected = "record"

    def _check(self, value: Any, path: Path) -> None:
        if not isinstance(value, dict):
            raise Issue(path, f"Invalid input: expected record, received {type_name(value)}")
        for key, item in value.items():
            self.values.check(item, (*path, key))


@attrs.frozen
class Obj(Schema):
    fields: Mapping[str, Schema]
    strict: bool = False
    optional: bool = False
    nullable: bool = False
    expected = "object"

    def _check(self, value: Any, path: Path) -> None:
        if not isinstance(value, dict):
            raise Issue(path, f"Invalid input: expected object, received {type_name(value)}")
        for name, schema in self.fields.items():
            schema.check(value.get(name, _MISSING), (*path, name))
        if self.strict:
            extra = [key for key in value if key not in self.fields]
            if extra:
                plural = "s" if len(extra) > 1 else ""
                raise Issue(path, f"Unrecognized key{plural}: "
                                  + ", ".join(_quote(key) for key in extra))


@attrs.frozen
class Union(Schema):
    options: Sequence[Schema]
    optional: bool = False
    nullable: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "unknown"

    def _check(self, value: Any, path: Path) -> None:
        for option in self.options:
            try:
                option.check(value, path)
                return
            except Issue:
                continue
        raise Issue(path, "Invalid input")


@attrs.frozen
class Tagged(Schema):
    """A discriminated union on ``key``."""

    key: str
    options: Mapping[str, Schema]
    optional: bool = False
    nullable: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "object"

    def _check(self, value: Any, path: Path) -> None:
        if not isinstance(value, dict):
            raise Issue(path, f"Invalid input: expected object, received {type_name(value)}")
        tag = value.get(self.key)
        option = self.options.get(tag) if isinstance(tag, str) else None
        if option is None:
            raise Issue((*path, self.key), "Invalid input")
        option.check(value, path)


def first_issue(schema: Schema, value: Any) -> str | None:
    """The upstream 400 message of the first problem, or None when ``value`` is valid."""
    try:
        schema.check(value, ())
    except Issue as issue:
        return issue.text()
    return None
