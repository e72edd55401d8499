"""``openclaw channels status|list|add|remove`` (``src/commands/channels/*``).

* ``status [--channel c] [--probe] [--json] [--timeout ms]`` (default 60000 ms): the gateway's
  ``channels.status`` as upstream prints it (one ``- <Label> <account>: <bits>`` line per
  account, warnings, a tip), or ``--json`` the payload itself. When the gateway cannot be
  reached: ``Gateway not reachable; showing config-only status.`` and lines from the config
  alone (``--json``: ``{gatewayReachable: false, error, configOnly: true, config,
  configuredChannels}``);
* ``list [--all] [--json]``: configured accounts (``installed, configured, enabled``);
* ``add --channel <id> [--account a] [--name n] <channel flags>`` and
  ``remove --channel <id> [--account a] [--delete]`` edit the config through the same
  validated writer as ``openclaw config set``; a running gateway applies the edit itself
  (hot reload: only that account restarts). ``remove`` first asks a running gateway to stop
  the account (``channels.stop``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final

from openclaw.cli.common import write_json
from openclaw.cli.options import JSON, Command, InvalidValue, Option, command_failed, run_parse

if TYPE_CHECKING:
    from openclaw.config import ConfigSnapshot

DEFAULT_STATUS_TIMEOUT_MS: Final = 60_000
DOCS: Final = "https://docs.openclaw.ai"
TIP: Final = (f"Tip: {DOCS}/cli/status adds gateway health probes to status output "
              "(requires a reachable gateway).")
NO_CHANNELS: Final = ("- no configured chat channels (run `openclaw channels list --all` to "
                      "see installable channels)")
CHANNELS: Final = {"telegram": "Telegram", "discord": "Discord", "irc": "IRC",
                   "matrix": "Matrix"}
ALIASES: Final = {"internet-relay-chat": "irc"}
DOCS_PATHS: Final = {"telegram": "/channels/telegram", "discord": "/channels/discord",
                     "irc": "/channels/irc", "matrix": "/channels/matrix"}

STATUS = Command(
    usage="openclaw channels status [options]",
    description="Show gateway channel status (use status --deep for local)",
    options=(Option("--channel", "Only this channel", "<name>"),
             Option("--probe", "Probe channel credentials"),
             Option("--timeout", f"Timeout in ms (default {DEFAULT_STATUS_TIMEOUT_MS})", "<ms>"),
             JSON))
LIST = Command(usage="openclaw channels list [options]",
               description="List configured chat channel accounts",
               options=(Option("--all", "Also list channels without accounts"), JSON))
ACCOUNT_OPTIONS: Final = (Option("--channel", "Channel (telegram, discord, irc, matrix)",
                                 "<name>"),
                          Option("--account", "Account id (default: the default account)",
                                 "<id>"))
ADD = Command(
    usage="openclaw channels add [options] [channel]",
    description="Add or update a channel account",
    options=(*ACCOUNT_OPTIONS,
             Option("--name", "Display name of the account", "<name>"),
             Option("--token", "Bot token (Telegram, Discord)", "<token>"),
             Option("--token-file", "Telegram bot token file", "<path>"),
             Option("--api-root", "Telegram Bot API root (a self-hosted or local server)",
                    "<url>"),
             Option("--host", "IRC server host", "<host>"),
             Option("--port", "IRC server port", "<port>"),
             Option("--tls", "Use TLS for IRC"),
             Option("--nick", "IRC nickname", "<nick>"),
             Option("--username", "IRC username", "<name>"),
             Option("--realname", "IRC real name", "<name>"),
             Option("--channels", "IRC channels (comma-separated)", "<names>"),
             Option("--password", "Server password (IRC) or login password (Matrix)",
                    "<password>"),
             Option("--homeserver", "Matrix homeserver URL", "<url>"),
             Option("--user-id", "Matrix user id", "<id>"),
             Option("--access-token", "Matrix access token", "<token>"),
             Option("--device-name", "Matrix device name", "<name>"),
             Option("--initial-sync-limit", "Matrix initial sync limit", "<n>"),
             Option("--use-env", "Use the channel's environment variables")),
    positionals=("[channel]",))
REMOVE = Command(usage="openclaw channels remove [options] [channel]",
                 description="Disable a channel account (--delete removes its config)",
                 options=(*ACCOUNT_OPTIONS,
                          Option("--delete", "Delete the account's config (no prompt)")),
                 positionals=("[channel]",))

USAGE: Final = """\
Usage: openclaw channels <status|list|add|remove> [options]

Manage chat channel accounts and their runtime status on the Gateway.

Commands:
  status    Show gateway channel status (--probe: live credential checks)
  list      List configured chat channel accounts
  add       Add or update a channel account
  remove    Disable or delete a channel account

Docs: docs.openclaw.ai/cli/channels
"""


class ChannelsCliError(Exception):
    pass


def channels_command(args: list[str], env: MutableMapping[str, str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(USAGE)
        return 0 if args else 1
    sub, rest = args[0], args[1:]
    handler = {"status": _status, "list": _list, "add": _add, "remove": _remove}.get(sub)
    if handler is None:
        sys.stderr.write(f'OpenClaw channels has no command "{sub}".\nTry: openclaw channels '
                         "--help\n")
        return 1
    try:
        return handler(rest, env)
    except ChannelsCliError as e:
        sys.stderr.write(f"{e}\n")
        return 1


# --------------------------------------------------------------------------- status lines


def time_ago(ms: float) -> str:
    """``formatTimeAgo``: ``just now``, ``5m ago``, ``3h ago``, ``2d ago``."""
    if ms < 0:
        return "unknown"
    seconds = round(ms / 1000)
    minutes = round(seconds / 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes}m ago"
    hours = round(minutes / 60)
    if hours < 48:
        return f"{hours}h ago"
    return f"{round(hours / 24)}d ago"


def _label(channel: str, account: Mapping[str, Any], channel_label: str) -> str:
    account_id = str(account.get("accountId") or "default")
    name = account.get("name")
    text = f"{account_id} ({name.strip()})" if isinstance(name, str) and name.strip() \
        else account_id
    return f"{channel_label} {text}"


def _base_bits(account: Mapping[str, Any]) -> list[str]:
    bits: list[str] = []
    if isinstance(account.get("enabled"), bool):
        bits.append("enabled" if account["enabled"] else "disabled")
    if isinstance(account.get("configured"), bool):
        bits.append("configured" if account["configured"] else "not configured")
    if isinstance(account.get("linked"), bool):
        bits.append("linked" if account["linked"] else "not linked")
    error = account.get("lastError")
    if isinstance(error, str) and error:
        bits.append(f"error:{error}")
    return bits


def _token_bits(account: Mapping[str, Any]) -> list[str]:
    bits = []
    for label, source_key, status_key in (("token", "tokenSource", "tokenStatus"),
                                          ("bot", "botTokenSource", "botTokenStatus"),
                                          ("app", "appTokenSource", "appTokenStatus"),
                                          ("signing", "signingSecretSource",
                                           "signingSecretStatus")):
        source = account.get(source_key)
        if isinstance(source, str) and source and source != "none":
            unavailable = " (unavailable)" if account.get(status_key) == \
                "configured_unavailable" else ""
            bits.append(f"{label}:{source}{unavailable}")
    return bits


def _ms(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        and value else None


def gateway_account_line(channel: str, account: Mapping[str, Any], label: str,
                         now_ms: float) -> str:
    bits = _base_bits(account)
    if isinstance(account.get("running"), bool):
        bits.append("running" if account["running"] else "stopped")
    if isinstance(account.get("connected"), bool):
        bits.append("connected" if account["connected"] else "disconnected")
    for key, prefix in (("lastInboundAt", "in"), ("lastOutboundAt", "out"),
                        ("lastTransportActivityAt", "transport")):
        at = _ms(account.get(key))
        if at:
            bits.append(f"{prefix}:{time_ago(now_ms - at)}")
    if isinstance(account.get("mode"), str) and account["mode"]:
        bits.append(f"mode:{account['mode']}")
    bot = account.get("bot")
    if not isinstance(bot, Mapping) and isinstance(account.get("probe"), Mapping):
        bot = account["probe"].get("bot")
    username = bot.get("username") if isinstance(bot, Mapping) else None
    if isinstance(username, str) and username.strip():
        bits.append(f"bot:{username if username.startswith('@') else '@' + username}")
    if isinstance(account.get("dmPolicy"), str) and account["dmPolicy"]:
        bits.append(f"dm:{account['dmPolicy']}")
    allow = account.get("allowFrom")
    if isinstance(allow, list) and allow:
        bits.append("allow:" + ",".join(str(entry) for entry in allow[:2]))
    bits.extend(_token_bits(account))
    application = account.get("application")
    intents = application.get("intents") if isinstance(application, Mapping) else None
    content = intents.get("messageContent") if isinstance(intents, Mapping) else None
    if isinstance(content, str) and content and content != "enabled":
        bits.append(f"intents:content={content}")
    if account.get("allowUnmentionedGroups") is True:
        bits.append("groups:unmentioned")
    if isinstance(account.get("healthState"), str) and account["healthState"]:
        bits.append(f"health:{account['healthState']}")
    if isinstance(account.get("baseUrl"), str) and account["baseUrl"]:
        bits.append(f"url:{account['baseUrl']}")
    probe = account.get("probe")
    if isinstance(probe, Mapping) and isinstance(probe.get("ok"), bool):
        bits.append("works" if probe["ok"] else "probe failed")
    audit = account.get("audit")
    if isinstance(audit, Mapping) and isinstance(audit.get("ok"), bool):
        bits.append("audit ok" if audit["ok"] else "audit failed")
    return f"- {_label(channel, account, label)}: {', '.join(bits)}"


def gateway_status_lines(payload: Mapping[str, Any], now_ms: float) -> list[str]:
    """``formatGatewayChannelsStatusLines``."""
    lines = ["Gateway reachable."]
    warnings = [w for w in payload.get("warnings") or [] if isinstance(w, str) and w.strip()]
    if payload.get("partial") is True or warnings:
        lines.append("Channel status is partial:")
        lines.extend(f"- {warning[:500]}" for warning in warnings[:50])
        lines.append("")
    labels = payload.get("channelLabels") or {}
    accounts_by_channel = payload.get("channelAccounts") or {}
    start = len(lines)
    for channel in sorted(accounts_by_channel):
        for account in accounts_by_channel[channel] or []:
            if isinstance(account, Mapping):
                lines.append(gateway_account_line(channel, account,
                                                  str(labels.get(channel, channel)), now_ms))
    if len(lines) == start:
        lines.append(NO_CHANNELS)
    lines.append("")
    issues = [i for i in payload.get("statusIssues") or [] if isinstance(i, Mapping)]
    if issues:
        lines.append("Warnings:")
        for issue in issues:
            fix = f" ({issue['fix']})" if issue.get("fix") else ""
            lines.append(f"- {issue.get('channel')} {issue.get('accountId')}: "
                         f"{issue.get('message')}{fix}")
        lines.append("- Run: openclaw doctor")
        lines.append("")
    lines.append(TIP)
    return lines


def config_account_rows(snapshot: ConfigSnapshot, env: Mapping[str, str],
                        channel: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(channel id, config-only snapshot)`` of every configured account."""
    from openclaw.channels.service import default_plugins

    rows: list[tuple[str, dict[str, Any]]] = []
    for plugin in default_plugins():
        if channel and plugin.meta.id != channel:
            continue
        for spec in plugin.account_specs(snapshot, None, env):
            rows.append((plugin.meta.id, plugin.config_status(spec)))
    return rows


def config_status_lines(snapshot: ConfigSnapshot, env: Mapping[str, str], path: str, mode: str,
                        channel: str | None, reason: str) -> list[str]:
    """``formatConfigChannelsStatusLines``."""
    lines = [reason, f"Config: {path}", f"Mode: {mode}", ""]
    start = len(lines)
    for channel_id, account in config_account_rows(snapshot, env, channel):
        bits = _base_bits(account)
        if isinstance(account.get("mode"), str) and account["mode"]:
            bits.append(f"mode:{account['mode']}")
        bits.extend(_token_bits(account))
        if isinstance(account.get("baseUrl"), str) and account["baseUrl"]:
            bits.append(f"url:{account['baseUrl']}")
        lines.append(f"- {_label(channel_id, account, CHANNELS[channel_id])}: "
                     f"{', '.join(bits)}")
    if len(lines) == start:
        lines.append(NO_CHANNELS)
    lines.append("")
    lines.append(TIP)
    return lines


def _status(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(STATUS, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    json_mode = bool(values["json"])
    probe = bool(values["probe"])
    from openclaw.cli.common import parse_timeout_ms

    try:
        timeout_ms = parse_timeout_ms(values.get("timeout"), DEFAULT_STATUS_TIMEOUT_MS)
    except InvalidValue as e:
        return command_failed(str(e))
    channel = values.get("channel")
    if isinstance(channel, str) and channel.strip().lower() == "all":
        channel = None
    if not json_mode:
        sys.stdout.write("Checking channel status (probe)…\n" if probe
                         else "Checking channel status…\n")
    from openclaw.client import GatewayClientError, call_gateway, cli_identity
    from openclaw.client.target import load_client_config, resolve_target

    params: dict[str, Any] = {"probe": probe, "timeoutMs": timeout_ms}
    if channel:
        params["channel"] = channel
    try:
        config = load_client_config(env)
        payload = call_gateway(resolve_target(env, config), "channels.status", params,
                               identity=cli_identity(), timeout_ms=timeout_ms)
    except GatewayClientError as e:
        return _fallback(env, json_mode, str(e), channel)
    if json_mode:
        write_json(payload)
        return 0
    lines = gateway_status_lines(payload if isinstance(payload, Mapping) else {},
                                 time.time() * 1000)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _load(env: Mapping[str, str]) -> tuple[Any, Any]:
    from openclaw.config import ConfigError, load_config
    from openclaw.config.paths import resolve_paths

    paths = resolve_paths(env)
    try:
        return paths, load_config(paths.config_path, env=env, home=paths.home)
    except ConfigError as e:
        raise ChannelsCliError(f"Config invalid: {e}") from None


def _fallback(env: Mapping[str, str], json_mode: bool, error: str,
              channel: str | None) -> int:
    paths, snapshot = _load(env)
    mode = "remote" if snapshot.config.gateway.mode == "remote" else "local"
    wanted = ALIASES.get(channel.strip().lower(), channel.strip().lower()) if channel else None
    if json_mode:
        configured = [name for name in CHANNELS
                      if name in (snapshot.parsed.get("channels") or {})
                      and (wanted is None or name == wanted)]
        write_json({"gatewayReachable": False, "error": error,
                    "gatewayAuthUnavailable": False, "configOnly": True,
                    "config": {"path": paths.config_path, "mode": mode},
                    "configuredChannels": configured})
        return 0
    sys.stderr.write(f"Gateway not reachable: {error}\n")
    lines = config_status_lines(snapshot, env, paths.config_path, mode, wanted,
                                "Gateway not reachable; showing config-only status.")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


# --------------------------------------------------------------------------- list


def _list(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(LIST, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    _, snapshot = _load(env)
    rows = config_account_rows(snapshot, env)
    if values["json"]:
        chat: dict[str, Any] = {}
        for channel_id, label in CHANNELS.items():
            accounts = [row["accountId"] for cid, row in rows if cid == channel_id]
            if accounts or values["all"]:
                chat[channel_id] = {"accounts": accounts, "label": label,
                                    "docsPath": DOCS_PATHS[channel_id], "installed": True,
                                    "origin": "configured" if accounts else "available"}
        write_json({"chat": chat})
        return 0
    lines = ["Chat channels:"]
    for channel_id, account in rows:
        bits = ["installed", "configured" if account.get("configured") else "not configured",
                "disabled" if account.get("enabled") is False else "enabled"]
        if account.get("baseUrl"):
            bits.append(f"base={account['baseUrl']}")
        lines.append(f"- {_label(channel_id, account, CHANNELS[channel_id])}: "
                     f"{', '.join(bits)}")
    if values["all"]:
        listed = {channel_id for channel_id, _ in rows}
        for channel_id, label in CHANNELS.items():
            if channel_id not in listed:
                lines.append(f"- {label} default: installed, not configured, enabled")
    if len(lines) == 1:
        lines.append("- no chat channels found" if values["all"] else NO_CHANNELS)
    lines += ["", "Model provider usage moved out of `channels list` — see `openclaw status` "
                  "or `openclaw models list`.",
              f"Docs: {DOCS}/gateway/configuration"]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


# --------------------------------------------------------------------------- add / remove

_IDENTITY_KEYS: Final = {
    "telegram": ("name", "botToken", "tokenFile", "apiRoot"),
    "discord": ("name", "token"),
    "irc": ("name", "host", "port", "tls", "nick", "username", "realname", "password",
            "passwordFile", "channels"),
    "matrix": ("name", "homeserver", "userId", "accessToken", "password", "deviceId",
               "deviceName"),
}


def _target(values: Mapping[str, Any], positionals: list[str], verb: str) -> tuple[str, str]:
    raw = values.get("channel") or (positionals[0] if positionals else None)
    if raw is None:
        raise ChannelsCliError(f"Missing channel. Use openclaw channels {verb} --channel "
                               "<name> or run openclaw channels status to inspect configured "
                               "channels.")
    channel = ALIASES.get(str(raw).strip().lower(), str(raw).strip().lower())
    if channel not in CHANNELS:
        raise ChannelsCliError(f'Unknown channel "{raw}". Valid channels: '
                               f"{', '.join(CHANNELS)}")
    account = values.get("account")
    if account is not None and not str(account).strip():
        raise ChannelsCliError("--account must not be blank")
    from openclaw.channels.accounts import normalize_account_id

    return channel, normalize_account_id(account)


def _fields(channel: str, values: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if values.get("name"):
        fields["name"] = values["name"]
    if channel in ("telegram", "discord"):
        key = "botToken" if channel == "telegram" else "token"
        if values.get("token"):
            fields[key] = values["token"]
        if channel == "telegram":
            if values.get("tokenFile"):
                fields["tokenFile"] = values["tokenFile"]
            if values.get("apiRoot"):
                fields["apiRoot"] = values["apiRoot"]
        variable = "TELEGRAM_BOT_TOKEN" if channel == "telegram" else "DISCORD_BOT_TOKEN"
        if values.get("useEnv"):
            if not env.get(variable):
                raise ChannelsCliError(f"{CHANNELS[channel]} --use-env needs {variable} in "
                                       "the environment.")
        elif not any(fields.get(k) for k in (key, "tokenFile")):
            raise ChannelsCliError(f"{CHANNELS[channel]} requires --token (or --use-env).")
        fields["enabled"] = True
    elif channel == "irc":
        for flag, key in (("host", "host"), ("nick", "nick"), ("username", "username"),
                          ("realname", "realname"), ("password", "password")):
            if values.get(flag):
                fields[key] = values[flag]
        if values.get("port"):
            text = str(values["port"]).strip()
            if not text.isdigit() or not 0 < int(text) < 65536:
                raise ChannelsCliError(f"Invalid --port: {values['port']}")
            fields["port"] = int(text)
        if values.get("tls"):
            fields["tls"] = True
        if values.get("channels"):
            fields["channels"] = [part.strip() for part in str(values["channels"]).split(",")
                                  if part.strip()]
        if values.get("useEnv"):
            missing = [name for name in ("IRC_HOST", "IRC_NICK") if not env.get(name)]
            if missing:
                raise ChannelsCliError(f"IRC --use-env needs {', '.join(missing)} in the "
                                       "environment.")
    else:
        for flag, key in (("homeserver", "homeserver"), ("userId", "userId"),
                          ("accessToken", "accessToken"), ("password", "password"),
                          ("deviceName", "deviceName")):
            if values.get(flag):
                fields[key] = values[flag]
        if values.get("initialSyncLimit"):
            text = str(values["initialSyncLimit"]).strip()
            if not text.isdigit():
                raise ChannelsCliError(f"Invalid --initial-sync-limit: "
                                       f"{values['initialSyncLimit']}")
            fields["initialSyncLimit"] = int(text)
        if values.get("useEnv"):
            missing = [name for name in ("MATRIX_HOMESERVER",) if not env.get(name)]
            if missing:
                raise ChannelsCliError(f"Matrix --use-env needs {', '.join(missing)} in the "
                                       "environment.")
    return fields


def _write(env: Mapping[str, str], document: dict[str, Any]) -> None:
    from openclaw.cli.config_cmd import write_config_document
    from openclaw.config import ConfigError
    from openclaw.config.paths import resolve_paths

    paths = resolve_paths(env)
    try:
        write_config_document(paths.config_path, document, env, paths.home)
    except ConfigError as e:
        issues = "; ".join(f"{i.path}: {i.message}" for i in getattr(e, "issues", [])) or str(e)
        raise ChannelsCliError(f"Config validation failed: {issues}") from None
    except OSError as e:
        raise ChannelsCliError(f"Config write failed: {e}") from None


def _document(env: Mapping[str, str]) -> dict[str, Any]:
    from openclaw.cli.config_cmd import read_raw_document
    from openclaw.config.paths import resolve_paths

    return read_raw_document(resolve_paths(env).config_path)


def _add(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(ADD, args)
    if isinstance(parsed, int):
        return parsed
    values, positionals = parsed
    channel, account = _target(values, positionals, "add")
    fields = _fields(channel, values, env)
    document = _document(env)
    channels = document.setdefault("channels", {})
    section = channels.setdefault(channel, {})
    accounts: Any = section.get("accounts")
    if account == "default" and not isinstance(accounts, dict):
        section.update(fields)
    else:
        if not isinstance(accounts, dict):
            accounts = section["accounts"] = {}
            promoted = {key: section.pop(key) for key in _IDENTITY_KEYS[channel]
                        if key in section}
            if promoted:
                accounts["default"] = promoted
        entry = accounts.setdefault(account, {})
        entry.update(fields)
    _write(env, document)
    sys.stdout.write(f'Added {CHANNELS[channel]} account "{account}".\n')
    return 0


def _remove(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(REMOVE, args)
    if isinstance(parsed, int):
        return parsed
    values, positionals = parsed
    channel, account = _target(values, positionals, "remove")
    document = _document(env)
    section = (document.get("channels") or {}).get(channel)
    if not isinstance(section, dict):
        raise ChannelsCliError(f"{CHANNELS[channel]} is not configured.")
    accounts = section.get("accounts")
    named = isinstance(accounts, dict) and any(
        _normalized(key) == account for key in accounts)
    if not named and not (account == "default" and not isinstance(accounts, dict)):
        raise ChannelsCliError(f'{CHANNELS[channel]} account "{account}" is not configured.')
    _stop_running(env, channel, account)
    if values.get("delete"):
        if named:
            assert isinstance(accounts, dict)
            for key in [k for k in accounts if _normalized(k) == account]:
                del accounts[key]
        else:
            del document["channels"][channel]
        message = f'Deleted {CHANNELS[channel]} account "{account}".'
    else:
        if named:
            assert isinstance(accounts, dict)
            key = next(k for k in accounts if _normalized(k) == account)
            accounts[key]["enabled"] = False
        else:
            section["enabled"] = False
        message = f'Disabled {CHANNELS[channel]} account "{account}".'
    _write(env, document)
    sys.stdout.write(message + "\n")
    return 0


def _normalized(key: str) -> str:
    from openclaw.channels.accounts import normalize_account_id

    return normalize_account_id(key)


def _stop_running(env: Mapping[str, str], channel: str, account: str) -> None:
    """Ask a running gateway to stop the account first (best effort, quiet when down)."""
    from openclaw.client import GatewayClientError, call_gateway, cli_identity
    from openclaw.client.target import load_client_config, resolve_target

    try:
        config = load_client_config(env)
        call_gateway(resolve_target(env, config), "channels.stop",
                     {"channel": channel, "accountId": account},
                     identity=cli_identity(("operator.admin",)), timeout_ms=5_000)
    except GatewayClientError as e:
        if "not reachable" not in str(e).lower() and "econnrefused" not in str(e).lower():
            sys.stdout.write(f'Could not stop running {CHANNELS[channel]} account "{account}" '
                             f"before removing it: {e}\n")
