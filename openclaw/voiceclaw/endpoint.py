"""``/voiceclaw/realtime`` on Autobahn: the server protocol, its factory, and the endpoint.

The gateway's one-port site routes a WebSocket upgrade on this path here (before the control
protocol). Each connection takes a slot of the shared pre-auth budget in ``onConnect``
(refused with 503 ``Too many unauthenticated sockets`` when its address has none left),
then hands everything to a :class:`~openclaw.voiceclaw.session.VoiceClawSession`. No
subprotocol, Origin or header check happens at the upgrade: the credential comes in
``session.config``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.logger import Logger
from zope.interface import implementer

from openclaw.auth.preauth import BUDGET_FULL_TEXT, PreauthBudget, PreauthSlot
from openclaw.autobahn_timers import ReactorTimer, cancel_close_timer
from openclaw.config.schema import OpenClawConfig
from openclaw.voiceclaw.gemini import DEFAULT_GEMINI_URL
from openclaw.voiceclaw.protocol import MAX_PAYLOAD_BYTES, VOICECLAW_PATH, encode_json
from openclaw.voiceclaw.session import IClientSocket, VoiceClawServices, VoiceClawSession

__all__ = [
    "GEMINI_PROVIDER_ID",
    "GEMINI_URL_ENV",
    "VOICECLAW_PATH",
    "VoiceClawEndpoint",
    "VoiceClawFactory",
    "VoiceClawServerProtocol",
    "gemini_url_for",
]

log = Logger(namespace="voiceclaw")

GEMINI_URL_ENV: Final = "OPENCLAW_VOICECLAW_GEMINI_URL"
GEMINI_PROVIDER_ID: Final = "google"
SHUTDOWN_CLOSE: Final = (1001, "gateway stopping")

BudgetKey = Callable[[str | None, Mapping[str, str]], str]


def gemini_url_for(config: OpenClawConfig, env: Mapping[str, str]) -> str:
    """The Gemini Live endpoint: ``talk.realtime.providers.google.liveUrl``, else
    ``$OPENCLAW_VOICECLAW_GEMINI_URL``, else Google's (both are openclaw-twisted's own)."""
    provider = config.talk.realtime.providers.get(GEMINI_PROVIDER_ID)
    if provider is not None and provider.live_url:
        return provider.live_url
    return env.get(GEMINI_URL_ENV, "").strip() or DEFAULT_GEMINI_URL


@implementer(IClientSocket)
class _ClientSocket:
    __slots__ = ("_protocol",)

    def __init__(self, protocol: VoiceClawServerProtocol) -> None:
        self._protocol = protocol

    def is_open(self) -> bool:
        return bool(self._protocol.state == WebSocketProtocol.STATE_OPEN)

    def send_event(self, event: Mapping[str, Any]) -> None:
        protocol = self._protocol
        if protocol.state != WebSocketProtocol.STATE_OPEN:
            return
        protocol.sendMessage(encode_json(event), isBinary=False)

    def close(self, code: int, reason: str) -> None:
        protocol = self._protocol
        if protocol.state == WebSocketProtocol.STATE_OPEN:
            # Autobahn's sendClose() refuses 1008 and 1011; the frames are valid.
            protocol.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8"), isReply=False)
        elif protocol.state != WebSocketProtocol.STATE_CLOSED:
            protocol.dropConnection(abort=False)


class VoiceClawServerProtocol(WebSocketServerProtocol):
    factory: VoiceClawFactory

    def __init__(self) -> None:
        super().__init__()
        self.session: VoiceClawSession | None = None

    def onConnect(self, request: Any) -> None:
        endpoint = self.factory.endpoint
        headers = {str(name).lower(): str(value) for name, value in request.headers.items()}
        remote = None
        if self.transport is not None:
            remote = getattr(self.transport.getPeer(), "host", None)
        slot = endpoint.acquire_slot(remote, headers)
        if slot is None:
            raise ConnectionDeny(503, BUDGET_FULL_TEXT)
        self.session = VoiceClawSession(endpoint.services, _ClientSocket(self), remote,
                                        headers, slot)
        return None

    def onOpen(self) -> None:
        session = self.session
        if session is not None:
            session.opened()
            self.factory.endpoint.session_opened(session)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self.session
        if session is not None:
            session.received(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)
        session = self.session
        if session is not None:
            session.closed()
            self.factory.endpoint.session_closed(session)


class VoiceClawFactory(WebSocketServerFactory):
    protocol = VoiceClawServerProtocol  # type: ignore[assignment]

    def __init__(self, endpoint: VoiceClawEndpoint) -> None:
        super().__init__(reactor=endpoint.services.reactor)
        self.endpoint = endpoint
        # Autobahn's own handshake timers on the socket reactor, not txaio's global one.
        self._batched_timer = ReactorTimer(endpoint.services.reactor)
        self.setProtocolOptions(
            webStatus=False,
            allowedOrigins=["*"],
            maxMessagePayloadSize=MAX_PAYLOAD_BYTES,
            perMessageCompressionAccept=lambda offers: None,
            autoPingInterval=0,
            echoCloseCodeReason=True,
        )


class VoiceClawEndpoint:
    """The endpoint of one gateway: its services, live sessions, and the resource to mount.

    ``observers`` are called with each session once its socket is open (tests wait on a
    session's ``done`` through them).
    """

    path: Final = VOICECLAW_PATH

    def __init__(self, services: VoiceClawServices, *, budget: Callable[[], PreauthBudget],
                 budget_key: BudgetKey) -> None:
        self.services = services
        self._budget = budget
        self._budget_key = budget_key
        self.sessions: set[VoiceClawSession] = set()
        self.observers: list[Callable[[VoiceClawSession], None]] = []
        self.factory = VoiceClawFactory(self)
        self.factory.noisy = False
        self.resource = WebSocketResource(self.factory)

    def acquire_slot(self, remote: str | None, headers: Mapping[str, str]) -> PreauthSlot | None:
        return self._budget().acquire(self._budget_key(remote, headers))

    def session_opened(self, session: VoiceClawSession) -> None:
        self.sessions.add(session)
        for observer in list(self.observers):
            try:
                observer(session)
            except Exception:
                log.failure("voice session observer failed")

    def session_closed(self, session: VoiceClawSession) -> None:
        self.sessions.discard(session)

    def shutdown(self) -> None:
        """Close every voice socket (the gateway is stopping)."""
        for session in list(self.sessions):
            session.socket.close(*SHUTDOWN_CLOSE)
