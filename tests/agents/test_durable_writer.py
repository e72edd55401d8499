"""The durable writer: every append is fsynced on the descriptor it was written to, even when a
batch touches more files than the descriptor LRU holds; a cancelled operation never strands
the rest of its batch."""

# ruff: noqa: ASYNC230  (small reads of files the writer wrote, in tests)

from __future__ import annotations

import os
import tempfile
import threading
from types import SimpleNamespace
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.agents import durable
from openclaw.agents.durable import MAX_OPEN_FILES, DurableWriter, InlineWriter


class _RecordingOs:
    """``os`` as the writer sees it, recording which path each fsync'd descriptor holds."""

    def __init__(self) -> None:
        self.open_paths: dict[int, str] = {}
        self.synced: list[str] = []
        self.bad_syncs: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: str, flags: int, mode: int = 0o777) -> int:
        fd = os.open(path, flags, mode)
        self.open_paths[fd] = path
        return fd

    def close(self, fd: int) -> None:
        self.open_paths.pop(fd, None)
        os.close(fd)

    def fsync(self, fd: int) -> None:
        path = self.open_paths.get(fd)
        if path is None:
            self.bad_syncs.append(fd)
        else:
            self.synced.append(path)
        os.fsync(fd)


class FilesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="oc-durable-")
        self.recording = _RecordingOs()
        self.patch(durable, "os", self.recording)

    def test_more_files_than_descriptors_in_one_batch(self) -> None:
        files = durable._Files(limit=8)
        paths = [os.path.join(self.dir, f"s{i}.jsonl") for i in range(50)]
        for round_ in range(2):
            for index, path in enumerate(paths):
                files.append(path, f"{round_}-{index}\n".encode(), (round_, index))
        settled = files.settle()
        tokens = sorted(token for batch, failure in settled for token in batch
                        if failure is None)
        self.assertEqual(tokens, sorted((r, i) for r in range(2) for i in range(50)))
        self.assertEqual([failure for _, failure in settled if failure is not None], [])
        self.assertEqual(self.recording.bad_syncs, [])
        # every path was synced at least once per descriptor it was written through
        self.assertEqual(set(self.recording.synced), set(paths))
        self.assertLessEqual(len(files._fds), 8)
        for index, path in enumerate(paths):
            with open(path, "rb") as handle:
                self.assertEqual(handle.read(), f"0-{index}\n1-{index}\n".encode())
        files.close()
        self.assertEqual(self.recording.open_paths, {})

    def test_failed_write_syncs_earlier_appends_and_repairs(self) -> None:
        files = durable._Files(limit=4)
        path = os.path.join(self.dir, "t.jsonl")
        files.append(path, b'{"a":1}\n', "first")
        real_write = os.write

        def torn_write(fd: int, data: Any) -> int:
            real_write(fd, bytes(data[:3]))
            raise OSError(28, "No space left on device")

        self.patch(self.recording, "write", torn_write)
        with self.assertRaises(OSError):
            files.append(path, b'{"b":2}\n', "second")
        self.patch(self.recording, "write", real_write)
        self.assertEqual(files.settle(), [(["first"], None)])
        files.append(path, b'{"c":3}\n', "third")
        self.assertEqual(files.settle(), [(["third"], None)])
        with open(path, "rb") as handle:
            self.assertEqual(handle.read(), b'{"a":1}\n{"c":3}\n')

    def test_inline_writer_many_files(self) -> None:
        writer = InlineWriter()
        outcomes: list[Any] = []
        for index in range(MAX_OPEN_FILES * 2):
            writer.append(os.path.join(self.dir, f"i{index}.jsonl"), b"x\n").addBoth(
                outcomes.append)
        self.assertEqual(outcomes, [None] * (MAX_OPEN_FILES * 2))
        self.assertEqual(self.recording.bad_syncs, [])
        writer.stop()


class WriterThreadTests(TestCase):
    timeout = 60

    async def test_batch_over_the_descriptor_limit(self) -> None:
        """One batch appends to 3x as many files as the LRU holds, twice each."""
        directory = tempfile.mkdtemp(prefix="oc-durable-")
        recording = _RecordingOs()
        self.patch(durable, "os", recording)
        writer = DurableWriter(reactor)
        self.addCleanup(writer.stop)
        gate = threading.Event()
        held = writer.call(gate.wait, 30)      # the thread waits: everything below is one batch
        count = MAX_OPEN_FILES * 3
        appends = [writer.append(os.path.join(directory, f"s{i % count}.jsonl"),
                                 f"line {i}\n".encode()) for i in range(count * 2)]
        gate.set()
        await held
        results = await DeferredList(appends, consumeErrors=True)
        failures = [value for ok, value in results if not ok]
        self.assertEqual(failures, [])
        self.assertEqual(recording.bad_syncs, [])
        for index in range(count):
            with open(os.path.join(directory, f"s{index}.jsonl"), "rb") as handle:
                self.assertEqual(handle.read(),
                                 f"line {index}\nline {index + count}\n".encode())

    async def test_cancelled_operation_does_not_strand_the_batch(self) -> None:
        directory = tempfile.mkdtemp(prefix="oc-durable-")
        writer = DurableWriter(reactor)
        self.addCleanup(writer.stop)
        gate = threading.Event()
        held = writer.call(gate.wait, 30)
        reading = writer.call(sorted, [3, 1, 2])
        appends = [writer.append(os.path.join(directory, f"c{i}.jsonl"), b"x\n")
                   for i in range(5)]
        reading.cancel()                # e.g. a client that went away mid-request
        reading.addErrback(lambda failure: SimpleNamespace(cancelled=True))
        gate.set()
        await held
        results = await DeferredList(appends, consumeErrors=True)
        self.assertEqual([ok for ok, _ in results], [True] * 5)
        after: Deferred[Any] = writer.call(len, "abc")
        self.assertEqual(await after, 3)
