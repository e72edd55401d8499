"""``channels.pairing.list|approve|dismiss``: DM pairing requests, as the Control UI sees them
(openclaw 2026.9.6 ``server-methods/channel-pairing.ts``).

* list ``{channel?, accountId?}`` -> ``{accounts, requests, commandOwnerConfigured, limits}``
  (accounts: running accounts whose DM policy is ``pairing``; a request carries an opaque
  ``requestId``, never its code);
* approve ``{channel, accountId, requestId, notify?, bootstrapCommandOwner?}`` ->
  ``{requestId, senderId, notification, commandOwnerBootstrap}``; the owner bootstrap (when
  ``commands.ownerAllowFrom`` is empty) writes the config through the gateway's validated
  config writer, as ``config.patch`` does, and needs ``operator.admin``;
* dismiss: removes the request without blocking the sender.
"""

from __future__ import annotations

from typing import Any, Final

from openclaw.auth.scopes import ADMIN
from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.errors import ErrorCode, GatewayError, invalid_request
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    Boolean,
    Object,
    optional,
    required,
)

PAIRING_LIST_PARAMS: Final = Object({"channel": optional(NON_EMPTY_STRING),
                                     "accountId": optional(NON_EMPTY_STRING)})
PAIRING_APPROVE_PARAMS: Final = Object({
    "channel": required(NON_EMPTY_STRING), "accountId": required(NON_EMPTY_STRING),
    "requestId": required(NON_EMPTY_STRING), "notify": optional(Boolean()),
    "bootstrapCommandOwner": optional(Boolean())})
PAIRING_DISMISS_PARAMS: Final = Object({
    "channel": required(NON_EMPTY_STRING), "accountId": required(NON_EMPTY_STRING),
    "requestId": required(NON_EMPTY_STRING)})

LIMITS: Final = {"pendingPerAccount": 3, "ttlMs": 3_600_000}


def _service(call: MethodCall) -> Any:
    return call.context.channels


def _owner_configured(call: MethodCall) -> bool:
    owners = call.context.get_config().config.commands.owner_allow_from
    return bool(owners and any(str(o).strip() for o in owners))


def _public_account(service: Any, account: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"channel": account.meta.id, "channelLabel": account.meta.label,
                             "accountId": str(account.account_id), "notifySupported": True}
    name = getattr(account.account_config, "name", None)
    if name:
        entry["accountLabel"] = name
    return entry


def _public_request(service: Any, account: Any, request: Any) -> dict[str, Any]:
    plugin = service.plugin(account.meta.id)
    row: dict[str, Any] = {
        "requestId": request.request_id, "channel": account.meta.id,
        "channelLabel": account.meta.label, "accountId": str(account.account_id),
        "senderId": request.sender_id,
        "senderLabel": plugin.id_label if plugin is not None else "userId"}
    name = getattr(account.account_config, "name", None)
    if name:
        row["accountLabel"] = name
    metadata = {k: v for k, v in request.meta.items() if k not in ("accountId", "senderId")
                and v}
    if metadata:
        row["metadata"] = metadata
    row.update(createdAt=request.created_at, lastSeenAt=request.last_seen_at,
               expiresAt=request.expires_at(), notifySupported=True)
    return row


async def pairing_list(call: MethodCall) -> dict[str, Any]:
    params = call.param_map
    service = _service(call)
    owner = _owner_configured(call)
    if service is None or service.db is None:
        if params.get("channel"):
            raise invalid_request(f"unknown pairing channel: {params['channel']}")
        return {"accounts": [], "requests": [], "commandOwnerConfigured": owner,
                "limits": dict(LIMITS)}
    channel = params.get("channel")
    if channel and service.plugin(str(channel).strip().lower()) is None:
        raise invalid_request(f"unknown pairing channel: {channel}")
    accounts = service.pairing_accounts(channel, params.get("accountId"))
    requests = []
    for account in accounts:
        for request in await service.pairing_requests([account]):
            requests.append(_public_request(service, account, request))
    return {"accounts": [_public_account(service, a) for a in accounts],
            "requests": requests, "commandOwnerConfigured": owner, "limits": dict(LIMITS)}


def _pairing_account(call: MethodCall) -> Any:
    params = call.param_map
    service = _service(call)
    channel, account_id = str(params["channel"]), str(params["accountId"])
    if service is None or service.db is None:
        raise invalid_request(f"channel account does not use DM pairing: "
                              f"{channel}:{account_id}")
    if service.plugin(channel.strip().lower()) is None:
        raise invalid_request(f"unknown pairing channel: {channel}")
    accounts = service.pairing_accounts(channel, account_id)
    if len(accounts) != 1:
        raise invalid_request(f"channel account does not use DM pairing: "
                              f"{channel}:{account_id}")
    return service, accounts[0]


async def pairing_approve(call: MethodCall) -> dict[str, Any]:
    params = call.param_map
    service, account = _pairing_account(call)
    bootstrap = params.get("bootstrapCommandOwner") is True
    if bootstrap and ADMIN not in call.session.scopes:
        raise GatewayError(ErrorCode.INVALID_REQUEST,
                           "bootstrapCommandOwner requires operator.admin")
    approved = await service.pairing_approve(account, str(params["requestId"]))
    if approved is None:
        raise invalid_request("pending DM access request no longer exists")
    owner_status = "not-requested"
    if bootstrap:
        from openclaw.channels.pairing import owner_entry
        from openclaw.gateway.config_patch import bootstrap_command_owner

        try:
            owner_status = await bootstrap_command_owner(
                call.context, owner_entry(account.meta.id, approved.sender_id))
        except Exception:
            owner_status = "unavailable"
    notification = "not-requested"
    if params.get("notify") is True:
        try:
            sent = await service.notify_approved(account.meta.id, str(account.account_id),
                                                 approved.sender_id, approved.meta)
            notification = "sent" if sent else "unsupported"
        except Exception:
            notification = "failed"
    return {"requestId": params["requestId"], "senderId": approved.sender_id,
            "notification": notification, "commandOwnerBootstrap": owner_status}


async def pairing_dismiss(call: MethodCall) -> dict[str, Any]:
    params = call.param_map
    service, account = _pairing_account(call)
    dismissed = await service.pairing_dismiss(account, str(params["requestId"]))
    if dismissed is None:
        raise invalid_request("pending DM access request no longer exists")
    return {"requestId": params["requestId"], "senderId": dismissed.sender_id}
