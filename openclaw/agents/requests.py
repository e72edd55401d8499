"""What a run is asked to do and how it ended: :class:`RunRequest`, :class:`RunResult`, the
errors a request can meet, and the queue journal's record of a request (what a replay after
a restart needs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from openclaw.providers.types import ToolCall, ToolSpec, Usage


class AgentRequestError(ValueError):
    """The request cannot start a run (unknown agent, malformed key ...): INVALID_REQUEST."""


class RunNotAccepted(Exception):
    """The run's message could not be made durable (it is not in the transcript nor in the
    queue journal): the request is answered with an error."""


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


def journal_record(request: RunRequest) -> dict[str, Any]:
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


def request_from_journal(record: Mapping[str, Any]) -> RunRequest:
    fields = {name: record["request"][name] for name in _JOURNALED_FIELDS
              if name in record["request"]}
    if isinstance(fields.get("tools_allow"), list):
        fields["tools_allow"] = tuple(fields["tools_allow"])
    return RunRequest(run_id=str(record["runId"]), message_id=str(record["messageId"]),
                      **fields)


def journaled(request: RunRequest) -> bool:
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


__all__ = [
    "RESERVED_TOOL_NAMES",
    "STOP_TOOL_CALLS",
    "AgentRequestError",
    "ClientToolConflict",
    "ClientToolResult",
    "RunNotAccepted",
    "RunRequest",
    "RunResult",
    "journal_record",
    "journaled",
    "request_from_journal",
]
