"""The per-config single-instance lock: flock held for the process's life, waits on a Clock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.lock import GatewayLock, GatewayLockError, lock_path_for
from tests.support import REPO_ROOT

# Takes the lock at argv[1], says so, then holds it until killed.
HOLDER = textwrap.dedent("""
    import sys
    from openclaw.gateway.lock import GatewayLock
    lock = GatewayLock(sys.argv[1], "/cfg/openclaw.json")
    assert lock.try_acquire()
    print("locked", flush=True)
    sys.stdin.read()
""")


class LockTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = lock_path_for(os.path.abspath(self.mktemp()), "/cfg/openclaw.json")

    def lock(self, **kwargs: float) -> GatewayLock:
        lock = GatewayLock(self.path, "/cfg/openclaw.json", **kwargs)
        self.addCleanup(lock.release)
        return lock

    def busy(self, pid: int, ms: int = 5000) -> str:
        return f"gateway already running (pid {pid}); lock timeout after {ms}ms"

    def holder_process(self) -> subprocess.Popen[str]:
        """Another process holding the lock (stdout says when)."""
        child = subprocess.Popen([sys.executable, "-c", HOLDER, self.path], cwd=REPO_ROOT,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        assert child.stdout is not None
        self.assertEqual(child.stdout.readline(), "locked\n")
        return child

    def test_path_shape(self) -> None:
        path = lock_path_for("/tmp/openclaw-0", "/cfg/openclaw.json")
        self.assertRegex(os.path.basename(path), r"^gateway\.[0-9a-f]{8}\.lock$")

    def test_acquire_writes_owner_and_release_removes(self) -> None:
        lock = self.lock()
        self.assertTrue(lock.try_acquire())
        self.assertTrue(lock.held)
        with open(lock.path) as f:
            owner = json.load(f)
        self.assertEqual(owner["pid"], os.getpid())
        self.assertEqual(owner["configPath"], "/cfg/openclaw.json")
        self.assertEqual(os.stat(lock.path).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.dirname(lock.path)).st_mode & 0o777, 0o700)
        lock.release()
        self.assertFalse(lock.held)
        self.assertFalse(os.path.exists(lock.path))

    def test_second_holder_waits_on_the_clock_then_fails(self) -> None:
        clock = Clock()
        self.assertTrue(self.lock().try_acquire())
        waiting: Deferred[None] = Deferred.fromCoroutine(self.lock().acquire(clock))
        self.assertNoResult(waiting)
        clock.advance(4.9)
        self.assertNoResult(waiting)
        clock.advance(0.1)
        error = self.failureResultOf(waiting, GatewayLockError).value
        self.assertEqual(str(error), self.busy(os.getpid()))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_waiter_gets_the_lock_when_the_holder_lets_go(self) -> None:
        clock = Clock()
        holder = self.lock()
        self.assertTrue(holder.try_acquire())
        contender = self.lock()
        waiting: Deferred[None] = Deferred.fromCoroutine(contender.acquire(clock))
        clock.advance(1.0)
        self.assertNoResult(waiting)
        holder.release()
        clock.advance(contender.retry_s)
        self.successResultOf(waiting)
        self.assertTrue(contender.held)
        with open(self.path) as f:
            self.assertEqual(json.load(f)["pid"], os.getpid())

    def test_free_lock_is_taken_without_the_clock(self) -> None:
        clock = Clock()
        lock = self.lock()
        self.successResultOf(Deferred.fromCoroutine(lock.acquire(clock)))
        self.assertTrue(lock.held)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_another_process_holds_it_and_its_pid_is_reported(self) -> None:
        child = self.holder_process()
        lock = self.lock(wait_s=0)
        self.assertFalse(lock.try_acquire())
        error = self.assertRaises(GatewayLockError, lock.acquire_before_reactor)
        self.assertEqual(str(error), self.busy(child.pid, 0))

    def test_killed_holder_frees_the_lock_at_once(self) -> None:
        child = self.holder_process()
        lock = self.lock()
        self.assertFalse(lock.try_acquire())
        child.kill()
        child.wait()
        # No stale-owner check and no waiting: the kernel dropped the lock with the process.
        self.assertTrue(lock.try_acquire())
        with open(self.path) as f:
            self.assertEqual(json.load(f)["pid"], os.getpid())

    def test_leftover_file_without_a_holder_is_taken(self) -> None:
        # What an older gateway (O_EXCL lock file) or a crash leaves behind.
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            json.dump({"pid": os.getpid() + 1_000_000, "configPath": "x"}, f)
        lock = self.lock()
        self.assertTrue(lock.try_acquire())

    def test_before_reactor_takes_a_free_lock(self) -> None:
        lock = self.lock()
        lock.acquire_before_reactor()
        self.assertTrue(lock.held)

    def test_before_reactor_gives_up_after_the_wait_and_restores_the_alarm(self) -> None:
        self.assertTrue(self.lock().try_acquire())
        previous = signal.getsignal(signal.SIGALRM)
        contender = self.lock(wait_s=0.05)
        error = self.assertRaises(GatewayLockError, contender.acquire_before_reactor)
        self.assertEqual(str(error), self.busy(os.getpid(), 50))
        self.assertFalse(contender.held)
        self.assertIs(signal.getsignal(signal.SIGALRM), previous)
        self.assertEqual(signal.getitimer(signal.ITIMER_REAL), (0.0, 0.0))

    def test_before_reactor_blocks_until_the_holder_exits(self) -> None:
        child = self.holder_process()
        lock = self.lock(wait_s=60)
        assert child.stdin is not None
        child.stdin.close()  # the holder exits now; we block in flock until it has
        lock.acquire_before_reactor()
        self.assertTrue(lock.held)

    def test_unusable_directory_is_a_clear_error(self) -> None:
        blocker = self.mktemp()
        with open(blocker, "w"):
            pass
        lock = GatewayLock(os.path.join(blocker, "gateway.x.lock"), "/cfg/openclaw.json")
        error = self.assertRaises(GatewayLockError, lock.try_acquire)
        self.assertTrue(str(error).startswith(f"failed to acquire gateway lock at {lock.path}: "),
                        str(error))
