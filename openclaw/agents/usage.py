"""Token and cost accounting: prices, and the usage ledger every transcript message feeds.

**Prices.** A model's ``cost`` (``models.providers.<id>.models[].cost``, USD per million
tokens for input, output, cache reads and cache writes) prices each model call:
:func:`usage_wire` is the ``usage`` an assistant message records, with ``cost {input, output,
cacheRead, cacheWrite, total}`` when the model has a price (as upstream's transcripts). A call of
a model without a price has no recorded cost; the reports estimate it from the prices
configured when they are read, else count it in ``missingCostEntries``.

**The ledger.** :class:`UsageLedger` listens to the session store: every message appended to a
transcript (user, assistant, tool result) becomes one row of ``usage_messages`` in the
gateway's state database (``<state>/gateway.sqlite``): its time, agent, session key and id,
role, provider and model, tokens, recorded cost, the tools it called, the tool results and
errors it carries. Rows are written off the reactor in order, a few per reactor turn; each
carries the transcript entry's id, so writing one twice (a backfill after a crash) is
harmless. Transcripts written before the ledger existed are read once at start
(:meth:`UsageLedger.backfill`). The reports (``openclaw.agents.usage_report``) aggregate the
rows per run, session, agent, provider, model, channel and day.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import attrs
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from openclaw.agents.store import SessionStore, read_jsonl
from openclaw.config.schema import ModelCostConfig, OpenClawConfig
from openclaw.providers.types import Usage
from openclaw.state_db import SerialWriter, SqliteDatabase

log = Logger(namespace="agents.usage")

PER_MILLION: Final = 1_000_000.0
ERROR_STOP_REASONS: Final = frozenset({"error", "aborted", "timeout"})
TOOL_CALL_TYPES: Final = frozenset({"toolCall", "tool_call", "toolUse", "tool_use",
                                    "functionCall", "function_call"})
BACKFILL_MARK: Final = "usage.backfilled.v1"

USAGE_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS usage_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT UNIQUE,
    agent_id TEXT NOT NULL, session_key TEXT NOT NULL, session_id TEXT NOT NULL,
    ts INTEGER, role TEXT NOT NULL, provider TEXT, model TEXT,
    has_usage INTEGER NOT NULL DEFAULT 0,
    input INTEGER NOT NULL DEFAULT 0, output INTEGER NOT NULL DEFAULT 0,
    cache_read INTEGER NOT NULL DEFAULT 0, cache_write INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    cost_total REAL, cost_input REAL, cost_output REAL, cost_cache_read REAL,
    cost_cache_write REAL,
    tool_names TEXT NOT NULL DEFAULT '[]', tool_results INTEGER NOT NULL DEFAULT 0,
    tool_errors INTEGER NOT NULL DEFAULT 0, stop_reason TEXT, duration_ms INTEGER);
CREATE INDEX IF NOT EXISTS usage_messages_ts ON usage_messages (ts);
CREATE INDEX IF NOT EXISTS usage_messages_session ON usage_messages (agent_id, session_id, ts);
CREATE TABLE IF NOT EXISTS usage_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# --------------------------------------------------------------------------- prices


def model_price(config: OpenClawConfig, provider: str | None, model: str | None
                ) -> ModelCostConfig | None:
    """The configured price of ``provider/model`` (None: no price known)."""
    if not provider or not model:
        return None
    providers = config.models.providers
    section = providers.get(provider)
    if section is None:
        lowered = provider.lower()
        section = next((p for name, p in providers.items() if name.lower() == lowered), None)
    if section is None:
        return None
    for definition in section.models:
        if definition.id == model and definition.cost is not None:
            return definition.cost
    return None


def _rate(value: float | None) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def price_tokens(price: ModelCostConfig, input_tokens: int, output: int, cache_read: int,
                 cache_write: int) -> dict[str, float]:
    """``{input, output, cacheRead, cacheWrite, total}`` in USD."""
    cost = {"input": input_tokens * _rate(price.input) / PER_MILLION,
            "output": output * _rate(price.output) / PER_MILLION,
            "cacheRead": cache_read * _rate(price.cache_read) / PER_MILLION,
            "cacheWrite": cache_write * _rate(price.cache_write) / PER_MILLION}
    cost["total"] = cost["input"] + cost["output"] + cost["cacheRead"] + cost["cacheWrite"]
    return cost


def usage_wire(config: OpenClawConfig, provider: str, model: str, usage: Usage
               ) -> dict[str, Any]:
    """An assistant message's ``usage``, priced when the model has a price."""
    wire = usage.to_wire()
    price = model_price(config, provider, model)
    if price is not None:
        wire["cost"] = price_tokens(price, usage.input, usage.output, usage.cache_read,
                                    usage.cache_write)
    return wire


# --------------------------------------------------------------------------- ledger rows


@attrs.frozen
class UsageRow:
    """One transcript message as the ledger keeps it."""

    agent_id: str
    session_key: str
    session_id: str
    ts: int | None
    role: str                                   # "user" | "assistant" | "toolResult"
    entry_id: str | None = None
    provider: str | None = None
    model: str | None = None
    has_usage: bool = False
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    total_tokens: int = 0
    cost: Mapping[str, float] | None = None     # recorded {input, output, ..., total}
    tool_names: tuple[str, ...] = ()
    tool_results: int = 0
    tool_errors: int = 0
    stop_reason: str | None = None
    duration_ms: int | None = None


_COLUMNS: Final = ("entry_id, agent_id, session_key, session_id, ts, role, provider, model, "
                   "has_usage, input, output, cache_read, cache_write, total_tokens, "
                   "cost_total, cost_input, cost_output, cost_cache_read, cost_cache_write, "
                   "tool_names, tool_results, tool_errors, stop_reason, duration_ms")


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _recorded_cost(usage: Mapping[str, Any]) -> dict[str, float] | None:
    cost = usage.get("cost")
    if not isinstance(cost, Mapping):
        return None
    total = _number(cost.get("total"))
    if total is None or total < 0:
        return None
    return {"input": _number(cost.get("input")) or 0.0,
            "output": _number(cost.get("output")) or 0.0,
            "cacheRead": _number(cost.get("cacheRead")) or 0.0,
            "cacheWrite": _number(cost.get("cacheWrite")) or 0.0, "total": total}


def message_timestamp(record: Mapping[str, Any]) -> int | None:
    message = record.get("message")
    if isinstance(message, Mapping):
        stamp = _number(message.get("timestamp"))
        if stamp is not None:
            return int(stamp)
    raw = record.get("timestamp")
    if isinstance(raw, str):
        from datetime import datetime

        try:
            return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return None
    return None


def row_of(agent_id: str, key: str, session_id: str, record: Mapping[str, Any]
           ) -> UsageRow | None:
    """The ledger row of one transcript record (None: not a counted message)."""
    message = record.get("message")
    if record.get("type", "message") != "message" or not isinstance(message, Mapping):
        return None
    role = message.get("role")
    standalone_result = role in ("tool", "toolResult")
    if role not in ("user", "assistant") and not standalone_result:
        return None
    entry_id = record.get("id") if isinstance(record.get("id"), str) else None
    ts = message_timestamp(record)
    if standalone_result:
        is_error = message.get("isError") is True or message.get("is_error") is True
        return UsageRow(agent_id, key, session_id, ts, "toolResult", entry_id,
                        tool_results=1, tool_errors=1 if is_error else 0)
    tools: list[str] = []
    results = errors = 0
    content = message.get("content")
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, Mapping):
                continue
            kind = str(block.get("type") or "")
            if kind in TOOL_CALL_TYPES and isinstance(block.get("name"), str):
                tools.append(block["name"])
            elif kind.lower() in ("tool_result", "tool_result_error"):
                results += 1
                errors += 1 if block.get("is_error") is True else 0
    usage = message.get("usage")
    fields: dict[str, Any] = {}
    if role == "assistant" and isinstance(usage, Mapping):
        input_tokens, output = _int(usage.get("input")), _int(usage.get("output"))
        cache_read, cache_write = _int(usage.get("cacheRead")), _int(usage.get("cacheWrite"))
        total = usage.get("totalTokens", usage.get("total"))
        fields = {"has_usage": True, "input": input_tokens, "output": output,
                  "cache_read": cache_read, "cache_write": cache_write,
                  "total_tokens": _int(total) if _number(total) is not None
                  else input_tokens + output + cache_read + cache_write,
                  "cost": _recorded_cost(usage)}
    stop = message.get("stopReason")
    duration = _number(message.get("durationMs"))
    return UsageRow(agent_id, key, session_id, ts, str(role), entry_id,
                    provider=message.get("provider") if isinstance(message.get("provider"),
                                                                   str) else None,
                    model=message.get("model") if isinstance(message.get("model"), str)
                    else None,
                    tool_names=tuple(tools), tool_results=results, tool_errors=errors,
                    stop_reason=stop if isinstance(stop, str) else None,
                    duration_ms=int(duration) if duration is not None else None, **fields)


def _values(row: UsageRow) -> tuple[Any, ...]:
    cost = row.cost or {}
    return (row.entry_id, row.agent_id, row.session_key, row.session_id, row.ts, row.role,
            row.provider, row.model, 1 if row.has_usage else 0, row.input, row.output,
            row.cache_read, row.cache_write, row.total_tokens,
            cost.get("total") if row.cost else None, cost.get("input"), cost.get("output"),
            cost.get("cacheRead"), cost.get("cacheWrite"),
            json.dumps(list(row.tool_names)), row.tool_results, row.tool_errors,
            row.stop_reason, row.duration_ms)


def _from_db(values: Sequence[Any]) -> UsageRow:
    (entry_id, agent_id, key, session_id, ts, role, provider, model, has_usage, input_tokens,
     output, cache_read, cache_write, total, cost_total, cost_input, cost_output,
     cost_cache_read, cost_cache_write, tool_names, tool_results, tool_errors, stop,
     duration) = values
    cost = None if cost_total is None else {
        "total": cost_total, "input": cost_input or 0.0, "output": cost_output or 0.0,
        "cacheRead": cost_cache_read or 0.0, "cacheWrite": cost_cache_write or 0.0}
    return UsageRow(agent_id, key, session_id, ts, role, entry_id, provider, model,
                    bool(has_usage), input_tokens, output, cache_read, cache_write, total,
                    cost, tuple(json.loads(tool_names or "[]")), tool_results, tool_errors,
                    stop, duration)


# --------------------------------------------------------------------------- storage


class UsageDatabase:
    """Blocking access to the ledger's tables (called off the reactor, or by tests)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            self.db.connection().executescript(USAGE_SCHEMA)
            self._ready = True

    def insert(self, rows: Iterable[UsageRow]) -> int:
        self._ensure()
        added = 0
        with self.db.transaction() as conn:
            for row in rows:
                cursor = conn.execute(
                    f"INSERT OR IGNORE INTO usage_messages ({_COLUMNS}) VALUES "
                    f"({', '.join('?' * 24)})", _values(row))
                added += cursor.rowcount
        return added

    def rows(self, *, start_ms: int | None = None, end_ms: int | None = None,
             agent_id: str | None = None, session_ids: Sequence[str] | None = None,
             include_untimestamped: bool = False) -> list[UsageRow]:
        """Rows in ``[start_ms, end_ms]`` (by time, then insertion order)."""
        self._ensure()
        where: list[str] = []
        args: list[Any] = []
        if start_ms is not None or end_ms is not None:
            bounds = []
            if start_ms is not None:
                bounds.append("ts >= ?")
                args.append(start_ms)
            if end_ms is not None:
                bounds.append("ts <= ?")
                args.append(end_ms)
            clause = " AND ".join(bounds)
            where.append(f"(({clause}) OR ts IS NULL)" if include_untimestamped
                         else f"({clause})")
        if agent_id is not None:
            where.append("agent_id = ?")
            args.append(agent_id)
        if session_ids is not None:
            if not session_ids:
                return []
            where.append(f"session_id IN ({', '.join('?' * len(session_ids))})")
            args.extend(session_ids)
        sql = f"SELECT {_COLUMNS} FROM usage_messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts, id"
        return [_from_db(values) for values in self.db.query(sql, args)]

    def meta(self, key: str) -> str | None:
        self._ensure()
        found = self.db.query("SELECT value FROM usage_meta WHERE key = ?", (key,))
        return str(found[0][0]) if found else None

    def set_meta(self, key: str, value: str) -> None:
        self._ensure()
        self.db.execute("INSERT OR REPLACE INTO usage_meta (key, value) VALUES (?, ?)",
                        (key, value))


def scan_transcripts(agent_id: str, directory: str,
                     keys_by_session: Mapping[str, str]) -> list[UsageRow]:
    """Every counted message of an agent's transcripts (current and archived). Blocking."""
    rows: list[UsageRow] = []
    for path in sorted(glob.glob(os.path.join(directory, "*.jsonl*"))):
        name = os.path.basename(path)
        session_id = name.split(".jsonl", 1)[0]
        if not session_id or name.startswith("queue."):
            continue
        key = keys_by_session.get(session_id) or f"agent:{agent_id}:{session_id}"
        try:
            records = read_jsonl(path)
        except OSError:
            continue
        for record in records:
            row = row_of(agent_id, key, session_id, record)
            if row is not None:
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- the ledger


class UsageLedger:
    """Feeds ``usage_messages`` from the session store (see the module docstring)."""

    def __init__(self, store: SessionStore, db: SqliteDatabase, writer: SerialWriter,
                 clock: Any) -> None:
        self.store = store
        self.database = UsageDatabase(db)
        self.writer = writer
        self.clock = clock
        self._pending: list[UsageRow] = []
        self._flush_call: IDelayedCall | None = None
        store.listen(self._stored)

    def _stored(self, agent_id: str, key: str, what: str,
                value: dict[str, Any] | None) -> None:
        if what != "append" or value is None:
            return
        entry = self.store.agent(agent_id).get(key) or {}
        session_id = entry.get("sessionId")
        if not isinstance(session_id, str):
            return
        row = row_of(agent_id, key, session_id, value)
        if row is None:
            return
        self._pending.append(row)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        self.flush().addErrback(lambda f: log.failure("usage ledger write failed", f))

    def flush(self) -> Deferred[int]:
        """Write the rows recorded so far (in order with earlier writes)."""
        call, self._flush_call = self._flush_call, None
        if call is not None and call.active():
            call.cancel()
        rows, self._pending = self._pending, []
        return self.writer(self.database.insert, rows)

    async def drain(self) -> None:
        if self._pending:
            await self.flush()
        await self.writer.drain()

    async def backfill(self, agent_ids: Iterable[str]) -> int:
        """Once per state dir: the transcripts written before the ledger existed."""
        if await self.writer(self.database.meta, BACKFILL_MARK) is not None:
            return 0
        added = 0
        for agent_id in agent_ids:
            sessions = self.store.agent(agent_id)
            await sessions.load()
            rows = await self.writer(scan_transcripts, agent_id, sessions.directory,
                                     self._keys_by_session(agent_id))
            # A run may have started while the scan ran (the backfill does not hold start-up
            # back): its transcript was read under the fallback key, and the rows inserted
            # first win. Its index entry existed before its first append, so mapping again
            # now, on the reactor thread, gives every scanned message its real key (only the
            # rows of such sessions are rebuilt here; the rest were keyed in the scan).
            keys = self._keys_by_session(agent_id)
            rows = [row if keys.get(row.session_id, row.session_key) == row.session_key
                    else attrs.evolve(row, session_key=keys[row.session_id]) for row in rows]
            added += await self.writer(self.database.insert, rows)
        await self.writer(self.database.set_meta, BACKFILL_MARK, str(int(
            self.clock.seconds() * 1000)))
        return added

    def _keys_by_session(self, agent_id: str) -> dict[str, str]:
        return {str(entry["sessionId"]): key
                for key, entry in self.store.agent(agent_id).entries.items()
                if isinstance(entry.get("sessionId"), str)}

    def rows(self, **query: Any) -> Deferred[list[UsageRow]]:
        """Rows of a query (see :meth:`UsageDatabase.rows`), after the writes asked so far."""
        if self._pending:
            self.flush().addErrback(lambda f: log.failure("usage ledger write failed", f))
        return self.writer(self.database.rows, **query)


class UsageService(Service):
    """Child ``usage`` (after ``agents``): the ledger; the one-time backfill at start, the
    last rows written at stop."""

    name = "usage"

    def __init__(self, ledger: UsageLedger, agent_ids: Callable[[], Iterable[str]]) -> None:
        self.ledger = ledger
        self.agent_ids = agent_ids
        self.backfilled: Deferred[int] | None = None

    def startService(self) -> None:
        super().startService()
        self.backfilled = Deferred.fromCoroutine(self.ledger.backfill(list(self.agent_ids())))
        self.backfilled.addErrback(lambda f: log.failure("usage ledger backfill failed", f))

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        backfill = self.backfilled
        if backfill is not None and not backfill.called:
            waiting: Deferred[None] = Deferred()
            backfill.addBoth(lambda _: waiting.callback(None))
            await waiting      # its errors are logged where it runs
        await self.ledger.drain()


__all__ = [
    "USAGE_SCHEMA",
    "UsageDatabase",
    "UsageLedger",
    "UsageRow",
    "UsageService",
    "message_timestamp",
    "model_price",
    "price_tokens",
    "row_of",
    "scan_transcripts",
    "usage_wire",
]
