"""One IRC connection of an account: ``twisted.words.protocols.irc.IRCClient`` plus what a
bot on a real network needs.

* registration: ``CAP LS 302``, then ``PASS`` (server password), ``NICK``, ``USER``; when the
  server offers ``sasl`` and the account has credentials, ``CAP REQ :sasl`` and
  ``AUTHENTICATE PLAIN`` (the NickServ password, else the server password, for the nick);
  ``CAP END`` in every case (servers without CAP simply register);
* a taken nick registers as ``<nick>_2`` (then ``_3``...); with NickServ credentials it
  then asks NickServ to ``GHOST`` the old one and takes its nick back;
* after ``001``: NickServ ``IDENTIFY`` (and ``REGISTER`` when configured) unless SASL
  succeeded, then ``JOIN`` of the configured channels; :attr:`registered` fires;
* delivery: :meth:`send_privmsg` writes the ``PRIVMSG`` and a ``PING`` with a token; the
  server answers in order, so its ``PONG`` means the message was accepted, and a ``401``/
  ``403``/``404`` before it means it was refused. The next line waits for that, so a server
  that delays us (flood penalties) slows us down instead of dropping lines;
* keepalive: a ``PING`` every 60 s; no answer within 60 s drops the connection (the account
  reconnects).
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.words.protocols import irc

from openclaw.channels.model import SendFailed

log = Logger(namespace="channels.irc")

REGISTRATION_TIMEOUT_S: Final = 30.0
KEEPALIVE_S: Final = 60.0
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TOKENS: Final = itertools.count(1)
# Replies that refuse a PRIVMSG to a target: no such nick, no such channel, cannot send.
_REFUSALS: Final = {"401": "no such nick", "403": "no such channel",
                    "404": "cannot send to channel", "ERR_NOSUCHNICK": "no such nick",
                    "ERR_NOSUCHCHANNEL": "no such channel",
                    "ERR_CANNOTSENDTOCHAN": "cannot send to channel"}


DONE: Final = Failure(ConnectionDone())


class RegistrationFailed(Exception):
    """The server refused us (bad password, banned, nick unusable...)."""


def clean_text(text: str) -> str:
    """One IRC line: newlines become spaces, other control characters (bar IRC formatting
    codes \\x02 \\x03 \\x0f \\x16 \\x1d \\x1f that clients expect) are dropped."""
    flat = re.sub(r"\s*\n\s*", " ", text.replace("\r", ""))
    return _CONTROL.sub(lambda m: m.group(0) if m.group(0) in "\x02\x03\x0f\x16\x1d\x1f"
                        else "", flat).strip()


def clean_target(target: str) -> str:
    cleaned = re.sub(r"[\s\x00-\x1f\x7f]", "", target)
    if not cleaned or cleaned.startswith(":"):
        raise ValueError(f"invalid IRC target: {target!r}")
    return cleaned


class IrcProtocol(irc.IRCClient):
    """See the module docstring. ``on_message(user, target, text)`` gets every PRIVMSG."""

    heartbeatInterval = None  # type: ignore[assignment]  # our keepalive runs on the clock
    lineRate = None
    nickname: str
    username: str
    realname: str  # type: ignore[assignment]
    password: str | None  # type: ignore[assignment]

    def __init__(self, *, nick: str, username: str, realname: str,
                 password: str | None, sasl_password: str | None, nickserv: dict[str, Any],
                 channels: tuple[str, ...], clock: IReactorTime,
                 on_message: Callable[[str, str, str], None] | None = None,
                 join_channels: bool = True) -> None:
        self.nickname = nick
        self.desired_nick = nick
        self.username = username
        self.realname = realname
        self.password = password or None
        self._sasl_password = sasl_password or None
        self._nickserv = nickserv
        self._channels = channels
        self._join_channels = join_channels
        self.clock = clock
        self._on_message = on_message
        self.registered: Deferred[str] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.failure_reason: str | None = None
        self.sasl_state = "none"            # none | requested | ok | failed
        self._caps: set[str] = set()
        self._collisions = 1
        self._pending: dict[str, Deferred[None]] = {}
        self._sending: tuple[str, Deferred[None]] | None = None
        self._timer: IDelayedCall | None = None
        self._keepalive: IDelayedCall | None = None
        self._keepalive_token: str | None = None
        self.joined_channels: set[str] = set()

    # -- connection ---------------------------------------------------------------------

    def makeConnection(self, transport: Any) -> None:
        # ClientService's proxy hands over the transport again once we registered: ignore.
        if self.transport is None:
            super().makeConnection(transport)

    def connectionMade(self) -> None:
        self.supported = irc.ServerSupportedFeatures()
        self._queue = []
        self._timer = self.clock.callLater(REGISTRATION_TIMEOUT_S, self._registration_timeout)
        self.sendLine("CAP LS 302")
        self.register(self.nickname)

    def _registration_timeout(self) -> None:
        self._timer = None
        self._fail_registration(f"IRC connect timed out after {int(REGISTRATION_TIMEOUT_S)}s")

    def _fail_registration(self, reason: str) -> None:
        self.failure_reason = reason
        if not self.registered.called:
            self.registered.errback(RegistrationFailed(reason))
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = DONE) -> None:
        irc.IRCClient.connectionLost(self, reason)
        for call in (self._timer, self._keepalive):
            if call is not None and call.active():
                call.cancel()
        self._timer = self._keepalive = None
        clean = reason.check(ConnectionDone) is not None
        message = self.failure_reason or reason.getErrorMessage()
        if not self.registered.called:
            self.registered.errback(RegistrationFailed(
                self.failure_reason or ("IRC connection closed before ready" if clean
                                        else f"IRC connection failed: {message}")))
        pending = list(self._pending.values())
        self._pending.clear()
        if self._sending is not None:
            pending.append(self._sending[1])
            self._sending = None
        for waiter in pending:
            if not waiter.called:
                waiter.errback(ConnectionError(f"IRC connection lost: {message}"))
        if not self.lost.called:
            self.lost.callback(None)

    # -- IRCv3 capabilities and SASL ----------------------------------------------------

    def irc_CAP(self, prefix: str, params: list[str]) -> None:
        sub = params[1].upper() if len(params) > 1 else ""
        if sub == "LS":
            more = len(params) > 3 and params[2] == "*"
            self._caps.update(params[-1].lower().split())
            if more:
                return
            offered = {cap.split("=", 1)[0] for cap in self._caps}
            if "sasl" in offered and self._sasl_password and not self._registered:
                self.sasl_state = "requested"
                self.sendLine("CAP REQ :sasl")
            else:
                self.sendLine("CAP END")
        elif sub == "ACK":
            if "sasl" in params[-1].lower().split() and self.sasl_state == "requested":
                self.sendLine("AUTHENTICATE PLAIN")
            else:
                self.sendLine("CAP END")
        elif sub == "NAK":
            self.sasl_state = "failed"
            self.sendLine("CAP END")

    def irc_AUTHENTICATE(self, prefix: str, params: list[str]) -> None:
        if not params or params[0] != "+" or self.sasl_state != "requested":
            return
        account = self.desired_nick
        payload = base64.b64encode(
            f"{account}\0{account}\0{self._sasl_password}".encode()).decode("ascii")
        for start in range(0, len(payload), 400):
            self.sendLine(f"AUTHENTICATE {payload[start:start + 400]}")
        if len(payload) % 400 == 0:
            self.sendLine("AUTHENTICATE +")

    def irc_unknown(self, prefix: str, command: str, params: list[str]) -> None:
        if command in ("903", "RPL_SASLSUCCESS"):
            self.sasl_state = "ok"
            self.sendLine("CAP END")
        elif command in ("902", "904", "905", "906", "908"):
            self.sasl_state = "failed"
            log.warn("IRC SASL failed ({code}); continuing without it", code=command)
            self.sendLine("CAP END")
        elif command in _REFUSALS:
            self._refused(command, params)
        elif command in ("465", "ERR_YOUREBANNEDCREEP"):
            self._fail_registration(f"IRC login failed ({command}): "
                                    f"{params[-1] if params else 'banned'}")

    # -- registration -------------------------------------------------------------------

    def alterCollidedNick(self, nickname: str) -> str:
        self._collisions += 1
        return f"{self.desired_nick[:27]}_{self._collisions}"

    def irc_ERR_PASSWDMISMATCH(self, prefix: str, params: list[str]) -> None:
        self._fail_registration(f"IRC login failed (464): "
                                f"{params[-1] if params else 'password incorrect'}")

    def irc_ERR_ERRONEUSNICKNAME(self, prefix: str, params: list[str]) -> None:
        if not self._registered:
            self._fail_registration(f"IRC login failed (432): erroneous nickname "
                                    f"{self.desired_nick}")

    def signedOn(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        service = self._nickserv.get("service") or "NickServ"
        password = self._nickserv.get("password")
        if password and self._nickserv.get("enabled", True):
            if self.nickname != self.desired_nick:
                self.sendLine(f"PRIVMSG {service} :GHOST {self.desired_nick} {password}")
                self.setNick(self.desired_nick)
            if self.sasl_state != "ok":
                self.sendLine(f"PRIVMSG {service} :IDENTIFY {password}")
            if self._nickserv.get("register") and self._nickserv.get("register_email"):
                self.sendLine(f"PRIVMSG {service} :REGISTER {password} "
                              f"{self._nickserv['register_email']}")
        if self._join_channels:
            for channel in self._channels:
                if channel.strip():
                    self.join(channel.strip())
        self._schedule_keepalive()
        if not self.registered.called:
            self.registered.callback(self.nickname)

    def joined(self, channel: str) -> None:
        self.joined_channels.add(channel.lower())

    def left(self, channel: str) -> None:
        self.joined_channels.discard(channel.lower())

    def kickedFrom(self, channel: str, kicker: str, message: str) -> None:
        self.joined_channels.discard(channel.lower())
        log.info("IRC: kicked from {channel} by {kicker}: {message}", channel=channel,
                 kicker=kicker, message=message)

    # -- messages -----------------------------------------------------------------------

    def privmsg(self, user: str, channel: str, message: str) -> None:
        if self._on_message is not None:
            self._on_message(user, channel, message)

    def noticed(self, user: str, channel: str, message: str) -> None:
        pass    # a bot never answers a NOTICE

    def send_privmsg(self, target: str, text: str) -> Deferred[None]:
        """Send one line to ``target``; fires when the server accepted it (``PONG``), fails
        with :class:`SendFailed` when it refused it."""
        target = clean_target(target)
        line = clean_text(text)
        accepted: Deferred[None] = Deferred()
        if not line:
            accepted.callback(None)
            return accepted
        token = f"oc{next(_TOKENS)}"
        self._sending = (target.lower(), accepted)
        self.sendLine(f"PRIVMSG {target} :{line}")
        self._pending[token] = accepted
        self.sendLine(f"PING :{token}")
        return accepted

    def _refused(self, command: str, params: list[str]) -> None:
        sending = self._sending
        if sending is None or len(params) < 2 or params[1].lower() != sending[0]:
            return
        self._sending = None
        for token, waiter in list(self._pending.items()):
            if waiter is sending[1]:
                del self._pending[token]
        if not sending[1].called:
            sending[1].errback(SendFailed(f"{_REFUSALS[command]}: {params[1]}",
                                          retry_after=5.0))

    def irc_ERR_NOSUCHNICK(self, prefix: str, params: list[str]) -> None:
        self._refused("401", params)

    def irc_ERR_NOSUCHCHANNEL(self, prefix: str, params: list[str]) -> None:
        self._refused("403", params)

    def irc_ERR_CANNOTSENDTOCHAN(self, prefix: str, params: list[str]) -> None:
        self._refused("404", params)

    def irc_PONG(self, prefix: str, params: list[str]) -> None:
        token = params[-1] if params else ""
        if token == self._keepalive_token:
            self._keepalive_token = None
            self._schedule_keepalive()
            return
        waiter = self._pending.pop(token, None)
        if waiter is None:
            return
        if self._sending is not None and self._sending[1] is waiter:
            self._sending = None
        if not waiter.called:
            waiter.callback(None)

    # -- keepalive ----------------------------------------------------------------------

    def _schedule_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.active():
            self._keepalive.cancel()
        self._keepalive = self.clock.callLater(KEEPALIVE_S, self._ping)

    def _ping(self) -> None:
        if self._keepalive_token is not None:
            log.warn("IRC: no PONG for {s}s; dropping the connection", s=int(KEEPALIVE_S))
            self.failure_reason = "IRC server stopped answering"
            if self.transport is not None:
                self.transport.abortConnection()  # type: ignore[attr-defined]
            return
        self._keepalive_token = f"ka{next(_TOKENS)}"
        self.sendLine(f"PING :{self._keepalive_token}")
        self._keepalive = self.clock.callLater(KEEPALIVE_S, self._ping)
