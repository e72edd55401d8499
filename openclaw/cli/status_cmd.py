"""``openclaw status``: a local read-only diagnosis with the gateway's own ``status`` merged in.

Connects like the real CLI (``gateway-client``/``backend``, ``operator.read``) and asks
``status`` with ``{"includeChannelSummary": false}``; when the gateway cannot be reached the
same sections are computed locally from the config and state dir. Either way the CLI adds
``os``, ``update``, ``gateway`` (mode, url, reachability), ``gatewayService``, ``nodeService``,
``agents`` and ``secretDiagnostics``. ``--deep`` also asks a live ``health`` with
``{"probe": true}``. Exit 0 whether or not the gateway is reachable (the report says so);
1 only for an unexpected failure.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import textwrap
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from openclaw import __version__
from openclaw.cli.common import write_json
from openclaw.cli.options import JSON, Command, InvalidValue, Option, command_failed, run_parse

if TYPE_CHECKING:
    from openclaw.client.target import ClientConfig
    from openclaw.config.paths import OpenClawPaths

DEFAULT_TIMEOUT_MS = 10_000
MANAGER_UNAVAILABLE = ("No supported service manager detected. Restart the Gateway you launched "
                       "manually after the update.")

STATUS = Command(
    usage="openclaw status [options]",
    description="Show channel health and recent session recipients",
    options=(
        JSON,
        Option("--all", "Full diagnosis (read-only, pasteable)"),
        Option("--deep", "Probe the running gateway live (health with probe)"),
        Option("--usage", "Show model provider usage/quota snapshots"),
        Option("--timeout", f"Probe timeout in milliseconds (default {DEFAULT_TIMEOUT_MS})",
               "<ms>"),
        Option("--verbose", "Verbose logging"),
        Option("--debug", "Alias for --verbose"),
    ),
)


def _zero_tasks() -> dict[str, Any]:
    return {"total": 0, "active": 0, "terminal": 0, "failures": 0,
            "byStatus": {k: 0 for k in ("queued", "running", "succeeded", "failed",
                                        "timed_out", "cancelled", "lost")},
            "byRuntime": {k: 0 for k in ("subagent", "acp", "cli", "cron")}}


def _zero_audit() -> dict[str, Any]:
    return {"total": 0, "warnings": 0, "errors": 0,
            "byCode": {k: 0 for k in ("stale_queued", "stale_running", "lost",
                                      "delivery_failed", "missing_cleanup",
                                      "inconsistent_timestamps")}}


def local_agents(config: ClientConfig, state_dir: str, workspace: str) -> list[dict[str, Any]]:
    """Configured agents (``agents.entries`` / legacy ``agents.list``), else ``main``."""
    entries = config.get("agents.entries")
    agents: list[dict[str, Any]] = []
    if isinstance(entries, Mapping):
        for agent_id, entry in entries.items():
            entry = entry if isinstance(entry, Mapping) else {}
            agents.append({"id": str(agent_id), "default": bool(entry.get("default")),
                           "workspace": entry.get("workspace")})
    legacy = config.get("agents.list")
    if not agents and isinstance(legacy, list):
        for entry in legacy:
            if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                agents.append({"id": entry["id"], "default": bool(entry.get("default")),
                               "workspace": entry.get("workspace")})
    if not agents:
        agents = [{"id": "main", "default": True, "workspace": None}]
    if not any(a["default"] for a in agents):
        agents[0]["default"] = True
    default_workspace = config.get("agents.defaults.workspace") or workspace
    for agent in agents:
        path = os.path.join(state_dir, "agents", agent["id"], "sessions", "sessions.json")
        agent["sessionsPath"] = path
        agent["sessionsCount"] = _count_sessions(path)
        agent["workspace"] = agent["workspace"] or default_workspace
    return agents


def _count_sessions(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return 0
    return len(data) if isinstance(data, dict) else 0


def _service_block(env: Mapping[str, str], state_dir: str) -> dict[str, Any]:
    from openclaw.daemon import ServiceManagerUnavailable, service_manager

    manager = service_manager(env, state_dir=state_dir)
    try:
        loaded = manager.is_loaded()
    except ServiceManagerUnavailable:
        detail = MANAGER_UNAVAILABLE
        return {
            "label": "no supported service manager detected", "installed": False,
            "loadState": {"status": "not-loaded"}, "managedByOpenClaw": False,
            "externallyManaged": False, "loadedText": manager.not_loaded_text,
            "runtime": {"status": "unknown", "inspectionReason": "service-manager-unavailable",
                        "detail": f"{detail}; retry with openclaw status --deep",
                        "inspectionFailure": {"code": "service-runtime-inspection-failed",
                                              "detail": detail}},
            "loaded": False, "runtimeShort": "unknown",
        }
    command = manager.read_command()
    runtime = manager.read_runtime()
    return {
        "label": manager.label, "installed": command is not None,
        "loadState": {"status": "loaded" if loaded else "not-loaded"},
        "managedByOpenClaw": bool(command and command.environment.get(
            "OPENCLAW_SERVICE_MARKER") == "openclaw"),
        "externallyManaged": (env.get("OPENCLAW_SUPERVISOR_MODE") or "") == "external",
        "loadedText": manager.loaded_text if loaded else manager.not_loaded_text,
        "runtime": runtime.to_json(), "loaded": loaded, "runtimeShort": runtime.short,
    }


def _node_service() -> dict[str, Any]:
    return {"label": "node service", "installed": False, "loadState": {"status": "not-loaded"},
            "managedByOpenClaw": False, "externallyManaged": False,
            "loadedText": "not installed", "runtime": {"status": "unknown"}, "loaded": False,
            "runtimeShort": "unknown"}


def gather(env: MutableMapping[str, str], *, deep: bool, timeout_ms: int) -> dict[str, Any]:
    from openclaw.client import GatewayClientError, GatewayConnection, backend_identity
    from openclaw.client.target import ClientConfig, resolve_target
    from openclaw.config.paths import resolve_paths

    paths = resolve_paths(env)
    config = ClientConfig.load(paths.config_path, env, paths.home)
    agents = local_agents(config, paths.state_dir, paths.default_workspace)
    default_id = next(a["id"] for a in agents if a["default"])
    target = resolve_target(env, config)
    reachable = False
    error: str | None = None
    latency: int | None = None
    payload: dict[str, Any] | None = None
    health: Any = None
    try:
        with GatewayConnection(target, backend_identity("status"), timeout_ms=timeout_ms) as conn:
            latency = conn.connect_latency_ms
            reachable = True
            answer = conn.request("status", {"includeChannelSummary": False})
            payload = answer if isinstance(answer, dict) else {}
            if deep:
                health = conn.request("health", {"probe": True})
    except GatewayClientError as e:
        error = getattr(e, "reason", None) or str(e)
    if payload is None:
        sessions_by_agent = [{"agentId": a["id"], "path": a["sessionsPath"],
                              "count": a["sessionsCount"], "recent": []} for a in agents]
        payload = {
            "runtimeVersion": __version__,
            "hostDesktop": {"enabled": False, "state": "disabled", "port": 5900},
            "heartbeat": {"defaultAgentId": default_id, "agents": [
                {"agentId": a["id"], "enabled": True, "every": "30m", "everyMs": 1_800_000,
                 "waitingForRoute": True} for a in agents]},
            "channelSummary": [],
            "queuedSystemEvents": [],
            "degradedSecretOwners": [],
            "degradedPlugins": [],
            "tasks": _zero_tasks(),
            "taskAudit": _zero_audit(),
            "sessions": {"paths": [a["sessionsPath"] for a in agents],
                         "count": sum(a["sessionsCount"] for a in agents),
                         "defaults": {"model": None, "contextTokens": None},
                         "recent": [], "byAgent": sessions_by_agent},
        }
    status: dict[str, Any] = dict(payload)
    uname = platform.uname()
    arch = {"x86_64": "x64", "aarch64": "arm64", "AMD64": "x64"}.get(uname.machine,
                                                                     uname.machine)
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(uname.system,
                                                                            uname.system.lower())
    status["os"] = {"platform": system, "arch": arch, "release": uname.release,
                    "label": f"{system} {uname.release} ({arch})"}
    import openclaw

    status["update"] = {"root": os.path.dirname(os.path.abspath(openclaw.__file__)),
                        "installKind": "package", "packageManager": "pip",
                        "deps": {"manager": "pip", "status": "unknown", "lockfilePath": None,
                                 "markerPath": None, "reason": "not checked"}}
    status["updateChannel"] = "stable"
    status["updateChannelSource"] = "default"
    status["memory"] = None
    status["memoryPlugin"] = {"enabled": False}
    status["gateway"] = {
        "mode": config.mode or "local", "url": target.url,
        "urlSource": target.connection.url_source,
        "misconfigured": target.connection.remote_fallback_note is not None,
        "reachable": reachable, "connectLatencyMs": latency, "self": None, "error": error,
        "authWarning": None,
    }
    status["gatewayService"] = _service_block(env, paths.state_dir)
    status["nodeService"] = _node_service()
    status["agents"] = {
        "defaultId": default_id, "ownership": "sole", "selectionRequired": False,
        "agents": [{"id": a["id"], "workspaceDir": a["workspace"],
                    "bootstrapPending": not os.path.isdir(a["workspace"] or ""),
                    "sessionsPath": a["sessionsPath"], "sessionsCount": a["sessionsCount"],
                    "lastUpdatedAt": None, "lastActiveAgeMs": None} for a in agents],
        "totalSessions": sum(a["sessionsCount"] for a in agents),
        "bootstrapPendingCount": sum(1 for a in agents if not os.path.isdir(a["workspace"]
                                                                            or "")),
    }
    status["secretDiagnostics"] = []
    if reachable:
        status["collection"] = {"source": "gateway", "notCollected": [{
            "fields": ["channelSummary"],
            "reason": "Online status skips channel summaries; an empty channelSummary was not "
                      "collected. Use openclaw channels status, or openclaw channels status "
                      "--probe for live account checks."}]}
    if deep:
        status["health"] = health
    status["_config"] = config
    status["_target"] = target
    status["_channels"] = _channel_lines(env, paths)
    return status


def _channel_lines(env: Mapping[str, str], paths: OpenClawPaths) -> list[str]:
    """The Channels section, from the config (as upstream's local status scan)."""
    from openclaw.channels.summary import summary_lines
    from openclaw.config import ConfigError, load_config

    try:
        snapshot = load_config(paths.config_path, env=env, home=paths.home)
    except ConfigError:
        return []
    return summary_lines(snapshot, env)


def _table(rows: list[tuple[str, str]], width: int = 120) -> list[str]:
    key_width = max(len("Item"), *(len(k) for k, _ in rows)) + 2
    value_width = width - key_width - 3
    top = f"┌{'─' * key_width}┬{'─' * value_width}┐"
    mid = f"├{'─' * key_width}┼{'─' * value_width}┤"
    bottom = f"└{'─' * key_width}┴{'─' * value_width}┘"

    def row(key: str, value: str) -> list[str]:
        wrapped = textwrap.wrap(value, value_width - 2) or [""]
        lines = []
        for index, part in enumerate(wrapped):
            label = key if index == 0 else ""
            lines.append(f"│ {label.ljust(key_width - 1)}│ {part.ljust(value_width - 1)}│")
        return lines

    out = [top, *row("Item", "Value"), mid]
    for key, value in rows:
        out.extend(row(key, value))
    out.append(bottom)
    return out


def render(status: Mapping[str, Any], *, deep: bool) -> str:
    gateway = status["gateway"]
    service = status["gatewayService"]
    agents = status["agents"]
    target = status["_target"]
    port = target.url.rsplit(":", 1)[-1]
    reach = (f"reachable {gateway['connectLatencyMs']}ms" if gateway["reachable"]
             else f"unreachable ({gateway['error']})")
    auth = " · auth token" if target.token else (" · auth password" if target.password else "")
    runtime = service.get("runtime") or {}
    if runtime.get("inspectionReason"):
        service_value = (f"{service['label']} {service['loadedText']} (inspection failed: "
                         f"{runtime.get('detail')}) · {service['runtimeShort']}")
    else:
        installed = "installed" if service["installed"] else "not installed"
        service_value = f"{service['label']} {installed} · {service['loadedText']} · " \
                        f"{service['runtimeShort']}"
    sessions = status.get("sessions") or {}
    default_agent = agents["defaultId"]
    rows = [
        ("OS", f"{status['os']['label']} · python {platform.python_version()}"),
        ("Dashboard", f"http://127.0.0.1:{port}/"),
        ("Tailscale exposure", "off"),
        ("Channel", "stable (default)"),
        ("Update", "pip"),
        ("Gateway", f"{gateway['mode']} · {gateway['url']} ({gateway['urlSource']}) · "
                    f"{reach}{auth}"),
        ("Gateway service", service_value),
        ("Agents", f"{len(agents['agents'])} · sessions {agents['totalSessions']} · default "
                   f"{default_agent}"),
        ("Probes", "live health ok" if deep and status.get("health") else
         ("live health unavailable" if deep else "skipped (use --deep)")),
        ("Tasks", "none"),
        ("Sessions", f"{sessions.get('count', 0)} stored"),
    ]
    lines = ["OpenClaw status", "", "Overview", *_table(rows), ""]
    if deep and isinstance(status.get("health"), Mapping):
        from openclaw.cli.health_cmd import channel_lines

        lines.append("Health")
        lines.extend(channel_lines(status["health"]) or ["No channels configured"])
        lines.append("")
    lines += ["Channels", *(status.get("_channels") or ["No channels configured"]), "",
              "Sessions",
              "No sessions" if not sessions.get("count") else f"{sessions['count']} sessions",
              "", "FAQ: https://docs.openclaw.ai/faq",
              "Troubleshooting: https://docs.openclaw.ai/troubleshooting", "Next steps:",
              "  Need to share?      openclaw status --all",
              "  Need to debug live? openclaw logs --follow",
              "  Need to test channels? openclaw status --deep"]
    return "\n".join(lines) + "\n"


def status_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(STATUS, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.cli.common import parse_timeout_ms
    from openclaw.client import GatewayClientError

    try:
        timeout_ms = parse_timeout_ms(values.get("timeout"), DEFAULT_TIMEOUT_MS)
        status = gather(env, deep=bool(values["deep"]), timeout_ms=timeout_ms)
    except InvalidValue as e:
        return command_failed(str(e))
    except GatewayClientError as e:
        from openclaw.cli.common import report_client_error

        return report_client_error(e, json_mode=bool(values["json"]))
    if values["json"]:
        write_json({k: v for k, v in status.items() if not k.startswith("_")})
    else:
        sys.stdout.write(render(status, deep=bool(values["deep"])))
    return 0
