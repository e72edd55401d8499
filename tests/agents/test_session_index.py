"""``sessions.json`` as an object that grows at its end: every write leaves one valid JSON
object (the last member of a key wins), a new session writes only its own member whatever the
number stored, the file is compacted when the added members outgrow it, and a file torn by a
crash of the machine is read member by member."""



from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.agents import store as store_mod
from openclaw.agents.durable import InlineWriter, NotAnObjectFile, _Files
from openclaw.agents.store import AgentSessions, encode_member


def _read(path: str) -> Any:
    with open(path, "rb") as handle:
        return json.loads(handle.read())


class ExtendObjectTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="oc-index-")
        self.path = os.path.join(self.dir, "sessions.json")
        self.files = _Files()
        self.addCleanup(self.files.close)

    def extend(self, *members: bytes) -> None:
        self.files.extend_object(self.path, members, None)
        for _, failure in self.files.settle():
            self.assertIsNone(failure)

    def test_grows_a_valid_object_and_the_last_member_wins(self) -> None:
        self.extend(b'"a":{"n":1}')
        self.assertEqual(_read(self.path), {"a": {"n": 1}})
        self.extend(b'"b":{"n":2}', b'"a":{"n":3}')
        self.assertEqual(_read(self.path), {"a": {"n": 3}, "b": {"n": 2}})
        with open(self.path, "rb") as handle:
            self.assertEqual(handle.read(),
                             b'{"a":{"n":1}\n,"b":{"n":2}\n,"a":{"n":3}\n}\n')

    def test_extends_files_written_by_others(self) -> None:
        for existing, expected in (
                (b"{}", {"k": {}}),
                (b"{}\n", {"k": {}}),
                (json.dumps({"x": {"y": {}}}, indent=2).encode() + b"\n",
                 {"x": {"y": {}}, "k": {}}),
                (b'{"x":{}}', {"x": {}, "k": {}}),
                (b"", {"k": {}})):
            with open(self.path, "wb") as handle:
                handle.write(existing)
            self.extend(b'"k":{}')
            self.assertEqual(_read(self.path), expected, existing)
            self.files.close(self.path)

    def test_refuses_what_is_not_an_object(self) -> None:
        with open(self.path, "wb") as handle:
            handle.write(b'{"a":1')
        self.assertRaises(NotAnObjectFile, self.files.extend_object, self.path, [b'"b":1'],
                          None)


class SessionIndexTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="oc-index-")
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.writer = InlineWriter()
        self.addCleanup(self.writer.stop)

    def sessions(self) -> AgentSessions:
        sessions = AgentSessions("main", self.dir, self.writer, self.clock)
        self.successResultOf(sessions.load())
        return sessions

    def ensure(self, sessions: AgentSessions, key: str) -> dict[str, Any]:
        entry, _ = self.successResultOf(Deferred.fromCoroutine(sessions.ensure(key, cwd="/w")))
        return entry

    def index(self) -> Any:
        return _read(os.path.join(self.dir, "sessions.json"))

    def test_a_new_session_writes_only_its_member(self) -> None:
        sessions = self.sessions()
        for index in range(50):
            self.ensure(sessions, f"agent:main:s{index}")
        path = sessions.index_path
        size = os.path.getsize(path)
        entry = self.ensure(sessions, "agent:main:new")
        self.assertEqual(os.path.getsize(path) - size,
                         len(encode_member("agent:main:new", entry)) + 2)
        self.assertEqual(self.index()["agent:main:new"]["sessionId"], entry["sessionId"])
        self.assertEqual(len(self.index()), 51)

    def test_touch_patch_delete_and_reload(self) -> None:
        sessions = self.sessions()
        self.ensure(sessions, "agent:main:a")
        self.ensure(sessions, "agent:main:b")
        sessions.touch("agent:main:a", inputTokens=7)
        self.assertNotIn("inputTokens", self.index()["agent:main:a"])    # lazily
        self.clock.advance(store_mod.INDEX_FLUSH_DELAY_S)
        self.assertEqual(self.index()["agent:main:a"]["inputTokens"], 7)
        self.successResultOf(Deferred.fromCoroutine(
            sessions.patch("agent:main:b", {"label": "bee"})))
        self.assertEqual(self.index()["agent:main:b"]["label"], "bee")
        self.successResultOf(Deferred.fromCoroutine(sessions.delete("agent:main:a")))
        self.assertEqual(sorted(self.index()), ["agent:main:b"])
        fresh = self.sessions()
        self.assertEqual(fresh.entries, sessions.entries)

    def test_compacted_when_the_added_members_outgrow_the_file(self) -> None:
        self.patch(store_mod, "INDEX_COMPACT_MIN_BYTES", 2000)
        sessions = self.sessions()
        self.ensure(sessions, "agent:main:a")
        path = sessions.index_path
        for count in range(100):
            sessions.touch("agent:main:a", inputTokens=count)
            self.successResultOf(sessions.flush_index())
        self.assertLess(os.path.getsize(path), 2000 + 1000)
        self.assertEqual(self.index()["agent:main:a"]["inputTokens"], 99)
        with open(path, "rb") as handle:
            self.assertLess(handle.read().count(b'"agent:main:a"'), 20)

    def test_a_torn_last_member_is_dropped_and_the_file_compacted(self) -> None:
        sessions = self.sessions()
        first = self.ensure(sessions, "agent:main:a")
        self.ensure(sessions, "agent:main:b")
        path = sessions.index_path
        with open(path, "rb") as handle:
            data = handle.read()
        # a crash of the machine in the middle of the last write
        with open(path, "wb") as handle:
            handle.write(data[:-30])
        fresh = self.sessions()
        self.assertEqual(sorted(fresh.entries), ["agent:main:a"])
        self.assertEqual(fresh.entries["agent:main:a"]["sessionId"], first["sessionId"])
        self.assertEqual(sorted(self.index()), ["agent:main:a"])       # rewritten whole
        self.ensure(fresh, "agent:main:c")
        self.assertEqual(sorted(self.index()), ["agent:main:a", "agent:main:c"])

    def test_an_unreadable_file_is_kept_aside(self) -> None:
        path = os.path.join(self.dir, "sessions.json")
        with open(path, "wb") as handle:
            handle.write(b"not json at all")
        sessions = self.sessions()
        self.assertEqual(sessions.entries, {})
        self.assertTrue(any(name.startswith("sessions.json.corrupt.")
                            for name in os.listdir(self.dir)))
        self.flushLoggedErrors()

    def test_a_failed_header_write_undoes_the_session(self) -> None:
        sessions = self.sessions()
        original = self.writer.append

        def append(path: str, data: bytes) -> Deferred[None]:
            if path.endswith(".jsonl"):
                return fail(OSError(28, "No space left on device"))
            return original(path, data)

        self.patch(self.writer, "append", append)
        _, created = sessions.open_session("agent:main:x", cwd="/w")
        assert created is not None
        self.failureResultOf(created, OSError)
        self.assertNotIn("agent:main:x", sessions.entries)
        self.successResultOf(sessions.flush_index())
        self.assertNotIn("agent:main:x", self.index())
