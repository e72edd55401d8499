"""The Matrix channel as the ``channels`` service sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from openclaw.channels.interfaces import IChannelPlugin
from openclaw.channels.matrix.config import MATRIX_META, resolve_accounts
from openclaw.channels.model import AccountSpec
from openclaw.config.loader import ConfigSnapshot
from openclaw.secrets.resolve import SecretsSnapshot

if TYPE_CHECKING:  # the account module (its protocol, HTTP client) loads on first use
    from openclaw.channels.matrix import account as matrix_account


@implementer(IChannelPlugin)
class MatrixPlugin:
    meta = MATRIX_META
    id_label = "matrixUserId"

    def account_specs(self, snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,
                      env: Mapping[str, str]) -> list[AccountSpec]:
        return resolve_accounts(snapshot, secrets, env)

    def build(self, spec: AccountSpec, context: Any) -> matrix_account.MatrixAccount:
        from openclaw.channels.matrix import account as matrix_account

        return matrix_account.MatrixAccount(spec, context)

    def normalize_target(self, raw: str) -> str | None:
        from openclaw.channels.matrix import account as matrix_account

        return matrix_account.normalize_target(raw)

    def normalize_allow_entry(self, raw: str) -> str:
        from openclaw.channels.matrix import account as matrix_account

        return matrix_account.normalize_allow_entry(raw)

    def config_status(self, spec: AccountSpec) -> dict[str, Any]:
        status: dict[str, Any] = {"accountId": spec.account_id, "enabled": spec.enabled,
                                  "configured": spec.configured,
                                  "baseUrl": spec.settings.homeserver}
        dm = spec.settings.config.dm
        status["dmPolicy"] = (dm.policy if dm else None) or "pairing"
        status["allowFrom"] = list((dm.allow_from if dm else None) or ())
        if spec.settings.config.name:
            status["name"] = spec.settings.config.name
        return status
