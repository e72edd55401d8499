"""Telegram against the local Bot API with the timers on a Clock: a 429 is honoured (the next
request waits exactly ``retry_after``) and the polling watchdog restarts a stalled poller
after 120 s without a completed ``getUpdates``."""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from openclaw.channels.telegram.plugin import TelegramPlugin
from openclaw.testing.telegram_bot_api import TelegramBotApiServer
from tests.channels.harness import ChannelHarness, new_clock


class TelegramClockTests(TestCase):
    timeout = 30

    async def boot(self, clock: Clock, *, server_clock: Clock) -> ChannelHarness:
        server = TelegramBotApiServer(reactor, clock=server_clock)
        server.start()
        self.addCleanup(server.stop)
        self.server = server
        self.bot = server.add_bot(username="openclaw_test_bot")
        self.alice = server.add_user("Alice", username="alice")
        server.open_dm(self.alice, self.bot)
        harness = ChannelHarness({"telegram": {"botToken": self.bot.token,
                                               "apiRoot": server.api_root,
                                               "dmPolicy": "pairing"}}, [TelegramPlugin()],
                                 clock=clock)
        self.addCleanup(harness.close)
        harness.start()
        await harness.connected("telegram")
        return harness

    async def test_a_429_is_honoured_the_next_request_waits_retry_after(self) -> None:
        clock = new_clock()
        harness = await self.boot(clock, server_clock=clock)    # one clock for both sides
        account = harness.account("telegram")
        self.bot.rate_limit("sendMessage", retry_after=3)
        waiting = account.api.when_rate_limited()
        self.server.dm(self.alice, self.bot, "hi")
        self.assertEqual(await waiting, 3.0)
        refused = await self.bot.requests.wait_for(
            lambda call: call.method == "sendMessage")
        self.assertEqual(refused.status, 429)
        self.assertEqual(account.api.started["sendMessage"], 1)
        harness.clock.advance(2.5)
        self.assertEqual(account.api.started["sendMessage"], 1)      # still waiting
        harness.clock.advance(0.5)
        self.assertEqual(account.api.started["sendMessage"], 2)      # exactly retry_after
        pairing = await self.bot.sent.next()
        self.assertIn("Pairing code:", pairing.text)
        retried = [c for c in self.bot.requests if c.method == "sendMessage"]
        self.assertEqual([c.status for c in retried], [429, 200])
        self.assertEqual(retried[1].at - retried[0].at, 3.0)
        row = await harness.service.outbox.wait(1)
        self.assertEqual((row.state, row.attempts), ("sent", 1))

    async def test_the_watchdog_restarts_polling_after_120s_without_getupdates(
            self) -> None:
        # the server's long polls run on a clock nobody advances: they never answer
        harness = await self.boot(new_clock(), server_clock=new_clock())
        account = harness.account("telegram")
        poller = account.poller
        await self.bot.long_polls.wait_for(lambda poll: poll.timeout == 30)
        first = account.connection_id
        harness.clock.advance(119)
        self.assertEqual(poller.restarts, 0)
        harness.clock.advance(1)
        self.assertEqual(poller.restarts, 1)
        self.assertEqual(account.last_error, "Polling stall detected (no completed "
                                             "getUpdates for 120s); forcing restart.")
        self.assertFalse(account.connected)
        seen = len(self.bot.requests)
        again = await harness.connected("telegram")   # a fresh start: getMe, then polls
        self.assertNotEqual(again, first)
        self.assertEqual([c.method for c in self.bot.requests.items[seen:seen + 3]],
                         ["getMe", "deleteWebhook", "getUpdates"])
        self.assertIsNone(account.last_error)
