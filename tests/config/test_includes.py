"""$include: openclaw/config/includes.py (config-ops §1.6, real src/config/includes.ts)."""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import CircularIncludeError, ConfigIncludeError, deep_merge
from openclaw.config.includes import MAX_INCLUDE_FILE_BYTES
from tests.config.helpers import ConfigTestCase


class IncludeTests(ConfigTestCase):
    def test_single_file_replaces_the_object(self) -> None:
        self.write("gateway.json5", '{ mode: "local", port: 19000, }')
        snapshot = self.load({"gateway": {"$include": "./gateway.json5"}})
        self.assertEqual(snapshot.config.gateway.port, 19000)
        self.assertEqual(snapshot.parsed["gateway"], {"mode": "local", "port": 19000})
        self.assertEqual(snapshot.included_files, (os.path.join(self.config_dir, "gateway.json5"),))

    def test_included_content_may_be_any_value(self) -> None:
        self.write("proxies.json", ["10.0.0.1", "10.0.0.2"])
        snapshot = self.load({"gateway": {"trustedProxies": {"$include": "proxies.json"}}})
        self.assertEqual(snapshot.config.gateway.trusted_proxies, ("10.0.0.1", "10.0.0.2"))

    def test_array_merges_in_order_and_concatenates_arrays(self) -> None:
        self.write("a.json", {"mode": "local", "port": 1000, "trustedProxies": ["a"]})
        self.write("b.json", {"port": 2000, "trustedProxies": ["b"], "auth": {"mode": "token"}})
        snapshot = self.load({"gateway": {"$include": ["a.json", "b.json"]}})
        gateway = snapshot.config.gateway
        self.assertEqual(gateway.mode, "local")
        self.assertEqual(gateway.port, 2000)
        self.assertEqual(gateway.trusted_proxies, ("a", "b"))
        self.assertEqual(gateway.auth.mode, "token")

    def test_siblings_override_included_values(self) -> None:
        self.write("base.json", {"mode": "remote", "port": 1000, "auth": {"mode": "token"}})
        snapshot = self.load(
            {"gateway": {"$include": "base.json", "mode": "local", "auth": {"mode": "password"}}}
        )
        self.assertEqual(snapshot.config.gateway.mode, "local")
        self.assertEqual(snapshot.config.gateway.port, 1000)
        self.assertEqual(snapshot.config.gateway.auth.mode, "password")

    def test_root_include(self) -> None:
        self.write("base.json5", '{ gateway: { mode: "local" }, logging: { level: "debug" } }')
        snapshot = self.load({"$include": "base.json5", "logging": {"level": "warn"}})
        self.assertEqual(snapshot.config.gateway.mode, "local")
        self.assertEqual(snapshot.config.logging.level, "warn")

    def test_nested_includes_are_relative_to_the_including_file(self) -> None:
        self.write("parts/agents.json5", '{ defaults: { $include: "./sub/defaults.json5" } }')
        self.write("parts/sub/defaults.json5", '{ workspace: "/ws", skipBootstrap: true }')
        snapshot = self.load({"agents": {"$include": "parts/agents.json5"}})
        self.assertEqual(snapshot.config.agents.defaults.workspace, "/ws")
        self.assertTrue(snapshot.config.agents.defaults.skip_bootstrap)
        self.assertEqual(len(snapshot.included_files), 2)

    def test_parent_paths_inside_the_config_dir_are_fine(self) -> None:
        self.write("parts/a.json", {"$include": "../shared/b.json"})
        self.write("shared/b.json", {"mode": "local"})
        snapshot = self.load({"gateway": {"$include": "parts/a.json"}})
        self.assertEqual(snapshot.config.gateway.mode, "local")

    def test_absolute_path_inside_the_config_dir(self) -> None:
        path = self.write("abs.json", {"mode": "local"})
        snapshot = self.load({"gateway": {"$include": path}})
        self.assertEqual(snapshot.config.gateway.mode, "local")

    def test_includes_get_env_substitution(self) -> None:
        self.write("auth.json", {"token": "${INC_TOKEN}"})
        snapshot = self.load({"gateway": {"auth": {"$include": "auth.json"}}}, {"INC_TOKEN": "t"})
        self.assertEqual(snapshot.config.gateway.auth.token, "t")

    def test_depth_limit(self) -> None:
        for level in range(11):
            self.write(f"l{level}.json", {"$include": f"l{level + 1}.json"})
        self.write("l11.json", {"mode": "local"})
        failure = self.load_error({"gateway": {"$include": "l0.json"}}, error=ConfigIncludeError)
        self.assertIn("Maximum include depth (10) exceeded at: l10.json", str(failure))
        self.assertEqual(failure.issues[0].file, os.path.join(self.config_dir, "l9.json"))

    def test_ten_levels_are_allowed(self) -> None:
        for level in range(9):
            self.write(f"l{level}.json", {"$include": f"l{level + 1}.json"})
        self.write("l9.json", {"mode": "local"})
        snapshot = self.load({"gateway": {"$include": "l0.json"}})
        self.assertEqual(snapshot.config.gateway.mode, "local")

    def test_cycle(self) -> None:
        a = self.write("a.json", {"$include": "b.json"})
        b = self.write("b.json", {"$include": "a.json"})
        failure = self.load_error({"gateway": {"$include": "a.json"}}, error=CircularIncludeError)
        self.assertEqual(
            failure.issues[0].message,
            f"Circular include detected: {self.config_path} -> {a} -> {b} -> {a}",
        )
        self.assertEqual(failure.issues[0].path, "gateway")

    def test_self_include_of_the_main_file(self) -> None:
        failure = self.load_error({"gateway": {"$include": "openclaw.json"}})
        self.assertIn("Circular include detected", str(failure))

    def test_the_same_file_twice_is_not_a_cycle(self) -> None:
        self.write("proxies.json", ["p"])
        snapshot = self.load(
            {
                "gateway": {
                    "trustedProxies": {"$include": "proxies.json"},
                    "controlUi": {"allowedOrigins": {"$include": "proxies.json"}},
                }
            }
        )
        self.assertEqual(snapshot.config.gateway.trusted_proxies, ("p",))

    def test_escape_from_the_config_dir(self) -> None:
        outside = os.path.join(self.base, "outside.json")
        self.write(outside, {"mode": "local"})
        failure = self.load_error({"gateway": {"$include": "../../outside.json"}})
        self.assertIn("Include path escapes config directory: ../../outside.json", str(failure))
        failure = self.load_error({"gateway": {"$include": outside}})
        self.assertIn("Include path escapes config directory", str(failure))

    def test_symlink_escape(self) -> None:
        outside = self.write(os.path.join(self.base, "outside.json"), {"mode": "local"})
        os.symlink(outside, os.path.join(self.config_dir, "link.json"))
        failure = self.load_error({"gateway": {"$include": "link.json"}})
        self.assertIn("Include path resolves outside config directory (symlink)", str(failure))

    def test_include_roots_allow_other_directories(self) -> None:
        outside = self.write(os.path.join(self.base, "shared", "gw.json"), {"mode": "local"})
        env = {"OPENCLAW_INCLUDE_ROOTS": os.path.dirname(outside)}
        snapshot = self.load({"gateway": {"$include": outside}}, env=env)
        self.assertEqual(snapshot.config.gateway.mode, "local")

    def test_non_object_with_siblings(self) -> None:
        self.write("list.json", ["a"])
        failure = self.load_error({"gateway": {"$include": "list.json", "mode": "local"}})
        self.assertEqual(
            self.issue_map(failure),
            {"gateway": "Sibling keys require included content to be an object"},
        )

    def test_invalid_directive(self) -> None:
        failure = self.load_error({"gateway": {"$include": 5}})
        self.assertIn(
            "Invalid $include value: expected string or array of strings, got number",
            str(failure),
        )
        failure = self.load_error({"gateway": {"$include": ["a.json", True]}})
        self.assertIn("Invalid $include array item: expected string, got boolean", str(failure))

    def test_missing_file(self) -> None:
        failure = self.load_error({"gateway": {"$include": "nope.json"}})
        resolved = os.path.join(self.config_dir, "nope.json")
        self.assertIn(
            f"Failed to read include file: nope.json (resolved: {resolved})", str(failure)
        )

    def test_parse_error_in_included_file(self) -> None:
        self.write("bad.json5", "{\n  mode: 'local',\n  port 1\n}")
        failure = self.load_error({"gateway": {"$include": "bad.json5"}})
        message = failure.issues[0].message
        self.assertIn("Failed to parse include file: bad.json5", message)
        self.assertIn("line 3", message)

    def test_size_cap(self) -> None:
        self.write("big.json", '{"a": "' + "x" * MAX_INCLUDE_FILE_BYTES + '"}')
        failure = self.load_error({"hooks": {"$include": "big.json"}})
        self.assertIn("failed security checks", str(failure))

    def test_hardlinks_are_refused(self) -> None:
        target = self.write("real.json", {"mode": "local"})
        os.link(target, os.path.join(self.config_dir, "hard.json"))
        failure = self.load_error({"gateway": {"$include": "hard.json"}})
        self.assertIn("no hardlinks", str(failure))

    def test_directory_is_refused(self) -> None:
        os.makedirs(os.path.join(self.config_dir, "adir"))
        failure = self.load_error({"gateway": {"$include": "adir"}})
        self.assertIn("failed security checks", str(failure))

    def test_null_byte(self) -> None:
        failure = self.load_error({"gateway": {"$include": "a\u0000b"}})
        self.assertIn("Include path must not contain null bytes", str(failure))

    def test_validation_issue_names_the_included_file(self) -> None:
        included = self.write("gw.json", {"port": "nope"})
        failure = self.load_error({"gateway": {"$include": "gw.json"}})
        issue = failure.issues[0]
        self.assertEqual(issue.path, "gateway.port")
        self.assertEqual(issue.file, included)
        self.assertEqual(failure.file, self.config_path)
        self.assertIn(f"(in {included})", str(failure))

    def test_sibling_issue_names_the_main_file(self) -> None:
        self.write("gw.json", {"port": 1000})
        failure = self.load_error({"gateway": {"$include": "gw.json", "mode": "bogus"}})
        self.assertEqual(failure.issues[0].file, self.config_path)
        self.assertNotIn("(in ", str(failure))

    def test_prototype_keys_are_dropped_on_merge(self) -> None:
        self.write("a.json", {"plugins": {"constructor": 1, "x": 1}})
        snapshot = self.load({"$include": "a.json", "plugins": {"__proto__": 2, "y": 1}})
        self.assertEqual(snapshot.parsed["plugins"], {"x": 1, "y": 1})


class DeepMergeTests(SynchronousTestCase):
    def test_rules(self) -> None:
        base = {"a": {"b": 1, "c": [1]}, "d": "x", "e": [1]}
        override = {"a": {"c": [2], "f": True}, "d": {"new": 1}, "e": "scalar"}
        self.assertEqual(
            deep_merge(base, override),
            {"a": {"b": 1, "c": [1, 2], "f": True}, "d": {"new": 1}, "e": "scalar"},
        )
        self.assertEqual(base, {"a": {"b": 1, "c": [1]}, "d": "x", "e": [1]})

    def test_non_objects(self) -> None:
        self.assertEqual(deep_merge([1], [2]), [1, 2])
        self.assertEqual(deep_merge({"a": 1}, [2]), [2])
        self.assertEqual(deep_merge(1, {"a": 1}), {"a": 1})
        self.assertIsNone(deep_merge({"a": 1}, None))
