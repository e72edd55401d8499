"""IRC accounts from ``channels.irc`` (``extensions/irc/src/accounts.ts``).

Defaults: ``tls`` true (port 6697, else 6667), ``username`` the nick, ``realname``
"OpenClaw", ``dmPolicy`` "pairing", ``groupPolicy`` from ``channels.defaults`` else
"allowlist". The ``IRC_HOST``, ``IRC_PORT``, ``IRC_TLS``, ``IRC_NICK``, ``IRC_USERNAME``,
``IRC_REALNAME``, ``IRC_PASSWORD``, ``IRC_CHANNELS``, ``IRC_NICKSERV_PASSWORD`` and
``IRC_NICKSERV_REGISTER_EMAIL`` variables apply to the default account only. A password
comes from ``IRC_PASSWORD``, else ``passwordFile``, else ``password``
(``passwordSource``: env, passwordFile, config, none). An account is configured when it
has a host and a nick.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

import attrs

from openclaw.channels.accounts import (
    DEFAULT_ACCOUNT_ID,
    account_entry,
    each_account,
    merge_account,
)
from openclaw.channels.interfaces import ChannelMeta
from openclaw.channels.model import AccountSpec
from openclaw.config.channels import IrcAccountConfig, IrcConfig
from openclaw.config.loader import ConfigSnapshot

_TRUTHY: Final = frozenset({"true", "1", "yes", "on"})


# what the channels service and the UI know of the network, light to import
IRC_META: Final = ChannelMeta("irc", "IRC", detail_label="IRC", system_image="network",
                              aliases=("internet-relay-chat",))


@attrs.frozen
class IrcSettings:
    """One IRC account, resolved."""

    host: str
    port: int
    tls: bool
    nick: str
    username: str
    realname: str
    channels: tuple[str, ...]
    nickserv_enabled: bool
    nickserv_service: str
    nickserv_register: bool
    nickserv_register_email: str | None
    config: IrcAccountConfig          # the merged account config (policy, groups, ...)


def _env(env: Mapping[str, str], name: str, account_id: str) -> str:
    return (env.get(name) or "").strip() if account_id == DEFAULT_ACCOUNT_ID else ""


def _read_secret_file(path: str | None) -> str:
    if not path or not path.strip():
        return ""
    expanded = os.path.expanduser(path.strip())
    try:
        if os.path.islink(expanded):
            return ""
        with open(expanded, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def resolve_accounts(snapshot: ConfigSnapshot, env: Mapping[str, str]) -> list[AccountSpec]:
    section = snapshot.config.channels.irc
    if section is None:
        return []
    return [resolve_account(section, account_id, is_default, env)
            for account_id, is_default in each_account(section)]


def resolve_account(section: IrcConfig, account_id: str, is_default: bool,
                    env: Mapping[str, str]) -> AccountSpec:
    merged = merge_account(IrcAccountConfig, section, account_entry(section, account_id),
                           nested=frozenset({"nickserv", "streaming"}))
    tls_env = _env(env, "IRC_TLS", account_id)
    tls = merged.tls if merged.tls is not None else (
        tls_env.lower() in _TRUTHY if tls_env else True)
    port_env = _env(env, "IRC_PORT", account_id)
    port = merged.port or (int(port_env) if port_env.isdigit() and 0 < int(port_env) < 65536
                           else (6697 if tls else 6667))
    host = (merged.host or "").strip() or _env(env, "IRC_HOST", account_id)
    nick = (merged.nick or "").strip() or _env(env, "IRC_NICK", account_id)
    username = ((merged.username or "").strip() or _env(env, "IRC_USERNAME", account_id)
                or nick or "openclaw")
    realname = ((merged.realname or "").strip() or _env(env, "IRC_REALNAME", account_id)
                or "OpenClaw")
    channels = merged.channels
    if channels is None:
        raw = _env(env, "IRC_CHANNELS", account_id)
        channels = tuple(part.strip() for part in raw.replace(";", ",").split(",")
                         if part.strip())
    password, source = "", "none"
    if _env(env, "IRC_PASSWORD", account_id):
        password, source = _env(env, "IRC_PASSWORD", account_id), "env"
    elif _read_secret_file(merged.password_file):
        password, source = _read_secret_file(merged.password_file), "passwordFile"
    elif (merged.password or "").strip():
        password, source = (merged.password or "").strip(), "config"
    nickserv = merged.nickserv
    ns_password = ((nickserv.password if nickserv else None) or "").strip() or \
        _env(env, "IRC_NICKSERV_PASSWORD", account_id) or \
        _read_secret_file(nickserv.password_file if nickserv else None)
    secrets: dict[str, str] = {}
    if password:
        secrets["password"] = password
    if ns_password:
        secrets["nickserv"] = ns_password
    settings = IrcSettings(
        host=host, port=int(port), tls=bool(tls), nick=nick, username=username,
        realname=realname, channels=tuple(channels),
        nickserv_enabled=bool(ns_password) and (nickserv is None or nickserv.enabled
                                                is not False),
        nickserv_service=((nickserv.service if nickserv else None) or "NickServ").strip(),
        nickserv_register=bool(nickserv and nickserv.register),
        nickserv_register_email=((nickserv.register_email if nickserv else None)
                                 or _env(env, "IRC_NICKSERV_REGISTER_EMAIL", account_id)
                                 or None),
        config=merged)
    base_enabled = getattr(section, "enabled", None) is not False
    return AccountSpec(channel="irc", account_id=account_id, is_default=is_default,
                       enabled=base_enabled and merged.enabled is not False,
                       configured=bool(host and nick), settings=settings, secrets=secrets,
                       sources={"passwordSource": source})
