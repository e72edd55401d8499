"""The dispatch gate: auth's verdicts as the protocol's errors."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth.scopes import ADMIN, NODE_ONLY, PUBLIC, READ, WRITE
from openclaw.gateway.protocol.dispatch import MethodRegistry, MethodSpec, authorize_method


class AuthorizeMethodTests(SynchronousTestCase):
    def test_scopes(self) -> None:
        self.assertIsNone(authorize_method("operator", [], PUBLIC))
        self.assertIsNone(authorize_method("operator", [WRITE], READ))
        denied = authorize_method("operator", [], READ)
        assert denied is not None
        self.assertEqual(denied.shape.to_wire(), {
            "code": "FORBIDDEN", "message": "missing scope: operator.read",
            "details": {"code": "MISSING_SCOPE", "missingScope": READ,
                        "requiredScopes": [READ]}})
        unknown = authorize_method("operator", [READ], None)
        assert unknown is not None
        self.assertEqual(unknown.message, "missing scope: operator.admin")
        self.assertIsNone(authorize_method("operator", [ADMIN], None))

    def test_roles(self) -> None:
        node_calls_operator = authorize_method("node", [], READ)
        assert node_calls_operator is not None
        self.assertEqual(node_calls_operator.message, "unauthorized role: node")
        operator_calls_node = authorize_method("operator", [ADMIN], NODE_ONLY)
        assert operator_calls_node is not None
        self.assertEqual(operator_calls_node.message, "unauthorized role: operator")
        self.assertIsNone(authorize_method("node", [], NODE_ONLY))


class RegistryTests(SynchronousTestCase):
    def test_fallback_scope_classifies_unregistered_methods(self) -> None:
        registry = MethodRegistry([MethodSpec("a.b", lambda call: None, READ)],
                                  fallback_scope={"x.y": WRITE}.get)
        self.assertEqual(registry.required_scope("a.b"), READ)
        self.assertEqual(registry.required_scope("x.y"), WRITE)
        self.assertIsNone(registry.required_scope("nope"))
        self.assertEqual(registry.advertised_methods, ["a.b"])
