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
  setup             Create a local-mode config with a generated token, and the workspace

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
    pass


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
            raise UsageError(f"unknown option '{arg}'")
    return flags, args


def _gateway(root: dict[str, object], args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.gateway_run import gateway_command

    return gateway_command(args, env, profile=root["profile"], dev=bool(root["dev"]))


def _setup(root: dict[str, object], args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.cli.setup_cmd import setup_command

    return setup_command(args, env, profile=root["profile"], dev=bool(root["dev"]))


COMMANDS: dict[str, Callable[[dict[str, object], list[str], MutableMapping[str, str]], int]] = {
    "gateway": _gateway,
    "setup": _setup,
}


def main(argv: Sequence[str] | None = None, env: MutableMapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    try:
        root, rest = _parse_root(argv)
    except UsageError as e:
        sys.stderr.write(f"error: {e}\n\n{ROOT_HELP}")
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
        sys.stderr.write(f"error: unknown command '{command}'\n\n{ROOT_HELP}")
        return 1
    return handler(root, args, env)


def entry_point() -> None:
    sys.exit(main())
