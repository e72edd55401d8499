"""SIGTERM with many clients connected and messages queued behind a busy session: every client
gets the ``shutdown`` event and a 1012 close, the process exits 0, and the queued messages that
were acknowledged run after the restart.

``RELIABILITY_SIGTERM_CLIENTS`` (default 60) clients.
"""

from __future__ import annotations

import signal
import tempfile
import time

from twisted.internet.defer import Deferred, DeferredList
from twisted.trial.unittest import TestCase

from tests.reliability.harness import (
    FaultUpstream,
    GatewayChild,
    Report,
    gateway_config,
    open_clients,
    send_chats,
    size,
    started,
    user_texts,
)

CLIENTS = size("SIGTERM_CLIENTS", 60)
QUEUED = 6


class SigtermTests(TestCase):
    timeout = 120

    async def test_sigterm_with_many_clients(self) -> None:
        upstream = FaultUpstream(chunks=20)
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-term-"),
                               gateway_config(upstream.url))
        self.addCleanup(gateway.kill)
        gateway.start()
        await gateway.wait_ready()
        clients = await open_clients(gateway.port, CLIENTS)
        for client in clients:
            self.addCleanup(client.close)
        # one long run on a session, then messages queued behind it
        items = [("busy", "busy slow:200", "term-0")] + \
            [("busy", f"queued {i}", f"term-{i}") for i in range(1, QUEUED + 1)]
        acks = await send_chats([clients[0]], items)
        acked = [item for item in items if started(acks[item[2]])]
        # the first delta of the long run: it is running, the rest are queued
        await clients[0].wait_for(lambda f: f.get("event") == "chat"
                                  and f["payload"].get("runId") == "term-0", timeout=30)
        closes = [client._factory.closed for client in clients]
        sent = time.monotonic()
        gateway.signal(signal.SIGTERM)
        code = await gateway.wait_exit(30)
        exit_s = time.monotonic() - sent
        closed = await DeferredList(closes, consumeErrors=True)
        codes = [value[0] if ok else None for ok, value in closed]
        notified = sum(1 for client in clients
                       if any(f.get("event") == "shutdown" for f in client.frames))
        in_transcript = {run_id for _, message, run_id in acked
                         if message in user_texts(gateway.transcript("agent:main:busy"))}

        gateway.start()
        await gateway.wait_ready()
        watcher = (await open_clients(gateway.port, 1))[0]
        self.addCleanup(watcher.close)
        replayed = [run_id for _, _, run_id in acked if run_id not in in_transcript]
        waits = await DeferredList([
            Deferred.fromCoroutine(watcher.call("agent.wait", {"runId": run_id,
                                                               "timeoutMs": 60_000}, timeout=90))
            for run_id in replayed], consumeErrors=True)
        ran = sum(1 for ok, value in waits if ok and value["payload"].get("status") == "ok")
        users = user_texts(gateway.transcript("agent:main:busy"))
        lost = [run_id for _, message, run_id in acked if message not in users]

        report = Report(f"SIGTERM with {CLIENTS} clients and {QUEUED} queued messages")
        report.add(f"exit code {code} after {exit_s:.2f}s; shutdown event to {notified}/"
                   f"{CLIENTS}; close codes {sorted(set(codes), key=str)}")
        report.add(f"acknowledged {len(acked)}; in the transcript at exit {len(in_transcript)}; "
                   f"replayed after the restart {ran}/{len(replayed)}; lost {lost}")
        report.emit()
        self.assertEqual(code, 0)
        self.assertEqual(notified, CLIENTS)
        self.assertEqual(set(codes), {1012})
        self.assertEqual(len(acked), QUEUED + 1)
        self.assertEqual(ran, len(replayed))
        self.assertEqual(lost, [])
        gateway.signal(signal.SIGTERM)
        self.assertEqual(await gateway.wait_exit(), 0)
