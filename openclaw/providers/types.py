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

# Wire APIs (``models.providers.<id>.api``) and request defaults. They live here, not in
# ``wire``/``http``, so the provider catalog can start without loading either.
OPENAI_COMPLETIONS: Final = "openai-completions"
OPENAI_RESPONSES: Final = "openai-responses"
ANTHROPIC_MESSAGES: Final = "anthropic-messages"
SUPPORTED_APIS: Final = (OPENAI_COMPLETIONS, OPENAI_RESPONSES, ANTHROPIC_MESSAGES)
DEFAULT_TIMEOUT_S: Final = 120.0
DEFAULT_RETRIES: Final = 2


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

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input + other.input, self.output + other.output,
                     self.cache_read + other.cache_read, self.cache_write + other.cache_write)


@attrs.frozen
class ModelRequest:
    """One model call: everything a wire API needs."""

    model: str
    system: str
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[ToolSpec] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    # sampling parameters of the caller (each wire API sends those it has)
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    response_format: Mapping[str, Any] | None = None


_SAMPLING_KEYS: Final = {
    "maxTokens": "max_tokens", "max_tokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p", "top_p": "top_p",
    "stop": "stop",
    "seed": "seed",
    "frequencyPenalty": "frequency_penalty", "frequency_penalty": "frequency_penalty",
    "presencePenalty": "presence_penalty", "presence_penalty": "presence_penalty",
    "responseFormat": "response_format", "response_format": "response_format",
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        value == value and value not in (float("inf"), float("-inf"))


def sampling_fields(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """:class:`ModelRequest` keyword arguments from a run's sampling parameters
    (``maxTokens``, ``temperature``, ``topP``, ``stop``, ``seed``, ``frequencyPenalty``,
    ``presencePenalty``, ``responseFormat``, or their snake_case names). Unknown keys and
    values of the wrong type are left out."""
    fields: dict[str, Any] = {}
    for key, value in (params or {}).items():
        name = _SAMPLING_KEYS.get(key)
        if name is None or value is None:
            continue
        if name in ("max_tokens", "seed"):
            if _number(value) and float(value).is_integer() and \
                    (name == "seed" or value > 0):
                fields[name] = int(value)
        elif name == "stop":
            items = [value] if isinstance(value, str) else value
            if isinstance(items, list | tuple) and items and \
                    all(isinstance(item, str) and item for item in items):
                fields[name] = tuple(items)
        elif name == "response_format":
            if isinstance(value, Mapping) and isinstance(value.get("type"), str):
                fields[name] = dict(value)
        elif _number(value):
            fields[name] = float(value)
    return fields


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
