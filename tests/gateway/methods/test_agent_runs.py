"""``agent`` (two-stage), ``agent.wait``, ``agent.identity.get`` over a real WebSocket."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from tests.agents.support import AgentStack
from tests.upstream import error_reply, openai_text, stall


class AgentMethodTests(TestCase):
    timeout = 30

    async def make(self, config: dict[str, Any] | None = None) -> AgentStack:
        stack = AgentStack()
        await stack.start(config)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack

    async def test_two_stage_response(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["sum", "mary"], delay=0.02))
        ws = await stack.client()
        rid = ws.send("agent", {"message": "summarize", "sessionKey": "agent:main:main",
                                "idempotencyKey": "run-9"})
        first = await ws.response(rid)
        self.assertTrue(first["ok"])
        self.assertEqual(first["payload"]["runId"], "run-9")
        self.assertEqual(first["payload"]["status"], "accepted")
        self.assertIsInstance(first["payload"]["acceptedAt"], int)
        final = await ws.response(rid, final=True)
        self.assertTrue(final["ok"])
        payload = final["payload"]
        self.assertEqual(payload["runId"], "run-9")
        self.assertEqual(payload["status"], "ok")
        self.assertEqual(payload["summary"], "completed")
        self.assertEqual(payload["result"]["payloads"], [{"text": "summary", "mediaUrl": None}])
        self.assertIsInstance(payload["result"]["meta"]["durationMs"], int)
        responses = [f for f in ws.frames if f.get("type") == "res" and f.get("id") == rid]
        self.assertEqual(len(responses), 2)
        # ack first, then the run's events, then the final res
        ack_at = ws.frames.index(responses[0])
        events = [i for i, f in enumerate(ws.frames) if f.get("event") == "agent"]
        self.assertLess(ack_at, events[0])
        self.assertLess(events[-1], ws.frames.index(responses[1]))
        # retry after completion: the cached final, one frame
        again = await ws.call("agent", {"message": "summarize", "idempotencyKey": "run-9"})
        self.assertEqual(again["payload"], payload)
        waited = await ws.call("agent.wait", {"runId": "run-9", "timeoutMs": 1000})
        self.assertEqual(waited["payload"]["status"], "ok")
        self.assertEqual(waited["payload"]["runId"], "run-9")
        self.assertLessEqual(waited["payload"]["startedAt"], waited["payload"]["endedAt"])

    async def test_retry_while_running_is_in_flight(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text(["slow"], first_delay=0.3))
        ws = await stack.client()
        rid = ws.send("agent", {"message": "x", "idempotencyKey": "dup"})
        await ws.response(rid)
        retry = await ws.call("agent", {"message": "x", "idempotencyKey": "dup"})
        self.assertEqual(retry["payload"], {"runId": "dup", "status": "in_flight"})
        wait = await ws.call("agent.wait", {"runId": "dup", "timeoutMs": 5000}, timeout=10)
        self.assertEqual(wait["payload"]["status"], "ok")
        self.assertEqual(len(stack.upstream.requests), 1)

    async def test_failure_is_second_response(self) -> None:
        stack = await self.make()
        stack.upstream.script(*(error_reply(503, "overloaded") for _ in range(3)))
        ws = await stack.client()
        rid = ws.send("agent", {"message": "x", "idempotencyKey": "bad"})
        self.assertEqual((await ws.response(rid))["payload"]["status"], "accepted")
        final = await ws.response(rid, final=True, timeout=15)
        self.assertFalse(final["ok"])
        self.assertEqual(final["error"]["code"], "UNAVAILABLE")
        self.assertIn("HTTP 503", final["error"]["message"])
        # the upstream final shape beside the error
        self.assertEqual(final["payload"], {"runId": "bad", "status": "error",
                                            "summary": final["error"]["message"]})
        waited = await ws.call("agent.wait", {"runId": "bad", "timeoutMs": 100})
        self.assertEqual(waited["payload"]["status"], "error")
        self.assertIn("503", waited["payload"]["error"])

    async def test_wait_timeout_does_not_stop_the_run(self) -> None:
        stack = await self.make()
        stack.upstream.script(openai_text("late", first_delay=0.5))
        ws = await stack.client()
        rid = ws.send("agent", {"message": "x", "idempotencyKey": "w1"})
        await ws.response(rid)
        waited = await ws.call("agent.wait", {"runId": "w1", "timeoutMs": 50})
        self.assertEqual(waited["payload"], {"runId": "w1", "status": "timeout"})
        final = await ws.response(rid, final=True)
        self.assertEqual(final["payload"]["status"], "ok")

    async def test_validation_errors_single_response(self) -> None:
        stack = await self.make()
        ws = await stack.client()
        bad_agent = await ws.call("agent", {"message": "x", "agentId": "nobody",
                                            "idempotencyKey": "v1"})
        self.assertEqual(bad_agent["error"]["code"], "INVALID_REQUEST")
        self.assertIn('unknown agent id "nobody"', bad_agent["error"]["message"])
        malformed = await ws.call("agent", {"message": "x", "sessionKey": "agent:",
                                            "idempotencyKey": "v2"})
        self.assertIn("malformed session key", malformed["error"]["message"])
        missing = await ws.call("agent", {"message": "x"})
        self.assertEqual(missing["error"]["message"],
                         "invalid agent params: must have required property 'idempotencyKey'")
        empty = await ws.call("chat.send", {"sessionKey": "main", "message": " ",
                                            "idempotencyKey": "v3"})
        self.assertEqual(empty["error"]["message"], "message or attachment required")
        reader = await stack.client(scopes=["operator.read"])
        denied = await reader.call("chat.send", {"sessionKey": "main", "message": "x",
                                                 "idempotencyKey": "v4"})
        self.assertEqual(denied["error"]["code"], "FORBIDDEN")

    async def test_run_timeout_aborts_provider_request(self) -> None:
        stack = await self.make({"agents": {"defaults": {"timeoutSeconds": 1}}})
        stack.upstream.script(stall(["thinking"]))
        ws = await stack.client()
        disconnected = stack.upstream.wait_disconnect()
        await ws.call("chat.send", {"sessionKey": "main", "message": "x",
                                    "idempotencyKey": "slow"})
        terminal = await ws.chat_terminal("slow", timeout=10)
        self.assertEqual(terminal["payload"]["state"], "error")
        self.assertEqual(terminal["payload"]["errorKind"], "timeout")
        await disconnected

    async def test_identity_and_hello_features(self) -> None:
        stack = await self.make({"agents": {"entries": {"main": {
            "name": "Main", "identity": {"name": "Claw", "emoji": "🦞"}}}}})
        ws = await stack.client()
        identity = await ws.call("agent.identity.get", {})
        self.assertEqual(identity["payload"], {"agentId": "main", "name": "Claw",
                                               "nameSource": "config", "avatar": "🦞",
                                               "avatarStatus": "none", "emoji": "🦞"})
        hello = next(f for f in ws.frames if (f.get("payload") or {}).get("type") == "hello-ok")
        methods = hello["payload"]["features"]["methods"]
        for name in ("agent", "agent.wait", "chat.send", "chat.abort", "chat.history",
                     "sessions.list", "sessions.preview", "sessions.patch", "sessions.reset",
                     "sessions.delete", "sessions.compact", "send", "wake"):
            self.assertIn(name, methods)
        events = hello["payload"]["features"]["events"]
        for name in ("agent", "chat", "sessions.changed", "session.message", "session.tool"):
            self.assertIn(name, events)
