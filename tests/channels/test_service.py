"""ChannelsService: the ``channels`` child, its accounts, and the status/health shapes."""

from __future__ import annotations

from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.channels.service import ChannelsService, UnknownChannel, status_timeout_ms
from tests.channels.support import IRC, TELEGRAM, ScriptedAccount

STATUS_KEYS = ["ts", "channelOrder", "channelLabels", "channelDetailLabels",
               "channelSystemImages", "channelMeta", "channels", "channelAccounts",
               "channelDefaultAccountId", "statusIssues"]


def make(*accounts: ScriptedAccount) -> tuple[ChannelsService, Clock]:
    clock = Clock()
    clock.advance(1_795_224_394.689)
    service = ChannelsService(clock)
    for account in accounts:
        service.add_account(account)
    return service, clock


class StatusTests(SynchronousTestCase):
    def status(self, service: ChannelsService, **kwargs: Any) -> Any:
        return self.successResultOf(Deferred.fromCoroutine(service.status(**kwargs)))

    def test_no_channels_is_the_real_gateways_empty_answer(self) -> None:
        service, _ = make()
        payload = self.status(service, event_loop={"degraded": False})
        self.assertEqual(payload, {
            "ts": 1_795_224_394_689, "channelOrder": [], "channelLabels": {},
            "channelDetailLabels": {}, "channelSystemImages": {}, "channelMeta": [],
            "eventLoop": {"degraded": False}, "channels": {}, "channelAccounts": {},
            "channelDefaultAccountId": {}, "statusIssues": []})
        self.assertEqual(service.health_fields(),
                         {"channels": {}, "channelOrder": [], "channelLabels": {}})

    def test_accounts_catalog_summaries_and_defaults(self) -> None:
        work = ScriptedAccount(TELEGRAM, "work")
        main = ScriptedAccount(TELEGRAM, "main", is_default=True,
                               summary={"configured": True, "tokenSource": "config"})
        irc = ScriptedAccount(IRC, issues=[{"channel": "irc", "accountId": "default",
                                            "kind": "config", "message": "TLS is off"}])
        service, _ = make(work, main, irc)
        parent = MultiService()
        service.setServiceParent(parent)
        parent.startService()
        self.assertEqual([c.name for c in service], ["telegram:work", "telegram:main",
                                                     "irc:default"])
        payload = self.status(service)
        self.assertEqual(list(payload), STATUS_KEYS)
        self.assertEqual(payload["channelOrder"], ["telegram", "irc"])
        self.assertEqual(payload["channelLabels"], {"telegram": "Telegram", "irc": "IRC"})
        self.assertEqual(payload["channelDetailLabels"],
                         {"telegram": "Telegram Bot", "irc": "IRC"})
        self.assertEqual(payload["channelSystemImages"], {"telegram": "paperplane"})
        self.assertEqual(payload["channelMeta"][0], {
            "id": "telegram", "label": "Telegram", "detailLabel": "Telegram Bot",
            "systemImage": "paperplane"})
        self.assertEqual(list(payload["channels"]), ["irc", "telegram"])  # sorted, as upstream
        self.assertEqual(payload["channels"]["telegram"],
                         {"configured": True, "tokenSource": "config"})
        self.assertEqual(payload["channels"]["irc"], {"configured": True})
        self.assertEqual(payload["channelDefaultAccountId"], {"irc": "default",
                                                              "telegram": "main"})
        accounts = payload["channelAccounts"]["telegram"]
        self.assertEqual([a["accountId"] for a in accounts], ["work", "main"])
        self.assertEqual(accounts[0]["running"], True)
        self.assertIsNone(accounts[0]["lastInboundAt"])
        self.assertEqual(payload["statusIssues"][0]["message"], "TLS is off")
        self.assertNotIn("partial", payload)
        health = service.health_fields()
        self.assertEqual(health["channelOrder"], ["telegram", "irc"])
        self.assertEqual(health["channels"]["telegram"]["accountId"], "main")
        self.assertEqual(set(health["channels"]["telegram"]["accounts"]), {"work", "main"})
        parent.stopService()
        self.assertFalse(work.running)

    def test_channel_filter_and_aliases(self) -> None:
        service, _ = make(ScriptedAccount(IRC), ScriptedAccount(TELEGRAM))
        payload = self.status(service, channel=" Internet-Relay-Chat ")
        self.assertEqual(payload["channelOrder"], ["irc"])
        self.assertEqual(list(payload["channelAccounts"]), ["irc"])
        failure = self.failureResultOf(
            Deferred.fromCoroutine(service.status(channel="whatsapp")), UnknownChannel)
        self.assertEqual(str(failure.value), "unknown channel: whatsapp")

    def test_probe_results_failures_and_timeouts(self) -> None:
        ok = ScriptedAccount(TELEGRAM, "ok", probe_result=succeed(
            {"ok": True, "elapsedMs": 12, "bot": {"username": "x"}}))
        bad = ScriptedAccount(TELEGRAM, "bad", probe_result=RuntimeError("401 Unauthorized"))
        slow = ScriptedAccount(IRC, probe_result="hang")
        unconfigured = ScriptedAccount(IRC, "spare", configured=False, probe_result="hang")
        service, clock = make(ok, bad, slow, unconfigured)
        running = Deferred.fromCoroutine(service.status(probe=True, timeout_ms=2000))
        self.assertNoResult(running)
        clock.advance(2)
        payload = self.successResultOf(running)
        self.assertEqual((ok.probes, slow.probes, unconfigured.probes), ([2000], [2000], []))
        telegram = {a["accountId"]: a for a in payload["channelAccounts"]["telegram"]}
        self.assertEqual(telegram["ok"]["probe"]["bot"], {"username": "x"})
        self.assertEqual(telegram["ok"]["lastProbeAt"], 1_795_224_394_689)
        self.assertIsNone(telegram["ok"]["lastError"])
        self.assertEqual(telegram["bad"]["probe"], {"ok": False, "error": "401 Unauthorized"})
        self.assertEqual(telegram["bad"]["lastError"], "401 Unauthorized")
        irc = payload["channelAccounts"]["irc"][0]
        self.assertEqual(irc["probe"], {"ok": False, "timedOut": True,
                                        "error": "probe timed out after 2000ms"})
        self.assertNotIn("probe", payload["channelAccounts"]["irc"][1])
        self.assertIs(payload["partial"], True)
        self.assertEqual(payload["warnings"], ["irc:default probe timed out after 2000ms",
                                               "telegram:bad probe failed: 401 Unauthorized"])
        self.assertEqual(payload["channels"]["telegram"],
                         {"configured": True})  # fallback summary of the first account

    def test_timeouts(self) -> None:
        self.assertEqual(status_timeout_ms(False, None), 10_000)
        self.assertEqual(status_timeout_ms(True, None), 30_000)
        self.assertEqual(status_timeout_ms(True, 5), 1_000)
        self.assertEqual(status_timeout_ms(False, 99_999), 30_000)
        self.assertEqual(status_timeout_ms(False, True), 10_000)

    def test_rejects_non_channels(self) -> None:
        service, _ = make()
        self.assertRaises(TypeError, service.add_account, object())  # type: ignore[arg-type]
