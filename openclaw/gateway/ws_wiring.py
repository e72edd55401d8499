"""Builds the WebSocket control plane for a GatewayService from its plan.

The protocol package knows nothing of the config package: this module turns the resolved
plan (auth, trusted proxies, origins, rate limits) into the protocol's own settings, and
returns the resource to mount plus the factory the web service starts and stops.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from autobahn.twisted.resource import WebSocketResource

from openclaw import __version__
from openclaw.auth.preauth import PreauthBudget, preauth_limit_from_env
from openclaw.gateway.protocol.context import GatewayContext
from openclaw.gateway.protocol.factory import GatewayWebSocketFactory, make_ws_factory
from openclaw.gateway.startup import auth_settings_for

if TYPE_CHECKING:
    from openclaw.gateway.service import GatewayService


def build_websocket(gateway: GatewayService) -> tuple[Any, GatewayWebSocketFactory]:
    plan = gateway.plan
    context = GatewayContext.create(
        clock=gateway.reactor,
        version=__version__,
        state_dir=plan.paths.state_dir,  # type: ignore[arg-type]
        get_config=gateway.config.current,
        auth=auth_settings_for(plan),
        log_file=lambda: gateway.logs.current_log_path,
        local_addresses=frozenset(a.host for a in plan.listen),
        instance_id=f"gw-{os.getpid()}",
    )
    # the per-IP pre-auth budget of every WebSocket on the port (read from the gateway's env)
    context.preauth_budget = PreauthBudget(preauth_limit_from_env(gateway.env))
    context.shutdown_budget = lambda: shutdown_budget(gateway)
    context.worker_pools = lambda: worker_pools(gateway)
    from openclaw.gateway.methods.agent import AgentGateway
    from openclaw.gateway.methods.registry import agent_method_specs, build_registry
    from openclaw.gateway.methods.system import collect_health

    context.health.collector = lambda: collect_health(context)
    bridge = AgentGateway(gateway.agents.runtime, context)
    gateway.agent_gateway = bridge
    registry = build_registry(agent_method_specs(bridge))
    if gateway.metrics_enabled:
        from openclaw.gateway.metrics import meter_registry

        registry = meter_registry(registry, gateway.metrics)
    factory = make_ws_factory(context, registry)
    factory.noisy = False
    return WebSocketResource(factory), factory


def shutdown_budget(gateway: GatewayService) -> dict[str, Any]:
    """``status.shutdownBudget`` from the tree: ``stopService`` drains WebSockets for
    ``stop_timeout_s`` and gives up one second later; the work a stop waits for."""
    reload = getattr(gateway.config, "reload", None)
    lock = getattr(reload, "write_lock", None)
    return {
        "timeoutMs": round((gateway.stop_timeout_s + 1.0) * 1000),
        "reserveMs": 1000,
        "nativeStopBudget": False,
        "activeWork": {
            "sessionMutations": _writer_facts(gateway)["pendingTasks"],
            "lifecycleWrites": 1 if lock is not None and lock.locked else 0,
        },
        "writeCustody": [],
    }


def worker_pools(gateway: GatewayService) -> dict[str, Any]:
    return {"transcriptReconciliation": _writer_facts(gateway)}


def _writer_facts(gateway: GatewayService) -> dict[str, int]:
    """The durable writer thread (transcripts, session indexes): one worker, its queue."""
    store = getattr(getattr(gateway, "store", None), "store", None)
    writer = getattr(store, "writer", None)
    thread = getattr(writer, "_thread", None)
    queue = getattr(writer, "_queue", None)
    pending = queue.qsize() if queue is not None else 0
    alive = thread is not None and thread.is_alive()
    return {"maxWorkers": 1 if thread is not None or queue is not None else 0,
            "workers": 1 if alive else 0, "workersCreated": 1 if thread is not None else 0,
            "activeTasks": 1 if alive and pending else 0, "pendingTasks": pending}
