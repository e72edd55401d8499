"""Agents family: ``agents.list``."""

from __future__ import annotations

from typing import Any

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


def agents_list(call: MethodCall) -> dict[str, Any]:
    config = call.context.get_config().config
    agents_config = config.agents
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
        model = model_wire(agent.model)
        if model:
            entry["model"] = model
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
