"""The three wire APIs: ``openai-completions``, ``openai-responses``, ``anthropic-messages``.

Each :class:`WireApi` turns a :class:`~openclaw.providers.types.ModelRequest` into its HTTP
request and its SSE stream into :class:`TextDelta` events and one final
:class:`AssistantTurn` (text, complete tool calls, stop reason, usage).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from openclaw.providers.http import (
    PostStreamOptions,
    SseEvent,
    SseStream,
    chunk_json,
    json_or_none,
    post_stream,
)
from openclaw.providers.types import (
    ANTHROPIC_MESSAGES,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    KIND_CONTEXT,
    KIND_RATE_LIMIT,
    KIND_REFUSAL,
    LENGTH,
    OPENAI_COMPLETIONS,
    OPENAI_RESPONSES,
    STOP,
    TOOL_USE,
    AssistantTurn,
    IModelStream,
    IWireApi,
    ModelRequest,
    ProviderError,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from treq.client import HTTPClient

ANTHROPIC_VERSION: Final = "2023-06-01"
DEFAULT_ANTHROPIC_MAX_TOKENS: Final = 4096


@attrs.frozen
class Endpoint:
    """Where and how to reach one provider."""

    provider_id: str
    base_url: str
    api_key: str | None = None
    headers: Mapping[str, str] = attrs.Factory(dict)
    auth_header: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(block.get("text", "")) for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _tool_calls_of(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [block for block in content if isinstance(block, dict)
            and block.get("type") == "toolCall"]


def parse_arguments(raw: str) -> dict[str, Any]:
    """Tool-call arguments from the model (``{}`` when empty; kept raw when not JSON)."""
    text = raw.strip()
    if not text:
        return {}
    value = json_or_none(text)
    if isinstance(value, dict):
        return value
    return {"_raw": raw}


class _Accumulator:
    """Collects streamed text and indexed tool-call fragments."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.stop_reason = STOP
        self.usage = Usage()
        self.response_id: str | None = None

    def call(self, index: int) -> dict[str, Any]:
        call = self.calls.get(index)
        if call is None:
            call = self.calls[index] = {"id": None, "name": "", "arguments": []}
        return call

    def turn(self) -> AssistantTurn:
        calls = []
        for index in sorted(self.calls):
            raw = self.calls[index]
            arguments = "".join(raw["arguments"])
            calls.append(ToolCall(id=raw["id"] or f"call_{index}", name=raw["name"],
                                  arguments=parse_arguments(arguments), raw_arguments=arguments))
        stop = self.stop_reason
        if calls and stop == STOP:
            stop = TOOL_USE
        return AssistantTurn("".join(self.text), tuple(calls), stop, self.usage,
                             self.response_id)


Converter = Callable[[SseEvent, _Accumulator], list[StreamEvent]]


@implementer(IModelStream)
class ModelCall:
    """One streamed model call (an async iterator of events, cancellable at any time)."""

    def __init__(self, open_stream: Callable[[], Any], convert: Converter, provider: str,
                 model: str, prepare: Callable[[], None] | None = None) -> None:
        self._open = open_stream
        self._prepare = prepare
        self._convert = convert
        self._provider = provider
        self._model = model
        self._opening: Deferred[Any] | None = None
        self._sse: SseStream | None = None
        self.cancelled = False

    def prepare(self) -> None:
        """Build the request now (it is sent with the first iteration)."""
        prepare, self._prepare = self._prepare, None
        if prepare is not None:
            prepare()

    def cancel(self) -> None:
        self.cancelled = True
        if self._sse is not None:
            self._sse.cancel()
        elif self._opening is not None and not self._opening.called:
            self._opening.cancel()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._run()

    async def _run(self) -> AsyncIterator[StreamEvent]:
        if self.cancelled:
            raise CancelledError()
        self._opening = Deferred.fromCoroutine(self._open())
        sse, _response = await self._opening
        self._sse = sse
        if self.cancelled:
            sse.cancel()
            raise CancelledError()
        acc = _Accumulator()
        convert = self._convert
        async for event in sse:
            if event.data == "[DONE]":
                continue
            for out in convert(event, acc):
                yield out
        if self.cancelled:
            raise CancelledError()
        yield acc.turn()


class WireApi:
    """Base: request building per API; see the subclasses."""

    api = ""

    def __init__(self, endpoint: Endpoint, client: HTTPClient, clock: IReactorTime) -> None:
        self.endpoint = endpoint
        self.provider_id = endpoint.provider_id
        self.client = client
        self.clock = clock

    def url(self) -> str:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        headers = dict(self.endpoint.headers)
        key = self.endpoint.api_key
        if key and self.endpoint.auth_header:
            headers.setdefault("Authorization", f"Bearer {key}")
        return headers

    def body(self, request: ModelRequest) -> dict[str, Any]:
        raise NotImplementedError

    def convert(self, event: SseEvent, acc: _Accumulator) -> list[StreamEvent]:
        raise NotImplementedError

    def stream(self, request: ModelRequest) -> ModelCall:
        call: ModelCall
        prepared: list[PostStreamOptions] = []

        def prepare() -> None:
            options = PostStreamOptions(
                provider=self.provider_id, model=request.model, url=self.url(),
                headers=self.headers(), body=self.body(request),
                timeout=self.endpoint.timeout_s, retries=self.endpoint.retries)
            options.encode()
            prepared.append(options)

        def open_stream() -> Any:
            call.prepare()
            return post_stream(self.client, self.clock, prepared[0], lambda: call.cancelled)

        call = ModelCall(open_stream, self.convert, self.provider_id, request.model, prepare)
        return call

    def _error(self, message: str, kind: str = "unknown", *, status: int | None = None
               ) -> ProviderError:
        return ProviderError(self.provider_id, f"{self.provider_id} ({self.api}): {message}",
                             kind=kind, status=status, failover=kind == KIND_RATE_LIMIT)


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


# --------------------------------------------------------------------------- openai-completions


@implementer(IWireApi)
class OpenAICompletions(WireApi):
    """Chat Completions (OpenAI, Ollama's /v1, llama.cpp, llama-cpp-python, vLLM, LM Studio)."""

    api = OPENAI_COMPLETIONS

    def url(self) -> str:
        return _join(self.endpoint.base_url, "/chat/completions")

    def body(self, request: ModelRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        for message in request.messages:
            messages.extend(_to_openai_messages(message))
        body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": True,
                                "stream_options": {"include_usage": True}}
        if request.tools:
            body["tools"] = [
                {"type": "function", "function": {"name": tool.name,
                                                  "description": tool.description,
                                                  "parameters": dict(tool.parameters)}}
                for tool in request.tools
            ]
            body["tool_choice"] = "auto"
        if request.max_tokens:
            body["max_tokens"] = int(request.max_tokens)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop"] = list(request.stop)
        if request.seed is not None:
            body["seed"] = request.seed
        if request.frequency_penalty is not None:
            body["frequency_penalty"] = request.frequency_penalty
        if request.presence_penalty is not None:
            body["presence_penalty"] = request.presence_penalty
        if request.response_format is not None:
            body["response_format"] = dict(request.response_format)
        return body

    def convert(self, event: SseEvent, acc: _Accumulator) -> list[StreamEvent]:
        chunk = chunk_json(event.data)
        if not isinstance(chunk, dict):
            return []
        error = chunk.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise self._error(f"stream error: {message}")
        if acc.response_id is None and isinstance(chunk.get("id"), str):
            acc.response_id = chunk["id"]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details") or {}
            cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
            acc.usage = Usage(input=max(0, int(usage.get("prompt_tokens") or 0) - cached),
                              output=int(usage.get("completion_tokens") or 0),
                              cache_read=cached)
        out: list[StreamEvent] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if isinstance(text, str) and text:
                acc.text.append(text)
                out.append(TextDelta(text))
            for fragment in delta.get("tool_calls") or ():
                if not isinstance(fragment, dict):
                    continue
                index = int(fragment.get("index") or 0)
                call = acc.call(index)
                if fragment.get("id"):
                    call["id"] = fragment["id"]
                function = fragment.get("function") or {}
                if function.get("name"):
                    call["name"] += function["name"]
                arguments = function.get("arguments")
                if isinstance(arguments, str) and arguments:
                    call["arguments"].append(arguments)
                out.append(ToolCallDelta(index, fragment.get("id"), function.get("name"),
                                         arguments if isinstance(arguments, str) else ""))
            finish = choice.get("finish_reason")
            if finish:
                acc.stop_reason = _OPENAI_STOP.get(finish, STOP)
                if finish == "content_filter":
                    raise self._error("the model refused (content_filter)", KIND_REFUSAL)
        return out


_OPENAI_STOP: Final = {"stop": STOP, "tool_calls": TOOL_USE, "function_call": TOOL_USE,
                       "length": LENGTH}


def _to_openai_messages(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    role = message.get("role")
    if role == "user":
        return [{"role": "user", "content": _text_of(message.get("content"))}]
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant",
                               # never null: some servers (llama-cpp-python) reject it
                               "content": _text_of(message.get("content"))}
        calls = _tool_calls_of(message)
        if calls:
            out["tool_calls"] = [
                {"id": call.get("id"), "type": "function",
                 "function": {"name": call.get("name"),
                              "arguments": json.dumps(call.get("arguments") or {},
                                                      ensure_ascii=False)}}
                for call in calls
            ]
        return [out]
    if role == "toolResult":
        return [{"role": "tool", "tool_call_id": message.get("toolCallId"),
                 "content": _text_of(message.get("content"))}]
    return []


# --------------------------------------------------------------------------- openai-responses


@implementer(IWireApi)
class OpenAIResponses(WireApi):
    """The OpenAI Responses API (``POST /responses``, typed SSE events)."""

    api = OPENAI_RESPONSES

    def url(self) -> str:
        return _join(self.endpoint.base_url, "/responses")

    def body(self, request: ModelRequest) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        for message in request.messages:
            items.extend(_to_responses_items(message))
        body: dict[str, Any] = {"model": request.model, "input": items, "stream": True,
                                "store": False}
        if request.system:
            body["instructions"] = request.system
        if request.tools:
            body["tools"] = [{"type": "function", "name": tool.name,
                              "description": tool.description,
                              "parameters": dict(tool.parameters)} for tool in request.tools]
        if request.max_tokens:
            body["max_output_tokens"] = int(request.max_tokens)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        text_format = _responses_text_format(request.response_format)
        if text_format is not None:
            body["text"] = {"format": text_format}
        return body

    def convert(self, event: SseEvent, acc: _Accumulator) -> list[StreamEvent]:
        data = chunk_json(event.data)
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event
        if kind == "response.output_text.delta":
            text = data.get("delta")
            if isinstance(text, str) and text:
                acc.text.append(text)
                return [TextDelta(text)]
            return []
        if kind == "response.output_item.added":
            item = data.get("item") or {}
            if item.get("type") == "function_call":
                index = int(data.get("output_index") or 0)
                call = acc.call(index)
                call["id"] = item.get("call_id") or item.get("id")
                call["name"] = item.get("name") or ""
                return [ToolCallDelta(index, call["id"], call["name"], "")]
            return []
        if kind == "response.function_call_arguments.delta":
            index = int(data.get("output_index") or 0)
            delta = data.get("delta") or ""
            acc.call(index)["arguments"].append(delta)
            return [ToolCallDelta(index, None, None, delta)]
        if kind == "response.output_item.done":
            item = data.get("item") or {}
            if item.get("type") == "function_call":
                index = int(data.get("output_index") or 0)
                call = acc.call(index)
                call["id"] = item.get("call_id") or call["id"]
                call["name"] = item.get("name") or call["name"]
                if isinstance(item.get("arguments"), str):
                    call["arguments"] = [item["arguments"]]
            return []
        if kind in ("response.completed", "response.incomplete"):
            response = data.get("response") or {}
            acc.response_id = response.get("id") or acc.response_id
            usage = response.get("usage") or {}
            if isinstance(usage, dict):
                details = usage.get("input_tokens_details") or {}
                cached = int(details.get("cached_tokens") or 0) if isinstance(details,
                                                                             dict) else 0
                acc.usage = Usage(input=max(0, int(usage.get("input_tokens") or 0) - cached),
                                  output=int(usage.get("output_tokens") or 0),
                                  cache_read=cached)
            if kind == "response.incomplete":
                acc.stop_reason = LENGTH
            return []
        if kind in ("response.failed", "error"):
            error = data.get("error") or (data.get("response") or {}).get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            error_kind = KIND_CONTEXT if code == "context_length_exceeded" else (
                KIND_RATE_LIMIT if code == "rate_limit_exceeded" else "unknown")
            raise self._error(f"stream error: {message or 'response failed'}", error_kind)
        return []


def _responses_text_format(fmt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A Chat Completions ``response_format`` as a Responses ``text.format``."""
    if not fmt or fmt.get("type") == "text":
        return None
    if fmt.get("type") == "json_schema":
        schema = fmt.get("json_schema")
        return {"type": "json_schema", **(dict(schema) if isinstance(schema, Mapping) else {})}
    return {"type": fmt.get("type")}


def _to_responses_items(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    role = message.get("role")
    if role == "user":
        return [{"role": "user", "content": [{"type": "input_text",
                                              "text": _text_of(message.get("content"))}]}]
    if role == "assistant":
        items: list[dict[str, Any]] = []
        text = _text_of(message.get("content"))
        if text:
            items.append({"role": "assistant",
                          "content": [{"type": "output_text", "text": text}]})
        for call in _tool_calls_of(message):
            items.append({"type": "function_call", "call_id": call.get("id"),
                          "name": call.get("name"),
                          "arguments": json.dumps(call.get("arguments") or {},
                                                  ensure_ascii=False)})
        return items
    if role == "toolResult":
        return [{"type": "function_call_output", "call_id": message.get("toolCallId"),
                 "output": _text_of(message.get("content"))}]
    return []


# --------------------------------------------------------------------------- anthropic-messages


@implementer(IWireApi)
class AnthropicMessages(WireApi):
    """The Anthropic Messages API (``POST /v1/messages``, typed SSE events)."""

    api = ANTHROPIC_MESSAGES

    def url(self) -> str:
        base = self.endpoint.base_url.rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def headers(self) -> dict[str, str]:
        headers = dict(self.endpoint.headers)
        if self.endpoint.api_key:
            headers.setdefault("x-api-key", self.endpoint.api_key)
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        return headers

    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": int(request.max_tokens or DEFAULT_ANTHROPIC_MAX_TOKENS),
            "messages": _to_anthropic_messages(request.messages),
            "stream": True,
        }
        if request.system:
            body["system"] = request.system
        if request.tools:
            body["tools"] = [{"name": tool.name, "description": tool.description,
                              "input_schema": dict(tool.parameters)} for tool in request.tools]
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        return body

    def convert(self, event: SseEvent, acc: _Accumulator) -> list[StreamEvent]:
        data = chunk_json(event.data)
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            index = int(data.get("index") or 0)
            if delta.get("type") == "text_delta":
                text = delta.get("text") or ""
                if text:
                    acc.text.append(text)
                    return [TextDelta(text)]
                return []
            if delta.get("type") == "input_json_delta":
                partial = delta.get("partial_json") or ""
                acc.call(index)["arguments"].append(partial)
                return [ToolCallDelta(index, None, None, partial)]
            return []
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            index = int(data.get("index") or 0)
            if block.get("type") == "tool_use":
                call = acc.call(index)
                call["id"] = block.get("id")
                call["name"] = block.get("name") or ""
                initial = block.get("input")
                if isinstance(initial, dict) and initial:
                    call["arguments"].append(json.dumps(initial))
                return [ToolCallDelta(index, call["id"], call["name"], "")]
            if block.get("type") == "text" and block.get("text"):
                acc.text.append(block["text"])
                return [TextDelta(block["text"])]
            return []
        if kind == "message_start":
            message = data.get("message") or {}
            acc.response_id = message.get("id")
            usage = message.get("usage") or {}
            acc.usage = Usage(input=int(usage.get("input_tokens") or 0),
                              output=int(usage.get("output_tokens") or 0),
                              cache_read=int(usage.get("cache_read_input_tokens") or 0),
                              cache_write=int(usage.get("cache_creation_input_tokens") or 0))
            return []
        if kind == "message_delta":
            delta = data.get("delta") or {}
            stop = delta.get("stop_reason")
            if stop:
                acc.stop_reason = _ANTHROPIC_STOP.get(stop, STOP)
                if stop == "refusal":
                    raise self._error("the model refused", KIND_REFUSAL)
            usage = data.get("usage") or {}
            if usage.get("output_tokens") is not None:
                acc.usage = attrs.evolve(acc.usage, output=int(usage["output_tokens"]))
            return []
        if kind == "error":
            error = data.get("error") or {}
            error_type = error.get("type") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else str(error)
            error_kind = KIND_RATE_LIMIT if error_type in ("rate_limit_error",
                                                           "overloaded_error") else "unknown"
            raise self._error(f"stream error: {error_type or ''} {message or ''}".strip(),
                              error_kind)
        return []


_ANTHROPIC_STOP: Final = {"end_turn": STOP, "stop_sequence": STOP, "tool_use": TOOL_USE,
                          "max_tokens": LENGTH}


def _to_anthropic_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        role = message.get("role")
        if role == "user":
            text = _text_of(message.get("content"))
            add("user", [{"type": "text", "text": text or " "}])
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            text = _text_of(message.get("content"))
            if text:
                blocks.append({"type": "text", "text": text})
            for call in _tool_calls_of(message):
                blocks.append({"type": "tool_use", "id": call.get("id"),
                               "name": call.get("name"), "input": call.get("arguments") or {}})
            add("assistant", blocks)
        elif role == "toolResult":
            add("user", [{"type": "tool_result", "tool_use_id": message.get("toolCallId"),
                          "content": _text_of(message.get("content")),
                          "is_error": bool(message.get("isError"))}])
    return out


WIRE_APIS: Final[dict[str, type[WireApi]]] = {
    OPENAI_COMPLETIONS: OpenAICompletions,
    OPENAI_RESPONSES: OpenAIResponses,
    ANTHROPIC_MESSAGES: AnthropicMessages,
}
