"""Channels family: ``channels.status`` (shape of openclaw 2026.9.6 ``ChannelsStatusResult``),
``channels.pairing.list``.

The answer comes from the gateway's ``channels`` service (``context.channels``, a
:class:`~openclaw.channels.service.ChannelsService`); without one (bare protocol tests) the
gateway runs no channel and answers like the real gateway with none configured.
"""

from __future__ import annotations

from typing import Any, Final

from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.errors import invalid_request
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    Boolean,
    Integer,
    Object,
    optional,
)

CHANNELS_STATUS_PARAMS: Final = Object({
    "probe": optional(Boolean()),
    "timeoutMs": optional(Integer(minimum=0)),
    "channel": optional(NON_EMPTY_STRING),
})


def _empty_status(ts: int, event_loop: dict[str, Any], channel: str | None) -> dict[str, Any]:
    if channel is not None:
        raise invalid_request(f"unknown channel: {channel}")
    return {
        "ts": ts,
        "channelOrder": [],
        "channelLabels": {},
        "channelDetailLabels": {},
        "channelSystemImages": {},
        "channelMeta": [],
        "eventLoop": event_loop,
        "channels": {},
        "channelAccounts": {},
        "channelDefaultAccountId": {},
        "statusIssues": [],
    }


# Upstream's DM-pairing limits: pending requests per account, and their lifetime.
PAIRING_PENDING_PER_ACCOUNT: Final = 3
PAIRING_TTL_MS: Final = 3_600_000


def channels_pairing_list(call: MethodCall) -> dict[str, Any]:
    """``channels.pairing.list``: chat-network senders waiting for DM pairing. No channel
    here keeps a pairing store yet, so there are no accounts and no requests."""
    return {"accounts": [], "requests": [], "commandOwnerConfigured": False,
            "limits": {"pendingPerAccount": PAIRING_PENDING_PER_ACCOUNT,
                       "ttlMs": PAIRING_TTL_MS}}


def channels_status(call: MethodCall) -> Any:
    params = call.param_map
    probe = params.get("probe") is True
    channel = params.get("channel")
    context = call.context
    event_loop = context.event_loop.snapshot()
    service = context.channels
    if service is None or not service.accounts():
        return _empty_status(context.now_ms(), event_loop, channel)

    from openclaw.channels.service import UnknownChannel, status_timeout_ms

    async def run() -> dict[str, Any]:
        try:
            result: dict[str, Any] = await service.status(
                probe=probe, timeout_ms=status_timeout_ms(probe, params.get("timeoutMs")),
                channel=channel, event_loop=event_loop)
        except UnknownChannel as e:
            raise invalid_request(str(e)) from None
        return result

    return run()
