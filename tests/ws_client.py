"""The one WebSocket test client: an Autobahn client of the control protocol.

It does the ``connect`` handshake, keeps every frame, and answers "wait until" questions
with Deferreds that fire when the matching frame arrives (the timeouts are hang detectors,
never the thing a test waits for).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.python.failure import Failure

from tests.builder import TOKEN

ALL_SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals",
              "operator.pairing"]
Frame = dict[str, Any]


class _Protocol(WebSocketClientProtocol):
    factory: _Factory

    def onOpen(self) -> None:
        self.factory.protocol_instance = self
        if not self.factory.opened.called:
            self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.owner.received(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.opened.called:
            self.factory.opened.errback(Failure(ConnectionError(f"closed: {code} {reason}")))
        if not self.factory.closed.called:
            self.factory.closed.callback((code, reason))


class _Factory(WebSocketClientFactory):
    protocol = _Protocol

    def __init__(self, url: str, owner: WsClient, origin: str | None) -> None:
        super().__init__(url, reactor=reactor, origin=origin)
        self.owner = owner
        self.protocol_instance: _Protocol | None = None
        self.opened: Deferred[_Protocol] = Deferred()
        self.closed: Deferred[tuple[int | None, str | None]] = Deferred()

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.opened.called:
            self.opened.errback(reason)


class WsClient:
    """One operator (or node) connection; every frame is kept in :attr:`frames`."""

    def __init__(self, port: int, origin: str | None = None, *, token: str | None = TOKEN,
                 path: str = "/") -> None:
        self.port = port
        self.token = token
        self.frames: list[Frame] = []
        self._waiters: list[tuple[Callable[[Frame], bool], Deferred[Frame]]] = []
        self._factory = _Factory(f"ws://127.0.0.1:{port}{path}", self, origin)
        self._ids = 0
        self.hello: Frame | None = None

    # -- connection -----------------------------------------------------------------------

    async def connect_socket(self) -> None:
        """Open the WebSocket only (no ``connect`` request)."""
        cast(IReactorTCP, reactor).connectTCP("127.0.0.1", self.port, self._factory)
        await self._factory.opened

    async def open(self, *, scopes: list[str] | None = None, caps: list[str] | None = None,
                   client_id: str = "cli", mode: str = "cli", role: str = "operator",
                   auth: dict[str, Any] | None = None, expect_ok: bool = True,
                   **extra: Any) -> Frame:
        """Open and authenticate; returns the ``connect`` response frame."""
        await self.connect_socket()
        params: dict[str, Any] = {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": client_id, "version": "2026.9.6", "platform": "linux",
                       "mode": mode},
            "role": role, "scopes": scopes if scopes is not None else ALL_SCOPES,
            "caps": caps or [],
            "auth": auth if auth is not None else (
                {"token": self.token} if self.token is not None else {}),
            **extra}
        hello = await self.call("connect", params)
        if expect_ok:
            assert hello.get("ok"), hello
        self.hello = hello
        return hello

    @property
    def closed(self) -> Deferred[tuple[int | None, str | None]]:
        """Fires with ``(code, reason)`` when the connection closes."""
        return self._factory.closed

    def close(self) -> None:
        protocol = self._factory.protocol_instance
        if protocol is not None:
            protocol.dropConnection(abort=True)

    def send_raw(self, payload: bytes, binary: bool = False) -> None:
        protocol = self._factory.protocol_instance
        assert protocol is not None, "not connected"
        protocol.sendMessage(payload, isBinary=binary)

    # -- frames ---------------------------------------------------------------------------

    def received(self, frame: Frame) -> None:
        self.frames.append(frame)
        for entry in list(self._waiters):
            predicate, waiter = entry
            if predicate(frame) and not waiter.called:
                self._waiters.remove(entry)
                waiter.callback(frame)

    def send(self, method: str, params: Any = None, request_id: str | None = None) -> str:
        self._ids += 1
        rid = request_id or f"r{self._ids}"
        frame: Frame = {"type": "req", "id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        self.send_raw(json.dumps(frame).encode())
        return rid

    def wait_for(self, predicate: Callable[[Frame], bool], *, since: int = 0,
                 timeout: float = 10.0) -> Deferred[Frame]:
        """The first frame (from index ``since``) matching ``predicate``, now or later."""
        for frame in self.frames[since:]:
            if predicate(frame):
                return succeed(frame)
        waiter: Deferred[Frame] = Deferred()
        self._waiters.append((predicate, waiter))
        waiter.addTimeout(timeout, cast(IReactorTime, reactor))
        return waiter

    def response(self, rid: str, *, final: bool = False, timeout: float = 10.0
                 ) -> Deferred[Frame]:
        """The ``res`` frame of request ``rid`` (``final``: skip an ``accepted`` first stage)."""
        def match(frame: Frame) -> bool:
            if frame.get("type") != "res" or frame.get("id") != rid:
                return False
            return not (final and (frame.get("payload") or {}).get("status") == "accepted")

        return self.wait_for(match, timeout=timeout)

    async def call(self, method: str, params: Any = None, *, final: bool = False,
                   timeout: float = 10.0) -> Frame:
        rid = self.send(method, params)
        return await self.response(rid, final=final, timeout=timeout)

    def events(self, name: str | None = None, run_id: str | None = None) -> list[Frame]:
        out = []
        for frame in self.frames:
            if frame.get("type") != "event" or (name and frame.get("event") != name):
                continue
            if run_id and (frame.get("payload") or {}).get("runId") != run_id:
                continue
            out.append(frame)
        return out

    def event(self, name: str, *, timeout: float = 10.0,
              where: Callable[[Any], bool] = lambda payload: True) -> Deferred[Frame]:
        """The first ``name`` event whose payload satisfies ``where``."""
        return self.wait_for(lambda f: f.get("type") == "event" and f.get("event") == name
                             and where(f.get("payload")), timeout=timeout)

    def chat_terminal(self, run_id: str, timeout: float = 10.0) -> Deferred[Frame]:
        """The ``chat`` event that ends run ``run_id`` (final, aborted or error)."""
        return self.wait_for(
            lambda f: f.get("event") == "chat" and f["payload"].get("runId") == run_id
            and f["payload"].get("state") in ("final", "aborted", "error"), timeout=timeout)
