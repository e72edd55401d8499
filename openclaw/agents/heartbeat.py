"""Heartbeat: periodic agent turns on the reactor's clock (``agents.*.heartbeat``).

Each agent whose heartbeat is enabled (``every``, default ``30m``; ``0m`` turns it off) gets
a turn every interval in its heartbeat session (``heartbeat.session``, else its main
session). The turn's message is ``heartbeat.prompt`` (upstream's default otherwise), followed
by the workspace's ``HEARTBEAT.md`` checklist when there is one; a ``HEARTBEAT.md`` with
nothing but blank lines and headings skips the turn (no model call). If any
``agents.entries.*`` has its own ``heartbeat`` block, only those agents run heartbeats.

Every tick ends with one ``heartbeat`` event, upstream's payload
``{ts, status, to?, accountId?, preview?, durationMs?, hasMedia?, reason?, channel?, silent?,
indicatorType?, message?}``:

* ``ok-empty`` (no reply) / ``ok-token`` (``NO_REPLY`` or ``HEARTBEAT_OK`` with at most 300
  other characters; ``silent``): ``indicatorType: "ok"``;
* ``sent``: an alert delivered through the channel seam to ``heartbeat.to`` on
  ``heartbeat.target`` (``indicatorType: "alert"``);
* ``skipped`` with ``reason``: ``disabled`` (``set-heartbeats false``), ``requests-in-flight``
  (the session is busy), ``no-route`` (no channel can take an alert to ``heartbeat.to``: the
  turn is not run), ``empty-heartbeat-file``, ``target-none`` (an internal-only turn that
  produced an alert; ``preview`` keeps its text);
* ``failed`` with the run's error (``indicatorType: "error"``).

The last event is kept for ``last-heartbeat``; ``set-heartbeats {enabled}`` pauses and resumes
the scheduled turns.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from typing import Any, Final

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from openclaw.agents.handle import follow
from openclaw.agents.runtime import AgentRequestError, AgentRuntime, RunRequest, RunResult
from openclaw.agents.session_keys import resolve_request_key
from openclaw.config.schema import HeartbeatConfig

log = Logger(namespace="agents.heartbeat")

DEFAULT_EVERY: Final = "30m"
DEFAULT_PROMPT: Final = (
    "Follow the heartbeat monitor scratch context when provided. Recurring tasks are "
    "automations; create or change their schedules with the automations tool, not heartbeat "
    "scratch. Do not infer or repeat old tasks from prior chats. If nothing needs attention, "
    "reply NO_REPLY."
)
ACK_MAX_CHARS: Final = 300
PREVIEW_MAX_CHARS: Final = 200
MAX_DEFAULT_TIMEOUT_S: Final = 600
HEARTBEAT_FILE: Final = "HEARTBEAT.md"
TARGET_NONE_MESSAGE: Final = "Heartbeat delivery is disabled by configuration (target: none)."
NO_ROUTE_MESSAGE: Final = ("Heartbeat has no delivery route yet. Message your bot once, or set "
                           "agents.defaults.heartbeat.target.")
_UNITS_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_TOKEN: Final = "HEARTBEAT_OK"


def parse_every_ms(text: str | None) -> int | None:
    """``30m`` / ``1h30m`` / ``45s`` / a bare number of minutes -> ms; None: off/invalid."""
    value = (text or DEFAULT_EVERY).strip().lower()
    if value.isdigit():
        return int(value) * 60_000 or None
    total = position = 0
    for match in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", value):
        if match.start() != position:
            return None
        total += int(float(match.group(1)) * _UNITS_MS[match.group(2)])
        position = match.end()
    return total if value and position == len(value) and total > 0 else None


def indicator(status: str) -> str | None:
    return {"ok-empty": "ok", "ok-token": "ok", "sent": "alert", "failed": "error"}.get(status)


def checklist_text(content: str) -> str | None:
    """``HEARTBEAT.md`` without what does not count (blank lines, headings); None if empty."""
    lines = [line for line in content.splitlines()
             if line.strip() and not re.match(r"^\s*#+(\s|$)", line)]
    return content.strip() if lines else None


def read_checklist(workspace: str) -> tuple[bool, str | None]:
    """(the file exists, its checklist text). Blocking: runs in a thread."""
    try:
        with open(os.path.join(workspace, HEARTBEAT_FILE), encoding="utf-8",
                  errors="replace") as handle:
            return True, checklist_text(handle.read())
    except FileNotFoundError:
        return False, None
    except OSError:
        return False, None


def acknowledgement(text: str) -> bool:
    """``NO_REPLY``, or ``HEARTBEAT_OK`` at the start or end with at most 300 other chars."""
    stripped = text.strip()
    if stripped.upper() == "NO_REPLY":
        return True
    if stripped.startswith(_TOKEN):
        return len(stripped[len(_TOKEN):].strip()) <= ACK_MAX_CHARS
    if stripped.endswith(_TOKEN):
        return len(stripped[:-len(_TOKEN)].strip()) <= ACK_MAX_CHARS
    return False


class HeartbeatService(Service):
    """Child ``heartbeat`` of the gateway tree (after ``agents``)."""

    name = "heartbeat"

    def __init__(self, reactor: Any, runtime: AgentRuntime,
                 emit: Callable[[dict[str, Any]], None],
                 deliver: Callable[[], Callable[..., Any] | None] = lambda: None) -> None:
        self.reactor = reactor
        self.runtime = runtime
        self.emit = emit
        self.deliver = deliver
        self.enabled = True
        self.last: dict[str, Any] | None = None
        self._timers: dict[str, tuple[int, IDelayedCall]] = {}
        self._running: set[str] = set()

    # -- schedule -------------------------------------------------------------------------

    def settings(self) -> dict[str, HeartbeatConfig]:
        """The agents that run heartbeats and their merged settings."""
        agents = self.runtime.get_config().config.agents
        explicit = [entry.id for entry in agents.roster if entry.heartbeat is not None]
        ids = explicit or [entry.id for entry in agents.roster]
        return {agent_id: agents.heartbeat_for(agent_id) for agent_id in ids}

    def sync(self) -> None:
        """(Re)schedule every agent whose interval changed; drop the ones turned off."""
        wanted: dict[str, int] = {}
        if self.running:
            for agent_id, settings in self.settings().items():
                every = parse_every_ms(settings.every)
                if every is not None:
                    wanted[agent_id] = every
        for agent_id in list(self._timers):
            every, timer = self._timers[agent_id]
            if wanted.get(agent_id) != every:
                if timer.active():
                    timer.cancel()
                del self._timers[agent_id]
        for agent_id, every in wanted.items():
            if agent_id not in self._timers:
                self._schedule(agent_id, every)

    def _schedule(self, agent_id: str, every_ms: int) -> None:
        timer = self.reactor.callLater(every_ms / 1000.0, self._tick, agent_id)
        self._timers[agent_id] = (every_ms, timer)

    def _tick(self, agent_id: str) -> None:
        entry = self._timers.pop(agent_id, None)
        if entry is not None and self.running:
            self._schedule(agent_id, entry[0])
        Deferred.fromCoroutine(self.run_once(agent_id)).addErrback(
            lambda failure: log.failure("heartbeat of agent {agent} failed", failure,
                                        agent=agent_id))

    def startService(self) -> None:
        super().startService()
        try:
            self.sync()
        except Exception:
            log.failure("heartbeat: scheduling failed")

    def stopService(self) -> None:
        super().stopService()
        for _every, timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()

    def reconfig_service(self, update: Any) -> None:
        self.sync()

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled

    # -- one heartbeat --------------------------------------------------------------------

    def _event(self, started_ms: int, status: str, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"ts": self.runtime.now_ms(), "status": status}
        event.update({key: value for key, value in fields.items() if value is not None})
        event["durationMs"] = max(0, self.runtime.now_ms() - started_ms)
        kind = indicator(status)
        if kind is not None:
            event["indicatorType"] = kind
        if status == "skipped" and "message" not in event:
            if event.get("reason") == "target-none":
                event["message"] = TARGET_NONE_MESSAGE
            elif event.get("reason") == "no-route":
                event["message"] = NO_ROUTE_MESSAGE
        self.last = event
        try:
            self.emit(event)
        except Exception:
            log.failure("heartbeat: emitting the event failed")
        return event

    async def run_once(self, agent_id: str) -> dict[str, Any]:
        """One heartbeat turn of ``agent_id`` now; returns the event it emitted."""
        started = self.runtime.now_ms()
        if not self.enabled:
            return self._event(started, "skipped", reason="disabled")
        settings = self.settings().get(agent_id) or HeartbeatConfig()
        view = self.runtime.view()
        agent = view.agent(agent_id)
        if agent is None:
            return self._event(started, "skipped", reason="unknown-agent")
        try:
            key = resolve_request_key(settings.session, agent_id, view.session)
        except ValueError as e:
            return self._event(started, "failed", reason=str(e))
        if key in self._running or self.runtime.runs_in(key):
            return self._event(started, "skipped", reason="requests-in-flight")
        if settings.target != "none" and (self.deliver() is None or not settings.to):
            # an ambient poll whose alert could go nowhere: no model call (as upstream)
            return self._event(started, "skipped", reason="no-route")
        exists, checklist = await self.runtime.run_blocking(read_checklist, agent.workspace)
        if exists and checklist is None:
            return self._event(started, "skipped", reason="empty-heartbeat-file")
        message = settings.prompt or DEFAULT_PROMPT
        if checklist:
            message += f"\n\nHeartbeat checklist ({HEARTBEAT_FILE}):\n{checklist}"
        every = parse_every_ms(settings.every) or 0
        timeout = settings.timeout_seconds or view.timeout_s or \
            min(MAX_DEFAULT_TIMEOUT_S, max(1, every // 1000))
        channel = settings.target if settings.target not in (None, "none", "last", "owner") \
            else None
        self._running.add(key)
        try:
            handle = self.runtime.start(RunRequest(
                message=message, run_id=f"heartbeat-{uuid.uuid4()}", agent_id=agent_id,
                session_key=key, kind="heartbeat", timeout_s=float(timeout),
                model=settings.model or None, channel="heartbeat"))
            result: RunResult = await follow(handle.result)
        except AgentRequestError as e:
            return self._event(started, "failed", reason=str(e), channel=channel)
        finally:
            self._running.discard(key)
        return await self._outcome(started, settings, result, channel)

    async def _outcome(self, started: int, settings: HeartbeatConfig, result: RunResult,
                       channel: str | None) -> dict[str, Any]:
        if result.status != "ok":
            log.warn("heartbeat failed: {error}", error=result.error or result.status)
            return self._event(started, "failed", reason=result.error or result.status,
                               channel=channel, accountId=settings.account_id)
        text = result.text.strip()
        if not text:
            return self._event(started, "ok-empty", accountId=settings.account_id)
        if acknowledgement(text):
            return self._event(started, "ok-token", silent=True,
                               accountId=settings.account_id)
        preview = text[:PREVIEW_MAX_CHARS]
        if settings.target == "none":
            return self._event(started, "skipped", reason="target-none", preview=preview)
        deliver = self.deliver()
        if deliver is None or not settings.to:
            return self._event(started, "skipped", reason="no-route", preview=preview,
                               channel=channel)
        request: dict[str, Any] = {"to": settings.to, "message": text,
                                   "idempotencyKey": f"heartbeat-{uuid.uuid4()}"}
        if channel:
            request["channel"] = channel
        if settings.account_id:
            request["accountId"] = settings.account_id
        try:
            await deliver(request)
        except Exception as e:
            reason = getattr(e, "message", None) or str(e) or type(e).__name__
            return self._event(started, "failed", reason=reason, channel=channel,
                               to=settings.to, accountId=settings.account_id)
        return self._event(started, "sent", to=settings.to, channel=channel,
                           accountId=settings.account_id, preview=preview, hasMedia=False)


__all__ = ["HeartbeatService", "acknowledgement", "checklist_text", "parse_every_ms"]
