"""Response helpers of the HTTP surface: the exact JSON shapes, SSE framing, guarded finish.

Shapes follow the real gateway's ``http-common`` (2026.9.6):

* ``401 {"error":{"message":"Unauthorized","type":"unauthorized"}}``;
* ``429`` + ``Retry-After`` (seconds, ceil) ``{"error":{"message":"Too many failed
  authentication attempts. Please try again later.","type":"rate_limited"}}``;
* ``403 proxy_attribution_required``; ``403 {"ok":false,"error":{"type":"forbidden",
  "message":"missing scope: <scope>","details":{...}}}``;
* ``400 {"error":{"message":...,"type":"invalid_request_error"}}``;
* ``405`` text ``Method Not Allowed`` with ``Allow``.

:class:`Exchange` wraps one request whose answer is produced asynchronously: it knows whether
the client went away (``notifyFinish``), never calls ``finish()`` twice or after a disconnect
(twisted-patterns anti-pattern 16), and runs the disconnect callbacks (cancel the run).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import orjson
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import Request

log = Logger(namespace="gateway.http")
T = TypeVar("T")

JSON_CONTENT_TYPE: Final = b"application/json; charset=utf-8"
TEXT_CONTENT_TYPE: Final = b"text/plain; charset=utf-8"
SSE_CONTENT_TYPE: Final = b"text/event-stream; charset=utf-8"

UNAUTHORIZED_BODY: Final = {"error": {"message": "Unauthorized", "type": "unauthorized"}}
RATE_LIMITED_BODY: Final = {"error": {
    "message": "Too many failed authentication attempts. Please try again later.",
    "type": "rate_limited"}}
PROXY_ATTRIBUTION_BODY: Final = {"error": {
    "message": "Proxy client attribution is required. Configure gateway.trustedProxies "
               "narrowly and make the proxy overwrite or safely rebuild forwarded client "
               "headers.",
    "type": "proxy_attribution_required"}}
INTERNAL_ERROR: Final = {"message": "internal error", "type": "api_error"}


def dumps(value: Any) -> bytes:
    """``JSON.stringify``: compact, UTF-8, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def dumps_text(text: str) -> bytes:
    """:func:`dumps` of one string (a streamed delta), by orjson: for a string it writes the
    same bytes (compact, non-ASCII as is, the same escapes; checked over every code point in
    tests/gateway/http/test_units.py) in a tenth of the time. A lone surrogate, which neither
    can encode, fails as :func:`dumps` fails."""
    try:
        return orjson.dumps(text)
    except TypeError:
        return dumps(text)


def header(request: Request, name: str) -> str | None:
    """The first value of a request header (case-insensitive), decoded; None when absent."""
    values = request.requestHeaders.getRawHeaders(name.encode("ascii"))
    if not values:
        return None
    return values[0].decode("utf-8", "replace")


def header_trimmed(request: Request, name: str) -> str | None:
    value = header(request, name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def bearer_token(request: Request) -> str | None:
    raw = header(request, "authorization")
    if not raw or raw[:7].lower() != "bearer ":
        return None
    token = raw[7:].strip()
    return token or None


def write_json(request: Request, status: int, payload: Any,
               extra_headers: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    """Set status and headers; return the body (the caller returns or writes it)."""
    body = payload if isinstance(payload, bytes) else dumps(payload)
    request.setResponseCode(status)
    request.setHeader(b"content-type", JSON_CONTENT_TYPE)
    for name, value in extra_headers:
        request.setHeader(name, value)
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    return b"" if request.method == b"HEAD" else body


def write_text(request: Request, status: int, text: str,
               extra_headers: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    body = text.encode("utf-8")
    request.setResponseCode(status)
    for name, value in extra_headers:
        request.setHeader(name, value)
    request.setHeader(b"content-type", TEXT_CONTENT_TYPE)
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    return b"" if request.method == b"HEAD" else body


def method_not_allowed(request: Request, allow: str = "POST") -> bytes:
    return write_text(request, 405, "Method Not Allowed", [(b"allow", allow.encode("ascii"))])


def invalid_request_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


def missing_scope_body(scope: str) -> dict[str, Any]:
    return {"ok": False, "error": {
        "type": "forbidden", "message": f"missing scope: {scope}",
        "details": {"code": "MISSING_SCOPE", "missingScope": scope, "requiredScopes": [scope]}}}


def retry_after_header(retry_after_ms: int | None) -> list[tuple[bytes, bytes]]:
    if retry_after_ms and retry_after_ms > 0:
        return [(b"retry-after", str(math.ceil(retry_after_ms / 1000)).encode("ascii"))]
    return []


def sse_data(payload: Any) -> bytes:
    """One unnamed SSE frame (chat completions)."""
    return b"data: " + dumps(payload) + b"\n\n"


def sse_event(event: str, payload: Any) -> bytes:
    """One named SSE frame (responses, session history)."""
    return b"event: " + event.encode("utf-8") + b"\ndata: " + dumps(payload) + b"\n\n"


SSE_DONE: Final = b"data: [DONE]\n\n"


class Exchange:
    """One in-flight request answered asynchronously."""

    def __init__(self, request: Request, clock: IReactorTime | None = None) -> None:
        self.request = request
        self.gone = False          # the client disconnected before we finished
        self.finished = False      # we called finish()
        self.streaming = False     # headers went out (SSE)
        self._on_disconnect: list[Callable[[], object]] = []
        self._clock = clock
        self._pending: list[bytes] = []
        self._flush_call: IDelayedCall | None = None
        request.notifyFinish().addCallbacks(self._completed, self._lost)

    # -- lifecycle ----------------------------------------------------------------------

    def _completed(self, _: object) -> None:
        self.finished = True

    def _lost(self, _: Failure) -> None:
        self.gone = True
        self._pending = []
        call, self._flush_call = self._flush_call, None
        if call is not None and call.active():
            call.cancel()
        callbacks, self._on_disconnect = self._on_disconnect, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.failure("disconnect callback failed")

    def on_disconnect(self, callback: Callable[[], object]) -> None:
        if self.gone:
            callback()
        else:
            self._on_disconnect.append(callback)

    def guard(self, deferred: Deferred[T]) -> Deferred[T]:
        """``deferred`` (which must be this request's own) is cancelled if the client leaves."""
        self.on_disconnect(deferred.cancel)
        return deferred

    @property
    def open(self) -> bool:
        return not self.gone and not self.finished

    # -- whole answers ------------------------------------------------------------------

    def json(self, status: int, payload: Any,
             extra_headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        if not self.open or self.streaming:
            return
        body = write_json(self.request, status, payload, extra_headers)
        self._end(body)

    def text(self, status: int, text: str,
             extra_headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        if not self.open or self.streaming:
            return
        self._end(write_text(self.request, status, text, extra_headers))

    def empty(self, status: int) -> None:
        if not self.open or self.streaming:
            return
        self.request.setResponseCode(status)
        self.request.setHeader(b"content-length", b"0")
        self._end(b"")

    def end(self, body: bytes) -> None:
        """Write ``body`` (headers already set by the caller) and finish, unless gone."""
        if not self.open or self.streaming:
            return
        self._end(body)

    def _end(self, body: bytes) -> None:
        if body:
            self.request.write(body)
        self.finish()

    # -- streams ------------------------------------------------------------------------

    def start_sse(self) -> None:
        """Status 200 and the SSE headers, flushed now (chunked body follows)."""
        if not self.open or self.streaming:
            return
        request = self.request
        request.setResponseCode(200)
        request.setHeader(b"content-type", SSE_CONTENT_TYPE)
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"connection", b"keep-alive")
        request.setHeader(b"x-accel-buffering", b"no")
        self.streaming = True
        request.write(b"")

    def write(self, chunk: bytes) -> None:
        self.flush()
        if self.open:
            self.request.write(chunk)

    def write_soon(self, chunk: bytes) -> None:
        """Queue a frame; frames queued in one reactor turn go out in one write."""
        if self._clock is None:
            self.write(chunk)
            return
        self._pending.append(chunk)
        if self._flush_call is None:
            self._flush_call = self._clock.callLater(0, self.flush)

    def flush(self) -> None:
        call, self._flush_call = self._flush_call, None
        if call is not None and call.active():
            call.cancel()
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            if self.open:
                self.request.write(data)

    def finish(self) -> None:
        self.flush()
        if self.open:
            self.finished = True
            self.request.finish()

    def abort(self) -> None:
        """Drop the connection (an answer that cannot be completed honestly)."""
        if self.open:
            self.finished = True
            transport = getattr(self.request.channel, "transport", None)
            if transport is not None:
                transport.abortConnection()

    def fail(self, failure: Failure) -> None:
        """Last resort for an unexpected exception in a handler."""
        log.failure("HTTP handler failed for {path}", failure,
                    path=self.request.path.decode("latin-1", "replace"))
        if self.streaming:
            self.write(sse_data({"error": INTERNAL_ERROR}) + SSE_DONE)
            self.finish()
        else:
            self.json(500, {"error": INTERNAL_ERROR})
