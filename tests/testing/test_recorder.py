"""The awaitable log the fake servers record into."""

from __future__ import annotations

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.testing.recorder import Recorder


class RecorderTests(SynchronousTestCase):
    def test_next_hands_out_each_item_once_in_order(self) -> None:
        log: Recorder[str] = Recorder()
        log.record("a")
        first = self.successResultOf(log.next())
        waiting = log.next()
        also_waiting = log.next()
        self.assertNoResult(waiting)
        log.record("b")
        log.record("c")
        self.assertEqual((first, self.successResultOf(waiting),
                          self.successResultOf(also_waiting)), ("a", "b", "c"))
        self.assertEqual((log.items, len(log), log.pending, log[1]), (["a", "b", "c"], 3, 0, "b"))

    def test_wait_for_looks_at_history_then_waits(self) -> None:
        log: Recorder[int] = Recorder()
        log.record(1)
        log.record(2)
        self.assertEqual(self.successResultOf(log.wait_for(lambda n: n % 2 == 0)), 2)
        later = log.wait_for(lambda n: n > 10)
        log.record(5)
        self.assertNoResult(later)
        log.record(11)
        self.assertEqual(self.successResultOf(later), 11)
        self.assertEqual(self.successResultOf(log.next()), 1)  # wait_for takes nothing

    def test_positions_nth_and_first_after(self) -> None:
        log: Recorder[str] = Recorder()
        log.append("a")
        self.assertEqual(self.successResultOf(log.nth(0)), "a")
        second = log.nth(1)
        self.assertNoResult(second)
        # "a" matches but stands before the start: only a later item may answer.
        later_a = log.first_after(1, lambda item: item == "a")
        log.append("b")
        self.assertEqual(self.successResultOf(second), "b")
        self.assertNoResult(later_a)
        log.append("a")
        self.assertEqual(self.successResultOf(later_a), "a")
        self.assertEqual(self.successResultOf(log.first()), "a")

    def test_cancel_and_skip_all(self) -> None:
        log: Recorder[int] = Recorder()
        waiting = log.next()
        waiting.cancel()
        self.failureResultOf(waiting, CancelledError)
        watching = log.wait_for(lambda n: True)
        watching.cancel()
        self.failureResultOf(watching, CancelledError)
        log.record(1)
        log.skip_all()
        log.record(2)
        self.assertEqual(self.successResultOf(log.next()), 2)

    def test_with_a_reactor_waiters_resume_on_the_next_turn(self) -> None:
        clock = Clock()
        log: Recorder[str] = Recorder()
        log.use_reactor(clock)
        waiting = log.next()
        watching = log.wait_for(lambda s: s == "x")
        log.record("x")
        self.assertNoResult(waiting)   # not inside the code that recorded it
        self.assertNoResult(watching)
        self.assertNoResult(log.next())
        clock.advance(0)
        self.assertEqual((self.successResultOf(waiting), self.successResultOf(watching)),
                         ("x", "x"))
