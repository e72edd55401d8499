"""Model providers: wire APIs (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages)
streamed over treq, local model services started on demand, and the built-in ``local``
provider (llama-cpp-python serving SmolLM2).

Public names: :class:`ProviderCatalog`, :class:`ModelRouter`, :class:`ProvidersService`,
:class:`ModelRef`, :func:`parse_model_ref`, :class:`ModelRequest`, :class:`ProviderError`,
:class:`TextDelta`, :class:`AssistantTurn`, :class:`ToolSpec`, :class:`ToolCall`.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openclaw.providers.registry import (
        LOCAL_MODEL_ID,
        LOCAL_PROVIDER_ID,
        ModelRef,
        ProviderCatalog,
        ProviderSpec,
        find_local_model,
        model_chain,
        parse_model_ref,
    )
    from openclaw.providers.router import ModelRouter, ProvidersService
    from openclaw.providers.types import (
        AssistantTurn,
        ModelRequest,
        ProviderError,
        TextDelta,
        ToolCall,
        ToolCallDelta,
        ToolSpec,
        Usage,
    )

# Importing a submodule (``openclaw.providers.types``) must not pull in every provider and
# treq: the names below load on first access (PEP 562).
_HOMES = {
    **dict.fromkeys(("LOCAL_MODEL_ID", "LOCAL_PROVIDER_ID", "ModelRef", "ProviderCatalog",
                     "ProviderSpec", "find_local_model", "model_chain", "parse_model_ref"),
                    "registry"),
    **dict.fromkeys(("ModelRouter", "ProvidersService"), "router"),
    **dict.fromkeys(("AssistantTurn", "ModelRequest", "ProviderError", "TextDelta", "ToolCall",
                     "ToolCallDelta", "ToolSpec", "Usage"), "types"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "LOCAL_MODEL_ID",
    "LOCAL_PROVIDER_ID",
    "AssistantTurn",
    "ModelRef",
    "ModelRequest",
    "ModelRouter",
    "ProviderCatalog",
    "ProviderError",
    "ProviderSpec",
    "ProvidersService",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolSpec",
    "Usage",
    "find_local_model",
    "model_chain",
    "parse_model_ref",
]
