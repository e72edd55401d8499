"""channels.status over the protocol (shape of openclaw 2026.9.6, recorded-frames.md)."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth.scopes import READ
from openclaw.channels.service import ChannelsService
from openclaw.gateway.methods.registry import build_registry
from tests.channels.support import IRC, ScriptedAccount
from tests.gateway.protocol.support import Harness, connect_params

# r6-channels.status in recorded-frames.md (the real gateway, no channels configured)
RECORDED_KEYS = ["ts", "channelOrder", "channelLabels", "channelDetailLabels",
                 "channelSystemImages", "channelMeta", "eventLoop", "channels",
                 "channelAccounts", "channelDefaultAccountId", "statusIssues"]


def session(harness: Harness, scopes: list[str] | None = None) -> tuple[Any, Any]:
    connection, transport, response = harness.connect(connect_params(scopes=scopes))
    assert response["ok"], response
    return connection, transport


class ChannelsStatusTests(SynchronousTestCase):
    def test_registered_and_advertised(self) -> None:
        registry = build_registry()
        self.assertEqual(registry.required_scope("channels.status"), READ)
        self.assertIn("channels.status", registry.advertised_methods)

    def test_no_channels_matches_the_recording(self) -> None:
        for service in (None, "empty"):
            harness = Harness()
            if service is not None:
                harness.context.channels = ChannelsService(harness.clock)
            connection, transport = session(harness)
            response = harness.call(connection, transport, "channels.status", {})
            self.assertTrue(response["ok"], response)
            payload = response["payload"]
            self.assertEqual(list(payload), RECORDED_KEYS)
            self.assertEqual(payload["ts"], harness.context.now_ms())
            self.assertEqual(
                {k: payload[k] for k in RECORDED_KEYS if k not in ("ts", "eventLoop")},
                {"channelOrder": [], "channelLabels": {}, "channelDetailLabels": {},
                 "channelSystemImages": {}, "channelMeta": [], "channels": {},
                 "channelAccounts": {}, "channelDefaultAccountId": {}, "statusIssues": []})
            self.assertIn("cpuBreakdown", payload["eventLoop"])

    def test_accounts_and_probe_through_the_service(self) -> None:
        harness = Harness()
        service = ChannelsService(harness.clock)
        account = ScriptedAccount(IRC, probe_result={"ok": True, "elapsedMs": 3})
        service.add_account(account)
        harness.context.channels = service
        connection, transport = session(harness)
        payload = harness.call(connection, transport, "channels.status",
                               {"probe": True, "timeoutMs": 50})["payload"]
        self.assertEqual(account.probes, [1000])  # clamped to 1..30 s
        self.assertEqual(payload["channelOrder"], ["irc"])
        self.assertEqual(payload["channelAccounts"]["irc"][0]["probe"],
                         {"ok": True, "elapsedMs": 3})
        self.assertEqual(list(payload)[:7], RECORDED_KEYS[:7])

    def test_unknown_channel_and_bad_params(self) -> None:
        for with_service in (False, True):
            harness = Harness()
            if with_service:
                service = ChannelsService(harness.clock)
                service.add_account(ScriptedAccount(IRC))
                harness.context.channels = service
            connection, transport = session(harness)
            error = harness.call(connection, transport, "channels.status",
                                 {"channel": "telegram"})["error"]
            self.assertEqual((error["code"], error["message"]),
                             ("INVALID_REQUEST", "unknown channel: telegram"))
        bad = harness.call(connection, transport, "channels.status", {"probe": "yes"})["error"]
        self.assertEqual(bad["message"],
                         "invalid channels.status params: at /probe: must be boolean")
        extra = harness.call(connection, transport, "channels.status", {"verbose": True})
        self.assertEqual(extra["error"]["message"],
                         "invalid channels.status params: at root: unexpected property 'verbose'")

    def test_needs_read_scope(self) -> None:
        harness = Harness()
        connection, transport = session(harness, scopes=[])
        error = harness.call(connection, transport, "channels.status", {})["error"]
        self.assertIn("operator.read", error["message"])
