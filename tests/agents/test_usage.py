"""Usage accounting: the ledger fed by the transcripts, costs from configured prices, the
report arithmetic, and ``usage.status`` / ``usage.cost`` / ``sessions.usage`` (+ timeseries,
logs) over a real WebSocket, before and after a gateway restart."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.agents.durable import InlineWriter
from openclaw.agents.runtime import RunRequest
from openclaw.agents.store import SessionStore
from openclaw.agents.usage import (
    UsageDatabase,
    UsageLedger,
    UsageRow,
    price_tokens,
    row_of,
    scan_transcripts,
    usage_wire,
)
from openclaw.agents.usage_report import (
    UsageRequestError,
    cost_summary,
    date_range,
    session_summary,
)
from openclaw.blocking import run_inline
from openclaw.config import parse_config_text
from openclaw.config.schema import ModelCostConfig
from openclaw.providers.types import Usage
from openclaw.state_db import SerialWriter, SqliteDatabase
from tests.agents.support import AgentStack
from tests.builder import GatewayFixture
from tests.upstream import ScriptedUpstream, openai_text
from tests.ws_client import WsClient

DAY = 86_400_000
NOON = 1_796_558_400_000            # 2026-12-06T12:00:00Z
PRICE = {"input": 1.0, "output": 2.0, "cacheRead": 0.5, "cacheWrite": 0.0}


def priced_providers(upstream: ScriptedUpstream) -> dict[str, Any]:
    return {"scripted": {
        "baseUrl": upstream.base_url, "apiKey": "sk-test", "api": "openai-completions",
        "models": [{"id": "m1", "name": "m1", "contextWindow": 8192, "cost": PRICE},
                   {"id": "m2", "name": "m2", "contextWindow": 8192}]}}


def no_price(provider: str | None, model: str | None) -> ModelCostConfig | None:
    return None


def assistant(ts: int, tokens: tuple[int, int], *, model: str = "m1",
              cost: dict[str, float] | None = None, tools: tuple[str, ...] = (),
              stop: str = "stop") -> dict[str, Any]:
    usage: dict[str, Any] = {"input": tokens[0], "output": tokens[1], "cacheRead": 0,
                             "cacheWrite": 0, "totalTokens": sum(tokens)}
    if cost is not None:
        usage["cost"] = cost
    content: list[dict[str, Any]] = [{"type": "text", "text": "answer"}]
    content += [{"type": "toolCall", "id": f"c{i}", "name": n, "arguments": {}}
                for i, n in enumerate(tools)]
    return {"type": "message", "id": str(uuid.uuid4()), "message": {
        "role": "assistant", "content": content, "provider": "scripted", "model": model,
        "usage": usage, "stopReason": stop, "timestamp": ts}}


def user(ts: int, text: str = "hi") -> dict[str, Any]:
    return {"type": "message", "id": str(uuid.uuid4()),
            "message": {"role": "user", "content": text, "timestamp": ts}}


def rows(*records: dict[str, Any], session: str = "s1",
         key: str = "agent:main:main") -> list[UsageRow]:
    out = []
    for record in records:
        row = row_of("main", key, session, record)
        assert row is not None
        out.append(row)
    return out


class PricingTests(SynchronousTestCase):
    def test_cost_is_tokens_times_the_price_per_million(self) -> None:
        cost = price_tokens(ModelCostConfig(input=1, output=2, cache_read=0.5), 123, 7, 10, 0)
        self.assertAlmostEqual(cost["input"], 0.000123)
        self.assertAlmostEqual(cost["output"], 0.000014)
        self.assertAlmostEqual(cost["cacheRead"], 0.000005)
        self.assertAlmostEqual(cost["total"], 0.000142)

    def test_usage_wire_records_a_cost_only_for_priced_models(self) -> None:
        config = parse_config_text(json.dumps({"models": {"providers": {"p": {
            "baseUrl": "http://127.0.0.1:1/v1", "api": "openai-completions",
            "models": [{"id": "a", "name": "a", "cost": PRICE},
                       {"id": "b", "name": "b"}]}}}}), "/x/openclaw.json", env={},
            home="/x").config
        priced = usage_wire(config, "p", "a", Usage(123, 7))
        self.assertEqual(priced["totalTokens"], 130)
        self.assertAlmostEqual(priced["cost"]["total"], 0.000137)
        self.assertNotIn("cost", usage_wire(config, "p", "b", Usage(123, 7)))
        self.assertNotIn("cost", usage_wire(config, "other", "a", Usage(1, 1)))


class DateRangeTests(SynchronousTestCase):
    def test_default_is_thirty_days_ending_today(self) -> None:
        rng = date_range({}, NOON)
        self.assertEqual((rng.start_date, rng.end_date), ("2026-11-07", "2026-12-06"))
        self.assertEqual(len(rng.days()), 30)

    def test_explicit_dates_range_and_days(self) -> None:
        rng = date_range({"startDate": "2026-12-01", "endDate": "2026-12-02"}, NOON)
        self.assertEqual(rng.end_ms - rng.start_ms, 2 * DAY - 1)
        self.assertEqual(len(date_range({"range": "7d"}, NOON).days()), 7)
        self.assertEqual(len(date_range({"days": "3"}, NOON).days()), 3)
        self.assertTrue(date_range({"range": "all"}, NOON).include_untimestamped)

    def test_specific_zone_and_offset_shift_the_days(self) -> None:
        tokyo = date_range({"mode": "specific", "timeZone": "Asia/Tokyo", "days": 1},
                           NOON + 13 * 3600_000)
        self.assertEqual(tokyo.start_date, "2026-12-07")
        offset = date_range({"mode": "specific", "utcOffset": "UTC-5", "days": 1}, NOON)
        self.assertEqual(offset.start_ms, NOON - 12 * 3600_000 + 5 * 3600_000)

    def test_errors_are_upstreams_words(self) -> None:
        cases = {
            "invalid startDate: expected a valid YYYY-MM-DD calendar date":
                {"startDate": "2026-02-30", "endDate": "2026-03-01"},
            "startDate and endDate must be provided together": {"startDate": "2026-01-01"},
            "startDate must not be after endDate":
                {"startDate": "2026-02-02", "endDate": "2026-02-01"},
            "invalid timeZone: expected a valid IANA time zone":
                {"mode": "specific", "timeZone": "Mars/Base"},
            "invalid utcOffset: expected UTC-12:00 through UTC+14:00":
                {"mode": "specific", "utcOffset": "UTC+15"},
        }
        for message, params in cases.items():
            with self.assertRaises(UsageRequestError) as caught:
                date_range(params, NOON)
            self.assertEqual(str(caught.exception), message)


class ReportTests(SynchronousTestCase):
    def test_session_summary_counts_costs_latency_and_days(self) -> None:
        recorded = {"input": 0.001, "output": 0.002, "cacheRead": 0, "cacheWrite": 0,
                    "total": 0.003}
        tool_result = {"type": "message", "id": "t", "message": {
            "role": "toolResult", "toolName": "exec", "isError": True, "timestamp": NOON + 600,
            "content": [{"type": "text", "text": "boom"}]}}
        session = rows(user(NOON), assistant(NOON + 500, (100, 10), cost=recorded,
                                             tools=("exec",), stop="toolUse"),
                       tool_result, assistant(NOON + 900, (50, 5), model="m2"),
                       user(NOON + DAY), assistant(NOON + DAY + 2000, (10, 1), stop="error"))
        rng = date_range({"days": 2}, NOON + DAY)
        summary = session_summary(session, rng, no_price, "s1")
        self.assertEqual(summary["input"], 160)
        self.assertEqual(summary["totalTokens"], 176)
        self.assertAlmostEqual(summary["totalCost"], 0.003)
        self.assertEqual(summary["missingCostEntries"], 2)     # m2 and the error reply
        self.assertEqual(summary["messageCounts"], {"total": 5, "user": 2, "assistant": 3,
                                                    "toolCalls": 1, "toolResults": 1,
                                                    "errors": 2})
        self.assertEqual(summary["toolUsage"]["tools"], [{"name": "exec", "count": 1}])
        self.assertEqual(summary["activityDates"], ["2026-12-06", "2026-12-07"])
        self.assertEqual([d["tokens"] for d in summary["dailyBreakdown"]], [165, 11])
        self.assertEqual(summary["latency"]["count"], 3)
        self.assertEqual(summary["latency"]["maxMs"], 2000)
        self.assertEqual(summary["durationMs"], DAY + 2000)
        self.assertEqual([m["model"] for m in summary["modelUsage"]], ["m1", "m2"])

    def test_configured_price_estimates_an_unpriced_call(self) -> None:
        session = rows(user(NOON), assistant(NOON + 1, (123, 7)))
        price = ModelCostConfig(input=1, output=2)
        summary = session_summary(session, date_range({}, NOON), lambda p, m: price, "s1")
        self.assertAlmostEqual(summary["totalCost"], 0.000137)
        self.assertEqual(summary["missingCostEntries"], 0)

    def test_cost_summary_has_every_day(self) -> None:
        result = cost_summary(rows(assistant(NOON - DAY, (5, 5))), date_range({"days": 7}, NOON),
                              no_price, NOON)
        self.assertEqual(result["days"], 7)
        self.assertEqual([d["totalTokens"] for d in result["daily"]], [0, 0, 0, 0, 0, 10, 0])
        self.assertEqual(result["totals"]["missingCostEntries"], 1)

    def test_the_ledger_ignores_a_message_written_twice(self) -> None:
        path = os.path.join(self.mktemp(), "gateway.sqlite")
        database = UsageDatabase(SqliteDatabase(path))
        session = rows(user(NOON), assistant(NOON + 1, (1, 2)))
        self.assertEqual(database.insert(session), 2)
        self.assertEqual(database.insert(session), 0)
        self.assertEqual([r.role for r in database.rows(start_ms=NOON, end_ms=NOON + 1)],
                         ["user", "assistant"])
        self.assertEqual(oct(os.stat(path).st_mode & 0o777), "0o600")
        database.db.close()


class UsageOverRpcTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        self.base_dir = tempfile.mkdtemp(prefix="oc-usage-")
        self.addCleanup(shutil.rmtree, self.base_dir, True)
        self.upstream = ScriptedUpstream(reactor)
        self.upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(self.upstream.stop()))

    def config(self) -> dict[str, Any]:
        return {"models": {"providers": priced_providers(self.upstream)},
                "agents": {"defaults": {"model": "scripted/m1"},
                           "entries": {"main": {"default": True}, "ops": {}}}}

    async def gateway(self) -> GatewayFixture:
        gateway = GatewayFixture(self.config(), base_dir=self.base_dir)
        await gateway.start()
        return gateway

    async def client(self, gateway: GatewayFixture) -> WsClient:
        client = WsClient(gateway.port)
        await client.open()
        self.addCleanup(client.close)
        return client

    async def turn(self, gateway: GatewayFixture, key: str, model: str | None = None,
                   agent: str | None = None) -> None:
        handle = gateway.runtime.start(RunRequest(message="count", run_id=str(uuid.uuid4()),
                                                  session_key=key, agent_id=agent,
                                                  model=model))
        result = await handle.result
        self.assertEqual(result.status, "ok", result.error)

    async def test_usage_accumulates_and_survives_a_restart(self) -> None:
        gateway = await self.gateway()
        self.upstream.script(openai_text("one", usage=(123, 7)), openai_text("two", usage=(10, 2)),
                             openai_text("three", usage=(40, 4)))
        await self.turn(gateway, "agent:main:main")
        await self.turn(gateway, "agent:main:main", model="scripted/m2")
        await self.turn(gateway, "agent:ops:main", agent="ops")
        # the transcript's assistant message carries the cost of a priced model
        message = next(r["message"] for r in gateway.transcript()
                   if r.get("message", {}).get("role") == "assistant")
        self.assertAlmostEqual(message["usage"]["cost"]["total"], 0.000137)
        client = await self.client(gateway)
        first = await self.reports(client)
        await gateway.stop()

        gateway = await self.gateway()
        self.addCleanup(lambda: Deferred.fromCoroutine(gateway.stop()))
        client = await self.client(gateway)
        self.assertEqual(await self.reports(client), first)

    async def reports(self, client: WsClient) -> dict[str, Any]:
        status = (await client.call("usage.status"))["payload"]
        self.assertEqual(status["providers"], [])
        cost = (await client.call("usage.cost", {"days": 7}))["payload"]
        self.assertEqual(cost["days"], 7)
        self.assertEqual(cost["totals"]["totalTokens"], 142)            # agent main only
        self.assertAlmostEqual(cost["totals"]["totalCost"], 0.000137)
        self.assertEqual(cost["totals"]["missingCostEntries"], 1)       # m2 has no price
        self.assertEqual(cost["cacheStatus"]["status"], "fresh")
        everyone = (await client.call("usage.cost", {"agentScope": "all"}))["payload"]
        self.assertEqual(everyone["totals"]["totalTokens"], 186)
        self.assertAlmostEqual(everyone["totals"]["totalCost"], 0.000137 + 0.000048)
        rejected = await client.call("usage.cost", {"agentScope": "all", "agentId": "main"})
        self.assertEqual(rejected["error"]["message"],
                         "agentScope=all cannot be combined with agentId")

        usage = (await client.call("sessions.usage", {"agentScope": "all", "limit": 10}))[
            "payload"]
        self.assertEqual({s["key"] for s in usage["sessions"]},
                         {"agent:main:main", "agent:ops:main"})
        self.assertEqual(usage["totals"]["totalTokens"], 186)
        aggregates = usage["aggregates"]
        self.assertEqual(aggregates["sessionCount"], 2)
        self.assertEqual(aggregates["messages"]["assistant"], 3)
        self.assertEqual({a["agentId"]: a["totals"]["totalTokens"]
                          for a in aggregates["byAgent"]}, {"main": 142, "ops": 44})
        self.assertEqual({(m["provider"], m["model"]): m["count"]
                          for m in aggregates["byModel"]},
                         {("scripted", "m1"): 2, ("scripted", "m2"): 1})
        self.assertEqual([p["provider"] for p in aggregates["byProvider"]], ["scripted"])
        self.assertEqual(usage["creatorOptions"][0]["key"], '["profile","gateway-owner"]')
        main = next(s for s in usage["sessions"] if s["key"] == "agent:main:main")
        self.assertEqual(main["scope"], "instance")
        self.assertEqual(main["usage"]["messageCounts"]["user"], 2)
        self.assertEqual(main["usage"]["totalTokens"], 142)

        # the UI's shapes: the usage view (family, time zone) and one session
        family = (await client.call("sessions.usage", {
            "agentId": "main", "startDate": "2026-01-01", "endDate": "2099-12-31",
            "groupBy": "family", "includeContextWeight": False, "limit": 1000,
            "mode": "specific", "timeZone": "UTC", "utcOffset": "UTC+0"}))["payload"]
        self.assertEqual([s["key"] for s in family["sessions"]], ["agent:main:main"])
        self.assertEqual(family["sessions"][0]["scope"], "family")
        self.assertEqual(family["sessions"][0]["historicalInstanceCount"], 1)
        one = (await client.call("sessions.usage", {"key": "agent:main:main"}))["payload"]
        self.assertEqual(len(one["sessions"]), 1)

        series = (await client.call("sessions.usage.timeseries",
                                    {"key": "agent:main:main"}))["payload"]
        self.assertEqual([p["totalTokens"] for p in series["points"]], [130, 12])
        self.assertEqual(series["points"][-1]["cumulativeTokens"], 142)
        self.assertAlmostEqual(series["points"][0]["cost"], 0.000137)
        logs = (await client.call("sessions.usage.logs",
                                  {"key": "agent:main:main", "limit": 50}))["payload"]["logs"]
        self.assertEqual([(e["role"], e["content"]) for e in logs],
                         [("user", "count"), ("assistant", "one"), ("user", "count"),
                          ("assistant", "two")])
        self.assertEqual(logs[1]["tokens"], 130)
        self.assertAlmostEqual(logs[1]["cost"], 0.000137)
        self.assertNotIn("cost", logs[3])
        missing = await client.call("sessions.usage.timeseries", {"key": "agent:main:nope"})
        self.assertEqual(missing["error"]["message"], "Invalid session key: agent:main:nope")
        no_key = await client.call("sessions.usage.logs", {})
        self.assertEqual(no_key["error"]["message"], "key is required for logs")
        bad = await client.call("sessions.usage", {"groupBy": "everything"})
        self.assertEqual(bad["error"]["code"], "INVALID_REQUEST")
        return {"cost": cost["totals"], "sessions": usage["totals"],
                "aggregates": {k: aggregates[k] for k in ("byAgent", "byModel", "messages")},
                "series": series["points"], "logs": logs}


class UsageBackfillTests(TestCase):
    timeout = 60

    def test_a_run_during_the_backfill_keeps_its_session_key(self) -> None:
        # the scan of the transcripts runs off the reactor; a session started meanwhile is
        # read under the fallback key and must still be recorded under its real one
        state = self.mktemp()
        clock = Clock()
        held: list[tuple[Deferred[Any], Any, tuple[Any, ...]]] = []

        def run_blocking(func: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
            if func is scan_transcripts:
                waiting: Deferred[Any] = Deferred()
                held.append((waiting, func, args))
                return waiting
            return run_inline(func, *args, **kwargs)

        store = SessionStore(state, InlineWriter(), clock)
        database = SqliteDatabase(os.path.join(state, "gateway.sqlite"))
        self.addCleanup(database.close)
        ledger = UsageLedger(store, database, SerialWriter(run_blocking), clock)
        backfill = Deferred.fromCoroutine(ledger.backfill(["main"]))
        self.assertEqual(len(held), 1)

        sessions = self.successResultOf(Deferred.fromCoroutine(store.agent("main").ensure(
            "agent:main:main", cwd=state)))[0]
        self.successResultOf(Deferred.fromCoroutine(store.agent("main").append(
            "agent:main:main", [{"type": "message", "message": {
                "role": "user", "content": "hi", "timestamp": NOON}}])))
        waiting, func, args = held.pop()
        waiting.callback(func(*args))            # the scan saw the new transcript
        clock.advance(0)                         # the live row is written too (ignored)
        self.successResultOf(backfill)
        rows = self.successResultOf(ledger.rows())
        self.assertEqual([(r.session_key, r.session_id, r.role) for r in rows],
                         [("agent:main:main", sessions["sessionId"], "user")])

    async def test_transcripts_from_before_the_ledger_are_counted(self) -> None:
        stack = AgentStack()
        await stack.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        stack.upstream.script(openai_text("hello", usage=(3, 4)))
        handle = stack.runtime.start(RunRequest(message="x", run_id="r1",
                                                session_key="agent:main:main"))
        await handle.result
        gateway = stack._started
        # the start-up backfill must be over (its mark written) before the tables are emptied
        assert gateway.service.usage.backfilled is not None
        await gateway.service.usage.backfilled
        await gateway.service.usage.ledger.drain()
        db = gateway.service.state.db
        await gateway.service.state.writer(db.execute, "DELETE FROM usage_messages")
        await gateway.service.state.writer(db.execute, "DELETE FROM usage_meta")
        self.assertEqual(await gateway.service.usage.ledger.backfill(["main"]), 2)
        client = await stack.client()
        usage = (await client.call("sessions.usage", {}))["payload"]
        self.assertEqual(usage["totals"]["totalTokens"], 7)
