"""The generic half of the config schema: value specs, ``setting()`` fields, validation, export.

A config section is an ``attrs`` frozen class whose fields are declared with :func:`setting`::

    @attrs.frozen
    class ReloadConfig:
        mode: str = setting("mode", Enum("off", "hot", "restart", "hybrid"),
                            default="hybrid", description="How config edits are applied.")

That one declaration drives

* validation and conversion of the parsed JSON (:func:`convert_section`), collecting every
  issue with its path instead of stopping at the first;
* defaults (attrs defaults, so ``ReloadConfig()`` is the default section);
* the JSON Schema export (:func:`section_json_schema`), used by ``config.schema``.

Error messages reproduce the real gateway's (zod 4 wording plus its hints), e.g.
``Invalid input: expected number, received string`` or ``Unrecognized key: "prot"``.

Keys that are not declared on a section are looked up in the real schema's key tree
(:mod:`openclaw.config.upstream`): a real key we do not implement yet is kept and reported
as *unsupported*; anything else is an error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar, cast

import attrs

from openclaw.config import upstream
from openclaw.config.errors import PathSegment, format_config_path
from openclaw.config.frozen import FrozenDict

__all__ = [
    "INVALID",
    "Bool",
    "ConfigObject",
    "ConversionContext",
    "Enum",
    "Int",
    "ListOf",
    "MapOf",
    "Num",
    "OneOf",
    "Section",
    "Setting",
    "Spec",
    "Str",
    "Transformed",
    "convert_section",
    "json_type_name",
    "section_json_schema",
    "setting",
    "settings_of",
    "to_json",
]

_SETTING = "openclaw.config.setting"
NO_DEFAULT_MARK = "__no_default__"
UNSUPPORTED_DESCRIPTION = (
    "A real OpenClaw setting that this gateway accepts and keeps but does not implement yet."
)
Path = tuple[PathSegment, ...]
T = TypeVar("T")


class ConfigObject:
    """Base of config sections and value specs: one shared ``__repr__``.

    attrs' generated ``__repr__`` costs about half a millisecond of import time per class;
    the config defines ~60 classes and the gateway must start in half a second.
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
    """Marker returned by a conversion that failed (its issues are in the context)."""

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


@attrs.define
class _Issue:
    path: Path
    message: str
    hard: bool


@attrs.define
class ConversionContext:
    """Collects issues and unsupported-key paths while a document is converted.

    ``hard`` issues are type errors and missing required values; ``soft`` ones are failed
    constraints and unknown keys.  The distinction only matters for unions: like zod, a union
    reports the issues of its only *softly* failing branch, else a plain ``Invalid input``.
    """

    issues: list[_Issue] = attrs.Factory(list)
    unsupported: list[Path] = attrs.Factory(list)

    def add(self, path: Path, message: str, *, hard: bool = False) -> None:
        self.issues.append(_Issue(path, message, hard))

    def fork(self) -> ConversionContext:
        return ConversionContext()

    def absorb(self, other: ConversionContext) -> None:
        self.issues.extend(other.issues)
        self.unsupported.extend(other.unsupported)

    def formatted_issues(self) -> list[tuple[str, str]]:
        return [(format_config_path(issue.path), issue.message) for issue in self.issues]

    def formatted_unsupported(self) -> list[str]:
        return [format_config_path(path) for path in self.unsupported]


def json_type_name(value: Any) -> str:
    """The JavaScript-ish type name zod reports as ``received ...``."""
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
    return type(value).__name__


def _expected(ctx: ConversionContext, path: Path, expected: str, value: Any) -> Any:
    received = "undefined" if value is _MISSING else json_type_name(value)
    message = f"Invalid input: expected {expected}, received {received}"
    if expected == "boolean":
        message += " (allowed: true, false)"
    ctx.add(path, message, hard=True)
    return INVALID


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Any = _Missing()


class Spec(Protocol):
    """A value type: converts parsed JSON to Python and describes itself as JSON Schema."""

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any: ...

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]: ...


def _number_bounds(
    value: float,
    path: Path,
    ctx: ConversionContext,
    minimum: float | None,
    maximum: float | None,
    exclusive_minimum: float | None,
) -> bool:
    def show(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() else repr(bound)

    ok = True
    if minimum is not None and value < minimum:
        ctx.add(
            path, f"Too small: expected number to be >={show(minimum)} (minimum: {show(minimum)})"
        )
        ok = False
    if exclusive_minimum is not None and value <= exclusive_minimum:
        bound = show(exclusive_minimum)
        ctx.add(path, f"Too small: expected number to be >{bound} (must be greater than {bound})")
        ok = False
    if maximum is not None and value > maximum:
        ctx.add(
            path, f"Too big: expected number to be <={show(maximum)} (maximum: {show(maximum)})"
        )
        ok = False
    return ok


def _bounds_schema(
    schema: dict[str, Any],
    minimum: float | None,
    maximum: float | None,
    exclusive_minimum: float | None,
) -> dict[str, Any]:
    if minimum is not None:
        schema["minimum"] = minimum
    if exclusive_minimum is not None:
        schema["exclusiveMinimum"] = exclusive_minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


@attrs.frozen(repr=False)
class Str(ConfigObject):
    """A string, optionally with length bounds, a regex and a custom check."""

    min_length: int | None = None
    max_length: int | None = None
    min_length_message: str | None = None
    pattern: str | None = None
    pattern_message: str | None = None
    check: Callable[[str], str | None] | None = None
    """Extra validation: returns an error message, or None when the value is fine."""
    format: str | None = None

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        if not isinstance(value, str):
            return _expected(ctx, path, "string", value)
        ok = True
        if self.min_length is not None and len(value) < self.min_length:
            ctx.add(
                path,
                self.min_length_message
                or f"Too small: expected string to have >={self.min_length} characters",
            )
            ok = False
        if self.max_length is not None and len(value) > self.max_length:
            ctx.add(path, f"Too big: expected string to have <={self.max_length} characters")
            ok = False
        if self.pattern is not None and not re.search(self.pattern, value):
            ctx.add(
                path, self.pattern_message or f"Invalid string: must match pattern /{self.pattern}/"
            )
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
        if self.format is not None:
            schema["format"] = self.format
        return schema


def _coerce_number(value: Any, path: Path, ctx: ConversionContext) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value is _MISSING:
        return _expected(ctx, path, "number", value)
    if isinstance(value, float) and not math.isfinite(value):
        return _expected(ctx, path, "number", value)
    return value


@attrs.frozen(repr=False)
class Int(ConfigObject):
    """An integer (JSON numbers like ``300.0`` count; ``1.5`` does not) with optional bounds."""

    minimum: int | None = None
    maximum: int | None = None
    exclusive_minimum: int | None = None

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        number = _coerce_number(value, path, ctx)
        if number is INVALID:
            return INVALID
        if isinstance(number, float):
            if not number.is_integer():
                ctx.add(path, "Invalid input: expected int, received number", hard=True)
                return INVALID
            number = int(number)
        ok = _number_bounds(number, path, ctx, self.minimum, self.maximum, self.exclusive_minimum)
        return number if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return _bounds_schema(
            {"type": "integer"}, self.minimum, self.maximum, self.exclusive_minimum
        )


@attrs.frozen(repr=False)
class Num(ConfigObject):
    """A finite JSON number with optional bounds; integral values stay ``int``."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        number = _coerce_number(value, path, ctx)
        if number is INVALID:
            return INVALID
        ok = _number_bounds(number, path, ctx, self.minimum, self.maximum, self.exclusive_minimum)
        return number if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return _bounds_schema(
            {"type": "number"}, self.minimum, self.maximum, self.exclusive_minimum
        )


@attrs.frozen(repr=False)
class Bool(ConfigObject):
    """``true`` or ``false`` (no truthy strings)."""

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        if not isinstance(value, bool):
            return _expected(ctx, path, "boolean", value)
        return value

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"type": "boolean"}


@attrs.frozen(init=False, repr=False)
class Enum(ConfigObject):
    """One of a fixed set of strings.

    ``style`` picks the real gateway's wording: ``"union"`` (a zod union of literals:
    ``Invalid input (allowed: "a", "b")``) or ``"enum"`` (a zod enum:
    ``Invalid option: expected one of "a"|"b"``).
    """

    values: tuple[str, ...]
    style: str

    def __init__(self, *values: str, style: str = "union") -> None:
        if style not in ("union", "enum"):
            raise ValueError(f"unknown Enum style {style!r}")
        self.__attrs_init__(tuple(values), style)

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        if len(self.values) == 1:
            message = f"Invalid input: expected {json.dumps(self.values[0])}"
        elif self.style == "enum":
            message = "Invalid option: expected one of " + "|".join(
                json.dumps(item) for item in self.values
            )
        else:
            shown = ", ".join(json.dumps(item) for item in self.values[:12])
            hidden = len(self.values) - 12
            if hidden > 0:
                shown += f", ... (+{hidden} more)"
            message = f"Invalid input (allowed: {shown})"
        ctx.add(path, message, hard=True)
        return INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


@attrs.frozen(repr=False)
class ListOf(ConfigObject):
    """A JSON array; converted to a tuple."""

    item: Spec
    max_items: int | None = None

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        if not isinstance(value, list | tuple):
            return _expected(ctx, path, "array", value)
        ok = True
        if self.max_items is not None and len(value) > self.max_items:
            ctx.add(path, f"Too big: expected array to have <={self.max_items} items")
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


@attrs.frozen(repr=False)
class MapOf(ConfigObject):
    """A JSON object used as a map (``agents.entries``, ``models.providers``, headers ...).

    ``key_pattern`` rejects bad keys with ``key_message``.  ``normalize_key`` maps keys to
    their canonical form for the converted mapping (e.g. agent ids are lowercased).
    ``key_field`` names an attribute of the converted value that receives the canonical key.
    """

    value: Spec
    key_pattern: str | None = None
    key_message: str = "Invalid key in record"
    key_pattern_flags: int = 0
    normalize_key: Callable[[str], str] | None = None
    key_field: str | None = None

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        if not isinstance(value, Mapping):
            return _expected(ctx, path, "record", value)
        ok = True
        converted: dict[str, Any] = {}
        for key, item in value.items():
            child_path = (*path, key)
            if self.key_pattern is not None and not re.search(
                self.key_pattern, key, self.key_pattern_flags
            ):
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
            # The first spelling wins; collisions are reported by the owning section's check.
            converted.setdefault(canonical, result)
        return FrozenDict(converted) if ok else INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": self.value.json_schema((*schema_path, "*")),
        }
        if self.key_pattern is not None:
            schema["propertyNames"] = {"type": "string", "pattern": self.key_pattern}
        return schema


@attrs.frozen(init=False, repr=False)
class OneOf(ConfigObject):
    """The first branch that accepts the value wins (zod union semantics for messages)."""

    branches: tuple[Spec, ...]

    def __init__(self, *branches: Spec) -> None:
        self.__attrs_init__(tuple(branches))

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        soft_failures: list[ConversionContext] = []
        for branch in self.branches:
            attempt = ctx.fork()
            result = branch.convert(value, path, attempt)
            if result is not INVALID and not attempt.issues:
                ctx.unsupported.extend(attempt.unsupported)
                return result
            if not any(issue.hard for issue in attempt.issues):
                soft_failures.append(attempt)
        if len(soft_failures) == 1:
            ctx.issues.extend(soft_failures[0].issues)
        else:
            ctx.add(path, "Invalid input", hard=True)
        return INVALID

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return {"anyOf": [branch.json_schema(schema_path) for branch in self.branches]}


@attrs.frozen(repr=False)
class Transformed(ConfigObject):
    """``spec`` followed by a conversion of its result (e.g. ``"a/b"`` -> ``ModelSelection``)."""

    spec: Spec
    transform: Callable[[Any], Any]

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        result = self.spec.convert(value, path, ctx)
        return INVALID if result is INVALID else self.transform(result)

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        return self.spec.json_schema(schema_path)


@attrs.frozen(repr=False)
class Setting(ConfigObject):
    """Metadata of one config key, stored on the attrs field."""

    key: str
    """The JSON key (camelCase)."""
    spec: Spec
    description: str
    required: bool = False


def setting(
    key: str,
    spec: Spec,
    *,
    description: str,
    default: Any = NO_DEFAULT_MARK,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """Declare an attrs field that maps JSON key ``key`` through ``spec``.

    Give ``default`` (immutable values) or ``factory`` (sections); neither makes the key
    required.
    """
    required = default is NO_DEFAULT_MARK and factory is None
    meta = {_SETTING: Setting(key=key, spec=spec, description=description, required=required)}
    if factory is not None:
        return attrs.field(factory=factory, metadata=meta, kw_only=True)
    if required:
        return attrs.field(metadata=meta, kw_only=True)
    return attrs.field(default=default, metadata=meta, kw_only=True)


def settings_of(cls: type) -> list[tuple[attrs.Attribute[Any], Setting]]:
    """The (attrs field, Setting) pairs of a config section class, in declaration order."""
    found = []
    for field in attrs.fields(cls):
        meta = field.metadata.get(_SETTING)
        if meta is not None:
            found.append((field, meta))
    return found


class SectionCheck(Protocol):
    def __call__(
        self, values: dict[str, Any], raw: Mapping[str, Any], path: Path, ctx: ConversionContext
    ) -> None: ...


@attrs.frozen(repr=False)
class Section(ConfigObject):
    """A nested config object backed by an attrs class declared with :func:`setting` fields.

    ``ignored_keys`` are tolerated silently (legacy miskeys the loader warns about);
    ``check`` runs cross-field rules after the fields converted.
    """

    cls: type
    ignored_keys: frozenset[str] = frozenset()
    check: SectionCheck | None = None

    def convert(self, value: Any, path: Path, ctx: ConversionContext) -> Any:
        return convert_section(
            self.cls, value, path, ctx, ignored_keys=self.ignored_keys, check=self.check
        )

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        schema = section_json_schema(self.cls, schema_path)
        for key in sorted(self.ignored_keys):
            schema["properties"].setdefault(
                key, {"deprecated": True, "description": "Accepted for compatibility; ignored."}
            )
        return schema


def convert_section(
    cls: type[T],
    value: Any,
    path: Path,
    ctx: ConversionContext,
    *,
    ignored_keys: Iterable[str] = (),
    check: SectionCheck | None = None,
) -> T:
    """Validate ``value`` (a parsed JSON object) and build ``cls``; INVALID on any issue."""
    if not isinstance(value, Mapping):
        return _expected(ctx, path, "object", value)
    before = len(ctx.issues)
    declared = settings_of(cls)
    known_keys = {meta.key for _, meta in declared}
    values: dict[str, Any] = {}
    for field, meta in declared:
        child_path = (*path, meta.key)
        if meta.key not in value:
            if meta.required:
                expected = _expected_name(meta.spec)
                if expected is None:
                    ctx.add(child_path, "Invalid input", hard=True)
                else:
                    _expected(ctx, child_path, expected, _MISSING)
            continue
        result = meta.spec.convert(value[meta.key], child_path, ctx)
        if result is not INVALID:
            values[field.name] = result

    ignored = set(ignored_keys)
    unknown = []
    for key in value:
        if key in known_keys or key in ignored:
            continue
        child_path = (*path, key)
        if upstream.node_at(child_path) is not None:
            ctx.unsupported.append(child_path)
        else:
            unknown.append(key)
    if unknown:
        noun = "key" if len(unknown) == 1 else "keys"
        listed = ", ".join(json.dumps(key, ensure_ascii=False) for key in unknown)
        ctx.add(path, f"Unrecognized {noun}: {listed}")

    if check is not None:
        check(values, value, path, ctx)
    if len(ctx.issues) > before:
        return INVALID
    return cls(**values)


def _expected_name(spec: Spec) -> str | None:
    if isinstance(spec, Transformed):
        return _expected_name(spec.spec)
    if isinstance(spec, Str | Enum):
        return "string"
    if isinstance(spec, Int | Num):
        return "number"
    if isinstance(spec, Bool):
        return "boolean"
    if isinstance(spec, ListOf):
        return "array"
    if isinstance(spec, MapOf):
        return "record"
    if isinstance(spec, Section):
        return "object"
    return None


def section_json_schema(cls: type, schema_path: tuple[str, ...]) -> dict[str, Any]:
    """JSON Schema (draft-07) of a section, including defaults and descriptions.

    Real keys we keep but do not implement appear as permissive properties, so the schema
    accepts exactly what :func:`convert_section` accepts.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field, meta in settings_of(cls):
        prop = dict(meta.spec.json_schema((*schema_path, meta.key)))
        prop["description"] = meta.description
        if meta.required:
            required.append(meta.key)
        elif field.default is not attrs.NOTHING:
            default: Any = field.default
            factory = getattr(default, "factory", None)
            if callable(factory) and not getattr(default, "takes_self", False):
                default = factory()
            if default is not None:
                prop["default"] = to_json(default)
        properties[meta.key] = prop
    node = upstream.node_at(schema_path) if schema_path else None
    if isinstance(node, Mapping):
        for key in sorted(node):
            if key in (upstream.ANY_KEY, upstream.ITEMS) or key in properties:
                continue
            properties[key] = {
                "description": UNSUPPORTED_DESCRIPTION,
                "x-openclaw-unsupported": True,
            }
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    doc = (cls.__doc__ or "").strip().split("\n", 1)[0]
    if doc:
        schema["title"] = doc
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def to_json(value: Any) -> Any:
    """Plain JSON form of a converted value (config sections back to camelCase dicts)."""
    if attrs.has(type(value)):
        declared = settings_of(type(value))
        if declared:
            out: dict[str, Any] = {}
            for field, meta in declared:
                item = getattr(value, field.name)
                if item is not None:
                    out[meta.key] = to_json(item)
            return out
        return {
            field.name: to_json(getattr(value, field.name)) for field in attrs.fields(type(value))
        }
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value
