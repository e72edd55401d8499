"""Connects the ``channels`` service to the agent runtime and to the ``send`` RPC.

Channels know no gateway and agents know no channels (tests/test_architecture.py), so the
tree joins them here: an admitted chat message becomes ``runtime.start(RunRequest(...))``,
and ``AgentGateway.deliver`` -- what ``send`` and ``openclaw agent --deliver`` call -- is
the channels' durable delivery, its refusals turned into ``INVALID_REQUEST``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openclaw.gateway.protocol.errors import invalid_request


def wire_channels(channels: Any, runtime: Any, agent_gateway: Any) -> None:
    channels.connect_agents(runtime.start, runtime.view)

    async def deliver(params: Mapping[str, Any]) -> dict[str, Any]:
        from openclaw.channels.service import ChannelError

        try:
            result: dict[str, Any] = await channels.deliver(params)
        except ChannelError as e:
            raise invalid_request(str(e)) from None
        return result

    def unavailable(target: Mapping[str, Any]) -> bool:
        """True when no running account can take a message for ``target`` (``agent
        --deliver`` is then refused before the run)."""
        from openclaw.channels.service import ChannelError

        try:
            channels.resolve_account(target.get("channel"), target.get("accountId"))
        except ChannelError:
            return True
        return False

    deliver.unavailable = unavailable  # type: ignore[attr-defined]
    if agent_gateway is not None:
        agent_gateway.deliver = deliver
