"""The Discord channel as the ``channels`` service sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from openclaw.channels.discord.config import DISCORD_META, resolve_accounts
from openclaw.channels.interfaces import IChannelPlugin
from openclaw.channels.model import AccountSpec
from openclaw.config.loader import ConfigSnapshot
from openclaw.secrets.resolve import SecretsSnapshot

if TYPE_CHECKING:  # the account module (its protocol, HTTP client) loads on first use
    from openclaw.channels.discord import account as discord_account


@implementer(IChannelPlugin)
class DiscordPlugin:
    meta = DISCORD_META
    id_label = "discordUserId"

    def account_specs(self, snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,
                      env: Mapping[str, str]) -> list[AccountSpec]:
        return resolve_accounts(snapshot, secrets, env)

    def build(self, spec: AccountSpec, context: Any) -> discord_account.DiscordAccount:
        from openclaw.channels.discord import account as discord_account

        return discord_account.DiscordAccount(spec, context)

    def normalize_target(self, raw: str) -> str | None:
        from openclaw.channels.discord import account as discord_account

        return discord_account.normalize_target(raw)

    def normalize_allow_entry(self, raw: str) -> str:
        from openclaw.channels.discord import account as discord_account

        return discord_account.normalize_allow_entry(raw)

    def config_status(self, spec: AccountSpec) -> dict[str, Any]:
        config = spec.settings.config
        status: dict[str, Any] = {"accountId": spec.account_id, "enabled": spec.enabled,
                                  "configured": spec.configured,
                                  "tokenSource": spec.settings.token_source,
                                  "dmPolicy": config.dm_policy or "pairing",
                                  "allowFrom": list(config.allow_from or ())}
        if config.name:
            status["name"] = config.name
        return status
