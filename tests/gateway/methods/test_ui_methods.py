"""The Control UI's method families that need no agent runtime, over the protocol Harness
(fake clock, real config snapshots): empty-by-design answers, host facts, plugins, talk,
update, channel pairing, model auth, user preferences, nodes and the ``models.snapshot`` event.

Results are checked against upstream's result JSON Schemas where upstream declares one (the
reference JSON of the Control UI research), so their shapes are upstream's.
"""

from __future__ import annotations

import functools
import json
import os
import types
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.methods import models
from openclaw.gateway.methods.chat_ui import models_snapshot_hook
from openclaw.gateway.methods.nodes import make_node_methods
from openclaw.gateway.methods.prefs import make_prefs_methods
from openclaw.gateway.methods.registry import build_registry
from openclaw.gateway.protocol.json_schema import compile_json_schema
from openclaw.gateway.protocol.schema import validation_error_text
from openclaw.gateway.protocol.transport import PeerInfo
from tests.gateway.protocol.support import DeviceKey, Harness, connect_params

REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "interop", "data", "control_ui_reference.json")
ADMIN_UI = ["operator.admin", "operator.read", "operator.write", "operator.approvals",
            "operator.questions", "operator.pairing"]
UI_PEER = PeerInfo("127.0.0.1", {"host": "127.0.0.1:18789", "origin": "http://127.0.0.1:18789"})


@functools.cache
def reference() -> dict[str, Any]:
    with open(REFERENCE, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def assert_upstream_result(test: SynchronousTestCase, method: str, payload: Any) -> None:
    schema = reference()["methods"][method]["resultSchema"]
    test.assertIsNotNone(schema, method)
    test.assertIsNone(validation_error_text(compile_json_schema(schema), payload), method)


def session(harness: Harness, scopes: list[str] | None = None, **kw: Any) -> tuple[Any, Any]:
    connection, transport, response = harness.connect(
        connect_params(scopes=scopes if scopes is not None else ADMIN_UI, **kw))
    assert response["ok"], response
    return connection, transport


def call(harness: Harness, method: str, params: Any = None, scopes: list[str] | None = None
         ) -> dict[str, Any]:
    connection, transport = session(harness, scopes)
    return harness.call(connection, transport, method, params)


class EmptyByDesignTests(SynchronousTestCase):
    EXPECTED = {
        "question.list": {"questions": []},
        "taskSuggestions.list": {"suggestions": []},
        "tasks.list": {"tasks": []},
        "sessions.catalog.list": {"catalogs": []},
        "sessions.groups.list": {"groups": [], "sectionOrder": []},
        "sessions.groups.defaults": {"defaults": []},
        "sessions.observer.visibility": {"ok": True},
        "openclaw.approval.list": [],
        "plugin.approval.list": [],
    }
    PARAMS = {"sessions.observer.visibility": {"visible": True},
              "sessions.catalog.list": {"agentId": "main", "allowPartialResults": True,
                                        "limitPerHost": 40, "progressId": "p-1"},
              "tasks.list": {"agentId": "main", "limit": 200, "status": ["queued", "running"]}}

    def test_answers_and_shapes(self) -> None:
        harness = Harness()
        for method, expected in self.EXPECTED.items():
            reply = call(harness, method, self.PARAMS.get(method, {}))
            self.assertEqual(reply.get("payload"), expected, method)
            if reference()["methods"].get(method, {}).get("resultSchema"):
                assert_upstream_result(self, method, reply["payload"])
        mentions = call(harness, "mentions.list")["payload"]
        self.assertEqual(mentions, {"items": [], "revision": 0,
                                    "gatewayInstanceId": harness.context.boot_id})
        assert_upstream_result(self, "mentions.list", mentions)
        plugins_ui = call(harness, "plugins.controlUi.list")["payload"]
        self.assertEqual((plugins_ui["plugins"], plugins_ui["diagnostics"]), ([], []))
        self.assertEqual(len(plugins_ui["revision"]), 64)

    def test_upstream_params_and_scopes(self) -> None:
        harness = Harness()
        bad = call(harness, "question.list", {"x": 1})["error"]
        self.assertEqual(bad["message"], "invalid question.list params: at root: unexpected "
                                         "property 'x'")
        denied = call(harness, "question.list", scopes=["operator.read"])["error"]
        self.assertEqual(denied["details"]["missingScope"], "operator.questions")
        self.assertEqual(call(harness, "sessions.groups.defaults",
                              scopes=["operator.read"])["error"]["details"]["missingScope"],
                         "operator.write")
        self.assertEqual(call(harness, "openclaw.approval.list",
                              scopes=["operator.read"])["error"]["details"]["missingScope"],
                         "operator.approvals")

    def test_pull_request_subscriptions(self) -> None:
        harness = Harness()
        method = "controlUi.sessionPullRequests.subscribe"
        self.assertEqual(call(harness, method, {"sessionKeys": []})["payload"],
                         {"subscribed": False})
        self.assertEqual(call(harness, method, {"sessionKeys": [" agent:main:main "],
                                                "refreshSessionKeys": ["agent:main:main"]}
                              )["payload"], {"subscribed": True})
        for params in ({}, {"sessionKeys": [""]}, {"sessionKeys": ["a"], "x": 1},
                       {"sessionKeys": ["a"], "refreshSessionKeys": ["b"]},
                       {"sessionKeys": ["k"] * 201}):
            self.assertEqual(call(harness, method, params)["error"]["message"],
                             "invalid controlUi.sessionPullRequests.subscribe params", params)


class GatewayFactsTests(SynchronousTestCase):
    def test_update_talk_plugins_pairing(self) -> None:
        harness = Harness()
        update = call(harness, "update.status", {})["payload"]
        self.assertEqual((update["updateAvailable"], update["effectiveChannel"]),
                         (None, "stable"))
        assert_upstream_result(self, "update.status", update)
        self.assertEqual(call(harness, "update.status", {},
                              scopes=["operator.read"])["error"]["details"]["missingScope"],
                         "operator.admin")
        talk = call(harness, "talk.catalog", {})["payload"]
        self.assertEqual(talk["speech"]["providers"], [])
        assert_upstream_result(self, "talk.catalog", talk)
        pairing = call(harness, "channels.pairing.list", {})["payload"]
        self.assertEqual(pairing, {"accounts": [], "requests": [],
                                   "commandOwnerConfigured": False,
                                   "limits": {"pendingPerAccount": 3, "ttlMs": 3600000}})
        assert_upstream_result(self, "channels.pairing.list", pairing)
        plugins = call(harness, "plugins.list", {})["payload"]
        assert_upstream_result(self, "plugins.list", plugins)
        self.assertFalse(plugins["mutationAllowed"])
        ids = {row["id"]: row for row in plugins["plugins"]}
        self.assertIn("openai", ids)
        self.assertEqual(ids["hooks"]["state"], "disabled")
        self.assertTrue(all(row["origin"] == "bundled" for row in plugins["plugins"]))

    def test_plugins_follow_the_config(self) -> None:
        from tests.support import config_snapshot

        snapshot = config_snapshot({"hooks": {"enabled": True, "token": "hook-token-123456"},
                                    "models": {"providers": {"mine": {
                                        "baseUrl": "http://127.0.0.1:1/v1", "models": []}}}})
        rows = {row["id"]: row for row in call(Harness(snapshot=snapshot), "plugins.list"
                                               )["payload"]["plugins"]}
        self.assertEqual((rows["hooks"]["enabled"], rows["mine"]["enabled"]), (True, True))


class PrefsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.harness = Harness()
        self.harness.registry = build_registry(make_prefs_methods(self.harness.context))

    def device_session(self, key: DeviceKey) -> tuple[Any, Any]:
        connection, transport, response = self.harness.connect(
            connect_params(scopes=ADMIN_UI), device_key=key)
        assert response["ok"], response
        return connection, transport

    def test_per_device_and_persisted(self) -> None:
        key = DeviceKey()
        first, first_transport = self.device_session(key)
        second, second_transport = self.device_session(key)
        other, other_transport = self.device_session(DeviceKey())
        h = self.harness
        empty = h.call(first, first_transport, "users.prefs.get",
                       {"keys": ["ui.theme", "ui.accent"]})["payload"]
        self.assertEqual(empty, {"status": "ok", "entries": {}})
        second_transport.frames.clear()
        other_transport.frames.clear()
        stored = h.call(first, first_transport, "users.prefs.set",
                        {"entries": {"ui.theme": "claw:dark", "ui.accent": {"h": 10}}})
        self.assertEqual(stored["payload"], {"status": "ok"})
        changed = [m for m in second_transport.messages()
                   if m.get("event") == "users.prefs.changed"]
        self.assertEqual([m["payload"] for m in changed],
                         [{"profileId": key.device_id, "keys": ["ui.theme", "ui.accent"]}])
        self.assertFalse([m for m in other_transport.messages()
                          if m.get("event") == "users.prefs.changed"])
        got = h.call(second, second_transport, "users.prefs.get", {"keys": ["ui.theme"]})
        self.assertEqual(got["payload"], {"status": "ok", "entries": {"ui.theme": "claw:dark"}})
        assert_upstream_result(self, "users.prefs.get", got["payload"])
        self.assertEqual(h.call(other, other_transport, "users.prefs.get", {})["payload"],
                         {"status": "ok", "entries": {}})
        conflict = h.call(first, first_transport, "users.prefs.set",
                          {"entries": {"ui.theme": "x"}, "expectedEntries": {"ui.theme": "y"}})
        self.assertEqual(conflict["payload"], {"status": "conflict"})
        cleared = h.call(first, first_transport, "users.prefs.set",
                         {"entries": {"ui.accent": None},
                          "expectedEntries": {"ui.theme": "claw:dark"}})
        self.assertEqual(cleared["payload"], {"status": "ok"})
        path = os.path.join(str(h.context.state_dir), "users", "prefs.json")
        with open(path, encoding="utf-8") as handle:
            self.assertEqual(json.load(handle), {"version": 1, "profiles": {
                key.device_id: {"ui.theme": "claw:dark"}}})
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        # a new store reads the file back
        reopened = Harness(state_dir=h.context.state_dir)
        reopened.registry = build_registry(make_prefs_methods(reopened.context))
        connection, transport, response = reopened.connect(connect_params(scopes=ADMIN_UI),
                                                           device_key=key)
        self.assertEqual(reopened.call(connection, transport, "users.prefs.get")["payload"],
                         {"status": "ok", "entries": {"ui.theme": "claw:dark"}})

    def test_themes_list_follows_the_device_preferences(self) -> None:
        key = DeviceKey()
        first, transport = self.device_session(key)
        h = self.harness
        listed = h.call(first, transport, "themes.list", {})["payload"]
        self.assertEqual(listed["current"], {"id": "claw", "mode": "system", "scope": "profile",
                                             "overrides": {}})
        self.assertEqual(len(listed["themes"]), 11)
        self.assertEqual(listed["theme"]["id"], "claw")
        h.call(first, transport, "users.prefs.set",
               {"entries": {"ui.theme": "tide", "ui.themeMode": "dark"}})
        chosen = h.call(first, transport, "themes.list", {})["payload"]
        self.assertEqual(chosen["current"], {"id": "tide", "mode": "dark",
                                             "effectiveMode": "dark", "scope": "profile",
                                             "overrides": {"id": "tide", "mode": "dark"}})
        self.assertEqual(chosen["theme"]["name"], "Tide")
        token_only, token_transport = session(h)
        gateway = h.call(token_only, token_transport, "themes.list", {})["payload"]
        self.assertEqual(gateway["current"]["scope"], "gateway")

    def test_token_only_clients_have_no_durable_identity(self) -> None:
        connection, transport = session(self.harness)
        for method, params in (("users.prefs.get", {}),
                               ("users.prefs.set", {"entries": {"a": 1}})):
            self.assertEqual(self.harness.call(connection, transport, method, params
                                               )["payload"], {"status": "no_durable_identity"})
        bad = self.harness.call(connection, transport, "users.prefs.get",
                                {"keys": ["a"] * 33})["error"]
        self.assertTrue(bad["message"].startswith(
            "invalid users.prefs.get params: at /keys: must not have more than 32 items"))


class NodesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.harness = Harness()
        self.harness.registry = build_registry(make_node_methods(self.harness.context, None,
                                                                 port=lambda: 18789))

    def test_connected_node(self) -> None:
        h = self.harness
        key = DeviceKey()
        params = connect_params(client_id="node-host", mode="node", role="node", scopes=[],
                                caps=["system", "session-host"], commands=["system.run"],
                                permissions={"screen": True})
        params["client"]["displayName"] = "Build box"
        node, node_transport, response = h.connect(params, device_key=key)
        self.assertTrue(response["ok"], response)
        connection, transport = session(h)
        listed = h.call(connection, transport, "node.list")["payload"]
        [row] = listed["nodes"]
        self.assertEqual((row["nodeId"], row["displayName"], row["connected"], row["paired"]),
                         (key.device_id, "Build box", True, True))
        self.assertEqual((row["caps"], row["commands"], row["permissions"]),
                         (["system", "session-host"], ["system.run"], {"screen": True}))
        described = h.call(connection, transport, "node.describe", {"nodeId": key.device_id})
        self.assertEqual(described["payload"]["nodeId"], key.device_id)
        unknown = h.call(connection, transport, "node.describe", {"nodeId": "nope"})["error"]
        self.assertEqual(unknown["message"], "unknown nodeId")
        environments = h.call(connection, transport, "environments.list",
                              {"includeDesktopSetup": True})["payload"]
        assert_upstream_result(self, "environments.list", environments)
        self.assertEqual([e["id"] for e in environments["environments"]],
                         ["gateway", f"node:{key.device_id}"])
        node.on_closed()
        after = h.call(connection, transport, "node.list")["payload"]["nodes"]
        self.assertEqual([(r["connected"], r["paired"]) for r in after], [(False, True)])
        self.assertIn("lastDisconnectedAtMs", after[0])

    def test_environment_scope_and_host(self) -> None:
        h = self.harness
        reader = call(h, "environments.list", {"runtimeId": "gateway"},
                      scopes=["operator.read"])["error"]
        self.assertEqual(reader["details"]["missingScope"], "operator.write")
        self.assertEqual([e["id"] for e in call(h, "environments.list", {"runtimeId": "gateway"}
                                               )["payload"]["environments"]], ["gateway"])
        info = call(h, "system.info", {})["payload"]
        assert_upstream_result(self, "system.info", info)
        self.assertEqual((info["port"], info["pid"]), (18789, os.getpid()))
        self.assertEqual(info["processInstanceId"], "gw-instance")
        lanes = call(h, "diagnostics.lanes")["payload"]
        self.assertEqual((lanes["lanes"], lanes["dynamic"]), ([], None))


class ModelsSnapshotTests(SynchronousTestCase):
    def test_sent_to_a_control_ui_asking_for_it(self) -> None:
        from tests.support import config_snapshot

        snapshot = config_snapshot({"models": {"providers": {"p": {
            "baseUrl": "http://127.0.0.1:1/v1", "models": [{"id": "m", "name": "M"}]}}},
            "agents": {"defaults": {"model": "p/m"}}})
        harness = Harness(snapshot=snapshot)
        gateway = types.SimpleNamespace(context=harness.context)
        harness.context.hello_hooks.append(models_snapshot_hook(gateway,  # type: ignore[arg-type]
                                                                models.models_list))
        params = connect_params(client_id="openclaw-control-ui", mode="webchat",
                                scopes=ADMIN_UI, caps=["model-catalog-snapshot"],
                                modelCatalog={"sessionKey": "main"})
        _, transport, response = harness.connect(params, peer=UI_PEER, device_key=DeviceKey())
        self.assertTrue(response["ok"], response)
        [frame] = [m for m in transport.messages() if m.get("event") == "models.snapshot"]
        self.assertNotIn("seq", frame)
        payload = frame["payload"]
        self.assertEqual((payload["target"], payload["scope"]),
                         ({"sessionKey": "main"}, {"sessionKey": "main"}))
        self.assertEqual(payload["catalog"]["models"][0]["tags"], ["default"])
        # without the cap (or from another client) nothing is sent
        del params["caps"]
        _, plain, _ = harness.connect(params, peer=UI_PEER, device_key=DeviceKey())
        self.assertFalse([m for m in plain.messages() if m.get("event") == "models.snapshot"])


class HelloOkTests(SynchronousTestCase):
    def test_matches_upstream_schema(self) -> None:
        harness = Harness()
        harness.context.health.refresh()
        _, _, response = harness.connect(
            connect_params(client_id="openclaw-control-ui", mode="webchat", scopes=ADMIN_UI),
            peer=UI_PEER, device_key=DeviceKey())
        schema = compile_json_schema(reference()["frameSchemas"]["HelloOkSchema"])
        self.assertIsNone(validation_error_text(schema, response["payload"]))
