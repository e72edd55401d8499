"""A process restart that never refuses a connection, without a service manager.

``openclaw gateway restart`` on a gateway that no service manager runs asks it for a
**process restart by re-exec**: the gateway drains and stops its tree (clients get
``shutdown`` with ``restartExpectedMs``, then close 1012), then ``execve``s its own command
line in the same process, with its listening sockets passed the way systemd passes them
(descriptors 3.., ``LISTEN_FDS``/``LISTEN_PID``/``LISTEN_FDNAMES``). The new image adopts
them (:mod:`openclaw.gateway.listeners`). The listening socket never closes, so connection
attempts made meanwhile wait in its accept queue and are served by the new code; and the
pid, the parent, the terminal and the container stay what they were (a gateway that is
PID 1 of a container restarts without the container exiting, which a spawn-and-exit
restart cannot do).

How the CLI asks: it writes a small request file next to the gateway's lock (the lock file
names the running gateway's pid) and sends ``SIGUSR2``; the gateway reads and removes the
file when the signal arrives. A signal without a (fresh) request file stays what it always
was: an in-process restart.

If ``execve`` fails, the sockets are put back and the gateway restarts in-process instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, NoReturn

import attrs
from twisted.logger import Logger

from openclaw.gateway.listeners import HANDOVER_NAME, Listener

__all__ = [
    "REQUEST_MAX_AGE_S",
    "RestartRequest",
    "consume_restart_request",
    "exec_with_listeners",
    "reexec_argv",
    "request_path_for",
    "write_restart_request",
]

log = Logger(namespace="gateway")

REQUEST_MAX_AGE_S: Final = 60.0
FIRST_LISTEN_FD: Final = 3  # SD_LISTEN_FDS_START
MODE_EXEC: Final = "exec"
# Flags that must not be repeated by the new image: --force would go hunting for the
# listener that is the gateway itself.
_ONCE_ONLY_FLAGS: Final = ("--force",)


@attrs.frozen
class RestartRequest:
    """What ``openclaw gateway restart`` asks of a running gateway."""

    pid: int
    mode: str = MODE_EXEC
    requested_at: float = 0.0
    reason: str = "openclaw gateway restart"

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "mode": self.mode, "requestedAt": self.requested_at,
                "reason": self.reason}


def request_path_for(lock_path: str) -> str:
    """The request file of the gateway holding ``lock_path`` (same directory, same hash)."""
    base = lock_path[:-len(".lock")] if lock_path.endswith(".lock") else lock_path
    return base + ".restart.json"


def write_restart_request(path: str, request: RestartRequest) -> None:
    from openclaw.atomic_files import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(request.to_json()).encode("utf-8"), mode=0o600)


def consume_restart_request(path: str, pid: int | None = None, *,
                            now: Callable[[], float] = time.time) -> RestartRequest | None:
    """Read and remove the request file; None unless it is fresh and for this process."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError):
        return None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    if not isinstance(raw, dict):
        return None
    pid = os.getpid() if pid is None else pid
    requested_at = raw.get("requestedAt")
    if raw.get("pid") != pid or not isinstance(requested_at, int | float):
        return None
    if abs(now() - float(requested_at)) > REQUEST_MAX_AGE_S:
        return None
    return RestartRequest(pid=pid, mode=str(raw.get("mode") or MODE_EXEC),
                          requested_at=float(requested_at),
                          reason=str(raw.get("reason") or "openclaw gateway restart"))


def reexec_argv(orig_argv: Sequence[str] | None = None,
                executable: str | None = None) -> list[str]:
    """This process's command line, to ``execve`` again (``sys.orig_argv``: it keeps
    ``-m openclaw`` and the interpreter's own flags, which ``sys.argv`` loses)."""
    argv = list(sys.orig_argv if orig_argv is None else orig_argv)
    argv[0] = executable or sys.executable
    return [arg for arg in argv if arg not in _ONCE_ONLY_FLAGS]


def _listen_env(env: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    child = {key: value for key, value in env.items()
             if key not in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")}
    if names:
        child.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(names)),
                     LISTEN_FDNAMES=":".join(names))
    return child


def exec_with_listeners(argv: Sequence[str], env: Mapping[str, str],
                        listeners: Sequence[Listener], *,
                        execve: Callable[[str, list[str], dict[str, str]], object]
                        | None = None) -> NoReturn:
    """``execve(argv)`` with ``listeners`` on descriptors 3.. and the ``LISTEN_*``
    variables set; every other descriptor closes on exec (PEP 446).

    Raises OSError when the exec fails, with every descriptor as it was before the call.
    """
    count = len(listeners)
    above = FIRST_LISTEN_FD + count
    targets = range(FIRST_LISTEN_FD, above)
    # Whatever occupies 3..3+n-1 now (the reactor's epoll, a log file...) is saved above
    # the range first, so a failed exec can put it back.
    saved: dict[int, int | None] = {}
    moved: list[int] = []
    try:
        moved = [fcntl.fcntl(listener.fileno(), fcntl.F_DUPFD_CLOEXEC, above)
                 for listener in listeners]
        for target in targets:
            try:
                saved[target] = fcntl.fcntl(target, fcntl.F_DUPFD_CLOEXEC, above)
            except OSError:
                saved[target] = None  # not open
        try:
            for target, fd in zip(targets, moved, strict=True):
                os.dup2(fd, target, inheritable=True)
            names = [listener.name if listener.activated else HANDOVER_NAME
                     for listener in listeners]
            sys.stdout.flush()
            sys.stderr.flush()
            (execve or os.execve)(argv[0], list(argv), _listen_env(env, names))
            raise OSError("execve returned")  # only a test's execve returns
        except BaseException:
            for target, previous in saved.items():
                if previous is None:
                    with contextlib.suppress(OSError):
                        os.close(target)
                else:
                    os.dup2(previous, target, inheritable=False)
            raise
    finally:
        for fd in [*moved, *(fd for fd in saved.values() if fd is not None)]:
            with contextlib.suppress(OSError):
                os.close(fd)
