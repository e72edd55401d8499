"""The agents as runs see them: one typed view made from each config snapshot (``agents``,
``session``, ``messages.queue``, ``tools``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import attrs

from openclaw.agents.session_keys import (
    DEFAULT_MAIN_KEY,
    SessionSettings,
    normalize_agent_id,
)
from openclaw.config.loader import ConfigSnapshot
from openclaw.config.schema import ToolsConfig

DEFAULT_QUEUE_MODE: Final = "steer"
DEFAULT_MAX_STEPS: Final = 24


@attrs.frozen
class AgentSettings:
    id: str
    name: str | None
    workspace: str
    model_primary: str | None
    model_fallbacks: tuple[str, ...]
    tools: ToolsConfig | None
    identity: Mapping[str, Any]
    is_default: bool


@attrs.frozen
class AgentsView:
    default_id: str
    agents: Mapping[str, AgentSettings]
    session: SessionSettings
    tools: ToolsConfig
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


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return os.path.join(home, path[2:]) if path != "~" else home
    return path


def read_agents(snapshot: ConfigSnapshot, *, default_workspace: str, state_dir: str,
                home: str | None = None) -> AgentsView:
    """The agents as runs see them, made once per config snapshot."""
    config = snapshot.config
    agents_config = config.agents
    defaults = agents_config.defaults
    home = home or os.path.expanduser("~")
    default_id = agents_config.default_agent_id
    defaults_primary = defaults.model.primary if defaults.model else None
    defaults_fallbacks = defaults.model.fallbacks if defaults.model else None
    sole = len(agents_config.entries) <= 1
    agents: dict[str, AgentSettings] = {}
    for entry in agents_config.roster:
        agent_id = entry.id
        workspace = entry.workspace
        if not workspace:
            if sole or agent_id == default_id:
                workspace = defaults.workspace or default_workspace
            elif defaults.workspace:
                workspace = os.path.join(defaults.workspace, agent_id)
            else:
                workspace = os.path.join(state_dir, f"workspace-{agent_id}")
        model = entry.model
        fallbacks = model.fallbacks if model is not None else None
        identity = entry.identity
        identity_map = {} if identity is None else {
            name: value for name, value in (("name", identity.name), ("theme", identity.theme),
                                            ("emoji", identity.emoji),
                                            ("avatar", identity.avatar)) if value}
        agents[agent_id] = AgentSettings(
            id=agent_id, name=entry.name or None,
            workspace=_expand(workspace, home),
            model_primary=model.primary if model is not None else None,
            model_fallbacks=fallbacks if fallbacks is not None else (defaults_fallbacks or ()),
            tools=entry.tools,
            identity=identity_map, is_default=agent_id == default_id)
    session = config.session
    queue = config.messages.queue
    return AgentsView(
        default_id=default_id, agents=agents,
        session=SessionSettings(main_key=session.main_key.strip().lower() or DEFAULT_MAIN_KEY,
                                scope="global" if session.scope == "global" else "per-sender",
                                dm_scope=session.dm_scope),
        tools=config.tools,
        queue_mode=queue.mode or DEFAULT_QUEUE_MODE,
        queue_cap=queue.cap,
        timeout_s=defaults.timeout_seconds,
        skip_bootstrap=defaults.skip_bootstrap,
        bootstrap_max_chars=defaults.bootstrap_max_chars,
        bootstrap_total_max_chars=defaults.bootstrap_total_max_chars,
        user_timezone=defaults.user_timezone,
        defaults_model=defaults_primary, defaults_fallbacks=defaults_fallbacks or ())
