"""``/api/diagnostics/prometheus`` on the production tree (real reactor, real WebSocket,
scripted model upstream): scraped during a chat turn and around a config reload, parsed with
prometheus_client's parser; operator read auth; ``diagnostics.enabled: false``."""

from __future__ import annotations

import json
from typing import Any

import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.gateway.metrics.endpoint import CONTENT_TYPE
from tests.agents.support import AgentStack
from tests.builder import TOKEN
from tests.upstream import openai_text, stall

PATH = "/api/diagnostics/prometheus"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def set_logging_level(path: str, level: str) -> None:
    with open(path) as handle:
        document = json.load(handle)
    document["logging"] = {"level": level}
    with open(path, "w") as handle:
        json.dump(document, handle)


class ReloadDone:
    """A reload coordinator observer firing a Deferred when the next pass ends."""

    def __init__(self) -> None:
        self.ended: Deferred[str] = Deferred()

    def reload_started(self, source: str) -> None:
        pass

    def reload_finished(self, outcome: str) -> None:
        if not self.ended.called:
            self.ended.callback(outcome)


class MetricsEndpointTests(TestCase):
    timeout = 60

    async def make(self, config: dict[str, Any] | None = None) -> AgentStack:
        stack = AgentStack()
        await stack.start(config)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack

    async def get(self, stack: AgentStack, token: str | None = TOKEN,
                  headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        all_headers = {k: [v] for k, v in (headers or {}).items()}
        if token is not None:
            all_headers["Authorization"] = [f"Bearer {token}"]
        response = await treq.get(f"http://127.0.0.1:{stack.port_number}{PATH}",
                                  headers=all_headers, reactor=reactor, persistent=False)
        return response.code, response.headers, await treq.content(response)

    async def scrape(self, stack: AgentStack) -> Samples:
        status, headers, body = await self.get(stack)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.getRawHeaders("content-type"), [CONTENT_TYPE.decode()])
        samples: Samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    async def test_counters_move_during_a_chat_turn_and_a_reload(self) -> None:
        stack = await self.make()
        ws = await stack.client()
        before = await self.scrape(stack)
        self.assertEqual(value(before, "openclaw_gateway_connections", role="operator"), 1)

        # A turn whose model stalls after its first words: scraped while it runs.
        stack.upstream.script(stall(["thinking"]))
        await ws.call("chat.send", {"sessionKey": "main", "message": "hello",
                                    "idempotencyKey": "turn-1"})
        await ws.event("chat", where=lambda p: p.get("runId") == "turn-1"
                       and p.get("state") == "delta")
        during = await self.scrape(stack)
        self.assertEqual(value(during, "openclaw_session_queue_depth", state="running"), 1)
        self.assertEqual(value(during, "openclaw_gateway_rpc_requests_total",
                               method="chat.send"), 1)
        self.assertEqual(value(during, "openclaw_gateway_rpc_responses_total",
                               method="chat.send", outcome="ok"), 1)
        self.assertGreater(value(during, "openclaw_gateway_rpc_handler_seconds_bucket",
                                 method="chat.send", le="+Inf"), 0)
        await ws.call("chat.abort", {"sessionKey": "main", "runId": "turn-1"})
        await ws.chat_terminal("turn-1")
        await stack.settled("turn-1")

        # A turn that completes, with usage.
        stack.upstream.script(openai_text(["Hi", " there"], usage=(12, 6)))
        await ws.call("chat.send", {"sessionKey": "main", "message": "again",
                                    "idempotencyKey": "turn-2"})
        await ws.chat_terminal("turn-2")
        await stack.settled("turn-2")
        after = await self.scrape(stack)
        run = {"channel": "webchat", "model": "m1", "provider": "scripted", "trigger": "chat"}
        # (an aborted run's result names no model: it never finished a call)
        self.assertEqual(value(after, "openclaw_run_completed_total", outcome="aborted",
                               channel="webchat", model="unknown", provider="unknown",
                               trigger="chat"), 1)
        self.assertEqual(value(after, "openclaw_run_completed_total", outcome="ok", **run), 1)
        self.assertEqual(value(after, "openclaw_run_duration_seconds_count", outcome="ok",
                               **run), 1)
        tokens = {"agent": "main", "channel": "webchat", "model": "m1",
                  "provider": "scripted"}
        self.assertEqual(value(after, "openclaw_model_tokens_total", token_type="input",
                               **tokens), 12)
        self.assertEqual(value(after, "openclaw_model_tokens_total", token_type="output",
                               **tokens), 6)
        self.assertEqual(value(after, "openclaw_session_queue_depth", state="running"), 0)
        self.assertEqual(value(after, "openclaw_gateway_rpc_requests_total",
                               method="chat.send"), 2)
        # The earlier scrapes are HTTP requests by route and status (a scrape is counted
        # when it has been answered, so not in its own answer).
        self.assertEqual(value(after, "openclaw_http_requests_total",
                               route=PATH, status="200"), 2)

        # A config reload: the reload counter moves.
        coordinator = stack.gateway.service.config.reload.coordinator  # type: ignore[union-attr]
        done = ReloadDone()
        coordinator.observers.append(done)
        set_logging_level(stack.gateway.plan.paths.config_path,  # type: ignore[union-attr]
                          "debug")
        coordinator.request(source="test", delay_ms=0)
        self.assertEqual(await done.ended, "applied")
        reloaded = await self.scrape(stack)
        self.assertEqual(value(reloaded, "openclaw_config_reloads_total", outcome="applied"),
                         value(after, "openclaw_config_reloads_total", outcome="applied") + 1)
        # The process is described too.
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds"):
            self.assertGreater(value(reloaded, name), 0, name)
        self.assertIn(("openclaw_gateway_reactor_lag_seconds", ()), reloaded)

    async def test_only_operators_may_scrape(self) -> None:
        stack = await self.make()
        status, _, body = await self.get(stack, token=None)
        self.assertEqual((status, json.loads(body)),
                         (401, {"error": {"message": "Unauthorized", "type": "unauthorized"}}))
        status, _, _ = await self.get(stack, token="not-the-token")
        self.assertEqual(status, 401)
        samples = await self.scrape(stack)
        self.assertEqual(value(samples, "openclaw_auth_failures_total",
                               scope="shared-secret"), 1)
        self.assertEqual(value(samples, "openclaw_http_requests_total", route=PATH,
                               status="401"), 2)
        response = await treq.post(f"http://127.0.0.1:{stack.port_number}{PATH}",
                                   headers={"Authorization": [f"Bearer {TOKEN}"]},
                                   reactor=reactor, persistent=False)
        await treq.content(response)
        self.assertEqual(response.code, 405)

    async def test_identity_bearing_callers_need_operator_read(self) -> None:
        stack = await self.make({"gateway": {"mode": "local", "auth": {"mode": "none"}}})
        status, _, body = await self.get(stack, token=None,
                                         headers={"x-openclaw-scopes": "operator.approvals"})
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body)["error"]["message"], "missing scope: operator.read")
        status, _, _ = await self.get(stack, token=None,
                                      headers={"x-openclaw-scopes": "operator.write"})
        self.assertEqual(status, 200)

    async def test_diagnostics_disabled_answers_empty(self) -> None:
        stack = await self.make({"diagnostics": {"enabled": False}})
        ws = await stack.client()
        await ws.call("health", {})
        status, headers, body = await self.get(stack)
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers.getRawHeaders("content-type"), [CONTENT_TYPE.decode()])
        status, _, _ = await self.get(stack, token=None)
        self.assertEqual(status, 401)
