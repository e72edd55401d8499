"""sessions.* methods over a real WebSocket, against transcripts written by real runs."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from tests.agents.support import AgentStack, roles
from tests.upstream import openai_text


class SessionsMethodTests(TestCase):
    timeout = 30

    async def make(self, config: dict[str, Any] | None = None) -> AgentStack:
        stack = AgentStack()
        await stack.start(config)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack

    async def turn(self, stack: AgentStack, ws: Any, key: str, message: str, run_id: str,
                   answer: str = "ok") -> None:
        stack.upstream.script(openai_text(answer))
        await ws.call("chat.send", {"sessionKey": key, "message": message,
                                    "idempotencyKey": run_id})
        await ws.chat_terminal(run_id)

    async def test_list_preview_patch_reset_delete(self) -> None:
        stack = await self.make()
        ws = await stack.client()
        sub = await stack.client()
        self.assertEqual((await sub.call("sessions.subscribe", {}))["payload"],
                         {"subscribed": True})
        await self.turn(stack, ws, "main", "hello main", "s1", "hi there")
        await self.turn(stack, ws, "agent:main:discord:group:42", "hello group", "s2", "yo")
        listed = await ws.call("sessions.list", {"includeLastMessage": True,
                                                 "includeDerivedTitles": True})
        payload = listed["payload"]
        self.assertEqual(payload["count"], 2)
        self.assertTrue(payload["path"].endswith(os.path.join("agents", "main", "sessions",
                                                              "sessions.json")))
        self.assertEqual(payload["defaults"]["modelProvider"], "scripted")
        self.assertEqual(payload["defaults"]["model"], "m1")
        self.assertEqual(payload["defaults"]["contextTokens"], 8192)
        rows = {row["key"]: row for row in payload["sessions"]}
        self.assertEqual(rows["agent:main:main"]["kind"], "direct")
        self.assertEqual(rows["agent:main:discord:group:42"]["kind"], "group")
        self.assertEqual(rows["agent:main:discord:group:42"]["channel"], "discord")
        main = rows["agent:main:main"]
        for field in ("sessionId", "updatedAt", "inputTokens", "outputTokens", "totalTokens",
                      "model", "modelProvider", "status"):
            self.assertIn(field, main)
        self.assertEqual(main["derivedTitle"], "hello main")
        self.assertEqual(main["lastMessagePreview"], "hi there")
        self.assertEqual(main["status"], "done")
        preview = await ws.call("sessions.preview", {"keys": ["main", "agent:main:nope"]})
        previews = preview["payload"]["previews"]
        self.assertEqual(previews[0]["status"], "ok")
        self.assertEqual(previews[0]["items"], [{"role": "user", "text": "hello main"},
                                                {"role": "assistant", "text": "hi there"}])
        self.assertEqual(previews[1], {"key": "agent:main:nope", "status": "missing",
                                       "items": []})
        patched = await ws.call("sessions.patch", {"key": "main", "label": "Main chat",
                                                   "model": "scripted/m1",
                                                   "thinkingLevel": "low"})
        self.assertTrue(patched["payload"]["ok"])
        self.assertEqual(patched["payload"]["entry"]["label"], "Main chat")
        self.assertEqual(patched["payload"]["resolved"],
                         {"modelProvider": "scripted", "model": "m1"})
        cleared = await ws.call("sessions.patch", {"key": "main", "thinkingLevel": None})
        self.assertNotIn("thinkingLevel", cleared["payload"]["entry"])
        old_id = main["sessionId"]
        reset = await ws.call("sessions.reset", {"key": "main", "reason": "new"})
        self.assertTrue(reset["payload"]["ok"])
        self.assertNotEqual(reset["payload"]["entry"]["sessionId"], old_id)
        self.assertEqual(reset["payload"]["entry"]["label"], "Main chat")
        directory = os.path.join(stack.state_dir, "agents", "main", "sessions")
        archived = [n for n in os.listdir(directory) if n.startswith(f"{old_id}.jsonl.reset.")]
        self.assertEqual(len(archived), 1)
        history = await ws.call("chat.history", {"sessionKey": "main"})
        self.assertEqual(history["payload"]["messages"], [])
        deleted = await ws.call("sessions.delete", {"key": "agent:main:discord:group:42"})
        self.assertEqual(deleted["payload"]["deleted"], True)
        self.assertEqual(len(deleted["payload"]["archived"]), 1)
        self.assertIn(".jsonl.deleted.", deleted["payload"]["archived"][0])
        main_delete = await ws.call("sessions.delete", {"key": "main"})
        self.assertIn("Cannot delete the main session", main_delete["error"]["message"])
        reasons = [f["payload"].get("reason") or f["payload"].get("phase")
                   for f in sub.events("sessions.changed")]
        for reason in ("create", "patch", "reset", "delete", "start", "end"):
            self.assertIn(reason, reasons)
        self.assertTrue(sub.events("session.message"))

    async def test_compact(self) -> None:
        stack = await self.make()
        ws = await stack.client()
        for index in range(3):
            await self.turn(stack, ws, "main", f"q{index}", f"c{index}", f"a{index}")
        result = await ws.call("sessions.compact", {"key": "main", "maxLines": 3})
        self.assertEqual(result["payload"], {"ok": True, "key": "agent:main:main",
                                             "compacted": True, "kept": 3})
        records = stack.transcript()
        self.assertEqual(records[0]["type"], "session", records)
        self.assertEqual(len(records), 4)
        self.assertEqual(roles(records), ["assistant", "user", "assistant"])
        # the next turn continues the compacted transcript
        await self.turn(stack, ws, "main", "next", "c9", "fine")
        sent = stack.upstream.requests[-1].json["messages"]
        self.assertEqual([m["role"] for m in sent],
                         ["system", "assistant", "user", "assistant", "user"])
        nothing = await ws.call("sessions.compact", {"key": "main"})
        self.assertEqual(nothing["payload"]["compacted"], False)
