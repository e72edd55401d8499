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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from openclaw.agents.config import DEFAULT_MAX_STEPS, AgentsView, read_agents
from openclaw.agents.model_fit import model_fit, no_content_error
from openclaw.agents.session_keys import (
    GLOBAL_KEY,
    SessionKeyError,
    agent_of_key,
    main_session_key,
    normalize_agent_id,
    parse_agent_key,
    resolve_request_key,
    session_kind,
)
from openclaw.agents.store import SessionStore
from openclaw.agents.workspace import (
    PromptInputs,
    build_system_prompt,
    ensure_workspace,
    load_context_files,
)
from openclaw.config.loader import ConfigSnapshot
from openclaw.providers.registry import ModelRef, model_chain, parse_model_ref
from openclaw.providers.types import (
    ABORTED,
    ERROR,
    KIND_TIMEOUT,
    KIND_UNKNOWN,
    TOOL_USE,
    AssistantTurn,
    ModelRequest,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
    sampling_fields,
)

if TYPE_CHECKING:
    from openclaw.agents import tools as tools_mod

log = Logger(namespace="agents")

RECENT_RUNS: Final = 1000
RECENT_RUN_TTL_S: Final = 300.0
HISTORY_CACHE_SESSIONS: Final = 256


class AgentRequestError(ValueError):
    """The request cannot start a run (unknown agent, malformed key ...): INVALID_REQUEST."""


class RunNotAccepted(Exception):
    """The run's message could not be made durable (it is not in the transcript nor in the
    queue journal): the request is answered with an error."""


class DuplicateRun(Exception):
    def __init__(self, handle: RunHandle) -> None:
        super().__init__(handle.run_id)
        self.handle = handle


@attrs.frozen
class ClientToolResult:
    """The caller's result of one of its own tool calls."""

    call_id: str
    content: str
    is_error: bool = False


@attrs.frozen
class RunRequest:
    message: str
    run_id: str
    agent_id: str | None = None
    session_key: str | None = None
    kind: str = "agent"                     # "agent" | "chat" | "http" | "tool"
    timeout_s: float | None = None
    model: str | None = None                # "provider/model" override
    extra_system_prompt: str | None = None
    tools_allow: tuple[str, ...] | None = None
    max_steps: int | None = None
    channel: str = "webchat"
    origin: Mapping[str, Any] | None = None
    queue_mode: str | None = None
    label: str | None = None
    conn_id: str | None = None              # the WebSocket connection that started it
    # The caller's own function tools (HTTP API): offered to the model with the gateway's
    # tools, never run here; a call of one ends the run (RunResult.pending_tool_calls).
    client_tools: tuple[ToolSpec, ...] = ()
    # Results of those calls sent back by the caller: when every call the session's last
    # assistant turn left unanswered has one here, they are recorded as its tool results and
    # the model continues from them (``message`` is then not recorded).
    tool_results: tuple[ClientToolResult, ...] = ()
    # Sampling parameters for the provider request (maxTokens, temperature, topP, stop, seed,
    # frequencyPenalty, presencePenalty, responseFormat; snake_case accepted too).
    stream_params: Mapping[str, Any] | None = None
    # The transcript id of the user message (a queued run's, fixed when it is journaled, so
    # a replay after a restart can tell whether the message reached the transcript).
    message_id: str | None = None


#: RunRequest fields a queue-journal record keeps (what a replay after a restart needs).
_JOURNALED_FIELDS: Final = ("message", "agent_id", "session_key", "kind", "timeout_s", "model",
                            "extra_system_prompt", "tools_allow", "max_steps", "channel",
                            "origin", "queue_mode", "label")


def _journal_record(request: RunRequest) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in _JOURNALED_FIELDS:
        value = getattr(request, name)
        if value is None:
            continue
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        record[name] = value
    return record


def _request_from_journal(record: Mapping[str, Any]) -> RunRequest:
    fields = {name: record["request"][name] for name in _JOURNALED_FIELDS
              if name in record["request"]}
    if isinstance(fields.get("tools_allow"), list):
        fields["tools_allow"] = tuple(fields["tools_allow"])
    return RunRequest(run_id=str(record["runId"]), message_id=str(record["messageId"]),
                      **fields)


def _journaled(request: RunRequest) -> bool:
    """Whether a queued run's message goes to the queue journal: not for the HTTP API (its
    response is the run; a client that lost it knows) nor for caller tools/results."""
    return request.kind != "http" and not request.client_tools and not request.tool_results


class ClientToolConflict(AgentRequestError):
    """A caller tool is named like a gateway tool, or two caller tools share a name."""


#: Names a caller tool may never take (upstream's AGENT_RESERVED_TOOL_NAMES).
RESERVED_TOOL_NAMES: Final = ("bash", "edit", "find", "grep", "ls", "read", "write")
#: The stop reason of a run that ended at a call of a caller tool.
STOP_TOOL_CALLS: Final = "tool_calls"


@attrs.define
class RunResult:
    run_id: str
    status: str                             # "ok" | "error" | "aborted" | "timeout"
    session_key: str
    agent_id: str
    text: str = ""
    stop_reason: str | None = None
    usage: Usage = attrs.Factory(Usage)
    error: str | None = None
    error_kind: str | None = None
    error_detail: Mapping[str, Any] | None = None
    started_at: int | None = None
    ended_at: int | None = None
    session_id: str | None = None
    model: str | None = None
    provider: str | None = None
    steps: int = 0
    pending_tool_calls: tuple[ToolCall, ...] = ()   # the caller's tools the model called

    @property
    def duration_ms(self) -> int:
        if self.started_at is None or self.ended_at is None:
            return 0
        return max(0, self.ended_at - self.started_at)


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


@attrs.define
class _Lane:
    active: RunHandle | None = None
    pending: deque[RunHandle] = attrs.Factory(deque)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content
                       if isinstance(b, dict) and b.get("type") == "text")
    return ""


def context_messages(records: Sequence[Mapping[str, Any]], *, close_tail: bool = True
                     ) -> list[dict[str, Any]]:
    """Model context from transcript records: messages after the last compaction (whose
    summary leads), failed/aborted empty assistant turns dropped, tool calls kept with their
    results. A tool call without a result gets a synthetic error result; with ``close_tail``
    false, not the calls of a last assistant turn (see :func:`dangling_tool_calls`)."""
    start = 0
    summary: str | None = None
    for index, record in enumerate(records):
        if record.get("type") == "compaction":
            first = record.get("firstKeptEntryId")
            summary = str(record.get("summary") or "")
            start = next((i for i, r in enumerate(records) if r.get("id") == first), index + 1)
    messages: list[dict[str, Any]] = []
    if summary:
        messages.append({"role": "user", "content": f"[Conversation summary]\n{summary}"})
    for record in records[start:]:
        if record.get("type") != "message":
            continue
        message = record.get("message")
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "assistant" and message.get("stopReason") in (ERROR, ABORTED):
            text = _text_of(message.get("content"))
            if not text:
                continue
            message = {**message, "content": [{"type": "text", "text": text}]}
        if role in ("user", "assistant", "toolResult"):
            messages.append(message)
    # a tool call without its result (crash between the two, a caller's tool never answered)
    # gets a synthetic error result
    # (after the results that are there, as the run engine adds them in memory)
    tail = -1 if close_tail else _last_assistant(messages)
    fixed: list[dict[str, Any]] = []
    owed: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if owed and role != "toolResult":
            fixed.extend(owed)
            owed = []
        fixed.append(message)
        if role != "assistant" or index == tail:
            continue
        calls = _calls_of(message)
        if not calls:
            continue
        answered = {m.get("toolCallId") for m in messages[index + 1:]
                    if m.get("role") == "toolResult"}
        owed = missing_results([c for c in calls if c.get("id") not in answered])
    fixed.extend(owed)
    return fixed


def _calls_of(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "toolCall"]


def _last_assistant(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index of the last assistant message when only its tool results follow it, else -1."""
    for index in range(len(messages) - 1, -1, -1):
        role = messages[index].get("role")
        if role == "assistant":
            return index
        if role != "toolResult":
            return -1
    return -1


def dangling_tool_calls(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls of the context's last assistant turn still without a result (nothing
    but tool results follows it): the caller's tools of a run that ended at them, or calls a
    crash or the step limit left behind."""
    index = _last_assistant(messages)
    if index < 0:
        return []
    answered = {m.get("toolCallId") for m in messages[index + 1:]}
    return [c for c in _calls_of(messages[index]) if c.get("id") not in answered]


def missing_results(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "toolResult", "toolCallId": call.get("id"), "toolName": call.get("name"),
             "content": [{"type": "text", "text": "Tool result missing (interrupted)."}],
             "isError": True} for call in calls]


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
        if not _journaled(request):
            handle._settle_acceptance(None)
            return
        handle.message_id = handle.message_id or str(uuid.uuid4())
        handle.journaled = True
        writing = self.store.agent(handle.agent_id).queue.enqueue(
            handle.run_id, handle.session_key, handle.message_id, _journal_record(request),
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
            out.append(_request_from_journal(record))
        return out

    def _journal_done(self, agent_id: str, run_id: str) -> None:
        self.store.agent(agent_id).queue.done(run_id).addErrback(
            lambda f: log.failure("queue journal: recording run {run} done failed", f,
                                  run=run_id))

    def _policy(self, view: AgentsView, agent: Any, agent_id: str, key: str,
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
        Deferred.fromCoroutine(self._execute(handle)).addErrback(
            lambda f: log.failure("run {run} crashed", f, run=handle.run_id))

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

    # -- the run ----------------------------------------------------------------------------

    async def _execute(self, handle: RunHandle) -> None:
        view = self.view()
        agent = view.agent(handle.agent_id)
        assert agent is not None
        request = handle.request
        sessions = self.store.agent(handle.agent_id)
        result = RunResult(handle.run_id, "ok", handle.session_key, handle.agent_id)
        timeout_s = request.timeout_s if request.timeout_s is not None else view.timeout_s
        started = False
        partial: list[str] = []
        try:
            if timeout_s and timeout_s > 0:
                handle._timer = self.reactor.callLater(timeout_s, handle.cancel, "timeout")
            workspace = agent.workspace
            if workspace not in self._workspaces_ready:
                await handle.guard(self.run_blocking(ensure_workspace, workspace,
                                                     skip_bootstrap=view.skip_bootstrap))
                self._workspaces_ready.add(workspace)
            # read the bootstrap files while the session and the user message are written
            total_chars = self._bootstrap_budget(view, agent, request)
            handle.context_files = self.run_blocking(
                load_context_files, workspace, max_chars=min(view.bootstrap_max_chars,
                                                             total_chars),
                total_max_chars=total_chars)
            handle.context_files.addErrback(lambda f: f)
            fields: dict[str, Any] = {"chatType": "group" if session_kind(
                handle.session_key) == "group" else "direct"}
            if request.origin:
                fields["origin"] = dict(request.origin)
            if request.label:
                fields["label"] = request.label
            entry, _created = await sessions.ensure(handle.session_key, cwd=workspace,
                                                    fields=fields)
            handle.session_id = entry.get("sessionId")
            result.session_id = handle.session_id
            history = await self._load_history(handle.agent_id, handle.session_key)
            dangling = dangling_tool_calls(history)
            answers = _answers(dangling, request.tool_results)
            if answers is not None:
                # the caller answered its tool calls: the model continues from the results
                now = self.now_ms()
                results = [{"role": "toolResult", "toolCallId": call.get("id"),
                            "toolName": call.get("name"),
                            "content": [{"type": "text", "text": answer.content}],
                            "isError": answer.is_error, "timestamp": now}
                           for call, answer in zip(dangling, answers, strict=True)]
                await self._append(handle, [{"type": "message", "message": message}
                                            for message in results])
                history.extend(results)
                handle._settle_acceptance(None)
            else:
                if dangling:
                    # as context_messages() will show them when the transcript is read again
                    history.extend(missing_results(dangling))
                user_message = {"role": "user", "content": request.message,
                                "timestamp": self.now_ms(),
                                # clients match their sent message by its run id
                                "idempotencyKey": f"{request.run_id}:user"}
                await self._append(handle, [{"type": "message", "id": handle.message_id,
                                             "message": user_message}])
                history.append(user_message)
            started = True
            handle.started_at = result.started_at = self.now_ms()
            # first the waiters (a chat.send ack goes out before any event of the run)
            handle._settle_acceptance(None)
            handle.emit("lifecycle", {"phase": "start", "startedAt": result.started_at})
            if handle.abort_reason is not None:
                raise CancelledError()
            await self._loop(handle, view, agent, entry, history, result, partial)
        except CancelledError:
            reason = handle.abort_reason or "rpc"
            result.stop_reason = reason
            if reason == "timeout":
                result.status = "timeout"
                result.error = f"agent run timed out after {timeout_s:g}s"
                result.error_kind = KIND_TIMEOUT
            else:
                result.status = "aborted"
            result.text = "".join(partial)
        except ProviderError as e:
            if handle.abort_reason is not None:
                result.status = "timeout" if handle.abort_reason == "timeout" else "aborted"
                result.stop_reason = handle.abort_reason
                result.text = "".join(partial)
                if result.status == "timeout":
                    result.error = f"agent run timed out after {timeout_s:g}s"
                    result.error_kind = KIND_TIMEOUT
            else:
                log.warn("agent run {run} failed: {error}", run=handle.run_id, error=str(e))
                result.status = "error"
                result.error = str(e)
                result.error_kind = e.kind
                result.error_detail = e.detail()
                result.stop_reason = ERROR
                result.text = "".join(partial)
        except AgentRequestError as e:
            result.status, result.error, result.error_kind = "error", str(e), KIND_UNKNOWN
        except Exception as e:
            log.failure("agent run {run} failed", run=handle.run_id)
            result.status = "error"
            result.error = f"{type(e).__name__}: {e}"
            result.error_kind = KIND_UNKNOWN
        finally:
            handle._current_call = None
        result.ended_at = self.now_ms()
        if result.started_at is None:
            result.started_at = handle.accepted_at
        if started and result.status != "ok":
            # keep what the model said before the failure (pi-ai stores it with the reason)
            await self._record_failure(handle, result)
            self.forget_history(handle.agent_id, handle.session_key)
        if started:
            phase = {"phase": "end", "startedAt": result.started_at, "endedAt": result.ended_at}
            if result.status == "aborted":
                handle.emit("lifecycle", {**phase, "aborted": True,
                                          "stopReason": result.stop_reason})
            elif result.status in ("error", "timeout"):
                handle.emit("lifecycle", {"phase": "error", "startedAt": result.started_at,
                                          "endedAt": result.ended_at, "error": result.error})
            else:
                handle.emit("lifecycle", phase)
        sessions.touch(handle.session_key, lastInteractionAt=result.ended_at,
                       lastRunId=handle.run_id, status=_row_status(result.status),
                       endedAt=result.ended_at, startedAt=result.started_at,
                       runtimeMs=result.duration_ms,
                       abortedLastRun=result.status == "aborted")
        self._complete(handle, result)
        self._next(handle.session_key)

    def _bootstrap_budget(self, view: AgentsView, agent: Any, request: RunRequest) -> int:
        """``bootstrapTotalMaxChars``, capped for small-context models (about a quarter of the
        context window: the built-in 4k-token local model gets ~4000 characters)."""
        total = view.bootstrap_total_max_chars
        if self.router is None:
            return total
        try:
            default = self.router.catalog.default_ref()
            primary = request.model or agent.model_primary or view.defaults_model
            ref = parse_model_ref(primary, default.provider) if primary else default
            info = self.router.catalog.get(ref.provider).model(ref.model)
        except Exception:
            return total
        if info is not None and info.context_window:
            return max(1000, min(total, int(info.context_window)))
        return total

    async def _record_failure(self, handle: RunHandle, result: RunResult) -> None:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": [{"type": "text", "text": result.text}] if result.text else [],
            "api": None, "provider": result.provider, "model": result.model,
            "usage": Usage().to_wire(),
            "stopReason": ABORTED if result.status == "aborted" else ERROR,
            "timestamp": self.now_ms(),
        }
        if result.error:
            message["errorMessage"] = result.error
        try:
            await self._append(handle, [{"type": "message", "message": message}])
        except Exception:
            log.failure("recording the end of run {run} failed", run=handle.run_id)

    async def _loop(self, handle: RunHandle, view: AgentsView, agent: Any,
                    entry: dict[str, Any], history: list[dict[str, Any]], result: RunResult,
                    partial: list[str]) -> None:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        request = handle.request
        policy = self._policy(view, agent, handle.agent_id, handle.session_key, request)
        available = tools_mod.available_tools(policy)
        specs = [tool.spec() for tool in available]
        tool_lines = [(tool.name, tool.summary) for tool in available]
        client_tools = _offered_client_tools(request, tools_mod)
        client_names = {tool.name for tool in client_tools}
        specs.extend(client_tools)
        tool_lines.extend((tool.name, _summary(tool.description)) for tool in client_tools)
        sampling = sampling_fields(request.stream_params)
        default = self.router.catalog.default_ref() if self.router is not None else \
            ModelRef("local", "smollm2")
        override = request.model or entry.get("modelOverride")
        if override and "/" not in str(override) and entry.get("providerOverride"):
            override = f"{entry['providerOverride']}/{override}"
        primary = override or agent.model_primary or view.defaults_model
        chain = model_chain(primary, () if override else agent.model_fallbacks, default)
        fit = model_fit(self.router, chain[0])
        if not fit.supports_tools:      # offered tools, a small model answers with nothing
            specs, tool_lines, client_names = [], [], set()
        pending_files = handle.context_files
        handle.context_files = None
        if pending_files is None:
            pending_files = self.run_blocking(
                load_context_files, agent.workspace, max_chars=view.bootstrap_max_chars,
                total_max_chars=view.bootstrap_total_max_chars)
        loaded = await handle.guard(pending_files)
        if isinstance(loaded, Failure):
            loaded.raiseException()
        context_files = loaded
        processes = self._processes.setdefault(handle.agent_id, tools_mod.ProcessRegistry())
        handle.tool_context = tools_mod.ToolContext(
            workspace=agent.workspace, agent_id=handle.agent_id, session_key=handle.session_key,
            reactor=self.reactor, run_blocking=self.run_blocking, sessions=self,
            processes=processes, cancelled=lambda: handle.abort_reason is not None)
        max_steps = request.max_steps or DEFAULT_MAX_STEPS
        last_model: str | None = (f"{entry.get('modelProvider')}/{entry.get('model')}"
                                  if entry.get("model") else None)
        total = Usage()
        for step in range(1, max_steps + 1):
            result.steps = step
            system = build_system_prompt(PromptInputs(
                agent_id=handle.agent_id, workspace=agent.workspace, model_ref=str(chain[0]),
                tools=tool_lines, context_files=context_files, channel=request.channel,
                user_timezone=view.user_timezone, extra=request.extra_system_prompt,
                agent_name=agent.name, compact=fit.compact_prompt))
            turn, ref, api = await self._call_model(handle, chain, ModelRequest(
                model=chain[0].model, system=system, messages=list(history), tools=specs,
                **sampling), partial)
            if not turn.text.strip() and not turn.tool_calls:
                raise no_content_error(ref.provider, ref.model)
            result.model, result.provider = ref.model, ref.provider
            total = Usage(total.input + turn.usage.input, total.output + turn.usage.output,
                          total.cache_read + turn.usage.cache_read,
                          total.cache_write + turn.usage.cache_write)
            records: list[dict[str, Any]] = []
            if last_model != str(ref):
                records.append({"type": "model_change", "provider": ref.provider,
                                "modelId": ref.model})
                last_model = str(ref)
            content: list[dict[str, Any]] = []
            if turn.text:
                content.append({"type": "text", "text": turn.text})
            content.extend(call.block() for call in turn.tool_calls)
            assistant = {"role": "assistant", "content": content, "api": api,
                         "provider": ref.provider, "model": ref.model,
                         "usage": turn.usage.to_wire(), "stopReason": turn.stop_reason,
                         "timestamp": self.now_ms()}
            records.append({"type": "message", "message": assistant})
            await self._append(handle, records)
            history.append(assistant)
            partial.clear()
            result.text = turn.text
            result.stop_reason = turn.stop_reason
            if not turn.tool_calls or turn.stop_reason != TOOL_USE:
                break
            pending = tuple(call for call in turn.tool_calls if call.name in client_names)
            if step == max_steps and not pending:
                result.stop_reason = "max_steps"
                log.warn("run {run}: tool loop stopped at the step limit ({n} model calls)",
                         run=handle.run_id, n=max_steps)
                break
            for call in turn.tool_calls:
                if call.name in client_names:
                    continue        # the caller runs it: left unanswered in the transcript
                handle.emit("tool", {"phase": "start", "name": call.name,
                                     "toolCallId": call.id, "args": dict(call.arguments)})
                output = await handle.guard(Deferred.fromCoroutine(
                    tools_mod.run_tool(handle.tool_context, policy, call)))
                tool_result = {"role": "toolResult", "toolCallId": call.id,
                               "toolName": call.name, "content": output.content(),
                               "isError": output.is_error, "timestamp": self.now_ms()}
                if output.details is not None:
                    tool_result["details"] = output.details
                await self._append(handle, [{"type": "message", "message": tool_result}])
                history.append(tool_result)
                handle.emit("tool", {"phase": "result", "name": call.name,
                                     "toolCallId": call.id, "meta": _tool_meta(call),
                                     "isError": output.is_error,
                                     "result": {"content": output.content(),
                                                "details": output.details}})
                if handle.abort_reason is not None:
                    raise CancelledError()
            if pending:
                # the model called the caller's tools: hand them back, the run ends here
                result.pending_tool_calls = pending
                result.stop_reason = STOP_TOOL_CALLS
                break
        result.usage = total
        sessions = self.store.agent(handle.agent_id)
        current = sessions.get(handle.session_key) or {}
        sessions.touch(
            handle.session_key,
            inputTokens=int(current.get("inputTokens") or 0) + total.input,
            outputTokens=int(current.get("outputTokens") or 0) + total.output,
            totalTokens=int(current.get("totalTokens") or 0) + total.total,
            contextTokens=total.input + total.cache_read,
            modelProvider=result.provider, model=result.model)

    async def _call_model(self, handle: RunHandle, chain: Sequence[ModelRef],
                          request: ModelRequest, partial: list[str]
                          ) -> tuple[AssistantTurn, ModelRef, str]:
        last: ProviderError | None = None
        for index, ref in enumerate(chain):
            final = index == len(chain) - 1
            try:
                opened = await handle.guard(Deferred.fromCoroutine(
                    self.router.open(ref, attrs.evolve(request, model=ref.model))))
            except ProviderError as e:
                last = e
                if final or (not e.failover and "unknown model provider" not in str(e)):
                    raise
                log.warn("model {ref} unavailable ({error}); falling back to {next}", ref=ref,
                         error=str(e), next=chain[index + 1])
                continue
            handle._current_call = opened.call
            streamed = False
            try:
                turn: AssistantTurn | None = None
                text = "".join(partial)     # the cumulative text, grown (not re-joined)
                async for event in opened.call:
                    if isinstance(event, TextDelta):
                        delta = event.text
                        partial.append(delta)
                        text += delta
                        handle.emit_text(text, delta, streamed)
                        streamed = True
                    elif isinstance(event, AssistantTurn):
                        turn = event
                if turn is None:
                    raise ProviderError(ref.provider, f"{ref.provider}: the stream ended "
                                        "without a result", model=ref.model)
                return turn, ref, opened.spec.api
            except CancelledError:
                raise
            except ProviderError as e:
                last = e
                if streamed or final or not e.failover or handle.abort_reason is not None:
                    raise
                log.warn("model {ref} failed ({error}); falling back to {next}", ref=ref,
                         error=str(e), next=chain[index + 1])
            finally:
                handle._current_call = None
                opened.release()
            if handle.abort_reason is not None:
                raise CancelledError()
        assert last is not None
        raise last

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

    async def _append(self, handle: RunHandle, records: list[dict[str, Any]]) -> None:
        await self.store.agent(handle.agent_id).append(handle.session_key, records)

    def _store_changed(self, agent_id: str, key: str, what: str,
                       value: dict[str, Any] | None) -> None:
        if what in ("reset", "delete", "compact", "create"):
            self._history.pop((agent_id, key), None)

    def forget_history(self, agent_id: str, key: str) -> None:
        self._history.pop((agent_id, key), None)

    # -- SessionsAccess (session tools) -------------------------------------------------------

    async def tool_sessions_list(self, agent_id: str, params: Mapping[str, Any]
                                 ) -> list[dict[str, Any]]:
        sessions = self.store.agent(agent_id)
        await sessions.load()
        rows = []
        raw_limit = params.get("limit")
        limit = raw_limit if isinstance(raw_limit, int) and raw_limit > 0 else 50
        kinds = params.get("kinds") if isinstance(params.get("kinds"), list) else None
        active = params.get("activeMinutes")
        now = self.now_ms()
        for key, entry in sorted(sessions.entries.items(),
                                 key=lambda kv: -int(kv[1].get("updatedAt") or 0)):
            kind = session_kind(key)
            if kinds and kind not in kinds:
                continue
            if isinstance(active, int) and \
                    now - int(entry.get("updatedAt") or 0) > active * 60000:
                continue
            rows.append({"key": key, "kind": kind, "sessionId": entry.get("sessionId"),
                         "updatedAt": entry.get("updatedAt"), "label": entry.get("label"),
                         "model": entry.get("model"),
                         "totalTokens": entry.get("totalTokens")})
            if len(rows) >= limit:
                break
        return rows

    async def tool_sessions_history(self, agent_id: str, key: str, limit: int,
                                    include_tools: bool) -> dict[str, Any]:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        try:
            target_agent, canonical = self.resolve(agent_of_key(key, agent_id), key)
        except AgentRequestError as e:
            raise tools_mod.ToolFailure(str(e)) from None
        records = await self.store.agent(target_agent).read(canonical)
        messages = [r["message"] for r in records if r.get("type") == "message"
                    and isinstance(r.get("message"), dict)]
        if not include_tools:
            messages = [m for m in messages if m.get("role") in ("user", "assistant")]
        return {"sessionKey": canonical, "messages": messages[-limit:]}

    async def tool_sessions_send(self, agent_id: str, from_key: str,
                                 params: Mapping[str, Any]) -> dict[str, Any]:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        key = params.get("sessionKey")
        target_agent = params.get("agentId") or agent_id
        if not isinstance(key, str) or not key:
            label = params.get("label")
            found = None
            if isinstance(label, str):
                sessions = self.store.agent(normalize_agent_id(str(target_agent)))
                await sessions.load()
                found = next((k for k, e in sessions.entries.items()
                              if e.get("label") == label), None)
            if found is None:
                raise tools_mod.ToolFailure("sessionKey (or a known label) is required")
            key = found
        try:
            agent, canonical = self.resolve(agent_of_key(key, str(target_agent)), key)
        except AgentRequestError as e:
            raise tools_mod.ToolFailure(str(e)) from None
        if canonical == from_key:
            raise tools_mod.ToolFailure("sessions_send cannot target the current session")
        import uuid

        run_id = f"send-{uuid.uuid4()}"
        self.start(RunRequest(message=str(params.get("message")), run_id=run_id,
                                       agent_id=agent, session_key=canonical, kind="tool",
                                       channel="sessions_send"))
        wait = params.get("timeoutSeconds")
        wait_s = float(wait) if isinstance(wait, int | float) and wait >= 0 else 30.0
        if wait_s == 0:
            return {"runId": run_id, "status": "accepted", "sessionKey": canonical}
        result = await self.wait(run_id, wait_s)
        if result is None:
            return {"runId": run_id, "status": "timeout", "sessionKey": canonical}
        return {"runId": run_id, "status": "ok" if result.status == "ok" else "error",
                "sessionKey": canonical, "reply": result.text,
                **({"error": result.error} if result.error else {})}

    async def tool_session_status(self, agent_id: str, key: str) -> dict[str, Any]:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        try:
            target_agent, canonical = self.resolve(agent_of_key(key, agent_id), key)
        except AgentRequestError as e:
            raise tools_mod.ToolFailure(str(e)) from None
        sessions = self.store.agent(target_agent)
        await sessions.load()
        entry = sessions.get(canonical) or {}
        running = self.runs_in(canonical)
        return {"sessionKey": canonical, "agentId": target_agent,
                "sessionId": entry.get("sessionId"), "updatedAt": entry.get("updatedAt"),
                "model": entry.get("model"), "modelProvider": entry.get("modelProvider"),
                "inputTokens": entry.get("inputTokens"),
                "outputTokens": entry.get("outputTokens"),
                "totalTokens": entry.get("totalTokens"),
                "status": "running" if running else entry.get("status") or "idle",
                "queued": max(0, len(running) - 1)}

    # -- shutdown ---------------------------------------------------------------------------

    async def stop(self, grace_s: float = 2.0) -> None:
        """Abort every run (reason ``shutdown``) and wait a little for them to record it."""
        handles = list(self.active.values())
        for handle in handles:
            handle.cancel("shutdown")
        for registry in self._processes.values():
            registry.kill_all()
        for handle in handles:
            waiting = _follow(handle.result)
            waiting.addTimeout(grace_s, self.reactor)
            with contextlib.suppress(Exception):
                await waiting


def _offered_client_tools(request: RunRequest, tools_mod: Any) -> list[ToolSpec]:
    """The caller's tools, narrowed by the run's own allow list (as upstream)."""
    tools = list(request.client_tools)
    if tools and request.tools_allow:
        layer = tools_mod.PolicyLayer("run", tools_mod.expand(request.tools_allow))
        tools = [t for t in tools
                 if layer.verdict(tools_mod.normalize_tool_name(t.name)) is None]
    return tools


def _summary(description: str) -> str:
    line = description.strip().split("\n", 1)[0].strip()
    return line[:197] + "..." if len(line) > 200 else line or "Provided by the caller."


def _answers(calls: Sequence[Mapping[str, Any]], results: Sequence[ClientToolResult]
             ) -> list[ClientToolResult] | None:
    """The caller's result for each of ``calls``, in their order; None unless every call
    has one."""
    if not calls or not results:
        return None
    by_id = {result.call_id: result for result in results}
    answers = [by_id.get(str(call.get("id"))) for call in calls]
    if any(answer is None for answer in answers):
        return None
    return [answer for answer in answers if answer is not None]


def _follow(deferred: Deferred[RunResult]) -> Deferred[RunResult]:
    """A Deferred following ``deferred`` whose cancellation leaves ``deferred`` alone."""
    out: Deferred[RunResult] = Deferred()

    def done(value: RunResult) -> RunResult:
        if not out.called:
            out.callback(value)
        return value

    deferred.addCallback(done)
    return out


def _row_status(status: str) -> str:
    return {"ok": "done", "error": "failed", "aborted": "killed", "timeout": "timeout"}.get(
        status, status)


def _tool_meta(call: Any) -> str:
    args = call.arguments
    for name in ("path", "command", "sessionKey", "action"):
        value = args.get(name) if isinstance(args, Mapping) else None
        if isinstance(value, str) and value:
            return value[:200]
    return ""


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
