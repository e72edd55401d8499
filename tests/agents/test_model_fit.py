"""What a run offers its model (tools, prompt) and how an empty reply ends, over a real
WebSocket against a scripted OpenAI-compatible upstream."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.agents.model_fit import NO_CONTENT
from tests.agents.support import AgentStack, provider_config
from tests.upstream import openai_text


def small_model_providers(stack: AgentStack) -> dict[str, Any]:
    providers = provider_config(stack.upstream, models=("tiny",))
    providers["scripted"]["models"] = [{"id": "tiny", "name": "tiny", "contextWindow": 4096,
                                        "compat": {"supportsTools": False}}]
    return providers


class ModelFitTests(TestCase):
    timeout = 30

    async def make(self, small: bool) -> AgentStack:
        stack = AgentStack()
        await stack.start(providers=small_model_providers(stack) if small else None)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack

    async def test_small_model_without_tools_gets_compact_prompt_and_no_tools(self) -> None:
        stack = await self.make(small=True)
        stack.upstream.script(openai_text(["Par", "is"]))
        ws = await stack.client()
        final = await ws.call("agent", {"message": "What is the capital of France?",
                                        "idempotencyKey": "fit-1"}, final=True)
        self.assertEqual(final["payload"]["result"]["payloads"],
                         [{"text": "Paris", "mediaUrl": None}])
        body = stack.upstream.requests[-1].json
        self.assertNotIn("tools", body)
        system = body["messages"][0]
        self.assertEqual(system["role"], "system")
        self.assertIn("Answer the user's message directly", system["content"])
        self.assertNotIn("# Project Context", system["content"])
        self.assertNotIn("## Tooling", system["content"])
        self.assertLess(len(system["content"]), 300)

    async def test_capable_model_gets_tools_and_the_workspace_prompt(self) -> None:
        stack = await self.make(small=False)
        stack.upstream.script(openai_text("hi"))
        ws = await stack.client()
        await ws.call("agent", {"message": "hello", "idempotencyKey": "fit-2"}, final=True)
        body = stack.upstream.requests[-1].json
        self.assertTrue(body["tools"])
        self.assertIn("# Project Context", body["messages"][0]["content"])

    async def test_empty_reply_is_an_error_not_an_answer(self) -> None:
        stack = await self.make(small=True)
        stack.upstream.script(openai_text([]))
        ws = await stack.client()
        rid = ws.send("agent", {"message": "hello", "idempotencyKey": "empty-1"})
        final = await ws.response(rid, final=True)
        self.assertFalse(final["ok"])
        self.assertEqual(final["error"]["message"], NO_CONTENT)
        self.assertEqual(final["payload"], {"runId": "empty-1", "status": "error",
                                            "summary": NO_CONTENT})
        lifecycle = [f["payload"]["data"] for f in ws.events("agent", "empty-1")
                     if f["payload"]["stream"] == "lifecycle"]
        self.assertEqual(lifecycle[-1]["phase"], "error")
        self.assertEqual(lifecycle[-1]["error"], NO_CONTENT)
        chat = await ws.chat_terminal("empty-1")
        self.assertEqual(chat["payload"]["state"], "error")
        self.assertEqual(chat["payload"]["errorMessage"], NO_CONTENT)
        last = [r for r in stack.transcript() if r["type"] == "message"][-1]["message"]
        self.assertEqual((last["role"], last["stopReason"], last["content"]),
                         ("assistant", "error", []))
        self.assertEqual(last["errorMessage"], NO_CONTENT)
