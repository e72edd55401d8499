"""``/tools/invoke``, hooks and the session routes on a real Site with the real runtime."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.auth.decision import AuthSettings
from tests.gateway.http.support import (
    HOOK_TOKEN,
    TOKEN,
    HttpStack,
    base_config,
    parse_response,
    raw_connect,
    request_head,
    sse_frames,
)
from tests.upstream import openai_text, stall


class StackTestCase(TestCase):
    timeout = 30

    async def make(self, config: Any = None, **kw: Any) -> HttpStack:
        stack = HttpStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        await stack.start(config(stack.upstream) if callable(config) else config, **kw)
        return stack


def with_gateway_tools(tools: dict[str, Any]) -> Any:
    def config(upstream: Any) -> dict[str, Any]:
        conf = base_config(upstream)
        conf["gateway"]["tools"] = tools
        return conf

    return config


class ToolsInvokeTests(StackTestCase):
    async def test_envelope_and_default_deny_list(self) -> None:
        stack = await self.make()
        status, _, body = await stack.request("POST", "/tools/invoke", body={
            "tool": "sessions_list", "action": "json", "args": {}, "dryRun": False})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["ok"])
        listed = json.loads(body["result"]["content"][0]["text"])
        self.assertEqual(listed["count"], 0)
        for name, shown in (("exec", "exec"), ("apply_patch", "apply_patch"),
                            ("sessions_send", "sessions_send"), ("gateway", "gateway"),
                            ("cron", "automations"), ("no_such_tool", "no_such_tool")):
            status, _, body = await stack.request("POST", "/tools/invoke",
                                                  body={"tool": name, "args": {}})
            self.assertEqual((status, body), (404, {"ok": False, "error": {
                "type": "not_found", "message": f"Tool not available: {shown}"}}), name)
        status, _, body = await stack.request("POST", "/tools/invoke", body={"args": {}})
        self.assertEqual((status, body), (400, {"ok": False, "error": {
            "type": "invalid_request", "message": "tools.invoke requires name"}}))
        status, _, body = await stack.request("POST", "/tools/invoke", raw=b"{nope")
        self.assertEqual((status, body["error"]["type"]), (400, "invalid_request_error"))
        status, _, body = await stack.request("POST", "/tools/invoke", body={
            "tool": "read", "args": {"path": "missing.txt"}})
        self.assertEqual((status, body["error"]["type"]), (400, "tool_error"))
        status, _, body = await stack.request("POST", "/tools/invoke", body={
            "tool": "session_status", "sessionKey": "agent:ops:main", "agentId": "main"})
        self.assertEqual((status, body["error"]["type"]), (400, "invalid_request"))
        status, _, _ = await stack.request("GET", "/tools/invoke")
        self.assertEqual(status, 405)

    async def test_gateway_tools_allow_and_deny(self) -> None:
        stack = await self.make(with_gateway_tools({"allow": ["exec", "write"],
                                                    "deny": ["sessions_list"]}))
        status, _, body = await stack.request("POST", "/tools/invoke", body={
            "tool": "exec", "args": {"command": "echo invoked-over-http"}})
        self.assertEqual(status, 200, body)
        self.assertIn("invoked-over-http", body["result"]["content"][0]["text"])
        status, _, body = await stack.request("POST", "/tools/invoke", body={
            "name": "write", "args": {"path": "notes/a.txt", "content": "x"}})
        self.assertEqual(status, 200, body)
        status, _, body = await stack.request("POST", "/tools/invoke",
                                              body={"tool": "sessions_list"})
        self.assertEqual(status, 404)

    async def test_identity_callers_need_owner_for_owner_only_tools(self) -> None:
        stack = await self.make(with_gateway_tools({"allow": ["gateway"]}),
                                auth=AuthSettings(mode="none"))
        status, _, body = await stack.request(
            "POST", "/tools/invoke", token=None, body={"tool": "session_status"},
            headers={"x-openclaw-scopes": ["operator.read"]})
        self.assertEqual((status, body["error"]["message"]),
                         (403, "missing scope: operator.write"))
        status, _, body = await stack.request(
            "POST", "/tools/invoke", token=None, body={"tool": "session_status"},
            headers={"x-openclaw-scopes": ["operator.write"]})
        self.assertEqual(status, 200, body)


def hooks_config(**extra: Any) -> Any:
    def config(upstream: Any) -> dict[str, Any]:
        conf = base_config(upstream)
        conf["hooks"] = {"enabled": True, "token": HOOK_TOKEN, **extra}
        return conf

    return config


class HooksTests(StackTestCase):
    async def test_agent_hook_round_trip(self) -> None:
        stack = await self.make(hooks_config())
        stack.upstream.script(openai_text("Deploy noted."))
        status, _, body = await stack.request(
            "POST", "/hooks/agent", token=HOOK_TOKEN, body={
                "message": "Deploy 42 finished", "name": "CI", "waitForCompletion": True})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["completion"]["status"], "ok")
        self.assertEqual(body["completion"]["replyDisposition"], "visible")
        sent = stack.upstream.requests[0].json["messages"][-1]["content"]
        self.assertIn("SECURITY NOTICE", sent)
        self.assertIn("Source: Webhook\nTask: CI\n---\nDeploy 42 finished", sent)
        hooks_sessions = [k for k in stack.store.agent("main").entries
                          if k.startswith("agent:main:hook:")]
        self.assertEqual(len(hooks_sessions), 1)
        # an idempotent replay answers the same run without another model call
        headers = {"Idempotency-Key": ["evt-1"]}
        first = await stack.request("POST", "/hooks/agent", token=None, body={"message": "m"},
                                    headers={**headers, "X-OpenClaw-Token": [HOOK_TOKEN]})
        again = await stack.request("POST", "/hooks/agent", token=None, body={"message": "m"},
                                    headers={**headers, "X-OpenClaw-Token": [HOOK_TOKEN]})
        self.assertEqual(first[2]["runId"], again[2]["runId"])

    async def test_hook_auth_rules_and_own_throttle(self) -> None:
        stack = await self.make(hooks_config())
        status, _, text = await stack.request("POST", f"/hooks/wake?token={HOOK_TOKEN}",
                                              token=None, body={"text": "x"})
        self.assertEqual(status, 400)
        self.assertTrue(text.startswith("Hook token must be provided via Authorization"))
        status, headers, text = await stack.request("GET", "/hooks/wake", token=HOOK_TOKEN)
        self.assertEqual((status, text), (405, "Method Not Allowed"))
        status, _, text = await stack.request("POST", "/hooks/wake", token=TOKEN,
                                              body={"text": "x"})
        self.assertEqual((status, text), (401, "Unauthorized"))
        for _ in range(19):
            await stack.request("POST", "/hooks/wake", token="wrong", body={"text": "x"})
        status, headers, text = await stack.request("POST", "/hooks/wake", token="wrong",
                                                    body={"text": "x"})
        self.assertEqual((status, text), (429, "Too Many Requests"))
        self.assertEqual(headers.getRawHeaders("retry-after"), ["60"])
        # the gateway's own limiter is untouched
        self.assertTrue(stack.limiter.check("127.0.0.1", "shared-secret").allowed)

    async def test_wake_and_mappings(self) -> None:
        stack = await self.make(hooks_config(mappings=[{
            "match": {"path": "github"}, "action": "agent", "name": "GitHub",
            "messageTemplate": "PR {{payload.pr.title}} by {{headers.x-user}} on {{path}}"}]))
        status, _, body = await stack.request("POST", "/hooks/wake", token=HOOK_TOKEN,
                                              body={"text": "check mail",
                                                    "mode": "next-heartbeat"})
        self.assertEqual(body, {"ok": True, "mode": "next-heartbeat", "eventOutcome": "queued"})
        status, _, body = await stack.request("POST", "/hooks/wake", token=HOOK_TOKEN,
                                              body={"text": "check mail",
                                                    "mode": "next-heartbeat"})
        self.assertEqual(body["eventOutcome"], "coalesced")
        self.assertEqual(stack.pending_system_events, {"agent:main:main": ["check mail"]})
        status, _, body = await stack.request("POST", "/hooks/wake", token=HOOK_TOKEN,
                                              body={"text": ""})
        self.assertEqual((status, body), (400, {"ok": False, "error": "text required"}))
        stack.upstream.script(openai_text("ok"), openai_text("ok"))
        status, _, body = await stack.request("POST", "/hooks/wake", token=HOOK_TOKEN,
                                              body={"text": "now please"})
        self.assertEqual(body, {"ok": True, "mode": "now", "eventOutcome": "queued"})
        status, _, body = await stack.request(
            "POST", "/hooks/github", token=HOOK_TOKEN, body={"pr": {"title": "Fix it"}},
            headers={"x-user": ["bo"]})
        self.assertEqual(status, 200, body)
        await stack.upstream.wait_requests(2)
        await stack.runs_ended()
        contents = sorted(r.json["messages"][-1]["content"] for r in stack.upstream.requests)
        self.assertIn("PR Fix it by bo on github", contents[0])
        self.assertEqual("System: check mail\nSystem: now please", contents[1])
        status, _, text = await stack.request("POST", "/hooks/unknown", token=HOOK_TOKEN,
                                              body={})
        self.assertEqual((status, text), (404, "Not Found"))
        status, _, text = await stack.request("POST", "/hooks", token=HOOK_TOKEN, body={})
        self.assertEqual((status, text), (404, "Not Found"))

    async def test_hook_body_cap(self) -> None:
        stack = await self.make(hooks_config())
        client = await raw_connect(stack.port_number)
        client.send(request_head("POST", "/hooks/agent", {
            "Authorization": f"Bearer {HOOK_TOKEN}",
            "Content-Length": str(300 * 1024)}))
        await client.closed
        status, _, body = parse_response(client.data)
        self.assertEqual((status, json.loads(body)), (413, {"ok": False,
                                                            "error": "payload too large"}))

    async def test_disabled_hooks_fall_through(self) -> None:
        stack = await self.make()
        status, _, text = await stack.request("POST", "/hooks/wake", token=HOOK_TOKEN,
                                              body={"text": "x"})
        self.assertEqual((status, text), (404, "Not Found"))


class SessionRoutesTests(StackTestCase):
    async def test_history_json_and_limits(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text("one"), openai_text("two"))
        for text in ("first", "second"):
            await stack.request("POST", "/v1/chat/completions", body={
                "model": "openclaw", "user": "u1",
                "messages": [{"role": "user", "content": text}]})
        key = "agent%3Amain%3Aopenai-user%3Au1"
        status, _, body = await stack.request("GET", f"/sessions/{key}/history")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["sessionKey"], "agent:main:openai-user:u1")
        self.assertEqual([m["role"] for m in body["messages"]],
                         ["user", "assistant", "user", "assistant"])
        self.assertEqual(body["items"], body["messages"])
        self.assertFalse(body["hasMore"])
        status, _, page = await stack.request("GET", f"/sessions/{key}/history?limit=1")
        self.assertEqual((len(page["messages"]), page["hasMore"]), (1, True))
        cursor = page["nextCursor"]
        status, _, older = await stack.request(
            "GET", f"/sessions/{key}/history?limit=1&cursor={cursor}")
        self.assertEqual(older["messages"][0]["role"], "user")
        status, _, body = await stack.request("GET", f"/sessions/{key}/history?limit=x")
        self.assertEqual(body["error"]["message"], "limit must be a positive integer")
        status, _, body = await stack.request("GET", "/sessions/agent%3Amain%3Anope/history")
        self.assertEqual((status, body), (404, {"ok": False, "error": {
            "type": "not_found", "message": "Session not found: agent:main:nope"}}))
        status, _, _ = await stack.request("GET", f"/sessions/{key}/history", token=None)
        self.assertEqual(status, 401)

    async def test_history_live_sse(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text("one"), openai_text("two"))
        chat = {"model": "openclaw", "user": "live", "messages": [
            {"role": "user", "content": "first"}]}
        await stack.request("POST", "/v1/chat/completions", body=chat)
        client = await raw_connect(stack.port_number)
        client.send(request_head("GET", "/sessions/agent%3Amain%3Aopenai-user%3Alive/history", {
            "Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}))
        await client.wait_for(b"event: history")
        self.assertEqual(len(stack.api.sessions._streams), 1)
        await stack.request("POST", "/v1/chat/completions", body={
            **chat, "messages": [{"role": "user", "content": "second"}]})
        await client.wait_for(b'"two"')
        status, headers, body = parse_response(client.data)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/event-stream; charset=utf-8")
        text = body.decode()
        self.assertIn("retry: 1000", text)
        frames = [(e, json.loads(d)) for e, d in sse_frames(_dechunk(body))]
        self.assertEqual(frames[0][0], "history")
        self.assertEqual(len(frames[0][1]["messages"]), 2)
        messages = [f for e, f in frames if e == "message"]
        self.assertEqual([m["message"]["role"] for m in messages], ["user", "assistant"])
        self.assertTrue(all(m["sessionKey"] == "agent:main:openai-user:live"
                            for m in messages))
        closed = stack.streams_closed()
        client.abort()
        await closed
        self.assertEqual(stack.api.sessions._streams, {})

    async def test_kill(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text("x"))
        await stack.request("POST", "/v1/chat/completions", body={
            "model": "openclaw", "user": "k", "messages": [{"role": "user", "content": "hi"}]})
        status, _, body = await stack.request("POST",
                                              "/sessions/agent%3Amain%3Aopenai-user%3Ak/kill")
        # 2026.9.6: shared-secret callers cannot assert scopes on this route
        self.assertEqual((status, body["error"]["message"]),
                         (403, "missing scope: operator.admin"))
        stack.auth_settings = AuthSettings(mode="none")
        stack.upstream.script(stall(["partial"]))
        running = Deferred.fromCoroutine(stack.request("POST", "/v1/chat/completions", body={
            "model": "openclaw", "user": "k", "messages": [{"role": "user", "content": "x"}]},
            token=None))
        await stack.upstream.wait_requests(2)  # the second run is at the model
        status, _, body = await stack.request(
            "POST", "/sessions/agent%3Amain%3Aopenai-user%3Ak/kill", token=None)
        self.assertEqual((status, body), (200, {"ok": True, "killed": True}))
        status, _, _ = await running
        self.assertEqual(status, 500)
        status, _, body = await stack.request(
            "POST", "/sessions/agent%3Amain%3Aopenai-user%3Ak/kill", token=None)
        self.assertEqual(body, {"ok": True, "killed": False})
        status, _, body = await stack.request("POST", "/sessions/agent%3Amain%3Aghost/kill",
                                              token=None)
        self.assertEqual(status, 404)
        status, _, body = await stack.request("POST", "/sessions/%ZZ/kill", token=None)
        self.assertEqual((status, body["error"]["message"]), (400, "invalid session key"))


def _dechunk(body: bytes) -> str:
    out = b""
    rest = body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return out.decode()
