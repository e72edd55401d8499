"""Linux: a systemd *user* unit ``openclaw-gateway[-<profile>].service``.

The unit follows the operator runbook: ``ExecStart`` runs the gateway with the resolved port,
``Restart=always`` after ``RestartSec=5``, ``TimeoutStopSec=30`` (the Python gateway drains in
well under that), ``SuccessExitStatus=0 143`` (a SIGTERM stop is a clean exit),
``KillMode=control-group`` and ``RestartPreventExitStatus=78`` (a config refusal must not
restart-loop). It lives in ``~/.config/systemd/user/`` and is controlled with
``systemctl --user``. A *system* unit of the same name under ``/etc/systemd/system`` owns the
profile: we refuse to add a user unit next to it unless ``OPENCLAW_SERVICE_REPAIR_POLICY`` is
``external``.

Beyond the runbook (docs/operations.md): ``Type=notify`` (the gateway says ``READY=1`` once it
serves, ``RELOADING=1``/``READY=1`` around reloads, ``STOPPING=1``), ``ExecReload=`` sending
``SIGHUP`` (``systemctl reload`` re-reads the config), ``WatchdogSec=`` (a reactor that stops
turning is restarted), sandboxing as Synapse ships it (the full set for a system unit with its
own account; for a user unit the options that need no user namespace), and, with
``--socket-activation``, an ``openclaw-gateway[-<profile>].socket`` beside the service: systemd
holds the listening socket, so a restart or an upgrade never refuses a connection.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence

from openclaw.daemon import names
from openclaw.daemon.base import (
    GatewayServiceManager,
    ServiceActionError,
    ServiceManagerUnavailable,
    ServiceRuntime,
    write_service_file,
)
from openclaw.daemon.runner import CommandResult, CommandRunner
from openclaw.daemon.spec import ServiceCommand, ServiceSpec

SYSTEM_UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")

UNIT_POLICY: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Unit", (
        ("After", "network-online.target"),
        ("Wants", "network-online.target"),
        ("StartLimitBurst", "10"),
        ("StartLimitIntervalSec", "300"),
    )),
    ("Service", (
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("WatchdogSec", "30"),
        ("Restart", "always"),
        ("RestartSec", "5"),
        ("RestartPreventExitStatus", "78"),
        ("TimeoutStopSec", "30"),
        ("TimeoutStartSec", "30"),
        ("SuccessExitStatus", "0 143"),
        ("KillMode", "control-group"),
    )),
    ("Install", (("WantedBy", "default.target"),)),
)

# A user manager applies what needs no user namespace (PrivateUsers= would be implied, and
# hosts that restrict unprivileged namespaces would refuse to start the unit): no new
# privileges, seccomp filters, a private umask.
USER_HARDENING: tuple[tuple[str, str], ...] = (
    ("NoNewPrivileges", "true"),
    ("LockPersonality", "true"),
    ("RestrictRealtime", "true"),
    ("RestrictSUIDSGID", "true"),
    ("SystemCallArchitectures", "native"),
    ("UMask", "0077"),
)

# A system unit runs as its own account: Synapse's sandbox (contrib/systemd/
# override-hardened.conf), the state directory (the account's home) writable. /proc stays
# whole (no ProcSubset=pid): `status` reports host CPU from /proc/stat. MemoryDenyWriteExecute
# stays off: libffi closures need writable code pages.
SYSTEM_HARDENING: tuple[tuple[str, str], ...] = (
    ("PrivateTmp", "true"),
    ("PrivateDevices", "true"),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
    ("ProtectSystem", "strict"),
    ("ProtectKernelTunables", "true"),
    ("ProtectKernelModules", "true"),
    ("ProtectControlGroups", "true"),
    ("ProtectClock", "true"),
    ("ProtectHostname", "true"),
    ("ProtectHome", "true"),
    ("ProtectKernelLogs", "true"),
    ("ProtectProc", "invisible"),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallFilter", "~@privileged @resources @obsolete"),
    ("RestrictSUIDSGID", "true"),
    ("RemoveIPC", "true"),
    ("NoNewPrivileges", "true"),
    ("RestrictRealtime", "true"),
    ("RestrictNamespaces", "true"),
    ("LockPersonality", "true"),
    ("PrivateUsers", "true"),
    ("UMask", "0077"),
)

SOCKET_POLICY: tuple[tuple[str, str], ...] = (
    ("Backlog", "511"),
    ("NoDelay", "true"),
)

_UNAVAILABLE = re.compile(
    r"failed to connect to bus|no medium found|not been booted with systemd|"
    r"failed to connect to user scope bus|command not found|dbus_session_bus_address|"
    r"xdg_runtime_dir|operation not permitted",
    re.IGNORECASE,
)


def _no_line_breaks(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} cannot contain CR or LF characters.")
    return value


def escape_arg(value: str) -> str:
    """Quote an ExecStart/Environment word when it holds whitespace, quotes or backslashes."""
    _no_line_breaks(value, "Systemd unit values")
    if not re.search(r'[\s"\\]', value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _policy(section: str) -> list[str]:
    for name, entries in UNIT_POLICY:
        if name == section:
            return [f"{key}={value}" for key, value in entries]
    return []


def socket_unit_name(service_unit: str) -> str:
    """``openclaw-gateway-work.service`` -> ``openclaw-gateway-work.socket``."""
    base = service_unit[:-len(".service")] if service_unit.endswith(".service") else service_unit
    return f"{base}.socket"


def render_unit(spec: ServiceSpec, *, system_user: str | None = None,
                unit_name: str | None = None) -> str:
    """The unit file text for `spec` (pure; ``%`` is escaped as ``%%``).

    With `system_user` it is a *system* unit (``/etc/systemd/system``): it runs as that
    (non-root) account, gets the full sandbox with its working directory (the account's
    home) writable, and is wanted by ``multi-user.target`` instead of ``default.target``.
    With ``spec.listen_streams`` it requires its socket unit (``unit_name`` names the
    service, ``openclaw-gateway.service`` by default).
    """
    exec_start = " ".join(escape_arg(arg.replace("%", "%%")) for arg in spec.program_arguments)
    description = _no_line_breaks(spec.description.strip() or "OpenClaw Gateway", "Description")
    lines = ["[Unit]", f"Description={description}", *_policy("Unit")]
    if spec.listen_streams:
        socket = socket_unit_name(unit_name or "openclaw-gateway.service")
        lines.extend([f"Requires={socket}", f"After={socket}"])
    lines.extend(["", "[Service]", f"ExecStart={exec_start}", *_policy("Service")])
    hardening = SYSTEM_HARDENING if system_user else USER_HARDENING
    lines.extend(f"{key}={value}" for key, value in hardening)
    if system_user:
        lines.append(f"User={_no_line_breaks(system_user, 'User')}")
    if spec.working_directory:
        wd = _no_line_breaks(spec.working_directory, "WorkingDirectory")
        lines.append(f"WorkingDirectory={wd.replace('%', '%%')}")
        if system_user:
            lines.append(f"ReadWritePaths={wd.replace('%', '%%')}")
    for key, value in spec.environment.items():
        if not value.strip():
            continue
        _no_line_breaks(key, "Environment names")
        lines.append("Environment=" + escape_arg(f"{key}={value.strip()}".replace("%", "%%")))
    install = ["WantedBy=multi-user.target"] if system_user else _policy("Install")
    lines.extend(["", "[Install]", *install, ""])
    return "\n".join(lines)


def render_socket_unit(spec: ServiceSpec) -> str:
    """The ``.socket`` unit of a socket-activated gateway: systemd listens on
    ``spec.listen_streams`` and passes the sockets to the service of the same name."""
    if not spec.listen_streams:
        raise ValueError("socket activation needs at least one ListenStream address")
    description = _no_line_breaks(spec.description.strip() or "OpenClaw Gateway", "Description")
    lines = ["[Unit]", f"Description={description} (socket)", "", "[Socket]"]
    for address in spec.listen_streams:
        lines.append(f"ListenStream={_no_line_breaks(address, 'ListenStream')}")
    lines.extend(f"{key}={value}" for key, value in SOCKET_POLICY)
    if any(not _wildcard_or_loopback(address) for address in spec.listen_streams):
        # A tailnet or custom address may come up after the socket unit starts.
        lines.append("FreeBind=true")
    lines.extend(["", "[Install]", "WantedBy=sockets.target", ""])
    return "\n".join(lines)


def _wildcard_or_loopback(address: str) -> bool:
    import ipaddress

    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return True
    return ip.is_loopback or ip.is_unspecified


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for physical in text.splitlines():
        if physical.lstrip().startswith(("#", ";")) and not pending:
            continue
        line = pending + physical
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        lines.append(line)
    if pending:
        lines.append(pending)
    return lines


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values...]}}`` of a unit file (continuations joined)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = ""
    for line in _logical_lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
            sections.setdefault(current, {})
            continue
        key, sep, value = stripped.partition("=")
        if sep:
            sections.setdefault(current, {}).setdefault(key.strip(), []).append(value.strip())
    return sections


def _split_words(value: str) -> list[str]:
    try:
        return shlex.split(value, posix=True)
    except ValueError:
        return value.split()


def command_from_unit(text: str, source_path: str | None = None) -> ServiceCommand | None:
    """The ExecStart arguments, WorkingDirectory and Environment of a unit file."""
    service = parse_unit(text).get("Service", {})
    exec_start = (service.get("ExecStart") or [""])[-1]
    if not exec_start:
        return None
    exec_start = exec_start.lstrip("@-:+!")
    arguments = tuple(word.replace("%%", "%") for word in _split_words(exec_start))
    environment: dict[str, str] = {}
    for raw in service.get("Environment", []):
        for word in _split_words(raw):
            key, sep, value = word.partition("=")
            if sep and key:
                environment[key] = value.replace("%%", "%")
    working_values = service.get("WorkingDirectory") or []
    working_directory = working_values[-1] if working_values else None
    return ServiceCommand(
        program_arguments=arguments,
        working_directory=working_directory.replace("%%", "%") if working_directory else None,
        environment=environment,
        source_path=source_path,
    )


def is_unavailable_detail(detail: str) -> bool:
    return bool(_UNAVAILABLE.search(detail))


class SystemdUserService(GatewayServiceManager):
    """``systemctl --user`` control of the gateway unit of one profile."""

    label = "systemd"
    loaded_text = "enabled"
    not_loaded_text = "disabled"
    kind = "systemd"

    def __init__(
        self,
        env: dict[str, str],
        runner: CommandRunner,
        *,
        system_unit_dirs: Sequence[str] = SYSTEM_UNIT_DIRS,
    ) -> None:
        super().__init__(env, runner)
        self.system_unit_dirs = tuple(system_unit_dirs)
        self._available: str | None = None  # None: not checked; "": available

    @property
    def unit_name(self) -> str:
        return names.systemd_unit_name(self.env)

    @property
    def service_name(self) -> str:
        return self.unit_name

    @property
    def unit_dir(self) -> str:
        home = self.env.get("HOME") or os.path.expanduser("~")
        return os.path.join(home, ".config", "systemd", "user")

    @property
    def definition_path(self) -> str:
        return os.path.join(self.unit_dir, self.unit_name)

    def system_unit_path(self) -> str | None:
        """A system-level unit of the same name (it owns this profile), if any."""
        for directory in self.system_unit_dirs:
            path = os.path.join(directory, self.unit_name)
            if os.path.isfile(path):
                return path
        return None

    @property
    def socket_unit_name(self) -> str:
        return socket_unit_name(self.unit_name)

    @property
    def socket_path(self) -> str:
        return os.path.join(self.unit_dir, self.socket_unit_name)

    def render(self, spec: ServiceSpec) -> str:
        return render_unit(spec, unit_name=self.unit_name)

    def read_command(self) -> ServiceCommand | None:
        try:
            with open(self.definition_path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            return None
        return command_from_unit(text, self.definition_path)

    # -- systemctl ---------------------------------------------------------------------

    def systemctl(self, *args: str) -> CommandResult:
        return self.run("systemctl", "--user", *args)

    def _checked(self, *args: str) -> CommandResult:
        result = self.systemctl(*args)
        if result.ok:
            return result
        detail = result.detail
        if result.code == 127 or is_unavailable_detail(detail):
            raise ServiceManagerUnavailable(f"systemctl --user unavailable: {detail}")
        raise ServiceActionError(f"systemctl --user {' '.join(args)} failed: {detail}")

    def check_available(self) -> None:
        """Raise :class:`ServiceManagerUnavailable` when the user manager cannot be reached.

        ``is-enabled`` reads unit files without the bus, so it would pass on a host whose
        user manager is down; ``show-environment`` needs the manager itself.
        """
        if self._available is None:
            result = self.systemctl("show-environment")
            self._available = "" if result.ok else (
                f"systemctl --user unavailable: {result.detail}")
        if self._available:
            raise ServiceManagerUnavailable(self._available)

    def is_loaded(self) -> bool:
        self.check_available()
        result = self.systemctl("is-enabled", self.unit_name)
        state = result.stdout.strip()
        if result.ok:
            return state in ("enabled", "enabled-runtime", "linked", "linked-runtime", "static",
                             "alias", "indirect", "generated")
        if result.code == 127 or is_unavailable_detail(result.detail):
            raise ServiceManagerUnavailable(f"systemctl --user unavailable: {result.detail}")
        return False

    def read_runtime(self) -> ServiceRuntime:
        result = self.systemctl(
            "show", self.unit_name, "--no-page",
            "--property=ActiveState,SubState,MainPID,ExecMainStatus,ExecMainCode,LoadState",
        )
        if not result.ok:
            detail = result.detail
            if result.code == 127 or is_unavailable_detail(detail):
                detail = f"systemctl --user unavailable: {detail}"
            return ServiceRuntime(status="unknown", detail=detail)
        props = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        active = props.get("ActiveState") or None
        pid_text = props.get("MainPID", "0")
        pid = int(pid_text) if pid_text.isdigit() and int(pid_text) > 0 else None
        exit_text = props.get("ExecMainStatus", "")
        missing = props.get("LoadState") == "not-found"
        status = "running" if active in ("active", "reloading", "activating") else (
            "stopped" if active else "unknown")
        return ServiceRuntime(
            status=status, state=active, sub_state=props.get("SubState") or None, pid=pid,
            last_exit_status=int(exit_text) if exit_text.isdigit() else None,
            last_exit_reason=props.get("ExecMainCode") or None, missing_unit=missing,
        )

    def install(self, spec: ServiceSpec, out: list[str]) -> None:
        system_unit = self.system_unit_path()
        policy = (self.env.get("OPENCLAW_SERVICE_REPAIR_POLICY") or "").strip().lower()
        if system_unit and policy != "external":
            raise ServiceActionError(
                f"System-level OpenClaw gateway service detected: {system_unit}. Refusing to "
                f"install a user-level {self.unit_name} for the same profile; manage the system "
                "unit with sudo systemctl, or set OPENCLAW_SERVICE_REPAIR_POLICY=external when "
                "the system unit owns the lifecycle."
            )
        had_socket = os.path.exists(self.socket_path)
        write_service_file(self.definition_path, self.render(spec))
        if spec.listen_streams:
            write_service_file(self.socket_path, render_socket_unit(spec))
        elif had_socket:
            self.systemctl("disable", "--now", self.socket_unit_name)
            os.unlink(self.socket_path)
            out.append(f"Removed systemd socket: {self.socket_path}")
        self._checked("daemon-reload")
        self._checked("enable", self.unit_name)
        if spec.listen_streams:
            # The running gateway holds the port: stop it, let systemd take the address,
            # then start the gateway on the socket systemd passes.
            self._checked("stop", self.unit_name)
            self._checked("enable", self.socket_unit_name)
            self._checked("restart", self.socket_unit_name)
        self._checked("restart", self.unit_name)
        out.append(f"Installed systemd service: {self.definition_path}")
        if spec.listen_streams:
            out.append(f"Installed systemd socket: {self.socket_path} "
                       f"({', '.join(spec.listen_streams)})")

    def uninstall(self, out: list[str]) -> None:
        socket_path = self.socket_path
        # The socket first: while it listens, a connection would start the service again.
        units = ([self.socket_unit_name] if os.path.exists(socket_path) else []) + [
            self.unit_name]
        for unit in units:
            result = self.systemctl("disable", "--now", unit)
            if result.code == 127 or (not result.ok and is_unavailable_detail(result.detail)):
                raise ServiceManagerUnavailable(
                    f"systemctl --user unavailable: {result.detail}")
        if os.path.exists(socket_path):
            os.unlink(socket_path)
            out.append(f"Removed systemd socket: {socket_path}")
        path = self.definition_path
        if os.path.exists(path):
            os.unlink(path)
            self.systemctl("daemon-reload")
            out.append(f"Removed systemd service: {path}")

    def start(self, out: list[str]) -> None:
        self._checked("start", self.unit_name)
        out.append(f"Started systemd service: {self.unit_name}")

    def stop(self, out: list[str], *, disable: bool = False) -> None:
        self._checked("stop", self.unit_name)
        if disable:
            self._checked("disable", self.unit_name)
        out.append(f"Stopped systemd service: {self.unit_name}")

    def restart(self, out: list[str]) -> None:
        self._checked("restart", self.unit_name)
        out.append(f"Restarted systemd service: {self.unit_name}")

    def start_hints(self) -> list[str]:
        return ["openclaw gateway install", "openclaw gateway start",
                f"systemctl --user start {self.unit_name}"]

    def log_hints(self) -> list[str]:
        return [f"Logs: journalctl --user -u {self.unit_name} -n 200 --no-pager"]

    def unsupported_detail(self) -> str:
        return "systemd user services unavailable."

    def linger_warning(self, user: str) -> str | None:
        """``Systemd lingering is disabled for <user>...`` when ``loginctl`` says so."""
        result = self.run("loginctl", "show-user", user, "--property=Linger")
        if result.ok and result.stdout.strip() == "Linger=no":
            return (f"Systemd lingering is disabled for {user}. Run: sudo loginctl "
                    f"enable-linger {user}")
        return None
