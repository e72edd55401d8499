"""`openclaw health`: the payload verbatim, the digest, and the exit codes."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.cli.helpers import make_env, run_cli, run_cli_process, shared_gateway, temp_dir
from tests.support import free_port, write_config


class HealthTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.gateway = shared_gateway()
        self.env = self.gateway.client_env()

    def test_json(self) -> None:
        result = run_cli(["health", "--json"], self.env)
        self.assertEqual(result.code, 0, result.err)
        payload = result.json()
        self.assertTrue(payload["ok"])
        self.assertEqual(payload["defaultAgentId"], "main")

    def test_text_digest(self) -> None:
        result = run_cli(["health"], self.env)
        self.assertEqual(result.code, 0, result.err)
        lines = result.out.splitlines()
        self.assertIn("Agents: main (default)", lines)
        self.assertIn("Heartbeat interval: 30m (main)", lines)
        self.assertTrue(any(line.startswith("Gateway probe duration: ") for line in lines))
        self.assertTrue(any(line.startswith("Session store (main): ") for line in lines))

    def test_verbose_shows_connection(self) -> None:
        result = run_cli(["health", "--verbose"], self.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertEqual(result.out.splitlines()[:3], [
            "Gateway connection:", f"  Gateway target: {self.gateway.url}",
            "  Source: local loopback"])

    def test_env_url_override(self) -> None:
        env = make_env(temp_dir(), OPENCLAW_GATEWAY_URL=self.gateway.url,
                       OPENCLAW_GATEWAY_TOKEN=self.gateway.token)
        self.assertEqual(run_cli(["health", "--json"], env).code, 0)

    def test_unreachable_exits_1(self) -> None:
        env = make_env(temp_dir())
        port = free_port()
        write_config(env, {"gateway": {"mode": "local", "port": port,
                                       "auth": {"token": "t"}}})
        result = run_cli(["health", "--json"], env)
        self.assertEqual(result.code, 1)
        self.assertEqual(result.json()["error"]["type"], "gateway_transport_error")
        self.assertEqual(result.json()["gateway"], {
            "url": f"ws://127.0.0.1:{port}", "urlSource": "local loopback",
            "bindDetail": "Bind: loopback"})
        text = run_cli(["health"], env)
        self.assertEqual(text.code, 1)
        self.assertTrue(text.err.startswith(f"Gateway not reachable at ws://127.0.0.1:{port} "
                                            "(ECONNREFUSED).\n"))

    def test_wrong_token_exits_1(self) -> None:
        env = self.gateway.client_env(OPENCLAW_GATEWAY_TOKEN="wrong-token")
        result = run_cli(["health"], env)
        self.assertEqual(result.code, 1)
        self.assertIn("gateway connect failed: GatewayClientRequestError", result.err)
        self.assertIn("[openclaw] The CLI command failed.", result.err)

    def test_real_process_exit_codes(self) -> None:
        ok = run_cli_process(["health", "--json"], self.env)
        self.assertEqual(ok.code, 0, ok.err)
        dead = run_cli_process(["health"], self.gateway.client_env(
            OPENCLAW_GATEWAY_URL=f"ws://127.0.0.1:{free_port()}"))
        self.assertEqual(dead.code, 1)
        self.assertIn("Source: env OPENCLAW_GATEWAY_URL", dead.err)
