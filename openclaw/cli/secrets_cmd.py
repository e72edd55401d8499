"""``openclaw secrets reload``: re-resolve SecretRefs in the running gateway (RPC).

``openclaw secrets reload [--url <url>] [--token <token>] [--password <password>]
[--timeout <ms>] [--json]`` calls ``secrets.reload`` (operator.admin). The gateway swaps its
secrets snapshot all or nothing; nothing is written to the config. Output as the real CLI:
``Secrets reloaded.`` (or ``Secrets reloaded with N warning(s).``), ``--json`` prints the
payload ``{ok, warningCount}``. A refused reload prints ``Could not reload secrets because the
Gateway did not respond: <reason>. Run `openclaw gateway status --deep` to inspect the active
Gateway.`` and exits 1; the gateway keeps its previous snapshot.

The lead registers this module in ``openclaw/cli/main.py`` as the ``secrets`` command.
"""

from __future__ import annotations

import re
import sys
from collections.abc import MutableMapping
from typing import Any

from openclaw.cli.options import (
    GATEWAY_CLIENT_OPTIONS,
    JSON,
    Command,
    InvalidValue,
    run_parse,
    timeout_option,
)

DEFAULT_TIMEOUT_MS = 10_000

SECRETS_USAGE = """\
Usage: openclaw secrets [options] [command]

Secrets runtime controls

Commands:
  reload  Re-resolve secret references and atomically swap runtime snapshot

Run 'openclaw secrets <command> --help' for a command's options.
"""

RELOAD = Command(
    usage="openclaw secrets reload [options]",
    description="Re-resolve secret references and atomically swap runtime snapshot",
    options=(*GATEWAY_CLIENT_OPTIONS, timeout_option(DEFAULT_TIMEOUT_MS), JSON),
)


def secrets_command(args: list[str], env: MutableMapping[str, str], *, profile: object,
                    dev: bool) -> int:
    """Entry point (``openclaw [--profile p | --dev] secrets ...``)."""
    from openclaw.cli.common import apply_root_profile

    if apply_root_profile(env, profile, dev) is None:
        return 1
    if not args or args[0] in ("-h", "--help", "help"):
        (sys.stdout if args else sys.stderr).write(SECRETS_USAGE)
        return 0 if args else 1
    command, rest = args[0], args[1:]
    if command == "reload":
        return secrets_reload_command(rest, env)
    sys.stderr.write(f'OpenClaw secrets has no command "{command}".\n'
                     "Try: openclaw secrets --help\nDocs: https://docs.openclaw.ai/cli/secrets\n")
    return 1


def _failure_text(message: str) -> str:
    detail = re.sub(r"\s+", " ", message).strip().rstrip(".")
    return (f"Could not reload secrets because the Gateway did not respond"
            f"{': ' + detail if detail else ''}. Run `openclaw gateway status --deep` to "
            "inspect the active Gateway.")


def secrets_reload_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(RELOAD, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    json_mode = bool(values["json"])
    from openclaw.cli.common import (
        cli_error_json,
        parse_timeout_ms,
        report_client_error,
        resolve_command_target,
        write_json,
    )
    from openclaw.client import (
        GatewayClientError,
        GatewayRequestError,
        call_gateway,
        cli_identity,
    )
    from openclaw.client.connection import ADMIN
    from openclaw.client.target import load_client_config

    try:
        timeout_ms = parse_timeout_ms(values.get("timeout"), DEFAULT_TIMEOUT_MS)
    except InvalidValue as e:
        if json_mode:
            write_json(cli_error_json(str(e)))
        else:
            sys.stderr.write(f"{e}\n")
        return 1
    config = load_client_config(env)
    try:
        target = resolve_command_target(env, config, values)
        result: Any = call_gateway(target, "secrets.reload", {},
                                   identity=cli_identity((ADMIN,)), timeout_ms=timeout_ms)
    except GatewayClientError as e:
        if isinstance(e, GatewayRequestError) and not e.during_connect:
            if json_mode:
                write_json(e.to_json())
            else:
                sys.stderr.write(_failure_text(e.message) + "\n")
            return 1
        return report_client_error(e, json_mode=json_mode, label="secrets reload")
    if json_mode:
        write_json(result)
        return 0
    count = result.get("warningCount") if isinstance(result, dict) else 0
    count = count if isinstance(count, int) else 0
    sys.stdout.write(f"Secrets reloaded with {count} warning(s).\n" if count > 0
                     else "Secrets reloaded.\n")
    return 0
