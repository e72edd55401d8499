"""The durable outbound queue on a Clock: order, deferral, failures, reconnects, expiry."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.blocking import run_inline
from openclaw.channels.model import NotConnected, OutboundMessage, SendFailed
from openclaw.channels.outbound import Outbox
from openclaw.channels.store import ChannelDatabase, NewOutbound


class FakeAccount:
    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[str, str]] = []
        self.script: list[Any] = []      # per send: None (accept), an exception, a Deferred
        self.outbound = 0

    async def send_message(self, message: OutboundMessage) -> str | None:
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Deferred):
            await step
        elif isinstance(step, BaseException):
            raise step
        self.sent.append((message.target, message.text))
        return f"m{message.row_id}"

    def note_outbound(self) -> None:
        self.outbound += 1


class OutboxTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="oc-outbox-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = ChannelDatabase(os.path.join(self.dir, "channels.sqlite"))
        self.addCleanup(self.db.close)
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.account = FakeAccount()
        self.outbox = Outbox(self.clock, self.db, run_inline,
                             lambda channel, account: self.account)

    def enqueue(self, *rows: tuple[str, str, str]) -> list[int]:
        queued = [NewOutbound(key=key, channel="irc", account="default", target=target,
                              text=text) for key, target, text in rows]
        return self.successResultOf(Deferred.fromCoroutine(self.outbox.enqueue(queued)))

    def state(self) -> list[tuple[str, str]]:
        return [(str(key), str(state)) for key, state in
                self.db.query("SELECT key, state FROM outbox ORDER BY id")]

    def test_delivers_in_order_and_once(self) -> None:
        ids = self.enqueue(("a", "alice", "one"), ("b", "alice", "two"))
        self.assertEqual(self.enqueue(("a", "alice", "one")), ids[:1])     # idempotent
        self.assertEqual(self.account.sent, [("alice", "one"), ("alice", "two")])
        row = self.successResultOf(self.outbox.wait(ids[1]))
        self.assertEqual((row.state, row.message_id), ("sent", f"m{ids[1]}"))
        self.assertEqual(self.account.outbound, 2)

    def test_a_refused_target_waits_without_blocking_others(self) -> None:
        self.account.script = [SendFailed("no such nick: bob", retry_after=5)]
        self.enqueue(("1", "bob", "first"), ("2", "bob", "second"), ("3", "carol", "hi"))
        self.assertEqual(self.account.sent, [("carol", "hi")])
        self.assertEqual(self.state(), [("1", "pending"), ("2", "pending"), ("3", "sent")])
        self.clock.advance(4.9)
        self.assertEqual(len(self.account.sent), 1)
        self.clock.advance(0.1)
        self.assertEqual(self.account.sent[1:], [("bob", "first"), ("bob", "second")])

    def test_permanent_failure_and_expiry(self) -> None:
        self.account.script = [SendFailed("M_FORBIDDEN: not in room")]
        [row_id] = self.enqueue(("x", "!room:hs", "hello"))
        failed = self.successResultOf(self.outbox.wait(row_id))
        self.assertEqual((failed.state, failed.last_error), ("failed",
                                                             "M_FORBIDDEN: not in room"))
        self.account.connected = False
        [old] = self.enqueue(("y", "alice", "too late"))
        self.clock.advance(24 * 3600 + 1)
        self.account.connected = True
        self.outbox.kick("irc", "default")
        self.assertEqual(self.successResultOf(self.outbox.wait(old)).last_error, "expired")
        self.assertEqual(self.account.sent, [])

    def test_waits_for_the_connection_and_survives_a_lost_one(self) -> None:
        self.account.connected = False
        [first, second] = self.enqueue(("1", "alice", "a"), ("2", "alice", "b"))
        self.assertEqual(self.account.sent, [])
        self.account.connected = True
        self.account.script = [None, NotConnected()]
        self.outbox.kick("irc", "default")
        self.assertEqual(self.account.sent, [("alice", "a")])
        self.assertEqual(self.state(), [("1", "sent"), ("2", "pending")])
        self.outbox.kick("irc", "default")          # what connection_made() does
        self.assertEqual(self.successResultOf(self.outbox.wait(second)).state, "sent")
        self.assertEqual(self.account.sent, [("alice", "a"), ("alice", "b")])

    def test_a_restarted_queue_delivers_what_was_pending(self) -> None:
        self.account.connected = False
        self.enqueue(("1", "alice", "queued before the restart"))
        again = Outbox(self.clock, self.db, run_inline, lambda channel, account: self.account)
        self.account.connected = True
        again.kick("irc", "default")
        self.assertEqual(self.account.sent, [("alice", "queued before the restart")])
