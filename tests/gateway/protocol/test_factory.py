"""The Autobahn adapter and factory, over in-memory transports (twisted.test.iosim)."""

from __future__ import annotations

import json
from typing import Any, cast

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket.compress import PerMessageDeflateOffer
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth.decision import AuthSettings
from openclaw.gateway.methods.registry import build_registry
from openclaw.gateway.protocol.context import ConnectionPolicy, GatewayContext
from openclaw.gateway.protocol.factory import GatewayWebSocketFactory, make_ws_factory
from openclaw.gateway.protocol.server import GatewayServerProtocol, pending_write_bytes
from tests.gateway.protocol.support import TOKEN, clock_of, connect_params, make_context

GATEWAY_ADDRESS = IPv4Address("TCP", "127.0.0.1", 18789)


class Client(WebSocketClientProtocol):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.closed: tuple[bool, int | None, str | None] | None = None

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.received.append(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.closed = (wasClean, code, reason)

    @property
    def close_info(self) -> tuple[int | None, str | None]:
        assert self.closed is not None, "not closed"
        return self.closed[1], self.closed[2]

    def send_json(self, frame: Any) -> None:
        self.sendMessage(json.dumps(frame).encode())


class Wire:
    """One server protocol from the factory wired to an Autobahn client in memory."""

    def __init__(self, factory: GatewayWebSocketFactory, *, peer: str = "127.0.0.1",
                 headers: dict[str, str] | None = None, offers: list[Any] | None = None) -> None:
        context = factory.context
        client_factory = WebSocketClientFactory("ws://127.0.0.1:18789/", reactor=context.clock,
                                                headers=headers or {})
        client_factory.protocol = Client
        client_factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0,
                                          serverConnectionDropTimeout=0, autoPingInterval=0,
                                          perMessageCompressionOffers=offers or [])
        peer_address = IPv4Address("TCP", peer, 40000)
        self.server = cast(GatewayServerProtocol, factory.buildProtocol(peer_address))
        self.client = cast(Client, client_factory.buildProtocol(None))
        server_transport = iosim.FakeTransport(self.server, isServer=True,
                                               hostAddress=GATEWAY_ADDRESS,
                                               peerAddress=peer_address)
        client_transport = iosim.FakeTransport(self.client, isServer=False,
                                               hostAddress=peer_address,
                                               peerAddress=GATEWAY_ADDRESS)
        self.pump = iosim.connect(self.server, server_transport, self.client, client_transport,
                                  greet=False)
        self.flush()

    def flush(self) -> None:
        self.pump.flush()

    def send(self, frame: Any) -> None:
        self.client.send_json(frame)
        self.flush()

    def connect(self, **params: Any) -> dict[str, Any]:
        self.send({"type": "req", "id": "c", "method": "connect",
                   "params": connect_params(**params)})
        clock_of(self.server.factory.context).advance(10)  # auth-failure penalty
        self.flush()
        return next(m for m in self.client.received if m.get("id") == "c")


def factory_for(context: GatewayContext | None = None) -> GatewayWebSocketFactory:
    return make_ws_factory(context or make_context(), build_registry())


class AdapterTests(SynchronousTestCase):
    def test_options(self) -> None:
        factory = factory_for()
        self.assertFalse(factory.webStatus)
        self.assertEqual(factory.allowedOrigins, ["*"])
        self.assertTrue(factory.echoCloseCodeReason)
        self.assertEqual(factory.maxMessagePayloadSize, 26214400)

    def test_happy_path_over_websocket(self) -> None:
        wire = Wire(factory_for())
        self.assertEqual(wire.client.received[0]["event"], "connect.challenge")
        hello = wire.connect()
        self.assertEqual(hello["payload"]["type"], "hello-ok")
        self.assertEqual(wire.server.maxMessagePayloadSize, 26214400)
        wire.send({"type": "req", "id": "h", "method": "health"})
        self.assertTrue(wire.client.received[-1]["ok"])
        wire.client.sendClose(1000, "bye")
        wire.flush()
        self.assertEqual(wire.client.closed, (True, 1000, "bye"))

    def test_compression_offer_declined(self) -> None:
        # browsers and the websockets library offer permessage-deflate; the gateway declines
        # it (as upstream's ws server does) and the connection proceeds uncompressed
        wire = Wire(factory_for(), offers=[PerMessageDeflateOffer()])
        self.assertEqual(wire.client.received[0]["event"], "connect.challenge")
        self.assertIsNone(wire.client._perMessageCompress)
        self.assertEqual(wire.connect()["payload"]["type"], "hello-ok")

    def test_policy_close_codes_reach_the_client(self) -> None:
        wire = Wire(factory_for())
        wire.connect(min_protocol=1, max_protocol=2)
        self.assertEqual(wire.client.closed, (True, 1002, "protocol mismatch"))
        wire = Wire(factory_for())
        wire.send({"type": "req", "id": "n1", "method": "health"})
        self.assertEqual(wire.client.close_info,
                         (1008, "invalid handshake: first request must be connect"))
        wire = Wire(factory_for())
        wire.client.sendMessage(b"this is {not json")
        wire.flush()
        # An empty reason is not put on the wire (RFC 6455), Autobahn reports it as None.
        self.assertEqual(wire.client.close_info, (1000, None))

    def test_preauth_limit_enforced_by_frame_header(self) -> None:
        wire = Wire(factory_for())
        self.assertEqual(wire.server.maxMessagePayloadSize, 65536)
        wire.client.sendMessage(b"x" * 70_000)
        wire.flush()
        self.assertEqual(wire.client.close_info, (1009, "preauth payload too large"))

    def test_post_auth_limit_is_inbound_only(self) -> None:
        context = make_context(policy=ConnectionPolicy(max_payload=1000))
        wire = Wire(factory_for(context))
        self.assertTrue(wire.connect()["ok"])  # hello-ok itself is larger than 1000 bytes
        wire.send({"type": "req", "id": "s", "method": "status"})
        self.assertTrue(wire.client.received[-1]["ok"])
        wire.client.sendMessage(b"x" * 2000)
        wire.flush()
        self.assertEqual(wire.client.close_info, (1009, "payload too large"))

    def test_peer_and_headers_feed_origin_checks(self) -> None:
        wire = Wire(factory_for(), headers={"Origin": "https://evil.example"})
        response = wire.connect()
        self.assertEqual(response["error"]["details"]["code"], "CONTROL_UI_ORIGIN_NOT_ALLOWED")
        remote = Wire(factory_for(), peer="203.0.113.3")
        self.assertEqual(remote.connect()["payload"]["auth"]["scopes"], [])

    def test_pending_write_bytes(self) -> None:
        class Chain:
            transport: Any

            def __init__(self, **attributes: Any) -> None:
                self.__dict__.update(attributes)

        inner = Chain(dataBuffer=b"x" * 100, offset=40, _tempDataLen=7, transport=None)
        tls = Chain(_appSendBuffer=[b"abc", b"de"], transport=inner)
        self.assertEqual(pending_write_bytes(tls), 72)
        looped = Chain(transport=None)
        looped.transport = looped
        self.assertEqual(pending_write_bytes(looped), 0)
        self.assertEqual(pending_write_bytes(None), 0)


class FactoryLifecycleTests(SynchronousTestCase):
    def test_tick_and_health_broadcasts(self) -> None:
        context = make_context()
        factory = factory_for(context)
        factory.start()
        factory.start()
        wire = Wire(factory)
        wire.connect()
        events = [m for m in wire.client.received if m.get("type") == "event"]
        self.assertEqual([e["event"] for e in events], ["connect.challenge", "health"])
        self.assertEqual(events[1]["seq"], 1)
        self.assertEqual(set(events[1]["stateVersion"]), {"presence", "health"})
        clock_of(context).advance(30)
        wire.flush()
        tick = wire.client.received[-1]
        self.assertEqual((tick["event"], tick["seq"]), ("tick", 2))
        self.assertEqual(tick["payload"], {"ts": context.now_ms()})
        factory.stop()
        factory.stop()
        clock_of(context).advance(30)
        wire.flush()
        self.assertEqual(wire.client.received[-1], tick)

    def test_start_stop_factory_hooks(self) -> None:
        factory = factory_for()
        factory.doStart()
        self.assertTrue(factory._running)
        factory.doStop()
        self.assertFalse(factory._running)

    def test_shutdown_sends_event_and_closes_1012(self) -> None:
        factory = factory_for()
        authenticated, waiting = Wire(factory), Wire(factory)
        authenticated.connect()
        self.assertEqual(len(factory.connections), 1)
        self.assertEqual(len(factory.live), 2)
        done: Deferred[None] = Deferred.fromCoroutine(
            factory.shutdown("gateway restarting", 1500, 5.0))
        authenticated.flush()
        waiting.flush()
        self.successResultOf(done)
        shutdown = authenticated.client.received[-1]
        self.assertEqual(shutdown["event"], "shutdown")
        self.assertEqual(shutdown["payload"], {"reason": "gateway restarting",
                                               "restartExpectedMs": 1500})
        self.assertEqual(authenticated.client.close_info, (1012, "service restart"))
        self.assertEqual(waiting.client.close_info, (1012, "service restart"))
        self.assertEqual(factory.live, set())
        self.assertEqual(factory.connections, {})

    def test_shutdown_is_bounded(self) -> None:
        context = make_context()
        factory = factory_for(context)
        wire = Wire(factory)
        wire.connect()
        done: Deferred[None] = Deferred.fromCoroutine(factory.shutdown("gateway stopping", None,
                                                                       2.0))
        self.assertNoResult(done)
        clock_of(context).advance(2.0)
        self.successResultOf(done)
        wire.flush()
        self.assertEqual(wire.client.received[-1]["payload"], {"reason": "gateway stopping"})

    def test_shutdown_without_clients(self) -> None:
        self.successResultOf(Deferred.fromCoroutine(factory_for().shutdown()))

    def test_auth_rotation_closes_shared_secret_sessions(self) -> None:
        context = make_context()
        factory = factory_for(context)
        wire = Wire(factory)
        wire.connect()
        self.assertEqual(factory.apply_auth_settings(AuthSettings(mode="token", token=TOKEN)), 0)
        self.assertEqual(factory.apply_auth_settings(AuthSettings(mode="token", token="new")), 1)
        wire.flush()
        self.assertEqual(wire.client.close_info, (4001, "gateway auth changed"))
        fresh = Wire(factory)
        self.assertEqual(fresh.connect()["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH")

    def test_handler_crash_inside_adapter_closes_1011(self) -> None:
        factory = factory_for()
        wire = Wire(factory)
        wire.connect()
        assert wire.server.connection is not None

        def explode(payload: bytes, is_binary: bool = False) -> None:
            raise RuntimeError("boom")

        wire.server.connection.on_message = explode  # type: ignore[method-assign]
        wire.send({"type": "req", "id": "h", "method": "health"})
        self.assertEqual(wire.client.close_info, (1011, "internal error"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
