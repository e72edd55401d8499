"""Transcripts survive ``kill -9`` of a real gateway process mid-run.

The gateway is a real ``python -m openclaw gateway`` child; the model upstream is a scripted
OpenAI-compatible server in this test process. Turn 1 completes; turn 2 is acknowledged and
streams a partial answer, then the upstream stalls and the gateway gets SIGKILL. Every record
on disk must parse, the acknowledged user message must be there, and a restarted gateway must
serve the history and run the next turn on the same session.
"""

# ruff: noqa: ASYNC230  (small reads of files the gateway wrote, in tests)

from __future__ import annotations

import itertools
import json
import os
import signal
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.agents.support import TOKEN, WsClient
from tests.support import GatewayProcess, free_port, isolated_env, write_config
from tests.upstream import ScriptedUpstream, openai_text, stall


def _records(path: str) -> list[dict[str, Any]]:
    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines = lines[:-1]
    return [json.loads(line) for line in lines]   # raises on any torn record


class KillNineTests(TestCase):
    timeout = 90

    async def start_gateway(self, env: dict[str, str], port: int) -> GatewayProcess:
        gateway = GatewayProcess(env, ["--port", str(port)]).start()
        self.addCleanup(gateway.kill)
        await deferToThread(gateway.wait_healthy, port, 30.0)
        return gateway

    async def test_transcript_intact_after_sigkill_mid_run(self) -> None:
        upstream = ScriptedUpstream()
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        env = isolated_env(self.mktemp())
        write_config(env, {
            "gateway": {"mode": "local", "auth": {"token": TOKEN}},
            "models": {"providers": {"scripted": {
                "baseUrl": upstream.base_url, "apiKey": "k",
                "models": [{"id": "m1", "name": "m1"}]}}},
            "agents": {"defaults": {"model": "scripted/m1"}},
        })
        port = free_port()
        gateway = await self.start_gateway(env, port)
        ws = WsClient(port)
        await ws.open()
        upstream.script(openai_text(["first ", "answer"]))
        await ws.call("chat.send", {"sessionKey": "main", "message": "turn one",
                                    "idempotencyKey": "k-1"})
        await ws.chat_terminal("k-1", timeout=20)
        upstream.script(stall(["half an ", "answer"]))
        ack = await ws.call("chat.send", {"sessionKey": "main", "message": "turn two",
                                          "idempotencyKey": "k-2"})
        self.assertEqual(ack["payload"]["status"], "started")
        await ws.wait_for(lambda f: f.get("event") == "chat"
                          and f["payload"].get("runId") == "k-2"
                          and f["payload"].get("state") == "delta", timeout=20)
        assert gateway.proc is not None
        gateway.proc.send_signal(signal.SIGKILL)
        code = await deferToThread(gateway.proc.wait, 20)
        self.assertEqual(code, -signal.SIGKILL)
        ws.close()

        sessions_dir = os.path.join(env["OPENCLAW_STATE_DIR"], "agents", "main", "sessions")
        with open(os.path.join(sessions_dir, "sessions.json")) as handle:
            index = json.load(handle)
        entry = index["agent:main:main"]
        records = _records(os.path.join(sessions_dir, f"{entry['sessionId']}.jsonl"))
        self.assertEqual(records[0]["type"], "session")
        messages = [r["message"] for r in records if r["type"] == "message"]
        self.assertEqual([m["role"] for m in messages], ["user", "assistant", "user"])
        self.assertEqual(messages[0]["content"], "turn one")
        self.assertEqual(messages[1]["content"][0]["text"], "first answer")
        self.assertEqual(messages[2]["content"], "turn two")
        ids = [r["id"] for r in records[1:]]
        self.assertEqual(len(ids), len(set(ids)))
        for parent, child in itertools.pairwise(records[1:]):
            self.assertEqual(child["parentId"], parent["id"])

        # restart: history is served and the session continues on the same transcript
        gateway = await self.start_gateway(env, port)
        ws = WsClient(port)
        await ws.open()
        history = await ws.call("chat.history", {"sessionKey": "main"})
        self.assertEqual([m["role"] for m in history["payload"]["messages"]],
                         ["user", "assistant", "user"])
        self.assertEqual(history["payload"]["sessionId"], entry["sessionId"])
        upstream.script(openai_text("third answer"))
        await ws.call("chat.send", {"sessionKey": "main", "message": "turn three",
                                    "idempotencyKey": "k-3"})
        final = await ws.chat_terminal("k-3", timeout=20)
        self.assertEqual(final["payload"]["state"], "final")
        sent = upstream.requests[-1].json["messages"]
        # the interrupted turn's user message is part of the context
        self.assertIn({"role": "user", "content": "turn two"}, sent)
        ws.close()
        gateway.terminate(signal.SIGTERM)
        records = _records(os.path.join(sessions_dir, f"{entry['sessionId']}.jsonl"))
        roles = [r["message"]["role"] for r in records if r["type"] == "message"]
        self.assertEqual(roles, ["user", "assistant", "user", "user", "assistant"])
