"""Streaming HTTP for model providers: treq, SSE, timeouts, retries, cancellation.

:func:`post_stream` sends one JSON POST with treq (unbuffered) and hands back an
:class:`SseStream`: an async iterator of server-sent events parsed incrementally as bytes
arrive, with an idle timeout (no byte for ``idle_timeout`` seconds aborts the stream) and a
``cancel()`` that closes the connection (the upstream sees its request aborted).

Status handling: 429 and 5xx (and 408) are retried before any body is read, honouring
``Retry-After`` (seconds or an HTTP date) up to ``max_retry_wait`` seconds, else with a short
exponential backoff; other statuses fail at once with a :class:`ProviderError` that names the
provider and the status.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import attrs
import orjson
from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import (
    ConnectError,
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
    DNSLookupError,
)
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from openclaw.providers.types import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    KIND_CONTEXT,
    KIND_TIMEOUT,
    KIND_UNKNOWN,
    ProviderError,
    classify_status,
)

if TYPE_CHECKING:
    from treq.client import HTTPClient

# treq and twisted.web.client (~15 ms of imports) load with the first model call, not at
# gateway start-up: see docs/performance.md.

MAX_RETRY_WAIT_S: Final = 30.0
ERROR_BODY_LIMIT: Final = 64 * 1024
CONNECT_TIMEOUT_S: Final = 30.0
#: Longest time bytes sent to a provider may stay unacknowledged by its TCP stack before the
#: connection is given up (``TCP_USER_TIMEOUT``). A connection whose handshake completed on our
#: side while the server's accept queue was full is black-holed: the request sits unacked in
#: our send queue and the kernel retransmits with exponential backoff (the run waits 30, 60,
#: 120 s...). With this bound it fails fast and is retried on a new connection.
UNACKED_TIMEOUT_S: Final = 5.0
#: Model requests in flight at once to one origin (scheme, host, port) through one client;
#: more wait their turn here. 150 runs opening 150 connections at once overflow the accept
#: queue of a local server (Twisted's listen backlog is 50, llama.cpp's cpp-httplib 5) and
#: leave connections black-holed (see UNACKED_TIMEOUT_S); fewer, reused connections do not.
MAX_STREAMS_PER_ORIGIN: Final = 32


def make_http_client(reactor: Any, *, persistent: bool = True) -> HTTPClient:
    """A treq client with its own keep-alive pool (connections reused between calls)."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent, HTTPConnectionPool, _HTTP11ClientFactory

    class QuietClientFactory(_HTTP11ClientFactory):
        # The pool makes one factory per connection; Factory.noisy logs "Starting factory" /
        # "Stopping factory" at info level for each upstream request.
        noisy = False

    pool = HTTPConnectionPool(reactor, persistent=persistent)
    pool._factory = QuietClientFactory
    pool.maxPersistentPerHost = MAX_STREAMS_PER_ORIGIN
    pool.retryAutomatically = False
    agent = Agent.usingEndpointFactory(reactor, _ProviderEndpoints(reactor), pool=pool)
    client = HTTPClient(agent)
    client.openclaw_agent = agent  # type: ignore[attr-defined]
    client.openclaw_pool = pool  # type: ignore[attr-defined]
    client.openclaw_slots = OriginSlots(MAX_STREAMS_PER_ORIGIN)  # type: ignore[attr-defined]
    return client


class OriginSlots:
    """At most ``limit`` requests in flight per origin; a waiting request can be cancelled."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphores: dict[str, defer.DeferredSemaphore] = {}

    def _semaphore(self, url: str) -> defer.DeferredSemaphore:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        semaphore = self._semaphores.get(origin)
        if semaphore is None:
            semaphore = self._semaphores[origin] = defer.DeferredSemaphore(self.limit)
        return semaphore

    async def acquire(self, url: str) -> Callable[[], None]:
        """Wait for a slot; returns its release (idempotent)."""
        semaphore = self._semaphore(url)
        await semaphore.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                semaphore.release()

        return release

    def in_flight(self, url: str) -> int:
        semaphore = self._semaphore(url)
        return semaphore.limit - semaphore.tokens


class _ProviderEndpoints:
    """``twisted.web.client.Agent``'s standard endpoints (TCP, TCP+TLS), with
    ``TCP_USER_TIMEOUT`` set on each new connection (see :data:`UNACKED_TIMEOUT_S`)."""

    def __init__(self, reactor: Any) -> None:
        from twisted.web.client import BrowserLikePolicyForHTTPS

        self._reactor = reactor
        self._tls = BrowserLikePolicyForHTTPS()

    def endpointForURI(self, uri: Any) -> Any:  # IAgentEndpointFactory
        from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
        from twisted.web.error import SchemeNotSupported

        try:
            host = uri.host.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"the host of {uri.toBytes()!r} is not ASCII") from None
        endpoint: Any = HostnameEndpoint(self._reactor, host, uri.port,
                                         timeout=CONNECT_TIMEOUT_S)
        if uri.scheme == b"https":
            endpoint = wrapClientTLS(self._tls.creatorForNetloc(uri.host, uri.port), endpoint)
        elif uri.scheme != b"http":
            raise SchemeNotSupported(f"unsupported scheme: {uri.scheme!r}")
        return _UnackedTimeoutEndpoint(endpoint)


@implementer(IStreamClientEndpoint)
class _UnackedTimeoutEndpoint:
    def __init__(self, endpoint: Any) -> None:
        self._endpoint = endpoint

    def connect(self, factory: Any) -> Deferred[Any]:
        connecting: Deferred[Any] = self._endpoint.connect(factory)
        return connecting.addCallback(_limit_unacked)


def _limit_unacked(protocol: Any) -> Any:
    import socket

    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    transport = getattr(protocol, "transport", None)
    for _ in range(3):          # the TCP transport, under a TLS wrapper if any
        handle = getattr(transport, "getHandle", lambda: None)()
        if isinstance(handle, socket.socket):
            if option is not None:
                with contextlib.suppress(OSError):
                    handle.setsockopt(socket.IPPROTO_TCP, option,
                                      int(UNACKED_TIMEOUT_S * 1000))
            break
        transport = getattr(transport, "transport", None)
    return protocol


async def close_http_client(client: HTTPClient) -> None:
    """Close the keep-alive connections of a client made by :func:`make_http_client`."""
    pool = getattr(client, "openclaw_pool", None)
    if pool is not None:
        await pool.closeCachedConnections()


class SseEvent(NamedTuple):
    """One server-sent event (a tuple: made once per streamed chunk, so kept cheap)."""

    event: str
    data: str


class SseParser:
    """Incremental ``text/event-stream`` parser (fields ``event`` and ``data``)."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        events: list[SseEvent] = []
        buffer = self._buffer + chunk if self._buffer else chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data or self._event:
                    events.append(SseEvent(self._event or "message", "\n".join(self._data)))
                self._event = ""
                self._data = []
                continue
            if line[:1] == b":":
                continue
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value.decode("utf-8", "replace"))
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
        self._buffer = buffer[start:]
        return events

    def finish(self) -> list[SseEvent]:
        """Flush a final event not followed by a blank line."""
        events = self.feed(b"\n\n") if self._buffer else []
        if self._data:
            events.append(SseEvent(self._event or "message", "\n".join(self._data)))
            self._data = []
        return events


class _SseBody(Protocol):
    """Body protocol feeding an :class:`SseStream`."""

    def __init__(self, stream: SseStream) -> None:
        self.stream = stream
        self.parser = SseParser()

    def dataReceived(self, data: bytes) -> None:
        stream = self.stream
        stream._touch()
        events = self.parser.feed(data)
        if events:
            # every event of this read at once: the reader resumes once, not once per event
            stream._push_all(events)

    def connectionLost(self, reason: Failure | None = None) -> None:
        from twisted.web.client import ResponseDone
        from twisted.web.http import PotentialDataLoss

        if reason is None:
            reason = Failure(ResponseDone())
        events = self.parser.finish()
        if events:
            self.stream._push_all(events)
        if reason.check(ResponseDone, PotentialDataLoss):
            self.stream._end(None)
        else:
            self.stream._end(reason)


class SseStream:
    """Server-sent events of one response, as an async iterator; ``cancel()`` aborts."""

    def __init__(self, provider: str, model: str | None, clock: IReactorTime,
                 idle_timeout: float) -> None:
        self.provider = provider
        self.model = model
        self._clock = clock
        self._idle_timeout = idle_timeout
        self._events: deque[SseEvent] = deque()
        self._waiter: Deferred[None] | None = None
        self._done = False
        self._error: BaseException | None = None
        self._body: _SseBody | None = None
        self._idle: IDelayedCall | None = None
        self._cancelled = False
        self.on_end: Callable[[], None] | None = None   # the request's slot, released at the end
        self._parseable = False     # an event whose data is JSON arrived

    # -- feeding (body protocol) -------------------------------------------------------

    def _attach(self, response: Any) -> None:
        self._body = _SseBody(self)
        response.deliverBody(self._body)
        self._arm()

    def _arm(self) -> None:
        if self._idle_timeout > 0 and not self._done:
            self._idle = self._clock.callLater(self._idle_timeout, self._timed_out)

    def _touch(self) -> None:
        idle = self._idle
        if idle is not None and idle.active():
            idle.reset(self._idle_timeout)

    def _timed_out(self) -> None:
        self._idle = None
        if self._done:
            return
        self._end(Failure(ProviderError(
            self.provider,
            f'{self.provider}: no data from the model for {self._idle_timeout:g}s (timeout)',
            model=self.model, kind=KIND_TIMEOUT, failover=True)))
        self._abort_transport()

    def _push(self, event: SseEvent) -> None:
        self._push_all([event])

    def _push_all(self, events: list[SseEvent]) -> None:
        if self._done:
            return
        if not self._parseable:
            for event in events:
                if event.data[:1] in ("{", "[") and event.data != "[DONE]" and \
                        json_or_none(event.data) is not None:
                    self._parseable = True
                    break
        self._events.extend(events)
        self._wake()

    def _end(self, reason: Failure | None) -> None:
        if self._done:
            return
        self._done = True
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end()
        idle, self._idle = self._idle, None
        if idle is not None and idle.active():
            idle.cancel()
        if reason is not None and self._error is None and not self._cancelled:
            error = reason.value
            if not isinstance(error, ProviderError):
                error = ProviderError(
                    self.provider,
                    f"{self.provider}: model stream interrupted: "
                    f"{_describe(reason)}", model=self.model, failover=True)
            self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.callback(None)

    def _abort_transport(self) -> None:
        body = self._body
        transport = getattr(body, "transport", None) if body is not None else None
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.stopProducing()

    # -- consuming ------------------------------------------------------------------------

    def cancel(self) -> None:
        if self._done:
            return
        self._cancelled = True
        self._error = CancelledError()
        self._end(None)
        self._abort_transport()

    def __aiter__(self) -> SseStream:
        return self

    async def __anext__(self) -> SseEvent:
        while True:
            if self._events:
                return self._events.popleft()
            if self._done:
                if self._error is not None:
                    raise self._error
                if not self._parseable:
                    # garbage with a 200 status is a failed call, not an empty answer
                    self._error = ProviderError(
                        self.provider, f"{self.provider}: the model stream had no parseable "
                        "content", model=self.model, failover=True)
                    raise self._error
                raise StopAsyncIteration
            self._waiter = Deferred()
            await self._waiter

    def drain_ready(self) -> list[SseEvent]:
        """Events already parsed (no wait)."""
        events = list(self._events)
        self._events.clear()
        return events


def _describe(reason: Failure) -> str:
    value = reason.value
    inner = getattr(value, "reasons", None)
    if inner:
        return "; ".join(_describe(item) for item in inner)
    return str(value) or type(value).__name__


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _error_message(body: bytes) -> str:
    """The provider's own error text from a JSON error body (OpenAI/Anthropic shapes)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(parsed.get("message"), str):
            return str(parsed["message"])
        if isinstance(parsed.get("detail"), str):
            return str(parsed["detail"])
    return text[:500]


_CONTEXT_HINTS: Final = ("context length", "context window", "maximum context", "too many tokens",
                         "context_length_exceeded", "prompt is too long")


@attrs.define
class PostStreamOptions:
    provider: str
    model: str | None
    url: str
    headers: Mapping[str, str]
    body: Any
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    max_retry_wait: float = MAX_RETRY_WAIT_S
    on_retry: Callable[[int, float, ProviderError], None] | None = None
    payload: bytes | None = None        # the body encoded (encode())

    def encode(self) -> bytes:
        """The body as sent (compact UTF-8 JSON), encoded once."""
        if self.payload is None:
            text = json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)
            try:
                self.payload = text.encode("utf-8")
            except UnicodeEncodeError:      # a lone surrogate: escaped instead
                self.payload = json.dumps(self.body, separators=(",", ":")).encode("ascii")
        return self.payload


@implementer(IBodyProducer)
class _BytesBody:
    """A request body already in memory, written at once (``FileBodyProducer`` would write it
    one reactor iteration after the headers)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self._data)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


def _request(client: HTTPClient, clock: IReactorTime, url: str, headers: Mapping[str, str],
             payload: bytes, timeout: float) -> Deferred[Any]:
    """One POST through the client's agent: no cookie jar, redirects or content decoding
    (what ``treq`` wraps around every request; model APIs answer directly), with treq's
    timeout semantics (the request is cancelled when no response arrives in time)."""
    agent = getattr(client, "openclaw_agent", None)
    if agent is None:       # a plain treq client
        plain: dict[bytes | str, list[bytes | str]] = {k: [v] for k, v in headers.items()}
        return client.request("POST", url, data=payload, headers=plain, unbuffered=True,
                              timeout=timeout, reactor=clock)  # type: ignore[arg-type]
    from twisted.web.http_headers import Headers

    try:
        target = url.encode("ascii")
    except UnicodeEncodeError:
        from hyperlink import EncodedURL

        target = EncodedURL.from_text(url).to_uri().to_text().encode("ascii")
    raw = Headers()
    for name, value in headers.items():
        raw.setRawHeaders(name, [value])
    requesting: Deferred[Any] = agent.request(b"POST", target, raw, _BytesBody(payload))
    if timeout:
        timer = clock.callLater(timeout, requesting.cancel)

        def settled(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        requesting.addBoth(settled)
    return requesting


async def post_stream(client: HTTPClient, clock: IReactorTime, options: PostStreamOptions,
                      cancelled: Callable[[], bool] = lambda: False) -> tuple[SseStream, Any]:
    """POST ``options.body`` and return ``(events, response)`` once a 2xx status arrived."""
    payload = options.encode()
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
               **options.headers}
    attempt = 0
    stale_retried = False
    slots: OriginSlots | None = getattr(client, "openclaw_slots", None)
    while True:
        release = await slots.acquire(options.url) if slots is not None else _no_slot
        try:
            response = await _request(client, clock, options.url, headers, payload,
                                      options.timeout)
        except Exception as e:
            release()
            if cancelled():
                raise CancelledError() from None
            if _is_timeout(e):
                error = ProviderError(
                    options.provider,
                    f"{options.provider}: no response from {options.url} within "
                    f"{options.timeout:g}s (timeout)", model=options.model, kind=KIND_TIMEOUT,
                    failover=True)
                if attempt < options.retries:
                    attempt += 1
                    await _sleep(clock, _backoff(attempt), options, attempt, error)
                    continue
                raise error from e
            if _is_stale_connection(e) and (not stale_retried or attempt < options.retries):
                # a pooled keep-alive connection the server had closed, or a new one it never
                # accepted (lost after UNACKED_TIMEOUT_S): again on a new connection, after a
                # random pause so a crowd of such requests does not return all at once
                if stale_retried:
                    attempt += 1
                stale_retried = True
                await deferLater(clock, random.uniform(0.05, 0.5) * (attempt + 1),
                                 lambda: None)
                if cancelled():
                    raise CancelledError() from None
                continue
            if isinstance(e, ConnectError | ConnectionRefusedError | DNSLookupError):
                raise ProviderError(
                    options.provider,
                    f"{options.provider}: cannot connect to {options.url}: {e}",
                    model=options.model, failover=True) from e
            raise ProviderError(
                options.provider, f"{options.provider}: request to {options.url} failed: "
                f"{_describe(Failure(e))}", model=options.model, failover=True) from e
        status = int(response.code)
        if 200 <= status < 300:
            stream = SseStream(options.provider, options.model, clock, options.timeout)
            stream.on_end = release
            stream._attach(response)
            return stream, response
        try:
            body = await _read_limited(response, clock)
        finally:
            release()
        kind, failover = classify_status(status)
        message = _error_message(body)
        if status == 400 and any(hint in message.lower() for hint in _CONTEXT_HINTS):
            kind = KIND_CONTEXT
        retry_header = response.headers.getRawHeaders("retry-after")
        retry_after = parse_retry_after(retry_header[0] if retry_header else None,
                                        clock.seconds())
        error = ProviderError(
            options.provider,
            f"{options.provider} returned HTTP {status}"
            + (f" for model {options.model}" if options.model else "")
            + (f": {message}" if message else ""),
            model=options.model, status=status, kind=kind, retry_after=retry_after,
            failover=failover, body=message or None)
        retryable = status == 429 or status == 408 or status >= 500
        if retryable and attempt < options.retries:
            wait = retry_after if retry_after is not None else _backoff(attempt + 1)
            if wait <= options.max_retry_wait:
                attempt += 1
                await _sleep(clock, wait, options, attempt, error)
                if cancelled():
                    raise CancelledError()
                continue
        raise error


def _no_slot() -> None:
    return None


def _is_stale_connection(error: BaseException) -> bool:
    reasons = getattr(error, "reasons", None) or ()
    return bool(reasons) and all(
        isinstance(getattr(r, "value", None), ConnectionDone | ConnectionLost) for r in reasons)


def _is_timeout(error: BaseException) -> bool:
    from twisted.internet.error import ConnectingCancelledError

    # treq's timeout cancels the request: while connecting, or while awaiting the response
    if isinstance(error, defer.TimeoutError | CancelledError | ConnectingCancelledError):
        return True
    reasons = getattr(error, "reasons", None) or ()
    return bool(reasons) and all(
        isinstance(getattr(r, "value", None), defer.TimeoutError | CancelledError)
        for r in reasons)


def _backoff(attempt: int) -> float:
    return float(min(8.0, 0.5 * (2 ** (attempt - 1))))


async def _sleep(clock: IReactorTime, seconds: float, options: PostStreamOptions, attempt: int,
                 error: ProviderError) -> None:
    if options.on_retry is not None:
        options.on_retry(attempt, seconds, error)
    await deferLater(clock, seconds, lambda: None)


async def _read_limited(response: Any, clock: IReactorTime) -> bytes:
    chunks: list[bytes] = []
    size = 0

    def collect(data: bytes) -> None:
        nonlocal size
        if size < ERROR_BODY_LIMIT:
            chunks.append(data[: ERROR_BODY_LIMIT - size])
            size += len(data)

    import treq

    reading = treq.collect(response, collect)
    reading.addTimeout(10, clock)
    with contextlib.suppress(Exception):
        await reading
    return b"".join(chunks)


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def chunk_json(text: str) -> Any:
    """A streamed chunk's JSON (an SSE event's data), or None: orjson, three times faster than
    json on a stream's many small chunks. It differs from json only where a chunk never
    matters: an integer past 64 bits reads as a float. What orjson refuses (NaN, 1e400...)
    json decides, as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json_or_none(text)


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "KIND_UNKNOWN",
    "PostStreamOptions",
    "SseEvent",
    "SseParser",
    "SseStream",
    "make_http_client",
    "parse_retry_after",
    "post_stream",
]
