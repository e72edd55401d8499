"""``openclaw channels`` and ``openclaw pairing`` without a gateway: config edits through
the validated writer, the local pairing store, the config-only status fallback."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

from twisted.trial.unittest import SynchronousTestCase

from openclaw.channels import pairing
from openclaw.channels.store import ChannelDatabase, database_path
from tests.cli.helpers import run_cli
from tests.support import free_port, isolated_env, write_config


class ChannelsCliTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.base = tempfile.mkdtemp(prefix="oc-channels-cli-")
        self.addCleanup(shutil.rmtree, self.base, True)
        self.env = isolated_env(self.base)
        self.port = free_port()          # nothing listens: the gateway is "down"
        write_config(self.env, {"gateway": {"mode": "local", "port": self.port,
                                            "auth": {"mode": "token", "token": "t" * 24}}})

    def config(self) -> dict:
        with open(self.env["OPENCLAW_CONFIG_PATH"]) as handle:
            loaded: dict = json.load(handle)
        return loaded

    def test_add_list_remove(self) -> None:
        run = run_cli(["channels", "add", "--channel", "irc", "--host", "irc.example",
                       "--nick", "ocbot", "--channels", "#a, #b"], self.env)
        self.assertEqual((run.code, run.out), (0, 'Added IRC account "default".\n'), run.err)
        self.assertEqual(self.config()["channels"]["irc"], {
            "host": "irc.example", "nick": "ocbot", "channels": ["#a", "#b"]})
        run = run_cli(["channels", "add", "irc", "--account", "Work", "--nick", "workbot",
                       "--port", "6667"], self.env)
        self.assertEqual(run.code, 0, run.err)
        self.assertEqual(self.config()["channels"]["irc"], {"accounts": {
            "default": {"host": "irc.example", "nick": "ocbot", "channels": ["#a", "#b"]},
            "work": {"nick": "workbot", "port": 6667}}})
        run = run_cli(["channels", "add", "--channel", "matrix", "--homeserver",
                       "https://hs.example", "--user-id", "@bot:hs.example",
                       "--access-token", "syt_x"], self.env)
        self.assertEqual(run.code, 0, run.err)
        run = run_cli(["channels", "list"], self.env)
        self.assertEqual(run.out.splitlines()[:4], [
            "Chat channels:",
            "- IRC default: installed, configured, enabled",
            "- IRC work: installed, not configured, enabled",
            "- Matrix default: installed, configured, enabled, base=https://hs.example"])
        listed = run_cli(["channels", "list", "--json"], self.env).json()
        self.assertEqual(listed["chat"]["irc"], {"accounts": ["default", "work"],
                                                 "label": "IRC", "docsPath": "/channels/irc",
                                                 "installed": True, "origin": "configured"})
        run = run_cli(["channels", "remove", "--channel", "irc", "--account", "work"],
                      self.env)
        self.assertEqual(run.out, 'Disabled IRC account "work".\n', run.err)
        self.assertIs(self.config()["channels"]["irc"]["accounts"]["work"]["enabled"], False)
        run = run_cli(["channels", "remove", "matrix", "--delete"], self.env)
        self.assertEqual(run.out, 'Deleted Matrix account "default".\n', run.err)
        self.assertNotIn("matrix", self.config()["channels"])

    def test_invalid_edits_are_refused_and_nothing_is_written(self) -> None:
        before = self.config()
        run = run_cli(["channels", "add", "--channel", "irc", "--port", "99999"], self.env)
        self.assertEqual((run.code, run.err), (1, "Invalid --port: 99999\n"))
        run = run_cli(["channels", "add", "--channel", "nope"], self.env)
        self.assertEqual(run.err, 'Unknown channel "nope". Valid channels: telegram, discord, '
                                  'irc, matrix\n')
        run = run_cli(["channels", "add", "--channel", "irc", "--account", " "], self.env)
        self.assertEqual(run.err, "--account must not be blank\n")
        self.assertEqual(self.config(), before)

    def test_status_falls_back_to_the_config_when_the_gateway_is_down(self) -> None:
        run_cli(["channels", "add", "--channel", "irc", "--host", "127.0.0.1", "--nick",
                 "ocbot"], self.env)
        run = run_cli(["channels", "status"], self.env)
        self.assertEqual(run.code, 0, run.err)
        self.assertTrue(run.err.startswith("Gateway not reachable: "), run.err)
        self.assertEqual(run.out.splitlines()[:6], [
            "Checking channel status…", "Gateway not reachable; showing config-only status.",
            f"Config: {self.env['OPENCLAW_CONFIG_PATH']}", "Mode: local", "",
            "- IRC default: enabled, configured"])
        fallback = run_cli(["channels", "status", "--json"], self.env).json()
        self.assertEqual(fallback["configuredChannels"], ["irc"])
        self.assertIs(fallback["configOnly"], True)

    def test_pairing_works_on_the_store_with_the_gateway_down(self) -> None:
        run_cli(["channels", "add", "--channel", "irc", "--host", "127.0.0.1", "--nick",
                 "ocbot"], self.env)
        run = run_cli(["pairing", "list"], self.env)
        self.assertEqual(run.out, "No pending irc pairing requests.\n", run.err)
        db = ChannelDatabase(database_path(self.env["OPENCLAW_STATE_DIR"]))
        code, _ = pairing.upsert_request(db, "irc", "default", "alice!~alice@127.0.0.1",
                                         {"name": "alice"}, int(time.time() * 1000))
        db.close()
        listed = run_cli(["pairing", "list", "irc", "--json"], self.env).json()
        self.assertEqual(listed["requests"][0]["code"], code)
        self.assertEqual(listed["requests"][0]["meta"], {"name": "alice",
                                                         "accountId": "default"})
        run = run_cli(["pairing", "list"], self.env)
        self.assertTrue(run.out.startswith("Pairing requests (1)\n"), run.out)
        self.assertIn("ircUser", run.out)
        run = run_cli(["pairing", "approve", "irc", "WRONGCOD"], self.env)
        self.assertEqual(run.err, 'No pending pairing request found for code "WRONGCOD". Run '
                                  "openclaw pairing list --channel irc to list pending "
                                  "requests.\n")
        run = run_cli(["pairing", "approve", code, "--notify"], self.env)
        self.assertEqual(run.code, 0, run.err)
        self.assertEqual(run.out.splitlines()[:2], [
            "Approved irc sender alice!~alice@127.0.0.1.",
            "Command owner configured irc:alice!~alice@127.0.0.1 (commands.ownerAllowFrom "
            "was empty)."])
        self.assertTrue(run.out.splitlines()[2].startswith("Failed to notify requester:"))
        self.assertEqual(self.config()["commands"]["ownerAllowFrom"],
                         ["irc:alice!~alice@127.0.0.1"])
        db = ChannelDatabase(database_path(self.env["OPENCLAW_STATE_DIR"]))
        self.assertEqual(pairing.allowed_senders(db, "irc", "default"),
                         ["alice!~alice@127.0.0.1"])
        db.close()
        self.assertEqual(os.stat(database_path(self.env["OPENCLAW_STATE_DIR"])).st_mode & 0o777,
                         0o600)

    def test_pairing_needs_a_channel(self) -> None:
        run = run_cli(["pairing", "list"], self.env)
        self.assertEqual(run.err, "No chat DM pairing channels are configured. To approve a "
                                  "TUI or device request, use openclaw devices approve "
                                  "instead.\n")
        run = run_cli(["pairing", "list", "irc", "--account", ""], self.env)
        self.assertEqual(run.code, 1)


class TelegramDiscordCliTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.base = tempfile.mkdtemp(prefix="oc-channels-cli-")
        self.addCleanup(shutil.rmtree, self.base, True)
        self.env = isolated_env(self.base)
        write_config(self.env, {"gateway": {"mode": "local", "port": free_port(),
                                            "auth": {"mode": "token", "token": "t" * 24}}})

    def config(self) -> dict:
        with open(self.env["OPENCLAW_CONFIG_PATH"]) as handle:
            loaded: dict = json.load(handle)
        return loaded

    def test_add_with_tokens_and_config_only_status(self) -> None:
        run = run_cli(["channels", "add", "--channel", "telegram", "--token", "123:abc",
                       "--api-root", "http://127.0.0.1:8081"], self.env)
        self.assertEqual((run.code, run.out), (0, 'Added Telegram account "default".\n'),
                         run.err)
        self.assertEqual(self.config()["channels"]["telegram"], {
            "botToken": "123:abc", "apiRoot": "http://127.0.0.1:8081", "enabled": True})
        run = run_cli(["channels", "add", "--channel", "discord"], self.env)
        self.assertEqual((run.code, run.err),
                         (1, "Discord requires --token (or --use-env).\n"))
        run = run_cli(["channels", "add", "--channel", "discord", "--use-env"], self.env)
        self.assertEqual(run.err, "Discord --use-env needs DISCORD_BOT_TOKEN in the "
                                  "environment.\n")
        run = run_cli(["channels", "add", "--channel", "discord", "--token", "MTk.x.y"],
                      self.env)
        self.assertEqual(run.code, 0, run.err)
        run = run_cli(["channels", "status"], self.env)
        self.assertEqual(run.code, 0, run.err)
        lines = run.out.splitlines()
        self.assertIn("- Telegram default: enabled, configured, mode:polling, token:config",
                      lines)
        self.assertIn("- Discord default: enabled, configured, token:config", lines)
        self.assertLess(lines.index("- Telegram default: enabled, configured, mode:polling, "
                                    "token:config"),
                        lines.index("- Discord default: enabled, configured, token:config"))
        fallback = run_cli(["channels", "status", "--json"], self.env).json()
        self.assertEqual(fallback["configuredChannels"], ["telegram", "discord"])

    def test_pairing_approve_normalizes_telegram_and_discord_ids(self) -> None:
        run_cli(["channels", "add", "--channel", "telegram", "--token", "123:abc"], self.env)
        run_cli(["channels", "add", "--channel", "discord", "--token", "MTk.x.y"], self.env)
        db = ChannelDatabase(database_path(self.env["OPENCLAW_STATE_DIR"]))
        self.addCleanup(db.close)
        now = int(time.time() * 1000)
        code, _ = pairing.upsert_request(db, "telegram", "default", "1000001",
                                         {"username": "alice"}, now)
        run = run_cli(["pairing", "list", "telegram"], self.env)
        self.assertIn("telegramUserId", run.out)
        run = run_cli(["pairing", "approve", "telegram", code], self.env)
        self.assertEqual(run.code, 0, run.err)
        self.assertIn("Approved telegram sender 1000001.", run.out)
        self.assertEqual(pairing.allowed_senders(db, "telegram", "default"), ["1000001"])
        self.assertEqual(self.config()["commands"]["ownerAllowFrom"], ["telegram:1000001"])
        code, _ = pairing.upsert_request(db, "discord", "default", "2000002",
                                         {"name": "bob"}, now)
        run = run_cli(["pairing", "approve", "discord", code], self.env)
        self.assertEqual(run.code, 0, run.err)
        self.assertEqual(pairing.allowed_senders(db, "discord", "default"), ["2000002"])
