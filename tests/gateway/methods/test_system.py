"""health, status, system-presence, last-heartbeat, gateway.identity.get, the registry."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import parse_config_text
from openclaw.gateway.methods.base import MethodSpec
from openclaw.gateway.methods.registry import CORE_METHODS, MethodRegistry, build_registry
from openclaw.gateway.methods.system import parse_duration_ms
from openclaw.gateway.protocol import device_identity as ident
from openclaw.gateway.protocol.scopes import ADMIN, PAIRING, PUBLIC, READ
from tests.gateway.protocol.support import FakeSnapshot, Harness, connect_params

HEALTH_KEYS = {"ok", "ts", "durationMs", "plugins", "configReload", "channels", "channelOrder",
               "channelLabels", "heartbeatSeconds", "defaultAgentId", "agents", "sessions",
               "modelRuntime", "eventLoop"}
EVENT_LOOP_KEYS = {"degraded", "degradedSinceMs", "reasons", "intervalMs", "delayP99Ms",
                   "delayMaxMs", "utilization", "cpuCoreRatio"}


def real_snapshot(text: str) -> Any:
    return parse_config_text(text, "/state/openclaw.json", env={}, home="/home/test")


def session(harness: Harness, scopes: list[str] | None = None) -> tuple[Any, Any]:
    connection, transport, response = harness.connect(connect_params(scopes=scopes))
    assert response["ok"], response
    return connection, transport


class RegistryTests(SynchronousTestCase):
    def test_core_table(self) -> None:
        registry = build_registry()
        self.assertEqual(registry.advertised_methods, [
            "health", "logs.tail", "status", "config.get", "config.set", "config.apply",
            "config.patch", "config.schema", "secrets.reload", "models.list",
            "agents.list", "last-heartbeat", "device.pair.list", "device.pair.approve",
            "device.pair.reject", "device.pair.remove", "gateway.identity.get",
            "system-presence"])
        self.assertEqual(registry.required_scope("health"), PUBLIC)
        self.assertEqual(registry.required_scope("config.schema"), READ)
        self.assertEqual(registry.required_scope("device.pair.list"), PAIRING)
        self.assertEqual(registry.required_scope("connect"), ADMIN)
        self.assertEqual(registry.required_scope("chat.send"), "operator.write")
        self.assertEqual(registry.required_scope("node.invoke.result"), "node")
        self.assertIsNone(registry.required_scope("no.such.method"))
        self.assertIn("status", registry)
        self.assertEqual(len(registry), len(CORE_METHODS))
        self.assertEqual(len(list(registry)), len(CORE_METHODS))

    def test_extra_methods_and_replacement(self) -> None:
        spec = MethodSpec("sessions.list", lambda call: {"sessions": []}, READ)
        hidden = MethodSpec("status", lambda call: {}, READ, advertise=False)
        registry = build_registry([spec, hidden])
        self.assertIn("sessions.list", registry.advertised_methods)
        self.assertNotIn("status", registry.advertised_methods)
        self.assertIsInstance(registry, MethodRegistry)


class HealthTests(SynchronousTestCase):
    def test_shape_and_cache(self) -> None:
        harness = Harness()
        connection, transport = session(harness, scopes=[])
        first = harness.call(connection, transport, "health", omit_params=True)["payload"]
        self.assertEqual(set(first), HEALTH_KEYS)
        self.assertEqual(set(first["eventLoop"]), EVENT_LOOP_KEYS)
        self.assertEqual(first["defaultAgentId"], "main")
        self.assertEqual(first["heartbeatSeconds"], 1800)
        agent = first["agents"][0]
        self.assertEqual(agent["heartbeat"]["every"], "30m")
        self.assertTrue(agent["sessions"]["path"].endswith("agents/main/sessions/sessions.json"))
        harness.clock.advance(10)
        self.assertEqual(harness.call(connection, transport, "health")["payload"]["ts"],
                         first["ts"])
        probed = harness.call(connection, transport, "health", {"probe": True})["payload"]
        self.assertGreater(probed["ts"], first["ts"])

    def test_agents_and_heartbeat_from_config(self) -> None:
        snapshot = real_snapshot("""{
          agents: {
            defaults: {heartbeat: {every: "1h"}, model: "openai/gpt-x"},
            entries: {main: {name: "Main"}, ops: {name: "Ops", default: true}},
          },
        }""")
        harness = Harness(snapshot=snapshot)
        connection, transport = session(harness)
        payload = harness.call(connection, transport, "health")["payload"]
        self.assertEqual(payload["defaultAgentId"], "ops")
        self.assertEqual([a["agentId"] for a in payload["agents"]], ["main", "ops"])
        self.assertEqual([a["isDefault"] for a in payload["agents"]], [False, True])
        self.assertEqual(payload["heartbeatSeconds"], 3600)

    def test_parse_duration(self) -> None:
        self.assertEqual(parse_duration_ms("30m"), 1_800_000)
        self.assertEqual(parse_duration_ms("1h30m"), 5_400_000)
        self.assertEqual(parse_duration_ms("500ms"), 500)
        self.assertEqual(parse_duration_ms("15"), 900_000)
        self.assertIsNone(parse_duration_ms("soon"))
        self.assertIsNone(parse_duration_ms(""))
        self.assertIsNone(parse_duration_ms("0m"))


class StatusTests(SynchronousTestCase):
    def test_reader_gets_redacted_paths(self) -> None:
        harness = Harness()
        connection, transport = session(harness, scopes=["operator.read"])
        payload = harness.call(connection, transport, "status",
                               {"includeChannelSummary": False})["payload"]
        self.assertEqual(payload["runtimeVersion"], "2026.9.6-test")
        self.assertEqual(payload["sessions"]["paths"], [])
        self.assertEqual(payload["sessions"]["byAgent"][0]["path"], "[redacted]")
        self.assertEqual(payload["heartbeat"]["agents"][0]["everyMs"], 1_800_000)
        self.assertIn("rssBytes", payload["processMemory"])
        self.assertNotIn("cliProjection", payload)

    def test_admin_and_cli_projection(self) -> None:
        harness = Harness(snapshot=real_snapshot('{agents: {defaults: {model: "p/m"}}}'))
        connection, transport = session(harness, scopes=["operator.admin"])
        payload = harness.call(connection, transport, "status",
                               {"includeChannelSummary": False,
                                "includeCliProjection": True})["payload"]
        self.assertTrue(payload["sessions"]["paths"][0].endswith("sessions.json"))
        self.assertEqual(payload["sessions"]["defaults"]["model"], "p/m")
        self.assertEqual(payload["cliProjection"]["agents"]["rows"], [{"id": "main"}])
        self.assertEqual(list(payload)[:2], ["runtimeVersion", "cliProjection"])


class PresenceAndIdentityTests(SynchronousTestCase):
    def test_system_presence(self) -> None:
        harness = Harness()
        connection, transport = session(harness)
        entries = harness.call(connection, transport, "system-presence",
                               omit_params=True)["payload"]
        self.assertEqual(entries[0]["mode"], "gateway")
        self.assertEqual(entries[0]["instanceId"], "gw-instance")

    def test_last_heartbeat(self) -> None:
        harness = Harness()
        connection, transport = session(harness)
        self.assertEqual(harness.call(connection, transport, "last-heartbeat")["payload"], None)
        harness.context.last_heartbeat = {"ts": 1, "status": "sent"}
        self.assertEqual(harness.call(connection, transport, "last-heartbeat")["payload"],
                         {"ts": 1, "status": "sent"})

    def test_gateway_identity(self) -> None:
        harness = Harness()
        connection, transport = session(harness)
        payload = harness.call(connection, transport, "gateway.identity.get")["payload"]
        identity = harness.context.identity
        self.assertEqual(payload, {"deviceId": identity.device_id,
                                   "publicKey": identity.public_key})
        self.assertEqual(ident.device_id_for_public_key(payload["publicKey"]),
                         payload["deviceId"])

    def test_snapshot_uses_config_session_settings(self) -> None:
        harness = Harness(snapshot=FakeSnapshot(parsed={"session": {"scope": "global"}}))
        _, _, response = harness.connect()
        defaults = response["payload"]["snapshot"]["sessionDefaults"]
        self.assertEqual((defaults["scope"], defaults["mainSessionKey"]), ("global", "global"))
        json.dumps(response)
