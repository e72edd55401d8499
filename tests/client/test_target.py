"""Which gateway and credentials a command uses: flags, env, config, local/remote mode."""

from __future__ import annotations

import json
import os

from twisted.trial.unittest import SynchronousTestCase

from openclaw.client.errors import CredentialsRequiredError, GatewayUrlError
from openclaw.client.target import ClientConfig, resolve_local_port, resolve_target


def config(tmp: str, document: object, name: str = "openclaw.json") -> ClientConfig:
    path = os.path.join(tmp, name)
    os.makedirs(tmp, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(document if isinstance(document, str) else json.dumps(document))
    return ClientConfig.load(path, {}, tmp)


class ClientConfigTests(SynchronousTestCase):
    def test_missing_file_is_empty(self) -> None:
        loaded = ClientConfig.load(os.path.join(self.mktemp(), "nope.json"), {}, "/")
        self.assertFalse(loaded.exists)
        self.assertEqual(loaded.document, {})
        self.assertEqual(loaded.bind, "loopback")

    def test_json5_include_and_env_vars(self) -> None:
        tmp = self.mktemp()
        os.makedirs(tmp)
        with open(os.path.join(tmp, "auth.json5"), "w") as f:
            f.write("{ token: '${MY_TOKEN}' }")
        path = os.path.join(tmp, "openclaw.json")
        with open(path, "w") as f:
            f.write("// comment\n{ gateway: { port: 19123, auth: { $include: './auth.json5' },"
                    " }, }")
        loaded = ClientConfig.load(path, {"MY_TOKEN": "from-env"}, tmp)
        self.assertIsNone(loaded.error)
        self.assertEqual(loaded.config_port, 19123)
        self.assertEqual(loaded.secret("gateway.auth.token", {}), "from-env")

    def test_unparsable_file_reports_error(self) -> None:
        loaded = config(self.mktemp(), "{ not json")
        self.assertTrue(loaded.exists)
        self.assertIsNotNone(loaded.error)
        self.assertEqual(loaded.document, {})

    def test_secret_ref_from_env(self) -> None:
        loaded = config(self.mktemp(), {"gateway": {"auth": {"token": {
            "source": "env", "provider": "default", "id": "GW_TOKEN"}}}})
        self.assertEqual(loaded.secret("gateway.auth.token", {"GW_TOKEN": "t"}), "t")


class PortTests(SynchronousTestCase):
    def test_precedence_matches_the_gateway(self) -> None:
        """Client port = what `openclaw gateway` binds without --port (startup.resolve_port)."""
        from openclaw.config import parse_config_text
        from openclaw.gateway.startup import GatewayRunOptions, resolve_port

        tmp = self.mktemp()
        for document, env in [
            ({}, {}),
            ({"gateway": {"port": 19555}}, {}),
            ({"gateway": {"port": 19555}}, {"OPENCLAW_GATEWAY_PORT": "19777"}),
            ({}, {"CLAWDBOT_GATEWAY_PORT": "19888"}),
        ]:
            loaded = config(tmp, document)
            snapshot = parse_config_text(json.dumps(document), loaded.path, env=env, home=tmp)
            expected, _ = resolve_port(GatewayRunOptions(), env, snapshot)
            self.assertEqual(resolve_local_port(env, loaded)[0], expected, (document, env))


class ResolveTargetTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.tmp = self.mktemp()

    def test_local_loopback_from_config(self) -> None:
        loaded = config(self.tmp, {"gateway": {"port": 19001, "auth": {"token": "cfg"}}})
        target = resolve_target({}, loaded)
        self.assertEqual(target.url, "ws://127.0.0.1:19001")
        self.assertEqual(target.connection.url_source, "local loopback")
        self.assertEqual(target.token, "cfg")
        self.assertEqual(target.connection.bind_detail, "Bind: loopback")
        self.assertEqual(target.connection.message.splitlines()[:2],
                         ["Gateway target: ws://127.0.0.1:19001", "Source: local loopback"])

    def test_tls_uses_wss(self) -> None:
        loaded = config(self.tmp, {"gateway": {"tls": {"enabled": True}}})
        self.assertEqual(resolve_target({}, loaded).url, "wss://127.0.0.1:18789")

    def test_env_url_and_env_token_win_over_config(self) -> None:
        loaded = config(self.tmp, {"gateway": {"auth": {"token": "cfg"}}})
        env = {"OPENCLAW_GATEWAY_URL": "ws://127.0.0.1:1234", "OPENCLAW_GATEWAY_TOKEN": "env"}
        target = resolve_target(env, loaded)
        self.assertEqual(target.url, "ws://127.0.0.1:1234")
        self.assertEqual(target.connection.url_source, "env OPENCLAW_GATEWAY_URL")
        self.assertEqual(target.token, "env")
        self.assertIsNone(target.connection.bind_detail)

    def test_cli_url_requires_explicit_credentials(self) -> None:
        loaded = config(self.tmp, {"gateway": {"auth": {"token": "cfg"}}})
        with self.assertRaises(CredentialsRequiredError) as caught:
            resolve_target({"OPENCLAW_GATEWAY_TOKEN": "env"}, loaded, url="ws://127.0.0.1:9")
        self.assertEqual(caught.exception.to_json()["error"]["type"],
                         "gateway_credentials_required")
        self.assertIn("gateway url override requires explicit credentials",
                      str(caught.exception))
        target = resolve_target({}, loaded, url="ws://127.0.0.1:9", token="flag")
        self.assertEqual((target.token, target.connection.url_source), ("flag", "cli --url"))

    def test_remote_mode_prefers_remote_token(self) -> None:
        loaded = config(self.tmp, {"gateway": {
            "mode": "remote", "auth": {"token": "local"},
            "remote": {"url": "wss://gw.example.com", "token": "remote"}}})
        target = resolve_target({"OPENCLAW_GATEWAY_TOKEN": "env"}, loaded)
        self.assertEqual(target.url, "wss://gw.example.com")
        self.assertEqual(target.connection.url_source, "config gateway.remote.url")
        self.assertEqual(target.token, "remote")

    def test_remote_mode_without_url_falls_back_to_local(self) -> None:
        loaded = config(self.tmp, {"gateway": {"mode": "remote"}})
        target = resolve_target({}, loaded)
        self.assertEqual(target.connection.url_source,
                         "missing gateway.remote.url (fallback local)")
        self.assertIn("gateway.remote.url is missing", target.connection.message)

    def test_local_mode_token_order(self) -> None:
        loaded = config(self.tmp, {"gateway": {"auth": {"token": "auth"},
                                               "remote": {"token": "remote"}}})
        self.assertEqual(resolve_target({}, loaded).token, "auth")
        loaded = config(self.tmp, {"gateway": {"remote": {"token": "remote"}}})
        self.assertEqual(resolve_target({}, loaded).token, "remote")

    def test_password_mode(self) -> None:
        loaded = config(self.tmp, {"gateway": {"auth": {"mode": "password", "password": "pw",
                                                        "token": "tok"}}})
        target = resolve_target({}, loaded)
        self.assertEqual((target.token, target.password), (None, "pw"))

    def test_plaintext_remote_url_refused(self) -> None:
        loaded = config(self.tmp, {})
        with self.assertRaises(GatewayUrlError) as caught:
            resolve_target({}, loaded, url="ws://gw.example.com:18789", token="t")
        self.assertIn("SECURITY ERROR", str(caught.exception))
        resolve_target({}, loaded, url="ws://192.168.1.5:18789", token="t")  # private: allowed


class ClientPathsTests(SynchronousTestCase):
    def test_same_as_config_paths(self) -> None:
        """The CLI's light path resolver agrees with openclaw.config.paths.resolve_paths."""
        from openclaw.client.target import client_paths
        from openclaw.config.paths import resolve_paths

        home = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(home, ".clawdbot"))
        with open(os.path.join(home, ".clawdbot", "clawdbot.json"), "w") as f:
            f.write("{}")
        cases = [
            {"HOME": home},
            {"HOME": home, "OPENCLAW_HOME": "~/alt"},
            {"HOME": home, "OPENCLAW_STATE_DIR": "~/state"},
            {"HOME": home, "OPENCLAW_STATE_DIR": "/srv/oc", "OPENCLAW_CONFIG_PATH": "~/c.json"},
            {"HOME": home, "CLAWDBOT_CONFIG_PATH": "rel/c.json"},
            {"HOME": home, "OPENCLAW_STATE_DIR": " "},
        ]
        for env in cases:
            paths = resolve_paths(env)
            self.assertEqual(client_paths(env), (paths.home, paths.state_dir, paths.config_path),
                             env)
