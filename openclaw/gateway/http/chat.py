"""``POST /v1/chat/completions`` (``openai-http``), non-streaming and SSE.

Validation runs in upstream's order, each failure a ``400 invalid_request_error`` with
upstream's text: schema (unknown fields are dropped, not refused), token caps,
``response_format``, ``stop``, sampling ranges, agent and session (``model`` selects the agent;
``x-openclaw-agent-id`` overrides; the session key is ``x-openclaw-session-key`` verbatim
unless reserved, else ``agent:<id>:openai-user:<user>``, else a fresh
``agent:<id>:openai:<uuid>``), ``x-openclaw-model``, the prompt, tools and ``tool_choice``,
images, and finally ``Missing user message in `messages`.``.

The conversation becomes one agent message: system/developer texts join into the extra system
prompt; the last user/tool message is the current turn and the earlier ones are history
context (``User:``/``Assistant:``/``Tool:<id>`` lines). The run is a normal agent turn.

Streaming: the role chunk goes out before the run starts, then one chunk per assistant delta,
the caller's own function-tool calls (identity chunk, then argument fragments of <= 256
chars), the finish chunk, the usage chunk (``stream_options.include_usage``), ``[DONE]``. A
failed run sends ``data: {"error": ...}`` then ``[DONE]``. A client that disconnects cancels
the run (the provider request is closed).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.web.http import Request

from openclaw.agents.runtime import ClientToolResult
from openclaw.gateway.http.auth import HttpAuth, admit_model_request
from openclaw.gateway.http.common import (
    SSE_DONE,
    Exchange,
    dumps,
    dumps_text,
    header_trimmed,
    invalid_request_body,
    sse_data,
)
from openclaw.gateway.http.runs import (
    NO_RESPONSE,
    ConversationEntry,
    PendingCall,
    RequestRejected,
    RunOutcome,
    RunSpec,
    chat_usage,
    error_for,
    message_from_entries,
    render_tool_call,
)
from openclaw.gateway.http.schema import (
    Arr,
    Bool,
    Num,
    Obj,
    Str,
    Union,
    Unknown,
    nullish,
    opt,
)
from openclaw.providers.types import ToolSpec

if TYPE_CHECKING:
    from openclaw.gateway.http.api import HttpApi

PATH: Final = b"/v1/chat/completions"
MAX_SAFE_INTEGER: Final = 2**53 - 1
IMAGE_ONLY_USER_MESSAGE: Final = "User sent image(s) with no text."
MAX_IMAGE_PARTS: Final = 8
ARGUMENT_FRAGMENT: Final = 256

CHAT_SCHEMA: Final = Obj({
    "model": opt(Str()),
    "stream": nullish(Bool()),
    "stream_options": nullish(Obj({"include_usage": opt(Bool())})),
    "tools": opt(Arr(Unknown())),
    "tool_choice": Unknown(),
    "messages": opt(Arr(Unknown())),
    "user": opt(Str()),
    "max_tokens": nullish(Num(integer=True, positive=True)),
    "max_completion_tokens": nullish(Num(integer=True, positive=True)),
    "temperature": nullish(Num()),
    "top_p": nullish(Num()),
    "response_format": Unknown(),
    "frequency_penalty": nullish(Num()),
    "presence_penalty": nullish(Num()),
    "seed": nullish(Num()),
    "stop": nullish(Union([Str(), Arr(Str())])),
})


class InvalidInput(ValueError):
    pass


# --------------------------------------------------------------------------- parameters


def token_cap(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or \
            not float(value).is_integer() or value > MAX_SAFE_INTEGER:
        raise InvalidInput(f"{field} must be a positive safe integer")
    return int(value)


def response_format(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("response_format must be an object")
    if value.get("type") not in ("text", "json_object", "json_schema"):
        raise InvalidInput("response_format.type must be text, json_object, or json_schema")
    return value


def stop_sequences(value: Any) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InvalidInput("stop must be a string or array of strings")
    if len(items) > 4:
        raise InvalidInput("stop supports at most 4 sequences")
    for item in items:
        if not isinstance(item, str) or not item:
            raise InvalidInput("stop entries must be non-empty strings")
    return items or None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        value == value and value not in (float("inf"), float("-inf"))


def sampling_error(body: Mapping[str, Any]) -> str | None:
    """``validateOpenAiSamplingParams``."""
    checks = (("temperature", 0, 2, "`temperature` must be between 0 and 2."),
              ("top_p", 0, 1, "`top_p` must be between 0 and 1."),
              ("frequency_penalty", -2, 2, "`frequency_penalty` must be between -2.0 and 2.0."),
              ("presence_penalty", -2, 2, "`presence_penalty` must be between -2.0 and 2.0."))
    for name, low, high, message in checks:
        value = body.get(name)
        if value is None:
            continue
        if not _finite(value):
            return f"`{name}` must be a finite number."
        if value < low or value > high:
            return message
    seed = body.get("seed")
    if seed is not None:
        if not _finite(seed):
            return "`seed` must be a finite number."
        if not float(seed).is_integer():
            return "`seed` must be an integer."
    return None


# --------------------------------------------------------------------------- tools


@attrs.frozen
class ToolChoice:
    kind: str             # none | required | function
    name: str | None = None


def client_tools(raw: Any) -> list[ToolSpec]:
    """``extractClientToolsFromChatRequest``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidInput("tools must be an array")
    tools: list[ToolSpec] = []
    for tool in raw:
        if not isinstance(tool, dict):
            raise InvalidInput("each tool must be an object")
        if tool.get("type") != "function":
            raise InvalidInput("only function tools are supported")
        function = tool.get("function")
        if not isinstance(function, dict):
            raise InvalidInput("tool.function is required")
        name = function.get("name")
        name = name.strip() if isinstance(name, str) else ""
        if not name:
            raise InvalidInput("tool.function.name is required")
        description = function.get("description")
        parameters = function.get("parameters")
        tools.append(ToolSpec(
            name, description if isinstance(description, str) else "",
            parameters if isinstance(parameters, dict) else {"type": "object",
                                                             "properties": {}}))
    return tools


def chat_tool_choice(raw: Any) -> ToolChoice | None:
    """``resolveChatToolChoice``."""
    if raw is None or raw == "auto":
        return None
    if raw == "none":
        return ToolChoice("none")
    if raw == "required":
        return ToolChoice("required")
    if not isinstance(raw, dict):
        raise InvalidInput("tool_choice must be a string or object")
    kind = raw.get("type")
    if kind == "function":
        function = raw.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        name = name.strip() if isinstance(name, str) else ""
        if not name:
            raise InvalidInput("tool_choice.function.name is required")
        return ToolChoice("function", name)
    if not isinstance(kind, str):
        raise InvalidInput("unsupported tool_choice type")
    raise InvalidInput(f"tool_choice {kind} is not supported")


def apply_tool_choice(tools: list[ToolSpec], choice: ToolChoice | None
                      ) -> tuple[list[ToolSpec], str | None, ToolChoice | None]:
    """``applyToolChoice``: ``(tools, extra system prompt, constraint)``."""
    if choice is None:
        return tools, None, None
    if choice.kind == "none":
        return [], None, None
    selected = [t for t in tools if t.name == choice.name] if choice.kind == "function" \
        else tools
    if not selected:
        raise InvalidInput(f"tool_choice requested unknown tool: {choice.name}"
                           if choice.kind == "function"
                           else "tool_choice=required but no tools were provided")
    prompt = (f"You must call the {choice.name} tool before responding."
              if choice.kind == "function"
              else "You must call one of the available tools before responding.")
    return selected, prompt, choice


def constraint_satisfied(choice: ToolChoice | None, calls: tuple[PendingCall, ...]) -> bool:
    if choice is None:
        return True
    if not calls:
        return False
    return choice.kind == "required" or any(call.name == choice.name for call in calls)


def unsatisfied_message(choice: ToolChoice) -> str:
    if choice.kind == "function":
        return (f"tool_choice required a {choice.name} tool call, but the agent did not "
                "produce one")
    return "tool_choice=required was not satisfied by the agent response"


# --------------------------------------------------------------------------- the prompt


def text_content(content: Any) -> str | None:
    """``extractTextContent``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str | None] = []
        for part in content:
            if not isinstance(part, dict):
                parts.append(None)
                continue
            text = part.get("text")
            if part.get("type") in ("text", "input_text") and isinstance(text, str):
                parts.append(text)
            elif isinstance(part.get("input_text"), str):
                parts.append(part["input_text"])
            else:
                parts.append(None)
        text = "\n".join(p for p in parts if p)
        return text if text.strip() or all(p is not None for p in parts) else None
    return None


def _trimmed(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    import json

    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return ""


def assistant_tool_calls(value: Any) -> list[str]:
    calls: list[str] = []
    for raw in value if isinstance(value, list) else ():
        if not isinstance(raw, dict):
            continue
        call_id = _trimmed(raw.get("id"))
        function = raw.get("function")
        if not isinstance(function, dict):
            continue
        name = _trimmed(function.get("name"))
        if call_id and name:
            calls.append(render_tool_call(call_id, name, _arguments(function.get("arguments"))))
    return calls


@attrs.frozen
class ActiveTurn:
    index: int
    user_index: int
    image_urls: tuple[str, ...] | None      # None: an image part without a URL


def active_turn(messages: list[Any]) -> ActiveTurn:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        role = "tool" if role == "function" else role
        if role not in ("user", "tool"):
            continue
        urls: tuple[str, ...] | None = ()
        if role == "user" and isinstance(message.get("content"), list):
            found: list[str] = []
            for part in message["content"]:
                if not isinstance(part, dict) or part.get("type") != "image_url":
                    continue
                image = part.get("image_url")
                url = image if isinstance(image, str) else (
                    image.get("url") if isinstance(image, dict) else None)
                if not isinstance(url, str) or not url.strip():
                    urls = None
                    break
                found.append(url.strip())
            else:
                urls = tuple(found)
        return ActiveTurn(index, index if role == "user" else -1, urls)
    return ActiveTurn(-1, -1, ())


def build_prompt(messages: list[Any], turn: ActiveTurn) -> tuple[str, str | None]:
    """``buildAgentPrompt``: ``(message, extra system prompt)``."""
    has_image = bool(turn.image_urls)
    system: list[str] = []
    entries: list[ConversationEntry] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = _trimmed(message.get("role"))
        raw_content = message.get("content")
        content = "" if role == "function" and raw_content is None else text_content(raw_content)
        content = content.strip() if content is not None else None
        if not role:
            continue
        if role in ("system", "developer"):
            if content:
                system.append(content)
            continue
        normalized = "tool" if role == "function" else role
        if normalized not in ("user", "assistant", "tool"):
            continue
        calls = assistant_tool_calls(message.get("tool_calls")) if normalized == "assistant" \
            else []
        body = content or ""
        if normalized == "user" and not body and has_image and index == turn.user_index:
            body = IMAGE_ONLY_USER_MESSAGE
        body = "\n".join(part for part in (body, "\n".join(calls)) if part)
        name = _trimmed(message.get("name"))
        call_id = _trimmed(message.get("tool_call_id"))
        is_tool_result = normalized == "tool" and bool(name if role == "function" else call_id) \
            and content is not None
        if not body and not is_tool_result:
            continue
        sender = {"assistant": "Assistant", "user": "User"}.get(normalized) or (
            f"Tool:{call_id}" if call_id else f"Tool:{name}" if name else "Tool")
        entries.append(ConversationEntry(normalized, sender, body))
    return message_from_entries(entries), ("\n\n".join(system) if system else None)


def trailing_tool_results(messages: list[Any]) -> tuple[ClientToolResult, ...]:
    """The ``tool`` messages that end the conversation (the caller's answers to the tool
    calls of the previous turn), in order; none when the current turn is a user message."""
    found: list[ClientToolResult] = []
    for message in reversed(messages):
        if not isinstance(message, dict):
            continue
        role = _trimmed(message.get("role"))
        if role in ("system", "developer"):
            continue
        if role != "tool":
            break
        call_id = _trimmed(message.get("tool_call_id"))
        content = text_content(message.get("content"))
        if not call_id:
            return ()
        found.append(ClientToolResult(call_id, (content or "").strip()))
    return tuple(reversed(found))


def check_images(turn: ActiveTurn, allow_url: bool) -> int:
    """Validate the active turn's ``image_url`` parts; returns how many there are."""
    if turn.image_urls is None:
        raise InvalidInput("image_url part is missing a valid URL")
    urls = turn.image_urls
    if len(urls) > MAX_IMAGE_PARTS:
        raise InvalidInput(f"Too many image_url parts ({len(urls)}; limit {MAX_IMAGE_PARTS})")
    for url in urls:
        if url.lower().startswith("data:"):
            meta, _, data = url[5:].partition(",")
            if "base64" not in [p.strip().lower() for p in meta.split(";")]:
                raise InvalidInput("image_url data URI must be base64 encoded")
            if not data.strip():
                raise InvalidInput("image_url data URI is missing payload data")
        elif not allow_url:
            raise InvalidInput("image_url URLs are disabled")
    return len(urls)


# --------------------------------------------------------------------------- the endpoint


def content_chunk_frame(identity: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """``(head, tail)``: ``head + json(text) + tail`` is the SSE frame of a content delta."""
    marker = "\u0000delta\u0000"
    frame = sse_data({**identity, "choices": [
        {"index": 0, "delta": {"content": marker}, "finish_reason": None}]})
    quoted = dumps(marker)
    head, _, tail = frame.partition(quoted)
    return head, tail


class ChatCompletions:
    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def __call__(self, request: Request, path: bytes) -> bytes | int | None:
        if path != PATH or not self.api.endpoints()[0]:
            return None
        from openclaw.gateway.http.api import CHAT_BODY_BYTES

        return self.api.post_json(request, method="chat.send", max_bytes=CHAT_BODY_BYTES,
                                  handler=self.handle)

    async def handle(self, exchange: Exchange, auth: HttpAuth, body: Any) -> None:
        request = exchange.request
        admitted, model_header = admit_model_request(exchange, auth, CHAT_SCHEMA, body)
        if not admitted:
            return
        try:
            spec, stream, include_usage, constraint, model = self.prepare(request, body,
                                                                          model_header)
        except (InvalidInput, RequestRejected) as e:
            exchange.json(400, invalid_request_body(str(e)))
            return
        runner = self.api.runner
        if runner is None:
            exchange.json(503, {"error": {"message": "agents are not available",
                                          "type": "api_error"}})
            return
        created = int(time.time())
        identity = {"id": spec.run_id, "object": "chat.completion.chunk", "created": created,
                    "model": model}
        try:
            ticket = runner.start(spec)
        except RequestRejected as e:
            exchange.json(400, invalid_request_body(str(e)))
            return
        exchange.on_disconnect(lambda: ticket.cancel("disconnect"))
        if stream:
            # the role chunk goes out at once; the run's events are replayed from its start
            exchange.start_sse()
            exchange.write(sse_data({**identity, "choices": [
                {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}))
        if not stream:
            outcome = await ticket.outcome
            self.answer(exchange, outcome, spec.run_id, created, model, constraint)
            return
        streamed: list[str] = []
        # the constant part of every content chunk, rendered once
        head, tail = content_chunk_frame(identity)
        async for event in ticket.events():
            if exchange.gone:
                break
            if event.get("stream") != "assistant" or constraint is not None:
                continue
            delta = (event.get("data") or {}).get("delta")
            if isinstance(delta, str) and delta:
                streamed.append(delta)
                exchange.write_soon(head + dumps_text(delta) + tail)
        outcome = await ticket.outcome
        if exchange.gone:
            return
        self.finish_stream(exchange, identity, outcome, "".join(streamed), constraint,
                           include_usage)

    def prepare(self, request: Request, body: dict[str, Any], model_header: str | None
                ) -> tuple[RunSpec, bool, bool, ToolChoice | None, str]:
        stream = body.get("stream") is True
        options = body.get("stream_options")
        include_usage = stream and isinstance(options, dict) and \
            options.get("include_usage") is True
        model = body["model"] if isinstance(body.get("model"), str) else "openclaw"
        user = body.get("user") if isinstance(body.get("user"), str) else None
        max_completion = token_cap(body.get("max_completion_tokens"), "max_completion_tokens")
        legacy = token_cap(body.get("max_tokens"), "max_tokens")
        max_tokens = max_completion if max_completion is not None else legacy
        try:
            fmt = response_format(body.get("response_format"))
        except InvalidInput as e:
            raise InvalidInput(f"Invalid response_format: {e}") from None
        try:
            stop = stop_sequences(body.get("stop"))
        except InvalidInput as e:
            raise InvalidInput(f"Invalid stop: {e}") from None
        problem = sampling_error(body)
        if problem is not None:
            raise InvalidInput(problem)
        runner = self.api.runner
        if runner is None:
            raise InvalidInput("agents are not available")
        agent_id = runner.resolve_agent(
            model, header_trimmed(request, "x-openclaw-agent-id")
            or header_trimmed(request, "x-openclaw-agent"))
        session_key = runner.session_key(
            agent_id, header_trimmed(request, "x-openclaw-session-key"), user, "openai",
            str(uuid.uuid4()))
        override = runner.check_model_override(model_header, agent_id) if model_header \
            else None
        raw_messages = body.get("messages")
        messages: list[Any] = raw_messages if isinstance(raw_messages, list) else []
        turn = active_turn(messages)
        message, extra = build_prompt(messages, turn)
        try:
            tools, choice_prompt, constraint = apply_tool_choice(
                client_tools(body.get("tools")), chat_tool_choice(body.get("tool_choice")))
        except InvalidInput as e:
            raise InvalidInput(f"Invalid tools/tool_choice: {e}") from None
        try:
            images = check_images(turn, self._allow_image_urls())
        except InvalidInput:
            raise InvalidInput("Invalid image_url content in `messages`.") from None
        if not message and images == 0:
            raise InvalidInput("Missing user message in `messages`.")
        params: dict[str, Any] = {}
        for key, value in (("maxTokens", max_tokens), ("temperature", body.get("temperature")),
                           ("topP", body.get("top_p")), ("responseFormat", fmt),
                           ("frequencyPenalty", body.get("frequency_penalty")),
                           ("presencePenalty", body.get("presence_penalty")),
                           ("seed", body.get("seed")), ("stop", stop)):
            if value is not None:
                params[key] = value
        extra_prompt = "\n\n".join(p for p in (extra, choice_prompt) if p) or None
        channel = header_trimmed(request, "x-openclaw-message-channel")
        spec = RunSpec(
            message=message or IMAGE_ONLY_USER_MESSAGE, run_id=f"chatcmpl_{uuid.uuid4()}",
            agent_id=agent_id, session_key=session_key,
            channel=(channel or "webchat").lower(), extra_system_prompt=extra_prompt,
            model=override, client_tools=tuple(tools),
            tool_results=trailing_tool_results(messages), stream_params=params or None)
        return spec, stream, include_usage, constraint, model

    def _allow_image_urls(self) -> bool:
        return self.api.get_config().config.gateway.http.endpoints.chat_completions.images.allow_url

    # -- answers --------------------------------------------------------------------------

    def answer(self, exchange: Exchange, outcome: RunOutcome, run_id: str, created: int,
               model: str, constraint: ToolChoice | None) -> None:
        if outcome.failed:
            status, error = error_for(outcome)
            exchange.json(status, {"error": error})
            return
        usage = chat_usage(outcome.usage)
        if not constraint_satisfied(constraint, outcome.pending_tool_calls):
            assert constraint is not None
            exchange.json(502, {"error": {"message": unsatisfied_message(constraint),
                                          "type": "api_error"}})
            return
        base = {"id": run_id, "object": "chat.completion", "created": created, "model": model}
        if outcome.pending_tool_calls:
            exchange.json(200, {**base, "choices": [{"index": 0, "message": {
                "role": "assistant", "content": outcome.text,
                "tool_calls": [{"id": c.id, "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments}}
                               for c in outcome.pending_tool_calls]},
                "finish_reason": "tool_calls"}], "usage": usage})
            return
        exchange.json(200, {**base, "choices": [{"index": 0, "message": {
            "role": "assistant", "content": outcome.text or NO_RESPONSE},
            "finish_reason": outcome.finish_reason}], "usage": usage})

    def finish_stream(self, exchange: Exchange, identity: dict[str, Any], outcome: RunOutcome,
                      streamed: str, constraint: ToolChoice | None,
                      include_usage: bool) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse_data({**identity, "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish}]})

        if outcome.failed:
            _, error = error_for(outcome)
            exchange.write(sse_data({"error": error}) + SSE_DONE)
            exchange.finish()
            return
        if not constraint_satisfied(constraint, outcome.pending_tool_calls):
            assert constraint is not None
            exchange.write(sse_data({"error": {"message": unsatisfied_message(constraint),
                                               "type": "api_error"}}) + SSE_DONE)
            exchange.finish()
            return
        calls = outcome.pending_tool_calls
        final = outcome.text or ("" if calls else NO_RESPONSE)
        out: list[bytes] = []
        if not streamed:
            if final:
                out.append(chunk({"content": final}))
        elif final.startswith(streamed) and len(final) > len(streamed):
            out.append(chunk({"content": final[len(streamed):]}))
        for index, call in enumerate(calls):
            out.append(chunk({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                              "function": {"name": call.name,
                                                           "arguments": ""}}]}))
            start = 0
            while True:
                piece = call.arguments[start:start + ARGUMENT_FRAGMENT]
                out.append(chunk({"tool_calls": [{"index": index,
                                                  "function": {"arguments": piece}}]}))
                start += ARGUMENT_FRAGMENT
                if start >= len(call.arguments):
                    break
        out.append(chunk({}, "tool_calls" if calls else outcome.finish_reason))
        if include_usage:
            out.append(sse_data({**identity, "choices": [], "usage": chat_usage(outcome.usage)}))
        out.append(SSE_DONE)
        exchange.write(b"".join(out))
        exchange.finish()
