"""Agent turn latency: what the gateway adds over calling the same model upstream directly.

In one run, on loopback only:

* an upstream process: the scripted OpenAI-compatible server of the test suite
  (tests/upstream.py) answering every ``POST /v1/chat/completions`` at once with a fixed
  stream of ``--chunks`` text deltas (a zero-latency model);
* our gateway (``python -m openclaw gateway`` in a throw-away state dir) configured with that
  upstream as its only provider;
* this process as the client, measuring per turn
  - direct: a streamed POST to the upstream (treq): time to the first content delta and to
    ``[DONE]``;
  - gateway: ``chat.send`` over the WebSocket: time to the first ``chat`` delta and to the
    ``chat`` final event (each turn on its own session, so the context does not grow).
* then relay throughput: one turn whose upstream streams ``--burst`` chunks; assistant deltas
  relayed per second (the gateway sends one ``agent`` event per upstream chunk).

Prints p50/p99 of both and the added latency (gateway - direct) at p50/p99. Bounded: --turns
turns each way (default 200), processes killed at the end.

    .venv/bin/python bench/agent_turn.py
    .venv/bin/python bench/agent_turn.py --turns 500 --chunks 20 --burst 5000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.scripted_upstream import serve_upstream  # noqa: E402
from bench.startup import free_port  # noqa: E402

TOKEN = "bench-agent-token-1234"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def measure(reactor: Any, args: argparse.Namespace, up_port: int, gw_port: int
                  ) -> dict[str, Any]:
    import treq

    from openclaw.providers.http import SseParser
    from tests.agents.support import WsClient

    body = json.dumps({"model": "m1", "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    direct_first: list[float] = []
    direct_final: list[float] = []
    url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
    from twisted.web.client import Agent, HTTPConnectionPool

    pool = HTTPConnectionPool(reactor, persistent=True)
    client = treq.client.HTTPClient(Agent(reactor, pool=pool))
    for index in range(args.turns + 10):
        start = time.perf_counter()
        response = await client.post(url, data=body, headers={
            "Content-Type": ["application/json"]}, unbuffered=True)
        first: list[float] = []
        parser = SseParser()

        def collect(data: bytes, first: list[float] = first, parser: SseParser = parser,
                    start: float = start) -> None:
            if not first:
                for event in parser.feed(data):
                    if '"content":"w' in event.data:
                        first.append(time.perf_counter() - start)
                        break

        await treq.collect(response, collect)
        if index >= 10:
            direct_first.append(first[0] * 1000)
            direct_final.append((time.perf_counter() - start) * 1000)
    await pool.closeCachedConnections()

    ws = WsClient(gw_port, token=TOKEN)
    await ws.open(scopes=["operator.read", "operator.write"])
    gw_first: list[float] = []
    gw_final: list[float] = []
    for index in range(args.turns + 10):
        run_id = f"b-{index}"
        since = len(ws.frames)
        start = time.perf_counter()
        ws.send("chat.send", {"sessionKey": f"bench-{index % args.sessions}", "message": "hi",
                              "idempotencyKey": run_id})
        await ws.wait_for(lambda f, r=run_id: f.get("event") == "chat"
                          and f["payload"].get("runId") == r
                          and f["payload"].get("state") == "delta", since=since, timeout=30)
        t_first = time.perf_counter() - start
        await ws.wait_for(lambda f, r=run_id: f.get("event") == "chat"
                          and f["payload"].get("runId") == r
                          and f["payload"].get("state") == "final", since=since, timeout=30)
        t_final = time.perf_counter() - start
        if index >= 10:
            gw_first.append(t_first * 1000)
            gw_final.append(t_final * 1000)
        if len(ws.frames) > 5000:
            del ws.frames[:]

    # relay throughput: one long stream
    del ws.frames[:]
    start = time.perf_counter()
    ws.send("chat.send", {"sessionKey": "bench-burst", "message": "burst",
                          "idempotencyKey": "burst-1"})
    await ws.wait_for(lambda f: f.get("event") == "chat"
                      and f["payload"].get("runId") == "burst-1"
                      and f["payload"].get("state") == "final", timeout=120)
    elapsed = time.perf_counter() - start
    relayed_text = "".join(f["payload"]["data"]["delta"] for f in ws.frames
                           if f.get("event") == "agent"
                           and f["payload"].get("stream") == "assistant")
    relayed = [piece for piece in relayed_text.split(" ") if piece.startswith("b")]
    ws.close()

    # direct burst for comparison
    burst_body = json.dumps({"model": "m1", "stream": True,
                             "messages": [{"role": "user", "content": "burst"}]}).encode()
    pool = HTTPConnectionPool(reactor, persistent=False)
    client = treq.client.HTTPClient(Agent(reactor, pool=pool))
    count = [0]
    parser = SseParser()
    t0 = time.perf_counter()
    response = await client.post(url, data=burst_body,
                                 headers={"Content-Type": ["application/json"]}, unbuffered=True)
    await treq.collect(response, lambda d: count.__setitem__(0, count[0] + len(parser.feed(d))))
    direct_burst = time.perf_counter() - t0
    return {"direct_first": direct_first, "direct_final": direct_final,
            "gw_first": gw_first, "gw_final": gw_final,
            "relayed": len(relayed), "relay_s": elapsed,
            "direct_chunks": count[0], "direct_burst_s": direct_burst}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=10,
                        help="turns rotate over this many sessions (context grows slowly)")
    parser.add_argument("--serve-upstream", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream is not None:
        serve_upstream(args.serve_upstream, args.chunks, args.burst)
        return 0

    up_port, gw_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env["PYTHONPATH"] = ROOT
    upstream = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(up_port),
                                 "--chunks", str(args.chunks), "--burst", str(args.burst)],
                                env=env, stdout=subprocess.PIPE)
    assert upstream.stdout is not None
    upstream.stdout.readline()
    state = tempfile.mkdtemp(prefix="oc-bench-agent-")
    config = os.path.join(state, "openclaw.json")
    with open(config, "w") as handle:
        json.dump({"gateway": {"mode": "local", "auth": {"token": TOKEN}},
                   "models": {"providers": {"up": {
                       "baseUrl": f"http://127.0.0.1:{up_port}/v1", "apiKey": "k",
                       "models": [{"id": "m1", "name": "m1"}]}}},
                   "agents": {"defaults": {"model": "up/m1", "skipBootstrap": True}},
                   "logging": {"level": "warn"}}, handle)
    gw_env = dict(env, HOME=state, OPENCLAW_HOME=state, OPENCLAW_STATE_DIR=state,
                  OPENCLAW_CONFIG_PATH=config)
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"], "-m"] \
        if os.environ.get("BENCH_PROFILE") else ["-m"]
    gateway = subprocess.Popen([sys.executable, *profile, "openclaw", "gateway", "--port",
                                str(gw_port)], env=gw_env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{gw_port}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        import tests.agents.support as support

        support.TOKEN = TOKEN  # type: ignore[misc]
        from twisted.internet import defer, task

        results: dict[str, Any] = {}

        async def run(reactor: Any) -> None:
            results.update(await measure(reactor, args, up_port, gw_port))

        task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
    except SystemExit:
        pass
    finally:
        for proc in (gateway, upstream):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return report(results, args)


def report(r: dict[str, Any], args: argparse.Namespace) -> int:
    if not r:
        print("no results")
        return 1

    def fmt(name: str, values: list[float]) -> str:
        return (f"{name:28} p50 {statistics.median(values):7.2f} ms   "
                f"p99 {percentile(values, 99):7.2f} ms")

    print(f"agent turn, {args.turns} turns, {args.chunks} chunks per answer, zero-latency "
          "upstream, loopback")
    print(fmt("direct: first token", r["direct_first"]))
    print(fmt("gateway: first chat delta", r["gw_first"]))
    print(fmt("direct: final ([DONE])", r["direct_final"]))
    print(fmt("gateway: chat final", r["gw_final"]))
    added_first = statistics.median(r["gw_first"]) - statistics.median(r["direct_first"])
    added_final = statistics.median(r["gw_final"]) - statistics.median(r["direct_final"])
    print(f"added by the gateway (p50):  first token {added_first:6.2f} ms, final "
          f"{added_final:6.2f} ms")
    print(f"added by the gateway (p99):  first token "
          f"{percentile(r['gw_first'], 99) - percentile(r['direct_first'], 99):6.2f} ms, final "
          f"{percentile(r['gw_final'], 99) - percentile(r['direct_final'], 99):6.2f} ms")
    print(f"relay: {r['relayed']} upstream chunks relayed (agent assistant deltas, paced and "
          f"merged every 75 ms) in {r['relay_s']:.3f} s = "
          f"{r['relayed'] / r['relay_s']:,.0f} chunks/s through the gateway "
          f"(direct read: {r['direct_chunks'] / r['direct_burst_s']:,.0f} SSE events/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
