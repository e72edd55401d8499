"""The process's listening sockets: they outlive the gateway trees that serve them.

A gateway tree never binds with ``listenTCP`` when it runs under the supervisor. It asks this
pool for a listening socket per address and serves it through ``reactor.adoptStreamPort``,
which works on a duplicate of the descriptor: when the tree stops (``stopListening``), only
the duplicate closes, and the socket itself keeps listening. Connection attempts that arrive
while an in-process restart rebuilds the tree wait in the kernel's accept queue and are
served by the next tree; none is refused.

Where the sockets come from:

* **systemd socket activation**: ``LISTEN_FDS``/``LISTEN_PID``/``LISTEN_FDNAMES``
  (``sd_listen_fds(3)``, read with Twisted's :class:`~twisted.python.systemd.ListenFDs`). The
  socket unit decides the addresses: every passed stream socket is served, and the
  configured bind/port are not bound;
* **a handover**: a process restart by re-exec (:mod:`openclaw.gateway.handover`) passes the
  sockets it listened on the same way, named ``openclaw-handover``. The new process keeps the
  ones its own config still asks for and closes the rest;
* **bound here**, the first time an address is asked for (then kept for the next tree).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Final

import attrs
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.python.systemd import ListenFDs

__all__ = [
    "HANDOVER_NAME",
    "Listener",
    "ListenerPool",
    "bind_listening_socket",
]

log = Logger(namespace="gateway")

HANDOVER_NAME: Final = "openclaw-handover"
DEFAULT_BACKLOG: Final = 511
_LISTEN_ENV: Final = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


@attrs.define(eq=False)
class Listener:
    """One listening socket and where it came from."""

    sock: socket.socket
    name: str
    # (host, port) it was asked for: bound here, or a handover matched to the config.
    key: tuple[str, int] | None = None

    @property
    def activated(self) -> bool:
        """Passed by systemd (not by a handover, not bound here)."""
        return self.key is None and self.name != HANDOVER_NAME

    @property
    def family(self) -> int:
        return int(self.sock.family)

    def fileno(self) -> int:
        return self.sock.fileno()

    def address(self) -> tuple[str, int]:
        name = self.sock.getsockname()
        return str(name[0]), int(name[1])


def bind_listening_socket(host: str, port: int, backlog: int = DEFAULT_BACKLOG
                          ) -> socket.socket:
    """A non-blocking, close-on-exec listening TCP socket, bound as ``listenTCP`` binds
    (``SO_REUSEADDR``); :class:`CannotListenError` when the address is refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock: socket.socket | None = None
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0,
                                     socket.AI_NUMERICHOST | socket.AI_PASSIVE)[0][4]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as e:
        if sock is not None:
            sock.close()
        raise CannotListenError(host, port, e) from None
    return sock


def _stream_listener(fd: int, name: str) -> Listener | None:
    """The passed descriptor as a Listener, None (and closed) when it is not one we serve."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as e:
        log.warn("passed descriptor {fd} ({name}) is not a socket: {reason}", fd=fd,
                 name=name, reason=e.strerror or str(e))
        return None
    usable = (sock.type == socket.SOCK_STREAM
              and sock.family in (socket.AF_INET, socket.AF_INET6)
              and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1)
    if not usable:
        log.warn("passed descriptor {fd} ({name}) is not a listening TCP socket; ignored",
                 fd=fd, name=name)
        sock.close()
        return None
    # Ours now: not inherited by the agents' tools, and never blocking the reactor.
    sock.set_inheritable(False)
    sock.setblocking(False)
    return Listener(sock, name)


class ListenerPool:
    """Listening sockets by address, shared by every tree the supervisor builds."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self._listeners: list[Listener] = list(listeners)

    @classmethod
    def from_environment(cls, env: MutableMapping[str, str], *, start: int | None = None
                         ) -> ListenerPool:
        """The sockets passed by systemd or a handover; the ``LISTEN_*`` variables are
        consumed (removed from ``env``) so nothing this process starts sees them.

        ``start``: the first descriptor (systemd's is 3, the default).
        """
        if "LISTEN_FDS" not in env:
            return cls()
        environ = dict(env)
        for key in _LISTEN_ENV:
            env.pop(key, None)
        count = environ.get("LISTEN_FDS", "").strip()
        if count.isdigit() and not environ.get("LISTEN_FDNAMES"):
            # systemd < 227 and other activators pass no names: systemd's own default.
            environ["LISTEN_FDNAMES"] = ":".join(["unknown"] * int(count))
        descriptors = ListenFDs.fromEnvironment(environ, start).inheritedDescriptors()
        # In order, duplicates kept: a socket unit with two ListenStream= names both
        # after itself (inheritedNamedDescriptors() would keep one).
        names = environ["LISTEN_FDNAMES"].split(":") if descriptors else []
        named = list(zip(names, descriptors, strict=True))
        if not named and count not in ("", "0"):
            log.warn("LISTEN_FDS={count} is not for this process (LISTEN_PID={pid}); "
                     "ignored", count=count, pid=environ.get("LISTEN_PID"))
        listeners = [listener for name, fd in named
                     if (listener := _stream_listener(fd, name)) is not None]
        return cls(listeners)

    # -- what the pool holds ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._listeners)

    @property
    def activated(self) -> list[Listener]:
        """The sockets systemd passed: every tree serves all of them."""
        return [listener for listener in self._listeners if listener.activated]

    def listeners(self) -> list[Listener]:
        return list(self._listeners)

    # -- what a tree asks for ---------------------------------------------------------------

    def claim(self, host: str, port: int, backlog: int = DEFAULT_BACKLOG) -> Listener:
        """The socket for ``(host, port)``: kept from before (a previous tree, a handover)
        or bound now. Raises :class:`CannotListenError` when it cannot be bound."""
        key = (host, port)
        for listener in self._listeners:
            if listener.key == key:
                return listener
        for listener in self._listeners:
            if listener.key is None and listener.name == HANDOVER_NAME and port and (
                    _same_address(listener.address(), key)):
                listener.key = key
                return listener
        listener = Listener(bind_listening_socket(host, port, backlog), "openclaw", key)
        self._listeners.append(listener)
        return listener

    def retain(self, keep: Sequence[Listener]) -> None:
        """Close the sockets the current tree does not serve (an old port after a restart
        moved it, handed-over sockets the config no longer asks for). systemd's are kept:
        the socket unit owns them."""
        wanted = {id(listener) for listener in keep}
        for listener in list(self._listeners):
            if id(listener) in wanted or listener.activated:
                continue
            self._listeners.remove(listener)
            log.info("closing listening socket {host}:{port} (no longer configured)",
                     host=_url_host(listener.address()[0]), port=listener.address()[1])
            listener.sock.close()

    def close(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            with contextlib.suppress(OSError):
                listener.sock.close()


def _same_address(bound: tuple[str, int], wanted: tuple[str, int]) -> bool:
    return bound[1] == wanted[1] and _normal_host(bound[0]) == _normal_host(wanted[0])


def _normal_host(host: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
