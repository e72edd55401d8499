"""A small commander-style option parser for the operator commands.

The real CLI is built on commander with its own wording for usage errors
(``OpenClaw does not recognize option "--x".`` + ``Try: openclaw logs --help``, exit 1), and
scripts see those, so the commands here parse the same way: ``--flag``, ``--opt value``,
``--opt=value``, ``--no-flag`` negations, positionals, ``-h/--help``. ``argparse`` would word
errors differently (and exit 2).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple


class UsageError(Exception):
    """Bad command line; ``str()`` is the real CLI's first line (``Try: ... --help`` follows)."""


class InvalidValue(Exception):
    """A well-formed option with an unusable value (``--limit must be a positive integer.``)."""


class HelpRequested(Exception):
    pass


class Option(NamedTuple):
    """One option. ``metavar`` set means it takes a value (``--limit <n>``).

    (``NamedTuple``, not attrs: every CLI start builds these, and attrs' import and class
    generation cost more than the whole option parsing.)
    """

    flag: str
    help: str
    metavar: str | None = None
    default: Any = None
    dest: str | None = None

    @property
    def key(self) -> str:
        if self.dest:
            return self.dest
        name = self.flag.lstrip("-")
        if name.startswith("no-"):
            name = name[3:]
        head, *rest = name.split("-")
        return head + "".join(part.capitalize() for part in rest)

    @property
    def negation(self) -> bool:
        return self.flag.startswith("--no-")

    @property
    def signature(self) -> str:
        return f"{self.flag} {self.metavar}" if self.metavar else self.flag


class Command(NamedTuple):
    """A command's usage line, description, options and positionals (``<name>``/``[name]``)."""

    usage: str
    description: str
    options: tuple[Option, ...] = ()
    positionals: tuple[str, ...] = ()

    def help_text(self) -> str:
        lines = [f"Usage: {self.usage}", "", self.description, "", "Options:"]
        rows = [(o.signature, o.help) for o in self.options]
        rows.append(("-h, --help", "Display help for command"))
        width = max(len(signature) for signature, _ in rows) + 2
        for signature, text in rows:
            lines.append(f"  {signature.ljust(width)}{text}")
        return "\n".join(lines) + "\n"

    def parse(self, args: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
        """Parse `args`; raise :class:`UsageError` or :class:`HelpRequested`."""
        values: dict[str, Any] = {}
        for option in self.options:
            if option.negation:
                values[option.key] = True
            else:
                values.setdefault(option.key, option.default)
        by_flag = {o.flag: o for o in self.options}
        positionals: list[str] = []
        queue = list(args)
        while queue:
            arg = queue.pop(0)
            if arg == "--":
                positionals.extend(queue)
                break
            if arg in ("-h", "--help"):
                raise HelpRequested()
            if not arg.startswith("-") or arg == "-":
                positionals.append(arg)
                continue
            flag, has_inline, inline = arg.partition("=")
            matched = by_flag.get(flag)
            if matched is None:
                raise UsageError(f'OpenClaw does not recognize option "{flag}".')
            if matched.metavar is None:
                if has_inline:
                    raise UsageError(
                        "OpenClaw could not parse this command: option "
                        f"'{matched.signature}' does not take a value")
                values[matched.key] = not matched.negation
                continue
            if has_inline:
                values[matched.key] = inline
            elif queue and not (queue[0].startswith("--") and len(queue[0]) > 2):
                values[matched.key] = queue.pop(0)
            else:
                raise UsageError(
                    f"OpenClaw could not parse this command: option '{matched.signature}' "
                    "argument missing")
        required = [p for p in self.positionals if p.startswith("<")]
        if len(positionals) < len(required):
            missing = required[len(positionals)].strip("<>")
            raise UsageError(f'Missing required argument "{missing}".')
        if len(positionals) > len(self.positionals):
            raise UsageError("Too many arguments for this command.")
        return values, positionals

    @property
    def path(self) -> str:
        """``openclaw gateway call`` from ``openclaw gateway call [options] <method>``."""
        words = []
        for word in self.usage.split():
            if word.startswith(("[", "<")):
                break
            words.append(word)
        return " ".join(words)


def run_parse(command: Command, args: Sequence[str]) -> tuple[dict[str, Any], list[str]] | int:
    """Parse, or print help (exit 0) / the usage error (exit 1) and return the exit code."""
    try:
        return command.parse(args)
    except HelpRequested:
        sys.stdout.write(command.help_text())
        return 0
    except UsageError as e:
        report_usage_error(str(e), command.path, json_mode="--json" in args)
        return 1


class CommandError(Exception):
    """A command's own failure (bad combination of options, nothing to act on): its text
    goes to stderr and the command exits 1."""


def run_guarded(command: Command, args: Sequence[str],
                body: Callable[[dict[str, Any], list[str]], int]) -> int:
    """Parse ``args`` for ``command`` and run ``body``; invalid values, gateway client
    errors and :class:`CommandError` become their messages and exit 1."""
    from openclaw.cli.common import report_client_error
    from openclaw.client.errors import GatewayClientError

    parsed = run_parse(command, args)
    if isinstance(parsed, int):
        return parsed
    values, positionals = parsed
    json_mode = bool(values.get("json"))
    try:
        return body(values, positionals)
    except InvalidValue as e:
        report_usage_error(str(e), command.path, json_mode=json_mode)
    except GatewayClientError as e:
        report_client_error(e, json_mode=json_mode)
    except CommandError as e:
        sys.stderr.write(f"{e}\n")
    return 1


def report_usage_error(message: str, path: str, *, json_mode: bool = False) -> None:
    """``<message>`` + ``Try: <path> --help`` on stderr (and the JSON envelope with --json)."""
    text = f"{message}\nTry: {path} --help"
    if json_mode:
        from openclaw.cli.common import cli_error_json, write_json

        write_json(cli_error_json(text))
    sys.stderr.write(text + "\n")


def command_failed(reason: str) -> int:
    """The real CLI's report for an error no command handled; returns exit code 1."""
    sys.stderr.write(
        "[openclaw] The CLI command failed.\n"
        f"[openclaw] Reason: {reason}\n"
        "[openclaw] Debug: set OPENCLAW_DEBUG=1 to include the stack trace.\n"
        "[openclaw] Try: openclaw doctor\n"
        "[openclaw] Help: openclaw --help\n"
    )
    return 1


def parse_positive_int(raw: Any, fallback: int, flag: str) -> int:
    """Integer option: missing -> fallback, else a strict positive integer."""
    if raw is None:
        return fallback
    text = str(raw).strip()
    if not text.isdigit() or int(text) <= 0:
        raise InvalidValue(f"{flag} must be a positive integer.")
    return int(text)


# Options shared by every command that talks to a gateway (addGatewayClientOptions).
URL = Option("--url", "Gateway WebSocket URL (defaults to gateway.remote.url when configured)",
             "<url>")
TOKEN = Option("--token", "Gateway token (if required)", "<token>")
PASSWORD = Option("--password", "Gateway password (password auth)", "<password>")
JSON = Option("--json", "Output JSON")


def timeout_option(default_ms: int) -> Option:
    return Option("--timeout", f"Timeout in ms (default {default_ms})", "<ms>")


GATEWAY_CLIENT_OPTIONS = (URL, TOKEN, PASSWORD)
