"""One real-socket test: Site + WebSocketResource on 127.0.0.1:0, an Autobahn client."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, cast

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.trial.unittest import TestCase
from twisted.web.server import Site

from openclaw.auth.decision import AuthSettings
from openclaw.gateway.methods.registry import build_registry
from openclaw.gateway.methods.system import collect_health
from openclaw.gateway.protocol.context import GatewayContext
from openclaw.gateway.protocol.factory import make_ws_factory
from tests.gateway.protocol.support import TOKEN, config_snapshot, connect_params, fake_redact


class _ClientFactory(WebSocketClientFactory):
    def __init__(self, url: str) -> None:
        super().__init__(url, reactor=reactor)
        self.opened: Deferred[_Client] = Deferred()
        self.closed: Deferred[tuple[int | None, str | None]] = Deferred()
        self.messages: DeferredQueue[dict[str, Any]] = DeferredQueue()


class _Client(WebSocketClientProtocol):
    factory: _ClientFactory

    def onOpen(self) -> None:
        self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.messages.put(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.closed.called:
            self.factory.closed.callback((code, reason))


class LoopbackSiteTests(TestCase):
    timeout = 20

    def setUp(self) -> None:
        state = Path(tempfile.mkdtemp(prefix="oc-int-"))
        log_file = state / "logs" / "openclaw-2026-01-01.log"
        log_file.parent.mkdir(parents=True)
        log_file.write_text('{"0":"hello","_meta":{"logLevelName":"INFO"}}\n')
        self.context = GatewayContext.create(
            clock=cast(IReactorTime, reactor),
            version="2026.9.6-it",
            state_dir=state,
            get_config=config_snapshot,
            auth=AuthSettings(mode="token", token=TOKEN),
            log_file=lambda: log_file,
            redact_config=fake_redact,
        )
        self.context.health.collector = lambda: collect_health(self.context)
        self.factory = make_ws_factory(self.context, build_registry())
        self.factory.start()
        self.addCleanup(self.factory.stop)
        tcp = cast(IReactorTCP, reactor)
        self.port = tcp.listenTCP(0, cast(Any, Site(WebSocketResource(self.factory))),
                                  interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.port_number = cast(IPv4Address, self.port.getHost()).port

    async def open_client(self) -> tuple[_Client, _ClientFactory]:
        client_factory = _ClientFactory(f"ws://127.0.0.1:{self.port_number}/")
        client_factory.protocol = _Client
        cast(IReactorTCP, reactor).connectTCP("127.0.0.1", self.port_number, client_factory)
        client: _Client = await client_factory.opened
        return client, client_factory

    async def until_response(self, queue: DeferredQueue[Any], request_id: str) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = await queue.get()
            if message.get("type") == "res" and message.get("id") == request_id:
                return message

    async def test_connect_call_and_shutdown(self) -> None:
        client, client_factory = await self.open_client()
        challenge = await client_factory.messages.get()
        self.assertEqual(challenge["event"], "connect.challenge")
        client.sendMessage(json.dumps({"type": "req", "id": "c", "method": "connect",
                                       "params": connect_params()}).encode())
        hello = await self.until_response(client_factory.messages, "c")
        self.assertEqual(hello["payload"]["type"], "hello-ok")
        client.sendMessage(json.dumps({"type": "req", "id": "t", "method": "logs.tail",
                                       "params": {"limit": 5}}).encode())
        tail = await self.until_response(client_factory.messages, "t")
        self.assertEqual(tail["payload"]["lines"],
                         ['{"0":"hello","_meta":{"logLevelName":"INFO"}}'])
        await self.factory.shutdown("gateway stopping", None, 5.0)
        code, reason = await client_factory.closed
        self.assertEqual((code, reason), (1012, "service restart"))
        events = []
        while client_factory.messages.pending:
            events.append((await client_factory.messages.get()).get("event"))
        self.assertIn("shutdown", events)

    async def test_rejected_connect_closes_with_policy_code(self) -> None:
        client, client_factory = await self.open_client()
        await client_factory.messages.get()
        client.sendMessage(json.dumps({"type": "req", "id": "x", "method": "health"}).encode())
        code, reason = await client_factory.closed
        self.assertEqual(code, 1008)
        self.assertEqual(reason, "invalid handshake: first request must be connect")
