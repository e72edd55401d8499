"""The reload rule table, the config diff and the plan (pure, no reactor)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.reload.rules import (
    build_plan,
    can_hot_reload_credentials,
    classify,
    diff_config_paths,
    matches_prefix,
)


def kind(path: str) -> str:
    rule = classify(path)
    return rule.kind if rule is not None else "restart"


class RuleTableTests(SynchronousTestCase):
    def test_longest_prefix_wins(self) -> None:
        # "agents" is none, "agents.defaults" hot, "agents.defaults.model" hot + heartbeat.
        self.assertEqual(kind("agents.something"), "none")
        self.assertEqual(classify("agents.defaults.timeoutSeconds").prefix, "agents.defaults")
        rule = classify("agents.defaults.model.primary")
        self.assertEqual((rule.prefix, rule.kind), ("agents.defaults.model", "hot"))
        self.assertIn("restartHeartbeat", rule.actions)

    def test_hot_paths(self) -> None:
        for path in ("agents.entries.main.model", "hooks.token", "hooks.mappings",
                     "models.providers.openai.apiKey", "cron.enabled", "tools.deny",
                     "gateway.auth.rateLimit.maxAttempts", "gateway.trustedProxies",
                     "gateway.controlUi.allowedOrigins", "gateway.http.endpoints.responses",
                     "channels.telegram.botToken", "plugins.entries.x.enabled"):
            with self.subTest(path=path):
                self.assertEqual(kind(path), "hot")

    def test_restart_paths(self) -> None:
        for path in ("gateway.port", "gateway.bind", "gateway.auth.mode", "gateway.tls.enabled",
                     "gateway.controlUi.basePath", "discovery.wideArea", "browser.enabled",
                     "somethingUnknown", "gateway.auth.token", "memory.search.provider"):
            with self.subTest(path=path):
                self.assertEqual(kind(path), "restart")

    def test_none_paths(self) -> None:
        for path in ("gateway.reload.mode", "gateway.reload.debounceMs", "gateway.remote.url",
                     "meta.lastTouchedVersion", "logging.level", "session.dmScope",
                     "messages.queue", "secrets.providers.vault", "ui.seamColor"):
            with self.subTest(path=path):
                self.assertEqual(kind(path), "none")

    def test_hooks_gmail_beats_hooks(self) -> None:
        rule = classify("hooks.gmail.topic")
        self.assertEqual(rule.prefix, "hooks.gmail")
        self.assertEqual(set(rule.actions), {"restartGmailWatcher", "reloadHooks"})
        self.assertEqual(classify("hooks.token").actions, ("reloadHooks",))

    def test_wildcard_prefix(self) -> None:
        self.assertTrue(matches_prefix("agents.entries.main.decisionModel",
                                       "agents.entries.*.decisionModel"))
        self.assertFalse(matches_prefix("agents.entries", "agents.entries.*.decisionModel"))
        rule = classify("agents.entries.ops.decisionModel.primary")
        self.assertEqual(rule.prefix, "agents.entries.*.decisionModel")
        self.assertIn("reloadPlugins", rule.actions)

    def test_prefix_needs_a_segment_boundary(self) -> None:
        self.assertTrue(matches_prefix("hooks.token", "hooks"))
        self.assertFalse(matches_prefix("hooksExtra", "hooks"))
        self.assertEqual(kind("hooksExtra"), "restart")


class DiffTests(SynchronousTestCase):
    def test_nested_changes_report_leaf_paths(self) -> None:
        before = {"gateway": {"port": 1, "reload": {"mode": "hybrid"}}, "a": 1}
        after = {"gateway": {"port": 2, "reload": {"mode": "hybrid"}}, "a": 1}
        self.assertEqual(diff_config_paths(before, after), ["gateway.port"])

    def test_added_and_removed_keys(self) -> None:
        before = {"hooks": {"token": "x"}}
        after = {"hooks": {}, "cron": {"enabled": True}}
        self.assertEqual(sorted(diff_config_paths(before, after)),
                         ["cron", "hooks.token"])

    def test_arrays_compare_deeply_at_their_own_path(self) -> None:
        before = {"gateway": {"trustedProxies": ["10.0.0.1"]}}
        self.assertEqual(diff_config_paths(before, {"gateway": {"trustedProxies": ["10.0.0.1"]}}),
                         [])
        self.assertEqual(diff_config_paths(before, {"gateway": {"trustedProxies": ["10.0.0.2"]}}),
                         ["gateway.trustedProxies"])

    def test_type_changes_and_root(self) -> None:
        self.assertEqual(diff_config_paths({"a": True}, {"a": 1}), ["a"])
        self.assertEqual(diff_config_paths({"a": 1}, {"a": 1.0}), [])
        self.assertEqual(diff_config_paths(1, 2), ["<root>"])
        self.assertEqual(diff_config_paths({"a": {"b": 1}}, {"a": "x"}), ["a"])


class PlanTests(SynchronousTestCase):
    def test_mixed_plan(self) -> None:
        plan = build_plan(["agents.entries.main.model", "gateway.port", "logging.level"])
        self.assertTrue(plan.restart_gateway)
        self.assertEqual(plan.restart_reasons, ("gateway.port",))
        self.assertEqual(plan.hot_reasons, ("agents.entries.main.model",))
        self.assertEqual(plan.noop_paths, ("logging.level",))
        self.assertIn("restartHeartbeat", plan.actions)

    def test_none_only_plan_is_noop(self) -> None:
        self.assertTrue(build_plan(["gateway.reload.mode", "meta.lastTouchedVersion"]).is_noop)
        self.assertTrue(build_plan([]).is_noop)

    def test_token_rotation_is_hot_when_the_mode_stays(self) -> None:
        before = {"gateway": {"auth": {"mode": "token", "token": "a"}}}
        after = {"gateway": {"auth": {"mode": "token", "token": "b"}}}
        plan = build_plan(["gateway.auth.token"], previous=before, candidate=after)
        self.assertFalse(plan.restart_gateway)
        self.assertEqual(plan.actions, frozenset({"rotateAuth"}))

    def test_inferred_mode_counts(self) -> None:
        self.assertTrue(can_hot_reload_credentials({"gateway": {"auth": {"token": "a"}}},
                                                   {"gateway": {"auth": {"token": "b"}}}))
        self.assertFalse(can_hot_reload_credentials(
            {"gateway": {"auth": {"token": "a"}}}, {"gateway": {"auth": {"password": "p"}}}))

    def test_secret_refs_need_an_explicit_mode(self) -> None:
        ref = {"source": "env", "provider": "default", "id": "TOKEN"}
        before = {"gateway": {"auth": {"token": ref}}}
        after = {"gateway": {"auth": {"token": {**ref, "id": "OTHER"}}}}
        self.assertTrue(build_plan(["gateway.auth.token"], previous=before,
                                   candidate=after).restart_gateway)
        before["gateway"]["auth"]["mode"] = "token"
        after["gateway"]["auth"]["mode"] = "token"
        self.assertFalse(build_plan(["gateway.auth.token"], previous=before,
                                    candidate=after).restart_gateway)

    def test_mode_change_restarts(self) -> None:
        before = {"gateway": {"auth": {"mode": "token", "token": "a"}}}
        after = {"gateway": {"auth": {"mode": "password", "password": "b"}}}
        plan = build_plan(["gateway.auth.mode", "gateway.auth.token", "gateway.auth.password"],
                          previous=before, candidate=after)
        self.assertTrue(plan.restart_gateway)
        self.assertEqual(set(plan.restart_reasons),
                         {"gateway.auth.mode", "gateway.auth.token", "gateway.auth.password"})
