"""The endpoint's pure parts: wire helpers, instructions, Gemini schemas, tool texts, the
pre-auth budget, the Gemini URL setting."""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from openclaw.agents.tools import ToolOutput
from openclaw.auth.preauth import PreauthBudget, budget_key, preauth_limit_from_env
from openclaw.config import parse_config_text
from openclaw.config.schema import OpenClawConfig
from openclaw.voiceclaw.endpoint import gemini_url_for
from openclaw.voiceclaw.gemini import (
    DEFAULT_GEMINI_URL,
    gemini_socket_url,
    parse_tool_output,
    resolve_voice,
)
from openclaw.voiceclaw.instructions import build_instructions
from openclaw.voiceclaw.protocol import (
    ClientEvent,
    HistoryTurn,
    VoiceSessionConfig,
    parse_client_event,
    redact_key,
    sanitize_session_key,
    tool_session_key,
)
from openclaw.voiceclaw.schema import clean_schema_for_gemini, gemini_parameters
from openclaw.voiceclaw.session import sender_is_owner
from openclaw.voiceclaw.tools import (
    async_ack,
    tool_error_context,
    tool_limits_from_env,
    tool_result_context,
)


class WireTests(SynchronousTestCase):
    def test_client_events(self) -> None:
        self.assertEqual(parse_client_event(b'{"type":"audio.append","data":"AA=="}'),
                         ClientEvent("audio.append", {"type": "audio.append", "data": "AA=="}))
        for bad in (b"nope", b"[]", b'{"data":1}', b"\xff\xfe", b"null"):
            self.assertIsNone(parse_client_event(bad), bad)

    def test_session_keys(self) -> None:
        self.assertEqual(sanitize_session_key("  desk 42/é!  "), "desk-42---")
        self.assertEqual(sanitize_session_key("x" * 200), "x" * 128)
        self.assertIsNone(sanitize_session_key("   "))
        self.assertIsNone(sanitize_session_key(7))
        self.assertEqual(tool_session_key("desk-42", "sid"), "agent:main:voiceclaw:desk-42")
        self.assertEqual(tool_session_key(None, "sid"), "agent:main:voiceclaw:sid")

    def test_keys_in_urls_are_redacted(self) -> None:
        self.assertEqual(redact_key("wss://h/p?key=AIza-secret&alt=1 failed"),
                         "wss://h/p?key=***&alt=1 failed")
        self.assertEqual(redact_key("ws://h/p?a=1&key=s3cret"), "ws://h/p?a=1&key=***")

    def test_config_defaults(self) -> None:
        config = VoiceSessionConfig.from_event(ClientEvent("session.config", {
            "type": "session.config", "provider": "openai", "voice": "", "apiKey": 5,
            "watchdog": "enabled", "conversationHistory": [{"role": "user", "text": "hi"},
                                                           {"text": "yo"}, "junk"]}))
        self.assertEqual((config.voice, config.brain_agent, config.api_key, config.watchdog),
                         ("Zephyr", "enabled", "", True))
        self.assertEqual(config.conversation_history,
                         (HistoryTurn("user", "hi"), HistoryTurn("assistant", "yo")))

    def test_owner_rules(self) -> None:
        self.assertTrue(sender_is_owner("token", False))
        self.assertTrue(sender_is_owner("password", False))
        self.assertTrue(sender_is_owner("none", True))
        self.assertFalse(sender_is_owner("none", False))
        for method in ("trusted-proxy", "tailscale", "device-token", None):
            self.assertFalse(sender_is_owner(method, True), method)

    def test_gemini_helpers(self) -> None:
        self.assertEqual(resolve_voice("fenrir"), "Fenrir")
        self.assertEqual(resolve_voice("Alloy"), "Zephyr")
        self.assertEqual(resolve_voice(None), "Zephyr")
        self.assertEqual(gemini_socket_url("ws://h/p", "a b&c"), "ws://h/p?key=a%20b%26c")
        self.assertEqual(gemini_socket_url("ws://h/p?alt=1", "k"), "ws://h/p?alt=1&key=k")
        self.assertEqual(parse_tool_output('{"a":1}'), {"a": 1})
        self.assertEqual(parse_tool_output("[1]"), {"result": [1]})
        self.assertEqual(parse_tool_output("plain"), {"result": "plain"})


class InstructionTests(SynchronousTestCase):
    def test_sections_in_order(self) -> None:
        text = build_instructions(VoiceSessionConfig(
            device_context={"timezone": "Europe/Paris", "location": "Lyon"},
            instructions_override="  I am Sam.  ",
            conversation_history=tuple(HistoryTurn("user", f" m{i} ") for i in range(14))))
        sections = text.split("\n\n## ")
        self.assertTrue(sections[0].startswith("## Your Brain"))
        self.assertIn("Mandatory Memory Rule", text)
        self.assertIn("## Device Context\ntimezone: Europe/Paris, location: Lyon", text)
        self.assertIn("## About The User\nI am Sam.", text)
        history = text.split("## Recent Conversation History\n", 1)[1].splitlines()
        self.assertEqual(history, [f"User: m{i}" for i in range(2, 14)])

    def test_brain_off(self) -> None:
        text = build_instructions(VoiceSessionConfig(brain_agent="none"))
        self.assertTrue(text.startswith("You are a helpful voice assistant. Keep responses "
                                        "conversational and concise.\n\n## Conversation Rules"))
        self.assertNotIn("Device Context", text)


class GeminiSchemaTests(SynchronousTestCase):
    def test_unsupported_keywords_go(self) -> None:
        cleaned = clean_schema_for_gemini({
            "$schema": "x", "type": "object", "additionalProperties": False,
            "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 9},
                           "s": {"type": "string", "pattern": "^a", "format": "uri",
                                 "minLength": 1},
                           "list": {"type": "array", "items": {"type": "string"},
                                    "minItems": 1}},
            "required": ["n", "gone"]})
        self.assertEqual(cleaned, {"type": "object", "properties": {
            "n": {"type": "integer"}, "s": {"type": "string"},
            "list": {"type": "array", "items": {"type": "string"}}}, "required": ["n"]})

    def test_unions_consts_and_refs(self) -> None:
        cleaned = clean_schema_for_gemini({
            "type": "object",
            "$defs": {"Mode": {"type": "string", "enum": ["a", "b"]}},
            "properties": {
                "mode": {"$ref": "#/$defs/Mode", "description": "how"},
                "kind": {"anyOf": [{"type": "string", "const": "x"},
                                   {"type": "string", "const": "y"}], "title": "Kind"},
                "maybe": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                "either": {"oneOf": [{"type": "string"}, {"type": "number"}],
                           "description": "d"},
                "typed": {"type": ["string", "null"]},
                "fixed": {"const": 3},
            },
            "required": []})
        self.assertEqual(cleaned["properties"], {
            "mode": {"type": "string", "enum": ["a", "b"], "description": "how"},
            "kind": {"type": "string", "enum": ["x", "y"], "title": "Kind"},
            "maybe": {"type": "number"},
            "either": {"type": "string", "description": "d"},
            "typed": {"type": "string"},
            "fixed": {"enum": ["3"]},
        })
        self.assertNotIn("required", cleaned)
        self.assertNotIn("$defs", cleaned)

    def test_parameters_fallback(self) -> None:
        self.assertEqual(gemini_parameters(None), {"type": "object", "properties": {}})
        looped: dict[str, object] = {"type": "object"}
        looped["properties"] = {"self": looped}
        self.assertEqual(gemini_parameters(looped), {"type": "object", "properties": {}})


class ToolTextTests(SynchronousTestCase):
    def test_working_ack(self) -> None:
        self.assertEqual(async_ack("read")["status"], "working")

    def test_result_injection(self) -> None:
        text = tool_result_context("read", {"path": "a"}, ToolOutput("hello", details={"n": 1}),
                                   12)
        paragraphs = text.split("\n\n")
        self.assertEqual(paragraphs[0], "OpenClaw async tool update.")
        self.assertEqual(paragraphs[2], "Tool update JSON:")
        self.assertTrue(text.endswith("Do not invent details beyond this result."))
        payload = json.loads(text.split("Tool update JSON:\n\n")[1].split(
            "\n\nEnd of OpenClaw async tool update.")[0])
        self.assertEqual(payload, {"kind": "result", "toolName": "read", "elapsedMs": 12,
                                   "arguments": {"path": "a"}, "untrustedToolOutput": {
                                       "resultText": 'hello\n\nDetails:\n{\n  "n": 1\n}'}})
        empty = tool_result_context("write", {}, ToolOutput("  "), 0)
        self.assertIn("Tool completed with no text output.", empty)

    def test_long_results_are_cut(self) -> None:
        text = tool_result_context("read", {}, ToolOutput("x" * 20_000), 0)
        self.assertIn('x\\n\\n[truncated]"', text)     # cut to 10 000, inside the JSON
        self.assertLess(len(text), 12_000)

    def test_error_injection(self) -> None:
        text = tool_error_context("read", {}, "boom", 5)
        self.assertIn('"kind": "error"', text)
        self.assertIn('"error": "boom"', text)
        self.assertTrue(text.endswith("Do not claim the task succeeded."))

    def test_limits_from_env(self) -> None:
        self.assertEqual(tool_limits_from_env({}), (120_000, 3))
        self.assertEqual(tool_limits_from_env({
            "OPENCLAW_VOICECLAW_REALTIME_TOOL_TIMEOUT_MS": "500",
            "OPENCLAW_VOICECLAW_REALTIME_MAX_CONCURRENT_TOOLS": "x"}), (500, 3))


class PreauthBudgetTests(SynchronousTestCase):
    def test_per_address_slots_released_once(self) -> None:
        budget = PreauthBudget(2)
        first, second = budget.acquire("1.2.3.4"), budget.acquire("1.2.3.4")
        assert first is not None and second is not None
        self.assertIsNone(budget.acquire("1.2.3.4"))
        self.assertIsNotNone(budget.acquire("5.6.7.8"))
        first.release()
        first.release()
        self.assertEqual(budget.held("1.2.3.4"), 1)
        self.assertTrue(budget.admits("1.2.3.4"))

    def test_limit_from_env(self) -> None:
        self.assertEqual(preauth_limit_from_env({}), 32)
        self.assertEqual(preauth_limit_from_env(
            {"OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP": "4"}), 4)
        self.assertEqual(preauth_limit_from_env(
            {"OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP": "0"}), 32)

    def test_keys_follow_ingress_attribution(self) -> None:
        self.assertEqual(budget_key("127.0.0.1", {}, ()), "127.0.0.1")
        self.assertEqual(budget_key("127.0.0.1", {"x-forwarded-for": "203.0.113.9"},
                                    ("127.0.0.1",)), "203.0.113.9")
        # forwarded headers from an untrusted peer: counted against the peer itself
        self.assertEqual(budget_key("198.51.100.2", {"x-forwarded-for": "203.0.113.9"}, ()),
                         "198.51.100.2")


class GeminiUrlTests(SynchronousTestCase):
    def config(self, document: dict[str, object]) -> OpenClawConfig:
        return parse_config_text(json.dumps(document), "/tmp/openclaw.json", env={},
                                 home="/tmp").config

    def test_config_then_env_then_google(self) -> None:
        keyed = self.config({"talk": {"realtime": {"providers": {
            "google": {"liveUrl": "ws://10.0.0.5:9000/live", "model": "kept"}}}}})
        plain = self.config({})
        env = {"OPENCLAW_VOICECLAW_GEMINI_URL": "ws://127.0.0.1:9/x"}
        self.assertEqual(gemini_url_for(keyed, env), "ws://10.0.0.5:9000/live")
        self.assertEqual(gemini_url_for(plain, env), "ws://127.0.0.1:9/x")
        self.assertEqual(gemini_url_for(plain, {}), DEFAULT_GEMINI_URL)
