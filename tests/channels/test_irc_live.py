"""IRC against a real ngIRCd: pairing, DMs, channels and mention gating, outages, reloads.

The gateway runs in this process (``GatewayService`` on the reactor), the model is a
scripted upstream, and the people are real IRC clients on the same server.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SkipTest, TestCase

from tests.channels.irc_client import IrcPerson
from tests.channels.servers import Ngircd, missing_reason, ngircd_path
from tests.channels.stack import GatewayStack, config_applied
from tests.upstream import Reply, openai_text

CODE = re.compile(r"```\n([A-Z2-9]{8})\n```")


def irc_channels(port: int, **overrides: Any) -> dict[str, Any]:
    irc: dict[str, Any] = {"host": "127.0.0.1", "port": port, "tls": False, "nick": "ocbot",
                           "channels": ["#test"], "dmPolicy": "pairing",
                           "groupPolicy": "allowlist",
                           "groups": {"#test": {"requireMention": True, "allowFrom": ["*"]}}}
    irc.update(overrides)
    return {"irc": irc}


class IrcBase(TestCase):
    timeout = 60

    async def boot(self, **irc: Any) -> tuple[GatewayStack, Ngircd]:
        if ngircd_path() is None:
            raise SkipTest(missing_reason("ngircd"))
        server = Ngircd()
        await server.start()
        self.addCleanup(server.close)
        stack = GatewayStack()
        self.addCleanup(stack.close)
        stack.write_config(stack.base_config(irc_channels(server.port, **irc)))
        await stack.start()
        await stack.connected("irc")
        return stack, server

    async def person(self, server: Ngircd, nick: str,
                     channels: tuple[str, ...] = ()) -> IrcPerson:
        person = await IrcPerson(server.port, nick, channels).connect()
        self.addCleanup(person.quit)
        return person



class IrcLiveTests(IrcBase):
    async def test_pairing_then_dm_reaches_the_agent(self) -> None:
        stack, server = await self.boot()
        alice = await self.person(server, "alice")
        alice.say("ocbot", "hello?")
        pairing = await alice.wait_message(lambda m: m.nick == "ocbot")
        self.assertTrue(pairing.text.startswith("OpenClaw: access not configured."),
                        pairing.text)
        self.assertIn("Your IRC id: alice!~alice@127.0.0.1", pairing.text)
        match = re.search(r"Pairing code: ``` ([A-Z2-9]{8}) ```", pairing.text)
        self.assertIsNotNone(match, pairing.text)
        assert match is not None
        code = match.group(1)
        self.assertIn(f"openclaw pairing approve irc {code}", pairing.text)
        self.assertEqual(stack.upstream.requests, [])

        rc, out, err = await stack.cli("pairing", "approve", "irc", code)
        self.assertEqual(rc, 0, err)
        self.assertIn("Approved irc sender alice!~alice@127.0.0.1.", out)

        stack.upstream.script(openai_text(["Hi ", "alice!"]))
        seen = len(alice.messages)
        alice.say("ocbot", "what's up?")
        reply = await alice.wait_message(lambda m: m.nick == "ocbot", since=seen)
        self.assertEqual(reply.text, "Hi alice!")
        sent = stack.upstream.requests[-1].json["messages"]
        self.assertEqual(sent[-1]["content"], "what's up?")

    async def test_group_message_needs_a_mention(self) -> None:
        stack, server = await self.boot()
        alice = await self.person(server, "alice", ("#test",))
        watcher = await self.person(server, "watcher", ("#test",))
        alice.say("#test", "anyone around?")
        await watcher.wait_message(lambda m: m.text == "anyone around?")
        stack.upstream.script(openai_text("pong"))
        alice.say("#test", "ocbot: ping")
        reply = await alice.wait_message(lambda m: m.nick == "ocbot")
        self.assertEqual((reply.target, reply.text), ("#test", "pong"))
        self.assertEqual(len(stack.upstream.requests), 1)
        prompt = stack.upstream.requests[0].json["messages"][-1]["content"]
        self.assertIn("alice: anyone around?", prompt)       # pending history, as context
        self.assertTrue(prompt.endswith("alice: ocbot: ping"), prompt)
        notes = [row[0] for row in stack.channels.db.query(
            "SELECT note FROM ingress ORDER BY id")]
        self.assertEqual(notes, ["missing-mention", "replied"])

    async def test_server_outage_delivers_the_reply_once_after_reconnect(self) -> None:
        stack, server = await self.boot(dmPolicy="allowlist",
                                        allowFrom=["alice!~alice@127.0.0.1"])
        alice = await self.person(server, "alice")
        started: Deferred[Any] = Deferred()
        gate: Deferred[None] = Deferred()
        reply = openai_text("written while the server was down")
        reply.started, reply.gate = started, gate
        stack.upstream.script(reply, openai_text("second"))
        first_connection = stack.account("irc").connection_id
        alice.say("ocbot", "tell me something")
        await started
        await server.kill()
        await alice.disconnected
        gate.callback(None)
        run = await stack.gateway.agents.runtime.wait("irc-default-1", 20)
        self.assertEqual(run.status, "ok")
        await server.start()
        await alice.connect()
        connection = await stack.connected("irc")
        self.assertNotEqual(connection, first_connection)
        got = await alice.wait_message(lambda m: m.nick == "ocbot", timeout=30)
        self.assertEqual(got.text, "written while the server was down")
        alice.say("ocbot", "and now?")
        await alice.wait_message(lambda m: m.text == "second", timeout=30)
        self.assertEqual([m.text for m in alice.from_nick("ocbot")],
                         ["written while the server was down", "second"])

    async def test_approving_a_code_while_a_reply_is_in_flight_loses_nothing(self) -> None:
        stack, server = await self.boot(allowFrom=["alice!~alice@127.0.0.1"])
        alice = await self.person(server, "alice")
        bob = await self.person(server, "bob")
        bob.say("ocbot", "let me in")
        pairing = await bob.wait_message(lambda m: m.nick == "ocbot")
        code = re.search(r"``` ([A-Z2-9]{8}) ```", pairing.text).group(1)  # type: ignore
        started: Deferred[Any] = Deferred()
        gate: Deferred[None] = Deferred()
        reply = openai_text("answer for alice")
        reply.started, reply.gate = started, gate
        stack.upstream.script(reply, openai_text("welcome bob"))
        alice.say("ocbot", "a long question")
        await started
        rc, out, err = await stack.cli("pairing", "approve", "irc", code)
        self.assertEqual(rc, 0, err)
        self.assertIn("Command owner configured irc:bob!~bob@127.0.0.1", out)
        self.assertIn(await config_applied(stack), ("applied", "unchanged"))
        gate.callback(None)
        got = await alice.wait_message(lambda m: m.nick == "ocbot")
        self.assertEqual(got.text, "answer for alice")
        bob.say("ocbot", "hello again")
        welcome = await bob.wait_message(lambda m: m.text == "welcome bob")
        self.assertEqual(welcome.nick, "ocbot")
        self.assertEqual([m.text for m in alice.from_nick("ocbot")], ["answer for alice"])
        self.assertEqual(stack.read_config()["commands"]["ownerAllowFrom"],
                         ["irc:bob!~bob@127.0.0.1"])

    async def test_reload_of_one_account_restarts_only_that_account(self) -> None:
        if ngircd_path() is None:
            raise SkipTest(missing_reason("ngircd"))
        server = Ngircd()
        await server.start()
        self.addCleanup(server.close)
        stack = GatewayStack()
        self.addCleanup(stack.close)
        base = {"host": "127.0.0.1", "port": server.port, "tls": False, "dmPolicy": "open",
                "allowFrom": ["*"],
                "accounts": {"first": {"nick": "botone"}, "second": {"nick": "bottwo"}}}
        config = stack.base_config({"irc": base})
        stack.write_config(config)
        await stack.start()
        first_id = await stack.connected("irc", "first")
        second_id = await stack.connected("irc", "second")
        first = stack.account("irc", "first")
        alice = await self.person(server, "alice")
        started: Deferred[Any] = Deferred()
        gate: Deferred[None] = Deferred()
        reply: Reply = openai_text("survives the reload")
        reply.started, reply.gate = started, gate
        stack.upstream.script(reply)
        alice.say("bottwo", "question for the second bot")
        await started
        config["channels"]["irc"]["accounts"]["second"]["realname"] = "Second Bot"
        stack.write_config(config)
        self.assertEqual(await config_applied(stack), "applied")
        self.assertIs(stack.account("irc", "first"), first)
        self.assertEqual(first.connection_id, first_id)
        new_second = await stack.connected("irc", "second")
        self.assertNotEqual(new_second, second_id)
        gate.callback(None)
        got = await alice.wait_message(lambda m: m.nick == "bottwo")
        self.assertEqual(got.text, "survives the reload")
        self.assertEqual(first.connection_id, first_id)
        self.assertEqual(len(alice.from_nick("bottwo")), 1)

    async def test_gateway_restart_delivers_a_queued_reply(self) -> None:
        stack, server = await self.boot(dmPolicy="allowlist",
                                        allowFrom=["alice!~alice@127.0.0.1"])
        alice = await self.person(server, "alice")
        started: Deferred[Any] = Deferred()
        gate: Deferred[None] = Deferred()
        reply = openai_text("kept across a gateway restart")
        reply.started, reply.gate = started, gate
        stack.upstream.script(reply)
        alice.say("ocbot", "hi")
        await started
        await server.kill()
        await alice.disconnected
        gate.callback(None)
        await stack.gateway.agents.runtime.wait("irc-default-1", 20)
        await stack.stop()
        rows = stack_rows(stack, "SELECT state FROM outbox")
        self.assertEqual(rows, [("pending",)])
        await server.start()
        await alice.connect()
        await stack.start()
        await stack.connected("irc")
        got = await alice.wait_message(lambda m: m.nick == "ocbot", timeout=30)
        self.assertEqual(got.text, "kept across a gateway restart")
        sent = await stack.channels.outbox.wait(1)
        self.assertEqual((sent.state, sent.key), ("sent", "in:1:reply:0"))


def stack_rows(stack: GatewayStack, sql: str) -> list[tuple[Any, ...]]:
    from openclaw.channels.store import ChannelDatabase, database_path

    db = ChannelDatabase(database_path(stack.state_dir))
    try:
        return db.query(sql)
    finally:
        db.close()


class IrcRpcTests(IrcBase):
    async def test_pairing_rpcs_send_and_account_control(self) -> None:
        stack, server = await self.boot()
        bob = await self.person(server, "bob")
        bob.say("ocbot", "hi")
        await bob.wait_message(lambda m: m.nick == "ocbot")
        listed = await stack.call("channels.pairing.list", {}, ("operator.pairing",))
        self.assertEqual(listed["accounts"], [{"channel": "irc", "channelLabel": "IRC",
                                               "accountId": "default",
                                               "notifySupported": True}])
        self.assertEqual((listed["commandOwnerConfigured"], listed["limits"]),
                         (False, {"pendingPerAccount": 3, "ttlMs": 3_600_000}))
        [request] = listed["requests"]
        self.assertEqual(sorted(request), ["accountId", "channel", "channelLabel", "createdAt",
                                           "expiresAt", "lastSeenAt", "metadata",
                                           "notifySupported", "requestId", "senderId",
                                           "senderLabel"])
        self.assertEqual((request["senderId"], request["senderLabel"], request["metadata"]),
                         ("bob!~bob@127.0.0.1", "ircUser", {"name": "bob"}))
        seen = len(bob.messages)
        approved = await stack.call("channels.pairing.approve", {
            "channel": "irc", "accountId": "default", "requestId": request["requestId"],
            "notify": True, "bootstrapCommandOwner": True})
        self.assertEqual(approved, {"requestId": request["requestId"],
                                    "senderId": "bob!~bob@127.0.0.1", "notification": "sent",
                                    "commandOwnerBootstrap": "configured"})
        notice = await bob.wait_message(lambda m: m.nick == "ocbot", since=seen)
        self.assertEqual(notice.text, "✅ OpenClaw access approved. Send a message to start "
                                      "chatting.")
        self.assertEqual(stack.read_config()["commands"]["ownerAllowFrom"],
                         ["irc:bob!~bob@127.0.0.1"])

        seen = len(bob.messages)
        sent = await stack.call("send", {"to": "bob", "message": "from the operator",
                                         "idempotencyKey": "op-1"}, ("operator.write",))
        self.assertEqual({k: sent[k] for k in ("runId", "channel", "accountId", "to")},
                         {"runId": "op-1", "channel": "irc", "accountId": "default",
                          "to": "bob"})
        await bob.wait_message(lambda m: m.text == "from the operator", since=seen)
        again = await stack.call("send", {"to": "bob", "message": "from the operator",
                                          "idempotencyKey": "op-1"}, ("operator.write",))
        self.assertEqual(again, sent)
        from openclaw.client import GatewayRequestError

        with self.assertRaises(GatewayRequestError) as refused:
            await stack.call("send", {"to": "x", "channel": "telegram", "message": "m",
                                      "idempotencyKey": "op-2"}, ("operator.write",))
        self.assertIn("unknown channel: telegram", str(refused.exception))

        stopped = await stack.call("channels.stop", {"channel": "irc"})
        self.assertEqual(stopped, {"channel": "irc", "accountId": "default", "stopped": True})
        status = await stack.call("channels.status", {}, ("operator.read",))
        self.assertEqual(status["channelAccounts"]["irc"][0]["running"], False)
        started = await stack.call("channels.start", {"channel": "irc"})
        self.assertEqual(started, {"channel": "irc", "accountId": "default", "started": True,
                                   "outcome": {"status": "handed-off"}})
        await stack.connected("irc")
        bob.say("ocbot", "still there?")
        await bob.wait_message(lambda m: m.text == "ok")
        self.assertEqual([m.text for m in bob.from_nick("ocbot")].count("from the operator"),
                         1)


class IrcTlsTests(IrcBase):
    async def test_tls_is_on_by_default_and_verifies_the_server(self) -> None:
        if ngircd_path() is None:
            raise SkipTest(missing_reason("ngircd"))
        import os

        server = Ngircd(tls=True)
        await server.start()
        self.addCleanup(server.close)
        stack = GatewayStack()
        self.addCleanup(stack.close)
        irc = irc_channels(server.port)["irc"]
        del irc["tls"]                                   # the default: TLS
        irc["port"] = server.tls_port
        stack.write_config(stack.base_config({"irc": irc}))
        await stack.start()
        untrusted = await stack.channels.status(probe=True, timeout_ms=5000)
        probe = untrusted["channelAccounts"]["irc"][0]["probe"]
        self.assertEqual((probe["ok"], probe["tls"]), (False, True))
        self.assertIn("certificate verify failed", probe["error"])
        self.assertFalse(stack.account("irc").connected)
        # trust the test server's certificate: the account connects over TLS
        await stack.stop()
        previous = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = server.cert_path
        self.addCleanup(lambda: os.environ.pop("SSL_CERT_FILE") if previous is None
                        else os.environ.__setitem__("SSL_CERT_FILE", previous))
        await stack.start()
        await stack.connected("irc")
        alice = await self.person(server, "alice", ("#test",))
        stack.upstream.script(openai_text("over TLS"))
        rc, _, err = await stack.cli("channels", "status")
        self.assertEqual(rc, 0, err)
        alice.say("#test", "ocbot: hi")
        reply = await alice.wait_message(lambda m: m.nick == "ocbot")
        self.assertEqual(reply.text, "over TLS")


class IrcAgentDeliverTests(IrcBase):
    async def test_openclaw_agent_deliver_sends_the_reply_over_irc(self) -> None:
        import json

        stack, server = await self.boot()
        bob = await self.person(server, "bob")
        stack.upstream.script(openai_text("delivered by the agent"))
        rc, out, err = await stack.cli("agent", "-m", "say hi to bob", "--deliver",
                                       "--channel", "irc", "--reply-to", "bob", "--json")
        self.assertEqual(rc, 0, err)
        result = json.loads(out)
        self.assertEqual(result["deliveryStatus"]["status"], "sent", result)
        got = await bob.wait_message(lambda m: m.nick == "ocbot")
        self.assertEqual(got.text, "delivered by the agent")
        rc, _, err = await stack.cli("agent", "-m", "x", "--deliver", "--channel", "telegram",
                                     "--reply-to", "123")
        self.assertEqual(rc, 1)
        self.assertIn("(channel telegram is not configured)", err)
