"""The config watcher: polling with a Clock, inotify with the real reactor."""

from __future__ import annotations

import os
import shutil
import tempfile

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock, deferLater
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
    def setUp(self) -> None:
        if not inotify_available(reactor):
            raise self.skipTest("inotify is not available here")
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "openclaw.json")
        write_in_place(self.path, "{}")
        self.events: list[str] = []
        self.watcher = ConfigWatcher([self.path], self.events.append, reactor=reactor)
        self.watcher.startService()
        self.addCleanup(self.watcher.stopService)
        self.assertEqual(self.watcher.mode, "inotify")

    def pause(self) -> Deferred[None]:
        return deferLater(reactor, 0.05, lambda: None)

    async def test_rename_replace_keeps_being_seen(self) -> None:
        for n in range(3):
            write_json_atomic(self.path, {"n": n})
            await self.pause()
            self.assertIn(self.path, self.events)
            self.events.clear()

    async def test_in_place_write_and_delete(self) -> None:
        write_in_place(self.path, '{"a": 1}')
        await self.pause()
        self.assertIn(self.path, self.events)
        self.events.clear()
        os.unlink(self.path)
        await self.pause()
        self.assertIn(self.path, self.events)

    async def test_other_files_in_the_directory_are_ignored(self) -> None:
        write_in_place(os.path.join(self.dir, "notes.txt"), "hello")
        await self.pause()
        self.assertEqual(self.events, [])

    async def test_included_files_are_watched(self) -> None:
        other = os.path.join(self.dir, "agents.json5")
        write_in_place(other, "{}")
        self.watcher.set_paths([self.path, other])
        write_in_place(other, '{"x": 1}')
        await self.pause()
        self.assertIn(other, self.events)
