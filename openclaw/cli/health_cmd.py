"""``openclaw health``: the gateway's ``health`` RPC, as JSON or a short digest.

Always goes through the gateway (no direct channel sockets). Connects as the real CLI does
(``gateway-client``/``backend``, display name ``gateway:health``, ``operator.read``) and sends
``health`` without params (``{"probe": true}`` with ``--verbose``). Exit 0 whenever the
gateway answered -- channel problems are reported, not fatal -- and 1 when it could not be
reached or refused us.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from openclaw.cli.common import parse_timeout_ms, write_json
from openclaw.cli.options import JSON, Command, InvalidValue, Option, command_failed, run_parse

DEFAULT_TIMEOUT_MS = 10_000

HEALTH = Command(
    usage="openclaw health [options]",
    description="Fetch health from the running gateway",
    options=(
        JSON,
        Option("--timeout", f"Connection timeout in milliseconds (default {DEFAULT_TIMEOUT_MS})",
               "<ms>"),
        Option("--verbose", "Verbose logging"),
        Option("--debug", "Alias for --verbose"),
    ),
)

_UNITS_MS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def exact_duration(ms: float) -> str:
    """``formatExactDuration``: 1800000 -> ``30m``, 5400000 -> ``1h 30m``."""
    remaining = round(ms)
    parts = []
    for unit, size in _UNITS_MS:
        value, remaining = divmod(remaining, size)
        if value:
            parts.append(f"{value}{unit}")
    return " ".join(parts) or "0ms"


def _status_state(state: str) -> str:
    return {"not-linked": "not linked", "unstable": "auth stabilizing"}.get(state, state)


def _probe_line(probe: Any) -> str | None:
    if not isinstance(probe, Mapping) or not isinstance(probe.get("ok"), bool):
        return None
    if not probe["ok"]:
        status = probe.get("status") if isinstance(probe.get("status"), int) else "unknown"
        error = probe.get("error") if isinstance(probe.get("error"), str) else ""
        return f"failed ({status})" + (f" - {error}" if error else "")
    label = "ok"
    bot = probe.get("bot")
    if isinstance(bot, Mapping) and isinstance(bot.get("username"), str):
        label += f" (@{bot['username']})"
    if isinstance(probe.get("elapsedMs"), int | float):
        label += f" ({probe['elapsedMs']}ms)"
    return label


def channel_lines(summary: Mapping[str, Any]) -> list[str]:
    """One line per channel (``formatHealthChannelLines``, default-account view)."""
    channels = summary.get("channels") if isinstance(summary.get("channels"), Mapping) else {}
    assert isinstance(channels, Mapping)
    order = summary.get("channelOrder") or list(channels)
    labels = summary.get("channelLabels") if isinstance(summary.get("channelLabels"),
                                                       Mapping) else {}
    assert isinstance(labels, Mapping)
    lines = []
    for channel_id in order:
        channel = channels.get(channel_id)
        if not isinstance(channel, Mapping):
            continue
        label = labels.get(channel_id, channel_id)
        state = channel.get("statusState") if isinstance(channel.get("statusState"),
                                                         str) else None
        if channel.get("enabled") is False:
            line = "disabled"
        elif state in ("disabled", "unconfigured"):
            line = _status_state(state)
        elif channel.get("configured") is False:
            line = "not configured"
        elif state and state not in ("linked", "configured"):
            line = _status_state(state)
        elif channel.get("linked") is False:
            line = "not linked"
        else:
            probe = _probe_line(channel.get("probe"))
            if probe is not None:
                line = probe
            else:
                age = channel.get("authAgeMs")
                auth = f" (auth age {round(age / 60000)}m)" if isinstance(age, int | float) else ""
                if state:
                    line = _status_state(state) + (auth if state == "linked" else "")
                elif channel.get("linked") is True:
                    line = f"linked{auth}"
                elif channel.get("configured") is True:
                    line = "configured"
                else:
                    line = "unknown"
        lines.append(f"{label}: {line}")
    return lines


def event_loop_line(summary: Mapping[str, Any]) -> str | None:
    loop = summary.get("eventLoop")
    if not isinstance(loop, Mapping):
        return None
    degraded = bool(loop.get("degraded"))
    text = "Gateway event loop: " + ("degraded" if degraded else "ok")
    reasons = loop.get("reasons") or []
    if reasons:
        text += " reasons=" + ",".join(str(r) for r in reasons)
    text += (
        f" max={round(float(loop.get('delayMaxMs') or 0))}ms"
        f" p99={round(float(loop.get('delayP99Ms') or 0))}ms"
        f" util={_js_number(loop.get('utilization'))} cpu={_js_number(loop.get('cpuCoreRatio'))}"
    )
    return text


def _js_number(value: Any) -> str:
    """Numbers as JavaScript prints them (``0`` not ``0.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_health(summary: Mapping[str, Any], *, verbose: bool) -> list[str]:
    lines = channel_lines(summary)
    loop = event_loop_line(summary)
    if loop:
        lines.append(loop)
    reload_state = summary.get("configReload")
    if isinstance(reload_state, Mapping) and reload_state.get("hotReloadStatus") == "disabled":
        lines.append("Config hot reload: disabled (watcher retries exhausted; restart the "
                     "gateway to restore it)")
    duration = summary.get("durationMs")
    if isinstance(duration, int | float):
        lines.append(f"Gateway probe duration: {_js_number(duration)}ms")
    agents = [a for a in summary.get("agents") or [] if isinstance(a, Mapping)]
    default_id = summary.get("defaultAgentId")
    if agents:
        labels = [f"{a.get('agentId')} (default)" if a.get("isDefault") else str(a.get("agentId"))
                  for a in agents]
        lines.append(f"Agents: {', '.join(labels)}")
    shown = agents if verbose or not default_id else [
        a for a in agents if a.get("agentId") == default_id]
    beats = []
    for agent in shown:
        heartbeat = agent.get("heartbeat")
        every = heartbeat.get("everyMs") if isinstance(heartbeat, Mapping) else None
        label = exact_duration(every) if isinstance(every, int | float) and every else "disabled"
        beats.append(f"{label} ({agent.get('agentId')})")
    if beats:
        lines.append(f"Heartbeat interval: {', '.join(beats)}")
    groups: list[tuple[str | None, Any]] = [
        (str(a.get("agentId")), a.get("sessions")) for a in shown
    ] or [(None, summary.get("sessions"))]
    for agent_id, sessions in groups:
        if not isinstance(sessions, Mapping):
            continue
        label = f"Session store ({agent_id})" if agent_id else "Session store"
        lines.append(f"{label}: {sessions.get('path')} ({sessions.get('count')} entries)")
        for entry in sessions.get("recent") or []:
            if not isinstance(entry, Mapping):
                continue
            age = entry.get("age")
            when = "no activity" if age is None else f"{round(float(age) / 60000)}m ago"
            lines.append(f"- {entry.get('key')} ({when})")
    return lines


def health_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(HEALTH, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    json_mode = bool(values["json"])
    verbose = bool(values["verbose"] or values["debug"])
    from openclaw.client import (
        GatewayClientError,
        GatewayConnection,
        GatewayRequestError,
        backend_identity,
    )
    from openclaw.client.target import load_client_config, resolve_target

    try:
        timeout_ms = parse_timeout_ms(values.get("timeout"), DEFAULT_TIMEOUT_MS)
    except InvalidValue as e:
        return command_failed(str(e))
    config = load_client_config(env)
    try:
        target = resolve_target(env, config)
        with GatewayConnection(target, backend_identity("health"),
                               timeout_ms=timeout_ms) as conn:
            summary = conn.request("health", {"probe": True}) if verbose else conn.request(
                "health")
    except GatewayClientError as e:
        if isinstance(e, GatewayRequestError) and e.during_connect:
            sys.stderr.write(e.text + "\n")
        if json_mode:
            write_json(e.to_json())
            return 1
        if isinstance(e, GatewayRequestError):
            return command_failed(e.message)
        sys.stderr.write(e.text + "\n")
        return 1
    if json_mode:
        write_json(summary)
        return 0
    out = []
    if verbose:
        out.append("Gateway connection:")
        out.extend(f"  {line}" for line in target.connection.message.split("\n"))
    out.extend(render_health(summary if isinstance(summary, Mapping) else {}, verbose=verbose))
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0
