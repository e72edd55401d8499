"""Embedded SQLite databases under the state dir: one way to open, write and close them.

:class:`SqliteDatabase` is a blocking handle (WAL, ``synchronous=FULL`` so what a write
returned is on disk and a ``kill -9`` never loses it, a busy timeout so the CLI and the
gateway can share a file, mode 0600 for a new file). Its methods block: the gateway calls
them off the reactor through a :class:`SerialWriter` (the reactor's thread pool, one call after
another, in the order they were asked for; inline on a fake reactor), the CLI directly.

``schema`` is a script of ``CREATE ... IF NOT EXISTS`` statements run when the file is first
opened; ``user_version`` migrations are the owner's (:meth:`SqliteDatabase.migrate`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, DeferredLock

from openclaw.blocking import BlockingRunner

T = TypeVar("T")


class SqliteDatabase:
    """A thread-safe blocking handle on one SQLite file (see the module docstring). The file
    is opened on first use, so building one costs nothing on the reactor."""

    def __init__(self, path: str, schema: str = "") -> None:
        self.path = path
        self.schema = schema
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._lock = threading.RLock()

    def connection(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"{self.path} is closed")
            if self._conn is None:
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                existed = os.path.exists(self.path)
                conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA busy_timeout=10000")
                if self.schema:
                    conn.executescript(self.schema)
                if not existed:
                    os.chmod(self.path, 0o600)
                self._conn = conn
            return self._conn

    def close(self) -> None:
        """Close for good (a later use raises instead of opening the file again)."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: writers of other processes wait)."""
        with self._lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.connection().execute(sql, args))

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        with self.transaction() as conn:
            return int(conn.execute(sql, args).rowcount)

    def migrate(self, version: int, steps: Callable[[sqlite3.Connection, int], None]) -> None:
        """Run ``steps(conn, from_version)`` once when ``user_version`` is below ``version``."""
        with self.transaction() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current < version:
                steps(conn, current)
                conn.execute(f"PRAGMA user_version = {int(version)}")


class SerialWriter:
    """Blocking calls off the reactor, one at a time, in order (a ``DeferredLock`` around the
    blocking runner): an update asked for after another is never overtaken by it."""

    def __init__(self, run_blocking: BlockingRunner) -> None:
        self._run_blocking = run_blocking
        self._lock = DeferredLock()

    def __call__(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        return self._lock.run(self._run_blocking, func, *args, **kwargs)

    async def drain(self) -> None:
        """Wait for every call asked for so far."""
        await self._lock.acquire()
        self._lock.release()


__all__ = ["SerialWriter", "SqliteDatabase"]
