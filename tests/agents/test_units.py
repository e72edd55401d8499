"""Reactor-free units: session keys, tool policy, fs tools, apply_patch, the store's torn-record
handling, workspace bootstrap and prompt, transcript -> model context."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.agents import tools
from openclaw.agents.durable import InlineWriter, repair_tail
from openclaw.agents.runtime import context_messages, dangling_tool_calls
from openclaw.agents.session_keys import (
    SessionKeyError,
    SessionSettings,
    dm_session_key,
    group_session_key,
    resolve_request_key,
    session_kind,
)
from openclaw.agents.store import AgentSessions, read_jsonl
from openclaw.agents.tools import fs
from openclaw.agents.workspace import (
    PromptInputs,
    build_system_prompt,
    ensure_workspace,
    load_context_files,
)
from openclaw.config.schema import ExecToolConfig, ToolsConfig


class SessionKeyTests(SynchronousTestCase):
    def test_request_keys(self) -> None:
        s = SessionSettings()
        self.assertEqual(resolve_request_key(None, "main", s), "agent:main:main")
        self.assertEqual(resolve_request_key("main", "ops", s), "agent:ops:main")
        self.assertEqual(resolve_request_key("Work", "main", s), "agent:main:work")
        self.assertEqual(resolve_request_key("AGENT:Ops:Main", "main", s), "agent:ops:main")
        self.assertEqual(resolve_request_key("global", "main", s), "global")
        with self.assertRaises(SessionKeyError):
            resolve_request_key("agent:x", "main", s)
        self.assertEqual(resolve_request_key("", "main", SessionSettings(scope="global")),
                         "global")

    def test_dm_and_group_keys(self) -> None:
        self.assertEqual(dm_session_key("main", SessionSettings(), peer="U1"), "agent:main:main")
        self.assertEqual(dm_session_key("main", SessionSettings(dm_scope="per-peer"), peer="U1"),
                         "agent:main:direct:u1")
        self.assertEqual(dm_session_key("main", SessionSettings(dm_scope="per-channel-peer"),
                                        peer="7", channel="Telegram"),
                         "agent:main:telegram:direct:7")
        self.assertEqual(dm_session_key("main",
                                        SessionSettings(dm_scope="per-account-channel-peer"),
                                        peer="7", channel="irc", account_id="work"),
                         "agent:main:irc:work:direct:7")
        key = group_session_key("main", channel="discord", group_id="42", thread_id="9")
        self.assertEqual(key, "agent:main:discord:group:42:thread:9")
        self.assertEqual(session_kind(key), "group")
        self.assertEqual(session_kind("agent:main:main"), "direct")


def exec_security(level: str) -> ToolsConfig:
    return ToolsConfig(exec=ExecToolConfig(security=level))


class PolicyTests(SynchronousTestCase):
    def test_layers_narrow(self) -> None:
        policy = tools.resolve_policy(ToolsConfig(profile="messaging"), None, is_main=True)
        self.assertIsNone(policy.check("sessions_send"))
        self.assertIn("allow list", policy.check("write") or "")
        policy = tools.resolve_policy(ToolsConfig(allow=("group:fs", "exec"), deny=("WRITE",)),
                                      ToolsConfig(deny=("ed*",)), is_main=True)
        self.assertIsNone(policy.check("read"))
        self.assertIsNone(policy.check("bash"))        # alias of exec
        self.assertIn("deny", policy.check("write") or "")
        self.assertIn("deny", policy.check("edit") or "")
        self.assertIn("allow", policy.check("sessions_list") or "")
        names = [t.name for t in tools.available_tools(policy)]
        self.assertEqual(names, ["read", "apply_patch", "exec"])

    def test_exec_off_for_non_main_unless_full(self) -> None:
        non_main = tools.resolve_policy(ToolsConfig(), None, is_main=False)
        self.assertIn("non-main", non_main.check("exec") or "")
        self.assertIsNone(tools.resolve_policy(exec_security("full"), None,
                                               is_main=False).check("process"))
        self.assertIn("deny", tools.resolve_policy(exec_security("deny"), None,
                                                   is_main=True).check("exec") or "")
        self.assertIsNone(tools.resolve_policy(ToolsConfig(), None, is_main=True).check("exec"))
        run = tools.resolve_policy(ToolsConfig(), None, is_main=True, run_allow=["read"])
        self.assertIn("toolsAllow", run.check("write") or "")


class FsToolTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ws = tempfile.mkdtemp(prefix="oc-ws-")

    def test_confinement(self) -> None:
        self.assertEqual(tools.confine(self.ws, "a/b.txt"),
                         os.path.join(os.path.realpath(self.ws), "a", "b.txt"))
        for bad in ("../x", "/etc/passwd", "a/../../x"):
            with self.assertRaises(tools.ToolFailure):
                tools.confine(self.ws, bad)
        os.symlink("/etc", os.path.join(self.ws, "link"))
        with self.assertRaises(tools.ToolFailure):
            tools.confine(self.ws, "link/passwd")

    def test_write_read_edit(self) -> None:
        out = fs.write_file(self.ws, {"path": "d/f.txt", "content": "one\ntwo\nthree\n"})
        self.assertEqual(out.text, "Successfully wrote 14 bytes to d/f.txt")
        self.assertEqual(fs.read_file(self.ws, {"path": "d/f.txt", "offset": 2, "limit": 1}).text,
                         "two\n\n[Showing lines 2-2 of 4. Use offset=3 to continue.]")
        edited = fs.edit_file(self.ws, {"path": "d/f.txt", "edits": [
            {"oldText": "two", "newText": "2"}, {"oldText": "three", "newText": "3"}]})
        self.assertEqual(edited.text, "Successfully replaced 2 block(s) in d/f.txt.")
        with open(os.path.join(self.ws, "d", "f.txt")) as handle:
            self.assertEqual(handle.read(), "one\n2\n3\n")
        with self.assertRaises(tools.ToolFailure):
            fs.edit_file(self.ws, {"path": "d/f.txt", "edits": [{"oldText": "zzz",
                                                                 "newText": ""}]})

    def test_apply_patch(self) -> None:
        fs.write_file(self.ws, {"path": "m.py", "content": "def f():\n    return 1\n"})
        patch = "\n".join([
            "*** Begin Patch",
            "*** Add File: new/hello.txt",
            "+hello",
            "+world",
            "*** Update File: m.py",
            "@@ def f():",
            "-    return 1",
            "+    return 2",
            "*** End Patch"])
        out = fs.apply_patch(self.ws, {"input": patch})
        self.assertEqual(out.text, "Success. Updated the following files:\nA new/hello.txt\n"
                                   "M m.py")
        with open(os.path.join(self.ws, "m.py")) as handle:
            self.assertEqual(handle.read(), "def f():\n    return 2\n")
        with open(os.path.join(self.ws, "new", "hello.txt")) as handle:
            self.assertEqual(handle.read(), "hello\nworld\n")
        delete = "*** Begin Patch\n*** Delete File: m.py\n*** End Patch"
        self.assertIn("D m.py", fs.apply_patch(self.ws, {"input": delete}).text)
        with self.assertRaises(tools.ToolFailure) as bad:
            fs.apply_patch(self.ws, {"input": "nope"})
        self.assertIn("*** Begin Patch", str(bad.exception))
        escape = "*** Begin Patch\n*** Add File: ../evil\n+x\n*** End Patch"
        with self.assertRaises(tools.ToolFailure):
            fs.apply_patch(self.ws, {"input": escape})

    def test_writes_are_atomic_and_keep_the_file_mode(self) -> None:
        script = os.path.join(self.ws, "run.sh")
        fs.write_file(self.ws, {"path": "run.sh", "content": "#!/bin/sh\necho 1\n"})
        os.chmod(script, 0o750)
        fs.write_file(self.ws, {"path": "run.sh", "content": "#!/bin/sh\necho 2\n"})
        self.assertEqual(os.stat(script).st_mode & 0o7777, 0o750)
        fs.edit_file(self.ws, {"path": "run.sh", "edits": [{"oldText": "2", "newText": "3"}]})
        self.assertEqual(os.stat(script).st_mode & 0o7777, 0o750)
        patch = ("*** Begin Patch\n*** Update File: run.sh\n*** Move to: bin/run.sh\n"
                 "-echo 3\n+echo 4\n*** End Patch")
        fs.apply_patch(self.ws, {"input": patch})
        moved = os.path.join(self.ws, "bin", "run.sh")
        self.assertEqual(os.stat(moved).st_mode & 0o7777, 0o750)
        with open(moved) as handle:
            self.assertEqual(handle.read(), "#!/bin/sh\necho 4\n")
        # no temp file is left behind, and none uses the old fixed name
        self.assertEqual(sorted(os.listdir(self.ws)), ["bin"])
        self.assertEqual(os.listdir(os.path.join(self.ws, "bin")), ["run.sh"])


class StoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="oc-store-")
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.writer = InlineWriter()

    def sessions(self) -> AgentSessions:
        return AgentSessions("main", self.dir, self.writer, self.clock)

    def test_torn_tail_is_ignored_then_repaired(self) -> None:
        sessions = self.sessions()
        from twisted.internet.defer import Deferred

        entry, created = self.successResultOf(Deferred.fromCoroutine(
            sessions.ensure("agent:main:main", cwd="/ws")))
        self.assertTrue(created)
        self.successResultOf(Deferred.fromCoroutine(sessions.append("agent:main:main", [
            {"type": "message", "message": {"role": "user", "content": "a"}}])))
        path = sessions.transcript_path(entry)
        with open(path, "ab") as handle:
            handle.write(b'{"type":"message","id":"torn","mess')   # a crash mid-write
        self.assertEqual([r["type"] for r in read_jsonl(path)], ["session", "message"])
        # a new process (fresh writer) repairs the tail before appending
        self.writer = InlineWriter()
        fresh = self.sessions()
        self.successResultOf(fresh.load())
        self.successResultOf(Deferred.fromCoroutine(fresh.append("agent:main:main", [
            {"type": "message", "message": {"role": "user", "content": "b"}}])))
        with open(path, "rb") as handle:
            lines = handle.read().split(b"\n")
        self.assertEqual(lines[-1], b"")
        parsed = [json.loads(line) for line in lines[:-1]]
        self.assertEqual([r.get("message", {}).get("content") for r in parsed[1:]], ["a", "b"])
        self.assertEqual(parsed[2]["parentId"], parsed[1]["id"])
        with open(os.path.join(self.dir, "sessions.json")) as handle:
            self.assertEqual(json.load(handle)["agent:main:main"]["sessionId"],
                             entry["sessionId"])

    def test_repair_tail(self) -> None:
        path = os.path.join(self.dir, "t.jsonl")
        with open(path, "wb") as handle:
            handle.write(b'{"a":1}\n{"b":')
        self.assertEqual(repair_tail(path), 5)
        with open(path, "rb") as handle:
            self.assertEqual(handle.read(), b'{"a":1}\n')


class WorkspaceTests(SynchronousTestCase):
    def test_bootstrap_and_prompt(self) -> None:
        ws = tempfile.mkdtemp(prefix="oc-boot-")
        created = ensure_workspace(ws)
        self.assertEqual(sorted(created), ["AGENTS.md", "BOOTSTRAP.md", "IDENTITY.md",
                                           "SOUL.md", "USER.md"])
        with open(os.path.join(ws, "SOUL.md")) as handle:
            self.assertTrue(handle.read().startswith("# SOUL.md - Who You Are"))
        self.assertEqual(ensure_workspace(ws), [])      # existing files are never rewritten
        os.remove(os.path.join(ws, "IDENTITY.md"))
        self.assertEqual(ensure_workspace(ws), ["IDENTITY.md"])  # no new BOOTSTRAP.md
        os.remove(os.path.join(ws, "SOUL.md"))
        with open(os.path.join(ws, "SOUL.md"), "w") as handle:
            handle.write("x" * 500)
        os.remove(os.path.join(ws, "AGENTS.md"))
        files = load_context_files(ws, max_chars=200)
        names = [f.name for f in files]
        self.assertEqual(names, ["AGENTS.md", "SOUL.md", "IDENTITY.md", "USER.md",
                                 "BOOTSTRAP.md"])
        self.assertEqual(files[0].content, f"[MISSING] Expected at: {ws}/AGENTS.md")
        self.assertTrue(files[1].truncated)
        self.assertIn("[...truncated, read SOUL.md for full content...]", files[1].content)
        self.assertLessEqual(len(files[1].content), 200)
        prompt = build_system_prompt(PromptInputs(
            agent_id="main", workspace=ws, model_ref="p/m", tools=[("read", "Read")],
            context_files=files))
        self.assertIn("# Project Context", prompt)
        self.assertIn(f"## {ws}/SOUL.md", prompt)
        self.assertIn("- read: Read", prompt)
        self.assertIn("model=p/m", prompt)
        self.assertEqual(ensure_workspace(tempfile.mkdtemp(), skip_bootstrap=True), [])


class ContextTests(SynchronousTestCase):
    def test_compaction_and_interrupted_tool_call(self) -> None:
        records = [
            {"type": "session"},
            {"type": "message", "id": "1", "message": {"role": "user", "content": "old"}},
            {"type": "message", "id": "2", "message": {"role": "user", "content": "kept"}},
            {"type": "compaction", "id": "3", "summary": "S", "firstKeptEntryId": "2"},
            {"type": "message", "id": "4", "message": {
                "role": "assistant", "stopReason": "toolUse",
                "content": [{"type": "toolCall", "id": "c", "name": "read", "arguments": {}}]}},
            {"type": "message", "id": "5", "message": {
                "role": "assistant", "stopReason": "error", "content": []}},
        ]
        messages = context_messages(records)
        self.assertEqual(messages[0]["content"], "[Conversation summary]\nS")
        self.assertEqual(messages[1]["content"], "kept")
        self.assertEqual(messages[2]["role"], "assistant")
        self.assertEqual(messages[3]["role"], "toolResult")
        self.assertTrue(messages[3]["isError"])
        self.assertEqual(len(messages), 4)

    def test_dangling_calls_of_the_last_turn(self) -> None:
        def call(call_id: str) -> dict[str, Any]:
            return {"type": "toolCall", "id": call_id, "name": "t", "arguments": {}}

        def result(call_id: str) -> dict[str, Any]:
            return {"type": "message", "message": {"role": "toolResult", "toolCallId": call_id,
                                                   "content": [], "isError": False}}

        records = [
            {"type": "message", "message": {"role": "user", "content": "q"}},
            {"type": "message", "message": {"role": "assistant", "stopReason": "toolUse",
                                            "content": [call("a"), call("b"), call("c")]}},
            result("a"),
        ]
        # closed (the default): the missing results follow the ones that are there
        closed = context_messages(records)
        self.assertEqual([m.get("toolCallId") for m in closed[2:]], ["a", "b", "c"])
        self.assertTrue(closed[3]["isError"])
        self.assertEqual(dangling_tool_calls(closed), [])
        # open: the last turn's unanswered calls stay open for the caller's results
        opened = context_messages(records, close_tail=False)
        self.assertEqual(len(opened), 3)
        self.assertEqual([c["id"] for c in dangling_tool_calls(opened)], ["b", "c"])
        # once anything else follows, they are closed either way
        later = [*records, {"type": "message", "message": {"role": "user", "content": "n"}}]
        self.assertEqual(context_messages(later, close_tail=False), context_messages(later))
        self.assertEqual(dangling_tool_calls(context_messages(later, close_tail=False)), [])
