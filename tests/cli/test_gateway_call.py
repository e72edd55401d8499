"""`openclaw gateway call` / `gateway health`: payloads, error envelopes, exit codes."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.cli.helpers import TOKEN, make_env, run_cli, shared_gateway, temp_dir
from tests.support import free_port


class GatewayCallTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.gateway = shared_gateway()
        self.env = self.gateway.client_env()

    def test_health_json_is_the_payload(self) -> None:
        result = run_cli(["gateway", "call", "health", "--json"], self.env)
        self.assertEqual(result.code, 0, result.err)
        payload = result.json()
        self.assertTrue(payload["ok"])
        for key in ("ts", "durationMs", "channels", "defaultAgentId", "agents", "sessions"):
            self.assertIn(key, payload)

    def test_text_mode_heading(self) -> None:
        result = run_cli(["gateway", "call", "status"], self.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertTrue(result.out.startswith("Gateway call: status\n{\n"))

    def test_params_are_sent(self) -> None:
        result = run_cli(["gateway", "call", "logs.tail", "--params", '{"limit": 1}', "--json"],
                         self.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertLessEqual(len(result.json()["lines"]), 1)

    def test_explicit_url_and_token(self) -> None:
        result = run_cli(["gateway", "call", "health", "--json", "--url", self.gateway.url,
                          "--token", TOKEN], make_env(temp_dir()))
        self.assertEqual(result.code, 0, result.err)

    def test_unknown_method(self) -> None:
        result = run_cli(["gateway", "call", "no.such.method", "--json"], self.env)
        self.assertEqual(result.code, 1)
        self.assertEqual(result.json(), {"ok": False, "error": {
            "type": "gateway_request_error", "code": "INVALID_REQUEST",
            "message": "unknown method: no.such.method", "retryable": False}})
        text = run_cli(["gateway", "call", "no.such.method"], self.env)
        self.assertEqual((text.code, text.err),
                         (1, "Gateway call failed: unknown method: no.such.method\n"))

    def test_wrong_token(self) -> None:
        result = run_cli(["gateway", "call", "health", "--json", "--url", self.gateway.url,
                          "--token", "wrong-token"], self.env)
        self.assertEqual(result.code, 1)
        self.assertTrue(result.err.startswith("gateway connect failed: GatewayClientRequestError:"
                                              " unauthorized: gateway token mismatch"))
        error = result.json()["error"]
        self.assertEqual(error["type"], "gateway_request_error")
        self.assertEqual(error["details"]["code"], "AUTH_TOKEN_MISMATCH")
        text = run_cli(["gateway", "call", "health", "--url", self.gateway.url, "--token",
                        "wrong-token"], self.env)
        self.assertIn("Gateway call failed: unauthorized: gateway token mismatch", text.err)

    def test_nothing_listening(self) -> None:
        port = free_port()
        url = f"ws://127.0.0.1:{port}"
        result = run_cli(["gateway", "call", "health", "--json", "--url", url, "--token", "t"],
                         self.env)
        self.assertEqual(result.code, 1)
        self.assertEqual(result.json(), {
            "ok": False,
            "error": {"type": "gateway_transport_error", "kind": "closed",
                      "message": f"Gateway not reachable at {url} (ECONNREFUSED).",
                      "reason": f"connect ECONNREFUSED 127.0.0.1:{port}"},
            "gateway": {"url": url, "urlSource": "cli --url"},
        })
        text = run_cli(["gateway", "call", "health", "--url", url, "--token", "t"], self.env)
        self.assertEqual(text.code, 1)
        self.assertEqual(text.err.splitlines()[:4], [
            f"Gateway not reachable at {url} (ECONNREFUSED).",
            "Start it with `openclaw gateway run` or check `openclaw gateway status`.",
            f"Gateway target: {url}", "Source: cli --url"])

    def test_url_without_credentials(self) -> None:
        result = run_cli(["gateway", "call", "health", "--json", "--url", self.gateway.url],
                         self.env)
        self.assertEqual(result.code, 1)
        self.assertEqual(result.json()["error"]["type"], "gateway_credentials_required")

    def test_bad_params(self) -> None:
        result = run_cli(["gateway", "call", "health", "--params", "nope"], self.env)
        self.assertEqual((result.code, result.err),
                         (1, "Gateway call failed: --params must be valid JSON.\n"))
        result = run_cli(["gateway", "call", "health", "--params", "nope", "--json"], self.env)
        self.assertEqual(result.json()["error"], {"type": "cli_error",
                                                  "message": "--params must be valid JSON."})

    def test_usage_errors(self) -> None:
        result = run_cli(["gateway", "call"], self.env)
        self.assertEqual((result.code, result.err), (
            1, 'Missing required argument "method".\nTry: openclaw gateway call --help\n'))
        result = run_cli(["gateway", "call", "a", "b"], self.env)
        self.assertIn("Too many arguments for this command.", result.err)
        result = run_cli(["gateway", "call", "health", "--bogus"], self.env)
        self.assertEqual(result.err, 'OpenClaw does not recognize option "--bogus".\n'
                                     "Try: openclaw gateway call --help\n")

    def test_gateway_health(self) -> None:
        result = run_cli(["gateway", "health"], self.env)
        self.assertEqual(result.code, 0, result.err)
        self.assertEqual(result.out.splitlines()[0], "Gateway Health")
        self.assertRegex(result.out.splitlines()[1], r"^OK \(\d+ms\)$")
        self.assertTrue(run_cli(["gateway", "health", "--json"], self.env).json()["ok"])
        dead = run_cli(["gateway", "health", "--port", str(free_port())], self.env)
        self.assertEqual(dead.code, 1)
        self.assertIn("Gateway not reachable at", dead.err)
