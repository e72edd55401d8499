"""Redaction: openclaw/config/redact.py (sentinel seen in recorded config.get frames)."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import REDACTED_SENTINEL, freeze, redact_config, redact_raw, restore_redacted
from openclaw.config.redact import is_redacted_value, is_sensitive_config_path

R = REDACTED_SENTINEL


class RedactConfigTests(SynchronousTestCase):
    def test_sentinel(self) -> None:
        self.assertEqual(R, "__OPENCLAW_REDACTED__")

    def test_gateway_and_provider_secrets(self) -> None:
        document: dict[str, Any] = {
            "gateway": {
                "mode": "local",
                "port": 18789,
                "auth": {"mode": "token", "token": "tok-123", "password": "pw"},
                "remote": {"url": "ws://h", "token": "remote-tok"},
            },
            "models": {
                "providers": {
                    "p": {
                        "baseUrl": "http://127.0.0.1:8000/v1",
                        "apiKey": "sk-abc",
                        "headers": {"X-Org": "acme"},
                        "models": [{"id": "m", "name": "M", "maxTokens": 100}],
                        "localService": {"command": "/bin/srv", "env": {"HF_HOME": "/cache"}},
                    }
                }
            },
        }
        redacted = redact_config(document)
        self.assertEqual(redacted["gateway"]["auth"], {"mode": "token", "token": R, "password": R})
        self.assertEqual(redacted["gateway"]["remote"], {"url": "ws://h", "token": R})
        self.assertEqual(redacted["gateway"]["port"], 18789)
        provider = redacted["models"]["providers"]["p"]
        self.assertEqual(provider["apiKey"], R)
        self.assertEqual(provider["headers"], {"X-Org": R})  # header values are secret inputs
        self.assertEqual(provider["models"][0]["maxTokens"], 100)  # counters are not secrets
        self.assertEqual(provider["localService"]["env"], {"HF_HOME": R})
        self.assertEqual(provider["baseUrl"], "http://127.0.0.1:8000/v1")
        # input untouched
        self.assertEqual(document["gateway"]["auth"]["token"], "tok-123")

    def test_unimplemented_sections(self) -> None:
        document = {
            "hooks": {"enabled": True, "token": "hook-secret", "path": "/hooks"},
            "channels": {
                "telegram": {"botToken": "123:abc", "allowFrom": ["tg:1"]},
                "slack": {"accounts": {"work": {"appToken": "xapp-1", "botToken": "xoxb-1"}}},
                "googlechat": {"serviceAccount": {"private_key": "k", "client_email": "e"}},
            },
            "skills": {"entries": {"img": {"apiKey": "sk-img"}}},
        }
        redacted = redact_config(freeze(document))
        self.assertEqual(redacted["hooks"], {"enabled": True, "token": R, "path": "/hooks"})
        self.assertEqual(redacted["channels"]["telegram"], {"botToken": R, "allowFrom": ["tg:1"]})
        self.assertEqual(
            redacted["channels"]["slack"]["accounts"]["work"], {"appToken": R, "botToken": R}
        )
        self.assertEqual(redacted["channels"]["googlechat"]["serviceAccount"], R)
        self.assertEqual(redacted["skills"]["entries"]["img"]["apiKey"], R)
        self.assertIs(type(redacted), dict)

    def test_secret_refs_keep_their_shape(self) -> None:
        ref = {"source": "env", "provider": "default", "id": "OPENAI_API_KEY"}
        redacted = redact_config({"models": {"providers": {"openai": {"apiKey": ref}}}})
        self.assertEqual(
            redacted["models"]["providers"]["openai"]["apiKey"],
            {"source": "env", "provider": "default", "id": R},
        )

    def test_placeholders_and_empty_values_stay_visible(self) -> None:
        redacted = redact_config(
            {"gateway": {"auth": {"token": "${OPENCLAW_GATEWAY_TOKEN}", "password": ""}}}
        )
        self.assertEqual(
            redacted["gateway"]["auth"], {"token": "${OPENCLAW_GATEWAY_TOKEN}", "password": ""}
        )

    def test_urls_with_credentials(self) -> None:
        redacted = redact_config(
            {
                "models": {
                    "providers": {
                        "a": {"baseUrl": "https://user:pw@proxy.example/v1"},
                        "b": {"baseUrl": "https://proxy.example/v1?api_key=abc"},
                        "c": {"baseUrl": "https://proxy.example/v1?region=eu"},
                    }
                }
            }
        )
        providers = redacted["models"]["providers"]
        self.assertEqual(providers["a"]["baseUrl"], R)
        self.assertEqual(providers["b"]["baseUrl"], R)
        self.assertEqual(providers["c"]["baseUrl"], "https://proxy.example/v1?region=eu")

    def test_path_heuristic(self) -> None:
        for path in (
            "hooks.token",
            "x.password",
            "x.clientSecret",
            "x.api_key",
            "x.apiKey",
            "x.privateKey",
            "x.serviceAccount",
            "models.providers.p.localService.env.ANYTHING",
        ):
            self.assertTrue(is_sensitive_config_path(path), path)
        for path in (
            "x.maxTokens",
            "x.contextTokens",
            "x.passwordFile",
            "x.tokenizer",
            "gateway.port",
        ):
            self.assertFalse(is_sensitive_config_path(path), path)

    def test_display_placeholders(self) -> None:
        self.assertTrue(is_redacted_value(R))
        self.assertTrue(is_redacted_value(" *** "))
        self.assertFalse(is_redacted_value("secret"))


class RedactRawTests(SynchronousTestCase):
    def test_raw_text_is_redacted(self) -> None:
        raw = '{\n  // my gateway\n  gateway: { auth: { token: "tok-1234567890" } },\n}\n'
        parsed = {"gateway": {"auth": {"token": "tok-1234567890"}}}
        redacted = redact_raw(raw, parsed)
        assert redacted is not None
        self.assertNotIn("tok-1234567890", redacted)
        self.assertIn(f'token: "{R}"', redacted)
        self.assertIn("// my gateway", redacted)

    def test_ambiguous_replacement_gives_none(self) -> None:
        raw = json.dumps({"gateway": {"auth": {"token": "abc"}, "controlUi": {"basePath": "/abc"}}})
        parsed = json.loads(raw)
        self.assertIsNone(redact_raw(raw, parsed))

    def test_escaped_secret_gives_none(self) -> None:
        secret = 'quote"inside'
        raw = json.dumps({"gateway": {"auth": {"token": secret}}})
        self.assertIsNone(redact_raw(raw, json.loads(raw)))

    def test_substituted_secret_is_hidden_in_raw(self) -> None:
        raw = '{ gateway: { auth: { token: "${TOKEN}" } } }'
        resolved = {"gateway": {"auth": {"token": "from-env-value"}}}
        self.assertEqual(redact_raw(raw, resolved), raw)


class RestoreTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        original = {"gateway": {"auth": {"token": "t1"}, "mode": "local"}, "list": ["a"]}
        edited = redact_config(original)
        edited["gateway"]["mode"] = "remote"
        restored = restore_redacted(edited, original)
        self.assertEqual(
            restored, {"gateway": {"auth": {"token": "t1"}, "mode": "remote"}, "list": ["a"]}
        )

    def test_changed_secret_is_kept(self) -> None:
        original = {"gateway": {"auth": {"token": "t1"}}}
        self.assertEqual(
            restore_redacted({"gateway": {"auth": {"token": "t2"}}}, original),
            {"gateway": {"auth": {"token": "t2"}}},
        )
