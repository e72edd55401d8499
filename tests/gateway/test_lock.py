"""The per-config lock file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.lock import GatewayLock, GatewayLockError, lock_path_for


class LockTests(SynchronousTestCase):
    def lock(self, **kwargs) -> GatewayLock:
        path = lock_path_for(self.mktemp(), "/cfg/openclaw.json")
        return GatewayLock(path, "/cfg/openclaw.json", **kwargs)

    def test_path_shape(self) -> None:
        path = lock_path_for("/tmp/openclaw-0", "/cfg/openclaw.json")
        self.assertRegex(os.path.basename(path), r"^gateway\.[0-9a-f]{8}\.lock$")

    def test_acquire_writes_owner_and_release_removes(self) -> None:
        lock = self.lock()
        lock.acquire()
        with open(lock.path) as f:
            owner = json.load(f)
        self.assertEqual(owner["pid"], os.getpid())
        self.assertEqual(owner["configPath"], "/cfg/openclaw.json")
        self.assertEqual(os.stat(lock.path).st_mode & 0o777, 0o600)
        lock.release()
        self.assertFalse(os.path.exists(lock.path))

    def test_dead_owner_is_stale(self) -> None:
        lock = self.lock()
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        os.makedirs(os.path.dirname(lock.path))
        with open(lock.path, "w") as f:
            json.dump({"pid": dead.pid, "configPath": "x"}, f)
        lock.acquire()
        self.assertTrue(lock.held)

    def test_live_owner_times_out(self) -> None:
        clock = [0.0]

        def sleep(seconds: float) -> None:
            clock[0] += seconds

        lock = self.lock(now=lambda: clock[0], sleep=sleep)
        alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        self.addCleanup(alive.kill)
        os.makedirs(os.path.dirname(lock.path))
        with open(lock.path, "w") as f:
            json.dump({"pid": alive.pid, "configPath": "x"}, f)
        e = self.assertRaises(GatewayLockError, lock.acquire)
        self.assertEqual(
            str(e), f"gateway already running (pid {alive.pid}); lock timeout after 5000ms"
        )

    def test_reused_pid_with_other_start_time_is_stale(self) -> None:
        lock = self.lock()
        os.makedirs(os.path.dirname(lock.path))
        with open(lock.path, "w") as f:
            json.dump({"pid": os.getppid(), "startTime": "1", "configPath": "x"}, f)
        lock.acquire()
        self.assertTrue(lock.held)
