"""Cron: schedules (at, every, cron with zones and stagger, error backoff), the service on a
fake clock running real turns against a scripted upstream, persistence across a restart, and
``cron.*`` over a real WebSocket with the ``cron`` event."""

from __future__ import annotations

import os
import uuid
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.agents.cron import (
    CronService,
    next_run_ms,
    normalize_create,
    parse_at,
    stable_offset_ms,
    stagger_ms,
    valid_cron_expr,
)
from openclaw.blocking import run_inline
from openclaw.gateway.methods.cron import CronMethods
from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.session import ClientSession
from openclaw.state_db import SerialWriter, SqliteDatabase
from tests.agents.support import AgentStack
from tests.builder import GatewayFixture
from tests.upstream import ScriptedUpstream, openai_text
from tests.ws_client import WsClient

T0 = 1_796_558_400_000            # 2026-12-06T12:00:00Z
HOUR = 3_600_000


def job(schedule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "job-1", "createdAtMs": T0, "schedule": schedule, "state": {}, **extra}


class ScheduleTests(SynchronousTestCase):
    def test_every_is_anchored(self) -> None:
        every = job({"kind": "every", "everyMs": 60_000, "anchorMs": T0})
        self.assertEqual(next_run_ms(every, T0 - 5), T0)
        self.assertEqual(next_run_ms(every, T0), T0 + 60_000)
        self.assertEqual(next_run_ms(every, T0 + 61_000), T0 + 120_000)

    def test_at_runs_once(self) -> None:
        once = job({"kind": "at", "at": "2026-12-06T13:00:00Z"})
        self.assertEqual(next_run_ms(once, T0), T0 + HOUR)
        once["state"]["lastRunAtMs"] = T0 + HOUR
        self.assertIsNone(next_run_ms(once, T0 + HOUR))
        self.assertEqual(parse_at("2026-12-06T14:00:00", "Europe/Paris"), T0 + HOUR)

    def test_cron_expressions_zones_and_seconds(self) -> None:
        daily = job({"kind": "cron", "expr": "0 3 * * *", "tz": "UTC"})
        self.assertEqual(next_run_ms(daily, T0), T0 + 15 * HOUR)
        tokyo = job({"kind": "cron", "expr": "0 3 * * *", "tz": "Asia/Tokyo"})
        self.assertEqual(next_run_ms(tokyo, T0), T0 + 6 * HOUR)      # 03:00 JST = 18:00Z
        seconds = job({"kind": "cron", "expr": "30 * * * * *", "tz": "UTC"})
        self.assertEqual(next_run_ms(seconds, T0), T0 + 30_000)
        self.assertTrue(valid_cron_expr("*/5 * * * *"))
        self.assertFalse(valid_cron_expr("every day"))
        self.assertFalse(valid_cron_expr("* * *"))

    def test_top_of_hour_is_staggered_stably(self) -> None:
        self.assertEqual(stagger_ms({"expr": "0 * * * *"}), 300_000)
        self.assertEqual(stagger_ms({"expr": "0 */2 * * *"}), 300_000)
        self.assertEqual(stagger_ms({"expr": "0 3 * * *"}), 0)
        self.assertEqual(stagger_ms({"expr": "0 * * * *", "staggerMs": 0}), 0)
        hourly = job({"kind": "cron", "expr": "0 * * * *", "tz": "UTC"})
        offset = stable_offset_ms("job-1", 300_000)
        self.assertEqual(next_run_ms(hourly, T0), T0 + HOUR + offset
                         if offset == 0 else T0 + offset)
        self.assertEqual(stable_offset_ms("job-1", 300_000), offset)

    def test_errors_back_off(self) -> None:
        every = job({"kind": "every", "everyMs": 1000, "anchorMs": T0},
                    state={"lastRunStatus": "error", "lastRunAtMs": T0, "lastDurationMs": 500,
                           "consecutiveErrors": 3})
        self.assertEqual(next_run_ms(every, T0 + 600), T0 + 500 + 300_000)

    def test_normalized_job(self) -> None:
        created = normalize_create({"name": " probe ", "schedule": {"kind": "every",
                                                                     "everyMs": HOUR},
                                    "sessionTarget": "isolated", "wakeMode": "now",
                                    "payload": {"kind": "agentTurn", "message": "hi"}}, T0)
        self.assertEqual(created["name"], "probe")
        self.assertEqual(created["schedule"]["anchorMs"], T0)
        self.assertEqual(created["payload"]["toolsAllow"], ["*"])
        self.assertEqual(created["delivery"], {"mode": "announce"})
        self.assertEqual(created["scheduledToolPolicy"], {"version": 1, "mode": "trusted"})


class Events:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self._waiters: list[tuple[str, Deferred[dict[str, Any]]]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.seen.append(event)
        for action, waiter in list(self._waiters):
            if event["action"] == action:
                self._waiters.remove((action, waiter))
                waiter.callback(event)

    def next(self, action: str) -> Deferred[dict[str, Any]]:
        waiter: Deferred[dict[str, Any]] = Deferred()
        self._waiters.append((action, waiter))
        return waiter


ADMIN = ClientSession("c1", "operator", ("operator.admin", "operator.read"), 4,
                      {"id": "cli", "mode": "cli"})


class CronServiceTests(TestCase):
    timeout = 60

    async def make(self) -> tuple[AgentStack, CronService, Clock, Events, CronMethods]:
        stack = AgentStack()
        await stack.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        self.db_path = os.path.join(self.mktemp(), "gateway.sqlite")
        return (stack, *self.service(stack))

    def service(self, stack: AgentStack, at_ms: int = T0
                ) -> tuple[CronService, Clock, Events, CronMethods]:
        clock = Clock()
        clock.advance(at_ms / 1000)
        events = Events()
        db = SqliteDatabase(self.db_path)
        service = CronService(clock, stack.runtime, db, SerialWriter(run_inline), events)
        service.startService()
        self.addCleanup(db.close)
        self.addCleanup(service.stopService)
        return service, clock, events, CronMethods(service)

    async def call(self, methods: CronMethods, name: str, params: dict[str, Any]) -> Any:
        handler = {spec.name: spec for spec in methods.specs()}[name]
        if handler.params is not None:
            handler.check_params(params)
        result = handler.handler(MethodCall(name, str(uuid.uuid4()), params, ADMIN, None))
        return await result if isinstance(result, Deferred) or hasattr(result, "__await__") \
            else result

    async def test_a_job_runs_at_its_time_and_survives_a_restart(self) -> None:
        stack, service, clock, events, methods = await self.make()
        stack.upstream.script(openai_text("cron hello"))
        added = await self.call(methods, "cron.add", {
            "name": "every-minute", "schedule": {"kind": "every", "everyMs": 60_000},
            "sessionTarget": "isolated", "wakeMode": "now", "delivery": {"mode": "none"},
            "payload": {"kind": "agentTurn", "message": "say hello from cron"}})
        self.assertEqual(added["nextRunAtMs"], T0 + 60_000)
        self.assertEqual(added["deliveryPreview"], {"label": "none", "detail": "no delivery"})
        self.assertEqual([e["action"] for e in events.seen], ["added"])
        status = await self.call(methods, "cron.status", {})
        self.assertEqual((status["jobs"], status["nextWakeAtMs"]), (1, T0 + 60_000))
        clock.advance(59)
        self.assertEqual(stack.upstream.requests, [])
        started, finished = events.next("started"), events.next("finished")
        clock.advance(1)
        self.assertEqual((await started)["runAtMs"], T0 + 60_000)
        done = await finished
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["summary"], "cron hello")
        self.assertEqual(done["nextRunAtMs"], T0 + 120_000)
        sent = stack.upstream.requests[0].json["messages"][-1]
        self.assertEqual(sent, {"role": "user", "content": "say hello from cron"})
        runs = await self.call(methods, "cron.runs", {"scope": "all"})
        self.assertEqual(runs["total"], 1)
        entry = runs["entries"][0]
        self.assertEqual((entry["status"], entry["deliveryStatus"], entry["summary"]),
                         ("ok", "not-requested", "cron hello"))
        self.assertTrue(entry["sessionKey"].startswith(f"agent:main:cron:{added['id']}:run:"))
        self.assertEqual(entry["usage"], {"input_tokens": 12, "output_tokens": 6,
                                          "total_tokens": 18})
        listed = await self.call(methods, "cron.list", {"compact": True})
        self.assertEqual(listed["jobs"][0]["lastRunStatus"], "ok")
        self.assertEqual(listed["jobs"][0]["nextRunAtMs"], T0 + 120_000)
        await service.stopService()

        # a new service on the same database: the job, its state and its runs are back
        # ten minutes later
        again, clock2, events2, methods2 = self.service(stack, T0 + 600_000)
        await again.ready()
        reloaded = await self.call(methods2, "cron.list", {"includeDisabled": True})
        self.assertEqual([j["id"] for j in reloaded["jobs"]], [added["id"]])
        self.assertEqual(reloaded["jobs"][0]["state"]["lastRunStatus"], "ok")
        runs = await self.call(methods2, "cron.runs", {"id": added["id"]})
        self.assertEqual(runs["total"], 1)
        # missed while down: it runs as soon as the service is back
        stack.upstream.script(openai_text("caught up"))
        finished = events2.next("finished")
        clock2.advance(0)
        self.assertEqual((await finished)["summary"], "caught up")

    async def test_announce_without_a_route_fails_at_delivery(self) -> None:
        stack, service, clock, events, methods = await self.make()
        stack.upstream.script(openai_text("nobody hears this"))
        added = await self.call(methods, "cron.add", {
            "name": "announce", "schedule": {"kind": "every", "everyMs": HOUR},
            "sessionTarget": "isolated", "wakeMode": "now",
            "payload": {"kind": "agentTurn", "message": "report"}})
        finished = events.next("finished")
        run = await self.call(methods, "cron.run", {"id": added["id"]})
        self.assertTrue(run["enqueued"])
        self.assertTrue(run["runId"].startswith(f"manual:{added['id']}:"))
        done = await finished
        self.assertEqual(done["status"], "error")
        self.assertTrue(done["error"].startswith("Channel is required"))
        self.assertEqual(done["job"]["state"]["consecutiveErrors"], 1)

    async def test_update_remove_and_errors(self) -> None:
        stack, service, clock, events, methods = await self.make()
        added = await self.call(methods, "cron.add", {
            "name": "daily", "schedule": {"kind": "cron", "expr": "0 3 * * *", "tz": "UTC"},
            "sessionTarget": "main", "wakeMode": "now",
            "payload": {"kind": "systemEvent", "text": "check the mail"}})
        self.assertEqual(added["nextRunAtMs"], T0 + 15 * HOUR)
        paused = await self.call(methods, "cron.update", {"id": added["id"],
                                                          "patch": {"enabled": False}})
        self.assertFalse(paused["enabled"])
        self.assertNotIn("nextRunAtMs", paused)
        self.assertIsNone((await self.call(methods, "cron.status", {}))["nextWakeAtMs"])
        self.assertEqual((await self.call(methods, "cron.list", {}))["jobs"], [])
        self.assertEqual(len((await self.call(methods, "cron.list",
                                              {"enabled": "all"}))["jobs"]), 1)
        not_due = await self.call(methods, "cron.run", {"id": added["id"], "mode": "due"})
        self.assertEqual(not_due, {"ok": True, "ran": False, "reason": "not-due",
                                   "processInstanceId": service.process_id})
        removed = await self.call(methods, "cron.remove", {"id": added["id"]})
        self.assertEqual(removed, {"ok": True, "removed": True})
        self.assertEqual([e["action"] for e in events.seen], ["added", "updated", "removed"])
        with self.assertRaises(Exception) as caught:
            await self.call(methods, "cron.remove", {"id": added["id"]})
        self.assertIn(f"Automation not found: {added['id']}", str(caught.exception))
        with self.assertRaises(Exception) as caught:
            await self.call(methods, "cron.add", {
                "name": "bad", "schedule": {"kind": "cron", "expr": "often"},
                "sessionTarget": "main", "wakeMode": "now",
                "payload": {"kind": "systemEvent", "text": "x"}})
        self.assertIn("invalid cron.add params: invalid cron expression: often",
                      str(caught.exception))


class CronOverRpcTests(TestCase):
    timeout = 60

    async def test_cron_methods_and_event_over_a_websocket(self) -> None:
        upstream = ScriptedUpstream(reactor)
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        base = self.mktemp()
        os.makedirs(base)
        config = {"models": {"providers": {"scripted": {
            "baseUrl": upstream.base_url, "apiKey": "sk-test", "api": "openai-completions",
            "models": [{"id": "m1", "name": "m1"}]}}},
            "agents": {"defaults": {"model": "scripted/m1"}}}
        gateway = GatewayFixture(config, base_dir=base)
        await gateway.start()
        ws = WsClient(gateway.port)
        await ws.open()
        upstream.script(openai_text("from the gateway"))
        added = (await ws.call("cron.add", {
            "name": "probe-job", "schedule": {"kind": "every", "everyMs": HOUR},
            "sessionTarget": "isolated", "wakeMode": "now", "delivery": {"mode": "none"},
            "payload": {"kind": "agentTurn", "message": "cron says hello"}}))["payload"]
        self.assertEqual((await ws.event("cron"))["payload"]["action"], "added")
        finished = ws.event("cron", where=lambda p: p["action"] == "finished")
        run = (await ws.call("cron.run", {"id": added["id"], "mode": "force"}))["payload"]
        self.assertTrue(run["enqueued"])
        self.assertEqual((await finished)["payload"]["status"], "ok")
        runs = (await ws.call("cron.runs", {"id": added["id"], "limit": 10}))["payload"]
        self.assertEqual([e["summary"] for e in runs["entries"]], ["from the gateway"])
        listed = (await ws.call("cron.list", {
            "agentId": "main", "compact": True, "enabled": "all", "includeDisabled": True,
            "includeDeliveryPreviews": False, "limit": 50, "offset": 0,
            "sortBy": "nextRunAtMs", "sortDir": "asc"}))["payload"]
        self.assertEqual(listed["jobs"][0]["effectiveAgentId"], "main")
        self.assertTrue(listed["snapshotRevision"].startswith("sha256:"))
        bad = await ws.call("cron.list", {"sortBy": "color"})
        self.assertEqual(bad["error"]["code"], "INVALID_REQUEST")
        reader = WsClient(gateway.port)
        await reader.open(scopes=["operator.read"])
        refused = await reader.call("cron.add", {"name": "x"})
        self.assertEqual(refused["error"]["code"], "FORBIDDEN")
        self.assertTrue((await reader.call("cron.status", {}))["ok"])
        ws.close()
        reader.close()
        await gateway.stop()

        # restart: the job is still there
        gateway = GatewayFixture(config, base_dir=base)
        await gateway.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(gateway.stop()))
        ws = WsClient(gateway.port)
        await ws.open()
        self.addCleanup(ws.close)
        status = (await ws.call("cron.status", {}))["payload"]
        self.assertEqual(status["jobs"], 1)
        self.assertTrue(status["storePath"].endswith("gateway.sqlite"))
        job = (await ws.call("cron.list", {}))["payload"]["jobs"][0]
        self.assertEqual((job["id"], job["state"]["lastRunStatus"]), (added["id"], "ok"))
