"""The production gateway tree with a local Gemini Live server behind ``/voiceclaw/realtime``.

:class:`VoiceStack` starts :class:`~tests.builder.GatewayFixture` (real sockets, the global
reactor) with ``GEMINI_API_KEY`` and the Gemini URL pointing at a
:class:`~openclaw.testing.gemini_live.GeminiLiveServer` on loopback. The endpoint's timers
(handshake, auth penalty, Gemini setup, reconnect backoff, watchdog, tool timeout) run on a
:class:`~twisted.internet.task.Clock` the test advances; sockets stay real.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from twisted.internet import reactor
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import Clock

from openclaw.testing.gemini_live import GeminiLiveServer
from openclaw.testing.recorder import Recorder
from openclaw.testing.voiceclaw_client import (
    SessionConfig,
    VoiceClawClient,
    connect_voiceclaw,
    start_call,
)
from openclaw.voiceclaw.session import VoiceClawSession
from tests.builder import TOKEN, GatewayFixture
from tests.ws_client import WsClient

GEMINI_KEY = "gemini-test-key"


class ObservedClock(Clock):
    """A :class:`Clock` whose scheduled calls can be waited for: a test advances it only once
    the timer it means to fire exists (``await clock.scheduled(15)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduled_calls: Recorder[tuple[float, IDelayedCall]] = Recorder()

    def callLater(self, delay: float, callable: Any, *args: Any,
                  **kw: Any) -> IDelayedCall:
        call = super().callLater(delay, callable, *args, **kw)
        self.scheduled_calls.append((delay, call))
        return call

    async def scheduled(self, delay: float) -> IDelayedCall:
        """The first pending call scheduled ``delay`` seconds ahead (now or later)."""
        _, call = await self.scheduled_calls.first(
            lambda entry: entry[0] == delay and entry[1].active())
        return call

    async def fire(self, delay: float) -> None:
        """Wait for a ``delay`` timer, then advance the clock by it."""
        await self.scheduled(delay)
        self.advance(delay)


class VoiceStack:
    """A gateway with the VoiceClaw endpoint, a scripted Gemini Live, and a timer clock."""

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 gemini_key: str | None = GEMINI_KEY, accepted_keys: set[str] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.gemini = GeminiLiveServer(reactor, api_keys=accepted_keys or {GEMINI_KEY})
        self.gemini.listen()
        extra = {"OPENCLAW_VOICECLAW_GEMINI_URL": self.gemini.url, **dict(env or {})}
        # "" rather than absent: the caller's own GEMINI_API_KEY must not leak in
        extra["GEMINI_API_KEY"] = gemini_key or ""
        self.gateway = GatewayFixture(config, env=extra)
        self.clock = ObservedClock()
        endpoint = self.gateway.service.voiceclaw
        endpoint.services.clock = self.clock
        self.sessions: Recorder[VoiceClawSession] = Recorder()
        endpoint.observers.append(self.sessions.append)
        self.clients: list[VoiceClawClient] = []

    @property
    def endpoint(self) -> Any:
        return self.gateway.service.voiceclaw

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.port}/voiceclaw/realtime"

    async def start(self) -> VoiceStack:
        await self.gateway.start()
        return self

    async def call(self, config: SessionConfig | None = None, *,
                   headers: Mapping[str, str] | None = None) -> VoiceClawClient:
        client = await start_call(reactor, self.url, config or SessionConfig(api_key=TOKEN),
                                  headers=headers)
        self.clients.append(client)
        return client

    async def connect(self, *, headers: Mapping[str, str] | None = None) -> VoiceClawClient:
        """The socket only (no ``session.config``)."""
        client = await connect_voiceclaw(reactor, self.url, headers=headers)
        self.clients.append(client)
        return client

    async def operator(self) -> WsClient:
        client = WsClient(self.gateway.port)
        await client.open()
        return client

    async def stop(self) -> None:
        for client in self.clients:
            if client.is_open:
                await client.close()
        for session in list(self.sessions):
            await session.done
        await self.gateway.stop()
        await self.gemini.stop()


def write_file(path: str, text: str) -> None:
    """Put a file in place before the test acts (tiny and synchronous, before any traffic)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
