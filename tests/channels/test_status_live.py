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
