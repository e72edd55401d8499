"""What every operator command shares: profile handling, config/target resolution, output."""

from __future__ import annotations

import json
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openclaw.client.errors import GatewayClientError
    from openclaw.client.target import ClientConfig, GatewayTarget


def apply_root_profile(
    env: MutableMapping[str, str], profile: object, dev: bool
) -> str | None:
    """Apply ``--profile``/``--dev`` to `env`; print the real error and return None on failure.

    Returns the active profile name ("" for the default profile).
    """
    if not profile and not dev:  # nothing to apply: spare the paths module import
        return (env.get("OPENCLAW_PROFILE") or "").strip()
    from openclaw.config.paths import ProfileError, apply_profile

    try:
        active = apply_profile(env, profile=str(profile) if profile else None, dev=dev)
    except ProfileError as e:
        sys.stderr.write(f"{e}\n")
        return None
    return active or ""


def write_json(value: Any, stream: Any = None) -> None:
    """``JSON.stringify(value, null, 2)`` plus a newline, as the real CLI's ``writeJson``."""
    (stream or sys.stdout).write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def json_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def cli_error_json(message: str) -> dict[str, Any]:
    """The generic machine-readable failure envelope (``formatCliJsonFailure``)."""
    return {"ok": False, "error": {"type": "cli_error", "message": message}}


def report_client_error(
    error: GatewayClientError, *, json_mode: bool, label: str | None = None
) -> int:
    """Print a gateway client failure the real CLI's way and return exit code 1.

    ``--json``: the error's JSON envelope on stdout. Text: transport and credential errors
    print their full multi-line report; request errors print ``<label>: <message>``; a
    rejected ``connect`` also prints ``gateway connect failed: ...`` first.
    """
    from openclaw.client.errors import GatewayRequestError

    if isinstance(error, GatewayRequestError) and error.during_connect:
        sys.stderr.write(error.text + "\n")
    if json_mode:
        write_json(error.to_json())
        return 1
    if isinstance(error, GatewayRequestError):
        sys.stderr.write(f"{label}: {error.message}\n" if label else f"{error.message}\n")
    else:
        sys.stderr.write(error.text + "\n")
    return 1


def parse_timeout_ms(raw: Any, default_ms: int) -> int:
    """``--timeout <ms>``: a positive integer, else the default."""
    if raw is None:
        return default_ms
    text = str(raw).strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    from openclaw.cli.options import InvalidValue

    raise InvalidValue(f"Invalid --timeout: {raw}")


def resolve_command_target(
    env: MutableMapping[str, str],
    config: ClientConfig,
    values: dict[str, Any],
    *,
    local_port: int | None = None,
) -> GatewayTarget:
    from openclaw.client.target import resolve_target

    return resolve_target(
        env, config, url=values.get("url"), token=values.get("token"),
        password=values.get("password"), local_port=local_port,
    )


def parse_port_option(raw: Any) -> int | None:
    if raw is None:
        return None
    from openclaw.cli.options import InvalidValue
    from openclaw.client.target import parse_port

    port = parse_port(str(raw))
    if port is None:
        raise InvalidValue(f"Invalid --port: {raw}")
    return port
