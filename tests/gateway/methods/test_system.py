"""health, status, system-presence, last-heartbeat, gateway.identity.get, the registry."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth.scopes import ADMIN, PAIRING, PUBLIC, READ
from openclaw.config import parse_config_text
from openclaw.gateway.devices import identity as ident
from openclaw.gateway.methods.registry import CORE_METHODS, MethodRegistry, build_registry
from openclaw.gateway.methods.system import parse_duration_ms
from openclaw.gateway.protocol.dispatch import MethodSpec
from tests.gateway.protocol.support import Harness, config_snapshot, connect_params

HEALTH_KEYS = {"ok", "ts", "durationMs", "plugins", "configReload", "channels", "channelOrder",
               "channelLabels", "heartbeatSeconds", "defaultAgentId", "agents", "sessions",
               "modelRuntime", "eventLoop"}
EVENT_LOOP_KEYS = {"degraded", "degradedSinceMs", "reasons", "intervalMs", "delayP99Ms",
                   "delayMaxMs", "utilization", "cpuCoreRatio", "cpuBreakdown"}
CPU_BREAKDOWN_KEYS = {"mainThreadCoreRatio", "workerCoreRatio", "otherThreadsCoreRatio",
                      "hostUtilization", "hostCpuCount"}


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
            "health", "logs.tail", "channels.status", "channels.start", "channels.stop",
            "channels.logout", "channels.pairing.list", "channels.pairing.approve",
            "channels.pairing.dismiss", "status", "config.get", "config.set",
            "config.apply", "config.patch", "config.schema", "secrets.reload", "models.list",
            "agents.list", "last-heartbeat", "device.pair.list", "device.pair.approve",
            "device.pair.reject", "device.pair.remove", "gateway.identity.get",
            "system-presence", "update.status", "models.authStatus",
            "talk.catalog", "plugins.list", "sessions.catalog.list", "sessions.groups.list",
            "sessions.groups.defaults", "sessions.observer.visibility", "question.list",
            "taskSuggestions.list", "tasks.list", "mentions.list", "plugins.controlUi.list",
            "controlUi.sessionPullRequests.subscribe", "openclaw.approval.list",
            "plugin.approval.list"])
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
        self.assertEqual(set(first["eventLoop"]["cpuBreakdown"]), CPU_BREAKDOWN_KEYS)
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


class EventLoopVitalsTests(SynchronousTestCase):
    def test_cpu_breakdown_before_and_after_samples(self) -> None:
        import os
        import threading

        from twisted.internet.task import Clock

        from openclaw.gateway.status.health import EventLoopMonitor

        clock = Clock()
        monitor = EventLoopMonitor(clock)
        before = monitor.snapshot()["cpuBreakdown"]
        self.assertEqual(set(before), CPU_BREAKDOWN_KEYS)
        self.assertEqual(before["hostCpuCount"], os.cpu_count())
        stop = threading.Event()
        worker = threading.Thread(target=stop.wait, daemon=True)
        worker.start()
        self.addCleanup(stop.set)
        monitor.start()
        self.addCleanup(monitor.stop)
        sum(range(1_000_000))  # some reactor-thread CPU
        clock.advance(1)
        snapshot = monitor.snapshot()
        breakdown = snapshot["cpuBreakdown"]
        self.assertEqual(set(breakdown), CPU_BREAKDOWN_KEYS)
        for key in CPU_BREAKDOWN_KEYS - {"hostCpuCount"}:
            self.assertGreaterEqual(breakdown[key], 0.0, key)
        self.assertLessEqual(breakdown["hostUtilization"], 1.0)
        self.assertGreater(breakdown["mainThreadCoreRatio"], 0.0)
        self.assertEqual(snapshot["utilization"], min(breakdown["mainThreadCoreRatio"], 1.0))
        self.assertIs(monitor.snapshot()["cpuBreakdown"], breakdown)  # computed per sample


class StatusVitalsTests(SynchronousTestCase):
    """The fields the real gateway adds to ``status``: hostDesktop, processMemory,
    workerPools, shutdownBudget (docs/protocol.md, "Process vitals")."""

    def status(self, harness: Harness) -> dict[str, Any]:
        connection, transport = session(harness)
        payload: dict[str, Any] = harness.call(connection, transport, "status")["payload"]
        return payload

    def test_shapes_and_defaults(self) -> None:
        payload = self.status(Harness())
        self.assertEqual(payload["hostDesktop"],
                         {"enabled": False, "state": "disabled", "port": 5900})
        memory = payload["processMemory"]
        self.assertEqual(set(memory), {"rssBytes", "heapUsedBytes", "heapTotalBytes",
                                       "externalBytes", "arrayBuffersBytes"})
        self.assertTrue(all(isinstance(v, int) and v >= 0 for v in memory.values()))
        self.assertGreater(memory["rssBytes"], 0)
        self.assertGreaterEqual(memory["heapTotalBytes"], memory["heapUsedBytes"])
        self.assertLessEqual(memory["arrayBuffersBytes"], memory["externalBytes"])
        pool_keys = {"maxWorkers", "workers", "workersCreated", "activeTasks", "pendingTasks"}
        self.assertEqual(set(payload["workerPools"]),
                         {"transcriptReconciliation", "modelCatalog", "reactorThreadPool"})
        for pool in payload["workerPools"].values():
            self.assertEqual(set(pool), pool_keys)
        self.assertEqual(payload["shutdownBudget"], {
            "timeoutMs": 6000, "reserveMs": 1000, "nativeStopBudget": False,
            "activeWork": {"rootRequests": 0, "cronRuns": 0, "sessionMutations": 0,
                           "terminalPersistence": 0, "lifecycleWrites": 0},
            "writeCustody": []})
        self.assertEqual(set(payload["eventLoop"]["cpuBreakdown"]), CPU_BREAKDOWN_KEYS)
        keys = list(payload)
        self.assertLess(keys.index("processMemory"), keys.index("workerPools"))
        self.assertEqual(keys[-2:], ["pid", "shutdownBudget"])

    def test_host_desktop_from_config(self) -> None:
        snapshot = config_snapshot({"desktop": {"host": {"enabled": True, "port": 5901}}})
        self.assertEqual(self.status(Harness(snapshot=snapshot))["hostDesktop"],
                         {"enabled": True, "state": "unavailable", "port": 5901})

    def test_gateway_supplied_facts(self) -> None:
        harness = Harness()
        harness.context.shutdown_budget = lambda: {
            "timeoutMs": 11000, "reserveMs": 1000, "activeWork": {"lifecycleWrites": 1}}
        harness.context.worker_pools = lambda: {"transcriptReconciliation": {
            "maxWorkers": 1, "workers": 1, "workersCreated": 1, "activeTasks": 0,
            "pendingTasks": 0}}
        harness.context.active_requests = lambda: 2
        payload = self.status(harness)
        budget = payload["shutdownBudget"]
        self.assertEqual((budget["timeoutMs"], budget["activeWork"]["lifecycleWrites"],
                          budget["activeWork"]["rootRequests"]), (11000, 1, 2))
        self.assertEqual(payload["workerPools"]["transcriptReconciliation"]["workers"], 1)


class HelloServerTests(SynchronousTestCase):
    def test_build_id_and_control_ui_source(self) -> None:
        from openclaw.gateway.status.build_info import build_id

        harness = Harness()
        _, _, response = harness.connect()
        server = response["payload"]["server"]
        self.assertEqual(list(server), ["version", "buildId", "bootId", "controlUiBuildSource",
                                        "connId"])
        self.assertRegex(server["buildId"], r"^2026\.9\.6-test-python-[0-9a-f]{12}$")
        self.assertEqual(server["buildId"], build_id("2026.9.6-test"))
        self.assertEqual(server["controlUiBuildSource"], "bundled")
        configured = Harness(snapshot=real_snapshot('{gateway: {controlUi: {root: "/srv/ui"}}}'))
        _, _, response = configured.connect()
        self.assertEqual(response["payload"]["server"]["controlUiBuildSource"], "configured")


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
        harness = Harness(snapshot=config_snapshot({"session": {"scope": "global"}}))
        _, _, response = harness.connect()
        defaults = response["payload"]["snapshot"]["sessionDefaults"]
        self.assertEqual((defaults["scope"], defaults["mainSessionKey"]), ("global", "global"))
        json.dumps(response)
