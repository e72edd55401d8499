"""Config hot reload: time from the file write to the change being visible to a client.

A real gateway process; one operator client connected over WebSocket. Each round saves the
config the way an editor does (temp file + rename) with a new model for the main agent, then
polls ``agents.list`` until the new model shows. Median (and p90) of N rounds, for the
default debounce (300 ms) and for ``debounceMs: 0`` (the pipeline alone: inotify event,
threaded read + parse + validate, diff, plan, secrets, atomic swap).

The floor, measured in the same run: the configured debounce plus one ``agents.list`` round
trip (what any design that waits ``debounceMs`` and is then observed by a poll must pay).

    .venv/bin/python bench/reload.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.gateway.reload.support import (  # noqa: E402
    Client,
    Gateway,
    agent_model,
    base_config,
    free_port,
    write_json_atomic,
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(debounce_ms: int, rounds: int) -> dict[str, Any]:
    base = tempfile.mkdtemp(prefix="oc-bench-reload-")
    port = free_port()
    config = base_config(port, reload={"mode": "hybrid", "debounceMs": debounce_ms})
    gateway = Gateway(base, config)
    try:
        gateway.start(port)
        client = Client(port)
        rtts = []
        for _ in range(50):
            started = time.perf_counter()
            agent_model(client)
            rtts.append(time.perf_counter() - started)
        latencies = []
        for n in range(rounds):
            model = f"bench/model-{debounce_ms}-{n}"
            config["agents"]["entries"]["main"]["model"] = model
            started = time.perf_counter()
            write_json_atomic(gateway.config_path, config)
            while agent_model(client) != model:
                time.sleep(0.001)
                if time.perf_counter() - started > 10:
                    raise SystemExit(f"change {n} never became visible")
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
        if gateway.count("config change detected") != rounds:
            raise SystemExit("expected exactly one reload per write")
        client.close()
        rtt = statistics.median(rtts)
        floor = debounce_ms / 1000.0 + rtt
        median = statistics.median(latencies)
        return {
            "debounceMs": debounce_ms,
            "rounds": rounds,
            "medianMs": round(median * 1000, 1),
            "p90Ms": round(percentile(latencies, 0.9) * 1000, 1),
            "floorMs": round(floor * 1000, 1),
            "rpcRttMs": round(rtt * 1000, 2),
            "overheadMs": round((median - floor) * 1000, 1),
            "ratio": round(median / floor, 2),
        }
    finally:
        gateway.stop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    results = [run(300, args.rounds), run(0, args.rounds)]
    for result in results:
        print(json.dumps(result))
    default = results[0]
    print(f"write -> visible: median {default['medianMs']} ms over {default['rounds']} rounds "
          f"(debounce 300 ms; floor {default['floorMs']} ms, x{default['ratio']}); "
          f"without debounce: median {results[1]['medianMs']} ms")


if __name__ == "__main__":
    main()
