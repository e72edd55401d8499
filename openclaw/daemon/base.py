"""The interface every native service manager implements, and what it reports."""

from __future__ import annotations

from typing import Any

import attrs

from openclaw.atomic_files import atomic_write_bytes
from openclaw.daemon.runner import CommandResult, CommandRunner
from openclaw.daemon.spec import ServiceCommand, ServiceSpec


class ServiceManagerUnavailable(Exception):
    """The native manager cannot be used here (no user bus, binary missing, wrong OS)."""


class ServiceActionError(Exception):
    """A manager command failed; ``str()`` is the operator-facing reason."""


@attrs.frozen
class ServiceRuntime:
    """The ``service.runtime`` block of ``gateway status --json``."""

    status: str = "unknown"  # running | stopped | unknown
    state: str | None = None
    sub_state: str | None = None
    pid: int | None = None
    last_exit_status: int | None = None
    last_exit_reason: str | None = None
    detail: str | None = None
    missing_unit: bool = False

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"status": self.status}
        for key, attr in (("state", self.state), ("subState", self.sub_state),
                          ("pid", self.pid), ("lastExitStatus", self.last_exit_status),
                          ("lastExitReason", self.last_exit_reason), ("detail", self.detail)):
            if attr is not None:
                value[key] = attr
        if self.missing_unit:
            value["missingUnit"] = True
        return value

    @property
    def short(self) -> str:
        """``running (pid 4242, state active, sub running)``."""
        details = []
        if self.pid:
            details.append(f"pid {self.pid}")
        if self.state:
            details.append(f"state {self.state}")
        if self.sub_state:
            details.append(f"sub {self.sub_state}")
        if self.last_exit_status is not None and self.status != "running":
            details.append(f"last exit {self.last_exit_status}")
        return f"{self.status} ({', '.join(details)})" if details else self.status


def write_service_file(path: str, content: str | bytes, *, mode: int = 0o644) -> str | None:
    """Atomically write `path`, keeping a previous different file as ``<path>.bak``.

    Returns the backup path when one was written.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    backup = None
    try:
        with open(path, "rb") as f:
            previous = f.read()
    except FileNotFoundError:
        previous = None
    if previous is not None and previous != data:
        backup = f"{path}.bak"
        atomic_write_bytes(backup, previous, mode=None, directory_mode=0o777)
    atomic_write_bytes(path, data, mode=mode, directory_mode=0o777)
    return backup


class GatewayServiceManager:
    """One platform's service manager for the gateway service of one profile."""

    label = "Gateway service"
    loaded_text = "available"
    not_loaded_text = "not installed"
    kind = "none"

    def __init__(self, env: dict[str, str], runner: CommandRunner) -> None:
        self.env = env
        self.runner = runner

    @property
    def definition_path(self) -> str | None:
        """Where the service definition file lives (unit, plist, task script)."""
        return None

    @property
    def service_name(self) -> str:
        return self.label

    def render(self, spec: ServiceSpec) -> str:
        raise NotImplementedError

    def read_command(self) -> ServiceCommand | None:
        """The installed definition's command, or None when nothing is installed."""
        return None

    def is_loaded(self) -> bool:
        raise ServiceManagerUnavailable(self.unsupported_detail())

    def read_runtime(self) -> ServiceRuntime:
        return ServiceRuntime(detail=self.unsupported_detail())

    def install(self, spec: ServiceSpec, out: list[str]) -> None:
        raise ServiceManagerUnavailable(self.unsupported_detail())

    def uninstall(self, out: list[str]) -> None:
        raise ServiceManagerUnavailable(self.unsupported_detail())

    def start(self, out: list[str]) -> None:
        raise ServiceManagerUnavailable(self.unsupported_detail())

    def stop(self, out: list[str], *, disable: bool = False) -> None:
        raise ServiceManagerUnavailable(self.unsupported_detail())

    def restart(self, out: list[str]) -> None:
        raise ServiceManagerUnavailable(self.unsupported_detail())

    def start_hints(self) -> list[str]:
        return ["openclaw gateway install", "openclaw gateway start"]

    def log_hints(self) -> list[str]:
        return []

    def linger_warning(self, user: str) -> str | None:
        """Why the service would stop at logout (systemd without lingering), if it would."""
        return None

    def unsupported_detail(self) -> str:
        return "No supported service manager detected."

    def run(self, *argv: str) -> CommandResult:
        return self.runner(list(argv))
