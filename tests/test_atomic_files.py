"""The one atomic write: unique temp names, exact or plain modes, kept modes, cleanup."""

from __future__ import annotations

import os
import stat
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw import atomic_files
from openclaw.atomic_files import atomic_write_bytes


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


class AtomicWriteTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "file.txt")

    def test_replaces_content_with_mode_0600_by_default(self) -> None:
        atomic_write_bytes(self.path, b"one")
        atomic_write_bytes(self.path, b"two")
        with open(self.path, "rb") as handle:
            self.assertEqual(handle.read(), b"two")
        self.assertEqual(_mode(self.path), 0o600)
        self.assertEqual(os.listdir(self.directory), ["file.txt"])

    def test_each_write_has_its_own_temp_file(self) -> None:
        # Two writers of one path must never share a temp name (the last rename wins).
        sources: list[str] = []
        real_replace = os.replace

        def spy(source: Any, target: Any) -> None:
            sources.append(os.fspath(source))
            real_replace(source, target)

        self.patch(atomic_files.os, "replace", spy)
        atomic_write_bytes(self.path, b"a")
        atomic_write_bytes(self.path, b"b")
        self.assertEqual(len(set(sources)), 2)
        for source in sources:
            self.assertEqual(os.path.dirname(source), self.directory)
            self.assertNotEqual(source, f"{self.path}.openclaw-tmp")

    def test_failure_removes_the_temp_file(self) -> None:
        os.makedirs(os.path.join(self.path, "occupied"))  # a non-empty directory: rename fails
        self.assertRaises(OSError, atomic_write_bytes, self.path, b"data")
        self.assertEqual(os.listdir(self.directory), ["file.txt"])

    def test_plain_mode_follows_the_umask(self) -> None:
        atomic_write_bytes(self.path, b"x", mode=None)
        self.assertEqual(_mode(self.path), 0o666 & ~_umask())

    def test_keep_mode_keeps_the_replaced_files_mode(self) -> None:
        with open(self.path, "wb") as handle:
            handle.write(b"#!/bin/sh\n")
        os.chmod(self.path, 0o751)
        atomic_write_bytes(self.path, b"#!/bin/sh\necho\n", mode=None, keep_mode=True)
        self.assertEqual(_mode(self.path), 0o751)
        fresh = os.path.join(self.directory, "fresh.txt")
        atomic_write_bytes(fresh, b"x", mode=0o640, keep_mode=True)
        self.assertEqual(_mode(fresh), 0o640)

    def test_creates_missing_directories(self) -> None:
        nested = os.path.join(self.directory, "a", "b", "c.json")
        atomic_write_bytes(nested, b"{}")
        self.assertEqual(_mode(os.path.join(self.directory, "a", "b")), 0o700 & ~_umask())
        with open(nested, "rb") as handle:
            self.assertEqual(handle.read(), b"{}")
