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
from tests.channels.stack import GatewayStack
from tests.upstream import openai_text

CODE = re.compile(r"```\n([A-Z2-9]{8})\n```")


def irc_channels(port: int, **overrides: Any) -> dict[str, Any]:
    irc: dict[str, Any] = {"host": "127.0.0.1", "port": port, "tls": False, "nick": "ocbot",
                           "channels": ["#test"], "dmPolicy": "pairing",
                           "groupPolicy": "allowlist",
                           "groups": {"#test": {"requireMention": True, "allowFrom": ["*"]}}}
    irc.update(overrides)
    return {"irc": irc}


class IrcLiveTests(TestCase):
    timeout = 60

    async def boot(self, **irc: Any) -> tuple[GatewayStack, Ngircd]:
        if ngircd_path() is None:
            raise SkipTest(missing_reason("ngircd"))
        server = Ngircd()
        await server.start()
        self.addCleanup(server.stop)
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
