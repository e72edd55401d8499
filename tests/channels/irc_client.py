"""A person on the test IRC server: a ``twisted.words`` client that records what it gets.

``await user.connect()`` registers (and joins the given channels); ``user.say(target, text)``
sends a PRIVMSG; ``await user.wait_message(...)`` fires with the first received message
matching, however early it arrived (waits are events, never sleeps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory
from twisted.words.protocols import irc


@attrs.frozen
class Received:
    sender: str        # nick!user@host
    target: str        # our nick (DM) or #channel
    text: str

    @property
    def nick(self) -> str:
        return self.sender.split("!", 1)[0]


class _UserProtocol(irc.IRCClient):
    heartbeatInterval = None

    def __init__(self, person: IrcPerson) -> None:
        self.person = person
        self.nickname = person.nick
        self.username = person.nick
        self.realname = person.nick

    def signedOn(self) -> None:
        for channel in self.person.channels:
            self.join(channel)
        if not self.person.channels:
            self.person._ready(self)

    def joined(self, channel: str) -> None:
        if channel.lower() == self.person.channels[-1].lower():
            self.person._ready(self)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.person._received(Received(user, channel, message))

    def connectionLost(self, reason: Any = None) -> None:
        irc.IRCClient.connectionLost(self, reason)
        self.person._lost(self)


class IrcPerson:
    def __init__(self, port: int, nick: str, channels: tuple[str, ...] = ()) -> None:
        self.port = port
        self.nick = nick
        self.channels = channels
        self.protocol: _UserProtocol | None = None
        self.messages: list[Received] = []
        self._waiters: list[tuple[Callable[[Received], bool], Deferred[Received]]] = []
        self._connected: Deferred[_UserProtocol] | None = None
        self.disconnected: Deferred[None] = Deferred()

    async def connect(self) -> IrcPerson:
        self._connected = Deferred()
        self.disconnected = Deferred()
        factory = Factory.forProtocol(lambda: _UserProtocol(self))  # type: ignore[arg-type]
        factory.noisy = False
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, timeout=5)
        await endpoint.connect(factory)
        self._connected.addTimeout(10, reactor)
        self.protocol = await self._connected
        return self

    def _ready(self, protocol: _UserProtocol) -> None:
        if self._connected is not None and not self._connected.called:
            self._connected.callback(protocol)

    def _lost(self, protocol: _UserProtocol) -> None:
        if self.protocol is protocol:
            self.protocol = None
        if not self.disconnected.called:
            self.disconnected.callback(None)

    def say(self, target: str, text: str) -> None:
        assert self.protocol is not None, f"{self.nick} is not connected"
        self.protocol.msg(target, text)

    def _received(self, message: Received) -> None:
        self.messages.append(message)
        for entry in list(self._waiters):
            predicate, waiter = entry
            if predicate(message):
                self._waiters.remove(entry)
                waiter.callback(message)

    def wait_message(self, predicate: Callable[[Received], bool] = lambda m: True, *,
                     since: int = 0, timeout: float = 20.0) -> Deferred[Received]:
        for message in self.messages[since:]:
            if predicate(message):
                done: Deferred[Received] = Deferred()
                done.callback(message)
                return done
        waiter: Deferred[Received] = Deferred()
        self._waiters.append((predicate, waiter))
        waiter.addTimeout(timeout, reactor)
        return waiter

    def from_nick(self, nick: str, since: int = 0) -> list[Received]:
        return [m for m in self.messages[since:] if m.nick == nick]

    async def quit(self) -> None:
        protocol = self.protocol
        if protocol is None:
            return
        protocol.quit("bye")
        protocol.transport.loseConnection()
        await self.disconnected
