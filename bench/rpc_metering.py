"""What the RPC metrics add to one dispatch: a handler called through the plain registry vs
through the metered one (``openclaw.gateway.metrics.meter_registry``), in-process, so the
difference is not lost in the WebSocket round trip's noise (bench/ws_rpc.py measures that).

    .venv/bin/python bench/rpc_metering.py [--calls 200000] [--runs 5]

Prints nanoseconds per call (median of the runs) for a synchronous handler and for one
answering with an already-fired Deferred, plain and metered, and the difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from twisted.internet.defer import succeed  # noqa: E402

from openclaw.gateway.metrics import GatewayMetrics, meter_registry  # noqa: E402
from openclaw.gateway.protocol.dispatch import MethodCall, MethodRegistry, MethodSpec  # noqa: E402


def per_call_ns(registry: MethodRegistry, method: str, calls: int) -> float:
    call = MethodCall(method, "r1", {}, None, None)  # type: ignore[arg-type]
    get = registry.get
    start = time.perf_counter_ns()
    for _ in range(calls):
        spec = get(method)
        assert spec is not None
        spec.handler(call)
    return (time.perf_counter_ns() - start) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    answer: dict[str, Any] = {"ok": True}
    plain = MethodRegistry([
        MethodSpec("health", lambda call: answer, "operator.read"),
        MethodSpec("deferred", lambda call: succeed(answer), "operator.read"),
    ])
    metered = meter_registry(plain, GatewayMetrics())
    print(f"# ns per dispatch, median of {args.runs} runs of {args.calls} calls")
    for method in ("health", "deferred"):
        base = statistics.median(per_call_ns(plain, method, args.calls)
                                 for _ in range(args.runs))
        with_metrics = statistics.median(per_call_ns(metered, method, args.calls)
                                         for _ in range(args.runs))
        print(f"{method:9s} plain {base:8.0f} ns  metered {with_metrics:8.0f} ns  "
              f"added {with_metrics - base:6.0f} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
