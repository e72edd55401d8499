"""One gateway per config file: an O_EXCL lock file under <tmp>/openclaw-<uid>/.

Same rules as upstream: a lock whose owner is dead (or a different process reusing the
pid, told apart by its start time on Linux) is stale and taken over; a live owner makes us
wait up to 5 s, then refuse.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from collections.abc import Callable

import attrs


class GatewayLockError(Exception):
    pass


def lock_path_for(lock_dir: str, config_path: str) -> str:
    digest = hashlib.sha1(config_path.encode("utf-8")).hexdigest()[:8]
    return os.path.join(lock_dir, f"gateway.{digest}.lock")


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: distinguishes a reused pid from the lock's owner."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields resume after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@attrs.define
class GatewayLock:
    path: str
    config_path: str
    stale_after_s: float = 30.0
    wait_s: float = 5.0
    poll_s: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.time
    held: bool = False

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        deadline = self.now() + self.wait_s
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                owner = self._read_owner()
                if self._is_stale(owner):
                    self._remove()
                    continue
                if self.now() >= deadline:
                    pid = owner.get("pid", "?") if owner else "?"
                    raise GatewayLockError(
                        f"gateway already running (pid {pid}); lock timeout after "
                        f"{int(self.wait_s * 1000)}ms"
                    ) from None
                self.sleep(self.poll_s)
                continue
            except OSError as e:
                raise GatewayLockError(
                    f"failed to acquire gateway lock at {self.path}: {e.strerror}"
                ) from None
            payload = {
                "pid": os.getpid(),
                "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "configPath": self.config_path,
            }
            start = process_start_time(os.getpid())
            if start is not None:
                payload["startTime"] = start
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(payload, f)
            self.held = True
            return

    def release(self) -> None:
        if not self.held:
            return
        owner = self._read_owner()
        if owner is None or owner.get("pid") == os.getpid():
            self._remove()
        self.held = False

    def _read_owner(self) -> dict[str, object] | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _is_stale(self, owner: dict[str, object] | None) -> bool:
        if owner is None or not isinstance(owner.get("pid"), int):
            # Unreadable (possibly mid-write): stale only once old enough.
            try:
                age = self.now() - os.stat(self.path).st_mtime
            except FileNotFoundError:
                return True
            return age > self.stale_after_s
        pid = owner["pid"]
        assert isinstance(pid, int)
        if pid == os.getpid() or not pid_alive(pid):
            return True
        recorded = owner.get("startTime")
        if isinstance(recorded, str):
            current = process_start_time(pid)
            if current is not None and current != recorded:
                return True
        return False

    def _remove(self) -> None:
        try:
            os.unlink(self.path)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
