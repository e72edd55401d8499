"""Running blocking work without blocking the reactor.

A :data:`BlockingRunner` is ``run(func, *args, **kwargs) -> Deferred``: file reads of size,
config parsing and the like go through one, so library code never blocks the reactor and
tests can run them inline. :func:`blocking_runner` picks the reactor's thread pool when the
reactor has one (a real reactor) and runs inline otherwise (``Clock``,
``MemoryReactorClock``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure

T = TypeVar("T")

BlockingRunner = Callable[..., "Deferred[Any]"]


def run_inline(func: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
    """Run at once on the calling thread (tests and reactors without threads)."""
    try:
        return succeed(func(*args, **kwargs))
    except Exception:
        return fail(Failure())


def thread_runner(reactor: IReactorThreads) -> BlockingRunner:
    """Run in the reactor's thread pool; the Deferred fires on the reactor thread."""

    def run(func: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        return deferToThreadPool(reactor, reactor.getThreadPool(), func, *args, **kwargs)

    return run


def blocking_runner(reactor: object) -> BlockingRunner:
    """The thread pool of a real reactor, else inline."""
    if IReactorThreads.providedBy(reactor):
        return thread_runner(reactor)
    return run_inline
