"""What every model provider speaks: requests, streamed events, results, errors.

Messages are kept in the pi-ai shape the real gateway stores in its transcripts (and shows in
``chat.history``), so a transcript entry is sent to a provider without another model:

* user: ``{"role": "user", "content": str | [{"type": "text", "text"}], "timestamp"}``
* assistant: ``{"role": "assistant", "content": [{"type": "text", "text"} |
  {"type": "toolCall", "id", "name", "arguments"}], "api", "provider", "model", "usage",
  "stopReason", "timestamp"}``
* toolResult: ``{"role": "toolResult", "toolCallId", "toolName", "content": [{"type": "text",
  "text"}], "isError", "timestamp"}``

Each wire API (``openai-completions``, ``openai-responses``, ``anthropic-messages``) converts
these to its own request body and turns its SSE stream into :class:`TextDelta` /
:class:`ToolCallDelta` events followed by one :class:`AssistantTurn`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

import attrs
from zope.interface import Attribute, Interface

# stopReason values of pi-ai assistant messages.
STOP: Final = "stop"
TOOL_USE: Final = "toolUse"
LENGTH: Final = "length"
ERROR: Final = "error"
ABORTED: Final = "aborted"

# errorKind values of chat error events (ChatEventErrorKindSchema).
KIND_TIMEOUT: Final = "timeout"
KIND_RATE_LIMIT: Final = "rate_limit"
KIND_CONTEXT: Final = "context_length"
KIND_REFUSAL: Final = "refusal"
KIND_UNKNOWN: Final = "unknown"


@attrs.frozen
class ToolSpec:
    """A tool described to the model (JSON Schema parameters)."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@attrs.frozen
class ToolCall:
    id: str
    name: str
    arguments: Mapping[str, Any]
    raw_arguments: str = ""

    def block(self) -> dict[str, Any]:
        """The transcript content block (pi-ai ``toolCall``)."""
        return {"type": "toolCall", "id": self.id, "name": self.name,
                "arguments": dict(self.arguments)}


@attrs.frozen
class Usage:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write

    def to_wire(self) -> dict[str, Any]:
        return {"input": self.input, "output": self.output, "cacheRead": self.cache_read,
                "cacheWrite": self.cache_write, "totalTokens": self.total}


@attrs.frozen
class ModelRequest:
    """One model call: everything a wire API needs."""

    model: str
    system: str
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[ToolSpec] = ()
    max_tokens: int | None = None
    temperature: float | None = None


@attrs.frozen
class TextDelta:
    """Assistant text arrived (``text`` is the increment)."""

    text: str


@attrs.frozen
class ToolCallDelta:
    """A tool call started or its arguments grew (informational; complete calls arrive in
    :class:`AssistantTurn`)."""

    index: int
    id: str | None
    name: str | None
    arguments_delta: str


@attrs.frozen
class AssistantTurn:
    """The end of one model call."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    stop_reason: str
    usage: Usage
    response_id: str | None = None


StreamEvent = TextDelta | ToolCallDelta | AssistantTurn


class ProviderError(Exception):
    """A model call failed; the message names the provider and the HTTP status."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        model: str | None = None,
        status: int | None = None,
        kind: str = KIND_UNKNOWN,
        retry_after: float | None = None,
        failover: bool = False,
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status = status
        self.kind = kind
        self.retry_after = retry_after
        self.failover = failover
        self.body = body

    @property
    def message(self) -> str:
        return str(self)

    def detail(self) -> dict[str, Any]:
        """``errorDetail`` of a chat error event (bounded, already redacted)."""
        detail: dict[str, Any] = {"provider": self.provider}
        if self.model:
            detail["model"] = self.model
        if self.status is not None and 100 <= self.status <= 599:
            detail["httpStatus"] = self.status
        if self.kind != KIND_UNKNOWN:
            detail["failoverReason"] = self.kind
        if self.body:
            detail["providerErrorMessagePreview"] = self.body[:300]
        return detail


def classify_status(status: int) -> tuple[str, bool]:
    """``(errorKind, fails over)`` for an HTTP status of a provider."""
    if status == 429:
        return KIND_RATE_LIMIT, True
    if status in (401, 403):
        return KIND_UNKNOWN, True
    if status in (408, 504):
        return KIND_TIMEOUT, True
    if status >= 500:
        return KIND_UNKNOWN, True
    return KIND_UNKNOWN, False


class IModelStream(Interface):
    """One streamed model call: iterate its events, or cancel it."""

    def __aiter__() -> AsyncIterator[StreamEvent]:
        """The events; the last one is an :class:`AssistantTurn` (or the iteration raises)."""

    def cancel() -> None:
        """Abort the HTTP request (the upstream sees its connection closed)."""


class IWireApi(Interface):
    """A model wire API bound to one provider's settings."""

    provider_id = Attribute("The provider id (str).")
    api = Attribute("The wire API name, e.g. 'openai-completions'.")

    def stream(request: ModelRequest) -> IModelStream:  # noqa: N805
        """Start a streamed call."""
