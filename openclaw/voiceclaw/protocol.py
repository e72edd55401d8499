"""The client side of ``/voiceclaw/realtime``: its texts, codes and event shapes (spec §1).

Each frame is one JSON object with a ``type``, both ways; audio travels as base64 PCM16 inside
the JSON. The constants here are the exact wording and close codes the VoiceClaw desktop app
and upstream's tests expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from openclaw.auth.preauth import BUDGET_FULL_TEXT

__all__ = [
    "BUDGET_FULL_TEXT",
    "CLOSE_AUTH_REQUIRED",
    "CLOSE_HANDSHAKE_TIMEOUT",
    "CLOSE_OWNER_REQUIRED",
    "CLOSE_SETUP_FAILED",
    "CLOSE_UNAUTHORIZED",
    "CLOSE_UPSTREAM_ERROR",
    "DEFAULT_VOICE",
    "ERR_ALREADY_CONFIGURED",
    "ERR_AUTH_FAILED",
    "ERR_AUTH_REQUIRED",
    "ERR_CONFIG_REQUIRED",
    "ERR_INTERNAL",
    "ERR_INVALID_JSON",
    "ERR_NO_GEMINI_KEY",
    "ERR_OWNER_REQUIRED",
    "MAX_PAYLOAD_BYTES",
    "SESSION_ENDED_SUMMARY",
    "VOICECLAW_PATH",
    "ClientEvent",
    "CloseReason",
    "HistoryTurn",
    "VoiceSessionConfig",
    "encode_json",
    "error_event",
    "parse_client_event",
    "redact_key",
    "sanitize_session_key",
    "tool_session_key",
]

VOICECLAW_PATH: Final = "/voiceclaw/realtime"
# Newer builds cap a frame at 25 MiB (a camera frame or a long burst of audio fits).
MAX_PAYLOAD_BYTES: Final = 25 * 1024 * 1024

ERR_INVALID_JSON: Final = "invalid JSON event"
ERR_CONFIG_REQUIRED: Final = "session.config required before media"
ERR_ALREADY_CONFIGURED: Final = "session already configured"
ERR_AUTH_FAILED: Final = "OpenClaw gateway authentication failed"
ERR_AUTH_REQUIRED: Final = (
    "OpenClaw real-time brain requires gateway auth for non-local connections")
ERR_OWNER_REQUIRED: Final = "OpenClaw real-time brain requires owner-equivalent gateway auth"
ERR_NO_GEMINI_KEY: Final = "GEMINI_API_KEY is required for VoiceClaw real-time brain mode"
ERR_INTERNAL: Final = "internal error"
SESSION_ENDED_SUMMARY: Final = "Real-time brain session ended."
DEFAULT_VOICE: Final = "Zephyr"


@attrs.frozen
class CloseReason:
    code: int
    reason: str


CLOSE_HANDSHAKE_TIMEOUT: Final = CloseReason(1000, "handshake timeout")
CLOSE_UNAUTHORIZED: Final = CloseReason(1008, "unauthorized")
CLOSE_AUTH_REQUIRED: Final = CloseReason(1008, "auth required")
CLOSE_OWNER_REQUIRED: Final = CloseReason(1008, "owner auth required")
CLOSE_SETUP_FAILED: Final = CloseReason(1011, "setup failed")
CLOSE_UPSTREAM_ERROR: Final = CloseReason(1011, "upstream error")

_KEY_IN_URL: Final = re.compile(r"([?&]key=)[^&\s]+")
_SESSION_KEY_DISALLOWED: Final = re.compile(r"[^A-Za-z0-9_.-]")
MAX_SESSION_KEY_CHARS: Final = 128


def encode_json(message: Mapping[str, Any]) -> bytes:
    """One frame's bytes: compact UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_event(message: str, code: int) -> dict[str, Any]:
    return {"type": "error", "message": message, "code": code}


def redact_key(text: str) -> str:
    """Hide an API key carried in a URL query (``key=***``): error texts may quote the URL."""
    return _KEY_IN_URL.sub(r"\1***", text)


def sanitize_session_key(value: object) -> str | None:
    """The client's ``sessionKey`` made safe for a store key: trimmed, every character outside
    ``[A-Za-z0-9_.-]`` turned into ``-``, at most 128 characters; ``None`` when empty."""
    if not isinstance(value, str):
        return None
    trimmed = value.strip()
    if not trimmed:
        return None
    return _SESSION_KEY_DISALLOWED.sub("-", trimmed)[:MAX_SESSION_KEY_CHARS] or None


def tool_session_key(session_key: object, session_id: str) -> str:
    """The agent session a voice session records into and runs its tools in."""
    return f"agent:main:voiceclaw:{sanitize_session_key(session_key) or session_id}"


@attrs.frozen
class ClientEvent:
    """One client frame: its ``type`` and the whole object."""

    type: str
    fields: Mapping[str, Any]

    def text(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if isinstance(value, str) else None


def parse_client_event(payload: bytes) -> ClientEvent | None:
    """A frame (text or binary, UTF-8 JSON) as an event; ``None`` if it is not a JSON object
    with a ``type`` (the client gets ``invalid JSON event``)."""
    try:
        parsed = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(parsed, dict) or "type" not in parsed:
        return None
    kind = parsed["type"]
    return ClientEvent(kind if isinstance(kind, str) else json.dumps(kind), parsed)


@attrs.frozen
class HistoryTurn:
    role: Literal["user", "assistant"]
    text: str


def _history(value: object) -> tuple[HistoryTurn, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    turns: list[HistoryTurn] = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("text"), str):
            continue
        role: Literal["user", "assistant"] = "user" if item.get("role") == "user" \
            else "assistant"
        turns.append(HistoryTurn(role, item["text"]))
    return tuple(turns)


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


@attrs.frozen
class VoiceSessionConfig:
    """A ``session.config`` after the gateway's defaults (provider forced to ``gemini``, voice
    ``Zephyr``, brain ``enabled``). Fields of other types than expected count as absent."""

    api_key: str = ""
    voice: str = DEFAULT_VOICE
    model: str | None = None
    brain_agent: str = "enabled"
    session_key: str | None = None
    device_context: Mapping[str, str] = attrs.Factory(dict)
    watchdog: bool = False
    instructions_override: str | None = None
    conversation_history: tuple[HistoryTurn, ...] = ()

    @property
    def brain(self) -> bool:
        return self.brain_agent != "none"

    @classmethod
    def from_event(cls, event: ClientEvent) -> VoiceSessionConfig:
        brain = event.fields.get("brainAgent")
        return cls(
            api_key=event.text("apiKey") or "",
            voice=event.text("voice") or DEFAULT_VOICE,
            model=event.text("model") or None,
            brain_agent=brain if isinstance(brain, str) else "enabled",
            session_key=event.text("sessionKey"),
            device_context=_strings(event.fields.get("deviceContext")),
            watchdog=event.fields.get("watchdog") == "enabled",
            instructions_override=event.text("instructionsOverride"),
            conversation_history=_history(event.fields.get("conversationHistory")),
        )
