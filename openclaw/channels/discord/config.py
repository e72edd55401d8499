"""Discord accounts from ``channels.discord``.

The token of an account: its own ``token``, else (the default account, an account listed
under ``accounts``, or a config without ``accounts``) the channel's ``token``, else
``DISCORD_BOT_TOKEN`` (default account only); a string or a SecretRef, a leading ``Bot ``
dropped. ``tokenSource``: ``config``, ``env`` or ``none``.

The REST base is ``DISCORD_API_URL`` (e.g. ``http://127.0.0.1:8082/api/v10``) when set, else
``https://discord.com/api/v10``; plain ``http``/``ws`` only on loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from openclaw.channels.accounts import (
    DEFAULT_ACCOUNT_ID,
    account_entry,
    each_account,
    merge_account,
)
from openclaw.channels.interfaces import ChannelMeta
from openclaw.channels.model import AccountSpec
from openclaw.config.channels import DiscordAccountConfig, DiscordConfig
from openclaw.config.loader import ConfigSnapshot
from openclaw.secrets.resolve import SecretsSnapshot

DEFAULT_API_BASE: Final = "https://discord.com/api/v10"


# what the channels service and the UI know of the network, light to import
DISCORD_META: Final = ChannelMeta("discord", "Discord", detail_label="Discord Bot",
                                  system_image="bubble.left.and.bubble.right")


@attrs.frozen
class DiscordSettings:
    api_base: str
    api_override: bool                # DISCORD_API_URL: never fall back to discord.com
    token_source: str
    config: DiscordAccountConfig


def normalize_token(raw: str) -> str:
    token = raw.strip()
    if token.lower().startswith("bot "):
        token = token[4:].strip()
    return token


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
            ".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def api_base_of(env: Mapping[str, str]) -> tuple[str, bool]:
    raw = (env.get("DISCORD_API_URL") or "").strip().rstrip("/")
    return (raw, True) if raw else (DEFAULT_API_BASE, False)


def check_base(url: str) -> str | None:
    """Why ``url`` may not be used (plain text off loopback), or None."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "ws") and not is_loopback(parts.hostname or ""):
        return (f"Discord base {parts.scheme}://{parts.hostname} must use TLS (plain "
                "http/ws only on loopback)")
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return f"unsupported Discord base URL: {url}"
    return None


def _token_value(value: Any, path: str, secrets: SecretsSnapshot | None,
                 env: Mapping[str, str]) -> tuple[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        token = normalize_token(value)
        return (token, "config") if token else None
    source = getattr(value, "source", None)
    resolved = secrets.resolve_input(value, path) if secrets is not None else None
    if resolved is None and source == "env":
        resolved = env.get(str(getattr(value, "id", "")))
    return normalize_token(resolved or ""), "env" if source == "env" else "config"


def resolve_token(section: DiscordConfig, entry: DiscordAccountConfig | None, account_id: str,
                  secrets: SecretsSnapshot | None, env: Mapping[str, str]) -> tuple[str, str]:
    found = _token_value(entry.token if entry is not None else None,
                         f"channels.discord.accounts.{account_id}.token", secrets, env)
    if found is not None:
        return found
    has_accounts = bool(getattr(section, "accounts", None))
    if account_id == DEFAULT_ACCOUNT_ID or entry is not None or not has_accounts:
        found = _token_value(section.token, "channels.discord.token", secrets, env)
        if found is not None:
            return found
    if account_id == DEFAULT_ACCOUNT_ID:
        token = normalize_token(env.get("DISCORD_BOT_TOKEN") or "")
        if token:
            return token, "env"
    return "", "none"


def resolve_accounts(snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,
                     env: Mapping[str, str]) -> list[AccountSpec]:
    section = snapshot.config.channels.discord
    if section is None:
        return []
    return [resolve_account(section, account_id, is_default, secrets, env)
            for account_id, is_default in each_account(section)]


def resolve_account(section: DiscordConfig, account_id: str, is_default: bool,
                    secrets: SecretsSnapshot | None, env: Mapping[str, str]) -> AccountSpec:
    entry = account_entry(section, account_id)
    merged = merge_account(DiscordAccountConfig, section, entry,
                           nested=frozenset({"dm", "intents", "streaming"}))
    if entry is not None and entry.guilds is not None:
        merged = attrs.evolve(merged, guilds=entry.guilds)
    token, source = resolve_token(section, entry, account_id, secrets, env)
    base, override = api_base_of(env)
    settings = DiscordSettings(api_base=base, api_override=override, token_source=source,
                               config=merged)
    base_enabled = getattr(section, "enabled", None) is not False
    return AccountSpec(channel="discord", account_id=account_id, is_default=is_default,
                       enabled=base_enabled and merged.enabled is not False,
                       configured=bool(token), settings=settings,
                       secrets={"token": token} if token else {},
                       sources={"tokenSource": source})
