"""The ``providers`` service: wire APIs per provider, local-service leases, shutdown.

:class:`ModelRouter` is what the agent loop calls: ``open(ref, request)`` resolves the
provider of a model ref, acquires its local service (starting it on demand), and returns a
streamed :class:`~openclaw.providers.wire.ModelCall` plus the release callback of the lease.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from openclaw.config.loader import ConfigSnapshot
from openclaw.providers.local_service import LocalServices
from openclaw.providers.registry import (
    LOCAL_INSTALL_HINT,
    LocalModelInstall,
    ModelRef,
    ProviderCatalog,
    ProviderSpec,
    SecretValues,
)
from openclaw.providers.types import ModelRequest

if TYPE_CHECKING:
    from treq.client import HTTPClient

    from openclaw.providers.wire import ModelCall, WireApi

log = Logger(namespace="providers")


@attrs.frozen
class OpenedCall:
    call: ModelCall
    spec: ProviderSpec
    release: Callable[[], None]


class ModelRouter:
    def __init__(self, reactor: Any, catalog: ProviderCatalog,
                 client: HTTPClient | None = None) -> None:
        self.reactor = reactor
        self.catalog = catalog
        # The HTTP clients (and treq with them) are made on first use, not at start-up.
        self._client = client
        self._local: LocalServices | None = None
        self._wires: dict[str, tuple[ProviderSpec, WireApi]] = {}
        self._generations: dict[str, int] = {}

    @property
    def client(self) -> HTTPClient:
        if self._client is None:
            from openclaw.providers.http import make_http_client

            self._client = make_http_client(self.reactor)
        return self._client

    @property
    def local(self) -> LocalServices:
        if self._local is None:
            from openclaw.providers.http import make_http_client

            # Health probes get their own non-persistent client (never steal pooled
            # connections).
            self._local = LocalServices(self.reactor,
                                        make_http_client(self.reactor, persistent=False))
        return self._local

    def wire(self, spec: ProviderSpec, api: str | None = None, base_url: str | None = None
             ) -> WireApi:
        from openclaw.providers.wire import WIRE_APIS, Endpoint  # with the first model call

        key = f"{spec.id}\0{api or ''}\0{base_url or ''}"
        cached = self._wires.get(key)
        if cached is not None and cached[0] is spec:
            return cached[1]
        endpoint = Endpoint(provider_id=spec.id, base_url=base_url or spec.base_url,
                            api_key=spec.api_key, headers=dict(spec.headers),
                            auth_header=spec.auth_header, timeout_s=spec.timeout_s,
                            retries=spec.retries)
        wire = WIRE_APIS[api or spec.api](endpoint, self.client, self.reactor)
        self._wires[key] = (spec, wire)
        return wire

    async def open(self, ref: ModelRef, request: ModelRequest) -> OpenedCall:
        spec = self.catalog.get(ref.provider)
        info = spec.model(ref.model)
        release: Callable[[], None] = _noop
        if spec.local_service is not None:
            service = self.local.get(spec.id, spec.local_service)
            await service.acquire()
            release = service.release
            if self._generations.get(spec.id, service.starts) != service.starts:
                # a restarted server: pooled keep-alive connections to it are stale
                from openclaw.providers.http import close_http_client

                await close_http_client(self.client)
            self._generations[spec.id] = service.starts
        wire = self.wire(spec, info.api if info else None, info.base_url if info else None)
        if info is not None and info.max_tokens and (
                request.max_tokens is None or request.max_tokens > info.max_tokens):
            # the model's maxTokens, or the caller's smaller cap
            request = attrs.evolve(request, max_tokens=info.max_tokens)
        if info is not None and info.default_temperature is not None and \
                request.temperature is None:
            request = attrs.evolve(request, temperature=info.default_temperature)
        return OpenedCall(wire.stream(request), spec, release)

    async def stop(self) -> None:
        from openclaw.providers.http import close_http_client

        if self._local is not None:
            await self._local.stop_all()
        if self._client is not None:
            await close_http_client(self._client)
        if self._local is not None:
            await close_http_client(self._local.client)


def _noop() -> None:
    return None


class ProvidersService(Service):
    """Child ``providers`` of the gateway tree."""

    name = "providers"

    def __init__(self, reactor: Any, get_config: Callable[[], ConfigSnapshot],
                 catalog: ProviderCatalog | None = None,
                 get_secrets: Callable[[], SecretValues | None] | None = None,
                 local_install: LocalModelInstall | None = None) -> None:
        # local_install: where the built-in model is (None: look it up on first use)
        self.catalog = catalog or ProviderCatalog(get_config, get_secrets=get_secrets,
                                                  local_install=local_install)
        self.router = ModelRouter(reactor, self.catalog)

    def startService(self) -> None:
        super().startService()
        try:
            if self.catalog.uses_builtin_local():
                install = self.catalog.local_install
                if install.available:
                    log.info("models: no provider configured; using the built-in local model "
                             "(SmolLM2-135M via llama-cpp-python, started on first use)")
                else:
                    log.warn("models: no model provider is configured and {problem}; agent "
                             "runs will fail until one is: {hint}",
                             problem=install.problem(), hint=LOCAL_INSTALL_HINT)
            for provider_id, error in self.catalog._errors.items():
                log.warn("models: provider {provider} is unusable: {error}",
                         provider=provider_id, error=str(error))
        except Exception:
            log.failure("models: inspecting providers failed")

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self.router.stop())
