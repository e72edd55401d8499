"""A ``twisted.web`` Site on a loopback port that can be stopped and restarted in place.

Both fake servers need the same three things from their listening socket: listen on
``127.0.0.1`` (port 0 picks a free one), stop by aborting every open connection (as a crashed
or restarted upstream does: long polls and WebSockets end without an answer), and listen again
on the same port so a client configured with the old URL reconnects.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.internet.protocol import Protocol
from twisted.web.resource import IResource
from twisted.web.server import Site


class TrackingSite(Site):
    """A Site that remembers its open connections so :meth:`abort_all` can cut them."""

    def __init__(self, resource: IResource, **kwargs: Any) -> None:
        super().__init__(resource, **kwargs)
        self.open_protocols: set[Protocol] = set()

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        if protocol is None:
            return None
        site = self
        lost = protocol.connectionLost

        def connection_lost(reason: Any) -> None:
            site.open_protocols.discard(protocol)
            lost(reason)

        protocol.connectionLost = connection_lost
        self.open_protocols.add(protocol)
        return protocol

    def abort_all(self) -> None:
        for protocol in list(self.open_protocols):
            # Site protocols wrap the HTTP channel; the transport lives on the channel.
            channel = getattr(protocol, "_channel", protocol)
            transport: Any = getattr(channel, "transport", None)
            if transport is None:  # taken over (a WebSocket upgrade), or already gone
                self.open_protocols.discard(protocol)
            else:
                transport.abortConnection()


class LoopbackListener:
    """Owns the listening port of one fake server."""

    def __init__(self, reactor: Any, site: TrackingSite, host: str = "127.0.0.1") -> None:
        self._reactor = reactor
        self.site = site
        self.host = host
        self.port = 0
        self._listening: IListeningPort | None = None

    @property
    def listening(self) -> bool:
        return self._listening is not None

    def listen(self, port: int | None = None) -> int:
        """Start listening (again): ``port`` 0 picks a free port; ``None`` reuses the last one."""
        if self._listening is not None:
            return self.port
        wanted = self.port if port is None else port
        tcp = cast(IReactorTCP, self._reactor)
        self._listening = tcp.listenTCP(wanted, cast(Any, self.site), interface=self.host)
        self.port = cast(IPv4Address, self._listening.getHost()).port
        return self.port

    async def stop(self) -> None:
        """Stop listening and abort every open connection; the port number is kept."""
        listening, self._listening = self._listening, None
        self.site.abort_all()
        if listening is not None:
            stopped = listening.stopListening()
            if stopped is not None:
                await stopped
