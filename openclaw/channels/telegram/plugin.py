"""The Telegram channel as the ``channels`` service sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from openclaw.channels.interfaces import IChannelPlugin
from openclaw.channels.model import AccountSpec
from openclaw.channels.telegram.config import TELEGRAM_META, resolve_accounts
from openclaw.config.loader import ConfigSnapshot
from openclaw.secrets.resolve import SecretsSnapshot

if TYPE_CHECKING:  # the account module (its protocol, HTTP client) loads on first use
    from openclaw.channels.telegram import account as telegram_account


@implementer(IChannelPlugin)
class TelegramPlugin:
    meta = TELEGRAM_META
    id_label = "telegramUserId"

    def account_specs(self, snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,
                      env: Mapping[str, str]) -> list[AccountSpec]:
        return resolve_accounts(snapshot, secrets, env)

    def build(self, spec: AccountSpec, context: Any) -> telegram_account.TelegramAccount:
        from openclaw.channels.telegram import account as telegram_account

        return telegram_account.TelegramAccount(spec, context)

    def normalize_target(self, raw: str) -> str | None:
        from openclaw.channels.telegram import account as telegram_account

        return telegram_account.normalize_target(raw)

    def normalize_allow_entry(self, raw: str) -> str:
        from openclaw.channels.telegram import account as telegram_account

        return telegram_account.normalize_allow_entry(raw)

    def config_status(self, spec: AccountSpec) -> dict[str, Any]:
        settings = spec.settings
        config = settings.config
        status: dict[str, Any] = {"accountId": spec.account_id, "enabled": spec.enabled,
                                  "configured": spec.configured,
                                  "tokenSource": settings.token_source,
                                  "tokenStatus": settings.token_status,
                                  "mode": "webhook" if settings.webhook_url else "polling",
                                  "dmPolicy": config.dm_policy or "pairing",
                                  "allowFrom": list(config.allow_from or ())}
        if settings.state_reason:
            status["lastError"] = settings.state_reason
        if config.name:
            status["name"] = config.name
        return status
