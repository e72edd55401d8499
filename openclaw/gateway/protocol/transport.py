"""What a :class:`~openclaw.gateway.protocol.connection.GatewayConnection` is built from:
the transport it writes to, the method table it dispatches with, and the peer it serves.

Kept apart from ``connection`` so the Autobahn adapter (``server``) can be imported at
start-up without the protocol core, which loads with the first WebSocket connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import attrs
from zope.interface import Interface

if TYPE_CHECKING:
    from openclaw.gateway.protocol.dispatch import MethodSpec


class IConnectionTransport(Interface):
    """What a connection needs from the WebSocket underneath it."""

    def send_frame(data: bytes) -> None:  # noqa: N805
        """Send one text message (UTF-8 JSON)."""

    def close(code: int, reason: str) -> None:  # noqa: N805
        """Start the closing handshake with ``code``/``reason`` (any code, incl. 1008/1012)."""

    def buffered_bytes() -> int:
        """Bytes written but not yet flushed to the socket."""

    def set_max_message_size(size: int) -> None:  # noqa: N805
        """Largest inbound message accepted from now on."""


class MethodLookup(Protocol):
    def get(self, name: str) -> MethodSpec | None: ...

    def required_scope(self, name: str) -> str | None: ...

    @property
    def advertised_methods(self) -> list[str]: ...


@attrs.frozen
class PeerInfo:
    """Peer address and upgrade-request headers (names lowercase)."""

    remote_address: str | None
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def host(self) -> str | None:
        return self.headers.get("host")

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")
