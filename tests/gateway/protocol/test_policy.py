"""Scopes, Origin policy, address helpers and pairing policy helpers."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.protocol import netaddr
from openclaw.gateway.protocol.origin import check_browser_origin
from openclaw.gateway.protocol.pairing import (
    metadata_mismatch,
    pairing_failure,
    should_allow_silent_local_pairing,
)
from openclaw.gateway.protocol.scopes import (
    ADMIN,
    NODE_ONLY,
    PAIRING,
    PUBLIC,
    READ,
    WRITE,
    authorize_method,
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

    def test_authorize_method(self) -> None:
        self.assertIsNone(authorize_method("health", "operator", [], PUBLIC))
        self.assertIsNone(authorize_method("status", "operator", [WRITE], READ))
        denied = authorize_method("status", "operator", [], READ)
        assert denied is not None
        self.assertEqual(denied.code, "FORBIDDEN")
        unknown = authorize_method("x.y", "operator", [READ], None)
        assert unknown is not None
        self.assertEqual(unknown.message, "missing scope: operator.admin")
        self.assertIsNone(authorize_method("x.y", "operator", [ADMIN], None))

    def test_roles(self) -> None:
        node_calls_operator = authorize_method("status", "node", [], READ)
        assert node_calls_operator is not None
        self.assertEqual(node_calls_operator.message, "unauthorized role: node")
        operator_calls_node = authorize_method("node.event", "operator", [ADMIN], NODE_ONLY)
        assert operator_calls_node is not None
        self.assertEqual(operator_calls_node.message, "unauthorized role: operator")
        self.assertIsNone(authorize_method("node.event", "node", [], NODE_ONLY))
        self.assertIsNone(authorize_method("health", "node", [], PUBLIC))

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


class PairingPolicyTests(SynchronousTestCase):
    def silent(self, **kw: object) -> bool:
        options: dict[str, object] = dict(
            locality="direct_local", has_browser_origin=False, is_control_ui=False,
            is_webchat=False, is_native_app_ui=False, auth_method="token", reason="not-paired",
            auto_approve_local=None)
        options.update(kw)
        return should_allow_silent_local_pairing(**options)  # type: ignore[arg-type]

    def test_silent_rules(self) -> None:
        self.assertTrue(self.silent())
        self.assertFalse(self.silent(locality="remote"))
        self.assertFalse(self.silent(has_browser_origin=True))
        self.assertTrue(self.silent(has_browser_origin=True, is_control_ui=True))
        self.assertFalse(self.silent(auto_approve_local=False))
        self.assertTrue(self.silent(reason="scope-upgrade"))
        self.assertFalse(self.silent(reason="scope-upgrade", auth_method="device-token"))
        self.assertFalse(self.silent(reason="metadata-upgrade"))
        self.assertTrue(self.silent(reason="metadata-upgrade", is_native_app_ui=True))
        self.assertTrue(self.silent(reason="metadata-upgrade", locality="cli_container_local"))

    def test_metadata_pinning(self) -> None:
        paired = {"platform": "linux", "deviceFamily": "Linux"}
        self.assertFalse(metadata_mismatch({"platform": " LINUX ", "deviceFamily": "linux"},
                                           paired))
        self.assertTrue(metadata_mismatch({"platform": "darwin", "deviceFamily": "Linux"},
                                          paired))
        self.assertFalse(metadata_mismatch({"platform": "darwin"}, {}))

    def test_failure_shape(self) -> None:
        failure = pairing_failure(reason="scope-upgrade", request_id="req-1", device_id="d",
                                  role="operator", scopes=["operator.admin"],
                                  approved_roles=["operator"], approved_scopes=["operator.read"])
        self.assertEqual(failure.message,
                         "pairing required: device is asking for more scopes than currently "
                         "approved")
        self.assertEqual(failure.close_reason, failure.message + " (requestId: req-1)")
        self.assertEqual(failure.details["code"], "PAIRING_REQUIRED")
        self.assertEqual(failure.details["approvedScopes"], ["operator.read"])
        bad_id = pairing_failure(reason="not-paired", request_id="bad id!", device_id="d",
                                 role="node", scopes=[], wait_for_approval=True)
        self.assertNotIn("requestId", bad_id.details)
        self.assertEqual(bad_id.details["recommendedNextStep"], "wait_then_retry")
        self.assertNotIn("requestedScopes", bad_id.details)
