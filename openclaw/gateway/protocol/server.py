"""The Autobahn server protocol: a thin adapter around :class:`GatewayConnection`.

It captures the peer address and upgrade headers in ``onConnect``, sends frames with
``sendMessage``, and closes with ``sendCloseFrame`` because Autobahn's public ``sendClose``
refuses the codes OpenClaw needs (1002, 1008, 1009, 1012, 1013).

Backpressure: the protocol is the streaming producer of its transport (``registerProducer``).
When the transport's write buffer fills (a client not reading what it asked for), the
transport pauses it: it stops reading from the socket and holds the messages already read,
and answers them, in order, once the buffer has drained. A client that does not read thus
stops being served instead of making the gateway queue its answers; events still queue up to
``maxBufferedBytes`` (then 1008), and a client that reads nothing of what it is owed for
``STALLED_OUTPUT_TIMEOUT_S`` is closed 1008 too (both logged: "closing slow consumer").
Requests answered asynchronously count: at most ``MAX_PENDING_REQUESTS`` run at once per
connection. When the connection is gone, the dead
transport's write buffers are dropped at once (they would otherwise live until the cyclic
garbage collector reaches the protocol), and when that was a lot the factory's
:class:`~openclaw.gateway.status.memory.MemoryReclaimer` returns the freed memory to the
system.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

from autobahn.twisted.websocket import WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from openclaw.auth.preauth import BUDGET_FULL_TEXT, PreauthSlot, budget_key
from openclaw.autobahn_timers import cancel_close_timer
from openclaw.gateway.protocol.transport import IConnectionTransport, PeerInfo

if TYPE_CHECKING:
    from openclaw.gateway.protocol.connection import GatewayConnection
    from openclaw.gateway.protocol.factory import GatewayWebSocketFactory

#: Requests of one connection answered asynchronously that may run at once; more wait (and the
#: connection is not read) until one finishes.
MAX_PENDING_REQUESTS: Final = 64
#: A client whose unread output stays over the transport's buffer size this long, while its
#: own requests wait to be answered, is closed 1008 ("slow consumer").
STALLED_OUTPUT_TIMEOUT_S: Final = 10.0


def pending_write_bytes(transport: Any) -> int:
    """Bytes queued in Twisted transports but not yet written to the socket.

    Twisted exposes no ``bufferedAmount``; ``FileDescriptor`` keeps its write buffer in
    ``dataBuffer``/``offset``/``_tempDataLen`` and the TLS wrapper keeps unsent application
    bytes in ``_appSendBuffer``. Walk the ``.transport`` chain and add them up.
    """
    total = 0
    seen: set[int] = set()
    current = transport
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        data = getattr(current, "dataBuffer", None)
        if isinstance(data, bytes | bytearray | memoryview):
            total += len(data) - int(getattr(current, "offset", 0) or 0)
            total += int(getattr(current, "_tempDataLen", 0) or 0)
        app_buffer = getattr(current, "_appSendBuffer", None)
        if isinstance(app_buffer, list):
            total += sum(len(chunk) for chunk in app_buffer)
        current = getattr(current, "transport", None)
    return max(total, 0)


def release_write_buffers(transport: Any) -> int:
    """Drop what a closed transport still holds for writing (nothing will be sent now);
    returns the bytes dropped."""
    dropped = pending_write_bytes(transport)
    seen: set[int] = set()
    current = transport
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(getattr(current, "dataBuffer", None), bytes | bytearray | memoryview):
            current.dataBuffer = b""
            current.offset = 0
        if isinstance(getattr(current, "_tempDataBuffer", None), list):
            current._tempDataBuffer = []
            current._tempDataLen = 0
        if isinstance(getattr(current, "_appSendBuffer", None), list):
            current._appSendBuffer = []
        current = getattr(current, "transport", None)
    return dropped


@implementer(IConnectionTransport)
class _AutobahnTransport:
    __slots__ = ("_protocol",)

    def __init__(self, protocol: GatewayServerProtocol) -> None:
        self._protocol = protocol

    def send_frame(self, data: bytes) -> None:
        protocol = self._protocol
        if protocol.state != WebSocketProtocol.STATE_OPEN:
            return
        # Autobahn applies maxMessagePayloadSize to outgoing messages too; OpenClaw's limits
        # (64 KiB before hello, maxPayload after) are inbound only.
        limit = protocol.maxMessagePayloadSize
        protocol.maxMessagePayloadSize = 0
        try:
            protocol.sendMessage(data, False)
        finally:
            protocol.maxMessagePayloadSize = limit

    def close(self, code: int, reason: str) -> None:
        protocol = self._protocol
        if protocol.state == WebSocketProtocol.STATE_OPEN:
            protocol.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8"), isReply=False)
        elif protocol.state != WebSocketProtocol.STATE_CLOSED:
            protocol.dropConnection(abort=False)

    def buffered_bytes(self) -> int:
        transport: Any = self._protocol.transport
        try:
            # Plain TCP (the common case): FileDescriptor's write buffer, read directly.
            return int(len(transport.dataBuffer) - transport.offset + transport._tempDataLen)
        except AttributeError:
            return pending_write_bytes(transport)

    def set_max_message_size(self, size: int) -> None:
        self._protocol.maxMessagePayloadSize = size


_HANDSHAKE_STATE = ("http_request_data", "http_response_data", "http_headers",
                    "http_request_params")


@implementer(IPushProducer)
class GatewayServerProtocol(WebSocketServerProtocol):
    log = Logger()
    factory: GatewayWebSocketFactory

    def __init__(self) -> None:
        super().__init__()
        self.connection: GatewayConnection | None = None
        self.peer_info: PeerInfo | None = None
        # read, waiting to be served (made when first needed: most connections never hold one)
        self._inbox: deque[tuple[bytes, bool]] | None = None
        self._output_paused = False
        self._reading_paused = False
        self._stall_timer: Any = None
        self.preauth_slot: PreauthSlot | None = None

    def onConnect(self, request: Any) -> None:
        headers = {str(name).lower(): str(value) for name, value in request.headers.items()}
        address = None
        if self.transport is not None:
            address = getattr(self.transport.getPeer(), "host", None)
        self.peer_info = PeerInfo(remote_address=address, headers=headers)
        # One slot of the per-IP pre-auth budget until the handshake passed or the socket
        # closed (the site answers a full budget before the upgrade; this is the backstop).
        context = self.factory.context
        self.preauth_slot = context.preauth_budget.acquire(budget_key(
            address, headers, context.auth.trusted_proxies,
            allow_real_ip_fallback=context.auth.allow_real_ip_fallback))
        if self.preauth_slot is None:
            raise ConnectionDeny(503, BUDGET_FULL_TEXT)
        return None

    def _authenticated(self, connection: GatewayConnection) -> None:
        self._release_preauth()
        self.factory.connection_authenticated(connection)

    def _release_preauth(self) -> None:
        slot, self.preauth_slot = self.preauth_slot, None
        if slot is not None:
            slot.release()

    def onOpen(self) -> None:
        # The protocol core (handshake, auth flow, dispatch) loads with the first connection,
        # not at gateway start-up.
        from openclaw.gateway.protocol.connection import GatewayConnection

        factory = self.factory
        peer = self.peer_info or PeerInfo(remote_address=None)
        self.maxMessagePayloadSize = factory.context.policy.max_preauth_payload
        self.connection = GatewayConnection(
            factory.context,
            factory.methods,
            _AutobahnTransport(self),
            peer,
            on_authenticated=self._authenticated,
            on_closed=factory.connection_closed,
        )
        self.connection.request_settled = self._drain
        transport: Any = self.transport
        if transport is not None:
            # twisted.web's HTTPChannel (the upgrade request's) is the transport's producer
            # until now; from here on this protocol is
            transport.unregisterProducer()
            transport.registerProducer(self, True)
        factory.protocol_opened(self)
        # the opening handshake's request and response, kept by Autobahn for the life of the
        # connection, are never read again (PeerInfo holds the headers the gateway needs)
        for name in _HANDSHAKE_STATE:
            if name in self.__dict__:
                setattr(self, name, None)
        self.connection.on_open()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.connection is None:
            return
        if self._inbox or self._held():
            if self._inbox is None:
                self._inbox = deque()
            self._inbox.append((payload, isBinary))
            self._pause_reading()
            return
        self._serve(payload, isBinary)

    def _serve(self, payload: bytes, isBinary: bool) -> None:
        connection = self.connection
        if connection is None:
            return
        try:
            connection.on_message(payload, isBinary)
        except Exception:
            self.log.failure("unhandled error in message handling")
            connection.close(1011, "internal error")

    def _held(self) -> bool:
        connection = self.connection
        return self._output_paused or (
            connection is not None and connection.pending_requests >= MAX_PENDING_REQUESTS)

    def _drain(self) -> None:
        """Serve held messages while the output has room; read again once all are served."""
        while self._inbox and not self._held():
            connection = self.connection
            if connection is None or connection.is_closed:
                self._inbox = None
                return
            payload, is_binary = self._inbox.popleft()
            self._serve(payload, is_binary)
        if not self._inbox and not self._held():
            self._resume_reading()

    def _pause_reading(self) -> None:
        transport: Any = self.transport     # TCP or TLS: both IPushProducer
        if not self._reading_paused and transport is not None:
            self._reading_paused = True
            transport.pauseProducing()

    def _resume_reading(self) -> None:
        transport: Any = self.transport
        if self._reading_paused and transport is not None:
            self._reading_paused = False
            transport.resumeProducing()

    # -- IPushProducer: the transport's write buffer is full / has drained --------------------

    def pauseProducing(self) -> None:
        self._output_paused = True
        self._pause_reading()
        if self._stall_timer is None:
            self._stall_timer = self.factory.context.clock.callLater(
                STALLED_OUTPUT_TIMEOUT_S, self._stalled)

    def resumeProducing(self) -> None:
        self._output_paused = False
        self._cancel_stall_timer()
        self._drain()

    def stopProducing(self) -> None:
        self._inbox = None
        self._cancel_stall_timer()

    def _stalled(self) -> None:
        self._stall_timer = None
        connection = self.connection
        if self._output_paused and self._inbox and connection is not None:
            connection.close_slow_consumer(
                f"nothing read for {STALLED_OUTPUT_TIMEOUT_S:g}s while answers are owed")

    def _cancel_stall_timer(self) -> None:
        timer, self._stall_timer = self._stall_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    # -- closing ------------------------------------------------------------------------------

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)
        self._inbox = None
        self._cancel_stall_timer()
        self._release_preauth()
        if self.connection is not None:
            self.connection.on_closed()
        self.factory.protocol_closed(self)

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        transport = self.transport
        super().connectionLost(reason)
        self._inbox = None
        if transport is not None:
            self.factory.memory.released(release_write_buffers(transport))

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        connection = self.connection
        if connection is None:
            super()._max_message_size_exceeded(msg_size, max_msg_size, reason)
            return
        # Stop buffering the oversized message; the close frame carries OpenClaw's reason.
        self.failedByMe = True
        connection.on_oversized_message()
