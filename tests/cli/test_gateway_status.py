"""`openclaw gateway status`: layout, --json keys, --require-rpc, --deep, exit codes."""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.cli.helpers import make_env, run_cli, run_cli_process, shared_gateway, temp_dir
from tests.support import free_port, write_config

# Top-level keys of the real CLI's `gateway status --json` (recorded-cli.md; a live probe).
REAL_KEYS = {"cli", "logFile", "service", "config", "gateway", "hostDesktop", "port", "rpc",
             "extraServices"}


class StatusAgainstLiveGatewayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.gateway = shared_gateway()
        self.env = self.gateway.client_env()

    def test_json_keys_and_probe(self) -> None:
        result = run_cli(["gateway", "status", "--json"], self.env)
        self.assertEqual(result.code, 0, result.err)
        status = result.json()
        self.assertEqual(set(status), REAL_KEYS)
        self.assertEqual(status["gateway"]["port"], self.gateway.port)
        self.assertEqual(status["gateway"]["portSource"], "env/config")
        self.assertEqual(status["gateway"]["probeUrl"], self.gateway.url)
        self.assertEqual(status["rpc"]["ok"], True)
        self.assertEqual(status["rpc"]["kind"], "connect")
        self.assertEqual(status["rpc"]["capability"], "connected_no_operator_scope")
        self.assertEqual(status["port"]["status"], "busy")
        pids = {listener["pid"] for listener in status["port"]["listeners"]}
        self.assertEqual(pids, {self.gateway.process.proc.pid})
        self.assertEqual(status["service"]["label"], "no supported service manager detected")
        self.assertEqual(status["config"]["cli"]["path"], self.env["OPENCLAW_CONFIG_PATH"])

    def test_text_layout(self) -> None:
        result = run_cli(["gateway", "status"], self.env)
        self.assertEqual(result.code, 0, result.err)
        lines = result.out.splitlines()
        self.assertEqual(lines[0], "Service: no supported service manager detected (diagnostic "
                                   "only, not the probe target)")
        for expected in (
            f"Gateway: bind=loopback (127.0.0.1), port={self.gateway.port} (env/config)",
            f"Probe target: {self.gateway.url}",
            f"Dashboard: http://127.0.0.1:{self.gateway.port}/",
            "Probe note: Loopback-only gateway; only local clients can connect.",
            "Runtime: unknown (diagnostic only, not the probe target)",
            "Connectivity probe: ok",
            "Capability: connected-no-operator-scope",
            "Troubles: run openclaw status",
            "Troubleshooting: https://docs.openclaw.ai/troubleshooting",
        ):
            self.assertIn(expected, lines)
        self.assertTrue(any(line.startswith("Listening: 127.0.0.1:") for line in lines))
        self.assertIn("No supported service manager detected.", result.err)

    def test_require_rpc_live(self) -> None:
        result = run_cli(["gateway", "status", "--require-rpc", "--json"], self.env)
        self.assertEqual(result.code, 0, result.err)
        rpc = result.json()["rpc"]
        self.assertEqual((rpc["ok"], rpc["kind"], rpc["capability"]),
                         (True, "read", "read_only"))
        self.assertIn("Read probe: ok", run_cli(["gateway", "status", "--require-rpc"],
                                                self.env).out)

    def test_no_probe(self) -> None:
        result = run_cli(["gateway", "status", "--no-probe", "--json"], self.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertNotIn("rpc", result.json())

    def test_explicit_url(self) -> None:
        env = make_env(temp_dir())
        result = run_cli(["gateway", "status", "--json", "--url", self.gateway.url, "--token",
                          self.gateway.token], env)
        self.assertEqual(result.code, 0, result.err)
        self.assertTrue(result.json()["rpc"]["ok"])


class StatusWithoutGatewayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.env = make_env(temp_dir())
        self.port = free_port()
        write_config(self.env, {"gateway": {"mode": "local", "port": self.port,
                                            "auth": {"token": "t"}}})

    def test_probe_failure_still_exits_0(self) -> None:
        result = run_cli(["gateway", "status"], self.env)
        self.assertEqual(result.code, 0)
        self.assertIn("Connectivity probe: failed", result.err)
        self.assertIn(f"  connect ECONNREFUSED 127.0.0.1:{self.port}", result.err)
        self.assertIn("Capability: unknown", result.out)
        status = run_cli(["gateway", "status", "--json"], self.env).json()
        self.assertEqual(status["rpc"]["connectFailure"], {"kind": "unreachable"})
        self.assertEqual(status["port"]["status"], "free")
        self.assertEqual(status["pluginVersionDrift"]["drifts"], [])

    def test_require_rpc_fails_with_1(self) -> None:
        result = run_cli(["gateway", "status", "--require-rpc"], self.env)
        self.assertEqual(result.code, 1)
        self.assertIn("Read probe: failed", result.err)
        self.assertIn(f"  Gateway not reachable at ws://127.0.0.1:{self.port} (ECONNREFUSED).",
                      result.err)
        self.assertIn("  Source: service target", result.err)
        process = run_cli_process(["gateway", "status", "--require-rpc", "--json"], self.env)
        self.assertEqual(process.code, 1)
        self.assertFalse(process.json()["rpc"]["ok"])

    def test_require_rpc_with_no_probe(self) -> None:
        result = run_cli(["gateway", "status", "--require-rpc", "--no-probe"], self.env)
        self.assertEqual((result.code, result.err), (1, (
            "Gateway status failed: --require-rpc needs probing enabled. Remove --no-probe or "
            "drop --require-rpc.\n")))

    def test_config_problems_are_reported(self) -> None:
        write_config(self.env, '{"gateway": {"port": "nope"}}')
        result = run_cli(["gateway", "status", "--no-probe"], self.env)
        self.assertEqual(result.code, 0)
        self.assertIn(f"Config (cli): {self.env['OPENCLAW_CONFIG_PATH']} (invalid)", result.out)
        self.assertIn("Config issue: gateway.port:", result.err)

    def test_deep_lists_other_services_with_hints(self) -> None:
        unit_dir = os.path.join(self.env["HOME"], ".config", "systemd", "user")
        os.makedirs(unit_dir)
        with open(os.path.join(unit_dir, "openclaw-gateway-rescue.service"), "w") as f:
            f.write("[Service]\nExecStart=/nonexistent/python -m openclaw gateway --port 19999\n"
                    "Environment=OPENCLAW_SERVICE_MARKER=openclaw\n"
                    "Environment=OPENCLAW_SERVICE_KIND=gateway\n")
        result = run_cli(["gateway", "status", "--deep", "--no-probe"], self.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertIn("Other gateway-like services detected (best effort):", result.out)
        self.assertIn("- openclaw-gateway-rescue.service (user, unit: ", result.out)
        self.assertIn("(stale: program missing)", result.out)
        self.assertIn("Inspection hint: systemctl --user status -- "
                      "openclaw-gateway-rescue.service", result.out)
        self.assertIn("Cleanup hint: systemctl --user disable --now -- "
                      "openclaw-gateway-rescue.service", result.out)
        self.assertIn("Recommendation: run a single gateway per machine", result.out)
        extra = run_cli(["gateway", "status", "--deep", "--no-probe", "--json"],
                        self.env).json()["extraServices"]
        self.assertEqual(extra[0]["label"], "openclaw-gateway-rescue.service")
        self.assertEqual(extra[0]["scope"], "user")
