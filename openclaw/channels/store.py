"""The channels' durable state: one SQLite database (WAL) under the state dir.

* ``ingress``: every message an account accepted, written before any policy check; a row is
  ``pending`` until it was dispatched (its reply queued in the same transaction) or dropped;
* ``outbox``: every outbound chunk, ``pending`` until the network accepted it (``sent``) or
  it can never be delivered (``failed``); keys make enqueueing idempotent;
* ``pairing_requests`` / ``allow_entries``: DM pairing (codes, approvals), shared with the
  ``openclaw pairing`` CLI, which opens the same file when the gateway is down;
* ``kv``: small per-account state (the Matrix ``since`` token, its login).

The methods are blocking: the gateway calls them through its blocking runner (a thread),
the CLI directly. One connection, serialized by a lock; ``synchronous=FULL`` so what a
method returned is on disk (``kill -9`` never loses an acknowledged row).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from openclaw.state_db import SqliteDatabase

DB_FILENAME: Final = "channels.sqlite"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ingress (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL, account TEXT NOT NULL, event_key TEXT NOT NULL,
    payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, note TEXT,
    UNIQUE (channel, account, event_key));
CREATE INDEX IF NOT EXISTS ingress_pending ON ingress (channel, account, state, id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL, account TEXT NOT NULL, target TEXT NOT NULL, text TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL DEFAULT 'pending',
    created_at INTEGER NOT NULL, next_at INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, sent_at INTEGER, message_id TEXT);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (channel, account, state, id);
CREATE TABLE IF NOT EXISTS pairing_requests (
    channel TEXT NOT NULL, account TEXT NOT NULL, sender_id TEXT NOT NULL,
    code TEXT NOT NULL, created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (channel, account, sender_id));
CREATE TABLE IF NOT EXISTS allow_entries (
    channel TEXT NOT NULL, account TEXT NOT NULL, entry TEXT NOT NULL,
    added_at INTEGER NOT NULL, PRIMARY KEY (channel, account, entry));
CREATE TABLE IF NOT EXISTS kv (
    scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (scope, key));
"""


def database_path(state_dir: str) -> str:
    return os.path.join(state_dir, DB_FILENAME)


@attrs.frozen
class IngressRow:
    id: int
    channel: str
    account: str
    event_key: str
    payload: str
    state: str


@attrs.frozen
class OutboxRow:
    id: int
    key: str
    channel: str
    account: str
    target: str
    text: str
    meta: Mapping[str, Any]
    state: str
    created_at: int
    next_at: int
    attempts: int
    last_error: str | None = None
    sent_at: int | None = None
    message_id: str | None = None


@attrs.frozen
class NewOutbound:
    """An outbound chunk to queue (``key`` makes the insert idempotent)."""

    key: str
    channel: str
    account: str
    target: str
    text: str
    meta: Mapping[str, Any] = attrs.field(factory=dict)


class ChannelDatabase(SqliteDatabase):
    """Blocking access to ``channels.sqlite`` (thread-safe; see the module docstring). The
    shared SQLite handle (``openclaw.state_db``), opened at once (the CLI reads it directly)."""

    def __init__(self, path: str) -> None:
        super().__init__(path, _SCHEMA)
        self.connection()

    # -- ingress ------------------------------------------------------------------------

    def ingress_add(self, channel: str, account: str, event_key: str, payload: str,
                    now_ms: int) -> int | None:
        """Store a message; its row id, or None when the same event was stored before."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO ingress (channel, account, event_key, payload, state, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                (channel, account, event_key, payload, now_ms, now_ms))
            return int(cursor.lastrowid or 0) if cursor.rowcount else None

    def ingress_pending(self, channel: str, account: str) -> list[IngressRow]:
        rows = self.query("SELECT id, channel, account, event_key, payload, state FROM ingress "
                          "WHERE channel = ? AND account = ? AND state = 'pending' ORDER BY id",
                          (channel, account))
        return [IngressRow(*row) for row in rows]

    def ingress_finish(self, row_id: int, state: str, note: str | None, now_ms: int,
                       outbound: Iterable[NewOutbound] = ()) -> list[int]:
        """Mark an ingress row done/dropped and queue its outbound chunks, atomically."""
        with self.transaction() as conn:
            ids = self._outbox_add(conn, outbound, now_ms)
            conn.execute("UPDATE ingress SET state = ?, note = ?, updated_at = ? WHERE id = ?",
                         (state, note, now_ms, row_id))
            return ids

    def ingress_prune(self, before_ms: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM ingress WHERE state != 'pending' AND updated_at < ?",
                         (before_ms,))

    # -- outbox -------------------------------------------------------------------------

    def outbox_add(self, rows: Iterable[NewOutbound], now_ms: int) -> list[int]:
        """Queue chunks (a key queued before keeps its row); the row ids, in order."""
        with self.transaction() as conn:
            return self._outbox_add(conn, rows, now_ms)

    @staticmethod
    def _outbox_add(conn: sqlite3.Connection, rows: Iterable[NewOutbound],
                    now_ms: int) -> list[int]:
        ids = []
        for row in rows:
            conn.execute(
                "INSERT OR IGNORE INTO outbox (key, channel, account, target, text, meta, "
                "state, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, 0)",
                (row.key, row.channel, row.account, row.target, row.text,
                 json.dumps(dict(row.meta), separators=(",", ":")), now_ms))
            found = conn.execute("SELECT id FROM outbox WHERE key = ?", (row.key,)).fetchone()
            ids.append(int(found[0]))
        return ids

    _OUTBOX_COLUMNS: Final = ("id, key, channel, account, target, text, meta, state, created_at, "
                              "next_at, attempts, last_error, sent_at, message_id")

    def _outbox_rows(self, where: str, args: Sequence[Any]) -> list[OutboxRow]:
        rows = self.query(f"SELECT {self._OUTBOX_COLUMNS} FROM outbox WHERE {where} ORDER BY id",
                          args)
        return [OutboxRow(row[0], row[1], row[2], row[3], row[4], row[5],
                          json.loads(row[6] or "{}"), *row[7:])
                for row in rows]

    def outbox_pending(self, channel: str, account: str) -> list[OutboxRow]:
        return self._outbox_rows("channel = ? AND account = ? AND state = 'pending'",
                                 (channel, account))

    def outbox_get(self, row_ids: Sequence[int]) -> list[OutboxRow]:
        if not row_ids:
            return []
        marks = ",".join("?" for _ in row_ids)
        return self._outbox_rows(f"id IN ({marks})", list(row_ids))

    def outbox_by_key_prefix(self, prefix: str) -> list[OutboxRow]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._outbox_rows("key LIKE ? ESCAPE '\\'", (escaped + "%",))

    def outbox_sent(self, row_id: int, message_id: str | None, now_ms: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET state = 'sent', sent_at = ?, message_id = ?, "
                         "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                         (now_ms, message_id, row_id))

    def outbox_retry(self, row_id: int, error: str, next_at_ms: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
                         "next_at = ? WHERE id = ?", (error, next_at_ms, row_id))

    def outbox_failed(self, row_id: int, error: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, "
                         "last_error = ? WHERE id = ?", (error, row_id))

    def outbox_prune(self, before_ms: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE state != 'pending' AND created_at < ?",
                         (before_ms,))

    # -- kv -----------------------------------------------------------------------------

    def kv_get(self, scope: str, key: str) -> str | None:
        rows = self.query("SELECT value FROM kv WHERE scope = ? AND key = ?", (scope, key))
        return str(rows[0][0]) if rows else None

    def kv_set(self, scope: str, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM kv WHERE scope = ? AND key = ?", (scope, key))
            else:
                conn.execute("INSERT INTO kv (scope, key, value) VALUES (?, ?, ?) "
                             "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                             (scope, key, value))
