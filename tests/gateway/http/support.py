"""The HTTP API on a real loopback Site, in process, with the real agent runtime behind it.

:class:`HttpStack` builds what ``GatewayService`` builds for the HTTP surface (session store
with its writer thread, provider catalog and router pointed at a
:class:`~tests.upstream.ScriptedUpstream`, the runtime, the :class:`HttpApi` with the shared
auth decision and limiter, the root resource with the probes, the bounded request factory)
around a config dict. :func:`raw_http` speaks HTTP/1.1 over a plain socket for what treq hides
(declared lengths, half-sent bodies, disconnects).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.web.resource import Resource

from openclaw.agents.durable import DurableWriter
from openclaw.agents.runtime import AgentRuntime
from openclaw.agents.store import SessionStore
from openclaw.auth.decision import AuthSettings
from openclaw.auth.ratelimit import AuthRateLimiter, RateLimitSettings
from openclaw.blocking import thread_runner
from openclaw.config import parse_config_text
from openclaw.gateway.http import HttpApi
from openclaw.gateway.http.auth import AuthSource, HttpAuthenticator
from openclaw.gateway.http.runs import AgentRunner
from openclaw.gateway.site import SECURITY_HEADERS, GatewayRootResource, GatewaySite, ProbesStage
from openclaw.memory.embeddings import EmbeddingsService
from openclaw.providers.registry import LocalModelInstall, ProviderCatalog
from openclaw.providers.router import ModelRouter
from tests.upstream import ScriptedUpstream

TOKEN = "http-test-token-0123456789"
HOOK_TOKEN = "hook-secret-abcdef-0123456789"


def clock() -> IReactorTime:
    return cast(IReactorTime, reactor)


async def sleep(seconds: float) -> None:
    await deferLater(clock(), seconds, lambda: None)


def base_config(upstream: ScriptedUpstream, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN},
                    "http": {"endpoints": {"chatCompletions": {"enabled": True},
                                           "responses": {"enabled": True}}}},
        "models": {"providers": {"scripted": {
            "baseUrl": upstream.base_url, "apiKey": "sk-test", "api": "openai-completions",
            "models": [{"id": "m1", "name": "m1", "contextWindow": 8192}]}}},
        "agents": {"defaults": {"model": "scripted/m1", "skipBootstrap": True}},
    }
    for key, value in extra.items():
        config[key] = value
    return config


def bearer(token: str = TOKEN) -> dict[str, list[str]]:
    return {"Authorization": [f"Bearer {token}"]}


class _Websocket(Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(400)
        return b"no websocket here"


class HttpStack:
    """``await HttpStack().start(config_dict)``; ``await stack.stop()``."""

    def __init__(self) -> None:
        self.state_dir = tempfile.mkdtemp(prefix="oc-http-")
        self.workspace = os.path.join(self.state_dir, "workspace")
        self.upstream = ScriptedUpstream(reactor)
        self.upstream.start()
        self.snapshot: Any = None
        self.port_number = 0

    def configure(self, config: Mapping[str, Any]) -> None:
        self.snapshot = parse_config_text(json.dumps(config),
                                          os.path.join(self.state_dir, "openclaw.json"),
                                          env={}, home=self.state_dir)

    async def start(self, config: Mapping[str, Any] | None = None, *,
                    auth: AuthSettings | None = None,
                    rate_limit: RateLimitSettings | None = None,
                    local_embeddings: Any = None,
                    body_timeout_s: float | None = None) -> HttpStack:
        self.configure(config if config is not None else base_config(self.upstream))
        self.auth_settings = auth or AuthSettings(
            mode="token", token=TOKEN, rate_limit=rate_limit or RateLimitSettings())
        self.limiter = AuthRateLimiter(clock(), self.auth_settings.rate_limit)
        self.writer = DurableWriter(reactor)
        self.store = SessionStore(self.state_dir, self.writer, clock())
        self.catalog = ProviderCatalog(lambda: self.snapshot, env={},
                                       local_install=LocalModelInstall(
                                           python="/nonexistent", gguf=None,
                                           server_available=False))
        self.router = ModelRouter(reactor, self.catalog)
        run_blocking = thread_runner(reactor)
        self.runtime = AgentRuntime(
            reactor=reactor, store=self.store, router=self.router,
            get_config=lambda: self.snapshot, state_dir=self.state_dir,
            default_workspace=self.workspace, run_blocking=run_blocking,
            home=self.state_dir)
        self.pending_system_events: dict[str, list[str]] = {}
        self.embeddings = EmbeddingsService(reactor, lambda: self.snapshot, run_blocking, env={},
                                            local_factory=local_embeddings)
        self.api = HttpApi(
            clock=clock(), get_config=lambda: self.snapshot,
            authenticator=HttpAuthenticator(AuthSource(
                settings=lambda: self.auth_settings, limiter=lambda: self.limiter), clock()),
            runner=AgentRunner(self.runtime), run_blocking=run_blocking,
            embeddings=self.embeddings, agent_gateway=lambda: self)
        if body_timeout_s is not None:
            self.api.body_timeout_s = body_timeout_s
        probes = ProbesStage(version="test", started_at=time.time(), readiness=lambda: [],
                             bearer_ok=lambda presented: presented == TOKEN.encode())
        root = GatewayRootResource(_Websocket(), [probes, *self.api.stages()])
        self.site = GatewaySite(root, reactor=reactor)
        self.site.noisy = False
        self.site.requestFactory = self.api.request_factory(SECURITY_HEADERS)
        self.port = cast(IReactorTCP, reactor).listenTCP(0, cast(Any, self.site),
                                                         interface="127.0.0.1")
        self.port_number = self.port.getHost().port  # type: ignore[attr-defined]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port_number}"

    async def stop(self) -> None:
        await self.runtime.stop(grace_s=2.0)
        await self.router.stop()
        await self.embeddings.stop()
        await self.store.close()
        await self.port.stopListening()
        await self.upstream.stop()
        await sleep(0.01)

    # -- clients --------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, body: Any = None,
                      headers: Mapping[str, list[str]] | None = None, token: str | None = TOKEN,
                      raw: bytes | None = None) -> tuple[int, Any, Any]:
        """``(status, headers, parsed JSON or text)`` via treq."""
        all_headers: dict[str, list[str]] = dict(headers or {})
        if token is not None:
            all_headers.setdefault("Authorization", [f"Bearer {token}"])
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        if data is not None:
            all_headers.setdefault("Content-Type", ["application/json"])
        response = await treq.request(method, self.url + path, data=data,
                                      headers=all_headers, reactor=reactor, persistent=False)
        content = await treq.content(response)
        content_type = (response.headers.getRawHeaders("content-type") or [b""])[0]
        parsed: Any = content.decode("utf-8", "replace")
        if "json" in str(content_type):
            parsed = json.loads(content) if content else None
        return response.code, response.headers, parsed

    def transcript(self, key: str, agent: str = "main") -> list[dict[str, Any]]:
        from openclaw.agents.store import read_jsonl

        sessions = self.store.agent(agent)
        entry = sessions.get(key)
        assert entry is not None, f"no session {key}"
        return read_jsonl(sessions.transcript_path(entry))


def sse_frames(text: str) -> list[tuple[str | None, str]]:
    """``[(event, data)]`` of an SSE body."""
    frames: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            frames.append((event, "\n".join(data)))
    return frames


# --------------------------------------------------------------------------- raw sockets


class RawClient(Protocol):
    """Collects every byte; ``closed`` fires when the server closes."""

    def __init__(self) -> None:
        self.data = b""
        self.closed: Deferred[None] = Deferred()
        self.ready: Deferred[RawClient] = Deferred()
        self._waiters: list[tuple[bytes, Deferred[None]]] = []

    def connectionMade(self) -> None:
        self.ready.callback(self)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        for entry in list(self._waiters):
            marker, waiter = entry
            if marker in self.data:
                self._waiters.remove(entry)
                waiter.callback(None)

    def connectionLost(self, reason: Failure = Failure(Exception())) -> None:  # noqa: B008
        if not self.closed.called:
            self.closed.callback(None)

    def wait_for(self, marker: bytes, timeout: float = 10.0) -> Deferred[None]:
        waiter: Deferred[None] = Deferred()
        if marker in self.data:
            waiter.callback(None)
            return waiter
        self._waiters.append((marker, waiter))
        waiter.addTimeout(timeout, clock())
        return waiter

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def abort(self) -> None:
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]


async def raw_connect(port: int) -> RawClient:
    client = RawClient()

    class Factory(ClientFactory):
        def buildProtocol(self, addr: Any) -> RawClient:
            return client

    cast(IReactorTCP, reactor).connectTCP("127.0.0.1", port, Factory())
    await client.ready
    return client


def request_head(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def state_path(stack: HttpStack) -> Path:
    return Path(stack.state_dir)
