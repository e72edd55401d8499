"""``POST /v1/responses`` (OpenResponses, ``openresponses-http``).

The request schema is strict (an unknown top-level field is a 400). ``input`` is a string or
a list of items (``message``, ``function_call``, ``function_call_output``; ``reasoning`` and
``item_reference`` are accepted and ignored); system/developer messages and ``instructions``
join the system prompt, the latest user message or function-call output is the current turn.

``previous_response_id`` reuses the session of an earlier response when the caller, the agent
and ``x-openclaw-session-key`` all match (in memory: 30 minutes, 500 entries, lost on
restart); a miss silently uses the normal session key (``openresponses-user:<user>`` or a
fresh ``openresponses:<uuid>``).

Streaming sends named events: ``response.created``, ``response.in_progress``,
``response.output_item.added``, ``response.content_part.added``,
``response.output_text.delta``..., ``response.output_text.done``,
``response.content_part.done``, ``response.output_item.done``, one pair of item events per
client tool call, then ``response.completed`` (or ``response.incomplete``), ``[DONE]``; a
failure is exactly one ``response.failed`` then ``[DONE]``.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.web.http import Request

from openclaw.agents.runtime import ClientToolResult
from openclaw.gateway.http.auth import HttpAuth, admit_model_request
from openclaw.gateway.http.chat import (
    IMAGE_ONLY_USER_MESSAGE,
    InvalidInput,
    ToolChoice,
    apply_tool_choice,
    constraint_satisfied,
    unsatisfied_message,
)
from openclaw.gateway.http.common import (
    SSE_DONE,
    Exchange,
    dumps,
    dumps_text,
    header_trimmed,
    invalid_request_body,
    sse_event,
)
from openclaw.gateway.http.runs import (
    NO_RESPONSE,
    ConversationEntry,
    RequestRejected,
    RunOutcome,
    RunSpec,
    error_for,
    message_from_entries,
    render_tool_call,
    responses_usage,
)
from openclaw.gateway.http.schema import (
    Arr,
    Bool,
    Enum,
    Literal,
    Num,
    Obj,
    Record,
    Str,
    Tagged,
    Union,
    Unknown,
    opt,
)
from openclaw.providers.types import ToolSpec

if TYPE_CHECKING:
    from openclaw.gateway.http.api import HttpApi

PATH: Final = b"/v1/responses"
FILE_ONLY_USER_MESSAGE: Final = "User sent file(s) with no text."
SESSION_TTL_S: Final = 30 * 60.0
MAX_SESSION_ENTRIES: Final = 500
DEFAULT_MAX_URL_PARTS: Final = 8

_IMAGE_MIMES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
                "image/heif")
_STATUS = Enum(("in_progress", "completed", "incomplete"))
_PART = Tagged("type", {
    "input_text": Obj({"type": Literal("input_text"), "text": Str()}, strict=True),
    "output_text": Obj({"type": Literal("output_text"), "text": Str()}, strict=True),
    "input_image": Obj({"type": Literal("input_image"), "source": Tagged("type", {
        "url": Obj({"type": Literal("url"), "url": Str(url=True)}),
        "base64": Obj({"type": Literal("base64"), "media_type": Enum(_IMAGE_MIMES),
                       "data": Str(min_length=1)})})}, strict=True),
    "input_file": Obj({"type": Literal("input_file"), "source": Tagged("type", {
        "url": Obj({"type": Literal("url"), "url": Str(url=True)}),
        "base64": Obj({"type": Literal("base64"), "media_type": Str(min_length=1),
                       "data": Str(min_length=1), "filename": opt(Str())})})}, strict=True),
})
_ITEM = Tagged("type", {
    "message": Obj({"type": Literal("message"), "id": opt(Str()),
                    "role": Enum(("system", "developer", "user", "assistant")),
                    "content": Union([Str(), Arr(_PART)]),
                    "phase": opt(Enum(("commentary", "final_answer"))),
                    "status": opt(_STATUS)}, strict=True),
    "function_call": Obj({"type": Literal("function_call"), "id": opt(Str()),
                          "call_id": opt(Str()), "name": Str(), "arguments": Str(),
                          "status": opt(_STATUS)}, strict=True),
    "function_call_output": Obj({"type": Literal("function_call_output"), "call_id": Str(),
                                 "output": Str()}, strict=True),
    "reasoning": Obj({"type": Literal("reasoning"), "content": opt(Str()),
                      "encrypted_content": opt(Str()), "summary": opt(Str())}, strict=True),
    "item_reference": Obj({"type": Literal("item_reference"), "id": Str()}, strict=True),
})
RESPONSES_SCHEMA: Final = Obj({
    "model": Str(),
    "input": Union([Str(), Arr(_ITEM)]),
    "instructions": opt(Str()),
    "tools": opt(Arr(Obj({"type": Literal("function"), "name": Str(min_length=1),
                          "description": opt(Str()), "parameters": opt(Record(Unknown())),
                          "strict": opt(Bool())}, strict=True))),
    "tool_choice": opt(Union([
        Literal("auto"), Literal("none"), Literal("required"),
        Obj({"type": Literal("function"), "name": Str(min_length=1)}, strict=True),
        Obj({"type": Literal("function"), "function": Obj({"name": Str(min_length=1)})},
            strict=True)])),
    "text": opt(Obj({"format": Obj({"type": Literal("text")}, strict=True)}, strict=True)),
    "stream": opt(Bool()),
    "max_output_tokens": opt(Num(integer=True, positive=True)),
    "max_tool_calls": opt(Num(integer=True, positive=True)),
    "user": opt(Str()),
    "temperature": opt(Num(minimum=0, maximum=2)),
    "top_p": opt(Num(minimum=0, maximum=1)),
    "metadata": opt(Record(Str())),
    "store": opt(Bool()),
    "previous_response_id": opt(Str()),
    "reasoning": opt(Obj({"effort": opt(Enum(("low", "medium", "high"))),
                          "summary": opt(Enum(("auto", "concise", "detailed")))})),
    "truncation": opt(Enum(("auto", "disabled"))),
}, strict=True)


# --------------------------------------------------------------------------- continuity


@attrs.frozen
class SessionScope:
    subject: str
    agent_id: str
    requested_key: str | None


class ResponseSessions:
    """``responseId -> session key``, bounded by age and count, scoped to the caller."""

    def __init__(self, now: Any) -> None:
        self._now = now
        self._entries: OrderedDict[str, tuple[float, SessionScope, str]] = OrderedDict()

    def remember(self, response_id: str, session_key: str, scope: SessionScope) -> None:
        now = self._now()
        self._entries.pop(response_id, None)
        self._entries[response_id] = (now, scope, session_key)
        while self._entries:
            at = next(iter(self._entries.values()))[0]
            if now - at <= SESSION_TTL_S and len(self._entries) <= MAX_SESSION_ENTRIES:
                break
            self._entries.popitem(last=False)

    def lookup(self, response_id: str | None, scope: SessionScope) -> str | None:
        if not response_id:
            return None
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        at, stored, key = entry
        if self._now() - at > SESSION_TTL_S:
            del self._entries[response_id]
            return None
        return key if stored == scope else None

    def __len__(self) -> int:
        return len(self._entries)


# --------------------------------------------------------------------------- the prompt


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content
                     if part.get("type") in ("input_text", "output_text") and part.get("text"))


def _placeholder(content: Any) -> str:
    if isinstance(content, str):
        return ""
    kinds = {part.get("type") for part in content}
    if "input_image" in kinds:
        return IMAGE_ONLY_USER_MESSAGE
    if "input_file" in kinds:
        return FILE_ONLY_USER_MESSAGE
    return ""


def build_prompt(items: Any) -> tuple[str, str | None, Any]:
    """``buildAgentPrompt``: ``(message, extra system prompt, active user item)``."""
    if isinstance(items, str):
        return items, None, None
    active: Any = None
    for candidate in reversed(items):
        if candidate.get("type") == "function_call_output":
            break
        if candidate.get("type") == "message" and candidate.get("role") == "user":
            active = candidate
            break
    system: list[str] = []
    entries: list[ConversationEntry] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            body: str = _text_of(item["content"]).strip() or (
                _placeholder(item["content"]) if item is active else "")
            if not body:
                continue
            if item["role"] in ("system", "developer"):
                system.append(body)
                continue
            role = "assistant" if item["role"] == "assistant" else "user"
            entries.append(ConversationEntry(role, "Assistant" if role == "assistant"
                                             else "User", body))
        elif kind == "function_call":
            entries.append(ConversationEntry("assistant", "Assistant", render_tool_call(
                item.get("call_id") or item.get("id") or "", item["name"], item["arguments"])))
        elif kind == "function_call_output":
            entries.append(ConversationEntry("tool", f"Tool:{item['call_id']}", item["output"]))
    return message_from_entries(entries), ("\n\n".join(system) if system else None), active


def trailing_tool_outputs(items: Any) -> tuple[ClientToolResult, ...]:
    """The ``function_call_output`` items that end the input (the caller's answers to the
    previous response's function calls), in order."""
    if isinstance(items, str):
        return ()
    found: list[ClientToolResult] = []
    for item in reversed(items):
        kind = item.get("type")
        if kind in ("reasoning", "item_reference") or (
                kind == "message" and item.get("role") in ("system", "developer")):
            continue
        if kind != "function_call_output":
            break
        found.append(ClientToolResult(item["call_id"], item["output"]))
    return tuple(reversed(found))


def responses_tool_choice(raw: Any) -> ToolChoice | None:
    if not raw or raw == "auto":
        return None
    if raw == "none":
        return ToolChoice("none")
    if raw == "required":
        return ToolChoice("required")
    if isinstance(raw, dict) and raw.get("type") == "function":
        name = raw["name"] if "name" in raw else raw["function"]["name"]
        name = name.strip()
        if not name:
            raise InvalidInput("tool_choice.name is required")
        return ToolChoice("function", name)
    return None


def message_item(item_id: str, text: str, status: str, phase: str | None = None
                 ) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "message", "id": item_id, "role": "assistant",
                            "content": [{"type": "output_text", "text": text}]}
    if phase:
        item["phase"] = phase
    item["status"] = status
    return item


def function_call_item(call_id: str, name: str, arguments: str, status: str | None = None
                       ) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "function_call", "id": f"call_{uuid.uuid4()}",
                            "call_id": call_id, "name": name, "arguments": arguments}
    if status is not None:
        item["status"] = status
    return item


# --------------------------------------------------------------------------- the endpoint


@attrs.frozen
class Prepared:
    spec: RunSpec
    stream: bool
    constraint: ToolChoice | None
    model: str
    scope: SessionScope


class Responses:
    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self.sessions = ResponseSessions(api.clock.seconds)

    def __call__(self, request: Request, path: bytes) -> bytes | int | None:
        if path != PATH or not self.api.endpoints()[1]:
            return None
        from openclaw.gateway.http.api import RESPONSES_BODY_BYTES

        return self.api.post_json(request, method="chat.send", max_bytes=RESPONSES_BODY_BYTES,
                                  handler=self.handle)

    async def handle(self, exchange: Exchange, auth: HttpAuth, body: Any) -> None:
        request = exchange.request
        admitted, model_header = admit_model_request(exchange, auth, RESPONSES_SCHEMA, body)
        if not admitted:
            return
        runner = self.api.runner
        if runner is None:
            exchange.json(503, {"error": {"message": "agents are not available",
                                          "type": "api_error"}})
            return
        try:
            prepared = self.prepare(request, auth, body, model_header)
        except (InvalidInput, RequestRejected) as e:
            exchange.json(400, invalid_request_body(str(e)))
            return
        spec = prepared.spec
        try:
            ticket = runner.start(spec)
        except RequestRejected as e:
            exchange.json(400, invalid_request_body(str(e)))
            return
        exchange.on_disconnect(lambda: ticket.cancel("disconnect"))
        created = int(time.time())
        item_id = f"msg_{uuid.uuid4()}"

        def resource(status: str, output: list[Any], usage: Any = None,
                     error: Any = None) -> dict[str, Any]:
            out: dict[str, Any] = {"id": spec.run_id, "object": "response",
                                   "created_at": created, "status": status,
                                   "model": prepared.model, "output": output,
                                   "usage": usage or responses_usage(None)}
            if error is not None:
                out["error"] = error
            if status == "incomplete":
                out["incomplete_details"] = {"reason": "max_output_tokens"}
            return out

        def remember() -> None:
            self.sessions.remember(spec.run_id, spec.session_key, prepared.scope)

        if not prepared.stream:
            outcome = await ticket.outcome
            remember()
            exchange_answer(exchange, outcome, prepared, item_id, resource)
            return

        exchange.start_sse()
        initial = resource("in_progress", [])
        exchange.write(
            sse_event("response.created", {"type": "response.created", "response": initial})
            + sse_event("response.in_progress", {"type": "response.in_progress",
                                                 "response": initial})
            + sse_event("response.output_item.added", {
                "type": "response.output_item.added", "output_index": 0,
                "item": {**message_item(item_id, "", "in_progress"), "content": []}})
            + sse_event("response.content_part.added", {
                "type": "response.content_part.added", "item_id": item_id, "output_index": 0,
                "content_index": 0, "part": {"type": "output_text", "text": ""}}))
        streamed: list[str] = []
        marker = "\u0000delta\u0000"
        delta_head, _, delta_tail = sse_event("response.output_text.delta", {
            "type": "response.output_text.delta", "item_id": item_id, "output_index": 0,
            "content_index": 0, "delta": marker}).partition(dumps(marker))
        async for event in ticket.events():
            if exchange.gone:
                break
            if event.get("stream") != "assistant" or prepared.constraint is not None:
                continue
            delta = (event.get("data") or {}).get("delta")
            if isinstance(delta, str) and delta:
                streamed.append(delta)
                exchange.write_soon(delta_head + dumps_text(delta) + delta_tail)
        outcome = await ticket.outcome
        if exchange.gone:
            return
        remember()
        usage = responses_usage(outcome.usage)

        def failed(code: str, message: str) -> None:
            exchange.write(sse_event("response.failed", {
                "type": "response.failed",
                "response": resource("failed", [], usage, {"code": code, "message": message})})
                + SSE_DONE)
            exchange.finish()

        if outcome.failed:
            _, error = error_for(outcome)
            failed(error["type"], error["message"])
            return
        if not constraint_satisfied(prepared.constraint, outcome.pending_tool_calls):
            assert prepared.constraint is not None
            failed("api_error", unsatisfied_message(prepared.constraint))
            return
        calls = outcome.pending_tool_calls
        status = "incomplete" if outcome.stop_reason == "length" else "completed"
        text_so_far = "".join(streamed)
        final = outcome.text or ("" if calls else NO_RESPONSE)
        if text_so_far and not final.startswith(text_so_far):
            final = text_so_far
        chunks: list[bytes] = []
        rest = final[len(text_so_far):]
        if rest:
            chunks.append(sse_event("response.output_text.delta", {
                "type": "response.output_text.delta", "item_id": item_id, "output_index": 0,
                "content_index": 0, "delta": rest}))
        chunks.append(sse_event("response.output_text.done", {
            "type": "response.output_text.done", "item_id": item_id, "output_index": 0,
            "content_index": 0, "text": final}))
        chunks.append(sse_event("response.content_part.done", {
            "type": "response.content_part.done", "item_id": item_id, "output_index": 0,
            "content_index": 0, "part": {"type": "output_text", "text": final}}))
        completed = message_item(item_id, final, "incomplete" if status == "incomplete"
                                 else "completed",
                                 "commentary" if calls else "final_answer")
        chunks.append(sse_event("response.output_item.done", {
            "type": "response.output_item.done", "output_index": 0, "item": completed}))
        output: list[Any] = [completed]
        for call in calls:
            item = function_call_item(call.id, call.name, call.arguments)
            index = len(output)
            chunks.append(sse_event("response.output_item.added", {
                "type": "response.output_item.added", "output_index": index, "item": item}))
            done_item = {**item, "status": "completed"}
            chunks.append(sse_event("response.output_item.done", {
                "type": "response.output_item.done", "output_index": index,
                "item": done_item}))
            output.append(done_item)
        kind = f"response.{status}"
        chunks.append(sse_event(kind, {"type": kind,
                                       "response": resource(status, output, usage)}))
        chunks.append(SSE_DONE)
        exchange.write(b"".join(chunks))
        exchange.finish()

    def prepare(self, request: Request, auth: HttpAuth, body: dict[str, Any],
                model_header: str | None) -> Prepared:
        runner = self.api.runner
        assert runner is not None
        model: str = body["model"]
        agent_id = runner.resolve_agent(
            model, header_trimmed(request, "x-openclaw-agent-id")
            or header_trimmed(request, "x-openclaw-agent"))
        override = runner.check_model_override(model_header, agent_id) if model_header \
            else None
        message, extra, _active = build_prompt(body["input"])
        self._check_url_parts(body["input"])
        tools = [ToolSpec(t["name"], t.get("description") or "",
                          t.get("parameters") or {"type": "object", "properties": {}})
                 for t in body.get("tools") or ()]
        try:
            tools, choice_prompt, constraint = apply_tool_choice(
                tools, responses_tool_choice(body.get("tool_choice")))
        except InvalidInput:
            raise InvalidInput("invalid tool configuration") from None
        requested = header_trimmed(request, "x-openclaw-session-key")
        normal_key = runner.session_key(agent_id, requested, body.get("user"), "openresponses",
                                        str(uuid.uuid4()))
        scope = SessionScope(auth.subject(self.api.auth.mode), agent_id, requested)
        session_key = self.sessions.lookup(body.get("previous_response_id"), scope) \
            or normal_key
        extra_prompt = "\n\n".join(p for p in (body.get("instructions"), extra, choice_prompt)
                                   if p) or None
        if not message:
            raise InvalidInput("Missing user message in `input`.")
        params = {key: value for key, value in (
            ("maxTokens", body.get("max_output_tokens")), ("temperature", body.get("temperature")),
            ("topP", body.get("top_p"))) if value is not None}
        channel = header_trimmed(request, "x-openclaw-message-channel")
        spec = RunSpec(message=message, run_id=f"resp_{uuid.uuid4()}", agent_id=agent_id,
                       session_key=session_key, channel=(channel or "webchat").lower(),
                       extra_system_prompt=extra_prompt, model=override,
                       client_tools=tuple(tools),
                       tool_results=trailing_tool_outputs(body["input"]),
                       stream_params=params or None)
        return Prepared(spec, body.get("stream") is True, constraint, model, scope)

    def _check_url_parts(self, items: Any) -> None:
        if isinstance(items, str):
            return
        limit = DEFAULT_MAX_URL_PARTS
        try:
            configured = self.api.get_config().config.gateway.http.endpoints.responses
            if configured.max_url_parts is not None:
                limit = int(configured.max_url_parts)
        except AttributeError:
            pass
        count = 0
        for item in items:
            if item.get("type") != "message" or isinstance(item.get("content"), str):
                continue
            for part in item["content"]:
                if part.get("type") in ("input_image", "input_file") and \
                        part["source"].get("type") == "url":
                    count += 1
                    if count > limit:
                        raise InvalidInput("invalid request")


def exchange_answer(exchange: Exchange, outcome: RunOutcome, prepared: Prepared, item_id: str,
                    resource: Any) -> None:
    usage = responses_usage(outcome.usage)
    if outcome.failed:
        status, error = error_for(outcome)
        exchange.json(status, resource("failed", [], usage,
                                       {"code": error["type"], "message": error["message"]}))
        return
    if not constraint_satisfied(prepared.constraint, outcome.pending_tool_calls):
        assert prepared.constraint is not None
        exchange.json(502, resource("failed", [], usage, {
            "code": "api_error", "message": unsatisfied_message(prepared.constraint)}))
        return
    if outcome.pending_tool_calls:
        output: list[Any] = []
        if outcome.text:
            output.append(message_item(item_id, outcome.text, "completed", "commentary"))
        output.extend(function_call_item(c.id, c.name, c.arguments)
                      for c in outcome.pending_tool_calls)
        exchange.json(200, resource("completed", output, usage))
        return
    final = "incomplete" if outcome.stop_reason == "length" else "completed"
    exchange.json(200, resource(final, [message_item(item_id, outcome.text or NO_RESPONSE,
                                                     final, "final_answer")], usage))
