"""``openclaw gateway <subcommand>``: route the first word to its module.

Kept apart from :mod:`openclaw.cli.gateway_run` so that ``gateway call|health|status|...``
never import Twisted (the run path does).
"""

from __future__ import annotations

import importlib
from collections.abc import MutableMapping

# Subcommand -> (module, function); imported only when used.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "status": ("openclaw.cli.gateway_status", "gateway_status_command"),
    "probe": ("openclaw.cli.gateway_probe", "gateway_probe_command"),
    "call": ("openclaw.cli.gateway_call", "gateway_call_command"),
    "health": ("openclaw.cli.gateway_call", "gateway_health_command"),
    "install": ("openclaw.cli.gateway_service", "install_command"),
    "uninstall": ("openclaw.cli.gateway_service", "uninstall_command"),
    "start": ("openclaw.cli.gateway_service", "start_command"),
    "stop": ("openclaw.cli.gateway_service", "stop_command"),
    "restart": ("openclaw.cli.gateway_service", "restart_command"),
}


def dispatch_subcommand(
    args: list[str], env: MutableMapping[str, str], *, profile: object, dev: bool
) -> int | None:
    """Run ``gateway <subcommand>`` and return its exit code, or None for ``gateway [run]``."""
    if not args or args[0] not in SUBCOMMANDS:
        return None
    from openclaw.cli.common import apply_root_profile

    if apply_root_profile(env, profile, dev) is None:
        return 1
    module, function = SUBCOMMANDS[args[0]]
    handler = getattr(importlib.import_module(module), function)
    return int(handler(args[1:], env))
