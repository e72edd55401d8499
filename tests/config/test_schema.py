"""The typed schema: strictness, types, unsupported keys, legacy shapes, JSON Schema export.

Expected messages are the real 2026.9.6 gateway's, captured by running its validator.
"""

from __future__ import annotations

import json

import attrs
from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import (
    AgentsConfig,
    ModelSelection,
    OpenClawConfig,
    SecretRef,
    config_json_schema,
)
from openclaw.config.fields import ConversionContext
from openclaw.config.schema import ROOT_SPEC
from tests.config.helpers import ConfigTestCase


def validate(document: object) -> tuple[object, dict[str, str], list[str]]:
    ctx = ConversionContext()
    result = ROOT_SPEC.convert(document, (), ctx)
    return result, dict(ctx.formatted_issues()), ctx.formatted_unsupported()


class StrictnessTests(ConfigTestCase):
    def test_unknown_key_in_implemented_section(self) -> None:
        failure = self.load_error({"gateway": {"prot": 18789}})
        self.assertEqual(
            [(i.path, i.message, i.file) for i in failure.issues],
            [("gateway", 'Unrecognized key: "prot"', self.config_path)],
        )
        self.assertEqual(
            str(failure),
            f'Invalid config at {self.config_path}:\n- gateway: Unrecognized key: "prot"',
        )

    def test_several_unknown_keys(self) -> None:
        _, issues, _ = validate({"gateway": {"a": 1, "b": 2}})
        self.assertEqual(issues, {"gateway": 'Unrecognized keys: "a", "b"'})

    def test_unknown_nested_key(self) -> None:
        _, issues, _ = validate({"gateway": {"auth": {"rateLimit": {"maxAttempt": 3}}}})
        self.assertEqual(issues, {"gateway.auth.rateLimit": 'Unrecognized key: "maxAttempt"'})

    def test_unknown_top_level_key(self) -> None:
        failure = self.load_error({"gatway": {}})
        self.assertEqual(self.issue_map(failure), {"<root>": 'Unrecognized key: "gatway"'})

    def test_schema_key_is_allowed_at_root(self) -> None:
        snapshot = self.load({"$schema": "https://example.com/schema.json"})
        self.assertEqual(snapshot.config.schema, "https://example.com/schema.json")

    def test_every_issue_is_reported_at_once(self) -> None:
        failure = self.load_error(
            {
                "gateway": {"port": -1, "bind": "0.0.0.0", "prot": 1, "auth": {"mode": "x"}},
                "logging": {"level": "verbose"},
                "nope": True,
            }
        )
        self.assertEqual(
            sorted(self.issue_map(failure)),
            [
                "<root>",
                "gateway",
                "gateway.auth.mode",
                "gateway.bind",
                "gateway.port",
                "logging.level",
            ],
        )
        self.assertEqual(str(failure).count("\n- "), 6)


class TypeTests(SynchronousTestCase):
    def check(self, document: object, expected: dict[str, str]) -> None:
        result, issues, _ = validate(document)
        self.assertEqual(issues, expected)
        self.assertFalse(result)

    def test_port(self) -> None:
        self.check(
            {"gateway": {"port": -1}},
            {"gateway.port": "Too small: expected number to be >=1 (minimum: 1)"},
        )
        self.check(
            {"gateway": {"port": 70000}},
            {"gateway.port": "Too big: expected number to be <=65535 (maximum: 65535)"},
        )
        self.check(
            {"gateway": {"port": "18789"}},
            {"gateway.port": "Invalid input: expected number, received string"},
        )
        self.check(
            {"gateway": {"port": 1.5}},
            {"gateway.port": "Invalid input: expected int, received number"},
        )
        self.check(
            {"gateway": {"port": True}},
            {"gateway.port": "Invalid input: expected number, received boolean"},
        )
        self.check(
            {"gateway": {"port": None}},
            {"gateway.port": "Invalid input: expected number, received null"},
        )
        self.check(
            {"gateway": {"port": float("inf")}},
            {"gateway.port": "Invalid input: expected number, received Infinity"},
        )

    def test_integral_float_is_an_int(self) -> None:
        result, issues, _ = validate({"gateway": {"port": 18789.0}})
        self.assertEqual(issues, {})
        assert isinstance(result, OpenClawConfig)
        self.assertEqual(result.gateway.port, 18789)
        self.assertIsInstance(result.gateway.port, int)

    def test_enums(self) -> None:
        self.check(
            {"gateway": {"bind": "0.0.0.0"}},
            {
                "gateway.bind": 'Invalid input (allowed: "auto", "lan", "loopback", "custom", '
                '"tailnet")'
            },
        )
        self.check(
            {"logging": {"consoleStyle": "fancy"}},
            {"logging.consoleStyle": 'Invalid input (allowed: "pretty", "json")'},
        )
        self.check(
            {"models": {"providers": {"p": {"api": "nope"}}}},
            {
                "models.providers.p.api": "Invalid option: expected one of "
                '"openai-completions"|"openai-responses"|"openai-chatgpt-responses"|'
                '"anthropic-messages"|"google-generative-ai"|"google-vertex"|"github-copilot"|'
                '"bedrock-converse-stream"|"ollama"|"pi-messages"|"azure-openai-responses"'
            },
        )
        self.check(
            {"agents": {"ownership": "implicit"}},
            {"agents.ownership": 'Invalid input: expected "explicit"'},
        )

    def test_booleans_and_containers(self) -> None:
        self.check(
            {"gateway": {"controlUi": {"enabled": "yes"}}},
            {
                "gateway.controlUi.enabled": "Invalid input: expected boolean, received string "
                "(allowed: true, false)"
            },
        )
        self.check(
            {"gateway": {"trustedProxies": "x"}},
            {"gateway.trustedProxies": "Invalid input: expected array, received string"},
        )
        self.check(
            {"gateway": {"trustedProxies": [1, "a", True]}},
            {
                "gateway.trustedProxies[0]": "Invalid input: expected string, received number",
                "gateway.trustedProxies[2]": "Invalid input: expected string, received boolean",
            },
        )
        self.check({"gateway": "x"}, {"gateway": "Invalid input: expected object, received string"})
        self.check({"gateway": []}, {"gateway": "Invalid input: expected object, received array"})

    def test_required_keys(self) -> None:
        self.check(
            {"gateway": {"auth": {"trustedProxy": {}}}},
            {
                "gateway.auth.trustedProxy.userHeader": "Invalid input: expected string, "
                "received undefined"
            },
        )
        self.check(
            {"gateway": {"auth": {"trustedProxy": {"userHeader": ""}}}},
            {
                "gateway.auth.trustedProxy.userHeader": (
                    "userHeader is required for trusted-proxy mode"
                )
            },
        )
        self.check(
            {"models": {"providers": {"p": {"models": [{"id": "a"}]}}}},
            {
                "models.providers.p.models[0].name": "Invalid input: expected string, "
                "received undefined"
            },
        )
        self.check(
            {"models": {"providers": {"p": {"localService": {}}}}},
            {
                "models.providers.p.localService.command": "Invalid input: expected string, "
                "received undefined"
            },
        )

    def test_number_bounds(self) -> None:
        self.check(
            {"logging": {"maxFileBytes": 0}},
            {
                "logging.maxFileBytes": (
                    "Too small: expected number to be >0 (must be greater than 0)"
                )
            },
        )
        self.check(
            {"memory": {"search": {"query": {"minScore": 2}}}},
            {"memory.search.query.minScore": "Too big: expected number to be <=1 (maximum: 1)"},
        )
        self.check(
            {"gateway": {"reload": {"debounceMs": -5}}},
            {"gateway.reload.debounceMs": "Too small: expected number to be >=0 (minimum: 0)"},
        )

    def test_custom_providers_need_base_url_and_models(self) -> None:
        self.check(
            {"models": {"providers": {"myproxy": {"apiKey": "k"}}}},
            {
                "models.providers.myproxy.baseUrl": "custom model providers must declare "
                "baseUrl; provider overlays without baseUrl are only supported for bundled "
                "providers",
                "models.providers.myproxy.models": "custom model providers must declare models; "
                "provider overlays without models are only supported for bundled providers",
            },
        )
        for document in (
            {"models": {"providers": {"OpenAI": {"apiKey": "k"}}}},
            {"models": {"providers": {"mine": {"baseUrl": "http://h/v1", "models": []}}}},
        ):
            _, issues, _ = validate(document)
            self.assertEqual(issues, {})

    def test_custom_bind_host_must_be_ipv4(self) -> None:
        self.check(
            {"gateway": {"customBindHost": "localhost"}},
            {
                "gateway.customBindHost": (
                    "Invalid IPv4 address (use an address such as 192.168.1.10)"
                )
            },
        )
        result, issues, _ = validate({"gateway": {"customBindHost": "192.168.1.10"}})
        self.assertEqual(issues, {})

    def test_reload_modes(self) -> None:
        for mode in ("off", "hot", "restart", "hybrid"):
            result, issues, _ = validate({"gateway": {"reload": {"mode": mode, "debounceMs": 0}}})
            self.assertEqual(issues, {})
            assert isinstance(result, OpenClawConfig)
            self.assertEqual(result.gateway.reload.mode, mode)

    def test_map_keys(self) -> None:
        self.check(
            {"agents": {"entries": {"bad id": {}}}},
            {'agents.entries["bad id"]': "Invalid key in record"},
        )
        self.check(
            {"env": {"vars": {"A": 1}}},
            {"env.vars.A": "Invalid input: expected string, received number"},
        )


class SecretRefTests(SynchronousTestCase):
    def test_string_and_refs(self) -> None:
        for source, ref_id in (
            ("env", "OPENAI_API_KEY"),
            ("file", "/providers/openai/apiKey"),
            ("file", "value"),
            ("exec", "vault/openai/api-key"),
            ("store", "GATEWAY_TOKEN"),
        ):
            document = {
                "gateway": {
                    "auth": {"token": {"source": source, "provider": "default", "id": ref_id}}
                }
            }
            result, issues, _ = validate(document)
            self.assertEqual(issues, {}, source)
            assert isinstance(result, OpenClawConfig)
            self.assertEqual(result.gateway.auth.token, SecretRef(source, "default", ref_id))
        result, issues, _ = validate({"gateway": {"auth": {"password": "plain"}}})
        assert isinstance(result, OpenClawConfig)
        self.assertEqual(result.gateway.auth.password, "plain")

    def test_invalid_refs(self) -> None:
        cases = [
            ({"source": "env", "provider": "default"}, {"gateway.auth.token": "Invalid input"}),
            (
                {"source": "vault", "provider": "default", "id": "X"},
                {"gateway.auth.token": "Invalid input"},
            ),
            (5, {"gateway.auth.token": "Invalid input"}),
            (
                {"source": "env", "provider": "default", "id": "lower"},
                {
                    "gateway.auth.token.id": "Env secret reference id must match "
                    '/^[A-Z][A-Z0-9_]{0,127}$/ (example: "OPENAI_API_KEY").'
                },
            ),
            (
                {"source": "file", "provider": "Bad", "id": "x"},
                {
                    "gateway.auth.token.provider": "Secret reference provider must match "
                    '/^[a-z][a-z0-9_-]{0,63}$/ (example: "default").',
                    "gateway.auth.token.id": "File secret reference id must be an absolute JSON "
                    'pointer (example: "/providers/openai/apiKey"), or "value" for singleValue '
                    "mode.",
                },
            ),
            (
                {"source": "exec", "provider": "vault", "id": "a/../b"},
                {
                    "gateway.auth.token.id": "Exec secret reference id must match "
                    '/^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$/ and must not include "." or '
                    '".." path segments (example: "vault/openai/api-key" or '
                    '"aws/secret#json_key").'
                },
            ),
            (
                {"source": "env", "provider": "default", "id": "X", "extra": 1},
                {"gateway.auth.token": 'Unrecognized key: "extra"'},
            ),
        ]
        for value, expected in cases:
            _, issues, _ = validate({"gateway": {"auth": {"token": value}}})
            self.assertEqual(issues, expected, value)

    def test_redaction_sentinel_is_not_a_secret(self) -> None:
        _, issues, _ = validate({"gateway": {"auth": {"token": "__OPENCLAW_REDACTED__"}}})
        self.assertIn("redaction placeholder", issues["gateway.auth.token"])

    def test_provider_headers_accept_refs(self) -> None:
        document = {
            "models": {
                "providers": {
                    "openai": {
                        "headers": {"X-Key": {"source": "env", "provider": "default", "id": "K"}}
                    }
                }
            }
        }
        result, issues, _ = validate(document)
        self.assertEqual(issues, {})
        _, issues, _ = validate({"models": {"providers": {"openai": {"headers": {"a": 5}}}}})
        self.assertEqual(issues, {"models.providers.openai.headers.a": "Invalid input"})


class UnsupportedKeyTests(ConfigTestCase):
    def test_real_keys_we_do_not_implement_are_kept_and_reported(self) -> None:
        snapshot = self.load(
            {
                "gateway": {
                    "mode": "local",
                    "tls": {"enabled": True},
                    "tailscale": {"mode": "serve"},
                    "remote": {"url": "ws://x"},
                    "controlUi": {"sessionObserver": False},
                },
                "channels": {"slack": {"botToken": "t"}},
                "plugins": {"enabled": True, "allow": ["h"]},
                "talk": {"provider": "x"},
                "session": {"scope": "per-sender", "sendPolicy": {"default": "allow"}},
                "agents": {
                    "defaults": {"compaction": {"mode": "safeguard"}},
                    "entries": {"main": {"tools": {"byProvider": {}}}},
                },
                "models": {"providers": {"openai": {"request": {"allowPrivateNetwork": True}}}},
            }
        )
        self.assertEqual(
            snapshot.unsupported,
            (
                "agents.defaults.compaction",
                "agents.entries.main.tools.byProvider",
                "channels.slack",
                "gateway.controlUi.sessionObserver",
                "gateway.remote",
                "gateway.tailscale",
                "gateway.tls",
                "models.providers.openai.request",
                "plugins",
                "session.sendPolicy",
                "talk.provider",
            ),
        )
        self.assertEqual(snapshot.parsed["gateway"]["tls"], {"enabled": True})
        config = snapshot.config
        self.assertEqual(config.section("plugins"), {"enabled": True, "allow": ["h"]})
        self.assertEqual(snapshot.parsed["channels"]["slack"]["botToken"], "t")
        self.assertEqual(config.section("secrets"), {})
        self.assertEqual(sorted(config.extra), ["plugins"])

    def test_unsupported_values_are_not_validated(self) -> None:
        snapshot = self.load({"gateway": {"tls": "whatever"}})
        self.assertEqual(snapshot.unsupported, ("gateway.tls",))


class LegacyTests(ConfigTestCase):
    def test_agents_list_becomes_entries(self) -> None:
        snapshot = self.load(
            {
                "agents": {
                    "defaults": {"workspace": "/ws"},
                    "list": [
                        {"id": "main", "name": "Main", "identity": {"name": "Sam", "emoji": "x"}},
                        {
                            "id": "Work",
                            "default": True,
                            "workspace": "/ws-work",
                            "agentDir": "/agents/work",
                            "model": {"primary": "a/b", "fallbacks": ["c/d"]},
                        },
                    ],
                }
            }
        )
        agents = snapshot.config.agents
        self.assertEqual(list(agents.entries), ["main", "work"])
        self.assertEqual(agents.default_agent_id, "work")
        work = agents.entries["work"]
        self.assertEqual(work.id, "work")
        self.assertEqual(work.model, ModelSelection(primary="a/b", fallbacks=("c/d",)))
        self.assertEqual(work.agent_dir, "/agents/work")
        self.assertEqual(agents.entries["main"].identity.name, "Sam")  # type: ignore[union-attr]
        self.assertNotIn("list", snapshot.parsed["agents"])
        self.assertEqual(list(snapshot.parsed["agents"]["entries"]), ["main", "Work".lower()])
        self.assertTrue(any('"agents.list"' in warning for warning in snapshot.warnings))

    def test_list_without_default_marker_becomes_explicit_fleet(self) -> None:
        snapshot = self.load({"agents": {"list": [{"id": "a"}, {"id": "b"}]}})
        self.assertEqual(snapshot.config.agents.ownership, "explicit")
        self.assertEqual(snapshot.config.agents.default_agent_id, "a")

    def test_duplicate_list_ids(self) -> None:
        failure = self.load_error({"agents": {"list": [{"id": "a"}, {"id": "b"}, {"id": "A"}]}})
        self.assertEqual(
            self.issue_map(failure),
            {"agents.list[2].id": 'Duplicate agent id "A" (already used by agents.list[0])'},
        )

    def test_list_item_without_id(self) -> None:
        failure = self.load_error({"agents": {"list": [{"name": "x"}, "nope"]}})
        self.assertEqual(
            self.issue_map(failure),
            {
                "agents.list[0].id": "Invalid input: expected string, received undefined",
                "agents.list[1]": "Invalid input: expected object, received string",
            },
        )

    def test_existing_entries_win_over_list(self) -> None:
        snapshot = self.load(
            {
                "agents": {
                    "entries": {"main": {"name": "Current", "default": True}},
                    "list": [{"id": "main", "name": "Legacy", "workspace": "/legacy"}],
                }
            }
        )
        main = snapshot.config.agents.entries["main"]
        self.assertEqual(main.name, "Current")
        self.assertEqual(main.workspace, "/legacy")

    def test_memory_search_migrations(self) -> None:
        snapshot = self.load(
            {
                "memorySearch": {"model": "top"},
                "agents": {
                    "defaults": {"memorySearch": {"provider": "auto", "model": "defaults"}},
                    "list": [{"id": "main", "default": True, "memorySearch": {"model": "mine"}}],
                },
                "memory": {"search": {"fallback": "none"}},
            }
        )
        config = snapshot.config
        self.assertEqual(config.memory.search.provider, "openai")
        self.assertEqual(config.memory.search.fallback, "none")
        self.assertEqual(config.memory.search.model, "top")  # first legacy block wins the gap
        self.assertEqual(config.memory_search_for("main").model, "mine")
        self.assertEqual(config.memory_search_for("main").provider, "openai")
        self.assertNotIn("memorySearch", snapshot.parsed)
        self.assertNotIn("memorySearch", snapshot.parsed["agents"]["defaults"])
        self.assertEqual(
            snapshot.parsed["agents"]["entries"]["main"]["memory"], {"search": {"model": "mine"}}
        )

    def test_per_agent_memory_search_in_entries(self) -> None:
        snapshot = self.load(
            {
                "agents": {
                    "entries": {
                        "main": {"memorySearch": {"store": {"path": "/x"}, "enabled": False}}
                    }
                }
            }
        )
        self.assertFalse(snapshot.config.memory_search_for("main").enabled)
        self.assertEqual(snapshot.config.memory_search_for("other").enabled, None)

    def test_retired_keys_and_values(self) -> None:
        snapshot = self.load(
            {
                "meta": {"lastTouchedAt": "2026-01-01T00:00:00Z"},
                "gateway": {
                    "tailscale": {"mode": "off", "resetOnExit": True},
                    "reload": {"deferralTimeoutMs": 5},
                    "controlUi": {"allowInsecureAuth": True},
                },
                "logging": {"consoleStyle": "compact", "redactSensitive": "tools"},
                "models": {
                    "providers": {"p": {"api": "openai", "baseUrl": "http://x", "models": []}}
                },
                "audit": {"enabled": True},
                "defaultModel": "a/b",
            }
        )
        config = snapshot.config
        self.assertEqual(config.logging.console_style, "pretty")
        self.assertEqual(config.models.providers["p"].api, "openai-completions")
        self.assertEqual(config.agents.defaults.model, ModelSelection(primary="a/b"))
        self.assertEqual(snapshot.parsed["logging"]["audit"], {"enabled": True})
        self.assertEqual(snapshot.parsed["gateway"]["tailscale"], {"mode": "off"})
        self.assertEqual(len(snapshot.warnings), 9)


class AgentTests(ConfigTestCase):
    def test_default_agent_selection(self) -> None:
        self.assertEqual(AgentsConfig().default_agent_id, "main")
        snapshot = self.load({"agents": {"entries": {"solo": {}}}})
        self.assertEqual(snapshot.config.agents.default_agent_id, "solo")
        self.assertEqual(snapshot.config.agents.default_agent.id, "solo")
        snapshot = self.load({"agents": {"entries": {"a": {}, "b": {"default": True}, "c": {}}}})
        self.assertEqual(snapshot.config.agents.default_agent_id, "b")
        snapshot = self.load({"agents": {"ownership": "explicit", "entries": {"x": {}, "y": {}}}})
        self.assertEqual(snapshot.config.agents.default_agent_id, "x")

    def test_roster_rules(self) -> None:
        _, issues, _ = validate({"agents": {"entries": {"Main": {}, "main": {"default": True}}}})
        self.assertEqual(
            issues,
            {
                "agents.entries.main": 'agents.entries keys "Main" and "main" resolve to the same '
                'agent id "main"; rename one key so each agent has a unique id'
            },
        )
        _, issues, _ = validate(
            {"agents": {"entries": {"a": {"default": True}, "b": {"default": True}}}}
        )
        self.assertEqual(
            issues,
            {
                "agents.entries": (
                    "agents.entries must contain at most one default=true entry (found 2)"
                )
            },
        )
        _, issues, _ = validate({"agents": {"entries": {"a": {}, "b": {}}}})
        self.assertIn("multi-agent rosters require", issues["agents.ownership"])

    def test_model_forms(self) -> None:
        snapshot = self.load(
            {
                "agents": {
                    "defaults": {"model": "anthropic/claude"},
                    "entries": {"main": {"model": {"primary": "a/b", "fallbacks": []}}},
                }
            }
        )
        self.assertEqual(
            snapshot.config.agents.defaults.model, ModelSelection(primary="anthropic/claude")
        )
        self.assertEqual(
            snapshot.config.agents.entries["main"].model,
            ModelSelection(primary="a/b", fallbacks=()),
        )
        _, issues, _ = validate({"agents": {"defaults": {"model": {"primary": 1}}}})
        self.assertEqual(issues, {"agents.defaults.model": "Invalid input"})
        _, issues, _ = validate({"agents": {"defaults": {"model": {"x": 2}}}})
        self.assertEqual(issues, {"agents.defaults.model": 'Unrecognized key: "x"'})

    def test_duplicate_agent_dirs(self) -> None:
        failure = self.load_error(
            {
                "agents": {
                    "ownership": "explicit",
                    "entries": {"a": {"agentDir": "/shared"}, "b": {"agentDir": "/shared/"}},
                }
            }
        )
        self.assertIn(
            'Duplicate agentDir detected (multi-agent config): /shared is shared by "a", "b"',
            str(failure),
        )


class DefaultsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        config = OpenClawConfig()
        gateway = config.gateway
        self.assertIsNone(gateway.port)
        self.assertIsNone(gateway.mode)
        self.assertIsNone(gateway.bind)
        self.assertEqual(gateway.reload.mode, "hybrid")
        self.assertEqual(gateway.reload.debounce_ms, 300)
        self.assertEqual(
            (
                gateway.auth.rate_limit.max_attempts,
                gateway.auth.rate_limit.window_ms,
                gateway.auth.rate_limit.lockout_ms,
                gateway.auth.rate_limit.exempt_loopback,
            ),
            (10, 60000, 300000, True),
        )
        self.assertTrue(gateway.control_ui.enabled)
        self.assertEqual(gateway.control_ui.base_path, "")
        self.assertFalse(gateway.http.endpoints.chat_completions.enabled)
        self.assertFalse(gateway.http.endpoints.responses.enabled)
        self.assertEqual(gateway.trusted_proxies, ())
        self.assertFalse(gateway.allow_real_ip_fallback)
        self.assertEqual(config.logging.level, "info")
        self.assertEqual(config.logging.console_level, "info")
        self.assertEqual(config.logging.console_style, "pretty")
        self.assertEqual(config.logging.max_file_bytes, 100 * 1024 * 1024)
        self.assertEqual(config.models.mode, "merge")
        self.assertEqual(config.agents.defaults.bootstrap_max_chars, 20000)

    def test_local_service_defaults(self) -> None:
        result, issues, _ = validate(
            {
                "models": {
                    "providers": {
                        "local": {
                            "baseUrl": "http://127.0.0.1:8000/v1",
                            "models": [],
                            "localService": {"command": "/usr/bin/srv"},
                        }
                    }
                }
            }
        )
        self.assertEqual(issues, {})
        assert isinstance(result, OpenClawConfig)
        service = result.models.providers["local"].local_service
        assert service is not None
        self.assertEqual(service.ready_timeout_ms, 120000)
        self.assertEqual(service.idle_stop_ms, 0)
        self.assertEqual(service.args, ())

    def test_config_is_frozen_and_comparable(self) -> None:
        self.assertEqual(OpenClawConfig(), OpenClawConfig())
        with self.assertRaises(attrs.exceptions.FrozenInstanceError):
            OpenClawConfig().gateway.port = 1  # type: ignore[misc]


class JsonSchemaTests(SynchronousTestCase):
    def test_shape_and_defaults(self) -> None:
        schema = config_json_schema()
        json.dumps(schema)  # serialisable
        self.assertEqual(schema["$schema"], "http://json-schema.org/draft-07/schema#")
        self.assertEqual(schema["type"], "object")
        self.assertIs(schema["additionalProperties"], False)
        gateway = schema["properties"]["gateway"]
        self.assertIs(gateway["additionalProperties"], False)
        port = gateway["properties"]["port"]
        self.assertEqual((port["type"], port["minimum"], port["maximum"]), ("integer", 1, 65535))
        reload = gateway["properties"]["reload"]
        self.assertEqual(reload["properties"]["mode"]["enum"], ["off", "hot", "restart", "hybrid"])
        self.assertEqual(reload["properties"]["mode"]["default"], "hybrid")
        self.assertEqual(reload["properties"]["debounceMs"]["default"], 300)
        self.assertEqual(reload["default"], {"mode": "hybrid", "debounceMs": 300})
        rate = gateway["properties"]["auth"]["properties"]["rateLimit"]
        self.assertEqual(
            rate["default"],
            {"maxAttempts": 10, "windowMs": 60000, "lockoutMs": 300000, "exemptLoopback": True},
        )
        self.assertTrue(all("description" in prop for prop in gateway["properties"].values()))

    def test_unsupported_keys_are_permissive_and_marked(self) -> None:
        schema = config_json_schema()
        tls = schema["properties"]["gateway"]["properties"]["tls"]
        self.assertTrue(tls["x-openclaw-unsupported"])
        channels = schema["properties"]["channels"]["properties"]
        self.assertTrue(channels["slack"]["x-openclaw-unsupported"])
        self.assertEqual(channels["irc"]["properties"]["dmPolicy"]["enum"],
                         ["pairing", "allowlist", "open", "disabled"])
        self.assertIn("hooks", schema["properties"])

    def test_maps_secret_refs_and_required(self) -> None:
        schema = config_json_schema()
        entries = schema["properties"]["agents"]["properties"]["entries"]
        self.assertEqual(entries["propertyNames"]["pattern"], "^[a-z0-9_][a-z0-9_-]{0,63}$")
        token = schema["properties"]["gateway"]["properties"]["auth"]["properties"]["token"]
        self.assertEqual(token["anyOf"][0]["type"], "string")
        self.assertEqual(len(token["anyOf"][1]["oneOf"]), 4)
        models = schema["properties"]["models"]["properties"]["providers"]["additionalProperties"]
        model_item = models["properties"]["models"]["items"]
        self.assertEqual(model_item["required"], ["id", "name"])

    def test_schema_accepts_what_the_validator_accepts(self) -> None:
        # A light structural check: every implemented key appears in the schema.
        from openclaw.config.fields import settings_of

        schema = config_json_schema()
        for _, meta in settings_of(OpenClawConfig):
            self.assertIn(meta.key, schema["properties"])


class AgentIdTests(SynchronousTestCase):
    def test_one_normalization_for_every_layer(self) -> None:
        from openclaw.agents.session_keys import normalize_agent_id as from_keys
        from openclaw.config.ids import normalize_agent_id
        from openclaw.config.schema import normalize_agent_id as from_schema

        self.assertIs(from_keys, normalize_agent_id)
        self.assertIs(from_schema, normalize_agent_id)
        self.assertEqual(normalize_agent_id(" Weird Id! "), "weird-id")
        self.assertEqual(normalize_agent_id("Main"), "main")
        self.assertEqual(normalize_agent_id("_ops"), "_ops")
        self.assertEqual(normalize_agent_id(""), "main")
        self.assertEqual(normalize_agent_id(None), "main")
