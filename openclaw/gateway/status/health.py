"""Cached health summary (``health-state``) and a reactor-lag monitor (``eventLoop``).

The summary is recomputed at most every refresh interval (or on an explicit probe). Each
refresh bumps the ``health`` state version and broadcasts a ``health`` event. The encoded
payload is cached with the summary so a ``health`` RPC answers with a stored byte string.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from openclaw.gateway.protocol.constants import HEALTH_REFRESH_INTERVAL_MS
from openclaw.gateway.protocol.frames import RawJson, encode_json
from openclaw.gateway.status import vitals

HealthCollector = Callable[[], dict[str, Any]]
Broadcast = Callable[[RawJson, int], None]

SAMPLE_INTERVAL_S: Final = 1.0
DEGRADED_DELAY_MS: Final = 1000.0


class EventLoopMonitor:
    """Samples, once a second, how late a 1 s timer fires (reactor lag) and where the CPU
    went: the process, the reactor thread, the other Python threads, and the host.

    Everything is computed at sample time; :meth:`snapshot` returns the stored result (it is
    read on the hot path: ``health`` refreshes, ``status``, ``channels.status``).
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._loop = LoopingCall(self._sample)
        self._loop.clock = clock
        self._last_wall: float | None = None
        self._last_cpu = time.process_time()
        self._last_main_cpu: float | None = None
        self._last_threads: dict[int, float] = {}
        self._last_host: tuple[float, float] | None = None
        self._delays: list[float] = []
        self._interval_ms = SAMPLE_INTERVAL_S * 1000.0
        self._degraded_since: float | None = None
        self._snapshot: dict[str, Any] | None = None
        # Told of every sample: (delay of this 1 s timer, seconds it covered); the metrics.
        self.on_sample: Callable[[float, float], None] | None = None

    def start(self) -> None:
        if not self._loop.running:
            self._last_wall = self._clock.seconds()
            self._last_cpu = time.process_time()
            self._last_main_cpu = time.thread_time()
            self._last_threads = self._worker_cpu() or {}
            self._last_host = vitals.host_cpu_times()
            self._loop.start(SAMPLE_INTERVAL_S, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    @staticmethod
    def _worker_cpu() -> dict[int, float] | None:
        """CPU seconds of every Python thread but this one (the reactor's): thread pool
        workers, the durable writer, ... (upstream: tracked worker threads)."""
        me = threading.get_ident()
        ids = [t.native_id for t in threading.enumerate()
               if t.ident != me and t.native_id is not None]
        return vitals.thread_cpu_seconds(ids)

    def _sample(self) -> None:
        now = self._clock.seconds()
        cpu = time.process_time()
        main_cpu = time.thread_time()
        threads = self._worker_cpu()
        host = vitals.host_cpu_times()
        breakdown: dict[str, Any] = {}
        cpu_ratio = 0.0
        if self._last_wall is not None:
            elapsed = max(now - self._last_wall, 1e-9)
            self._interval_ms = elapsed * 1000.0
            self._delays.append(max(0.0, (elapsed - SAMPLE_INTERVAL_S) * 1000.0))
            del self._delays[:-60]
            if self.on_sample is not None:
                self.on_sample(self._delays[-1] / 1000.0, elapsed)
            cpu_ratio = max(0.0, cpu - self._last_cpu) / elapsed
            if self._last_main_cpu is not None:
                breakdown["mainThreadCoreRatio"] = _round(
                    max(0.0, main_cpu - self._last_main_cpu) / elapsed)
            host_ratio = _host_utilization(self._last_host, host)
            if host_ratio is not None:
                breakdown["hostUtilization"] = host_ratio
            breakdown["hostCpuCount"] = vitals.host_cpu_count()
            if threads is not None:
                worker = sum(max(0.0, spent - self._last_threads.get(tid, 0.0))
                             for tid, spent in threads.items()) / elapsed
                breakdown["workerCoreRatio"] = _round(worker)
                if "mainThreadCoreRatio" in breakdown:
                    breakdown["otherThreadsCoreRatio"] = _round(max(
                        0.0, cpu_ratio - breakdown["mainThreadCoreRatio"] - worker))
        self._last_wall, self._last_cpu, self._last_main_cpu = now, cpu, main_cpu
        self._last_threads = threads or {}
        self._last_host = host
        degraded = bool(self._delays) and self._delays[-1] >= DEGRADED_DELAY_MS
        if degraded and self._degraded_since is None:
            self._degraded_since = now
        elif not degraded:
            self._degraded_since = None
        self._snapshot = self._build(now, cpu_ratio, breakdown)

    def _build(self, now: float, cpu_ratio: float, breakdown: dict[str, Any]
               ) -> dict[str, Any]:
        delays = sorted(self._delays) or [0.0]
        p99 = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
        degraded = self._degraded_since is not None
        since = (
            round((now - self._degraded_since) * 1000)
            if self._degraded_since is not None
            else None
        )
        # The reactor thread's busy share is what upstream's event-loop utilization measures.
        busy = breakdown.get("mainThreadCoreRatio", cpu_ratio)
        return {
            "degraded": degraded,
            "degradedSinceMs": since,
            "reasons": ["event_loop_delay"] if degraded else [],
            "intervalMs": round(self._interval_ms, 3),
            "delayP99Ms": round(p99, 1),
            "delayMaxMs": round(delays[-1], 1),
            "utilization": round(min(busy, 1.0), 3),
            "cpuCoreRatio": round(cpu_ratio, 3),
            "cpuBreakdown": breakdown,
        }

    def snapshot(self) -> dict[str, Any]:
        if self._snapshot is None:
            # before the first sample: the host's load average stands in for utilization
            breakdown: dict[str, Any] = {"mainThreadCoreRatio": 0.0,
                                         "hostCpuCount": vitals.host_cpu_count()}
            with contextlib.suppress(OSError, AttributeError):
                load = os.getloadavg()[0] / breakdown["hostCpuCount"]
                breakdown["hostUtilization"] = _round(min(max(load, 0.0), 1.0))
            breakdown.update(workerCoreRatio=0.0, otherThreadsCoreRatio=0.0)
            return self._build(self._clock.seconds(), 0.0, breakdown)
        return dict(self._snapshot)


def _round(value: float) -> float:
    return round(value, 3)


def _host_utilization(before: tuple[float, float] | None, after: tuple[float, float] | None
                      ) -> float | None:
    if before is None or after is None:
        return None
    busy, total = after[0] - before[0], after[1] - before[1]
    if total <= 0 or busy < 0:
        return None
    return _round(min(busy / total, 1.0))


class HealthState:
    """The cached ``HealthSummary`` plus the ``stateVersion.health`` counter."""

    log = Logger()

    def __init__(self, clock: IReactorTime, *, max_age_ms: int = HEALTH_REFRESH_INTERVAL_MS
                 ) -> None:
        self._clock = clock
        self._max_age_ms = max_age_ms
        self.collector: HealthCollector | None = None
        self.on_refresh: Broadcast | None = None
        self.version = 1
        self._summary: dict[str, Any] | None = None
        self._encoded: RawJson | None = None
        self._refreshed_at: float | None = None
        self._background_started_at: float | None = None

    @property
    def summary(self) -> dict[str, Any] | None:
        return self._summary

    def refresh(self) -> dict[str, Any]:
        if self.collector is None:
            raise RuntimeError("health collector not configured")
        started = time.perf_counter()
        summary = self.collector()
        summary["durationMs"] = max(0, round((time.perf_counter() - started) * 1000))
        self._summary = summary
        self._encoded = RawJson(encode_json(summary))
        self._refreshed_at = self._clock.seconds()
        self.version += 1
        if self.on_refresh is not None:
            try:
                self.on_refresh(self._encoded, self.version)
            except Exception:
                self.log.failure("health broadcast failed")
        return summary

    def cached_payload(self, *, probe: bool = False) -> RawJson:
        """The encoded summary, refreshed when stale (or when probing)."""
        now = self._clock.seconds()
        if (
            probe
            or self._encoded is None
            or self._refreshed_at is None
            or (now - self._refreshed_at) * 1000 >= self._max_age_ms
        ):
            self.refresh()
        assert self._encoded is not None
        return self._encoded

    def maybe_background_refresh(self) -> bool:
        """After a connect: refresh unless one started within the refresh interval."""
        now = self._clock.seconds()
        started = self._background_started_at
        if started is not None and 0 <= (now - started) * 1000 < self._max_age_ms:
            return False
        self._background_started_at = now
        try:
            self.refresh()
        except Exception:
            self.log.failure("post-connect health refresh failed")
        return True
