"""Autobahn timers on the reactor we were given, and none left behind when a socket dies.

Autobahn schedules its handshake timeouts through txaio's batched timer on the *global*
reactor, and does not cancel the close-handshake timeout when the TCP connection is lost first:
a stray delayed call that trial reports as a dirty reactor. Factories here use
:class:`ReactorTimer`, and protocols call :func:`cancel_close_timer` when the connection is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class _Call:
    __slots__ = ("_call",)

    def __init__(self, call: IDelayedCall) -> None:
        self._call = call

    def cancel(self) -> None:
        if self._call.active():
            self._call.cancel()


class ReactorTimer:
    """The ``call_later`` Autobahn factories need (``factory._batched_timer``), on ``clock``."""

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock

    def call_later(self, delay: float, func: Callable[..., Any], *args: Any,
                   **kwargs: Any) -> _Call:
        return _Call(self._clock.callLater(delay, func, *args, **kwargs))


def cancel_close_timer(protocol: Any) -> None:
    """Cancel a pending close-handshake timeout of an Autobahn protocol whose socket is gone."""
    call = getattr(protocol, "closeHandshakeTimeoutCall", None)
    if call is not None:
        call.cancel()
        protocol.closeHandshakeTimeoutCall = None
