"""A voice session written into the agent's session store, like any other conversation.

The key is ``agent:main:voiceclaw:<sessionKey or sessionId>``. What each side said (the
finished transcripts) becomes ``user`` and ``assistant`` messages, and each tool the brain ran
becomes an assistant ``toolCall`` followed by its ``toolResult``, written together when the
call ends (a call still running while the conversation goes on must not leave a dangling call
in the middle of the transcript). ``chat.history``, the session tools and later chat runs in
the same session read it back, so the brain's memory is shared between voice and chat.

Writes go through the store's durable writer one after the other; nothing blocks the reactor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from openclaw.agents.runtime import AgentRuntime
from openclaw.providers.types import STOP, TOOL_USE, ToolCall, Usage
from openclaw.voiceclaw.tools import ToolOutcome

__all__ = ["VOICE_API", "VOICE_PROVIDER", "VoiceRecorder"]

log = Logger(namespace="voiceclaw.recorder")

VOICE_PROVIDER: Final = "google"
VOICE_API: Final = "gemini-live"
ORIGIN: Final[Mapping[str, str]] = {"provider": "voiceclaw", "surface": "voiceclaw",
                                    "chatType": "direct"}


class VoiceRecorder:
    """Appends one voice session's turns to ``session_key`` of ``agent_id``."""

    def __init__(self, runtime: AgentRuntime, agent_id: str, session_key: str, *,
                 model: str, workspace: str) -> None:
        self.runtime = runtime
        self.agent_id = agent_id
        self.session_key = session_key
        self.model = model
        self.workspace = workspace
        self._tail: Deferred[None] = succeed(None)
        self._ensured = False

    def said(self, role: str, text: str) -> None:
        """A finished transcript of either side."""
        if not text.strip():
            return
        now = self.runtime.now_ms()
        if role == "user":
            message: dict[str, Any] = {"role": "user", "content": text, "timestamp": now}
        else:
            message = self._assistant([{"type": "text", "text": text}], STOP, now)
        self._write([message])

    def tool_finished(self, outcome: ToolOutcome) -> None:
        now = self.runtime.now_ms()
        call = ToolCall(outcome.call_id, outcome.name, dict(outcome.arguments))
        result = {"role": "toolResult", "toolCallId": outcome.call_id,
                  "toolName": outcome.name,
                  "content": [{"type": "text", "text": outcome.text}],
                  "isError": outcome.status != "ok", "timestamp": now}
        self._write([self._assistant([call.block()], TOOL_USE, now), result])

    def settled(self) -> Deferred[None]:
        """Fires once everything recorded so far is on disk."""
        done: Deferred[None] = Deferred()
        self._tail.addBoth(lambda _ignored: done.callback(None))
        return done

    def _assistant(self, content: list[dict[str, Any]], stop: str, now: int) -> dict[str, Any]:
        return {"role": "assistant", "content": content, "api": VOICE_API,
                "provider": VOICE_PROVIDER, "model": self.model, "usage": Usage().to_wire(),
                "stopReason": stop, "timestamp": now}

    def _write(self, messages: list[dict[str, Any]]) -> None:
        records = [{"type": "message", "message": message} for message in messages]

        def write(_ignored: object) -> Deferred[None]:
            return Deferred.fromCoroutine(self._append(records))

        def failed(failure: Any) -> None:
            log.failure("recording voice session {key} failed", failure, key=self.session_key)

        self._tail = self._tail.addCallback(write).addErrback(failed)

    async def _append(self, records: list[dict[str, Any]]) -> None:
        sessions = self.runtime.store.agent(self.agent_id)
        if not self._ensured:
            await sessions.ensure(self.session_key, cwd=self.workspace,
                                  fields={"chatType": "direct", "origin": dict(ORIGIN),
                                          "channel": "voiceclaw"})
            self._ensured = True
        await sessions.append(self.session_key, records)
        self.runtime.forget_history(self.agent_id, self.session_key)
        sessions.touch(self.session_key, lastInteractionAt=self.runtime.now_ms(),
                       modelProvider=VOICE_PROVIDER, model=self.model)
