"""The Discord gateway WebSocket (v10, JSON) on Autobahn: one session kept alive.

Per connection: Hello (op 10) gives the heartbeat interval; the first heartbeat (op 1, the
last sequence number) goes after ``interval * random()``, then one per interval; a heartbeat
due while the previous one was not acknowledged (op 11) means a zombie connection, which is
closed (with 4000, keeping the session resumable) and resumed. The client identifies (op 2:
token, intents, properties) or, with a session, resumes (op 6: token, session id, last
``s``) on the session's ``resume_gateway_url``; READY and RESUMED make the connection
ready; every dispatch's ``s`` is kept. Op 1 from the server asks for a heartbeat now; op 7
asks for a reconnect (closed with 4000 and resumed); op 9 invalidates the session
(``d: true``: resume anyway; ``false``: wait 1-5 s and identify anew).

After a drop the loop reconnects after about a second (doubling to 30 s while attempts
fail, with jitter) and resumes. Close codes that no retry can fix -- 4004 authentication
failed, 4010 invalid shard, 4011 sharding required, 4012 invalid API version, 4013 invalid
intents, 4014 disallowed intents -- end the loop with a clear status error instead; 4007
(invalid seq) and 4009 (session timed out) start a new session.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.ssl import optionsForClientTLS
from twisted.internet.task import deferLater
from twisted.logger import Logger

from openclaw.channels.deferreds import settled

log = Logger(namespace="channels.discord")

GUILDS: Final = 1 << 0
GUILD_MEMBERS: Final = 1 << 1
GUILD_EXPRESSIONS: Final = 1 << 3
GUILD_PRESENCES: Final = 1 << 8
GUILD_MESSAGES: Final = 1 << 9
GUILD_MESSAGE_REACTIONS: Final = 1 << 10
DIRECT_MESSAGES: Final = 1 << 12
DIRECT_MESSAGE_REACTIONS: Final = 1 << 13
MESSAGE_CONTENT: Final = 1 << 15
# What upstream identifies with (46601).
DEFAULT_INTENTS: Final = (GUILDS | GUILD_EXPRESSIONS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS
                          | DIRECT_MESSAGES | DIRECT_MESSAGE_REACTIONS | MESSAGE_CONTENT)

FATAL_CLOSES: Final = {
    4004: "Authentication failed. Check channels.discord.token (or DISCORD_BOT_TOKEN).",
    4010: "Invalid shard.",
    4011: "Sharding required.",
    4012: "Invalid API version.",
    4013: "Invalid intent(s).",
    4014: "Disallowed intent(s). Enable the privileged intents this bot asks for (Message "
          "Content) in the Discord Developer Portal (Bot -> Privileged Gateway Intents), or "
          "set channels.discord.intents.messageContent to false.",
}
NEW_SESSION_CLOSES: Final = frozenset({4007, 4009})
RESUMABLE_CLOSE: Final = 4000
RETRY_FIRST_S: Final = 1.0
RETRY_MAX_S: Final = 30.0
CONNECT_TIMEOUT_S: Final = 30.0


class FatalGatewayClose(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Discord gateway closed {code}: {reason}")
        self.code = code


class _ReactorTimer:
    """Autobahn's protocol timers as plain reactor calls (nothing left after a close)."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def call_later(self, delay: float, func: Callable[..., Any], *args: Any,
                   **kwargs: Any) -> Any:
        return self._reactor.callLater(delay, func, *args, **kwargs)


class _Protocol(WebSocketClientProtocol):
    factory: _Factory

    def onOpen(self) -> None:
        self.factory.link.opened(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if isBinary:
            return
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        if isinstance(frame, dict):
            self.factory.link.frame(frame)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.factory.link.closed(code, reason)


class _Factory(WebSocketClientFactory):
    protocol = _Protocol  # type: ignore[assignment]

    def __init__(self, url: str, reactor: Any, link: _Link) -> None:
        super().__init__(url, reactor=reactor)
        self.link = link
        self._batched_timer = _ReactorTimer(reactor)
        self.setProtocolOptions(openHandshakeTimeout=10.0, closeHandshakeTimeout=2.0,
                                perMessageCompressionOffers=[])


class _Link:
    """One WebSocket connection of a :class:`GatewaySession`."""

    def __init__(self, session: GatewaySession) -> None:
        self.session = session
        self.protocol: _Protocol | None = None
        self.done: Deferred[tuple[int | None, str | None]] = Deferred()
        self.ready = False
        self._heartbeat: IDelayedCall | None = None
        self._acked = True
        self._interval = 41.25
        self._closing: tuple[int, str] | None = None    # our own close: what we said

    def opened(self, protocol: _Protocol) -> None:
        self.protocol = protocol

    def send(self, op: int, data: Any) -> None:
        protocol = self.protocol
        if protocol is not None and self.done.called is False:
            protocol.sendMessage(json.dumps({"op": op, "d": data},
                                            separators=(",", ":")).encode("utf-8"))

    def close(self, code: int = RESUMABLE_CLOSE, reason: str = "reconnect") -> None:
        protocol = self.protocol
        self._stop_heartbeat()
        if protocol is not None and not self.done.called:
            self._closing = (code, reason)
            protocol.sendClose(code, reason)

    def abort(self) -> None:
        self._stop_heartbeat()
        protocol = self.protocol
        if protocol is not None and protocol.transport is not None:
            protocol.transport.abortConnection()  # type: ignore[attr-defined]

    def closed(self, code: int | None, reason: str | None) -> None:
        self._stop_heartbeat()
        if self._closing is not None:       # the peer only echoes our close
            code, reason = self._closing
        if not self.done.called:
            self.done.callback((code, reason))

    # -- heartbeats -------------------------------------------------------------------

    def _stop_heartbeat(self) -> None:
        call, self._heartbeat = self._heartbeat, None
        if call is not None and call.active():
            call.cancel()

    def _beat(self) -> None:
        self._heartbeat = None
        if not self._acked:
            log.info("[{account}] Discord heartbeat not acknowledged; reconnecting",
                     account=self.session.account_id)
            self.close(RESUMABLE_CLOSE, "heartbeat timeout")
            return
        self._acked = False
        self.session.heartbeats_sent += 1
        self.send(1, self.session.seq)
        self._heartbeat = self.session.clock.callLater(self._interval, self._beat)

    # -- frames -----------------------------------------------------------------------

    def frame(self, frame: dict[str, Any]) -> None:
        session = self.session
        op, data = frame.get("op"), frame.get("d")
        if isinstance(frame.get("s"), int):
            session.seq = frame["s"]
        if op == 10:
            interval = (data or {}).get("heartbeat_interval") if isinstance(data, dict) \
                else None
            self._interval = float(interval) / 1000.0 if isinstance(interval, int | float) \
                else 41.25
            self._stop_heartbeat()
            self._acked = True
            self._heartbeat = session.clock.callLater(self._interval * session.jitter(),
                                                      self._beat)
            if session.session_id and session.seq is not None:
                self.send(6, {"token": session.token, "session_id": session.session_id,
                              "seq": session.seq})
            else:
                self.send(2, session.identify_payload())
        elif op == 11:
            self._acked = True
        elif op == 1:
            session.heartbeats_sent += 1
            self.send(1, session.seq)
        elif op == 7:
            self.close(RESUMABLE_CLOSE, "reconnect requested")
        elif op == 9:
            if data is not True:
                session.forget()
            session.invalidated = True
            self.close(RESUMABLE_CLOSE, "invalid session")
        elif op == 0:
            event = frame.get("t")
            if event == "READY" and isinstance(data, dict):
                session.session_id = str(data.get("session_id") or "") or None
                resume = data.get("resume_gateway_url")
                session.resume_url = str(resume) if isinstance(resume, str) else None
                self.ready = True
                session.on_ready(data, False)
            elif event == "RESUMED":
                self.ready = True
                session.on_ready({}, True)
            else:
                session.on_dispatch(str(event), data)


class GatewaySession:
    """Keeps one gateway session for an account: connect, heartbeat, resume, reconnect."""

    def __init__(self, *, reactor: Any, clock: Any, account_id: str, token: str,
                 intents: int, gateway_url: Callable[[], Deferred[str]],
                 check_url: Callable[[str], str | None],
                 on_ready: Callable[[dict[str, Any], bool], None],
                 on_dispatch: Callable[[str, Any], None],
                 on_lost: Callable[[str], None],
                 on_fatal: Callable[[str], None]) -> None:
        self.reactor = reactor
        self.clock = clock
        self.account_id = account_id
        self.token = token
        self.intents = intents
        self._gateway_url = gateway_url
        self._check_url = check_url
        self.on_ready = on_ready
        self.on_dispatch = on_dispatch
        self._on_lost = on_lost
        self._on_fatal = on_fatal
        self.session_id: str | None = None
        self.seq: int | None = None
        self.resume_url: str | None = None
        self.invalidated = False
        self.link: _Link | None = None
        self.connections = 0
        self.resumes = 0
        self.heartbeats_sent = 0
        self._loop: Deferred[None] | None = None
        self._wait: Deferred[Any] | None = None
        self._stopping = False

    def jitter(self) -> float:
        return random.random()

    def identify_payload(self) -> dict[str, Any]:
        return {"token": self.token, "intents": self.intents,
                "properties": {"os": "linux", "browser": "openclaw", "device": "openclaw"}}

    def forget(self) -> None:
        self.session_id = None
        self.seq = None
        self.resume_url = None

    # -- the loop ---------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._loop = Deferred.fromCoroutine(self._run())
        self._loop.addErrback(lambda f: None if f.check(CancelledError) else log.failure(
            "discord gateway loop failed", f))

    async def stop(self) -> None:
        self._stopping = True
        link = self.link
        loop = self._loop
        if link is not None and link.protocol is not None and not link.done.called:
            link.close(1000, "shutdown")       # 1000: the session ends with us
        else:
            wait, self._wait = self._wait, None
            if wait is not None and not wait.called:
                wait.cancel()
        if loop is not None and not loop.called:
            finished = settled(loop)
            finished.addTimeout(2.0, self.reactor)
            try:
                await finished
            except Exception:
                if link is not None:
                    link.abort()
                if not loop.called:
                    loop.cancel()
        self._loop = None

    async def _sleep(self, seconds: float) -> None:
        self._wait = deferLater(self.clock, max(0.0, seconds), lambda: None)
        try:
            await self._wait
        finally:
            self._wait = None

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stopping:
            code: int | None = None
            reason: str | None = None
            was_ready = False
            try:
                code, reason, was_ready = await self._connect_once()
            except CancelledError:
                return
            except Exception as e:
                reason = str(e) or type(e).__name__
            if self._stopping:
                return
            if code in FATAL_CLOSES:
                message = f"Discord gateway closed {code}: {FATAL_CLOSES[code]}"
                log.error("[{account}] {message}", account=self.account_id, message=message)
                self._on_fatal(message)
                return
            if code in NEW_SESSION_CLOSES:
                self.forget()
            what = f"Discord gateway closed {code}: {reason}" if code is not None and \
                reason else (f"Discord gateway closed {code}" if code is not None
                             else f"Discord gateway connection failed: {reason}")
            self._on_lost(what)
            if was_ready:
                delay = RETRY_FIRST_S
            wait = delay * (0.5 + random.random())
            if self.invalidated and self.session_id is None:
                wait = 1.0 + 4.0 * random.random()      # op 9: wait 1-5 s, then identify
            self.invalidated = False
            try:
                await self._sleep(wait)
            except CancelledError:
                return
            if not was_ready:
                delay = min(RETRY_MAX_S, delay * 2)

    async def _connect_once(self) -> tuple[int | None, str | None, bool]:
        resuming = bool(self.session_id and self.resume_url)
        url = self.resume_url if resuming and self.resume_url else await self._gateway_url()
        refused = self._check_url(url)
        if refused:
            if resuming:          # an untrusted resume URL: start over on the main gateway
                self.forget()
                url = await self._gateway_url()
                refused = self._check_url(url)
            if refused:
                raise RuntimeError(refused)
        full = _with_query(url)
        link = _Link(self)
        self.link = link
        factory = _Factory(full, self.reactor, link)
        parts = urlsplit(full)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        endpoint: Any = HostnameEndpoint(self.reactor, host, port, timeout=10)
        if parts.scheme == "wss":
            endpoint = wrapClientTLS(optionsForClientTLS(host), endpoint)
        self.connections += 1
        if resuming:
            self.resumes += 1
        connecting = endpoint.connect(factory)
        connecting.addTimeout(CONNECT_TIMEOUT_S, self.reactor)
        self._wait = connecting
        try:
            await connecting
        finally:
            self._wait = None
        self._wait = link.done
        try:
            code, reason = await link.done
        except CancelledError:
            link.abort()
            raise
        finally:
            self._wait = None
        return code, reason, link.ready


def _with_query(url: str) -> str:
    base = url.rstrip("/") if urlsplit(url).path not in ("", "/") else url.rstrip("/") + "/"
    if urlsplit(base).query:
        return base
    return f"{base}?v=10&encoding=json"
