"""An OpenAI-compatible model for the end-to-end tests (stdlib HTTP server on loopback, in a
thread of the test process), configured in both gateways as provider ``fake``.

``POST /v1/chat/completions`` streams (or returns) a fixed answer with a ``usage`` block, so the
gateways have tokens and cost to account for. The user's messages since the last answer pick
the reply (gateways add context messages after the user's own):

* ``[tool]`` → first a tool call ``read {"path": "NOTES.md"}``, then (once the gateway sends
  the tool result back) :data:`TOOL_ANSWER`;
* anything else → :data:`ANSWER` in a few deltas.

A test can **hold** the next answer half-way: ``gate = model.hold()`` makes the next streamed
answer send its first half, then wait until ``gate.release()`` (the test has seen the partial
answer in the browser) or until the gateway hangs up (the run was aborted: ``gate.hung_up``
fires). Waits are on events (a socket becoming readable, a pipe), never on time.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = ["Hello ", "from ", "the ", "fake ", "model. ", "All ", "good."]
TOOL_ANSWER = ["I read ", "the notes: ", "they say hi."]
USAGE = {"prompt_tokens": 123, "completion_tokens": 7, "total_tokens": 130}
MARK_TOOL = "[tool]"


class Gate:
    """Holds one streamed answer half-way until released (or the client hangs up)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self.reached = threading.Event()   # the first half was sent
        self.hung_up = threading.Event()   # the gateway closed the connection while held
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            os.write(self._write, b"x")

    def wait(self, connection: socket.socket) -> bool:
        """Until released (True) or the peer hung up (False)."""
        self.reached.set()
        while True:
            readable, _, _ = select.select([self._read, connection], [], [])
            if self._read in readable:
                return True
            try:
                peeked = connection.recv(1, socket.MSG_PEEK)
            except OSError:
                peeked = b""
            if not peeked:
                self.hung_up.set()
                return False

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _since_last_answer(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages after the last assistant message (the gateway may add context messages
    after the user's own)."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant":
            return messages[index + 1:]
    return messages


class FakeModel:
    """``FakeModel().start()`` → port; ``base_url`` for the provider config; ``stop()``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._gates: deque[Gate] = deque()
        self._all_gates: list[Gate] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def hold(self) -> Gate:
        """Hold the next streamed answer half-way (see the module doc)."""
        gate = Gate()
        with self._lock:
            self._gates.append(gate)
            self._all_gates.append(gate)
        return gate

    def start(self) -> int:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [
                        {"id": "fake-1", "object": "model", "created": 0, "owned_by": "fake"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                with model._lock:
                    model.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                model._answer(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-model",
                                        daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        for gate in self._all_gates:
            gate.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for gate in self._all_gates:
            gate.close()

    # -- answers ---------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        messages = body.get("messages") or []
        name = body.get("model", "fake-1")
        recent = _since_last_answer(messages)
        after_tool = any(m.get("role") == "tool" for m in recent)
        wants_tool = not after_tool and bool(body.get("tools")) and any(
            m.get("role") == "user" and MARK_TOOL in _text(m.get("content")) for m in recent)
        pieces = TOOL_ANSWER if after_tool else ANSWER
        if not body.get("stream"):
            handler._json(200, {  # type: ignore[attr-defined]
                "id": "chatcmpl-e2e", "object": "chat.completion", "created": int(time.time()),
                "model": name, "usage": USAGE,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "".join(pieces)}}]})
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        out = handler.wfile

        def send(data: Any) -> bool:
            text = data if isinstance(data, str) else json.dumps(data)
            try:
                out.write(f"data: {text}\n\n".encode())
                out.flush()
            except OSError:
                return False
            return True

        if not send(_chunk(name, {"role": "assistant", "content": ""})):
            return
        if wants_tool:
            call = {"index": 0, "id": "call_e2e_1", "type": "function",
                    "function": {"name": "read", "arguments": json.dumps({"path": "NOTES.md"})}}
            send(_chunk(name, {"tool_calls": [call]}))
            send(_chunk(name, {}, "tool_calls"))
        else:
            with self._lock:
                gate = self._gates.popleft() if self._gates else None
            half = len(pieces) // 2 if gate else len(pieces)
            for piece in pieces[:half]:
                if not send(_chunk(name, {"content": piece})):
                    return
            if gate is not None:
                if not gate.wait(handler.connection):
                    return
                for piece in pieces[half:]:
                    if not send(_chunk(name, {"content": piece})):
                        return
            send(_chunk(name, {}, "stop"))
        send({"id": "chatcmpl-e2e", "object": "chat.completion.chunk", "model": name,
              "choices": [], "usage": USAGE})
        send("[DONE]")
        handler.close_connection = True
