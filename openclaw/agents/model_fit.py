"""What a run offers its model: tools or not, the full or the compact system prompt.

A model that cannot call tools (``compat.supportsTools: false``; the built-in local model) is
offered none: SmolLM2-135M offered tools answers with an empty message. A small-context model
(``contextWindow`` up to :data:`~openclaw.providers.registry.COMPACT_PROMPT_MAX_CONTEXT`
tokens) gets the compact system prompt instead of the workspace bootstrap, which would fill
its context.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from openclaw.providers.registry import ModelRef
from openclaw.providers.types import ProviderError

#: The error of a model turn with neither text nor tool calls (never recorded as an answer).
NO_CONTENT: Final = "model returned no content"


@attrs.frozen
class ModelFit:
    supports_tools: bool = True
    compact_prompt: bool = False


CAPABLE: Final = ModelFit()


def model_fit(router: Any, ref: ModelRef) -> ModelFit:
    """The fit of ``ref``'s model entry (a model the catalog does not list is capable)."""
    if router is None:
        return CAPABLE
    try:
        info = router.catalog.get(ref.provider).model(ref.model)
    except ProviderError:
        return CAPABLE
    if info is None:
        return CAPABLE
    return ModelFit(supports_tools=info.supports_tools, compact_prompt=info.small)


def no_content_error(provider: str, model: str) -> ProviderError:
    return ProviderError(provider, NO_CONTENT, model=model)


__all__ = ["CAPABLE", "NO_CONTENT", "ModelFit", "model_fit", "no_content_error"]
