"""Models family: ``models.list`` (models declared in ``models.providers``)."""

from __future__ import annotations

from typing import Any, Final

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
    providers = call.context.get_config().config.models.providers
    provider_filter = call.param_map.get("provider")
    models: list[dict[str, Any]] = []
    for provider_id, provider in providers.items():
        if provider_filter and provider_id != provider_filter:
            continue
        for model in provider.models:
            entry: dict[str, Any] = {"id": model.id, "name": model.name or model.id,
                                     "provider": provider_id}
            window = model.context_window
            if isinstance(window, float) and window.is_integer():
                window = int(window)
            if isinstance(window, int) and window > 0:
                entry["contextWindow"] = window
            if model.reasoning is not None:
                entry["reasoning"] = model.reasoning
            models.append(entry)
    return {"models": models}
