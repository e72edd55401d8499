"""``GET /sessions/{key}/history`` (JSON or live SSE) and ``POST /sessions/{key}/kill``.

History (``sessions-history-http``): scope ``chat.history`` (read); the key is URL-decoded
and resolved like ``chat.history`` (``main`` -> the default agent's main session); unknown ->
``404 {"ok":false,"error":{"type":"not_found","message":"Session not found: <key>"}}``;
``limit`` 1..1000 (larger is capped), ``cursor`` (a message ``seq``: older messages only).
Answer ``{"sessionKey", "items", "messages", "hasMore"[, "nextCursor"]}``, messages as
``chat.history`` shows them (with ``__openclaw: {id, seq}``). With ``Accept:
text/event-stream`` (explicitly; ``*/*`` does not opt in) the answer is an SSE stream:
``retry: 1000``, ``event: history`` (the snapshot), then ``event: message`` ``{sessionKey,
message, messageId, messageSeq}`` for every appended message, a fresh ``history`` after a
reset/compaction, ``: keepalive`` every 15 s; the caller's auth is re-checked before every
event and the stream ends when it no longer passes.

Kill (``session-kill-http``): 2026.9.6 derives scopes the "trusted" way here, so only
identity-bearing callers (``trusted-proxy``, ``none``) holding ``operator.admin`` may kill; a
shared-secret bearer gets ``403 missing scope: operator.admin``, exactly as the real gateway.
Aborts the session's runs: ``200 {"ok":true,"killed":true|false}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote_to_bytes

from twisted.internet.task import LoopingCall
from twisted.web.http import Request

from openclaw.agents.runtime import AgentRequestError
from openclaw.agents.transcript import display_messages
from openclaw.gateway.http.common import (
    Exchange,
    header,
    invalid_request_body,
    method_not_allowed,
    sse_event,
    write_json,
)

if TYPE_CHECKING:
    from openclaw.gateway.http.api import HttpApi

_HISTORY: Final = re.compile(rb"^/sessions/([^/]+)/history$")
_KILL: Final = re.compile(rb"^/sessions/([^/]+)/kill$")
MAX_LIMIT: Final = 1000
MAX_CHARS: Final = 8000
KEEPALIVE_S: Final = 15.0


def decode_key(raw: bytes) -> str | None:
    try:
        if b"%" in raw and re.search(rb"%(?![0-9a-fA-F]{2})", raw):
            return None
        key = unquote_to_bytes(raw).decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    return key or None


def wants_sse(request: Request) -> bool:
    """An explicit ``text/event-stream`` range with a non-zero quality."""
    accept = header(request, "accept") or ""
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0].lower() != "text/event-stream":
            continue
        quality = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def _not_found(key: str) -> dict[str, Any]:
    return {"ok": False, "error": {"type": "not_found", "message": f"Session not found: {key}"}}


def _query(request: Request) -> dict[str, list[str]]:
    uri = request.uri
    _, _, query = uri.partition(b"?")
    return parse_qs(query.decode("utf-8", "replace"), keep_blank_values=True)


def resolve_limit(values: list[str] | None) -> int | str | None:
    if not values:
        return None
    raw = values[0].strip()
    if re.fullmatch(r"\d+", raw) and int(raw) > 0:
        return min(MAX_LIMIT, int(raw))
    return "limit must be a positive integer"


def paginate(messages: list[dict[str, Any]], limit: int | None, cursor: int | None
             ) -> dict[str, Any]:
    if cursor is not None:
        messages = [m for m in messages if _seq(m) < cursor]
    cap = limit if limit is not None else MAX_LIMIT
    has_more = len(messages) > cap
    page = messages[-cap:] if cap else []
    out: dict[str, Any] = {"items": page, "messages": page, "hasMore": has_more}
    if has_more and page:
        out["nextCursor"] = str(_seq(page[0]))
    return out


def _seq(message: dict[str, Any]) -> int:
    meta = message.get("__openclaw")
    return int(meta.get("seq", 0)) if isinstance(meta, dict) else 0


class SessionRoutes:
    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self._streams: dict[str, set[Callable[[str, dict[str, Any] | None], None]]] = {}
        runner = api.runner
        if runner is not None:
            runner.runtime.store.listen(self._store_changed)

    # -- shared ---------------------------------------------------------------------------

    def _target(self, key: str, agent_id: str | None = None) -> tuple[str, str] | None:
        runner = self.api.runner
        if runner is None:
            return None
        try:
            return runner.runtime.resolve(agent_id, key)
        except AgentRequestError:
            return None

    async def _snapshot(self, agent_id: str, key: str, limit: int | None, cursor: int | None
                        ) -> tuple[dict[str, Any], int] | None:
        runner = self.api.runner
        assert runner is not None
        sessions = runner.runtime.store.agent(agent_id)
        await sessions.load()
        entry = sessions.get(key)
        if not entry or not entry.get("sessionId"):
            return None
        records = await sessions.read(key)
        messages = display_messages(records, len(records) + 1, MAX_CHARS)
        return {"sessionKey": key, **paginate(messages, limit, cursor)}, len(records) - 1

    def _store_changed(self, agent_id: str, key: str, what: str,
                       value: dict[str, Any] | None) -> None:
        for listener in list(self._streams.get(key, ())):
            listener(what, value)

    # -- kill -----------------------------------------------------------------------------

    def kill_stage(self, request: Request, path: bytes) -> bytes | int | None:
        match = _KILL.match(path)
        if match is None:
            return None
        key = decode_key(match.group(1))
        if key is None:
            return write_json(request, 400, invalid_request_body("invalid session key"))
        if request.method != b"POST":
            return method_not_allowed(request, "POST")
        auth, refusal = self.api.authorize(request, "sessions.delete", trusted=True)
        if auth is None:
            return refusal
        query = _query(request)
        agent_values = query.get("agentId") or []
        agent_id = agent_values[0] if agent_values else None
        target = self._target(key, agent_id)
        runner = self.api.runner
        if target is None or runner is None:
            return write_json(request, 404, _not_found(key))
        agent, canonical = target

        async def kill(exchange: Exchange) -> None:
            sessions = runner.runtime.store.agent(agent)
            await sessions.load()
            entry = sessions.get(canonical)
            if not entry:
                exchange.json(404, _not_found(key))
                return
            killed = runner.runtime.abort(canonical, reason="kill")
            exchange.json(200, {"ok": True, "killed": bool(killed)})

        return self.api.serve_async(request, kill)

    # -- history --------------------------------------------------------------------------

    def history_stage(self, request: Request, path: bytes) -> bytes | int | None:
        match = _HISTORY.match(path)
        if match is None:
            return None
        key = decode_key(match.group(1))
        if key is None:
            return write_json(request, 400, invalid_request_body("invalid session key"))
        if request.method != b"GET":
            return method_not_allowed(request, "GET")
        auth, refusal = self.api.authorize(request, "chat.history")
        if auth is None:
            return refusal
        target = self._target(key)
        if target is None:
            return write_json(request, 404, _not_found(key))
        query = _query(request)
        limit = resolve_limit(query.get("limit"))
        if isinstance(limit, str):
            return write_json(request, 400, invalid_request_body(limit))
        cursor_raw = (query.get("cursor") or [""])[0].strip()
        cursor: int | None = None
        if cursor_raw:
            if not re.fullmatch(r"\d+", cursor_raw) or int(cursor_raw) <= 0:
                return write_json(request, 400,
                                  invalid_request_body("cursor must be a positive integer"))
            cursor = int(cursor_raw)
        agent_id, canonical = target
        stream = wants_sse(request)

        async def answer(exchange: Exchange) -> None:
            snapshot = await self._snapshot(agent_id, canonical, limit, cursor)
            if snapshot is None:
                exchange.json(404, _not_found(key))
                return
            payload, last_index = snapshot
            if not stream:
                exchange.json(200, payload)
                return
            await self._stream(exchange, agent_id, canonical, payload, last_index,
                               follow=limit is None and cursor is None)

        return self.api.serve_async(request, answer)

    async def _stream(self, exchange: Exchange, agent_id: str, key: str,
                      snapshot: dict[str, Any], last_index: int, follow: bool) -> None:
        exchange.start_sse()
        exchange.write(b"retry: 1000\n\n")
        exchange.write(sse_event("history", snapshot))
        state = {"index": last_index}

        def authorized() -> bool:
            decision = self.api.auth.decide(exchange.request, count_failures=False)
            if not decision.ok:
                exchange.finish()
                return False
            return True

        def refresh() -> None:
            async def send() -> None:
                again = await self._snapshot(agent_id, key, None, None)
                if again is None or not exchange.open:
                    exchange.finish()
                    return
                payload, index = again
                state["index"] = index
                if authorized():
                    exchange.write(sse_event("history", payload))

            from twisted.internet.defer import Deferred

            Deferred.fromCoroutine(send()).addErrback(lambda f: exchange.finish())

        def changed(what: str, value: dict[str, Any] | None) -> None:
            if not exchange.open:
                return
            if what == "append":
                state["index"] += 1
                if value is None or value.get("type") != "message":
                    return
                if not follow:
                    refresh()
                    return
                if not authorized():
                    return
                message = dict(value.get("message") or {})
                message["__openclaw"] = {"id": value.get("id"), "seq": state["index"]}
                exchange.write(sse_event("message", {
                    "sessionKey": key, "message": message, "messageId": value.get("id"),
                    "messageSeq": state["index"]}))
            elif what in ("reset", "compact", "create"):
                refresh()
            elif what == "delete":
                exchange.finish()

        def keepalive() -> None:
            if exchange.open and authorized():
                exchange.write(b": keepalive\n\n")

        listeners = self._streams.setdefault(key, set())
        listeners.add(changed)
        beat = LoopingCall(keepalive)
        beat.clock = self.api.clock
        beat.start(KEEPALIVE_S, now=False)

        def cleanup(_: object = None) -> None:
            listeners.discard(changed)
            if not listeners:
                self._streams.pop(key, None)
            if beat.running:
                beat.stop()

        exchange.request.notifyFinish().addBoth(cleanup)
