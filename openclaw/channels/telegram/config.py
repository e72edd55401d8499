"""Telegram accounts from ``channels.telegram`` (``extensions/telegram/src/account-inspect.ts``).

The token of an account: its own ``tokenFile``, else its own ``botToken``, else (for the
default account, an account listed under ``accounts``, or a config without ``accounts``) the
channel's ``tokenFile``, then ``botToken``, else ``TELEGRAM_BOT_TOKEN`` (default account
only). ``tokenFile`` must be a regular file (a symlink is refused). ``botToken`` takes a
string or a SecretRef. ``tokenSource``: ``tokenFile``, ``config``, ``env`` or ``none``;
``tokenStatus``: ``available``, ``configured_unavailable`` or ``missing``.

One poller per token: when two accounts share a token, the later one is not configured and
says ``Duplicate Telegram bot token: account "b" shares a token with account "a". Keep one
owner account per bot token.``
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import attrs

from openclaw.channels.accounts import (
    DEFAULT_ACCOUNT_ID,
    account_entry,
    each_account,
    merge_account,
)
from openclaw.channels.interfaces import ChannelMeta
from openclaw.channels.model import AccountSpec
from openclaw.config.channels import TelegramAccountConfig, TelegramConfig
from openclaw.config.loader import ConfigSnapshot
from openclaw.secrets.resolve import SecretsSnapshot

MAX_CHUNK: Final = 4096
DEFAULT_CHUNK: Final = 4000


# what the channels service and the UI know of the network, light to import
TELEGRAM_META: Final = ChannelMeta("telegram", "Telegram", detail_label="Telegram Bot",
                                   system_image="paperplane")


@attrs.frozen
class TelegramSettings:
    api_root: str | None
    token_source: str
    token_status: str
    state_reason: str | None
    webhook_url: str | None           # webhook mode is not run here (see the account)
    config: TelegramAccountConfig


def _read_token_file(path: str) -> tuple[str, str]:
    """``(token, status)`` of a ``tokenFile``."""
    expanded = os.path.expanduser(path.strip())
    try:
        if os.path.islink(expanded) or not os.path.isfile(expanded):
            return "", "configured_unavailable"
        with open(expanded, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError:
        return "", "configured_unavailable"
    return token, "available" if token else "configured_unavailable"


def _token_value(value: Any, path: str, secrets: SecretsSnapshot | None,
                 env: Mapping[str, str]) -> tuple[str, str, str] | None:
    """``(token, source, status)`` of a ``botToken`` value, None when unset."""
    if value is None:
        return None
    if isinstance(value, str):
        token = value.strip()
        return (token, "config", "available") if token else None
    source = getattr(value, "source", None)
    resolved = secrets.resolve_input(value, path) if secrets is not None else None
    if resolved is None and source == "env":
        resolved = env.get(str(getattr(value, "id", "")))
    token = (resolved or "").strip()
    kind = "env" if source == "env" else "config"
    return (token, kind, "available") if token else (token, kind, "configured_unavailable")


def resolve_token(section: TelegramConfig, entry: TelegramAccountConfig | None, account_id: str,
                  secrets: SecretsSnapshot | None, env: Mapping[str, str]) -> tuple[str, str, str]:
    """``(token, tokenSource, tokenStatus)``."""
    base = f"channels.telegram.accounts.{account_id}"
    if entry is not None and entry.token_file and entry.token_file.strip():
        token, status = _read_token_file(entry.token_file)
        return token, "tokenFile", status
    found = _token_value(entry.bot_token if entry is not None else None, f"{base}.botToken",
                         secrets, env)
    if found is not None:
        return found
    has_accounts = bool(getattr(section, "accounts", None))
    if account_id == DEFAULT_ACCOUNT_ID or entry is not None or not has_accounts:
        if section.token_file and section.token_file.strip():
            token, status = _read_token_file(section.token_file)
            return token, "tokenFile", status
        found = _token_value(section.bot_token, "channels.telegram.botToken", secrets, env)
        if found is not None:
            return found
    if account_id == DEFAULT_ACCOUNT_ID:
        token = (env.get("TELEGRAM_BOT_TOKEN") or "").strip()
        if token:
            return token, "env", "available"
    return "", "none", "missing"


def resolve_accounts(snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,
                     env: Mapping[str, str]) -> list[AccountSpec]:
    section = snapshot.config.channels.telegram
    if section is None:
        return []
    raw = snapshot.parsed.get("channels", {}).get("telegram", {})
    raw = raw if isinstance(raw, Mapping) else {}
    owners: dict[str, str] = {}
    specs = []
    for account_id, is_default in each_account(section):
        spec = resolve_account(section, raw, account_id, is_default, secrets, env)
        token = spec.secrets.get("token", "")
        owner = owners.setdefault(token, account_id) if token else account_id
        if owner != account_id:
            reason = (f'Duplicate Telegram bot token: account "{account_id}" shares a token '
                      f'with account "{owner}". Keep one owner account per bot token.')
            spec = attrs.evolve(spec, configured=False, settings=attrs.evolve(
                spec.settings, state_reason=reason))
        specs.append(spec)
    return specs


def _raw_account(raw: Mapping[str, Any], account_id: str) -> Mapping[str, Any]:
    from openclaw.channels.accounts import normalize_account_id

    accounts = raw.get("accounts")
    if isinstance(accounts, Mapping):
        for key, value in accounts.items():
            if normalize_account_id(key) == account_id and isinstance(value, Mapping):
                return value
    return {}


def resolve_account(section: TelegramConfig, raw: Mapping[str, Any], account_id: str,
                    is_default: bool,
                    secrets: SecretsSnapshot | None, env: Mapping[str, str]) -> AccountSpec:
    entry = account_entry(section, account_id)
    merged = merge_account(TelegramAccountConfig, section, entry,
                           nested=frozenset({"network", "streaming"}))
    if entry is not None and entry.groups is not None:
        # An account's groups map replaces the channel's (not merged key by key).
        merged = attrs.evolve(merged, groups=entry.groups)
    token, source, status = resolve_token(section, entry, account_id, secrets, env)
    own = _raw_account(raw, account_id)
    webhook = own.get("webhookUrl") if "webhookUrl" in own else raw.get("webhookUrl")
    settings = TelegramSettings(
        api_root=(merged.api_root or "").strip() or None, token_source=source,
        token_status=status, state_reason=None,
        webhook_url=str(webhook).strip() if isinstance(webhook, str) and webhook.strip()
        else None, config=merged)
    base_enabled = getattr(section, "enabled", None) is not False
    return AccountSpec(channel="telegram", account_id=account_id, is_default=is_default,
                       enabled=base_enabled and merged.enabled is not False,
                       configured=bool(token), settings=settings,
                       secrets={"token": token} if token else {},
                       sources={"tokenSource": source, "tokenStatus": status})


def bot_id_of(token: str) -> str:
    """The bot's user id: the part of the token before ``:``."""
    return token.split(":", 1)[0]
