"""A small closed-object validator whose messages match the real gateway's.

The real gateway validates frames and params with TypeBox and formats errors with
``formatValidationErrors`` (``at /client/mode: must be equal to one of the allowed values``).
Clients show these strings to operators, so we produce the same text: per object first the
missing required properties (only the first name is printed), then unexpected properties
(first name), then each present property in declaration order; at most eight raw errors.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

MAX_RAW_ERRORS: Final = 8


@attrs.frozen
class ValidationIssue:
    path: str
    keyword: str
    message: str


class _Collector:
    __slots__ = ("issues",)

    def __init__(self) -> None:
        self.issues: list[ValidationIssue] = []

    @property
    def full(self) -> bool:
        return len(self.issues) >= MAX_RAW_ERRORS

    def add(self, path: str, keyword: str, message: str) -> None:
        if not self.full:
            self.issues.append(ValidationIssue(path, keyword, message))


class Schema:
    """Base class; subclasses implement :meth:`check`."""

    def check(self, value: Any, path: str, out: _Collector) -> None:
        raise NotImplementedError


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _js_length(text: str) -> int:
    # JS string length counts UTF-16 code units; TypeBox checks lengths that way.
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


@attrs.frozen
class AnyValue(Schema):
    def check(self, value: Any, path: str, out: _Collector) -> None:
        return None


@attrs.frozen
class String(Schema):
    min_length: int | None = None
    max_length: int | None = None
    # An ECMAScript pattern; the common subset with Python's ``re`` (upstream's patterns).
    pattern: str | None = None
    _compiled: re.Pattern[str] | None = attrs.field(init=False, default=None, eq=False,
                                                    repr=False)

    def __attrs_post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not isinstance(value, str):
            out.add(path, "type", "must be string")
            return
        length = _js_length(value)
        if self.min_length is not None and length < self.min_length:
            out.add(path, "minLength", f"must not have fewer than {self.min_length} characters")
        elif self.max_length is not None and length > self.max_length:
            out.add(path, "maxLength", f"must not have more than {self.max_length} characters")
        if self._compiled is not None and self._compiled.search(value) is None:
            out.add(path, "pattern", f'must match pattern "{self.pattern}"')


@attrs.frozen
class Integer(Schema):
    minimum: int | None = None
    maximum: int | None = None

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not _is_integer(value):
            out.add(path, "type", "must be integer")
            return
        if self.minimum is not None and value < self.minimum:
            out.add(path, "minimum", f"must be >= {self.minimum}")
        elif self.maximum is not None and value > self.maximum:
            out.add(path, "maximum", f"must be <= {self.maximum}")


@attrs.frozen
class Number(Schema):
    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not _is_number(value):
            out.add(path, "type", "must be number")
        elif self.minimum is not None and value < self.minimum:
            out.add(path, "minimum", f"must be >= {self.minimum:g}")
        elif self.maximum is not None and value > self.maximum:
            out.add(path, "maximum", f"must be <= {self.maximum:g}")


@attrs.frozen
class Null(Schema):
    def check(self, value: Any, path: str, out: _Collector) -> None:
        if value is not None:
            out.add(path, "type", "must be null")


@attrs.frozen
class Boolean(Schema):
    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not isinstance(value, bool):
            out.add(path, "type", "must be boolean")


@attrs.frozen
class Enum(Schema):
    values: tuple[str, ...]

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not isinstance(value, str) or value not in self.values:
            out.add(path, "enum", "must be equal to one of the allowed values")


@attrs.frozen
class Const(Schema):
    value: Any

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if value != self.value or type(value) is not type(self.value):
            out.add(path, "const", "must be equal to constant")


@attrs.frozen
class Array(Schema):
    items: Schema
    min_items: int | None = None
    max_items: int | None = None
    unique_items: bool = False

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not isinstance(value, list):
            out.add(path, "type", "must be array")
            return
        if self.min_items is not None and len(value) < self.min_items:
            out.add(path, "minItems", f"must not have fewer than {self.min_items} items")
        elif self.max_items is not None and len(value) > self.max_items:
            out.add(path, "maxItems", f"must not have more than {self.max_items} items")
        if self.unique_items and _has_duplicates(value):
            out.add(path, "uniqueItems", "must not have duplicate items")
        for index, item in enumerate(value):
            if out.full:
                return
            self.items.check(item, f"{path}/{index}", out)


def _has_duplicates(values: list[Any]) -> bool:
    seen: set[str] = set()
    for value in values:
        key = json.dumps(value, sort_keys=True)
        if key in seen:
            return True
        seen.add(key)
    return False


@attrs.frozen
class Record(Schema):
    """An object whose values fit ``values``; with ``key_pattern`` only the keys matching it
    are checked, and the others are refused when ``closed`` (else allowed as they are)."""

    values: Schema
    key_pattern: str | None = None
    max_properties: int | None = None
    closed: bool = True
    _compiled: re.Pattern[str] | None = attrs.field(init=False, default=None, eq=False,
                                                    repr=False)

    def __attrs_post_init__(self) -> None:
        if self.key_pattern is not None:
            object.__setattr__(self, "_compiled", re.compile(self.key_pattern))

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not isinstance(value, dict):
            out.add(path, "type", "must be object")
            return
        if self.max_properties is not None and len(value) > self.max_properties:
            out.add(path, "maxProperties",
                    f"must not have more than {self.max_properties} properties")
        for key, item in value.items():
            if out.full:
                return
            if self._compiled is not None and self._compiled.search(key) is None:
                if self.closed:
                    out.add(path, "additionalProperties", f"unexpected property '{key}'")
                continue
            self.values.check(item, f"{path}/{_escape_pointer(key)}", out)


@attrs.frozen
class AnyOf(Schema):
    """A union (TypeBox ``Type.Union``): the issues of every branch, then the union's own."""

    options: tuple[Schema, ...]

    def check(self, value: Any, path: str, out: _Collector) -> None:
        branches: list[list[ValidationIssue]] = []
        for option in self.options:
            trial = _Collector()
            option.check(value, path, trial)
            if not trial.issues:
                return
            branches.append(trial.issues)
        for issues in branches:
            for issue in issues:
                out.add(issue.path, issue.keyword, issue.message)
        out.add(path, "anyOf", "must match a schema in anyOf")


@attrs.frozen
class AllOf(Schema):
    parts: tuple[Schema, ...]

    def check(self, value: Any, path: str, out: _Collector) -> None:
        for part in self.parts:
            part.check(value, path, out)


@attrs.frozen
class Not(Schema):
    inner: Schema

    def check(self, value: Any, path: str, out: _Collector) -> None:
        trial = _Collector()
        self.inner.check(value, path, trial)
        if not trial.issues:
            out.add(path, "not", "must not be valid")


def nullable(inner: Schema) -> AnyOf:
    """``T | null`` (TypeBox ``Type.Union([T, Type.Null()])``)."""
    return AnyOf((inner, Null()))


@attrs.frozen
class Field:
    schema: Schema
    required: bool = False


def required(schema: Schema) -> Field:
    return Field(schema, True)


def optional(schema: Schema) -> Field:
    return Field(schema, False)


@attrs.frozen
class Object(Schema):
    """A closed object (``additionalProperties: false``) unless ``closed`` is False; with
    ``extra`` the undeclared properties must fit that schema instead."""

    fields: Mapping[str, Field]
    closed: bool = True
    extra: Schema | None = None

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if not isinstance(value, dict):
            out.add(path, "type", "must be object")
            return
        missing = [
            name for name, field in self.fields.items() if field.required and name not in value
        ]
        if missing:
            out.add(path, "required", f"must have required property '{missing[0]}'")
        if self.closed and self.extra is None:
            extra = [key for key in value if key not in self.fields]
            if extra:
                out.add(path, "additionalProperties", f"unexpected property '{extra[0]}'")
        for name, field in self.fields.items():
            if out.full:
                return
            if name in value:
                field.schema.check(value[name], f"{path}/{_escape_pointer(name)}", out)
        if self.extra is not None:
            for key, item in value.items():
                if key not in self.fields and not out.full:
                    self.extra.check(item, f"{path}/{_escape_pointer(key)}", out)


def _escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def closed_object(**fields: Field) -> Object:
    return Object(fields)


NON_EMPTY_STRING: Final = String(min_length=1)
EMPTY_PARAMS: Final = Object({})


def validate(schema: Schema, value: Any) -> list[ValidationIssue]:
    """Return the raw issues (empty when ``value`` is valid)."""
    out = _Collector()
    schema.check(value, "", out)
    return out.issues


def format_issues(issues: Iterable[ValidationIssue]) -> str:
    """Join issues the way the real gateway's ``formatValidationErrors`` does."""
    parts: list[str] = []
    for issue in issues:
        if issue.keyword == "additionalProperties":
            where = f"at {issue.path}" if issue.path else "at root"
            text = f"{where}: {issue.message}"
        else:
            text = f"at {issue.path}: {issue.message}" if issue.path else issue.message
        if text not in parts:
            parts.append(text)
    return "; ".join(parts) if parts else "unknown validation error"


def validation_error_text(schema: Schema, value: Any) -> str | None:
    """``None`` when valid, else the formatted error text."""
    issues = validate(schema, value)
    return format_issues(issues) if issues else None
