"""Models family: ``models.list`` (models declared in ``models.providers``; the agents wiring
adds the built-in local model when none is declared), ``models.authStatus``, and the model
catalog rows the Control UI reads (``models.snapshot``, ``chat.metadata``).

Rows as upstream's ``ModelChoice``: ``{id, name, provider, contextWindow?, reasoning?, tags
(["default"] for the default model), thinkingLevels, thinkingDefault, manualSelectionAllowed,
available}``; this gateway has no reasoning-effort control, so its only thinking level is
``off``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from openclaw.config.schema import OpenClawConfig
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall

MODELS_LIST_PARAMS: Final = params_schema("models.list")
MODELS_AUTH_STATUS_PARAMS: Final = params_schema("models.authStatus")
ACCOUNT_SELECTION: Final = {"kind": "automatic", "label": "Automatic account selection"}
THINKING_OFF: Final = ({"id": "off", "label": "off"},)
# API key sources a configured provider can have (``apiKey`` literal, SecretRef, or env).
_ENV_KEY_SUFFIX: Final = "_API_KEY"


def configured_models(config: OpenClawConfig, provider_filter: str | None = None
                      ) -> list[dict[str, Any]]:
    """``{id, name, provider, contextWindow?, reasoning?}`` of every declared model."""
    models: list[dict[str, Any]] = []
    for provider_id, provider in config.models.providers.items():
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
    return models


def default_model_ref(config: OpenClawConfig, rows: Iterable[Mapping[str, Any]]
                      ) -> tuple[str, str] | None:
    """``(provider, model)`` of the default agent's model (else the first row)."""
    agents = config.agents
    entry = agents.default_agent
    primary = (entry.model.primary if entry.model else None) or \
        (agents.defaults.model.primary if agents.defaults.model else None)
    listed = list(rows)
    if primary:
        provider, _, model = primary.partition("/")
        if model:
            return provider.strip().lower(), model.strip()
        match = next((r for r in listed if r["id"] == primary), None)
        if match is not None:
            return str(match["provider"]), str(match["id"])
    if listed:
        return str(listed[0]["provider"]), str(listed[0]["id"])
    return None


def choice_rows(config: OpenClawConfig, rows: Iterable[Mapping[str, Any]]
                ) -> list[dict[str, Any]]:
    """Model rows completed as the Control UI's ``ModelChoice``."""
    listed = list(rows)
    default = default_model_ref(config, listed)
    out = []
    for row in listed:
        choice = dict(row)
        if default == (row["provider"], row["id"]):
            choice["tags"] = ["default"]
        choice.update({
            "thinkingLevels": [dict(level) for level in THINKING_OFF],
            "thinkingDefault": "off",
            "manualSelectionAllowed": True,
            "available": True,
        })
        out.append(choice)
    return out


def catalog_result(config: OpenClawConfig, rows: Iterable[Mapping[str, Any]]
                   ) -> dict[str, Any]:
    """The ``models.list`` result (and the ``models.snapshot`` catalog)."""
    return {"models": choice_rows(config, rows), "accountSelection": dict(ACCOUNT_SELECTION),
            "defaultModels": {"automaticUtilityModel": None}}


def models_list(call: MethodCall) -> dict[str, Any]:
    config = call.context.get_config().config
    return catalog_result(config, configured_models(config, call.param_map.get("provider")))


def api_key_source(provider_id: str, api_key: Any) -> str | None:
    """Where a provider's key comes from: ``config`` (a literal or SecretRef), ``env``."""
    if api_key:
        return "config"
    if os.environ.get(provider_id.upper().replace("-", "_") + _ENV_KEY_SUFFIX):
        return "env"
    return None


def models_auth_status(call: MethodCall) -> dict[str, Any]:
    """One row per configured provider: static credentials (an API key or none needed)."""
    config = call.context.get_config().config
    providers = []
    for provider_id, provider in config.models.providers.items():
        row: dict[str, Any] = {"provider": provider_id, "authProvider": provider_id,
                               "displayName": provider_id, "status": "static", "profiles": []}
        source = api_key_source(provider_id, provider.api_key)
        if source is not None:
            row["apiKey"] = {"source": source}
        providers.append(row)
    return {"ts": call.context.now_ms(), "providers": providers, "providerCapabilities": []}
