"""A run's event log: live iterators, observers and late replays see the same events, with the
cumulative assistant text rebuilt for replays."""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.agents.runtime import RunHandle, RunRequest, RunResult
from tests.agents.support import AgentStack
from tests.upstream import openai_text, openai_tool_call


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def run_event(self, handle: RunHandle, event: dict[str, Any]) -> None:
        self.events.append(event)

    def run_finished(self, handle: RunHandle, result: RunResult) -> None:
        pass


class EventLogTests(TestCase):
    timeout = 30

    async def test_live_observed_and_replayed_events_agree(self) -> None:
        stack = AgentStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        await stack.start({"agents": {"defaults": {"skipBootstrap": True}}})
        recorder = Recorder()
        stack.runtime.observers.append(recorder)
        pieces = [f"p{i} " for i in range(300)]
        stack.upstream.script(
            openai_tool_call("session_status", {}, text="Let me check. "),
            openai_text(pieces))
        handle = stack.runtime.start(RunRequest(message="status?", run_id=str(uuid.uuid4()),
                                                session_key="agent:main:main"))
        live: list[dict[str, Any]] = []
        midway: list[dict[str, Any]] = []
        late_start: Deferred[None] = Deferred()

        async def late() -> None:
            # an iterator that starts while the run is streaming replays what it missed
            async for event in handle.events():
                midway.append(event)
                if len(midway) == 1:
                    late_start.callback(None)

        async for event in handle.events():
            live.append(event)
            if event["stream"] == "assistant" and event["data"]["delta"] == "p150 ":
                Deferred.fromCoroutine(late())
        result = await handle.result
        self.assertEqual(result.status, "ok", result.error)
        await late_start
        replayed = [event async for event in handle.events()]
        self.assertEqual(live, recorder.events)
        self.assertEqual(replayed, live)
        self.assertEqual(midway, live)
        self.assertEqual([e["seq"] for e in live], list(range(1, len(live) + 1)))
        texts = [e["data"]["text"] for e in live if e["stream"] == "assistant"]
        self.assertEqual(texts[0], "Let me check. ")
        self.assertEqual(texts[1], "p0 ")             # the second model call starts again
        self.assertEqual(texts[-1], "".join(pieces))
        self.assertEqual(result.text, "".join(pieces))
