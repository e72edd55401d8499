"""Device pairing family: ``device.pair.list|approve|reject|remove``.

A caller authenticated through a paired device only sees and manages its own device unless
it holds ``operator.admin``; approving can never grant scopes the caller lacks. Approve,
reject and remove answer once the change is on disk (the store writes off the reactor).
"""

from __future__ import annotations

from typing import Any, Final

from openclaw.auth.scopes import ADMIN, ROLE_OPERATOR
from openclaw.gateway.devices.store import redact_paired_device
from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.errors import invalid_request
from openclaw.gateway.protocol.schema import EMPTY_PARAMS, NON_EMPTY_STRING, Object, required

DEVICE_PAIR_LIST_PARAMS: Final = EMPTY_PARAMS
DEVICE_PAIR_REQUEST_PARAMS: Final = Object({"requestId": required(NON_EMPTY_STRING)})
DEVICE_PAIR_REMOVE_PARAMS: Final = Object({"deviceId": required(NON_EMPTY_STRING)})

APPROVAL_DENIED: Final = "device pairing approval denied"
REJECTION_DENIED: Final = "device pairing rejection denied"


def _caller_device(call: MethodCall) -> str | None:
    """The caller's own device id when it must stay self-scoped (non-admin)."""
    if ADMIN in call.session.scopes:
        return None
    return call.session.device_id


def _connected_device_ids(call: MethodCall) -> set[str]:
    return {
        recipient.session.device_id
        for recipient in call.context.events.recipients()
        if getattr(recipient, "session", None) is not None and recipient.session.device_id
    }


def device_pair_list(call: MethodCall) -> dict[str, Any]:
    store = call.context.device_store
    pending = store.list_pending()
    paired = store.list_paired()
    own = _caller_device(call)
    if own is not None:
        pending = [request for request in pending if request.get("deviceId") == own]
        paired = [device for device in paired if device.get("deviceId") == own]
    connected = _connected_device_ids(call)
    return {
        "pending": pending,
        "paired": [
            redact_paired_device(device, connected=device.get("deviceId") in connected)
            for device in paired
        ],
    }


async def device_pair_approve(call: MethodCall) -> dict[str, Any]:
    context = call.context
    store = context.device_store
    request_id = str(call.param_map["requestId"]).strip()
    if ADMIN not in call.session.scopes:
        pending = store.get_pending(request_id)
        own = call.session.device_id
        if pending is not None and (
            (own is not None and pending.get("deviceId") != own)
            or any(role != ROLE_OPERATOR for role in pending.get("roles") or
                   [pending.get("role", ROLE_OPERATOR)])
        ):
            # Non-admins approve only their own device, and never a non-operator role.
            raise invalid_request(APPROVAL_DENIED)
    approved = store.approve(request_id, caller_scopes=list(call.session.scopes),
                             approved_via="operator")
    if approved is None:
        raise invalid_request("unknown requestId")
    if approved.status != "approved" or approved.device is None:
        raise invalid_request(approved.forbidden_message)
    await store.durable()
    device = approved.device
    context.events.broadcast(
        "device.pair.resolved",
        {"requestId": request_id, "deviceId": device["deviceId"], "decision": "approved",
         "ts": context.now_ms()},
        drop_if_slow=True,
    )
    return {"requestId": request_id, "device": redact_paired_device(device)}


async def device_pair_reject(call: MethodCall) -> dict[str, Any]:
    context = call.context
    store = context.device_store
    request_id = str(call.param_map["requestId"]).strip()
    own = _caller_device(call)
    if own is not None:
        pending = store.get_pending(request_id)
        if pending is None or pending.get("deviceId") != own:
            raise invalid_request(REJECTION_DENIED)
    rejected = store.reject(request_id)
    if rejected is None:
        raise invalid_request("unknown requestId")
    await store.durable()
    context.events.broadcast(
        "device.pair.resolved",
        {"requestId": request_id, "deviceId": rejected["deviceId"], "decision": "rejected",
         "ts": context.now_ms()},
        drop_if_slow=True,
    )
    return rejected


async def device_pair_remove(call: MethodCall) -> dict[str, Any]:
    context = call.context
    device_id = str(call.param_map["deviceId"]).strip()
    own = _caller_device(call)
    if own is not None and own != device_id:
        raise invalid_request("device pairing removal denied")
    removed = context.device_store.remove(device_id)
    if removed is None:
        raise invalid_request("unknown deviceId")
    await context.device_store.durable()
    # Connections authenticated as this device lose their grant; close them after the reply.
    for recipient in context.events.recipients():
        session = getattr(recipient, "session", None)
        if session is not None and session.device_id == device_id:
            context.clock.callLater(0, recipient.close, 4001,
                                    "client invalidated: device-pair-removed")
    return removed
