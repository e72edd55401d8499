"""``openclaw cron`` and ``openclaw approvals`` as real processes against a running gateway
(scripted upstream model): jobs added, run, listed, edited and removed; the approvals policy
read and edited, a pending exec approval listed and resolved from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.agents.support import TOKEN, AgentStack
from tests.support import REPO_ROOT
from tests.upstream import openai_text, openai_tool_call


class Cli:
    """``python -m openclaw`` pointed at the stack (its own config file: the gateway's stays)."""

    def __init__(self, stack: AgentStack) -> None:
        home = tempfile.mkdtemp(prefix="oc-cli-")
        config = os.path.join(home, "openclaw.json")
        with open(config, "w") as f:
            json.dump({"gateway": {"mode": "local", "auth": {"token": TOKEN}}}, f)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}
        self.env.update(HOME=home, PYTHONPATH=REPO_ROOT, NO_COLOR="1",
                        OPENCLAW_STATE_DIR=os.path.join(home, "state"),
                        OPENCLAW_CONFIG_PATH=config,
                        OPENCLAW_GATEWAY_PORT=str(stack.port_number))

    def run(self, *argv: str, stdin: str | None = None
            ) -> Deferred[subprocess.CompletedProcess[str]]:
        return deferToThread(subprocess.run, [sys.executable, "-m", "openclaw", *argv],
                             env=self.env, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=60, input=stdin if stdin is not None else "")

    async def json(self, *argv: str, stdin: str | None = None) -> Any:
        done = await self.run(*argv, stdin=stdin)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return json.loads(done.stdout)


class CronCliTests(TestCase):
    timeout = 120

    async def test_add_run_list_edit_remove(self) -> None:
        stack = AgentStack()
        await stack.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        cli = Cli(stack)
        job = await cli.json("cron", "add", "--name", "probe", "--every", "1h",
                             "--message", "hello from the cli", "--no-deliver")
        self.assertEqual((job["name"], job["schedule"]["everyMs"], job["delivery"]),
                         ("probe", 3_600_000, {"mode": "none"}))
        status = await cli.json("cron", "status")
        self.assertEqual(status["jobs"], 1)
        listed = await cli.json("cron", "list", "--json")
        self.assertEqual([j["id"] for j in listed["jobs"]], [job["id"]])
        self.assertEqual(listed["jobs"][0]["status"], "idle")
        stack.upstream.script(openai_text("cli run ok"))
        ran = await cli.json("cron", "run", job["id"], "--wait", "--poll-interval", "100ms")
        self.assertEqual((ran["status"], ran["completionStatus"], ran["summary"]),
                         ("ok", "succeeded", "cli run ok"))
        runs = await cli.json("cron", "runs", job["id"], "--limit", "5")
        self.assertEqual([e["runId"] for e in runs["entries"]], [ran["runId"]])
        self.assertEqual(stack.upstream.requests[0].json["messages"][-1]["content"],
                         "hello from the cli")
        edited = await cli.json("cron", "edit", job["id"], "--disable", "--description", "off")
        self.assertEqual((edited["enabled"], edited["description"]), (False, "off"))
        shown = await cli.run("cron", "show", "probe")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("status:   disabled", shown.stdout)
        self.assertEqual((await cli.json("cron", "list", "--json"))["jobs"], [])
        cron_job = await cli.json("cron", "add", "0 7 * * *", "morning brief", "--tz", "UTC",
                                  "--no-deliver")
        self.assertEqual(cron_job["schedule"], {"kind": "cron", "expr": "0 7 * * *",
                                                "tz": "UTC"})
        removed = await cli.json("cron", "rm", job["id"])
        self.assertEqual(removed, {"ok": True, "removed": True})
        again = await cli.run("cron", "rm", job["id"])
        self.assertEqual(again.returncode, 1)
        self.assertIn(f"Automation not found: {job['id']}", again.stderr)
        bad = await cli.run("cron", "add", "--name", "x", "--cron", "often", "--message", "m")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("invalid cron.add params: invalid cron expression: often", bad.stderr)


class ApprovalsCliTests(TestCase):
    timeout = 120

    async def test_policy_pending_and_resolve(self) -> None:
        stack = AgentStack()
        await stack.start({"tools": {"exec": {"ask": "always"}}})
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        cli = Cli(stack)
        snapshot = await cli.json("approvals", "get", "--json")
        self.assertEqual(snapshot["resolvedDefaults"]["ask"], "off")
        added = await cli.json("approvals", "allowlist", "add", "--agent", "main",
                               "/usr/bin/uname", "--json")
        self.assertEqual(added["file"]["agents"]["main"]["allowlist"],
                         [{"pattern": "/usr/bin/uname"}])
        same = await cli.json("approvals", "allowlist", "add", "--agent", "main",
                              "/usr/bin/uname", "--json")
        self.assertEqual(same["hash"], added["hash"])           # nothing written
        replaced = await cli.json("approvals", "set", "--stdin", "--json",
                                  stdin="{version: 1, defaults: {askFallback: 'deny'}}")
        self.assertEqual(replaced["file"]["defaults"], {"askFallback": "deny"})
        self.assertEqual(replaced["file"]["agents"], {})
        # a command waits for a reviewer; the CLI lists and approves it
        reviewer = await stack.client(caps=["approvals"])
        requested = reviewer.event("exec.approval.requested")
        stack.upstream.script(openai_tool_call("exec", {"command": "echo cli > cli.txt"}),
                              openai_text("done"))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "run",
                                    "idempotencyKey": "c-1"})
        approval = (await requested)["payload"]
        pending = await cli.json("approvals", "pending", "--json")
        self.assertEqual([a["id"] for a in pending["approvals"]], [approval["id"]])
        done = await cli.run("approvals", "resolve", approval["id"], "allow-once")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(f"Resolved {approval['id']}: allow-once", done.stdout)
        await ws.chat_terminal("c-1", timeout=30)
        self.assertTrue(await deferToThread(os.path.exists,
                                            os.path.join(stack.workspace, "cli.txt")))
        again = await cli.run("approvals", "resolve", approval["id"], "allow-once")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already resolved (same decision)", again.stdout)
        conflict = await cli.run("approvals", "resolve", approval["id"], "deny")
        self.assertEqual(conflict.returncode, 1)
        self.assertIn("approval already resolved", conflict.stderr)
