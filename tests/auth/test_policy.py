"""Scopes, Origin policy and address helpers."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth import netaddr
from openclaw.auth.origin import check_browser_origin
from openclaw.auth.scopes import (
    ADMIN,
    NODE_ONLY,
    PAIRING,
    PUBLIC,
    READ,
    WRITE,
    MethodDenial,
    method_denial,
    missing_requested_scope,
    scope_satisfied,
)


class ScopeTests(SynchronousTestCase):
    def test_implications(self) -> None:
        self.assertTrue(scope_satisfied(READ, [WRITE]))
        self.assertTrue(scope_satisfied(PAIRING, [ADMIN]))
        self.assertFalse(scope_satisfied(WRITE, [READ]))
        self.assertFalse(scope_satisfied(PAIRING, [WRITE]))
        self.assertTrue(scope_satisfied("operator.sessions.read", [READ]))
        self.assertFalse(scope_satisfied("node.thing", [ADMIN]))

    def test_method_denial(self) -> None:
        self.assertIsNone(method_denial("operator", [], PUBLIC))
        self.assertIsNone(method_denial("operator", [WRITE], READ))
        self.assertEqual(method_denial("operator", [], READ),
                         MethodDenial("scope", "operator", READ))
        # a method nobody classified needs admin (default deny)
        self.assertEqual(method_denial("operator", [READ], None),
                         MethodDenial("scope", "operator", ADMIN))
        self.assertIsNone(method_denial("operator", [ADMIN], None))

    def test_roles(self) -> None:
        self.assertEqual(method_denial("node", [], READ), MethodDenial("role", "node"))
        self.assertEqual(method_denial("operator", [ADMIN], NODE_ONLY),
                         MethodDenial("role", "operator"))
        self.assertEqual(method_denial("guest", [ADMIN], READ), MethodDenial("role", "guest"))
        self.assertIsNone(method_denial("node", [], NODE_ONLY))
        self.assertIsNone(method_denial("node", [], PUBLIC))

    def test_missing_requested_scope(self) -> None:
        self.assertIsNone(missing_requested_scope("operator", [READ], [WRITE]))
        self.assertEqual(missing_requested_scope("operator", [READ, PAIRING], [WRITE]), PAIRING)
        self.assertIsNone(missing_requested_scope("node", ["node.a"], ["node.a"]))
        self.assertEqual(missing_requested_scope("node", [READ], [READ]), READ)


class OriginTests(SynchronousTestCase):
    def check(self, origin: str | None, host: str | None = "127.0.0.1:18789",
              allowed: tuple[str, ...] = (), local: bool = True, fallback: bool = False
              ) -> tuple[bool, str | None]:
        result = check_browser_origin(origin, request_host=host, allowed_origins=allowed,
                                      is_local_client=local,
                                      allow_host_header_fallback=fallback)
        return result.ok, result.matched_by or result.reason

    def test_rules(self) -> None:
        self.assertEqual(self.check(None), (False, "origin missing or invalid"))
        self.assertEqual(self.check("null"), (False, "origin missing or invalid"))
        self.assertEqual(self.check("http://x/path"), (False, "origin missing or invalid"))
        self.assertEqual(self.check("https://ui.example", allowed=("https://UI.example",)),
                         (True, "allowlist"))
        self.assertEqual(self.check("https://evil.example", allowed=("*",)), (True, "allowlist"))
        self.assertEqual(self.check("http://127.0.0.1:18789"), (True, "private-same-origin"))
        self.assertEqual(self.check("http://127.0.0.1:18789", local=False),
                         (False, "origin not allowed"))
        self.assertEqual(self.check("http://localhost:5173"), (True, "local-loopback"))
        self.assertEqual(self.check("http://localhost:5173", local=False),
                         (False, "origin not allowed"))
        self.assertEqual(self.check("http://192.168.1.5:18789", host="192.168.1.5:18789",
                                    local=False), (True, "private-same-origin"))
        self.assertEqual(self.check("https://gw.example", host="gw.example", local=False),
                         (False, "origin not allowed"))
        self.assertEqual(self.check("https://gw.example", host="gw.example", local=False,
                                    fallback=True), (True, "host-header-fallback"))
        self.assertEqual(self.check("https://box.tail1.ts.net", host="box.tail1.ts.net",
                                    local=False), (True, "private-same-origin"))
        self.assertEqual(self.check("https://evil.example"), (False, "origin not allowed"))
        self.assertEqual(self.check("http://u:p@127.0.0.1:1"), (False, "origin missing or invalid"))
        self.assertEqual(self.check("http://127.0.0.1:80", host="127.0.0.1"),
                         (True, "private-same-origin"))


class NetAddrTests(SynchronousTestCase):
    def test_parse_and_loopback(self) -> None:
        self.assertEqual(netaddr.normalize_ip("[::1]"), "::1")
        self.assertEqual(netaddr.normalize_ip("127.0.0.1:8080"), "127.0.0.1")
        self.assertEqual(netaddr.normalize_ip("::ffff:10.0.0.1"), "10.0.0.1")
        self.assertIsNone(netaddr.normalize_ip("example.com"))
        self.assertTrue(netaddr.is_loopback_address("127.5.5.5"))
        self.assertFalse(netaddr.is_loopback_address(None))
        self.assertTrue(netaddr.is_private_or_loopback_address("100.64.1.1"))
        self.assertFalse(netaddr.is_private_or_loopback_address("8.8.8.8"))

    def test_hosts(self) -> None:
        self.assertEqual(netaddr.resolve_host_name("[::1]:18789"), "::1")
        self.assertEqual(netaddr.resolve_host_name("Example.COM:80"), "example.com")
        self.assertTrue(netaddr.is_loopback_host("localhost."))
        self.assertTrue(netaddr.is_localish_host("box.ts.net:443"))
        self.assertTrue(netaddr.is_private_or_loopback_host("10.1.1.1"))
        self.assertFalse(netaddr.is_private_or_loopback_host("example.com"))

    def test_cidr_and_forwarded(self) -> None:
        self.assertTrue(netaddr.ip_in_cidr("10.2.3.4", "10.0.0.0/8"))
        self.assertTrue(netaddr.ip_in_cidr("10.2.3.4", "10.2.3.4"))
        self.assertFalse(netaddr.ip_in_cidr("10.2.3.4", "fd00::/8"))
        self.assertFalse(netaddr.ip_in_cidr("10.2.3.4", "garbage"))
        self.assertEqual(
            netaddr.resolve_forwarded_client_ip("1.1.1.1, 127.0.0.1, 10.0.0.5", ["10.0.0.0/8"]),
            "1.1.1.1")
        self.assertIsNone(netaddr.resolve_forwarded_client_ip("1.1.1.1", []))
