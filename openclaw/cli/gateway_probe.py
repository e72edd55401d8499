"""``openclaw gateway probe``: probe every gateway this CLI could mean and report each.

Targets, in order (duplicates by URL dropped): ``--url`` ("URL (explicit)", repeatable),
``gateway.remote.url`` ("Remote (configured)", "(configured, inactive)" outside remote mode)
and the local loopback port ("Local loopback", even when a remote is configured). Each target
gets a connectivity connect plus the read RPCs the real CLI pipelines (``health``, ``status``,
``system-presence``, ``config.get``), all within one budget (``--timeout``, default 3000 ms).
More than one reachable target warns ``multiple_gateways``; the exit status is non-zero only
when no target is reachable. No Bonjour here: the discovery section reports the local profiles'
configured gateways it found instead (``~/.openclaw-<profile>``), without probing them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from openclaw.cli.common import write_json
from openclaw.cli.options import JSON, PASSWORD, TOKEN, Command, InvalidValue, Option, run_parse

if TYPE_CHECKING:
    from openclaw.client.target import ClientConfig

DEFAULT_BUDGET_MS = 3000
NO_REACHABLE = (
    "No gateway answered any probe and Bonjour discovery returned no local gateways. Run "
    "`openclaw gateway status --deep --require-rpc` to inspect service state, config paths, "
    "listener owners, and logs; include `ss -ltnp` or `lsof -nP -iTCP:<port> -sTCP:LISTEN` "
    "for the configured port when filing a report."
)
MULTIPLE = (
    "Unconventional setup: multiple reachable gateway identities detected. Usually one gateway "
    "per network is recommended unless you intentionally run isolated profiles, like a rescue "
    "bot (see docs: /gateway#multiple-gateways-same-host)."
)
SCOPE_LIMITED = (
    "Read-probe diagnostics are limited by gateway scopes (missing operator.read). Connection "
    "succeeded, but read-only status calls are incomplete. Hint: pair device identity or use "
    "credentials with operator.read."
)
CAPABILITY_ORDER = ("admin_capable", "write_capable", "read_only",
                    "connected_no_operator_scope", "pairing_pending", "unknown")
CAPABILITY_LABELS = {
    "admin_capable": "admin-capable", "write_capable": "write-capable",
    "read_only": "read-only", "connected_no_operator_scope": "connect-only",
    "pairing_pending": "pairing pending",
}

PROBE = Command(
    usage="openclaw gateway probe [options]",
    description="Show gateway reachability + discovery + health + status summary (local + "
                "remote)",
    options=(
        Option("--url", "Explicit Gateway WebSocket URL (still probes localhost; repeatable)",
               "<url>"),
        Option("--port", "Port for the local loopback probe target", "<port>"),
        TOKEN,
        PASSWORD,
        Option("--timeout", f"Overall probe budget in ms (default {DEFAULT_BUDGET_MS})", "<ms>"),
        JSON,
    ),
)


@attrs.frozen
class Target:
    id: str
    kind: str  # explicit | configRemote | localLoopback
    url: str
    active: bool
    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)

    @property
    def header(self) -> str:
        label = {"localLoopback": "Local loopback", "explicit": "URL (explicit)"}.get(
            self.kind, "Remote (configured)" if self.active else "Remote (configured, inactive)")
        return f"{label} {self.url}"


def _urls(args: list[str]) -> tuple[list[str], list[str]]:
    """Pull every ``--url`` out of `args` (the parser keeps only the last one)."""
    urls: list[str] = []
    rest: list[str] = []
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        if arg == "--url" and queue:
            urls.append(queue.pop(0))
        elif arg.startswith("--url="):
            urls.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return urls, rest


def build_targets(env: Mapping[str, str], config: ClientConfig, values: Mapping[str, Any],
                  urls: list[str]) -> list[Target]:
    from openclaw.client.target import (
        PASSWORD_ENV_VARS,
        TOKEN_ENV_VARS,
        env_first,
        resolve_local_port,
    )

    flag_token = values.get("token") or None
    flag_password = values.get("password") or None
    env_token = env_first(env, TOKEN_ENV_VARS)
    env_password = env_first(env, PASSWORD_ENV_VARS)
    targets: list[Target] = []
    for index, url in enumerate(urls):
        targets.append(Target("explicit" if index == 0 else f"explicit{index + 1}", "explicit",
                              url.strip(), True, flag_token, flag_password))
    remote_url = config.get("gateway.remote.url")
    remote_active = config.mode == "remote"
    if isinstance(remote_url, str) and remote_url.strip() and not values.get("port"):
        targets.append(Target(
            "configRemote", "configRemote", remote_url.strip(), remote_active,
            flag_token or config.secret("gateway.remote.token", env) or env_token,
            flag_password or config.secret("gateway.remote.password", env) or env_password,
        ))
    port = int(values["port"]) if values.get("port") else resolve_local_port(env, config)[0]
    scheme = "wss" if config.tls_enabled else "ws"
    local_token = flag_token if not urls else None
    local_password = flag_password if not urls else None
    targets.append(Target(
        "localLoopback", "localLoopback", f"{scheme}://127.0.0.1:{port}", True,
        local_token or env_token or config.secret("gateway.auth.token", env)
        or config.secret("gateway.remote.token", env),
        local_password or env_password or config.secret("gateway.auth.password", env),
    ))
    unique: list[Target] = []
    for target in targets:
        if not any(_same_url(target.url, seen.url) for seen in unique):
            unique.append(target)
    return unique


def _same_url(a: str, b: str) -> bool:
    from urllib.parse import urlsplit

    pa, pb = urlsplit(a), urlsplit(b)
    host_a = "127.0.0.1" if pa.hostname == "localhost" else pa.hostname
    host_b = "127.0.0.1" if pb.hostname == "localhost" else pb.hostname
    return (pa.scheme, host_a, pa.port) == (pb.scheme, host_b, pb.port)


def discover_local_profiles(home: str, own_state_dir: str) -> list[dict[str, Any]]:
    """Other local profiles' configured gateways (``~/.openclaw-*``): our Bonjour stand-in."""
    from openclaw.client.target import DEFAULT_PORT, ClientConfig

    beacons: list[dict[str, Any]] = []
    try:
        entries = sorted(os.listdir(home))
    except OSError:
        return beacons
    for entry in entries:
        if entry != ".openclaw" and not entry.startswith(".openclaw-"):
            continue
        state = os.path.join(home, entry)
        if os.path.realpath(state) == os.path.realpath(own_state_dir):
            continue
        config_path = os.path.join(state, "openclaw.json")
        if not os.path.isfile(config_path):
            continue
        config = ClientConfig.load(config_path, {}, home)
        port = config.config_port or (19001 if entry == ".openclaw-dev" else DEFAULT_PORT)
        profile = "default" if entry == ".openclaw" else entry[len(".openclaw-"):]
        beacons.append({"instanceName": f"openclaw ({profile})", "profile": profile,
                        "configPath": config_path, "wsUrl": f"ws://127.0.0.1:{port}"})
    return beacons


def _probe_one(target: Target, timeout_ms: int) -> Any:
    from openclaw.client.probe import probe_connect
    from openclaw.client.target import ConnectionDetails, GatewayTarget

    connection = ConnectionDetails(url=target.url, url_source=target.kind, config_path="")
    return probe_connect(GatewayTarget(connection, target.token, target.password),
                         timeout_ms=timeout_ms, details=True)


def _target_json(target: Target, probe: Any) -> dict[str, Any]:
    health = probe.details.get("health")
    presence = probe.details.get("system-presence")
    self_entry = None
    if isinstance(presence, list):
        self_entry = next((p for p in presence if isinstance(p, dict)
                           and p.get("reason") == "self"), None)
    return {
        "id": target.id,
        "kind": target.kind,
        "url": target.url,
        "active": target.active,
        "tunnel": None,
        "connect": {
            "ok": probe.connected,
            "rpcOk": probe.connected and probe.rpc_ok,
            "scopeLimited": probe.scope_limited,
            "latencyMs": probe.latency_ms,
            "error": probe.error,
            "close": probe.close,
        },
        "auth": probe.auth_json(),
        "server": probe.server_json(),
        "self": self_entry,
        "config": None,
        "health": health,
        "summary": probe.details.get("status"),
        "presence": presence,
    }


def _summary_line(probe: Any) -> str:
    capability = "Capability: " + CAPABILITY_LABELS.get(probe.capability, "unknown")
    if probe.connected and probe.rpc_ok:
        return f"Connect: ok ({probe.latency_ms}ms) · {capability} · Read probe: ok"
    detail = f" - {probe.error}" if probe.error else ""
    if probe.connected:
        read = "Read probe: limited" if probe.scope_limited else "Read probe: failed"
        return f"Connect: ok ({probe.latency_ms}ms) · {capability} · {read}{detail}"
    return f"Connect: failed{detail} · {capability}"


def gateway_probe_command(args: list[str], env: MutableMapping[str, str]) -> int:
    urls, rest = _urls(args)
    parsed = run_parse(PROBE, rest)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    json_mode = bool(values["json"])
    from openclaw.cli.common import cli_error_json, parse_port_option, parse_timeout_ms
    from openclaw.client.target import ClientConfig
    from openclaw.config.paths import resolve_paths

    try:
        budget_ms = parse_timeout_ms(values.get("timeout"), DEFAULT_BUDGET_MS)
        parse_port_option(values.get("port"))
    except InvalidValue as e:
        if json_mode:
            write_json(cli_error_json(str(e)))
        sys.stderr.write(f"{e}\n")
        return 1
    started = time.monotonic()
    paths = resolve_paths(env)
    config = ClientConfig.load(paths.config_path, env, paths.home)
    targets = build_targets(env, config, values, urls)
    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        probes = list(pool.map(lambda t: _probe_one(t, budget_ms), targets))
    beacons = discover_local_profiles(paths.home, paths.state_dir)
    reachable = [(t, p) for t, p in zip(targets, probes, strict=True) if p.connected]
    warnings: list[dict[str, Any]] = []
    if not reachable and not beacons:
        warnings.append({"code": "no_gateway_reachable", "message": NO_REACHABLE,
                         "targetIds": [t.id for t in targets]})
    if len(reachable) > 1:
        warnings.append({"code": "multiple_gateways", "message": MULTIPLE,
                         "targetIds": [t.id for t, _ in reachable]})
    for target, probe in reachable:
        if probe.scope_limited:
            warnings.append({"code": "probe_scope_limited", "message": SCOPE_LIMITED,
                             "targetIds": [target.id]})
        elif not probe.rpc_ok:
            warnings.append({
                "code": "probe_detail_failed",
                "message": "Gateway accepted the WebSocket connection, but follow-up read "
                           f"diagnostics failed: {probe.error}",
                "targetIds": [target.id]})
    capability = next((c for c in CAPABILITY_ORDER
                       if any(p.capability == c for _, p in reachable)), "unknown")
    primary = next((t.id for kind in ("explicit", "configRemote", "localLoopback")
                    for t, _ in reachable if t.kind == kind), None)
    local_port = next(t.url for t in targets if t.kind == "localLoopback")
    if json_mode:
        write_json({
            "ok": bool(reachable),
            "degraded": any(p.connected and not p.rpc_ok for p in probes),
            "capability": capability,
            "ts": int(time.time() * 1000),
            "durationMs": int((time.monotonic() - started) * 1000),
            "timeoutMs": budget_ms,
            "primaryTargetId": primary,
            "warnings": warnings,
            "network": {"localLoopbackUrl": local_port, "localTailnetUrl": None,
                        "tailnetIPv4": None},
            "discovery": {"timeoutMs": 0, "count": len(beacons), "beacons": beacons},
            "targets": [_target_json(t, p) for t, p in zip(targets, probes, strict=True)],
        })
        return 0 if reachable else 1
    out = sys.stdout.write
    out("Gateway Status\n")
    out(f"Reachable: {'yes' if reachable else 'no'}\n")
    out(f"Capability: {capability.replace('_', '-')}\n")
    out(f"Probe budget: {budget_ms}ms\n")
    if warnings:
        out("\nWarning:\n")
        for warning in warnings:
            out(f"- {warning['message']}\n")
    out("\nDiscovery (this machine)\n")
    if beacons:
        out(f"Found {len(beacons)} local profile gateway(s) (no Bonjour; "
            "~/.openclaw-<profile> configs)\n")
        for beacon in beacons:
            out(f"- {beacon['instanceName']} {beacon['wsUrl']}\n")
    else:
        out("Found 0 gateways via Bonjour (local.)\n")
        out("Tip: if the gateway is remote, mDNS won\u2019t cross networks; use Wide-Area Bonjour "
            "(split DNS) or SSH tunnels.\n")
    out("\nTargets\n")
    for target, probe in zip(targets, probes, strict=True):
        out(f"{target.header}\n  {_summary_line(probe)}\n")
        presence = probe.details.get("system-presence")
        if isinstance(presence, list):
            entry = next((p for p in presence if isinstance(p, dict)
                          and p.get("reason") == "self"), None)
            if entry:
                ip = f" ({entry['ip']})" if entry.get("ip") else ""
                out(f"  Gateway: {entry.get('host', 'unknown')}{ip} · app "
                    f"{entry.get('version', '?')}\n")
        out("\n")
    return 0 if reachable else 1
