"""``openclaw channels status`` against a gateway running a live IRC and a live Matrix
account, key by key against the shapes seen from the real 2026.9.6, and the config-only
fallback once the gateway is stopped; ``health`` and ``status`` report the channels."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SkipTest, TestCase

from tests.channels.servers import Ngircd, missing_reason, ngircd_path, synapse_available
from tests.channels.stack import GatewayStack
from tests.channels.test_irc_live import irc_channels
from tests.channels.test_matrix_live import matrix_channel, shared_synapse

TOP_LEVEL = ["channelAccounts", "channelDefaultAccountId", "channelDetailLabels",
             "channelLabels", "channelMeta", "channelOrder", "channelSystemImages", "channels",
             "eventLoop", "statusIssues", "ts"]
IRC_ACCOUNT = ["accountId", "configured", "connected", "enabled", "lastConnectedAt",
               "lastError", "lastInboundAt", "lastOutboundAt", "lastProbeAt", "lastStartAt",
               "lifecycle", "passwordSource", "probe", "reconnectAttempts", "restartPending",
               "running", "tokenStatus"]
MATRIX_ACCOUNT = ["accountId", "baseUrl", "configured", "connected", "enabled",
                  "healthState", "lastConnectedAt", "lastError", "lastEventAt",
                  "lastInboundAt", "lastOutboundAt", "lastProbeAt", "lastStartAt",
                  "lastTransportActivityAt", "lifecycle", "probe", "reconnectAttempts",
                  "restartPending", "running"]


class ChannelsStatusLiveTests(TestCase):
    timeout = 90

    async def test_status_probe_json_text_and_config_only_fallback(self) -> None:
        if ngircd_path() is None:
            raise SkipTest(missing_reason("ngircd"))
        if not synapse_available():
            raise SkipTest(missing_reason("Synapse"))
        irc = Ngircd()
        await irc.start()
        self.addCleanup(irc.close)
        synapse = await shared_synapse()
        if "ocstatus" not in synapse.tokens:     # a bot of its own: no other test's rooms
            await synapse.register("ocstatus", "status-password-1")
        stack = GatewayStack()
        self.addCleanup(stack.close)
        stack.write_config(stack.base_config({**irc_channels(irc.port), **matrix_channel(
            synapse, accessToken=synapse.tokens["ocstatus"])}))
        await stack.start()
        await stack.connected("irc")
        await stack.connected("matrix")

        rc, out, err = await stack.cli("channels", "status", "--probe", "--json")
        self.assertEqual(rc, 0, err)
        payload = json.loads(out)
        self.assertEqual(sorted(payload), TOP_LEVEL)
        self.assertEqual(payload["channelOrder"], ["irc", "matrix"])
        self.assertEqual(payload["channelLabels"], {"irc": "IRC", "matrix": "Matrix"})
        self.assertEqual(payload["channelDefaultAccountId"], {"irc": "default",
                                                              "matrix": "default"})
        self.assertEqual(payload["channelMeta"][0], {"id": "irc", "label": "IRC",
                                                     "detailLabel": "IRC",
                                                     "systemImage": "network"})
        self.assertEqual(payload["statusIssues"], [])
        [irc_account] = payload["channelAccounts"]["irc"]
        self.assertEqual(sorted(irc_account), IRC_ACCOUNT)
        self.assert_fields(irc_account, accountId="default", enabled=True, configured=True,
                           running=True, connected=True, lifecycle="ready",
                           reconnectAttempts=0, restartPending=False, lastError=None,
                           passwordSource="none", tokenStatus="available")
        probe = irc_account["probe"]
        self.assertEqual(sorted(probe), ["host", "latencyMs", "nick", "ok", "port", "tls"])
        self.assert_fields(probe, ok=True, host="127.0.0.1", port=irc.port, tls=False,
                           nick="ocbot")
        [matrix_account] = payload["channelAccounts"]["matrix"]
        self.assertEqual(sorted(matrix_account), MATRIX_ACCOUNT)
        self.assert_fields(matrix_account, accountId="default", running=True, connected=True,
                           lifecycle="ready", healthState="healthy", baseUrl=synapse.base_url,
                           lastError=None)
        self.assertEqual(sorted(matrix_account["probe"]),
                         ["elapsedMs", "error", "ok", "status", "userId"])
        self.assert_fields(matrix_account["probe"], ok=True, status=200, error=None,
                           userId="@ocstatus:localhost")
        for account in (irc_account, matrix_account):
            self.assertIsInstance(account["lastStartAt"], int)
            self.assertIsInstance(account["lastConnectedAt"], int)
            self.assertIsInstance(account["lastProbeAt"], int)
        self.assertEqual(payload["channels"]["irc"]["host"], "127.0.0.1")

        rc, out, err = await stack.cli("channels", "status", "--probe")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[:3], ["Checking channel status (probe)…", "Gateway reachable.",
                                     "- IRC default: enabled, configured, running, connected, "
                                     "works"])
        self.assertRegex(lines[3], r"^- Matrix default: enabled, configured, running, "
                                   r"connected, transport:just now, health:healthy, "
                                   rf"url:{synapse.base_url}, works$")
        self.assertEqual(lines[4:], ["", "Tip: https://docs.openclaw.ai/cli/status adds "
                                         "gateway health probes to status output (requires a "
                                         "reachable gateway)."])

        rc, out, err = await stack.cli("health", "--json")
        self.assertEqual(rc, 0, err)
        health = json.loads(out)
        self.assertEqual(health["channelOrder"], ["irc", "matrix"])
        self.assertIs(health["channels"]["irc"]["connected"], True)
        self.assertEqual(sorted(health["channels"]["irc"]["accounts"]), ["default"])

        await stack.stop()
        rc, out, err = await stack.cli("channels", "status", "--probe")
        self.assertEqual(rc, 0, err)
        self.assertIn("Gateway not reachable", err)
        self.assertEqual(out.splitlines(), [
            "Checking channel status (probe)…",
            "Gateway not reachable; showing config-only status.",
            f"Config: {stack.config_path}", "Mode: local", "",
            "- IRC default: enabled, configured",
            f"- Matrix default: enabled, configured, url:{synapse.base_url}", "",
            "Tip: https://docs.openclaw.ai/cli/status adds gateway health probes to status "
            "output (requires a reachable gateway)."])
        rc, out, err = await stack.cli("channels", "status", "--json")
        self.assertEqual(rc, 0, err)
        fallback = json.loads(out)
        self.assertEqual(sorted(fallback), ["config", "configOnly", "configuredChannels",
                                            "error", "gatewayAuthUnavailable",
                                            "gatewayReachable"])
        self.assert_fields(fallback, gatewayReachable=False, configOnly=True,
                           gatewayAuthUnavailable=False,
                           configuredChannels=["irc", "matrix"],
                           config={"path": stack.config_path, "mode": "local"})

    def assert_fields(self, record: dict[str, Any], **expected: Any) -> None:
        self.assertEqual({key: record.get(key) for key in expected}, expected)


TELEGRAM_ACCOUNT = ["accountId", "allowUnmentionedGroups", "audit", "configured", "connected",
                    "enabled", "lastConnectedAt", "lastError", "lastInboundAt",
                    "lastOutboundAt", "lastProbeAt", "lastStartAt", "lastTransportActivityAt",
                    "lifecycle", "mode", "probe", "reconnectAttempts", "restartPending",
                    "running", "tokenSource", "tokenStatus"]
DISCORD_ACCOUNT = ["accountId", "application", "bot", "configured", "connected", "enabled",
                   "lastConnectedAt", "lastError", "lastInboundAt", "lastOutboundAt",
                   "lastProbeAt", "lastStartAt", "lastStopAt", "lifecycle", "probe",
                   "reconnectAttempts", "restartPending", "running", "tokenSource"]


class FourNetworksStatusTests(TestCase):
    timeout = 90

    async def test_status_probe_json_for_irc_matrix_telegram_and_discord_at_once(
            self) -> None:
        from tests.channels.test_discord_live import DiscordWorld, discord_channel
        from tests.channels.test_telegram_live import TEAM_ID, TelegramWorld, telegram_channel

        if ngircd_path() is None:
            raise SkipTest(missing_reason("ngircd"))
        if not synapse_available():
            raise SkipTest(missing_reason("Synapse"))
        irc = Ngircd()
        await irc.start()
        self.addCleanup(irc.close)
        synapse = await shared_synapse()
        if "ocfour" not in synapse.tokens:
            await synapse.register("ocfour", "four-password-1")
        telegram = TelegramWorld()
        self.addCleanup(telegram.server.stop)
        discord = DiscordWorld()
        self.addCleanup(discord.server.stop)
        stack = GatewayStack()
        self.addCleanup(stack.close)
        stack.env["DISCORD_API_URL"] = discord.server.api_base
        channels = {**irc_channels(irc.port),
                    **matrix_channel(synapse, accessToken=synapse.tokens["ocfour"]),
                    **telegram_channel(telegram.server, telegram.bot,
                                       groups={str(TEAM_ID): {"requireMention": False}}),
                    **discord_channel(discord)}
        stack.write_config(stack.base_config(channels))
        await stack.start()
        for channel in ("irc", "matrix", "telegram", "discord"):
            await stack.connected(channel)

        rc, out, err = await stack.cli("channels", "status", "--probe", "--json")
        self.assertEqual(rc, 0, err)
        payload = json.loads(out)
        self.assertEqual(sorted(payload), TOP_LEVEL)
        self.assertEqual(payload["channelOrder"], ["telegram", "discord", "irc", "matrix"])
        self.assertEqual(payload["channelLabels"], {"telegram": "Telegram",
                                                    "discord": "Discord", "irc": "IRC",
                                                    "matrix": "Matrix"})
        self.assertEqual(payload["channelDetailLabels"]["telegram"], "Telegram Bot")
        self.assertEqual(payload["channelSystemImages"],
                         {"telegram": "paperplane", "discord": "bubble.left.and.bubble.right",
                          "irc": "network"})
        self.assertEqual(payload["channelDefaultAccountId"],
                         dict.fromkeys(("telegram", "discord", "irc", "matrix"), "default"))
        accounts = payload["channelAccounts"]
        for channel in ("irc", "matrix", "telegram", "discord"):
            [row] = accounts[channel]
            self.assert_fields(row, accountId="default", enabled=True, configured=True,
                               running=True, connected=True, lifecycle="ready",
                               lastError=None)
            self.assertIs(row["probe"]["ok"], True, (channel, row["probe"]))
            self.assertIsInstance(row["lastProbeAt"], int)
        self.assertEqual(sorted(accounts["irc"][0]), IRC_ACCOUNT)
        self.assertEqual(sorted(accounts["matrix"][0]), MATRIX_ACCOUNT)

        [tg] = accounts["telegram"]
        self.assertEqual(sorted(tg), TELEGRAM_ACCOUNT)
        self.assert_fields(tg, mode="polling", tokenSource="config", tokenStatus="available",
                           allowUnmentionedGroups=True)
        self.assertEqual(sorted(tg["probe"]), ["bot", "botInfo", "elapsedMs", "error", "ok",
                                               "status", "webhook"])
        self.assert_fields(tg["probe"]["bot"], id=telegram.bot.id,
                           username="openclaw_test_bot", canJoinGroups=True,
                           canReadAllGroupMessages=False)
        self.assertEqual(tg["probe"]["webhook"], {"url": "", "hasCustomCert": False})
        self.assert_fields(tg["audit"], ok=True, checkedGroups=1, unresolvedGroups=0,
                           hasWildcardUnmentionedGroups=False)
        self.assertEqual(tg["audit"]["groups"], [{"chatId": str(TEAM_ID), "ok": True,
                                                  "status": "member", "error": None,
                                                  "matchKey": str(TEAM_ID),
                                                  "matchSource": "id"}])
        getchatmember = [c for c in telegram.bot.requests if c.method == "getChatMember"]
        self.assertEqual(getchatmember[0].params, {"chat_id": str(TEAM_ID),
                                                   "user_id": str(telegram.bot.id)})

        [dc] = accounts["discord"]
        self.assertEqual(sorted(dc), DISCORD_ACCOUNT)
        self.assert_fields(dc, tokenSource="config",
                           bot={"id": discord.bot.id, "username": "OpenClaw"})
        self.assertEqual(dc["application"]["intents"],
                         {"messageContent": "limited", "guildMembers": "disabled",
                          "presence": "disabled"})
        self.assertEqual(sorted(dc["probe"]), ["application", "bot", "elapsedMs", "error",
                                               "ok", "status"])
        self.assertEqual(dc["probe"]["bot"], {"id": discord.bot.id, "username": "OpenClaw"})
        # the only warning: Telegram's privacy mode hides unmentioned group messages
        self.assertEqual([(i["channel"], i["kind"]) for i in payload["statusIssues"]],
                         [("telegram", "config")])

        rc, out, err = await stack.cli("channels", "status", "--probe")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn("- Discord default: enabled, configured, running, connected, "
                      "bot:@OpenClaw, token:config, intents:content=limited, works", lines)
        self.assertIn("- IRC default: enabled, configured, running, connected, works", lines)
        telegram_line = next(line for line in lines if line.startswith("- Telegram"))
        self.assertRegex(telegram_line, r"^- Telegram default: enabled, configured, running, "
                                        r"connected, transport:just now, mode:polling, "
                                        r"bot:@openclaw_test_bot, token:config, "
                                        r"groups:unmentioned, works, audit ok$")
        self.assertTrue(any(line.startswith("- Matrix default: enabled, configured, running")
                            for line in lines))
        self.assertIn("Warnings:", lines)

    def assert_fields(self, record: dict[str, Any], **expected: Any) -> None:
        self.assertEqual({key: record.get(key) for key in expected}, expected)
