"""Port helpers: who listens on a port, and `--force` freeing it (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import attrs


def listener_pids(port: int) -> list[int]:
    """PIDs with a TCP socket in LISTEN on `port` (any address)."""
    import psutil

    pids: set[int] = set()
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        connections = []
    for conn in connections:
        listening = conn.status == psutil.CONN_LISTEN and conn.laddr
        if listening and conn.laddr.port == port and conn.pid is not None:
            pids.add(conn.pid)
    pids.discard(os.getpid())
    return sorted(pids)


def process_command(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            parts = f.read().split(b"\0")
    except OSError:
        return None
    return " ".join(p.decode("utf-8", "replace") for p in parts if p)[:200] or None


@attrs.frozen
class ForceResult:
    killed: tuple[tuple[int, str | None], ...]
    escalated_to_sigkill: bool
    waited_ms: int


class ForceError(Exception):
    pass


def force_free_port(
    port: int,
    *,
    sigterm_timeout_s: float = 0.7,
    total_timeout_s: float = 2.0,
    interval_s: float = 0.1,
    find: Callable[[int], list[int]] = listener_pids,
    kill: Callable[[int, int], None] = os.kill,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> ForceResult:
    """SIGTERM every listener on `port`, escalate to SIGKILL after 0.7 s, give up after 2 s.

    Blocks while it waits: ``--force`` is honoured at process start-up only, before the
    reactor runs (the supervisor's in-process restarts always drop it).
    """
    pids = find(port)
    if not pids:
        return ForceResult((), False, 0)
    killed = tuple((pid, process_command(pid)) for pid in pids)
    for pid in pids:
        try:
            kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    start = monotonic()
    escalated = False
    while True:
        remaining = find(port)
        elapsed = monotonic() - start
        if not remaining:
            return ForceResult(killed, escalated, int(elapsed * 1000))
        if elapsed >= total_timeout_s:
            raise ForceError(
                f"port {port} still has listeners after --force: "
                + ", ".join(str(p) for p in remaining)
            )
        if not escalated and elapsed >= sigterm_timeout_s:
            escalated = True
            for pid in remaining:
                try:
                    kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
        sleep(interval_s)
