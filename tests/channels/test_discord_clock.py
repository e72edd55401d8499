"""Discord against the local server with the timers on a Clock (shared with the server):
heartbeats at the server's interval after a jittered first one, op 1/7/9, and a 429 honoured
(the next request waits exactly ``retry_after``)."""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from openclaw.channels.discord.gateway import GatewaySession
from openclaw.channels.discord.plugin import DiscordPlugin
from openclaw.testing.discord_api import CREATE_MESSAGE, DiscordServer
from tests.channels.harness import ChannelHarness, new_clock


class DiscordClockTests(TestCase):
    timeout = 30

    async def boot(self, **discord: Any) -> ChannelHarness:
        clock = new_clock()
        server = DiscordServer(reactor, clock=clock, heartbeat_interval=41.25)
        server.start()
        self.addCleanup(server.stop)
        self.server = server
        self.bot = server.add_bot(username="OpenClaw")
        self.alice = server.add_user("alice")
        self.guild = server.add_guild("Test", members=[self.alice, self.bot])
        config = {"token": self.bot.token, "dmPolicy": "pairing", **discord}
        harness = ChannelHarness({"discord": config}, [DiscordPlugin()], clock=clock,
                                 env={"DISCORD_API_URL": server.api_base})
        self.addCleanup(harness.close)
        harness.start()
        await harness.connected("discord")
        return harness

    async def test_heartbeats_and_the_server_asking_for_one_a_reconnect_or_a_new_session(
            self) -> None:
        self.patch(GatewaySession, "jitter", lambda session: 0.5)
        harness = await self.boot()
        account = harness.account("discord")
        session = account.session
        connection = self.server.connections[0]
        server_session = await connection.identified
        harness.clock.advance(20.0)
        self.assertEqual(session.heartbeats_sent, 0)        # first beat: interval * jitter
        last_seen = session.seq
        self.assertIsInstance(last_seen, int)
        harness.clock.advance(0.625)
        self.assertEqual(session.heartbeats_sent, 1)
        beat = await connection.received.wait_for(lambda frame: frame["op"] == 1)
        self.assertEqual(beat["d"], last_seen)              # the last sequence number seen
        connection.request_heartbeat()                      # op 1 from the server
        await connection.received.wait_for(lambda frame: frame["op"] == 1
                                           and frame is not beat)
        self.assertEqual(session.heartbeats_sent, 2)

        lost = account.when_failed()
        connection.request_reconnect()                      # op 7
        self.assertIn("Discord gateway closed 4000", await lost)
        harness.clock.advance(1.5)                          # the reconnect delay, jittered
        second = await self.server.connections.wait_for(lambda c: c is not connection)
        self.assertIs(await second.resumed, server_session)
        await harness.connected("discord")

        lost = account.when_failed()
        second.invalidate_session(resumable=False)          # op 9, d: false
        await lost
        harness.clock.advance(5.0)                          # waits 1-5 s, then identifies
        third = await self.server.connections.wait_for(
            lambda c: c not in (connection, second))
        fresh = await third.identified
        self.assertIsNot(fresh, server_session)
        self.assertIsNone(third.resume)
        await harness.connected("discord")
        self.assertEqual(account.session.resumes, 1)

    async def test_a_429_is_honoured_the_next_request_waits_retry_after(self) -> None:
        harness = await self.boot()
        account = harness.account("discord")
        self.server.rate_limit(CREATE_MESSAGE, retry_after=2.0)
        waiting = account.rest.when_rate_limited()
        self.server.dm(self.alice, self.bot, "hi")
        self.assertEqual(await waiting, 2.0)
        posts = [c for c in self.bot.requests if c.route == CREATE_MESSAGE]
        self.assertEqual([c.status for c in posts], [429])
        bucket = next(key for key in account.rest.started if "/messages" in key)
        self.assertEqual(account.rest.started[bucket], 1)
        harness.clock.advance(1.5)
        self.assertEqual(account.rest.started[bucket], 1)       # still waiting
        harness.clock.advance(0.5)
        self.assertEqual(account.rest.started[bucket], 2)       # exactly retry_after
        pairing = await self.bot.sent.next()
        self.assertIn("Pairing code:", pairing.content)
        posts = [c for c in self.bot.requests if c.route == CREATE_MESSAGE]
        self.assertEqual([c.status for c in posts], [429, 200])
        self.assertEqual(posts[1].at - posts[0].at, 2.0)


class GatewaySessionTests(TestCase):
    timeout = 30

    async def test_a_4004_close_ends_the_loop_with_a_clear_error_and_no_retry(self) -> None:
        from twisted.internet.defer import Deferred, succeed

        from openclaw.channels.discord.gateway import DEFAULT_INTENTS

        clock = new_clock()
        server = DiscordServer(reactor, clock=clock)
        server.start()
        self.addCleanup(server.stop)
        fatal: Deferred[str] = Deferred()
        lost: list[str] = []
        session = GatewaySession(
            reactor=reactor, clock=clock, account_id="default", token="not-a-bot-token",
            intents=DEFAULT_INTENTS, gateway_url=lambda: succeed(server.gateway_url),
            check_url=lambda url: None, on_ready=lambda data, resumed: None,
            on_dispatch=lambda event, data: None, on_lost=lost.append,
            on_fatal=fatal.callback)
        session.start()
        self.addCleanup(session.stop)
        message = await fatal
        self.assertEqual(message, "Discord gateway closed 4004: Authentication failed. Check "
                                  "channels.discord.token (or DISCORD_BOT_TOKEN).")
        self.assertEqual(server.connections[0].close_code, 4004)
        clock.advance(120)
        self.assertEqual((session.connections, lost), (1, []))      # no reconnect loop
