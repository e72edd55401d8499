"""Where the metrics are fed: a few hooks, each one cheap on its path.

* RPC: :func:`meter_registry` gives the WebSocket factory a registry whose handlers are
  wrapped (:class:`_Timed`): one ``perf_counter`` before and after, one histogram observe
  on the method's pre-bound child; an answer that is not ok adds one counter increment.
  The params check moves into the wrapper (same error, same place in the connection's
  ``try``), so invalid params are counted too. Unknown methods are counted where the
  connection asks for their scope (the registry's fallback, a cold path);
* HTTP: :class:`HttpMetrics` is the Site's finished-request hook (``Site.log`` is called
  once per finished request; the route is a bounded name, never the raw path);
* agent runs: :class:`RunMetrics` is a runtime observer, as ``AgentGateway`` is;
* reloads: :class:`ReloadMetrics` observes the reload coordinator;
* auth: :class:`AuthMetrics` observes the shared rate limiter (WebSocket and HTTP);
* the reactor: the EventLoopMonitor's sample hook (:meth:`GatewayMetrics.observe_event_loop`);
* live state: :func:`sources_of` tells the scrape-time collector where to look.
"""

from __future__ import annotations

import inspect
from time import perf_counter
from typing import Any, Final

import attrs
from prometheus_client import Histogram
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import Request

from openclaw.gateway.metrics.registry import GatewayMetrics, LiveSources
from openclaw.gateway.protocol.dispatch import MethodCall, MethodRegistry, MethodSpec
from openclaw.gateway.protocol.errors import GatewayError
from openclaw.gateway.protocol.frames import RawJson

__all__ = [
    "AuthMetrics",
    "HttpMetrics",
    "ReloadMetrics",
    "RunMetrics",
    "instrument_tree",
    "meter_registry",
    "route_of",
    "sources_of",
]

# What the connection treats as a finished answer (its _PLAIN_RESULTS): no awaiting.
_PLAIN: Final = frozenset({RawJson, dict, list, str, int, float, bool, type(None)})

log = Logger(namespace="gateway")


class _Timed:
    """A method's handler, timed; the histogram child is bound on first use (a method never
    called adds no series to the scrape)."""

    __slots__ = ("_child", "_histogram", "_metrics", "_name", "_spec")

    def __init__(self, spec: MethodSpec, metrics: GatewayMetrics) -> None:
        self._spec = spec
        self._name = spec.name
        self._metrics = metrics
        self._histogram: Histogram = metrics.rpc_handler_seconds
        self._child: Any = None

    def __call__(self, call: MethodCall) -> Any:
        start = perf_counter()
        spec = self._spec
        if spec.params is not None:
            try:
                spec.check_params(call.params)
            except GatewayError:
                self._finished(start, "invalid_params")
                raise
        try:
            result = spec.handler(call)
        except GatewayError:
            self._finished(start, "error")
            raise
        except Exception:
            self._finished(start, "failed")
            raise
        if type(result) in _PLAIN or not inspect.isawaitable(result):
            child = self._child
            if child is None:
                child = self._child = self._histogram.labels(self._name)
            child.observe(perf_counter() - start)
            return result
        if isinstance(result, Deferred):
            deferred: Deferred[Any] = result
        elif inspect.iscoroutine(result):
            deferred = Deferred.fromCoroutine(result)
        else:  # another awaitable: timed to its dispatch only
            self._finished(start, None)
            return result
        deferred.addBoth(self._settled, start)
        return deferred

    def _settled(self, result: Any, start: float) -> Any:
        outcome = None
        if isinstance(result, Failure):
            if result.check(GatewayError):
                outcome = "error"
            elif result.check(CancelledError):
                outcome = "cancelled"
            else:
                outcome = "failed"
        self._finished(start, outcome)
        return result

    def _finished(self, start: float, outcome: str | None) -> None:
        child = self._child
        if child is None:
            child = self._child = self._histogram.labels(self._name)
        child.observe(perf_counter() - start)
        if outcome is not None:
            self._metrics.rpc_errors.labels(self._name, outcome).inc()


def meter_registry(registry: MethodRegistry, metrics: GatewayMetrics) -> MethodRegistry:
    """The same methods, timed (see the module docstring)."""
    unknown = metrics.rpc_unknown

    def fallback_scope(name: str) -> str | None:
        # Asked only for methods the registry does not have.
        unknown.inc()
        return registry.required_scope(name)

    return MethodRegistry(
        [attrs.evolve(spec, handler=_Timed(spec, metrics), params=None) for spec in registry],
        fallback_scope=fallback_scope)


# -- HTTP ----------------------------------------------------------------------------------

_ROUTES: Final = {
    path: path.decode("ascii") for path in (
        b"/health", b"/healthz", b"/ready", b"/readyz", b"/startupz", b"/v1/chat/completions",
        b"/v1/responses", b"/v1/models", b"/v1/embeddings", b"/tools/invoke",
        b"/api/diagnostics/prometheus")
}


def route_of(path: bytes) -> str:
    """A bounded route name for a request path."""
    route = _ROUTES.get(path)
    if route is not None:
        return route
    if path.startswith(b"/v1/models/"):
        return "/v1/models/{id}"
    if path.startswith(b"/hooks/") or path == b"/hooks":
        return "/hooks"
    if path.startswith(b"/sessions/"):
        if path.endswith(b"/history"):
            return "/sessions/{key}/history"
        if path.endswith(b"/kill"):
            return "/sessions/{key}/kill"
    if path.startswith(b"/v1/"):
        return "/v1/other"
    return "other"  # the Control UI, and whatever is not found


class HttpMetrics:
    """The Site's finished-request hook: one counter increment per request."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._counter = metrics.http_requests
        self._children: dict[tuple[str, int], Any] = {}

    def __call__(self, request: Request) -> None:
        key = (route_of(request.path), int(request.code))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._counter.labels(key[0], str(key[1]))
        child.inc()


# -- agent runs, reloads, auth -------------------------------------------------------------

_OUTCOMES: Final = frozenset({"ok", "error", "aborted", "timeout"})
_TRIGGERS: Final = frozenset({"agent", "chat", "http", "tool"})


class RunMetrics:
    """A runtime observer (``AgentRuntime.observers``): outcome, duration, tokens."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def run_event(self, handle: Any, event: dict[str, Any]) -> None:
        pass

    def run_finished(self, handle: Any, result: Any) -> None:
        metrics = self._metrics
        policies = metrics.labels
        request = getattr(handle, "request", None)
        channel = policies.channel(getattr(request, "channel", None))
        kind = getattr(request, "kind", None)
        trigger = kind if kind in _TRIGGERS else "other"
        outcome = result.status if result.status in _OUTCOMES else "other"
        provider = policies.provider(result.provider)
        model = policies.model(result.model)
        metrics.run_completed.labels(channel, model, outcome, provider, trigger).inc()
        metrics.run_duration.labels(channel, model, outcome, provider, trigger).observe(
            result.duration_ms / 1000.0)
        usage = result.usage
        agent = policies.agent(result.agent_id)
        for token_type, count in (("input", usage.input), ("output", usage.output),
                                  ("cache_read", usage.cache_read),
                                  ("cache_write", usage.cache_write)):
            if count:
                metrics.model_tokens.labels(agent, channel, model, provider, token_type).inc(
                    count)


class ReloadMetrics:
    """A reload coordinator observer: passes by outcome."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def reload_started(self, source: str) -> None:
        pass

    def reload_finished(self, outcome: str) -> None:
        self._metrics.config_reloads.labels(self._metrics.labels.reason(outcome)).inc()


class AuthMetrics:
    """The auth rate limiter's observer: failures, lock-outs, refusals by scope."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def _scope(self, scope: str) -> str:
        # Browser-origin scopes carry the origin: the kind is the label, never the origin.
        return self._metrics.labels.scope(scope.split(":", 1)[0])

    def auth_failed(self, scope: str) -> None:
        self._metrics.auth_failures.labels(self._scope(scope)).inc()

    def locked_out(self, scope: str) -> None:
        self._metrics.auth_lockouts.labels(self._scope(scope)).inc()

    def refused(self, scope: str) -> None:
        self._metrics.auth_rate_limited.labels(self._scope(scope)).inc()


# -- live state ----------------------------------------------------------------------------


def sources_of(tree: Any) -> LiveSources:
    """Where a scrape reads the running tree (a ``GatewayService``, duck-typed)."""
    factory = tree.web.ws_factory
    runtime = tree.agents.runtime
    reactor = tree.reactor

    def session_runs() -> tuple[int, int]:
        running = sum(1 for handle in list(runtime.active.values())
                      if getattr(handle, "state", "") == "running")
        lanes = getattr(runtime, "_lanes", {})
        queued = sum(len(getattr(lane, "pending", ())) for lane in list(lanes.values()))
        return running, queued

    def store_queue() -> int:
        writer = getattr(getattr(tree.store, "store", None), "writer", None)
        queue = getattr(writer, "_queue", None)
        return int(queue.qsize()) if queue is not None else 0

    def thread_pool() -> tuple[int, int, int]:
        pool = getattr(reactor, "threadpool", None)  # None until first used: not made here
        if pool is None:
            return 0, 0, 0
        return int(pool.workers), len(pool.working), int(pool._queue.qsize())

    def channel_accounts() -> list[tuple[str, dict[str, Any]]]:
        channels = getattr(tree, "channels", None)
        if channels is None:
            return []
        rows = []
        for account in channels.accounts():
            try:
                rows.append((str(account.meta.id), dict(account.snapshot())))
            except Exception:
                # one broken account must not break the scrape; the log says which
                log.failure("metrics: snapshot of channel account {account} failed",
                            account=getattr(account, "account_id", "?"))
                continue
        return rows

    def generation() -> int:
        supervisor = getattr(tree, "supervisor", None)
        return int(getattr(supervisor, "generation", 1) or 1)

    return LiveSources(
        connection_roles=lambda: [c.role for c in list(factory.connections.values())],
        pending_connections=lambda: len(factory.live) - len(factory.connections),
        rpc_in_flight=factory.context.active_requests,
        session_runs=session_runs,
        store_queue=store_queue,
        thread_pool=thread_pool,
        channel_accounts=channel_accounts,
        generation=generation,
    )


def instrument_tree(tree: Any, metrics: GatewayMetrics) -> None:
    """Hook ``metrics`` into a freshly built tree (a ``GatewayService``, duck-typed); the
    RPC registry was metered when the WebSocket factory was built."""
    context = tree.web.ws_factory.context
    tree.agents.runtime.observers.append(RunMetrics(metrics))
    reload_runtime = getattr(tree.config, "reload", None)
    if reload_runtime is not None:
        reload_runtime.coordinator.observers.append(ReloadMetrics(metrics))
    context.rate_limiter.observer = AuthMetrics(metrics)
    context.event_loop.on_sample = metrics.observe_event_loop
    tree.web.site.on_finished = HttpMetrics(metrics)
