"""One gateway per config file: an exclusive ``flock`` on ``<lock_dir>/gateway.<h>.lock``.

(``<lock_dir>`` is ``<state>/tmp/openclaw-<uid>``, ``<h>`` from the config path.)

The lock is held for the life of the process (or of the tree, across an in-process restart it
is released and taken again). The kernel drops it when the holder dies, however it dies, so
there is no stale-owner logic; the file only carries the holder's pid for the refusal message.
A live holder makes us wait up to 5 s (an old gateway on its way out), then refuse with
``gateway already running (pid N); lock timeout after 5000ms`` as upstream does.

Two ways to wait, because of where they run:

* :meth:`GatewayLock.acquire` retries on the reactor clock and never blocks: a running
  process (the supervisor's in-process restart) uses it;
* :meth:`GatewayLock.acquire_before_reactor` blocks in ``flock(2)`` itself, bounded by a
  ``SIGALRM`` timer (what util-linux ``flock -w`` does). Process start-up uses it, before the
  reactor runs: nothing is being served yet, so the only thing a blocking wait holds up is
  the start-up itself, and it needs no polling.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import attrs
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater


class GatewayLockError(Exception):
    pass


def lock_path_for(lock_dir: str, config_path: str) -> str:
    digest = hashlib.sha1(config_path.encode("utf-8")).hexdigest()[:8]
    return os.path.join(lock_dir, f"gateway.{digest}.lock")


class _WaitExpired(Exception):
    """Raised by the SIGALRM handler to interrupt a blocking ``flock``."""


@contextlib.contextmanager
def _alarm_after(seconds: float) -> Iterator[None]:
    """Raise :class:`_WaitExpired` in the main thread after ``seconds``."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _WaitExpired()

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)


@attrs.define
class GatewayLock:
    path: str
    config_path: str
    wait_s: float = 5.0
    retry_s: float = 0.1
    _fd: int | None = attrs.field(default=None, init=False)

    @property
    def held(self) -> bool:
        return self._fd is not None

    # -- taking it -----------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """One attempt that never waits: True when this lock now holds the file."""
        return self.held or self._take(blocking=False)

    async def acquire(self, clock: IReactorTime) -> None:
        """Take the lock, retrying on ``clock`` for up to ``wait_s``; never blocks the reactor.

        Raises :class:`GatewayLockError` (``gateway already running (pid N)...``) when the
        holder keeps it past the wait.
        """
        deadline = clock.seconds() + self.wait_s
        while not self.try_acquire():
            if clock.seconds() >= deadline:
                raise self._busy()
            await deferLater(clock, min(self.retry_s, max(0.0, deadline - clock.seconds())))

    def acquire_before_reactor(self) -> None:
        """Take the lock at process start-up, blocking for up to ``wait_s``.

        Only for the start-up path, before the reactor runs (see the module docstring). Off
        the main thread no timer can interrupt ``flock``, so it makes a single attempt.
        """
        if self.try_acquire():
            return
        if threading.current_thread() is not threading.main_thread() or self.wait_s <= 0:
            raise self._busy()
        deadline = time.monotonic() + self.wait_s
        while not self.held:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._busy()
            try:
                with _alarm_after(remaining):
                    self._take(blocking=True)
            except _WaitExpired:
                # The timer may fire just after the lock was taken: then we keep it.
                if not self.held:
                    raise self._busy() from None

    def _take(self, *, blocking: bool) -> bool:
        while True:
            try:
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise self._failed(e) from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BlockingIOError:
                    os.close(fd)
                    return False
                # A holder that released meanwhile unlinked the file we opened: a lock on that
                # inode excludes nobody, so take the one now at the path.
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                self._write_owner(fd)
            except BaseException as e:  # _WaitExpired included: never leak the descriptor
                with contextlib.suppress(OSError):
                    os.close(fd)
                if isinstance(e, OSError):
                    raise self._failed(e) from None
                raise
            self._fd = fd
            return True

    def _write_owner(self, fd: int) -> None:
        payload = {
            "pid": os.getpid(),
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "configPath": self.config_path,
        }
        data = json.dumps(payload).encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    # -- giving it back ------------------------------------------------------------------

    def release(self) -> None:
        """Unlink the file while still holding it, then drop the lock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        finally:
            os.close(fd)

    # -- messages ------------------------------------------------------------------------

    def holder_pid(self) -> int | None:
        """The pid the current holder wrote, when readable."""
        try:
            with open(self.path, encoding="utf-8") as f:
                owner = json.load(f)
        except (OSError, ValueError):
            return None
        pid = owner.get("pid") if isinstance(owner, dict) else None
        return pid if isinstance(pid, int) else None

    def _busy(self) -> GatewayLockError:
        pid = self.holder_pid()
        return GatewayLockError(
            f"gateway already running (pid {pid if pid is not None else '?'}); "
            f"lock timeout after {int(self.wait_s * 1000)}ms"
        )

    def _failed(self, error: OSError) -> GatewayLockError:
        return GatewayLockError(
            f"failed to acquire gateway lock at {self.path}: {error.strerror or error}"
        )


def lock_holder(path: str) -> int | None:
    """The pid of the gateway holding the lock at ``path`` now, None when nobody holds it.

    Never takes the lock: a shared, non-blocking ``flock`` on a read-only descriptor only
    tells whether an exclusive holder exists (for ``openclaw gateway restart``, which looks
    for the gateway it must restart).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held
        else:
            return None
        try:
            owner = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        except (OSError, ValueError):
            return None
    finally:
        os.close(fd)
    pid = owner.get("pid") if isinstance(owner, dict) else None
    return pid if isinstance(pid, int) else None
