"""The ``channels`` service on its own, its timers on a ``Clock`` while its sockets stay real.

For what must be shown against time -- a 429's ``retry_after``, the polling watchdog,
heartbeats -- the accounts run in a :class:`~openclaw.channels.service.ChannelsService`
whose clock is a :class:`twisted.internet.task.Clock` (the test advances it) and whose
reactor is the real one (HTTP and WebSocket to the local servers). No agent runtime: what
needs no model (pairing replies, connections, status) runs as in the gateway.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from openclaw.channels.interfaces import IChannelPlugin
from openclaw.channels.service import ChannelsService
from openclaw.config.loader import parse_config_text


def new_clock() -> Clock:
    clock = Clock()
    clock.advance(1_800_000_000)        # a plausible "now" for dates and snowflakes
    return clock


class ChannelHarness:
    def __init__(self, channels: Mapping[str, Any], plugins: Sequence[IChannelPlugin], *,
                 env: Mapping[str, str] | None = None, clock: Clock | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="oc-harness-")
        self.clock = clock if clock is not None else new_clock()
        path = os.path.join(self.dir, "openclaw.json")
        self.snapshot = parse_config_text(json.dumps({"channels": dict(channels)}), path,
                                          env=dict(env or {}), home=self.dir)
        self.service = ChannelsService(self.clock, reactor=reactor, state_dir=self.dir,
                                       config=lambda: self.snapshot, plugins=list(plugins),
                                       env=dict(env or {}))

    def start(self) -> None:
        self.service.startService()

    async def close(self) -> None:
        if self.service.running:
            await self.service.stopService()
        # The database is left to the garbage collector, as the gateway does: work a last
        # connection_made() queued (a drain, a resume) may still be on its way to it.
        shutil.rmtree(self.dir, ignore_errors=True)

    def account(self, channel: str, account_id: str = "default") -> Any:
        found = self.service.account(channel, account_id)
        assert found is not None, f"{channel}:{account_id} is not running"
        return found

    def connected(self, channel: str, account_id: str = "default") -> Deferred[int]:
        waiter = self.account(channel, account_id).when_connected()
        waiter.addTimeout(30, reactor)
        return waiter
