"""Model providers: wire APIs (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages)
streamed over treq, local model services started on demand, and the built-in ``local``
provider (llama-cpp-python serving SmolLM2).

Public names: :class:`ProviderCatalog`, :class:`ModelRouter`, :class:`ProvidersService`,
:class:`ModelRef`, :func:`parse_model_ref`, :class:`ModelRequest`, :class:`ProviderError`,
:class:`TextDelta`, :class:`AssistantTurn`, :class:`ToolSpec`, :class:`ToolCall`.
"""

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
