"""Stand-ins: a bare Autobahn client for the gateway's Gemini Live side, and a stub gateway
endpoint for the VoiceClaw client's own tests."""

from __future__ import annotations

import base64
import json
from typing import Any, cast

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from openclaw.autobahn_timers import ReactorTimer, cancel_close_timer
from openclaw.testing.recorder import Recorder


class Received:
    """One server message as the client got it."""

    def __init__(self, data: dict[str, Any], binary: bool) -> None:
        self.data = data
        self.binary = binary

    @property
    def kind(self) -> str:
        return next(iter(self.data))

    def __repr__(self) -> str:
        return f"<{'binary' if self.binary else 'text'} {self.data!r:.120}>"


class StandInProtocol(WebSocketClientProtocol):
    factory: StandInFactory

    def onOpen(self) -> None:
        self.factory.opened.callback(StandIn(self))

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.received.append(Received(json.loads(payload.decode("utf-8")), isBinary))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)
        if not self.factory.opened.called:
            self.factory.opened.errback(Failure(ConnectionError(f"not opened: {code} {reason}")))
        self.factory.closed.append((code, reason))


class StandInFactory(WebSocketClientFactory):
    protocol = StandInProtocol

    def __init__(self, url: str) -> None:
        super().__init__(url, reactor=reactor)
        self._batched_timer = ReactorTimer(cast(IReactorTime, reactor))
        self.opened: Deferred[StandIn] = Deferred()
        self.received: Recorder[Received] = Recorder()
        self.closed: Recorder[tuple[int | None, str | None]] = Recorder()

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.opened.called:
            self.opened.errback(reason)


class StandIn:
    """The client side: send messages, read what came back in order."""

    def __init__(self, protocol: StandInProtocol) -> None:
        self.protocol = protocol
        self.factory = protocol.factory
        self.cursor = 0

    @property
    def received(self) -> Recorder[Received]:
        return self.factory.received

    def send(self, message: Any) -> None:
        self.protocol.sendMessage(json.dumps(message).encode("utf-8"), isBinary=False)

    def send_raw(self, payload: bytes) -> None:
        self.protocol.sendMessage(payload, isBinary=False)

    def send_audio(self, pcm16k: bytes, mime: str = "audio/pcm;rate=16000") -> None:
        self.send({"realtimeInput": {"audio": {
            "data": base64.b64encode(pcm16k).decode("ascii"), "mimeType": mime}}})

    async def next(self) -> Received:
        """The next message after the ones already read."""
        message = await self.received.nth(self.cursor)
        self.cursor += 1
        return message

    async def until(self, kind: str, field: str | None = None) -> list[Received]:
        """Messages read up to and including the first of ``kind`` (with ``field`` inside)."""
        got: list[Received] = []
        while True:
            message = await self.next()
            got.append(message)
            if message.kind == kind and (field is None or field in message.data[kind]):
                return got

    async def closed(self) -> tuple[int | None, str | None]:
        return await self.factory.closed.first()

    def close(self) -> None:
        self.protocol.sendClose(1000)


async def connect(url: str) -> StandIn:
    factory = StandInFactory(url)
    host, port = factory.host, factory.port
    cast(IReactorTCP, reactor).connectTCP(host, port, factory)
    return await factory.opened


SETUP: dict[str, Any] = {
    "model": "models/gemini-3.1-flash-live-preview",
    "generationConfig": {
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
    },
    "outputAudioTranscription": {},
    "inputAudioTranscription": {},
    "systemInstruction": {"parts": [{"text": "You are a helpful voice assistant."}]},
    "sessionResumption": {},
    "tools": [{"functionDeclarations": [
        {"name": "web_fetch", "description": "Fetch a URL",
         "parameters": {"type": "object", "properties": {"url": {"type": "string"}}}},
        {"name": "read", "description": "", "parameters": {"type": "object", "properties": {}}},
    ]}],
}


def setup_message(handle: str | None = None, **changes: Any) -> dict[str, Any]:
    setup = dict(SETUP, **changes)
    if handle is not None:
        setup["sessionResumption"] = {"handle": handle}
    return {"setup": setup}


# ---------------------------------------------------------------------------------------------
# A stand-in gateway for the VoiceClaw client's own tests (the real endpoint is the gateway's)


class StubGatewayProtocol(WebSocketServerProtocol):
    factory: StubGatewayFactory

    def onOpen(self) -> None:
        self.factory.stub.sockets.append(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        try:
            event = json.loads(payload.decode("utf-8"))
        except ValueError:
            event = {"raw": payload.decode("utf-8", "replace")}
        self.factory.stub.received.append(event)
        self.factory.stub.handler(self.factory.stub, event)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)

    def send_event(self, event: dict[str, Any]) -> None:
        self.sendMessage(json.dumps(event).encode("utf-8"), isBinary=False)


class StubGatewayFactory(WebSocketServerFactory):
    protocol = StubGatewayProtocol

    def __init__(self, stub: StubGateway) -> None:
        super().__init__(reactor=reactor)
        self.stub = stub
        self._batched_timer = ReactorTimer(cast(IReactorTime, reactor))
        self.setProtocolOptions(webStatus=False)


class _StubRoot(Resource):
    isLeaf = True

    def __init__(self, stub: StubGateway) -> None:
        super().__init__()
        self.stub = stub
        self.websocket = WebSocketResource(StubGatewayFactory(stub))

    def render(self, request: Request) -> bytes | int:
        if request.getHeader(b"upgrade"):
            if self.stub.busy:  # the pre-auth budget's answer
                request.setResponseCode(503)
                return b"Too many unauthenticated sockets"
            return cast(int, self.websocket.render(request))
        if request.path == b"/health":
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            return b'{"ok":true,"status":"live"}'
        request.setResponseCode(404)
        return b"Not Found"


class StubGateway:
    """``/voiceclaw/realtime`` and ``/health`` on loopback; ``handler(stub, event)`` answers."""

    def __init__(self, handler: Any = None) -> None:
        self.handler = handler or (lambda stub, event: None)
        self.received: Recorder[dict[str, Any]] = Recorder()
        self.sockets: list[StubGatewayProtocol] = []
        self.busy = False
        self.port = cast(IReactorTCP, reactor).listenTCP(
            0, Site(_StubRoot(self)), interface="127.0.0.1")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port.getHost().port}/voiceclaw/realtime"

    def send(self, event: dict[str, Any]) -> None:
        self.sockets[-1].send_event(event)

    def close(self, code: int, reason: str) -> None:
        self.sockets[-1].sendCloseFrame(code=code, reasonUtf8=reason.encode(), isReply=False)

    def stop(self) -> Any:
        for socket in self.sockets:
            socket.dropConnection(abort=True)
        return self.port.stopListening()
