"""Heartbeat turns: scheduled on a Clock, run by the real runtime against a scripted
upstream, reported with upstream's ``heartbeat`` event; ``set-heartbeats`` and
``last-heartbeat`` over a real WebSocket."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.agents.heartbeat import (
    DEFAULT_PROMPT,
    NO_ROUTE_MESSAGE,
    TARGET_NONE_MESSAGE,
    HeartbeatService,
    acknowledgement,
    checklist_text,
    parse_every_ms,
)
from openclaw.gateway.methods.heartbeat import heartbeat_emitter, set_heartbeats_spec
from tests.agents.support import AgentStack
from tests.upstream import openai_text


def write_checklist(stack: AgentStack, text: str) -> None:
    with open(os.path.join(stack.workspace, "HEARTBEAT.md"), "w") as f:
        f.write(text)


class Events:
    """The emitted events; ``next()`` fires with the next one."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self._waiters: list[Deferred[dict[str, Any]]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.seen.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(event)

    def next(self) -> Deferred[dict[str, Any]]:
        waiter: Deferred[dict[str, Any]] = Deferred()
        self._waiters.append(waiter)
        return waiter


class HeartbeatServiceTests(TestCase):
    timeout = 30

    async def make(self, heartbeat: dict[str, Any]) -> tuple[AgentStack, HeartbeatService,
                                                             Clock, Events]:
        stack = AgentStack()
        await stack.start({"agents": {"defaults": {"heartbeat": heartbeat}}})
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        clock, events = Clock(), Events()
        service = HeartbeatService(clock, stack.runtime, events)
        service.startService()
        self.addCleanup(service.stopService)
        os.makedirs(stack.workspace, exist_ok=True)
        return stack, service, clock, events

    def user_text(self, stack: AgentStack) -> str:
        messages = stack.upstream.requests[-1].json["messages"]
        return str([m for m in messages if m["role"] == "user"][-1]["content"])

    async def test_scheduled_turn_with_checklist_and_alert_without_route(self) -> None:
        stack, service, clock, events = await self.make({"every": "30m", "target": "none"})
        write_checklist(stack, "# Checklist\n- check the build\n")
        stack.upstream.script(openai_text("The build is red!"))
        clock.advance(29 * 60)
        self.assertEqual(events.seen, [])
        arrived = events.next()
        clock.advance(60)
        event = await arrived
        self.assertEqual(event["status"], "skipped")
        self.assertEqual(event["reason"], "target-none")
        self.assertEqual(event["message"], TARGET_NONE_MESSAGE)
        self.assertEqual(event["preview"], "The build is red!")
        self.assertIsInstance(event["ts"], int)
        self.assertIsInstance(event["durationMs"], int)
        sent = self.user_text(stack)
        self.assertTrue(sent.startswith(DEFAULT_PROMPT))
        self.assertIn("- check the build", sent)
        self.assertEqual(service.last, event)
        # the next interval is scheduled on the same clock
        self.assertEqual(len(clock.getDelayedCalls()), 1)

    async def test_outcomes(self) -> None:
        stack, service, clock, events = await self.make({"every": "1h", "target": "none"})
        stack.upstream.script(openai_text("NO_REPLY"))
        event = await service.run_once("main")
        self.assertEqual((event["status"], event["silent"], event["indicatorType"]),
                         ("ok-token", True, "ok"))
        # no channel can take an alert: skipped before any model call
        await stack.start_config({"agents": {"defaults": {"heartbeat": {"every": "1h"}}}})
        requests = len(stack.upstream.requests)
        event = await service.run_once("main")
        self.assertEqual((event["status"], event["reason"], event["message"]),
                         ("skipped", "no-route", NO_ROUTE_MESSAGE))
        self.assertEqual(len(stack.upstream.requests), requests)
        delivered: list[dict[str, Any]] = []

        async def deliver(request: dict[str, Any]) -> dict[str, Any]:
            delivered.append(request)
            return {"messageId": "m1"}

        service.deliver = lambda: deliver
        await stack.start_config({"agents": {"defaults": {"heartbeat": {
            "every": "1h", "target": "telegram", "to": "12345"}}}})
        stack.upstream.script(openai_text("Your flight is delayed."))
        event = await service.run_once("main")
        self.assertEqual((event["status"], event["to"], event["channel"],
                          event["indicatorType"]), ("sent", "12345", "telegram", "alert"))
        self.assertEqual(delivered[0]["message"], "Your flight is delayed.")
        # a failed turn
        from tests.upstream import error_reply

        stack.upstream.script(*(error_reply(500, "down") for _ in range(3)))
        event = await service.run_once("main")
        self.assertEqual((event["status"], event["indicatorType"]), ("failed", "error"))
        self.assertIn("500", event["reason"])
        # paused with set-heartbeats
        service.set_enabled(False)
        requests = len(stack.upstream.requests)
        event = await service.run_once("main")
        self.assertEqual((event["status"], event["reason"]), ("skipped", "disabled"))
        service.set_enabled(True)
        write_checklist(stack, "# Heartbeat\n\n## Nothing yet\n")
        event = await service.run_once("main")
        self.assertEqual((event["status"], event["reason"]),
                         ("skipped", "empty-heartbeat-file"))
        self.assertEqual(len(stack.upstream.requests), requests)

    async def test_off_and_rescheduled_on_reload(self) -> None:
        stack, service, clock, _ = await self.make({"every": "0m"})
        self.assertEqual(clock.getDelayedCalls(), [])
        await stack.start_config({"agents": {"defaults": {"heartbeat": {"every": "5m"}}}})
        service.reconfig_service(None)
        (call,) = clock.getDelayedCalls()
        self.assertEqual(call.getTime(), 300)

    async def test_wire_methods_and_event(self) -> None:
        stack, service, _clock, _events = await self.make({"every": "1h", "target": "none"})
        service.emit = heartbeat_emitter(stack.context)
        stack.factory.methods.register(set_heartbeats_spec(service))
        ws = await stack.client()
        hello = ws.frames[-1]["payload"]
        self.assertIn("heartbeat", hello["features"]["events"])
        self.assertIn("set-heartbeats", hello["features"]["methods"])
        self.assertIsNone((await ws.call("last-heartbeat"))["payload"])
        bad = await ws.call("set-heartbeats", {"enabled": "yes"})
        self.assertEqual(bad["error"]["message"],
                         "invalid set-heartbeats params: enabled (boolean) required")
        off = await ws.call("set-heartbeats", {"enabled": False})
        self.assertEqual(off["payload"], {"ok": True, "enabled": False})
        arrived = ws.wait_for(lambda f: f.get("event") == "heartbeat")
        await service.run_once("main")
        frame = await arrived
        self.assertEqual(frame["payload"]["reason"], "disabled")
        last = await ws.call("last-heartbeat")
        self.assertEqual(last["payload"], frame["payload"])


class HeartbeatTextTests(SynchronousTestCase):
    def test_helpers(self) -> None:
        self.assertEqual(parse_every_ms(None), 30 * 60_000)
        self.assertEqual(parse_every_ms("1h30m"), 90 * 60_000)
        self.assertIsNone(parse_every_ms("0m"))
        self.assertIsNone(parse_every_ms("soon"))
        self.assertTrue(acknowledgement("HEARTBEAT_OK"))
        self.assertTrue(acknowledgement("all quiet HEARTBEAT_OK"))
        self.assertTrue(acknowledgement("no_reply"))
        self.assertFalse(acknowledgement("HEARTBEAT_OK " + "x" * 301))
        self.assertFalse(acknowledgement("the HEARTBEAT_OK middle"))
        self.assertIsNone(checklist_text("# Title\n\n## Sub\n"))
        self.assertEqual(checklist_text("# T\n- a\n"), "# T\n- a")
