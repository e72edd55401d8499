"""``openclaw agent``, ``sessions`` and ``models`` as real processes against a gateway
WebSocket stack on loopback (scripted OpenAI-compatible upstream)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.agents.model_fit import NO_CONTENT
from openclaw.cli.agent_cmd import request_params
from tests.agents.support import TOKEN, AgentStack
from tests.cli.helpers import run_cli
from tests.support import REPO_ROOT
from tests.upstream import error_reply, openai_text, stall


def write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class Cli:
    """``python -m openclaw`` pointed at the stack (its state dir, port and token)."""

    def __init__(self, stack: AgentStack, config: dict[str, Any] | None = None) -> None:
        home = tempfile.mkdtemp(prefix="oc-cli-")
        self.config_path = os.path.join(stack.state_dir, "openclaw.json")
        with open(self.config_path, "w") as f:
            json.dump(config or {"gateway": {"mode": "local", "auth": {"token": TOKEN}}}, f)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}
        self.env.update(HOME=home, PYTHONPATH=REPO_ROOT, NO_COLOR="1",
                        OPENCLAW_STATE_DIR=stack.state_dir,
                        OPENCLAW_CONFIG_PATH=self.config_path,
                        OPENCLAW_GATEWAY_PORT=str(stack.port_number))

    def run(self, *argv: str) -> Deferred[subprocess.CompletedProcess[str]]:
        return deferToThread(subprocess.run, [sys.executable, "-m", "openclaw", *argv],
                             env=self.env, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)


class AgentCommandTests(TestCase):
    timeout = 120

    async def make(self) -> tuple[AgentStack, Cli]:
        stack = AgentStack()
        await stack.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack, Cli(stack)

    async def test_streams_the_reply_and_exits_zero(self) -> None:
        stack, cli = await self.make()
        stack.upstream.script(openai_text(["The capital ", "is ", "Paris."], delay=0.02))
        done = await cli.run("agent", "-m", "What is the capital of France?")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "The capital is Paris.\n")
        sent = stack.upstream.requests[-1].json["messages"]
        self.assertEqual(sent[-1], {"role": "user", "content": "What is the capital of France?"})
        # --json: the final result object
        stack.upstream.script(openai_text("Paris."))
        done = await cli.run("agent", "--message", "again", "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        result = json.loads(done.stdout)
        self.assertEqual(set(result), {"runId", "status", "summary", "result"})
        self.assertEqual((result["status"], result["summary"]), ("ok", "completed"))
        self.assertEqual(result["result"]["payloads"], [{"text": "Paris.", "mediaUrl": None}])
        self.assertEqual(result["result"]["meta"]["agentMeta"]["model"], "m1")
        # --message-file, --session-key
        path = os.path.join(stack.state_dir, "msg.txt")
        write_text(path, "\ufeffFrom a file")
        stack.upstream.script(openai_text("ok"))
        done = await cli.run("agent", "--message-file", path, "--session-key",
                             "agent:main:filed")
        self.assertEqual((done.returncode, done.stdout), (0, "ok\n"), done.stderr)
        self.assertEqual(stack.upstream.requests[-1].json["messages"][-1]["content"],
                         "From a file")
        filed = stack.store.agent("main").get("agent:main:filed")
        self.assertIsNotNone(filed)
        # --session-id finds the stored session's key
        await stack.store.flush()
        assert filed is not None
        stack.upstream.script(openai_text("again"))
        done = await cli.run("agent", "-m", "by id", "--session-id", filed["sessionId"])
        self.assertEqual(done.returncode, 0, done.stderr)
        records = [r for r in stack.transcript("agent:main:filed") if r["type"] == "message"]
        self.assertEqual(records[-2]["message"]["content"], "by id")

    async def test_failed_runs_exit_one(self) -> None:
        stack, cli = await self.make()
        stack.upstream.script(openai_text([]))
        done = await cli.run("agent", "-m", "hello")
        self.assertEqual(done.returncode, 1)
        self.assertIn(f"Reason: {NO_CONTENT}", done.stderr)
        stack.upstream.script(*(error_reply(503, "overloaded") for _ in range(3)))
        done = await cli.run("agent", "-m", "hello", "--json")
        self.assertEqual(done.returncode, 1)
        failure = json.loads(done.stdout)
        self.assertEqual((failure["ok"], failure["origin"], failure["error"]["type"]),
                         (False, "gateway", "cli_error"))
        self.assertIn("HTTP 503", failure["error"]["message"])
        self.assertTrue(failure["runId"])
        # a run that times out
        stack.upstream.script(stall(["partial"]))
        done = await cli.run("agent", "-m", "slow", "--timeout", "1")
        self.assertEqual(done.returncode, 1)
        self.assertIn("timed out", done.stderr)

    async def test_delivery_and_usage_errors(self) -> None:
        stack, cli = await self.make()
        done = await cli.run("agent", "-m", "hi", "--deliver", "--channel", "telegram",
                             "--reply-to", "123")
        self.assertEqual(done.returncode, 1)
        self.assertIn("delivery unavailable: no channel is running to deliver agent replies "
                      "(channel telegram is not configured)", done.stderr)
        self.assertEqual(stack.upstream.requests, [])
        done = await cli.run("agent")
        self.assertEqual(done.returncode, 1)
        self.assertIn("Missing message. Use openclaw agent --message", done.stderr)
        done = await cli.run("agent", "-m", "x", "--message-file", "/nonexistent")
        self.assertIn("Use either --message or --message-file, not both.", done.stderr)
        done = await cli.run("agent", "-m", "x", "--timeout", "soon")
        self.assertIn("Invalid --timeout.", done.stderr)
        done = await cli.run("agent", "-m", "x", "--bogus")
        self.assertEqual(done.returncode, 1)
        self.assertIn('OpenClaw does not recognize option "--bogus".', done.stderr)

    async def test_sessions_list_delete_compact(self) -> None:
        stack, cli = await self.make()
        for key in ("agent:main:main", "agent:main:scratch"):
            stack.upstream.script(openai_text("hi"))
            done = await cli.run("agent", "-m", "hello", "--session-key", key)
            self.assertEqual(done.returncode, 0, done.stderr)
        await stack.store.flush()   # the lazily written counters (model, tokens)
        done = await cli.run("sessions", "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        listing = json.loads(done.stdout)
        self.assertEqual([row["key"] for row in listing["sessions"]],
                         ["agent:main:scratch", "agent:main:main"])
        self.assertEqual((listing["count"], listing["totalCount"], listing["limitApplied"],
                          listing["hasMore"], listing["activeMinutes"]), (2, 2, 100, False, None))
        row = listing["sessions"][0]
        self.assertEqual((row["agentId"], row["kind"], row["modelProvider"], row["model"]),
                         ("main", "direct", "scripted", "m1"))
        self.assertGreater(row["contextTokens"], 0)
        done = await cli.run("sessions", "--limit", "1", "--active", "60")
        self.assertIn("Sessions listed: 1 of 2 (limit 1)", done.stdout)
        self.assertIn("agent:main:scratch", done.stdout)
        done = await cli.run("sessions", "--limit", "zero")
        self.assertEqual(done.returncode, 1)
        done = await cli.run("sessions", "compact", "agent:main:scratch", "--max-lines", "1",
                             "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(json.loads(done.stdout)["compacted"])
        done = await cli.run("sessions", "delete", "agent:main:scratch", "--yes")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIsNone(stack.store.agent("main").get("agent:main:scratch"))
        done = await cli.run("sessions", "delete", "agent:main:main", "--yes")
        self.assertEqual(done.returncode, 1)
        self.assertIn("Cannot delete the main session", done.stderr)


class ModelsAndParamsTests(SynchronousTestCase):
    def env(self, config: dict[str, Any] | None) -> dict[str, str]:
        base = tempfile.mkdtemp(prefix="oc-models-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
        env.update(HOME=base, OPENCLAW_STATE_DIR=os.path.join(base, ".openclaw"),
                   OPENCLAW_CONFIG_PATH=os.path.join(base, ".openclaw", "openclaw.json"))
        os.makedirs(env["OPENCLAW_STATE_DIR"])
        if config is not None:
            with open(env["OPENCLAW_CONFIG_PATH"], "w") as f:
                json.dump(config, f)
        return env

    def test_models_list_status_set(self) -> None:
        env = self.env({"gateway": {"mode": "local"}, "models": {"providers": {"ollama": {
            "baseUrl": "http://127.0.0.1:11434/v1", "api": "openai-completions",
            "models": [{"id": "qwen3", "name": "Qwen 3", "contextWindow": 32768},
                       {"id": "tiny", "name": "Tiny", "contextWindow": 4096,
                        "compat": {"supportsTools": False}}]}}}})
        listed = run_cli(["models", "list", "--json"], env)
        self.assertEqual(listed.code, 0, listed.err)
        document = json.loads(listed.out)
        self.assertEqual(document["count"], 2)
        self.assertEqual(document["models"][0], {
            "key": "ollama/qwen3", "name": "Qwen 3", "input": "text", "contextWindow": 32768,
            "local": True, "available": True, "tags": ["default", "configured"]})
        status = json.loads(run_cli(["models", "status", "--json"], env).out)
        self.assertEqual((status["defaultModel"], status["resolvedDefault"], status["fallbacks"]),
                         ("ollama/qwen3", "ollama/qwen3", []))
        changed = run_cli(["models", "set", "ollama/tiny"], env)
        self.assertEqual(changed.code, 0, changed.err)
        self.assertIn("Default model: ollama/tiny", changed.out)
        status = json.loads(run_cli(["models", "--json"], env).out)
        self.assertEqual(status["resolvedDefault"], "ollama/tiny")
        plain = run_cli(["models", "list", "--plain"], env)
        self.assertEqual(plain.out, "ollama/qwen3\nollama/tiny\n")

    def test_builtin_model_when_nothing_is_configured(self) -> None:
        env = self.env({"gateway": {"mode": "local"}})
        document = json.loads(run_cli(["models", "list", "--json"], env).out)
        (row,) = document["models"]
        self.assertEqual((row["key"], row["contextWindow"], row["local"], row["tags"]),
                         ("local/smollm2", 4096, True, ["default", "configured"]))

    def test_session_key_rules_match_the_agents_package(self) -> None:
        from openclaw.agents.session_keys import parse_agent_key, session_kind
        from openclaw.cli.sessions_cmd import agent_of, kind_of

        for key in ("agent:main:main", "agent:ops:telegram:group:42", "global", "unknown",
                    "agent:main:discord:channel:1:thread:2", "agent::x", "main", "agent:a"):
            parsed = parse_agent_key(key)
            self.assertEqual(agent_of(key), parsed.agent_id if parsed else None, key)
            self.assertEqual(kind_of(key), session_kind(key), key)

    def test_agent_request_params(self) -> None:
        params = request_params({"agent": "Main", "sessionKey": " agent:main:x ",
                                 "replyTo": "#c", "channel": "Slack", "deliver": True},
                                "hi", 600, "run-1")
        self.assertEqual(params, {"message": "hi", "agentId": "main",
                                  "sessionKey": "agent:main:x", "replyTo": "#c",
                                  "deliver": True, "channel": "slack", "timeout": 600,
                                  "idempotencyKey": "run-1"})
