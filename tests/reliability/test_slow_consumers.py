"""Slow consumers: rounds of clients that send thousands of ``config.schema`` requests (about
50 KB of answer each) and never read. The gateway must stop serving them instead of queueing
their answers, drop them, and its memory must come back: RSS after the last round within 20%
of RSS before the first.

``RELIABILITY_SLOW_ROUNDS`` (default 3) rounds of ``RELIABILITY_SLOW_CLIENTS`` (default 3)
clients, each sending ``RELIABILITY_SLOW_REQUESTS`` (default 4000) requests.
"""

from __future__ import annotations

import json
import select
import tempfile
import time

from twisted.internet.defer import DeferredList
from twisted.trial.unittest import TestCase

from tests.reliability.harness import (
    TOKEN,
    GatewayChild,
    RawWs,
    Report,
    in_thread,
    size,
    ws_frame,
)

ROUNDS = size("SLOW_ROUNDS", 3)
CLIENTS = size("SLOW_CLIENTS", 3)
REQUESTS = size("SLOW_REQUESTS", 4000)
DROP_DEADLINE_S = 60.0


def slow_client(port: int) -> tuple[bool, float]:
    """Connect, send the requests, never read; ``(dropped by the gateway, seconds)``."""
    client = RawWs(port, timeout=30)
    try:
        client.connect()
        frames = b"".join(ws_frame(json.dumps({"type": "req", "id": f"s{index}",
                                               "method": "config.schema"}).encode())
                          for index in range(REQUESTS))
        began = time.monotonic()
        try:
            client.sock.sendall(frames)
        except OSError:
            return True, time.monotonic() - began
        # wait for the hang-up without reading a byte
        poller = select.poll()
        poller.register(client.sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        events = poller.poll(int(DROP_DEADLINE_S * 1000))
        return bool(events), time.monotonic() - began
    finally:
        client.close()


def warm_up(port: int) -> int:
    """One ``config.schema`` answered (its caches built); the answer's size."""
    client = RawWs(port)
    try:
        client.connect()
        client.send_json({"type": "req", "id": "warm", "method": "config.schema"})
        while True:
            opcode, payload = client.read_frame()
            if opcode == 1 and json.loads(payload).get("id") == "warm":
                return len(payload)
            if opcode in (-1, 8):
                raise AssertionError("closed during the warm-up")
    finally:
        client.close()


class SlowConsumerTests(TestCase):
    timeout = 60 + ROUNDS * (DROP_DEADLINE_S + 10)

    async def test_rss_comes_back(self) -> None:
        gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-slow-"), {
            "gateway": {"mode": "local", "auth": {"token": TOKEN}},
            "logging": {"level": "warn"}})
        gateway.READY = "listening on ws://"
        self.addCleanup(gateway.kill)
        gateway.start()
        await gateway.wait_ready()
        answer_bytes = await in_thread(warm_up, gateway.port)
        before = gateway.rss_mb()
        report = Report(f"{ROUNDS} rounds of {CLIENTS} clients that never read, each sending "
                        f"{REQUESTS} config.schema requests ({answer_bytes} bytes of answer "
                        "each)")
        report.add(f"RSS before: {before:.1f} MB")
        kept: list[str] = []
        for round_ in range(ROUNDS):
            results = await DeferredList([in_thread(slow_client, gateway.port)
                                          for _ in range(CLIENTS)], consumeErrors=True)
            outcomes = [value if ok else (False, -1.0) for ok, value in results]
            kept += [f"round {round_ + 1}" for dropped, _ in outcomes if not dropped]
            report.add(f"round {round_ + 1}: dropped {sum(1 for d, _ in outcomes if d)}/"
                       f"{CLIENTS} after {max(s for _, s in outcomes):.1f}s; RSS "
                       f"{gateway.rss_mb():.1f} MB")
        after = gateway.rss_mb()
        report.add(f"RSS after: {after:.1f} MB ({(after / before - 1) * 100:+.1f}%); the "
                   f"gateway still answers: {await in_thread(warm_up, gateway.port) > 0}")
        report.emit()
        self.assertEqual(kept, [])
        self.assertLessEqual(after, before * 1.2)
