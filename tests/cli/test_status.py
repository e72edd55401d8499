"""`openclaw status`: the gateway's status merged with local facts; exit 0 either way."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.cli.helpers import make_env, run_cli, shared_gateway, temp_dir
from tests.support import free_port, write_config

# Top-level keys of the real CLI's `openclaw status --json` against a live gateway (ours,
# captured with the real CLI) and against none.
LOCAL_KEYS = {"os", "update", "updateChannel", "updateChannelSource", "memory", "memoryPlugin",
              "gateway", "gatewayService", "nodeService", "agents", "secretDiagnostics"}
OFFLINE_KEYS = LOCAL_KEYS | {"runtimeVersion", "hostDesktop", "heartbeat", "channelSummary",
                             "queuedSystemEvents", "degradedSecretOwners", "degradedPlugins",
                             "tasks", "taskAudit", "sessions"}
GATEWAY_KEYS = {"mode", "url", "urlSource", "misconfigured", "reachable", "connectLatencyMs",
                "self", "error", "authWarning"}


class StatusTests(SynchronousTestCase):
    def test_live(self) -> None:
        gateway = shared_gateway()
        result = run_cli(["status", "--json"], gateway.client_env())
        self.assertEqual(result.code, 0, result.err)
        status = result.json()
        self.assertLessEqual(LOCAL_KEYS | {"collection", "runtimeVersion"}, set(status))
        self.assertEqual(set(status["gateway"]), GATEWAY_KEYS)
        self.assertTrue(status["gateway"]["reachable"])
        self.assertEqual(status["gateway"]["url"], gateway.url)
        self.assertEqual(status["gatewayService"]["label"], "no supported service manager "
                                                            "detected")
        text = run_cli(["status"], gateway.client_env())
        self.assertEqual(text.code, 0)
        self.assertTrue(text.out.startswith("OpenClaw status\n\nOverview\n┌"))
        self.assertIn(f"local · {gateway.url} (local loopback) · reachable", text.out)
        self.assertIn("Probes             │ skipped (use --deep)", text.out)

    def test_deep_asks_live_health(self) -> None:
        gateway = shared_gateway()
        status = run_cli(["status", "--json", "--deep"], gateway.client_env()).json()
        self.assertTrue(status["health"]["ok"])

    def test_unreachable_still_exits_0(self) -> None:
        env = make_env(temp_dir())
        port = free_port()
        write_config(env, {"gateway": {"mode": "local", "port": port, "auth": {"token": "t"}}})
        result = run_cli(["status", "--json"], env)
        self.assertEqual(result.code, 0, result.err)
        status = result.json()
        self.assertEqual(set(status), OFFLINE_KEYS)
        self.assertEqual(status["gateway"]["reachable"], False)
        self.assertEqual(status["gateway"]["error"], f"connect ECONNREFUSED 127.0.0.1:{port}")
        text = run_cli(["status"], env)
        self.assertEqual(text.code, 0)
        self.assertIn("· unreachable (connect ECONNREFUSED", text.out)
