"""``openclaw gateway call <method>`` and ``openclaw gateway health``: one RPC, printed.

``--json`` prints the payload verbatim (the generic conformance driver scripts use); text
mode prints ``Gateway call: <method>`` and the payload as indented JSON. Failures exit 1 with
the real CLI's envelopes (``gateway_transport_error``, ``gateway_request_error``,
``gateway_credentials_required``, ``cli_error``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import MutableMapping
from typing import Any

from openclaw.cli.common import (
    cli_error_json,
    parse_port_option,
    parse_timeout_ms,
    report_client_error,
    resolve_command_target,
    write_json,
)
from openclaw.cli.options import (
    GATEWAY_CLIENT_OPTIONS,
    JSON,
    Command,
    InvalidValue,
    Option,
    run_parse,
    timeout_option,
)

DEFAULT_TIMEOUT_MS = 10_000
PORT = Option("--port", "Target a local loopback Gateway on this port", "<port>")

CALL = Command(
    usage="openclaw gateway call [options] <method>",
    description="Call a Gateway method",
    options=(
        Option("--params", "JSON object string for params", "<json>", default="{}"),
        *GATEWAY_CLIENT_OPTIONS,
        PORT,
        timeout_option(DEFAULT_TIMEOUT_MS),
        Option("--expect-final", "Wait for final response (agent)"),
        JSON,
    ),
    positionals=("<method>",),
)

HEALTH = Command(
    usage="openclaw gateway health [options]",
    description="Fetch Gateway health",
    options=(*GATEWAY_CLIENT_OPTIONS, PORT, timeout_option(DEFAULT_TIMEOUT_MS), JSON),
)


def scopes_for_method(method: str) -> tuple[str, ...]:
    """Least-privilege scopes for a method the CLI can classify, else the CLI defaults."""
    from openclaw.client.connection import CLI_DEFAULT_SCOPES, READ

    if method in ("health", "status", "logs.tail", "system-presence", "models.list"):
        return (READ,)
    from openclaw.gateway.methods.reference_scopes import REFERENCE_METHOD_SCOPES

    scope = REFERENCE_METHOD_SCOPES.get(method)
    if scope is None or not scope.startswith("operator."):
        return CLI_DEFAULT_SCOPES
    return (scope,)


def gateway_call_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(CALL, args)
    if isinstance(parsed, int):
        return parsed
    values, positionals = parsed
    method = positionals[0]
    json_mode = bool(values["json"])
    try:
        params = json.loads(str(values["params"]))
    except ValueError:
        return _fail(json_mode, "Gateway call failed", "--params must be valid JSON.")
    return _run_rpc(env, values, method, params, json_mode=json_mode, label="Gateway call failed",
                    render=lambda result: _print_call(method, result))


def gateway_health_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(HEALTH, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    return _run_rpc(env, values, "health", {}, json_mode=bool(values["json"]), label=None,
                    render=_print_gateway_health)


def _fail(json_mode: bool, label: str, message: str) -> int:
    if json_mode:
        write_json(cli_error_json(message))
    else:
        sys.stderr.write(f"{label}: {message}\n")
    return 1


def _run_rpc(
    env: MutableMapping[str, str],
    values: dict[str, Any],
    method: str,
    params: Any,
    *,
    json_mode: bool,
    label: str | None,
    render: Any,
) -> int:
    from openclaw.client import GatewayClientError, call_gateway, cli_identity
    from openclaw.client.target import load_client_config

    try:
        timeout_ms = parse_timeout_ms(values.get("timeout"), DEFAULT_TIMEOUT_MS)
        port = parse_port_option(values.get("port"))
        if port is not None and values.get("url"):
            raise InvalidValue("Use --url or --port, not both.")
    except InvalidValue as e:
        return _fail(json_mode, label or "Gateway health failed", str(e))
    config = load_client_config(env)
    try:
        target = resolve_command_target(env, config, values, local_port=port)
        result = call_gateway(target, method, params,
                              identity=cli_identity(scopes_for_method(method)),
                              timeout_ms=timeout_ms)
    except GatewayClientError as e:
        return report_client_error(e, json_mode=json_mode, label=label)
    if json_mode:
        write_json(result)
    else:
        render(result)
    return 0


def _print_call(method: str, result: Any) -> None:
    sys.stdout.write(f"Gateway call: {method}\n")
    write_json(result)


def _print_gateway_health(result: Any) -> None:
    summary = result if isinstance(result, dict) else {}
    duration = summary.get("durationMs")
    sys.stdout.write("Gateway Health\n")
    sys.stdout.write(f"OK ({duration}ms)\n" if isinstance(duration, int | float) else "OK\n")
    from openclaw.cli.health_cmd import channel_lines

    for line in channel_lines(summary):
        sys.stdout.write(line + "\n")
