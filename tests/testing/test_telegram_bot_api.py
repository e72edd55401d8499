"""The fake Telegram Bot API over real loopback sockets, driven by treq as a bot would be."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from twisted.web.client import ResponseFailed

from openclaw.testing.telegram_bot_api import (
    CONFLICT_OTHER_POLL,
    CONFLICT_WEBHOOK_ACTIVE,
    NOT_MODIFIED,
    FakeTelegramBot,
    TelegramBotApiServer,
)
from tests.testing.support import Http, spawn_module

START = 1_765_000_000.0  # a realistic "now" for the injected clock (2025-12-06)


class TelegramCase(TestCase):
    timeout = 15

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(START)
        self.server = TelegramBotApiServer(reactor, clock=self.clock)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.http = Http()
        self.bot = self.server.add_bot(username="openclaw_test_bot")
        self.alice = self.server.add_user("Alice", username="alice")
        self.bob = self.server.add_user("Bob", username="bob", last_name="Builder")

    def url(self, method: str, bot: FakeTelegramBot | None = None) -> str:
        return f"{self.server.api_root}/bot{(bot or self.bot).token}/{method}"

    async def call(self, method: str, bot: FakeTelegramBot | None = None, **params: Any
                   ) -> tuple[int, Any, Any]:
        return await self.http.request("POST", self.url(method, bot), json_body=params)

    async def ok(self, method: str, bot: FakeTelegramBot | None = None, **params: Any) -> Any:
        status, body, _ = await self.call(method, bot, **params)
        self.assertEqual((status, body["ok"]), (200, True), body)
        return body["result"]

    async def error(self, method: str, bot: FakeTelegramBot | None = None, **params: Any
                    ) -> tuple[int, str]:
        status, body, _ = await self.call(method, bot, **params)
        self.assertEqual(body["ok"], False)
        self.assertEqual(body["error_code"], status)
        return status, body["description"]


class ProtocolTests(TelegramCase):
    async def test_get_me_by_get_post_form_json_multipart_any_case(self) -> None:
        expected = {"id": self.bot.id, "is_bot": True, "first_name": "OpenClaw Test",
                    "username": "openclaw_test_bot", "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False,
                    "can_connect_to_business": False, "has_main_web_app": False}
        status, body, headers = await self.http.request("GET", self.url("getMe"))
        self.assertEqual((status, body), (200, {"ok": True, "result": expected}))
        self.assertEqual(headers.getRawHeaders("content-type"), ["application/json"])
        self.assertEqual((await self.http.request("POST", self.url("GETME")))[1]["result"],
                         expected)
        self.assertEqual(await self.ok("getme"), expected)
        status, body, _ = await self.http.request(
            "POST", self.url("getUpdates"), data={"timeout": "0", "limit": "5"})
        self.assertEqual((status, body), (200, {"ok": True, "result": []}))
        status, body, _ = await self.http.request(
            "POST", self.url("getMe"), files={"unused": ("a.txt", b"x")})
        self.assertEqual(body["result"]["id"], self.bot.id)
        self.assertEqual([c.method for c in self.bot.requests],
                         ["getMe", "GETME", "getme", "getUpdates", "getMe"])
        self.assertEqual(self.bot.requests[3].params, {"timeout": "0", "limit": "5"})

    async def test_errors_have_the_bot_api_shape(self) -> None:
        root = self.server.api_root
        status, body, _ = await self.http.request("GET", f"{root}/botnocolon/getMe")
        self.assertEqual((status, body), (401, {
            "ok": False, "error_code": 401,
            "description": "Unauthorized: invalid token specified"}))
        status, body, _ = await self.http.request("GET", f"{root}/bot42:unknown/getMe")
        self.assertEqual(body, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        self.assertEqual(await self.error("sendTelepathy"),
                         (404, "Not Found: method not found"))
        status, body, _ = await self.http.request("GET", f"{root}/api/whatever")
        self.assertEqual(body, {"ok": False, "error_code": 404, "description": "Not Found"})
        status, body, _ = await self.http.request(
            "POST", self.url("sendMessage"), data=b"{not json",
            headers={"Content-Type": "application/json"})
        self.assertEqual((status, body["description"]),
                         (400, "Bad Request: can't parse JSON object"))
        self.assertEqual(self.bot.requests[-1].status, 404)

    async def test_dm_updates_offset_and_limit(self) -> None:
        first = self.server.dm(self.alice, self.bot, "hi @openclaw_test_bot /start")
        self.server.dm(self.alice, self.bot, "second")
        self.server.dm(self.bob, self.bot, "from bob")
        updates = await self.ok("getUpdates", limit=2)
        self.assertEqual([u["update_id"] for u in updates], [1, 2])
        message = updates[0]["message"]
        self.assertEqual(message, first)
        self.assertEqual(message["date"], int(START))
        self.assertEqual(message["chat"], {"id": self.alice.id, "first_name": "Alice",
                                           "username": "alice", "type": "private"})
        self.assertEqual(message["from"], {"id": self.alice.id, "is_bot": False,
                                           "first_name": "Alice", "username": "alice",
                                           "language_code": "en"})
        self.assertEqual(message["entities"], [
            {"offset": 3, "length": 18, "type": "mention"},
            {"offset": 22, "length": 6, "type": "bot_command"}])
        # Message ids count per chat: Bob's first DM is message 1 too.
        self.assertEqual(updates[1]["message"]["message_id"], 2)
        # Unconfirmed updates come back; an offset confirms (forgets) the earlier ones.
        self.assertEqual(len(await self.ok("getUpdates")), 3)
        again = await self.ok("getUpdates", offset=3)
        self.assertEqual([(u["update_id"], u["message"]["message_id"]) for u in again],
                         [(3, 1)])
        self.assertEqual([u["update_id"] for u in await self.ok("getUpdates")], [3])
        self.assertEqual(await self.ok("getWebhookInfo"), {
            "url": "", "has_custom_certificate": False, "pending_update_count": 1})
        self.server.dm(self.bob, self.bot, "x")
        self.server.dm(self.bob, self.bot, "y")
        self.assertEqual([u["update_id"] for u in await self.ok("getUpdates", offset=-1)], [5])
        self.assertEqual(self.bot.pending_update_count, 1)

    async def test_wait_confirmed_fires_once_the_bot_polls_past_an_update(self) -> None:
        self.server.dm(self.alice, self.bot, "one")
        self.server.dm(self.alice, self.bot, "two")
        confirmed = self.bot.wait_confirmed()
        first = self.bot.wait_confirmed(1)
        updates = await self.ok("getUpdates", limit=1)
        self.assertFalse(first.called)  # fetched is not handled
        await self.ok("getUpdates", offset=updates[0]["update_id"] + 1)
        self.assertEqual(await first, 1)
        self.assertFalse(confirmed.called)
        await self.ok("getUpdates", offset=3)
        self.assertEqual(await confirmed, 2)
        self.assertEqual(await self.bot.wait_confirmed(), 2)

    async def test_long_poll_answers_when_an_update_arrives(self) -> None:
        poll = Deferred.fromCoroutine(self.ok("getUpdates", timeout=30, offset=0))
        parked = await self.bot.long_polls.next()
        self.assertEqual((parked.timeout, parked.limit), (30, 100))
        self.assertFalse(poll.called)
        self.server.dm(self.alice, self.bot, "wake up")
        updates = await poll
        self.assertEqual([u["message"]["text"] for u in updates], ["wake up"])
        self.assertEqual(self.bot.requests[-1].status, 200)

    async def test_long_poll_honours_timeout_on_the_clock(self) -> None:
        poll = Deferred.fromCoroutine(self.ok("getUpdates", timeout=30))
        await self.bot.long_polls.next()
        self.clock.advance(29.9)
        self.assertFalse(poll.called)
        self.clock.advance(0.1)
        self.assertEqual(await poll, [])
        # The timeout is capped at 50 s, like the real server.
        poll = Deferred.fromCoroutine(self.ok("getUpdates", timeout=3600))
        self.assertEqual((await self.bot.long_polls.next()).timeout, 50)
        self.clock.advance(50)
        self.assertEqual(await poll, [])

    async def test_second_poller_ends_the_first_with_409(self) -> None:
        first = Deferred.fromCoroutine(self.call("getUpdates", timeout=30))
        await self.bot.long_polls.next()
        second = Deferred.fromCoroutine(self.ok("getUpdates", timeout=30))
        status, body, _ = await first
        self.assertEqual((status, body), (409, {"ok": False, "error_code": 409,
                                                "description": CONFLICT_OTHER_POLL}))
        await self.bot.long_polls.next()
        self.assertFalse(second.called)
        self.server.dm(self.alice, self.bot, "for the survivor")
        self.assertEqual(len(await second), 1)
        self.assertEqual([c.status for c in self.bot.requests], [409, 200])

    async def test_a_poller_that_hangs_up_is_forgotten(self) -> None:
        poll = Deferred.fromCoroutine(self.call("getUpdates", timeout=30))
        await self.bot.long_polls.next()
        await self.server.restart()  # cuts the connection: the client sees it dropped
        with self.assertRaises(ResponseFailed):
            await poll
        self.assertIsNone(self.bot.parked)
        self.server.dm(self.alice, self.bot, "kept across the restart")
        updates = await self.ok("getUpdates")
        self.assertEqual(updates[0]["message"]["text"], "kept across the restart")

    async def test_allowed_updates_filter_when_updates_are_created(self) -> None:
        hello = self.server.dm(self.alice, self.bot, "hello")
        self.server.react(self.alice, hello, "👍")  # not asked for: never queued
        self.assertEqual([list(u)[1] for u in await self.ok("getUpdates")], ["message"])
        await self.ok("getUpdates", offset=2, allowed_updates=["message", "message_reaction"])
        self.server.react(self.alice, hello, "👍")
        updates = await self.ok("getUpdates")
        self.assertEqual(updates[0]["message_reaction"]["new_reaction"],
                         [{"type": "emoji", "emoji": "👍"}])
        # Remembered until changed; an empty list restores the default.
        await self.ok("getUpdates", offset=updates[0]["update_id"] + 1,
                      allowed_updates=["message_reaction"])
        self.server.dm(self.alice, self.bot, "ignored")
        self.assertEqual(await self.ok("getUpdates"), [])
        await self.ok("getUpdates", allowed_updates=[])
        self.server.dm(self.alice, self.bot, "seen again")
        self.assertEqual(len(await self.ok("getUpdates")), 1)

    async def test_webhook_info_set_and_delete(self) -> None:
        self.assertEqual(await self.ok("deleteWebhook", drop_pending_updates=False), True)
        status, body, _ = await self.call("setWebhook", url="http://example.org/hook")
        self.assertEqual((status, body["description"]), (
            400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"))
        self.assertEqual(await self.error("setWebhook", url="https://example.org/h",
                                          secret_token="bad token!"),
                         (400, "Bad Request: secret token contains unallowed characters"))
        status, body, _ = await self.call("setWebhook", url="https://example.org/h",
                                          secret_token="s3cret")
        self.assertEqual(body, {"ok": True, "result": True, "description": "Webhook was set"})
        info = await self.ok("getWebhookInfo")
        self.assertEqual((info["url"], info["pending_update_count"]),
                         ("https://example.org/h", 0))
        self.assertEqual(await self.error("getUpdates"), (409, CONFLICT_WEBHOOK_ACTIVE))
        status, body, _ = await self.call("deleteWebhook")
        self.assertEqual(body["description"], "Webhook was deleted")
        self.assertEqual(await self.ok("getUpdates"), [])


class SendingTests(TelegramCase):
    async def test_send_message_html_and_the_parse_error(self) -> None:
        self.server.dm(self.alice, self.bot, "hi")
        html = '<b>Pairing code</b>: <pre><code>ABCD-1234</code></pre> 🏟 <a href="x.org">x</a>'
        result = await self.ok("sendMessage", chat_id=self.alice.id, text=html,
                               parse_mode="HTML")
        self.assertEqual(result["text"], "Pairing code: ABCD-1234 🏟 x")
        self.assertEqual(result["entities"], [
            {"offset": 0, "length": 12, "type": "bold"},
            {"offset": 14, "length": 9, "type": "pre"},
            {"offset": 14, "length": 9, "type": "code"},
            {"offset": 27, "length": 1, "type": "text_link", "url": "http://x.org/"}])
        self.assertEqual((result["message_id"], result["date"], result["from"]["id"]),
                         (2, int(START), self.bot.id))
        sent = await self.bot.sent.next()
        self.assertEqual((sent.chat_id, sent.text, sent.raw_text, sent.parse_mode),
                         (self.alice.id, "Pairing code: ABCD-1234 🏟 x", html, "HTML"))
        cases = {
            "1 < 2": 'Unsupported start tag "" at byte offset 2',
            "<b>open": 'Can\'t find end tag corresponding to start tag "b"',
            "<i>x</b>": 'Unmatched end tag at byte offset 4, expected "</i>", found "</b>"',
            "<foo>x</foo>": 'Unsupported start tag "foo" at byte offset 0',
            "x</i>": "Unexpected end tag at byte offset 1",
        }
        for text, why in cases.items():
            self.assertEqual(
                await self.error("sendMessage", chat_id=self.alice.id, text=text,
                                 parse_mode="HTML"),
                (400, f"Bad Request: can't parse entities: {why}"), text)
        # The plain-text retry a channel does after the parse error goes through.
        plain = await self.ok("sendMessage", chat_id=self.alice.id, text="1 < 2")
        self.assertEqual((plain["text"], "entities" in plain), ("1 < 2", False))
        self.assertEqual(len(self.bot.sent), 2)

    async def test_send_message_bad_input(self) -> None:
        self.server.dm(self.alice, self.bot, "hi")
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id, text=""),
                         (400, "Bad Request: message text is empty"))
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id,
                                          text="<b> </b>", parse_mode="HTML"),
                         (400, "Bad Request: message text is empty"))
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id,
                                          text="x" * 4097),
                         (400, "Bad Request: message is too long"))
        self.assertEqual(len((await self.ok("sendMessage", chat_id=self.alice.id,
                                            text="🏟" * 2048))["text"]), 2048)
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id,
                                          text="🏟" * 2049),
                         (400, "Bad Request: message is too long"))
        self.assertEqual(await self.error("sendMessage", text="hi"),
                         (400, "Bad Request: chat_id is empty"))
        self.assertEqual(await self.error("sendMessage", chat_id=424242, text="hi"),
                         (400, "Bad Request: chat not found"))
        self.assertEqual(await self.error("sendMessage", chat_id=self.bob.id, text="hi"),
                         (403, "Forbidden: bot can't initiate conversation with a user"))
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id, text="x",
                                          parse_mode="BBCode"),
                         (400, "Bad Request: unsupported parse_mode"))
        self.server.block(self.alice, self.bot)
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id, text="hi"),
                         (403, "Forbidden: bot was blocked by the user"))
        self.assertEqual(len(self.bot.sent), 1)

    async def test_replies_by_reply_parameters_and_reply_to_message_id(self) -> None:
        question = self.server.dm(self.alice, self.bot, "question")
        answer = await self.ok("sendMessage", chat_id=self.alice.id, text="answer",
                               reply_parameters={"message_id": question["message_id"]})
        self.assertEqual(answer["reply_to_message"], question)
        legacy = await self.ok("sendMessage", chat_id=str(self.alice.id), text="again",
                               reply_to_message_id=question["message_id"])
        self.assertEqual(legacy["reply_to_message"]["text"], "question")
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id, text="x",
                                          reply_parameters={"message_id": 999}),
                         (400, "Bad Request: message to be replied not found"))
        lenient = await self.ok("sendMessage", chat_id=self.alice.id, text="x",
                                reply_parameters={"message_id": 999,
                                                  "allow_sending_without_reply": True})
        self.assertNotIn("reply_to_message", lenient)
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id, text="x",
                                          reply_parameters="{oops"),
                         (400, "Bad Request: can't parse reply parameters JSON object"))
        # The user replies to the bot's answer: reply_to_message is the bot's message.
        follow_up = self.server.dm(self.alice, self.bot, "thanks", reply_to=answer)
        self.assertEqual(follow_up["reply_to_message"]["from"]["id"], self.bot.id)
        self.assertNotIn("reply_to_message", follow_up["reply_to_message"])
        sent = [(s.message_id, s.reply_to_message_id) for s in self.bot.sent]
        self.assertEqual(sent, [(2, 1), (3, 1), (4, None)])

    async def test_edit_message_text(self) -> None:
        hello = self.server.dm(self.alice, self.bot, "hello")
        preview = await self.ok("sendMessage", chat_id=self.alice.id, text="Thinking")
        edited = await self.ok("editMessageText", chat_id=self.alice.id,
                               message_id=preview["message_id"], text="<i>Done</i>",
                               parse_mode="HTML")
        self.assertEqual((edited["text"], edited["edit_date"], edited["entities"]),
                         ("Done", int(START), [{"offset": 0, "length": 4, "type": "italic"}]))
        edit = await self.bot.edits.next()
        self.assertEqual((edit.message_id, edit.previous_text, edit.text),
                         (preview["message_id"], "Thinking", "Done"))
        self.assertEqual(await self.error("editMessageText", chat_id=self.alice.id,
                                          message_id=preview["message_id"], text="<i>Done</i>",
                                          parse_mode="HTML"), (400, NOT_MODIFIED))
        self.assertEqual(await self.error("editMessageText", chat_id=self.alice.id,
                                          message_id=77, text="x"),
                         (400, "Bad Request: message to edit not found"))
        self.assertEqual(await self.error("editMessageText", chat_id=self.alice.id,
                                          message_id=hello["message_id"], text="x"),
                         (400, "Bad Request: message can't be edited"))
        self.assertEqual(await self.error("editMessageText", text="x"),
                         (400, "Bad Request: message identifier is not specified"))
        self.assertEqual(await self.ok("deleteMessage", chat_id=self.alice.id,
                                       message_id=preview["message_id"]), True)
        self.assertEqual((await self.bot.deletions.next()).message_id, preview["message_id"])

    async def test_chat_action_reaction_commands_and_chat(self) -> None:
        hello = self.server.dm(self.alice, self.bot, "hello")
        self.assertEqual(await self.ok("sendChatAction", chat_id=self.alice.id,
                                       action="typing"), True)
        action = await self.bot.chat_actions.next()
        self.assertEqual((action.chat_id, action.action, action.at),
                         (self.alice.id, "typing", START))
        self.assertEqual(await self.error("sendChatAction", chat_id=self.alice.id,
                                          action="dancing"),
                         (400, "Bad Request: wrong parameter action in request"))
        self.assertEqual(await self.ok("setMessageReaction", chat_id=self.alice.id,
                                       message_id=hello["message_id"],
                                       reaction=[{"type": "emoji", "emoji": "👀"}]), True)
        self.assertEqual((await self.bot.reactions.next()).reaction,
                         [{"type": "emoji", "emoji": "👀"}])
        self.assertEqual(await self.error("setMessageReaction", chat_id=self.alice.id,
                                          message_id=hello["message_id"],
                                          reaction=[{"type": "emoji", "emoji": "🦖"}]),
                         (400, "Bad Request: REACTION_INVALID"))
        commands = [{"command": "status", "description": "Show status"}]
        self.assertEqual(await self.ok("setMyCommands", commands=commands), True)
        self.assertEqual(await self.ok("getMyCommands"), commands)
        self.assertEqual(await self.ok("getMyCommands",
                                       scope={"type": "all_group_chats"}), [])
        self.assertEqual(await self.ok("deleteMyCommands"), True)
        self.assertEqual(await self.ok("getMyCommands"), [])
        self.assertEqual(await self.error("setMyCommands",
                                          commands=[{"command": "Bad!", "description": "x"}]),
                         (400, "Bad Request: BOT_COMMAND_INVALID"))
        chat = await self.ok("getChat", chat_id=self.alice.id)
        self.assertEqual((chat["type"], chat["first_name"]), ("private", "Alice"))

    async def test_rate_limit_429_with_retry_after(self) -> None:
        self.server.dm(self.alice, self.bot, "hi")
        self.bot.rate_limit("sendMessage", retry_after=3)
        status, body, headers = await self.call("sendMessage", chat_id=self.alice.id,
                                                text="hi")
        self.assertEqual((status, body), (429, {
            "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3}}))
        self.assertEqual(headers.getRawHeaders("retry-after"), ["3"])
        # A client that does not wait is refused again, with the time left.
        self.clock.advance(1.5)
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id, text="hi"),
                         (429, "Too Many Requests: retry after 2"))
        self.clock.advance(1.5)
        await self.ok("sendMessage", chat_id=self.alice.id, text="hi")
        # Other methods are not limited; every attempt is in the request log with its status.
        await self.ok("sendChatAction", chat_id=self.alice.id, action="typing")
        self.assertEqual([(c.method, c.status, c.at - START) for c in self.bot.requests],
                         [("sendMessage", 429, 0.0), ("sendMessage", 429, 1.5),
                          ("sendMessage", 200, 3.0), ("sendChatAction", 200, 3.0)])
        self.bot.fail("getMe", 502, "Bad Gateway")
        self.assertEqual(await self.error("getMe"), (502, "Bad Gateway"))
        await self.ok("getMe")


class GroupTests(TelegramCase):
    def setUp(self) -> None:
        super().setUp()
        self.group = self.server.add_group("Team", members=[self.alice, self.bob, self.bot])

    async def updates(self, bot: FakeTelegramBot | None = None) -> list[dict[str, Any]]:
        bot = bot or self.bot
        updates = await self.ok("getUpdates", bot)
        if updates:
            await self.ok("getUpdates", bot, offset=updates[-1]["update_id"] + 1)
        return [u["message"] for u in updates]

    async def test_privacy_mode_delivers_mentions_commands_and_replies_only(self) -> None:
        self.server.group_message(self.alice, self.group, "just chatting")
        mention = self.server.group_message(self.bob, self.group,
                                            "@openclaw_test_bot what's up?")
        self.server.group_message(self.alice, self.group, "/status@openclaw_test_bot")
        self.assertEqual([m["text"] for m in await self.updates()],
                         ["@openclaw_test_bot what's up?", "/status@openclaw_test_bot"])
        self.assertTrue(str(self.group.id).startswith("-100"))
        self.assertEqual(mention["chat"], {"id": self.group.id, "title": "Team",
                                           "type": "supergroup"})
        self.assertEqual(mention["entities"], [{"offset": 0, "length": 18, "type": "mention"}])
        self.assertEqual(mention["message_id"], 2)
        answer = await self.ok("sendMessage", chat_id=self.group.id, text="all good",
                               reply_parameters={"message_id": mention["message_id"]})
        self.assertEqual((answer["message_id"], answer["message_thread_id"]), (4, 2))
        reply = self.server.group_message(self.alice, self.group, "thanks", reply_to=answer)
        self.assertEqual([m["text"] for m in await self.updates()], ["thanks"])
        # Supergroup replies belong to the thread of what they answer.
        self.assertEqual(reply["message_thread_id"], 2)
        self.assertEqual(reply["reply_to_message"]["text"], "all good")

    async def test_privacy_off_or_admin_sees_everything(self) -> None:
        reader = self.server.add_bot(username="reader_bot", can_read_all_group_messages=True)
        admin = self.server.add_bot(username="admin_bot")
        outsider = self.server.add_bot(username="outsider_bot")
        self.server.join(self.group, reader)
        self.server.join(self.group, admin, status="administrator")
        self.server.group_message(self.alice, self.group, "unmentioned")
        self.assertEqual([m["text"] for m in await self.updates(reader)], ["unmentioned"])
        self.assertEqual([m["text"] for m in await self.updates(admin)], ["unmentioned"])
        self.assertEqual(await self.updates(), [])
        self.assertEqual(await self.updates(outsider), [])
        self.assertEqual(await self.error("sendMessage", outsider, chat_id=self.group.id,
                                          text="hi"), (400, "Bad Request: chat not found"))
        self.server.join(self.group, outsider, status="kicked")
        self.assertEqual(await self.error("sendMessage", outsider, chat_id=self.group.id,
                                          text="hi"),
                         (403, "Forbidden: bot is not a member of the supergroup chat"))

    async def test_forum_topics(self) -> None:
        forum = self.server.add_group("Forum", forum=True, members=[self.alice, self.bot])
        topic = self.server.add_topic(forum, "Ideas")
        asked = self.server.group_message(self.alice, forum, "@openclaw_test_bot idea?",
                                          thread_id=topic)
        self.assertEqual((asked["message_thread_id"], asked["is_topic_message"]),
                         (topic, True))
        self.assertEqual(asked["chat"]["is_forum"], True)
        answer = await self.ok("sendMessage", chat_id=forum.id, text="yes",
                               message_thread_id=topic)
        self.assertEqual(answer["message_thread_id"], topic)
        self.assertEqual(await self.error("sendMessage", chat_id=forum.id, text="x",
                                          message_thread_id=999),
                         (400, "Bad Request: message thread not found"))
        await self.ok("sendChatAction", chat_id=forum.id, action="typing",
                      message_thread_id=topic)
        self.assertEqual((await self.bot.chat_actions.next()).message_thread_id, topic)

    async def test_basic_group_and_get_chat_member(self) -> None:
        basic = self.server.add_group("Old", supergroup=False, members=[self.alice],
                                      admins=[self.bot])
        said = self.server.group_message(self.alice, basic, "admins see this")
        self.assertEqual(said["chat"]["type"], "group")
        self.assertNotIn("message_thread_id", said)
        self.assertEqual([m["text"] for m in await self.updates()], ["admins see this"])
        member = await self.ok("getChatMember", chat_id=self.group.id, user_id=self.alice.id)
        self.assertEqual(member, {"user": self.alice.as_json(), "status": "member"})
        me = await self.ok("getChatMember", chat_id=basic.id, user_id=self.bot.id)
        self.assertEqual((me["status"], me["can_delete_messages"]), ("administrator", True))
        stranger = self.server.add_user("Carol")
        self.assertEqual((await self.ok("getChatMember", chat_id=self.group.id,
                                        user_id=stranger.id))["status"], "left")
        self.assertEqual(await self.error("getChatMember", chat_id=self.group.id,
                                          user_id="abc"),
                         (400, "Bad Request: invalid user_id specified"))
        self.assertEqual(await self.error("getChatMember", chat_id=-100999, user_id=1),
                         (400, "Bad Request: chat not found"))
        self.assertEqual((await self.ok("getChat", chat_id=self.group.id))["title"], "Team")

    async def test_user_edits(self) -> None:
        said = self.server.group_message(self.alice, self.group, "@openclaw_test_bot v1")
        self.server.edit_user_message(said, "@openclaw_test_bot v2")
        updates = await self.ok("getUpdates")
        self.assertEqual([sorted(u)[0] for u in updates], ["message", "edited_message"])
        self.assertEqual((updates[1]["edited_message"]["text"],
                          updates[1]["edited_message"]["edit_date"]),
                         ("@openclaw_test_bot v2", int(START)))


class ControlAndProcessTests(TelegramCase):
    async def test_control_endpoints(self) -> None:
        root = self.server.api_root
        status, body, _ = await self.http.request("POST", f"{root}/_fake/dm",
                                                  json_body={"user": "alice", "text": "yo"})
        self.assertEqual((status, body["text"]), (200, "yo"))
        updates = await self.ok("getUpdates")
        self.assertEqual(updates[0]["message"]["from"]["username"], "alice")
        status, body, _ = await self.http.request(
            "POST", f"{root}/_fake/groups",
            json_body={"title": "G", "members": ["alice", "openclaw_test_bot"]})
        group_id = body["id"]
        status, body, _ = await self.http.request(
            "POST", f"{root}/_fake/group_message",
            json_body={"user": "alice", "chat_id": group_id, "text": "@openclaw_test_bot hi"})
        self.assertEqual(body["chat"]["id"], group_id)
        waiting = Deferred.fromCoroutine(self.http.request(
            "GET", f"{root}/_fake/sent?after=0&wait=30"))
        await self.ok("sendMessage", chat_id=self.alice.id, text="reply")
        status, body, _ = await waiting
        self.assertEqual(([m["text"] for m in body["messages"]], body["next"]), (["reply"], 1))
        status, body, _ = await self.http.request("POST", f"{root}/_fake/rate_limit",
                                                  json_body={"retry_after": 2})
        self.assertEqual(await self.error("sendMessage", chat_id=self.alice.id, text="x"),
                         (429, "Too Many Requests: retry after 2"))
        status, body, _ = await self.http.request("GET", f"{root}/_fake/state")
        self.assertEqual(body["bots"][0]["username"], "openclaw_test_bot")
        status, body, _ = await self.http.request("POST", f"{root}/_fake/dm",
                                                  json_body={"user": "nobody", "text": "x"})
        self.assertEqual((status, body), (404, {"error": "no user 'nobody'"}))
        status, body, _ = await self.http.request("POST", f"{root}/_fake/nope", json_body={})
        self.assertEqual(status, 404)

    async def test_runs_on_its_own(self) -> None:
        process, output = spawn_module("openclaw.testing.telegram_bot_api", "--port", "0",
                                       "--token", "555:RUN-ALONE")
        self.addCleanup(lambda: output.ended)
        self.addCleanup(process.signalProcess, "TERM")
        banner = await output.line(0)
        self.assertIn("Fake Telegram Bot API listening on http://127.0.0.1:", banner)
        usage = await output.line(1)
        self.assertTrue(usage.startswith("Usage: set channels.telegram.apiRoot="), usage)
        root = banner.split("listening on ")[1].split()[0]
        status, body, _ = await self.http.request("GET", f"{root}/bot555:RUN-ALONE/getMe")
        self.assertEqual((status, body["result"]["username"]), (200, "openclaw_test_bot"))
        status, body, _ = await self.http.request(
            "POST", f"{root}/_fake/dm", json_body={"user": "alice", "text": "offline hi"})
        status, body, _ = await self.http.request(
            "POST", f"{root}/bot555:RUN-ALONE/getUpdates", data={"timeout": "5"})
        self.assertEqual(body["result"][0]["message"]["text"], "offline hi")
        self.assertEqual(json.loads(json.dumps(body))["ok"], True)
