"""Process and host counters: the Python equivalents of the Node ones the real gateway reports.

Read from ``/proc`` on Linux (one small file each, no import); elsewhere through ``psutil``
(imported on first use, never at start-up). Each reader returns None when the platform cannot
tell, and the caller then leaves the field out, as upstream does. See docs/protocol.md
("Process vitals") for the mapping of every field.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, Final

_LINUX: Final = sys.platform.startswith("linux")


def _clock_ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 100.0


_CLK_TCK: Final = _clock_ticks()


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    return psutil


def host_cpu_count() -> int:
    """Logical CPUs of the host (``os.cpus().length``)."""
    return os.cpu_count() or 1


def host_cpu_times() -> tuple[float, float] | None:
    """(busy, total) host CPU time over all CPUs, as upstream sums ``os.cpus()[].times``:
    user + nice + sys + idle + irq, busy = total - idle."""
    if _LINUX:
        try:
            with open("/proc/stat", "rb") as handle:
                fields = handle.readline().split()
            # cpu user nice system idle iowait irq softirq ...
            user, nice, system, idle = (float(v) for v in fields[1:5])
            irq = float(fields[6]) if len(fields) > 6 else 0.0
        except (OSError, ValueError, IndexError):
            return None
    else:
        psutil = _psutil()
        if psutil is None:
            return None
        try:
            times = psutil.cpu_times()
        except (OSError, psutil.Error):
            return None
        user, system, idle = times.user, times.system, times.idle
        nice, irq = getattr(times, "nice", 0.0), getattr(times, "irq", 0.0)
    total = user + nice + system + idle + irq
    return total - idle, total


def thread_cpu_seconds(native_ids: Iterable[int]) -> dict[int, float] | None:
    """CPU seconds (user + system) of each live thread of this process with these ids."""
    wanted = set(native_ids)
    if not wanted:
        return {}
    found: dict[int, float] = {}
    if _LINUX:
        for tid in wanted:
            try:
                with open(f"/proc/self/task/{tid}/stat", "rb") as handle:
                    raw = handle.read()
                rest = raw[raw.rindex(b")") + 2:].split()
                # after "pid (comm) ": state(3) ... utime(14) stime(15)
                found[tid] = (int(rest[11]) + int(rest[12])) / _CLK_TCK
            except (OSError, ValueError, IndexError):
                continue
        return found
    psutil = _psutil()
    if psutil is None:
        return None
    try:
        threads = psutil.Process().threads()
    except (OSError, psutil.Error):
        return None
    for thread in threads:
        if thread.id in wanted:
            found[thread.id] = thread.user_time + thread.system_time
    return found


def _proc_status() -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/self/status", "rb") as handle:
        for line in handle:
            key, _, rest = line.partition(b":")
            if key in (b"VmRSS", b"RssAnon", b"RssFile", b"RssShmem", b"VmData", b"VmSwap"):
                values[key.decode()] = int(rest.split()[0]) * 1024
    return values


def process_memory() -> dict[str, int]:
    """``processMemory``: ``rssBytes``, ``heapUsedBytes``, ``heapTotalBytes``,
    ``externalBytes``, ``arrayBuffersBytes`` (docs/protocol.md has the mapping)."""
    if _LINUX:
        try:
            status = _proc_status()
            rss = status["VmRSS"]
            anon = status.get("RssAnon", rss)
            shmem = status.get("RssShmem", 0)
            return {
                "rssBytes": rss,
                "heapUsedBytes": anon,
                "heapTotalBytes": max(anon, status.get("VmData", anon)),
                "externalBytes": status.get("RssFile", 0) + shmem,
                "arrayBuffersBytes": shmem,
            }
        except (OSError, ValueError, KeyError, IndexError):
            pass
    psutil = _psutil()
    if psutil is not None:
        try:
            info = psutil.Process().memory_info()
            shared = int(getattr(info, "shared", 0))
            used = max(0, int(info.rss) - shared)
            return {"rssBytes": int(info.rss), "heapUsedBytes": used,
                    "heapTotalBytes": max(used, int(getattr(info, "data", 0) or info.vms)),
                    "externalBytes": shared, "arrayBuffersBytes": 0}
        except (OSError, psutil.Error):
            pass    # /proc unreadable: the resource module's figures below
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"rssBytes": rss, "heapUsedBytes": rss, "heapTotalBytes": rss,
            "externalBytes": 0, "arrayBuffersBytes": 0}
