"""Many concurrent runs on new sessions: every one is acknowledged, reaches the upstream and
ends, with no descriptor errors - against a fast upstream, and against a crowded one whose
small accept queue black-holes some of a crowd of new connections (the cause of the runs
that used to hang: see docs/reliability.md).

``RELIABILITY_RUNS`` (default 100) runs per test; ``RELIABILITY_REPEAT`` (default 1) times.
"""

from __future__ import annotations

import tempfile
import time

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from tests.reliability.harness import (
    CrowdedUpstream,
    FaultUpstream,
    GatewayChild,
    Report,
    chat_terminals,
    count_by,
    descriptor_errors,
    gateway_config,
    open_clients,
    send_chats,
    size,
    started,
    user_texts,
)

RUNS = size("RUNS", 100)
REPEAT = size("REPEAT", 1)
RUN_TIMEOUT_S = 45


class ConcurrentRunsTests(TestCase):
    timeout = 120 + 60 * REPEAT

    async def _runs_all_end(self, upstream_url: str, title: str, upstream_requests: object
                            ) -> None:
        gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-"), gateway_config(
            upstream_url, timeoutSeconds=RUN_TIMEOUT_S))
        self.addCleanup(gateway.kill)
        gateway.start()
        await gateway.wait_ready()
        report = Report(f"{title}: {RUNS} concurrent chat.send on {RUNS} new sessions, "
                        f"{REPEAT} time(s)")
        clients = await open_clients(gateway.port, 4)
        for client in clients:
            self.addCleanup(client.close)
        lost: list[str] = []
        hung: list[str] = []
        failed: list[str] = []
        for round_ in range(REPEAT):
            items = [(f"new-{round_}-{i}", f"hello {round_}-{i}", f"run-{round_}-{i}")
                     for i in range(RUNS)]
            began = time.monotonic()
            acks = await send_chats(clients, items)
            acked = [run_id for run_id, ack in acks.items() if started(ack)]
            ends = await chat_terminals(clients[0], acked, timeout=RUN_TIMEOUT_S + 30)
            elapsed = time.monotonic() - began
            hung += [run_id for run_id, end in ends.items() if end is None]
            # against a healthy upstream every run ends final: an error here is a run stuck
            # until its timeout, or a failed write
            failed += [f"{run_id}: {end.get('errorMessage')}" for run_id, end in ends.items()
                       if end is not None and end["state"] != "final"]
            states = count_by(end["state"] for end in ends.values() if end is not None)
            for key, message, run_id in items:
                if run_id in acked and message not in user_texts(gateway.transcript(
                        f"agent:main:{key}")):
                    lost.append(run_id)
            report.add(f"round {round_ + 1}: {len(acked)}/{RUNS} acknowledged, ends {states}, "
                       f"{len(hung)} hung, in {elapsed:.1f}s")
        bad_fds = descriptor_errors(gateway.log())
        report.add(f"upstream requests: {upstream_requests}; descriptor errors in the log: "
                   f"{len(bad_fds)}; acknowledged but not in the transcript: {len(lost)}")
        if failed:
            report.add(f"not final: {failed[:5]}")
        report.emit()
        self.assertEqual(hung, [])
        self.assertEqual(failed, [])
        self.assertEqual(lost, [])
        self.assertEqual(bad_fds, [])
        gateway.signal(15)
        self.assertEqual(await gateway.wait_exit(), 0)

    async def test_fast_upstream(self) -> None:
        upstream = FaultUpstream()
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        await self._runs_all_end(upstream.url, "fast upstream", _Count(upstream))

    async def test_crowded_upstream(self) -> None:
        upstream = CrowdedUpstream(backlog=5)
        self.addCleanup(upstream.stop)
        await self._runs_all_end(upstream.url, "crowded upstream (listen backlog 5)",
                                 _Count(upstream))


class _Count:
    def __init__(self, upstream: object) -> None:
        self.upstream = upstream

    def __str__(self) -> str:
        return str(getattr(self.upstream, "requests", "?"))
