"""``send`` and ``wake`` as far as they concern agents.

* ``send`` delivers through a channel: the channels subsystem plugs its delivery function into
  ``AgentGateway.deliver``; until one is plugged in, ``send`` answers ``UNAVAILABLE`` naming
  the channel. With ``sessionKey`` the delivered text is mirrored into that session's
  transcript (as an assistant message). Idempotent on ``send:<idempotencyKey>``.
* ``wake`` ``{mode: "now" | "next-heartbeat", text, sessionKey?, agentId?}``: ``now`` runs the
  agent on the (main) session with ``System: <text>``; ``next-heartbeat`` queues the text as a
  system event that leads the session's next turn.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from openclaw.agents.runtime import AgentRequestError, RunRequest
from openclaw.auth.scopes import WRITE
from openclaw.gateway.methods.agent import AgentGateway, DedupeEntry, replay
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import ErrorCode, ErrorShape, GatewayError, invalid_request
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    Array,
    Boolean,
    Const,
    Enum,
    Object,
    String,
    optional,
    required,
)

SEND_PARAMS: Final = Object({
    "to": required(NON_EMPTY_STRING), "message": optional(String()),
    "mediaUrl": optional(String()), "mediaUrls": optional(Array(String())),
    "buffer": optional(String()), "filename": optional(String()),
    "contentType": optional(String()), "asVoice": optional(Boolean()),
    "gifPlayback": optional(Boolean()), "channel": optional(String()),
    "accountId": optional(String()), "agentId": optional(String()),
    "replyToId": optional(String()), "threadId": optional(String()),
    "forceDocument": optional(Boolean()), "silent": optional(Boolean()),
    "parseMode": optional(Const("HTML")), "sessionKey": optional(String()),
    "idempotencyKey": required(NON_EMPTY_STRING),
})
WAKE_PARAMS: Final = Object({
    "mode": required(Enum(("now", "next-heartbeat"))), "text": required(NON_EMPTY_STRING),
    "sessionKey": optional(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
}, closed=False)


def make_send_methods(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    runtime = gateway.runtime

    async def send(call: MethodCall) -> Any:
        params = call.param_map
        key = f"send:{params['idempotencyKey']}"
        cached = gateway.dedupe.get(key)
        if cached is not None and not cached.in_flight:
            return replay(cached)
        channel = str(params.get("channel") or "").strip().lower()
        deliver = gateway.deliver
        if deliver is None:
            error = ErrorShape(ErrorCode.UNAVAILABLE,
                               f"no channel is available to deliver to {params['to']}"
                               + (f" (channel {channel} is not configured)" if channel else ""))
            gateway.dedupe.set(key, DedupeEntry(gateway.clock.seconds(), False, None, error))
            raise GatewayError(error.code, error.message)
        delivered = await deliver(params)
        payload = {"runId": params["idempotencyKey"], **(delivered or {})}
        session_key = params.get("sessionKey")
        if session_key and params.get("message"):
            try:
                agent_id, canonical = runtime.resolve(params.get("agentId") or None, session_key)
            except AgentRequestError as e:
                raise invalid_request(str(e)) from None
            sessions = runtime.store.agent(agent_id)
            settings = runtime.view().agent(agent_id)
            await sessions.ensure(canonical, cwd=settings.workspace if settings else "")
            await sessions.append(canonical, [{"type": "message", "message": {
                "role": "assistant", "content": [{"type": "text", "text": params["message"]}],
                "stopReason": "stop", "timestamp": runtime.now_ms(), "provider": "openclaw",
                "model": "delivery-mirror", "api": None}}])
            runtime.forget_history(agent_id, canonical)
        gateway.dedupe.set(key, DedupeEntry(gateway.clock.seconds(), True, payload))
        return payload

    def wake(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        try:
            agent_id, key = runtime.resolve(params.get("agentId"), params.get("sessionKey"))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        text = str(params["text"])
        if params["mode"] == "next-heartbeat":
            gateway.pending_system_events.setdefault(key, []).append(text)
            return {"ok": True}
        runtime.start(RunRequest(message=f"System: {text}", run_id=f"wake-{uuid.uuid4()}",
                                 agent_id=agent_id, session_key=key, kind="wake",
                                 channel="heartbeat"))
        return {"ok": True}

    return (
        MethodSpec("send", send, WRITE, SEND_PARAMS),
        MethodSpec("wake", wake, WRITE, WAKE_PARAMS),
    )


def make_all_methods(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    """Every method of the agents issue (registry order: agent, chat, sessions, send)."""
    from openclaw.gateway.methods.agent import make_agent_methods
    from openclaw.gateway.methods.chat import make_chat_methods
    from openclaw.gateway.methods.sessions import make_sessions_methods

    return (*make_agent_methods(gateway), *make_chat_methods(gateway),
            *make_sessions_methods(gateway), *make_send_methods(gateway))
