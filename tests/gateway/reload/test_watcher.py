"""The config watcher: polling with a Clock, inotify with the real reactor."""

from __future__ import annotations

import os
import shutil
import tempfile

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.gateway.reload.watcher import ConfigWatcher, inotify_available

from .support import write_in_place, write_json_atomic


class PollingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "openclaw.json")
        write_in_place(self.path, "{}")
        self.clock = Clock()
        self.events: list[str] = []
        self.watcher = ConfigWatcher([self.path], self.events.append, reactor=self.clock,
                                     use_inotify=False, poll_interval_s=1.0)
        self.watcher.startService()
        self.addCleanup(self.watcher.stopService)

    def test_unchanged_file_is_quiet(self) -> None:
        self.clock.advance(5)
        self.assertEqual(self.events, [])
        self.assertEqual(self.watcher.mode, "polling")

    def test_rename_replace_is_seen(self) -> None:
        write_json_atomic(self.path, {"a": 1})
        self.clock.advance(1)
        self.assertEqual(self.events, [self.path])

    def test_delete_and_recreate(self) -> None:
        os.unlink(self.path)
        self.clock.advance(1)
        write_in_place(self.path, '{"b": 2}')
        self.clock.advance(1)
        self.assertEqual(self.events, [self.path, self.path])

    def test_stop_stops_polling(self) -> None:
        self.watcher.stopService()
        write_json_atomic(self.path, {"a": 1})
        self.clock.advance(5)
        self.assertEqual(self.events, [])


class InotifyTests(TestCase):
    timeout = 20  # a change never reported fails here rather than at trial's 120 s

    def setUp(self) -> None:
        if not inotify_available(reactor):
            raise self.skipTest("inotify is not available here")
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "openclaw.json")
        write_in_place(self.path, "{}")
        self.events: list[str] = []
        self._waiters: list[tuple[str, Deferred[None]]] = []
        self.watcher = ConfigWatcher([self.path], self.changed, reactor=reactor)
        self.watcher.startService()
        self.addCleanup(self.watcher.stopService)
        self.assertEqual(self.watcher.mode, "inotify")

    def changed(self, path: str) -> None:
        self.events.append(path)
        ready = [waiter for wanted, waiter in self._waiters if wanted == path]
        self._waiters = [(wanted, w) for wanted, w in self._waiters if wanted != path]
        for waiter in ready:
            waiter.callback(None)

    def seen(self, path: str) -> Deferred[None]:
        """Fires when the watcher reports ``path`` (at once if it already did)."""
        waiter: Deferred[None] = Deferred()
        if path in self.events:
            waiter.callback(None)
        else:
            self._waiters.append((path, waiter))
        return waiter

    async def test_rename_replace_keeps_being_seen(self) -> None:
        for n in range(3):
            write_json_atomic(self.path, {"n": n})
            await self.seen(self.path)
            self.events.clear()

    async def test_in_place_write_and_delete(self) -> None:
        write_in_place(self.path, '{"a": 1}')
        await self.seen(self.path)
        self.events.clear()
        os.unlink(self.path)
        await self.seen(self.path)

    async def test_other_files_in_the_directory_are_ignored(self) -> None:
        write_in_place(os.path.join(self.dir, "notes.txt"), "hello")
        # inotify reports in order: once the config's own change is seen, a report of the
        # other file would already be there
        write_in_place(self.path, '{"a": 1}')
        await self.seen(self.path)
        self.assertEqual(set(self.events), {self.path})

    async def test_included_files_are_watched(self) -> None:
        other = os.path.join(self.dir, "agents.json5")
        write_in_place(other, "{}")
        self.watcher.set_paths([self.path, other])
        write_in_place(other, '{"x": 1}')
        await self.seen(other)
