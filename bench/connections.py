"""Idle connections: the gateway's RSS with ``--conns`` idle authenticated WebSockets open,
and ``health`` latency before and while they are open.

The gateway is started with its soft ``RLIMIT_NOFILE`` lowered to 1024 (what most shells
give), so it must raise it to the hard limit itself to hold them. This process opens the
connections (asyncio, at most 24 handshakes in flight: the per-IP pre-auth budget is 32),
each doing the token ``connect`` as the CLI does (``mode: cli``: not tracked in presence),
then drains whatever they receive (ticks, health). One more connection measures ``health``
round trips: ``--probes`` sequential calls before, while the others are open, and the RSS
once they are closed again.

    .venv/bin/python -m bench.connections --conns 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import resource
import time
from typing import Any

from bench.common import TOKEN, Gateway, gateway_config, median, percentile, rss_mb
from bench.wsclient import Closed, WsConn

HANDSHAKES_IN_FLIGHT = 24


async def _health_latencies(ws: WsConn, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        answer = await ws.call("health", {})
        out.append((time.perf_counter() - start) * 1000)
        if not answer.get("ok"):
            raise RuntimeError(f"health failed: {answer}")
    return out


async def _drain(ws: WsConn) -> None:
    with contextlib.suppress(Closed, OSError, asyncio.IncompleteReadError,
                             asyncio.CancelledError):
        while True:
            await ws.recv_raw()


async def _measure(port: int, pid: int, conns: int, probes: int) -> dict[str, Any]:
    probe = WsConn()
    await probe.open(port)
    await probe.authenticate(TOKEN)
    await _health_latencies(probe, min(50, probes))
    before = await _health_latencies(probe, probes)
    rss_before = rss_mb(pid)
    opened: list[WsConn] = []
    drains: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
    failures: list[str] = []

    async def one() -> None:
        ws = WsConn()
        async with gate:
            try:
                await ws.open(port)
                await ws.authenticate(TOKEN)
            except (Closed, OSError, asyncio.IncompleteReadError) as e:
                failures.append(f"{type(e).__name__}: {e}")
                ws.close()
                return
        opened.append(ws)
        drains.append(asyncio.create_task(_drain(ws)))

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(conns)))
    open_s = time.perf_counter() - started
    await asyncio.sleep(1.0)
    rss_open = rss_mb(pid)
    during = await _health_latencies(probe, probes)
    for ws in opened:
        ws.close()
    for task in drains:
        task.cancel()
    await asyncio.gather(*drains, return_exceptions=True)
    await asyncio.sleep(2.0)
    after = await _health_latencies(probe, probes)
    rss_closed = rss_mb(pid)
    probe.close()
    return {"conns": conns, "opened": len(opened), "failures": failures[:5],
            "failed": len(failures), "open_s": open_s, "rss_before_mb": rss_before,
            "rss_open_mb": rss_open, "rss_closed_mb": rss_closed,
            "kb_per_conn": (rss_open - rss_before) * 1024 / max(1, len(opened)),
            "health_before_p50": median(before), "health_before_p99": percentile(before, 99),
            "health_during_p50": median(during), "health_during_p99": percentile(during, 99),
            "health_after_p50": median(after)}


def _lower_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))


def run(conns: int = 10_000, probes: int = 300) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < conns + 100 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gateway = Gateway(gateway_config())
    import subprocess

    original = subprocess.Popen.__init__

    def lowered(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("preexec_fn", _lower_nofile)
        original(self, *args, **kwargs)

    subprocess.Popen.__init__ = lowered  # type: ignore[method-assign]
    try:
        gateway.start()
    finally:
        subprocess.Popen.__init__ = original  # type: ignore[method-assign]
    try:
        result = asyncio.run(_measure(gateway.port, gateway.pid, conns, probes))
        result["limit_line"] = next((line.strip() for line in gateway.log_tail(200).splitlines()
                                     if "RLIMIT_NOFILE" in line or "open files" in line), "")
    finally:
        gateway.stop()
    gc.collect()
    return result


def report(r: dict[str, Any]) -> None:
    failed = f": {r['failures'][0]}" if r["failed"] else ""
    print(f"idle connections: {r['opened']:,} of {r['conns']:,} opened and authenticated in "
          f"{r['open_s']:.1f} s ({r['failed']} failed{failed})")
    print(f"  gateway RSS: {r['rss_before_mb']:.1f} MB before, {r['rss_open_mb']:.1f} MB with "
          f"them open ({r['kb_per_conn']:.1f} KB each), {r['rss_closed_mb']:.1f} MB after")
    print(f"  health p50: {r['health_before_p50']:.2f} ms before, "
          f"{r['health_during_p50']:.2f} ms while open, {r['health_after_p50']:.2f} ms after "
          f"(p99 {r['health_before_p99']:.2f} / {r['health_during_p99']:.2f})")
    if r.get("limit_line"):
        print(f"  {r['limit_line']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=10_000)
    parser.add_argument("--probes", type=int, default=300)
    args = parser.parse_args()
    report(run(args.conns, args.probes))


if __name__ == "__main__":
    main()
