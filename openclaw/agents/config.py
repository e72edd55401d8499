"""Agent-related views of the config snapshot (typed sections plus not-yet-typed ones).

Typed: ``agents`` (defaults, entries, default agent) and ``models``. Read raw from the
snapshot's ``parsed`` document: ``session`` (mainKey, scope, dmScope), ``messages.queue``,
``tools`` and ``agents.entries.<id>.tools``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import attrs

from openclaw.agents.session_keys import (
    DEFAULT_AGENT_ID,
    DEFAULT_MAIN_KEY,
    SessionSettings,
    normalize_agent_id,
)

QUEUE_MODES: Final = ("steer", "followup", "collect", "steer-backlog", "steer+backlog",
                      "queue", "interrupt")
DEFAULT_QUEUE_MODE: Final = "steer"
DEFAULT_QUEUE_CAP: Final = 20
DEFAULT_TIMEOUT_S: Final = 600
DEFAULT_MAX_STEPS: Final = 24


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return obj


@attrs.frozen
class AgentSettings:
    id: str
    name: str | None
    workspace: str
    model_primary: str | None
    model_fallbacks: tuple[str, ...]
    tools: Mapping[str, Any]
    identity: Mapping[str, Any]
    is_default: bool


@attrs.frozen
class AgentsView:
    default_id: str
    agents: Mapping[str, AgentSettings]
    session: SessionSettings
    tools: Mapping[str, Any]
    queue_mode: str
    queue_cap: int
    timeout_s: int
    skip_bootstrap: bool
    bootstrap_max_chars: int
    bootstrap_total_max_chars: int
    user_timezone: str | None
    defaults_model: str | None
    defaults_fallbacks: tuple[str, ...]

    def agent(self, agent_id: str) -> AgentSettings | None:
        return self.agents.get(normalize_agent_id(agent_id))


def _model(selection: Any) -> tuple[str | None, tuple[str, ...] | None]:
    if selection is None:
        return None, None
    if isinstance(selection, str):
        return selection or None, None
    primary = _get(selection, "primary")
    fallbacks = _get(selection, "fallbacks")
    return (primary if isinstance(primary, str) and primary else None,
            tuple(str(f) for f in fallbacks) if isinstance(fallbacks, list | tuple) else None)


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return os.path.join(home, path[2:]) if path != "~" else home
    return path


def read_agents(snapshot: Any, *, default_workspace: str, state_dir: str,
                home: str | None = None) -> AgentsView:
    config = _get(snapshot, "config")
    parsed = _get(snapshot, "parsed") or {}
    home = home or os.path.expanduser("~")
    agents_cfg = _get(config, "agents")
    raw_agents = _get(parsed, "agents") or {}
    defaults = _get(agents_cfg, "defaults") if agents_cfg is not None else _get(raw_agents,
                                                                                "defaults")
    entries = _get(agents_cfg, "entries") if agents_cfg is not None else _get(raw_agents,
                                                                              "entries")
    raw_entries = _get(raw_agents, "entries") or {}
    if isinstance(entries, list | tuple):  # legacy agents.list (when not migrated)
        entries = {str(_get(e, "id") or DEFAULT_AGENT_ID): e for e in entries}
    entries = entries if isinstance(entries, Mapping) else {}
    default_id: str | None = None
    for key, entry in entries.items():
        if _get(entry, "default") is True:
            default_id = normalize_agent_id(str(key))
            break
    if default_id is None:
        default_id = normalize_agent_id(str(next(iter(entries)))) if entries else \
            DEFAULT_AGENT_ID
    defaults_workspace = _get(defaults, "workspace")
    defaults_primary, defaults_fallbacks = _model(_get(defaults, "model"))
    sole = len(entries) <= 1
    agents: dict[str, AgentSettings] = {}
    items = list(entries.items()) or [(DEFAULT_AGENT_ID, None)]
    for key, entry in items:
        agent_id = normalize_agent_id(str(key))
        workspace = _get(entry, "workspace")
        if not workspace:
            if sole or agent_id == default_id:
                workspace = defaults_workspace or default_workspace
            elif defaults_workspace:
                workspace = os.path.join(str(defaults_workspace), agent_id)
            else:
                workspace = os.path.join(state_dir, f"workspace-{agent_id}")
        primary, fallbacks = _model(_get(entry, "model"))
        raw_entry = raw_entries.get(key) if isinstance(raw_entries, Mapping) else None
        if raw_entry is None and isinstance(raw_entries, Mapping):
            raw_entry = next((v for k, v in raw_entries.items()
                              if normalize_agent_id(str(k)) == agent_id), None)
        tools = _get(raw_entry, "tools")
        identity = _get(entry, "identity")
        identity_map = {}
        if identity is not None:
            for field in ("name", "theme", "emoji", "avatar"):
                value = _get(identity, field)
                if isinstance(value, str) and value:
                    identity_map[field] = value
        name = _get(entry, "name")
        agents[agent_id] = AgentSettings(
            id=agent_id, name=name if isinstance(name, str) and name else None,
            workspace=_expand(str(workspace), home),
            model_primary=primary,
            model_fallbacks=fallbacks if fallbacks is not None else (defaults_fallbacks or ()),
            tools=tools if isinstance(tools, Mapping) else {}, identity=identity_map,
            is_default=agent_id == default_id)
    session_raw = _get(parsed, "session") or {}
    main_key = str(_get(session_raw, "mainKey") or DEFAULT_MAIN_KEY).strip().lower() or \
        DEFAULT_MAIN_KEY
    scope = "global" if _get(session_raw, "scope") == "global" else "per-sender"
    dm_scope = _get(session_raw, "dmScope") or "main"
    queue = _get(parsed, "messages", "queue") or {}
    mode = _get(queue, "mode")
    cap = _get(queue, "cap")
    tools = _get(parsed, "tools") or {}

    def number(name: str, fallback: int) -> int:
        value = _get(defaults, name) if defaults is not None else None
        if value is None:
            value = _get(raw_agents, "defaults", name)
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
            else fallback

    timezone = _get(defaults, "user_timezone") or _get(raw_agents, "defaults", "userTimezone")
    return AgentsView(
        default_id=default_id, agents=agents,
        session=SessionSettings(main_key=main_key, scope=scope, dm_scope=str(dm_scope)),
        tools=tools if isinstance(tools, Mapping) else {},
        queue_mode=mode if mode in QUEUE_MODES else DEFAULT_QUEUE_MODE,
        queue_cap=int(cap) if isinstance(cap, int) and cap >= 1 else DEFAULT_QUEUE_CAP,
        timeout_s=number("timeoutSeconds" if defaults is None or isinstance(defaults, Mapping)
                         else "timeout_seconds", DEFAULT_TIMEOUT_S),
        skip_bootstrap=bool(_get(defaults, "skip_bootstrap") or
                            _get(raw_agents, "defaults", "skipBootstrap")),
        bootstrap_max_chars=number("bootstrapMaxChars" if isinstance(defaults, Mapping) or
                                   defaults is None else "bootstrap_max_chars", 20000),
        bootstrap_total_max_chars=number("bootstrapTotalMaxChars" if isinstance(defaults, Mapping)
                                         or defaults is None
                                         else "bootstrap_total_max_chars", 60000),
        user_timezone=timezone if isinstance(timezone, str) else None,
        defaults_model=defaults_primary, defaults_fallbacks=defaults_fallbacks or ())
