"""The run engine: one agent turn from message to final answer, and everything around it.

Public API (used by the WebSocket methods and by the HTTP API)::

    runtime = AgentRuntime(...)                       # built by AgentsService
    handle = runtime.start(RunRequest(message="hi", run_id="k-1",
                                      session_key="agent:main:main"))
    async for event in handle.events():               # agent events, as on the wire:
        ...                                           # {runId, seq, stream, ts, data, sessionKey}
    result = await handle.result                      # RunResult (never fails)
    handle.cancel("rpc")                              # abort: cancels the provider request

A run: resolve agent and session key -> wait its turn on the session lane (one run at a time
per session, FIFO; ``interrupt`` aborts the active run) -> make the user message durable ->
``lifecycle start`` -> build the system prompt (workspace bootstrap files) and the context from
the transcript -> call the model (streamed; ``assistant`` events carry ``text`` (cumulative) and
``delta``), falling back through the model chain on provider failures that happen before any
output -> run requested tools under tool policy (``tool`` events ``start``/``result``), append
each assistant message and tool result durably, call the model again -> stop when the model
stops calling tools, calls one of the caller's own tools (``RunRequest.client_tools``: never run
here, returned as ``RunResult.pending_tool_calls``; the caller's ``tool_results`` continue the
session) or at the step limit -> ``lifecycle end``/``error``. A run timeout
(``agents.defaults.timeoutSeconds``, or the request's) aborts the run.

Acceptance (``handle.when_accepted()``): a run is accepted once its message is durable - in
the transcript when the run starts at once, in the session store's queue journal
(``queue.jsonl``) when it waits behind a busy session. It fails (:class:`RunNotAccepted`) when
the message could not be stored; the methods answer that as an error, never as an
acknowledgement. :meth:`AgentRuntime.recover` replays, at start-up and in order, the queued
messages a stop or a crash left out of their transcripts.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from openclaw.agents.config import AgentSettings, AgentsView, read_agents
from openclaw.agents.context import context_messages, dangling_tool_calls
from openclaw.agents.handle import DuplicateRun, RunHandle, RunObserver, follow
from openclaw.agents.requests import (
    RESERVED_TOOL_NAMES,
    AgentRequestError,
    ClientToolConflict,
    ClientToolResult,
    RunNotAccepted,
    RunRequest,
    RunResult,
    journal_record,
    journaled,
    request_from_journal,
)
from openclaw.agents.session_keys import (
    GLOBAL_KEY,
    SessionKeyError,
    main_session_key,
    normalize_agent_id,
    parse_agent_key,
    resolve_request_key,
)
from openclaw.agents.store import SessionStore
from openclaw.agents.turn import Turn
from openclaw.config.loader import ConfigSnapshot

if TYPE_CHECKING:
    from openclaw.agents import tools as tools_mod
    from openclaw.agents.approvals import ExecApprovals

log = Logger(namespace="agents")

RECENT_RUNS: Final = 1000
RECENT_RUN_TTL_S: Final = 300.0
HISTORY_CACHE_SESSIONS: Final = 256


@attrs.define
class _Lane:
    active: RunHandle | None = None
    pending: deque[RunHandle] = attrs.Factory(deque)


class AgentRuntime:
    """Runs, session lanes, recent results; the source of agent events."""

    def __init__(
        self,
        *,
        reactor: Any,
        store: SessionStore,
        router: Any,
        get_config: Callable[[], ConfigSnapshot],
        state_dir: str,
        default_workspace: str,
        run_blocking: Callable[..., Deferred[Any]],
        home: str | None = None,
    ) -> None:
        self.reactor = reactor
        self.store = store
        self.router = router
        self.get_config = get_config
        self.state_dir = state_dir
        self.default_workspace = default_workspace
        self.run_blocking = run_blocking
        self.home = home
        self.observers: list[RunObserver] = []
        # the exec tool's approvals gate (openclaw.agents.approvals), set by the wiring
        self.exec_approvals: ExecApprovals | None = None
        self.active: dict[str, RunHandle] = {}
        self.recent: OrderedDict[str, tuple[float, RunResult]] = OrderedDict()
        self._lanes: dict[str, _Lane] = {}
        self._waiters: dict[str, list[Deferred[RunResult | None]]] = {}
        # model context per session, the most recently used HISTORY_CACHE_SESSIONS kept
        self._history: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
        self._workspaces_ready: set[str] = set()
        self._processes: dict[str, tools_mod.ProcessRegistry] = {}
        self._view_cache: tuple[Any, AgentsView] | None = None
        self._recovering = False        # recover() runs: new runs wait behind the replays
        store.listen(self._store_changed)

    # -- config ------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.reactor.seconds() * 1000)

    def view(self) -> AgentsView:
        snapshot = self.get_config()
        cached = self._view_cache
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        view = read_agents(snapshot, default_workspace=self.default_workspace,
                           state_dir=self.state_dir, home=self.home)
        self._view_cache = (snapshot, view)
        return view

    def resolve(self, agent_id: str | None, session_key: str | None) -> tuple[str, str]:
        """``(agentId, canonical session key)``; raises :class:`AgentRequestError`."""
        view = self.view()
        requested = normalize_agent_id(agent_id) if agent_id else None
        if requested is not None and requested not in view.agents:
            raise AgentRequestError(f'unknown agent id "{agent_id}"')
        base_agent = requested or view.default_id
        try:
            key = resolve_request_key(session_key, base_agent, view.session)
        except SessionKeyError as e:
            raise AgentRequestError(str(e)) from None
        parsed = parse_agent_key(key)
        if parsed is not None:
            key_agent = normalize_agent_id(parsed.agent_id)
            if requested is not None and key_agent != requested:
                raise AgentRequestError(
                    f'agent id "{agent_id}" does not match session key "{session_key}"')
            if key_agent not in view.agents:
                raise AgentRequestError(f'unknown agent id "{parsed.agent_id}" in session key')
            return key_agent, key
        return base_agent, key

    def is_main_session(self, agent_id: str, key: str) -> bool:
        view = self.view()
        return key == main_session_key(agent_id, view.session) or key == GLOBAL_KEY

    # -- starting runs ----------------------------------------------------------------------

    def start(self, request: RunRequest) -> RunHandle:
        """Queue a run (returns at once). Raises AgentRequestError / DuplicateRun."""
        existing = self.active.get(request.run_id)
        if existing is not None:
            raise DuplicateRun(existing)
        if not request.message.strip():
            raise AgentRequestError("message or attachment required")
        agent_id, key = self.resolve(request.agent_id, request.session_key)
        if request.client_tools:
            self._check_client_tools(request, agent_id, key)
        handle = RunHandle(self, request, agent_id, key, self.now_ms())
        self.active[request.run_id] = handle
        lane = self._lanes.setdefault(key, _Lane())
        mode = request.queue_mode or self._queue_mode(agent_id, key)
        if lane.active is None and not self._recovering:
            self._launch(lane, handle)
        else:
            if mode == "interrupt":
                for queued in list(lane.pending):
                    queued.cancel("interrupt")
                if lane.active is not None:
                    lane.active.cancel("interrupt")
            view = self.view()
            lane.pending.append(handle)
            self._journal(handle)
            while len(lane.pending) > view.queue_cap:
                oldest = lane.pending[0]
                oldest.cancel("queue")
        return handle

    def _journal(self, handle: RunHandle) -> None:
        """Make a queued run's message durable in the queue journal (then it is accepted)."""
        request = handle.request
        if not journaled(request):
            handle._settle_acceptance(None)
            return
        handle.message_id = handle.message_id or str(uuid.uuid4())
        handle.journaled = True
        writing = self.store.agent(handle.agent_id).queue.enqueue(
            handle.run_id, handle.session_key, handle.message_id, journal_record(request),
            self.now_ms())

        def stored(_: None) -> None:
            handle._settle_acceptance(None)

        def failed(failure: Failure) -> None:
            log.failure("run {run}: journaling the queued message failed", failure,
                        run=handle.run_id)
            handle._settle_acceptance(failure)
            handle.cancel("error")      # answered as an error: it must not run later

        writing.addCallbacks(stored, failed)

    async def recover(self) -> None:
        """Replay the queued messages the last process acknowledged that are not in their
        transcripts (it stopped or crashed before their turn), in order, ahead of any run
        started meanwhile. Call once at start-up, before requests are served."""
        self._recovering = True
        try:
            view = self.view()
            # taken first, together: appends queued after these land in the new journals
            taking = [(agent_id, self.store.agent(agent_id).queue.take_pending())
                      for agent_id in view.agents]
            replays: list[RunRequest] = []
            for agent_id, pending in taking:
                try:
                    replays.extend(await self._unstored(agent_id, await pending))
                except Exception:
                    log.failure("queue journal of agent {agent}: replay failed", agent=agent_id)
        finally:
            self._recovering = False
        held = {key: list(lane.pending) for key, lane in self._lanes.items()}
        for lane in self._lanes.values():
            lane.pending.clear()
        for request in replays:
            if request.run_id in self.active:
                # a retry of the same idempotency key arrived meanwhile: it carries the message
                self._journal_done(self.active[request.run_id].agent_id, request.run_id)
                continue
            try:
                agent_id, key = self.resolve(request.agent_id, request.session_key)
            except AgentRequestError as e:
                log.warn("queued run {run} cannot be replayed: {error}", run=request.run_id,
                         error=str(e))
                self._journal_done(request.agent_id or view.default_id, request.run_id)
                continue
            handle = RunHandle(self, request, agent_id, key, self.now_ms())
            handle.journaled = True
            handle._settle_acceptance(None)
            self.active[request.run_id] = handle
            self._lanes.setdefault(key, _Lane()).pending.append(handle)
        for key, handles in held.items():
            self._lanes.setdefault(key, _Lane()).pending.extend(handles)
        if replays:
            log.info("replaying {n} queued message(s) acknowledged before the restart",
                     n=len(replays))
        for key, lane in list(self._lanes.items()):
            if lane.active is None:
                self._next(key)

    async def _unstored(self, agent_id: str, records: list[dict[str, Any]]) -> list[RunRequest]:
        """The journaled runs whose message is not in its transcript."""
        if not records:
            return []
        sessions = self.store.agent(agent_id)
        await sessions.load()
        stored: dict[str, set[Any]] = {}
        out: list[RunRequest] = []
        for record in records:
            key = str(record.get("sessionKey"))
            ids = stored.get(key)
            if ids is None:
                ids = stored[key] = {r.get("id") for r in await sessions.read(key)}
            if record.get("messageId") in ids:
                self._journal_done(agent_id, str(record["runId"]))
                continue
            out.append(request_from_journal(record))
        return out

    def _journal_done(self, agent_id: str, run_id: str) -> None:
        self.store.agent(agent_id).queue.done(run_id).addErrback(
            lambda f: log.failure("queue journal: recording run {run} done failed", f,
                                  run=run_id))

    def _policy(self, view: AgentsView, agent: AgentSettings, agent_id: str, key: str,
                request: RunRequest) -> tools_mod.ToolPolicy:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        return tools_mod.resolve_policy(view.tools, agent.tools,
                                        is_main=self.is_main_session(agent_id, key),
                                        run_allow=request.tools_allow)

    def _check_client_tools(self, request: RunRequest, agent_id: str, key: str) -> None:
        """Refuse caller tools named like an offered gateway tool (or a reserved name), or
        sharing a name (upstream's ``findClientToolNameConflicts``)."""
        from openclaw.agents import tools as tools_mod

        view = self.view()
        agent = view.agent(agent_id)
        assert agent is not None
        policy = self._policy(view, agent, agent_id, key, request)
        taken = {tools_mod.normalize_tool_name(name) for name in RESERVED_TOOL_NAMES}
        taken.update(tool.name for tool in tools_mod.available_tools(policy))
        conflicts: list[str] = []
        seen: dict[str, str] = {}
        for tool in request.client_tools:
            name = tool.name.strip()
            normalized = tools_mod.normalize_tool_name(name)
            if normalized in taken and name not in conflicts:
                conflicts.append(name)
            prior = seen.get(normalized)
            if prior is not None:
                conflicts.extend(n for n in (prior, name) if n not in conflicts)
            else:
                seen[normalized] = name
        if conflicts:
            raise ClientToolConflict(f"client tool name conflict: {', '.join(conflicts)}")

    def _queue_mode(self, agent_id: str, key: str) -> str:
        entry = self.store.agent(agent_id).get(key)
        mode = entry.get("queueMode") if entry else None
        return str(mode) if mode else self.view().queue_mode

    def _launch(self, lane: _Lane, handle: RunHandle) -> None:
        lane.active = handle
        handle.state = "running"
        Deferred.fromCoroutine(self._run(handle)).addErrback(
            lambda f: log.failure("run {run} crashed", f, run=handle.run_id))

    async def _run(self, handle: RunHandle) -> None:
        turn = Turn(self, handle)
        await turn.run()
        self._complete(handle, turn.result)
        self._next(handle.session_key)

    def _drop_queued(self, handle: RunHandle) -> None:
        lane = self._lanes.get(handle.session_key)
        if lane is not None and handle in lane.pending:
            lane.pending.remove(handle)
        if handle.abort_reason == "shutdown" and handle.accepted:
            handle.keep_journaled = True    # its turn comes after the restart
        now = self.now_ms()
        result = RunResult(handle.run_id, "aborted", handle.session_key, handle.agent_id,
                           stop_reason=handle.abort_reason, started_at=now, ended_at=now)
        self._complete(handle, result)

    def _next(self, key: str) -> None:
        lane = self._lanes.get(key)
        if lane is None:
            return
        lane.active = None
        while lane.pending:
            handle = lane.pending.popleft()
            if handle.done:
                continue
            self._launch(lane, handle)
            return
        del self._lanes[key]

    def _complete(self, handle: RunHandle, result: RunResult) -> None:
        if handle.journaled and not handle.keep_journaled:
            # after the user message's append (same writer, in order): the journal record
            # is settled - the message is in the transcript, or its run ended without it
            self._journal_done(handle.agent_id, handle.run_id)
        self.active.pop(handle.run_id, None)
        self.recent[handle.run_id] = (self.reactor.seconds(), result)
        self.recent.move_to_end(handle.run_id)
        self._prune_recent()
        handle._finish(result)
        for observer in list(self.observers):
            try:
                observer.run_finished(handle, result)
            except Exception:
                log.failure("run observer failed")
        for waiter in self._waiters.pop(handle.run_id, []):
            if not waiter.called:
                waiter.callback(result)

    def _prune_recent(self) -> None:
        cutoff = self.reactor.seconds() - RECENT_RUN_TTL_S
        while self.recent:
            run_id, (at, _) = next(iter(self.recent.items()))
            if at >= cutoff and len(self.recent) <= RECENT_RUNS:
                break
            del self.recent[run_id]

    def _notify_event(self, handle: RunHandle, event: dict[str, Any]) -> None:
        for observer in self.observers:
            try:
                observer.run_event(handle, event)
            except Exception:
                log.failure("run observer failed")

    # -- querying / aborting ------------------------------------------------------------------

    def get(self, run_id: str) -> RunHandle | None:
        return self.active.get(run_id)

    def finished(self, run_id: str) -> RunResult | None:
        self._prune_recent()
        entry = self.recent.get(run_id)
        return entry[1] if entry else None

    def runs_in(self, key: str) -> list[RunHandle]:
        return [h for h in self.active.values() if h.session_key == key]

    def abort(self, key: str, run_id: str | None = None, reason: str = "rpc") -> list[str]:
        aborted = []
        for handle in list(self.active.values()):
            if handle.session_key != key or (run_id is not None and handle.run_id != run_id):
                continue
            if handle.cancel(reason):
                aborted.append(handle.run_id)
        return aborted

    async def wait(self, run_id: str, timeout_s: float) -> RunResult | None:
        """The run's result, or None when it did not finish within ``timeout_s``."""
        done = self.finished(run_id)
        if done is not None:
            return done
        waiter: Deferred[RunResult | None] = Deferred()

        def settle(value: RunResult | None) -> RunResult | None:
            if not waiter.called:
                waiter.callback(value)
            return value

        handle = self.active.get(run_id)
        if handle is not None:
            handle.result.addCallback(settle)
        else:
            self._waiters.setdefault(run_id, []).append(waiter)
        timer = self.reactor.callLater(max(0.0, timeout_s), settle, None)
        try:
            result: RunResult | None = await waiter
            return result
        finally:
            if timer.active():
                timer.cancel()
            waiters = self._waiters.get(run_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)

    # -- transcript & history ---------------------------------------------------------------

    async def _load_history(self, agent_id: str, key: str) -> list[dict[str, Any]]:
        cached = self._history.get((agent_id, key))
        if cached is None:
            records = await self.store.agent(agent_id).read(key)
            cached = context_messages(records, close_tail=False)
            self._history[(agent_id, key)] = cached
            while len(self._history) > HISTORY_CACHE_SESSIONS:
                self._history.popitem(last=False)   # read again from the transcript if needed
        else:
            self._history.move_to_end((agent_id, key))
        return cached

    def _store_changed(self, agent_id: str, key: str, what: str,
                       value: dict[str, Any] | None) -> None:
        if what in ("reset", "delete", "compact", "create"):
            self._history.pop((agent_id, key), None)

    def forget_history(self, agent_id: str, key: str) -> None:
        self._history.pop((agent_id, key), None)

    # -- shutdown ---------------------------------------------------------------------------

    async def stop(self, grace_s: float = 2.0) -> None:
        """Abort every run (reason ``shutdown``) and wait a little for them to record it."""
        handles = list(self.active.values())
        for handle in handles:
            handle.cancel("shutdown")
        for registry in self._processes.values():
            registry.kill_all()
        for handle in handles:
            waiting = follow(handle.result)
            waiting.addTimeout(grace_s, self.reactor)
            with contextlib.suppress(Exception):
                await waiting


__all__ = [
    "AgentRequestError",
    "AgentRuntime",
    "ClientToolConflict",
    "ClientToolResult",
    "DuplicateRun",
    "RunHandle",
    "RunNotAccepted",
    "RunRequest",
    "RunResult",
    "context_messages",
    "dangling_tool_calls",
]
