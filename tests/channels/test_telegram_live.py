"""Telegram against the local Bot API server (``openclaw.testing.telegram_bot_api``) over
real sockets: pairing, DMs, groups and mention gating, HTML and its plain-text fallback,
chunking, typing and the live preview, offset persistence across restarts, a server
restart, and a second poller.

The gateway runs in this process (``GatewayService`` on the reactor) with a scripted model
upstream; the people are the fake server's users.
"""

from __future__ import annotations

import re
from typing import Any

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from openclaw.testing.telegram_bot_api import (
    FakeTelegramBot,
    TelegramBotApiServer,
)
from tests.channels.stack import GatewayStack
from tests.upstream import Reply, openai_text

CODE = re.compile(r"Pairing code:\n([A-Z2-9]{8})\n")
TEAM_ID = -1001234567890


def telegram_channel(server: TelegramBotApiServer, bot: FakeTelegramBot,
                     **overrides: Any) -> dict[str, Any]:
    telegram: dict[str, Any] = {"enabled": True, "botToken": bot.token,
                                "apiRoot": server.api_root, "dmPolicy": "pairing",
                                "groupPolicy": "allowlist", "groupAllowFrom": ["*"],
                                "groups": {str(TEAM_ID): {"requireMention": True}}}
    telegram.update(overrides)
    return {"telegram": telegram}


class TelegramWorld:
    """The fake Bot API with a bot, Alice and Bob (both started the bot) and a team."""

    def __init__(self, *, privacy: bool = True, clock: Any = None) -> None:
        self.server = TelegramBotApiServer(reactor, clock=clock)
        self.server.start()
        self.bot = self.server.add_bot(username="openclaw_test_bot",
                                       can_read_all_group_messages=not privacy)
        self.alice = self.server.add_user("Alice", username="alice")
        self.bob = self.server.add_user("Bob", username="bob")
        self.server.open_dm(self.alice, self.bot)
        self.server.open_dm(self.bob, self.bot)
        self.team = self.server.add_group("Team", members=[self.alice, self.bob, self.bot],
                                          group_id=TEAM_ID)


class TelegramBase(TestCase):
    timeout = 60

    def world(self, **kwargs: Any) -> TelegramWorld:
        world = TelegramWorld(**kwargs)
        self.addCleanup(world.server.stop)
        return world

    async def boot(self, world: TelegramWorld, **telegram: Any) -> GatewayStack:
        stack = GatewayStack()
        self.addCleanup(stack.close)
        stack.write_config(stack.base_config(telegram_channel(world.server, world.bot,
                                                              **telegram)))
        await stack.start()
        await stack.connected("telegram")
        return stack

    async def approve(self, stack: GatewayStack, world: TelegramWorld, user: Any) -> None:
        """Pair ``user`` the way an operator does (a DM, then the CLI)."""
        world.server.dm(user, world.bot, "hi")
        pairing = await world.bot.sent.wait_for(lambda m: m.chat_id == user.id
                                                and "Pairing code" in m.text)
        match = CODE.search(pairing.text)
        assert match is not None, pairing.text
        rc, _, err = await stack.cli("pairing", "approve", "telegram", match.group(1))
        self.assertEqual(rc, 0, err)


class TelegramLiveTests(TelegramBase):
    async def test_pairing_approval_then_dm_answered_with_typing(self) -> None:
        world = self.world()
        server, bot, alice = world.server, world.bot, world.alice
        stack = await self.boot(world)
        startup = [call.method for call in bot.requests]
        self.assertEqual(startup[:3], ["getMe", "deleteWebhook", "getUpdates"])
        first_poll = bot.requests[2].params
        self.assertEqual((first_poll["timeout"], first_poll["limit"]), ("0", "100"))

        server.dm(alice, bot, "hello?")
        pairing = await bot.sent.next()
        self.assertEqual(pairing.parse_mode, "HTML")
        self.assertIn("<pre><code>", pairing.raw_text)
        self.assertTrue(pairing.text.startswith("OpenClaw: access not configured."))
        self.assertIn(f"Your Telegram user id: {alice.id}", pairing.text)
        match = CODE.search(pairing.text)
        assert match is not None, pairing.text
        code = match.group(1)
        self.assertIn(f"openclaw pairing approve telegram {code}", pairing.text)
        self.assertEqual(stack.upstream.requests, [])
        self.assertEqual(list(bot.chat_actions), [])       # no typing before a pairing reply

        rc, out, err = await stack.cli("pairing", "list", "telegram", "--json")
        self.assertEqual(rc, 0, err)
        self.assertIn('"username": "alice"', out)
        rc, out, err = await stack.cli("pairing", "approve", "telegram", code)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"Approved telegram sender {alice.id}.", out)
        self.assertEqual(stack.read_config()["commands"]["ownerAllowFrom"],
                         [f"telegram:{alice.id}"])

        stack.upstream.script(openai_text(["Hi ", "**Alice**!"]))
        server.dm(alice, bot, "what's up?")
        reply = await bot.sent.next()
        self.assertEqual((reply.chat_id, reply.text, reply.parse_mode),
                         (alice.id, "Hi Alice!", "HTML"))
        self.assertEqual(reply.raw_text, "Hi <b>Alice</b>!")
        self.assertEqual(reply.entities[0]["type"], "bold")
        typing = bot.chat_actions[0]
        self.assertEqual((typing.chat_id, typing.action), (alice.id, "typing"))
        self.assertLessEqual(typing.at, reply.at)
        sent = stack.upstream.requests[-1].json["messages"]
        self.assertEqual(sent[-1]["content"], "what's up?")

    async def test_group_mention_answered_and_unmentioned_message_ignored(self) -> None:
        world = self.world(privacy=False)     # unmentioned messages reach the bot
        server, bot, alice, bob, team = (world.server, world.bot, world.alice, world.bob,
                                         world.team)
        stack = await self.boot(world)
        server.group_message(alice, team, "anyone around?")
        await bot.wait_confirmed()             # received, handled, and not answered
        self.assertEqual((list(bot.sent), stack.upstream.requests), ([], []))

        stack.upstream.script(openai_text("pong"), openai_text("second answer"))
        server.group_message(bob, team, "@openclaw_test_bot ping")
        reply = await bot.sent.next()
        self.assertEqual((reply.chat_id, reply.text), (TEAM_ID, "pong"))
        prompt = stack.upstream.requests[0].json["messages"][-1]["content"]
        self.assertIn("Alice: anyone around?", prompt)        # pending history, as context
        self.assertTrue(prompt.endswith("Bob: @openclaw_test_bot ping"), prompt)

        server.group_message(alice, team, "and you?", reply_to=reply)   # a reply counts
        again = await bot.sent.next()
        self.assertEqual(again.text, "second answer")
        notes = [row[0] for row in stack.channels.db.query(
            "SELECT note FROM ingress ORDER BY id")]
        self.assertEqual(notes, ["missing-mention", "replied", "replied"])

    async def test_html_refused_by_telegram_is_sent_again_as_plain_text(self) -> None:
        world = self.world()
        stack = await self.boot(world, dmPolicy="allowlist", allowFrom=[str(world.alice.id)])
        world.bot.fail("sendMessage", 400, "Bad Request: can't parse entities: Can't find end "
                                           "of the entity starting at byte offset 5")
        stack.upstream.script(openai_text("Use `x < y` **now**"))
        world.server.dm(world.alice, world.bot, "how?")
        reply = await world.bot.sent.next()
        self.assertEqual((reply.text, reply.parse_mode), ("Use `x < y` **now**", None))
        calls = [(c.method, c.status, c.params.get("parse_mode"))
                 for c in world.bot.requests if c.method == "sendMessage"]
        self.assertEqual(calls, [("sendMessage", 400, "HTML"), ("sendMessage", 200, None)])
        self.assertEqual(len(world.bot.sent), 1)

    async def test_a_long_reply_arrives_as_several_messages_in_order(self) -> None:
        world = self.world()
        stack = await self.boot(world, dmPolicy="allowlist", allowFrom=[str(world.alice.id)])
        paragraphs = [f"Paragraph {index}: " + " ".join(["word"] * 300) for index in range(6)]
        text = "\n\n".join(paragraphs)
        self.assertGreater(len(text), 9000)
        stack.upstream.script(openai_text(text))
        world.server.dm(world.alice, world.bot, "tell me everything")
        replies = [await world.bot.sent.next() for _ in range(3)]
        for reply in replies:
            self.assertLessEqual(len(reply.text), 4096)
        self.assertEqual("\n\n".join(r.text for r in replies), text)
        self.assertTrue(replies[0].text.startswith("Paragraph 0:"))
        self.assertEqual([r.message_id for r in replies],
                         sorted(r.message_id for r in replies))

    async def test_live_preview_is_edited_into_the_final_reply(self) -> None:
        world = self.world()
        stack = await self.boot(world, dmPolicy="allowlist", allowFrom=[str(world.alice.id)],
                                streaming={"mode": "partial"})
        resume: Deferred[None] = Deferred()
        reply = openai_text(["The first part of a streamed answer, ", "and the rest."])
        reply.pause_after, reply.resume = 2, resume
        stack.upstream.script(reply)
        world.server.dm(world.alice, world.bot, "stream please")
        preview = await world.bot.sent.next()
        self.assertEqual(preview.text, "The first part of a streamed answer,")
        resume.callback(None)
        final = await world.bot.edits.wait_for(
            lambda e: e.text == "The first part of a streamed answer, and the rest.")
        self.assertEqual(final.message_id, preview.message_id)
        run = await stack.gateway.agents.runtime.wait("telegram-default-1", 20)
        self.assertEqual(run.status, "ok")
        sent = await stack.channels.outbox.wait(1)
        self.assertEqual((sent.state, sent.message_id), ("sent", str(preview.message_id)))
        self.assertEqual(len(world.bot.sent), 1)           # edited in place, not sent again


class TelegramRestartTests(TelegramBase):
    async def test_offset_survives_a_gateway_restart_and_nothing_is_answered_twice(
            self) -> None:
        world = self.world()
        stack = await self.boot(world, dmPolicy="allowlist", allowFrom=[str(world.alice.id)])
        stack.upstream.script(openai_text("one"))
        world.server.dm(world.alice, world.bot, "first")
        await world.bot.sent.next()
        update = world.bot.last_update_id
        await world.bot.wait_confirmed(update)
        self.assertEqual((await stack.channels.outbox.wait(1)).state, "sent")
        await stack.stop()
        seen = len(world.bot.requests)
        stack.upstream.script(openai_text("two"))
        await stack.start()
        await stack.connected("telegram")
        polls = [c for c in world.bot.requests.items[seen:] if c.method == "getUpdates"]
        self.assertEqual(polls[0].params["offset"], str(update + 1))
        world.server.dm(world.alice, world.bot, "second")
        second = await world.bot.sent.next()
        self.assertEqual(second.text, "two")
        self.assertEqual([m.text for m in world.bot.sent], ["one", "two"])
        self.assertEqual(len(stack.upstream.requests), 2)

    async def test_server_restart_mid_test_polling_resumes(self) -> None:
        world = self.world()
        stack = await self.boot(world, dmPolicy="allowlist", allowFrom=[str(world.alice.id)])
        first = stack.account("telegram").connection_id
        started: Deferred[Any] = Deferred()
        gate: Deferred[None] = Deferred()
        held: Reply = openai_text("answered across the outage")
        held.started, held.gate = started, gate
        stack.upstream.script(held, openai_text("after the restart"))
        world.server.dm(world.alice, world.bot, "question")
        await started
        await world.server.stop()
        gate.callback(None)
        await stack.gateway.agents.runtime.wait("telegram-default-1", 20)
        world.server.start(None)
        got = await world.bot.sent.next()
        self.assertEqual(got.text, "answered across the outage")
        world.server.dm(world.alice, world.bot, "still there?")
        again = await world.bot.sent.next()
        self.assertEqual(again.text, "after the restart")
        self.assertNotEqual(stack.account("telegram").connection_id, first)
        self.assertEqual([m.text for m in world.bot.sent],
                         ["answered across the outage", "after the restart"])


class TelegramPollerTests(TelegramBase):
    async def test_a_second_poller_is_refused_with_a_clear_status_error(self) -> None:
        world = self.world()
        stack = GatewayStack()
        self.addCleanup(stack.close)
        telegram = telegram_channel(world.server, world.bot)["telegram"]
        telegram["accounts"] = {"main": {}, "copy": {"botToken": world.bot.token}}
        del telegram["botToken"]
        telegram["accounts"]["main"]["botToken"] = world.bot.token
        stack.write_config(stack.base_config({"telegram": telegram}))
        await stack.start()
        await stack.connected("telegram", "main")
        status = await stack.channels.status()
        rows = {row["accountId"]: row for row in status["channelAccounts"]["telegram"]}
        duplicate = ('Duplicate Telegram bot token: account "copy" shares a token with '
                     'account "main". Keep one owner account per bot token.')
        self.assertEqual((rows["copy"]["configured"], rows["copy"]["running"],
                          rows["copy"]["lastError"]), (False, False, duplicate))
        self.assertEqual((rows["main"]["running"], rows["main"]["connected"]), (True, True))
        rc, out, err = await stack.cli("channels", "status")
        self.assertEqual(rc, 0, err)
        self.assertIn(f"- Telegram copy: enabled, not configured, error:{duplicate}", out)

        # another program polls the same token: Telegram ends our poll with 409
        main = stack.account("telegram", "main")
        await world.bot.long_polls.wait_for(lambda poll: poll.timeout == 30)
        failed = main.when_failed()
        other = treq.post(f"{world.server.api_root}/bot{world.bot.token}/getUpdates",
                          json={"timeout": 5}, persistent=False)
        reason = await failed
        self.assertFalse(main.connected)
        self.assertEqual(reason, main.last_error)
        self.assertEqual([c.status for c in world.bot.requests if c.method == "getUpdates"
                          and c.params.get("timeout") == "30"][-1], 409)
        self.assertTrue(main.last_error.startswith(
            "Telegram getUpdates conflict: Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running."), main.last_error)
        self.assertIn("Another OpenClaw gateway, script, or Telegram poller may be using",
                      main.last_error)
        rc, out, err = await stack.cli("channels", "status")
        self.assertEqual(rc, 0, err)
        self.assertIn("- Telegram main: enabled, configured, error:Telegram getUpdates "
                      "conflict: Conflict: terminated by other getUpdates request", out)
        world.server.dm(world.bob, world.bot, "wakes the other poller")
        await treq.content(await other)
