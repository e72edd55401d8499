"""Many concurrent streamed runs: ``--runs`` ``chat.send`` at once, each on a new session,
against the zero-latency scripted upstream; every run must reach its ``chat`` final.

Reported: how many completed, p50/p99 from send to final, beside the same number of
concurrent streamed requests made directly to the upstream (the floor); the gateway's RSS
before (after a warm-up round), at its peak, and a few seconds after the last final (the
memory of the runs given back, except what the new sessions keep: their index entries and
the recent results the gateway remembers for ``agent.wait``).

    .venv/bin/python -m bench.concurrent_runs --runs 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bench.common import TOKEN, Gateway, gateway_config, median, percentile, rss_mb, upstream
from bench.wsclient import WsConn

CLIENTS = 4
DIRECT_BODY = json.dumps({"model": "m1", "stream": True,
                          "messages": [{"role": "user", "content": "hi"}]}).encode()


async def _direct(port: int, count: int) -> list[float]:
    async def one() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(DIRECT_BODY) + DIRECT_BODY)
        await reader.read()
        took = time.perf_counter() - start
        writer.close()
        return took * 1000

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _round(sockets: list[WsConn], runs: int, tag: str, peak: list[float],
                 pid: int) -> tuple[list[float], list[str]]:
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    failed: list[str] = []
    for index in range(runs):
        run_id = f"{tag}-{index}"
        sent[run_id] = time.perf_counter()
        sockets[index % len(sockets)].send("chat.send", {
            "sessionKey": f"c-{run_id}", "message": "hi", "idempotencyKey": run_id})

    async def read(ws: WsConn) -> None:
        # chat events go to every operator connection: each socket reads until it has seen
        # every run end (so none is left with unread frames), the first sighting counts
        seen: set[str] = set()
        while len(seen) < runs:
            frame = await ws.recv()
            if frame.get("event") != "chat":
                continue
            payload = frame["payload"]
            state = payload.get("state")
            run_id = payload.get("runId")
            if state in ("final", "error", "aborted") and run_id in sent and run_id not in seen:
                seen.add(run_id)
                if run_id not in done:
                    done[run_id] = time.perf_counter()
                    if state != "final":
                        failed.append(f"{run_id}: {state} {payload.get('errorMessage', '')}")

    async def watch() -> None:
        while len(done) < runs:
            peak.append(rss_mb(pid))
            await asyncio.sleep(0.05)

    await asyncio.wait_for(asyncio.gather(watch(), *(read(ws) for ws in sockets)), 300)
    return [(done[r] - sent[r]) * 1000 for r in sent if r in done], failed


async def _measure(gateway: Gateway, up_port: int, runs: int) -> dict[str, Any]:
    sockets = []
    for _ in range(CLIENTS):
        ws = WsConn()
        await ws.open(gateway.port)
        await ws.authenticate(TOKEN)
        sockets.append(ws)
    peak: list[float] = []
    await _round(sockets, min(runs, 20), "warm", peak, gateway.pid)
    await asyncio.sleep(1.0)
    rss_before = rss_mb(gateway.pid)
    peak.clear()
    latencies, failed = await _round(sockets, runs, "run", peak, gateway.pid)
    await asyncio.sleep(3.0)
    rss_after = rss_mb(gateway.pid)
    for ws in sockets:
        ws.close()
    direct = await _direct(up_port, runs)
    return {"runs": runs, "completed": len(latencies) - len(failed), "failed": failed[:5],
            "p50": median(latencies), "p99": percentile(latencies, 99),
            "max": max(latencies, default=float("nan")),
            "direct_p50": median(direct), "direct_p99": percentile(direct, 99),
            "rss_before_mb": rss_before, "rss_peak_mb": max(peak, default=rss_before),
            "rss_after_mb": rss_after}


def run(runs: int = 200, chunks: int = 10) -> dict[str, Any]:
    with upstream(chunks) as up_port:
        gateway = Gateway(gateway_config(up_port))
        try:
            gateway.start()
            return asyncio.run(_measure(gateway, up_port, runs))
        finally:
            gateway.stop()


def report(r: dict[str, Any]) -> None:
    print(f"concurrent streamed runs: {r['completed']} of {r['runs']} completed "
          f"({len(r['failed'])} failed{': ' + r['failed'][0] if r['failed'] else ''})")
    print(f"  send -> final: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms"
          f"   (direct to the upstream, {r['runs']} at once: p50 {r['direct_p50']:.1f} ms, "
          f"p99 {r['direct_p99']:.1f} ms)")
    print(f"  gateway RSS: {r['rss_before_mb']:.1f} MB before, {r['rss_peak_mb']:.1f} MB peak, "
          f"{r['rss_after_mb']:.1f} MB 3 s after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=10)
    args = parser.parse_args()
    report(run(args.runs, args.chunks))


if __name__ == "__main__":
    main()
