"""``plugins.list``: this gateway's built-in capabilities, listed the way upstream lists its
bundled plugins.

Nothing can be installed or removed (``mutationAllowed: false``, every row ``removable:
false``, ``origin: "bundled"``). Rows: one per model provider this gateway knows (enabled
when configured in ``models.providers`` or found through its API key variable), the
OpenAI-compatible HTTP API, webhooks (``hooks``) and memory search; enabled when the config
turns them on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from openclaw.auth.scopes import READ
from openclaw.config.schema import OpenClawConfig
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.providers.registry import KNOWN_PROVIDERS

PROVIDER_NAMES: Final = {
    "openai": "OpenAI", "anthropic": "Anthropic", "ollama": "Ollama", "vllm": "vLLM",
    "sglang": "SGLang", "lmstudio": "LM Studio", "openrouter": "OpenRouter", "groq": "Groq",
    "mistral": "Mistral", "deepseek": "DeepSeek", "together": "Together AI", "xai": "xAI",
}


def _row(plugin_id: str, name: str, description: str, category: str, enabled: bool,
         version: str, order: int) -> dict[str, Any]:
    return {"id": plugin_id, "name": name, "description": description, "version": version,
            "kind": [category], "origin": "bundled", "installed": True, "enabled": enabled,
            "state": "enabled" if enabled else "disabled", "category": category,
            "order": order, "removable": False,
            "runtime": {"state": "active" if enabled else "disabled"}}


def plugin_rows(config: OpenClawConfig, version: str,
                env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    env = os.environ if env is None else env
    configured = {str(k).strip().lower() for k in config.models.providers}
    rows = []
    providers = [*KNOWN_PROVIDERS, *sorted(configured - set(KNOWN_PROVIDERS))]
    for index, provider_id in enumerate(providers):
        known = KNOWN_PROVIDERS.get(provider_id)
        api = known[1] if known else (config.models.providers.get(provider_id) and
                                      config.models.providers[provider_id].api) or "custom"
        from_env = bool(known and any(env.get(name) for name in known[2]))
        rows.append(_row(provider_id, PROVIDER_NAMES.get(provider_id, provider_id),
                         f"Model provider ({api}).", "provider",
                         provider_id in configured or from_env, version, 100 + index))
    endpoints = config.gateway.http.endpoints
    rows.append(_row("openai-http", "OpenAI-compatible API",
                     "/v1/chat/completions, /v1/responses, /v1/models and /v1/embeddings on "
                     "the gateway port.", "api",
                     bool(endpoints.chat_completions.enabled or endpoints.responses.enabled),
                     version, 10))
    rows.append(_row("hooks", "Webhooks", "Inbound webhooks that wake or run agents.",
                     "automation", bool(config.hooks.enabled), version, 20))
    search = config.memory.search
    rows.append(_row("memory-search", "Memory search",
                     "Embeddings search over agent memory files.", "memory",
                     search.enabled is not False, version, 30))
    return sorted(rows, key=lambda r: r["order"])


def plugins_list(call: MethodCall) -> dict[str, Any]:
    config = call.context.get_config().config
    return {"generation": 1, "plugins": plugin_rows(config, call.context.version),
            "diagnostics": [], "mutationAllowed": False}


PLUGIN_METHODS: Final = (
    MethodSpec("plugins.list", plugins_list, READ, params_schema("plugins.list")),
)
