"""Telegram and Discord pieces without a network: config resolution, targets, allowlist
entries, Telegram HTML, Discord chunks and guild policy."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.channels.discord import account as discord
from openclaw.channels.discord.config import check_base
from openclaw.channels.discord.config import resolve_accounts as discord_accounts
from openclaw.channels.discord.format import chunk_discord
from openclaw.channels.model import InboundMessage
from openclaw.channels.policy import AccessPolicy, decide
from openclaw.channels.telegram import account as telegram
from openclaw.channels.telegram.api import api_base
from openclaw.channels.telegram.config import resolve_accounts as telegram_accounts
from openclaw.channels.telegram.format import to_telegram_html
from openclaw.config.loader import ConfigSnapshot, parse_config_text
from openclaw.testing.telegram_text import parse_html


def snapshot(channels: dict[str, Any], env: dict[str, str] | None = None) -> ConfigSnapshot:
    return parse_config_text(json.dumps({"channels": channels}), "/tmp/openclaw.json",
                             env=env or {}, home="/tmp")


class TelegramConfigTests(SynchronousTestCase):
    def test_token_precedence_and_sources(self) -> None:
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        token_file = os.path.join(directory, "token")
        with open(token_file, "w") as handle:
            handle.write("111:from-file\n")
        link = os.path.join(directory, "link")
        os.symlink(token_file, link)
        config = {"telegram": {"botToken": "222:top", "accounts": {
            "filed": {"tokenFile": token_file}, "linked": {"tokenFile": link},
            "own": {"botToken": "333:own"}, "default": {}}}}
        specs = {s.account_id: s for s in telegram_accounts(snapshot(config), None, {})}
        self.assertEqual(specs["filed"].secrets, {"token": "111:from-file"})
        self.assertEqual(specs["filed"].sources["tokenSource"], "tokenFile")
        self.assertEqual((specs["linked"].configured, specs["linked"].sources["tokenStatus"]),
                         (False, "configured_unavailable"))          # symlinks refused
        self.assertEqual(specs["own"].secrets["token"], "333:own")
        self.assertEqual(specs["default"].secrets["token"], "222:top")
        env_only = telegram_accounts(snapshot({"telegram": {}}), None,
                                     {"TELEGRAM_BOT_TOKEN": "444:env"})
        self.assertEqual((env_only[0].secrets["token"], env_only[0].sources["tokenSource"]),
                         ("444:env", "env"))
        ref = {"telegram": {"botToken": {"source": "env", "provider": "default",
                                         "id": "TG_TOKEN"}}}
        [by_ref] = telegram_accounts(snapshot(ref), None, {"TG_TOKEN": "555:ref"})
        self.assertEqual((by_ref.secrets["token"], by_ref.sources["tokenSource"]),
                         ("555:ref", "env"))

    def test_a_duplicate_token_is_refused_and_webhooks_are_noted(self) -> None:
        config = {"telegram": {"accounts": {"a": {"botToken": "1:x"},
                                            "b": {"botToken": "1:x",
                                                  "webhookUrl": "https://h/x"}}}}
        loaded = snapshot(config)
        self.assertIn("channels.telegram.accounts.b.webhookUrl", loaded.unsupported)
        a, b = telegram_accounts(loaded, None, {})
        self.assertTrue(a.configured)
        self.assertFalse(b.configured)
        self.assertEqual(b.settings.state_reason,
                         'Duplicate Telegram bot token: account "b" shares a token with '
                         'account "a". Keep one owner account per bot token.')
        self.assertEqual(b.settings.webhook_url, "https://h/x")

    def test_targets_allow_entries_and_api_root(self) -> None:
        for raw, wanted in (("123", "123"), ("telegram:-1001", "-1001"), ("@alice_bot",
                                                                          "@alice_bot"),
                            ("-1001:topic:42", "-1001:topic:42"), ("tg:user:7", "7"),
                            ("#chan", None), ("@ab", None)):
            self.assertEqual(telegram.normalize_target(raw), wanted, raw)
        self.assertEqual(telegram.split_target("-1001:topic:42"), ("-1001", 42))
        self.assertEqual(telegram.normalize_allow_entry("TG:123"), "123")
        self.assertEqual(api_base(None), "https://api.telegram.org")
        self.assertEqual(api_base("http://127.0.0.1:8081/"), "http://127.0.0.1:8081")
        self.assertEqual(api_base("https://api.telegram.org/bot123:abc"),
                         "https://api.telegram.org")


class TelegramHtmlTests(SynchronousTestCase):
    def test_markdown_becomes_html_telegram_accepts(self) -> None:
        text = ("# Title\n**bold** *it* ~~gone~~ `a<b` [link](https://x.y/?a=1&b=2)\n"
                "> quoted\n- item\n```py\nif a < b: pass\n```\n5 * 3 * 2 and snake_case")
        html = to_telegram_html(text)
        plain, entities = parse_html(html)      # the local server's TDLib-faithful parser
        self.assertEqual(plain, "Title\nbold it gone a<b link\nquoted\n• item\n"
                                "if a < b: pass\n5 * 3 * 2 and snake_case")
        kinds = {entity["type"] for entity in entities}
        self.assertTrue({"bold", "italic", "strikethrough", "code", "text_link", "blockquote",
                         "pre"} <= kinds, kinds)


class DiscordUnitTests(SynchronousTestCase):
    def test_targets_and_allow_entries(self) -> None:
        for raw, wanted in (("channel:123", "channel:123"), ("user:45", "user:45"),
                            ("<@45>", "user:45"), ("<@!45>", "user:45"),
                            ("<#99>", "channel:99"), ("discord:user:7", "user:7"),
                            ("12345", None), ("#general", None)):
            self.assertEqual(discord.normalize_target(raw), wanted, raw)
        self.assertEqual(discord.normalize_allow_entry("discord:<@!12>"), "12")
        self.assertEqual(discord.normalize_allow_entry("<@&34>"), "role:34")

    def test_chunks_keep_2000_characters_17_lines_and_fences(self) -> None:
        text = "intro\n```py\n" + "\n".join(f"x = {i}" for i in range(30)) + "\n```\nend"
        pieces = chunk_discord(text, 2000, "length", 17)
        self.assertEqual(len(pieces), 3)
        self.assertTrue(pieces[0].endswith("```") and pieces[1].startswith("```py"))
        self.assertEqual("".join(pieces).count("x = "), 30)
        for piece in pieces:
            self.assertLessEqual(len(piece.split("\n")), 17)
        long = chunk_discord("word " * 1000, 2000, "length", 17)
        self.assertTrue(all(len(piece) <= 2000 for piece in long))

    def test_guild_channel_maps_are_allowlists(self) -> None:
        config = snapshot({"discord": {"token": "t", "guilds": {
            "111": {"requireMention": True, "roles": ["9"],
                    "channels": {"general": {"requireMention": False}}},
            "222": {}}}}).config.channels.discord
        groups = discord.build_groups(config)
        policy = AccessPolicy(groups=groups, group_senders_required=False)

        def message(guild: str, channel: str, name: str, roles: tuple[str, ...] = (),
                    mentioned: bool = False) -> InboundMessage:
            keys = (f"{guild}/{channel}", f"{guild}/{name}", f"{guild}/*", f"*/{channel}")
            return InboundMessage(
                channel="discord", account_id="default", event_id="1", chat_type="channel",
                sender_id="5", sender_name="a", conversation_id=channel,
                reply_target=f"channel:{channel}", text="hi", ts=0,
                sender_keys=("5", *(f"role:{r}" for r in roles)), group_keys=keys,
                mentioned=mentioned)

        self.assertEqual(decide(message("111", "1", "general", ("9",)), policy, []).action,
                         "dispatch")                      # requireMention false here
        self.assertEqual(decide(message("111", "1", "general"), policy, []).reason,
                         "policy=allowlist")              # not in the guild's roles
        self.assertEqual(decide(message("111", "2", "random", ("9",), True), policy,
                                []).reason, "disabled")   # not in the channel map
        self.assertEqual(decide(message("222", "3", "x"), policy, []).action, "skip")
        self.assertEqual(decide(message("222", "3", "x", mentioned=True), policy,
                                []).action, "dispatch")
        self.assertEqual(decide(message("333", "4", "y", mentioned=True), policy,
                                []).reason, "not allowlisted")

    def test_accounts_api_base_and_intents(self) -> None:
        [spec] = discord_accounts(snapshot({"discord": {"token": "Bot abc.def",
                                                        "intents": {"messageContent": False}}}),
                                  None, {"DISCORD_API_URL": "http://127.0.0.1:9/api/v10"})
        self.assertEqual(spec.secrets["token"], "abc.def")
        self.assertEqual((spec.settings.api_base, spec.settings.api_override),
                         ("http://127.0.0.1:9/api/v10", True))
        self.assertIsNone(check_base("ws://127.0.0.1:9"))
        self.assertIn("must use TLS", check_base("http://discord.example/api/v10") or "")
        self.assertEqual(discord.privileged_intents(1 << 19),
                         {"messageContent": "limited", "guildMembers": "disabled",
                          "presence": "disabled"})
