"""The durable outbound queue: a reply is kept until the network accepted it.

Every outbound chunk is a row of ``outbox`` (see :mod:`openclaw.channels.store`) before
anything is sent. One drain per account sends its pending rows in order, one at a time,
through the account (``send_message``: the network's own acceptance -- an IRC ``PONG`` after
the ``PRIVMSG``, a Matrix event id for the transaction id), and marks each row ``sent``.
A drain stops when the account is not connected and starts again when it connects, so a
reconnect, a reload of that account or a gateway restart delivers what was queued instead
of losing it. A recipient who is not there (IRC 401) or a rate limit defers that target's
rows (later rows to the same target wait, so order is kept); a message that can never be
delivered is marked ``failed``. Rows older than a day are given up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from openclaw.blocking import BlockingRunner
from openclaw.channels.model import NotConnected, OutboundMessage, SendFailed
from openclaw.channels.store import ChannelDatabase, NewOutbound, OutboxRow

log = Logger(namespace="channels.outbound")

MAX_AGE_MS: Final = 24 * 3_600_000
RETRY_BASE_S: Final = 2.0
RETRY_MAX_S: Final = 60.0


class Outbox:
    """Queue, drain and delivery notifications for every account of the gateway."""

    def __init__(self, clock: IReactorTime, db: ChannelDatabase, run: BlockingRunner,
                 account_of: Callable[[str, str], Any]) -> None:
        self._clock = clock
        self._db = db
        self._run = run
        self._account_of = account_of
        self._draining: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        self._timers: dict[tuple[str, str], IDelayedCall] = {}
        self._waiters: dict[int, list[Deferred[OutboxRow]]] = {}
        self.stopped = False

    def now_ms(self) -> int:
        return int(self._clock.seconds() * 1000)

    # -- queueing -----------------------------------------------------------------------

    async def enqueue(self, rows: Iterable[NewOutbound]) -> list[int]:
        """Make the rows durable (idempotent on their keys), then start delivering them."""
        rows = list(rows)
        ids: list[int] = await self._run(self._db.outbox_add, rows, self.now_ms())
        for key in {(row.channel, row.account) for row in rows}:
            self.kick(*key)
        return ids

    def queued(self, rows: Iterable[NewOutbound]) -> None:
        """Rows committed by someone else (the inbound pipeline's transaction): deliver."""
        for key in {(row.channel, row.account) for row in rows}:
            self.kick(*key)

    def wait(self, row_id: int) -> Deferred[OutboxRow]:
        """Fires with the row once it is ``sent`` or ``failed`` (never fails itself)."""
        waiter: Deferred[OutboxRow] = Deferred()
        self._waiters.setdefault(row_id, []).append(waiter)

        def check(rows: list[OutboxRow]) -> None:
            for row in rows:
                if row.state != "pending":
                    self._settle(row)

        self._run(self._db.outbox_get, [row_id]).addCallback(check).addErrback(
            lambda f: log.failure("outbox lookup failed", f))
        return waiter

    def _settle(self, row: OutboxRow) -> None:
        for waiter in self._waiters.pop(row.id, []):
            if not waiter.called:
                waiter.callback(row)

    # -- draining -----------------------------------------------------------------------

    def kick(self, channel: str, account: str) -> None:
        """Deliver the account's pending rows now (or right after the running drain)."""
        if self.stopped:
            return
        key = (channel, account)
        timer = self._timers.pop(key, None)
        if timer is not None and timer.active():
            timer.cancel()
        if key in self._draining:
            self._again.add(key)
            return
        self._draining.add(key)
        Deferred.fromCoroutine(self._drain(channel, account)).addErrback(
            lambda f: log.failure("outbox drain {channel}:{account} failed", f,
                                  channel=channel, account=account))

    def stop(self) -> None:
        self.stopped = True
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()

    async def _drain(self, channel: str, account_id: str) -> None:
        key = (channel, account_id)
        try:
            while True:
                self._again.discard(key)
                account = self._account_of(channel, account_id)
                if account is None or not account.connected:
                    return
                rows: list[OutboxRow] = await self._run(self._db.outbox_pending, channel,
                                                        account_id)
                progressed, wake_at = await self._send_due(account, rows)
                if self.stopped:
                    return
                if key in self._again or progressed:
                    continue
                if wake_at is not None:
                    delay = max(0.0, (wake_at - self.now_ms()) / 1000.0)
                    self._timers[key] = self._clock.callLater(delay, self.kick, channel,
                                                              account_id)
                return
        finally:
            self._draining.discard(key)

    async def _send_due(self, account: Any, rows: list[OutboxRow]) -> tuple[bool, int | None]:
        """Send what is due; ``(sent or settled anything, when to look again)``."""
        now = self.now_ms()
        blocked: set[str] = set()
        wake_at: int | None = None
        for row in rows:
            if row.target in blocked:
                continue
            if now - row.created_at > MAX_AGE_MS:
                await self._run(self._db.outbox_failed, row.id, "expired")
                self._settle_id(row.id)
                return True, None
            if row.next_at > now:
                blocked.add(row.target)
                wake_at = row.next_at if wake_at is None else min(wake_at, row.next_at)
                continue
            message = OutboundMessage(row_id=row.id, key=row.key, target=row.target,
                                      text=row.text, thread_id=row.meta.get("threadId"),
                                      reply_to_id=row.meta.get("replyToId"),
                                      attempts=row.attempts,
                                      edit_id=row.meta.get("editMessageId"))
            try:
                message_id = await account.send_message(message)
            except NotConnected:
                return False, None
            except SendFailed as e:
                if e.retry_after is None:
                    log.warn("{channel}:{account} gave up on {key}: {error}",
                             channel=row.channel, account=row.account, key=row.key,
                             error=str(e))
                    await self._run(self._db.outbox_failed, row.id, str(e))
                    self._settle_id(row.id)
                    return True, None
                delay = max(e.retry_after, min(RETRY_MAX_S, RETRY_BASE_S * 2 ** row.attempts))
                next_at = self.now_ms() + int(delay * 1000)
                await self._run(self._db.outbox_retry, row.id, str(e), next_at)
                blocked.add(row.target)
                wake_at = next_at if wake_at is None else min(wake_at, next_at)
                continue
            except Exception as e:
                # A connection lost mid-send, a timeout: the row stays pending.
                log.info("{channel}:{account} send of {key} interrupted: {error}",
                         channel=row.channel, account=row.account, key=row.key, error=str(e))
                return False, None
            await self._run(self._db.outbox_sent, row.id, message_id, self.now_ms())
            account.note_outbound()
            self._settle_id(row.id)
            return True, None
        return False, wake_at

    def _settle_id(self, row_id: int) -> None:
        if row_id not in self._waiters:
            return
        def settle(rows: list[OutboxRow]) -> None:
            for row in rows:
                self._settle(row)

        self._run(self._db.outbox_get, [row_id]).addCallback(settle).addErrback(
            lambda f: log.failure("outbox lookup failed", f))
