"""Time in tests is a clock the test owns.

:class:`ClockTestCase` gives a test a ``MemoryReactorClock`` (a fake reactor: time, TCP,
no threads) and fails it when it ends with delayed calls still pending on that clock: a timer
nobody cancelled is a leak in production (a retry that fires after a stop, a timeout that
holds a connection). Trial already fails real-reactor tests that leave calls behind; this does
the same for fake clocks, whose calls trial cannot see.
"""

from __future__ import annotations

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase


def pending_calls(clock: MemoryReactorClock) -> list[str]:
    return [repr(call) for call in clock.getDelayedCalls() if call.active()]


class ClockTestCase(SynchronousTestCase):
    """A test on a fake reactor; its delayed calls must be gone when it ends."""

    clock: MemoryReactorClock

    def setUp(self) -> None:
        super().setUp()
        self.clock = MemoryReactorClock()
        # cleanups run last-added-first: this check runs after every cleanup the test adds
        self.addCleanup(self.assert_no_pending_calls)

    def assert_no_pending_calls(self) -> None:
        left = pending_calls(self.clock)
        if left:
            self.fail(f"delayed calls left on the clock: {left}")
