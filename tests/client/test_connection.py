"""The client against a real gateway process, nothing at all, and a server that never answers."""

from __future__ import annotations

import socket
import threading

from twisted.trial.unittest import SynchronousTestCase

from openclaw.client import (
    GatewayConnection,
    GatewayRequestError,
    GatewayTransportError,
    backend_identity,
    call_gateway,
    cli_identity,
    probe_identity,
)
from openclaw.client.connection import CLI_DEFAULT_SCOPES, capability_of
from openclaw.client.probe import probe_connect, probe_read
from openclaw.client.target import ClientConfig, resolve_target
from tests.cli.helpers import TOKEN, shared_gateway
from tests.support import free_port


def target_for(url: str, token: str | None = TOKEN):
    return resolve_target({}, ClientConfig(path="/nonexistent/openclaw.json", exists=False),
                          url=url, token=token or "x")


class LiveGatewayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.gateway = shared_gateway()

    def test_handshake_and_request(self) -> None:
        with GatewayConnection(target_for(self.gateway.url), cli_identity()) as conn:
            self.assertEqual(conn.hello["type"], "hello-ok")
            self.assertEqual(conn.hello["protocol"], 4)
            self.assertEqual(conn.granted_scopes, ["operator.read"])
            health = conn.request("health")
            self.assertTrue(health["ok"])
            status = conn.request("status", {"includeChannelSummary": False})
            self.assertIn("runtimeVersion", status)

    def test_scopes_granted_per_client_kind(self) -> None:
        """cli/cli keeps what it asks; probes get nothing (recorded-frames.md scope table)."""
        with GatewayConnection(target_for(self.gateway.url), cli_identity(CLI_DEFAULT_SCOPES)
                               ) as conn:
            self.assertIn("operator.admin", conn.granted_scopes)
        with GatewayConnection(target_for(self.gateway.url), backend_identity("health")) as conn:
            self.assertEqual(conn.granted_scopes, ["operator.read"])
        with GatewayConnection(target_for(self.gateway.url), probe_identity()) as conn:
            self.assertEqual(conn.granted_scopes, [])
            self.assertEqual(capability_of(conn.granted_scopes), "connected_no_operator_scope")

    def test_request_error_shape(self) -> None:
        with self.assertRaises(GatewayRequestError) as caught:
            call_gateway(target_for(self.gateway.url), "no.such.method", {},
                         identity=cli_identity(CLI_DEFAULT_SCOPES))
        self.assertEqual(caught.exception.to_json(), {"ok": False, "error": {
            "type": "gateway_request_error", "code": "INVALID_REQUEST",
            "message": "unknown method: no.such.method", "retryable": False}})

    def test_wrong_token_rejected_during_connect(self) -> None:
        with self.assertRaises(GatewayRequestError) as caught:
            call_gateway(target_for(self.gateway.url, "wrong-token"), "health")
        error = caught.exception
        self.assertTrue(error.during_connect)
        self.assertEqual(error.detail_code, "AUTH_TOKEN_MISMATCH")
        self.assertTrue(error.text.startswith("gateway connect failed: "
                                              "GatewayClientRequestError: unauthorized"))

    def test_pipelined_requests_and_probes(self) -> None:
        with GatewayConnection(target_for(self.gateway.url), cli_identity()) as conn:
            results = conn.pipeline([("health", {}), ("no.such", {}), ("status", {})])
        self.assertTrue(results[0]["ok"])
        self.assertIsInstance(results[1], GatewayRequestError)
        self.assertIn("runtimeVersion", results[2])
        probe = probe_connect(target_for(self.gateway.url), timeout_ms=5000, details=True)
        self.assertTrue(probe.connected)
        self.assertTrue(probe.scope_limited)
        self.assertFalse(probe.rpc_ok)
        read = probe_read(target_for(self.gateway.url), timeout_ms=5000)
        self.assertTrue(read.ok)
        self.assertEqual(read.capability, "read_only")


class UnreachableTests(SynchronousTestCase):
    def test_nothing_listening(self) -> None:
        port = free_port()
        with self.assertRaises(GatewayTransportError) as caught:
            call_gateway(target_for(f"ws://127.0.0.1:{port}"), "health")
        error = caught.exception
        self.assertEqual(str(error), f"Gateway not reachable at ws://127.0.0.1:{port} "
                                     "(ECONNREFUSED).")
        self.assertEqual(error.to_json(), {
            "ok": False,
            "error": {"type": "gateway_transport_error", "kind": "closed",
                      "message": f"Gateway not reachable at ws://127.0.0.1:{port} "
                                 "(ECONNREFUSED).",
                      "reason": f"connect ECONNREFUSED 127.0.0.1:{port}"},
            "gateway": {"url": f"ws://127.0.0.1:{port}", "urlSource": "cli --url"},
        })
        self.assertIn("Start it with `openclaw gateway run`", error.text)

    def test_silent_server_times_out(self) -> None:
        """A TCP server that accepts and never speaks: the deadline, not a hang."""
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]),
                                  daemon=True)
        thread.start()
        self.addCleanup(server.close)
        self.addCleanup(lambda: [s.close() for s in accepted])
        with self.assertRaises(GatewayTransportError) as caught:
            call_gateway(target_for(f"ws://127.0.0.1:{port}"), "health", timeout_ms=300)
        self.assertEqual(caught.exception.kind, "timeout")
        self.assertEqual(str(caught.exception), "gateway timeout after 300ms")
