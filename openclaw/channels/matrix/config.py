"""Matrix accounts from ``channels.matrix`` (the top level is the base of every account).

Configured: a homeserver and either an access token or a user id with a password
(``accessToken``/``password`` take a string or a SecretRef). ``MATRIX_HOMESERVER``,
``MATRIX_USER_ID``, ``MATRIX_ACCESS_TOKEN``, ``MATRIX_PASSWORD``, ``MATRIX_DEVICE_ID`` and
``MATRIX_DEVICE_NAME`` apply to the default account only. DMs: ``dm.policy`` (default
"pairing"); rooms: ``groupPolicy`` (default "allowlist") with ``groups`` (legacy ``rooms``)
keyed by room id or alias; invites: ``autoJoin`` (default "off").
"""

from __future__ import annotations

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
from openclaw.config.channels import MatrixAccountConfig, MatrixConfig
from openclaw.config.loader import ConfigSnapshot
from openclaw.secrets.resolve import SecretsSnapshot

# what the channels service and the UI know of the network, light to import
MATRIX_META: Final = ChannelMeta("matrix", "Matrix", detail_label="Matrix")


@attrs.frozen
class MatrixSettings:
    homeserver: str
    user_id: str
    device_id: str | None
    device_name: str
    initial_sync_limit: int
    allow_private_network: bool
    auto_join: str
    auto_join_allowlist: tuple[str, ...]
    config: MatrixAccountConfig


def _env(env: Mapping[str, str], name: str, account_id: str) -> str:
    return (env.get(name) or "").strip() if account_id == DEFAULT_ACCOUNT_ID else ""


def _secret(secrets: SecretsSnapshot | None, value: Any, path: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if value is not None and secrets is not None:
        resolved = secrets.resolve_input(value, path)
        return (resolved or "").strip()
    return ""


def resolve_accounts(snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,
                     env: Mapping[str, str]) -> list[AccountSpec]:
    section = snapshot.config.channels.matrix
    if section is None:
        return []
    return [resolve_account(section, account_id, is_default, secrets, env)
            for account_id, is_default in each_account(section)]


def resolve_account(section: MatrixConfig, account_id: str, is_default: bool,
                    secrets: SecretsSnapshot | None, env: Mapping[str, str]) -> AccountSpec:
    entry = account_entry(section, account_id)
    merged = merge_account(MatrixAccountConfig, section, entry,
                           nested=frozenset({"dm", "network", "streaming"}))
    in_account = entry is not None
    base_path = f"channels.matrix.accounts.{account_id}" if in_account else "channels.matrix"
    token_path = f"{base_path}.accessToken" if in_account and getattr(
        entry, "access_token", None) is not None else "channels.matrix.accessToken"
    password_path = f"{base_path}.password" if in_account and getattr(
        entry, "password", None) is not None else "channels.matrix.password"
    token = _secret(secrets, merged.access_token, token_path) or _env(
        env, "MATRIX_ACCESS_TOKEN", account_id)
    password = _secret(secrets, merged.password, password_path) or _env(
        env, "MATRIX_PASSWORD", account_id)
    homeserver = (merged.homeserver or "").strip() or _env(env, "MATRIX_HOMESERVER",
                                                           account_id)
    user_id = (merged.user_id or "").strip() or _env(env, "MATRIX_USER_ID", account_id)
    settings = MatrixSettings(
        homeserver=homeserver.rstrip("/"), user_id=user_id,
        device_id=(merged.device_id or _env(env, "MATRIX_DEVICE_ID", account_id)) or None,
        device_name=merged.device_name or _env(env, "MATRIX_DEVICE_NAME", account_id)
        or "OpenClaw Gateway",
        initial_sync_limit=int(merged.initial_sync_limit or 0),
        allow_private_network=bool(merged.network and
                                   merged.network.dangerously_allow_private_network),
        auto_join=merged.auto_join or "off",
        auto_join_allowlist=tuple(merged.auto_join_allowlist or ()), config=merged)
    secret_values: dict[str, str] = {}
    if token:
        secret_values["accessToken"] = token
    if password:
        secret_values["password"] = password
    configured = bool(homeserver and (token or (user_id and password)))
    base_enabled = getattr(section, "enabled", None) is not False
    return AccountSpec(channel="matrix", account_id=account_id, is_default=is_default,
                       enabled=base_enabled and merged.enabled is not False,
                       configured=configured, settings=settings, secrets=secret_values,
                       sources={"auth": "accessToken" if token else
                                ("password" if password else "none")})
