"""Agent family: ``agent`` (two-stage), ``agent.wait``, ``agent.identity.get``; and the bridge
from the agent runtime to the event bus (:class:`AgentGateway`).

The bridge turns run events into the wire events of the real gateway:

* ``agent`` ``{runId, seq, stream, ts, data, sessionKey}``: ``lifecycle`` and ``assistant``
  broadcast (operator.read); ``tool`` only to connections that advertised the ``tool-events``
  cap and started a run in that session (targeted, no ``seq``), plus ``session.tool`` to
  ``sessions.subscribe`` subscribers;
* ``chat`` (v4): ``delta`` with ``deltaText`` (incremental; ``replace: true`` when the text is
  not a prefix extension) and the cumulative ``message``, paced at 75 ms per run (a pending
  delta is flushed before a tool starts and before the terminal event; droppable), then
  ``final`` / ``aborted`` / ``error``;
* ``sessions.changed`` / ``session.message`` to subscribers.

Idempotency: ``agent:<key>`` / ``chat:<key>`` / ``send:<key>`` entries, 5 minutes, 1000 entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from openclaw.agents.identity import assistant_identity
from openclaw.agents.runtime import (
    AgentRequestError,
    AgentRuntime,
    DuplicateRun,
    RunHandle,
    RunRequest,
    RunResult,
)
from openclaw.auth.scopes import ADMIN, READ, WRITE
from openclaw.gateway.methods.agent_delivery import check_delivery, deliver_reply
from openclaw.gateway.methods.agents import identity_result
from openclaw.gateway.methods.session_rows import SessionRows
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import ErrorCode, ErrorShape, GatewayError, invalid_request
from openclaw.gateway.protocol.frames import response_ok
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    AnyValue,
    Array,
    Boolean,
    Enum,
    Integer,
    Object,
    String,
    optional,
    required,
)

if TYPE_CHECKING:
    from openclaw.gateway.protocol.context import GatewayContext

log = Logger(namespace="gateway.agent")

DEDUPE_TTL_S: Final = 300.0
DEDUPE_MAX: Final = 1000
CHAT_PACING_S: Final = 0.075
TOOL_EVENTS_CAP: Final = "tool-events"
AGENT_EVENTS: Final = ("agent", "chat", "sessions.changed", "session.message", "session.tool")


# --------------------------------------------------------------------------- dedupe


@attrs.define
class DedupeEntry:
    ts: float
    ok: bool
    payload: Any = None
    error: ErrorShape | None = None
    in_flight: bool = False


class Dedupe:
    """``<family>:<idempotencyKey>`` -> cached response; TTL 5 min, at most 1000 entries."""

    def __init__(self, clock: Any, ttl_s: float = DEDUPE_TTL_S, limit: int = DEDUPE_MAX) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._limit = limit
        self._entries: OrderedDict[str, DedupeEntry] = OrderedDict()

    def get(self, key: str) -> DedupeEntry | None:
        self._sweep()
        return self._entries.get(key)

    def set(self, key: str, entry: DedupeEntry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._sweep()

    def _sweep(self) -> None:
        cutoff = self._clock.seconds() - self._ttl
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.ts >= cutoff and len(self._entries) <= self._limit:
                break
            del self._entries[key]

    def discard(self, key: str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def replay(entry: DedupeEntry) -> Any:
    if entry.ok:
        return entry.payload
    assert entry.error is not None
    raise GatewayError(entry.error.code, entry.error.message, details=entry.error.details,
                       payload=entry.payload)


# --------------------------------------------------------------------------- chat projection


@attrs.define
class _AgentText:
    """Pacing of one run's ``assistant`` agent events (deltas merged, like the reference)."""

    sent_at: float | None = None
    pending: dict[str, Any] | None = None   # the latest held event
    deltas: list[str] = attrs.Factory(list)  # every held event's delta, joined at the flush
    flush: IDelayedCall | None = None


@attrs.define
class _ChatRun:
    session_key: str
    buffer: str = ""
    sent_text: str | None = None
    sent_at: float | None = None
    flush: IDelayedCall | None = None
    seq: int = 0


def chat_message(text: str, ts: int) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}], "timestamp": ts}


def _is_silent(text: str) -> bool:
    return text.strip().upper() == "NO_REPLY"


class AgentGateway:
    """Runtime observer + state shared by the agent, chat, sessions and send families."""

    def __init__(self, runtime: AgentRuntime, context: GatewayContext) -> None:
        self.runtime = runtime
        self.context = context
        self.clock = context.clock
        self.dedupe = Dedupe(context.clock)
        self._chat: dict[str, _ChatRun] = {}
        self._agent_text: dict[str, _AgentText] = {}
        self.tool_recipients: dict[str, set[str]] = {}
        self.session_subscribers: set[str] = set()
        self.message_subscribers: dict[str, set[str]] = {}
        self.pending_system_events: dict[str, list[str]] = {}
        self.deliver: Callable[..., Any] | None = None   # channel delivery seam (send)
        self.rows = SessionRows(runtime)                 # SessionRow projection (events)
        for event in AGENT_EVENTS:
            context.events.register_event(event)
        runtime.observers.append(self)
        runtime.store.listen(self._store_changed)
        self._install_health()

    # -- health: real session counts ----------------------------------------------------------

    def _install_health(self) -> None:
        health = self.context.health
        previous = health.collector

        def collect() -> Any:
            summary = previous() if previous is not None else {}
            try:
                self._patch_health(summary)
            except Exception:
                log.failure("health: session summary failed")
            return summary

        health.collector = collect

    def _patch_health(self, summary: dict[str, Any]) -> None:
        now = self.runtime.now_ms()
        for row in summary.get("agents") or ():
            sessions = self.runtime.store.agent(row["agentId"])
            entries = sorted(sessions.entries.items(),
                             key=lambda kv: -int(kv[1].get("updatedAt") or 0))
            row["sessions"] = {
                "path": sessions.index_path, "count": len(entries),
                "recent": [{"key": key, "updatedAt": entry.get("updatedAt"),
                            "age": max(0, now - int(entry.get("updatedAt") or now))}
                           for key, entry in entries[:5]]}
            if row.get("isDefault"):
                summary["sessions"] = dict(row["sessions"])

    # -- runs -----------------------------------------------------------------------------------

    def note_starter(self, call: MethodCall, session_key: str) -> None:
        if TOOL_EVENTS_CAP in call.session.caps:
            self.tool_recipients.setdefault(session_key, set()).add(call.session.conn_id)

    def run_event(self, handle: RunHandle, event: dict[str, Any]) -> None:
        stream = event["stream"]
        bus = self.context.events
        if stream == "assistant":
            self._agent_assistant(handle.run_id, event)
            self._chat_delta(handle, event)
            return
        self._flush_agent_text(handle.run_id)
        if stream == "tool":
            targets = self._live(self.tool_recipients.get(handle.session_key, set()))
            data = event["data"]
            if data.get("phase") == "start":
                self._flush_chat(handle.run_id, handle)
            if targets:
                bus.broadcast("agent", event, targets=targets)
            if self.session_subscribers:
                bus.broadcast("session.tool", event,
                              targets=self._live(self.session_subscribers), drop_if_slow=True)
            return
        bus.broadcast("agent", event)
        if stream == "lifecycle" and self.session_subscribers:
            phase = event["data"].get("phase")
            entry = self.runtime.store.agent(handle.agent_id).get(handle.session_key)
            bus.broadcast("sessions.changed", self.rows.event_payload(
                handle.agent_id, handle.session_key, entry, phase=phase, runId=handle.run_id,
                ts=event["ts"]), targets=self._live(self.session_subscribers),
                drop_if_slow=True)

    def run_finished(self, handle: RunHandle, result: RunResult) -> None:
        self._flush_agent_text(handle.run_id)
        self._agent_text.pop(handle.run_id, None)
        self._chat_terminal(handle, result)

    def _agent_assistant(self, run_id: str, event: dict[str, Any]) -> None:
        state = self._agent_text.get(run_id)
        if state is None:
            state = self._agent_text[run_id] = _AgentText()
        now = self.clock.seconds()
        if state.pending is None and (state.sent_at is None
                                      or now - state.sent_at >= CHAT_PACING_S):
            state.sent_at = now
            self.context.events.broadcast("agent", event)
            return
        # held until the flush: the latest event, with the deltas of all (joined once there,
        # not re-concatenated per chunk)
        state.pending = event
        state.deltas.append(event["data"].get("delta", ""))
        if state.flush is None:
            delay = max(0.0, CHAT_PACING_S - (now - (state.sent_at or now)))
            state.flush = self.clock.callLater(delay, self._flush_agent_text, run_id)

    def _flush_agent_text(self, run_id: str) -> None:
        state = self._agent_text.get(run_id)
        if state is None:
            return
        flush, state.flush = state.flush, None
        if flush is not None and flush.active():
            flush.cancel()
        pending, state.pending = state.pending, None
        deltas, state.deltas = state.deltas, []
        if pending is not None:
            if len(deltas) > 1:
                pending = {**pending, "data": {**pending["data"], "delta": "".join(deltas)}}
            state.sent_at = self.clock.seconds()
            self.context.events.broadcast("agent", pending)

    def _chat_delta(self, handle: RunHandle, event: dict[str, Any]) -> None:
        run = self._chat.get(handle.run_id)
        if run is None:
            run = self._chat[handle.run_id] = _ChatRun(handle.session_key)
        run.buffer = event["data"].get("text", "")
        run.seq = event["seq"]
        if run.flush is not None:
            return
        now = self.clock.seconds()
        if run.sent_at is None or now - run.sent_at >= CHAT_PACING_S:
            self._send_delta(handle.run_id, run)
        else:
            run.flush = self.clock.callLater(CHAT_PACING_S - (now - run.sent_at),
                                             self._flush_chat, handle.run_id, None)

    def _flush_chat(self, run_id: str, handle: RunHandle | None) -> None:
        run = self._chat.get(run_id)
        if run is None:
            return
        flush, run.flush = run.flush, None
        if flush is not None and flush.active():
            flush.cancel()
        if run.sent_text != run.buffer:
            self._send_delta(run_id, run)

    def _send_delta(self, run_id: str, run: _ChatRun) -> None:
        text = run.buffer
        previous = run.sent_text
        payload: dict[str, Any] = {"runId": run_id, "sessionKey": run.session_key,
                                   "seq": run.seq, "state": "delta"}
        if previous is None:
            if not text:
                return
            payload["deltaText"] = text
        elif text.startswith(previous):
            delta = text[len(previous):]
            if not delta:
                return
            payload["deltaText"] = delta
        else:
            payload["deltaText"] = text
            payload["replace"] = True
        if _is_silent(text) or "NO_REPLY".startswith(text.strip().upper() or "#"):
            return
        payload["message"] = chat_message(text, self.runtime.now_ms())
        run.sent_text = text
        run.sent_at = self.clock.seconds()
        self.context.events.broadcast("chat", payload, drop_if_slow=True)

    def _chat_terminal(self, handle: RunHandle, result: RunResult) -> None:
        run = self._chat.pop(handle.run_id, None)
        if run is not None:
            flush, run.flush = run.flush, None
            if flush is not None and flush.active():
                flush.cancel()
            if run.sent_text != run.buffer and result.status == "ok" and run.buffer:
                self._send_delta(handle.run_id, run)
        seq = handle.seq
        payload: dict[str, Any] = {"runId": handle.run_id, "sessionKey": handle.session_key,
                                   "seq": seq}
        text = result.text.strip()
        now = self.runtime.now_ms()
        if result.status == "ok":
            payload["state"] = "final"
            if result.stop_reason:
                payload["stopReason"] = result.stop_reason
            if text and not _is_silent(text):
                payload["message"] = chat_message(text, now)
        elif result.status == "aborted":
            payload["state"] = "aborted"
            if result.stop_reason:
                payload["stopReason"] = result.stop_reason
            if text:
                payload["message"] = chat_message(text, now)
        else:
            payload["state"] = "error"
            payload["errorMessage"] = result.error or "agent run failed"
            if result.error_kind:
                payload["errorKind"] = result.error_kind
            if result.error_detail:
                payload["errorDetail"] = dict(result.error_detail)
            if result.status == "timeout":
                payload["stopReason"] = "timeout"
        self.context.events.broadcast("chat", payload)

    # -- session events ---------------------------------------------------------------------

    def _live(self, conn_ids: set[str]) -> list[str]:
        live = {r.conn_id for r in self.context.events.recipients()}
        dead = conn_ids - live
        if dead:
            conn_ids -= dead
        return list(conn_ids)

    def _store_changed(self, agent_id: str, key: str, what: str,
                       value: dict[str, Any] | None) -> None:
        bus = self.context.events
        if what == "append":
            if value is None or value.get("type") != "message":
                return
            targets = set(self.session_subscribers) | self.message_subscribers.get(key, set())
            if targets:
                bus.broadcast("session.message", self.rows.message_payload(
                    agent_id, key, value), targets=self._live(targets), drop_if_slow=True)
            return
        if self.session_subscribers:
            payload: dict[str, Any] = {"sessionKey": key, "agentId": agent_id, "reason": what,
                                       "ts": self.runtime.now_ms()}
            if value is not None:
                payload = self.rows.event_payload(agent_id, key, value, reason=what)
            bus.broadcast("sessions.changed", payload,
                          targets=self._live(self.session_subscribers), drop_if_slow=True)

    # -- interim responses ------------------------------------------------------------------

    def send_interim(self, call: MethodCall, payload: Any) -> None:
        """First ``res`` of a two-stage method (the handler's return value is the second)."""
        for recipient in self.context.events.recipients():
            if recipient.conn_id == call.session.conn_id:
                transport = getattr(recipient, "transport", None)
                if transport is not None and getattr(recipient, "is_open", True):
                    transport.send_frame(response_ok(call.request_id, payload))
                return


# --------------------------------------------------------------------------- agent


AGENT_PARAMS: Final = Object({
    "message": required(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
    "provider": optional(String()), "model": optional(String()), "to": optional(String()),
    "replyTo": optional(String()), "sessionId": optional(String()),
    "sessionKey": optional(String()), "expectedExistingSessionId": optional(NON_EMPTY_STRING),
    "thinking": optional(String()), "deliver": optional(Boolean()),
    "attachments": optional(Array(AnyValue())), "channel": optional(String()),
    "replyChannel": optional(String()), "accountId": optional(String()),
    "replyAccountId": optional(String()), "threadId": optional(String()),
    "groupId": optional(String()), "groupChannel": optional(String()),
    "groupSpace": optional(String()), "timeout": optional(Integer(minimum=0)),
    "bestEffortDeliver": optional(Boolean()), "lane": optional(String()),
    "cwd": optional(NON_EMPTY_STRING), "cleanupBundleMcpOnRunEnd": optional(Boolean()),
    "modelRun": optional(Boolean()),
    "promptMode": optional(Enum(("full", "minimal", "none"))),
    "extraSystemPrompt": optional(String()),
    "bootstrapContextMode": optional(Enum(("full", "lightweight"))),
    "bootstrapContextRunKind": optional(Enum(("default", "heartbeat", "cron"))),
    "acpTurnSource": optional(Enum(("manual_spawn",))),
    "internalRuntimeHandoffId": optional(NON_EMPTY_STRING),
    "internalExecutionIdentityRetry": optional(Boolean()),
    "internalExecutionIdentityRecoveryAttempt": optional(Integer(minimum=1)),
    "execApprovalFollowupExpectedSessionId": optional(NON_EMPTY_STRING),
    "internalEvents": optional(Array(AnyValue())), "inputProvenance": optional(AnyValue()),
    "suppressPromptPersistence": optional(Boolean()),
    "sessionEffects": optional(Enum(("visible", "internal"))),
    "sourceReplyDeliveryMode": optional(Enum(("automatic", "message_tool_only"))),
    "disableMessageTool": optional(Boolean()), "swarmCollector": optional(Boolean()),
    "swarmOutputSchema": optional(AnyValue()), "forceRestartSafeTools": optional(Boolean()),
    "forceCodeModeTools": optional(Boolean()), "voiceWakeTrigger": optional(String()),
    "idempotencyKey": required(NON_EMPTY_STRING),
    "label": optional(String(max_length=512)),
})

AGENT_WAIT_PARAMS: Final = Object({"runId": required(NON_EMPTY_STRING),
                                   "timeoutMs": optional(Integer(minimum=0))})
AGENT_IDENTITY_PARAMS: Final = Object({"agentId": optional(NON_EMPTY_STRING),
                                       "sessionKey": optional(String())})


def _shield(deferred: Deferred[Any]) -> Deferred[Any]:
    out: Deferred[Any] = Deferred()

    def ok(value: Any) -> Any:
        if not out.called:
            out.callback(value)
        return value

    def bad(failure: Failure) -> Failure:
        if not out.called:
            out.errback(failure)
        return failure

    deferred.addCallbacks(ok, bad)
    return out


def agent_final_payload(result: RunResult, request: RunRequest | None = None
                        ) -> dict[str, Any]:
    from openclaw.gateway.methods.agent_result import final_payload

    return final_payload(result, request)


def _final_entry(gateway: AgentGateway, key: str, result: RunResult,
                 request: RunRequest | None = None) -> DedupeEntry:
    now = gateway.clock.seconds()
    if result.status in ("ok", "aborted"):
        return DedupeEntry(now, True, agent_final_payload(result, request))
    message = result.error or f"agent run {result.status}"
    return DedupeEntry(now, False, {"runId": result.run_id, "status": "error",
                                    "summary": message},
                       ErrorShape(ErrorCode.UNAVAILABLE, message))


def run_request_from(call: MethodCall, params: Mapping[str, Any], *, kind: str,
                     timeout_s: float | None) -> RunRequest:
    model = params.get("model")
    provider = params.get("provider")
    ref = None
    if model or provider:
        if ADMIN not in call.session.scopes:
            raise invalid_request("provider/model overrides require operator.admin")
        ref = f"{provider}/{model}" if provider and model and "/" not in str(model) else model
    return RunRequest(
        message=str(params.get("message") or ""), run_id=str(params["idempotencyKey"]),
        agent_id=params.get("agentId") or None, session_key=params.get("sessionKey") or None,
        kind=kind, timeout_s=timeout_s, model=ref or None,
        extra_system_prompt=params.get("extraSystemPrompt") or None,
        channel=str(params.get("channel") or "webchat"), label=params.get("label") or None,
        queue_mode=params.get("queueMode") or None, conn_id=call.session.conn_id,
        origin={"provider": "webchat", "surface": call.session.client_id or "webchat",
                "chatType": "direct"})


def make_agent_methods(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    runtime = gateway.runtime

    async def agent(call: MethodCall) -> Any:
        params = call.param_map
        key = f"agent:{params['idempotencyKey']}"
        cached = gateway.dedupe.get(key)
        if cached is not None:
            if cached.in_flight:
                return {"runId": params["idempotencyKey"], "status": "in_flight"}
            return replay(cached)
        delivering = check_delivery(gateway, params)
        timeout = params.get("timeout")
        request = run_request_from(call, params, kind="agent",
                                   timeout_s=float(timeout) if timeout else None)
        if runtime.get(request.run_id) is not None:
            return {"runId": request.run_id, "status": "in_flight"}
        try:
            agent_id, session_key = runtime.resolve(request.agent_id, request.session_key)
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        accepted = {"runId": request.run_id, "status": "accepted",
                    "acceptedAt": runtime.now_ms()}
        gateway.dedupe.set(key, DedupeEntry(gateway.clock.seconds(), True, accepted,
                                            in_flight=True))
        gateway.note_starter(call, session_key)
        try:
            handle = runtime.start(attrs.evolve(request, agent_id=agent_id,
                                                session_key=session_key))
        except AgentRequestError as e:
            gateway.dedupe.set(key, DedupeEntry(gateway.clock.seconds(), False, None,
                                                ErrorShape(ErrorCode.INVALID_REQUEST, str(e))))
            raise invalid_request(str(e)) from None
        except DuplicateRun as e:
            handle = e.handle
        stored = True

        def remember(result: RunResult) -> RunResult:
            if stored:
                gateway.dedupe.set(key, _final_entry(gateway, key, result, request))
            return result

        handle.result.addCallback(remember)
        try:
            # "accepted" once the message is durable (transcript or queue journal)
            await handle.when_accepted()
        except Exception as e:
            stored = False
            gateway.dedupe.discard(key)
            raise GatewayError(ErrorCode.UNAVAILABLE, f"agent failed: {e}") from None
        gateway.send_interim(call, accepted)
        result: RunResult = await _shield(handle.result)
        final = _final_entry(gateway, key, result, request)
        if delivering and result.status == "ok":
            final.payload["result"]["deliveryStatus"] = await deliver_reply(gateway, params,
                                                                            result)
        # the session row (status, counters) is on disk before the caller hears the end
        await runtime.store.agent(result.agent_id).flush_index()
        return replay(final)

    async def agent_wait(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        run_id = str(params["runId"])
        timeout_ms = params.get("timeoutMs")
        wait_s = (int(timeout_ms) if timeout_ms is not None else 30000) / 1000.0
        result = await runtime.wait(run_id, wait_s)
        if result is None:
            return {"runId": run_id, "status": "timeout"}
        payload: dict[str, Any] = {"runId": run_id,
                                   "status": "ok" if result.status in ("ok", "aborted")
                                   else "error",
                                   "startedAt": result.started_at, "endedAt": result.ended_at}
        if result.status in ("error", "timeout"):
            payload["error"] = result.error
        if result.status == "aborted":
            payload["stopReason"] = result.stop_reason
        return payload

    def agent_identity(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        try:
            agent_id, _ = runtime.resolve(params.get("agentId"), params.get("sessionKey"))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        return identity_result(assistant_identity(runtime.view(), agent_id),
                               call.context.get_config().config.gateway.control_ui.base_path)

    return (
        MethodSpec("agent", agent, WRITE, AGENT_PARAMS),
        MethodSpec("agent.wait", agent_wait, WRITE, AGENT_WAIT_PARAMS),
        MethodSpec("agent.identity.get", agent_identity, READ, AGENT_IDENTITY_PARAMS),
    )
