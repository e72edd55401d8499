"""The HTTP API of the production gateway tree on a real loopback port.

:class:`HttpStack` is :class:`~tests.builder.GatewayFixture` with a
:class:`~tests.upstream.ScriptedUpstream` as its model provider, plus request helpers;
:func:`raw_connect` speaks HTTP/1.1 over a plain socket for what treq hides (declared
lengths, half-sent bodies, disconnects).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.python.failure import Failure

from openclaw.agents.runtime import AgentRuntime
from openclaw.agents.store import SessionStore
from openclaw.auth.decision import AuthSettings
from openclaw.auth.ratelimit import AuthRateLimiter, RateLimitSettings
from openclaw.config import parse_config_text
from openclaw.gateway.http import HttpApi
from tests.builder import GatewayFixture
from tests.upstream import ScriptedUpstream

TOKEN = "http-test-token-0123456789"
HOOK_TOKEN = "hook-secret-abcdef-0123456789"


def clock() -> IReactorTime:
    return cast(IReactorTime, reactor)




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


class HttpStack:
    """The production gateway tree (tests.builder) on a real loopback port, with a scripted
    upstream as its model provider; ``await HttpStack().start(config)`` ... ``stop()``."""

    def __init__(self) -> None:
        self.upstream = ScriptedUpstream(reactor)
        self.upstream.start()
        self.gateway: GatewayFixture | None = None

    async def start(self, config: Mapping[str, Any] | None = None, *,
                    auth: AuthSettings | None = None,
                    rate_limit: RateLimitSettings | None = None,
                    local_embeddings: Any = None,
                    body_timeout_s: float | None = None) -> HttpStack:
        document = dict(config if config is not None else base_config(self.upstream))
        if rate_limit is not None:
            document["gateway"] = {**document.get("gateway", {}), "auth": {
                "mode": "token", "token": TOKEN,
                "rateLimit": {"maxAttempts": rate_limit.max_attempts,
                              "windowMs": rate_limit.window_ms,
                              "lockoutMs": rate_limit.lockout_ms,
                              "exemptLoopback": rate_limit.exempt_loopback}}}
        self.gateway = GatewayFixture(document)
        await self.gateway.start()
        if auth is not None:
            self.auth_settings = auth
        if local_embeddings is not None:
            self.api.embeddings.local_factory = local_embeddings
        if body_timeout_s is not None:
            self.api.body_timeout_s = body_timeout_s
        return self

    @property
    def _started(self) -> GatewayFixture:
        assert self.gateway is not None, "start() the stack first"
        return self.gateway

    def configure(self, config: Mapping[str, Any]) -> None:
        """Swap the running config snapshot (what a hot reload does)."""
        self._started.service.config.snapshot = parse_config_text(
            json.dumps(config), self._started.plan.paths.config_path, env={},
            home=self.state_dir)

    @property
    def auth_settings(self) -> AuthSettings:
        return self._started.context.auth

    @auth_settings.setter
    def auth_settings(self, settings: AuthSettings) -> None:
        # what a secret rotation does: HTTP reads the WebSocket context's settings per request
        context = self._started.context
        context.auth = settings
        context.rate_limiter.settings = settings.rate_limit

    @property
    def limiter(self) -> AuthRateLimiter:
        return self._started.context.rate_limiter

    @property
    def api(self) -> HttpApi:
        return self._started.api

    @property
    def embeddings(self) -> Any:
        return self.api.embeddings

    @property
    def runtime(self) -> AgentRuntime:
        return self._started.runtime

    @property
    def store(self) -> SessionStore:
        return self._started.store

    @property
    def state_dir(self) -> str:
        return self._started.state_dir

    @property
    def workspace(self) -> str:
        return self._started.workspace

    @property
    def pending_system_events(self) -> dict[str, list[str]]:
        bridge = self._started.service.agent_gateway
        assert bridge is not None
        return bridge.pending_system_events

    @property
    def port_number(self) -> int:
        return self._started.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port_number}"

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        await self.upstream.stop()

    async def runs_ended(self) -> None:
        """Returns when no run is active (waiting on each run's result)."""
        while self.runtime.active:
            handle = next(iter(self.runtime.active.values()))
            await self.runtime.wait(handle.run_id, 30.0)

    def streams_closed(self) -> Deferred[None]:
        """Fires once no ``/sessions/<key>/history`` stream is open (watching the API's table
        of open streams as each one's cleanup removes it)."""
        sessions = self.api.sessions
        done: Deferred[None] = Deferred()
        if not sessions._streams:
            done.callback(None)
            return done

        class Watched(dict):  # type: ignore[type-arg]
            def pop(self, key: Any, *default: Any) -> Any:
                value = super().pop(key, *default)
                if not self and not done.called:
                    done.callback(None)
                return value

        sessions._streams = Watched(sessions._streams)
        return done

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
        return self._started.transcript(key, agent)


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
