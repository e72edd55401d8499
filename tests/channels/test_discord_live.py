"""Discord against the local Discord server (``openclaw.testing.discord_api``: REST and the
gateway WebSocket on one port) over real sockets: pairing, DMs, guild channels and mention
gating (user and role mentions), chunking, a dropped gateway connection and a server
restart resumed with the missed dispatches replayed, fatal close codes.

The gateway runs in this process with a scripted model upstream and ``DISCORD_API_URL``
pointing at the local server; the people are the fake server's users.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.testing.discord_api import DiscordBot, DiscordServer
from openclaw.testing.discord_gateway import Intents
from tests.channels.stack import GatewayStack
from tests.upstream import Reply, openai_text

CODE = re.compile(r"Pairing code:\n```\n([A-Z2-9]{8})\n```")
UPSTREAM_INTENTS = 46601


class DiscordWorld:
    """The local Discord with a bot, Alice and Bob, and a guild with #general and #random;
    the bot also has the "Helpers" role."""

    def __init__(self, *, flags: int | None = None, clock: Any = None) -> None:
        self.server = DiscordServer(reactor, clock=clock)
        self.server.start()
        self.bot: DiscordBot = (self.server.add_bot(username="OpenClaw") if flags is None
                                else self.server.add_bot(username="OpenClaw", flags=flags))
        self.alice = self.server.add_user("alice", global_name="Alice")
        self.bob = self.server.add_user("bob", global_name="Bob")
        self.guild = self.server.add_guild("OpenClaw Test", members=[self.alice, self.bob,
                                                                     self.bot],
                                           channels=("general", "random"))
        self.general = self.guild.channel("general")
        self.helpers = self.server.add_role(self.guild, "Helpers", members=[self.bot])


def discord_channel(world: DiscordWorld, **overrides: Any) -> dict[str, Any]:
    discord: dict[str, Any] = {"enabled": True, "token": world.bot.token,
                               "dmPolicy": "pairing", "groupPolicy": "allowlist",
                               "guilds": {world.guild.id: {"requireMention": True}}}
    discord.update(overrides)
    return {"discord": discord}


class DiscordBase(TestCase):
    timeout = 60

    def world(self, **kwargs: Any) -> DiscordWorld:
        world = DiscordWorld(**kwargs)
        self.addCleanup(world.server.stop)
        return world

    async def boot(self, world: DiscordWorld, *, connect: bool = True,
                   **discord: Any) -> GatewayStack:
        stack = GatewayStack()
        self.addCleanup(stack.close)
        stack.env["DISCORD_API_URL"] = world.server.api_base
        stack.write_config(stack.base_config(discord_channel(world, **discord)))
        await stack.start()
        if connect:
            await stack.connected("discord")
        return stack


class DiscordLiveTests(DiscordBase):
    async def test_pairing_approval_then_dm_answered_with_typing(self) -> None:
        world = self.world()
        server, bot, alice = world.server, world.bot, world.alice
        stack = await self.boot(world)
        connection = server.connections[0]
        identify = connection.identify
        assert identify is not None
        self.assertEqual(identify["intents"], UPSTREAM_INTENTS)
        self.assertEqual(identify["token"], bot.token)
        self.assertEqual((connection.path, connection.query),
                         ("/", {"v": "10", "encoding": "json"}))
        routes = [call.route for call in bot.requests]
        self.assertEqual(routes[:3], ["GET /users/@me", "GET /oauth2/applications/@me",
                                      "GET /gateway/bot"])

        server.dm(alice, bot, "hello?")
        pairing = await bot.sent.next()
        dm = server.dm_channel(alice, bot)
        self.assertEqual(pairing.channel_id, dm.id)
        self.assertTrue(pairing.content.startswith("OpenClaw: access not configured."))
        self.assertIn(f"Your Discord user id: {alice.id}", pairing.content)
        match = CODE.search(pairing.content)
        assert match is not None, pairing.content
        code = match.group(1)
        self.assertIn(f"openclaw pairing approve discord {code}", pairing.content)
        self.assertEqual(stack.upstream.requests, [])

        rc, out, err = await stack.cli("pairing", "approve", "discord", code, "--notify")
        self.assertEqual(rc, 0, err)
        self.assertIn(f"Approved discord sender {alice.id}.", out)
        notice = await bot.sent.next()
        self.assertEqual((notice.channel_id, notice.content),
                         (dm.id, "✅ OpenClaw access approved. Send a message to start "
                                 "chatting."))

        stack.upstream.script(openai_text(["Hi ", "Alice!"]))
        server.dm(alice, bot, "what's up?")
        reply = await bot.sent.next()
        self.assertEqual((reply.channel_id, reply.content), (dm.id, "Hi Alice!"))
        typing = bot.typing[0]
        self.assertEqual(typing.channel_id, dm.id)
        self.assertLessEqual(typing.at, reply.at)
        self.assertEqual(stack.upstream.requests[-1].json["messages"][-1]["content"],
                         "what's up?")

    async def test_guild_mentions_by_user_and_role_answered_unmentioned_ignored(self) -> None:
        world = self.world()
        server, bot, alice, bob = world.server, world.bot, world.alice, world.bob
        stack = await self.boot(world)
        connection = server.connections[0]
        server.post_message(alice, world.general, "anyone around?")
        stack.upstream.script(openai_text("pong"), openai_text("helpers here"))
        server.post_message(bob, world.general, f"{bot.mention} ping")
        reply = await bot.sent.next()
        self.assertEqual((reply.channel_id, reply.content), (world.general.id, "pong"))
        prompt = stack.upstream.requests[0].json["messages"][-1]["content"]
        self.assertIn("Alice: anyone around?", prompt)       # pending history, as context
        self.assertTrue(prompt.endswith("Bob: ping"), prompt)  # the bot's mention taken out

        server.post_message(alice, world.general, f"{world.helpers.mention} can you help?")
        again = await bot.sent.next()
        self.assertEqual(again.content, "helpers here")
        notes = [row[0] for row in stack.channels.db.query(
            "SELECT note FROM ingress ORDER BY id")]
        self.assertEqual(notes, ["missing-mention", "replied", "replied"])
        # the bot's own messages came back as dispatches and were not taken as messages
        echoed = [f for f in connection.sent if f.get("t") == "MESSAGE_CREATE"
                  and f["d"]["author"]["id"] == bot.id]
        self.assertEqual(len(echoed), 2)
        self.assertEqual(len(stack.upstream.requests), 2)

    async def test_a_long_reply_arrives_as_several_messages_in_order(self) -> None:
        world = self.world()
        stack = await self.boot(world, dmPolicy="allowlist", allowFrom=[world.alice.id])
        lines = [f"Line {index}: " + "text " * 20 for index in range(40)]
        text = "\n".join(line.strip() for line in lines)
        stack.upstream.script(openai_text(text))
        world.server.dm(world.alice, world.bot, "a long one please")
        replies = []
        while sum(len(r.content.split("\n")) for r in replies) < 40:
            replies.append(await world.bot.sent.next())
        self.assertGreaterEqual(len(replies), 3)
        for reply in replies:
            self.assertLessEqual(len(reply.content), 2000)
            self.assertLessEqual(len(reply.content.split("\n")), 17)
        self.assertEqual("\n".join(r.content for r in replies), text)
        self.assertEqual([r.message_id for r in replies],
                         sorted((r.message_id for r in replies), key=int))


class DiscordResumeTests(DiscordBase):
    async def test_a_dropped_connection_resumes_and_missed_dispatches_are_answered_once(
            self) -> None:
        world = self.world()
        server, bot = world.server, world.bot
        stack = await self.boot(world)
        first = server.connections[0]
        session = await first.identified
        account = stack.account("discord")
        lost = account.when_failed()
        server.drop_connections(bot, code=4000)
        await lost
        stack.upstream.script(openai_text("answered after the resume"))
        server.post_message(world.alice, world.general, f"{bot.mention} did you miss this?")
        server.post_message(world.alice, world.general, "and this, unmentioned")
        missed_through = session.seq
        second = await server.connections.next()
        second = await server.connections.next() if second is first else second
        resumed = await second.resumed
        self.assertIs(resumed, session)
        self.assertEqual(second.path, "/resume")
        self.assertEqual(second.resume, {"token": bot.token, "session_id": session.session_id,
                                         "seq": missed_through - 2})
        self.assertIsNone(second.identify)
        reply = await bot.sent.next()
        self.assertEqual(reply.content, "answered after the resume")
        await stack.connected("discord")
        self.assertEqual(len(stack.upstream.requests), 1)
        notes = [row[0] for row in stack.channels.db.query(
            "SELECT note FROM ingress ORDER BY id")]
        self.assertEqual(notes, ["replied", "missing-mention"])
        self.assertEqual([m.content for m in bot.sent], ["answered after the resume"])

    async def test_server_restart_mid_test_resumes_with_the_replay(self) -> None:
        world = self.world()
        server, bot = world.server, world.bot
        stack = await self.boot(world, dmPolicy="allowlist", allowFrom=[world.alice.id])
        session = await server.connections[0].identified
        account = stack.account("discord")
        started: Deferred[Any] = Deferred()
        gate: Deferred[None] = Deferred()
        held: Reply = openai_text("kept across the restart")
        held.started, held.gate = started, gate
        stack.upstream.script(held, openai_text("the missed one"))
        server.dm(world.alice, bot, "first question")
        await started
        lost = account.when_failed()
        await server.stop()
        await lost
        server.dm(world.alice, bot, "asked while the server was down")
        gate.callback(None)
        await stack.gateway.agents.runtime.wait("discord-default-1", 20)
        server.start(None)
        replies = [await bot.sent.next(), await bot.sent.next()]
        self.assertEqual(sorted(r.content for r in replies),
                         ["kept across the restart", "the missed one"])
        resumed = [c for c in server.connections if c.resume is not None]
        self.assertTrue(resumed, "the session was resumed")
        self.assertEqual(resumed[-1].resume["session_id"], session.session_id)
        self.assertEqual(len(stack.upstream.requests), 2)
        self.assertEqual(len(bot.sent), 2)


class DiscordFatalCloseTests(DiscordBase):
    async def test_disallowed_intents_stop_with_a_clear_status_error(self) -> None:
        world = self.world(flags=0)        # the application has no Message Content intent
        stack = await self.boot(world, connect=False)
        account = stack.account("discord")
        reason = await account.when_failed()
        connection = world.server.connections[0]
        self.assertEqual(connection.close_code, 4014)
        self.assertEqual(reason, account.last_error)
        status = await stack.channels.status(probe=True, timeout_ms=5000)
        [row] = status["channelAccounts"]["discord"]
        self.assertEqual((row["running"], row["connected"], row["lifecycle"]),
                         (False, False, "error"))
        self.assertTrue(row["lastError"].startswith("Discord gateway closed 4014: Disallowed "
                                                    "intent(s)."), row["lastError"])
        self.assertEqual(row["application"]["intents"]["messageContent"], "disabled")
        self.assertEqual(status["statusIssues"][0]["kind"], "intent")
        self.assertEqual(len(world.server.connections), 1)          # no reconnect loop
        self.assertEqual(account.reconnect_attempts, 0)
        rc, out, err = await stack.cli("channels", "status")
        self.assertEqual(rc, 0, err)
        self.assertIn("intents:content=disabled", out)
        self.assertIn("error:Discord gateway closed 4014", out)
        self.assertIn("Message Content Intent is disabled", out)

    async def test_a_rejected_token_stops_without_connecting(self) -> None:
        world = self.world()
        stack = GatewayStack()
        self.addCleanup(stack.close)
        stack.env["DISCORD_API_URL"] = world.server.api_base
        config = discord_channel(world, token="bm90LWEtYm90.AAAA.not-the-token")
        stack.write_config(stack.base_config(config))
        await stack.start()
        account = stack.account("discord")
        await account.when_failed()
        self.assertEqual(account.lifecycle, "error")
        self.assertIn("Discord rejected the bot token", account.last_error)
        self.assertEqual(len(world.server.connections), 0)
        self.assertEqual(Intents.MESSAGE_CONTENT & UPSTREAM_INTENTS, Intents.MESSAGE_CONTENT)
