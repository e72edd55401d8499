"""The gateway WebSocket of the fake Discord server (Autobahn, ``?v=10&encoding=json``).

What a connection does, as Discord documents it: the server sends Hello (op 10) with its
``heartbeat_interval``; the client heartbeats (op 1, answered by op 11) and identifies (op 2:
token, intents) to get ``READY`` (``session_id``, ``resume_gateway_url``) and then ``GUILD_CREATE``
and ``MESSAGE_CREATE`` dispatches (op 0) numbered by ``s``. After a drop the client resumes
(op 6: token, session id, last ``s``): the server replays what it missed and sends ``RESUMED``.
The server can ask for a reconnect (op 7) or invalidate the session (op 9, ``d``: resumable).
Close codes: 4001 unknown opcode, 4002 decode error, 4003 not authenticated, 4004
authentication failed, 4005 already authenticated, 4007 invalid seq, 4008 rate limited, 4009
session timed out (no heartbeat in time), 4010 invalid shard, 4012 invalid API version, 4013
invalid intents, 4014 disallowed intents (a privileged intent the application lacks).

Tests observe each connection through a :class:`GatewayConnection` (recorded in
``DiscordServer.connections``) and steer it: :meth:`GatewayConnection.drop`,
:meth:`~GatewayConnection.close`, :meth:`~GatewayConnection.request_reconnect`,
:meth:`~GatewayConnection.invalidate_session`.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionRequest
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall

from openclaw.testing.recorder import Recorder

if TYPE_CHECKING:
    from openclaw.testing.discord_api import DiscordBot, DiscordServer


class Intents:
    """Gateway intent bits (``identify.intents``)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1            # privileged
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8          # privileged
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15         # privileged
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25

    ALL = (sum(1 << bit for bit in range(17)) | (1 << 20) | (1 << 21) | (1 << 24)
           | (1 << 25))


class ApplicationFlags:
    """``flags`` of ``GET /oauth2/applications/@me``: which privileged intents are enabled."""

    GATEWAY_PRESENCE = 1 << 12
    GATEWAY_PRESENCE_LIMITED = 1 << 13
    GATEWAY_GUILD_MEMBERS = 1 << 14
    GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
    VERIFICATION_PENDING_GUILD_LIMIT = 1 << 16
    EMBEDDED = 1 << 17
    GATEWAY_MESSAGE_CONTENT = 1 << 18
    GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
    APPLICATION_COMMAND_BADGE = 1 << 23


# privileged intent -> the application flags that allow it (full or "limited", < 100 guilds)
PRIVILEGED_INTENTS = {
    Intents.GUILD_MEMBERS: ApplicationFlags.GATEWAY_GUILD_MEMBERS
    | ApplicationFlags.GATEWAY_GUILD_MEMBERS_LIMITED,
    Intents.GUILD_PRESENCES: ApplicationFlags.GATEWAY_PRESENCE
    | ApplicationFlags.GATEWAY_PRESENCE_LIMITED,
    Intents.MESSAGE_CONTENT: ApplicationFlags.GATEWAY_MESSAGE_CONTENT
    | ApplicationFlags.GATEWAY_MESSAGE_CONTENT_LIMITED,
}


class Op:
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11
    REQUEST_SOUNDBOARD_SOUNDS = 31


CLOSE_REASONS = {
    4000: "Unknown error.",
    4001: "Unknown opcode.",
    4002: "Decode error.",
    4003: "Not authenticated.",
    4004: "Authentication failed.",
    4005: "Already authenticated.",
    4007: "Invalid seq.",
    4008: "Rate limited.",
    4009: "Session timed out.",
    4010: "Invalid shard.",
    4011: "Sharding required.",
    4012: "Invalid API version.",
    4013: "Invalid intent(s).",
    4014: "Disallowed intent(s).",
}
MAX_PAYLOAD_BYTES = 4096
SEND_LIMIT = 120          # client payloads per SEND_WINDOW seconds, then 4008
SEND_WINDOW = 60.0
REPLAY_BUFFER = 1000      # dispatches kept per session for RESUME
GATEWAY_TRACE = ['["fake-discord-gateway",{"micros":0.0}]']


@attrs.define(eq=False)
class GatewaySession:
    """One identified session (survives its connection until resumed or expired)."""

    session_id: str
    bot: DiscordBot
    intents: int
    shard: list[int] | None
    seq: int = 0
    buffer: deque[dict[str, Any]] = attrs.Factory(lambda: deque(maxlen=REPLAY_BUFFER))
    connection: GatewayConnection | None = None
    disconnected_at: float | None = None
    invalidated: bool = False

    def has(self, intent: int) -> bool:
        return bool(self.intents & intent)


@attrs.define(eq=False)
class GatewayConnection:
    """One WebSocket connection, as a test sees it.

    ``identified``/``resumed`` fire with the (first) session, ``closed`` with ``(code,
    reason)`` of the close (1006 when the TCP connection just dropped). ``received`` records
    every payload from the client, ``sent`` every payload to it.
    """

    path: str
    query: dict[str, str]
    opened_at: float
    protocol: GatewayServerProtocol
    identify: dict[str, Any] | None = None
    resume: dict[str, Any] | None = None
    session: GatewaySession | None = None
    heartbeats: int = 0
    received: Recorder[dict[str, Any]] = attrs.Factory(Recorder)
    sent: list[dict[str, Any]] = attrs.Factory(list)
    identified: Deferred[GatewaySession] = attrs.Factory(Deferred)
    resumed: Deferred[GatewaySession] = attrs.Factory(Deferred)
    closed: Deferred[tuple[int | None, str | None]] = attrs.Factory(Deferred)
    close_code: int | None = None
    close_reason: str | None = None
    is_open: bool = True

    def send(self, payload: dict[str, Any]) -> None:
        if self.is_open:
            self.sent.append(payload)
            self.protocol.sendMessage(json.dumps(payload, separators=(",", ":")).encode())

    def close(self, code: int = 4000, reason: str | None = None) -> None:
        """Close with a gateway close code (4000 is resumable, like a server restart)."""
        self.protocol.close_with(code, reason)

    def drop(self) -> None:
        """Cut the TCP connection without a close frame (the client sees 1006)."""
        transport = self.protocol.transport
        if transport is not None:
            transport.abortConnection()  # type: ignore[attr-defined]

    def request_reconnect(self) -> None:
        """Op 7: the client should reconnect and resume."""
        self.send({"op": Op.RECONNECT, "d": None, "s": None, "t": None})

    def request_heartbeat(self) -> None:
        """Op 1 from the server: the client must heartbeat now."""
        self.send({"op": Op.HEARTBEAT, "d": None, "s": None, "t": None})

    def invalidate_session(self, resumable: bool = False) -> None:
        """Op 9. Not resumable: the session is gone and the client must identify again."""
        session = self.session
        if session is not None and not resumable:
            session.invalidated = True
            session.connection = None
            self.session = None
        self.send({"op": Op.INVALID_SESSION, "d": resumable, "s": None, "t": None})


class GatewayServerProtocol(WebSocketServerProtocol):
    factory: GatewayFactory

    def __init__(self) -> None:
        super().__init__()
        self.connection: GatewayConnection | None = None
        self._watchdog: IDelayedCall | None = None
        self._recent: deque[float] = deque()
        self._bad_query: tuple[int, str] | None = None
        self._path = "/"
        self._query: dict[str, str] = {}

    # -- Autobahn callbacks

    def onConnect(self, request: ConnectionRequest) -> None:
        self._path = request.path
        self._query = {k: v[0] for k, v in request.params.items() if v}
        version = self._query.get("v")
        if version not in ("9", "10"):
            self._bad_query = (4012, "Invalid API version.")
        elif self._query.get("encoding", "json") != "json" or self._query.get("compress"):
            # Discord also speaks ETF and zlib-stream; this fake only plain JSON.
            self._bad_query = (4002, "Decode error. (this fake Discord gateway only speaks "
                                     "encoding=json without compress)")

    def onOpen(self) -> None:
        server = self.factory.server
        connection = GatewayConnection(self._path, self._query, server.now(), self)
        connection.received.use_reactor(server.reactor)
        self.connection = connection
        self.factory.live.add(self)
        server.connections.record(connection)
        if self._bad_query is not None:
            self.close_with(*self._bad_query)
            return
        connection.send({"op": Op.HELLO, "s": None, "t": None, "d": {
            "heartbeat_interval": int(server.heartbeat_interval * 1000), "_trace": GATEWAY_TRACE}})
        self._arm_watchdog()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        connection = self.connection
        if connection is None or not connection.is_open:
            return
        if isBinary or len(payload) > MAX_PAYLOAD_BYTES:
            self.close_with(4002)
            return
        try:
            frame = json.loads(payload)
        except ValueError:
            self.close_with(4002)
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("op"), int) or isinstance(
                frame.get("op"), bool):
            self.close_with(4002)
            return
        connection.received.record(frame)
        now = self.factory.server.now()
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - SEND_WINDOW:
            self._recent.popleft()
        if len(self._recent) > SEND_LIMIT:
            self.close_with(4008)
            return
        op, data = frame["op"], frame.get("d")
        if op == Op.HEARTBEAT:
            self._heartbeat(connection, data)
        elif op == Op.IDENTIFY:
            self.factory.server.gateway_identify(connection, data)
        elif op == Op.RESUME:
            self.factory.server.gateway_resume(connection, data)
        elif op in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE, Op.REQUEST_GUILD_MEMBERS,
                    Op.REQUEST_SOUNDBOARD_SOUNDS):
            if connection.session is None:
                self.close_with(4003)
        else:
            self.close_with(4001)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self._disarm_watchdog()
        self.factory.live.discard(self)
        connection = self.connection
        if connection is None or not connection.is_open:
            return
        connection.is_open = False
        if connection.close_code is None:
            connection.close_code, connection.close_reason = code, reason
        session = connection.session
        if session is not None and session.connection is connection:
            session.connection = None
            session.disconnected_at = self.factory.server.now()
        connection.closed.callback((connection.close_code, connection.close_reason))

    # -- helpers

    def close_with(self, code: int, reason: str | None = None) -> None:
        connection = self.connection
        reason = reason or CLOSE_REASONS.get(code, "")
        if connection is not None and connection.is_open and connection.close_code is None:
            connection.close_code, connection.close_reason = code, reason
        self._disarm_watchdog()
        self.sendClose(code, reason)

    def _heartbeat(self, connection: GatewayConnection, data: Any) -> None:
        connection.heartbeats += 1
        self._arm_watchdog()
        connection.send({"op": Op.HEARTBEAT_ACK, "s": None, "t": None, "d": None})

    def _arm_watchdog(self) -> None:
        self._disarm_watchdog()
        server = self.factory.server
        self._watchdog = server.clock.callLater(server.heartbeat_timeout, self._timed_out)

    def _disarm_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.active():
            self._watchdog.cancel()
        self._watchdog = None

    def _timed_out(self) -> None:
        self._watchdog = None
        connection = self.connection
        if connection is not None and connection.session is not None:
            # Discord: "Your session timed out. Reconnect and start a new one."
            connection.session.invalidated = True
        self.close_with(4009)


class _ReactorTimer:
    """Autobahn's batched timer on the network reactor, one cancellable call each, so a test
    reactor is clean as soon as the connections are closed."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def call_later(self, delay: float, func: Callable[..., Any], *args: Any, **kwargs: Any
                   ) -> Any:
        return self._reactor.callLater(delay, func, *args, **kwargs)


class GatewayFactory(WebSocketServerFactory):
    protocol = GatewayServerProtocol  # type: ignore[assignment]

    def __init__(self, server: DiscordServer) -> None:
        super().__init__(reactor=server.reactor)
        self.server = server
        self.live: set[GatewayServerProtocol] = set()
        self._batched_timer = _ReactorTimer(server.reactor)
        self.setProtocolOptions(webStatus=False, allowedOrigins=["*"],
                                closeHandshakeTimeout=1.0, openHandshakeTimeout=5.0,
                                perMessageCompressionAccept=lambda offers: None)

    def abort_all(self) -> None:
        for protocol in list(self.live):
            transport = protocol.transport
            if transport is not None:
                transport.abortConnection()  # type: ignore[attr-defined]


def new_session_id() -> str:
    return secrets.token_hex(16)


def dispatch_frame(session: GatewaySession, event: str, data: Any) -> dict[str, Any]:
    """Number a dispatch for ``session``, keep it for RESUME, send it if connected."""
    session.seq += 1
    frame = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
    session.buffer.append(frame)
    if session.connection is not None:
        session.connection.send(frame)
    return frame
