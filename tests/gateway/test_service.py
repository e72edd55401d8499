"""The service tree itself: named children in order, stopped one after the other."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred

from tests.builder import GatewayFixture
from tests.clocks import ClockTestCase


class ServiceTreeTests(ClockTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.reactor = self.clock
        self.gateway = GatewayFixture(reactor=self.reactor)
        self.successResultOf(self.gateway.start())
        self.addCleanup(self._cleanup)

    def _cleanup(self) -> None:
        self.successResultOf(Deferred.fromCoroutine(self.gateway.stop()))

    def test_children_in_start_order(self) -> None:
        names = [child.name for child in self.gateway.service]
        self.assertEqual(names, ["logs", "config", "secrets", "store", "state", "providers",
                                 "usage", "agents", "channels", "heartbeat", "cron", "web"])
        self.assertEqual(self.gateway.service.readiness(), [])
        # listening on loopback, on the port the plan says
        self.assertEqual([(port[0], port[3]) for port in self.reactor.tcpServers],
                         [(0, "127.0.0.1")])

    def test_stop_waits_for_each_child_before_the_next(self) -> None:
        order: list[str] = []
        gates: dict[str, Deferred[None]] = {}
        for child in self.gateway.service:
            name = str(child.name)
            gate: Deferred[None] = Deferred()
            gates[name] = gate

            def stop(name: str = name, gate: Deferred[None] = gate,
                     real: Any = child.stopService) -> Deferred[None]:
                order.append(name)
                stopped: Deferred[None] = maybeDeferred(real)
                stopped.addCallback(lambda _: gate)
                return stopped

            child.stopService = stop  # type: ignore[method-assign]
        stopping: Any = self.gateway.service.stopService()
        # web goes first; nothing else stops while its connections drain
        self.assertEqual(order, ["web"])
        gates["web"].callback(None)
        self.assertEqual(order, ["web", "cron"])
        gates["cron"].callback(None)
        self.assertEqual(order, ["web", "cron", "heartbeat"])
        gates["heartbeat"].callback(None)
        self.assertEqual(order, ["web", "cron", "heartbeat", "channels"])
        gates["channels"].callback(None)
        # agents drain their runs before the session store closes
        self.assertEqual(order, ["web", "cron", "heartbeat", "channels", "agents"])
        gates["agents"].callback(None)
        # the usage ledger writes the runs' last rows before its database closes
        self.assertEqual(order[-1], "usage")
        for name in ("usage", "providers", "state", "store", "secrets", "config", "logs"):
            gates[name].callback(None)
        self.assertEqual(order, ["web", "cron", "heartbeat", "channels", "agents", "usage",
                                 "providers",
                                 "state", "store", "secrets", "config", "logs"])
        self.successResultOf(stopping)
        self.gateway.started = False  # stopped here already
