"""System family: ``health``, ``status``, ``system-presence``, ``last-heartbeat``,
``gateway.identity.get``, ``update.status`` (payload shapes as recorded from openclaw
2026.9.6)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from openclaw.auth.scopes import ADMIN
from openclaw.config.schema import AgentsConfig, DesktopConfig
from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.frames import RawJson
from openclaw.gateway.status import vitals

if TYPE_CHECKING:
    from openclaw.gateway.protocol.context import GatewayContext

DEFAULT_HEARTBEAT_EVERY: Final = "30m"
DEFAULT_HEARTBEAT_PROMPT: Final = (
    "Follow the heartbeat monitor scratch context when provided. Recurring tasks are "
    "automations; create or change their schedules with the automations tool, not heartbeat "
    "scratch. Do not infer or repeat old tasks from prior chats. If nothing needs attention, "
    "reply NO_REPLY."
)
DEFAULT_HEARTBEAT_ACK_MAX_CHARS: Final = 300
_UNITS_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int | None:
    """``30m`` / ``1h30m`` / ``45s`` / ``500ms`` → milliseconds."""
    import re

    value = text.strip().lower()
    if not value:
        return None
    if value.isdigit():
        return int(value) * 60_000
    total = 0
    position = 0
    for match in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", value):
        if match.start() != position:
            return None
        total += int(float(match.group(1)) * _UNITS_MS[match.group(2)])
        position = match.end()
    return total if position == len(value) and total > 0 else None


def heartbeat_settings(agents: AgentsConfig, agent_id: str) -> dict[str, Any]:
    """``agents.defaults.heartbeat`` merged with the agent's own ``heartbeat``."""
    heartbeat = agents.heartbeat_for(agent_id)
    every_text = heartbeat.every or DEFAULT_HEARTBEAT_EVERY
    every_ms = parse_duration_ms(every_text)
    return {
        "enabled": every_ms is not None,
        "every": every_text,
        "everyMs": every_ms,
        "prompt": heartbeat.prompt or DEFAULT_HEARTBEAT_PROMPT,
        "target": heartbeat.target or "owner",
        "ackMaxChars": DEFAULT_HEARTBEAT_ACK_MAX_CHARS,
    }


def sessions_store_path(context: GatewayContext, agent_id: str) -> str:
    return str(Path(context.state_dir) / "agents" / agent_id / "sessions" / "sessions.json")


def collect_health(context: GatewayContext) -> dict[str, Any]:
    """The ``HealthSummary`` (``durationMs`` is filled in by :class:`HealthState`)."""
    agents = context.get_config().config.agents
    default_id = agents.default_agent_id
    agent_rows: list[dict[str, Any]] = []
    for agent in agents.roster:
        agent_rows.append({
            "agentId": agent.id,
            "isDefault": agent.id == default_id,
            "heartbeat": heartbeat_settings(agents, agent.id),
            "sessions": {"path": sessions_store_path(context, agent.id), "count": 0,
                         "recent": []},
        })
    default_row = next((row for row in agent_rows if row["agentId"] == default_id), agent_rows[0])
    heartbeat_ms = default_row["heartbeat"]["everyMs"]
    return {
        "ok": True,
        "ts": context.now_ms(),
        "durationMs": 0,
        "plugins": {"loaded": [], "errors": [], "unavailable": []},
        "configReload": {"hotReloadStatus": "active"},
        **_channel_health(context),
        "heartbeatSeconds": (heartbeat_ms or 0) // 1000,
        "defaultAgentId": default_id,
        "agents": agent_rows,
        "sessions": dict(default_row["sessions"]),
        "modelRuntime": {"degraded": False, "pendingAgents": []},
        "eventLoop": context.event_loop.snapshot(),
    }


def _channel_summary(context: GatewayContext) -> list[str]:
    """``channelSummary``: one line per configured channel, its accounts below."""
    from openclaw.channels.summary import summary_lines

    try:
        return summary_lines(context.get_config(), {})
    except Exception:
        from twisted.logger import Logger

        Logger(namespace="gateway").failure("status: channel summary failed")
        return []


def _channel_health(context: GatewayContext) -> dict[str, Any]:
    channels = context.channels
    if channels is None:
        return {"channels": {}, "channelOrder": [], "channelLabels": {}}
    fields: dict[str, Any] = channels.health_fields()
    return fields


def health(call: MethodCall) -> RawJson:
    """Cached summary, pre-encoded: the hot path answers with stored bytes."""
    probe = call.param_map.get("probe") is True
    return call.context.health.cached_payload(probe=probe)


DEFAULT_HOST_DESKTOP_PORT: Final = 5900
# Without the gateway's own figures (bare protocol tests): its defaults, 5 s drain + 1 s.
DEFAULT_STOP_BUDGET_MS: Final = 6000
DEFAULT_STOP_RESERVE_MS: Final = 1000
SHUTDOWN_WORK_KEYS: Final = ("rootRequests", "cronRuns", "sessionMutations",
                             "terminalPersistence", "lifecycleWrites")


def host_desktop(desktop: DesktopConfig) -> dict[str, Any]:
    """``hostDesktop``: this gateway has no Desktop lab (VNC bridge). It is ``disabled`` unless
    ``desktop.host.enabled`` is true, and then ``unavailable`` (upstream's answer where the
    lab cannot run), on ``desktop.host.port`` (5900)."""
    host = desktop.host
    enabled = host is not None and host.enabled
    port = host.port if host is not None and host.port else DEFAULT_HOST_DESKTOP_PORT
    return {"enabled": enabled, "state": "unavailable" if enabled else "disabled", "port": port}


def pool_facts(max_workers: int = 0, workers: int = 0, created: int = 0, active: int = 0,
               pending: int = 0) -> dict[str, int]:
    return {"maxWorkers": max_workers, "workers": workers, "workersCreated": created,
            "activeTasks": active, "pendingTasks": pending}


def reactor_thread_pool(reactor: Any) -> dict[str, int]:
    """Twisted's reactor thread pool (``deferToThread``: blocking file reads, ...)."""
    pool = getattr(reactor, "threadpool", None)
    if pool is None:
        return pool_facts()
    try:
        return pool_facts(int(pool.max), int(pool.workers), len(pool.threads),
                          len(pool.working), int(pool.q.qsize()))
    except AttributeError:  # another reactor's pool without these counters
        return pool_facts()


def worker_pools(context: GatewayContext) -> dict[str, Any]:
    """``workerPools``: upstream's two worker-thread pools, mapped onto ours (the gateway
    wiring supplies ``transcriptReconciliation``: the durable transcript writer thread), plus
    the reactor thread pool."""
    provided = context.worker_pools() if context.worker_pools is not None else {}
    return {
        "transcriptReconciliation": provided.get("transcriptReconciliation") or pool_facts(),
        # the model catalog is built on the reactor thread: no worker pool
        "modelCatalog": provided.get("modelCatalog") or pool_facts(),
        "reactorThreadPool": provided.get("reactorThreadPool")
        or reactor_thread_pool(context.clock),
    }


def shutdown_budget(context: GatewayContext) -> dict[str, Any]:
    """``shutdownBudget``: how long a stop may take and what work it would wait for."""
    provided = dict(context.shutdown_budget()) if context.shutdown_budget is not None else {}
    work = dict.fromkeys(SHUTDOWN_WORK_KEYS, 0)
    work.update(provided.get("activeWork") or {})
    work["rootRequests"] = max(int(work["rootRequests"]), context.active_requests())
    return {
        "timeoutMs": int(provided.get("timeoutMs", DEFAULT_STOP_BUDGET_MS)),
        "reserveMs": int(provided.get("reserveMs", DEFAULT_STOP_RESERVE_MS)),
        "nativeStopBudget": bool(provided.get("nativeStopBudget", False)),
        "activeWork": work,
        "writeCustody": list(provided.get("writeCustody") or ()),
    }


def status(call: MethodCall) -> dict[str, Any]:
    context = call.context
    params = call.param_map
    include_sensitive = ADMIN in call.session.scopes
    config = context.get_config().config
    agents = config.agents
    default_id = agents.default_agent_id
    heartbeat_agents = []
    by_agent = []
    for agent in agents.roster:
        settings = heartbeat_settings(agents, agent.id)
        heartbeat_agents.append({
            "agentId": agent.id,
            "enabled": settings["enabled"],
            "every": settings["every"],
            "everyMs": settings["everyMs"],
            "waitingForRoute": settings["enabled"],
        })
        by_agent.append({
            "agentId": agent.id,
            "path": sessions_store_path(context, agent.id) if include_sensitive else "[redacted]",
            "count": 0,
            "recent": [],
        })
    default_model = agents.defaults.model.primary if agents.defaults.model else None
    model = default_model if include_sensitive else None
    payload: dict[str, Any] = {"runtimeVersion": context.version}
    if params.get("includeCliProjection") is True:
        ownership = agents.ownership_kind
        payload["cliProjection"] = {
            "agents": {
                "defaultId": None if ownership == "explicit" else default_id,
                "ownership": ownership,
                "selectionRequired": ownership == "explicit",
                "rows": [{"id": a.id, **({"name": a.name} if a.name else {})}
                         for a in agents.roster],
            },
            "updateChannel": None,
            "memoryPlugin": {"enabled": False},
        }
    payload.update({
        "hostDesktop": host_desktop(config.desktop),
        "heartbeat": {"defaultAgentId": default_id, "agents": heartbeat_agents},
        "channelSummary": _channel_summary(context) if params.get(
            "includeChannelSummary") is not False else [],
        "queuedSystemEvents": [],
        "degradedSecretOwners": [],
        "degradedPlugins": [],
        "tasks": {
            "total": 0, "active": 0, "terminal": 0, "failures": 0,
            "byStatus": {key: 0 for key in ("queued", "running", "succeeded", "failed",
                                            "timed_out", "cancelled", "lost")},
            "byRuntime": {key: 0 for key in ("subagent", "acp", "cli", "cron")},
        },
        "taskAudit": {
            "total": 0, "warnings": 0, "errors": 0,
            "byCode": {key: 0 for key in ("stale_queued", "stale_running", "lost",
                                          "delivery_failed", "missing_cleanup",
                                          "inconsistent_timestamps")},
        },
        "sessions": {
            "paths": [row["path"] for row in by_agent] if include_sensitive else [],
            "count": 0,
            "defaults": {"model": model, "contextTokens": None},
            "recent": [],
            "byAgent": by_agent,
        },
        "modelRuntime": {"degraded": False, "pendingAgents": []},
        "eventLoop": context.event_loop.snapshot(),
        "processMemory": vitals.process_memory(),
        "workerPools": worker_pools(context),
        "pid": os.getpid(),
        "shutdownBudget": shutdown_budget(context),
    })
    return payload


def system_presence(call: MethodCall) -> list[dict[str, Any]]:
    return call.context.presence.list()


def last_heartbeat(call: MethodCall) -> dict[str, Any] | None:
    return call.context.last_heartbeat


def update_status(call: MethodCall) -> dict[str, Any]:
    """``update.status``: the installed version on the stable channel; this gateway neither
    checks for nor applies updates (``updateAvailable: null``, no runs, auto-update off)."""
    return {"sentinel": None, "updateAvailable": None, "effectiveChannel": "stable",
            "schedule": {"channel": "stable", "autoEnabled": False,
                         "install": {"kind": "package"}}}


def gateway_identity(call: MethodCall) -> dict[str, str]:
    identity = call.context.identity
    return {"deviceId": identity.device_id, "publicKey": identity.public_key}
