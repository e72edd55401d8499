"""Recorded histories that tests can wait on: "the first item like this, now or later".

A test never sleeps: it asks for a Deferred that fires with the first recorded item matching a
predicate. If one was already recorded the Deferred has fired; otherwise it fires the moment
one arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from twisted.internet.defer import Deferred, succeed

T = TypeVar("T")


class History(Generic[T]):
    """An append-only record of items with awaitable look-ups."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._waiters: list[tuple[Callable[[T], bool], Deferred[T]]] = []

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    def append(self, item: T) -> None:
        self.items.append(item)
        matched: list[Deferred[T]] = []
        remaining: list[tuple[Callable[[T], bool], Deferred[T]]] = []
        for predicate, deferred in self._waiters:
            if deferred.called:
                continue  # cancelled by the test
            if predicate(item):
                matched.append(deferred)
            else:
                remaining.append((predicate, deferred))
        # Book-keeping first, callbacks last: a callback may record the next item at once.
        self._waiters = remaining
        for deferred in matched:
            deferred.callback(item)

    def first(self, predicate: Callable[[T], bool] = lambda _item: True) -> Deferred[T]:
        """The first item (recorded or future) satisfying ``predicate``."""
        return self.first_after(0, predicate)

    def nth(self, index: int) -> Deferred[T]:
        """The item at ``index`` once it has been recorded."""
        if index < len(self.items):
            return succeed(self.items[index])
        return self.first_after(len(self.items), lambda _item: len(self.items) > index)

    def first_after(self, start: int, predicate: Callable[[T], bool]) -> Deferred[T]:
        """The first item recorded at position ``start`` or later satisfying ``predicate``."""
        for item in self.items[start:]:
            if predicate(item):
                return succeed(item)
        deferred: Deferred[T] = Deferred()
        self._waiters.append((predicate, deferred))
        return deferred
