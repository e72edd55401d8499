"""Presence registry, event bus scope guards, health state."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from openclaw.gateway.protocol.events import EventBus, IEventRecipient
from openclaw.gateway.protocol.frames import EncodedEvent, RawJson
from openclaw.gateway.status.health import EventLoopMonitor, HealthState
from openclaw.gateway.status.presence import PresenceRegistry


@implementer(IEventRecipient)
class Recipient:
    def __init__(self, conn_id: str, role: str = "operator", scopes: tuple[str, ...] = ()):
        self.conn_id, self.role, self.scopes = conn_id, role, scopes
        self.frames: list[dict[str, Any]] = []
        self.seq = 0

    def deliver_event(self, event: EncodedEvent, drop_if_slow: bool, with_seq: bool) -> None:
        if with_seq:
            self.seq += 1
        self.frames.append(json.loads(event.frame(self.seq if with_seq else None)))


class EventBusTests(SynchronousTestCase):
    def test_guards_and_seq(self) -> None:
        bus = EventBus()
        reader = Recipient("a", scopes=("operator.read",))
        writer = Recipient("b", scopes=("operator.write",))
        bare = Recipient("c")
        node = Recipient("d", role="node")
        for recipient in (reader, writer, bare, node):
            bus.subscribe(recipient)
            verifyObject(IEventRecipient, recipient)
        self.assertEqual(bus.broadcast("tick", {"ts": 1}), 4)
        self.assertEqual(bus.broadcast("presence", {"presence": []}), 2)
        self.assertEqual(bus.broadcast("device.pair.requested", {}), 0)
        self.assertEqual(bus.broadcast("never.registered", {}), 0)
        self.assertEqual([f["seq"] for f in reader.frames], [1, 2])
        self.assertEqual([f["event"] for f in node.frames], ["tick"])

    def test_targets_have_no_seq(self) -> None:
        bus = EventBus()
        one, two = Recipient("1", scopes=("operator.read",)), Recipient("2")
        bus.subscribe(one)
        bus.subscribe(two)
        self.assertEqual(bus.broadcast("health", RawJson(b"{}"), targets=["1", "gone"]), 1)
        self.assertNotIn("seq", one.frames[0])
        self.assertEqual(two.frames, [])
        bus.unsubscribe(one)
        bus.unsubscribe(one)
        self.assertEqual(len(bus), 1)

    def test_registration(self) -> None:
        bus = EventBus()
        bus.register_event("agent")
        bus.register_event("custom.thing", ["operator.write"])
        self.assertIn("agent", bus.advertised_events)
        self.assertIn("custom.thing", bus.advertised_events)
        self.assertRaises(ValueError, bus.register_event, "no.guard")

    def test_failing_recipient_does_not_stop_broadcast(self) -> None:
        bus = EventBus()

        @implementer(IEventRecipient)
        class Broken(Recipient):
            def deliver_event(self, event: EncodedEvent, drop_if_slow: bool,
                              with_seq: bool) -> None:
                raise RuntimeError("boom")

        good = Recipient("good")
        bus.subscribe(Broken("bad"))
        bus.subscribe(good)
        self.assertEqual(bus.broadcast("tick", {"ts": 1}), 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class PresenceTests(SynchronousTestCase):
    def registry(self, clock: Clock) -> PresenceRegistry:
        return PresenceRegistry(clock, version="1.0", instance_id="gw", host="h", ip="10.0.0.1")

    def test_self_entry_and_upsert(self) -> None:
        clock = Clock()
        clock.advance(100)
        registry = self.registry(clock)
        [self_entry] = registry.list()
        self.assertEqual(self_entry["mode"], "gateway")
        self.assertEqual(self_entry["text"],
                         "Gateway: h (10.0.0.1) · app 1.0 · mode gateway · reason self")
        registry.upsert("Conn-1", {"host": "ui", "mode": "webchat", "roles": ["operator"],
                                   "reason": "connect", "ip": None})
        clock.advance(1)
        registry.upsert("conn-1", {"reason": "disconnect", "roles": ["operator", "x"]})
        entries = [e for e in registry.list() if e.get("mode") == "webchat"]
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["reason"], "disconnect")
        self.assertEqual(entries[0]["roles"], ["operator", "x"])
        self.assertNotIn("ip", entries[0])
        self.assertTrue(registry.touch("CONN-1"))
        self.assertFalse(registry.touch("missing"))

    def test_ttl_and_cap(self) -> None:
        clock = Clock()
        registry = self.registry(clock)
        registry.upsert("old", {"host": "a"})
        clock.advance(301)
        self.assertEqual(len(registry.list()), 1)
        for index in range(250):
            registry.upsert(f"k{index}", {"host": "x"})
        self.assertEqual(len(registry.list()), 200)
        self.assertEqual(registry.bump_version(), 2)


class HealthStateTests(SynchronousTestCase):
    def test_cache_refresh_and_versions(self) -> None:
        clock = Clock()
        state = HealthState(clock)
        self.assertRaises(RuntimeError, state.refresh)
        calls: list[int] = []
        broadcasts: list[int] = []

        def collect() -> dict[str, Any]:
            calls.append(1)
            return {"ok": True, "n": len(calls)}

        state.collector = collect
        state.on_refresh = lambda encoded, version: broadcasts.append(version)
        first = state.cached_payload()
        self.assertEqual(json.loads(first.data)["n"], 1)
        self.assertIs(state.cached_payload(), first)
        clock.advance(60)
        self.assertEqual(json.loads(state.cached_payload().data)["n"], 2)
        state.cached_payload(probe=True)
        self.assertEqual(broadcasts, [2, 3, 4])
        self.assertTrue(state.maybe_background_refresh())
        self.assertFalse(state.maybe_background_refresh())
        clock.advance(61)
        self.assertTrue(state.maybe_background_refresh())

    def test_event_loop_monitor(self) -> None:
        clock = Clock()
        monitor = EventLoopMonitor(clock)
        monitor.start()
        clock.advance(1)
        clock.advance(2.5)
        snapshot = monitor.snapshot()
        self.assertTrue(snapshot["degraded"])
        self.assertEqual(snapshot["delayMaxMs"], 1500.0)
        self.assertEqual(snapshot["reasons"], ["event_loop_delay"])
        monitor.stop()
        monitor.stop()
