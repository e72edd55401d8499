"""System family: ``health``, ``status``, ``system-presence``, ``last-heartbeat``,
``gateway.identity.get`` (payload shapes as recorded from openclaw 2026.9.6)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from openclaw.gateway.methods.base import MethodCall
from openclaw.gateway.protocol import config_view
from openclaw.gateway.protocol.frames import RawJson
from openclaw.gateway.protocol.scopes import ADMIN

if TYPE_CHECKING:
    from openclaw.gateway.protocol.context import GatewayContext

DEFAULT_HEARTBEAT_EVERY: Final = "30m"
DEFAULT_HEARTBEAT_PROMPT: Final = (
    "Follow the heartbeat monitor scratch context when provided. Recurring tasks are "
    "automations; create or change their schedules with the automations tool, not heartbeat "
    "scratch. Do not infer or repeat old tasks from prior chats. If nothing needs attention, "
    "reply NO_REPLY."
)
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


def _snapshot(context: GatewayContext) -> Any:
    try:
        return context.get_config()
    except Exception:
        return None


def heartbeat_settings(snapshot: Any, agent: config_view.AgentView) -> dict[str, Any]:
    """``agents.defaults.heartbeat`` merged with the agent's own ``heartbeat``."""
    config, parsed = config_view.field(snapshot, "config"), config_view.field(snapshot, "parsed")
    defaults = config_view.path(config, "agents", "defaults", "heartbeat")
    if defaults is None:
        defaults = config_view.path(parsed, "agents", "defaults", "heartbeat")
    every = config_view.field(defaults, "every") or DEFAULT_HEARTBEAT_EVERY
    every_text = str(every)
    every_ms = parse_duration_ms(every_text)
    enabled = every_ms is not None and config_view.field(defaults, "enabled", True) is not False
    return {
        "enabled": enabled,
        "every": every_text,
        "everyMs": every_ms,
        "prompt": str(config_view.field(defaults, "prompt") or DEFAULT_HEARTBEAT_PROMPT),
        "target": str(config_view.field(defaults, "target") or "owner"),
        "ackMaxChars": int(config_view.field(defaults, "ack_max_chars") or 300),
    }


def sessions_store_path(context: GatewayContext, agent_id: str) -> str:
    return str(Path(context.state_dir) / "agents" / agent_id / "sessions" / "sessions.json")


def collect_health(context: GatewayContext) -> dict[str, Any]:
    """The ``HealthSummary`` (``durationMs`` is filled in by :class:`HealthState`)."""
    snapshot = _snapshot(context)
    default_id, agents = config_view.agents(snapshot)
    agent_rows: list[dict[str, Any]] = []
    for agent in agents:
        agent_rows.append({
            "agentId": agent.id,
            "isDefault": agent.is_default,
            "heartbeat": heartbeat_settings(snapshot, agent),
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
        "channels": {},
        "channelOrder": [],
        "channelLabels": {},
        "heartbeatSeconds": (heartbeat_ms or 0) // 1000,
        "defaultAgentId": default_id,
        "agents": agent_rows,
        "sessions": dict(default_row["sessions"]),
        "modelRuntime": {"degraded": False, "pendingAgents": []},
        "eventLoop": context.event_loop.snapshot(),
    }


def health(call: MethodCall) -> RawJson:
    """Cached summary, pre-encoded: the hot path answers with stored bytes."""
    probe = call.param_map.get("probe") is True
    return call.context.health.cached_payload(probe=probe)


def _process_memory() -> dict[str, int]:
    try:
        with open("/proc/self/statm", "rb") as handle:
            fields = handle.read().split()
        return {"rssBytes": int(fields[1]) * os.sysconf("SC_PAGE_SIZE")}
    except (OSError, ValueError, IndexError):
        import resource

        return {"rssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def status(call: MethodCall) -> dict[str, Any]:
    context = call.context
    params = call.param_map
    include_sensitive = ADMIN in call.session.scopes
    snapshot = _snapshot(context)
    default_id, agents = config_view.agents(snapshot)
    heartbeat_agents = []
    by_agent = []
    for agent in agents:
        settings = heartbeat_settings(snapshot, agent)
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
    model = config_view.default_model(snapshot) if include_sensitive else None
    payload: dict[str, Any] = {"runtimeVersion": context.version}
    if params.get("includeCliProjection") is True:
        ownership = config_view.agent_ownership(snapshot, agents)
        payload["cliProjection"] = {
            "agents": {
                "defaultId": None if ownership == "explicit" else default_id,
                "ownership": ownership,
                "selectionRequired": ownership == "explicit",
                "rows": [{"id": a.id, **({"name": a.name} if a.name else {})} for a in agents],
            },
            "updateChannel": None,
            "memoryPlugin": {"enabled": False},
        }
    payload.update({
        "heartbeat": {"defaultAgentId": default_id, "agents": heartbeat_agents},
        "channelSummary": [],
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
        "processMemory": _process_memory(),
        "pid": os.getpid(),
    })
    return payload


def system_presence(call: MethodCall) -> list[dict[str, Any]]:
    return call.context.presence.list()


def last_heartbeat(call: MethodCall) -> dict[str, Any] | None:
    return call.context.last_heartbeat


def gateway_identity(call: MethodCall) -> dict[str, str]:
    identity = call.context.identity
    return {"deviceId": identity.device_id, "publicKey": identity.public_key}
