"""An awaitable log of things a fake server saw (messages the bot sent, typing, edits, ...).

Tests wait on the event itself, never on time::

    sent = await bot.sent.next()                 # the next message not yet taken by next()
    pairing = await bot.sent.wait_for(lambda m: "Pairing code" in m.text)
    assert bot.sent.items[-1].text == "..."      # everything recorded so far

``next()`` hands out every item exactly once, in order, whether it was recorded before or after
the call, so a test never races the server. ``wait_for`` (alias ``first``) looks at the whole
history first; ``nth`` and ``first_after`` wait on a position.

A waiting test resumes on the reactor's next turn, never inside the server's own code: the
server finishes handling the request that produced the item before the test goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from twisted.internet.defer import Deferred

T = TypeVar("T")


class Recorder(Generic[T]):
    def __init__(self, reactor: Any = None) -> None:
        self.items: list[T] = []
        self._reactor = reactor
        self._cursor = 0
        self._checked = 0  # items already shown to the wait_for watchers
        self._flush_scheduled = False
        self._waiting: list[Deferred[T]] = []
        # (predicate, waiter, first index the waiter may match)
        self._watchers: list[tuple[Callable[[T], bool], Deferred[T], int]] = []

    def use_reactor(self, reactor: Any) -> None:
        """Wake waiters with ``reactor.callLater(0, ...)`` instead of synchronously."""
        self._reactor = reactor

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self.items))

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    @property
    def pending(self) -> int:
        """Items recorded but not yet handed out by :meth:`next`."""
        return len(self.items) - self._cursor

    def record(self, item: T) -> T:
        self.items.append(item)
        if self._reactor is None:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._reactor.callLater(0, self._flush)
        return item

    def append(self, item: T) -> None:
        """:meth:`record`, under the name a list has (a Recorder stands where a list was)."""
        self.record(item)

    def next(self) -> Deferred[T]:
        """The next item not yet taken by ``next()``; fires as soon as it exists."""
        if not self._waiting and self._cursor < len(self.items) and not self._flush_scheduled:
            item = self.items[self._cursor]
            self._cursor += 1
            return _fired(item)
        waiter: Deferred[T] = Deferred(self._cancel_next)
        self._waiting.append(waiter)
        if self._cursor < len(self.items) and not self._flush_scheduled:
            self._flush()
        return waiter

    def wait_for(self, predicate: Callable[[T], bool] = lambda _item: True) -> Deferred[T]:
        """The first item ever recorded that matches, or the next one that will."""
        return self.first_after(0, predicate)

    first = wait_for

    def nth(self, index: int) -> Deferred[T]:
        """The item at ``index`` once it has been recorded."""
        return self.first_after(index, lambda _item: True)

    def first_after(self, start: int, predicate: Callable[[T], bool]) -> Deferred[T]:
        """The first item at position ``start`` or later that matches, now or later."""
        for item in self.items[start:self._checked]:
            if predicate(item):
                return _fired(item)
        waiter: Deferred[T] = Deferred(self._cancel_watch)
        self._watchers.append((predicate, waiter, start))
        if self._checked < len(self.items) and not self._flush_scheduled:
            self._flush()
        return waiter

    def skip_all(self) -> None:
        """Mark everything recorded so far as taken (a test's fresh start)."""
        self._cursor = len(self.items)

    def _flush(self) -> None:
        self._flush_scheduled = False
        fired: list[tuple[Deferred[T], T]] = []
        while self._checked < len(self.items):
            position, item = self._checked, self.items[self._checked]
            self._checked += 1
            keep: list[tuple[Callable[[T], bool], Deferred[T], int]] = []
            for predicate, waiter, start in self._watchers:
                if position >= start and predicate(item):
                    fired.append((waiter, item))
                else:
                    keep.append((predicate, waiter, start))
            self._watchers = keep
        while self._waiting and self._cursor < len(self.items):
            fired.append((self._waiting.pop(0), self.items[self._cursor]))
            self._cursor += 1
        for waiter, item in fired:
            waiter.callback(item)

    def _cancel_next(self, waiter: Deferred[T]) -> None:
        if waiter in self._waiting:
            self._waiting.remove(waiter)

    def _cancel_watch(self, waiter: Deferred[T]) -> None:
        self._watchers = [watch for watch in self._watchers if watch[1] is not waiter]


def _fired(item: T) -> Deferred[T]:
    done: Deferred[T] = Deferred()
    done.callback(item)
    return done
