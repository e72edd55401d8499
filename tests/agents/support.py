"""A real gateway WebSocket stack on loopback wired to the agent runtime, and a WS client.

:class:`AgentStack` builds what ``GatewayService`` builds for agents (session store with the
durable writer thread, provider catalog and router, runtime, the gateway bridge, the method
registry and the Autobahn factory behind a real ``Site``) around a config dict, plus a
:class:`~tests.upstream.ScriptedUpstream`. :class:`WsClient` is an Autobahn client that does
the ``connect`` handshake and collects frames.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from typing import Any, cast

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.internet.task import deferLater
from twisted.web.server import Site

from openclaw.agents.durable import DurableWriter
from openclaw.agents.runtime import AgentRuntime
from openclaw.agents.store import SessionStore
from openclaw.auth.decision import AuthSettings
from openclaw.blocking import thread_runner
from openclaw.config import parse_config_text
from openclaw.gateway.methods.agent import AgentGateway
from openclaw.gateway.methods.registry import agent_method_specs, build_registry
from openclaw.gateway.protocol.context import GatewayContext
from openclaw.gateway.protocol.factory import make_ws_factory
from openclaw.providers.registry import LocalModelInstall, ProviderCatalog
from openclaw.providers.router import ModelRouter
from tests.upstream import ScriptedUpstream

TOKEN = "agent-test-token"
ALL_SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals",
              "operator.pairing"]


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


class _Client(WebSocketClientProtocol):
    factory: _ClientFactory

    def onOpen(self) -> None:
        self.factory.client = self
        if not self.factory.opened.called:
            self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.owner._received(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.closed.called:
            self.factory.closed.callback((code, reason))


class _ClientFactory(WebSocketClientFactory):
    protocol = _Client

    def __init__(self, url: str, owner: WsClient, origin: str | None = None) -> None:
        super().__init__(url, reactor=reactor, origin=origin)
        self.owner = owner
        self.client: _Client | None = None
        self.opened: Deferred[_Client] = Deferred()
        self.closed: Deferred[tuple[int | None, str | None]] = Deferred()


class WsClient:
    """Collects every frame; helpers wait for a response or for events."""

    def __init__(self, port: int, origin: str | None = None) -> None:
        self.port = port
        self.frames: list[dict[str, Any]] = []
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], Deferred[Any]]] = []
        self._factory = _ClientFactory(f"ws://127.0.0.1:{port}/", self, origin)
        self._ids = 0

    def _received(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)
        for entry in list(self._waiters):
            predicate, waiter = entry
            if predicate(frame) and not waiter.called:
                self._waiters.remove(entry)
                waiter.callback(frame)

    async def open(self, *, scopes: list[str] | None = None, caps: list[str] | None = None,
                   client_id: str = "cli", mode: str = "cli") -> dict[str, Any]:
        cast(IReactorTCP, reactor).connectTCP("127.0.0.1", self.port, self._factory)
        await self._factory.opened
        params = {"minProtocol": 4, "maxProtocol": 4,
                  "client": {"id": client_id, "version": "2026.9.6", "platform": "linux",
                             "mode": mode},
                  "role": "operator", "scopes": scopes if scopes is not None else ALL_SCOPES,
                  "caps": caps or [], "auth": {"token": TOKEN}}
        hello = await self.call("connect", params)
        assert hello.get("ok"), hello
        return hello

    def send(self, method: str, params: Any = None, request_id: str | None = None) -> str:
        self._ids += 1
        rid = request_id or f"r{self._ids}"
        frame = {"type": "req", "id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        assert self._factory.client is not None
        self._factory.client.sendMessage(json.dumps(frame).encode())
        return rid

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, since: int = 0,
                 timeout: float = 10.0) -> Deferred[dict[str, Any]]:
        for frame in self.frames[since:]:
            if predicate(frame):
                done: Deferred[dict[str, Any]] = Deferred()
                done.callback(frame)
                return done
        waiter: Deferred[dict[str, Any]] = Deferred()
        self._waiters.append((predicate, waiter))
        waiter.addTimeout(timeout, cast(IReactorTime, reactor))
        return waiter

    def response(self, rid: str, *, final: bool = False, timeout: float = 10.0
                 ) -> Deferred[dict[str, Any]]:
        def match(frame: dict[str, Any]) -> bool:
            if frame.get("type") != "res" or frame.get("id") != rid:
                return False
            return not (final and (frame.get("payload") or {}).get("status") == "accepted")

        return self.wait_for(match, timeout=timeout)

    async def call(self, method: str, params: Any = None, *, final: bool = False,
                   timeout: float = 10.0) -> dict[str, Any]:
        rid = self.send(method, params)
        return await self.response(rid, final=final, timeout=timeout)

    def events(self, name: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        out = []
        for frame in self.frames:
            if frame.get("type") != "event" or (name and frame.get("event") != name):
                continue
            if run_id and (frame.get("payload") or {}).get("runId") != run_id:
                continue
            out.append(frame)
        return out

    def chat_terminal(self, run_id: str, timeout: float = 10.0) -> Deferred[dict[str, Any]]:
        return self.wait_for(
            lambda f: f.get("event") == "chat" and f["payload"].get("runId") == run_id
            and f["payload"].get("state") in ("final", "aborted", "error"), timeout=timeout)

    def close(self) -> None:
        client = self._factory.client
        if client is not None:
            client.dropConnection(abort=True)


class AgentStack:
    """Gateway pieces for agents on a real reactor; ``await stack.start(config)``."""

    def __init__(self) -> None:
        self.state_dir = tempfile.mkdtemp(prefix="oc-agents-")
        self.workspace = os.path.join(self.state_dir, "workspace")
        self.upstream = ScriptedUpstream(reactor)
        self.upstream.start()
        self.clients: list[WsClient] = []
        self.port_number = 0

    async def start(self, config: dict[str, Any] | None = None, *,
                    providers: dict[str, Any] | None = None,
                    local_install: LocalModelInstall | None = None) -> AgentStack:
        if providers is None:
            providers = provider_config(self.upstream)
        self._providers = providers
        await self.start_config(config)
        self.writer = DurableWriter(reactor)
        self.store = SessionStore(self.state_dir, self.writer, cast(IReactorTime, reactor))
        self.catalog = ProviderCatalog(lambda: self.snapshot, env={},
                                       local_install=local_install or LocalModelInstall(
                                           python="/nonexistent", gguf=None,
                                           server_available=False))
        self.router = ModelRouter(reactor, self.catalog)
        self.runtime = AgentRuntime(
            reactor=reactor, store=self.store, router=self.router,
            get_config=lambda: self.snapshot, state_dir=self.state_dir,
            default_workspace=self.workspace, run_blocking=thread_runner(reactor),
            home=self.state_dir)
        self.context = GatewayContext.create(
            clock=cast(IReactorTime, reactor), version="2026.9.6-test",
            state_dir=__import__("pathlib").Path(self.state_dir),
            get_config=lambda: self.snapshot, auth=AuthSettings(mode="token", token=TOKEN))
        self.bridge = AgentGateway(self.runtime, self.context)
        self.factory = make_ws_factory(self.context,
                                       build_registry(agent_method_specs(self.bridge)))
        self.factory.noisy = False
        self.factory.start()
        site = Site(WebSocketResource(self.factory))
        site.noisy = False
        self.port = cast(IReactorTCP, reactor).listenTCP(0, cast(Any, site),
                                                         interface="127.0.0.1")
        self.port_number = self.port.getHost().port
        return self

    async def start_config(self, config: dict[str, Any] | None) -> None:
        """Swap the running config snapshot (the providers of :meth:`start` kept)."""
        config = json.loads(json.dumps(config or {}))
        config.setdefault("gateway", {"mode": "local", "auth": {"mode": "token",
                                                                "token": TOKEN}})
        providers = self._providers
        if providers:
            config.setdefault("models", {})["providers"] = providers
            first = next(iter(providers))
            model = providers[first]["models"][0]["id"]
            config.setdefault("agents", {}).setdefault("defaults", {}).setdefault(
                "model", f"{first}/{model}")
        self.snapshot = parse_config_text(json.dumps(config),
                                          os.path.join(self.state_dir, "openclaw.json"),
                                          env={}, home=self.state_dir)

    async def client(self, origin: str | None = None, **options: Any) -> WsClient:
        client = WsClient(self.port_number, origin)
        await client.open(**options)
        self.clients.append(client)
        return client

    async def stop(self) -> None:
        for client in self.clients:
            client.close()
        await self.runtime.stop(grace_s=2.0)
        await self.router.stop()
        await self.store.close()
        self.factory.stop()
        await self.port.stopListening()
        await self.upstream.stop()
        await deferLater(cast(IReactorTime, reactor), 0.01, lambda: None)

    def transcript(self, key: str = "agent:main:main", agent: str = "main"
                   ) -> list[dict[str, Any]]:
        from openclaw.agents.store import read_jsonl

        sessions = self.store.agent(agent)
        entry = sessions.get(key)
        assert entry is not None, f"no session {key}"
        return read_jsonl(sessions.transcript_path(entry))


def roles(records: list[dict[str, Any]]) -> list[str]:
    return [r["message"]["role"] for r in records if r.get("type") == "message"]
