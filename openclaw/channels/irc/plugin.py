"""The IRC channel as the ``channels`` service sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from openclaw.channels.interfaces import IChannelPlugin
from openclaw.channels.irc.config import IRC_META, resolve_accounts
from openclaw.channels.model import AccountSpec
from openclaw.config.loader import ConfigSnapshot
from openclaw.secrets.resolve import SecretsSnapshot

if TYPE_CHECKING:  # the account module (its protocol, HTTP client) loads on first use
    from openclaw.channels.irc import account as irc_account


@implementer(IChannelPlugin)
class IrcPlugin:
    meta = IRC_META
    id_label = "ircUser"

    def account_specs(self, snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,
                      env: Mapping[str, str]) -> list[AccountSpec]:
        return resolve_accounts(snapshot, env)

    def build(self, spec: AccountSpec, context: Any) -> irc_account.IrcAccount:
        from openclaw.channels.irc import account as irc_account

        return irc_account.IrcAccount(spec, context)

    def normalize_target(self, raw: str) -> str | None:
        from openclaw.channels.irc import account as irc_account

        return irc_account.normalize_target(raw)

    def normalize_allow_entry(self, raw: str) -> str:
        from openclaw.channels.irc import account as irc_account

        return irc_account.normalize_allow_entry(raw)

    def config_status(self, spec: AccountSpec) -> dict[str, Any]:
        settings = spec.settings
        status: dict[str, Any] = {"accountId": spec.account_id, "enabled": spec.enabled,
                                  "configured": spec.configured, "host": settings.host,
                                  "port": settings.port, "tls": settings.tls,
                                  "nick": settings.nick,
                                  "passwordSource": spec.sources.get("passwordSource",
                                                                     "none"),
                                  "dmPolicy": settings.config.dm_policy or "pairing",
                                  "allowFrom": list(settings.config.allow_from or ())}
        if settings.config.name:
            status["name"] = settings.config.name
        return status
