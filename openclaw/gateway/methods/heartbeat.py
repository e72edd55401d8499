"""``set-heartbeats`` and the ``heartbeat`` event, bound to the heartbeat service.

``set-heartbeats {enabled: boolean}`` -> ``{ok: true, enabled}`` (operator.admin; anything but
a boolean is ``INVALID_REQUEST "invalid set-heartbeats params: enabled (boolean) required"``,
the real gateway's words). ``last-heartbeat`` (system family) answers the last event, which
:func:`heartbeat_emitter` keeps in ``context.last_heartbeat`` as it broadcasts it
(``dropIfSlow``, every authenticated connection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from openclaw.auth.scopes import ADMIN
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request

if TYPE_CHECKING:
    from openclaw.agents.heartbeat import HeartbeatService
    from openclaw.gateway.protocol.context import GatewayContext


def heartbeat_emitter(context: GatewayContext) -> Callable[[dict[str, Any]], None]:
    context.events.register_event("heartbeat")

    def emit(event: dict[str, Any]) -> None:
        context.last_heartbeat = event
        context.events.broadcast("heartbeat", event, drop_if_slow=True)

    return emit


def set_heartbeats_spec(service: HeartbeatService) -> MethodSpec:
    def set_heartbeats(call: MethodCall) -> dict[str, Any]:
        enabled = call.param_map.get("enabled")
        if not isinstance(enabled, bool):
            raise invalid_request("invalid set-heartbeats params: enabled (boolean) required")
        service.set_enabled(enabled)
        return {"ok": True, "enabled": enabled}

    return MethodSpec("set-heartbeats", set_heartbeats, ADMIN)


__all__ = ["heartbeat_emitter", "set_heartbeats_spec"]
