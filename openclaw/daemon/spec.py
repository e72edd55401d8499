"""What a managed gateway service runs: program arguments, environment, description.

The install plan of the real CLI (``buildGatewayInstallPlan`` / ``buildServiceEnvironment``)
for a Python gateway: ``[python, -m, openclaw, gateway, --port, N]`` with a minimal PATH
(system dirs + the interpreter's dir + user bin dirs, never the caller's full PATH), the
state/config paths and profile, the resolved port, the service identity variables and the
``OPENCLAW_SERVICE_MARKER``/``KIND``/``VERSION`` markers. A token is embedded only when given
explicitly (``--token``); otherwise the gateway reads it from its config at start.

Everything here is pure: rendering and tests work on every platform.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import attrs

from openclaw import __version__
from openclaw.daemon import names

LINUX_SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
DARWIN_SYSTEM_PATH = (
    "/opt/homebrew/bin", "/opt/homebrew/sbin", "/usr/local/bin", "/usr/bin", "/bin",
    "/usr/sbin", "/sbin",
)
# Only these service env keys are shown by `gateway status` (secrets never are).
SAFE_ENV_KEYS = (
    "OPENCLAW_PROFILE", "OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH", "OPENCLAW_GATEWAY_PORT",
    "OPENCLAW_CONFIG_READONLY", "OPENCLAW_NIX_MODE",
)


@attrs.frozen
class ServiceSpec:
    """A platform-neutral description of the gateway service to install."""

    description: str
    program_arguments: tuple[str, ...]
    environment: Mapping[str, str] = attrs.field(factory=dict)
    working_directory: str | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None
    # Socket activation: the addresses (``127.0.0.1:18789``, ``[::1]:18789``) the service
    # manager listens on and passes to the gateway. Empty: the gateway binds itself.
    listen_streams: tuple[str, ...] = ()

    @property
    def port(self) -> int | None:
        return port_from_arguments(self.program_arguments)


@attrs.frozen
class ServiceCommand:
    """What an installed service definition says it runs (read back from the unit file)."""

    program_arguments: tuple[str, ...]
    working_directory: str | None = None
    environment: Mapping[str, str] = attrs.field(factory=dict)
    source_path: str | None = None

    @property
    def port(self) -> int | None:
        """``--port N`` in the arguments, else ``OPENCLAW_GATEWAY_PORT`` in the environment."""
        port = port_from_arguments(self.program_arguments)
        if port is not None:
            return port
        raw = (self.environment.get("OPENCLAW_GATEWAY_PORT") or "").strip()
        return int(raw) if raw.isdigit() and 0 < int(raw) < 65536 else None

    @property
    def port_source(self) -> str:
        return "service args" if port_from_arguments(self.program_arguments) else "env/config"

    def to_json(self) -> dict[str, object]:
        """The ``service.command`` of ``gateway status --json`` (env filtered of secrets)."""
        value: dict[str, object] = {"programArguments": list(self.program_arguments)}
        if self.working_directory:
            value["workingDirectory"] = self.working_directory
        safe = {k: v for k, v in self.environment.items() if k in SAFE_ENV_KEYS and v.strip()}
        if safe:
            value["environment"] = safe
        if self.source_path:
            value["sourcePath"] = self.source_path
        return value


def port_from_arguments(arguments: tuple[str, ...] | list[str]) -> int | None:
    for index, arg in enumerate(arguments):
        value = None
        if arg == "--port" and index + 1 < len(arguments):
            value = arguments[index + 1]
        elif arg.startswith("--port="):
            value = arg.split("=", 1)[1]
        if value is not None and value.isdigit() and 0 < int(value) < 65536:
            return int(value)
    return None


def minimal_path(home: str | None, platform: str, python_dir: str | None = None) -> str:
    """A PATH for the service: interpreter dir, system dirs, common user bin dirs."""
    parts: list[str] = []
    if python_dir:
        parts.append(python_dir)
    parts.extend(DARWIN_SYSTEM_PATH if platform == "darwin" else LINUX_SYSTEM_PATH)
    if home and platform != "darwin":
        parts.extend([f"{home}/.local/bin", f"{home}/bin"])
    seen: list[str] = []
    for part in parts:
        if part not in seen:
            seen.append(part)
    return ":".join(seen)


def package_source_root() -> str | None:
    """The checkout holding this ``openclaw`` package, when it is not installed.

    A service started from a source checkout needs it on ``PYTHONPATH``; an installed package
    (site-packages) does not.
    """
    import openclaw

    package_dir = os.path.dirname(os.path.abspath(openclaw.__file__))
    root = os.path.dirname(package_dir)
    if "site-packages" in package_dir.split(os.sep) or "dist-packages" in package_dir.split(
            os.sep):
        return None
    return root


def build_gateway_spec(
    env: Mapping[str, str],
    *,
    port: int,
    platform: str,
    state_dir: str,
    token: str | None = None,
    python: str | None = None,
    source_root: str | None = None,
    listen_streams: tuple[str, ...] = (),
) -> ServiceSpec:
    """The gateway service for this environment (profile, state dir, config path, port);
    ``listen_streams`` asks for socket activation on those addresses."""
    python = python or sys.executable
    profile = names.normalize_profile(env.get("OPENCLAW_PROFILE"))
    home = (env.get("HOME") or "").strip() or None
    program = (python, "-m", "openclaw", "gateway", "--port", str(port))
    environment: dict[str, str] = {}
    if home:
        environment["HOME"] = home
    if platform != "win32":
        environment["PATH"] = minimal_path(home, platform, os.path.dirname(python))
    if source_root:
        environment["PYTHONPATH"] = source_root
    for key in ("OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH"):
        value = (env.get(key) or "").strip()
        if value:
            environment[key] = value
    if profile:
        environment["OPENCLAW_PROFILE"] = profile
    environment["OPENCLAW_GATEWAY_PORT"] = str(port)
    if token:
        environment["OPENCLAW_GATEWAY_TOKEN"] = token
    if platform == "darwin":
        environment["OPENCLAW_LAUNCHD_LABEL"] = names.launchd_label(env)
    environment["OPENCLAW_SYSTEMD_UNIT"] = names.systemd_unit_name(env)
    environment["OPENCLAW_WINDOWS_TASK_NAME"] = names.windows_task_name(env)
    environment["OPENCLAW_SERVICE_MARKER"] = names.SERVICE_MARKER
    environment["OPENCLAW_SERVICE_KIND"] = names.SERVICE_KIND
    environment["OPENCLAW_SERVICE_VERSION"] = __version__
    logs = os.path.join(state_dir, "logs")
    prefix = (env.get("OPENCLAW_LOG_PREFIX") or "").strip() or "gateway"
    return ServiceSpec(
        description=names.service_description(profile),
        program_arguments=program,
        environment=environment,
        working_directory=None,
        stdout_path=os.path.join(logs, f"{prefix}.log"),
        stderr_path=os.path.join(logs, f"{prefix}.err.log"),
        listen_streams=listen_streams,
    )
