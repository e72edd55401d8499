"""HTTP API throughput: ``GET /v1/models`` requests/s and streamed chat-completion chunks/s,
our gateway beside a bare ``twisted.web`` floor measured in the same run.

In one run, on loopback only, this script starts (each its own process, free ports):

* the floor: this file with ``--serve-floor`` - a bare ``twisted.web`` ``Site`` with two leaf
  resources: ``GET /v1/models`` answering the very bytes our gateway answers (no auth), and
  ``POST /v1/chat/completions`` streaming ``--chunks`` + 3 SSE frames of the same shape and
  size as ours (role chunk, content chunks, finish chunk, ``[DONE]``), one ``write`` each;
* the scripted model upstream (``tests/upstream.py``, ``--serve-upstream``) streaming
  ``--chunks`` text deltas at once (a zero-latency model);
* our gateway, ``python -m openclaw gateway`` in a throw-away state dir, token auth, chat
  completions enabled, that upstream as its only provider;

then drives both with the same load generator: ``wrk`` when installed
(``apt-get install -y wrk``; the reference figures were taken with ``wrk -t2 -c50``), else a
Python keep-alive client in a separate process. Two measurements, each ``--duration`` seconds
after a 1 s warm-up:

1. ``GET /v1/models`` (authenticated on ours) over ``--conns`` (50) connections: requests/s;
2. ``POST /v1/chat/completions`` with ``"stream": true`` over ``--stream-conns`` (8)
   connections: chunks/s (responses/s times the frames per response, checked on one
   response first). On our gateway every request is a full agent turn (new session, durable
   transcript, upstream call, relay).

It prints requests/s, chunks/s, p50/p99 latency (wrk), and our/floor ratios; ``--runs N``
reports the median of N runs. Every step is bounded in time; processes are killed at the end.

    .venv/bin/python bench/http_api.py                        # 5 s per measurement
    .venv/bin/python bench/http_api.py --runs 3 --duration 10

Targets (issue): the real gateway served ~550 req/s on /v1/models here and a bare resource
~10,700; ours should reach >= 60 % of the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, cast

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.scripted_upstream import serve_upstream  # noqa: E402
from bench.startup import free_port  # noqa: E402

TOKEN = "bench-http-token-123456"
MODELS_BODY = json.dumps({"object": "list", "data": [
    {"id": i, "object": "model", "created": 0, "owned_by": "openclaw", "permission": []}
    for i in ("openclaw", "openclaw/default", "openclaw/main")]}, separators=(",", ":")).encode()
CHAT_BODY = json.dumps({"model": "openclaw", "stream": True,
                        "messages": [{"role": "user", "content": "stream please"}]}).encode()


# -- servers (each in its own process) ------------------------------------------------------


def serve_floor(port: int, chunks: int, burst: int = 5000, upstream_port: int = 0) -> None:
    """``--serve-floor``: bare twisted.web, fixed answers, nothing else; plus the bare relay
    (``/relay/v1/chat/completions``: treq to the upstream, SSE lines in, chunks out)."""
    import treq
    from twisted.internet import reactor
    from twisted.web.client import Agent, HTTPConnectionPool
    from twisted.web.resource import Resource
    from twisted.web.server import NOT_DONE_YET, Site

    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = 16
    client = treq.client.HTTPClient(Agent(reactor, pool=pool))

    ident = {"id": "chatcmpl_00000000-0000-0000-0000-000000000000",
             "object": "chat.completion.chunk", "created": 1700000000, "model": "openclaw"}

    def frame(delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload = {**ident, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    def frames_of(count: int) -> list[bytes]:
        out = [frame({"role": "assistant"})]
        out += [frame({"content": f"w{i} "}) for i in range(count)]
        return [*out, frame({}, "stop"), b"data: [DONE]\n\n"]

    frames = frames_of(chunks)
    long_frames = frames_of(burst)

    class Models(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            return MODELS_BODY

    class Chat(Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> Any:
            request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
            request.setHeader(b"cache-control", b"no-cache")
            raw = request.content.read()
            for chunk in long_frames if b"burst" in raw else frames:
                request.write(chunk)
            request.finish()
            return NOT_DONE_YET

    class Relay(Resource):
        """The least a relay can do: forward, parse the upstream's SSE, re-frame, write."""

        isLeaf = True

        def render_POST(self, request: Any) -> Any:
            body = json.loads(request.content.read())
            upstream_body = json.dumps({"model": "m", "stream": True,
                                        "messages": body["messages"]}).encode()
            request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
            request.setHeader(b"cache-control", b"no-cache")
            request.write(frames[0])
            buffer = [b""]

            def on_data(data: bytes) -> None:
                blocks = (buffer[0] + data).split(b"\n\n")
                buffer[0] = blocks.pop()
                out = []
                for block in blocks:
                    if not block.startswith(b"data: ") or block == b"data: [DONE]":
                        continue
                    event = json.loads(block[6:])
                    choices = event.get("choices") or []
                    content = choices[0].get("delta", {}).get("content") if choices else None
                    if content:
                        out.append(frame({"content": content}))
                if out:
                    request.write(b"".join(out))

            def done(_: Any) -> None:
                request.write(frames[-2] + frames[-1])
                request.finish()

            d = client.post(f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
                            data=upstream_body, unbuffered=True,
                            headers={"Content-Type": ["application/json"]})
            d.addCallback(lambda response: treq.collect(response, on_data))
            d.addCallback(done)
            return NOT_DONE_YET

    root = Resource()
    v1 = Resource()
    root.putChild(b"v1", v1)
    v1.putChild(b"models", Models())
    chat = Resource()
    v1.putChild(b"chat", chat)
    chat.putChild(b"completions", Chat())
    relay = Resource()
    relay_v1 = Resource()
    relay_chat = Resource()
    root.putChild(b"relay", relay)
    relay.putChild(b"v1", relay_v1)
    relay_v1.putChild(b"chat", relay_chat)
    relay_chat.putChild(b"completions", Relay())
    site = Site(root)
    site.noisy = False
    site.log = lambda request: None  # type: ignore[method-assign]
    cast(Any, reactor).listenTCP(port, site, interface="127.0.0.1", backlog=511)
    print("ready", flush=True)
    cast(Any, reactor).run()


# -- load generators ------------------------------------------------------------------------

WRK_POST = """wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
"""


def run_wrk(url: str, conns: int, duration: float, headers: dict[str, str],
            post: bytes | None) -> dict[str, float]:
    args = ["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{max(1, round(duration))}s",
            "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    script = None
    if post is not None:
        handle, script = tempfile.mkstemp(suffix=".lua")
        with os.fdopen(handle, "w") as lua:
            lua.write(WRK_POST % post.decode())
        args += ["-s", script]
    try:
        out = subprocess.run([*args, url], capture_output=True, text=True,
                             timeout=duration + 30).stdout
    finally:
        if script is not None:
            os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": _wrk_latency(out, "50%"), "p99_ms": _wrk_latency(out, "99%"),
            "errors": float(errors.group(1)) if errors else 0.0}


def _wrk_latency(out: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", out)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def _py_load(port: int, path: str, conns: int, duration: float,
                   headers: dict[str, str], post: bytes | None) -> dict[str, float]:
    """Keep-alive HTTP/1.1 clients; each sends the next request when the last one ended."""
    method = "POST" if post is not None else "GET"
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if post is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(post)}"]
    raw_request = ("\r\n".join(lines) + "\r\n\r\n").encode() + (post or b"")
    done = 0
    errors = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + duration

    async def one() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw_request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            lowered = head.lower()
            if b"transfer-encoding: chunked" in lowered:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                length = int(re.search(rb"content-length: (\d+)", lowered).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            done += 1
            errors += status >= 300
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(conns)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": done / elapsed, "p50_ms": latencies[len(latencies) // 2] if latencies else 0,
            "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else 0,
            "errors": float(errors)}


def measure(port: int, path: str, conns: int, duration: float, headers: dict[str, str],
            post: bytes | None = None) -> dict[str, float]:
    if shutil.which("wrk"):
        return run_wrk(f"http://127.0.0.1:{port}{path}", conns, duration, headers, post)
    args = [sys.executable, __file__, "--client", str(port), path, str(conns), str(duration),
            json.dumps(headers), (post or b"").decode()]
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60).stdout
    return cast(dict[str, float], json.loads(out.strip().splitlines()[-1]))


BURST_BODY = json.dumps({"model": "openclaw", "stream": True,
                         "messages": [{"role": "user", "content": "burst please"}]}).encode()


def long_stream(port: int, headers: dict[str, str], repeats: int,
                path: str = "/v1/chat/completions") -> dict[str, float]:
    """One connection, ``repeats`` long responses in turn: frames relayed per second."""
    import http.client

    rates: list[float] = []
    frames = 0
    for _ in range(repeats):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        connection.request("POST", path, body=BURST_BODY,
                           headers={**headers, "Content-Type": "application/json"})
        body = connection.getresponse().read()
        elapsed = time.perf_counter() - started
        connection.close()
        frames = body.count(b"data: ")
        rates.append(frames / elapsed)
    return {"chunks_per_s": statistics.median(rates), "frames": float(frames)}


def frames_per_response(port: int, headers: dict[str, str],
                        path: str = "/v1/chat/completions") -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     data=CHAT_BODY, method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read().decode()
    return body.count("data: ")


# -- the Python peer: `nanobot serve` (aiohttp) ----------------------------------------------

PEER_KEY = "bench-peer-key-123456"


def find_nanobot() -> str | None:
    """The `nanobot` command of nanobot-ai (HKUDS), when installed: $BENCH_NANOBOT, a
    `.venv-peer` beside the checkout (its dependencies stay out of ours), this venv, or PATH."""
    candidates = [os.environ.get("BENCH_NANOBOT", ""),
                  os.path.join(ROOT, ".venv-peer", "bin", "nanobot"),
                  os.path.join(os.path.dirname(sys.executable), "nanobot")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    return shutil.which("nanobot")


def start_peer(nanobot: str, state: str, port: int, upstream_port: int) -> subprocess.Popen[str]:
    """`nanobot serve` on loopback with an API key (so it checks a bearer token, as ours does),
    its provider pointed at the scripted upstream."""
    home = os.path.join(state, "peer")
    os.makedirs(home, exist_ok=True)
    config = os.path.join(home, "config.json")
    with open(config, "w") as handle:
        json.dump({"api": {"host": "127.0.0.1", "port": port, "apiKey": PEER_KEY},
                   "agents": {"defaults": {"model": "openai/m",
                                           "workspace": os.path.join(home, "workspace")}},
                   "providers": {"openai": {"apiKey": "k",
                                            "apiBase": f"http://127.0.0.1:{upstream_port}/v1"}}},
                  handle)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "NANOBOT_"))}
    env["HOME"] = home
    return subprocess.Popen([nanobot, "serve", "--config", config, "--port", str(port),
                             "--host", "127.0.0.1"], env=env, cwd=home,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)


# -- orchestration --------------------------------------------------------------------------


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env, cwd=ROOT, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready" not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {args}")
    return proc


def wait_http(port: int, path: str, timeout: float = 30.0,
              headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                             headers=headers or {})
            with urllib.request.urlopen(request, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} not serving {path} within {timeout}s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def gateway_env(state: str, upstream_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update(HOME=state, OPENCLAW_HOME=state, OPENCLAW_STATE_DIR=os.path.join(state, "s"),
               OPENCLAW_CONFIG_PATH=os.path.join(state, "s", "openclaw.json"), PYTHONPATH=ROOT)
    os.makedirs(os.path.join(state, "s"), exist_ok=True)
    with open(env["OPENCLAW_CONFIG_PATH"], "w") as f:
        json.dump({
            "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN},
                        "http": {"endpoints": {"chatCompletions": {"enabled": True}}}},
            "models": {"providers": {"bench": {
                "baseUrl": f"http://127.0.0.1:{upstream_port}/v1", "apiKey": "k",
                "api": "openai-completions", "models": [{"id": "m", "name": "m"}]}}},
            "agents": {"defaults": {"model": "bench/m", "skipBootstrap": True}},
            "logging": {"level": "warn"},
        }, f)
    return env


def one_run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    nanobot = None if getattr(args, "no_peer", False) else find_nanobot()
    with tempfile.TemporaryDirectory(prefix="oc-bench-http-") as state:
        floor_port, upstream_port, gateway_port = free_port(), free_port(), free_port()
        peer_port = free_port()
        upstream = start([sys.executable, __file__, "--serve-upstream", str(upstream_port),
                          str(args.chunks), str(args.burst)])
        floor = start([sys.executable, __file__, "--serve-floor", str(floor_port),
                       str(args.chunks), str(args.burst), str(upstream_port)])
        gateway = subprocess.Popen(
            [sys.executable, "-m", "openclaw", "gateway", "--port", str(gateway_port)],
            env=gateway_env(state, upstream_port), cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        peer = start_peer(nanobot, state, peer_port, upstream_port) if nanobot else None
        peer_auth = {"Authorization": f"Bearer {PEER_KEY}"}
        try:
            wait_http(gateway_port, "/healthz")
            wait_http(floor_port, "/v1/models")
            targets = [("floor", floor_port, {}), ("ours", gateway_port, auth)]
            if peer is not None:
                wait_http(peer_port, "/v1/models", 60, peer_auth)
                targets.append(("peer", peer_port, peer_auth))
            # interleaved rounds: load drifting on a shared machine falls on each alike
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in targets}
            for _name, port, headers in targets:
                measure(port, "/v1/models", args.conns, 1.0, headers)
            for _ in range(max(1, getattr(args, "models_rounds", 1))):
                for name, port, headers in targets:
                    rounds[name].append(measure(port, "/v1/models", args.conns,
                                                args.duration, headers))
            for name, samples in rounds.items():
                results[f"models {name}"] = {key: statistics.median(s[key] for s in samples)
                                             for key in samples[0]}
            if peer is not None:
                stop(peer)
                peer = None
            for name, port, headers, path in (
                    ("floor", floor_port, {}, "/v1/chat/completions"),
                    ("relay", floor_port, {}, "/relay/v1/chat/completions"),
                    ("ours", gateway_port, auth, "/v1/chat/completions")):
                frames = frames_per_response(port, headers, path)
                measure(port, path, args.stream_conns, 1.0, headers, CHAT_BODY)
                figures = measure(port, path, args.stream_conns, args.duration, headers,
                                  CHAT_BODY)
                figures["frames"] = frames
                figures["chunks_per_s"] = figures["rps"] * frames
                results[f"stream {name}"] = figures
                results[f"long {name}"] = long_stream(port, headers, args.long_repeats, path)
        finally:
            for proc in (gateway, upstream, floor, peer):
                if proc is not None:
                    stop(proc)
    return results


def run(runs: int = 1, duration: float = 5.0, conns: int = 50, stream_conns: int = 8,
        chunks: int = 100, burst: int = 5000, long_repeats: int = 3, models_rounds: int = 1,
        peer: bool = True) -> dict[str, dict[str, float]]:
    """Medians over `runs` of every figure (keys "models floor|ours|peer", "stream
    floor|relay|ours", "long floor|relay|ours")."""
    args = argparse.Namespace(duration=duration, conns=conns, stream_conns=stream_conns,
                              chunks=chunks, burst=burst, long_repeats=long_repeats,
                              models_rounds=models_rounds, no_peer=not peer)
    all_runs = [one_run(args) for _ in range(max(1, runs))]
    return {key: {field: statistics.median(r[key][field] for r in all_runs)
                  for field in all_runs[0][key]} for key in all_runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--stream-conns", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=100,
                        help="content deltas per streamed response")
    parser.add_argument("--burst", type=int, default=5000,
                        help="content deltas of the long single stream")
    parser.add_argument("--long-repeats", type=int, default=3)
    parser.add_argument("--models-rounds", type=int, default=1,
                        help="interleaved /v1/models rounds per run (floor, ours, peer)")
    parser.add_argument("--no-peer", action="store_true", help="skip `nanobot serve`")
    parser.add_argument("--serve-floor", nargs=4, type=int,
                        metavar=("PORT", "CHUNKS", "BURST", "UPSTREAM_PORT"))
    parser.add_argument("--serve-upstream", nargs=3, type=int,
                        metavar=("PORT", "CHUNKS", "BURST"))
    parser.add_argument("--client", nargs=6, metavar=("PORT", "PATH", "CONNS", "DURATION",
                                                      "HEADERS", "BODY"))
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(*args.serve_floor)
        return 0
    if args.serve_upstream:
        serve_upstream(*args.serve_upstream)
        return 0
    if args.client:
        port, path, conns, duration, headers, body = args.client
        figures = asyncio.run(_py_load(int(port), path, int(conns), float(duration),
                                       json.loads(headers), body.encode() or None))
        print(json.dumps(figures))
        return 0
    figures = run(args.runs, args.duration, args.conns, args.stream_conns, args.chunks,
                  args.burst, args.long_repeats, args.models_rounds, not args.no_peer)

    def median(key: str, field: str) -> float:
        return figures[key][field]

    tool = "wrk" if shutil.which("wrk") else "python keep-alive client"
    print(f"HTTP API bench ({tool}; {args.duration:g} s per measurement; median of "
          f"{args.runs} run(s); {os.cpu_count()} CPUs)")
    print(f"GET /v1/models, {args.conns} connections")
    for name in ("floor", "ours", "peer"):
        key = f"models {name}"
        if key not in figures:
            continue
        print(f"  {name:5} {median(key, 'rps'):9.0f} req/s   p50 {median(key, 'p50_ms'):6.2f} ms"
              f"   p99 {median(key, 'p99_ms'):6.2f} ms   non-2xx {median(key, 'errors'):.0f}")
    models_ratio = median("models ours", "rps") / median("models floor", "rps")
    print(f"  ours/floor = {models_ratio:.0%}")
    if "models peer" in figures:
        print(f"  ours/peer (nanobot serve) = "
              f"{median('models ours', 'rps') / median('models peer', 'rps'):.0%}")
    print(f"POST /v1/chat/completions stream, {args.stream_conns} connections, "
          f"{args.chunks} deltas per response")
    for name in ("floor", "relay", "ours"):
        key = f"stream {name}"
        print(f"  {name:5} {median(key, 'chunks_per_s'):9.0f} chunks/s  "
              f"({median(key, 'rps'):7.1f} responses/s x {median(key, 'frames'):.0f} frames)"
              f"   p50 {median(key, 'p50_ms'):7.2f} ms   non-2xx {median(key, 'errors'):.0f}")
    for base in ("floor", "relay"):
        ratio = median("stream ours", "chunks_per_s") / median(f"stream {base}", "chunks_per_s")
        print(f"  ours/{base} = {ratio:.0%}")
    print("  (floor: pre-rendered frames; relay: bare twisted.web + treq relaying the same "
          "upstream; ours: a full agent turn each - new session, durable transcript, relay)")
    print(f"One long stream ({args.burst} deltas), 1 connection, median of "
          f"{args.long_repeats}")
    for name in ("floor", "relay", "ours"):
        print(f"  {name:5} {median(f'long {name}', 'chunks_per_s'):9.0f} chunks/s")
    for base in ("floor", "relay"):
        ratio = median("long ours", "chunks_per_s") / median(f"long {base}", "chunks_per_s")
        print(f"  ours/{base} = {ratio:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
