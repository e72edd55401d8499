"""Reactor-free units of the HTTP API: wire texts, grammars, prompts, mappings, limits."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.config.schema import GatewayToolsConfig, HooksConfig, SecretRef
from openclaw.gateway.http.body import JsonBodyError, RawAnswer, parse_json_text
from openclaw.gateway.http.chat import (
    CHAT_SCHEMA,
    InvalidInput,
    ToolChoice,
    active_turn,
    apply_tool_choice,
    build_prompt,
    chat_tool_choice,
    client_tools,
    sampling_error,
    stop_sequences,
    token_cap,
)
from openclaw.gateway.http.common import missing_scope_body, retry_after_header, sse_data
from openclaw.gateway.http.embeddings import encode_base64, input_error
from openclaw.gateway.http.hooks import (
    TemplateContext,
    normalize_agent_payload,
    read_hooks_config,
    render,
    wrap_external,
)
from openclaw.gateway.http.responses import (
    RESPONSES_SCHEMA,
    ResponseSessions,
    SessionScope,
)
from openclaw.gateway.http.responses import build_prompt as responses_prompt
from openclaw.gateway.http.runs import (
    RunOutcome,
    agent_of_model,
    chat_usage,
    error_for,
    is_agent_model_id,
    is_reserved_session_key,
    responses_usage,
)
from openclaw.gateway.http.schema import first_issue
from openclaw.gateway.http.sessions import decode_key, paginate, resolve_limit
from openclaw.gateway.http.tools_invoke import http_denied
from openclaw.memory.embeddings import EmbeddingTarget, resolve_target
from openclaw.providers.types import Usage


class JsonErrorWordingTests(SynchronousTestCase):
    """The V8 ``JSON.parse`` texts clients see (recorded from the real gateway and node)."""

    def message(self, text: str) -> str:
        with self.assertRaises(JsonBodyError) as caught:
            parse_json_text(text.encode())
        return str(caught.exception)

    def test_recorded_message(self) -> None:
        self.assertEqual(self.message("{not json"),
                         "Expected property name or '}' in JSON at position 1 (line 1 column 2)")

    def test_other_shapes(self) -> None:
        self.assertEqual(self.message("nope"), "Unexpected token 'o', \"nope\" is not valid JSON")
        self.assertEqual(self.message('{"a":}'),
                         "Unexpected token '}', \"{\"a\":}\" is not valid JSON")
        self.assertEqual(self.message("[1,2"), "Unexpected end of JSON input")
        self.assertEqual(self.message("[1 2]"), "Expected ',' or ']' after array element in "
                                                "JSON at position 3 (line 1 column 4)")
        self.assertEqual(self.message('{"a":1 "b":2}'),
                         "Expected ',' or '}' after property value in JSON at position 7 "
                         "(line 1 column 8)")
        self.assertEqual(self.message('{"a" 1}'),
                         "Expected ':' after property name in JSON at position 5 "
                         "(line 1 column 6)")
        self.assertEqual(self.message('{"a":1}x'),
                         "Unexpected non-whitespace character after JSON at position 7 "
                         "(line 1 column 8)")
        self.assertEqual(self.message('{"a":1,}'),
                         "Expected double-quoted property name in JSON at position 7 "
                         "(line 1 column 8)")
        self.assertEqual(self.message("tru"), "Unexpected end of JSON input")

    def test_empty_body_is_an_empty_object(self) -> None:
        self.assertEqual(parse_json_text(b"  \n"), {})

    @given(st.binary(max_size=64))
    def test_never_raises_anything_else(self, raw: bytes) -> None:
        try:
            parse_json_text(raw)
        except JsonBodyError as e:
            self.assertTrue(str(e))


class SchemaTests(SynchronousTestCase):
    def test_chat_schema_drops_unknown_fields(self) -> None:
        self.assertIsNone(first_issue(CHAT_SCHEMA, {"model": "openclaw", "whatever": 1}))

    def test_chat_schema_type_errors(self) -> None:
        self.assertEqual(first_issue(CHAT_SCHEMA, {"temperature": "hot"}),
                         "temperature: Invalid input: expected number, received string")
        self.assertEqual(first_issue(CHAT_SCHEMA, {"max_tokens": -3}),
                         "max_tokens: Too small: expected number to be >0")
        self.assertEqual(first_issue(CHAT_SCHEMA, []),
                         ": Invalid input: expected object, received array")

    def test_responses_schema_is_strict(self) -> None:
        self.assertEqual(first_issue(RESPONSES_SCHEMA, {"model": "openclaw", "input": "hi",
                                                        "frobnicate": True}),
                         ': Unrecognized key: "frobnicate"')
        self.assertEqual(first_issue(RESPONSES_SCHEMA, {"input": "hi"}),
                         "model: Invalid input: expected string, received undefined")
        self.assertEqual(first_issue(RESPONSES_SCHEMA, {"model": "m", "input": "x",
                                                        "temperature": 3}),
                         "temperature: Too big: expected number to be <=2")
        self.assertIsNone(first_issue(RESPONSES_SCHEMA, {
            "model": "openclaw", "input": [
                {"type": "message", "role": "user", "content": "hi"},
                {"type": "function_call_output", "call_id": "c1", "output": "{}"},
                {"type": "reasoning"}, {"type": "item_reference", "id": "x"}],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"}, "metadata": {"a": "b"}}))
        self.assertEqual(first_issue(RESPONSES_SCHEMA, {
            "model": "m", "input": [{"type": "message", "role": "user", "content": "x",
                                     "extra": 1}]}), 'input.0: Unrecognized key: "extra"')


class ParameterTests(SynchronousTestCase):
    def test_sampling_ranges(self) -> None:
        self.assertEqual(sampling_error({"temperature": 5}),
                         "`temperature` must be between 0 and 2.")
        self.assertEqual(sampling_error({"top_p": 1.5}), "`top_p` must be between 0 and 1.")
        self.assertEqual(sampling_error({"presence_penalty": -3}),
                         "`presence_penalty` must be between -2.0 and 2.0.")
        self.assertEqual(sampling_error({"seed": 1.5}), "`seed` must be an integer.")
        self.assertIsNone(sampling_error({"temperature": 0.2, "seed": 7}))

    def test_stop_and_tokens(self) -> None:
        self.assertEqual(stop_sequences("x"), ["x"])
        with self.assertRaises(InvalidInput):
            stop_sequences(["a", "b", "c", "d", "e"])
        with self.assertRaises(InvalidInput):
            stop_sequences([""])
        self.assertEqual(token_cap(12, "max_tokens"), 12)
        with self.assertRaises(InvalidInput) as caught:
            token_cap(2**60, "max_tokens")
        self.assertEqual(str(caught.exception), "max_tokens must be a positive safe integer")

    def test_tools_and_choice(self) -> None:
        tools = client_tools([{"type": "function", "function": {
            "name": " get_weather ", "parameters": {"type": "object"}}}])
        self.assertEqual([t.name for t in tools], ["get_weather"])
        with self.assertRaises(InvalidInput):
            client_tools([{"type": "custom"}])
        with self.assertRaises(InvalidInput) as caught:
            chat_tool_choice({"type": "allowed_tools"})
        self.assertEqual(str(caught.exception), "tool_choice allowed_tools is not supported")
        selected, prompt, constraint = apply_tool_choice(
            tools, ToolChoice("function", "get_weather"))
        self.assertEqual(prompt, "You must call the get_weather tool before responding.")
        self.assertEqual(constraint, ToolChoice("function", "get_weather"))
        self.assertEqual(apply_tool_choice(tools, ToolChoice("none"))[0], [])
        with self.assertRaises(InvalidInput):
            apply_tool_choice(tools, ToolChoice("function", "other"))


class PromptTests(SynchronousTestCase):
    def test_single_user_message_is_the_message(self) -> None:
        messages = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "hi"}]
        self.assertEqual(build_prompt(messages, active_turn(messages)), ("hi", "Be brief."))

    def test_history_becomes_context(self) -> None:
        messages: list[Any] = [
            {"role": "developer", "content": [{"type": "text", "text": "Rules"}]},
            {"role": "user", "content": "What is the weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
        message, extra = build_prompt(messages, active_turn(messages))
        self.assertEqual(extra, "Rules")
        self.assertEqual(message, "\n".join([
            "[Chat messages since your last reply - for context]",
            "User: What is the weather?",
            'Assistant: tool_call id=call_1 name=get_weather arguments={"city":"Paris"}',
            "", "[Current message - respond to this]", "Tool:call_1: sunny"]))

    def test_image_only_turn_gets_placeholder(self) -> None:
        messages = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]
        turn = active_turn(messages)
        self.assertEqual(turn.image_urls, ("data:image/png;base64,AAAA",))
        self.assertEqual(build_prompt(messages, turn)[0], "User sent image(s) with no text.")

    def test_responses_items(self) -> None:
        message, extra, _ = responses_prompt([
            {"type": "message", "role": "system", "content": "S"},
            {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                             "text": "Q"}]},
            {"type": "function_call", "call_id": "c9", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c9", "output": "42"}])
        self.assertEqual(extra, "S")
        self.assertTrue(message.endswith("[Current message - respond to this]\nTool:c9: 42"))
        self.assertIn("Assistant: tool_call id=c9 name=f arguments={}", message)
        self.assertEqual(responses_prompt("plain")[0], "plain")


class GrammarTests(SynchronousTestCase):
    def test_model_ids(self) -> None:
        for good in ("openclaw", "OpenClaw/Default", "openclaw/main", "openclaw:research",
                     "agent:main"):
            self.assertTrue(is_agent_model_id(good), good)
        for bad in ("gpt-4o", "openclaw/", "nope/missing", "", "openclaw/-x"):
            self.assertFalse(is_agent_model_id(bad), bad)
        self.assertEqual(agent_of_model("openclaw/default", "main"), "main")
        self.assertEqual(agent_of_model("agent:Research", "main"), "research")

    def test_reserved_session_keys(self) -> None:
        for key in ("subagent:x", "CRON:job", "acp:1", "agent:main:subagent:abc"):
            self.assertTrue(is_reserved_session_key(key), key)
        self.assertFalse(is_reserved_session_key("agent:main:my-thread"))

    def test_session_path_keys(self) -> None:
        self.assertEqual(decode_key(b"agent%3Amain%3Amain"), "agent:main:main")
        self.assertIsNone(decode_key(b"%E0%A4%A"))
        self.assertEqual(resolve_limit(["5000"]), 1000)
        self.assertEqual(resolve_limit(["-1"]), "limit must be a positive integer")
        messages = [{"__openclaw": {"seq": n}} for n in range(1, 6)]
        page = paginate(messages, 2, None)
        self.assertEqual([m["__openclaw"]["seq"] for m in page["messages"]], [4, 5])
        self.assertEqual((page["hasMore"], page["nextCursor"]), (True, "4"))
        older = paginate(messages, 2, 4)
        self.assertEqual([m["__openclaw"]["seq"] for m in older["messages"]], [2, 3])


class UsageAndErrorTests(SynchronousTestCase):
    def test_usage_shapes(self) -> None:
        usage = Usage(input=100, output=8, cache_read=20)
        self.assertEqual(chat_usage(usage), {"prompt_tokens": 120, "completion_tokens": 8,
                                             "total_tokens": 128,
                                             "prompt_tokens_details": {"cached_tokens": 20}})
        self.assertEqual(responses_usage(usage)["input_tokens"], 120)
        self.assertEqual(responses_usage(None)["total_tokens"], 0)

    def outcome(self, **kw: Any) -> RunOutcome:
        defaults: dict[str, Any] = {"status": "error", "text": "", "usage": Usage(),
                                    "stop_reason": "error"}
        defaults.update(kw)
        return RunOutcome(**defaults)

    def test_provider_failures_map_like_upstream(self) -> None:
        self.assertEqual(error_for(self.outcome(error="boom", error_detail={"httpStatus": 503})),
                         (502, {"message": "upstream provider error", "type": "api_error"}))
        self.assertEqual(error_for(self.outcome(status="timeout"))[0], 504)
        status, error = error_for(self.outcome(error="slow down", error_kind="rate_limit",
                                               error_detail={"httpStatus": 429}))
        self.assertEqual((status, error["type"]), (429, "rate_limit_error"))
        status, error = error_for(self.outcome(error="bad key",
                                               error_detail={"httpStatus": 401}))
        self.assertEqual((status, error), (401, {"message": "bad key",
                                                 "type": "authentication_error"}))
        self.assertEqual(error_for(self.outcome(error="???")),
                         (500, {"message": "internal error", "type": "api_error"}))


class HelpersTests(SynchronousTestCase):
    def test_exact_bodies(self) -> None:
        self.assertEqual(missing_scope_body("operator.write")["error"]["message"],
                         "missing scope: operator.write")
        self.assertEqual(retry_after_header(1001), [(b"retry-after", b"2")])
        self.assertEqual(sse_data({"a": "é"}), 'data: {"a":"é"}\n\n'.encode())

    def test_raw_answer(self) -> None:
        raw = RawAnswer(413, b"{}").encode(((b"x-content-type-options", b"nosniff"),))
        self.assertTrue(raw.startswith(b"HTTP/1.1 413 Payload Too Large\r\n"))
        self.assertIn(b"connection: close", raw)
        self.assertTrue(raw.endswith(b"\r\n\r\n{}"))

    def test_embedding_inputs_and_base64(self) -> None:
        self.assertEqual(input_error([""]),
                         "`input` must contain at least one non-empty string.")
        self.assertEqual(input_error(["a"] * 129), "Too many inputs (max 128).")
        self.assertEqual(input_error(["x" * 8193]), "Input too long (max 8192 chars).")
        self.assertEqual(input_error(["x" * 8000] * 9), "Total input too large (max 65536 chars).")
        encoded = encode_base64([1.0, -0.5])
        self.assertEqual(struct.unpack("<2f", base64.b64decode(encoded)), (1.0, -0.5))

    def test_embedding_targets(self) -> None:
        self.assertEqual(resolve_target("", None), EmbeddingTarget("openai",
                                                                   "text-embedding-3-small"))
        self.assertEqual(resolve_target("", "local"), EmbeddingTarget("local",
                                                                      "all-MiniLM-L6-v2"))
        self.assertEqual(resolve_target("openai/text-embedding-3-large", "auto"),
                         EmbeddingTarget("openai", "text-embedding-3-large"))
        self.assertEqual(resolve_target("voyage/x", "openai"),
                         "This agent does not allow that embedding provider on "
                         "`/v1/embeddings`.")

    def test_response_sessions_bounded_and_scoped(self) -> None:
        clock = Clock()
        sessions = ResponseSessions(clock.seconds)
        scope = SessionScope("bearer:x", "main", None)
        sessions.remember("resp_1", "agent:main:k", scope)
        self.assertEqual(sessions.lookup("resp_1", scope), "agent:main:k")
        self.assertIsNone(sessions.lookup("resp_1", SessionScope("bearer:y", "main", None)))
        self.assertIsNone(sessions.lookup("resp_1", SessionScope("bearer:x", "other", None)))
        clock.advance(31 * 60)
        self.assertIsNone(sessions.lookup("resp_1", scope))
        for n in range(600):
            sessions.remember(f"r{n}", "k", scope)
        self.assertEqual(len(sessions), 500)


class HooksUnitTests(SynchronousTestCase):
    def test_config(self) -> None:
        self.assertIsNone(read_hooks_config(HooksConfig(enabled=True)))
        hooks = read_hooks_config(HooksConfig(enabled=True, token="t", path="ingest/"))
        assert hooks is not None
        self.assertEqual(hooks.base_path, "/ingest")
        self.assertIsNone(read_hooks_config(HooksConfig(enabled=True, token="t", path="/")))

    def test_token_secret_ref_comes_from_the_secrets_snapshot(self) -> None:
        from openclaw.secrets import SecretsSnapshot

        section = HooksConfig(enabled=True,
                              token=SecretRef(source="exec", provider="vault", id="hooks"))
        hooks = read_hooks_config(section, SecretsSnapshot(values={"hooks.token": "h00k"}))
        assert hooks is not None
        self.assertEqual(hooks.token, "h00k")
        # An unresolved ref leaves hooks off rather than accepting anything.
        self.assertIsNone(read_hooks_config(section, SecretsSnapshot()))
        self.assertIsNone(read_hooks_config(section))

    def test_templates(self) -> None:
        ctx = TemplateContext({"messages": [{"subject": "Hi", "n": 2}], "who": {"x": [1]}},
                              {"x-event-type": "push"}, {"k": "v"}, "gmail")
        self.assertEqual(render("{{messages[0].subject}} {{payload.messages[0].n}} "
                                "{{headers.x-event-type}} {{query.k}} {{path}} {{who}} "
                                "{{missing}} {{__proto__}}", ctx),
                         'Hi 2 push v gmail {"x":[1]}  ')

    def test_agent_payload(self) -> None:
        self.assertEqual(normalize_agent_payload({"message": " hi "})["message"], "hi")
        for payload, error in (({}, "message required"),
                               ({"message": "m", "sessionMode": "x"},
                                "sessionMode must be isolated or persistent"),
                               ({"message": "m", "channel": "telegram"},
                                "channel must be last"),
                               ({"message": "m", "to": "+1"},
                                "channel and to must be set together for hook delivery"),
                               ({"message": "m", "model": " "}, "model required")):
            with self.assertRaises(ValueError) as caught:
                normalize_agent_payload(payload)
            self.assertEqual(str(caught.exception), error)

    def test_external_wrapping(self) -> None:
        wrapped = wrap_external("do things", "Ops")
        self.assertIn("SECURITY NOTICE", wrapped)
        self.assertIn("Source: Webhook\nTask: Ops\n---\ndo things\n<<<END_EXTERNAL", wrapped)


class ToolsDenyListTests(SynchronousTestCase):
    def test_default_deny_and_overrides(self) -> None:
        none = GatewayToolsConfig()
        self.assertTrue(http_denied(none, "exec", owner=True))
        self.assertTrue(http_denied(none, "sessions_send", owner=True))
        self.assertFalse(http_denied(none, "sessions_list", owner=True))
        self.assertFalse(http_denied(GatewayToolsConfig(allow=("exec",)), "exec", owner=True))
        self.assertTrue(http_denied(GatewayToolsConfig(deny=("read",)), "read", owner=True))
        allow_gateway = GatewayToolsConfig(allow=("gateway",))
        self.assertTrue(http_denied(allow_gateway, "gateway", owner=False))
        self.assertFalse(http_denied(allow_gateway, "gateway", owner=True))


def _roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))


class FastJsonTests(SynchronousTestCase):
    """orjson on the streamed path: the same bytes and values as json, or json decides."""

    def test_dumps_text_writes_what_dumps_writes_for_every_code_point(self) -> None:
        from openclaw.gateway.http.common import dumps, dumps_text

        points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
        for start in range(0, len(points), 4096):
            text = "".join(points[start:start + 4096])
            self.assertEqual(dumps_text(text), dumps(text))
        for text in ("", "a\"b\\c\n\r\t\b\f\x00\x1f\x7f", "\u2028\u2029", "w12 "):
            self.assertEqual(dumps_text(text), dumps(text))

    @given(st.text())
    def test_dumps_text_matches_dumps(self, text: str) -> None:
        from openclaw.gateway.http.common import dumps, dumps_text

        try:
            expected: bytes | type[Exception] = dumps(text)
        except UnicodeEncodeError:
            expected = UnicodeEncodeError
        if expected is UnicodeEncodeError:
            self.assertRaises(UnicodeEncodeError, dumps_text, text)
        else:
            self.assertEqual(dumps_text(text), expected)

    def test_chunk_json_reads_what_json_reads(self) -> None:
        from openclaw.providers.http import chunk_json

        chunk = ('{"id":"c1","created":1700000000,"choices":[{"index":0,'
                 '"delta":{"content":"h\\u00e9 \\ud83d\\ude00"},"finish_reason":null}]}')
        self.assertEqual(chunk_json(chunk), json.loads(chunk))
        self.assertEqual(chunk_json('{"m":18446744073709551615}'), {"m": 18446744073709551615})
        nan = chunk_json('{"x":NaN,"y":1e400}')   # refused by orjson: json reads them
        self.assertNotEqual(nan["x"], nan["x"])
        self.assertEqual(nan["y"], float("inf"))
        self.assertEqual(chunk_json('{"a":1,"a":2}'), {"a": 2})
        self.assertIsNone(chunk_json("{not json"))
        self.assertIsNone(chunk_json("[DONE]"))
