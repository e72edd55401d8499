"""config.get / config.schema / models.list / agents.list against real config snapshots."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import config_json_schema, parse_config_text, redact_config
from openclaw.gateway.methods.agents import AGENT_ROW_DEFAULTS
from tests.gateway.protocol.support import Harness, config_snapshot, connect_params

CONFIG_TEXT = """{
  // operator config
  gateway: {auth: {mode: "token", token: "tok-123456"}},
  models: {providers: {local: {baseUrl: "http://127.0.0.1:8080/v1", apiKey: "sk-abc",
    models: [{id: "smol", name: "SmolLM2", contextWindow: 8192, reasoning: false},
             {id: "big", name: "Big"}]}}},
  agents: {entries: {main: {name: "Main", model: "local/smol", default: true,
                            identity: {name: "Claw", emoji: "🦞"}},
                     helper: {workspace: "/tmp/ws", model: {primary: "local/big",
                                                            fallbacks: ["local/smol"]}}}},
}
"""


def real_snapshot(text: str = CONFIG_TEXT) -> Any:
    return parse_config_text(text, "/state/openclaw.json", env={}, home="/home/test")


def harness_with(snapshot: Any, **kw: Any) -> Harness:
    harness = Harness(snapshot=snapshot)
    harness.context.redact_config = redact_config
    harness.context.config_schema = config_json_schema
    return harness


def call(harness: Harness, method: str, params: Any = None,
         scopes: list[str] | None = None) -> dict[str, Any]:
    connection, transport, response = harness.connect(connect_params(scopes=scopes))
    assert response["ok"], response
    return harness.call(connection, transport, method, params)


class ConfigGetTests(SynchronousTestCase):
    def test_redacted_everywhere(self) -> None:
        snapshot = real_snapshot()
        payload = call(harness_with(snapshot), "config.get")["payload"]
        for key in ("path", "exists", "raw", "parsed", "resolved", "valid", "config", "hash",
                    "issues", "warnings", "legacyIssues", "sourceConfig", "runtimeConfig"):
            self.assertIn(key, payload)
        self.assertEqual(payload["path"], "/state/openclaw.json")
        self.assertEqual(payload["hash"], snapshot.hash)
        self.assertTrue(payload["valid"])
        self.assertEqual(payload["parsed"]["gateway"]["auth"]["token"], "__OPENCLAW_REDACTED__")
        self.assertEqual(payload["parsed"]["models"]["providers"]["local"]["apiKey"],
                         "__OPENCLAW_REDACTED__")
        self.assertNotIn("tok-123456", payload["raw"])
        self.assertNotIn("sk-abc", payload["raw"])
        self.assertIn("// operator config", payload["raw"])

    def test_unsupported_keys_become_warnings(self) -> None:
        snapshot = config_snapshot({"channels": {"slack": {}}}, warnings=("something odd",))
        payload = call(harness_with(snapshot), "config.get")["payload"]
        self.assertEqual(payload["warnings"], [
            {"path": "", "message": "something odd"},
            {"path": "channels.slack", "message": "not supported by this gateway yet; kept, "
                                                  "not applied"}])

    def test_missing_file(self) -> None:
        snapshot = config_snapshot(exists=False, raw=None, hash=None)
        payload = call(harness_with(snapshot), "config.get")["payload"]
        self.assertEqual((payload["exists"], payload["raw"], payload["parsed"]),
                         (False, None, {}))

    def test_needs_read_scope(self) -> None:
        harness = harness_with(real_snapshot())
        connection, transport, _ = harness.connect(connect_params(mode="probe",
                                                                  min_protocol=3))
        self.assertEqual(harness.call(connection, transport, "config.get")["error"]["code"],
                         "FORBIDDEN")


class ConfigSchemaTests(SynchronousTestCase):
    def test_schema_envelope(self) -> None:
        payload = call(harness_with(real_snapshot()), "config.schema")["payload"]
        self.assertEqual(set(payload), {"schema", "uiHints", "version", "generatedAt"})
        self.assertEqual(payload["schema"]["type"], "object")
        self.assertTrue(payload["generatedAt"].endswith("Z"))

    def test_prebuilt_response_passes_through(self) -> None:
        harness = Harness()
        harness.context.config_schema = lambda: {"schema": {"type": "object"}, "uiHints": {"a": 1}}
        payload = call(harness, "config.schema")["payload"]
        self.assertEqual(payload["uiHints"], {"a": 1})
        self.assertEqual(payload["version"], "2026.9.6-test")


class ModelsTests(SynchronousTestCase):
    def test_configured_models(self) -> None:
        harness = harness_with(real_snapshot())
        choice = {"thinkingLevels": [{"id": "off", "label": "off"}], "thinkingDefault": "off",
                  "manualSelectionAllowed": True, "available": True}
        self.assertEqual(call(harness, "models.list")["payload"], {"models": [
            {"id": "smol", "name": "SmolLM2", "provider": "local", "contextWindow": 8192,
             "reasoning": False, "tags": ["default"], **choice},
            {"id": "big", "name": "Big", "provider": "local", **choice}],
            "accountSelection": {"kind": "automatic", "label": "Automatic account selection"},
            "defaultModels": {"automaticUtilityModel": None}})
        filtered = call(harness, "models.list", {"provider": "other"})["payload"]
        self.assertEqual(filtered["models"], [])
        # upstream's closed schema: the Control UI's fields are accepted, the conflicts not
        ui = call(harness, "models.list", {"agentId": "main", "view": "configured",
                                           "preparedOnly": True})["payload"]
        self.assertEqual(len(ui["models"]), 2)
        both = call(harness, "models.list", {"preparedOnly": True, "refresh": True})["error"]
        self.assertEqual(both["message"], "invalid models.list params: must not be valid")
        bad = call(harness, "models.list", {"view": "everything"})["error"]
        # upstream's union of literals, as TypeBox reports it
        self.assertEqual(bad["message"], "invalid models.list params: at /view: must be equal "
                                         "to constant; at /view: must match a schema in anyOf")

    def test_no_providers(self) -> None:
        self.assertEqual(call(Harness(), "models.list")["payload"]["models"], [])

    def test_auth_status(self) -> None:
        payload = call(harness_with(real_snapshot()), "models.authStatus",
                       {"agentId": "main"})["payload"]
        self.assertEqual(payload["providers"], [
            {"provider": "local", "authProvider": "local", "displayName": "local",
             "status": "static", "profiles": [], "apiKey": {"source": "config"}}])
        self.assertEqual(payload["providerCapabilities"], [])
        self.assertIsInstance(payload["ts"], int)
        bad = call(harness_with(real_snapshot()), "models.authStatus", {"bogus": 1})["error"]
        self.assertEqual(bad["message"],
                         "invalid models.authStatus params: at root: unexpected property 'bogus'")


class AgentsTests(SynchronousTestCase):
    def test_configured_agents(self) -> None:
        payload = call(harness_with(real_snapshot()), "agents.list")["payload"]
        self.assertEqual(payload["defaultId"], "main")
        self.assertEqual((payload["mainKey"], payload["scope"]), ("main", "per-sender"))
        by_id = {agent["id"]: agent for agent in payload["agents"]}
        self.assertEqual(by_id["main"], {"id": "main", "name": "Main",
                                         "identity": {"name": "Claw", "emoji": "🦞"},
                                         "model": {"primary": "local/smol"},
                                         **AGENT_ROW_DEFAULTS})
        self.assertEqual(by_id["helper"]["model"], {"primary": "local/big",
                                                    "fallbacks": ["local/smol"]})
        self.assertEqual(by_id["helper"]["workspace"], "/tmp/ws")
        self.assertEqual((payload["ownership"], payload["selectionRequired"]), ("legacy", False))

    def test_explicit_ownership(self) -> None:
        snapshot = real_snapshot('{agents: {ownership: "explicit", entries: {a: {}, b: {}}}}')
        payload = call(harness_with(snapshot), "agents.list")["payload"]
        self.assertEqual((payload["ownership"], payload["selectionRequired"]), ("explicit", True))

    def test_implicit_main_and_legacy_list(self) -> None:
        self.assertEqual(call(Harness(), "agents.list")["payload"]["agents"],
                         [{"id": "main", **AGENT_ROW_DEFAULTS}])
        inherited = config_snapshot({"agents": {"defaults": {"model": "p/m"}}})
        [row] = call(harness_with(inherited), "agents.list")["payload"]["agents"]
        self.assertEqual(row["model"], {"primary": "p/m"})
        legacy = config_snapshot({"agents": {"list": [{"id": "Alpha"},
                                                      {"id": "beta", "default": True}]}})
        payload = call(harness_with(legacy), "agents.list")["payload"]
        self.assertEqual((payload["defaultId"], [a["id"] for a in payload["agents"]]),
                         ("beta", ["alpha", "beta"]))
