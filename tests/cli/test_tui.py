"""``openclaw tui`` in a real terminal (a pty read into a VT100 screen) against a gateway
WebSocket stack on loopback and a scripted OpenAI-compatible upstream; plus the conversation
model it renders."""

from __future__ import annotations

import os
import sys
import tempfile

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.cli.tui import Conversation
from tests.agents.support import TOKEN, AgentStack
from tests.cli.terminal import Terminal
from tests.upstream import openai_text, openai_tool_call, stall


class TuiTerminalTests(TestCase):
    timeout = 90

    async def test_chat_stream_abort_and_reconnect(self) -> None:
        stack = AgentStack()
        await stack.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        # the history shown on open
        ws = await stack.client()
        stack.upstream.script(openai_text("Earlier answer."))
        await ws.call("agent", {"message": "Earlier question", "idempotencyKey": "h-1"},
                      final=True)
        home = tempfile.mkdtemp(prefix="oc-tui-")
        env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "TERM": "xterm-256color", "LANG": "C.UTF-8"}
        term = Terminal([sys.executable, "-m", "openclaw", "tui", "--url",
                         f"ws://127.0.0.1:{stack.port_number}", "--token", TOKEN,
                         "--history-limit", "50"], env)
        self.addCleanup(term.close)
        screen = await deferToThread(term.wait_text, "· connected ·")
        self.assertIn("you: Earlier question", screen)
        self.assertIn("assistant: Earlier answer.", screen)

        # a message; the answer streams in
        stack.upstream.script(openai_text(["The capital ", "is ", "Paris."], delay=0.05))
        term.send("What is the capital of France?\r")
        screen = await deferToThread(term.wait_text, "assistant: The capital is Paris.")
        self.assertIn("you: What is the capital of France?", screen)
        await deferToThread(term.wait_text, "· idle")
        deltas = [f for f in ws.events("chat") if f["payload"]["state"] == "delta"]
        self.assertTrue(deltas)

        # a tool call shows as it runs, then its result
        stack.upstream.script(openai_tool_call("read", {"path": "AGENTS.md"}),
                              openai_text("I read it."))
        term.send("Read AGENTS.md\r")
        screen = await deferToThread(term.wait_text, "assistant: I read it.")
        self.assertIn('✓ read AGENTS.md', screen)
        await deferToThread(term.wait_text, "· idle")

        # a running turn, aborted with Esc: the provider request is cancelled
        stack.upstream.script(stall(["Thinking about it"]))
        disconnected = stack.upstream.wait_disconnect()
        term.send("Tell me a long story\r")
        await deferToThread(term.wait_text, "assistant: Thinking about it")
        self.assertIn("running", term.text())
        term.send("\x1b")
        screen = await deferToThread(term.wait_text, "— aborted —")
        await disconnected
        await deferToThread(term.wait_text, "· idle")
        records = stack.transcript()
        last = [r for r in records if r["type"] == "message"][-1]["message"]
        self.assertEqual(last["stopReason"], "aborted")

        # the gateway goes away saying why, and comes back: the TUI reconnects
        await stack.factory.shutdown("gateway restarting", 1500, timeout=2)
        screen = await deferToThread(term.wait_text, "gateway restarting")
        stack.factory.start()
        await deferToThread(
            term.wait_text, "reconnected (the gateway said: gateway restarting)")
        # the status line is redrawn after the notice: wait for it, not for a fixed moment
        screen = await deferToThread(term.wait_text, "· connected ·")
        self.assertIn("you: What is the capital of France?", screen)


class ConversationTests(SynchronousTestCase):
    def chat(self, **payload: object) -> dict[str, object]:
        return {"type": "event", "event": "chat",
                "payload": {"sessionKey": "agent:main:main", "runId": "r1", **payload}}

    def test_history_deltas_tools_and_end_states(self) -> None:
        conversation = Conversation(session_key="agent:main:main")
        conversation.load_history([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"},
                                              {"type": "toolCall", "name": "read",
                                               "arguments": {"path": "a"}}]},
            {"role": "toolResult", "toolName": "read", "isError": False},
            {"role": "assistant", "content": [], "stopReason": "error",
             "errorMessage": "model returned no content"}])
        self.assertEqual(conversation.render().splitlines()[:4],
                         ["you: hi", "assistant: hello", "", '  ⚙ read {"path": "a"}'])
        self.assertIn("error: model returned no content", conversation.render())
        conversation.run_id = "r1"
        self.assertTrue(conversation.on_event(self.chat(state="delta", deltaText="Par")))
        self.assertTrue(conversation.on_event(self.chat(state="delta", deltaText="is")))
        self.assertIn("assistant: Paris", conversation.render())
        conversation.on_event(self.chat(state="delta", deltaText="Lyon", replace=True))
        self.assertIn("assistant: Lyon", conversation.render())
        conversation.on_event({"type": "event", "event": "agent", "payload": {
            "runId": "r1", "sessionKey": "agent:main:main", "stream": "tool",
            "data": {"phase": "start", "name": "exec", "toolCallId": "c1",
                     "args": {"command": "ls"}}}})
        self.assertIn('⚙ exec {"command": "ls"} …', conversation.render())
        conversation.on_event({"type": "event", "event": "agent", "payload": {
            "runId": "r1", "sessionKey": "agent:main:main", "stream": "tool",
            "data": {"phase": "result", "name": "exec", "toolCallId": "c1",
                     "isError": True, "meta": "ls"}}})
        self.assertIn("✗ exec ls", conversation.render())
        conversation.on_event(self.chat(state="error", errorMessage="boom"))
        self.assertIsNone(conversation.run_id)
        self.assertIn("error: boom", conversation.render())
        # another session's events are not shown
        self.assertFalse(conversation.on_event({"type": "event", "event": "chat", "payload": {
            "sessionKey": "agent:main:other", "runId": "x", "state": "delta",
            "deltaText": "no"}}))
        conversation.on_event({"type": "event", "event": "shutdown",
                               "payload": {"reason": "gateway restarting"}})
        self.assertEqual(conversation.shutdown_reason, "gateway restarting")
