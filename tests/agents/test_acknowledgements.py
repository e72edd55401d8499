"""What an acknowledgement means: ``chat.send`` says ``started`` only once the message is
durable (transcript, or the queue journal for a busy session); a message that could not be
stored gets an error response; queued messages left out of their transcripts are replayed in
order by ``recover()``."""

# ruff: noqa: ASYNC230  (small reads of files the gateway wrote, in tests)

from __future__ import annotations

import errno
import json
import os

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import TestCase

from openclaw.agents.durable import DurableWriter
from openclaw.agents.store import read_jsonl
from tests.agents.support import AgentStack, WsClient
from tests.upstream import openai_text, stall


class _FullDisk(DurableWriter):
    """Appends to paths containing ``failing`` fail with ENOSPC."""

    failing = "\0never"

    def append(self, path: str, data: bytes) -> Deferred[None]:
        if self.failing in path:
            return fail(OSError(errno.ENOSPC, "No space left on device", path))
        return super().append(path, data)


class AcknowledgementTests(TestCase):
    timeout = 30

    async def stack(self) -> tuple[AgentStack, _FullDisk, WsClient]:
        from twisted.internet import reactor

        stack = AgentStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        await stack.start({"agents": {"defaults": {"skipBootstrap": True}}})
        writer = _FullDisk(reactor)
        original, stack.store.writer = stack.store.writer, writer
        for sessions in stack.store.agents():
            sessions._writer = sessions.queue._writer = writer
        self.addCleanup(original.stop)
        client = await stack.client()
        return stack, writer, client

    async def test_failed_user_message_append_is_an_error_response(self) -> None:
        stack, writer, client = await self.stack()
        writer.failing = ".jsonl"          # transcripts
        answer = await client.call("chat.send", {"sessionKey": "full", "message": "hello",
                                                 "idempotencyKey": "k-full"})
        self.assertFalse(answer["ok"], answer)
        self.assertEqual(answer["error"]["code"], "UNAVAILABLE")
        self.assertIn("No space left on device", answer["error"]["message"])
        self.assertEqual(stack.upstream.requests, [])
        # not remembered as done: a retry (disk freed) runs
        writer.failing = "\0never"
        retry = await client.call("chat.send", {"sessionKey": "full", "message": "hello",
                                                "idempotencyKey": "k-full"})
        self.assertEqual(retry["payload"]["status"], "started")
        # the events of the retry come after its response (the first attempt's error event
        # may have arrived after the first response)
        since = next(i for i, frame in enumerate(client.frames) if frame is retry)
        final = await client.wait_for(
            lambda f: f.get("event") == "chat" and f["payload"].get("runId") == "k-full"
            and f["payload"].get("state") in ("final", "error"), since=since)
        self.assertEqual(final["payload"]["state"], "final", final)
        records = stack.transcript("agent:main:full")
        self.assertEqual([r["type"] for r in records],
                         ["session", "message", "model_change", "message"])
        self.flushLoggedErrors(OSError)

    async def test_queued_message_is_journaled_before_its_acknowledgement(self) -> None:
        stack, writer, client = await self.stack()
        stack.upstream.script(stall(["busy "]), openai_text("second answer"))
        first = await client.call("chat.send", {"sessionKey": "q", "message": "first",
                                                "idempotencyKey": "q-1"})
        self.assertEqual(first["payload"]["status"], "started")
        await _streaming(client, "q-1")
        second = await client.call("chat.send", {"sessionKey": "q", "message": "second",
                                                 "idempotencyKey": "q-2"})
        self.assertEqual(second["payload"]["status"], "started")
        journal = os.path.join(stack.store.agent("main").directory, "queue.jsonl")
        records = read_jsonl(journal)   # acknowledged: the record is on disk already
        self.assertEqual([(r["type"], r["runId"], r["request"]["message"]) for r in records],
                         [("queued", "q-2", "second")])
        stack.runtime.abort("agent:main:q", "q-1")
        final = await client.chat_terminal("q-2")
        self.assertEqual(final["payload"]["state"], "final")
        # The chat final goes out with the answer; the run's end (and its "done" record)
        # follows once the answer is on disk.
        await stack.settled("q-2")
        done = await stack.store.writer.call(read_jsonl, journal)
        self.assertEqual([r["type"] for r in done], ["queued", "done"])
        transcript = stack.transcript("agent:main:q")
        queued = next(r for r in transcript if r.get("type") == "message"
                      and r["message"].get("content") == "second")
        self.assertEqual(queued["id"], records[0]["messageId"])

    async def test_failed_journal_write_is_an_error_response(self) -> None:
        stack, writer, client = await self.stack()
        stack.upstream.script(stall(["busy "]))
        await client.call("chat.send", {"sessionKey": "j", "message": "first",
                                        "idempotencyKey": "j-1"})
        await _streaming(client, "j-1")
        writer.failing = "queue.jsonl"
        answer = await client.call("chat.send", {"sessionKey": "j", "message": "second",
                                                 "idempotencyKey": "j-2"})
        self.assertFalse(answer["ok"], answer)
        self.assertIn("No space left on device", answer["error"]["message"])
        stack.runtime.abort("agent:main:j")
        await client.chat_terminal("j-1")
        self.assertEqual(len(stack.upstream.requests), 1)     # the refused one never ran
        self.flushLoggedErrors(OSError)

    async def test_recover_replays_unstored_messages_in_order(self) -> None:
        stack, writer, client = await self.stack()
        sessions = stack.store.agent("main")
        await sessions.ensure("agent:main:r", cwd=stack.workspace)
        # one queued message reached its transcript before the crash, two did not
        await sessions.append("agent:main:r", [{"type": "message", "id": "m-1", "message": {
            "role": "user", "content": "one"}}])
        lines = [{"type": "queued", "runId": f"r-{n}", "sessionKey": "agent:main:r",
                  "messageId": f"m-{n}", "ts": 1, "request": {"message": text,
                                                              "session_key": "agent:main:r",
                                                              "kind": "chat"}}
                 for n, text in ((1, "one"), (2, "two"), (3, "three"))]
        with open(sessions.queue.path, "w") as handle:
            handle.write("".join(json.dumps(line) + "\n" for line in lines))
        stack.upstream.script(openai_text("answer two"), openai_text("answer three"))
        await stack.runtime.recover()
        results = [await stack.runtime.wait(f"r-{n}", 20) for n in (2, 3)]
        self.assertEqual([r.status if r else None for r in results], ["ok", "ok"])
        self.assertIsNone(stack.runtime.finished("r-1"))
        users = [r["message"]["content"] for r in stack.transcript("agent:main:r")
                 if r.get("type") == "message" and r["message"]["role"] == "user"]
        self.assertEqual(users, ["one", "two", "three"])
        sent = [request.json["messages"][-1]["content"] for request in stack.upstream.requests]
        self.assertEqual(sent, ["two", "three"])
        pending = await sessions.queue.take_pending()
        self.assertEqual(pending, [])


def _streaming(client: WsClient, run_id: str) -> Deferred[dict]:
    """The run's first ``chat`` delta: it reached the upstream and is streaming."""
    return client.wait_for(lambda f: f.get("event") == "chat"
                           and f["payload"].get("runId") == run_id
                           and f["payload"].get("state") == "delta")


class EarlyAbortTests(TestCase):
    timeout = 30

    async def test_abort_before_the_first_model_call_is_an_abort(self) -> None:
        # the abort lands while the bootstrap files are read, the user message still being
        # written: the run ends aborted once the message is durable, and nothing is logged
        # as a crash
        from twisted.internet import reactor

        from openclaw.agents import turn as turn_mod
        from openclaw.agents.runtime import RunRequest

        stack = AgentStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        await stack.start({"agents": {"defaults": {"skipBootstrap": True}}})
        runtime = stack.runtime
        run_blocking = runtime.run_blocking
        reads: list[Deferred[object]] = []

        def held_reads(func: object, *args: object, **kwargs: object) -> Deferred[object]:
            if func is turn_mod.load_context_files:
                read: Deferred[object] = Deferred()
                reads.append(read)
                return read
            return run_blocking(func, *args, **kwargs)

        runtime.run_blocking = held_reads
        handle = runtime.start(RunRequest(message="hello", run_id="early",
                                          session_key="agent:main:early"))
        reached: Deferred[None] = Deferred()
        guard = handle.guard

        def watched_guard(deferred: Deferred[object]) -> object:
            if deferred in reads and not reached.called:
                # fired from the next reactor turn: the run is then waiting on the read
                reactor.callLater(0, reached.callback, None)
            return guard(deferred)

        handle.guard = watched_guard  # type: ignore[method-assign]
        await reached
        self.assertTrue(handle.cancel("rpc"))
        result = await handle.result
        self.assertEqual((result.status, result.stop_reason), ("aborted", "rpc"))
        self.assertEqual(stack.upstream.requests, [])
        self.assertEqual(self.flushLoggedErrors(), [])
