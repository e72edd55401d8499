"""An auth flood: many connections presenting a wrong token, as fast as the client threads can
open them, while an authenticated client keeps working. Every flood connection gets an error
answer and is closed, the rate limiter engages, the good client is answered throughout, and
the gateway's descriptors and memory come back.

``RELIABILITY_AUTH_FLOOD`` (default 300) bad connections.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from twisted.internet.defer import DeferredList
from twisted.trial.unittest import TestCase

from tests.reliability.harness import (
    TOKEN,
    GatewayChild,
    RawWs,
    Report,
    count_by,
    in_thread,
    open_clients,
    size,
)

FLOOD = size("AUTH_FLOOD", 300)
THREADS = 8


def bad_connects(port: int, count: int) -> list[str]:
    """``count`` connects with a wrong token; what each got (error code, or how it ended)."""
    outcomes = []
    for _ in range(count):
        client = RawWs(port, timeout=20)
        try:
            client.upgrade()
            client.read_frame()
            client.send_json({"type": "req", "id": "c1", "method": "connect", "params": {
                "minProtocol": 4, "maxProtocol": 4,
                "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
                "role": "operator", "scopes": ["operator.admin"],
                "auth": {"token": "wrong-" + TOKEN}}})
            outcome = "no answer"
            while True:
                opcode, payload = client.read_frame()
                if opcode == 1:
                    frame = json.loads(payload)
                    if frame.get("id") == "c1":
                        details = (frame.get("error") or {}).get("details") or {}
                        outcome = "ok!" if frame.get("ok") else str(details.get("code"))
                elif opcode in (8, -1):
                    break
            outcomes.append(outcome)
        except OSError as e:
            outcomes.append(type(e).__name__)
        finally:
            client.close()
    return outcomes


class AuthFloodTests(TestCase):
    timeout = 120

    async def test_auth_flood(self) -> None:
        gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-flood-"), {
            "gateway": {"mode": "local", "auth": {"token": TOKEN, "rateLimit": {
                "exemptLoopback": False, "maxAttempts": 20, "windowMs": 60_000,
                "lockoutMs": 60_000}}},
            "logging": {"level": "warn"}})
        gateway.READY = "listening on ws://"
        self.addCleanup(gateway.kill)
        gateway.start()
        await gateway.wait_ready()
        good = (await open_clients(gateway.port, 1))[0]
        self.addCleanup(good.close)
        await good.call("health", {})
        fds_before = len(os.listdir(f"/proc/{gateway.pid}/fd"))
        rss_before = gateway.rss_mb()
        began = time.monotonic()
        flood = DeferredList([in_thread(bad_connects, gateway.port, FLOOD // THREADS)
                              for _ in range(THREADS)], consumeErrors=True)
        answered = 0
        while not flood.called:
            reply = await good.call("health", {}, timeout=20)
            answered += 1 if reply.get("ok") else 0
        results = await flood
        elapsed = time.monotonic() - began
        outcomes = [o for ok, value in results if ok for o in value]
        health = await good.call("health", {}, timeout=20)
        # the last closes may still be in the gateway's queue: let it answer (an event) until
        # its descriptors are back, at most a bounded number of round trips
        fds_after = len(os.listdir(f"/proc/{gateway.pid}/fd"))
        for _ in range(100):
            if fds_after <= fds_before + 2:
                break
            await good.call("health", {}, timeout=20)
            fds_after = len(os.listdir(f"/proc/{gateway.pid}/fd"))
        rss_after = gateway.rss_mb()
        report = Report(f"auth flood: {len(outcomes)} connects with a wrong token from "
                        f"{THREADS} threads in {elapsed:.1f}s")
        report.add(f"answers: {count_by(outcomes)}")
        report.add(f"the authenticated client: {answered} health calls answered during the "
                   f"flood, and after: {health.get('ok')}")
        report.add(f"descriptors {fds_before} -> {fds_after}; RSS {rss_before:.1f} -> "
                   f"{rss_after:.1f} MB")
        report.emit()
        self.assertEqual(len(outcomes), THREADS * (FLOOD // THREADS))
        self.assertNotIn("ok!", outcomes)
        self.assertNotIn("no answer", outcomes)
        self.assertIn("AUTH_RATE_LIMITED", outcomes)
        self.assertGreater(answered, 0)
        self.assertTrue(health.get("ok"))
        self.assertLessEqual(fds_after, fds_before + 2)
        self.assertLessEqual(rss_after, rss_before * 1.2)
