"""One run as its callers hold it: :class:`RunHandle` (its events as an async iterator, its
acceptance, its result, its cancel) and the observers of every run's events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from openclaw.agents.requests import RunNotAccepted, RunRequest, RunResult

if TYPE_CHECKING:
    from openclaw.agents import tools as tools_mod
    from openclaw.agents.runtime import AgentRuntime


class DuplicateRun(Exception):
    def __init__(self, handle: RunHandle) -> None:
        super().__init__(handle.run_id)
        self.handle = handle


class RunObserver(Protocol):
    def run_event(self, handle: RunHandle, event: dict[str, Any]) -> None: ...

    def run_finished(self, handle: RunHandle, result: RunResult) -> None: ...


class _Text:
    """An ``assistant`` event as a run's log keeps it: without its cumulative text, which a
    replay rebuilds (``base``, or the previous assistant event's text + ``delta``). A long
    stream's log then holds each delta once, not every prefix of the answer."""

    __slots__ = ("base", "delta", "seq", "ts")

    def __init__(self, seq: int, ts: int, delta: str, base: str | None) -> None:
        self.seq = seq
        self.ts = ts
        self.delta = delta
        self.base = base


class RunHandle:
    """One run: its events (async iterator), its result, its cancel."""

    def __init__(self, runtime: AgentRuntime, request: RunRequest, agent_id: str,
                 session_key: str, accepted_at: int) -> None:
        self.runtime = runtime
        self.request = request
        self.run_id = request.run_id
        self.agent_id = agent_id
        self.session_key = session_key
        self.accepted_at = accepted_at
        self.state = "queued"
        self.result: Deferred[RunResult] = Deferred()
        self._accepted: Failure | bool | None = None   # True, or why the message is not stored
        self._accept_waiters: list[Deferred[None]] = []
        self.message_id = request.message_id
        self.journaled = False          # its message has a record in the queue journal
        self.keep_journaled = False     # dropped by a shutdown: replayed after the restart
        self.abort_reason: str | None = None
        self.seq = 0
        self._log: list[dict[str, Any] | _Text] = []
        self._tail: dict[str, Any] | None = None    # the event of the log's last _Text
        self._waiters: list[Deferred[None]] = []
        self._wake_call: IDelayedCall | None = None   # set: iterators were woken this turn
        self._owed = False                             # more events since: wake them later
        self._done = False
        self._current_call: Any = None
        self._guarded: Deferred[Any] | None = None
        self._timer: IDelayedCall | None = None
        self.tool_context: tools_mod.ToolContext | None = None
        self.context_files: Deferred[Any] | None = None
        self.started_at: int | None = None
        self.session_id: str | None = None

    # -- events -------------------------------------------------------------------------------

    def emit(self, stream: str, data: dict[str, Any]) -> dict[str, Any]:
        self.seq = seq = self.seq + 1
        runtime = self.runtime
        event = {"runId": self.run_id, "seq": seq, "stream": stream,
                 "ts": int(runtime.reactor.seconds() * 1000), "data": data,
                 "sessionKey": self.session_key}
        self._log.append(event)
        self._tail = None
        if self._waiters:
            self._wake_iterators()
        if runtime.observers:
            runtime._notify_event(self, event)
        return event

    def emit_text(self, text: str, delta: str, continues: bool) -> None:
        """An ``assistant`` event ``{text, delta}``; ``continues``: ``text`` is the previous
        assistant event's text + ``delta`` (else the text starts again)."""
        self.seq = seq = self.seq + 1
        runtime = self.runtime
        ts = int(runtime.reactor.seconds() * 1000)
        event = {"runId": self.run_id, "seq": seq, "stream": "assistant", "ts": ts,
                 "data": {"text": text, "delta": delta}, "sessionKey": self.session_key}
        self._log.append(_Text(seq, ts, delta, None if continues else text))
        self._tail = event
        if self._waiters:
            self._wake_iterators()
        if runtime.observers:
            runtime._notify_event(self, event)

    def _wake_iterators(self) -> None:
        # The first event of a reactor turn wakes the waiting iterators at once; the rest of
        # the turn's events wait for the next turn and go together (a burst of upstream
        # chunks is relayed in two passes, not one resumption per chunk).
        if self._wake_call is None:
            self._wake_call = self.runtime.reactor.callLater(0, self._wake_later)
            self._release()
        else:
            self._owed = True

    def _wake_later(self) -> None:
        self._wake_call = None
        if self._owed:
            self._owed = False
            self._release()

    def _release(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every agent event of this run from its start (replayed), then live, until the end."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        log = self._log
        index = 0
        text = ""
        while True:
            while index < len(log):
                entry = log[index]
                index += 1
                if not isinstance(entry, _Text):
                    if entry["stream"] == "assistant":     # emitted whole (not by emit_text)
                        text = str(entry["data"].get("text", ""))
                    yield entry
                    continue
                tail = self._tail
                if tail is not None and index == len(log):
                    text = tail["data"]["text"]
                    yield tail
                    continue
                text = entry.base if entry.base is not None else text + entry.delta
                yield {"runId": self.run_id, "seq": entry.seq, "stream": "assistant",
                       "ts": entry.ts, "data": {"text": text, "delta": entry.delta},
                       "sessionKey": self.session_key}
            if self._done:
                return
            waiter: Deferred[None] = Deferred()
            self._waiters.append(waiter)
            await waiter

    # -- acceptance ---------------------------------------------------------------------------

    def when_accepted(self) -> Deferred[None]:
        """Fires once the message is durable (transcript or queue journal); fails with
        :class:`RunNotAccepted` (or the write's error) when it could not be stored."""
        waiter: Deferred[None] = Deferred()
        state = self._accepted
        if state is True:
            waiter.callback(None)
        elif isinstance(state, Failure):
            waiter.errback(state)
        else:
            self._accept_waiters.append(waiter)
        return waiter

    @property
    def accepted(self) -> bool:
        return self._accepted is True

    def _settle_acceptance(self, failure: Failure | None) -> None:
        if self._accepted is not None:
            return
        self._accepted = True if failure is None else failure
        waiters, self._accept_waiters = self._accept_waiters, []
        for waiter in waiters:
            if failure is None:
                waiter.callback(None)
            else:
                waiter.errback(failure)

    # -- control ------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._done

    def cancel(self, reason: str = "rpc") -> bool:
        """Abort (queued: dropped; running: the provider request/tool is cancelled)."""
        if self._done or self.abort_reason is not None:
            return False
        self.abort_reason = reason
        if self.state == "queued":
            self.runtime._drop_queued(self)
            return True
        call = self._current_call
        if call is not None:
            call.cancel()
        context = self.tool_context
        if context is not None:
            for session in list(context.foreground):
                session.kill()
        guarded = self._guarded
        if guarded is not None and not guarded.called:
            guarded.cancel()
        return True

    async def guard(self, deferred: Deferred[Any]) -> Any:
        """Await ``deferred``; :meth:`cancel` cancels it."""
        if self.abort_reason is not None:
            deferred.cancel()
        self._guarded = deferred
        try:
            return await deferred
        finally:
            self._guarded = None

    def _finish(self, result: RunResult) -> None:
        self._done = True
        self.state = "done"
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        wake, self._wake_call = self._wake_call, None
        if wake is not None and wake.active():
            wake.cancel()
        self._owed = False
        self._release()
        if self._accepted is None:
            reason = result.error or result.stop_reason or result.status
            self._settle_acceptance(Failure(RunNotAccepted(
                f"the message was not stored: the run ended first ({reason})")))
        self.result.callback(result)


def follow(deferred: Deferred[RunResult]) -> Deferred[RunResult]:
    """A Deferred following ``deferred`` whose cancellation leaves ``deferred`` alone."""
    out: Deferred[RunResult] = Deferred()

    def done(value: RunResult) -> RunResult:
        if not out.called:
            out.callback(value)
        return value

    deferred.addCallback(done)
    return out


__all__ = ["DuplicateRun", "RunHandle", "RunObserver", "follow"]
