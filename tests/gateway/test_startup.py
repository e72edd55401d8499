"""Precedence rules and startup refusals, each with the operator-facing wording."""

from __future__ import annotations

import json
import os

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.startup import (
    EXIT_CONFIG_ERROR,
    EXIT_USAGE_ERROR,
    GatewayRunOptions,
    StartupRefused,
    auth_settings_for,
    prepare_gateway,
    resolve_listen_addresses,
    seeded_control_ui_origins,
)
from tests.support import isolated_env, write_config

LOCAL = {"gateway": {"mode": "local"}}


class PrecedenceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.env = isolated_env(self.mktemp())

    def plan(self, config=LOCAL, **options):
        if config is not None:
            write_config(self.env, config)
        return prepare_gateway(GatewayRunOptions(**options), self.env, tailnet_addresses=[])

    def test_port_default(self) -> None:
        plan = self.plan()
        self.assertEqual((plan.port, plan.port_source), (18789, "default"))

    def test_port_from_config(self) -> None:
        plan = self.plan({"gateway": {"mode": "local", "port": 20001}})
        self.assertEqual((plan.port, plan.port_source), (20001, "gateway.port"))

    def test_env_beats_config(self) -> None:
        self.env["OPENCLAW_GATEWAY_PORT"] = "20002"
        plan = self.plan({"gateway": {"mode": "local", "port": 20001}})
        self.assertEqual((plan.port, plan.port_source), (20002, "OPENCLAW_GATEWAY_PORT"))

    def test_flag_beats_env(self) -> None:
        self.env["OPENCLAW_GATEWAY_PORT"] = "20002"
        plan = self.plan({"gateway": {"mode": "local", "port": 20001}}, port="20003")
        self.assertEqual((plan.port, plan.port_source), (20003, "--port"))

    def test_dev_profile_base_port(self) -> None:
        env = self.env
        for key in ("OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH"):
            env.pop(key)
        dev_state = os.path.join(env["HOME"], ".openclaw-dev")
        os.makedirs(dev_state)
        with open(os.path.join(dev_state, "openclaw.json"), "w") as f:
            json.dump(LOCAL, f)
        plan = prepare_gateway(GatewayRunOptions(dev=True), env)
        self.assertEqual(plan.port, 19001)
        self.assertEqual(plan.paths.state_dir, dev_state)
        self.assertEqual(env["OPENCLAW_PROFILE"], "dev")

    def test_named_profile_gets_its_own_stable_port(self) -> None:
        for key in ("OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH"):
            self.env.pop(key)
        work = os.path.join(self.env["HOME"], ".openclaw-work")
        os.makedirs(work)
        with open(os.path.join(work, "openclaw.json"), "w") as f:
            json.dump(LOCAL, f)
        first = prepare_gateway(GatewayRunOptions(profile="work"), dict(self.env))
        again = prepare_gateway(GatewayRunOptions(profile="work"), dict(self.env))
        self.assertEqual(first.port, again.port)
        self.assertEqual(first.port_source, "profile")
        self.assertTrue(20000 <= first.port <= 59999)

    def test_profile_never_overrides_env(self) -> None:
        self.env["OPENCLAW_GATEWAY_PORT"] = "20004"
        plan = self.plan(dev=True)
        self.assertEqual(plan.port, 20004)
        self.assertEqual(plan.paths.config_path, self.env["OPENCLAW_CONFIG_PATH"])

    def test_bind_default_loopback(self) -> None:
        plan = self.plan()
        self.assertEqual((plan.bind, plan.bind_source), ("loopback", "default"))
        self.assertEqual(plan.primary_host, "127.0.0.1")

    def test_bind_flag_beats_config(self) -> None:
        config = {"gateway": {"mode": "local", "bind": "lan", "auth": {"token": "t0ken-value"}}}
        plan = self.plan(config, bind="loopback")
        self.assertEqual((plan.bind, plan.bind_source), ("loopback", "--bind"))
        plan = self.plan(config)
        self.assertEqual((plan.bind, plan.primary_host), ("lan", "0.0.0.0"))

    def test_token_flag_beats_config_beats_env(self) -> None:
        self.env["OPENCLAW_GATEWAY_TOKEN"] = "from-env"
        config = {"gateway": {"mode": "local", "auth": {"token": "from-config"}}}
        self.assertEqual(self.plan(config, token="from-flag").auth.token, "from-flag")
        self.env["OPENCLAW_GATEWAY_TOKEN"] = "from-env"
        self.assertEqual(self.plan(config).auth.token, "from-config")
        self.assertEqual(self.plan().auth.token, "from-env")

    def test_token_flag_is_exported(self) -> None:
        self.plan(token="exported")
        self.assertEqual(self.env["OPENCLAW_GATEWAY_TOKEN"], "exported")

    def test_password_from_env_infers_password_mode(self) -> None:
        self.env["OPENCLAW_GATEWAY_PASSWORD"] = "pw-from-env"
        auth = self.plan().auth
        self.assertEqual((auth.mode, auth.password), ("password", "pw-from-env"))

    def test_no_token_generates_ephemeral_one(self) -> None:
        auth = self.plan().auth
        self.assertEqual(auth.mode, "token")
        self.assertTrue(auth.generated_token)
        self.assertEqual(len(auth.token or ""), 48)

    def test_env_secret_ref(self) -> None:
        self.env["MY_TOKEN"] = "resolved-secret"
        config = {"gateway": {"mode": "local", "auth": {
            "token": {"source": "env", "provider": "default", "id": "MY_TOKEN"}}}}
        self.assertEqual(self.plan(config).auth.token, "resolved-secret")

    def test_multi_gateway_env_skips_lock(self) -> None:
        self.assertTrue(self.plan().single_instance_lock)
        self.env["OPENCLAW_ALLOW_MULTI_GATEWAY"] = "1"
        self.assertFalse(self.plan().single_instance_lock)

    def test_tailnet_falls_back_with_warning(self) -> None:
        listen, warnings = resolve_listen_addresses("tailnet", None, tailnet=[])
        self.assertEqual([a.host for a in listen], ["127.0.0.1"])
        self.assertIn("falling back to loopback", warnings[0])

    def test_tailnet_address_plus_loopback(self) -> None:
        listen, warnings = resolve_listen_addresses("tailnet", None, tailnet=["100.101.1.2"])
        self.assertEqual([a.host for a in listen], ["100.101.1.2", "127.0.0.1"])
        self.assertEqual(warnings, ())

    def test_custom_bind_host(self) -> None:
        listen, _ = resolve_listen_addresses("custom", "10.1.2.3")
        self.assertEqual([a.host for a in listen], ["10.1.2.3", "127.0.0.1"])
        listen, _ = resolve_listen_addresses("custom", "0.0.0.0")
        self.assertEqual([a.host for a in listen], ["0.0.0.0"])

    def test_non_loopback_bind_seeds_local_control_ui_origins(self) -> None:
        plan = self.plan({"gateway": {"mode": "local", "auth": {"token": "t0123456789abcdef"}}},
                         bind="lan", port="3000")
        self.assertEqual(seeded_control_ui_origins(plan),
                         ("http://localhost:3000", "http://127.0.0.1:3000"))
        self.assertEqual(auth_settings_for(plan).allowed_origins,
                         ("http://localhost:3000", "http://127.0.0.1:3000"))
        custom = self.plan({"gateway": {"mode": "local", "auth": {"token": "t0123456789abcdef"},
                                        "customBindHost": "10.1.2.3"}},
                           bind="custom", port="3000")
        self.assertEqual(auth_settings_for(custom).allowed_origins,
                         ("http://localhost:3000", "http://127.0.0.1:3000",
                          "http://10.1.2.3:3000"))
        # configured origins (or the Host fallback) win; loopback binds seed nothing
        explicit = self.plan({"gateway": {"mode": "local", "auth": {"token": "t0123456789abcdef"},
                                          "controlUi": {"allowedOrigins": ["https://ui.x"]}}},
                             bind="lan", port="3000")
        self.assertIsNone(seeded_control_ui_origins(explicit))
        self.assertEqual(auth_settings_for(explicit).allowed_origins, ("https://ui.x",))
        self.assertIsNone(seeded_control_ui_origins(self.plan(port="3000")))

    def test_auto_prefers_loopback(self) -> None:
        listen, _ = resolve_listen_addresses("auto", None)
        self.assertEqual(listen[0].host, "127.0.0.1")


class RefusalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.env = isolated_env(self.mktemp())

    def refused(self, config=LOCAL, **options) -> StartupRefused:
        if config is not None:
            write_config(self.env, config)
        return self.assertRaises(
            StartupRefused, prepare_gateway, GatewayRunOptions(**options), self.env
        )

    def test_missing_config(self) -> None:
        e = self.refused(None)
        self.assertEqual(
            e.message,
            "Missing config. Run `openclaw setup` or set gateway.mode=local "
            "(or pass --allow-unconfigured).",
        )
        self.assertEqual(e.exit_code, EXIT_CONFIG_ERROR)

    def test_allow_unconfigured_bypasses_guard(self) -> None:
        plan = prepare_gateway(GatewayRunOptions(allow_unconfigured=True), self.env)
        self.assertFalse(plan.snapshot.exists)

    def test_mode_remote_blocked(self) -> None:
        e = self.refused({"gateway": {"mode": "remote"}})
        self.assertEqual(
            e.message,
            "Gateway start blocked: set gateway.mode=local (current: remote) or pass "
            "--allow-unconfigured.",
        )

    def test_mode_missing_blocked(self) -> None:
        e = self.refused({"gateway": {"port": 20000}})
        self.assertTrue(e.message.startswith(
            "Gateway start blocked: existing config is missing gateway.mode."))

    def test_non_loopback_without_auth(self) -> None:
        e = self.refused(bind="lan")
        self.assertEqual(
            e.message,
            "Refusing to bind gateway to lan without auth.\n"
            "Set gateway.auth.token/password (or OPENCLAW_GATEWAY_TOKEN/"
            "OPENCLAW_GATEWAY_PASSWORD) or pass --token/--password.",
        )
        self.assertEqual(e.exit_code, EXIT_CONFIG_ERROR)

    def test_non_loopback_auth_none_refused(self) -> None:
        e = self.refused({"gateway": {"mode": "local", "bind": "lan", "auth": {"mode": "none"}}})
        self.assertIn("Refusing to bind gateway to lan without auth.", e.message)

    def test_non_loopback_with_token_allowed(self) -> None:
        write_config(self.env, LOCAL)
        plan = prepare_gateway(GatewayRunOptions(bind="lan", token="abcdef123"), self.env)
        self.assertEqual(plan.primary_host, "0.0.0.0")

    def test_miskey_hint(self) -> None:
        e = self.refused({"gateway": {"mode": "local", "bind": "lan", "token": "x"}})
        self.assertIn('Found "gateway.token" in config. Use "gateway.auth.token" instead.',
                      e.message)

    def test_password_mode_without_password(self) -> None:
        e = self.refused(auth="password")
        self.assertEqual(
            e.message,
            "Gateway auth is set to password, but no password is configured.\n"
            "Set gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD), or pass --password.",
        )

    def test_both_secrets_without_mode(self) -> None:
        e = self.refused({"gateway": {"mode": "local", "auth": {"token": "a1", "password": "b2"}}})
        self.assertIn("gateway.auth.mode is unset", e.message)

    def test_bad_port_flag(self) -> None:
        for bad in ("0", "-1", "70000", "abc", "12.5"):
            e = self.refused(port=bad)
            self.assertEqual(
                e.message, "Invalid --port. Use a port number from 1 to 65535, for example 18789."
            )
            self.assertEqual(e.exit_code, EXIT_USAGE_ERROR)

    def test_non_numeric_env_port(self) -> None:
        self.env["OPENCLAW_GATEWAY_PORT"] = "eighty"
        e = self.refused()
        self.assertEqual(
            e.message,
            'Invalid OPENCLAW_GATEWAY_PORT "eighty" in the environment. '
            "Use a port number from 1 to 65535, for example 18789.",
        )

    def test_negative_config_port(self) -> None:
        e = self.refused({"gateway": {"mode": "local", "port": -5}})
        self.assertIn("gateway.port", e.message)
        self.assertIn(self.env["OPENCLAW_CONFIG_PATH"], e.message)
        self.assertNotIn("Traceback", e.message)

    def test_bad_bind(self) -> None:
        e = self.refused(bind="0.0.0.0")
        self.assertEqual(
            e.message,
            'Invalid --bind. Use "loopback", "lan", "tailnet", "auto", or "custom".',
        )

    def test_bad_auth(self) -> None:
        e = self.refused(auth="magic")
        self.assertEqual(
            e.message, 'Invalid --auth. Use "none", "token", "password", or "trusted-proxy".'
        )

    def test_bad_profile(self) -> None:
        e = self.refused(profile="a/b")
        self.assertEqual(e.message, 'Invalid --profile (use letters, numbers, "_", "-" only)')

    def test_dev_with_profile(self) -> None:
        e = self.refused(profile="work", dev=True)
        self.assertEqual(e.message, "Cannot combine --dev with --profile")

    def test_config_syntax_error(self) -> None:
        e = self.refused('{ gateway: { mode: "local", }')
        self.assertIn("Invalid config at", e.message)
        self.assertIn(self.env["OPENCLAW_CONFIG_PATH"], e.message)
        self.assertNotIn("Traceback", e.message)

    def test_unknown_key(self) -> None:
        e = self.refused({"gateway": {"mode": "local", "prot": 1}})
        self.assertIn("gateway", e.message)
        self.assertIn("prot", e.message)

    def test_missing_env_var(self) -> None:
        e = self.refused({"gateway": {"mode": "local", "auth": {"token": "${NOPE_NOT_SET}"}}})
        self.assertIn('Missing env var "NOPE_NOT_SET"', e.message)
        self.assertIn("gateway.auth.token", e.message)

    def test_include_cycle(self) -> None:
        base = os.path.dirname(self.env["OPENCLAW_CONFIG_PATH"])
        with open(os.path.join(base, "a.json5"), "w") as f:
            f.write('{ "$include": "./b.json5" }')
        with open(os.path.join(base, "b.json5"), "w") as f:
            f.write('{ "$include": "./a.json5" }')
        e = self.refused({"gateway": {"mode": "local"}, "agents": {"$include": "./a.json5"}})
        self.assertIn("Circular include detected", e.message)
