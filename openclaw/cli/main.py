"""`openclaw`: root flags, then a command. Imports stay lazy so `--help` is instant."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, MutableMapping, Sequence

from openclaw import __version__

PROGRAM = "openclaw"

ROOT_HELP = f"""\
OpenClaw {__version__} (openclaw-twisted): the OpenClaw gateway on Twisted.

Usage: openclaw [--profile NAME | --dev] [--no-color] <command> [options]

Commands:
  gateway [run]     Run the gateway in the foreground (WebSocket + HTTP on one port)
  gateway status    Service state, config paths, port listeners + probe connectivity
  gateway probe     Probe the local gateway (and --url targets); warn on several gateways
  gateway call      Call a gateway RPC method (--params JSON, --json)
  gateway health    Fetch gateway health over RPC
  gateway install   Install the gateway as a user service (systemd/launchd/schtasks)
  gateway uninstall Remove the installed gateway service
  gateway start     Start the installed gateway service
  gateway stop      Stop it (--disable: keep it down until the next start)
  gateway restart   Restart it and wait until it is ready
  daemon ...        Legacy alias of the gateway service commands
  status            Local diagnosis: gateway reachability, service, agents, sessions
  health            Fetch health from the running gateway
  logs              Tail the gateway file log via RPC (--follow, --json, --plain)
  doctor            Check config, permissions, ports and services (--fix repairs)
  setup             Create a local-mode config with a generated token, and the workspace
  config            Read and edit the config: get|set|unset <dotted.path>
  secrets reload    Re-resolve SecretRefs in the running gateway (all or nothing)
  agent             Run an agent turn via the gateway (-m TEXT; streams the reply)
  tui               Terminal chat with the gateway (history, streaming, abort)
  dashboard         Print (and open) the Control UI URL with your token
  sessions          List stored sessions (delete, compact through the gateway)
  models            Models: list, status, set <model>
  channels          Chat channel accounts: status [--probe], list, add, remove
  pairing           Chat DM pairing: list [channel], approve <channel> <code>
  cron              Scheduled jobs (alias automations): status, list, add, edit, rm, run, runs
  approvals         Exec approvals: get, set, pending, resolve, allowlist add|remove

Root options:
  --profile NAME    Use the state dir ~/.openclaw-NAME and its config
  --dev             Dev profile: ~/.openclaw-dev, base port 19001
  --no-color        Plain console output (also NO_COLOR=1)
  -V, --version     Print the version and exit
  -h, --help        Print this help and exit

Run 'openclaw <command> --help' for a command's options.
The same gateway runs as 'twistd -n openclaw [options]'.
"""


class UsageError(Exception):
    """A bad root flag; ``str()`` is the real CLI's message (``Try: openclaw --help`` follows)."""


def _parse_root(argv: Sequence[str]) -> tuple[dict[str, object], list[str]]:
    """Root flags come before the command, as in the real CLI."""
    flags: dict[str, object] = {"profile": None, "dev": False}
    args = list(argv)
    while args and args[0].startswith("-"):
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            flags["help"] = True
        elif arg in ("-V", "--version", "-v"):
            flags["version"] = True
        elif arg == "--dev":
            flags["dev"] = True
        elif arg == "--no-color":
            flags["no_color"] = True
        elif arg == "--profile" or arg.startswith("--profile="):
            if "=" in arg:
                value = arg.split("=", 1)[1]
            elif args and not args[0].startswith("-"):
                value = args.pop(0)
            else:
                raise UsageError("--profile requires a value")
            if not value:
                raise UsageError("--profile requires a value")
            flags["profile"] = value
        else:
            raise UsageError(f'OpenClaw does not recognize option "{arg}".')
    return flags, args


def _gateway(root: dict[str, object], args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.gateway_cmd import dispatch_subcommand

    handled = dispatch_subcommand(args, env, profile=root["profile"], dev=bool(root["dev"]))
    if handled is not None:
        return handled
    from openclaw.cli.gateway_run import gateway_command

    return gateway_command(args, env, profile=root["profile"], dev=bool(root["dev"]))


def _setup(root: dict[str, object], args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.setup_cmd import setup_command

    return setup_command(args, env, profile=root["profile"], dev=bool(root["dev"]))


def _with_profile(
    run: Callable[[list[str], MutableMapping[str, str]], int],
) -> Callable[[dict[str, object], list[str], MutableMapping[str, str]], int]:
    """A command that runs after ``--profile``/``--dev`` filled the environment."""

    def command(root: dict[str, object], args: list[str], env: MutableMapping[str, str]) -> int:
        from openclaw.cli.common import apply_root_profile

        if apply_root_profile(env, root["profile"], bool(root["dev"])) is None:
            return 1
        return run(args, env)

    return command


def _health(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.health_cmd import health_command

    return health_command(args, env)


def _status(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.status_cmd import status_command

    return status_command(args, env)


def _logs(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.logs_cmd import logs_command

    return logs_command(args, env)


def _doctor(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.doctor_cmd import doctor_command

    return doctor_command(args, env)


def _config(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.config_cmd import config_command

    return config_command(args, env)


def _secrets(root: dict[str, object], args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.secrets_cmd import secrets_command

    return secrets_command(args, env, profile=root["profile"], dev=bool(root["dev"]))


def _agent(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.agent_cmd import agent_command

    return agent_command(args, env)


def _sessions(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.sessions_cmd import sessions_command

    return sessions_command(args, env)


def _models(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.models_cmd import models_command

    return models_command(args, env)


def _dashboard(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.dashboard_cmd import dashboard_command

    return dashboard_command(args, env)


def _tui(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.tui import tui_command

    return tui_command(args, env)


def _channels(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.channels_cmd import channels_command

    return channels_command(args, env)


def _pairing(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.pairing_cmd import pairing_command

    return pairing_command(args, env)


def _cron(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.cron_cmd import cron_command

    return cron_command(args, env)


def _approvals(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.approvals_cmd import approvals_command

    return approvals_command(args, env)


def _daemon(args: list[str], env: MutableMapping[str, str]) -> int:
    """``openclaw daemon ...``: the legacy alias of the service subcommands."""
    from openclaw.cli.gateway_service import daemon_command

    return daemon_command(args, env)


COMMANDS: dict[str, Callable[[dict[str, object], list[str], MutableMapping[str, str]], int]] = {
    "gateway": _gateway,
    "setup": _setup,
    "status": _with_profile(_status),
    "health": _with_profile(_health),
    "logs": _with_profile(_logs),
    "doctor": _with_profile(_doctor),
    "config": _with_profile(_config),
    "daemon": _with_profile(_daemon),
    "channels": _with_profile(_channels),
    "pairing": _with_profile(_pairing),
    "cron": _with_profile(_cron),
    "automations": _with_profile(_cron),
    "approvals": _with_profile(_approvals),
    "exec-approvals": _with_profile(_approvals),
    "secrets": _secrets,
    "agent": _with_profile(_agent),
    "sessions": _with_profile(_sessions),
    "models": _with_profile(_models),
    "dashboard": _with_profile(_dashboard),
    "tui": _with_profile(_tui),
    "terminal": _with_profile(_tui),
}


def main(argv: Sequence[str] | None = None, env: MutableMapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    try:
        root, rest = _parse_root(argv)
    except UsageError as e:
        sys.stderr.write(f"{e}\nTry: openclaw --help\n")
        return 1
    if root.get("version"):
        sys.stdout.write(f"OpenClaw {__version__} (openclaw-twisted)\n")
        return 0
    if root.get("help") or not rest:
        (sys.stdout if root.get("help") else sys.stderr).write(ROOT_HELP)
        return 0 if root.get("help") else 1
    if root.get("no_color"):
        env["NO_COLOR"] = "1"
    command, args = rest[0], rest[1:]
    handler = COMMANDS.get(command)
    if handler is None:
        sys.stderr.write(
            f'OpenClaw does not know the command "{command}".\nTry: openclaw --help\n'
            "Docs: https://docs.openclaw.ai/cli\n"
        )
        return 1
    return handler(root, args, env)


def entry_point() -> None:
    sys.exit(main())
