"""Chat family (the WebChat surface): ``chat.send``, ``chat.abort``, ``chat.history``.

``chat.send`` answers ``{runId, status: "started"}`` once the user message is durable: in the
transcript, or - when the session is busy and the message waits its turn - in the session
store's queue journal (replayed after a restart). A message that could not be stored is
answered with an error, never ``started``. Output arrives as ``chat`` and ``agent`` events.
A retry with the same ``idempotencyKey`` answers ``{runId, status: "in_flight"}`` while the
run lasts, then the cached outcome. ``/stop`` aborts the session's runs.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from openclaw.agents.runtime import AgentRequestError, DuplicateRun, RunResult
from openclaw.agents.transcript import display_messages
from openclaw.auth.scopes import READ, WRITE
from openclaw.gateway.methods.agent import (
    AgentGateway,
    DedupeEntry,
    replay,
    run_request_from,
)
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import (
    ErrorCode,
    ErrorShape,
    GatewayError,
    invalid_request,
)
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    AnyValue,
    Array,
    Boolean,
    Integer,
    Object,
    String,
    optional,
    required,
)

CHAT_HISTORY_DEFAULT: Final = 200
CHAT_HISTORY_MAX: Final = 1000
CHAT_HISTORY_MAX_BYTES: Final = 6 * 1024 * 1024
STOP_COMMANDS: Final = frozenset({"/stop", "/abort"})

CHAT_SEND_PARAMS: Final = Object({
    "sessionKey": required(String(min_length=1, max_length=512)),
    "agentId": optional(NON_EMPTY_STRING), "sessionId": optional(NON_EMPTY_STRING),
    "message": required(String()), "mentions": optional(AnyValue()),
    "workContext": optional(AnyValue()), "intent": optional(AnyValue()),
    "thinking": optional(String()), "fastMode": optional(AnyValue()),
    "fastAutoOnSeconds": optional(Integer(minimum=1)), "queueMode": optional(String()),
    "deliver": optional(Boolean()), "originatingChannel": optional(String()),
    "originatingTo": optional(String()), "originatingAccountId": optional(String()),
    "originatingThreadId": optional(String()), "replyToId": optional(NON_EMPTY_STRING),
    "attachments": optional(Array(AnyValue())), "toolBindings": optional(AnyValue()),
    "timeoutMs": optional(Integer(minimum=0)), "systemInputProvenance": optional(AnyValue()),
    "systemProvenanceReceipt": optional(String()),
    "suppressCommandInterpretation": optional(Boolean()),
    "expectedLeafEntryId": optional(AnyValue()),
    "expectedSessionRoutingContract": optional(NON_EMPTY_STRING),
    "expectedPermissionMode": optional(AnyValue()), "expectedToolOverrides": optional(AnyValue()),
    "idempotencyKey": required(NON_EMPTY_STRING),
})
CHAT_ABORT_PARAMS: Final = Object({
    "sessionKey": required(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
    "runId": optional(NON_EMPTY_STRING), "preserveSideRuns": optional(Boolean()),
})
CHAT_HISTORY_PARAMS: Final = Object({
    "sessionKey": required(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
    "cursor": optional(String()),
    "limit": optional(Integer(minimum=1, maximum=CHAT_HISTORY_MAX)),
    "maxBytes": optional(Integer(minimum=1024)), "offset": optional(Integer(minimum=0)),
    "pendingBefore": optional(Integer(minimum=1)), "inputRunIds": optional(Array(String())),
    "messageId": optional(NON_EMPTY_STRING), "sessionId": optional(NON_EMPTY_STRING),
    "maxChars": optional(Integer(minimum=1, maximum=500000)),
})


def _chat_entry(gateway: AgentGateway, result: RunResult) -> DedupeEntry:
    now = gateway.clock.seconds()
    if result.status in ("ok", "aborted"):
        return DedupeEntry(now, True, {"runId": result.run_id, "status": "ok"})
    message = result.error or f"agent run {result.status}"
    return DedupeEntry(now, False, {"runId": result.run_id, "status": "error",
                                    "summary": message},
                       ErrorShape(ErrorCode.UNAVAILABLE, message))


def make_chat_methods(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    runtime = gateway.runtime

    async def chat_send(call: MethodCall) -> Any:
        params = call.param_map
        run_id = str(params["idempotencyKey"])
        message = str(params.get("message") or "")
        if "\0" in message:
            raise invalid_request("message must not contain null bytes")
        if not message.strip() and not params.get("attachments"):
            raise invalid_request("message or attachment required")
        try:
            agent_id, session_key = runtime.resolve(params.get("agentId"),
                                                    params.get("sessionKey"))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        if message.strip().lower() in STOP_COMMANDS:
            run_ids = runtime.abort(session_key, reason="stop")
            return {"ok": True, "aborted": bool(run_ids), "runIds": run_ids}
        entry = runtime.store.agent(agent_id).get(session_key)
        if entry is not None and entry.get("sendPolicy") == "deny":
            raise invalid_request("send blocked by session policy")
        key = f"chat:{run_id}"
        cached = gateway.dedupe.get(key)
        if cached is not None:
            if cached.in_flight:
                return {"runId": run_id, "status": "in_flight"}
            return replay(cached)
        if runtime.get(run_id) is not None:
            return {"runId": run_id, "status": "in_flight"}
        timeout_ms = params.get("timeoutMs")
        request = run_request_from(call, params, kind="chat",
                                   timeout_s=timeout_ms / 1000.0 if timeout_ms else None)
        pending = gateway.pending_system_events.pop(session_key, None)
        if pending:
            message = "\n".join(f"System: {text}" for text in pending) + "\n\n" + message
        request = attrs.evolve(request, message=message, agent_id=agent_id,
                               session_key=session_key)
        gateway.note_starter(call, session_key)
        try:
            handle = runtime.start(request)
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        except DuplicateRun:
            return {"runId": run_id, "status": "in_flight"}
        gateway.dedupe.set(key, DedupeEntry(gateway.clock.seconds(), True,
                                            {"runId": run_id, "status": "started"},
                                            in_flight=True))
        stored = True

        def remember(result: RunResult) -> RunResult:
            if stored:
                gateway.dedupe.set(key, _chat_entry(gateway, result))
            return result

        handle.result.addCallback(remember)
        try:
            await handle.when_accepted()
        except Exception as e:
            # not stored: an error answer (never "started"); a retry may try again
            stored = False
            gateway.dedupe.discard(key)
            raise GatewayError(ErrorCode.UNAVAILABLE, f"chat.send failed: {e}") from None
        return {"runId": run_id, "status": "started"}

    def chat_abort(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        try:
            _, session_key = runtime.resolve(params.get("agentId"), params.get("sessionKey"))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        run_id = params.get("runId")
        if run_id:
            handle = runtime.get(str(run_id))
            if handle is not None and handle.session_key != session_key:
                raise invalid_request("runId does not match sessionKey")
        run_ids = runtime.abort(session_key, str(run_id) if run_id else None, reason="rpc")
        return {"ok": True, "aborted": bool(run_ids), "runIds": run_ids}

    async def chat_history(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        try:
            agent_id, session_key = runtime.resolve(params.get("agentId"),
                                                    params.get("sessionKey"))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        sessions = runtime.store.agent(agent_id)
        await sessions.load()
        entry = sessions.get(session_key) or {}
        records = await sessions.read(session_key)
        limit = int(params.get("limit") or CHAT_HISTORY_DEFAULT)
        messages = display_messages(records, limit, params.get("maxChars"))
        payload: dict[str, Any] = {"sessionKey": session_key, "messages": messages}
        if entry.get("sessionId"):
            payload["sessionId"] = entry["sessionId"]
        for field in ("thinkingLevel", "verboseLevel", "fastMode"):
            if entry.get(field) is not None:
                payload[field] = entry[field]
        return payload

    return (
        MethodSpec("chat.send", chat_send, WRITE, CHAT_SEND_PARAMS),
        MethodSpec("chat.abort", chat_abort, WRITE, CHAT_ABORT_PARAMS),
        MethodSpec("chat.history", chat_history, READ, CHAT_HISTORY_PARAMS),
    )
