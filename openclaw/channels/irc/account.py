"""One IRC account: a ``ClientService`` that keeps one registered connection.

``ClientService`` reconnects by itself with exponential backoff on the reactor clock (1 s,
doubling, at most 30 s, with jitter); a connection counts as made once it registered (the
endpoint waits for ``001``), so a server that accepts TCP but refuses us is retried the same
way. Outbound lines go one at a time through
:meth:`~openclaw.channels.irc.protocol.IrcProtocol.send_privmsg`, paced by a small token
bucket (5 lines at once, then one per second) on top of the server's own pace.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import optionsForClientTLS
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from openclaw.channels.account import ChannelAccount, ChannelContext
from openclaw.channels.irc.config import IRC_META, IrcSettings
from openclaw.channels.irc.protocol import DONE, IrcProtocol
from openclaw.channels.model import (
    DIRECT,
    GROUP,
    AccountSpec,
    InboundMessage,
    NotConnected,
    OutboundMessage,
)
from openclaw.channels.policy import AccessPolicy, GroupRule

log = Logger(namespace="channels.irc")

SEND_TIMEOUT_S: Final = 30.0
BURST: Final = 5
REFILL_S: Final = 1.0
MAX_LINE_BYTES: Final = 400


def split_identity(user: str) -> tuple[str, str | None, str | None]:
    """``nick!user@host`` -> ``(nick, user, host)``."""
    nick, _, rest = user.partition("!")
    ident, _, host = rest.partition("@")
    if not rest and "@" in nick:
        nick, _, host = nick.partition("@")
    return nick, ident or None, host or None


def sender_keys(nick: str, ident: str | None, host: str | None) -> tuple[str, ...]:
    """The stable allowlist candidates of a sender (``buildIrcAllowlistCandidates``)."""
    nick, keys = nick.lower(), []
    if ident:
        keys.append(f"{nick}!{ident.lower()}")
    if host:
        keys.append(f"{nick}@{host.lower()}")
    if ident and host:
        keys.append(f"{nick}!{ident.lower()}@{host.lower()}")
    return tuple(keys)


def normalize_allow_entry(raw: str) -> str:
    value = raw.strip().lower()
    for prefix in ("irc:", "user:"):
        if value.startswith(prefix):
            value = value[len(prefix):]
    return value.strip()


def is_channel_target(target: str) -> bool:
    return target.startswith(("#", "&"))


def normalize_target(raw: str) -> str | None:
    """``#chan``, ``nick``, ``irc:...``, ``channel:name``, ``user:nick``."""
    target = raw.strip()
    if target.lower().startswith("irc:"):
        target = target[4:].strip()
    if target.lower().startswith("channel:"):
        target = target[8:].strip()
        if not is_channel_target(target):
            target = f"#{target}"
    if target.lower().startswith("user:"):
        target = target[5:].strip()
    if not target or not re.fullmatch(r"[^\s:\x00-\x1f\x7f]+", target):
        return None
    return target


class _TokenBucket:
    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._tokens = float(BURST)
        self._at = clock.seconds()

    async def take(self) -> None:
        while True:
            now = self._clock.seconds()
            self._tokens = min(float(BURST), self._tokens + (now - self._at) / REFILL_S)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await deferLater(self._clock, (1.0 - self._tokens) * REFILL_S, lambda: None)


class _Relay(Protocol):
    """Carries a connection's bytes to the IRC protocol while it registers, then to the
    protocol ``ClientService`` wraps around it (the same IRC protocol)."""

    def __init__(self, target: IrcProtocol) -> None:
        self.target: Any = target

    def connectionMade(self) -> None:
        self.target.makeConnection(self.transport)

    def dataReceived(self, data: bytes) -> None:
        self.target.dataReceived(data)

    def connectionLost(self, reason: Failure = DONE) -> None:
        self.target.connectionLost(reason)


@implementer(IStreamClientEndpoint)
class _RegisteringEndpoint:
    """For ``ClientService``, a connection is made once the server registered us (``001``).

    Registration runs inside ``connect``, so a server that accepts TCP but refuses us (bad
    password, TLS failure, timeout) is a failed attempt: the retry delay grows as for a
    refused connection. (``prepareConnection`` cannot be used: Twisted's ``ClientService``
    does not expect a connection to be lost while it is being prepared.)
    """

    def __init__(self, endpoint: IStreamClientEndpoint, account: IrcAccount) -> None:
        self._endpoint = endpoint
        self._account = account

    def connect(self, factory: Any) -> Deferred[Any]:
        return Deferred.fromCoroutine(self._connect(factory))

    async def _connect(self, factory: Any) -> Any:
        account = self._account
        protocol = account.make_protocol()
        relay = _Relay(protocol)
        try:
            await self._endpoint.connect(Factory.forProtocol(lambda: relay))
            await protocol.registered
        except Exception as e:
            if protocol.transport is not None:
                protocol.transport.abortConnection()  # type: ignore[attr-defined]
            account.connect_failed(str(e) or type(e).__name__)
            raise
        transport = protocol.transport
        assert transport is not None
        account.pending_protocol = protocol
        wrapped = factory.buildProtocol(transport.getPeer())
        wrapped.makeConnection(transport)   # the proxy learns the transport
        relay.target = wrapped
        account.registered(protocol)
        return wrapped


class _Factory(Factory):
    noisy = False

    def __init__(self, account: IrcAccount) -> None:
        self.account = account

    def buildProtocol(self, addr: Any) -> IrcProtocol | None:
        protocol, self.account.pending_protocol = self.account.pending_protocol, None
        return protocol


class IrcAccount(ChannelAccount):
    meta = IRC_META
    default_chunk_limit = 350

    def __init__(self, spec: AccountSpec, context: ChannelContext) -> None:
        super().__init__(spec, context)
        self.irc: IrcSettings = spec.settings
        self._service: ClientService | None = None
        self.protocol: IrcProtocol | None = None
        self._bucket = _TokenBucket(context.reactor)
        self.pending_protocol: IrcProtocol | None = None

    # -- connection ---------------------------------------------------------------------

    def endpoint(self) -> IStreamClientEndpoint:
        reactor = self.context.reactor
        endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, self.irc.host,
                                                            self.irc.port, timeout=10)
        if self.irc.tls:
            endpoint = wrapClientTLS(optionsForClientTLS(self.irc.host), endpoint)
        return endpoint

    def make_protocol(self, *, join: bool = True) -> IrcProtocol:
        nickserv = {"enabled": self.irc.nickserv_enabled,
                    "service": self.irc.nickserv_service,
                    "password": self.spec.secrets.get("nickserv"),
                    "register": self.irc.nickserv_register,
                    "register_email": self.irc.nickserv_register_email}
        return IrcProtocol(
            nick=self.irc.nick, username=self.irc.username, realname=self.irc.realname,
            password=self.spec.secrets.get("password"),
            sasl_password=self.spec.secrets.get("nickserv") or self.spec.secrets.get(
                "password"),
            nickserv=nickserv, channels=self.irc.channels, clock=self.context.reactor,
            on_message=self._on_message if join else None, join_channels=join)

    def start_network(self) -> None:
        log.info("[{account}] starting IRC provider ({host}:{port}{tls})",
                 account=self.account_id, host=self.irc.host, port=self.irc.port,
                 tls=" tls" if self.irc.tls else "")
        self._service = ClientService(
            _RegisteringEndpoint(self.endpoint(), self), _Factory(self),
            retryPolicy=backoffPolicy(initialDelay=1.0, factor=2.0, maxDelay=30.0),
            clock=self.context.reactor)
        self._service.startService()

    def registered(self, protocol: IrcProtocol) -> None:
        """A new connection registered: outbound delivery and pending messages resume."""
        self.protocol = protocol
        protocol.lost.addCallback(lambda _: self._lost(protocol))
        self.connection_made()

    def _lost(self, protocol: IrcProtocol) -> None:
        if self.protocol is protocol:
            self.protocol = None
            self.connection_lost(protocol.failure_reason)

    def stop_network(self) -> Deferred[None] | None:
        service, self._service = self._service, None
        protocol, self.protocol = self.protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.quit("shutdown")
        if service is None:
            return None
        return service.stopService()

    # -- inbound ------------------------------------------------------------------------

    @property
    def current_nick(self) -> str:
        protocol = self.protocol
        return protocol.nickname if protocol is not None else self.irc.nick

    def _on_message(self, user: str, target: str, text: str) -> None:
        if not text.strip():
            return
        nick, ident, host = split_identity(user)
        if not nick:
            return
        sender = f"{nick}!{ident or '?'}@{host}" if host else nick
        group = is_channel_target(target)
        conversation = target if group else nick
        mentioned = False
        if group:
            for name in {self.current_nick, self.irc.nick}:
                if re.search(rf"\b{re.escape(name)}\b[:,]?", text, re.IGNORECASE):
                    mentioned = True
        message = InboundMessage(
            channel="irc", account_id=self.account_id, event_id=uuid.uuid4().hex,
            chat_type=GROUP if group else DIRECT, sender_id=sender, sender_name=nick,
            conversation_id=conversation, reply_target=conversation, text=text.strip(),
            ts=self.now_ms(), sender_keys=sender_keys(nick, ident, host),
            sender_names=(nick.lower(),), group_keys=(target,) if group else (),
            mentioned=mentioned)
        Deferred.fromCoroutine(self.receive(message)).addErrback(
            lambda f: log.failure("IRC: accepting a message failed", f))

    # -- outbound -----------------------------------------------------------------------

    async def send_message(self, message: OutboundMessage) -> str | None:
        protocol = self.protocol
        if protocol is None or not self.connected:
            raise NotConnected()
        await self._bucket.take()
        if self.protocol is not protocol:
            raise NotConnected()
        accepted = protocol.send_privmsg(message.target, message.text)
        accepted.addTimeout(SEND_TIMEOUT_S, self.context.reactor)
        await accepted
        return None

    def chunking(self) -> tuple[int, str, int | None]:
        limit, mode, _ = super().chunking()
        return limit, mode, MAX_LINE_BYTES

    # -- policy -------------------------------------------------------------------------

    def access_policy(self) -> AccessPolicy:
        config = self.irc.config
        snapshot = self.context.config()
        defaults = snapshot.config.channels.defaults
        groups = {key: GroupRule(require_mention=rule.require_mention, enabled=rule.enabled,
                                 allow_from=tuple(normalize_allow_entry(e)
                                                  for e in rule.allow_from or ()),
                                 system_prompt=rule.system_prompt)
                  for key, rule in (config.groups or {}).items()}
        return AccessPolicy(
            dm_policy=config.dm_policy or "pairing",
            allow_from=tuple(normalize_allow_entry(e) for e in config.allow_from or ()),
            group_policy=config.group_policy or (defaults.group_policy if defaults else None)
            or "allowlist",
            group_allow_from=tuple(normalize_allow_entry(e)
                                   for e in config.group_allow_from or ()),
            groups=groups, name_matching=bool(config.dangerously_allow_name_matching),
            group_senders_required=True, mention_patterns=self.mention_patterns(snapshot))

    def pairing_sender(self, message: InboundMessage) -> tuple[str, dict[str, str]]:
        return message.sender_id.lower(), {"name": message.sender_name}

    def pairing_id_line(self, message: InboundMessage) -> str:
        return f"Your IRC id: {message.sender_id}"

    def pairing_notify_target(self, sender_id: str, meta: Mapping[str, str]) -> str | None:
        nick = normalize_allow_entry(sender_id).split("!", 1)[0].split("@", 1)[0]
        return meta.get("name") or nick or None

    # -- status -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        snapshot = super().snapshot()
        snapshot["passwordSource"] = self.spec.sources.get("passwordSource", "none")
        snapshot["tokenStatus"] = "available" if self.spec.configured else "missing"
        return snapshot

    def summary(self, snapshot: dict[str, Any]) -> dict[str, Any] | None:
        return {"configured": snapshot.get("configured", False),
                "running": snapshot.get("running", False),
                "lastStartAt": snapshot.get("lastStartAt"),
                "lastStopAt": snapshot.get("lastStopAt"),
                "lastError": snapshot.get("lastError"),
                "host": self.irc.host, "port": self.irc.port, "tls": self.irc.tls,
                "nick": self.irc.nick, "probe": snapshot.get("probe"),
                "lastProbeAt": snapshot.get("lastProbeAt")}

    def probe(self, timeout_ms: int) -> Any:
        from openclaw.channels.irc.probe import probe_irc

        return Deferred.fromCoroutine(probe_irc(self, timeout_ms))

