"""What the networks' HTTP API clients share (Telegram Bot API, Discord REST, Matrix).

A persistent treq pool of its own per account (stopping one account never touches another's
connections), every request bounded by a timeout on the given clock and cancellable, the
requests in flight tracked so stopping waits a grace period and then cancels them, and the
hook tests use to learn that a 429 is being waited out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import treq.client
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.web.client import Agent, HTTPConnectionPool

from openclaw.channels.deferreds import settled

Headers = dict[bytes | str, list[bytes | str]]


class ChannelHttpClient:
    def __init__(self, reactor: Any, clock: IReactorTime) -> None:
        self.reactor = reactor
        self.clock = clock
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 4
        self._pool.retryAutomatically = False
        self._http = treq.client.HTTPClient(Agent(reactor, pool=self._pool, connectTimeout=10))
        self._in_flight: set[Deferred[Any]] = set()
        self.closed = False
        self._rate_limit_waiters: list[Deferred[float]] = []

    def when_rate_limited(self) -> Deferred[float]:
        """Fires with ``retry_after`` once the next 429 is being waited out."""
        waiter: Deferred[float] = Deferred()
        self._rate_limit_waiters.append(waiter)
        return waiter

    def _notify_rate_limited(self, wait: float) -> None:
        # on the next reactor turn: the waiting request is parked by then
        waiters, self._rate_limit_waiters = self._rate_limit_waiters, []
        for waiter in waiters:
            self.reactor.callLater(0, waiter.callback, wait)

    async def close(self, grace_s: float = 0.0) -> None:
        """Stop: requests still in flight get ``grace_s`` (on the reactor: real I/O) to
        finish -- a message being sent is not cut off -- then are cancelled (so no answer
        brings a connection back to the pool), and the pooled connections close."""
        self.closed = True
        if grace_s > 0 and self._in_flight:
            waiting: Deferred[Any] = DeferredList([settled(d) for d in self._in_flight])
            waiting.addTimeout(grace_s, self.reactor)
            with contextlib.suppress(Exception):
                await waiting
        for request in list(self._in_flight):
            request.cancel()
        await self._pool.closeCachedConnections()

    def _send(self, method: str, url: str, *, headers: Headers, data: bytes | None,
              timeout_s: float, decode: Callable[[Any], Coroutine[Any, Any, Any]],
              timer: IReactorTime | None = None) -> Deferred[Any]:
        """One request, its answer decoded by ``decode``, bounded by ``timeout_s`` on
        ``timer`` (the clock unless given), tracked while in flight."""
        sending: Deferred[Any] = self._http.request(method, url, headers=headers, data=data)
        sending.addCallback(lambda response: Deferred.fromCoroutine(decode(response)))
        sending.addTimeout(timeout_s, timer if timer is not None else self.clock)
        self._in_flight.add(sending)

        def done(result: Any) -> Any:
            self._in_flight.discard(sending)
            return result

        sending.addBoth(done)
        return sending
