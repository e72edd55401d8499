"""The Autobahn server protocol: a thin adapter around :class:`GatewayConnection`.

It captures the peer address and upgrade headers in ``onConnect``, sends frames with
``sendMessage``, and closes with ``sendCloseFrame`` because Autobahn's public ``sendClose``
refuses the codes OpenClaw needs (1002, 1008, 1009, 1012, 1013).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autobahn.twisted.websocket import WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.logger import Logger
from zope.interface import implementer

from openclaw.auth.preauth import BUDGET_FULL_TEXT, PreauthSlot, budget_key
from openclaw.autobahn_timers import cancel_close_timer
from openclaw.gateway.protocol.transport import IConnectionTransport, PeerInfo

if TYPE_CHECKING:
    from openclaw.gateway.protocol.connection import GatewayConnection
    from openclaw.gateway.protocol.factory import GatewayWebSocketFactory


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
            return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        except AttributeError:
            return pending_write_bytes(transport)

    def set_max_message_size(self, size: int) -> None:
        self._protocol.maxMessagePayloadSize = size


class GatewayServerProtocol(WebSocketServerProtocol):
    log = Logger()
    factory: GatewayWebSocketFactory

    def __init__(self) -> None:
        super().__init__()
        self.connection: GatewayConnection | None = None
        self.peer_info: PeerInfo | None = None
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
        factory.protocol_opened(self)
        self.connection.on_open()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        connection = self.connection
        if connection is None:
            return
        try:
            connection.on_message(payload, isBinary)
        except Exception:
            self.log.failure("unhandled error in message handling")
            connection.close(1011, "internal error")

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)
        self._release_preauth()
        if self.connection is not None:
            self.connection.on_closed()
        self.factory.protocol_closed(self)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        connection = self.connection
        if connection is None:
            super()._max_message_size_exceeded(msg_size, max_msg_size, reason)
            return
        # Stop buffering the oversized message; the close frame carries OpenClaw's reason.
        self.failedByMe = True
        connection.on_oversized_message()
