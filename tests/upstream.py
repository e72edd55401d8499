"""A scripted model upstream: a real ``twisted.web`` server on loopback speaking the real
streaming formats of OpenAI Chat Completions (``POST /v1/chat/completions``), OpenAI Responses
(``POST /v1/responses``) and Anthropic Messages (``POST /v1/messages``), including tool calls.

Each test scripts the replies, in order, then inspects what the gateway sent::

    upstream = ScriptedUpstream()            # uses the global reactor unless given one
    port = upstream.start()                  # 127.0.0.1:<free port>
    upstream.script(openai_tool_call("write", {"path": "a.txt", "content": "hi"}),
                    openai_text(["Done", "!"]))
    ... point models.providers.<id>.baseUrl at upstream.base_url ...
    upstream.requests[0].json["messages"]    # what the gateway sent
    await upstream.stop()

A reply can be held until the test releases it (``Reply.gate``, a Deferred) and tells when
its request arrived (``Reply.started``).

Replies: :func:`openai_text`, :func:`openai_tool_call`, :func:`openai_tool_calls`,
:func:`responses_text`, :func:`responses_tool_call`, :func:`anthropic_text`,
:func:`anthropic_tool_call`, :func:`error_reply` (any status, ``Retry-After``),
:func:`stall` (some chunks, then silence until the client hangs up) and :func:`no_headers`.
When the script is empty the ``default`` reply answers (``openai_text("ok")``). Also usable
from other suites (the HTTP API tests) and by ``bench/agent_turn.py``.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site


@attrs.define
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    at: float


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


@attrs.define
class Reply:
    """A scripted HTTP answer: status, headers, and body parts sent ``delay`` apart."""

    status: int = 200
    headers: dict[str, str] = attrs.Factory(lambda: {"Content-Type": "text/event-stream"})
    parts: list[bytes] = attrs.Factory(list)
    delay: float = 0.0
    first_delay: float = 0.0
    hang: bool = False          # after the parts, keep the connection open (no end)
    withhold_headers: bool = False
    path: str | None = None     # only answer requests to this path (else any)
    # Fires when a request is being answered with this reply (the test knows it arrived).
    started: Deferred[RecordedRequest] | None = None
    # When set, the parts are sent only after this fires (the test decides when).
    gate: Deferred[None] | None = None
    # When set, the first ``pause_after`` parts go at once, the rest when ``resume`` fires
    # (a reply seen half-streamed).
    pause_after: int | None = None
    resume: Deferred[None] | None = None


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None,
           rid: str = "chatcmpl-1") -> dict[str, Any]:
    return {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def openai_text(pieces: str | Sequence[str], *, model: str = "scripted", delay: float = 0.0,
                first_delay: float = 0.0, usage: tuple[int, int] = (12, 6),
                finish: str = "stop") -> Reply:
    """A Chat Completions stream of text deltas, a finish chunk, usage, ``[DONE]``."""
    pieces = [pieces] if isinstance(pieces, str) else list(pieces)
    parts = [_sse(_chunk(model, {"role": "assistant", "content": ""}))]
    parts += [_sse(_chunk(model, {"content": piece})) for piece in pieces]
    parts.append(_sse(_chunk(model, {}, finish)))
    parts.append(_sse({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                       "choices": [], "usage": {"prompt_tokens": usage[0],
                                                "completion_tokens": usage[1],
                                                "total_tokens": sum(usage)}}))
    parts.append(b"data: [DONE]\n\n")
    return Reply(parts=parts, delay=delay, first_delay=first_delay)


def openai_tool_calls(calls: Sequence[tuple[str, str, Any]], *, text: str = "",
                      model: str = "scripted", split: int = 3, delay: float = 0.0) -> Reply:
    """Tool calls streamed the way OpenAI does: id+name first, arguments in fragments."""
    parts = [_sse(_chunk(model, {"role": "assistant", "content": None}))]
    if text:
        parts.append(_sse(_chunk(model, {"content": text})))
    for index, (call_id, name, arguments) in enumerate(calls):
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        parts.append(_sse(_chunk(model, {"tool_calls": [
            {"index": index, "id": call_id, "type": "function",
             "function": {"name": name, "arguments": ""}}]})))
        size = max(1, -(-len(raw) // max(1, split)))
        for start in range(0, len(raw), size):
            parts.append(_sse(_chunk(model, {"tool_calls": [
                {"index": index, "function": {"arguments": raw[start:start + size]}}]})))
    parts.append(_sse(_chunk(model, {}, "tool_calls")))
    parts.append(_sse({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
                       "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 9,
                                                "total_tokens": 29}}))
    parts.append(b"data: [DONE]\n\n")
    return Reply(parts=parts, delay=delay)


def openai_tool_call(name: str, arguments: Any, *, call_id: str = "call_1", text: str = "",
                     model: str = "scripted") -> Reply:
    return openai_tool_calls([(call_id, name, arguments)], text=text, model=model)


def responses_text(pieces: str | Sequence[str], *, model: str = "scripted") -> Reply:
    """An OpenAI Responses stream (typed events) with text output."""
    pieces = [pieces] if isinstance(pieces, str) else list(pieces)
    full = "".join(pieces)
    parts = [_sse({"type": "response.created", "response": {"id": "resp_1",
                                                            "status": "in_progress"}},
                  "response.created"),
             _sse({"type": "response.output_item.added", "output_index": 0,
                   "item": {"type": "message", "id": "msg_1", "role": "assistant",
                            "content": []}}, "response.output_item.added")]
    for piece in pieces:
        parts.append(_sse({"type": "response.output_text.delta", "output_index": 0,
                           "content_index": 0, "delta": piece}, "response.output_text.delta"))
    parts.append(_sse({"type": "response.output_text.done", "output_index": 0,
                       "content_index": 0, "text": full}, "response.output_text.done"))
    parts.append(_sse({"type": "response.completed", "response": {
        "id": "resp_1", "status": "completed", "model": model,
        "usage": {"input_tokens": 11, "output_tokens": 5, "total_tokens": 16}}},
        "response.completed"))
    return Reply(parts=parts)


def responses_tool_call(name: str, arguments: Any, *, call_id: str = "call_r1") -> Reply:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    item = {"type": "function_call", "id": "fc_1", "call_id": call_id, "name": name,
            "arguments": ""}
    parts = [_sse({"type": "response.created", "response": {"id": "resp_2"}},
                  "response.created"),
             _sse({"type": "response.output_item.added", "output_index": 0, "item": item},
                  "response.output_item.added"),
             _sse({"type": "response.function_call_arguments.delta", "output_index": 0,
                   "item_id": "fc_1", "delta": raw[: len(raw) // 2]},
                  "response.function_call_arguments.delta"),
             _sse({"type": "response.function_call_arguments.delta", "output_index": 0,
                   "item_id": "fc_1", "delta": raw[len(raw) // 2:]},
                  "response.function_call_arguments.delta"),
             _sse({"type": "response.output_item.done", "output_index": 0,
                   "item": {**item, "arguments": raw, "status": "completed"}},
                  "response.output_item.done"),
             _sse({"type": "response.completed", "response": {
                 "id": "resp_2", "status": "completed",
                 "usage": {"input_tokens": 20, "output_tokens": 8}}}, "response.completed")]
    return Reply(parts=parts)


def anthropic_text(pieces: str | Sequence[str], *, model: str = "scripted") -> Reply:
    """An Anthropic Messages stream (message_start ... message_stop)."""
    pieces = [pieces] if isinstance(pieces, str) else list(pieces)
    parts = [_sse({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 1}}},
        "message_start"),
        _sse({"type": "content_block_start", "index": 0,
              "content_block": {"type": "text", "text": ""}}, "content_block_start"),
        _sse({"type": "ping"}, "ping")]
    for piece in pieces:
        parts.append(_sse({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": piece}},
                          "content_block_delta"))
    parts += [_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
              _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                       "stop_sequence": None},
                    "usage": {"output_tokens": 7}}, "message_delta"),
              _sse({"type": "message_stop"}, "message_stop")]
    return Reply(parts=parts)


def anthropic_tool_call(name: str, arguments: Any, *, call_id: str = "toolu_1") -> Reply:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    parts = [_sse({"type": "message_start", "message": {
        "id": "msg_2", "type": "message", "role": "assistant", "content": [],
        "usage": {"input_tokens": 30, "output_tokens": 1}}}, "message_start"),
        _sse({"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": call_id, "name": name, "input": {}}},
            "content_block_start"),
        _sse({"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": raw[: len(raw) // 2]}},
            "content_block_delta"),
        _sse({"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": raw[len(raw) // 2:]}},
            "content_block_delta"),
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
              "usage": {"output_tokens": 12}}, "message_delta"),
        _sse({"type": "message_stop"}, "message_stop")]
    return Reply(parts=parts)


def error_reply(status: int, message: str = "scripted failure", *,
                retry_after: str | None = None, error_type: str = "server_error") -> Reply:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = json.dumps({"error": {"message": message, "type": error_type,
                                 "code": None}}).encode()
    return Reply(status=status, headers=headers, parts=[body])


def stall(pieces: Sequence[str] = ("partial",), *, model: str = "scripted") -> Reply:
    """Stream a few text deltas, then go silent (until the client disconnects)."""
    reply = openai_text(list(pieces), model=model)
    reply.parts = reply.parts[: 1 + len(pieces)]
    reply.hang = True
    return reply


def no_headers() -> Reply:
    """Accept the request and never answer (not even the status line)."""
    return Reply(withhold_headers=True, hang=True)


class _Endpoint(Resource):
    isLeaf = True

    def __init__(self, upstream: ScriptedUpstream) -> None:
        super().__init__()
        self.upstream = upstream

    def render_GET(self, request: Request) -> bytes:
        path = request.path.decode()
        if path.endswith("/models"):
            request.setHeader(b"content-type", b"application/json")
            return json.dumps({"object": "list", "data": [
                {"id": "scripted", "object": "model", "owned_by": "tests"}]}).encode()
        request.setResponseCode(404)
        return b"not found"

    def render_POST(self, request: Request) -> Any:
        return self.upstream._answer(request)


class ScriptedUpstream:
    def __init__(self, reactor: Any = None, default: Callable[[], Reply] | None = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.default = default or (lambda: openai_text("ok"))
        self._script: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.completed = 0
        self._disconnect_waiters: list[Deferred[None]] = []
        self._request_waiters: list[tuple[int, Deferred[None]]] = []
        self._port: Any = None
        self._open: set[Request] = set()
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, port: int = 0) -> int:
        site = Site(_Endpoint(self))
        site.noisy = False
        self._port = self.reactor.listenTCP(port, site, interface="127.0.0.1")
        self.port = self._port.getHost().port
        return int(self.port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for request in list(self._open):
            transport = request.channel.transport if request.channel else None
            if transport is not None:
                transport.abortConnection()
        self._open.clear()
        if self._port is not None:
            port, self._port = self._port, None
            await port.stopListening()

    # -- scripting --------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    def pending(self) -> int:
        return len(self._script)

    def wait_requests(self, count: int = 1) -> Deferred[None]:
        """Fires once ``count`` requests have arrived in all (at once if they already have)."""
        waiter: Deferred[None] = Deferred()
        if len(self.requests) >= count:
            waiter.callback(None)
        else:
            self._request_waiters.append((count, waiter))
        return waiter

    def wait_disconnect(self) -> Deferred[None]:
        waiter: Deferred[None] = Deferred()
        self._disconnect_waiters.append(waiter)
        return waiter

    # -- serving ----------------------------------------------------------------------------

    def _answer(self, request: Request) -> Any:
        raw = request.content.read() if request.content is not None else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(RecordedRequest(
            method=request.method.decode(), path=request.path.decode(),
            headers={k.decode().lower(): v[0].decode()
                     for k, v in request.requestHeaders.getAllRawHeaders()},
            json=body, at=time.monotonic()))
        arrived = [(count, waiter) for count, waiter in self._request_waiters
                   if len(self.requests) >= count]
        self._request_waiters = [entry for entry in self._request_waiters
                                 if entry not in arrived]
        for _, waiter in arrived:
            waiter.callback(None)
        reply = self._script.popleft() if self._script else self.default()
        if reply.started is not None and not reply.started.called:
            reply.started.callback(self.requests[-1])
        calls: list[IDelayedCall] = []
        finished = {"done": False}

        def lost(_: Any) -> None:
            self._open.discard(request)
            for call in calls:
                if call.active():
                    call.cancel()
            if not finished["done"]:
                self.disconnects += 1
                waiters, self._disconnect_waiters = self._disconnect_waiters, []
                for waiter in waiters:
                    waiter.callback(None)

        request.notifyFinish().addBoth(lost)
        self._open.add(request)
        if reply.withhold_headers:
            return NOT_DONE_YET
        request.setResponseCode(reply.status)
        for name, value in reply.headers.items():
            request.setHeader(name.encode(), value.encode())
        if reply.status == 200 and not reply.headers.get("Content-Length"):
            request.setHeader(b"cache-control", b"no-cache")
        parts = list(reply.parts)

        def finish() -> None:
            if reply.hang:
                return
            finished["done"] = True
            self.completed += 1
            request.finish()

        if reply.resume is not None and reply.pause_after is not None:
            head, tail = parts[:reply.pause_after], parts[reply.pause_after:]
            request.write(b"".join(head))

            def resumed(_: Any) -> None:
                if request in self._open:
                    if tail:
                        request.write(b"".join(tail))
                    finish()

            reply.resume.addCallback(resumed)
            return NOT_DONE_YET
        if reply.gate is not None:
            def released(_: Any) -> None:
                if request in self._open:
                    if parts:
                        request.write(b"".join(parts))
                    finish()

            reply.gate.addCallback(released)
            return NOT_DONE_YET
        if reply.delay <= 0 and reply.first_delay <= 0:
            if parts:
                request.write(b"".join(parts))
            finish()
            return NOT_DONE_YET

        def send(index: int) -> None:
            if index < len(parts):
                request.write(parts[index])
                calls.append(self.reactor.callLater(reply.delay, send, index + 1))
            else:
                finish()

        calls.append(self.reactor.callLater(reply.first_delay, send, 0))
        return NOT_DONE_YET


def texts_of(messages: Iterable[dict[str, Any]], role: str) -> list[str]:
    """Helper: the string contents of the given role in an OpenAI ``messages`` list."""
    return [str(m.get("content") or "") for m in messages if m.get("role") == role]
