"""Read-only views of the config snapshot used by the handshake and methods.

The typed config (``openclaw.config``) is read through its documented attributes
(``config.agents.entries``, ``config.agents.default_agent_id``, ``config.models.providers``);
each accessor also accepts plain mappings (the snapshot's ``parsed`` JSON, camelCase keys),
so the protocol core does not import the config package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

DEFAULT_AGENT_ID: Final = "main"
DEFAULT_MAIN_KEY: Final = "main"
_AGENT_ID_INVALID: Final = re.compile(r"[^a-z0-9_-]+")
_MISSING: Final = object()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` / ``obj[name]`` / ``obj[camelName]``, else ``default``."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        for key in (name, _camel(name)):
            if key in obj:
                return obj[key]
        return default
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        value = getattr(obj, _camel(name), _MISSING)
    return default if value is _MISSING else value


def path(obj: Any, *names: str) -> Any:
    for name in names:
        obj = field(obj, name)
        if obj is None:
            return None
    return obj


def normalize_agent_id(raw: Any) -> str:
    text = str(raw or "").strip().lower()
    text = _AGENT_ID_INVALID.sub("-", text).strip("-")[:64]
    return text or DEFAULT_AGENT_ID


@attrs.frozen
class AgentView:
    id: str
    name: str | None = None
    workspace: str | None = None
    model_primary: str | None = None
    model_fallbacks: tuple[str, ...] = ()
    identity: Mapping[str, Any] | None = None
    is_default: bool = False


def _model_fields(model: Any) -> tuple[str | None, tuple[str, ...]]:
    if isinstance(model, str):
        return (model or None), ()
    primary = field(model, "primary")
    fallbacks = field(model, "fallbacks") or ()
    return (primary if isinstance(primary, str) and primary else None), tuple(
        str(item) for item in fallbacks if isinstance(item, str) and item
    )


def _agent_from(agent_id: Any, entry: Any, default_id: str | None) -> AgentView:
    normalized = normalize_agent_id(agent_id if agent_id is not None else field(entry, "id"))
    identity = field(entry, "identity")
    identity_map: dict[str, Any] | None = None
    if identity is not None:
        identity_map = {
            key: value
            for key in ("name", "theme", "emoji", "avatar", "avatar_url")
            if isinstance(value := field(identity, key), str) and value
        }
        identity_map = {_camel(k): v for k, v in identity_map.items()} or None
    primary, fallbacks = _model_fields(field(entry, "model"))
    name = field(entry, "name")
    workspace = field(entry, "workspace")
    return AgentView(
        id=normalized,
        name=name if isinstance(name, str) and name else None,
        workspace=str(workspace) if workspace else None,
        model_primary=primary,
        model_fallbacks=fallbacks,
        identity=identity_map,
        is_default=(default_id == normalized) or bool(field(entry, "default")),
    )


def _snapshot_config(snapshot: Any) -> tuple[Any, Any]:
    return field(snapshot, "config"), field(snapshot, "parsed")


def agents(snapshot: Any) -> tuple[str, list[AgentView]]:
    """``(default agent id, agents)``; a config without agents has the implicit ``main``."""
    config, parsed = _snapshot_config(snapshot)
    section = field(config, "agents")
    if section is None:
        section = field(parsed, "agents")
    explicit_default = field(section, "default_agent_id")
    default_id = normalize_agent_id(explicit_default) if explicit_default else None
    raw_entries: Any = field(section, "entries")
    if raw_entries is None:
        raw_entries = field(section, "list")
    views: list[AgentView] = []
    if isinstance(raw_entries, Mapping):
        views = [_agent_from(key, entry, default_id) for key, entry in raw_entries.items()]
    elif isinstance(raw_entries, Iterable) and not isinstance(raw_entries, str | bytes):
        views = [_agent_from(None, entry, default_id) for entry in raw_entries]
    if not views:
        views = [AgentView(id=DEFAULT_AGENT_ID, is_default=True)]
    if default_id is None:
        flagged = [view for view in views if view.is_default]
        default_id = (flagged or views)[0].id
    views = [attrs.evolve(view, is_default=view.id == default_id) for view in views]
    return default_id, views


def agent_ownership(snapshot: Any, views: Sequence[AgentView]) -> str:
    """``sole`` (one agent), ``explicit`` (configured fleet without a default) or ``legacy``."""
    config, parsed = _snapshot_config(snapshot)
    section = field(config, "agents")
    if section is None:
        section = field(parsed, "agents")
    if field(section, "ownership") == "explicit":
        return "explicit"
    return "sole" if len(views) <= 1 else "legacy"


def session_settings(snapshot: Any) -> tuple[str, str]:
    """``(mainKey, scope)`` from ``session.mainKey`` / ``session.scope``."""
    config, parsed = _snapshot_config(snapshot)
    section = field(config, "session")
    if section is None:
        section = field(parsed, "session")
    main_key = str(field(section, "main_key") or DEFAULT_MAIN_KEY).strip().lower()
    scope = field(section, "scope") or "per-sender"
    return main_key or DEFAULT_MAIN_KEY, "global" if scope == "global" else "per-sender"


def session_defaults(snapshot: Any) -> dict[str, Any]:
    default_id, views = agents(snapshot)
    main_key, scope = session_settings(snapshot)
    default_view = next((view for view in views if view.id == default_id), None)
    ownership = agent_ownership(snapshot, views)
    return {
        "defaultAgentId": default_id,
        "modelConfigured": bool(default_view and default_view.model_primary)
        or bool(default_model(snapshot)),
        "ownership": ownership,
        "selectionRequired": ownership == "explicit",
        "mainKey": main_key,
        "mainSessionKey": "global" if scope == "global" else f"agent:{default_id}:{main_key}",
        "scope": scope,
    }


def default_model(snapshot: Any) -> str | None:
    config, parsed = _snapshot_config(snapshot)
    defaults = path(config, "agents", "defaults")
    if defaults is None:
        defaults = path(parsed, "agents", "defaults")
    primary, _ = _model_fields(field(defaults, "model"))
    return primary


@attrs.frozen
class ModelView:
    id: str
    name: str
    provider: str
    context_window: int | None = None
    reasoning: bool | None = None


def models(snapshot: Any) -> list[ModelView]:
    """Models declared under ``models.providers.<id>.models[]``."""
    config, parsed = _snapshot_config(snapshot)
    providers = path(config, "models", "providers")
    if providers is None:
        providers = path(parsed, "models", "providers")
    views: list[ModelView] = []
    if not isinstance(providers, Mapping):
        return views
    for provider_id, provider in providers.items():
        entries = field(provider, "models") or ()
        if isinstance(entries, Mapping):
            entries = [{"id": key, **(value if isinstance(value, Mapping) else {})}
                       for key, value in entries.items()]
        if not isinstance(entries, Sequence):
            continue
        for entry in entries:
            model_id = entry if isinstance(entry, str) else field(entry, "id")
            if not isinstance(model_id, str) or not model_id:
                continue
            name = field(entry, "name") if not isinstance(entry, str) else None
            window = field(entry, "context_window") if not isinstance(entry, str) else None
            if isinstance(window, float) and window.is_integer():
                window = int(window)
            reasoning = field(entry, "reasoning") if not isinstance(entry, str) else None
            views.append(
                ModelView(
                    id=model_id,
                    name=name if isinstance(name, str) and name else model_id,
                    provider=str(provider_id),
                    context_window=window if isinstance(window, int) and window > 0 else None,
                    reasoning=reasoning if isinstance(reasoning, bool) else None,
                )
            )
    return views
