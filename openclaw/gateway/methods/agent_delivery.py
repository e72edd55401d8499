"""``agent`` with ``deliver: true``: the reply goes out through a channel.

Delivery is the channels subsystem's: it plugs its function into ``AgentGateway.deliver``
(the same seam the ``send`` method uses). Until one is plugged in, or when it says the target
channel is not running (its ``unavailable(target)``), ``deliver: true`` is refused before the
run starts with a message that says so (``bestEffortDeliver`` runs anyway and skips the
delivery). The delivery target is ``replyChannel``/``replyTo``/``replyAccountId``,
else ``channel``/``to``/``accountId``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from openclaw.gateway.protocol.errors import GatewayError, invalid_request

if TYPE_CHECKING:
    from openclaw.agents.runtime import RunResult
    from openclaw.gateway.methods.agent import AgentGateway

log = Logger(namespace="gateway.agent")


def delivery_target(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``send`` params of the reply (without ``message``/``idempotencyKey``)."""
    target: dict[str, Any] = {}
    to = params.get("replyTo") or params.get("to")
    channel = params.get("replyChannel") or params.get("channel")
    account = params.get("replyAccountId") or params.get("accountId")
    if to:
        target["to"] = str(to)
    if channel and str(channel) != "last":
        target["channel"] = str(channel)
    if account:
        target["accountId"] = str(account)
    return target


def check_delivery(gateway: AgentGateway, params: Mapping[str, Any]) -> bool:
    """Whether the reply is to be delivered; raises INVALID_REQUEST when it cannot be."""
    if params.get("deliver") is not True:
        return False
    best_effort = params.get("bestEffortDeliver") is True
    unavailable = getattr(gateway.deliver, "unavailable", None)
    if gateway.deliver is None or (unavailable is not None
                                   and unavailable(delivery_target(params))):
        if best_effort:
            return False
        target = delivery_target(params)
        channel = target.get("channel")
        raise invalid_request(
            "delivery unavailable: no channel is running to deliver agent replies"
            + (f" (channel {channel} is not configured)" if channel else "")
            + "; configure a channel, or run without --deliver (bestEffortDeliver runs the "
            "agent anyway)")
    if "to" not in delivery_target(params) and not best_effort:
        raise invalid_request("delivery target missing: pass replyTo (openclaw agent "
                              "--reply-to <target>) or to")
    return True


async def deliver_reply(gateway: AgentGateway, params: Mapping[str, Any],
                        result: RunResult) -> dict[str, Any]:
    """Send the run's reply through the channel seam; the ``deliveryStatus`` to report."""
    deliver = gateway.deliver
    text = result.text.strip()
    target = delivery_target(params)
    if deliver is None or not text or "to" not in target:
        return {"status": "skipped"}
    request = {**target, "message": text, "idempotencyKey": f"deliver-{uuid.uuid4()}"}
    try:
        delivered = await deliver(request)
    except GatewayError as e:
        log.warn("agent run {run}: delivery failed: {error}", run=result.run_id,
                 error=e.message)
        return {"status": "failed", "error": e.message}
    except Exception as e:
        log.failure("agent run {run}: delivery failed", run=result.run_id)
        return {"status": "failed", "error": str(e) or type(e).__name__}
    return {"status": "sent", **(dict(delivered) if isinstance(delivered, Mapping) else {})}


__all__ = ["check_delivery", "deliver_reply", "delivery_target"]
