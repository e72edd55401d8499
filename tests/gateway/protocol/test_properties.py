"""Property tests: whatever arrives, no unhandled exception and a defined close code."""

from __future__ import annotations

import json
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.methods.registry import build_registry
from openclaw.gateway.protocol.factory import make_ws_factory
from openclaw.gateway.protocol.server import GatewayServerProtocol
from tests.gateway.protocol.support import (
    Harness,
    clock_of,
    connect_params,
    make_context,
    send,
)

DEFINED_CLOSE_CODES = {1000, 1002, 1008, 1009, 1011, 1012, 4001}
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
frame_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["req", "res", "event", "cancel", "x"]),
     "id": st.one_of(st.text(max_size=8), st.integers(), st.none())},
    optional={"method": st.sampled_from(["connect", "health", "status", "logs.tail",
                                         "config.get", "device.pair.approve", "models.list",
                                         "agents.list", "nope", ""]),
              "params": json_values},
)


def check_envelopes(frames: list[bytes]) -> None:
    for raw in frames:
        message = json.loads(raw)
        assert message["type"] in ("res", "event"), message
        if message["type"] == "res":
            assert isinstance(message["id"], str) and message["id"]
            assert isinstance(message["ok"], bool)
            assert ("error" in message) != message["ok"]
            for key in ("payload", "error"):
                assert key not in message or message[key] is not None or key == "payload"
        else:
            assert "seq" not in message or isinstance(message["seq"], int)


class PreHandshakeProperties(SynchronousTestCase):
    @PROPERTY_SETTINGS
    @given(payload=st.binary(max_size=300), binary=st.booleans())
    def test_arbitrary_bytes(self, payload: bytes, binary: bool) -> None:
        harness = Harness()
        connection, transport = harness.open()
        connection.on_message(payload, binary)
        harness.clock.advance(20)
        check_envelopes(transport.frames)
        self.assertIsNotNone(transport.closed)
        assert transport.closed is not None
        self.assertIn(transport.closed[0], DEFINED_CLOSE_CODES)

    @PROPERTY_SETTINGS
    @given(frame=st.one_of(json_values, frame_like))
    def test_arbitrary_json(self, frame: Any) -> None:
        harness = Harness()
        connection, transport = harness.open()
        send(connection, frame)
        harness.clock.advance(20)
        check_envelopes(transport.frames)
        if transport.closed is None:
            self.assertIsNotNone(connection.session)
        else:
            self.assertIn(transport.closed[0], DEFINED_CLOSE_CODES)

    @PROPERTY_SETTINGS
    @given(params=st.dictionaries(st.sampled_from(
        ["minProtocol", "maxProtocol", "client", "role", "scopes", "auth", "device", "caps",
         "extra"]), json_values, max_size=6))
    def test_arbitrary_connect_params(self, params: dict[str, Any]) -> None:
        harness = Harness()
        connection, transport = harness.open()
        base = connect_params()
        base.update(params)
        send(connection, {"type": "req", "id": "c", "method": "connect", "params": base})
        harness.clock.advance(20)
        check_envelopes(transport.frames)
        if transport.closed is not None:
            self.assertIn(transport.closed[0], DEFINED_CLOSE_CODES)


class PostHandshakeProperties(SynchronousTestCase):
    @PROPERTY_SETTINGS
    @given(frames=st.lists(st.one_of(frame_like, json_values), max_size=6))
    def test_arbitrary_frames_after_hello(self, frames: list[Any]) -> None:
        harness = Harness()
        connection, transport, response = harness.connect(connect_params(
            scopes=["operator.admin"]))
        self.assertTrue(response["ok"])
        transport.frames.clear()
        for frame in frames:
            send(connection, frame)
        check_envelopes(transport.frames)
        if transport.closed is not None:
            self.assertIn(transport.closed[0], DEFINED_CLOSE_CODES)
        answered = [json.loads(f) for f in transport.frames]
        # Every frame but a cancel gets exactly one answer (errors are answers).
        expected = [f for f in frames if not (isinstance(f, dict) and f.get("type") == "cancel")]
        self.assertEqual(len([m for m in answered if m["type"] == "res"]), len(expected))

    @PROPERTY_SETTINGS
    @given(payload=st.binary(max_size=200))
    def test_raw_bytes_after_hello(self, payload: bytes) -> None:
        harness = Harness()
        connection, transport, _ = harness.connect()
        connection.on_message(payload, True)
        check_envelopes(transport.frames[1:])


class _LenientTransport(StringTransport):
    """Like a TCP transport, unregistering without a producer is allowed."""

    def unregisterProducer(self) -> None:
        self.producer = None
        self.streaming = None


class WireProperties(SynchronousTestCase):
    """Raw bytes straight into the Autobahn protocol after the upgrade."""

    @PROPERTY_SETTINGS
    @given(chunks=st.lists(st.binary(min_size=1, max_size=64), max_size=5))
    def test_garbage_websocket_bytes(self, chunks: list[bytes]) -> None:
        context = make_context()
        factory = make_ws_factory(context, build_registry(), close_handshake_timeout=0,
                                  open_handshake_timeout=0)
        protocol = cast(GatewayServerProtocol,
                        factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1234)))
        transport = _LenientTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 1234))
        protocol.makeConnection(transport)
        protocol.dataReceived(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1:18789\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n")
        self.assertIn(b"101 Switching Protocols", transport.value())
        for chunk in chunks:
            protocol.dataReceived(chunk)
        clock_of(context).advance(60)
        self.assertIsNotNone(protocol.connection)
