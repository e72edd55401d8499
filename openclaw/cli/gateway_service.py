"""``openclaw gateway install|uninstall|start|stop|restart`` (and the legacy ``daemon`` alias).

The real CLI's lifecycle contract (``src/cli/daemon-cli/lifecycle-core.ts``):

* ``install [--port N] [--token T] [--force] [--json]`` writes the native definition and
  starts it; an already enabled service is left alone without ``--force``;
* ``start`` is idempotent (already running: exit 0); with no service installed it prints the
  install hints (``Tip: ...``) and exits 1;
* ``stop [--disable]`` on an absent service is a successful no-op;
* ``restart`` checks the config first, restarts, then waits for ``/readyz`` on the service's
  port with a progress indicator: healthy -> 0, the service died -> 1
  (``restart-health-failed``), still starting when the wait ends -> 2 (``still-starting``).
  A gateway no service manager runs (started by hand, in a container, under another
  supervisor) is found by its lock and asked for a process restart by re-exec: it hands its
  listening socket to the new image, so no connection attempt is refused
  (:mod:`openclaw.gateway.handover`);
* ``install --socket-activation`` (systemd) adds a ``.socket`` unit on the gateway's
  addresses: systemd holds the listening socket across restarts and upgrades;
* ``--json`` prints ``{"action", "ok", "result"?, "message"?, "service", "error"?, "hints"?}``.

Failures print the message on stderr and each hint as ``Tip: <hint>`` on stdout.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from openclaw.cli.common import write_json
from openclaw.cli.options import JSON, Command, Option, run_parse

if TYPE_CHECKING:
    from openclaw.config.paths import OpenClawPaths

DEFAULT_RESTART_WAIT_S = 60.0
READY_POLL_S = 0.5

INSTALL = Command(
    usage="openclaw gateway install [options]",
    description="Install the Gateway service (launchd/systemd/schtasks)",
    options=(
        Option("--port", "Gateway port", "<port>"),
        Option("--runtime", "Daemon runtime (accepted for compatibility; Python here)",
               "<runtime>"),
        Option("--token", "Gateway token (token auth)", "<token>"),
        Option("--force", "Reinstall/overwrite if already installed"),
        Option("--socket-activation", "systemd holds the listening socket (a .socket unit on "
               "the gateway's address): restarts and upgrades never refuse a connection"),
        JSON,
    ),
)
UNINSTALL = Command(usage="openclaw gateway uninstall [options]",
                    description="Uninstall the Gateway service (launchd/systemd/schtasks)",
                    options=(JSON,))
START = Command(usage="openclaw gateway start [options]",
                description="Start the Gateway service (launchd/systemd/schtasks)",
                options=(JSON,))
STOP = Command(
    usage="openclaw gateway stop [options]",
    description="Stop the Gateway service (launchd/systemd/schtasks)",
    options=(
        Option("--disable", "Keep the service from starting again until the next start"),
        Option("--force", "Accepted for compatibility (stop never prompts here)"),
        JSON,
    ),
)
RESTART = Command(
    usage="openclaw gateway restart [options]",
    description="Restart the Gateway service and wait until it is ready",
    options=(
        Option("--wait", "How long to wait for readiness (e.g. 30s, 2m, 45000ms; default 60s)",
               "<duration>"),
        Option("--force", "Accepted for compatibility"),
        JSON,
    ),
)


class Action:
    """One lifecycle action: collects output, emits text or JSON, decides the exit code."""

    def __init__(self, name: str, json_mode: bool, manager: Any) -> None:
        self.name = name
        self.json = json_mode
        self.manager = manager
        self.warnings: list[str] = []

    def snapshot(self, loaded: bool) -> dict[str, Any]:
        return {"label": self.manager.label, "loaded": loaded,
                "loadedText": self.manager.loaded_text,
                "notLoadedText": self.manager.not_loaded_text}

    def warn(self, message: str) -> None:
        if self.json:
            self.warnings.append(message)
        else:
            sys.stdout.write(message + "\n")

    def lines(self, lines: list[str]) -> None:
        if not self.json:
            for line in lines:
                sys.stdout.write(line + "\n")

    def ok(self, result: str, loaded: bool, message: str | None = None) -> int:
        if self.json:
            payload: dict[str, Any] = {"action": self.name, "ok": True, "result": result}
            if message:
                payload["message"] = message
            payload["service"] = self.snapshot(loaded)
            if self.warnings:
                payload["warnings"] = self.warnings
            write_json(payload)
        elif message:
            sys.stdout.write(message + "\n")
        return 0

    def fail(self, message: str, hints: list[str] | None = None, result: str | None = None
             ) -> int:
        if self.json:
            payload: dict[str, Any] = {"action": self.name, "ok": False, "error": message}
            if hints:
                payload["hints"] = hints
            if result:
                payload["result"] = result
            if self.warnings:
                payload["warnings"] = self.warnings
            write_json(payload)
        else:
            sys.stderr.write(message + "\n")
            for hint in hints or []:
                sys.stdout.write(f"Tip: {hint}\n")
        return 2 if result == "still-starting" else 1


def _context(env: MutableMapping[str, str]) -> tuple[Any, Any, Any]:
    """(paths, client config, service manager) for this environment."""
    from openclaw.client.target import ClientConfig
    from openclaw.config.paths import resolve_paths
    from openclaw.daemon import service_manager

    paths = resolve_paths(env)
    config = ClientConfig.load(paths.config_path, env, paths.home)
    return paths, config, service_manager(env, state_dir=paths.state_dir)


def _unavailable_hints(manager: Any) -> list[str]:
    if manager.kind != "systemd":
        return []
    return [
        "systemd user services are unavailable; install/enable systemd or run the gateway "
        "under your supervisor.",
        "On a headless server (SSH/no desktop session): run `sudo loginctl enable-linger "
        "$(whoami)` to persist your systemd user session across logins.",
        "If you're in a container, run the gateway in the foreground instead of "
        "`openclaw gateway`.",
    ]


def _loaded_or_fail(action: Action) -> bool | int:
    """The manager's loaded state, or the exit code of the failure already reported."""
    from openclaw.daemon import ServiceManagerUnavailable

    try:
        return bool(action.manager.is_loaded())
    except ServiceManagerUnavailable as e:
        return action.fail(f"Gateway service check failed: {e}", _unavailable_hints(
            action.manager))


def install_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(INSTALL, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.cli.common import parse_port_option
    from openclaw.cli.options import InvalidValue
    from openclaw.client.target import resolve_local_port
    from openclaw.daemon import (
        ServiceActionError,
        ServiceManagerUnavailable,
        build_gateway_spec,
        current_platform,
    )
    from openclaw.daemon.spec import package_source_root

    paths, config, manager = _context(env)
    action = Action("install", bool(values["json"]), manager)
    if (env.get("OPENCLAW_NIX_MODE") or "").strip() == "1":
        return action.fail("Nix mode detected; service install is disabled.")
    try:
        port = parse_port_option(values.get("port"))
    except InvalidValue as e:
        return action.fail(f"Gateway install failed: {e}")
    if port is None:
        port = resolve_local_port(env, config)[0]
    try:
        loaded = manager.is_loaded()
    except ServiceManagerUnavailable:
        loaded = False  # install still writes the definition and reports the manager's error
    if loaded and not values["force"]:
        action.ok("already-installed", True, f"Gateway service already {manager.loaded_text}.")
        if not action.json:
            sys.stdout.write("Reinstall with: openclaw gateway install --force\n")
        return 0
    if config.exists and config.error is None and config.mode is None:
        from openclaw.cli.config_cmd import set_config_value

        set_config_value(paths, env, "gateway.mode", "local")
        action.warn("No gateway.mode found. Set gateway.mode=local for managed gateway install.")
    listen_streams: tuple[str, ...] = ()
    if values.get("socketActivation"):
        if manager.kind != "systemd":
            return action.fail("Gateway install failed: --socket-activation needs systemd "
                               f"(the service manager here is {manager.label}).")
        try:
            listen_streams = socket_addresses(config.bind, config.custom_bind_host, port)
        except ValueError as e:
            return action.fail(f"Gateway install failed: {e}")
    spec = build_gateway_spec(
        env, port=port, platform=current_platform(), state_dir=paths.state_dir,
        token=(values.get("token") or None), source_root=package_source_root(),
        listen_streams=listen_streams,
    )
    out: list[str] = []
    try:
        manager.install(spec, out)
    except (ServiceManagerUnavailable, ServiceActionError, ValueError, OSError) as e:
        action.lines(out)
        hints = _unavailable_hints(manager) if isinstance(e, ServiceManagerUnavailable) else []
        return action.fail(f"Gateway install failed: {e}", hints)
    action.lines(out)
    try:
        installed = manager.is_loaded()
    except ServiceManagerUnavailable as e:
        return action.fail(f"Gateway install verification failed: {e}")
    if not installed:
        return action.fail(
            f"Gateway install verification failed: service is not {manager.loaded_text}.")
    if manager.kind == "systemd":
        import getpass

        linger = manager.linger_warning(env.get("USER") or getpass.getuser())
        if linger:
            action.warn(linger)
    return action.ok(
        "installed", True,
        "Gateway service installed. Runtime readiness has not been checked; startup may still "
        "be in progress. Check with openclaw gateway status and openclaw health.",
    )


def socket_addresses(bind: str, custom_host: str | None, port: int) -> tuple[str, ...]:
    """``ListenStream=`` values for the addresses the gateway itself would bind (the
    optional ones, like loopback's ``::1``, left out: a socket unit fails when one does)."""
    from openclaw.gateway.startup import StartupRefused, resolve_listen_addresses

    try:
        listen, _ = resolve_listen_addresses(bind, custom_host)
    except StartupRefused as e:
        raise ValueError(e.message) from None
    return tuple(f"[{a.host}]:{port}" if ":" in a.host else f"{a.host}:{port}"
                 for a in listen if a.required)


def uninstall_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(UNINSTALL, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.daemon import ServiceActionError, ServiceManagerUnavailable

    _paths, _config, manager = _context(env)
    action = Action("uninstall", bool(values["json"]), manager)
    if (env.get("OPENCLAW_NIX_MODE") or "").strip() == "1":
        return action.fail("Nix mode detected; service uninstall is disabled.")
    out: list[str] = []
    try:
        manager.uninstall(out)
    except (ServiceManagerUnavailable, ServiceActionError, OSError) as e:
        action.lines(out)
        hints = []
        if manager.definition_path and os.path.exists(manager.definition_path):
            hints.append(f"Service definition left in place: {manager.definition_path}")
        return action.fail(f"Gateway uninstall failed: {e}", hints)
    action.lines(out)
    try:
        loaded = manager.is_loaded()
    except ServiceManagerUnavailable:
        loaded = False
    if loaded:
        return action.fail("Gateway service still loaded after uninstall.")
    return action.ok("uninstalled", False)


def start_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(START, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.daemon import ServiceActionError, ServiceManagerUnavailable

    _paths, _config, manager = _context(env)
    action = Action("start", bool(values["json"]), manager)
    loaded = _loaded_or_fail(action)
    if not isinstance(loaded, bool):
        return loaded
    has_definition = bool(manager.definition_path and os.path.exists(manager.definition_path))
    if not loaded and not has_definition:
        return action.fail(f"Gateway service {manager.not_loaded_text}.", manager.start_hints())
    if loaded:
        runtime = manager.read_runtime()
        if runtime.status == "running":
            pid = f" (pid {runtime.pid})" if runtime.pid else ""
            return action.ok("already-running", True, f"Gateway service already running{pid}.")
    out: list[str] = []
    try:
        if not loaded and manager.kind == "systemd":
            manager.systemctl("enable", manager.unit_name)  # re-arm after `stop --disable`
        manager.start(out)
    except (ServiceManagerUnavailable, ServiceActionError) as e:
        action.lines(out)
        return action.fail(f"Gateway start failed: {e}", manager.start_hints())
    action.lines(out)
    return action.ok("started", True)


def stop_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(STOP, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.daemon import ServiceActionError, ServiceManagerUnavailable

    _paths, _config, manager = _context(env)
    action = Action("stop", bool(values["json"]), manager)
    loaded = _loaded_or_fail(action)
    if not isinstance(loaded, bool):
        return loaded
    if not loaded:
        return action.ok("not-loaded", False, f"Gateway service {manager.not_loaded_text}.")
    out: list[str] = []
    try:
        manager.stop(out, disable=bool(values["disable"]))
    except (ServiceManagerUnavailable, ServiceActionError) as e:
        action.lines(out)
        return action.fail(f"Gateway stop failed: {e}")
    action.lines(out)
    try:
        still_loaded = manager.is_loaded()
    except ServiceManagerUnavailable as e:
        return action.fail(f"Gateway stop verification failed because service status is "
                           f"unknown: {e}")
    return action.ok("stopped", still_loaded)


def parse_duration_s(raw: str | None, default: float) -> float:
    """``30s``, ``2m``, ``45000ms`` or a bare number of milliseconds."""
    from openclaw.cli.options import InvalidValue

    if raw is None:
        return default
    text = raw.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    if text.isdigit():
        return int(text) / 1000.0
    raise InvalidValue(f"Invalid --wait: {raw}")


def _ready(port: int) -> bool:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


class Progress:
    """A one-line progress indicator on stderr (redrawn in place on a terminal)."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled = enabled
        self.label = label
        self.tty = sys.stderr.isatty()
        self.shown = False

    def update(self, elapsed: float) -> None:
        if not self.enabled:
            return
        if self.tty:
            frame = "|/-\\"[int(elapsed / READY_POLL_S) % 4]
            sys.stderr.write(f"\r{frame} {self.label} {elapsed:.0f}s")
            sys.stderr.flush()
        elif not self.shown:
            sys.stderr.write(f"{self.label}\n")
        self.shown = True

    def done(self) -> None:
        if self.enabled and self.tty and self.shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def restart_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(RESTART, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.cli.options import InvalidValue
    from openclaw.client.target import resolve_local_port
    from openclaw.config import ConfigError, load_config
    from openclaw.daemon import ServiceActionError, ServiceManagerUnavailable

    paths, config, manager = _context(env)
    action = Action("restart", bool(values["json"]), manager)
    try:
        wait_s = parse_duration_s(values.get("wait"), DEFAULT_RESTART_WAIT_S)
    except InvalidValue as e:
        return action.fail(f"Gateway restart failed: {e}")
    try:
        loaded: bool | None = bool(manager.is_loaded())
        unavailable = None
    except ServiceManagerUnavailable as e:
        loaded, unavailable = None, e
    running: int | None = None
    if not loaded:
        running = running_gateway_pid(paths, resolve_local_port(env, config)[0])
        if running is None and unavailable is not None:
            return action.fail(f"Gateway service check failed: {unavailable}",
                               _unavailable_hints(manager))
        if running is None:
            return action.fail(f"Gateway service {manager.not_loaded_text}.",
                               manager.start_hints())
    try:
        load_config(paths.config_path, env=env, home=paths.home)
    except ConfigError as e:
        return action.fail(
            f"Gateway aborted: config is invalid.\n{e}\nFix: run `openclaw doctor --fix`, then "
            "`openclaw gateway restart`.")
    if not loaded:
        assert running is not None
        return restart_unmanaged(action, paths, running, resolve_local_port(env, config)[0],
                                 wait_s)
    command = manager.read_command()
    port = (command.port if command else None) or resolve_local_port(env, config)[0]
    out: list[str] = []
    try:
        manager.restart(out)
    except (ServiceManagerUnavailable, ServiceActionError) as e:
        action.lines(out)
        return action.fail(f"Gateway restart failed: {e}", manager.start_hints())
    action.lines(out)
    progress = Progress(not action.json, f"Waiting for the gateway on port {port} to be ready…")
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if _ready(port):
            progress.done()
            return action.ok("restarted", True, f"Gateway ready on port {port} "
                                                f"({elapsed:.1f}s).")
        runtime = manager.read_runtime()
        died = runtime.status == "stopped" or runtime.state == "failed" or (
            runtime.sub_state == "auto-restart")
        if died and elapsed > 2 * READY_POLL_S:
            progress.done()
            hints = manager.log_hints()
            return action.fail("Gateway did not become healthy after restart.", hints,
                               "restart-health-failed")
        if elapsed >= wait_s:
            progress.done()
            return action.fail(
                f"Gateway service is still starting after {round(elapsed)}s. Run openclaw "
                "gateway status --deep.", None, "still-starting")
        progress.update(elapsed)
        time.sleep(READY_POLL_S)


def running_gateway_pid(paths: OpenClawPaths, port: int) -> int | None:
    """The gateway of this config that no service manager runs: the holder of its lock, or
    (``OPENCLAW_ALLOW_MULTI_GATEWAY``: no lock) the openclaw process listening on its port."""
    from openclaw.config.paths import lock_file_path
    from openclaw.gateway.lock import lock_holder
    from openclaw.gateway.ports import listener_pids, process_command

    pid = lock_holder(lock_file_path(paths))
    if pid is not None:
        return pid
    for candidate in listener_pids(port):
        command = process_command(candidate) or ""
        if "openclaw" in command and "gateway" in command:
            return candidate
    return None


def _readiness(port: int) -> tuple[bool, int | None]:
    """``/readyz`` from loopback: ready or not, and the serving tree's uptime (ms)."""
    import http.client
    import json

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/readyz")
        response = connection.getresponse()
        body = response.read()
    except OSError:
        return False, None
    finally:
        connection.close()
    try:
        uptime = json.loads(body).get("uptimeMs")
    except (ValueError, AttributeError):
        uptime = None
    return response.status == 200, uptime if isinstance(uptime, int) else None


def restart_unmanaged(action: Action, paths: OpenClawPaths, pid: int, port: int,
                      wait_s: float) -> int:
    """Ask the gateway ``pid`` for a process restart by re-exec (it keeps its listening
    socket), then wait until a tree started after the request is ready on ``port``."""
    import signal

    from openclaw.config.paths import lock_file_path
    from openclaw.gateway.handover import (
        RestartRequest,
        request_path_for,
        write_restart_request,
    )

    requested_at = time.time()
    try:
        write_restart_request(request_path_for(lock_file_path(paths)),
                              RestartRequest(pid=pid, requested_at=requested_at))
        os.kill(pid, signal.SIGUSR2)
    except OSError as e:
        return action.fail(f"Gateway restart failed: cannot signal the gateway (pid {pid}): "
                           f"{e.strerror or e}")
    action.lines([f"Restarting the gateway (pid {pid}; its listening socket is handed over)"])
    progress = Progress(not action.json, f"Waiting for the gateway on port {port} to be ready…")
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        ready, uptime_ms = _readiness(port)
        if ready and uptime_ms is not None and uptime_ms <= (time.time() - requested_at) * 1000:
            progress.done()
            return action.ok("restarted", False, f"Gateway ready on port {port} "
                                                 f"({elapsed:.1f}s).")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            progress.done()
            return action.fail("Gateway did not come back after restart (the process "
                               "exited).", ["openclaw logs --limit 200"],
                               "restart-health-failed")
        except PermissionError:
            pass
        if elapsed >= wait_s:
            progress.done()
            return action.fail(
                f"Gateway is still restarting after {round(elapsed)}s. Run openclaw "
                "gateway status --deep.", None, "still-starting")
        progress.update(elapsed)
        time.sleep(READY_POLL_S / 5)


DAEMON_SUBCOMMANDS = {
    "install": install_command, "uninstall": uninstall_command, "start": start_command,
    "stop": stop_command, "restart": restart_command,
}


def daemon_command(args: list[str], env: MutableMapping[str, str]) -> int:
    """``openclaw daemon <install|uninstall|start|stop|restart|status>``: legacy alias."""
    if args and args[0] == "status":
        from openclaw.cli.gateway_status import gateway_status_command

        return gateway_status_command(args[1:], env)
    if not args or args[0] not in DAEMON_SUBCOMMANDS:
        word = args[0] if args else ""
        if word in ("-h", "--help", ""):
            sys.stdout.write("Usage: openclaw daemon <install|uninstall|start|stop|restart|"
                             "status> [options]\n")
            return 0 if word else 1
        sys.stderr.write(f'OpenClaw daemon has no command "{word}".\nTry: openclaw daemon '
                         "--help\nDocs: https://docs.openclaw.ai/cli\n")
        return 1
    return DAEMON_SUBCOMMANDS[args[0]](args[1:], env)
