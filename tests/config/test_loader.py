"""Loading: JSON5, parse errors, missing file, hash, env block, ${VAR}, warnings, dotenv."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import (
    ConfigError,
    ConfigParseError,
    FrozenDict,
    MissingEnvVarError,
    OpenClawConfig,
    load_dotenv_files,
    parse_config_text,
    parse_dotenv,
    thaw,
)
from tests.config.helpers import ConfigTestCase


class MissingFileTests(ConfigTestCase):
    def test_missing_file_is_an_empty_config(self) -> None:
        snapshot = self.load()
        self.assertFalse(snapshot.exists)
        self.assertIsNone(snapshot.raw)
        self.assertIsNone(snapshot.hash)
        self.assertEqual(snapshot.parsed, {})
        self.assertEqual(snapshot.config, OpenClawConfig())
        self.assertEqual(snapshot.config.gateway.reload.mode, "hybrid")
        self.assertEqual(snapshot.config.agents.default_agent_id, "main")
        self.assertEqual(snapshot.unsupported, ())
        self.assertEqual(snapshot.warnings, ())
        self.assertEqual(snapshot.path, self.config_path)

    def test_missing_directory_is_an_empty_config(self) -> None:
        snapshot = self.load()
        self.assertFalse(snapshot.exists)

    def test_path_is_expanded_against_home(self) -> None:
        from openclaw.config import load_config

        self.write(self.config_path, "{}")
        snapshot = load_config("~/.openclaw/openclaw.json", env={}, home=self.home)
        self.assertTrue(snapshot.exists)
        self.assertEqual(snapshot.path, self.config_path)

    def test_directory_is_not_a_config(self) -> None:
        os.makedirs(self.config_path)
        failure = self.load_error(None)
        self.assertIn("must be a regular file", str(failure))


class Json5Tests(ConfigTestCase):
    def test_comments_trailing_commas_unquoted_keys(self) -> None:
        snapshot = self.load(
            """
            // line comment
            {
              /* block comment */
              gateway: {
                mode: 'local',   // single quotes
                port: 18789,
                bind: "loopback",
              },
              agents: { defaults: { timeoutSeconds: 0x10, }, },
            }
            """
        )
        self.assertEqual(snapshot.config.gateway.mode, "local")
        self.assertEqual(snapshot.config.gateway.port, 18789)
        self.assertEqual(snapshot.config.agents.defaults.timeout_seconds, 16)

    def test_hash_is_sha256_of_raw_bytes(self) -> None:
        text = '{ gateway: { mode: "local" } }\n'
        snapshot = self.load(text)
        self.assertEqual(snapshot.raw, text)
        self.assertEqual(snapshot.hash, hashlib.sha256(text.encode()).hexdigest())
        self.assertTrue(snapshot.exists)

    def test_hash_changes_with_content(self) -> None:
        first = self.load("{}").hash
        second = self.load("{ }").hash
        self.assertNotEqual(first, second)

    def test_byte_order_mark_is_accepted(self) -> None:
        with open(self.config_path, "wb") as handle:
            handle.write(b'\xef\xbb\xbf{"gateway": {"mode": "local"}}')
        snapshot = self.load()
        self.assertEqual(snapshot.config.gateway.mode, "local")

    def test_syntax_error_names_file_line_and_column(self) -> None:
        failure = self.load_error('{\n  gateway: {\n    mode: "local"\n    port: 1\n  }\n}\n')
        self.assertIsInstance(failure, ConfigParseError)
        assert isinstance(failure, ConfigParseError)
        self.assertEqual(failure.line, 4)
        self.assertEqual(failure.column, 5)
        self.assertEqual(failure.file, self.config_path)
        text = str(failure)
        self.assertEqual(
            text,
            f"Invalid config at {self.config_path}:\n"
            '- <root>: JSON5 parse failed: Unexpected "p" at line 4, column 5',
        )
        self.assertNotIn("Traceback", text)

    def test_unterminated_input(self) -> None:
        failure = self.load_error('{ a: "x')
        self.assertIn("line 1", str(failure))
        self.assertIn("Unexpected end of input", str(failure))

    def test_empty_file(self) -> None:
        failure = self.load_error("   \n")
        self.assertIsInstance(failure, ConfigParseError)
        self.assertIn("empty", str(failure))

    def test_invalid_utf8(self) -> None:
        with open(self.config_path, "wb") as handle:
            handle.write(b'{"a": "\xff"}')
        failure = self.load_error(None)
        self.assertIsInstance(failure, ConfigParseError)
        self.assertIn("UTF-8", str(failure))

    def test_root_must_be_an_object(self) -> None:
        failure = self.load_error("[1, 2]")
        self.assertEqual(
            self.issue_map(failure), {"<root>": "Invalid input: expected object, received array"}
        )


class ParsedDocumentTests(ConfigTestCase):
    def test_parsed_is_deeply_immutable(self) -> None:
        snapshot = self.load({"gateway": {"trustedProxies": ["10.0.0.1"]}, "plugins": {"a": [1]}})
        self.assertIsInstance(snapshot.parsed, FrozenDict)
        with self.assertRaises(TypeError):
            snapshot.parsed["gateway"] = {}  # type: ignore[index]
        with self.assertRaises(TypeError):
            snapshot.parsed["gateway"]["trustedProxies"].append("x")
        with self.assertRaises(TypeError):
            snapshot.config.section("plugins")["a"].append(2)

    def test_thaw_and_deepcopy_give_plain_editable_copies(self) -> None:
        snapshot = self.load({"gateway": {"trustedProxies": ["10.0.0.1"]}})
        for copied in (thaw(snapshot.parsed), copy.deepcopy(snapshot.parsed)):
            self.assertIs(type(copied), dict)
            copied["gateway"]["trustedProxies"].append("10.0.0.2")
            self.assertEqual(snapshot.parsed["gateway"]["trustedProxies"], ["10.0.0.1"])

    def test_parsed_serialises_and_pickles(self) -> None:
        snapshot = self.load({"gateway": {"mode": "local", "trustedProxies": ["a"]}})
        self.assertEqual(
            json.loads(json.dumps(snapshot.parsed)),
            {"gateway": {"mode": "local", "trustedProxies": ["a"]}},
        )
        self.assertEqual(pickle.loads(pickle.dumps(snapshot.parsed)), snapshot.parsed)

    def test_parse_config_text_validates_a_candidate(self) -> None:
        snapshot = parse_config_text(
            '{gateway: {mode: "remote"}}', self.config_path, env={}, home=self.home
        )
        self.assertEqual(snapshot.config.gateway.mode, "remote")
        with self.assertRaises(ConfigError):
            parse_config_text("{gateway: {port: 0}}", self.config_path, env={}, home=self.home)


class EnvSubstitutionTests(ConfigTestCase):
    def test_substitution_inside_strings(self) -> None:
        snapshot = self.load(
            {
                "gateway": {"auth": {"token": "${GW_TOKEN}"}},
                "models": {"providers": {"p": {"baseUrl": "${BASE}/v1", "models": []}}},
            },
            env={"GW_TOKEN": "s3cret", "BASE": "http://127.0.0.1:8000"},
        )
        self.assertEqual(snapshot.config.gateway.auth.token, "s3cret")
        self.assertEqual(snapshot.config.models.providers["p"].base_url, "http://127.0.0.1:8000/v1")

    def test_escape_and_lowercase_are_left_alone(self) -> None:
        snapshot = self.load(
            {"agents": {"defaults": {"workspace": "$${HOME_DIR}/${lower}/$X/${}"}}},
            env={"HOME_DIR": "/nope"},
        )
        self.assertEqual(snapshot.config.agents.defaults.workspace, "${HOME_DIR}/${lower}/$X/${}")

    def test_missing_variable_is_an_error_with_path(self) -> None:
        failure = self.load_error(
            {"models": {"providers": {"openai": {"apiKey": "${MISSING_KEY}"}}}},
            error=MissingEnvVarError,
        )
        self.assertEqual(
            self.issue_map(failure),
            {
                "models.providers.openai.apiKey": 'Missing env var "MISSING_KEY" referenced at '
                "config path: models.providers.openai.apiKey"
            },
        )
        self.assertIn('Missing env var "MISSING_KEY"', str(failure))

    def test_empty_variable_counts_as_missing(self) -> None:
        self.load_error(
            {"gateway": {"mode": "${MODE}"}}, env={"MODE": ""}, error=MissingEnvVarError
        )

    def test_every_missing_variable_is_reported(self) -> None:
        failure = self.load_error(
            {"gateway": {"trustedProxies": ["${A}", "${B}"]}, "hooks": {"token": "${C}"}}
        )
        self.assertEqual(
            sorted(self.issue_map(failure)),
            ["gateway.trustedProxies[0]", "gateway.trustedProxies[1]", "hooks.token"],
        )

    def test_missing_variables_and_schema_errors_are_reported_together(self) -> None:
        failure = self.load_error({"gateway": {"port": "x", "mode": "${NOPE}"}})
        self.assertNotIsInstance(failure, MissingEnvVarError)
        self.assertEqual(sorted(self.issue_map(failure)), ["gateway.mode", "gateway.port"])

    def test_env_is_not_modified(self) -> None:
        env = {"A": "1"}
        self.load({"env": {"vars": {"NEW_VAR": "x"}}}, env=env)
        self.assertEqual(env, {"A": "1"})


class EnvBlockTests(ConfigTestCase):
    def test_env_block_fills_missing_vars_before_substitution(self) -> None:
        snapshot = self.load(
            {
                "env": {"vars": {"GW_TOKEN": "from-config", "PRESET": "from-config"}},
                "gateway": {"auth": {"token": "${GW_TOKEN}", "password": "${PRESET}"}},
            },
            env={"PRESET": "from-env"},
        )
        self.assertEqual(snapshot.config.gateway.auth.token, "from-config")
        self.assertEqual(snapshot.config.gateway.auth.password, "from-env")
        self.assertEqual(dict(snapshot.env_additions), {"GW_TOKEN": "from-config"})

    def test_empty_env_value_is_filled(self) -> None:
        snapshot = self.load({"env": {"vars": {"X_VAR": "v"}}}, env={"X_VAR": " "})
        self.assertEqual(dict(snapshot.env_additions), {"X_VAR": "v"})

    def test_dangerous_names_are_refused(self) -> None:
        snapshot = self.load(
            {"env": {"vars": {"LD_PRELOAD": "/evil.so", "NODE_OPTIONS": "-r x", "OK_VAR": "1"}}}
        )
        self.assertEqual(dict(snapshot.env_additions), {"OK_VAR": "1"})
        self.assertEqual(len([w for w in snapshot.warnings if "cannot be set" in w]), 2)

    def test_values_may_not_reference_other_vars(self) -> None:
        snapshot = self.load({"env": {"vars": {"A_VAR": "${B_VAR}"}}}, env={"B_VAR": "b"})
        self.assertEqual(dict(snapshot.env_additions), {})
        self.assertEqual(snapshot.config.env.vars["A_VAR"], "b")

    def test_legacy_inline_env_vars(self) -> None:
        snapshot = self.load(
            {"env": {"LEGACY_KEY": "v"}, "agents": {"defaults": {"workspace": "${LEGACY_KEY}"}}}
        )
        self.assertEqual(snapshot.config.agents.defaults.workspace, "v")
        self.assertEqual(dict(snapshot.env_additions), {"LEGACY_KEY": "v"})
        self.assertEqual(snapshot.config.env.vars["LEGACY_KEY"], "v")
        self.assertTrue(any('"env.LEGACY_KEY"' in warning for warning in snapshot.warnings))

    def test_shell_env_settings_are_typed(self) -> None:
        snapshot = self.load({"env": {"shellEnv": {"enabled": True}}})
        self.assertTrue(snapshot.config.env.shell_env.enabled)
        self.assertEqual(snapshot.config.env.shell_env.timeout_ms, 15000)


class WarningTests(ConfigTestCase):
    def test_gateway_token_miskey(self) -> None:
        snapshot = self.load({"gateway": {"token": "abc"}})
        self.assertIn(
            'Config uses "gateway.token". This key is ignored; use "gateway.auth.token" instead.',
            snapshot.warnings,
        )
        self.assertIsNone(snapshot.config.gateway.auth.token)

    def test_newer_version_warning(self) -> None:
        snapshot = self.load({"meta": {"lastTouchedVersion": "2026.10.1"}})
        self.assertEqual(len(snapshot.warnings), 1)
        self.assertTrue(
            snapshot.warnings[0].startswith(
                "Your OpenClaw config was written by version 2026.10.1, but this command is "
                "running 2026.9.6."
            )
        )

    def test_same_or_older_version_is_quiet(self) -> None:
        for version in ("2026.9.6", "2026.9.5", "2025.1.1", "2026.9.6-2", "not-a-version"):
            snapshot = self.load({"meta": {"lastTouchedVersion": version}})
            self.assertEqual(snapshot.warnings, (), version)


class VersionCompareTests(SynchronousTestCase):
    def test_should_warn(self) -> None:
        from openclaw.config.versions import should_warn_on_touched_version as warn

        self.assertTrue(warn("2026.9.6", "2026.9.7"))
        self.assertTrue(warn("2026.9.6", "2027.1.0"))
        self.assertTrue(warn("2026.9.6-beta.1", "2026.9.6-beta.2"))
        self.assertFalse(warn("2026.9.6", "2026.9.6-beta.2"))  # same main, prerelease
        self.assertFalse(warn("2026.9.6", "2026.9.6-3"))  # correction release
        self.assertFalse(warn("2026.9.6", "2026.9.5"))
        self.assertTrue(warn("2026.9.5", "2026.9.6.beta.1"))  # legacy dot-beta
        self.assertFalse(warn("2026.9.6", "garbage"))

    def test_compare(self) -> None:
        from openclaw.config.versions import compare_versions

        self.assertEqual(compare_versions("1.2.3", "1.2.3"), 0)
        self.assertEqual(compare_versions("1.2.3-1", "1.2.3"), 1)
        self.assertEqual(compare_versions("1.2.3-alpha", "1.2.3"), -1)
        self.assertEqual(compare_versions("1.2.3-alpha.2", "1.2.3-alpha.10"), -1)
        self.assertEqual(compare_versions("1.2.3-2", "1.2.3-10"), -1)
        self.assertIsNone(compare_versions("x", "1.2.3"))


class DotenvTests(ConfigTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.cwd = os.path.join(self.base, "project")
        os.makedirs(self.cwd)

    def test_cwd_then_state_dir_never_override(self) -> None:
        self.write(os.path.join(self.cwd, ".env"), "A_VAR=cwd\nB_VAR=cwd\n")
        self.write(".env", "B_VAR=state\nC_VAR=state\nD_VAR=state\n")
        env = {"D_VAR": "process"}
        result = load_dotenv_files(env, self.cwd, self.config_dir)
        self.assertEqual(
            env, {"A_VAR": "cwd", "B_VAR": "cwd", "C_VAR": "state", "D_VAR": "process"}
        )
        self.assertEqual(result.applied[os.path.join(self.cwd, ".env")], ("A_VAR", "B_VAR"))
        self.assertEqual(result.applied[os.path.join(self.config_dir, ".env")], ("C_VAR",))

    def test_missing_files_are_fine(self) -> None:
        env: dict[str, str] = {}
        result = load_dotenv_files(env, self.cwd, self.config_dir)
        self.assertEqual(env, {})
        self.assertEqual(result.warnings, ())

    def test_project_dotenv_cannot_set_gateway_credentials_or_paths(self) -> None:
        self.write(
            os.path.join(self.cwd, ".env"),
            "OPENCLAW_GATEWAY_TOKEN=evil\nOPENCLAW_CONFIG_PATH=/tmp/x\nOPENAI_API_KEY=k\n"
            "LD_PRELOAD=/x.so\nMY_SETTING=ok\nFOO_DISABLE_TLS=1\n",
        )
        env: dict[str, str] = {}
        load_dotenv_files(env, self.cwd, self.config_dir)
        self.assertEqual(env, {"MY_SETTING": "ok"})

    def test_state_dotenv_may_set_credentials(self) -> None:
        self.write(".env", "OPENCLAW_GATEWAY_TOKEN=tok\n")
        env: dict[str, str] = {}
        load_dotenv_files(env, None, self.config_dir)
        self.assertEqual(env, {"OPENCLAW_GATEWAY_TOKEN": "tok"})

    def test_gateway_env_file_for_default_state_dir(self) -> None:
        self.write(os.path.join(self.home, ".config", "openclaw", "gateway.env"), "G_VAR=1\n")
        env: dict[str, str] = {}
        load_dotenv_files(env, None, self.config_dir, home=self.home)
        self.assertEqual(env, {"G_VAR": "1"})

    def test_parse_dotenv(self) -> None:
        text = (
            "# comment\n"
            "export A=1\n"
            "B = spaced value  # trailing comment\n"
            "C='single # not a comment'\n"
            'D="line1\\nline2"\n'
            "E=\n"
            'F="multi\nline"\n'
            "G=`back`\n"
            "not a line\n"
        )
        self.assertEqual(
            parse_dotenv(text),
            {
                "A": "1",
                "B": "spaced value",
                "C": "single # not a comment",
                "D": "line1\nline2",
                "E": "",
                "F": "multi\nline",
                "G": "back",
            },
        )
