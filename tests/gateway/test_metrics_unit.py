"""The metrics' parts without a gateway: metered dispatch, bounded labels, routes, observers,
the scrape-time collector, all read back through prometheus_client's own parser."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.agents.runtime import RunRequest, RunResult
from openclaw.auth.ratelimit import AuthRateLimiter, RateLimitSettings
from openclaw.gateway.metrics import GatewayMetrics, LabelPolicy, LiveSources, meter_registry
from openclaw.gateway.metrics.instrument import AuthMetrics, ReloadMetrics, RunMetrics, route_of
from openclaw.gateway.protocol.dispatch import MethodCall, MethodRegistry, MethodSpec
from openclaw.gateway.protocol.errors import GatewayError, invalid_request
from openclaw.providers.types import Usage


def scrape(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, parsed by prometheus_client's parser."""
    text = generate_latest(metrics.registry).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def call(method: str, params: Any = None) -> MethodCall:
    return MethodCall(method, "r1", params if params is not None else {}, None, None)  # type: ignore[arg-type]


class MeteredDispatchTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.metrics = GatewayMetrics()
        self.pending: Deferred[Any] = Deferred()

        async def slow(_: MethodCall) -> dict[str, Any]:
            return await self.pending

        def broken(_: MethodCall) -> None:
            raise RuntimeError("boom")

        def refused(_: MethodCall) -> None:
            raise invalid_request("no")

        inner = MethodRegistry([
            MethodSpec("health", lambda c: {"ok": True}, "operator.read"),
            MethodSpec("slow", slow, "operator.read"),
            MethodSpec("broken", broken, "operator.read"),
            MethodSpec("refused", refused, "operator.read"),
            MethodSpec("deferred", lambda c: succeed({"ok": True}), "operator.read"),
            MethodSpec("cancelled", lambda c: fail(CancelledError()), "operator.read"),
        ], fallback_scope=lambda name: "operator.admin")
        self.registry = meter_registry(inner, self.metrics)

    def test_answers_and_outcomes_by_method(self) -> None:
        registry = self.registry
        for _ in range(3):
            self.assertEqual(registry.get("health").handler(call("health")), {"ok": True})
        with self.assertRaises(RuntimeError):
            registry.get("broken").handler(call("broken"))
        with self.assertRaises(GatewayError):
            registry.get("refused").handler(call("refused"))
        self.assertEqual(self.successResultOf(registry.get("deferred").handler(
            call("deferred"))), {"ok": True})
        self.failureResultOf(registry.get("cancelled").handler(call("cancelled")),
                             CancelledError)
        running = registry.get("slow").handler(call("slow"))
        self.assertIsInstance(running, Deferred)
        samples = scrape(self.metrics)
        # Still running: not observed yet.
        self.assertIsNone(value(samples, "openclaw_gateway_rpc_handler_seconds_count",
                                method="slow"))
        self.pending.callback({"done": True})
        self.assertEqual(self.successResultOf(running), {"done": True})
        # Unknown methods are counted where the connection asks for their scope.
        self.assertIsNone(registry.get("nope"))
        self.assertEqual(registry.required_scope("nope"), "operator.admin")
        self.assertEqual(registry.required_scope("health"), "operator.read")

        samples = scrape(self.metrics)
        requests = {m: value(samples, "openclaw_gateway_rpc_requests_total", method=m)
                    for m in ("health", "broken", "refused", "deferred", "cancelled", "slow",
                              "unknown")}
        self.assertEqual(requests, {"health": 3, "broken": 1, "refused": 1, "deferred": 1,
                                    "cancelled": 1, "slow": 1, "unknown": 1})
        responses = {(m, o): value(samples, "openclaw_gateway_rpc_responses_total",
                                   method=m, outcome=o)
                     for m, o in (("health", "ok"), ("broken", "failed"), ("broken", "ok"),
                                  ("refused", "error"), ("cancelled", "cancelled"),
                                  ("slow", "ok"), ("unknown", "unknown_method"))}
        self.assertEqual(responses, {("health", "ok"): 3, ("broken", "failed"): 1,
                                     ("broken", "ok"): 0, ("refused", "error"): 1,
                                     ("cancelled", "cancelled"): 1, ("slow", "ok"): 1,
                                     ("unknown", "unknown_method"): 1})
        self.assertEqual(value(samples, "openclaw_gateway_rpc_outcomes_total",
                               phase="handler", outcome="ok"), 5)
        self.assertEqual(value(samples, "openclaw_gateway_rpc_handler_seconds_count",
                               method="health"), 3)
        # A method never called adds no series.
        self.assertFalse(any(key[0].startswith("openclaw_gateway_rpc_handler_seconds")
                             and ("method", "never") in key[1] for key in samples))

    def test_params_are_checked_in_the_wrapper(self) -> None:
        from openclaw.gateway.methods.models import MODELS_LIST_PARAMS

        inner = MethodRegistry([MethodSpec("models.list", lambda c: {"models": []},
                                           "operator.read", MODELS_LIST_PARAMS)])
        registry = meter_registry(inner, self.metrics)
        spec = registry.get("models.list")
        assert spec is not None
        self.assertIsNone(spec.params)  # the connection does not check twice
        with self.assertRaises(GatewayError) as raised:
            spec.handler(call("models.list", {"bogus": 1}))
        self.assertIn("invalid models.list params", str(raised.exception))
        self.assertEqual(spec.handler(call("models.list", {})), {"models": []})
        samples = scrape(self.metrics)
        self.assertEqual(value(samples, "openclaw_gateway_rpc_responses_total",
                               method="models.list", outcome="invalid_params"), 1)
        self.assertEqual(value(samples, "openclaw_gateway_rpc_responses_total",
                               method="models.list", outcome="ok"), 1)
        self.assertIsNone(value(samples, "openclaw_gateway_rpc_responses_total",
                                method="models.list", outcome="error"))
        self.assertEqual(value(samples, "openclaw_gateway_rpc_requests_total",
                               method="models.list"), 2)


class LabelTests(SynchronousTestCase):
    def test_bounded_values(self) -> None:
        policy = LabelPolicy(limit=2)
        self.assertEqual(policy("openai"), "openai")
        self.assertEqual(policy("anthropic/claude-3.5"), "anthropic/claude-3.5")
        self.assertEqual(policy("third"), "other")
        self.assertEqual(policy("openai"), "openai")
        self.assertEqual(policy(None), "unknown")
        self.assertEqual(policy("has space"), "unknown")
        self.assertEqual(policy("agent:main:telegram:dm:42"), "unknown")
        self.assertEqual(policy("x" * 200), "unknown")

    def test_routes(self) -> None:
        self.assertEqual(route_of(b"/healthz"), "/healthz")
        self.assertEqual(route_of(b"/v1/chat/completions"), "/v1/chat/completions")
        self.assertEqual(route_of(b"/v1/models/openai%2Fgpt-4o"), "/v1/models/{id}")
        self.assertEqual(route_of(b"/sessions/agent%3Amain%3Amain/history"),
                         "/sessions/{key}/history")
        self.assertEqual(route_of(b"/sessions/x/kill"), "/sessions/{key}/kill")
        self.assertEqual(route_of(b"/hooks/agent"), "/hooks")
        self.assertEqual(route_of(b"/v1/nope"), "/v1/other")
        self.assertEqual(route_of(b"/chat?session=secret"), "other")
        self.assertEqual(route_of(b"/api/diagnostics/prometheus"),
                         "/api/diagnostics/prometheus")


class ObserverTests(SynchronousTestCase):
    def test_runs_reloads_and_auth(self) -> None:
        metrics = GatewayMetrics()
        handle = type("Handle", (), {"request": RunRequest(message="hi", run_id="r1",
                                                            kind="chat", channel="webchat")})()
        result = RunResult("r1", "ok", "agent:main:main", "main", started_at=1000,
                           ended_at=3500, provider="scripted", model="m1",
                           usage=Usage(input=12, output=6))
        RunMetrics(metrics).run_finished(handle, result)
        ReloadMetrics(metrics).reload_finished("applied")
        limiter = AuthRateLimiter(Clock(), RateLimitSettings(max_attempts=2,
                                                             exempt_loopback=False))
        limiter.observer = AuthMetrics(metrics)
        for _ in range(2):
            limiter.record_failure("10.0.0.9", "shared-secret")
        self.assertFalse(limiter.check("10.0.0.9", "shared-secret").allowed)
        limiter.record_failure("10.0.0.9", "browser-origin:https://evil.example")
        metrics.observe_event_loop(0.02, 1.02)
        samples = scrape(metrics)
        labels = {"channel": "webchat", "model": "m1", "outcome": "ok",
                  "provider": "scripted", "trigger": "chat"}
        self.assertEqual(value(samples, "openclaw_run_completed_total", **labels), 1)
        self.assertEqual(value(samples, "openclaw_run_duration_seconds_sum", **labels), 2.5)
        self.assertEqual(value(samples, "openclaw_model_tokens_total", agent="main",
                               channel="webchat", model="m1", provider="scripted",
                               token_type="input"), 12)
        self.assertEqual(value(samples, "openclaw_model_tokens_total", agent="main",
                               channel="webchat", model="m1", provider="scripted",
                               token_type="output"), 6)
        self.assertEqual(value(samples, "openclaw_config_reloads_total", outcome="applied"), 1)
        self.assertEqual(value(samples, "openclaw_auth_failures_total",
                               scope="shared-secret"), 2)
        self.assertEqual(value(samples, "openclaw_auth_failures_total",
                               scope="browser-origin"), 1)
        self.assertEqual(value(samples, "openclaw_auth_lockouts_total",
                               scope="shared-secret"), 1)
        self.assertEqual(value(samples, "openclaw_auth_rate_limited_total",
                               scope="shared-secret"), 1)
        self.assertEqual(value(samples, "openclaw_gateway_reactor_lag_seconds"), 0.02)
        self.assertEqual(value(samples, "openclaw_gateway_event_loop_observed_seconds_total"),
                         1.02)
        self.assertEqual(value(samples, "openclaw_gateway_build_info",
                               version=__import__("openclaw").__version__,
                               process_instance_id=metrics.process_instance_id), 1)
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds"):
            self.assertGreater(value(samples, name) or 0, 0, name)

    def test_live_state_is_read_at_scrape_time(self) -> None:
        metrics = GatewayMetrics()
        metrics.live.sources = LiveSources(
            connection_roles=lambda: ["operator", "operator", "node"],
            pending_connections=lambda: 1,
            rpc_in_flight=lambda: 2,
            session_runs=lambda: (1, 3),
            store_queue=lambda: 4,
            thread_pool=lambda: (5, 1, 0),
            channel_accounts=lambda: [
                ("telegram", {"running": True, "connected": True}),
                ("telegram", {"running": True, "connected": False, "reconnectAttempts": 3}),
                ("irc", {"enabled": False})],
            generation=lambda: 2)
        samples = scrape(metrics)
        self.assertEqual({role: value(samples, "openclaw_gateway_connections", role=role)
                          for role in ("operator", "node", "pending")},
                         {"operator": 2, "node": 1, "pending": 1})
        self.assertEqual(value(samples, "openclaw_session_queue_depth", state="queued"), 3)
        self.assertEqual(value(samples, "openclaw_store_write_queue_depth"), 4)
        self.assertEqual(value(samples, "openclaw_channel_accounts", channel="telegram",
                               state="connected"), 1)
        self.assertEqual(value(samples, "openclaw_channel_accounts", channel="telegram",
                               state="running"), 1)
        self.assertEqual(value(samples, "openclaw_channel_accounts", channel="irc",
                               state="disabled"), 1)
        self.assertEqual(value(samples, "openclaw_channel_reconnect_attempts",
                               channel="telegram"), 3)
        self.assertEqual(value(samples, "openclaw_gateway_generation"), 2)

    def test_two_gateways_keep_their_own_registries(self) -> None:
        first, second = GatewayMetrics(), GatewayMetrics()
        first.config_reloads.labels("applied").inc()
        self.assertIsNone(value(scrape(second), "openclaw_config_reloads_total",
                                outcome="applied"))
        from prometheus_client import REGISTRY

        self.assertNotIn("openclaw_config_reloads", {
            m.name for m in REGISTRY.collect()})
