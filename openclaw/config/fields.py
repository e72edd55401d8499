"""The generic half of the config schema: ``setting()`` fields, sections, export.

A config section is an ``attrs`` frozen class whose fields are declared with :func:`setting`::

    @attrs.frozen(repr=False)
    class ReloadConfig(ConfigObject):
        mode: str = setting("mode", Enum("off", "hot", "restart", "hybrid"),
                            default="hybrid", description="How config edits are applied.")

That one declaration drives

* validation and conversion of the parsed JSON (:func:`convert_section`), collecting every
  issue with its path instead of stopping at the first;
* defaults (attrs defaults, so ``ReloadConfig()`` is the default section);
* the JSON Schema export (:func:`section_json_schema`), used by ``config.schema``.

The value specs (``Str``, ``Int``, ``Enum``, ``ListOf``, ``MapOf``, ``OneOf`` ...) and their
messages are the shared validator kit's (:mod:`openclaw.validation`: zod 4 wording); config
issues show the hints the real config validator appends (``(minimum: 1)``,
``(allowed: true, false)``). A section is the kit's object spec plus what only config has:
keys that are not declared on a section are looked up in the real schema's key tree
(:mod:`openclaw.config.upstream`): a real key we do not implement yet is kept and reported
as *unsupported*; anything else is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

import attrs

from openclaw.config import upstream
from openclaw.config.errors import format_config_path
from openclaw.config.frozen import FrozenDict
from openclaw.validation import (
    INVALID,
    Bool,
    Context,
    Enum,
    Int,
    LeanRepr,
    ListOf,
    Num,
    Obj,
    OneOf,
    Optional,
    Path,
    Spec,
    Str,
    Transformed,
)
from openclaw.validation import MapOf as KitMapOf
from openclaw.validation import type_name as json_type_name
from openclaw.validation.messages import json_quote, unrecognized_keys

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
    "Path",
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
T = TypeVar("T")


class ConfigObject(LeanRepr):
    """Base of config sections and config value specs: the kit's one shared ``__repr__``."""

    __slots__ = ()


class ConversionContext(Context):
    """Collects issues and unsupported-key paths while a config document is converted."""

    def __init__(self) -> None:
        super().__init__()
        self.unsupported: list[Path] = []

    def absorb(self, other: Context) -> None:
        super().absorb(other)
        if isinstance(other, ConversionContext):
            self.unsupported.extend(other.unsupported)

    def formatted_issues(self) -> list[tuple[str, str]]:
        """``(path, message)`` pairs in the real gateway's notation, hints included."""
        return [(format_config_path(issue.path), issue.full_message()) for issue in self.issues]

    def formatted_unsupported(self) -> list[str]:
        return [format_config_path(path) for path in self.unsupported]


class MapOf(KitMapOf):
    """The kit's map spec, converted to a read-only :class:`FrozenDict`."""

    __slots__ = ()
    container: ClassVar[Callable[[dict[str, Any]], Mapping[str, Any]]] = FrozenDict


@attrs.frozen(repr=False, eq=False)
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


@attrs.frozen(repr=False, eq=False)
class Section(ConfigObject):
    """A nested config object backed by an attrs class declared with :func:`setting` fields.

    ``ignored_keys`` are tolerated silently (legacy miskeys the loader warns about);
    ``check`` runs cross-field rules after the fields converted.
    """

    cls: type
    ignored_keys: frozenset[str] = frozenset()
    check: SectionCheck | None = None

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not isinstance(ctx, ConversionContext):
            raise TypeError("config sections convert within a ConversionContext")
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


_SECTION_OBJECTS: dict[type, tuple[Obj, dict[str, str]]] = {}


def _section_object(cls: type) -> tuple[Obj, dict[str, str]]:
    """The kit object spec of a section class (optional unless required) and key -> field."""
    cached = _SECTION_OBJECTS.get(cls)
    if cached is None:
        declared = settings_of(cls)
        fields = {
            meta.key: meta.spec if meta.required else Optional(meta.spec) for _, meta in declared
        }
        cached = Obj(fields), {meta.key: field.name for field, meta in declared}
        _SECTION_OBJECTS[cls] = cached
    return cached


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
        invalid: T = ctx.invalid_type(path, "object", value)
        return invalid
    before = len(ctx.issues)
    spec, field_names = _section_object(cls)
    converted = spec.convert_fields(value, path, ctx)
    values = {field_names[key]: result for key, result in converted.items()}

    ignored = set(ignored_keys)
    unknown = []
    for key in value:
        if key in spec.fields or key in ignored:
            continue
        child_path = (*path, key)
        if upstream.node_at(child_path) is not None:
            ctx.unsupported.append(child_path)
        else:
            unknown.append(key)
    if unknown:
        # Keys quoted as JSON strings (zod quotes them raw): a quote or a control character
        # in a hand-edited key cannot garble the operator's message.
        ctx.add(path, unrecognized_keys(unknown, quote=json_quote))

    if check is not None:
        check(values, value, path, ctx)
    if len(ctx.issues) > before:
        marker: T = INVALID  # the INVALID sentinel (Any) stands for any section
        return marker
    return cls(**values)


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
