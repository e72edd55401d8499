"""Agent turn latency: what the gateway adds over calling the same model upstream directly,
and what a new session costs with 10 or with 10,000 sessions already stored.

In one run, on loopback: the scripted zero-latency upstream (``--chunks`` text deltas per
answer), two gateways using it - one whose store holds 10 sessions, one holding 10,000 - and
this process as the client (asyncio, one keep-alive HTTP connection to the upstream and one
WebSocket to each gateway). Turns go round-robin (direct, small store, big store, in a
rotating order), so load on the shared machine falls on all three alike. Each gateway turn is
``chat.send`` on a *new* session (the durable path in full: session header, index entry and
user message fsync'd before the ack, the reply before the final).

Reported: p50/p99 time to the first token (direct: the first content delta; gateway: the
first ``chat`` delta) and to the end (``[DONE]`` / the ``chat`` final), the added latency
(gateway - direct) at p50/p99, the gateway's CPU per turn, and the big-store/small-store
ratio of the turn's p50.

    .venv/bin/python -m bench.turns --turns 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

from bench.common import (
    TOKEN,
    Gateway,
    cpu_seconds,
    gateway_config,
    median,
    percentile,
    upstream,
)
from bench.wsclient import WsConn

DIRECT_BODY = json.dumps({"model": "m1", "stream": True, "stream_options": {
    "include_usage": True}, "messages": [{"role": "user", "content": "hi"}]}).encode()


def populate(sessions: int) -> Any:
    """A ``prepare`` hook writing a ``sessions.json`` of ``sessions`` entries for ``main``."""

    def prepare(state_dir: str) -> None:
        directory = os.path.join(state_dir, "agents", "main", "sessions")
        os.makedirs(directory, exist_ok=True)
        now = int(time.time() * 1000)
        entries = {f"agent:main:stored-{i}": {
            "sessionId": str(uuid.uuid4()), "sessionStartedAt": now - i, "updatedAt": now - i,
            "chatType": "direct", "origin": {"provider": "webchat", "surface": "cli",
                                             "chatType": "direct"},
            "inputTokens": 120, "outputTokens": 40, "totalTokens": 160, "contextTokens": 120,
            "modelProvider": "up", "model": "m1", "lastInteractionAt": now - i,
            "status": "done", "startedAt": now - i, "endedAt": now - i, "runtimeMs": 5,
            "abortedLastRun": False} for i in range(sessions)}
        with open(os.path.join(directory, "sessions.json"), "w") as handle:
            json.dump(entries, handle, separators=(",", ":"))

    return prepare


class Direct:
    """A keep-alive streamed POST to the upstream, read as chunked SSE."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def turn(self) -> tuple[float, float]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        start = time.perf_counter()
        self.writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % len(DIRECT_BODY) + DIRECT_BODY)
        await self.reader.readuntil(b"\r\n\r\n")
        first = 0.0
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            if not first and b'"content":"' in data:
                first = time.perf_counter() - start
            if size == 0:
                return first, time.perf_counter() - start


async def gateway_turn(ws: WsConn, run_id: str) -> tuple[float, float]:
    start = time.perf_counter()
    ws.send("chat.send", {"sessionKey": f"bench-{run_id}", "message": "hi",
                          "idempotencyKey": run_id})
    first = 0.0
    while True:
        frame = await ws.recv()
        if frame.get("event") != "chat":
            continue
        payload = frame["payload"]
        if payload.get("runId") != run_id:
            continue
        state = payload.get("state")
        if state == "delta" and not first:
            first = time.perf_counter() - start
        elif state in ("final", "error", "aborted"):
            if state != "final":
                raise RuntimeError(f"turn {run_id} ended {state}: {payload}")
            return first or time.perf_counter() - start, time.perf_counter() - start


async def _measure(turns: int, up_port: int, small: Gateway, big: Gateway) -> dict[str, Any]:
    direct = Direct(up_port)
    sockets = {}
    for name, gateway in (("small", small), ("big", big)):
        ws = WsConn()
        await ws.open(gateway.port)
        await ws.authenticate(TOKEN)
        sockets[name] = ws
    samples: dict[str, list[tuple[float, float]]] = {"direct": [], "small": [], "big": []}
    warmup = min(20, max(2, turns // 5))
    cpu: dict[str, float] = {}
    for index in range(warmup + turns):
        if index == warmup:
            cpu = {"small": cpu_seconds(small.pid), "big": cpu_seconds(big.pid)}
        order = ["direct", "small", "big"]
        order = order[index % 3:] + order[:index % 3]
        for name in order:
            if name == "direct":
                result = await direct.turn()
            else:
                result = await gateway_turn(sockets[name], f"{name}-{index}")
            if index >= warmup:
                samples[name].append(result)
    cpu_per_turn = {name: (cpu_seconds(g.pid) - cpu[name]) / turns
                    for name, g in (("small", small), ("big", big))}
    for ws in sockets.values():
        ws.close()
    if direct.writer is not None:
        direct.writer.close()
    return {"samples": samples, "cpu_per_turn": cpu_per_turn}


def run(turns: int = 300, chunks: int = 10, stored: int = 10_000) -> dict[str, Any]:
    with upstream(chunks) as up_port:
        small = Gateway(gateway_config(up_port), prepare=populate(10))
        big = Gateway(gateway_config(up_port), prepare=populate(stored))
        try:
            small.start()
            big.start()
            raw = asyncio.run(_measure(turns, up_port, small, big))
        finally:
            small.stop()
            big.stop()
    out: dict[str, Any] = {"turns": turns, "chunks": chunks, "stored": stored,
                           "cpu_per_turn_ms": {k: v * 1000 for k, v in
                                               raw["cpu_per_turn"].items()}}
    for name, values in raw["samples"].items():
        firsts = [v[0] * 1000 for v in values]
        finals = [v[1] * 1000 for v in values]
        out[name] = {"first_p50": median(firsts), "first_p99": percentile(firsts, 99),
                     "final_p50": median(finals), "final_p99": percentile(finals, 99)}
    d, s, b = out["direct"], out["small"], out["big"]
    out["added"] = {"first_p50": s["first_p50"] - d["first_p50"],
                    "final_p50": s["final_p50"] - d["final_p50"],
                    "first_p99": s["first_p99"] - d["first_p99"],
                    "final_p99": s["final_p99"] - d["final_p99"]}
    out["big_vs_small"] = b["final_p50"] / s["final_p50"]
    return out


def report(r: dict[str, Any]) -> None:
    print(f"agent turns: {r['turns']} each, new session per turn, {r['chunks']} chunks per "
          "answer, zero-latency upstream")
    for name, label in (("direct", "direct (upstream)"), ("small", "gateway, 10 stored"),
                        ("big", f"gateway, {r['stored']:,} stored")):
        v = r[name]
        print(f"  {label:26} first p50 {v['first_p50']:6.2f} p99 {v['first_p99']:6.2f} ms"
              f"   end p50 {v['final_p50']:6.2f} p99 {v['final_p99']:6.2f} ms")
    a = r["added"]
    print(f"  added by the gateway: first token p50 {a['first_p50']:.2f} ms (p99 "
          f"{a['first_p99']:.2f}), end p50 {a['final_p50']:.2f} ms (p99 {a['final_p99']:.2f})")
    cpu = r["cpu_per_turn_ms"]
    print(f"  gateway CPU per turn: {cpu['small']:.2f} ms (10 stored), {cpu['big']:.2f} ms "
          f"({r['stored']:,} stored); end p50 big/small = {r['big_vs_small']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--stored", type=int, default=10_000)
    args = parser.parse_args()
    report(run(args.turns, args.chunks, args.stored))


if __name__ == "__main__":
    main()
