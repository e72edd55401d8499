"""``openclaw doctor [--fix]``: find what keeps a gateway from running well, repair what is safe.

Checks, each reported in a titled note like the real doctor's:

* **Config** -- missing, unparsable or invalid (every issue with its path), legacy keys
  (``--fix`` migrates them when the file has no ``$include``/``${VAR}`` that a rewrite would
  inline), ``gateway.mode`` unset, no shared-secret auth (``--generate-gateway-token``).
* **State integrity** -- state dir present and private (0700), config and its backups not
  group/world readable (0600); ``--fix`` creates and tightens them.
* **Gateway port** -- the configured port: free, our gateway (probed), or someone else.
* **Gateway service** -- installed definition vs config (port drift, embedded token drift,
  missing program); ``--fix`` rewrites a drifted definition with the config's port (the running
  service picks it up on ``openclaw gateway restart``). A system unit next to a user unit for
  the same profile and other gateway-like services are reported, never removed.
* **Gateway processes** -- more than one gateway running on the same state dir.

``--fix`` (alias ``--repair``) applies only the repairs above and lists each change under
"Doctor changes". Exit 0 when nothing is wrong or everything wrong was fixed; 1 when problems
remain that need the operator (an invalid config, a port taken by another program, duplicate
gateways).
"""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import attrs

from openclaw.cli.options import Command, Option, run_parse

if TYPE_CHECKING:
    from openclaw.client.target import ClientConfig
    from openclaw.config.paths import OpenClawPaths

DOCTOR = Command(
    usage="openclaw doctor [options]",
    description="Health checks + quick fixes for the gateway and channels",
    options=(
        Option("--fix", "Apply recommended repairs without prompting"),
        Option("--repair", "Alias for --fix"),
        Option("--yes", "Accept defaults without prompting"),
        Option("--non-interactive", "Run without prompts (safe migrations only)"),
        Option("--deep", "Scan system services for extra gateway installs"),
        Option("--force", "Accepted for compatibility"),
        Option("--generate-gateway-token", "Generate and configure a gateway token"),
        Option("--json", "Output JSON"),
    ),
)

NOTE_WIDTH = 72


@attrs.define
class Report:
    """Findings by section, changes made, and whether anything still needs the operator."""

    fix: bool
    sections: dict[str, list[str]] = attrs.field(factory=dict)
    changes: list[str] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)

    def add(self, section: str, line: str, *, problem: bool = False) -> None:
        self.sections.setdefault(section, []).append(line)
        if problem:
            self.problems.append(line)

    def changed(self, line: str) -> None:
        self.changes.append(line)


def note(title: str, lines: list[str]) -> str:
    """A clack-style note box, as the real doctor prints them."""
    body: list[str] = []
    for line in lines:
        indent = "  " if line.startswith("- ") else ""
        body.extend(textwrap.wrap(line, NOTE_WIDTH, subsequent_indent=indent,
                                  break_on_hyphens=False) or [""])
    inner = max(len(title) + 4, *(len(b) for b in body)) + 4
    top = f"◇  {title} " + "─" * max(1, inner - len(title) - 3) + "╮"
    out = ["│", top, "│" + " " * inner + "│"]
    out.extend(f"│  {b.ljust(inner - 4)}  │" for b in body)
    out.extend(["│" + " " * inner + "│", "├" + "─" * inner + "╯"])
    return "\n".join(out)


def _mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def check_state(report: Report, state_dir: str, config_path: str) -> None:
    section = "State integrity"
    if not os.path.isdir(state_dir):
        if report.fix:
            os.makedirs(state_dir, mode=0o700, exist_ok=True)
            report.changed(f"- Created state directory: {state_dir}")
        else:
            report.add(section, f"- CRITICAL: state directory missing ({state_dir}).",
                       problem=True)
            return
    mode = _mode(state_dir)
    if mode is not None and mode & 0o077:
        if report.fix:
            os.chmod(state_dir, 0o700)
            report.changed(f"- Tightened permissions on {state_dir} to 700")
        else:
            report.add(section, f"- State directory permissions are too open ({state_dir}). "
                                "Recommend chmod 700.", problem=True)
    if not os.access(state_dir, os.W_OK):
        report.add(section, f"- State directory is not writable ({state_dir}).", problem=True)
    files = [config_path]
    directory = os.path.dirname(config_path)
    try:
        base = os.path.basename(config_path)
        files += [os.path.join(directory, n) for n in sorted(os.listdir(directory))
                  if n.startswith(base + ".bak")]
    except OSError:
        pass
    for path in files:
        mode = _mode(path)
        if mode is None or not mode & 0o077:
            continue
        if report.fix:
            os.chmod(path, 0o600)
            report.changed(f"- Tightened permissions on {path} to 600")
        elif path == config_path:
            report.add(section, f"- Config file is group/world readable ({path}). Recommend "
                                "chmod 600.", problem=True)
        else:
            report.add(section, f"- Config backup is group/world readable ({path}). Recommend "
                                "chmod 600.", problem=True)


def check_config(report: Report, env: MutableMapping[str, str], paths: OpenClawPaths,
                 generate_token: bool) -> ClientConfig:
    """Validate (and with --fix migrate) the config; return the light client view."""
    from openclaw.cli.config_cmd import set_config_value
    from openclaw.client.target import ClientConfig
    from openclaw.config import ConfigError, load_config, thaw

    section = "Config"
    path = paths.config_path
    if not os.path.exists(path):
        report.add(section, f"- Config missing ({path}). Run `openclaw setup` to create a "
                            "local-mode config.", problem=True)
        return ClientConfig(path=path, exists=False)
    try:
        snapshot = load_config(path, env=env, home=paths.home)
    except ConfigError as e:
        report.add(section, f"- Invalid config at {path}:", problem=True)
        for issue in getattr(e, "issues", ()):
            report.add(section, f"- {issue.path}: {issue.message}")
        report.add(section, "Fix the listed keys (openclaw config set|unset <path>), then "
                            "rerun openclaw doctor.")
        return ClientConfig.load(path, env, paths.home)
    migrations = [w for w in snapshot.warnings if "legacy" in w.lower() or "Moved" in w]
    if migrations:
        raw = snapshot.raw or ""
        if report.fix and "${" not in raw and "$include" not in raw:
            from openclaw.cli.config_cmd import write_config_document

            write_config_document(path, thaw(snapshot.parsed), env, paths.home)
            for warning in migrations:
                report.changed(f"- {warning.split(';')[0]}")
        else:
            for warning in migrations:
                report.add(section, f"- {warning}")
    config = ClientConfig.load(path, env, paths.home)
    if config.mode is None:
        report.add(section, "- gateway.mode is unset; `openclaw gateway` refuses to start. Set "
                            "it with openclaw config set gateway.mode local.", problem=True)
    elif config.mode == "remote":
        report.add(section, "- gateway.mode=remote: this machine is a client of "
                            f"{config.get('gateway.remote.url') or '(gateway.remote.url unset)'}"
                            ".")
    has_secret = bool(config.secret("gateway.auth.token", env)
                      or config.secret("gateway.auth.password", env)
                      or env.get("OPENCLAW_GATEWAY_TOKEN") or env.get("OPENCLAW_GATEWAY_PASSWORD"))
    if config.mode != "remote" and not has_secret:
        if generate_token:
            import secrets

            set_config_value(paths, env, "gateway.auth.token", secrets.token_hex(24))
            report.changed("- Generated gateway.auth.token")
            config = ClientConfig.load(path, env, paths.home)
        else:
            report.add(section, "- Gateway auth has no token or password configured; the "
                                "gateway generates a throw-away token per run. Run openclaw "
                                "doctor --generate-gateway-token.")
    return config


def check_port(report: Report, config: ClientConfig, env: Mapping[str, str]) -> None:
    from openclaw.cli.port_info import inspect_port, port_diagnostics
    from openclaw.client.probe import probe_connect
    from openclaw.client.target import resolve_local_port, resolve_target

    section = "Gateway"
    port, _source = resolve_local_port(env, config)
    block = inspect_port(port)
    if block["status"] == "free":
        report.add(section, f"Gateway not running on port {port} (port free).")
        return
    gateways = [item for item in block["listeners"]
                if "openclaw" in f"{item.get('commandLine', '')} {item.get('command', '')}"]
    if block["listeners"] and not gateways:
        report.add(section, f"- Port {port} is taken by another program; the gateway cannot "
                            "start there.", problem=True)
        for line in port_diagnostics(block)[1:]:
            report.add(section, line)
        return
    try:
        target = resolve_target(env, config)
        probe = probe_connect(target, timeout_ms=3000)
    except Exception as e:  # a probe problem must not abort the other checks
        report.add(section, f"Gateway on port {port}: probe failed ({e}).")
        return
    pids = sorted({item["pid"] for item in gateways if item.get("pid")})
    who = f" (pid {', '.join(str(p) for p in pids)})" if pids else ""
    if probe.connected:
        report.add(section, f"Gateway reachable at {target.url}{who}; version "
                            f"{probe.server_version}.")
    else:
        report.add(section, f"- Port {port} is in use{who} but the gateway did not answer: "
                            f"{probe.error}", problem=True)


def check_service(report: Report, env: MutableMapping[str, str], paths: OpenClawPaths,
                  config: ClientConfig,
                  deep: bool) -> None:
    from openclaw.daemon import ServiceManagerUnavailable, current_platform, service_manager
    from openclaw.daemon.scan import find_extra_services

    section = "Gateway service"
    manager = service_manager(env, state_dir=paths.state_dir)
    command = manager.read_command()
    try:
        loaded: bool | None = manager.is_loaded()
    except ServiceManagerUnavailable as e:
        loaded = None
        if command is not None:
            report.add(section, f"- {e}; the installed definition cannot be controlled here.")
    if command is None:
        where = "" if loaded is not None else f"; {manager.label} is unavailable here"
        report.add(section, f"Not installed ({manager.label}{where}). Install with openclaw "
                            "gateway install.")
    else:
        report.add(section, f"Installed: {command.source_path} "
                            f"({'enabled' if loaded else 'not enabled'}).")
        config_port = config.config_port
        if config_port is not None and command.port not in (None, config_port):
            message = (f"Gateway service port does not match current gateway config (service "
                       f"{command.port}, config {config_port}).")
            if report.fix and manager.definition_path:
                _rewrite_port(manager, command, config_port)
                report.changed(f"- Rewrote {command.source_path} for port {config_port}; apply "
                               "with openclaw gateway restart")
            else:
                report.add(section, f"- {message} Fix: openclaw doctor --fix.", problem=True)
        embedded = (command.environment.get("OPENCLAW_GATEWAY_TOKEN") or "").strip()
        configured = config.secret("gateway.auth.token", env)
        if embedded and configured and embedded != configured:
            report.add(section, "- Gateway service OPENCLAW_GATEWAY_TOKEN does not match "
                                "gateway.auth.token in openclaw.json; reinstall with openclaw "
                                "gateway install --force.", problem=True)
        program = command.program_arguments[0] if command.program_arguments else ""
        if os.path.isabs(program) and not os.path.exists(program):
            report.add(section, f"- Gateway service program not found: {program}. Reinstall "
                                "with openclaw gateway install --force.", problem=True)
    system_unit = getattr(manager, "system_unit_path", lambda: None)()
    if system_unit:
        policy = (env.get("OPENCLAW_SERVICE_REPAIR_POLICY") or "").strip().lower()
        detail = (" (OPENCLAW_SERVICE_REPAIR_POLICY=external: the system unit owns the lifecycle)"
                  if policy == "external" else "")
        report.add(section, f"- System-level OpenClaw gateway service detected: {system_unit}"
                            f"{detail}.", problem=command is not None)
    if loaded and manager.kind == "systemd":
        import getpass

        linger = manager.linger_warning(env.get("USER") or getpass.getuser())
        if linger:
            report.add(section, f"- {linger}")
    extra = [item for item in find_extra_services(current_platform(), paths.home,
                                                  current_name=manager.service_name,
                                                  deep=deep)
             if item.path != system_unit]
    if extra:
        same_port = [item for item in extra if item.port is not None
                     and command is not None and item.port == command.port]
        report.add(section, "Other gateway-like services detected (best effort):")
        for item in extra:
            marker = " [same port]" if item in same_port else ""
            report.add(section, f"- {item.label} ({item.scope}, {item.detail}){marker}",
                       problem=bool(same_port) or item.stale)
            for hint in item.hints():
                report.add(section, f"  {hint}")
        report.add(section, "Recommendation: run a single gateway per machine for most setups.")


def _rewrite_port(manager: Any, command: Any, port: int) -> None:
    from openclaw.daemon.base import write_service_file
    from openclaw.daemon.spec import ServiceSpec

    arguments = list(command.program_arguments)
    for index, arg in enumerate(arguments):
        if arg == "--port" and index + 1 < len(arguments):
            arguments[index + 1] = str(port)
        elif arg.startswith("--port="):
            arguments[index] = f"--port={port}"
    environment = dict(command.environment)
    if "OPENCLAW_GATEWAY_PORT" in environment:
        environment["OPENCLAW_GATEWAY_PORT"] = str(port)
    description = "OpenClaw Gateway"
    spec = ServiceSpec(description=description, program_arguments=tuple(arguments),
                       environment=environment, working_directory=command.working_directory)
    write_service_file(manager.definition_path, manager.render(spec))
    if manager.kind == "systemd":
        manager.systemctl("daemon-reload")


def gateway_processes() -> list[dict[str, Any]]:
    """Running ``openclaw gateway`` processes with their state dir (best effort)."""
    import psutil

    found = []
    own = os.getpid()
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            if process.info["pid"] == own or not cmdline:
                continue
            text = " ".join(cmdline)
            is_gateway = ("openclaw" in text and " gateway" in f" {text}"
                          and not any(w in cmdline for w in ("status", "probe", "call", "logs",
                                                             "install", "restart", "doctor")))
            twistd = "twistd" in text and "openclaw" in cmdline
            if not (is_gateway or twistd):
                continue
            environ = process.environ()
        except (psutil.Error, OSError):
            continue
        home = environ.get("OPENCLAW_HOME") or environ.get("HOME") or ""
        state = environ.get("OPENCLAW_STATE_DIR") or (
            os.path.join(home, ".openclaw") if home else "")
        found.append({"pid": process.info["pid"], "stateDir": os.path.realpath(state)
                      if state else "", "command": text[:200]})
    return found


def check_processes(report: Report, state_dir: str) -> None:
    try:
        processes = gateway_processes()
    except Exception:  # psutil can fail in odd sandboxes; this check is best effort
        return
    real = os.path.realpath(state_dir)
    sharing = [p for p in processes if p["stateDir"] == real]
    if len(sharing) > 1:
        pids = ", ".join(str(p["pid"]) for p in sharing)
        report.add("Gateway processes", f"- Multiple gateways share the state dir {state_dir} "
                                        f"(pids {pids}). Run one gateway per state dir; use "
                                        "--profile for isolated gateways.", problem=True)


def doctor_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(DOCTOR, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.config.paths import resolve_paths

    fix = bool(values["fix"] or values["repair"])
    if fix and (env.get("OPENCLAW_NIX_MODE") or "").strip() == "1":
        sys.stderr.write("Nix mode detected; doctor write modes are disabled.\n")
        fix = False
    paths = resolve_paths(env)
    report = Report(fix=fix)
    check_state(report, paths.state_dir, paths.config_path)
    config = check_config(report, env, paths, bool(values["generateGatewayToken"]))
    check_port(report, config, env)
    check_service(report, env, paths, config, bool(values["deep"]))
    check_processes(report, paths.state_dir)
    if values["json"]:
        from openclaw.cli.common import write_json

        write_json({"ok": not report.problems, "fix": fix, "sections": report.sections,
                    "changes": report.changes, "problems": report.problems})
        return 0 if not report.problems else 1
    out = ["┌  OpenClaw doctor"]
    for title, lines in report.sections.items():
        out.append(note(title, lines))
    if report.changes:
        out.append(note("Doctor changes", report.changes))
    if report.problems and not fix:
        out.append("│\n◇  Run \"openclaw doctor --fix\" to apply the safe repairs.")
    out.append("│\n└  Doctor complete." if not report.problems
               else f"│\n└  Doctor found {len(report.problems)} problem(s).")
    sys.stdout.write("\n".join(out) + "\n")
    return 0 if not report.problems else 1
