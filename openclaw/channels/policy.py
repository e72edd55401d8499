"""Who may talk to the agent: DM policy, group policy, sender allowlists, mention gating.

Pure functions over an :class:`AccessPolicy` (built by each network from its account config)
and an :class:`~openclaw.channels.model.InboundMessage`. The order for a group message is
upstream's: group policy -> group allowlist (and ``enabled``) -> sender allowlist -> mention
gating. Direct messages: ``disabled`` drops, the config ``allowFrom`` plus the pairing store
admit, ``open`` admits only with ``"*"``, ``pairing`` turns an unknown sender into a pairing
request. Pairing approvals never open groups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from openclaw.channels.model import InboundMessage

DISPATCH: Final = "dispatch"
PAIRING: Final = "pairing"
DROP: Final = "drop"
SKIP: Final = "skip"          # mention gating: kept as pending history, not answered


@attrs.frozen
class GroupRule:
    """One group allowlist entry (``groups.<key>``)."""

    require_mention: bool | None = None
    enabled: bool | None = None
    allow_from: tuple[str, ...] = ()
    system_prompt: str | None = None


@attrs.frozen
class AccessPolicy:
    dm_policy: str = "pairing"
    dm_enabled: bool = True
    allow_from: tuple[str, ...] = ()
    group_policy: str = "allowlist"
    group_allow_from: tuple[str, ...] = ()
    groups: Mapping[str, GroupRule] = attrs.field(factory=dict)
    name_matching: bool = False
    # IRC: an allowlisted channel still needs an explicit sender allowlist; Matrix: the room
    # allowlist is enough.
    group_senders_required: bool = True
    # Mention regexes (agents' groupChat.mentionPatterns or messages.groupChat's).
    mention_patterns: tuple[str, ...] = ()


@attrs.frozen
class Decision:
    action: str                    # dispatch | pairing | drop | skip
    reason: str
    group_rule: GroupRule | None = None
    mentioned: bool = False


def sender_allowed(message: InboundMessage, entries: Sequence[str],
                   name_matching: bool) -> bool:
    """``"*"``, a stable sender key, or (only with name matching) a mutable name."""
    wanted = {entry.strip().lower() for entry in entries if entry.strip()}
    if "*" in wanted:
        return True
    if any(key in wanted for key in message.sender_keys):
        return True
    return name_matching and any(name in wanted for name in message.sender_names)


def match_group(groups: Mapping[str, GroupRule],
                keys: Sequence[str]) -> tuple[GroupRule | None, GroupRule | None]:
    """``(the entry matching one of keys (case-insensitive), the "*" entry)``."""
    wildcard = groups.get("*")
    lowered = {key.lower(): rule for key, rule in groups.items() if key != "*"}
    for key in keys:
        rule = lowered.get(key.lower())
        if rule is not None:
            return rule, wildcard
    return None, wildcard


def matches_patterns(text: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, text, re.IGNORECASE):
                return True
        except re.error:
            continue
    return False


def decide(message: InboundMessage, policy: AccessPolicy,
           store_allow: Sequence[str]) -> Decision:
    if not message.is_group:
        return _decide_dm(message, policy, store_allow)
    return _decide_group(message, policy)


def _decide_dm(message: InboundMessage, policy: AccessPolicy,
               store_allow: Sequence[str]) -> Decision:
    mode = policy.dm_policy
    if mode == "disabled" or not policy.dm_enabled:
        return Decision(DROP, "dmPolicy=disabled")
    configured = list(policy.allow_from)
    if mode == "open":
        if "*" in configured or sender_allowed(message, configured + list(store_allow),
                                               policy.name_matching):
            return Decision(DISPATCH, "open")
        return Decision(DROP, "dmPolicy=open")
    allowed = [entry for entry in configured if entry != "*"] + list(store_allow)
    if sender_allowed(message, allowed, policy.name_matching):
        return Decision(DISPATCH, "allowlisted")
    if mode == "pairing":
        return Decision(PAIRING, "dmPolicy=pairing")
    return Decision(DROP, f"dmPolicy={mode}")


def _decide_group(message: InboundMessage, policy: AccessPolicy) -> Decision:
    mode = policy.group_policy
    if mode == "disabled":
        return Decision(DROP, "groupPolicy=disabled")
    rule, wildcard = match_group(policy.groups, message.group_keys)
    if mode == "allowlist":
        if not policy.groups:
            return Decision(DROP, "groupPolicy=allowlist and no groups configured")
        if rule is None and wildcard is None:
            return Decision(DROP, "not allowlisted")
    if (rule is not None and rule.enabled is False) or (
            wildcard is not None and wildcard.enabled is False):
        return Decision(DROP, "disabled")
    route_senders = (rule.allow_from if rule is not None and rule.allow_from
                     else wildcard.allow_from if wildcard is not None else ())
    senders = route_senders or policy.group_allow_from
    sender_mode = "allowlist" if mode == "open" and senders else mode
    if senders:
        if not sender_allowed(message, senders, policy.name_matching):
            return Decision(DROP, f"policy={sender_mode}", rule)
    elif sender_mode == "allowlist" and policy.group_senders_required:
        return Decision(DROP, f"policy={sender_mode}", rule)
    require = _require_mention(rule, wildcard, mode)
    mentioned = message.mentioned or matches_patterns(message.text, policy.mention_patterns)
    if require and not mentioned:
        return Decision(SKIP, "missing-mention", rule or wildcard, False)
    return Decision(DISPATCH, "mentioned" if mentioned else "mention-not-required",
                    rule or wildcard, mentioned)


def _require_mention(rule: GroupRule | None, wildcard: GroupRule | None, mode: str) -> bool:
    for candidate in (rule, wildcard):
        if candidate is not None and candidate.require_mention is not None:
            return candidate.require_mention
    # "open" without an explicit requireMention turns gating off (seen running, 2026.9.6).
    return mode != "open"
