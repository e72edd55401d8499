"""``kill -9`` during many concurrent runs, half of them queued behind busy sessions; then a
restart. Every acknowledged message must be in its transcript (in the order it was sent),
every reply a client saw completed must be there too, and the queued messages the crash left
out of their transcripts must run after the restart.

``RELIABILITY_KILL_RUNS`` (default 60) runs: half on new sessions, half on shared sessions
(five per session: one running, four queued).
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
    assistant_texts,
    gateway_config,
    open_clients,
    send_chats,
    size,
    started,
    user_texts,
)

RUNS = size("KILL_RUNS", 60)
PER_SHARED_SESSION = 5


class KillNineTests(TestCase):
    timeout = 180

    async def test_sigkill_loses_nothing_acknowledged(self) -> None:
        upstream = FaultUpstream(chunks=6)
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-kill-"),
                               gateway_config(upstream.url, timeoutSeconds=120))
        self.addCleanup(gateway.kill)
        gateway.start()
        await gateway.wait_ready()
        clients = await open_clients(gateway.port, 2)
        fresh, shared = clients
        for client in clients:
            self.addCleanup(client.close)

        half = RUNS // 2
        # each run streams 7 parts 150 ms apart: about a second of work
        new_items = [(f"new-{i}", f"new {i} slow:150", f"kill-new-{i}") for i in range(half)]
        shared_items = [(f"shared-{i // PER_SHARED_SESSION}", f"shared {i} slow:150",
                         f"kill-shared-{i}") for i in range(RUNS - half)]
        sending = [Deferred.fromCoroutine(send_chats([fresh], new_items)),
                   Deferred.fromCoroutine(send_chats([shared], shared_items))]
        results = await DeferredList(sending, consumeErrors=True)
        acks = {}
        for ok, value in results:
            self.assertTrue(ok, value)
            acks.update(value)
        acked = [item for item in new_items + shared_items if started(acks[item[2]])]
        # the kill comes once a quarter of the new-session runs have completed: some replies
        # are complete, others mid-stream, the shared sessions' later messages queued
        await DeferredList([fresh.chat_terminal(run_id, timeout=60)
                            for _, _, run_id in new_items[: max(1, half // 4)]])
        completed_before_kill = _finals(fresh.frames)
        gateway.signal(signal.SIGKILL)
        self.assertEqual(await gateway.wait_exit(), -signal.SIGKILL)
        killed_at = time.monotonic()

        in_transcript_before = {run_id for key, message, run_id in acked
                                if message in user_texts(gateway.transcript(f"agent:main:{key}"))}
        to_replay = [item for item in acked if item[2] not in in_transcript_before]

        gateway.start()
        await gateway.wait_ready()
        watcher = (await open_clients(gateway.port, 1))[0]
        self.addCleanup(watcher.close)
        waits = await DeferredList([
            Deferred.fromCoroutine(watcher.call("agent.wait", {"runId": run_id,
                                                               "timeoutMs": 90_000},
                                                timeout=120))
            for _, _, run_id in to_replay], consumeErrors=True)
        replay_status = {item[2]: (value["payload"].get("status") if ok else "no answer")
                         for (ok, value), item in zip(waits, to_replay, strict=True)}
        replayed_in = time.monotonic() - killed_at

        lost: list[str] = []
        unanswered: list[str] = []
        out_of_order: list[str] = []
        missing_replies: list[str] = []
        for key, message, run_id in acked:
            records = gateway.transcript(f"agent:main:{key}")
            users = user_texts(records)
            if message not in users:
                lost.append(run_id)
            elif run_id in replay_status and replay_status[run_id] != "ok":
                unanswered.append(f"{run_id}: {replay_status[run_id]}")
        for session in {key for key, _, _ in shared_items}:
            sent = [message for key, message, run_id in acked if key == session]
            users = [text for text in user_texts(gateway.transcript(f"agent:main:{session}"))
                     if text in sent]
            if users != sent:
                out_of_order.append(session)
        for run_id, text in completed_before_kill.items():
            key = next(key for key, _, rid in new_items + shared_items if rid == run_id)
            if text not in assistant_texts(gateway.transcript(f"agent:main:{key}")):
                missing_replies.append(run_id)

        report = Report(f"kill -9 during {RUNS} concurrent runs ({half} on new sessions, "
                        f"{RUNS - half} on {len({k for k, _, _ in shared_items})} shared "
                        "sessions)")
        report.add(f"acknowledged {len(acked)}/{RUNS}; replies completed before the kill: "
                   f"{len(completed_before_kill)}")
        report.add(f"after the kill: {len(in_transcript_before)} acknowledged messages in "
                   f"their transcripts, {len(to_replay)} only in the queue journal")
        report.add(f"after the restart: {sum(1 for s in replay_status.values() if s == 'ok')}"
                   f"/{len(to_replay)} queued messages ran (within {replayed_in:.1f}s of the "
                   "kill)")
        report.add(f"lost acknowledged messages: {len(lost)} {lost[:5]}; queued not run: "
                   f"{len(unanswered)}; sessions out of order: {out_of_order}; completed "
                   f"replies missing: {missing_replies}")
        report.emit()
        self.assertEqual(len(acked), RUNS)
        self.assertEqual(lost, [])
        self.assertEqual(unanswered, [])
        self.assertEqual(out_of_order, [])
        self.assertEqual(missing_replies, [])
        self.assertGreater(len(to_replay), 0, "nothing was queued at the kill: a weak test")
        gateway.signal(signal.SIGTERM)
        self.assertEqual(await gateway.wait_exit(), 0)




def _finals(frames: list[dict]) -> dict[str, str]:
    """The reply text of every run whose ``chat`` final a client received."""
    out = {}
    for frame in frames:
        payload = frame.get("payload") or {}
        if frame.get("event") == "chat" and payload.get("state") == "final":
            out[payload["runId"]] = "".join(
                block.get("text", "")
                for block in (payload.get("message") or {}).get("content") or [])
    return out
