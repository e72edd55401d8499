"""Session keys as the real gateway forms them (``src/routing/session-key.ts``).

* main session: ``agent:<agentId>:<mainKey>`` (``session.mainKey``, default ``main``); with
  ``session.scope: "global"`` the main key is literally ``global``;
* DMs by ``session.dmScope``: ``main`` -> the main session, ``per-peer`` ->
  ``agent:<a>:direct:<peer>``, ``per-channel-peer`` -> ``agent:<a>:<channel>:direct:<peer>``,
  ``per-account-channel-peer`` -> ``agent:<a>:<channel>:<account>:direct:<peer>``;
* groups: ``agent:<a>:<channel>:group:<id>`` (``channel`` kind likewise);
* request keys without the ``agent:`` prefix are aliases: ``main``/empty -> the agent's main
  session, any other bare key ``k`` -> ``agent:<agentId>:k``; ``global`` and ``unknown`` are
  sentinels. Keys are lowercased.
"""

from __future__ import annotations

from typing import Final

import attrs

from openclaw.config.ids import DEFAULT_AGENT_ID, normalize_agent_id

DEFAULT_MAIN_KEY: Final = "main"
GLOBAL_KEY: Final = "global"
UNKNOWN_KEY: Final = "unknown"
MAX_SESSION_KEY_CHARS: Final = 512


class SessionKeyError(ValueError):
    """A key starting with ``agent:`` that cannot be parsed (INVALID_REQUEST)."""


def normalize_peer(raw: str | None) -> str:
    text = (raw or "").strip().lower()
    return text or UNKNOWN_KEY


@attrs.frozen
class ParsedKey:
    agent_id: str
    rest: str

    @property
    def key(self) -> str:
        return f"agent:{self.agent_id}:{self.rest}"


def parse_agent_key(key: str) -> ParsedKey | None:
    """``agent:<id>:<rest>`` -> parts; None when the key is not agent-scoped."""
    parts = key.split(":")
    if len(parts) < 3 or parts[0] != "agent" or not parts[1] or not all(parts[2:]):
        return None
    return ParsedKey(parts[1], ":".join(parts[2:]))


@attrs.frozen
class SessionSettings:
    main_key: str = DEFAULT_MAIN_KEY
    scope: str = "per-sender"
    dm_scope: str = "main"


def main_session_key(agent_id: str, settings: SessionSettings) -> str:
    if settings.scope == "global":
        return GLOBAL_KEY
    return f"agent:{normalize_agent_id(agent_id)}:{settings.main_key}"


def resolve_request_key(raw: str | None, agent_id: str, settings: SessionSettings) -> str:
    """Canonical store key of a request's ``sessionKey`` (raises :class:`SessionKeyError`)."""
    text = (raw or "").strip()
    lowered = text.lower()
    if not lowered or lowered == DEFAULT_MAIN_KEY or lowered == settings.main_key:
        return main_session_key(agent_id, settings)
    if lowered in (GLOBAL_KEY, UNKNOWN_KEY):
        return lowered
    if lowered.startswith("agent:"):
        parsed = parse_agent_key(lowered)
        if parsed is None:
            raise SessionKeyError(f"malformed session key: {text}")
        agent = normalize_agent_id(parsed.agent_id)
        if parsed.rest == DEFAULT_MAIN_KEY and settings.main_key != DEFAULT_MAIN_KEY:
            return main_session_key(agent, settings)
        return f"agent:{agent}:{parsed.rest}"
    return f"agent:{normalize_agent_id(agent_id)}:{lowered}"


def agent_of_key(key: str, default_agent: str) -> str:
    parsed = parse_agent_key(key)
    return normalize_agent_id(parsed.agent_id) if parsed else default_agent


def dm_session_key(agent_id: str, settings: SessionSettings, *, peer: str,
                   channel: str | None = None, account_id: str | None = None) -> str:
    agent = normalize_agent_id(agent_id)
    peer_id = normalize_peer(peer)
    scope = settings.dm_scope
    if scope == "per-peer":
        return f"agent:{agent}:direct:{peer_id}"
    if scope == "per-channel-peer":
        return f"agent:{agent}:{(channel or 'unknown').lower()}:direct:{peer_id}"
    if scope == "per-account-channel-peer":
        return (f"agent:{agent}:{(channel or 'unknown').lower()}:"
                f"{(account_id or 'default').lower()}:direct:{peer_id}")
    return main_session_key(agent, settings)


def group_session_key(agent_id: str, *, channel: str, group_id: str | None,
                      kind: str = "group", thread_id: str | None = None) -> str:
    base = (f"agent:{normalize_agent_id(agent_id)}:{channel.lower()}:"
            f"{'channel' if kind == 'channel' else 'group'}:{normalize_peer(group_id)}")
    return f"{base}:thread:{thread_id.lower()}" if thread_id else base


def session_kind(key: str) -> str:
    """``kind`` of a ``sessions.list`` row: direct, group, global or unknown."""
    if key == GLOBAL_KEY:
        return "global"
    if key == UNKNOWN_KEY:
        return "unknown"
    parsed = parse_agent_key(key)
    rest = parsed.rest if parsed else key
    if ":group:" in f":{rest}:" or ":channel:" in f":{rest}:":
        return "group"
    return "direct"


def channel_of_key(key: str) -> str | None:
    parsed = parse_agent_key(key)
    if parsed is None:
        return None
    parts = parsed.rest.split(":")
    for marker in ("group", "channel", "direct"):
        if marker in parts:
            index = parts.index(marker)
            if index >= 1:
                return parts[0]
    return None


__all__ = [
    "DEFAULT_AGENT_ID",
    "DEFAULT_MAIN_KEY",
    "GLOBAL_KEY",
    "MAX_SESSION_KEY_CHARS",
    "UNKNOWN_KEY",
    "ParsedKey",
    "SessionKeyError",
    "SessionSettings",
    "agent_of_key",
    "channel_of_key",
    "dm_session_key",
    "group_session_key",
    "main_session_key",
    "normalize_agent_id",
    "normalize_peer",
    "parse_agent_key",
    "resolve_request_key",
    "session_kind",
]
