"""Prometheus metrics of the gateway (``/api/diagnostics/prometheus``).

* :mod:`.registry` -- :class:`GatewayMetrics`: every metric, in a registry of its own per
  gateway process; bounded labels; what is read at scrape time;
* :mod:`.instrument` -- the hooks that feed it (RPC dispatch, the Site, the runtime, the
  reload coordinator, the auth rate limiter, the reactor);
* :mod:`.endpoint` -- the HTTP stage, behind operator read auth.

See docs/operations.md for the metric list.
"""

from openclaw.gateway.metrics.endpoint import MetricsStage
from openclaw.gateway.metrics.instrument import instrument_tree, meter_registry, sources_of
from openclaw.gateway.metrics.registry import GatewayMetrics, LabelPolicy, LiveSources

__all__ = [
    "GatewayMetrics",
    "LabelPolicy",
    "LiveSources",
    "MetricsStage",
    "instrument_tree",
    "meter_registry",
    "sources_of",
]
