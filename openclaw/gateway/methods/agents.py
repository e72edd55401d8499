"""Agents family: ``agents.list`` (rows with the effective model, as the Control UI reads
them)."""

from __future__ import annotations

import copy
from typing import Any, Final

from openclaw.agents.identity import AssistantIdentity
from openclaw.config.schema import AgentEntryConfig, ModelSelection
from openclaw.gateway.protocol.dispatch import MethodCall


def model_wire(model: ModelSelection | None) -> dict[str, Any] | None:
    """``{primary?, fallbacks?}`` of a model choice (None when neither is set)."""
    if model is None or not (model.primary or model.fallbacks):
        return None
    wire: dict[str, Any] = {}
    if model.primary:
        wire["primary"] = model.primary
    if model.fallbacks:
        wire["fallbacks"] = list(model.fallbacks)
    return wire


def identity_wire(entry: AgentEntryConfig) -> dict[str, str] | None:
    identity = entry.identity
    if identity is None:
        return None
    fields = {"name": identity.name, "theme": identity.theme, "emoji": identity.emoji,
              "avatar": identity.avatar}
    shown = {key: value for key, value in fields.items() if value}
    return shown or None


# The agent facts the Control UI reads from every row (one runtime, no reasoning levels).
AGENT_ROW_DEFAULTS: Final = {
    "kind": "agent",
    "agentRuntime": {"id": "auto", "source": "implicit", "cloudPlacementSupported": False,
                     "devicePlacementSupported": False},
    "defaultPermissionMode": "full",
    "thinkingDefault": "off",
    "thinkingLevels": [{"id": "off", "label": "off"}],
    "thinkingOptions": ["off"],
}


def identity_result(identity: AssistantIdentity, base_path: str = "") -> dict[str, Any]:
    """``agent.identity.get``: name (``Assistant`` by default) and avatar (an image URL of the
    Control UI's avatar route, a remote URL, or the text/emoji/letter to show)."""
    out: dict[str, Any] = {"agentId": identity.agent_id, "name": identity.name,
                           "nameSource": identity.name_source}
    if identity.avatar_kind == "local":
        base = base_path.strip().rstrip("/")
        if base and not base.startswith("/"):
            base = "/" + base
        out["avatar"] = f"{base}/avatar/{identity.agent_id}"
    elif identity.avatar_kind in ("remote", "data"):
        out["avatar"] = identity.avatar_source
    else:
        out["avatar"] = identity.avatar_text
    if identity.avatar_source:
        out["avatarSource"] = identity.avatar_source
    out["avatarStatus"] = identity.avatar_kind
    if identity.emoji:
        out["emoji"] = identity.emoji
    return out


def agents_list(call: MethodCall) -> dict[str, Any]:
    config = call.context.get_config().config
    agents_config = config.agents
    defaults_model = agents_config.defaults.model
    agents: list[dict[str, Any]] = []
    for agent in agents_config.roster:
        entry: dict[str, Any] = {"id": agent.id}
        if agent.name:
            entry["name"] = agent.name
        identity = identity_wire(agent)
        if identity:
            entry["identity"] = identity
        if agent.workspace:
            entry["workspace"] = agent.workspace
        # The effective model: the agent's own, else agents.defaults.model (the UI asks for
        # model setup when an agent shows none).
        model = model_wire(agent.model) or model_wire(defaults_model)
        if model:
            entry["model"] = model
        entry.update(copy.deepcopy(AGENT_ROW_DEFAULTS))
        agents.append(entry)
    ownership = agents_config.ownership_kind
    return {
        "defaultId": agents_config.default_agent_id,
        "ownership": ownership,
        "selectionRequired": ownership == "explicit",
        "mainKey": config.session.main_key.strip().lower() or "main",
        "scope": "global" if config.session.scope == "global" else "per-sender",
        "agents": agents,
    }
