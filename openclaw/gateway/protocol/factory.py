"""The WebSocket factory the web service mounts with ``WebSocketResource``.

It owns what is gateway-wide on the WS side: the set of live protocols, the authenticated
connections, the ``tick`` timer, the periodic health refresh, and a bounded graceful
shutdown (``shutdown`` event, close 1012, wait). ``Site`` does not start or stop factories
mounted as resources, so the web service calls :meth:`GatewayWebSocketFactory.start` and
:meth:`GatewayWebSocketFactory.stop` itself.
"""

from __future__ import annotations

from types import FunctionType
from typing import TYPE_CHECKING, Any, cast

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet import defer
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from openclaw.auth.decision import AuthSettings
from openclaw.autobahn_timers import ReactorTimer
from openclaw.gateway.protocol.constants import HEALTH_REFRESH_INTERVAL_MS
from openclaw.gateway.protocol.context import GatewayContext
from openclaw.gateway.protocol.dispatch import MethodRegistry
from openclaw.gateway.protocol.frames import RawJson
from openclaw.gateway.protocol.server import GatewayServerProtocol
from openclaw.gateway.status import build_info
from openclaw.gateway.status.memory import MemoryReclaimer

if TYPE_CHECKING:
    from openclaw.gateway.protocol.connection import GatewayConnection


def _class_attribute(value: Any) -> Any:
    return staticmethod(value) if isinstance(value, FunctionType) else value


class GatewayWebSocketFactory(WebSocketServerFactory):
    """Autobahn factory of :class:`GatewayServerProtocol` for one :class:`GatewayContext`."""

    protocol = GatewayServerProtocol  # type: ignore[assignment]
    log = Logger()

    def __init__(
        self,
        context: GatewayContext,
        methods: MethodRegistry,
        *,
        close_handshake_timeout: float = 1.0,
        open_handshake_timeout: float = 5.0,
        auto_ping_interval: float = 0.0,
    ) -> None:
        super().__init__(reactor=context.clock)
        self.context = context
        self.methods = methods
        # Autobahn schedules its protocol timeouts through txaio's global reactor by default.
        self._batched_timer = ReactorTimer(context.clock)
        self.setProtocolOptions(
            webStatus=False,
            # Origin is checked by the connect handshake (CONTROL_UI_ORIGIN_NOT_ALLOWED), as
            # the reference gateway does, so Autobahn itself accepts every Origin.
            allowedOrigins=["*"],
            maxMessagePayloadSize=context.policy.max_payload,
            closeHandshakeTimeout=close_handshake_timeout,
            openHandshakeTimeout=open_handshake_timeout,
            autoPingInterval=auto_ping_interval,
            perMessageCompressionAccept=lambda offers: None,
            # Answer a client's close with its own code and reason, like the ws library.
            echoCloseCodeReason=True,
            # A protocol error or invalid UTF-8 in a text frame is answered with a close frame
            # (1002 / 1007) before the TCP close, not a bare TCP drop (seen as 1006).
            failByDrop=False,
        )
        # Autobahn copies ~45 options from the factory into every protocol instance's dict
        # unless the class already has them: a subclass per factory holds them once (about
        # 4 KB less per connection). An option changed later (set_max_message_size) is set on
        # the instance, as before. A callable option (perMessageCompressionAccept) must stay
        # a plain function on the class, not become a method bound to the protocol.
        self.protocol = cast(type[GatewayServerProtocol], type(
            GatewayServerProtocol.__name__, (GatewayServerProtocol,),
            {name: _class_attribute(getattr(self, name))
             for name in GatewayServerProtocol.CONFIG_ATTRS}))
        self.live: set[GatewayServerProtocol] = set()
        self.memory = MemoryReclaimer(context.clock)
        self.connections: dict[str, GatewayConnection] = {}
        self._tick = LoopingCall(self._send_tick)
        self._tick.clock = context.clock
        self._health_refresh = LoopingCall(self._refresh_health)
        self._health_refresh.clock = context.clock
        self._running = False
        context.health.on_refresh = self._broadcast_health
        context.active_requests = self._active_requests

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start timers (tick, health refresh, event-loop sampling). Idempotent."""
        if self._running:
            return
        self._running = True
        policy = self.context.policy
        self._tick.start(policy.tick_interval_ms / 1000.0, now=False)
        self._health_refresh.start(HEALTH_REFRESH_INTERVAL_MS / 1000.0, now=True)
        self.context.event_loop.start()
        build_info.warm(self.context.version, self.context.run_blocking)
        self.log.info("gateway websocket factory started")

    def stop(self) -> None:
        """Stop timers. Does not close connections: use :meth:`shutdown` first."""
        if not self._running:
            return
        self._running = False
        for loop in (self._tick, self._health_refresh):
            if loop.running:
                loop.stop()
        self.memory.stop()
        self.context.event_loop.stop()

    def startFactory(self) -> None:
        super().startFactory()
        self.start()

    def stopFactory(self) -> None:
        self.stop()
        super().stopFactory()

    async def shutdown(
        self, reason: str = "gateway stopping", restart_expected_ms: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        """Send ``shutdown`` to every client, close them with 1012, wait at most ``timeout``."""
        self.stop()
        notice: dict[str, Any] = {"reason": reason or "gateway stopping"}
        if restart_expected_ms is not None:
            notice["restartExpectedMs"] = max(0, int(restart_expected_ms))
        protocols = list(self.live)
        waiters: list[Deferred[Any]] = []
        for protocol in protocols:
            closed = getattr(protocol, "is_closed", None)
            if isinstance(closed, Deferred) and not closed.called:
                waiters.append(closed)
            if protocol.connection is not None:
                protocol.connection.shutdown(notice)
            else:
                protocol.dropConnection(abort=True)
        if not waiters:
            return
        pending: Deferred[Any] = DeferredList(waiters, consumeErrors=True)
        pending.addTimeout(timeout, self.context.clock)
        try:
            await pending
        except defer.TimeoutError:
            stragglers = [p for p in self.live if p in protocols]
            self.log.warn("{count} websocket(s) did not close in time; aborting",
                          count=len(stragglers))
            for protocol in stragglers:
                protocol.dropConnection(abort=True)

    def apply_auth_settings(self, settings: AuthSettings) -> int:
        """Swap auth settings; shared-secret sessions of a rotated secret close 4001."""
        context = self.context
        context.auth = settings
        context.rate_limiter.settings = settings.rate_limit
        fingerprint = settings.shared_secret_fingerprint()
        closed = 0
        for connection in list(self.connections.values()):
            current = connection.shared_auth_fingerprint
            if current is not None and current != fingerprint:
                connection.close_for_auth_change()
                closed += 1
        return closed

    # -- bookkeeping (called by protocols and connections) -------------------------------

    def protocol_opened(self, protocol: GatewayServerProtocol) -> None:
        self.live.add(protocol)

    def protocol_closed(self, protocol: GatewayServerProtocol) -> None:
        self.live.discard(protocol)

    def connection_authenticated(self, connection: GatewayConnection) -> None:
        self.connections[connection.conn_id] = connection

    def connection_closed(self, connection: GatewayConnection) -> None:
        if self.connections.get(connection.conn_id) is connection:
            del self.connections[connection.conn_id]

    def _active_requests(self) -> int:
        return sum(connection.pending_requests for connection in self.connections.values())

    # -- periodic work -------------------------------------------------------------------

    def _send_tick(self) -> None:
        try:
            self.context.events.broadcast("tick", {"ts": self.context.now_ms()})
        except Exception:
            self.log.failure("tick broadcast failed")

    def _refresh_health(self) -> None:
        try:
            self.context.health.refresh()
        except Exception:
            self.log.failure("health refresh failed")

    def _broadcast_health(self, encoded: RawJson, version: int) -> None:
        self.context.events.broadcast(
            "health",
            encoded,
            state_version={
                "presence": self.context.presence.version_counter,
                "health": version,
            },
        )


def make_ws_factory(
    context: GatewayContext,
    methods: MethodRegistry,
    close_handshake_timeout: float = 1.0,
    open_handshake_timeout: float = 5.0,
    auto_ping_interval: float = 0.0,
) -> GatewayWebSocketFactory:
    """Build the factory; the lead mounts it with ``WebSocketResource(factory)``."""
    return GatewayWebSocketFactory(
        context,
        methods,
        close_handshake_timeout=close_handshake_timeout,
        open_handshake_timeout=open_handshake_timeout,
        auto_ping_interval=auto_ping_interval,
    )
