"""Usage accounting over RPC: ``usage.status``, ``usage.cost``, ``sessions.usage`` (+
``.timeseries``, ``.logs``), from the usage ledger (``openclaw.agents.usage``).

* ``usage.status`` is about provider *quota* windows (plan limits read from provider APIs),
  which no provider here reports: ``{updatedAt, providers: []}``; the UI sends no params.
* ``usage.cost {startDate?, endDate?, days?, range?, mode?, timeZone?, utcOffset?, agentId?,
  agentScope?}`` -> ``{updatedAt, days, daily: [...one per day...], totals, cacheStatus}`` for
  the default agent, the given one, or every agent (``agentScope: "all"``).
* ``sessions.usage`` (upstream's params schema) -> ``{updatedAt, startDate, endDate,
  sessions: [SessionUsage], totals, aggregates, creatorOptions, cacheStatus}``: one row per
  transcript (``groupBy: "instance"``) or per session key with its resets
  (``groupBy: "family"``), newest first, ``limit`` rows (default 50), aggregates over all.
* ``sessions.usage.timeseries {key, agentId?}`` -> ``{sessionId, points}`` (at most 200);
  ``sessions.usage.logs {key, agentId?, limit?}`` -> ``{logs}``: read from the transcript.

The ledger is always current (rows are written as messages are appended), so
``cacheStatus.status`` is ``"fresh"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from openclaw.agents.runtime import AgentRequestError, AgentRuntime
from openclaw.agents.session_keys import channel_of_key
from openclaw.agents.usage import UsageLedger, UsageRow, message_timestamp, model_price, row_of
from openclaw.agents.usage_report import (
    MAX_LATENCY_MS,
    UNKNOWN_CREATOR_KEY,
    Aggregates,
    DateRange,
    Pricer,
    UsageRequestError,
    cost_summary,
    date_range,
    empty_totals,
    row_totals,
    session_summary,
)
from openclaw.auth.scopes import READ
from openclaw.gateway.methods.session_rows import OWNER_ACTOR, OWNER_PROFILE
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request

OWNER_CREATOR_KEY: Final = f'["profile","{OWNER_PROFILE}"]'
TIMESERIES_MAX_POINTS: Final = 200
LOGS_DEFAULT: Final = 200
LOGS_MAX: Final = 1000
LOG_TEXT_MAX: Final = 2000
_TOOL_CALLS: Final = ("toolCall", "tool_call", "toolUse", "tool_use")


class UsageMethods:
    """The usage family bound to the runtime (sessions, config) and the ledger."""

    def __init__(self, runtime: AgentRuntime, ledger: UsageLedger) -> None:
        self.runtime = runtime
        self.ledger = ledger

    def pricer(self) -> Pricer:
        config = self.runtime.get_config().config

        def price(provider: str | None, model: str | None) -> Any:
            return model_price(config, provider, model)

        return price

    def _range(self, params: Mapping[str, Any]) -> DateRange:
        try:
            return date_range(params, self.runtime.now_ms())
        except UsageRequestError as e:
            raise invalid_request(str(e)) from None

    def _agent(self, agent_id: Any) -> str:
        try:
            return self.runtime.resolve(agent_id if isinstance(agent_id, str) and agent_id
                                        else None, None)[0]
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None

    def _fresh(self, files: int) -> dict[str, Any]:
        return {"status": "fresh", "cachedFiles": files, "pendingFiles": 0, "staleFiles": 0,
                "refreshedAt": self.runtime.now_ms()}

    # -- usage.status / usage.cost ----------------------------------------------------------

    def usage_status(self, call: MethodCall) -> dict[str, Any]:
        return {"updatedAt": self.runtime.now_ms(), "providers": []}

    async def usage_cost(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        rng = self._range(params)
        agent_id = params.get("agentId")
        if params.get("agentScope") == "all" and agent_id:
            raise invalid_request("agentScope=all cannot be combined with agentId")
        scope_all = params.get("agentScope") == "all"
        agent = None if scope_all else self._agent(agent_id)
        rows = await self.ledger.rows(start_ms=rng.start_ms, end_ms=rng.end_ms, agent_id=agent)
        result = cost_summary(rows, rng, self.pricer(), self.runtime.now_ms())
        result["cacheStatus"] = self._fresh(len({(r.agent_id, r.session_id) for r in rows}))
        return result

    # -- sessions.usage ---------------------------------------------------------------------

    async def sessions_usage(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        rng = self._range(params)
        runtime = self.runtime
        key_param = params.get("key") if isinstance(params.get("key"), str) else None
        agent_param = params.get("agentId")
        if params.get("agentScope") == "all" and (agent_param or key_param):
            raise invalid_request("agentScope=all cannot be combined with key or agentId")
        specific: str | None = None
        agent: str | None = None
        if key_param:
            try:
                agent, specific = runtime.resolve(agent_param, key_param.strip())
            except AgentRequestError as e:
                raise invalid_request(str(e)) from None
        elif params.get("agentScope") != "all":
            agent = self._agent(agent_param)
        family = params.get("groupBy") == "family" or params.get("includeHistorical") is True
        limit: int = params["limit"] if isinstance(params.get("limit"), int) else 50
        creator_filter = params.get("creatorKey")
        for agent_id in ([agent] if agent is not None else list(runtime.view().agents)):
            await runtime.store.agent(agent_id).load()      # the session index, read once
        rows = await self.ledger.rows(start_ms=max(0, rng.start_ms - MAX_LATENCY_MS),
                                      end_ms=rng.end_ms, agent_id=agent,
                                      include_untimestamped=rng.include_untimestamped)
        groups = self._groups(rows, rng, agent, specific, family)
        pricer = self.pricer()
        sessions: list[dict[str, Any]] = []
        aggregates = Aggregates()
        creators: dict[str, dict[str, Any]] = {}
        for group in groups:
            owned = group["entry"] is not None
            creator_key = OWNER_CREATOR_KEY if owned else UNKNOWN_CREATOR_KEY
            creators[creator_key] = ({"key": creator_key, "actor": dict(OWNER_ACTOR)}
                                     if owned else {"key": creator_key})
            if isinstance(creator_filter, str) and creator_filter != creator_key:
                continue
            usage = session_summary(group["rows"], rng, pricer, group["sessionId"],
                                    group.get("sessionFile"))
            entry: Mapping[str, Any] = group["entry"] or {}
            channel = channel_of_key(group["key"]) or (entry.get("origin") or {}).get(
                "provider")
            aggregates.add(usage, group["agentId"], channel, creator_key,
                           OWNER_ACTOR if owned else None)
            if len(sessions) >= (limit or 50):
                continue
            row: dict[str, Any] = {"key": group["key"]}
            label = entry.get("label") or entry.get("displayName")
            if label:
                row["label"] = label
            row.update({"sessionId": group["sessionId"], "scope": group["scope"]})
            if group["scope"] == "family":
                ids = group["sessionIds"]
                row.update({"sessionFamilyKey": group["key"],
                            "currentSessionId": group["sessionId"],
                            "includedSessionIds": ids, "historicalInstanceCount": len(ids)})
            row.update({"updatedAt": group["updatedAt"], "agentId": group["agentId"],
                        "creatorKey": creator_key})
            if owned:
                row["createdActor"] = dict(OWNER_ACTOR)
            if channel:
                row["channel"] = channel
            for field in ("chatType", "origin", "modelOverride", "providerOverride",
                          "modelProvider", "model"):
                if entry.get(field) is not None:
                    row[field] = entry[field]
            row.update({"usage": usage, "hasContextWeight": False})
            if params.get("includeContextWeight") is True:
                row["contextWeight"] = None
            sessions.append(row)
        return {"updatedAt": runtime.now_ms(), "startDate": rng.start_date,
                "endDate": rng.end_date, "sessions": sessions, "totals": aggregates.totals,
                "aggregates": aggregates.finish(), "creatorOptions": list(creators.values()),
                "cacheStatus": self._fresh(len(groups))}

    def _groups(self, rows: list[UsageRow], rng: DateRange, agent: str | None,
                specific: str | None, family: bool) -> list[dict[str, Any]]:
        """The sessions to report: transcripts with rows in the range (or their keys with
        every reset, for ``family``), and indexed sessions updated in the range."""
        store = self.runtime.store
        view = self.runtime.view()
        agents = [agent] if agent is not None else list(view.agents)
        current: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for agent_id in agents:
            for key, entry in store.agent(agent_id).entries.items():
                if isinstance(entry.get("sessionId"), str):
                    current[(agent_id, entry["sessionId"])] = (key, entry)
        groups: dict[tuple[str, str], dict[str, Any]] = {}

        def group_of(agent_id: str, key: str, session_id: str) -> dict[str, Any]:
            owner = current.get((agent_id, session_id))
            if family:
                entry = store.agent(agent_id).get(key)
                ident = (agent_id, key)
            elif owner is not None:
                key, entry = owner
                ident = (agent_id, session_id)
            else:
                key, entry = f"agent:{agent_id}:{session_id}", None
                ident = (agent_id, session_id)
            group = groups.get(ident)
            if group is None:
                current_id = entry.get("sessionId") if entry else None
                group = groups[ident] = {
                    "key": key, "agentId": agent_id, "entry": entry,
                    "sessionId": current_id or session_id, "sessionIds": [],
                    "scope": "family" if family else "instance", "rows": [],
                    "updatedAt": (entry or {}).get("updatedAt")}
                if current_id:
                    group["sessionIds"].append(current_id)
            if session_id not in group["sessionIds"]:
                group["sessionIds"].append(session_id)
            return group

        in_range: set[tuple[str, str]] = set()
        for row in rows:
            if row.agent_id not in agents:
                continue
            if specific is not None and row.session_key != specific:
                continue
            group = group_of(row.agent_id, row.session_key, row.session_id)
            if not family and specific is not None and group["entry"] is None:
                continue
            group["rows"].append(row)
            ident = (row.agent_id, row.session_key if family else row.session_id)
            if row.ts is None or rng.start_ms <= row.ts <= rng.end_ms:
                in_range.add(ident)
                if row.ts is not None and (group["updatedAt"] is None or
                                           group["entry"] is None):
                    group["updatedAt"] = max(group["updatedAt"] or 0, row.ts)
        for (agent_id, session_id), (key, entry) in current.items():
            updated = entry.get("updatedAt")
            if specific is not None and key != specific:
                continue
            if specific is None and not (isinstance(updated, int | float) and
                                         rng.start_ms <= updated <= rng.end_ms):
                continue
            group = group_of(agent_id, key, session_id)
            in_range.add((agent_id, key if family else session_id))
        selected = [group for ident, group in groups.items() if ident in in_range]
        selected.sort(key=lambda g: -(g["updatedAt"] or 0))
        return selected

    # -- one session: timeseries, logs ------------------------------------------------------

    async def _session_records(self, call: MethodCall, detail: str
                               ) -> tuple[str, str, str, list[dict[str, Any]]]:
        params = call.param_map
        key = params.get("key")
        if not isinstance(key, str) or not key.strip():
            raise invalid_request(f"key is required for {detail}")
        try:
            agent_id, canonical = self.runtime.resolve(params.get("agentId") or None,
                                                       key.strip())
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        sessions = self.runtime.store.agent(agent_id)
        await sessions.load()
        entry = sessions.get(canonical)
        if entry is None or not entry.get("sessionId"):
            raise invalid_request(f"Invalid session key: {key}")
        records = await sessions.read(canonical)
        return agent_id, canonical, str(entry["sessionId"]), records

    async def timeseries(self, call: MethodCall) -> dict[str, Any]:
        agent_id, key, session_id, records = await self._session_records(call, "timeseries")
        if not records:
            raise invalid_request(f"No transcript found for session: {call.param_map['key']}")
        pricer = self.pricer()
        points: list[dict[str, Any]] = []
        for record in records:
            row = row_of(agent_id, key, session_id, record)
            if row is None or not row.has_usage or not row.ts:
                continue
            totals = row_totals(row, pricer) or empty_totals()
            points.append({"timestamp": row.ts, "input": row.input, "output": row.output,
                           "cacheRead": row.cache_read, "cacheWrite": row.cache_write,
                           "totalTokens": row.total_tokens, "cost": totals["totalCost"]})
        points.sort(key=lambda p: p["timestamp"])
        if len(points) > TIMESERIES_MAX_POINTS:
            step = -(-len(points) // TIMESERIES_MAX_POINTS)
            merged: list[dict[str, Any]] = []
            for index, point in enumerate(points):
                if index % step == 0:
                    merged.append(dict(point))
                    continue
                bucket = merged[-1]
                bucket["timestamp"] = point["timestamp"]
                for field in ("input", "output", "cacheRead", "cacheWrite", "totalTokens",
                              "cost"):
                    bucket[field] += point[field]
            points = merged
        tokens = 0
        cost = 0.0
        for point in points:
            tokens += point["totalTokens"]
            cost += point["cost"]
            point["cumulativeTokens"] = tokens
            point["cumulativeCost"] = cost
        return {"sessionId": session_id, "points": points}

    async def logs(self, call: MethodCall) -> dict[str, Any]:
        raw = call.param_map.get("limit")
        limit = min(int(raw), LOGS_MAX) if isinstance(raw, int | float) and not isinstance(
            raw, bool) else LOGS_DEFAULT
        agent_id, key, session_id, records = await self._session_records(call, "logs")
        if limit <= 0:
            return {"logs": []}
        pricer = self.pricer()
        logs: list[dict[str, Any]] = []
        for record in records:
            message = record.get("message")
            if not isinstance(message, Mapping):
                continue
            role = message.get("role")
            if role not in ("user", "assistant", "tool", "toolResult"):
                continue
            text = _log_text(message)
            if not text:
                continue
            entry: dict[str, Any] = {"timestamp": message_timestamp(record) or 0, "role": role,
                                     "content": text}
            row = row_of(agent_id, key, session_id, record)
            if role == "assistant" and row is not None and row.has_usage:
                totals = row_totals(row, pricer)
                entry["tokens"] = row.total_tokens
                if totals is not None and not totals["missingCostEntries"]:
                    entry["cost"] = totals["totalCost"]
            logs.append(entry)
        logs.sort(key=lambda e: e["timestamp"])
        return {"logs": logs[-limit:]}

    def specs(self) -> tuple[MethodSpec, ...]:
        return (
            MethodSpec("usage.status", self.usage_status, READ),
            MethodSpec("usage.cost", self.usage_cost, READ),
            # answered, not listed in features.methods (as upstream)
            MethodSpec("sessions.usage", self.sessions_usage, READ,
                       params_schema("sessions.usage"), advertise=False),
            MethodSpec("sessions.usage.timeseries", self.timeseries, READ, advertise=False),
            MethodSpec("sessions.usage.logs", self.logs, READ, advertise=False),
        )


def _log_text(message: Mapping[str, Any]) -> str:
    parts: list[str] = []
    role = message.get("role")
    if role in ("tool", "toolResult"):
        name = message.get("toolName") or message.get("tool_name") or message.get("name")
        parts += [f"[Tool: {name if isinstance(name, str) and name else 'tool'}]",
                  "[Tool Result]"]
    content = message.get("content")
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        pieces = []
        for block in content:
            if isinstance(block, str):
                pieces.append(block)
            elif isinstance(block, Mapping):
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    pieces.append(block["text"])
                elif block.get("type") in _TOOL_CALLS:
                    name = block.get("name")
                    pieces.append(f"[Tool: {name if isinstance(name, str) else 'unknown'}]")
                elif block.get("type") == "tool_result":
                    pieces.append("[Tool Result]")
        text = "\n".join(piece for piece in pieces if piece)
        if text:
            parts.append(text)
    text = "\n".join(parts).strip()
    return text[:LOG_TEXT_MAX] + "…" if len(text) > LOG_TEXT_MAX else text


__all__ = ["UsageMethods"]
