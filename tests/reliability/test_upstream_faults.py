"""Upstream faults: 429 with ``Retry-After``, a 500, a reset mid-stream, a hang, garbage with a
200 status. Each run ends as it should (retried to ``final``, or ``error``) within its deadline;
nothing hangs and the gateway keeps serving."""

from __future__ import annotations

import tempfile
import time

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from tests.reliability.harness import (
    FaultUpstream,
    GatewayChild,
    Report,
    chat_terminals,
    gateway_config,
    open_clients,
    started,
)

CASES = [
    # marker, expected end state, what the error names (if any)
    ("fault:429", "final", None),
    ("fault:500", "final", None),
    ("fault:reset", "error", "interrupted"),
    ("fault:hang", "error", "timed out"),
    ("fault:garbage", "error", "no parseable content"),
    ("plain", "final", None),
]


class UpstreamFaultTests(TestCase):
    timeout = 120

    async def test_upstream_faults(self) -> None:
        upstream = FaultUpstream()
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-up-"),
                               gateway_config(upstream.url))
        self.addCleanup(gateway.kill)
        gateway.start()
        await gateway.wait_ready()
        client = (await open_clients(gateway.port, 1))[0]
        self.addCleanup(client.close)
        began = time.monotonic()
        acks = {}
        for index, (marker, _, _) in enumerate(CASES):
            # a hung upstream is cut by the run's own timeout
            acks[f"up-{index}"] = await client.call("chat.send", {
                "sessionKey": f"fault-{index}", "message": f"please {marker}",
                "idempotencyKey": f"up-{index}",
                "timeoutMs": 4000 if marker == "fault:hang" else 45_000}, timeout=30)
        ends = await chat_terminals(client, list(acks), timeout=60)
        report = Report("upstream faults")
        wrong = []
        for index, (marker, state, error) in enumerate(CASES):
            end = ends[f"up-{index}"]
            got = end["state"] if end else "hung"
            message = (end or {}).get("errorMessage") or ""
            report.add(f"{marker}: {got} {message[:90]!r}")
            if not started(acks[f"up-{index}"]) or got != state or \
                    (error is not None and error not in message):
                wrong.append(marker)
        health = await client.call("health", {}, timeout=10)
        report.add(f"all ended in {time.monotonic() - began:.1f}s; health after: "
                   f"{health.get('ok')}; upstream requests {upstream.requests}")
        report.emit()
        self.assertEqual(wrong, [])
        self.assertTrue(health.get("ok"))
