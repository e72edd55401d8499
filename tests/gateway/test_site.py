"""The one-port site: probes, 404s, security headers, and WebSocket + HTTP on one path."""

from __future__ import annotations

import json
import socket

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from treq.testing import StubTreq
from twisted.internet import reactor, threads
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.gateway.site import (
    GatewayRootResource,
    GatewaySite,
    ProbesStage,
    shared_secret_checker,
)


class _Echo(WebSocketServerProtocol):
    def onOpen(self) -> None:
        self.sendMessage(b'{"type":"event","event":"hello"}')


def make_root(failing=None, now=lambda: 1000.0):
    factory = WebSocketServerFactory()
    factory.protocol = _Echo
    probes = ProbesStage(
        version="2026.9.6",
        started_at=990.0,
        readiness=lambda: list(failing or []),
        bearer_ok=shared_secret_checker(["sekrit-token"]),
        now=now,
    )
    return GatewayRootResource(WebSocketResource(factory), [probes])


class ProbeTests(SynchronousTestCase):
    def request(self, root, method, url, headers=None):
        http = StubTreq(root)
        response = self.successResultOf(http.request(method, url, headers=headers or {}))
        body = self.successResultOf(response.content())
        return response, body

    def test_health_and_healthz(self) -> None:
        for path in ("/health", "/healthz"):
            response, body = self.request(make_root(), "GET", f"http://gw{path}")
            self.assertEqual(response.code, 200)
            self.assertEqual(json.loads(body), {"ok": True, "status": "live"})
            self.assertEqual(
                response.headers.getRawHeaders("content-type"),
                ["application/json; charset=utf-8"],
            )
            self.assertEqual(response.headers.getRawHeaders("cache-control"), ["no-store"])
            self.assertEqual(response.headers.getRawHeaders("x-content-type-options"), ["nosniff"])
            self.assertEqual(response.headers.getRawHeaders("referrer-policy"), ["no-referrer"])

    def test_head_has_no_body(self) -> None:
        response, body = self.request(make_root(), "HEAD", "http://gw/healthz")
        self.assertEqual((response.code, body), (200, b""))

    def test_post_to_probe_is_405(self) -> None:
        response, body = self.request(make_root(), "POST", "http://gw/healthz")
        self.assertEqual(response.code, 405)
        self.assertEqual(response.headers.getRawHeaders("allow"), ["GET, HEAD"])
        self.assertEqual(body, b"Method Not Allowed")

    def test_ready_details_for_local_direct(self) -> None:
        # StubTreq's peer is 127.0.0.1, with no forwarding headers: local-direct.
        response, body = self.request(make_root(), "GET", "http://gw/readyz")
        self.assertEqual(response.code, 200)
        self.assertEqual(json.loads(body), {"ready": True, "failing": [], "uptimeMs": 10000})

    def test_ready_hides_details_from_forwarded_callers(self) -> None:
        response, body = self.request(
            make_root(), "GET", "http://gw/ready", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        self.assertEqual(json.loads(body), {"ready": True})

    def test_ready_details_with_bearer(self) -> None:
        response, body = self.request(
            make_root(failing=["web"]), "GET", "http://gw/readyz",
            headers={"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer sekrit-token"},
        )
        self.assertEqual(response.code, 503)
        self.assertEqual(json.loads(body)["failing"], ["web"])

    def test_ready_checker_exception(self) -> None:
        def broken():
            raise RuntimeError("boom")

        root = make_root()
        root.stages[0]._readiness = broken
        response, body = self.request(root, "GET", "http://gw/readyz")
        self.assertEqual(response.code, 503)
        self.assertEqual(json.loads(body), {"ready": False, "failing": ["internal"], "uptimeMs": 0})
        # the log has what broke
        self.assertEqual([str(f.value) for f in self.flushLoggedErrors(RuntimeError)], ["boom"])

    def test_startupz(self) -> None:
        response, body = self.request(make_root(), "GET", "http://gw/startupz")
        self.assertEqual(
            json.loads(body),
            {"ok": True, "status": "started", "version": "2026.9.6", "uptimeMs": 10000},
        )

    def test_unknown_path_is_text_404(self) -> None:
        for url in ("http://gw/", "http://gw/no/such/path", "http://gw/healthz/extra"):
            response, body = self.request(make_root(), "GET", url)
            self.assertEqual((response.code, body), (404, b"Not Found"))
            self.assertEqual(
                response.headers.getRawHeaders("content-type"), ["text/plain; charset=utf-8"]
            )

    def test_secret_checker_is_exact(self) -> None:
        check = shared_secret_checker(["abc123", "pw"])
        self.assertTrue(check(b"abc123"))
        self.assertTrue(check(b"pw"))
        self.assertFalse(check(b"abc12"))
        self.assertFalse(check(b""))
        self.assertFalse(shared_secret_checker([])(b""))


def _raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and (b'"hello"' in data or b"Not Found" in data
                                        or b"live" in data):
                break
        return data


class SharedPathTests(TestCase):
    """A real Site on a loopback port: GET and Upgrade on the same path."""

    def setUp(self) -> None:
        self.port = reactor.listenTCP(0, GatewaySite(make_root()), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.number = self.port.getHost().port

    async def test_websocket_and_get_on_same_path(self) -> None:
        for path in (b"/", b"/healthz", b"/any/path"):
            upgrade = (
                b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            reply = await threads.deferToThread(_raw_exchange, self.number, upgrade)
            self.assertTrue(reply.startswith(b"HTTP/1.1 101"), reply[:80])
            self.assertIn(b'{"type":"event","event":"hello"}', reply)

        plain = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        reply = await threads.deferToThread(_raw_exchange, self.number, plain)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:80])
        self.assertIn(b'{"ok":true,"status":"live"}', reply)

        plain = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        reply = await threads.deferToThread(_raw_exchange, self.number, plain)
        self.assertTrue(reply.startswith(b"HTTP/1.1 404"), reply[:80])

    async def test_bad_upgrade_is_rejected_not_crashed(self) -> None:
        bad = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\n\r\n")
        reply = await threads.deferToThread(_raw_exchange, self.number, bad)
        self.assertTrue(reply.startswith(b"HTTP/1.1 4"), reply[:80])
