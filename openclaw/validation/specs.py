"""Value specs: validate parsed JSON, convert it, describe it as JSON Schema.

Each spec is a small frozen object with ``convert(value, path, ctx)`` (the converted value, or
:data:`INVALID` after recording issues in ``ctx``) and ``json_schema(schema_path)``. The
semantics are zod 4's where the two overlap: every issue is collected with its path (nothing
stops at the first), a missing key is converted as ``undefined`` (so it reads ``expected
string, received undefined``), a union reports the issues of its only branch that failed on
checks alone (zod's "non-aborted" branch) and otherwise ``Invalid input``.

Specs are attrs classes without generated ``__eq__``/``__repr__`` (see :class:`LeanRepr`):
the config imports the kit at gateway start, and every generated method is import time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, cast

import attrs

from openclaw.validation import messages
from openclaw.validation.messages import MISSING, type_name

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
]

Path = tuple[str | int, ...]


class LeanRepr:
    """One shared ``__repr__`` for attrs classes (specs, config sections).

    attrs' generated ``__repr__`` (and ``__eq__``) cost import time for every class; the
    config defines ~60 classes and the gateway must start in half a second.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{field.name}={getattr(self, field.name)!r}"
            for field in attrs.fields(cast(Any, type(self)))
            if field.repr
        )
        return f"{type(self).__name__}({shown})"


class _Invalid:
    """What a conversion that failed returns (its issues are in the context)."""

    _instance: ClassVar[_Invalid | None] = None

    def __new__(cls) -> _Invalid:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Any = _Invalid()


class Issue:
    """One problem at one path.

    ``hard`` issues are zod's aborting ones (wrong type, missing value, value outside an
    enum); the others are failed checks and unknown keys. ``hint`` is what OpenClaw's config
    validator appends to the message (``(minimum: 1)``); HTTP bodies do not show it. A plain
    slotted class: one is made per issue, on paths that try union branches.
    """

    __slots__ = ("hard", "hint", "message", "path")

    def __init__(self, path: Path, message: str, hard: bool, hint: str | None = None) -> None:
        self.path = path
        self.message = message
        self.hard = hard
        self.hint = hint

    def full_message(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def __repr__(self) -> str:
        return f"Issue({self.path!r}, {self.message!r}, hard={self.hard}, hint={self.hint!r})"


class Context:
    """Collects the issues found while one document is converted.

    Its methods are the few places where a consumer may word things its own way
    (:mod:`openclaw.gateway.http.schema` keeps the HTTP API's pre-kit answers there).
    """

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, path: Path, message: str, *, hard: bool = False, hint: str | None = None
            ) -> None:
        self.issues.append(Issue(path, message, hard, hint))

    def received(self, value: Any) -> str:
        """The ``received ...`` name of ``value``."""
        return type_name(value)

    def invalid_type(self, path: Path, expected: str, value: Any) -> Any:
        """Record zod's ``invalid_type`` issue; returns :data:`INVALID`."""
        hint = messages.BOOLEAN_HINT if expected == "boolean" else None
        self.add(path, messages.invalid_type(expected, self.received(value)), hard=True,
                 hint=hint)
        return INVALID

    def missing(self, spec: Spec, path: Path) -> None:
        """A required key is absent: zod converts ``undefined`` (``received undefined``)."""
        spec.convert(MISSING, path, self)

    def union_failed(self, path: Path, soft_failures: list[Context]) -> None:
        """No branch of a union accepted the value: zod 4 reports the issues of the only
        branch that failed softly (checks, unknown keys), else ``Invalid input``."""
        if len(soft_failures) == 1:
            self.issues.extend(soft_failures[0].issues)
        else:
            self.add(path, messages.INVALID_INPUT, hard=True)

    def fork(self) -> Context:
        """An empty context of the same kind, for trying one branch of a union."""
        return type(self)()

    def absorb(self, other: Context) -> None:
        """Take over everything ``other`` collected."""
        self.issues.extend(other.issues)


class Spec(Protocol):
    """A value type: converts parsed JSON to Python and describes itself as JSON Schema."""

    def convert(self, value: Any, path: Path, ctx: Context) -> Any: ...

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]: ...


def _check_bounds(value: float, path: Path, ctx: Context, minimum: float | None,
                  maximum: float | None, exclusive_minimum: float | None) -> bool:
    ok = True
    if minimum is not None and value < minimum:
        message, hint = messages.number_too_small(minimum, inclusive=True)
        ctx.add(path, message, hint=hint)
        ok = False
    if exclusive_minimum is not None and value <= exclusive_minimum:
        message, hint = messages.number_too_small(exclusive_minimum, inclusive=False)
        ctx.add(path, message, hint=hint)
        ok = False
    if maximum is not None and value > maximum:
        message, hint = messages.number_too_big(maximum)
        ctx.add(path, message, hint=hint)
        ok = False
    return ok


def _bounds_schema(schema: dict[str, Any], minimum: float | None, maximum: float | None,
                   exclusive_minimum: float | None) -> dict[str, Any]:
    if minimum is not None:
        schema["minimum"] = minimum
    if exclusive_minimum is not None:
        schema["exclusiveMinimum"] = exclusive_minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _is_mapping(value: Any) -> bool:
    # The common case first: ``isinstance`` against the ``Mapping`` ABC is slow.
    return type(value) is dict or isinstance(value, Mapping)


def _number(value: Any, path: Path, ctx: Context) -> Any:
    """``value`` when it is a finite JSON number (not a boolean), else INVALID."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ctx.invalid_type(path, "number", value)
    if isinstance(value, float) and not math.isfinite(value):
        return ctx.invalid_type(path, "number", value)
    return value


@attrs.frozen(repr=False, eq=False)
class Str(LeanRepr):
    """A string with optional length bounds, a regex, a URL check and a custom check."""

    min_length: int | None = None
    max_length: int | None = None
    min_length_message: str | None = None
    pattern: str | None = None
    pattern_message: str | None = None
    check: Callable[[str], str | None] | None = None
    """Extra validation: returns an error message, or None when the value is fine."""
    format: str | None = None
    """JSON Schema ``format`` (documentation only)."""
    url: bool = False
    """zod's ``.url()``, approximated: the value must contain ``://``."""

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not isinstance(value, str):
            return ctx.invalid_type(path, "string", value)
        ok = True
        if self.min_length is not None and len(value) < self.min_length:
            ctx.add(path, self.min_length_message
                    or messages.too_short("string", self.min_length))
            ok = False
        if self.max_length is not None and len(value) > self.max_length:
            ctx.add(path, messages.too_long("string", self.max_length))
            ok = False
        if self.pattern is not None and not re.search(self.pattern, value):
            ctx.add(path, self.pattern_message or messages.pattern_mismatch(self.pattern))
            ok = False
        if self.url and "://" not in value:
            ctx.add(path, messages.INVALID_URL)
            ok = False
        if ok and self.check is not None:
            problem = self.check(value)
            if problem is not None:
                ctx.add(path, problem)
                ok = False
        return value if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if self.format is not None or self.url:
            schema["format"] = self.format or "uri"
        return schema


@attrs.frozen(repr=False, eq=False)
class Int(LeanRepr):
    """An integer (JSON numbers like ``300.0`` count; ``1.5`` does not) with optional bounds."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        number = _number(value, path, ctx)
        if number is INVALID:
            return INVALID
        if isinstance(number, float):
            if not number.is_integer():
                ctx.add(path, messages.INVALID_INT, hard=True)
                return INVALID
            number = int(number)
        ok = _check_bounds(number, path, ctx, self.minimum, self.maximum,
                           self.exclusive_minimum)
        return number if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return _bounds_schema({"type": "integer"}, self.minimum, self.maximum,
                              self.exclusive_minimum)


@attrs.frozen(repr=False, eq=False)
class Num(LeanRepr):
    """A finite JSON number with optional bounds; integral values stay ``int``."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        number = _number(value, path, ctx)
        if number is INVALID:
            return INVALID
        ok = _check_bounds(number, path, ctx, self.minimum, self.maximum,
                           self.exclusive_minimum)
        return number if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return _bounds_schema({"type": "number"}, self.minimum, self.maximum,
                              self.exclusive_minimum)


@attrs.frozen(repr=False, eq=False)
class Bool(LeanRepr):
    """``true`` or ``false`` (no truthy strings)."""

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not isinstance(value, bool):
            return ctx.invalid_type(path, "boolean", value)
        return value

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"type": "boolean"}


@attrs.frozen(init=False, repr=False, eq=False)
class Enum(LeanRepr):
    """One of a fixed set of strings.

    ``style`` picks the real gateway's wording: ``"union"`` (a zod union of literals:
    ``Invalid input`` with the config hint ``(allowed: "a", "b")``) or ``"enum"`` (a zod
    enum: ``Invalid option: expected one of "a"|"b"``).
    """

    values: tuple[str, ...]
    style: str

    def __init__(self, *values: str, style: str = "union") -> None:
        if style not in ("union", "enum"):
            raise ValueError(f"unknown Enum style {style!r}")
        self.__attrs_init__(tuple(values), style)

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        if len(self.values) == 1 or self.style == "enum":
            ctx.add(path, messages.invalid_value(self.values), hard=True)
        else:
            ctx.add(path, messages.INVALID_INPUT, hard=True,
                    hint=messages.allowed_hint(self.values))
        return INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


@attrs.frozen(repr=False, eq=False)
class Literal(LeanRepr):
    """Exactly ``value`` (same JSON type): zod's ``literal``."""

    value: str | int | float | bool | None

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if value != self.value or type(value) is not type(self.value):
            ctx.add(path, messages.invalid_value((self.value,)), hard=True)
            return INVALID
        return value

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"const": self.value}


@attrs.frozen(repr=False, eq=False)
class Unknown(LeanRepr):
    """Any value, unchecked: zod's ``unknown``."""

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        return value

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {}


@attrs.frozen(repr=False, eq=False)
class ListOf(LeanRepr):
    """A JSON array; converted to a tuple."""

    item: Spec
    max_items: int | None = None

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not isinstance(value, list | tuple):
            return ctx.invalid_type(path, "array", value)
        ok = True
        if self.max_items is not None and len(value) > self.max_items:
            ctx.add(path, messages.too_long("array", self.max_items))
            ok = False
        converted = []
        for index, item in enumerate(value):
            result = self.item.convert(item, (*path, index), ctx)
            ok = ok and result is not INVALID
            converted.append(result)
        return tuple(converted) if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "array",
            "items": self.item.json_schema((*schema_path, "[]")),
        }
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema


@attrs.frozen(repr=False, eq=False)
class MapOf(LeanRepr):
    """A JSON object used as a map (zod's ``record``): ``agents.entries``, headers ...

    ``key_pattern`` rejects bad keys with ``key_message``. ``normalize_key`` maps keys to
    their canonical form in the converted mapping (e.g. agent ids are lowercased), and the
    first spelling wins. ``key_field`` names an attribute of the converted (attrs) value that
    receives the canonical key. The converted mapping is a ``container`` (a subclass may pick
    an immutable one).
    """

    container: ClassVar[Callable[[dict[str, Any]], Mapping[str, Any]]] = dict

    value: Spec
    key_pattern: str | None = None
    key_message: str = messages.INVALID_RECORD_KEY
    key_pattern_flags: int = 0
    normalize_key: Callable[[str], str] | None = None
    key_field: str | None = None

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not _is_mapping(value):
            return ctx.invalid_type(path, "record", value)
        ok = True
        converted: dict[str, Any] = {}
        for key, item in value.items():
            child_path = (*path, key)
            if self.key_pattern is not None and not re.search(
                    self.key_pattern, key, self.key_pattern_flags):
                ctx.add(child_path, self.key_message)
                ok = False
                continue
            result = self.value.convert(item, child_path, ctx)
            if result is INVALID:
                ok = False
                continue
            canonical = self.normalize_key(key) if self.normalize_key else key
            if self.key_field is not None:
                result = attrs.evolve(result, **{self.key_field: canonical})
            converted.setdefault(canonical, result)
        return type(self).container(converted) if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": self.value.json_schema((*schema_path, "*")),
        }
        if self.key_pattern is not None:
            schema["propertyNames"] = {"type": "string", "pattern": self.key_pattern}
        return schema


@attrs.frozen(repr=False, eq=False)
class Optional(LeanRepr):
    """The key may be absent (zod's ``.optional()``); only meaningful as an object field."""

    inner: Spec

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        return None if value is MISSING else self.inner.convert(value, path, ctx)

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return self.inner.json_schema(schema_path)


@attrs.frozen(repr=False, eq=False)
class Nullable(LeanRepr):
    """``null`` is accepted too (zod's ``.nullable()``)."""

    inner: Spec

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        return None if value is None else self.inner.convert(value, path, ctx)

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"anyOf": [self.inner.json_schema(schema_path), {"type": "null"}]}


def optional(spec: Spec) -> Spec:
    return Optional(spec)


def nullable(spec: Spec) -> Spec:
    return Nullable(spec)


def nullish(spec: Spec) -> Spec:
    """zod's ``.nullish()``: absent or ``null``."""
    return Optional(Nullable(spec))


@attrs.frozen(init=False, repr=False, eq=False)
class Obj(LeanRepr):
    """A JSON object with named fields (zod's ``object``), each required unless optional.

    Unknown keys are dropped, or with ``strict`` reported (``Unrecognized key: "x"``, after
    the fields' own issues, as zod does).
    """

    fields: Mapping[str, Spec]
    strict: bool
    plan: tuple[tuple[str, Spec, Spec | None], ...] = attrs.field(repr=False)
    """Per field: its key, its spec, and the spec a present value runs through when the
    field is optional (None when it is required)."""

    def __init__(self, fields: Mapping[str, Spec], *, strict: bool = False) -> None:
        plan = tuple((key, spec, spec.inner if isinstance(spec, Optional) else None)
                     for key, spec in fields.items())
        self.__attrs_init__(fields, strict, plan)

    def convert_fields(self, value: Mapping[str, Any], path: Path, ctx: Context
                       ) -> dict[str, Any]:
        """The converted declared fields that are present and valid (issues go to ``ctx``)."""
        converted: dict[str, Any] = {}
        for key, spec, present in self.plan:
            if key not in value:
                if present is None:
                    ctx.missing(spec, (*path, key))
                continue
            result = (spec if present is None else present).convert(value[key], (*path, key), ctx)
            if result is not INVALID:
                converted[key] = result
        return converted

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not _is_mapping(value):
            return ctx.invalid_type(path, "object", value)
        before = len(ctx.issues)
        converted = self.convert_fields(value, path, ctx)
        if self.strict:
            extra = [key for key in value if key not in self.fields]
            if extra:
                ctx.add(path, messages.unrecognized_keys(extra))
        return converted if len(ctx.issues) == before else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        properties = {key: spec.json_schema((*schema_path, key))
                      for key, spec in self.fields.items()}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [key for key, spec in self.fields.items() if not isinstance(spec, Optional)]
        if required:
            schema["required"] = required
        if self.strict:
            schema["additionalProperties"] = False
        return schema


@attrs.frozen(init=False, repr=False, eq=False)
class OneOf(LeanRepr):
    """A union: the first branch that accepts the value wins (else see
    :meth:`Context.union_failed`)."""

    branches: tuple[Spec, ...]

    def __init__(self, *branches: Spec) -> None:
        self.__attrs_init__(tuple(branches))

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        soft_failures: list[Context] = []
        for branch in self.branches:
            attempt = ctx.fork()
            result = branch.convert(value, path, attempt)
            if result is not INVALID and not attempt.issues:
                ctx.absorb(attempt)
                return result
            if not any(issue.hard for issue in attempt.issues):
                soft_failures.append(attempt)
        ctx.union_failed(path, soft_failures)
        return INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"anyOf": [branch.json_schema(schema_path) for branch in self.branches]}


@attrs.frozen(repr=False, eq=False)
class Tagged(LeanRepr):
    """A discriminated union on ``key`` (zod's ``discriminatedUnion``)."""

    key: str
    options: Mapping[str, Spec]

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not _is_mapping(value):
            return ctx.invalid_type(path, "object", value)
        tag = value.get(self.key)
        option = self.options.get(tag) if isinstance(tag, str) else None
        if option is None:
            ctx.add((*path, self.key), messages.invalid_discriminator(self.options), hard=True)
            return INVALID
        return option.convert(value, path, ctx)

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"oneOf": [option.json_schema(schema_path) for option in self.options.values()]}


@attrs.frozen(repr=False, eq=False)
class Transformed(LeanRepr):
    """``spec`` followed by a conversion of its result (e.g. ``"a/b"`` -> ``ModelSelection``)."""

    spec: Spec
    transform: Callable[[Any], Any]

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        result = self.spec.convert(value, path, ctx)
        return INVALID if result is INVALID else self.transform(result)

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return self.spec.json_schema(schema_path)

