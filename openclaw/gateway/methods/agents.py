"""Agents family: ``agents.list``."""

from __future__ import annotations

from typing import Any

from openclaw.gateway.protocol import config_view
from openclaw.gateway.protocol.dispatch import MethodCall


def agents_list(call: MethodCall) -> dict[str, Any]:
    try:
        snapshot = call.context.get_config()
    except Exception:
        snapshot = None
    default_id, views = config_view.agents(snapshot)
    main_key, scope = config_view.session_settings(snapshot)
    agents: list[dict[str, Any]] = []
    for view in views:
        entry: dict[str, Any] = {"id": view.id}
        if view.name:
            entry["name"] = view.name
        if view.identity:
            entry["identity"] = dict(view.identity)
        if view.workspace:
            entry["workspace"] = view.workspace
        if view.model_primary or view.model_fallbacks:
            model: dict[str, Any] = {}
            if view.model_primary:
                model["primary"] = view.model_primary
            if view.model_fallbacks:
                model["fallbacks"] = list(view.model_fallbacks)
            entry["model"] = model
        agents.append(entry)
    ownership = config_view.agent_ownership(snapshot, views)
    return {
        "defaultId": default_id,
        "ownership": ownership,
        "selectionRequired": ownership == "explicit",
        "mainKey": main_key,
        "scope": scope,
        "agents": agents,
    }
