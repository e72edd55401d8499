"""Which agent answers a conversation, and in which session (``src/routing/resolve-route.ts``).

``bindings[]`` match in tiers, the first match of the most specific tier winning (config
order within a tier): exact peer (``group`` and ``channel`` kinds match each other), the
thread's parent peer, guild + roles, guild, team, a concrete account, any account (``"*"``),
then the default agent. A binding without ``accountId`` matches only the channel's default
account. An agent id that does not exist falls back to the default agent.

The session key follows ``session.dmScope`` for DMs (with ``session.identityLinks``) and is
``agent:<a>:<channel>:group:<id>`` for groups (``:thread:<id>`` for threads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from openclaw.agents.config import AgentsView
from openclaw.agents.session_keys import (
    dm_session_key,
    group_session_key,
    main_session_key,
)
from openclaw.config.channels import BindingConfig
from openclaw.config.ids import normalize_agent_id

_TIERS: Final = ("binding.peer", "binding.peer.parent", "binding.guild+roles",
                 "binding.guild", "binding.team", "binding.account", "binding.channel")


@attrs.frozen
class Route:
    agent_id: str
    channel: str
    account_id: str
    session_key: str
    main_session_key: str
    matched_by: str
    last_route_policy: str = "session"

    def to_json(self) -> dict[str, Any]:
        return {"agentId": self.agent_id, "channel": self.channel,
                "accountId": self.account_id, "sessionKey": self.session_key,
                "mainSessionKey": self.main_session_key,
                "lastRoutePolicy": self.last_route_policy, "matchedBy": self.matched_by}


def _kind(kind: str) -> str:
    kind = kind.lower()
    return "direct" if kind == "dm" else ("group" if kind in ("group", "channel",
                                                             "supergroup") else kind)


def _account_matches(binding: BindingConfig, account_id: str, is_default: bool) -> bool:
    wanted = binding.match.account_id
    if wanted is None or not wanted.strip():
        return is_default
    wanted = wanted.strip().lower()
    return wanted == "*" or wanted == account_id.lower()


def _peer_matches(binding: BindingConfig, kind: str, peer_id: str) -> bool:
    peer = binding.match.peer
    return (peer is not None and _kind(peer.kind) == _kind(kind)
            and peer.id.strip().lower() == peer_id.strip().lower())


def _tier(binding: BindingConfig, *, kind: str, peer_id: str,
          parent: tuple[str, str] | None) -> str | None:
    match = binding.match
    if match.peer is not None:
        if _peer_matches(binding, kind, peer_id):
            return "binding.peer"
        if parent is not None and _peer_matches(binding, *parent):
            return "binding.peer.parent"
        return None
    if match.guild_id or match.team_id or match.roles:
        return None    # guilds, teams and roles belong to networks not run here yet
    wanted = (match.account_id or "").strip()
    return "binding.channel" if wanted == "*" else "binding.account"


def resolve_route(view: AgentsView, bindings: Sequence[BindingConfig], *, channel: str,
                  account_id: str, is_default_account: bool, kind: str, peer_id: str,
                  parent: tuple[str, str] | None = None, thread_id: str | None = None,
                  identity_links: Mapping[str, Sequence[str]] | None = None,
                  dm_peer_override: str | None = None) -> Route:
    """The route of one inbound conversation."""
    best: tuple[int, str, str] | None = None
    for binding in bindings:
        if (binding.type or "route") != "route":
            continue
        if binding.match.channel.strip().lower() != channel:
            continue
        if not _account_matches(binding, account_id, is_default_account):
            continue
        tier = _tier(binding, kind=kind, peer_id=peer_id, parent=parent)
        if tier is None:
            continue
        rank = _TIERS.index(tier)
        if best is None or rank < best[0]:
            best = (rank, tier, binding.agent_id)
    agent_id = view.default_id
    matched_by = "default"
    if best is not None:
        wanted = normalize_agent_id(best[2])
        if wanted in view.agents:
            agent_id, matched_by = wanted, best[1]
    settings = view.session
    if _kind(kind) == "direct":
        peer = dm_peer_override or peer_id
        peer = _linked_identity(identity_links or {}, channel, peer) if \
            settings.dm_scope != "main" else peer
        key = dm_session_key(agent_id, settings, peer=peer, channel=channel,
                             account_id=account_id)
        policy = "main" if settings.dm_scope == "main" else "session"
    else:
        key = group_session_key(agent_id, channel=channel, group_id=peer_id,
                                kind="channel" if kind == "channel" else "group",
                                thread_id=thread_id)
        policy = "session"
    return Route(agent_id=agent_id, channel=channel, account_id=account_id, session_key=key,
                 main_session_key=main_session_key(agent_id, settings),
                 matched_by=matched_by, last_route_policy=policy)


def _linked_identity(links: Mapping[str, Sequence[str]], channel: str, peer: str) -> str:
    wanted = f"{channel}:{peer}".lower()
    for canonical, members in links.items():
        if any(str(member).strip().lower() == wanted for member in members):
            return canonical
    return peer
