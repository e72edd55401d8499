"""The gateway's metrics: one ``prometheus_client`` registry per gateway process.

Names and labels follow upstream's ``diagnostics-prometheus`` policy where it has one
(``openclaw_gateway_rpc_*``, ``openclaw_run_*``, ``openclaw_model_tokens_total``,
``openclaw_gateway_event_loop_*``, ``openclaw_session_queue_depth``,
``openclaw_gateway_build_info``); what upstream does not export (connections by role, HTTP
requests, channel accounts, reloads, restarts, auth failures and lock-outs) is named in the
same style. Label values are bounded: method labels are registered methods (else
``unknown``), everything else passes a :class:`LabelPolicy` (a character policy and a cap on
distinct values, past which a value is ``other``). No session keys, run ids, peers, paths or
message text ever become labels.

Counters move on the hot paths through pre-bound children only: no label lookup, no dict,
no closure per request (see :mod:`.instrument`). What is cheaper to read than to count
(connections, queues, channel accounts, thread pool) is read when a scraper asks
(:class:`LiveCollector`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import attrs
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from openclaw import __version__

__all__ = [
    "RPC_BUCKETS",
    "RUN_BUCKETS",
    "GatewayMetrics",
    "LabelPolicy",
    "LiveCollector",
    "LiveSources",
]

# RPC handlers: most answer in well under a millisecond; chat.send waits for a durable write.
RPC_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                      0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Agent runs: a model turn takes seconds, a tool loop minutes.
RUN_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Reactor lag per 1 s sample.
LAG_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_LABEL_VALUE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$")
# Scoped session keys (agent:<id>:...) are identifiers, never label values.
_SESSION_KEY: Final = re.compile(r"^agent:[^:]+:")


class LabelPolicy:
    """Bounded label values: the character policy, then at most ``limit`` distinct values
    (later ones become ``other``); empty or refused values become ``fallback``."""

    def __init__(self, limit: int = 64, fallback: str = "unknown") -> None:
        self._limit = limit
        self._fallback = fallback
        self._seen: set[str] = set()

    def __call__(self, value: object) -> str:
        text = str(value) if value is not None else ""
        if not text or not _LABEL_VALUE.match(text) or _SESSION_KEY.match(text):
            return self._fallback
        if text in self._seen:
            return text
        if len(self._seen) >= self._limit:
            return "other"
        self._seen.add(text)
        return text


@attrs.define
class LiveSources:
    """What the running tree exposes to a scrape (set by the wiring; read, never counted)."""

    connection_roles: Callable[[], Iterable[str]] = lambda: ()
    pending_connections: Callable[[], int] = lambda: 0
    rpc_in_flight: Callable[[], int] = lambda: 0
    session_runs: Callable[[], tuple[int, int]] = lambda: (0, 0)   # (running, queued)
    store_queue: Callable[[], int] = lambda: 0
    thread_pool: Callable[[], tuple[int, int, int]] = lambda: (0, 0, 0)  # workers, busy, queued
    channel_accounts: Callable[[], Iterable[tuple[str, dict[str, Any]]]] = lambda: ()
    generation: Callable[[], int] = lambda: 1


class GatewayMetrics:
    """Every metric of one gateway process, in a registry of its own (never the global
    ``prometheus_client.REGISTRY``: two gateways in one test process stay apart)."""

    def __init__(self, *, process_instance_id: str | None = None) -> None:
        # No `<name>_created` series: upstream's exposition has none, and they double the
        # scrape. (A process-wide switch of the library; the gateway is its only user.)
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.process_instance_id = process_instance_id or str(uuid.uuid4())
        # process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, ...
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self.labels = _Policies()

        Gauge("openclaw_gateway_build_info", "The process serving this scrape (value 1).",
              ["version", "process_instance_id"], registry=registry).labels(
            __version__, self.process_instance_id).set(1)

        # -- WebSocket RPC (instrument.MeteredMethods) --------------------------------------
        self.rpc_handler_seconds = Histogram(
            "openclaw_gateway_rpc_handler_seconds",
            "Gateway RPC handler duration, from dispatch until the result (or the error) is "
            "ready; every request that reached its handler.",
            ["method"], buckets=RPC_BUCKETS, registry=registry)
        # Not exported as such: the LiveCollector turns them into responses and outcomes.
        self.rpc_errors = Counter("openclaw_gateway_rpc_errors", "RPC answers that were not ok.",
                                  ["method", "outcome"], registry=None)
        self.rpc_unknown = Counter("openclaw_gateway_rpc_unknown_methods",
                                   "Requests for methods this gateway does not have.",
                                   registry=None)

        # -- HTTP (the Site's finished requests) --------------------------------------------
        self.http_requests = Counter(
            "openclaw_http_requests", "HTTP requests answered, by route and status.",
            ["route", "status"], registry=registry)

        # -- agent runs (instrument.RunMetrics, a runtime observer) -------------------------
        run_labels = ["channel", "model", "outcome", "provider", "trigger"]
        self.run_completed = Counter("openclaw_run_completed", "Agent runs ended, by outcome.",
                                     run_labels, registry=registry)
        self.run_duration = Histogram("openclaw_run_duration_seconds",
                                      "Agent run duration, start to end.", run_labels,
                                      buckets=RUN_BUCKETS, registry=registry)
        self.model_tokens = Counter(
            "openclaw_model_tokens", "Model tokens used by agent runs.",
            ["agent", "channel", "model", "provider", "token_type"], registry=registry)

        # -- reloads, restarts, auth ---------------------------------------------------------
        self.config_reloads = Counter("openclaw_config_reloads",
                                      "Config reload passes, by outcome.", ["outcome"],
                                      registry=registry)
        self.gateway_restarts = Counter("openclaw_gateway_restarts",
                                        "Gateway restarts of this process, by mode.", ["mode"],
                                        registry=registry)
        self.auth_failures = Counter(
            "openclaw_auth_failures",
            "Failed credential checks recorded by the auth rate limiter (WebSocket and HTTP).",
            ["scope"], registry=registry)
        self.auth_lockouts = Counter("openclaw_auth_lockouts",
                                     "Clients locked out by the auth rate limiter.", ["scope"],
                                     registry=registry)
        self.auth_rate_limited = Counter(
            "openclaw_auth_rate_limited", "Attempts refused while a client was locked out.",
            ["scope"], registry=registry)

        # -- the reactor ---------------------------------------------------------------------
        self.event_loop_delay = Histogram(
            "openclaw_gateway_event_loop_delay_max_seconds",
            "How late the reactor ran a 1 s timer, per sample.", buckets=LAG_BUCKETS,
            registry=registry)
        self.event_loop_observed = Counter(
            "openclaw_gateway_event_loop_observed_seconds",
            "Seconds covered by reactor lag samples.", registry=registry)
        self.reactor_lag = Gauge("openclaw_gateway_reactor_lag_seconds",
                                 "Reactor lag at the last sample.", registry=registry)

        self.live = LiveCollector(self)
        registry.register(self.live)

    def observe_event_loop(self, delay_s: float, interval_s: float) -> None:
        """The EventLoopMonitor's sample hook."""
        self.event_loop_delay.observe(delay_s)
        self.event_loop_observed.inc(interval_s)
        self.reactor_lag.set(delay_s)


class _Policies:
    """One LabelPolicy per label whose values come from config or callers."""

    def __init__(self) -> None:
        self.channel = LabelPolicy()
        self.model = LabelPolicy()
        self.provider = LabelPolicy()
        self.agent = LabelPolicy()
        self.role = LabelPolicy(limit=16)
        self.scope = LabelPolicy(limit=16, fallback="other")
        self.reason = LabelPolicy(limit=32)


class LiveCollector(Collector):
    """Read at scrape time: the tree's state, and the RPC families built from the counters
    the hot path keeps (the handler histogram's counts, the errors)."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics
        self.sources: LiveSources | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        yield from self._rpc()
        sources = self.sources
        if sources is None:
            return
        policies = self._metrics.labels
        connections = GaugeMetricFamily("openclaw_gateway_connections",
                                        "WebSocket connections, by role (pending: not past "
                                        "the handshake yet).", labels=["role"])
        by_role: dict[str, int] = {}
        for role in sources.connection_roles():
            label = policies.role(role)
            by_role[label] = by_role.get(label, 0) + 1
        by_role["pending"] = max(0, sources.pending_connections())
        for role, count in sorted(by_role.items()):
            connections.add_metric([role], count)
        yield connections
        yield GaugeMetricFamily("openclaw_gateway_rpc_in_flight",
                                "RPC requests answered asynchronously, still running.",
                                value=sources.rpc_in_flight())
        running, queued = sources.session_runs()
        depth = GaugeMetricFamily("openclaw_session_queue_depth",
                                  "Agent runs by state (queued behind a session's lane).",
                                  labels=["state"])
        depth.add_metric(["running"], running)
        depth.add_metric(["queued"], queued)
        yield depth
        yield GaugeMetricFamily("openclaw_store_write_queue_depth",
                                "Transcript and session-index writes waiting for the durable "
                                "writer thread.", value=sources.store_queue())
        workers, busy, waiting = sources.thread_pool()
        pool = GaugeMetricFamily("openclaw_reactor_threadpool",
                                 "The reactor's thread pool (blocking work off the reactor).",
                                 labels=["state"])
        pool.add_metric(["workers"], workers)
        pool.add_metric(["busy"], busy)
        pool.add_metric(["queued"], waiting)
        yield pool
        yield from self._channels(sources)
        yield GaugeMetricFamily("openclaw_gateway_generation",
                                "Tree generation: 1, plus one per in-process restart.",
                                value=sources.generation())

    def _rpc(self) -> Iterator[Metric]:
        metrics = self._metrics
        handled: dict[str, float] = {}
        for family in metrics.rpc_handler_seconds.collect():
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    handled[sample.labels["method"]] = sample.value
        errors: dict[tuple[str, str], float] = {}
        for family in metrics.rpc_errors.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    errors[(sample.labels["method"], sample.labels["outcome"])] = sample.value
        unknown = 0.0
        for family in metrics.rpc_unknown.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    unknown = sample.value
        requests = CounterMetricFamily(
            "openclaw_gateway_rpc_requests",
            "Authenticated WebSocket requests that reached a handler, by method (unknown: "
            "methods this gateway does not have).", labels=["method"])
        responses = CounterMetricFamily("openclaw_gateway_rpc_responses",
                                        "RPC answers by method and outcome.",
                                        labels=["method", "outcome"])
        outcomes = CounterMetricFamily("openclaw_gateway_rpc_outcomes",
                                       "Gateway RPC observations by phase and outcome.",
                                       labels=["phase", "outcome"])
        totals: dict[str, float] = {}
        for method, count in sorted(handled.items()):
            requests.add_metric([method], count)
            failed = sum(v for (m, _), v in errors.items() if m == method)
            responses.add_metric([method, "ok"], count - failed)
            totals["ok"] = totals.get("ok", 0.0) + count - failed
        for (method, outcome), value in sorted(errors.items()):
            responses.add_metric([method, outcome], value)
            totals[outcome] = totals.get(outcome, 0.0) + value
        if unknown:
            requests.add_metric(["unknown"], unknown)
            responses.add_metric(["unknown", "unknown_method"], unknown)
            totals["unknown_method"] = unknown
        for outcome, value in sorted(totals.items()):
            outcomes.add_metric(["handler", outcome], value)
        yield requests
        yield responses
        yield outcomes

    def _channels(self, sources: LiveSources) -> Iterator[Metric]:
        policies = self._metrics.labels
        accounts = GaugeMetricFamily(
            "openclaw_channel_accounts",
            "Channel accounts by state (connected, running, stopped, disabled).",
            labels=["channel", "state"])
        attempts = GaugeMetricFamily(
            "openclaw_channel_reconnect_attempts",
            "Reconnect attempts of the channel's accounts since they were last connected.",
            labels=["channel"])
        states: dict[tuple[str, str], int] = {}
        tries: dict[str, int] = {}
        for channel, snapshot in sources.channel_accounts():
            label = policies.channel(channel)
            if snapshot.get("enabled") is False:
                state = "disabled"
            elif snapshot.get("connected"):
                state = "connected"
            elif snapshot.get("running"):
                state = "running"
            else:
                state = "stopped"
            states[(label, state)] = states.get((label, state), 0) + 1
            reconnects = snapshot.get("reconnectAttempts")
            tries[label] = tries.get(label, 0) + (
                reconnects if isinstance(reconnects, int) else 0)
        for (channel, state), count in sorted(states.items()):
            accounts.add_metric([channel, state], count)
        for channel, count in sorted(tries.items()):
            attempts.add_metric([channel], count)
        yield accounts
        yield attempts
