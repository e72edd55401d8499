"""The data every channel shares: an inbound message, an outbound message, an account spec.

A network package turns what its server sent into an :class:`InboundMessage` (identities,
conversation, mention facts already worked out the network's way) and turns an
:class:`OutboundMessage` back into protocol; everything between -- the durable queues,
policy, pairing, routing, the agent run, chunking -- is the same for every network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

DIRECT: Final = "direct"
GROUP: Final = "group"


@attrs.frozen
class InboundMessage:
    """One chat message a channel account accepted from its network."""

    channel: str
    account_id: str
    event_id: str                  # unique per account (Matrix event id, IRC generated id)
    chat_type: str                 # direct | group | channel
    sender_id: str                 # stable identity (IRC nick!user@host, Matrix @user:server)
    sender_name: str               # display (IRC nick, Matrix display name)
    conversation_id: str           # DM: the peer (IRC nick, Matrix user); group: the group id
    reply_target: str              # where a reply goes (IRC nick or #chan, Matrix room id)
    text: str
    ts: int                        # ms since the epoch
    # Stable ids and mutable names the allowlists may match (lower-case).
    sender_keys: tuple[str, ...] = ()
    sender_names: tuple[str, ...] = ()
    # Keys the group allowlist may match (IRC #chan, Matrix room id and aliases).
    group_keys: tuple[str, ...] = ()
    mentioned: bool = False        # a native mention of the bot (network-specific rules)
    thread_id: str | None = None
    reply_to_id: str | None = None  # the message this one replies to
    message_id: str | None = None
    meta: Mapping[str, str] = attrs.field(factory=dict)

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> InboundMessage:
        data: dict[str, Any] = json.loads(text)
        for key in ("sender_keys", "sender_names", "group_keys"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)

    @property
    def is_group(self) -> bool:
        return self.chat_type != DIRECT


@attrs.frozen
class OutboundMessage:
    """One chunk of text for one target, as the outbound queue hands it to an account."""

    row_id: int
    key: str
    target: str
    text: str
    thread_id: str | None = None
    reply_to_id: str | None = None
    attempts: int = 0
    # A message the account showed as a live preview of this reply: finalize it in place
    # (edit) instead of sending a new one, when the network can.
    edit_id: str | None = None


@attrs.frozen
class AccountSpec:
    """Everything one account is built from (frozen: a changed spec restarts the account).

    ``settings`` is the account's resolved config (the channel's typed account section with
    the top level merged in), ``secrets`` the resolved credential texts it needs.
    """

    channel: str
    account_id: str
    is_default: bool
    enabled: bool
    configured: bool
    settings: Any
    secrets: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    sources: Mapping[str, str] = attrs.field(factory=dict)   # e.g. passwordSource: config

    @property
    def name(self) -> str:
        return f"{self.channel}:{self.account_id}"


class SendFailed(Exception):
    """The network refused one outbound message.

    ``retry_after`` (seconds): try again later (the recipient is offline, a rate limit);
    None: the message can never be delivered (it is marked failed).
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotConnected(Exception):
    """The account has no live connection (the outbound row stays queued)."""
