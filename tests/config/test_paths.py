"""Paths and profiles: openclaw/config/paths.py (config-ops §1.1-1.3, 2026.9 rules)."""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import (
    DEFAULT_PORT,
    DEV_BASE_PORT,
    OpenClawPaths,
    ProfileError,
    apply_profile,
    expand_home,
    resolve_gateway_port,
    resolve_home,
    resolve_paths,
)
from openclaw.config.paths import lock_file_path, parse_port

HOME = "/home/alice"


def _nothing_exists(_path: str) -> bool:
    return False


class HomeTests(SynchronousTestCase):
    def test_os_home(self) -> None:
        self.assertEqual(resolve_home({"HOME": HOME}), HOME)

    def test_openclaw_home_wins(self) -> None:
        self.assertEqual(resolve_home({"HOME": HOME, "OPENCLAW_HOME": "/srv/oc"}), "/srv/oc")

    def test_openclaw_home_tilde_expands_against_os_home(self) -> None:
        env = {"HOME": HOME, "OPENCLAW_HOME": "~/svc"}
        self.assertEqual(resolve_home(env), "/home/alice/svc")

    def test_blank_and_placeholder_values_are_unset(self) -> None:
        for value in ("", "   ", "undefined", "null"):
            self.assertEqual(resolve_home({"HOME": HOME, "OPENCLAW_HOME": value}), HOME)

    def test_userprofile_fallback(self) -> None:
        self.assertEqual(resolve_home({"USERPROFILE": "/users/bob"}), "/users/bob")

    def test_expand_home(self) -> None:
        self.assertEqual(expand_home("~", HOME), HOME)
        self.assertEqual(expand_home("~/x/y", HOME), "/home/alice/x/y")
        self.assertEqual(expand_home("/abs/path", HOME), "/abs/path")
        self.assertEqual(expand_home("  ~/padded  ", HOME), "/home/alice/padded")
        # ~user is not a home reference; relative paths become absolute.
        self.assertEqual(expand_home("~bob/x", HOME), os.path.abspath("~bob/x"))
        self.assertTrue(os.path.isabs(expand_home("rel/dir", HOME)))


class ApplyProfileTests(SynchronousTestCase):
    def test_no_flags_changes_nothing(self) -> None:
        env = {"HOME": HOME}
        self.assertIsNone(apply_profile(env, profile=None, dev=False))
        self.assertEqual(env, {"HOME": HOME})

    def test_no_flags_returns_active_profile(self) -> None:
        env = {"HOME": HOME, "OPENCLAW_PROFILE": "work"}
        self.assertEqual(apply_profile(env, profile=None, dev=False), "work")
        self.assertEqual(env, {"HOME": HOME, "OPENCLAW_PROFILE": "work"})

    def test_named_profile_fills_defaults(self) -> None:
        env = {"HOME": HOME}
        self.assertEqual(apply_profile(env, profile="rescue", dev=False), "rescue")
        self.assertEqual(
            env,
            {
                "HOME": HOME,
                "OPENCLAW_PROFILE": "rescue",
                "OPENCLAW_STATE_DIR": "/home/alice/.openclaw-rescue",
                "OPENCLAW_CONFIG_PATH": "/home/alice/.openclaw-rescue/openclaw.json",
            },
        )

    def test_default_profile_uses_plain_state_dir(self) -> None:
        env = {"HOME": HOME}
        apply_profile(env, profile="default", dev=False)
        self.assertEqual(env["OPENCLAW_STATE_DIR"], "/home/alice/.openclaw")
        self.assertEqual(env["OPENCLAW_CONFIG_PATH"], "/home/alice/.openclaw/openclaw.json")

    def test_dev_sets_port(self) -> None:
        env = {"HOME": HOME}
        self.assertEqual(apply_profile(env, profile=None, dev=True), "dev")
        self.assertEqual(env["OPENCLAW_STATE_DIR"], "/home/alice/.openclaw-dev")
        self.assertEqual(env["OPENCLAW_GATEWAY_PORT"], str(DEV_BASE_PORT))

    def test_dev_with_dev_profile_is_fine(self) -> None:
        self.assertEqual(apply_profile({"HOME": HOME}, profile="dev", dev=True), "dev")

    def test_only_dev_profile_sets_port(self) -> None:
        env = {"HOME": HOME}
        apply_profile(env, profile="rescue", dev=False)
        self.assertNotIn("OPENCLAW_GATEWAY_PORT", env)

    def test_explicit_env_is_never_overridden(self) -> None:
        env = {
            "HOME": HOME,
            "OPENCLAW_STATE_DIR": "/custom/state",
            "OPENCLAW_CONFIG_PATH": "/custom/cfg.json",
            "OPENCLAW_GATEWAY_PORT": "4000",
        }
        apply_profile(env, profile=None, dev=True)
        self.assertEqual(env["OPENCLAW_STATE_DIR"], "/custom/state")
        self.assertEqual(env["OPENCLAW_CONFIG_PATH"], "/custom/cfg.json")
        self.assertEqual(env["OPENCLAW_GATEWAY_PORT"], "4000")

    def test_explicit_state_dir_derives_config_path(self) -> None:
        env = {"HOME": HOME, "OPENCLAW_STATE_DIR": "~/elsewhere"}
        apply_profile(env, profile="ops", dev=False)
        self.assertEqual(env["OPENCLAW_STATE_DIR"], "~/elsewhere")
        self.assertEqual(env["OPENCLAW_CONFIG_PATH"], "/home/alice/elsewhere/openclaw.json")

    def test_profile_dirs_honour_openclaw_home(self) -> None:
        env = {"HOME": HOME, "OPENCLAW_HOME": "/srv/oc"}
        apply_profile(env, profile="ops", dev=False)
        self.assertEqual(env["OPENCLAW_STATE_DIR"], "/srv/oc/.openclaw-ops")

    def test_explicit_default_profile_paths_are_kept(self) -> None:
        env = {
            "HOME": HOME,
            "OPENCLAW_STATE_DIR": "/home/alice/.openclaw",
            "OPENCLAW_CONFIG_PATH": "/home/alice/.openclaw/openclaw.json",
        }
        apply_profile(env, profile="rescue", dev=False)
        self.assertEqual(env["OPENCLAW_STATE_DIR"], "/home/alice/.openclaw")
        self.assertEqual(env["OPENCLAW_CONFIG_PATH"], "/home/alice/.openclaw/openclaw.json")

    def test_flag_selects_the_profile_marker(self) -> None:
        env = {"HOME": HOME, "OPENCLAW_PROFILE": "work"}
        self.assertEqual(apply_profile(env, profile="rescue", dev=False), "rescue")
        self.assertEqual(env["OPENCLAW_PROFILE"], "rescue")
        self.assertEqual(env["OPENCLAW_STATE_DIR"], "/home/alice/.openclaw-rescue")

    def test_bad_profile_names(self) -> None:
        for name in ("bad name", "a/b", "../x", "-leading", "é", "x" * 65, "a.b"):
            with self.assertRaises(ProfileError) as raised:
                apply_profile({"HOME": HOME}, profile=name, dev=False)
            self.assertEqual(
                str(raised.exception), 'Invalid --profile (use letters, numbers, "_", "-" only)'
            )

    def test_empty_profile(self) -> None:
        with self.assertRaises(ProfileError) as raised:
            apply_profile({"HOME": HOME}, profile="  ", dev=False)
        self.assertEqual(str(raised.exception), "--profile requires a value")

    def test_good_profile_names(self) -> None:
        for name in ("a", "Work_2", "x-y", "0", "x" * 64):
            self.assertEqual(apply_profile({"HOME": HOME}, profile=name, dev=False), name)

    def test_dev_with_other_profile(self) -> None:
        env = {"HOME": HOME}
        with self.assertRaises(ProfileError) as raised:
            apply_profile(env, profile="work", dev=True)
        self.assertEqual(str(raised.exception), "Cannot combine --dev with --profile")
        self.assertEqual(env, {"HOME": HOME})

    def test_profile_error_is_a_value_error(self) -> None:
        self.assertTrue(issubclass(ProfileError, ValueError))


class ResolvePathsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        paths = resolve_paths({"HOME": HOME}, exists=_nothing_exists)
        self.assertEqual(paths.home, HOME)
        self.assertEqual(paths.state_dir, "/home/alice/.openclaw")
        self.assertEqual(paths.config_path, "/home/alice/.openclaw/openclaw.json")
        self.assertIsNone(paths.profile)
        self.assertEqual(paths.log_dir, "/home/alice/.openclaw/logs")
        self.assertEqual(paths.default_workspace, "/home/alice/.openclaw/workspace")

    def test_explicit_env_is_used_without_probing(self) -> None:
        probed: list[str] = []

        def exists(path: str) -> bool:
            probed.append(path)
            return True

        env = {
            "HOME": HOME,
            "OPENCLAW_STATE_DIR": "~/st",
            "OPENCLAW_CONFIG_PATH": "~/cfg/oc.json",
        }
        paths = resolve_paths(env, exists=exists)
        self.assertEqual(paths.state_dir, "/home/alice/st")
        self.assertEqual(paths.config_path, "/home/alice/cfg/oc.json")
        self.assertEqual(probed, [])

    def test_legacy_env_fallbacks(self) -> None:
        env = {
            "HOME": HOME,
            "CLAWDBOT_STATE_DIR": "/legacy/state",
            "CLAWDBOT_CONFIG_PATH": "/legacy/c.json",
        }
        paths = resolve_paths(env, exists=_nothing_exists)
        self.assertEqual(paths.state_dir, "/legacy/state")
        self.assertEqual(paths.config_path, "/legacy/c.json")

    def test_openclaw_env_beats_legacy_env(self) -> None:
        env = {"HOME": HOME, "CLAWDBOT_STATE_DIR": "/legacy", "OPENCLAW_STATE_DIR": "/new"}
        self.assertEqual(resolve_paths(env, exists=_nothing_exists).state_dir, "/new")

    def test_legacy_state_dir_used_when_new_one_is_missing(self) -> None:
        existing = {"/home/alice/.moltbot", "/home/alice/.moltbot/moltbot.json"}
        paths = resolve_paths({"HOME": HOME}, exists=existing.__contains__)
        self.assertEqual(paths.state_dir, "/home/alice/.moltbot")
        self.assertEqual(paths.config_path, "/home/alice/.moltbot/moltbot.json")

    def test_new_state_dir_preferred_over_legacy(self) -> None:
        existing = {"/home/alice/.openclaw", "/home/alice/.clawdbot"}
        paths = resolve_paths({"HOME": HOME}, exists=existing.__contains__)
        self.assertEqual(paths.state_dir, "/home/alice/.openclaw")
        self.assertEqual(paths.config_path, "/home/alice/.openclaw/openclaw.json")

    def test_legacy_config_name_in_state_dir(self) -> None:
        existing = {"/home/alice/.openclaw", "/home/alice/.openclaw/clawdbot.json"}
        paths = resolve_paths({"HOME": HOME}, exists=existing.__contains__)
        self.assertEqual(paths.config_path, "/home/alice/.openclaw/clawdbot.json")

    def test_config_found_in_legacy_dir_without_state_override(self) -> None:
        existing = {"/home/alice/.openclaw", "/home/alice/.clawdbot/clawdbot.json"}
        paths = resolve_paths({"HOME": HOME}, exists=existing.__contains__)
        self.assertEqual(paths.state_dir, "/home/alice/.openclaw")
        self.assertEqual(paths.config_path, "/home/alice/.clawdbot/clawdbot.json")

    def test_state_override_only_searches_that_dir(self) -> None:
        existing = {"/home/alice/.openclaw/openclaw.json"}
        env = {"HOME": HOME, "OPENCLAW_STATE_DIR": "/isolated"}
        paths = resolve_paths(env, exists=existing.__contains__)
        self.assertEqual(paths.config_path, "/isolated/openclaw.json")

    def test_openclaw_home_moves_everything(self) -> None:
        paths = resolve_paths({"HOME": HOME, "OPENCLAW_HOME": "/srv/oc"}, exists=_nothing_exists)
        self.assertEqual(paths.state_dir, "/srv/oc/.openclaw")

    def test_profile_and_workspace(self) -> None:
        env = {"HOME": HOME}
        apply_profile(env, profile="rescue", dev=False)
        paths = resolve_paths(env, exists=_nothing_exists)
        self.assertEqual(paths.profile, "rescue")
        self.assertEqual(paths.state_dir, "/home/alice/.openclaw-rescue")
        # 2026.9: the workspace lives in the profile's state dir.
        self.assertEqual(paths.default_workspace, "/home/alice/.openclaw-rescue/workspace")

    def test_default_profile_is_no_profile(self) -> None:
        paths = resolve_paths({"HOME": HOME, "OPENCLAW_PROFILE": "Default"}, exists=_nothing_exists)
        self.assertIsNone(paths.profile)

    def test_workspace_override(self) -> None:
        env = {"HOME": HOME, "OPENCLAW_WORKSPACE_DIR": "~/ws"}
        paths = resolve_paths(env, exists=_nothing_exists)
        self.assertEqual(paths.default_workspace, "/home/alice/ws")

    def test_lock_dir_and_file(self) -> None:
        paths = OpenClawPaths(
            home=HOME,
            state_dir="/home/alice/.openclaw",
            config_path="/home/alice/.openclaw/openclaw.json",
            profile=None,
            uid=1000,
        )
        self.assertEqual(paths.lock_dir, "/home/alice/.openclaw/tmp/openclaw-1000")
        lock = lock_file_path(paths)
        self.assertTrue(lock.startswith("/home/alice/.openclaw/tmp/openclaw-1000/gateway."))
        self.assertTrue(lock.endswith(".lock"))
        self.assertEqual(len(os.path.basename(lock)), len("gateway.12345678.lock"))
        no_uid = OpenClawPaths(
            home=HOME, state_dir="/s", config_path="/s/openclaw.json", profile=None, uid=None
        )
        self.assertEqual(no_uid.lock_dir, "/s/tmp/openclaw")

    def test_agent_dirs(self) -> None:
        paths = resolve_paths({"HOME": HOME}, exists=_nothing_exists)
        self.assertEqual(paths.agent_dir("main"), "/home/alice/.openclaw/agents/main/agent")
        self.assertEqual(paths.sessions_dir("w"), "/home/alice/.openclaw/agents/w/sessions")
        self.assertEqual(paths.env_file, "/home/alice/.openclaw/.env")

    def test_paths_are_immutable(self) -> None:
        paths = resolve_paths({"HOME": HOME}, exists=_nothing_exists)
        with self.assertRaises(AttributeError):
            paths.state_dir = "/x"  # type: ignore[misc]


class PortTests(SynchronousTestCase):
    def test_parse_port(self) -> None:
        self.assertEqual(parse_port("18789"), 18789)
        self.assertEqual(parse_port(" 4000 "), 4000)
        self.assertEqual(parse_port("127.0.0.1:4001"), 4001)
        self.assertEqual(parse_port("[::1]:4002"), 4002)
        for bad in (None, "", "0", "70000", "-1", "abc", ":80", "a:b:80", "\uff11\uff12\uff13"):
            self.assertIsNone(parse_port(bad), bad)

    def test_precedence(self) -> None:
        env = {"OPENCLAW_GATEWAY_PORT": "5000"}
        self.assertEqual(resolve_gateway_port(env, 6000, cli_port=7000), 7000)
        self.assertEqual(resolve_gateway_port(env, 6000), 5000)
        self.assertEqual(resolve_gateway_port({}, 6000), 6000)
        self.assertEqual(resolve_gateway_port({}, None), DEFAULT_PORT)

    def test_invalid_env_port_is_ignored(self) -> None:
        self.assertEqual(resolve_gateway_port({"OPENCLAW_GATEWAY_PORT": "nope"}, 6000), 6000)

    def test_legacy_env_port(self) -> None:
        self.assertEqual(resolve_gateway_port({"CLAWDBOT_GATEWAY_PORT": "5001"}, None), 5001)

    def test_dev_profile_port(self) -> None:
        env = {"HOME": HOME}
        apply_profile(env, profile=None, dev=True)
        self.assertEqual(resolve_gateway_port(env, None), DEV_BASE_PORT)

    def test_named_profile_gets_a_stable_port(self) -> None:
        port = resolve_gateway_port({"OPENCLAW_PROFILE": "rescue"}, None)
        self.assertEqual(port, resolve_gateway_port({"OPENCLAW_PROFILE": "rescue"}, None))
        self.assertTrue(20000 <= port < 60000)
        self.assertNotEqual(port, resolve_gateway_port({"OPENCLAW_PROFILE": "other"}, None))
        self.assertEqual(resolve_gateway_port({"OPENCLAW_PROFILE": "default"}, None), DEFAULT_PORT)
