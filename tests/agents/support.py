"""The production gateway (tests.builder) around a scripted upstream, for the agent tests.

:class:`AgentStack` is :class:`~tests.builder.GatewayFixture` on the global reactor with a
:class:`~tests.upstream.ScriptedUpstream` as its model provider; clients are the one test
client, :class:`~tests.ws_client.WsClient`.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import reactor

from openclaw.agents.runtime import AgentRuntime
from openclaw.agents.store import SessionStore
from openclaw.config import parse_config_text
from openclaw.providers.registry import LocalModelInstall
from tests.builder import NO_LOCAL_MODEL, TOKEN, GatewayFixture, with_defaults
from tests.upstream import ScriptedUpstream
from tests.ws_client import ALL_SCOPES, WsClient

__all__ = ["ALL_SCOPES", "TOKEN", "AgentStack", "WsClient", "provider_config", "roles"]


def provider_config(upstream: ScriptedUpstream, *, provider: str = "scripted",
                    api: str = "openai-completions", timeout_s: int | None = None,
                    models: tuple[str, ...] = ("m1",)) -> dict[str, Any]:
    entry: dict[str, Any] = {"baseUrl": upstream.base_url if api != "anthropic-messages"
                             else upstream.root_url,
                             "apiKey": "sk-test", "api": api,
                             "models": [{"id": m, "name": m, "contextWindow": 8192}
                                        for m in models]}
    if timeout_s is not None:
        entry["timeoutSeconds"] = timeout_s
    return {provider: entry}


class AgentStack:
    """The gateway tree for agents on the real reactor; ``await stack.start(config)``."""

    def __init__(self) -> None:
        self.upstream = ScriptedUpstream(reactor)
        self.upstream.start()
        self.clients: list[WsClient] = []
        self.gateway: GatewayFixture | None = None

    async def start(self, config: dict[str, Any] | None = None, *,
                    providers: dict[str, Any] | None = None,
                    local_install: LocalModelInstall | None = NO_LOCAL_MODEL) -> AgentStack:
        if providers is None:
            providers = provider_config(self.upstream)
        self._providers = providers
        self.gateway = GatewayFixture(self._with_providers(config), local_model=local_install)
        await self.gateway.start()
        return self

    def _with_providers(self, config: dict[str, Any] | None) -> dict[str, Any]:
        config = json.loads(json.dumps(config or {}))
        providers = self._providers
        if providers:
            config.setdefault("models", {})["providers"] = providers
            first = next(iter(providers))
            model = providers[first]["models"][0]["id"]
            config.setdefault("agents", {}).setdefault("defaults", {}).setdefault(
                "model", f"{first}/{model}")
        return config

    async def start_config(self, config: dict[str, Any] | None) -> None:
        """Swap the running config snapshot, as a hot reload does (providers kept)."""
        gateway = self._started
        gateway.service.config.snapshot = parse_config_text(
            json.dumps(with_defaults(self._with_providers(config))),
            gateway.plan.paths.config_path, env={}, home=gateway.state_dir)

    @property
    def _started(self) -> GatewayFixture:
        assert self.gateway is not None, "start() the stack first"
        return self.gateway

    @property
    def runtime(self) -> AgentRuntime:
        return self._started.runtime

    @property
    def store(self) -> SessionStore:
        return self._started.store

    @property
    def port_number(self) -> int:
        return self._started.port

    @property
    def state_dir(self) -> str:
        return self._started.state_dir

    @property
    def workspace(self) -> str:
        return self._started.workspace

    @property
    def context(self) -> Any:
        return self._started.context

    @property
    def factory(self) -> Any:
        return self._started.service.web.ws_factory

    @property
    def catalog(self) -> Any:
        return self._started.service.providers.catalog

    @property
    def router(self) -> Any:
        return self._started.service.providers.router

    async def client(self, origin: str | None = None, **options: Any) -> WsClient:
        client = WsClient(self.port_number, origin)
        await client.open(**options)
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.gateway is not None:
            await self.gateway.stop()
        await self.upstream.stop()

    def transcript(self, key: str = "agent:main:main", agent: str = "main"
                   ) -> list[dict[str, Any]]:
        return self._started.transcript(key, agent)

    async def settled(self, run_id: str) -> None:
        """Returns once run ``run_id`` has ended: everything it records is on disk then (its
        result is set after its last transcript append)."""
        result = await self.runtime.wait(run_id, 10.0)
        assert result is not None, f"run {run_id} did not end"


def roles(records: list[dict[str, Any]]) -> list[str]:
    return [r["message"]["role"] for r in records if r.get("type") == "message"]
