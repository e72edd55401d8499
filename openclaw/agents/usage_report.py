"""The usage reports: date ranges, day buckets, per-session summaries and aggregates.

Pure functions over ledger rows (:class:`~openclaw.agents.usage.UsageRow`) with upstream's
arithmetic and shapes (``src/infra/session-cost-usage-*.ts``, ``usage-aggregates.ts``,
``server-methods/usage*.ts`` of openclaw 2026.9.6):

* **date ranges** (``startDate``/``endDate`` ``YYYY-MM-DD``, else ``range``, else ``days``,
  default 30 days ending today) read in a **day interpretation**: ``utc`` (default),
  ``gateway`` (this host's local time) or ``specific`` with an IANA ``timeZone`` or a
  ``utcOffset`` (``UTC+5:30``); errors are upstream's words (:class:`UsageRequestError`);
* **totals** (``input, output, cacheRead, cacheWrite, totalTokens, totalCost, inputCost,
  outputCost, cacheReadCost, cacheWriteCost, missingCostEntries``): a call's recorded cost, else
  its cost at the prices configured now, else it is counted as missing;
* a **session summary** (``SessionUsage.usage``): totals, activity, message counts, tools,
  models, latency (user message to reply), by day, by UTC quarter hour;
* the **aggregates** of ``sessions.usage`` (by model, provider, agent, channel, creator, day).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Final

import attrs

from openclaw.agents.usage import UsageRow, price_tokens
from openclaw.config.schema import ModelCostConfig
from openclaw.zones import zone_of

MAX_USAGE_DAYS: Final = 36600
MAX_LATENCY_MS: Final = 43_200_000
DAY_MS: Final = 86_400_000
TOTAL_FIELDS: Final = ("input", "output", "cacheRead", "cacheWrite", "totalTokens",
                       "totalCost", "inputCost", "outputCost", "cacheReadCost",
                       "cacheWriteCost", "missingCostEntries")
COUNT_FIELDS: Final = ("total", "user", "assistant", "toolCalls", "toolResults", "errors")
UNKNOWN_CREATOR_KEY: Final = '["unknown"]'
_DATE: Final = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_OFFSET: Final = re.compile(r"^UTC([+-])(\d{1,2})(?::([0-5]\d))?$")

Pricer = Callable[[str | None, str | None], ModelCostConfig | None]


class UsageRequestError(ValueError):
    """A usage request's dates or zone are invalid (INVALID_REQUEST with this text)."""


# --------------------------------------------------------------------------- days


@attrs.frozen
class DayInterpretation:
    """How instants map to calendar days."""

    zone: tzinfo | None          # None: the gateway host's local time

    def day(self, ms: int) -> date:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
        if self.zone is None:
            return datetime.fromtimestamp(ms / 1000).date()
        return moment.astimezone(self.zone).date()

    def label(self, ms: int) -> str:
        return self.day(ms).isoformat()

    def start_ms(self, day: date) -> int:
        midnight = datetime(day.year, day.month, day.day)
        if self.zone is None:
            return int(time.mktime(midnight.timetuple()) * 1000)
        return int(midnight.replace(tzinfo=self.zone).timestamp() * 1000)

    def end_ms(self, day: date) -> int:
        return self.start_ms(day + timedelta(days=1)) - 1


def _parse_date(raw: Any) -> date | None:
    if not isinstance(raw, str):
        return None
    match = _DATE.match(raw.strip())
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _offset_minutes(raw: Any) -> int | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    match = _OFFSET.match(raw.strip())
    if not match:
        return None
    minutes = (int(match.group(2)) * 60 + int(match.group(3) or "0")) * (
        1 if match.group(1) == "+" else -1)
    return minutes if -720 <= minutes <= 840 else None


def interpretation(params: Mapping[str, Any]) -> DayInterpretation:
    mode = params.get("mode")
    if mode == "gateway":
        return DayInterpretation(None)
    if mode == "specific":
        minutes = _offset_minutes(params.get("utcOffset"))
        requested = params.get("timeZone")
        if requested is not None:
            zone = zone_of(requested.strip()) if isinstance(requested, str) and \
                requested.strip() else None
            if zone is not None:
                return DayInterpretation(zone)
            if minutes is not None:
                return DayInterpretation(timezone(timedelta(minutes=minutes)))
            raise UsageRequestError("invalid timeZone: expected a valid IANA time zone")
        if minutes is not None:
            return DayInterpretation(timezone(timedelta(minutes=minutes)))
        offset = params.get("utcOffset")
        if offset is not None and (not isinstance(offset, str) or offset.strip() != ""):
            raise UsageRequestError("invalid utcOffset: expected UTC-12:00 through UTC+14:00")
    return DayInterpretation(UTC)


@attrs.frozen
class DateRange:
    start_ms: int
    end_ms: int
    interpretation: DayInterpretation
    include_untimestamped: bool = False

    @property
    def start_date(self) -> str:
        return self.interpretation.label(self.start_ms)

    @property
    def end_date(self) -> str:
        return self.interpretation.label(self.end_ms)

    def days(self, first_activity_ms: int | None = None) -> list[str]:
        """Every calendar day of the range (an ``all`` range starts at the first activity)."""
        first = self.interpretation.day(max(self.start_ms, first_activity_ms or 0)
                                        if self.start_ms == 0 else self.start_ms)
        last = self.interpretation.day(self.end_ms)
        out = []
        while first <= last:
            out.append(first.isoformat())
            first += timedelta(days=1)
        return out


def _days(raw: Any) -> int | None:
    value: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str) and raw.strip():
        try:
            value = float(raw)
        except ValueError:
            return None
    if value is None or not math.isfinite(value):
        return None
    return min(math.floor(value), MAX_USAGE_DAYS)


def date_range(params: Mapping[str, Any], now_ms: int) -> DateRange:
    """The requested range (see the module docstring); raises :class:`UsageRequestError`."""
    for name in ("startDate", "endDate"):
        raw = params.get(name)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            continue
        if _parse_date(raw) is None:
            raise UsageRequestError(f"invalid {name}: expected a valid YYYY-MM-DD calendar date")
    days_of = interpretation(params)
    today = days_of.day(now_ms)
    start, end = _parse_date(params.get("startDate")), _parse_date(params.get("endDate"))
    if (start is None) != (end is None):
        raise UsageRequestError("startDate and endDate must be provided together")
    if start is not None and end is not None:
        if days_of.start_ms(start) > days_of.start_ms(end):
            raise UsageRequestError("startDate must not be after endDate")
        return DateRange(days_of.start_ms(start), days_of.end_ms(end), days_of)
    span = {"7d": 7, "30d": 30, "90d": 90, "1y": 365}.get(str(params.get("range")))
    if params.get("range") == "all":
        return DateRange(0, days_of.end_ms(today), days_of, include_untimestamped=True)
    count = max(1, span or _days(params.get("days")) or 30)
    return DateRange(days_of.start_ms(today - timedelta(days=count - 1)), days_of.end_ms(today),
                     days_of)


# --------------------------------------------------------------------------- totals


def empty_totals() -> dict[str, Any]:
    return {field: 0 for field in TOTAL_FIELDS}


def add_totals(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for field in TOTAL_FIELDS:
        target[field] += source.get(field, 0)


def row_totals(row: UsageRow, pricer: Pricer) -> dict[str, Any] | None:
    """A message's totals (None: it reports no usage)."""
    if not row.has_usage:
        return None
    totals = empty_totals()
    totals.update({"input": row.input, "output": row.output, "cacheRead": row.cache_read,
                   "cacheWrite": row.cache_write, "totalTokens": row.total_tokens})
    cost = row.cost if row.cost is not None and (
        row.cost.get("total", 0) > 0 or row.total_tokens == 0) else None
    if cost is None:
        price = pricer(row.provider, row.model)
        if price is not None:
            cost = price_tokens(price, row.input, row.output, row.cache_read, row.cache_write)
        elif row.total_tokens == 0:
            cost = {"total": 0.0}
    if cost is None:
        totals["missingCostEntries"] = 1
        return totals
    totals.update({"totalCost": cost.get("total", 0.0), "inputCost": cost.get("input", 0.0),
                   "outputCost": cost.get("output", 0.0),
                   "cacheReadCost": cost.get("cacheRead", 0.0),
                   "cacheWriteCost": cost.get("cacheWrite", 0.0)})
    return totals


def empty_counts() -> dict[str, int]:
    return {field: 0 for field in COUNT_FIELDS}


def add_counts(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for field in COUNT_FIELDS:
        target[field] += source.get(field, 0)


def row_counts(row: UsageRow) -> dict[str, int]:
    counts = empty_counts()
    if row.role in ("user", "assistant"):
        counts[row.role] += 1
        counts["total"] += 1
    counts["toolCalls"] = len(row.tool_names)
    counts["toolResults"] = row.tool_results
    counts["errors"] = row.tool_errors + (1 if row.stop_reason in (
        "error", "aborted", "timeout") else 0)
    return counts


def latency_stats(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]
    return {"count": len(ordered), "avgMs": sum(ordered) / len(ordered), "p95Ms": p95,
            "minMs": ordered[0], "maxMs": ordered[-1]}


def _model_entry(provider: str | None, model: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"count": 0, "totals": empty_totals()}
    if provider is not None:
        entry["provider"] = provider
    if model is not None:
        entry["model"] = model
    return entry


def _by_cost(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (-e["totals"]["totalCost"],
                                          -e["totals"]["totalTokens"]))


# --------------------------------------------------------------------------- a session


def session_summary(rows: Iterable[UsageRow], rng: DateRange, pricer: Pricer,
                    session_id: str, session_file: str | None = None) -> dict[str, Any]:
    """A ``SessionUsage.usage`` from the rows of one session (or one family), in time order.
    Rows outside the range only seed the latency of the first reply in it."""
    totals = empty_totals()
    counts = empty_counts()
    tools: dict[str, int] = {}
    models: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    activity: set[str] = set()
    daily: dict[str, dict[str, Any]] = {}
    daily_counts: dict[str, dict[str, Any]] = {}
    quarter_counts: dict[tuple[str, int], dict[str, Any]] = {}
    quarter_tokens: dict[tuple[str, int], dict[str, Any]] = {}
    daily_latency: dict[str, list[float]] = {}
    daily_models: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    latencies: list[float] = []
    first: int | None = None
    last: int | None = None
    last_user: dict[str, int] = {}
    for row in rows:
        ts = row.ts
        in_range = ts is not None and rng.start_ms <= ts <= rng.end_ms
        untimed = ts is None and rng.include_untimestamped
        if row.role == "assistant" and ts is not None and in_range:
            seed = last_user.get(row.session_id)
            latency = row.duration_ms if row.duration_ms is not None else (
                max(0, ts - seed) if seed is not None else None)
            if latency is not None and latency <= MAX_LATENCY_MS:
                latencies.append(float(latency))
                daily_latency.setdefault(rng.interpretation.label(ts), []).append(
                    float(latency))
        if row.role == "user" and ts is not None:
            last_user[row.session_id] = ts
        if not in_range and not untimed:
            continue
        row_count = row_counts(row)
        add_counts(counts, row_count)
        for name in row.tool_names:
            tools[name] = tools.get(name, 0) + 1
        usage = row_totals(row, pricer)
        if usage is not None:
            add_totals(totals, usage)
            if row.provider is not None or row.model is not None:
                model = models.setdefault((row.provider, row.model),
                                          _model_entry(row.provider, row.model))
                model["count"] += 1
                add_totals(model["totals"], usage)
        if ts is None:
            continue
        day = rng.interpretation.label(ts)
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
        activity.add(day)
        moment = datetime.fromtimestamp(ts / 1000, tz=UTC)
        quarter = (moment.date().isoformat(), (moment.hour * 60 + moment.minute) // 15)
        day_counts = daily_counts.setdefault(day, {"date": day, **empty_counts()})
        add_counts(day_counts, row_count)
        q_counts = quarter_counts.setdefault(quarter, {"date": quarter[0],
                                                       "quarterIndex": quarter[1],
                                                       **empty_counts()})
        add_counts(q_counts, row_count)
        if usage is None:
            continue
        add_totals(daily.setdefault(day, empty_totals()), usage)
        q_tokens = quarter_tokens.setdefault(quarter, {
            "date": quarter[0], "quarterIndex": quarter[1], "input": 0, "output": 0,
            "cacheRead": 0, "cacheWrite": 0, "totalTokens": 0, "totalCost": 0})
        for field in ("input", "output", "cacheRead", "cacheWrite", "totalTokens",
                      "totalCost"):
            q_tokens[field] += usage[field]
        if row.provider is not None or row.model is not None:
            day_model = daily_models.setdefault((day, row.provider, row.model), {
                "date": day, **({"provider": row.provider} if row.provider else {}),
                **({"model": row.model} if row.model else {}), "tokens": 0, "cost": 0,
                "count": 0})
            day_model["tokens"] += usage["totalTokens"]
            day_model["cost"] += usage["totalCost"]
            day_model["count"] += 1
    summary: dict[str, Any] = {"sessionId": session_id}
    if session_file is not None:
        summary["sessionFile"] = session_file
    if first is not None and last is not None:
        summary.update({"firstActivity": first, "lastActivity": last,
                        "durationMs": max(0, last - first)})
    summary["activityDates"] = sorted(activity)
    summary["dailyBreakdown"] = [{"date": day, "tokens": t["totalTokens"],
                                  "cost": t["totalCost"], **t}
                                 for day, t in sorted(daily.items())]
    summary["dailyMessageCounts"] = [daily_counts[day] for day in sorted(daily_counts)]
    if quarter_counts:
        summary["utcQuarterHourMessageCounts"] = [quarter_counts[q]
                                                  for q in sorted(quarter_counts)]
    if quarter_tokens:
        summary["utcQuarterHourTokenUsage"] = [quarter_tokens[q]
                                               for q in sorted(quarter_tokens)]
    day_latency = [{"date": day, **stats} for day, values in sorted(daily_latency.items())
                   if (stats := latency_stats(values)) is not None]
    if day_latency:
        summary["dailyLatency"] = day_latency
    if daily_models:
        summary["dailyModelUsage"] = sorted(daily_models.values(),
                                            key=lambda e: (e["date"], -e["cost"]))
    summary["messageCounts"] = counts
    if tools:
        entries = [{"name": n, "count": c}
                   for n, c in sorted(tools.items(), key=lambda item: (-item[1], item[0]))]
        summary["toolUsage"] = {"totalCalls": sum(e["count"] for e in entries),
                                "uniqueTools": len(entries), "tools": entries}
    if models:
        summary["modelUsage"] = _by_cost(models.values())
    stats = latency_stats(latencies)
    if stats is not None:
        summary["latency"] = stats
    summary.update(totals)
    return summary


# --------------------------------------------------------------------------- aggregates


class Aggregates:
    """``sessions.usage`` ``totals`` and ``aggregates`` over the sessions' summaries."""

    def __init__(self) -> None:
        self.totals = empty_totals()
        self.messages = empty_counts()
        self.tools: dict[str, int] = {}
        self.models: dict[tuple[str | None, str | None], dict[str, Any]] = {}
        self.providers: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.creators: dict[str, dict[str, Any]] = {}
        self.days: dict[str, dict[str, Any]] = {}
        self.cost_days: dict[str, dict[str, Any]] = {}
        self.day_latency: dict[str, list[dict[str, Any]]] = {}
        self.day_models: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
        self.latency: list[dict[str, Any]] = []
        self.session_count = 0
        self.longest = 0

    def _day(self, day: str) -> dict[str, Any]:
        return self.days.setdefault(day, {"date": day, "tokens": 0, "cost": 0, "messages": 0,
                                          "toolCalls": 0, "errors": 0})

    def add(self, usage: Mapping[str, Any] | None, agent_id: str, channel: str | None,
            creator_key: str, actor: Mapping[str, Any] | None) -> None:
        if not usage:
            return
        add_totals(self.totals, usage)
        self.longest = max(self.longest, int(usage.get("durationMs") or 0))
        counts = usage.get("messageCounts") or {}
        counted = usage.get("firstActivity") is not None or counts.get("total", 0) > 0
        if counted:
            self.session_count += 1
        add_counts(self.messages, counts)
        for tool in (usage.get("toolUsage") or {}).get("tools", []):
            self.tools[tool["name"]] = self.tools.get(tool["name"], 0) + tool["count"]
        for entry in usage.get("modelUsage") or []:
            provider, model = entry.get("provider"), entry.get("model")
            merged = self.models.setdefault((provider, model), _model_entry(provider, model))
            merged["count"] += entry["count"]
            add_totals(merged["totals"], entry["totals"])
            by_provider = self.providers.setdefault(provider or "unknown",
                                                    _model_entry(provider, None))
            by_provider["count"] += entry["count"]
            add_totals(by_provider["totals"], entry["totals"])
        add_totals(self.agents.setdefault(agent_id, empty_totals()), usage)
        if channel:
            add_totals(self.channels.setdefault(channel, empty_totals()), usage)
        creator = self.creators.setdefault(creator_key, {
            "key": creator_key, **({"actor": dict(actor)} if actor else {}),
            "totals": empty_totals(), "sessionCount": 0, "daily": {}, "activity": {}})
        add_totals(creator["totals"], usage)
        if counted:
            creator["sessionCount"] += 1
            dates = sorted({*usage.get("activityDates", []),
                            *(d["date"] for d in usage.get("dailyBreakdown", [])),
                            *(d["date"] for d in usage.get("dailyMessageCounts", []))})
            activity = creator["activity"].setdefault(tuple(dates), {"dates": dates,
                                                                     "sessionCount": 0})
            activity["sessionCount"] += 1
        if usage.get("latency"):
            self.latency.append(usage["latency"])
        for day in usage.get("dailyLatency") or []:
            self.day_latency.setdefault(day["date"], []).append(day)
        for day in usage.get("dailyBreakdown") or []:
            entry = self._day(day["date"])
            entry["tokens"] += day["tokens"]
            entry["cost"] += day["cost"]
            add_totals(self.cost_days.setdefault(day["date"], empty_totals()), day)
            add_totals(creator["daily"].setdefault(day["date"], empty_totals()), day)
        for day in usage.get("dailyMessageCounts") or []:
            entry = self._day(day["date"])
            entry["messages"] += day["total"]
            entry["toolCalls"] += day["toolCalls"]
            entry["errors"] += day["errors"]
        for day in usage.get("dailyModelUsage") or []:
            key = (day["date"], day.get("provider"), day.get("model"))
            merged = self.day_models.setdefault(key, {**{k: v for k, v in day.items()
                                                         if k in ("date", "provider",
                                                                  "model")},
                                                      "tokens": 0, "cost": 0, "count": 0})
            merged["tokens"] += day["tokens"]
            merged["cost"] += day["cost"]
            merged["count"] += day["count"]

    @staticmethod
    def _merged_latency(parts: list[dict[str, Any]]) -> dict[str, Any]:
        count = sum(p["count"] for p in parts)
        return {"count": count,
                "avgMs": sum(p["avgMs"] * p["count"] for p in parts) / count if count else 0,
                "minMs": min(p["minMs"] for p in parts), "maxMs": max(p["maxMs"] for p in parts),
                "p95Ms": max(p["p95Ms"] for p in parts)}

    def finish(self) -> dict[str, Any]:
        tools: list[dict[str, Any]] = [{"name": n, "count": c}
                 for n, c in sorted(self.tools.items(), key=lambda item: -item[1])]
        result: dict[str, Any] = {"sessionCount": self.session_count}
        if self.longest > 0:
            result["longestSessionDurationMs"] = self.longest
        result.update({
            "messages": self.messages,
            "tools": {"totalCalls": sum(self.tools.values()),
                      "uniqueTools": len(tools), "tools": tools},
            "byModel": _by_cost(self.models.values()),
            "byProvider": _by_cost(self.providers.values()),
            "byAgent": [{"agentId": a, "totals": t} for a, t in sorted(
                self.agents.items(), key=lambda item: -item[1]["totalCost"])],
            "byChannel": [{"channel": c, "totals": t} for c, t in sorted(
                self.channels.items(), key=lambda item: -item[1]["totalCost"])],
            "byCreator": sorted((
                {"key": c["key"], **({"actor": c["actor"]} if "actor" in c else {}),
                 "totals": c["totals"], "sessionCount": c["sessionCount"],
                 "daily": [{"date": d, **t} for d, t in sorted(c["daily"].items())],
                 "sessionActivity": sorted(c["activity"].values(),
                                           key=lambda a: ",".join(a["dates"]))}
                for c in self.creators.values()),
                key=lambda e: (-e["totals"]["totalCost"], -e["totals"]["totalTokens"],
                               e["key"])),
            "costDaily": [{"date": d, **t} for d, t in sorted(self.cost_days.items())],
        })
        if self.latency:
            result["latency"] = self._merged_latency(self.latency)
        result["dailyLatency"] = [{"date": d, **self._merged_latency(parts)}
                                  for d, parts in sorted(self.day_latency.items())]
        result["modelDaily"] = sorted(self.day_models.values(),
                                      key=lambda e: (e["date"], -e["cost"]))
        result["daily"] = [self.days[d] for d in sorted(self.days)]
        return result


def cost_summary(rows: Iterable[UsageRow], rng: DateRange, pricer: Pricer, now_ms: int
                 ) -> dict[str, Any]:
    """``usage.cost``: one entry per day of the range (zeros included) and the totals."""
    daily: dict[str, dict[str, Any]] = {}
    totals = empty_totals()
    first: int | None = None
    for row in rows:
        if row.ts is None or not rng.start_ms <= row.ts <= rng.end_ms:
            continue
        usage = row_totals(row, pricer)
        if usage is None:
            continue
        first = row.ts if first is None else min(first, row.ts)
        add_totals(daily.setdefault(rng.interpretation.label(row.ts), empty_totals()), usage)
        add_totals(totals, usage)
    days = rng.days(first)
    return {"updatedAt": now_ms, "days": len(days),
            "daily": [{"date": day, **daily.get(day, empty_totals())} for day in days],
            "totals": totals}


__all__ = [
    "UNKNOWN_CREATOR_KEY",
    "Aggregates",
    "DateRange",
    "DayInterpretation",
    "Pricer",
    "UsageRequestError",
    "add_totals",
    "cost_summary",
    "date_range",
    "empty_totals",
    "interpretation",
    "latency_stats",
    "row_totals",
    "session_summary",
]
