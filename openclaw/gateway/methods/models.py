"""Models family: ``models.list`` (models declared in ``models.providers``)."""

from __future__ import annotations

from typing import Any, Final

from openclaw.gateway.protocol import config_view
from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.schema import NON_EMPTY_STRING, Boolean, Enum, Object, optional

MODELS_LIST_PARAMS: Final = Object(
    {
        "agentId": optional(NON_EMPTY_STRING),
        "sessionKey": optional(NON_EMPTY_STRING),
        "authProfileId": optional(NON_EMPTY_STRING),
        "provider": optional(NON_EMPTY_STRING),
        "includeDetails": optional(Boolean()),
        "includeProviderCapabilities": optional(Boolean()),
        "includeDefaultModels": optional(Boolean()),
        "preparedOnly": optional(Boolean()),
        "refresh": optional(Boolean()),
        "view": optional(Enum(("default", "configured", "provider-config", "all"))),
    }
)


def models_list(call: MethodCall) -> dict[str, Any]:
    try:
        snapshot = call.context.get_config()
    except Exception:
        snapshot = None
    provider_filter = call.param_map.get("provider")
    models: list[dict[str, Any]] = []
    for view in config_view.models(snapshot):
        if provider_filter and view.provider != provider_filter:
            continue
        entry: dict[str, Any] = {"id": view.id, "name": view.name, "provider": view.provider}
        if view.context_window is not None:
            entry["contextWindow"] = view.context_window
        if view.reasoning is not None:
            entry["reasoning"] = view.reasoning
        models.append(entry)
    return {"models": models}
