"""``openclaw gateway status``: service state, config paths, bind/port, probe, listeners.

Gathers what the real CLI's ``gatherDaemonStatus`` does and prints it in the same layout
(human) or with the same top-level keys (``--json``): ``cli``, ``logFile``, ``service``,
``config``, ``gateway``, ``hostDesktop``, ``port``, ``rpc`` (unless ``--no-probe``),
``extraServices``. The probe target is derived from the *service* definition (its
``--port``, its config's bind), falling back to the CLI's own config; ``--url`` overrides.

Exit 0 even when the probe fails; 1 with ``--require-rpc`` when the read probe fails, for
``--require-rpc --no-probe``, and for unexpected errors (``Gateway status failed: ...``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from openclaw import __version__
from openclaw.cli.common import write_json
from openclaw.cli.options import (
    GATEWAY_CLIENT_OPTIONS,
    JSON,
    Command,
    InvalidValue,
    Option,
    run_parse,
    timeout_option,
)

if TYPE_CHECKING:
    from openclaw.client.target import ClientConfig

DEFAULT_TIMEOUT_MS = 10_000
TROUBLESHOOTING = "https://docs.openclaw.ai/troubleshooting"
MANAGER_UNAVAILABLE = ("No supported service manager detected. Restart the Gateway you launched "
                       "manually after the update.")

STATUS = Command(
    usage="openclaw gateway status [options]",
    description="Show gateway service status + probe connectivity/capability",
    options=(
        *GATEWAY_CLIENT_OPTIONS,
        Option("--port", "Select a local Gateway port for the probe", "<port>"),
        timeout_option(DEFAULT_TIMEOUT_MS),
        Option("--no-probe", "Skip RPC probe"),
        Option("--require-rpc", "Exit non-zero when the RPC probe fails"),
        Option("--deep", "Scan system-level services"),
        JSON,
    ),
)


class Printer:
    """Writes human output lines in order to stdout or stderr."""

    def out(self, line: str = "") -> None:
        sys.stdout.write(line + "\n")

    def err(self, line: str) -> None:
        sys.stderr.write(line + "\n")


def _config_summary(path: str, env: Mapping[str, str], home: str) -> dict[str, Any]:
    from openclaw.config import ConfigError, load_config

    summary: dict[str, Any] = {"path": path, "exists": os.path.isfile(path), "valid": True}
    try:
        load_config(path, env=env, home=home)
    except ConfigError as e:
        summary["valid"] = False
        summary["issues"] = [{"path": issue.path, "message": issue.message}
                             for issue in getattr(e, "issues", ())]
    return summary


def _daemon_config_path(command_env: Mapping[str, str], cli_path: str) -> str:
    explicit = (command_env.get("OPENCLAW_CONFIG_PATH") or "").strip()
    if explicit:
        return explicit
    state = (command_env.get("OPENCLAW_STATE_DIR") or "").strip()
    if state:
        return os.path.join(state, "openclaw.json")
    return cli_path


def log_file_for(config: ClientConfig, state_dir: str) -> str:
    fixed = config.get("logging.file")
    if isinstance(fixed, str) and fixed.strip():
        return fixed
    return os.path.join(state_dir, "logs", f"openclaw-{time.strftime('%Y-%m-%d')}.log")


def _config_audit(command: Any, cli_config: ClientConfig, env: Mapping[str, str]) -> dict[str, Any]:
    """Drift between the installed definition and the current config/runtime."""
    issues: list[dict[str, str]] = []
    if command is not None:
        service_port = command.port
        config_port = cli_config.config_port
        if service_port is not None and config_port is not None and service_port != config_port:
            issues.append({"code": "gateway-port-mismatch",
                           "message": "Gateway service port does not match current gateway "
                                      "config",
                           "detail": f"service {service_port}, config {config_port}"})
        embedded = (command.environment.get("OPENCLAW_GATEWAY_TOKEN") or "").strip()
        configured = cli_config.secret("gateway.auth.token", env)
        if embedded and configured and embedded != configured:
            issues.append({"code": "gateway-token-mismatch",
                           "message": "Gateway service OPENCLAW_GATEWAY_TOKEN does not match "
                                      "gateway.auth.token in openclaw.json"})
        if not command.environment.get("PATH"):
            issues.append({"code": "gateway-path-missing",
                           "message": "Gateway service PATH is not set; the daemon should use "
                                      "a minimal PATH."})
        program = command.program_arguments[0] if command.program_arguments else ""
        if os.path.isabs(program) and not os.path.exists(program):
            issues.append({"code": "gateway-program-missing",
                           "message": "Gateway service program not found",
                           "detail": program})
    return {"ok": not issues, "issues": issues}


def gather_status(
    env: MutableMapping[str, str],
    *,
    url: str | None = None,
    token: str | None = None,
    password: str | None = None,
    port_override: int | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    probe: bool = True,
    require_rpc: bool = False,
    deep: bool = False,
) -> dict[str, Any]:
    """Everything ``gateway status`` reports, as the ``--json`` document."""
    from openclaw.cli.port_info import inspect_port
    from openclaw.client.probe import probe_connect, probe_read
    from openclaw.client.target import ClientConfig, resolve_local_port, resolve_target
    from openclaw.config.paths import resolve_paths
    from openclaw.daemon import ServiceManagerUnavailable, current_platform, service_manager
    from openclaw.daemon.scan import find_extra_services

    paths = resolve_paths(env)
    cli_config = ClientConfig.load(paths.config_path, env, paths.home)
    manager = service_manager(env, state_dir=paths.state_dir)

    unavailable: str | None = None
    try:
        loaded: bool | None = manager.is_loaded()
    except ServiceManagerUnavailable as e:
        loaded, unavailable = False, str(e)
    command = manager.read_command()
    command_env: Mapping[str, str] = command.environment if command else {}
    daemon_path = _daemon_config_path(command_env, paths.config_path)
    merged_env = {**env, **command_env}
    daemon_config = (cli_config if daemon_path == paths.config_path
                     else ClientConfig.load(daemon_path, merged_env, paths.home))

    if port_override is not None:
        port, port_source = port_override, "cli"
    elif command is not None and command.port_source == "service args":
        port, port_source = command.port or 0, "service args"
    else:
        port, port_source = resolve_local_port(merged_env, daemon_config)
    bind = daemon_config.bind
    custom_host = daemon_config.custom_bind_host
    bind_host = {"loopback": "127.0.0.1", "lan": "0.0.0.0", "auto": "127.0.0.1"}.get(
        bind, custom_host or "127.0.0.1")
    if bind == "tailnet":
        from openclaw.gateway.startup import tailnet_ipv4_addresses

        tailnet = tailnet_ipv4_addresses()
        bind_host = tailnet[0] if tailnet else "127.0.0.1"
    probe_host = custom_host if bind == "custom" and custom_host else (
        bind_host if bind == "tailnet" else "127.0.0.1")
    scheme = "wss" if daemon_config.tls_enabled else "ws"
    probe_url = url or f"{scheme}://{probe_host}:{port}"
    gateway: dict[str, Any] = {"bindMode": bind, "bindHost": bind_host}
    if custom_host:
        gateway["customBindHost"] = custom_host
    gateway.update(port=port, portSource=port_source, probeUrl=probe_url)
    if daemon_config.get("gateway.controlUi.enabled") is not False:
        base = str(daemon_config.get("gateway.controlUi.basePath") or "/")
        base = base if base.endswith("/") else base + "/"
        http_scheme = "https" if daemon_config.tls_enabled else "http"
        gateway["controlUiLinks"] = {"httpUrl": f"{http_scheme}://{probe_host}:{port}{base}",
                                     "wsUrl": f"{scheme}://{probe_host}:{port}"}
    if not url and bind == "loopback":
        gateway["probeNote"] = "Loopback-only gateway; only local clients can connect."
    elif not url and bind == "lan":
        gateway["probeNote"] = (f"bind=lan listens on 0.0.0.0 (all interfaces); probing via "
                                f"{probe_host}.")

    service_targets_probe = (command is not None and unavailable is None and not url
                             and command.port in (None, port))
    if unavailable is not None:
        runtime_json: dict[str, Any] = {
            "status": "unknown", "inspectionReason": "service-manager-unavailable",
            "detail": f"{MANAGER_UNAVAILABLE}; retry with openclaw gateway status --deep",
            "inspectionFailure": {"code": "service-runtime-inspection-failed",
                                  "detail": MANAGER_UNAVAILABLE},
        }
        service: dict[str, Any] = {
            "inspectionReason": "service-manager-unavailable",
            "label": "no supported service manager detected",
            "systemdInstallation": {"kind": "unit-file" if command else "none"},
            "loaded": False,
            "loadState": {"status": "not-loaded"},
            "loadedText": manager.loaded_text,
            "notLoadedText": manager.not_loaded_text,
            "targetRole": "diagnostic-only",
            "command": command.to_json() if command else None,
            "runtime": runtime_json,
            "configAudit": _config_audit(command, cli_config, env),
        }
        if manager.kind != "systemd":
            del service["systemdInstallation"]
    else:
        runtime = manager.read_runtime()
        service = {
            "label": manager.label,
            "loaded": loaded,
            "loadState": {"status": "loaded" if loaded else "not-loaded"},
            "loadedText": manager.loaded_text,
            "notLoadedText": manager.not_loaded_text,
            "targetRole": "target" if service_targets_probe else "diagnostic-only",
            "command": command.to_json() if command else None,
            "runtime": runtime.to_json(),
            "configAudit": _config_audit(command, cli_config, env),
        }

    cli_summary = _config_summary(paths.config_path, env, paths.home)
    daemon_summary = (cli_summary if daemon_path == paths.config_path
                      else _config_summary(daemon_path, merged_env, paths.home))
    config: dict[str, Any] = {"cli": cli_summary, "daemon": daemon_summary}
    if daemon_path != paths.config_path:
        config["mismatch"] = True

    status: dict[str, Any] = {
        "cli": {"version": __version__, "entrypoint": os.path.abspath(sys.argv[0] or "openclaw")},
        "logFile": log_file_for(daemon_config, os.path.dirname(daemon_path)),
        "service": service,
        "config": config,
        "gateway": gateway,
        "hostDesktop": {"enabled": False, "state": "disabled", "port": 5900},
        "port": inspect_port(port),
    }
    cli_port = resolve_local_port(env, cli_config)[0]
    if cli_port != port and port_override is None:
        status["portCli"] = inspect_port(cli_port)

    if probe:
        target = resolve_target(env, daemon_config, url=url, token=token, password=password,
                                service_url=None if url else probe_url)
        result = (probe_read if require_rpc else probe_connect)(target, timeout_ms=timeout_ms)
        gateway["version"] = result.server_version
        rpc: dict[str, Any] = {"ok": result.ok, "kind": result.kind,
                               "capability": result.capability, "auth": result.auth_json(),
                               "server": result.server_json()}
        if result.connected:
            rpc["version"] = result.server_version
        if result.failure == "unreachable":
            rpc["connectFailure"] = {"kind": "unreachable"}
        if result.error and not result.ok:
            rpc["error"] = result.error
        if result.failure == "timeout":
            rpc["timedOut"] = True
        rpc["url"] = probe_url
        status["rpc"] = rpc

    extra = find_extra_services(current_platform(), paths.home,
                                current_name=manager.service_name, deep=deep)
    status["extraServices"] = [item.to_json() for item in extra]
    status["_extra"] = extra  # for the text renderer; removed before JSON output
    if probe and not status["rpc"]["ok"]:
        status["pluginVersionDrift"] = {"gatewayVersion": __version__, "drifts": []}
    status["_manager"] = manager
    return status


def render_status(status: dict[str, Any], *, deep: bool, printer: Printer) -> None:
    service = status["service"]
    manager = status["_manager"]
    unavailable = service.get("inspectionReason") == "service-manager-unavailable"
    targets_probe = service.get("targetRole") != "diagnostic-only"
    suffix = "" if targets_probe else " (diagnostic only, not the probe target)"
    loaded = service["loadState"]["status"] == "loaded"
    state = service["loadedText"] if loaded else service["notLoadedText"]
    printer.out(f"Service: {service['label']}{'' if unavailable else f' ({state})'}{suffix}")
    printer.out(f"File logs: {status['logFile']}")
    command = service.get("command")
    if command:
        printer.out(f"{'Recorded command:' if unavailable else 'Command:'} "
                    f"{' '.join(command['programArguments'])}")
        if command.get("sourcePath"):
            printer.out(f"Service file: {command['sourcePath']}")
        if command.get("workingDirectory"):
            printer.out(f"Working dir: {command['workingDirectory']}")
        env = command.get("environment") or {}
        if env:
            printer.out("Service env: " + " ".join(f"{k}={v}" for k, v in env.items()))
    printer.out("Host desktop: disabled")
    printer.out()
    audit = service.get("configAudit") or {}
    if audit.get("issues"):
        printer.err("Service config looks out of date or non-standard.")
        for issue in audit["issues"]:
            detail = f" ({issue['detail']})" if issue.get("detail") else ""
            printer.err(f"Service config issue: {issue['message']}{detail}")
        printer.err('Recommendation: run "openclaw doctor" interactively for guided checks, or '
                    'reinstall with "openclaw gateway install --force".')
    config = status["config"]
    for key, label in (("cli", "Config (cli):"), ("daemon", "Config (service):")):
        summary = config[key]
        flags = ("" if summary["exists"] else " (missing)") + (
            "" if summary["valid"] else " (invalid)")
        printer.out(f"{label} {summary['path']}{flags}")
        for issue in (summary.get("issues") or [])[:5]:
            printer.err(f"{'Config issue:' if key == 'cli' else 'Service config issue:'} "
                        f"{issue['path']}: {issue['message']}")
    if config.get("mismatch"):
        printer.err("Root cause: CLI and service are using different config paths (likely a "
                    "profile/state-dir mismatch).")
        printer.err("Fix: rerun `openclaw gateway install --force` from the same --profile / "
                    "OPENCLAW_STATE_DIR you expect.")
    printer.out()
    gateway = status["gateway"]
    printer.out(f"Gateway: bind={gateway['bindMode']} ({gateway['bindHost']}), "
                f"port={gateway['port']} ({gateway['portSource']})")
    printer.out(f"Probe target: {gateway['probeUrl']}")
    links = gateway.get("controlUiLinks")
    printer.out(f"Dashboard: {links['httpUrl']}" if links else "Dashboard: disabled")
    if gateway.get("probeNote"):
        printer.out(f"Probe note: {gateway['probeNote']}")
    printer.out()
    rpc = status.get("rpc")
    gateway_version = gateway.get("version")
    if gateway_version:
        cli = status["cli"]
        printer.out(f"CLI version: {cli['version']} ({cli['entrypoint']})")
        printer.out(f"Gateway version: {gateway_version}")
        if cli["version"] != gateway_version:
            printer.err(f"Warning: this OpenClaw command is version {cli['version']}, but the "
                        f"running Gateway is version {gateway_version}.")
        printer.out()
    runtime = service.get("runtime") or {}
    printer.out(f"Runtime: {_runtime_line(runtime, unavailable)}{suffix}")
    if rpc and not rpc["ok"] and targets_probe and loaded and runtime.get("status") == "running":
        printer.out("Warm-up: launch agents can take a few seconds. Try again shortly.")
    if rpc:
        label = "Read probe:" if rpc["kind"] == "read" else "Connectivity probe:"
        if rpc["ok"]:
            printer.out(f"{label} ok")
        else:
            outcome = "timed out before reaching Gateway" if rpc.get("timedOut") else "failed"
            printer.err(f"{label} {outcome}")
            printer.err(f"Probe target: {rpc['url']}")
            for line in [ln for ln in (rpc.get("error") or "unknown").splitlines() if ln][:12]:
                printer.err(f"  {line}")
        if rpc.get("capability"):
            printer.out(f"Capability: {rpc['capability'].replace('_', '-')}")
        printer.out()
    if unavailable:
        printer.err(MANAGER_UNAVAILABLE)
        printer.out()
    elif runtime.get("missingUnit"):
        if targets_probe:
            printer.err("Service unit not found.")
            printer.err("Run: openclaw gateway install")
        else:
            printer.out("Native service is not installed; diagnostic only, not the probe target.")
    elif loaded and runtime.get("status") == "stopped":
        printer.err("Service is loaded but not running (likely exited immediately).")
        for hint in manager.log_hints():
            printer.err(hint)
        printer.out()
    port = status["port"]
    if port["status"] != "free" and not (rpc and rpc["ok"]):
        from openclaw.cli.port_info import port_diagnostics

        for line in port_diagnostics(port):
            printer.err(line)
    from openclaw.cli.port_info import listening_addresses

    addresses = listening_addresses(port)
    if addresses:
        printer.out(f"Listening: {', '.join(addresses)}")
    port_cli = status.get("portCli")
    if port_cli and port_cli["port"] != port["port"]:
        printer.out(f"Note: CLI config resolves gateway port={port_cli['port']} "
                    f"({port_cli['status']}).")
    if targets_probe and loaded and runtime.get("status") == "running" and (
            port["status"] == "free"):
        printer.err(f"Gateway port {port['port']} is not listening (service appears running).")
        for hint in manager.log_hints():
            printer.err(hint)
        printer.out()
    extra = status["_extra"]
    if extra:
        printer.out("Other gateway-like services detected (best effort):")
        for item in extra:
            printer.out(f"- {item.label} ({item.scope}, {item.detail})")
        for item in extra:
            for hint in item.hints():
                kind = "Cleanup hint:" if ("rm " in hint or "bootout" in hint
                                           or "Delete" in hint) else "Inspection hint:"
                printer.out(f"{kind} {hint}")
        printer.out("Recommendation: run a single gateway per machine for most setups. One "
                    "gateway supports multiple agents (see docs: "
                    "/gateway#multiple-gateways-same-host).")
        printer.out()
    printer.out("Troubles: run openclaw status")
    printer.out(f"Troubleshooting: {TROUBLESHOOTING}")


def _runtime_line(runtime: Mapping[str, Any], unavailable: bool) -> str:
    status = str(runtime.get("status") or "unknown")
    details = []
    if runtime.get("pid"):
        details.append(f"pid {runtime['pid']}")
    if runtime.get("state"):
        details.append(f"state {runtime['state']}")
    if runtime.get("subState"):
        details.append(f"sub {runtime['subState']}")
    if runtime.get("lastExitStatus") is not None and status != "running":
        code = runtime["lastExitStatus"]
        signal = {143: " (SIGTERM)", 137: " (SIGKILL)", 130: " (SIGINT)"}.get(code, "")
        details.append(f"last exit {code}{signal}")
    if runtime.get("detail") and not unavailable:
        details.append(str(runtime["detail"]))
    return f"{status} ({', '.join(details)})" if details else status


def public_json(status: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if not k.startswith("_")}


def gateway_status_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(STATUS, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.cli.common import parse_port_option, parse_timeout_ms
    from openclaw.client import GatewayClientError

    probe = bool(values["probe"])
    require_rpc = bool(values["requireRpc"])
    json_mode = bool(values["json"])
    if require_rpc and not probe:
        return _fail("--require-rpc needs probing enabled. Remove --no-probe or drop "
                     "--require-rpc.", json_mode)
    try:
        timeout_ms = parse_timeout_ms(values.get("timeout"), DEFAULT_TIMEOUT_MS)
        port = parse_port_option(values.get("port"))
        if port is not None and values.get("url"):
            raise InvalidValue("Use --url or --port, not both.")
        status = gather_status(
            env, url=values.get("url"), token=values.get("token"),
            password=values.get("password"), port_override=port, timeout_ms=timeout_ms,
            probe=probe, require_rpc=require_rpc, deep=bool(values["deep"]),
        )
    except (InvalidValue, GatewayClientError, OSError, ValueError) as e:
        return _fail(str(e), json_mode)
    if json_mode:
        write_json(public_json(status))
    else:
        render_status(status, deep=bool(values["deep"]), printer=Printer())
    if require_rpc and not status["rpc"]["ok"]:
        return 1
    return 0


def _fail(message: str, json_mode: bool) -> int:
    if json_mode:
        from openclaw.cli.common import cli_error_json

        write_json(cli_error_json(f"Gateway status failed: {message}"))
    sys.stderr.write(f"Gateway status failed: {message}\n")
    return 1
