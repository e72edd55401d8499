"""Durable file writes off the reactor: one writer thread, ordered, with group commit.

Every operation is queued from the reactor thread and runs, in order, on one dedicated
thread; its Deferred fires back on the reactor (``callFromThread``) only once the data is on
disk:

* :meth:`append` - ``O_APPEND`` write of whole lines, ``fsync`` (one fsync per touched file per
  batch: a burst of appends costs one disk flush; a batch touching many files fsyncs them in
  parallel, which the file system commits together). At most ``MAX_OPEN_FILES`` descriptors stay
  open; one with appends awaiting their fsync is synced before it is closed, so an append is
  reported durable only after an fsync of the descriptor it went through. Before the first
  append to a file this process repairs a torn tail (a line cut by a crash, or by a failed
  write, is truncated away), so records never run together.
* :meth:`extend_object` - members added at the end of a file holding one JSON object (the
  session index): one ``pwrite`` over its closing brace, ``fsync`` like an append. The file is
  valid JSON before and after; a later member of the same name overrides an earlier one, as
  ``JSON.parse`` and Python's ``json`` read duplicates.
* :meth:`replace` - :func:`openclaw.atomic_files.atomic_write_bytes`: a unique temp file,
  fsync, ``rename`` over ``path``, fsync the directory (atomic: readers see the old or the
  new file, never a mix).
* :meth:`call` - any other file operation (reads, renames for archiving) in the same order, so
  a read sees every write queued before it.
* :meth:`rewrite` - ``func(path)`` with ``path``'s append descriptor closed first (a function
  that replaces the file: later appends open the new one).

A failed operation fails only its own Deferred; a Deferred its caller cancelled is skipped
(the operation ran anyway), never stranding the rest of the batch; the thread survives any
error.

:class:`InlineWriter` does the same synchronously (unit tests with a fake clock).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from openclaw.atomic_files import atomic_write_bytes, fsync_dir

T = TypeVar("T")

MAX_OPEN_FILES: Final = 64
#: A batch with appends to at least this many files fsyncs them from a few threads at once:
#: the file system commits concurrent fsyncs together (200 files: ~22 ms one by one, ~12 ms
#: from 8 threads on the project's machine); for a file or two the threads cost more than
#: they save.
PARALLEL_SYNC_FILES: Final = 4
SYNC_THREADS: Final = 8
_STOP: Final = object()
#: How far back from the end of an object file its closing brace is looked for.
_TAIL_PROBE: Final = 4096


class NotAnObjectFile(ValueError):
    """:meth:`DurableWriter.extend_object` on a file that does not end with ``}``."""


def repair_tail(path: str) -> int:
    """Truncate a torn last line (no trailing newline); returns the bytes removed."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return 0
    if size == 0:
        return 0
    with open(path, "rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return 0
        # find the last newline
        block = 4096
        position = size
        keep = 0
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            chunk = handle.read(position - start)
            index = chunk.rfind(b"\n")
            if index >= 0:
                keep = start + index + 1
                break
            position = start
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
        return size - keep


class _Files:
    """Open append descriptors (LRU, at most ``limit``) and the appends awaiting their fsync.

    An append is reported durable only after an ``fsync`` of the very descriptor it was
    written to: a descriptor with appends awaiting their fsync is synced before it is closed
    (when the LRU evicts it, or a replace/forget/stop closes it), never closed first. (Keyed
    by descriptor number, a batch touching more files than the LRU holds fsynced closed
    numbers - ``EBADF`` - or numbers already reused by a socket - ``EINVAL`` - or by another
    file, reporting unsynced appends durable.)
    """

    def __init__(self, limit: int = MAX_OPEN_FILES, *, parallel: bool = False) -> None:
        self._limit = limit
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._objects: set[str] = set()     # paths open as object files (read-write, no append)
        self._repaired: set[str] = set()
        self._waiting: dict[str, list[Any]] = {}            # path -> tokens written, unsynced
        self._settled: list[tuple[list[Any], Failure | None]] = []
        self._parallel = parallel
        self._syncers: ThreadPoolExecutor | None = None

    def _fd(self, path: str, *, as_object: bool = False) -> int:
        fd = self._fds.get(path)
        if fd is not None:
            if (path in self._objects) == as_object:
                self._fds.move_to_end(path)
                return fd
            self._release(path)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if not as_object and path not in self._repaired:
            repair_tail(path)
            self._repaired.add(path)
        created = not os.path.exists(path)
        flags = os.O_RDWR | os.O_CREAT if as_object else os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = os.open(path, flags, 0o600)
        if created and directory:
            fsync_dir(directory)
        self._fds[path] = fd
        if as_object:
            self._objects.add(path)
        while len(self._fds) > self._limit:
            self._release(next(iter(self._fds)))
        return fd

    def append(self, path: str, data: bytes, token: Any) -> None:
        """Write ``data`` (whole lines); ``token`` is settled by the fsync that follows."""
        fd = self._fd(path)
        try:
            _write_all(fd, data)
        except BaseException:
            # part of a line may have reached the file: what was written before is synced,
            # the descriptor closed, and the torn tail cut before the next append
            self._release(path)
            self._repaired.discard(path)
            raise
        self._waiting.setdefault(path, []).append(token)

    def extend_object(self, path: str, members: Sequence[bytes], token: Any) -> None:
        """Add ``members`` (each ``"name":value``, one line, no newline inside) to the JSON
        object in ``path`` (created as ``{}`` when missing or empty); ``token`` is settled by
        the fsync that follows.

        One ``pwrite`` replaces the closing brace with ``,member...`` and a new closing brace,
        so the file stays one valid JSON object; a member whose name is already there is
        overridden by the new one (the last duplicate wins when the file is read)."""
        fd = self._fd(path, as_object=True)
        size = os.fstat(fd).st_size
        start = max(0, size - _TAIL_PROBE)
        tail = os.pread(fd, size - start, start) if size else b""
        stripped = tail.rstrip()
        if not stripped.strip():
            if start:
                raise NotAnObjectFile(f"{path}: no closing brace in its last {_TAIL_PROBE} "
                                      "bytes")
            position = 0
            data = b"{" + b"\n,".join(members) + b"\n}\n"
        else:
            if not stripped.endswith(b"}"):
                raise NotAnObjectFile(f"{path} does not end with a JSON object")
            position = start + len(stripped) - 1
            # ``{`` right before the closing brace: the object is empty (a member whose value
            # is ``{}`` puts a ``}`` there)
            empty = stripped[:-1].rstrip().endswith(b"{")
            body = b"\n,".join(members) + b"\n}\n"
            data = body if empty else b"," + body
        try:
            view = memoryview(data)
            while view:
                written = os.pwrite(fd, view, position)
                view = view[written:]
                position += written
            if position < size:
                os.ftruncate(fd, position)
        except BaseException:
            self._release(path)
            raise
        self._waiting.setdefault(path, []).append(token)

    def _sync(self, path: str) -> None:
        tokens = self._waiting.pop(path, None)
        if tokens is None:
            return
        self._settled.append((tokens, self._fsync(path)))

    def _fsync(self, path: str) -> Failure | None:
        try:
            os.fsync(self._fds[path])
        except OSError:
            self._repaired.discard(path)   # unknown state on disk: repair before reuse
            return Failure()
        return None

    def _release(self, path: str) -> None:
        """Sync ``path``'s waiting appends, then close its descriptor."""
        if path not in self._fds:
            return
        try:
            self._sync(path)
        finally:
            fd = self._fds.pop(path)
            self._objects.discard(path)
            with contextlib.suppress(OSError):
                os.close(fd)

    def settle(self) -> list[tuple[list[Any], Failure | None]]:
        """Fsync every descriptor with waiting appends; ``(tokens, failure or None)`` of
        everything synced since the last call (including syncs done by evictions)."""
        paths = list(self._waiting)
        if self._parallel and len(paths) >= PARALLEL_SYNC_FILES:
            if self._syncers is None:
                self._syncers = ThreadPoolExecutor(SYNC_THREADS,
                                                   thread_name_prefix="openclaw-fsync")
            # every descriptor stays open (no eviction happens during this map)
            outcomes = list(self._syncers.map(self._fsync, paths))
            for path, failure in zip(paths, outcomes, strict=True):
                self._settled.append((self._waiting.pop(path), failure))
        else:
            for path in paths:
                self._sync(path)
        settled, self._settled = self._settled, []
        return settled

    def close(self, path: str | None = None) -> None:
        if path is None:
            for open_path in list(self._fds):
                self._release(open_path)
            if self._syncers is not None:
                self._syncers.shutdown(wait=False)
                self._syncers = None
            return
        self._release(path)
        self._repaired.discard(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class WriterStopped(RuntimeError):
    """An operation submitted after :meth:`DurableWriter.stop` (the gateway is stopping)."""


class InlineWriter:
    """Synchronous writer (same semantics, no thread): for tests and tools."""

    def __init__(self) -> None:
        self._files = _Files()

    def append(self, path: str, data: bytes) -> Deferred[None]:
        return self._write_settled(lambda: self._files.append(path, data, None))

    def extend_object(self, path: str, members: Sequence[bytes]) -> Deferred[None]:
        return self._write_settled(lambda: self._files.extend_object(path, members, None))

    def _write_settled(self, write: Callable[[], object]) -> Deferred[None]:
        """``write``, then the fsyncs it left pending, as the writer thread's batch does."""
        try:
            write()
        except Exception:
            return fail(Failure())
        for _, failure in self._files.settle():
            if failure is not None:
                return fail(failure)
        return succeed(None)

    def replace(self, path: str, data: bytes) -> Deferred[None]:
        try:
            self._files.close(path)
            atomic_write_bytes(path, data)
        except Exception:
            return fail(Failure())
        return succeed(None)

    def call(self, func: Callable[..., T], *args: Any) -> Deferred[T]:
        try:
            return succeed(func(*args))
        except Exception:
            return fail(Failure())

    def rewrite(self, path: str, func: Callable[[str], T]) -> Deferred[T]:
        try:
            self._files.close(path)
            return succeed(func(path))
        except Exception:
            return fail(Failure())

    def forget(self, path: str) -> Deferred[None]:
        self._files.close(path)
        return succeed(None)

    def stop(self) -> Deferred[None]:
        self._files.close()
        return succeed(None)


class DurableWriter:
    """The writer thread (started on first use, stopped by :meth:`stop`)."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._files = _Files(parallel=True)
        self._stopped = False

    def _submit(self, op: tuple[Any, ...]) -> Deferred[Any]:
        if self._stopped:
            return fail(WriterStopped("durable writer stopped"))
        deferred: Deferred[Any] = Deferred()
        self._queue.put((deferred, *op))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="openclaw-durable-writer",
                                            daemon=True)
            self._thread.start()
        return deferred

    def append(self, path: str, data: bytes) -> Deferred[None]:
        return self._submit(("append", path, data))

    def extend_object(self, path: str, members: Sequence[bytes]) -> Deferred[None]:
        return self._submit(("object", path, members))

    def replace(self, path: str, data: bytes) -> Deferred[None]:
        return self._submit(("replace", path, data))

    def call(self, func: Callable[..., T], *args: Any) -> Deferred[T]:
        return self._submit(("call", func, args))

    def rewrite(self, path: str, func: Callable[[str], T]) -> Deferred[T]:
        return self._submit(("rewrite", path, func))

    def forget(self, path: str) -> Deferred[None]:
        return self._submit(("forget", path))

    def stop(self) -> Deferred[None]:
        if self._thread is None or self._stopped:
            self._stopped = True
            return succeed(None)
        done = self._submit(("stop",))
        self._stopped = True
        return done

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            results: list[tuple[Deferred[Any], bool, Any]] = []
            stop = False
            try:
                stop = self._execute(batch, results)
            except BaseException:
                # never strand a caller: whatever this batch did not settle fails
                failure = Failure()
                answered = {id(entry[0]) for entry in results}
                results.extend((deferred, False, failure) for deferred, *_ in batch
                               if id(deferred) not in answered)
            self._reactor.callFromThread(_deliver, results)
            if stop:
                return

    def _execute(self, batch: list[Any], results: list[tuple[Deferred[Any], bool, Any]]
                 ) -> bool:
        """Run one batch; appends (and object extensions) are fsynced (once per file) before
        anything else runs and at the end. Returns True when the batch stopped the writer."""
        stop = False
        for deferred, kind, *args in batch:
            try:
                if kind == "append":
                    path, data = args
                    self._files.append(path, data, len(results))
                    results.append((deferred, True, None))
                    continue
                if kind == "object":
                    path, members = args
                    self._files.extend_object(path, members, len(results))
                    results.append((deferred, True, None))
                    continue
                # everything else sees appends already flushed
                self._settle(results)
                if kind == "replace":
                    path, data = args
                    self._files.close(path)
                    atomic_write_bytes(path, data)
                    results.append((deferred, True, None))
                elif kind == "call":
                    func, call_args = args
                    results.append((deferred, True, func(*call_args)))
                elif kind == "rewrite":
                    path, func = args
                    self._files.close(path)
                    results.append((deferred, True, func(path)))
                elif kind == "forget":
                    self._files.close(args[0])
                    results.append((deferred, True, None))
                elif kind == "stop":
                    self._files.close()
                    results.append((deferred, True, None))
                    stop = True
            except BaseException:
                results.append((deferred, False, Failure()))
        self._settle(results)
        return stop

    def _settle(self, results: list[tuple[Deferred[Any], bool, Any]]) -> None:
        for indexes, failure in self._files.settle():
            if failure is None:
                continue
            for index in indexes:
                results[index] = (results[index][0], False, failure)


def _deliver(results: list[tuple[Deferred[Any], bool, Any]]) -> None:
    for deferred, ok, value in results:
        if deferred.called:
            continue    # the caller cancelled it: the operation ran anyway, nobody waits
        if ok:
            deferred.callback(value)
        else:
            deferred.errback(value)
