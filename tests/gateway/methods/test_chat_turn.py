"""The full turn over WebSocket against a scripted OpenAI-compatible upstream (real sockets)."""

# ruff: noqa: ASYNC230, ASYNC240  (small reads of files the gateway wrote, in tests)

from __future__ import annotations

import os
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import TestCase

from tests.agents.support import AgentStack, provider_config, roles
from tests.upstream import (
    error_reply,
    openai_text,
    openai_tool_call,
    stall,
)


class ChatTurnTests(TestCase):
    timeout = 30

    async def make(self, config: dict[str, Any] | None = None, **kw: Any) -> AgentStack:
        stack = AgentStack()
        await stack.start(config, **kw)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack

    async def test_full_turn_streams_and_persists(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["Hel", "lo", " there"]))
        ws = await stack.client(caps=["tool-events"])
        res = await ws.call("chat.send", {"sessionKey": "main", "message": "hi",
                                          "idempotencyKey": "run-1"})
        self.assertEqual(res["payload"], {"runId": "run-1", "status": "started"})
        final = await ws.chat_terminal("run-1")
        self.assertEqual(final["payload"]["state"], "final")
        self.assertEqual(final["payload"]["sessionKey"], "agent:main:main")
        self.assertEqual(final["payload"]["message"]["content"],
                         [{"type": "text", "text": "Hello there"}])
        deltas = [f["payload"] for f in ws.events("chat", "run-1")
                  if f["payload"]["state"] == "delta"]
        self.assertTrue(deltas)
        rebuilt = ""
        for delta in deltas:
            self.assertIn("deltaText", delta)
            rebuilt = delta["deltaText"] if delta.get("replace") else rebuilt + delta["deltaText"]
            self.assertEqual(delta["message"]["content"][0]["text"], rebuilt)
        self.assertEqual(rebuilt, "Hello there")
        lifecycle = [f["payload"]["data"]["phase"] for f in ws.events("agent", "run-1")
                     if f["payload"]["stream"] == "lifecycle"]
        self.assertEqual(lifecycle, ["start", "end"])
        assistant = [f["payload"]["data"] for f in ws.events("agent", "run-1")
                     if f["payload"]["stream"] == "assistant"]
        # paced like the reference: merged deltas, the first one at once
        self.assertEqual(assistant[0]["delta"], "Hel")
        self.assertEqual("".join(a["delta"] for a in assistant), "Hello there")
        self.assertEqual(assistant[-1]["text"], "Hello there")
        seqs = [f["payload"]["seq"] for f in ws.events("agent", "run-1")]
        self.assertEqual(seqs, sorted(seqs))
        # the ack came before any event of the run
        first_event = next(i for i, f in enumerate(ws.frames)
                           if f.get("type") == "event" and
                           (f.get("payload") or {}).get("runId") == "run-1")
        ack = next(i for i, f in enumerate(ws.frames) if f.get("id") == res["id"])
        self.assertLess(ack, first_event)
        # what went upstream: system prompt with project context, then the user message
        sent = stack.upstream.requests[0].json
        self.assertEqual(sent["model"], "m1")
        self.assertTrue(sent["stream"])
        self.assertEqual(sent["messages"][0]["role"], "system")
        self.assertIn("# Project Context", sent["messages"][0]["content"])
        self.assertIn("SOUL.md", sent["messages"][0]["content"])
        self.assertEqual(sent["messages"][-1], {"role": "user", "content": "hi"})
        self.assertEqual({t["function"]["name"] for t in sent["tools"]} >=
                         {"read", "write", "edit", "apply_patch", "exec", "process",
                          "sessions_list", "sessions_history", "sessions_send",
                          "session_status"}, True)
        # transcript: header, model_change, user, assistant
        await stack.settled("run-1")
        records = stack.transcript()
        self.assertEqual(records[0]["type"], "session")
        self.assertEqual(records[0]["version"], 4)
        self.assertEqual(roles(records), ["user", "assistant"])
        assistant_msg = records[-1]["message"]
        self.assertEqual(assistant_msg["usage"]["input"], 12)
        self.assertEqual(assistant_msg["stopReason"], "stop")
        self.assertEqual(assistant_msg["provider"], "scripted")
        self.assertEqual(records[-1]["parentId"], records[-2]["id"])
        # workspace bootstrap files were created on first use
        for name in ("AGENTS.md", "SOUL.md", "IDENTITY.md", "USER.md", "BOOTSTRAP.md"):
            self.assertTrue(os.path.exists(os.path.join(stack.workspace, name)), name)
        # chat.history and a second turn that sends the history
        history = await ws.call("chat.history", {"sessionKey": "agent:main:main"})
        self.assertEqual([m["role"] for m in history["payload"]["messages"]],
                         ["user", "assistant"])
        stack.upstream.script(openai_text("again"))
        await ws.call("chat.send", {"sessionKey": "main", "message": "more",
                                    "idempotencyKey": "run-2"})
        await ws.chat_terminal("run-2")
        second = stack.upstream.requests[1].json["messages"]
        self.assertEqual([m["role"] for m in second],
                         ["system", "user", "assistant", "user"])

    async def test_tool_call_writes_file_in_workspace(self) -> None:
        stack = await self.make()
        stack.upstream.script(
            openai_tool_call("write", {"path": "notes/hello.txt", "content": "hi from tool"}),
            openai_text("Wrote it."))
        ws = await stack.client(caps=["tool-events"])
        await ws.call("chat.send", {"sessionKey": "main", "message": "write a file",
                                    "idempotencyKey": "t-1"})
        final = await ws.chat_terminal("t-1")
        self.assertEqual(final["payload"]["state"], "final")
        with open(os.path.join(stack.workspace, "notes", "hello.txt")) as handle:
            self.assertEqual(handle.read(), "hi from tool")
        tool_events = [f["payload"]["data"] for f in ws.events("agent", "t-1")
                       if f["payload"]["stream"] == "tool"]
        self.assertEqual([e["phase"] for e in tool_events], ["start", "result"])
        self.assertEqual(tool_events[0]["name"], "write")
        self.assertEqual(tool_events[0]["args"]["path"], "notes/hello.txt")
        self.assertFalse(tool_events[1]["isError"])
        # the tool result went back to the model as a role:"tool" message
        followup = stack.upstream.requests[1].json["messages"]
        self.assertEqual(followup[-2]["role"], "assistant")
        self.assertEqual(followup[-2]["tool_calls"][0]["function"]["name"], "write")
        self.assertEqual(followup[-2]["content"], "")
        self.assertEqual(followup[-1]["role"], "tool")
        self.assertEqual(followup[-1]["tool_call_id"], "call_1")
        self.assertIn("Successfully wrote 12 bytes", followup[-1]["content"])
        await stack.settled("t-1")
        records = [r for r in stack.transcript() if r["type"] == "message"]
        self.assertEqual(roles(records), ["user", "assistant", "toolResult", "assistant"])
        call = records[1]["message"]["content"][0]
        self.assertEqual(call["type"], "toolCall")
        self.assertEqual(records[2]["message"]["toolCallId"], call["id"])

    async def test_tool_refused_by_policy(self) -> None:
        stack = await self.make({"tools": {"deny": ["write"]}})
        stack.upstream.script(
            openai_tool_call("write", {"path": "x.txt", "content": "nope"}),
            openai_text("Could not."))
        ws = await stack.client(caps=["tool-events"])
        await ws.call("chat.send", {"sessionKey": "main", "message": "write",
                                    "idempotencyKey": "p-1"})
        final = await ws.chat_terminal("p-1")
        self.assertEqual(final["payload"]["state"], "final")
        self.assertFalse(os.path.exists(os.path.join(stack.workspace, "x.txt")))
        offered = {t["function"]["name"] for t in stack.upstream.requests[0].json["tools"]}
        self.assertNotIn("write", offered)
        result = next(f["payload"]["data"] for f in ws.events("agent", "p-1")
                      if f["payload"]["stream"] == "tool"
                      and f["payload"]["data"]["phase"] == "result")
        self.assertTrue(result["isError"])
        text = result["result"]["content"][0]["text"]
        self.assertIn("not available", text)
        self.assertIn("deny", text)

    async def test_exec_off_in_non_main_session(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_tool_call("exec", {"command": "touch pwned"}),
                              openai_text("no exec here"))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "agent:main:telegram:direct:42",
                                    "message": "run", "idempotencyKey": "e-1"})
        await ws.chat_terminal("e-1")
        self.assertFalse(os.path.exists(os.path.join(stack.workspace, "pwned")))
        offered = {t["function"]["name"] for t in stack.upstream.requests[0].json["tools"]}
        self.assertNotIn("exec", offered)
        tool_msg = stack.upstream.requests[1].json["messages"][-1]
        self.assertIn("non-main", tool_msg["content"])

    async def test_exec_in_main_session(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_tool_call("exec", {"command": "echo out; echo err >&2"}),
                              openai_text("ran"))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "run",
                                    "idempotencyKey": "x-1"})
        await ws.chat_terminal("x-1")
        tool_msg = stack.upstream.requests[1].json["messages"][-1]
        self.assertIn("out", tool_msg["content"])
        self.assertIn("err", tool_msg["content"])

    async def test_idempotent_retry(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["a", "b"], delay=0.05))
        ws = await stack.client()
        params = {"sessionKey": "main", "message": "once", "idempotencyKey": "same"}
        first = await ws.call("chat.send", params)
        second = await ws.call("chat.send", params)
        self.assertEqual(first["payload"]["status"], "started")
        self.assertEqual(second["payload"], {"runId": "same", "status": "in_flight"})
        await ws.chat_terminal("same")
        third = await ws.call("chat.send", params)
        self.assertEqual(third["payload"], {"runId": "same", "status": "ok"})
        self.assertEqual(len(stack.upstream.requests), 1)
        await stack.settled("same")
        self.assertEqual(roles(stack.transcript()), ["user", "assistant"])

    async def test_two_sends_are_queued(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["first", " answer"], delay=0.1),
                              openai_text("second answer"))
        ws = await stack.client()
        a = ws.send("chat.send", {"sessionKey": "main", "message": "one",
                                  "idempotencyKey": "q-1"})
        b = ws.send("chat.send", {"sessionKey": "main", "message": "two",
                                  "idempotencyKey": "q-2"})
        self.assertEqual((await ws.response(a))["payload"]["status"], "started")
        self.assertEqual((await ws.response(b))["payload"]["status"], "started")
        first = await ws.chat_terminal("q-1")
        second = await ws.chat_terminal("q-2")
        self.assertLess(ws.frames.index(first), ws.frames.index(second))
        # the second run started only after the first ended
        end_1 = next(i for i, f in enumerate(ws.frames) if f.get("event") == "agent"
                     and f["payload"]["runId"] == "q-1"
                     and f["payload"]["data"].get("phase") == "end")
        start_2 = next(i for i, f in enumerate(ws.frames) if f.get("event") == "agent"
                       and f["payload"]["runId"] == "q-2"
                       and f["payload"]["data"].get("phase") == "start")
        self.assertLess(end_1, start_2)
        self.assertEqual([m["role"] for m in stack.upstream.requests[1].json["messages"]],
                         ["system", "user", "assistant", "user"])
        await stack.settled("q-2")
        records = stack.transcript()
        self.assertEqual(roles(records), ["user", "assistant", "user", "assistant"])

    async def test_abort_mid_stream_cancels_upstream(self) -> None:
        stack = await self.make()
        stack.upstream.script(stall(["partial ", "answer"]))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "long",
                                    "idempotencyKey": "ab-1"})
        await ws.wait_for(lambda f: f.get("event") == "chat"
                          and f["payload"].get("state") == "delta")
        disconnected = stack.upstream.wait_disconnect()
        res = await ws.call("chat.abort", {"sessionKey": "main", "runId": "ab-1"})
        self.assertEqual(res["payload"], {"ok": True, "aborted": True, "runIds": ["ab-1"]})
        terminal = await ws.chat_terminal("ab-1")
        self.assertEqual(terminal["payload"]["state"], "aborted")
        self.assertEqual(terminal["payload"]["stopReason"], "rpc")
        self.assertEqual(terminal["payload"]["message"]["content"][0]["text"],
                         "partial answer")
        disconnected.addTimeout(5, cast(IReactorTime, reactor))
        await disconnected
        self.assertEqual(stack.upstream.disconnects, 1)
        await stack.settled("ab-1")
        records = stack.transcript()
        last = records[-1]["message"]
        self.assertEqual(last["stopReason"], "aborted")
        self.assertEqual(last["content"][0]["text"], "partial answer")
        # abort of a run of another session is refused
        stack.upstream.script(stall(["x"]))
        await ws.call("chat.send", {"sessionKey": "main", "message": "again",
                                    "idempotencyKey": "ab-2"})
        wrong = await ws.call("chat.abort", {"sessionKey": "agent:main:other", "runId": "ab-2"})
        self.assertEqual(wrong["error"]["message"], "runId does not match sessionKey")
        stop = await ws.call("chat.send", {"sessionKey": "main", "message": "/stop",
                                           "idempotencyKey": "stop-1"})
        self.assertEqual(stop["payload"], {"ok": True, "aborted": True, "runIds": ["ab-2"]})
        terminal = await ws.chat_terminal("ab-2")
        self.assertEqual(terminal["payload"].get("stopReason"), "stop", terminal)

    async def test_provider_429_then_success(self) -> None:
        stack = await self.make()
        stack.upstream.script(error_reply(429, "slow down", retry_after="0"),
                              openai_text("after retry"))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "x",
                                    "idempotencyKey": "r-1"})
        final = await ws.chat_terminal("r-1")
        self.assertEqual(final["payload"]["state"], "final")
        self.assertEqual(len(stack.upstream.requests), 2)

    async def test_provider_500_error_names_provider_and_status(self) -> None:
        stack = await self.make()
        stack.upstream.script(*(error_reply(500, "boom") for _ in range(3)))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "x",
                                    "idempotencyKey": "e-500"})
        final = await ws.chat_terminal("e-500", timeout=15)
        payload = final["payload"]
        self.assertEqual(payload["state"], "error")
        self.assertIn("scripted returned HTTP 500", payload["errorMessage"])
        self.assertIn("boom", payload["errorMessage"])
        self.assertEqual(payload["errorDetail"]["httpStatus"], 500)
        self.assertEqual(payload["errorDetail"]["provider"], "scripted")
        self.assertEqual(len(stack.upstream.requests), 3)  # two retries
        lifecycle = [f["payload"]["data"] for f in ws.events("agent", "e-500")
                     if f["payload"]["stream"] == "lifecycle"]
        self.assertEqual(lifecycle[-1]["phase"], "error")

    async def test_provider_timeout(self) -> None:
        # The run's side of a provider timeout (the error event's kind and wording); the
        # timeouts' own arithmetic (retries, backoff, idle) is on a Clock in
        # tests/providers/test_timeouts.py.
        stack = AgentStack()
        await stack.start(providers=provider_config(stack.upstream, timeout_s=1))
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        stack.upstream.script(stall(["slow"]))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "x",
                                    "idempotencyKey": "to-1"})
        final = await ws.chat_terminal("to-1", timeout=10)
        self.assertEqual(final["payload"]["state"], "error")
        self.assertEqual(final["payload"]["errorKind"], "timeout")
        self.assertIn("scripted", final["payload"]["errorMessage"])

    async def test_fallback_to_second_model(self) -> None:
        stack = AgentStack()
        providers = provider_config(stack.upstream, models=("m1",))
        providers["backup"] = {"baseUrl": stack.upstream.base_url, "apiKey": "k2",
                               "models": [{"id": "m2", "name": "m2"}]}
        await stack.start({"agents": {"defaults": {"model": {
            "primary": "scripted/m1", "fallbacks": ["backup/m2"]}}}}, providers=providers)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        stack.upstream.script(error_reply(401, "bad key"), openai_text("from backup"))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "x",
                                    "idempotencyKey": "fb-1"})
        final = await ws.chat_terminal("fb-1")
        self.assertEqual(final["payload"]["state"], "final", final)
        self.assertEqual(final["payload"]["message"]["content"][0]["text"], "from backup")
        self.assertEqual([r.json["model"] for r in stack.upstream.requests], ["m1", "m2"])
        self.assertEqual(stack.upstream.requests[1].headers["authorization"], "Bearer k2")
        await stack.settled("fb-1")
        assistant = stack.transcript()[-1]["message"]
        self.assertEqual((assistant["provider"], assistant["model"]), ("backup", "m2"))

