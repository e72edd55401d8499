"""A bare Discord gateway client on Autobahn, for driving the fake gateway frame by frame."""

from __future__ import annotations

import json
from typing import Any, cast

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.interfaces import IReactorTCP


class _Timer:
    """Autobahn's protocol timers as plain reactor calls (nothing left behind after a test)."""

    def call_later(self, delay: float, func: Any, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, reactor).callLater(delay, func, *args, **kwargs)


class GatewayClient(WebSocketClientProtocol):
    factory: GatewayClientFactory

    def onOpen(self) -> None:
        self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.frames.put(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.closed.called:
            self.factory.closed.callback((code, reason))

    def send(self, op: int, d: Any = None) -> None:
        self.sendMessage(json.dumps({"op": op, "d": d}).encode())

    def send_raw(self, payload: bytes, binary: bool = False) -> None:
        self.sendMessage(payload, isBinary=binary)

    async def frame(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self.factory.frames.get())

    async def dispatch(self, event: str | None = None) -> dict[str, Any]:
        """The next op-0 frame (skipping other dispatches until ``event`` if given)."""
        while True:
            frame = await self.frame()
            if frame["op"] == 0 and (event is None or frame["t"] == event):
                return frame

    async def op(self, op: int) -> dict[str, Any]:
        """The next frame with opcode ``op`` (skipping others)."""
        while True:
            frame = await self.frame()
            if frame["op"] == op:
                return frame

    @property
    def closed(self) -> Deferred[tuple[int | None, str | None]]:
        return self.factory.closed


class GatewayClientFactory(WebSocketClientFactory):
    protocol = GatewayClient  # type: ignore[assignment]

    def __init__(self, url: str) -> None:
        super().__init__(url, reactor=reactor)
        self._batched_timer = _Timer()
        self.setProtocolOptions(closeHandshakeTimeout=1.0, openHandshakeTimeout=5.0)
        self.opened: Deferred[GatewayClient] = Deferred()
        self.closed: Deferred[tuple[int | None, str | None]] = Deferred()
        self.frames: DeferredQueue[dict[str, Any]] = DeferredQueue()


async def connect(url: str) -> GatewayClient:
    factory = GatewayClientFactory(url)
    cast(IReactorTCP, reactor).connectTCP(factory.host, factory.port, factory)
    return await factory.opened
