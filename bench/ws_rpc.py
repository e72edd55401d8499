"""WebSocket RPC throughput: `health` round trips per second, the floor vs our gateway.

In one run, on loopback only, it measures
  (a) the raw floor, bench/floor_ws_server.py (bare Twisted + Autobahn, fixed replies), and
  (b) our gateway, `python -m openclaw gateway --port P --token T` in a throw-away state dir,
both started by this script on free ports, each over 1 connection and over 50 connections.
Every connection does the token `connect`, 20 warm-up calls, then sequential
`{"type":"req","method":"health","params":{}}` round trips (the next request goes when the
previous `res` arrived) for --duration seconds. It prints round trips/s, p50/p99 latency, the
server's CPU per call and the ratio to the floor. With --url/--token it measures that gateway
instead of starting ours (e.g. the real Node one: .cache/reference-openclaw/run-gateway.sh),
still against a floor measured in the same run.

The load generator is a separate process (`ws_rpc.py --client ...`, a Twisted + Autobahn
client; --client-procs of them for the 50-connection case, started together at an agreed
instant), so the client never shares an interpreter with a server, and the floor is measured with
the same client. Everything is bounded: each measurement stops by itself after --duration seconds
(or --requests round trips per connection); client processes are killed if they overrun.

    .venv/bin/python bench/ws_rpc.py                          # floor + ours, 1 and 50 conns, 5 s
    .venv/bin/python bench/ws_rpc.py --runs 3                 # median of 3 runs of each
    .venv/bin/python bench/ws_rpc.py --url ws://127.0.0.1:18789 --token anchor-token  # any gateway

The figures to beat (the issue): the floor does ~5,600/s over 1 connection and ~13,900/s over 50
on the project's 2-core machine; our gateway should reach >= 80 % of the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, cast

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.startup import free_port, gateway_env  # noqa: E402

BENCH_TOKEN = "bench-token-123456"  # what bench.startup.gateway_env writes into the config
WARMUP_CALLS = 20
CONNECT_PARAMS: dict[str, Any] = {
    "minProtocol": 4, "maxProtocol": 4,
    "client": {"id": "cli", "version": "bench", "platform": sys.platform, "mode": "cli"},
    "role": "operator", "scopes": ["operator.read", "operator.write"], "caps": [],
}


# -- the load generator: `ws_rpc.py --client` (its own process) --------------------------------


def run_client(url: str, token: str, conns: int, duration: float, requests: int,
               start_at: float) -> dict[str, Any]:
    """Open and `connect` `conns` connections, wait until `start_at` (time.time()), then run
    sequential health calls on each for `duration` s (or `requests` calls). Returns figures and
    every latency in ms."""
    from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred, DeferredList
    from twisted.internet.endpoints import TCP4ClientEndpoint

    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing non-loopback url {url}")
    now = time.perf_counter
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop_at = [float("inf")]

    class BenchProtocol(WebSocketClientProtocol):
        def __init__(self) -> None:
            super().__init__()
            self.ready: Deferred[BenchProtocol] = Deferred()
            self.finished: Deferred[None] = Deferred()
            self.phase = "challenge"
            self.n = 0
            self.rid = ""
            self.rid_quoted = b""
            self.sent_at = 0.0
            self.counted = 0
            self.warm = WARMUP_CALLS

        def send_req(self, method: str, params: dict[str, Any]) -> None:
            self.n += 1
            self.rid = f"{id(self):x}-{self.n}"
            self.rid_quoted = b'"%s"' % self.rid.encode()
            if method == "health":  # the hot path: a pre-encoded frame around the id
                frame = b'{"type":"req","id":%s,"method":"health","params":{}}' % self.rid_quoted
            else:
                frame = json.dumps({"type": "req", "id": self.rid, "method": method,
                                    "params": params}).encode()
            self.sent_at = now()
            self.sendMessage(frame)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            took = now() - self.sent_at
            if self.phase == "running" and self.rid_quoted in payload:
                # hot path: our reply (its id is unique); parse it only when it may be an error
                if b'"ok":false' in payload or b'"ok": false' in payload:
                    frame = json.loads(payload)
                    if frame.get("id") != self.rid:
                        return
                    if not frame.get("ok"):
                        code = str((frame.get("error") or {}).get("code", "?"))
                        errors[code] = errors.get(code, 0) + 1
                    else:
                        latencies.append(took)
                else:
                    latencies.append(took)
                self.counted += 1
                if now() >= stop_at[0] or (requests and self.counted >= requests):
                    self.phase = "done"
                    self.finished.callback(None)
                    return
                self.send_req("health", {})
                return
            frame = json.loads(payload)
            if self.phase == "challenge":
                if frame.get("event") == "connect.challenge":
                    self.phase = "connect"
                    self.send_req("connect", dict(CONNECT_PARAMS, auth={"token": token}))
                return
            if frame.get("type") != "res" or frame.get("id") != self.rid:
                return  # events (tick, health, presence) between round trips
            if self.phase == "connect":
                if not frame.get("ok"):
                    self.ready.errback(RuntimeError(f"connect refused: {frame.get('error')}"))
                    self.phase = "failed"
                    return
                self.phase = "warmup"
            elif self.phase == "warmup":
                if not frame.get("ok"):
                    self.ready.errback(RuntimeError(f"health refused: {frame.get('error')}"))
                    self.phase = "failed"
                    return
                self.warm -= 1
                if self.warm <= 0:
                    self.phase = "parked"
                    self.ready.callback(self)
                    return
            else:
                return
            self.send_req("health", {})

        def run(self) -> None:
            self.phase = "running"
            self.send_req("health", {})

        def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
            for d in (self.ready, self.finished):
                if not d.called:
                    d.errback(RuntimeError(f"closed by the server: {code} {reason}"))

    factory = WebSocketClientFactory(url)
    factory.protocol = BenchProtocol
    # the client only has to keep up: no compression, no pings, no UTF-8 validation of replies
    factory.setProtocolOptions(perMessageCompressionOffers=[], autoPingInterval=0,
                               utf8validateIncoming=False)
    result: dict[str, Any] = {}

    async def main() -> None:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", int(port), timeout=30)
        # at most 8 handshakes in flight: the gateway's per-address pre-auth budget (32
        # unauthenticated sockets) answers 503 past it, and two client processes share it
        protos: list[BenchProtocol] = []
        for _ in range(conns):
            protos.append(cast(BenchProtocol, await endpoint.connect(factory)))
            if len(protos) >= 8:
                await protos[-8].ready
        await DeferredList([p.ready for p in protos], fireOnOneErrback=True, consumeErrors=True)
        wait = start_at - time.time()
        if wait > 0:
            sleeping: Deferred[None] = Deferred()
            reactor.callLater(wait, sleeping.callback, None)
            await sleeping
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        started = now()
        stop_at[0] = started + duration if duration > 0 else float("inf")
        for proto in protos:
            proto.run()
        await DeferredList([p.finished for p in protos], fireOnOneErrback=True,
                           consumeErrors=True)
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        result["elapsed"] = now() - started
        result["client_cpu"] = (usage1.ru_utime - usage0.ru_utime) + (
            usage1.ru_stime - usage0.ru_stime)
        for proto in protos:
            proto.sendClose()

    def go() -> None:
        d = Deferred.fromCoroutine(main())

        def failed(f: Any) -> None:
            err = f.value.subFailure.value if hasattr(f.value, "subFailure") else f.value
            result["error"] = str(err)

        d.addErrback(failed)
        d.addBoth(lambda _: reactor.callLater(0.1, reactor.stop))

    reactor.callWhenRunning(go)
    reactor.run()
    return {"ok": len(latencies), "errors": errors, "error": result.get("error"),
            "elapsed": result.get("elapsed", 0.0), "client_cpu": result.get("client_cpu", 0.0),
            "latencies_ms": [round(x * 1000, 4) for x in latencies]}


# -- the servers ----------------------------------------------------------------------------


def wait_port(proc: subprocess.Popen[bytes], port: int, path: str | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode} before listening on {port}")
        try:
            if path is None:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            else:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                    if r.status == 200:
                        return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answered on port {port} within {timeout:.0f} s")


class Server:
    def __init__(self, name: str, url: str, token: str,
                 proc: subprocess.Popen[bytes] | None = None) -> None:
        self.name, self.url, self.token, self.proc = name, url, token, proc
        self.pid = proc.pid if proc is not None else listener_pid(int(url.rsplit(":", 1)[1]))

    def cpu(self) -> float:
        """CPU seconds used so far by the server process tree (0 if it cannot be inspected)."""
        if self.pid is None:
            return 0.0
        try:
            root = psutil.Process(self.pid)
            total = 0.0
            for p in [root, *root.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
            return total
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def listener_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:port (for a gateway given by --url), if visible."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return conn.pid
    except (psutil.Error, OSError):
        pass
    return None


def start_floor() -> Server:
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "floor_ws_server.py"), str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(proc, port, None, 15)
    return Server("floor", f"ws://127.0.0.1:{port}", "floor", proc)


def start_ours(state: str) -> Server:
    port = free_port()
    env = gateway_env(state)
    log = open(os.path.join(state, "gateway.log"), "wb")  # noqa: SIM115 (lives with the child)
    proc = subprocess.Popen(
        [sys.executable, "-m", "openclaw", "gateway", "--port", str(port), "--token", BENCH_TOKEN],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    wait_port(proc, port, "/readyz", 30)
    return Server("ours", f"ws://127.0.0.1:{port}", BENCH_TOKEN, proc)


# -- measuring ------------------------------------------------------------------------------


def measure(server: Server, conns: int, duration: float, requests: int, procs: int
            ) -> dict[str, Any]:
    """One measurement: `procs` client processes sharing `conns` connections."""
    procs = max(1, min(procs, conns))
    shares = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
    start_at = time.time() + 2.0 + conns * 0.02  # time for every client to open and connect
    budget = (start_at - time.time()) + (duration or 60) + 60
    children = [
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--client", "--url", server.url,
             "--token", server.token, "--conns", str(share), "--duration", str(duration),
             "--requests", str(requests), "--start-at", repr(start_at)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for share in shares
    ]
    cpu0 = server.cpu()
    outputs = []
    for child in children:
        try:
            out, err = child.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
        try:
            outputs.append(json.loads(out))
        except ValueError:
            outputs.append({"ok": 0, "errors": {}, "error": err.decode()[-300:] or "no output",
                            "elapsed": 0.0, "client_cpu": 0.0, "latencies_ms": []})
    server_cpu = server.cpu() - cpu0
    lat = sorted(x for o in outputs for x in o["latencies_ms"])
    elapsed = max((o["elapsed"] for o in outputs), default=0.0)
    ok = sum(o["ok"] for o in outputs)
    errors: dict[str, int] = {}
    for o in outputs:
        for code, n in o["errors"].items():
            errors[code] = errors.get(code, 0) + n

    def pct(p: float) -> float | None:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else None

    return {
        "target": server.name, "conns": conns, "client_procs": procs, "ok": ok,
        "rps": ok / elapsed if elapsed else 0.0, "p50_ms": pct(50), "p99_ms": pct(99),
        "elapsed_s": elapsed, "errors": errors,
        "failures": [o["error"] for o in outputs if o.get("error")],
        "server_cpu_s": server_cpu, "client_cpu_s": sum(o["client_cpu"] for o in outputs),
        "server_us_per_call": server_cpu / ok * 1e6 if ok and server_cpu else None,
    }


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def run(conn_counts: list[int], duration: float = 5.0, requests: int = 0, runs: int = 1,
        client_procs: int = 2, url: str | None = None, token: str | None = None,
        verbose: bool = False) -> list[dict[str, Any]]:
    """The floor and ours (or the gateway at `url`), interleaved, over each connection count:
    one result per (server, conns), the median run, with ``vs_floor`` (median paired ratio)."""
    servers: list[Server] = []
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ws-rpc-bench-") as state:
        try:
            servers.append(start_floor())
            if url:
                servers.append(Server("gateway", url, token or ""))
            else:
                servers.append(start_ours(state))
            if verbose:
                print(f"# health RPC round trips, {duration:g} s each"
                      f"{f', {requests} calls/conn' if requests else ''}, "
                      f"median of {runs}; cpu count {os.cpu_count()}", flush=True)
            for conns in conn_counts:
                # interleaved (floor, target, floor, target, ...): on a shared 2-core box the
                # background load drifts, and each ratio compares runs taken side by side
                by_server: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
                for _ in range(runs):
                    for server in servers:
                        r = measure(server, conns, duration, requests,
                                    1 if conns == 1 else client_procs)
                        by_server[server.name].append(r)
                        if verbose:
                            failed = "; ".join(r["failures"])
                            print(f"  {server.name:8} conns={conns:<3} {r['rps']:9.1f}/s  "
                                  f"p50 {fmt(r['p50_ms'], '.3f')} ms  "
                                  f"p99 {fmt(r['p99_ms'], '.3f')} ms"
                                  f"  errors {r['errors'] or 0}"
                                  f"{'  FAILED ' + failed if failed else ''}", flush=True)
                floor_runs = by_server["floor"]
                for server_runs in by_server.values():
                    median = sorted(server_runs, key=lambda r: r["rps"])[len(server_runs) // 2]
                    median["runs_rps"] = [round(r["rps"], 1) for r in server_runs]
                    pairs = zip(server_runs, floor_runs, strict=True)
                    ratios = sorted(r["rps"] / f["rps"] for r, f in pairs if f["rps"])
                    median["vs_floor"] = ratios[len(ratios) // 2] if ratios else None
                    results.append(median)
        finally:
            for server in servers:
                server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds per measurement (default 5)")
    parser.add_argument("--requests", type=int, default=0,
                        help="instead: stop each connection after this many calls")
    parser.add_argument("--conns", default="1,50", help="connection counts (default 1,50)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each; the median is kept")
    parser.add_argument("--client-procs", type=int, default=2,
                        help="client processes for multi-connection runs (default 2)")
    parser.add_argument("--url", help="measure this gateway (loopback) instead of ours")
    parser.add_argument("--token", help="its token (with --url)")
    parser.add_argument("--json", action="store_true", help="also print every result as JSON")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.client:
        print(json.dumps(run_client(args.url, args.token or "", int(args.conns), args.duration,
                                    args.requests, args.start_at)))
        return 0
    if args.url and not args.url.startswith(("ws://127.0.0.1:", "ws://localhost:")):
        parser.error("--url must be a loopback ws:// URL")
    if args.duration <= 0 and args.requests <= 0:
        parser.error("give --duration > 0 or --requests > 0")
    conn_counts = [int(c) for c in args.conns.split(",")]

    load_at_start = os.getloadavg()
    results = run(conn_counts, args.duration, args.requests, args.runs, args.client_procs,
                  args.url, args.token, verbose=True)

    print(f"\n# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(at the start: {' '.join(f'{x:.2f}' for x in load_at_start)})")
    print("| target | conns | round trips/s (median) | runs | p50 ms | p99 ms | server CPU/call "
          "| vs floor (median of paired runs) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        ratio = r["vs_floor"]
        cpu = r["server_us_per_call"]
        print(f"| {r['target']} | {r['conns']} | {r['rps']:,.0f} | "
              f"{', '.join(f'{x:,.0f}' for x in r['runs_rps'])} | {fmt(r['p50_ms'], '.2f')} | "
              f"{fmt(r['p99_ms'], '.2f')} | {fmt(cpu, '.0f') + ' us' if cpu else '-'} | "
              f"{fmt(ratio and ratio * 100, '.0f')}{' %' if ratio else ''} |")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0 if all(not r["failures"] and r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
