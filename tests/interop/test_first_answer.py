"""``openclaw agent --json`` and ``openclaw sessions --json``, key by key against the REAL CLI.

One scenario, run twice: a gateway whose only model provider is a scripted OpenAI-compatible
upstream on loopback answers "What is the capital of France?", then the sessions are listed.

* real: the real Node gateway (reference ``run-gateway.sh``, the provider ``$include``d into
  its config), the real CLI's ``agent --json`` against it, and the real CLI's ``sessions
  --json`` on its state dir;
* ours: ``python -m openclaw gateway`` with the same provider, our ``openclaw agent --json``
  and ``openclaw sessions --json``.

Every key path of the real documents (three levels deep) must be in ours, except the ones
listed in :data:`NOT_OURS` with the reason. The real CLI's ``agent --json`` against OUR
gateway is checked as well (the real client over our ``agent`` method).

Slow (installs the real CLI from npm once, starts the real gateway): marked ``slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.interop.harness import (
    REAL_START_TIMEOUT,
    RealNodeGateway,
    _scrubbed_env,
    key_paths,
    real_gateway_disabled,
    require_reference,
    run_tree,
)
from tests.support import REPO_ROOT, GatewayProcess, free_port, isolated_env, write_config
from tests.upstream import ScriptedUpstream, openai_text

pytestmark = pytest.mark.slow

QUESTION = "What is the capital of France?"
TOKEN = "first-answer-token"

# Key paths of the real documents we do not produce, and why.
NOT_OURS: dict[str, str] = {
    "result.meta.systemPromptReport": "sizes and hashes of the real gateway's own system "
                                      "prompt sections; ours is built differently",
    "sessions[].participants": "participant identities (the real gateway's session-sharing "
                               "model); this gateway has no participants",
    "sessions[].participantCount": "see participants",
    "sessions[].totalTokensVersion": "the run engine does not version its token counts; the "
                                     "listing reports totalTokensFresh: false",
}


def provider_config(upstream: ScriptedUpstream) -> dict[str, Any]:
    return {
        "models": {"providers": {"scripted": {
            "baseUrl": upstream.base_url, "apiKey": "sk-scripted", "api": "openai-completions",
            "models": [{"id": "m1", "name": "Scripted M1", "contextWindow": 8192,
                        "maxTokens": 1024}]}}},
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
    }


class RealGatewayWithProvider(RealNodeGateway):
    """The real gateway with the scripted provider ``$include``d at its config's root."""

    def __init__(self, reference: str, token: str, extra: dict[str, Any]) -> None:
        super().__init__(reference, token)
        self.extra = extra

    def start(self) -> RealGatewayWithProvider:
        state = os.path.join(self.workdir, "state")
        os.makedirs(state)
        with open(os.path.join(state, "extra.json"), "w") as f:
            json.dump(self.extra, f)
        self.config_path = os.path.join(state, "openclaw.json")
        self.state = state
        env = _scrubbed_env({"OPENCLAW_GATEWAY_TOKEN": self.token,
                             "OPENCLAW_ANCHOR_STATE": state,
                             "OPENCLAW_ANCHOR_INCLUDE": "./extra.json"})
        self._launch(env, ["bash", os.path.join(self.reference, "run-gateway.sh")],
                     [str(self.port)])
        self._wait_ready(REAL_START_TIMEOUT)
        return self

    def cli_on_state(self, *argv: str) -> tuple[int | None, str, str]:
        """The real CLI with this gateway's own state and config (local commands)."""
        env = _scrubbed_env({"OC_PORT": str(self.port), "OC_URL": self.url,
                             "OC_TOKEN": self.token, "OC_CLIENT_STATE": self.state})
        rc, out, err, _ = run_tree(["bash", os.path.join(self.reference, "oc.sh"), *argv],
                                   env, 120)
        return rc, out, err


def write_json_file(path: str, document: Any) -> None:
    with open(path, "w") as f:
        json.dump(document, f, indent=2)


def json_of(out: str, what: str) -> Any:
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"{what}: stdout is not JSON:\n{out[:3000]}") from None


def missing(reference: Any, ours: Any) -> list[str]:
    def excused(path: str) -> bool:
        return any(path == key or path.startswith((f"{key}.", f"{key}[]"))
                   for key in NOT_OURS)

    return sorted(path for path in key_paths(reference, 3) - key_paths(ours, 3)
                  if not excused(path))


class FirstAnswerInteropTests(TestCase):
    timeout = 600

    async def test_agent_and_sessions_json_keys_match_the_real_cli(self) -> None:
        reference = await deferToThread(require_reference)
        if real_gateway_disabled():
            self.skipTest(f"real Node gateway comparison switched off "
                          f"({real_gateway_disabled()})")
        upstream = ScriptedUpstream(reactor, default=lambda: openai_text(["Par", "is."]))
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        extra = provider_config(upstream)

        # the real gateway and the real CLI
        real = RealGatewayWithProvider(reference, TOKEN, extra)
        self.addCleanup(real.stop)
        await deferToThread(real.start)
        rc, out, err = await deferToThread(real.cli_on_state, "agent", "--agent", "main",
                                           "-m", QUESTION, "--json")
        self.assertEqual(rc, 0, f"{out}\n{err}\n{real.log_tail()}")
        real_agent = json_of(out, "real agent --json")
        rc, out, err = await deferToThread(real.cli_on_state, "sessions", "--json")
        self.assertEqual(rc, 0, err)
        real_sessions = json_of(out, "real sessions --json")
        self.assertTrue(real_sessions["sessions"], out)

        # ours
        base = tempfile.mkdtemp(prefix="oc-first-answer-interop-")
        env = isolated_env(base, PYTHONPATH=REPO_ROOT, NO_COLOR="1")
        port = free_port()
        write_config(env, {"gateway": {"mode": "local", "port": port,
                                       "auth": {"token": TOKEN}}, **extra})
        ours = GatewayProcess(env, []).start()
        self.addCleanup(ours.kill)
        await deferToThread(ours.wait_healthy, port, 30)

        def our_cli(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "openclaw", *argv], env=env,
                                  cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL)

        done = await deferToThread(our_cli, "agent", "--agent", "main", "-m", QUESTION,
                                   "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        our_agent = json_of(done.stdout, "our agent --json")
        done = await deferToThread(our_cli, "sessions", "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        our_sessions = json_of(done.stdout, "our sessions --json")

        dump = os.environ.get("OPENCLAW_INTEROP_DUMP")
        if dump:    # a folder to keep the four documents in, for a look by hand
            for name, document in (("real-agent", real_agent), ("our-agent", our_agent),
                                   ("real-sessions", real_sessions),
                                   ("our-sessions", our_sessions)):
                write_json_file(os.path.join(dump, f"{name}.json"), document)
        self.assertEqual(missing(real_agent, our_agent), [],
                         f"real: {json.dumps(real_agent, indent=1)[:4000]}\n"
                         f"ours: {json.dumps(our_agent, indent=1)[:4000]}")
        self.assertEqual(missing(real_sessions, our_sessions), [],
                         f"real: {json.dumps(real_sessions, indent=1)[:4000]}\n"
                         f"ours: {json.dumps(our_sessions, indent=1)[:4000]}")
        self.assertEqual(our_agent["result"]["payloads"], real_agent["result"]["payloads"])

        # the real CLI over our gateway's agent method
        env_real = _scrubbed_env({"OC_PORT": str(port), "OC_URL": f"ws://127.0.0.1:{port}",
                                  "OC_TOKEN": TOKEN})
        rc, out, err, _ = await deferToThread(
            run_tree, ["bash", os.path.join(reference, "oc.sh"), "agent", "--agent", "main",
                       "-m", QUESTION, "--json"], env_real, 120)
        self.assertEqual(rc, 0, f"{out}\n{err}")
        self.assertEqual(json_of(out, "real CLI on ours")["result"]["payloads"],
                         real_agent["result"]["payloads"])
