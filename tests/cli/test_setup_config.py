"""`openclaw setup`, `openclaw --dev setup` and `openclaw config get|set|unset`."""

from __future__ import annotations

import json
import os

from twisted.trial.unittest import SynchronousTestCase

from tests.cli.helpers import make_env, mode_of, run_cli, temp_dir


class SetupTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.env = make_env(temp_dir())
        for key in ("OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH"):
            del self.env[key]  # let profiles decide
        self.home = self.env["HOME"]

    def read(self, path: str) -> dict[str, object]:
        with open(path) as f:
            return dict(json.load(f))

    def test_setup_is_local_mode_with_token_and_idempotent(self) -> None:
        first = run_cli(["setup"], self.env)
        self.assertEqual(first.code, 0, first.err)
        path = os.path.join(self.home, ".openclaw", "openclaw.json")
        workspace = os.path.join(self.home, ".openclaw", "workspace")
        self.assertEqual(first.out, f"Config ready: {path} (token in gateway.auth.token)\n"
                                    f"Workspace ready: {workspace}\n")
        config = self.read(path)
        gateway = config["gateway"]
        self.assertEqual((gateway["mode"], gateway["bind"], gateway["auth"]["mode"]),
                         ("local", "loopback", "token"))
        self.assertEqual(len(gateway["auth"]["token"]), 48)
        self.assertEqual(config["agents"], {"defaults": {"workspace": workspace}})
        self.assertEqual(mode_of(path), 0o600)
        self.assertEqual(sorted(os.listdir(workspace)),
                         ["AGENTS.md", "IDENTITY.md", "SOUL.md", "TOOLS.md", "USER.md"])
        with open(path, "rb") as f:
            before = f.read()
        second = run_cli(["setup"], self.env)
        self.assertEqual(second.out, f"Config already exists: {path}\nWorkspace ready: "
                                     f"{workspace}\n")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), before)
        # The result is a config the gateway accepts.
        from openclaw.config import load_config

        load_config(path, env={}, home=self.home)

    def test_dev_setup(self) -> None:
        result = run_cli(["--dev", "setup", "--json"], self.env)
        self.assertEqual(result.code, 0, result.err)
        report = result.json()
        path = os.path.join(self.home, ".openclaw-dev", "openclaw.json")
        self.assertEqual((report["configPath"], report["profile"]), (path, "dev"))
        config = self.read(path)
        self.assertEqual(config["gateway"]["port"], 19001)
        self.assertEqual(config["agents"]["entries"]["dev"]["identity"]["name"], "C3-PO")
        self.assertTrue(config["agents"]["defaults"]["skipBootstrap"])
        self.assertTrue(run_cli(["--dev", "setup"], self.env).out.startswith(
            "Config already exists"))
        from openclaw.config import load_config

        snapshot = load_config(path, env={}, home=self.home)
        self.assertEqual(snapshot.config.gateway.port, 19001)

    def test_profile_setup_and_workspace_flag(self) -> None:
        workspace = os.path.join(self.home, "ws")
        result = run_cli(["--profile", "work", "setup", "--workspace", workspace], self.env)
        self.assertEqual(result.code, 0, result.err)
        config = self.read(os.path.join(self.home, ".openclaw-work", "openclaw.json"))
        self.assertEqual(config["agents"]["defaults"]["workspace"], workspace)
        self.assertTrue(os.path.exists(os.path.join(workspace, "SOUL.md")))
        bad = run_cli(["--profile", "bad name", "setup"], self.env)
        self.assertEqual(bad.code, 1)


class ConfigTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.env = make_env(temp_dir())
        self.path = self.env["OPENCLAW_CONFIG_PATH"]

    def test_set_get_unset_round_trip(self) -> None:
        result = run_cli(["config", "set", "gateway.port", "19999"], self.env)
        self.assertEqual((result.code, result.out),
                         (0, "Updated gateway.port. Restart the gateway to apply.\n"))
        self.assertEqual(mode_of(self.path), 0o600)
        self.assertEqual(run_cli(["config", "get", "gateway.port"], self.env).out, "19999\n")
        self.assertEqual(run_cli(["config", "get", "gateway.port", "--json"], self.env).json(),
                         19999)
        result = run_cli(["config", "set", "gateway.remote", '{"url":"wss://gw.example"}'],
                         self.env)
        self.assertEqual(result.out, "Updated gateway.remote. No gateway restart needed.\n")
        result = run_cli(["config", "set", "gateway.controlUi.enabled", "false"], self.env)
        self.assertEqual(result.out, "Updated gateway.controlUi.enabled. Change will apply "
                                     "without restarting the gateway.\n")
        result = run_cli(["config", "unset", "gateway.port"], self.env)
        self.assertEqual(result.out, "Removed gateway.port. Restart the gateway to apply.\n")
        self.assertTrue(os.path.exists(self.path + ".bak"))
        self.assertEqual(mode_of(self.path + ".bak"), 0o600)

    def test_validation_refuses_bad_values(self) -> None:
        run_cli(["config", "set", "gateway.mode", "local"], self.env)
        with open(self.path, "rb") as f:
            before = f.read()
        result = run_cli(["config", "set", "gateway.port", "notaport"], self.env)
        self.assertEqual((result.code, result.err), (1, (
            "Config validation failed: gateway.port: Invalid input: expected number, received "
            "string\n")))
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_unknown_and_unset_paths(self) -> None:
        result = run_cli(["config", "get", "gateway.nope"], self.env)
        self.assertEqual((result.code, result.err), (1, (
            "Unknown config path: gateway.nope. Run openclaw config schema to inspect valid "
            "paths.\n")))
        result = run_cli(["config", "get", "gateway.mode"], self.env)
        self.assertEqual(result.err, (
            "Config path is valid but unset: gateway.mode. The runtime default applies until "
            "you set an authored value with openclaw config set gateway.mode <value>.\n"))
        result = run_cli(["config", "unset", "gateway.tls"], self.env)
        self.assertEqual((result.code, result.err), (1, (
            "Config path not found: gateway.tls. Nothing was changed. Run openclaw config get "
            "<path> first if you are unsure of the path.\n")))
        self.assertIn('Missing required argument "path".', run_cli(["config", "get"],
                                                                  self.env).err)

    def test_secrets_are_redacted(self) -> None:
        run_cli(["config", "set", "gateway.auth.token", "super-secret-value"], self.env)
        result = run_cli(["config", "get", "gateway"], self.env)
        self.assertEqual(result.json(), {"auth": {"token": "__OPENCLAW_REDACTED__"}})
        self.assertNotIn("super-secret-value", result.out)
