"""Gateway start-up: seconds from process start to /healthz 200, and idle RSS.

Median of N runs each, for our gateway (`openclaw gateway`) and, as the floor measured in
the same run, a bare Twisted + Autobahn server (bench/floor_startup_server.py).

    .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import psutil

from openclaw.net import free_loopback_port as free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def measure(command: list[str], port: int, env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{command} exited {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.005)
        ready = time.perf_counter() - start
        time.sleep(1.0)  # idle: let start-up garbage settle before reading RSS
        rss_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
        return ready, rss_mb
    finally:
        proc.terminate()
        proc.wait(10)


def gateway_env(state: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update(HOME=state, OPENCLAW_HOME=state, OPENCLAW_STATE_DIR=os.path.join(state, "s"),
               OPENCLAW_CONFIG_PATH=os.path.join(state, "s", "openclaw.json"),
               PYTHONPATH=ROOT)
    os.makedirs(os.path.join(state, "s"), exist_ok=True)
    with open(env["OPENCLAW_CONFIG_PATH"], "w") as f:
        json.dump({"gateway": {"mode": "local", "auth": {"token": "bench-token-123456"}}}, f)
    return env


def run(runs: int = 5) -> dict[str, dict[str, float]]:
    """Median seconds to /healthz and idle RSS (MB) of the floor and of ours."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as state:
        env = gateway_env(state)
        subjects = {
            "floor": lambda p: [sys.executable, os.path.join(HERE, "floor_startup_server.py"),
                                str(p)],
            "ours": lambda p: [sys.executable, "-m", "openclaw", "gateway", "--port", str(p)],
        }
        for name, build in subjects.items():
            samples = [measure(build(port := free_port()), port, env) for _ in range(runs)]
            results[name] = {"ready_s": statistics.median(s[0] for s in samples),
                             "rss_mb": statistics.median(s[1] for s in samples)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = run(args.runs)
    print(f"startup, median of {args.runs} runs each")
    print(f"{'subject':34} {'to /healthz':>12} {'idle RSS':>10}")
    labels = {"floor": "floor (bare Twisted + Autobahn)", "ours": "openclaw gateway"}
    for name, r in results.items():
        print(f"{labels[name]:34} {r['ready_s'] * 1000:9.0f} ms {r['rss_mb']:7.1f} MB")
    floor, ours = results["floor"], results["ours"]
    print(f"ratio gateway/floor: time {ours['ready_s'] / floor['ready_s']:.2f}x, "
          f"memory {ours['rss_mb'] / floor['rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
