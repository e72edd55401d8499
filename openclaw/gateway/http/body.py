"""Request bodies: size caps enforced while the body arrives, a body-read timeout, JSON parsing.

``twisted.web`` reads a whole request body before it renders anything, so the caps cannot be
enforced in a resource. :func:`bounded_request_factory` builds the Site's request class
instead: when the headers are in (``gotLength``) it asks the :class:`BodyGate` for the cap of
that method and path; a declared ``Content-Length`` over the cap is refused before one body
byte is read, a chunked body is counted as it arrives, and a body that stalls is answered
``408``. The refusal is written raw (status line, the security headers, JSON) and the
connection closed, as the real gateway does. An unauthorised caller gets its ``401`` rather
than ``413`` (the gate's ``reject`` decides), so nobody can make the gateway read a large body.
Form bodies are never parsed by ``twisted.web`` (a malformed multipart body would get its bare
``400``): the endpoints see the raw body and answer in their own shape.

:func:`json_error_channel` is the Site's HTTP channel: what ``twisted.web`` refuses before any
resource sees the request (a malformed request line or header, a bad chunk, an oversized or
too many headers) is answered in the same JSON error shape - ``431`` for header fields too
large, ``414`` for a request line too long, ``400`` otherwise - instead of a bare status line
or a silent close.

:func:`parse_json_text` parses like ``JSON.parse`` after ``trim()`` (empty body = ``{}``) and
words errors the way V8 does (``Expected property name or '}' in JSON at position 1 (line 1
column 2)``), because clients show that text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from io import BytesIO
from typing import IO, Any, Final, Protocol, cast

import attrs
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.web.http import HTTPChannel
from twisted.web.server import Request

BODY_TIMEOUT_S: Final = 30.0
INLINE_PARSE_LIMIT: Final = 256 * 1024
_STATUS_TEXT: Final = {400: b"Bad Request", 401: b"Unauthorized", 408: b"Request Timeout",
                       413: b"Payload Too Large", 414: b"URI Too Long",
                       429: b"Too Many Requests", 431: b"Request Header Fields Too Large"}


@attrs.frozen
class RawAnswer:
    """A complete answer written straight to the transport (the request never renders)."""

    status: int
    body: bytes
    content_type: bytes = b"application/json; charset=utf-8"
    headers: tuple[tuple[bytes, bytes], ...] = ()

    def encode(self, base_headers: tuple[tuple[bytes, bytes], ...]) -> bytes:
        lines = [b"HTTP/1.1 %d %s" % (self.status, _STATUS_TEXT.get(self.status, b"Error"))]
        for name, value in (*base_headers, *self.headers):
            lines.append(name + b": " + value)
        lines.append(b"content-type: " + self.content_type)
        lines.append(b"content-length: %d" % len(self.body))
        lines.append(b"connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


log = Logger(namespace="gateway")


@attrs.frozen
class BodyLimit:
    """The cap of one endpoint and how it refuses."""

    max_bytes: int
    # called when the cap is exceeded: the 413 answer (or 401/429 for an unauthorised caller)
    too_large: Callable[[Request], RawAnswer]
    timed_out: Callable[[Request], RawAnswer]
    # seconds the whole body may take to arrive (None: the factory's default)
    timeout_s: float | None = None


class BodyGate(Protocol):
    def body_limit(self, request: Request, method: bytes, uri: bytes) -> BodyLimit | None:
        """The cap for a request whose headers just arrived, or None (no cap here)."""

    def prepared_answer(self, request: Request) -> tuple[bytes, int] | None:
        """The whole response (status line, headers, body) and its body's length, for a
        request the resource tree would answer with exactly these bytes; or None: the tree
        answers it."""


def bounded_request_factory(
    gate: BodyGate,
    clock: IReactorTime,
    *,
    base_headers: tuple[tuple[bytes, bytes], ...] = (),
    timeout_s: float = BODY_TIMEOUT_S,
) -> type[Request]:
    """A ``Request`` subclass bound to ``gate`` (assign it to ``Site.requestFactory``)."""

    class BoundedRequest(Request):
        _gate = gate
        _clock = clock
        _base_headers = base_headers
        _timeout_s = timeout_s

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # the endpoints read raw bodies (JSON): no form parsing by twisted.web
            kwargs["parsePOSTFormSubmission"] = False
            super().__init__(*args, **kwargs)
            self._limit: BodyLimit | None = None
            self._received = 0
            self._rejected = False
            self._timer: IDelayedCall | None = None

        def gotLength(self, length: int | None) -> None:
            channel = self.channel
            method = getattr(channel, "_command", b"")
            uri = getattr(channel, "_path", b"")
            limit = None
            if length != 0 and method not in (b"GET", b"HEAD"):
                try:
                    limit = self._gate.body_limit(self, method, uri)
                except Exception:
                    # no cap rather than a dropped request: the endpoint still checks
                    log.failure("body limit for {uri} failed", uri=uri)
                    limit = None
            if limit is None:
                super().gotLength(length)
                return
            self._limit = limit
            if length is not None and length > limit.max_bytes:
                self.content = cast(Any, BytesIO())
                self._reject(limit.too_large)
                return
            super().gotLength(length)
            timeout = limit.timeout_s if limit.timeout_s is not None else self._timeout_s
            self._timer = self._clock.callLater(timeout, self._timed_out)

        def handleContentChunk(self, data: bytes) -> None:
            if self._rejected:
                return
            limit = self._limit
            if limit is not None:
                self._received += len(data)
                if self._received > limit.max_bytes:
                    self._reject(limit.too_large)
                    return
            super().handleContentChunk(data)

        def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
            self._cancel_timer()
            if self._rejected:
                return
            super().requestReceived(command, path, version)

        def process(self) -> None:
            # hot endpoints (``GET /v1/models`` from a caller already authenticated) skip the
            # tree walk, the render and the header table: the bytes are the tree's own
            prepared = self._gate.prepared_answer(self)
            if prepared is None:
                super().process()
                return
            self.site = cast(Any, self.channel).site
            self.startedWriting = 1
            self.sentLength = prepared[1]
            self.channel.write(prepared[0])
            self.finish()

        def connectionLost(self, reason: Any) -> None:
            self._cancel_timer()
            super().connectionLost(reason)

        def _timed_out(self) -> None:
            self._timer = None
            if self._limit is not None and not self._rejected:
                self._reject(self._limit.timed_out)

        def _cancel_timer(self) -> None:
            timer, self._timer = self._timer, None
            if timer is not None and timer.active():
                timer.cancel()

        def _reject(self, answer: Callable[[Request], RawAnswer]) -> None:
            self._rejected = True
            self._cancel_timer()
            # no "100 Continue" after our answer
            self.requestHeaders.removeHeader(b"expect")
            try:
                raw = answer(self)
            except Exception:
                log.failure("answering an oversized body failed")
                raw = RawAnswer(413, b'{"error":{"message":"Payload too large",'
                                     b'"type":"invalid_request_error"}}')
            transport = getattr(self.channel, "transport", None)
            if transport is None:
                return
            transport.write(raw.encode(self._base_headers))
            transport.loseConnection()

    return BoundedRequest


# --------------------------------------------------------------------------- JSON


class JsonBodyError(ValueError):
    """The body is not JSON; ``str()`` is the V8-style message clients expect."""


def read_body_bytes(content: IO[bytes] | None) -> bytes:
    if content is None:
        return b""
    content.seek(0)
    return content.read()


def parse_json_text(raw: bytes) -> Any:
    """``JSON.parse(body.trim())``; empty body -> ``{}``."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise JsonBodyError(v8_json_error(text, e)) from None
    except RecursionError:
        raise JsonBodyError("Maximum call stack size exceeded") from None


def read_and_parse(content: IO[bytes] | None) -> Any:
    return parse_json_text(read_body_bytes(content))


def body_size(content: IO[bytes] | None) -> int:
    if content is None:
        return 0
    try:
        position = content.tell()
        content.seek(0, 2)
        size = content.tell()
        content.seek(position)
        return size
    except (OSError, ValueError):
        return 0


_LITERALS: Final = ("true", "false", "null")


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f" (line {line} column {column})"


def _at(text: str, pos: int) -> str:
    return f"in JSON at position {pos}{_line_col(text, pos)}"


def _unexpected_token(text: str, pos: int) -> str:
    if pos >= len(text):
        return "Unexpected end of JSON input"
    char = text[pos]
    if len(text) < 21:
        source = f'"{text}"'
    else:
        start, end = max(0, pos - 10), min(len(text), pos + 10)
        source = ("..." if start > 0 else "") + f'"{text[start:end]}"' + \
            ("..." if end < len(text) else "")
    return f"Unexpected token '{char}', {source} is not valid JSON"


def _innermost_container(text: str, pos: int) -> str:
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def v8_json_error(text: str, error: json.JSONDecodeError) -> str:
    """Word a Python JSON error the way V8's ``JSON.parse`` does."""
    pos = error.pos
    message = error.msg
    if message.startswith("Expecting property name"):
        before = text[:pos].rstrip()
        if before.endswith(","):
            return f"Expected double-quoted property name {_at(text, pos)}"
        return f"Expected property name or '}}' {_at(text, pos)}"
    if message.startswith("Expecting ',' delimiter"):
        if pos >= len(text):
            return "Unexpected end of JSON input"
        if _innermost_container(text, pos) == "[":
            return f"Expected ',' or ']' after array element {_at(text, pos)}"
        return f"Expected ',' or '}}' after property value {_at(text, pos)}"
    if message.startswith("Expecting ':' delimiter"):
        if pos >= len(text):
            return "Unexpected end of JSON input"
        return f"Expected ':' after property name {_at(text, pos)}"
    if message.startswith("Extra data"):
        return (f"Unexpected non-whitespace character after JSON at position {pos}"
                f"{_line_col(text, pos)}")
    if message.startswith("Unterminated string"):
        return f"Unterminated string {_at(text, len(text))}"
    if message.startswith("Invalid control character"):
        return f"Bad control character in string literal {_at(text, pos)}"
    if message.startswith("Invalid \\escape") or message.startswith("Invalid \\u"):
        return f"Bad escaped character {_at(text, pos)}"
    if message.startswith("Expecting value"):
        rest = text[pos:]
        for literal in _LITERALS:
            if rest and literal.startswith(rest[: len(literal)][:1]) and rest[0] == literal[0]:
                for offset, char in enumerate(literal):
                    if offset >= len(rest):
                        return "Unexpected end of JSON input"
                    if rest[offset] != char:
                        return _unexpected_token(text, pos + offset)
        if re.match(r"-?\d", rest):
            return f"Unexpected number {_at(text, pos)}"
        return _unexpected_token(text, pos)
    return f"{message} {_at(text, pos)}"


def json_error_channel(base_headers: tuple[tuple[bytes, bytes], ...] = ()
                       ) -> Callable[[], Any]:
    """The Site's ``protocol``: ``twisted.web``'s generic channel (HTTP/1.1, or HTTP/2 when
    negotiated) around an ``HTTPChannel`` answering its own refusals in the JSON shape."""
    from twisted.web.http import _GenericHTTPChannelProtocol

    class JsonErrorChannel(HTTPChannel):
        def _respondToBadRequestAndDisconnect(self) -> None:
            header_size = int(getattr(self, "_receivedHeaderSize", 0) or 0)
            header_count = int(getattr(self, "_receivedHeaderCount", 0) or 0)
            if header_size > self.totalHeadersSize or header_count > self.maxHeaders:
                self._refuse(431, "Request header fields too large")
            else:
                self._refuse(400, "Bad request: malformed HTTP request")

        def lineLengthExceeded(self, line: bytes) -> None:
            # only the request line and headers are read as lines
            if self.requests:
                self._refuse(431, "Request header fields too large")
            else:
                self._refuse(414, "Request line too long")

        def _refuse(self, status: int, message: str) -> None:
            transport = self.transport
            if transport is None:
                return
            body = json.dumps({"error": {"message": message,
                                         "type": "invalid_request_error"}}).encode()
            transport.write(RawAnswer(status, body).encode(base_headers))
            self.loseConnection()

    def build() -> Any:
        return _GenericHTTPChannelProtocol(JsonErrorChannel())

    return build
