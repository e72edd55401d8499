"""Native service management for the gateway: systemd (Linux), launchd (macOS), schtasks.

* :mod:`openclaw.daemon.spec` -- what the service runs (pure);
* :mod:`openclaw.daemon.systemd`, :mod:`~openclaw.daemon.launchd`,
  :mod:`~openclaw.daemon.schtasks` -- rendering (pure, testable anywhere) and control;
* :mod:`openclaw.daemon.scan` -- other gateway-like services on this machine.

:func:`service_manager` picks the manager of the running platform (or the one asked for).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from openclaw.daemon.base import (
    GatewayServiceManager,
    ServiceActionError,
    ServiceManagerUnavailable,
    ServiceRuntime,
)
from openclaw.daemon.runner import CommandRunner, default_runner
from openclaw.daemon.spec import ServiceCommand, ServiceSpec, build_gateway_spec

__all__ = [
    "GatewayServiceManager",
    "ServiceActionError",
    "ServiceCommand",
    "ServiceManagerUnavailable",
    "ServiceRuntime",
    "ServiceSpec",
    "build_gateway_spec",
    "current_platform",
    "service_manager",
]


def current_platform() -> str:
    """Node's ``process.platform`` names: ``linux``, ``darwin``, ``win32``."""
    if sys.platform.startswith("linux"):
        return "linux"
    return sys.platform


def service_manager(
    env: Mapping[str, str],
    *,
    state_dir: str,
    platform: str | None = None,
    runner: CommandRunner | None = None,
) -> GatewayServiceManager:
    platform = platform or current_platform()
    env = dict(env)
    runner = runner or default_runner(env)
    if platform == "linux":
        from openclaw.daemon.systemd import SystemdUserService

        return SystemdUserService(env, runner)
    if platform == "darwin":
        from openclaw.daemon.launchd import LaunchAgentService

        return LaunchAgentService(env, runner)
    if platform == "win32":
        from openclaw.daemon.schtasks import ScheduledTaskService

        return ScheduledTaskService(env, runner, state_dir=state_dir)
    return GatewayServiceManager(env, runner)
