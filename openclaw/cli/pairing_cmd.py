"""``openclaw pairing list|approve``: chat DM pairing requests (``src/cli/pairing-cli.ts``).

Like the real CLI this works on the shared pairing store under the state dir (the gateway
reads approvals from it on every DM), so it works whether or not the gateway runs:

* ``list [channel] [--channel c] [--account a] [--json]`` -> a table, or
  ``{channel, requests: [{id, code, createdAt, lastSeenAt, meta: {name, accountId}}]}``;
* ``approve <channel> <code>`` (or ``approve --channel c <code>``, or ``approve <code>`` when
  one channel is configured) ``[--account a] [--notify]`` -> ``Approved irc sender <id>.``;
  when ``commands.ownerAllowFrom`` is empty it also becomes ``["<channel>:<id>"]`` (through
  the same validated writer as ``openclaw config set``; a running gateway picks it up);
  ``--notify`` asks the running gateway to tell the sender (``send``).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from openclaw.cli.common import write_json
from openclaw.cli.options import JSON, Command, Option, run_parse

if TYPE_CHECKING:
    from openclaw.channels.store import ChannelDatabase
    from openclaw.config.paths import OpenClawPaths

KNOWN_CHANNELS = ("telegram", "discord", "irc", "matrix")
ALIASES = {"internet-relay-chat": "irc"}
CHANNEL_HELP = "Channel (telegram, discord, irc, matrix)"

LIST = Command(usage="openclaw pairing list [options] [channel]",
               description="List pending pairing requests",
               options=(Option("--channel", CHANNEL_HELP, "<channel>"),
                        Option("--account", "Account id (for multi-account channels)",
                               "<accountId>"), JSON),
               positionals=("[channel]",))
APPROVE = Command(usage="openclaw pairing approve [options] <codeOrChannel> [code]",
                  description="Approve a pairing code and allow that sender",
                  options=(Option("--channel", CHANNEL_HELP, "<channel>"),
                           Option("--account", "Account id (for multi-account channels)",
                                  "<accountId>"),
                           Option("--notify", "Notify the requester on the same channel")),
                  positionals=("<codeOrChannel>", "[code]"))

PAIRING_USAGE = """\
Usage: openclaw pairing <list|approve> [options]

Secure DM pairing (approve inbound requests)

Commands:
  list [channel]            List pending pairing requests
  approve <channel> <code>  Approve a pairing code and allow that sender

Docs: docs.openclaw.ai/cli/pairing
"""

ID_LABELS = {"irc": "ircUser", "matrix": "matrixUserId", "telegram": "telegramUserId",
             "discord": "discordUserId"}


class PairingError(Exception):
    pass


def pairing_command(args: list[str], env: MutableMapping[str, str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(PAIRING_USAGE)
        return 0 if args else 1
    sub, rest = args[0], args[1:]
    handler = {"list": _list, "approve": _approve}.get(sub)
    if handler is None:
        sys.stderr.write(f'OpenClaw pairing has no command "{sub}".\nTry: openclaw pairing '
                         "--help\n")
        return 1
    try:
        return handler(rest, env)
    except PairingError as e:
        sys.stderr.write(f"{e}\n")
        return 1


def _configured_channels(env: Mapping[str, str]) -> tuple[list[str], Any, Any]:
    from openclaw.config import ConfigError, load_config
    from openclaw.config.paths import resolve_paths

    paths = resolve_paths(env)
    try:
        snapshot = load_config(paths.config_path, env=env, home=paths.home)
    except ConfigError as e:
        raise PairingError(f"Config invalid: {e}") from None
    parsed = snapshot.parsed.get("channels") or {}
    channels = [name for name in KNOWN_CHANNELS if isinstance(parsed, Mapping)
                and name in parsed]
    return channels, paths, snapshot


def _channel(raw: str | None, channels: list[str]) -> str:
    value = (raw or "").strip().lower()
    if not value:
        raise PairingError("Missing channel. Use openclaw pairing list --channel <channel>.")
    value = ALIASES.get(value, value)
    if value in KNOWN_CHANNELS or value in ("telegram", "discord", "slack", "signal",
                                            "whatsapp"):
        if value not in channels:
            raise PairingError(f'Channel "{value}" does not support pairing. Supported '
                               f"pairing channels: {', '.join(channels) or 'none'}.")
        return value
    import re

    if re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", value):
        if value not in channels:
            raise PairingError(f'Channel "{value}" does not support pairing. Supported '
                               f"pairing channels: {', '.join(channels) or 'none'}.")
        return value
    raise PairingError(f'Invalid channel "{value}". Use lowercase letters, numbers, "_" or '
                       '"-", for example "telegram".')


def _account(raw: Any) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        raise PairingError("--account must not be blank")
    from openclaw.channels.accounts import normalize_account_id

    return normalize_account_id(text)


def _database(paths: OpenClawPaths) -> ChannelDatabase:
    from openclaw.channels.store import ChannelDatabase, database_path

    return ChannelDatabase(database_path(paths.state_dir))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _list(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(LIST, args)
    if isinstance(parsed, int):
        return parsed
    values, positionals = parsed
    channels, paths, _ = _configured_channels(env)
    raw = values.get("channel") or (positionals[0] if positionals else None) or (
        channels[0] if len(channels) == 1 else None)
    if not raw:
        if not channels:
            raise PairingError("No chat DM pairing channels are configured. To approve a TUI "
                               "or device request, use openclaw devices approve instead.")
        raise PairingError(f"Channel required (expected one of: {', '.join(channels)}).")
    channel = _channel(raw, channels)
    if values.get("channel") and positionals:
        other = _channel(positionals[0], channels)
        if other != channel:
            raise PairingError(f'Conflicting pairing channels: "{channel}" and "{other}". Pass '
                               "the channel either positionally or with --channel.")
    account = _account(values.get("account"))
    from openclaw.channels import pairing

    db = _database(paths)
    try:
        requests = pairing.list_requests(db, channel, _now_ms(), account)
    finally:
        db.close()
    if values["json"]:
        write_json({"channel": channel, "requests": [r.to_cli_json() for r in requests]})
        return 0
    if not requests:
        sys.stdout.write(f"No pending {channel} pairing requests.\n")
        return 0
    rows: list[tuple[str, ...]] = [("Code", ID_LABELS.get(channel, "userId"), "Meta",
                                    "Requested")]
    for request in requests:
        meta = {**request.meta, "accountId": request.account_id}
        rows.append((request.code, request.sender_id,
                     json.dumps(meta, separators=(",", ":")), request.created_at))
    sys.stdout.write(f"Pairing requests ({len(requests)})\n" + _table(rows))
    return 0


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [rule]
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths,
                                                                          strict=True))
                     + " |")
        if index == 0:
            lines.append(rule)
    lines.append(rule)
    return "\n".join(lines) + "\n"


def _approve(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(APPROVE, args)
    if isinstance(parsed, int):
        return parsed
    values, positionals = parsed
    channels, paths, snapshot = _configured_channels(env)
    explicit = values.get("channel")
    first = positionals[0]
    second = positionals[1] if len(positionals) > 1 else None
    if explicit and second is not None:
        raise PairingError("Too many arguments. Use: openclaw pairing approve --channel "
                           "<channel> <code>")
    channel_raw = explicit or (first if second is not None else (
        channels[0] if len(channels) == 1 else None))
    code = first if explicit or second is None else second
    if not channel_raw or not code:
        raise PairingError("Usage: openclaw pairing approve <channel> <code> (or: openclaw "
                           "pairing approve --channel <channel> <code>)")
    channel = _channel(channel_raw, channels)
    account = _account(values.get("account"))
    from openclaw.channels import pairing

    normalize = _normalizer(channel)
    db = _database(paths)
    try:
        approved = pairing.approve_code(db, channel, code, _now_ms(), account_id=account,
                                        normalize=normalize)
    finally:
        db.close()
    if approved is None:
        raise PairingError(f'No pending pairing request found for code "{code}". Run openclaw '
                           f"pairing list --channel {channel} to list pending requests.")
    sender = approved.meta.get("senderId") or approved.sender_id
    sys.stdout.write(f"Approved {channel} sender {sender}.\n")
    owners = snapshot.config.commands.owner_allow_from
    if not (owners and any(str(o).strip() for o in owners)):
        entry = pairing.owner_entry(channel, approved.sender_id)
        from openclaw.cli.config_cmd import set_config_value
        from openclaw.config import ConfigError

        try:
            set_config_value(paths, env, "commands.ownerAllowFrom", [entry])
        except (ConfigError, OSError) as e:
            sys.stderr.write(f"Could not configure the command owner: {e}\n")
        else:
            sys.stdout.write(f"Command owner configured {entry} "
                             "(commands.ownerAllowFrom was empty).\n")
    if values.get("notify"):
        _notify(env, channel, approved)
    return 0


def _normalizer(channel: str) -> Any:
    if channel == "irc":
        from openclaw.channels.irc.account import normalize_allow_entry

        return normalize_allow_entry
    if channel == "matrix":
        from openclaw.channels.matrix.account import normalize_allow_entry as matrix_entry

        return matrix_entry
    if channel == "telegram":
        from openclaw.channels.telegram.account import normalize_allow_entry as telegram_entry

        return telegram_entry
    if channel == "discord":
        from openclaw.channels.discord.account import normalize_allow_entry as discord_entry

        return discord_entry
    return str.lower


def _notify(env: Mapping[str, str], channel: str, approved: Any) -> None:
    """Ask the running gateway to deliver the "access approved" message (``send``)."""
    from openclaw.channels.pairing import APPROVED_MESSAGE
    from openclaw.client import GatewayClientError, call_gateway, cli_identity
    from openclaw.client.target import load_client_config, resolve_target

    if channel == "telegram":
        target = approved.sender_id
    elif channel == "discord":
        target = f"user:{approved.sender_id}"
    else:
        target = approved.meta.get("roomId") or approved.meta.get("name") or \
            approved.sender_id.split("!", 1)[0]
    try:
        config = load_client_config(env)
        call_gateway(resolve_target(env, config), "send",
                     {"channel": channel, "accountId": approved.account_id, "to": target,
                      "message": APPROVED_MESSAGE,
                      "idempotencyKey": f"pairing-notify-{uuid.uuid4()}"},
                     identity=cli_identity(("operator.write",)), timeout_ms=15_000)
    except GatewayClientError as e:
        sys.stdout.write(f"Failed to notify requester: {e}\n")
