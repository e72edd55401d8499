"""The session store: ``<state>/agents/<agentId>/sessions/``.

* ``sessions.json`` maps each session key to its ``SessionEntry`` (``sessionId``,
  ``sessionStartedAt``, ``updatedAt``, token counts, overrides, ``origin`` ...): one compact
  JSON object, one member per line. A changed entry is *added at the end* of the object (the
  durable writer's :meth:`~openclaw.agents.durable.DurableWriter.extend_object`: one
  ``pwrite`` over the closing brace, fsync'd) - durably before anything depends on it when a
  key gains a session id or is patched, lazily (coalesced, 250 ms) for counters. A key may
  then appear more than once; the last one wins, as ``JSON.parse`` and Python's ``json`` read
  it. So a new session costs the same with 10 or 10,000 sessions stored. When the added
  members outgrow the rest, the file is compacted: rewritten whole (tmp + fsync + rename +
  directory fsync), in the writer thread, from the members already encoded; a delete is
  written that way at once. A file damaged by a crash of the machine is read member by member
  (a torn member is dropped, not the index) and compacted at load.
* ``<sessionId>.jsonl`` is the append-only transcript in the pi session format the real
  gateway writes: a ``session`` header (``version: 4``), then entries with ``id``/``parentId``
  (``model_change``, ``message`` with a pi-ai ``user``/``assistant``/``toolResult`` message,
  ``compaction``). Each record is one fsync'd line; a line torn by a crash is ignored on read
  and cut away before the next append.
* Reset and delete archive the transcript as ``<sessionId>.jsonl.reset.<ts>`` /
  ``<sessionId>.jsonl.deleted.<ts>`` (as the real gateway names them).
* ``queue.jsonl`` is the journal of messages acknowledged while their session was busy
  (:class:`QueueJournal`): a ``queued`` record (durable before the acknowledgement), then a
  ``done`` record once the message is in its transcript (or was dropped). A restart replays
  what is not done, in order.

All disk I/O goes through the durable writer (a thread): nothing here blocks the reactor.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from openclaw.agents.durable import DurableWriter, InlineWriter
from openclaw.atomic_files import atomic_write_bytes

log = Logger(namespace="agents.store")

TRANSCRIPT_VERSION: Final = 4
INDEX_FLUSH_DELAY_S: Final = 0.25
#: Members added to ``sessions.json`` since its last whole write may reach this many bytes, or
#: the size of that write if larger, before the file is compacted.
INDEX_COMPACT_MIN_BYTES: Final = 256 * 1024
Writer = DurableWriter | InlineWriter


def uuid7(now_ms: int | None = None) -> str:
    """A UUIDv7 (time-ordered), as the real gateway uses for session ids."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{ms % 1000:03d}Z"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """Records of a transcript; a torn or corrupt line is skipped (never raises on content)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return []
    records: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    if lines and lines[-1] != b"":
        lines = lines[:-1]  # torn tail: no newline yet
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def encode_member(key: str, entry: Mapping[str, Any]) -> bytes:
    """``"key":{entry}`` as one line of ``sessions.json`` (compact; JSON escapes keep newlines
    out of it)."""
    text = dumps({key: entry})[1:-1]
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:      # a lone surrogate: escaped, as JSON.stringify does
        return json.dumps({key: entry}, separators=(",", ":"))[1:-1].encode("ascii")


def _salvage_index(data: bytes) -> dict[str, Any] | None:
    """The members of a ``sessions.json`` that is not valid JSON as a whole (a crash of the
    machine tore its last write), read line by line; None when no line is a member."""
    entries: dict[str, Any] = {}
    found = False
    for raw in data.split(b"\n"):
        line = raw.strip()
        if line[:1] in (b"{", b","):
            line = line[1:]
        if not line or line == b"}":
            continue
        member: Any = None
        # a member line, or the last one with the object's closing brace
        for candidate in (b"{" + line + b"}", b"{" + line):
            try:
                member = json.loads(candidate)
                break
            except ValueError:
                continue
        if isinstance(member, dict):
            entries.update(member)
            found = True
    return entries if found else None


def _nothing() -> None:
    return None


def _read_index(path: str) -> tuple[dict[str, dict[str, Any]], bool]:
    """``(entries, compact_now)``: the index, and whether the file should be rewritten whole
    before anything is added to it (it was torn, or is not one JSON object)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return {}, False
    repair = False
    try:
        value = json.loads(data)
    except ValueError:
        value = _salvage_index(data)
        if value is None:
            # a corrupt index is kept aside, never silently overwritten
            aside = f"{path}.corrupt.{int(time.time() * 1000)}"
            os.replace(path, aside)
            log.error("session index {path} was unreadable; moved to {aside}", path=path,
                      aside=aside)
            return {}, False
        log.warn("session index {path} had a torn write; {n} entries recovered", path=path,
                 n=len(value))
        repair = True
    if not isinstance(value, dict):
        return {}, True
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}, repair


def _write_index(path: str, members: list[bytes]) -> int:
    """Write ``sessions.json`` whole from its members (writer thread); returns its size."""
    data = (b"{" + b"\n,".join(members) + b"\n}\n") if members else b"{}\n"
    atomic_write_bytes(path, data)
    return len(data)


def all_written(waiting: list[Deferred[None]]) -> Deferred[None]:
    """Fires once every write of ``waiting`` is settled: with None, or the first failure
    (the others consumed)."""
    from twisted.internet.defer import DeferredList

    def settled(results: list[tuple[bool, Any]]) -> Any:
        for ok, value in results:
            if not ok:
                return value
        return None

    return DeferredList(waiting, consumeErrors=True).addCallback(settled)


def _archive(path: str, suffix: str) -> str | None:
    if not os.path.exists(path):
        return None
    target = f"{path}.{suffix}"
    os.replace(path, target)
    return target


class AgentSessions:
    """One agent's ``sessions.json`` and transcripts."""

    def __init__(self, agent_id: str, directory: str, writer: Writer, clock: IReactorTime
                 ) -> None:
        self.agent_id = agent_id
        self.directory = directory
        self.index_path = os.path.join(directory, "sessions.json")
        self._writer = writer
        self._clock = clock
        self.entries: dict[str, dict[str, Any]] = {}
        self._leaf: dict[str, str | None] = {}
        self._loaded: Deferred[None] | None = None
        self._flush_call: IDelayedCall | None = None
        self._listeners: list[Callable[[str, str, dict[str, Any] | None], None]] = []
        self.queue = QueueJournal(os.path.join(directory, "queue.jsonl"), writer)
        # sessions.json: each entry's member as last encoded (dropped when the entry
        # changes), the keys changed since they were last written, and the bytes added to the
        # file since its last whole write (compaction when they outgrow it)
        self._members: dict[str, bytes] = {}
        self._dirty: set[str] = set()
        self._added_bytes = 0
        self._whole_bytes = 0
        self._compacting = False

    # -- loading ----------------------------------------------------------------------------

    def load(self) -> Deferred[None]:
        if self._loaded is None:
            loading = self._writer.call(_read_index, self.index_path)

            def loaded(result: tuple[dict[str, dict[str, Any]], bool]) -> Deferred[None] | None:
                entries, compact_now = result
                for key, entry in entries.items():
                    self.entries.setdefault(key, entry)
                self._dirty.update(key for key in self.entries if key not in entries)
                if compact_now:
                    return self._compact()
                return None

            self._loaded = loading.addCallback(loaded)
        return self._loaded

    def transcript_path(self, entry: Mapping[str, Any]) -> str:
        session_file = entry.get("sessionFile")
        if isinstance(session_file, str) and session_file:
            return session_file if os.path.isabs(session_file) else os.path.join(
                self.directory, session_file)
        return os.path.join(self.directory, f"{entry['sessionId']}.jsonl")

    def now_ms(self) -> int:
        return int(self._clock.seconds() * 1000)

    # -- index writes -----------------------------------------------------------------------

    def _member(self, key: str) -> bytes:
        member = self._members.get(key)
        if member is None:
            member = self._members[key] = encode_member(key, self.entries[key])
        return member

    def changed(self, key: str) -> None:
        """``key``'s entry changed in memory: written by the next flush."""
        self._members.pop(key, None)
        self._dirty.add(key)

    def flush_index(self) -> Deferred[None]:
        """Write the changed entries to ``sessions.json`` now (durable when the Deferred
        fires, together with every index write queued before)."""
        call, self._flush_call = self._flush_call, None
        if call is not None and call.active():
            call.cancel()
        dirty, self._dirty = self._dirty, set()
        members = [self._member(key) for key in dirty if key in self.entries]
        if len(members) < len(dirty):
            # a key was removed: only a whole write drops it
            return self._compact()
        if not members:
            return self._writer.call(_nothing)     # after the writes queued before
        self._added_bytes += sum(len(member) + 2 for member in members)
        written = self._writer.extend_object(self.index_path, members)
        if self._added_bytes > max(INDEX_COMPACT_MIN_BYTES, self._whole_bytes) and \
                not self._compacting:
            self._compact().addErrback(
                lambda f: log.failure("session index compaction failed", f))
        return written

    def _compact(self) -> Deferred[None]:
        """Rewrite ``sessions.json`` whole (every entry once), in the writer thread."""
        self._dirty.clear()
        self._compacting = True
        self._added_bytes = 0
        members = [self._member(key) for key in self.entries]

        def done(size: int) -> None:
            self._compacting = False
            self._whole_bytes = size

        def failed(failure: Any) -> Any:
            self._compacting = False
            self._dirty.update(self.entries)    # whatever is there, write it again
            return failure

        return self._writer.rewrite(self.index_path,
                                    lambda path: _write_index(path, members)).addCallbacks(
            done, failed)

    def schedule_flush(self) -> None:
        if self._flush_call is None or not self._flush_call.active():
            self._flush_call = self._clock.callLater(INDEX_FLUSH_DELAY_S, self._delayed_flush)

    def _delayed_flush(self) -> None:
        self._flush_call = None
        self.flush_index().addErrback(lambda f: log.failure("session index write failed", f))

    # -- sessions ---------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    async def ensure(self, key: str, *, cwd: str, fields: Mapping[str, Any] | None = None
                     ) -> tuple[dict[str, Any], bool]:
        """The entry of ``key``, creating the session (header + index, durable) if needed."""
        await self.load()
        entry, created = self.open_session(key, cwd=cwd, fields=fields)
        if created is not None:
            await created
        return entry, created is not None

    def open_session(self, key: str, *, cwd: str, fields: Mapping[str, Any] | None = None
                     ) -> tuple[dict[str, Any], Deferred[None] | None]:
        """:meth:`ensure` without waiting (the index is loaded): ``(entry, created)`` where
        ``created`` fires once a new session's header and index entry are durable (None: the
        session existed). Appends queued after this call land after the header, in the same
        writer batch when queued in the same reactor turn."""
        entry = self.entries.get(key)
        if entry is not None and entry.get("sessionId"):
            return entry, None
        now = self.now_ms()
        previous = entry
        entry = dict(entry or {})
        entry.update({"sessionId": uuid7(now), "sessionStartedAt": now, "updatedAt": now})
        for name, value in (fields or {}).items():
            entry.setdefault(name, value)
        self.entries[key] = entry
        header = {"type": "session", "version": TRANSCRIPT_VERSION, "id": entry["sessionId"],
                  "timestamp": iso(now), "cwd": cwd}
        self._leaf[key] = None
        writing = [self._writer.append(self.transcript_path(entry),
                                       (dumps(header) + "\n").encode())]
        self.changed(key)
        writing.append(self.flush_index())

        def undo(failure: Any) -> Any:
            # not created: the next attempt starts the session again; an index member that
            # reached the disk is taken back by the next index write
            if self.entries.get(key) is entry:
                if previous is None:
                    del self.entries[key]
                else:
                    self.entries[key] = previous
                self.changed(key)
                self.schedule_flush()
                self._leaf.pop(key, None)
            return failure

        created = all_written(writing).addErrback(undo)
        self._notify(key, "create", entry)
        return entry, created

    async def leaf_id(self, key: str) -> str | None:
        if key in self._leaf:
            return self._leaf[key]
        entry = self.entries.get(key)
        if entry is None:
            return None
        records = await self._writer.call(read_jsonl, self.transcript_path(entry))
        leaf = None
        for record in records:
            if record.get("type") != "session" and isinstance(record.get("id"), str):
                leaf = record["id"]
        self._leaf[key] = leaf
        return leaf

    async def append(self, key: str, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append entries (``type`` + payload); ids/parentIds/timestamps are filled in."""
        parent = await self.leaf_id(key)
        written, durable = self.append_after(key, parent, records)
        await durable
        return written

    def append_after(self, key: str, parent: str | None, records: Iterable[Mapping[str, Any]]
                     ) -> tuple[list[dict[str, Any]], Deferred[None]]:
        """:meth:`append` once the leaf is known (``parent``: :meth:`leaf_id`): the records
        as written, and a Deferred that fires once they are durable."""
        entry = self.entries[key]
        now = self.now_ms()
        lines: list[str] = []
        written: list[dict[str, Any]] = []
        for record in records:
            full = {"type": record.get("type", "message"), "id": str(uuid.uuid4()),
                    "parentId": parent, "timestamp": iso(now)}
            # a preset id: the user message of a journaled run (see QueueJournal)
            full.update({k: v for k, v in record.items()
                         if k not in full or k == "type" or (k == "id" and v)})
            parent = full["id"]
            lines.append(dumps(full))
            written.append(full)
        if not lines:
            return [], succeed(None)
        self._leaf[key] = parent
        durable = self._writer.append(self.transcript_path(entry),
                                      ("\n".join(lines) + "\n").encode())

        def notify(result: None) -> None:
            for record in written:
                self._notify(key, "append", record)

        return written, durable.addCallback(notify)

    async def read(self, key: str) -> list[dict[str, Any]]:
        entry = self.entries.get(key)
        if entry is None or not entry.get("sessionId"):
            return []
        return await self._writer.call(read_jsonl, self.transcript_path(entry))

    def touch(self, key: str, **fields: Any) -> None:
        entry = self.entries.get(key)
        if entry is None:
            return
        entry.update(fields)
        entry["updatedAt"] = self.now_ms()
        self.changed(key)
        self.schedule_flush()

    async def patch(self, key: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        await self.load()
        entry = self.entries.setdefault(key, {"updatedAt": self.now_ms()})
        for name, value in changes.items():
            if value is None:
                entry.pop(name, None)
            else:
                entry[name] = value
        entry["updatedAt"] = self.now_ms()
        self.changed(key)
        await self.flush_index()
        self._notify(key, "patch", entry)
        return entry

    async def reset(self, key: str, *, cwd: str, reason: str = "reset") -> dict[str, Any]:
        """New ``sessionId`` for ``key``; the old transcript is archived (``.reset.<ts>``)."""
        await self.load()
        old = self.entries.get(key)
        now = self.now_ms()
        if old is not None and old.get("sessionId"):
            path = self.transcript_path(old)
            await self._writer.forget(path)
            await self._writer.call(_archive, path, f"reset.{now}")
        keep = {name: value for name, value in (old or {}).items() if name in _KEPT_ON_RESET}
        self.entries.pop(key, None)
        self._leaf.pop(key, None)
        entry, _ = await self.ensure(key, cwd=cwd, fields={**keep, "lastResetReason": reason})
        self._notify(key, "reset", entry)
        return entry

    async def delete(self, key: str, *, delete_transcript: bool = True) -> tuple[bool, list[str]]:
        await self.load()
        entry = self.entries.pop(key, None)
        self._leaf.pop(key, None)
        if entry is None:
            return False, []
        self._members.pop(key, None)
        self._dirty.add(key)
        archived: list[str] = []
        if entry.get("sessionId"):
            path = self.transcript_path(entry)
            await self._writer.forget(path)
            if delete_transcript:
                target = await self._writer.call(_archive, path, f"deleted.{self.now_ms()}")
                if target:
                    archived.append(target)
        await self.flush_index()
        self._notify(key, "delete", None)
        return True, archived

    async def rewrite(self, key: str, records: list[dict[str, Any]]) -> str | None:
        """Replace a transcript (compaction by line count); the old one is archived."""
        entry = self.entries[key]
        path = self.transcript_path(entry)
        now = self.now_ms()
        await self._writer.forget(path)

        def archive_copy() -> str | None:
            if not os.path.exists(path):
                return None
            target = f"{path}.bak.{now}"
            with open(path, "rb") as source, open(target, "wb") as copy:
                copy.write(source.read())
            return target

        archived = await self._writer.call(archive_copy)
        data = "".join(dumps(record) + "\n" for record in records).encode()
        await self._writer.replace(path, data)
        leaf = None
        for record in records:
            if record.get("type") != "session":
                leaf = record.get("id")
        self._leaf[key] = leaf
        return archived

    # -- change notification ----------------------------------------------------------------

    def listen(self, listener: Callable[[str, str, dict[str, Any] | None], None]) -> None:
        self._listeners.append(listener)

    def _notify(self, key: str, what: str, value: dict[str, Any] | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(key, what, value)
            except Exception:
                log.failure("session listener failed")


class QueueJournal:
    """``queue.jsonl``: messages acknowledged while their session was busy, until they are in
    their transcript.

    ``{"type": "queued", "runId", "sessionKey", "messageId", "ts", "request": {...}}`` is
    appended (fsync'd) before the acknowledgement; ``{"type": "done", "runId"}`` once the
    message is in the transcript under ``messageId`` (or the queued run was dropped). A
    ``done`` lost in a crash is harmless: replay skips a message already in its transcript.
    When nothing is outstanding and the file holds many records, it is compacted (emptied).
    """

    COMPACT_AFTER: Final = 256

    def __init__(self, path: str, writer: Writer) -> None:
        self.path = path
        self._writer = writer
        self._open: set[str] = set()     # run ids with a queued record and no done yet
        self._records = 0                # records appended since the last compaction

    def enqueue(self, run_id: str, session_key: str, message_id: str,
                request: Mapping[str, Any], ts: int) -> Deferred[None]:
        record = {"type": "queued", "runId": run_id, "sessionKey": session_key,
                  "messageId": message_id, "ts": ts, "request": dict(request)}
        self._open.add(run_id)
        self._records += 1
        return self._writer.append(self.path, (dumps(record) + "\n").encode())

    def done(self, run_id: str) -> Deferred[None]:
        self._open.discard(run_id)
        self._records += 1
        written = self._writer.append(self.path, (dumps({"type": "done", "runId": run_id})
                                                  + "\n").encode())
        if not self._open and self._records >= self.COMPACT_AFTER:
            # after the done above (same writer, in order); appends queued later land after
            self._records = 0
            self._writer.rewrite(self.path, _take_pending).addErrback(
                lambda f: log.failure("queue journal {path}: compaction failed", f,
                                      path=self.path))
        return written

    def take_pending(self) -> Deferred[list[dict[str, Any]]]:
        """The ``queued`` records without ``done``, in order; the journal is rewritten to
        hold just them (one writer operation: appends queued after it land after it)."""

        def taken(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            self._open.update(str(r["runId"]) for r in records)
            self._records = len(records)
            return records

        return self._writer.rewrite(self.path, _take_pending).addCallback(taken)


def _take_pending(path: str) -> list[dict[str, Any]]:
    from openclaw.atomic_files import atomic_write_bytes

    if not os.path.exists(path):
        return []
    pending: dict[str, dict[str, Any]] = {}
    for record in read_jsonl(path):
        run_id = record.get("runId")
        if not isinstance(run_id, str):
            continue
        if record.get("type") == "queued" and isinstance(record.get("request"), dict):
            pending.setdefault(run_id, record)
        elif record.get("type") == "done":
            pending.pop(run_id, None)
    records = list(pending.values())
    atomic_write_bytes(path, "".join(dumps(r) + "\n" for r in records).encode())
    return records


_KEPT_ON_RESET: Final = frozenset({
    "label", "displayName", "chatType", "origin", "thinkingLevel", "verboseLevel",
    "reasoningLevel", "elevatedLevel", "sendPolicy", "modelOverride", "providerOverride",
    "queueMode", "responseUsage", "channel", "subject",
})


class SessionStore:
    """All agents' session stores under ``<state>/agents``."""

    def __init__(self, state_dir: str, writer: Writer, clock: IReactorTime,
                 sessions_dir: Callable[[str], str] | None = None) -> None:
        self.state_dir = state_dir
        self.writer = writer
        self.clock = clock
        self._sessions_dir = sessions_dir or (
            lambda agent: os.path.join(state_dir, "agents", agent, "sessions"))
        self._agents: dict[str, AgentSessions] = {}
        self._listeners: list[Callable[[str, str, str, dict[str, Any] | None], None]] = []

    def agent(self, agent_id: str) -> AgentSessions:
        sessions = self._agents.get(agent_id)
        if sessions is None:
            sessions = AgentSessions(agent_id, self._sessions_dir(agent_id), self.writer,
                                     self.clock)
            def forward(key: str, what: str, value: dict[str, Any] | None,
                        agent: str = agent_id) -> None:
                self._fanout(agent, key, what, value)

            sessions.listen(forward)
            self._agents[agent_id] = sessions
        return sessions

    def agents(self) -> list[AgentSessions]:
        return list(self._agents.values())

    def listen(self, listener: Callable[[str, str, str, dict[str, Any] | None], None]) -> None:
        self._listeners.append(listener)

    def _fanout(self, agent_id: str, key: str, what: str, value: dict[str, Any] | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(agent_id, key, what, value)
            except Exception:
                log.failure("session store listener failed")

    async def flush(self) -> None:
        for sessions in list(self._agents.values()):
            await sessions.flush_index()

    async def close(self) -> None:
        await self.flush()
        await self.writer.stop()
