"""Channels family: ``channels.status`` (shape of openclaw 2026.9.6 ``ChannelsStatusResult``)
and ``channels.start|stop|logout {channel, accountId?}`` (``{channel, accountId, started,
outcome}``, ``{..., stopped}``, ``{..., cleared, loggedOut}``); the pairing methods are in
:mod:`openclaw.gateway.methods.pairing`.

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
    required,
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


CHANNEL_ACCOUNT_PARAMS: Final = Object({
    "channel": required(NON_EMPTY_STRING), "accountId": optional(NON_EMPTY_STRING)})


def _account_call(call: MethodCall, action: str) -> Any:
    """``channels.start|stop|logout {channel, accountId?}`` (default account when unset)."""
    params = call.param_map
    service = call.context.channels
    raw = str(params["channel"])
    channel = service.resolve_channel(raw) if service is not None else None
    if service is None or service.db is None or channel is None:
        raise invalid_request(f"unknown channel: {raw}")
    from openclaw.channels.accounts import normalize_account_id
    from openclaw.channels.service import ChannelError

    account_id = normalize_account_id(params.get("accountId")) if params.get("accountId") \
        else (service.default_account_id(channel) or "default")

    operation = {"start": service.start_account, "stop": service.stop_account,
                 "logout": service.logout_account}[action]

    async def run() -> dict[str, Any]:
        try:
            result: dict[str, Any] = await operation(channel, account_id)
        except ChannelError as e:
            raise invalid_request(str(e)) from None
        return result

    return run()


def channels_start(call: MethodCall) -> Any:
    return _account_call(call, "start")


def channels_stop(call: MethodCall) -> Any:
    return _account_call(call, "stop")


def channels_logout(call: MethodCall) -> Any:
    return _account_call(call, "logout")
