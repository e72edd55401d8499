"""Caller-supplied tools in the run engine: offered with the gateway's tools, never run; a
call of one ends the run (``RunResult.pending_tool_calls``); the caller's results continue
the session; sampling parameters reach the provider request."""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.agents.runtime import (
    ClientToolConflict,
    ClientToolResult,
    RunRequest,
    RunResult,
)
from openclaw.providers.types import ToolCall, ToolSpec
from tests.agents.support import AgentStack, roles
from tests.upstream import openai_text, openai_tool_call, openai_tool_calls

KEY = "agent:main:main"
WEATHER = ToolSpec("get_weather", "Current weather of a city.\nUse it for weather.",
                   {"type": "object", "properties": {"city": {"type": "string"}}})


class ClientToolRunTests(TestCase):
    timeout = 30

    async def make(self) -> AgentStack:
        stack = AgentStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        await stack.start({"agents": {"defaults": {"skipBootstrap": True}}})
        return stack

    async def turn(self, stack: AgentStack, message: str = "hi", key: str = KEY,
                   **fields: Any) -> tuple[RunResult, list[dict[str, Any]]]:
        handle = stack.runtime.start(RunRequest(message=message, run_id=str(uuid.uuid4()),
                                                session_key=key, **fields))
        events = [event async for event in handle.events()]
        return await handle.result, events

    def sent(self, stack: AgentStack, index: int) -> list[dict[str, Any]]:
        """The messages of upstream request ``index`` without the system prompt."""
        messages: list[dict[str, Any]] = stack.upstream.requests[index].json["messages"]
        self.assertEqual(messages[0]["role"], "system")
        return messages[1:]

    async def test_pending_calls_end_the_run_and_results_continue_it(self) -> None:
        stack = await self.make()
        stack.upstream.script(
            openai_tool_calls([("c_read", "read", {"path": "notes.txt"}),
                               ("c_w", "get_weather", {"city": "Paris"})], text="Looking."),
            openai_text("18C in Paris."), openai_text("You're welcome."))
        result, events = await self.turn(
            stack, "Weather?", client_tools=(WEATHER,),
            stream_params={"temperature": 0.2, "maxTokens": 64, "topP": 0.5, "stop": ["END"],
                           "seed": 3, "bogus": 1, "frequency_penalty": "high"})
        self.assertEqual((result.status, result.stop_reason, result.text, result.steps),
                         ("ok", "tool_calls", "Looking.", 1))
        self.assertEqual(result.pending_tool_calls, (
            ToolCall("c_w", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),))
        body = stack.upstream.requests[0].json
        self.assertEqual([t["function"]["name"] for t in body["tools"]][-1], "get_weather")
        self.assertIn("read", [t["function"]["name"] for t in body["tools"]])
        self.assertIn("- get_weather: Current weather of a city.\n",
                      body["messages"][0]["content"])
        self.assertEqual({k: body.get(k) for k in ("temperature", "max_tokens", "top_p", "stop",
                                                   "seed", "frequency_penalty", "bogus")},
                         {"temperature": 0.2, "max_tokens": 64, "top_p": 0.5, "stop": ["END"],
                          "seed": 3, "frequency_penalty": None, "bogus": None})
        # the gateway's tool of the same batch ran; the caller's was left to the caller
        self.assertEqual([(e["data"]["phase"], e["data"]["name"]) for e in events
                          if e["stream"] == "tool"], [("start", "read"), ("result", "read")])
        self.assertEqual(roles(stack.transcript()), ["user", "assistant", "toolResult"])

        # the caller's result: recorded as the call's result, the model continues from it
        result, _ = await self.turn(stack, "Tool:c_w: 18C",
                                   tool_results=(ClientToolResult("c_w", "18C"),))
        self.assertEqual((result.status, result.text, result.pending_tool_calls),
                         ("ok", "18C in Paris.", ()))
        sent = self.sent(stack, 1)
        self.assertEqual([m["role"] for m in sent], ["user", "assistant", "tool", "tool"])
        self.assertEqual(sent[-1], {"role": "tool", "tool_call_id": "c_w", "content": "18C"})
        records = stack.transcript()
        self.assertEqual(roles(records), ["user", "assistant", "toolResult", "toolResult",
                                          "assistant"])
        self.assertEqual(records[-2]["message"]["toolName"], "get_weather")

        # read again from disk, the context is the same
        stack.runtime.forget_history("main", KEY)
        await self.turn(stack, "thanks")
        self.assertEqual(self.sent(stack, 2), [
            *sent, {"role": "assistant", "content": "18C in Paris."},
            {"role": "user", "content": "thanks"}])

    async def test_unanswered_calls_get_missing_results(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_tool_call("get_weather", {"city": "Rome"}, call_id="c1"),
                              openai_text("Never mind then."), openai_text("Again."))
        result, _ = await self.turn(stack, "Weather?", client_tools=(WEATHER,))
        self.assertEqual(result.stop_reason, "tool_calls")
        # a result for another call (or none at all): the message is the user's turn
        await self.turn(stack, "forget it", tool_results=(ClientToolResult("c9", "x"),))
        sent = self.sent(stack, 1)
        self.assertEqual([m["role"] for m in sent], ["user", "assistant", "tool", "user"])
        self.assertEqual(sent[2], {"role": "tool", "tool_call_id": "c1",
                                   "content": "Tool result missing (interrupted)."})
        self.assertEqual(sent[3], {"role": "user", "content": "forget it"})
        self.assertEqual(roles(stack.transcript()), ["user", "assistant", "user", "assistant"])
        stack.runtime.forget_history("main", KEY)
        await self.turn(stack, "again")
        self.assertEqual(self.sent(stack, 2)[:4], sent)

    async def test_names_conflicts_and_the_run_allow_list(self) -> None:
        stack = await self.make()
        for tools, names in (((ToolSpec("read", "", {}),), "read"),
                             ((ToolSpec("Grep", "", {}),), "Grep"),
                             ((ToolSpec("exec", "", {}),), "exec"),       # bash is reserved
                             ((WEATHER, ToolSpec("GET_WEATHER", "", {})),
                              "get_weather, GET_WEATHER")):
            with self.assertRaises(ClientToolConflict) as caught:
                stack.runtime.start(RunRequest(message="x", run_id=str(uuid.uuid4()),
                                               session_key=KEY, client_tools=tools))
            self.assertEqual(str(caught.exception), f"client tool name conflict: {names}")
        self.assertEqual(stack.runtime.active, {})
        # a gateway tool the run does not offer (process, off outside the main session)
        # leaves its name to the caller; the run's allow list narrows the caller's tools too
        stack.upstream.script(openai_tool_call("process", {"action": "list"}, call_id="c2"))
        result, events = await self.turn(
            stack, key="agent:main:elsewhere", tools_allow=("read", "process", "get_*"),
            client_tools=(WEATHER, ToolSpec("process", "Runs on the caller.", {}),
                          ToolSpec("lookup", "", {})))
        self.assertEqual(result.status, "ok", result.error)
        body = stack.upstream.requests[0].json
        self.assertEqual([t["function"]["name"] for t in body["tools"]],
                         ["read", "get_weather", "process"])
        self.assertEqual([c.name for c in result.pending_tool_calls], ["process"])
        self.assertEqual([e for e in events if e["stream"] == "tool"], [])

    async def test_client_call_at_the_step_limit_is_still_returned(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_tool_call("get_weather", {}, call_id="c3"))
        result, _ = await self.turn(stack, client_tools=(WEATHER,), max_steps=1)
        self.assertEqual((result.stop_reason, [c.id for c in result.pending_tool_calls]),
                         ("tool_calls", ["c3"]))
