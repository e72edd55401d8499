"""Builds the WebSocket side of the site for a GatewayService.

Kept apart from service.py so the protocol package can be swapped in without touching
the tree: it returns the resource to mount and the coroutine the web service awaits on stop.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.defer import Deferred, DeferredList
from twisted.web.resource import IResource

if TYPE_CHECKING:
    from openclaw.gateway.service import GatewayService


class _PlaceholderProtocol(WebSocketServerProtocol):  # type: ignore[misc]
    """Sends the real `connect.challenge`, then answers every request with UNAVAILABLE."""

    factory: _PlaceholderFactory

    def onOpen(self) -> None:
        self.factory.live.add(self)
        self.closed: Deferred[None] = Deferred()
        challenge = {
            "type": "event",
            "event": "connect.challenge",
            "payload": {"nonce": secrets.token_urlsafe(16), "ts": int(time.time() * 1000)},
        }
        self.sendMessage(json.dumps(challenge).encode("utf-8"))

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        try:
            frame: Any = json.loads(payload)
            request_id = frame.get("id") if isinstance(frame, dict) else None
        except ValueError:
            request_id = None
        if isinstance(request_id, str):
            reply = {
                "type": "res",
                "id": request_id,
                "ok": False,
                "error": {"code": "UNAVAILABLE", "message": "control protocol not available"},
            }
            self.sendMessage(json.dumps(reply).encode("utf-8"))
        self.sendClose(code=1008, reason="control protocol not available")

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.factory.live.discard(self)
        closed = getattr(self, "closed", None)
        if closed is not None and not closed.called:
            closed.callback(None)


class _PlaceholderFactory(WebSocketServerFactory):  # type: ignore[misc]
    protocol = _PlaceholderProtocol

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live: set[_PlaceholderProtocol] = set()

    async def shutdown(self, reason: str, restart_expected_ms: int | None, timeout: float) -> None:
        waiting = []
        for proto in list(self.live):
            proto.sendClose(code=1012, reason=reason[:120])
            waiting.append(proto.closed)
        if waiting:
            await DeferredList(waiting, consumeErrors=True)


def build_websocket(
    gateway: GatewayService,
) -> tuple[IResource, Callable[[str, int | None, float], Awaitable[None]]]:
    factory = _PlaceholderFactory(reactor=gateway.reactor)
    factory.setProtocolOptions(autoPingInterval=0)
    return WebSocketResource(factory), factory.shutdown
