"""The IRC connection at the protocol level (StringTransport, Clock): what ngIRCd cannot
show -- SASL, NickServ, nick recovery -- and the acceptance of each line."""

from __future__ import annotations

import base64
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from openclaw.channels.irc.protocol import IrcProtocol, RegistrationFailed
from openclaw.channels.model import SendFailed


class ProtocolTests(SynchronousTestCase):
    def connect(self, **kwargs: Any) -> tuple[IrcProtocol, StringTransport, Clock]:
        clock = Clock()
        self.received: list[tuple[str, str, str]] = []
        params: dict[str, Any] = {
            "nick": "bot", "username": "bot", "realname": "OpenClaw", "password": None,
            "sasl_password": None, "nickserv": {}, "channels": ("#test",), "clock": clock,
            "on_message": lambda *m: self.received.append(m)}
        params.update(kwargs)
        protocol = IrcProtocol(**params)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport, clock

    def sent(self, transport: StringTransport) -> list[str]:
        lines = transport.value().decode().split("\r\n")
        transport.clear()
        return [line for line in lines if line]

    def feed(self, protocol: IrcProtocol, *lines: str) -> None:
        for line in lines:
            protocol.dataReceived(line.encode() + b"\r\n")

    def test_sasl_plain_when_offered(self) -> None:
        protocol, transport, _ = self.connect(password="server-pw", sasl_password="ns-pw",
                                              nickserv={"password": "ns-pw"})
        self.assertEqual(self.sent(transport), ["CAP LS 302", "PASS server-pw", "NICK bot",
                                                "USER bot foo bar :OpenClaw"])
        self.feed(protocol, ":irc.test CAP * LS * :multi-prefix",
                  ":irc.test CAP * LS :sasl=PLAIN,EXTERNAL")
        self.assertEqual(self.sent(transport), ["CAP REQ :sasl"])
        self.feed(protocol, ":irc.test CAP * ACK :sasl")
        self.assertEqual(self.sent(transport), ["AUTHENTICATE PLAIN"])
        self.feed(protocol, "AUTHENTICATE +")
        payload = base64.b64encode(b"bot\0bot\0ns-pw").decode()
        self.assertEqual(self.sent(transport), [f"AUTHENTICATE {payload}"])
        self.feed(protocol, ":irc.test 903 bot :SASL authentication successful")
        self.assertEqual(self.sent(transport), ["CAP END"])
        self.feed(protocol, ":irc.test 001 bot :Welcome")
        self.assertEqual(self.successResultOf(protocol.registered), "bot")
        self.assertEqual(self.sent(transport), ["JOIN #test"])   # no IDENTIFY after SASL

    def test_no_sasl_when_not_offered_then_nickserv(self) -> None:
        protocol, transport, _ = self.connect(
            sasl_password="ns-pw", nickserv={"password": "ns-pw", "register": True,
                                             "register_email": "bot@example.org"})
        self.sent(transport)
        self.feed(protocol, ":irc.test CAP * LS :multi-prefix")
        self.assertEqual(self.sent(transport), ["CAP END"])
        self.feed(protocol, ":irc.test 001 bot :Welcome")
        self.assertEqual(self.sent(transport), [
            "PRIVMSG NickServ :IDENTIFY ns-pw",
            "PRIVMSG NickServ :REGISTER ns-pw bot@example.org", "JOIN #test"])

    def test_failed_sasl_falls_back(self) -> None:
        protocol, transport, _ = self.connect(sasl_password="pw", nickserv={"password": "pw"})
        self.feed(protocol, ":irc.test CAP * LS :sasl", ":irc.test CAP * ACK :sasl",
                  "AUTHENTICATE +", ":irc.test 904 bot :SASL authentication failed")
        self.assertEqual(self.sent(transport)[-1], "CAP END")
        self.feed(protocol, ":irc.test 001 bot :Welcome")
        self.assertIn("PRIVMSG NickServ :IDENTIFY pw", self.sent(transport))

    def test_nick_collision_takes_a_suffix_then_ghosts(self) -> None:
        protocol, transport, _ = self.connect(nickserv={"password": "pw"})
        self.sent(transport)
        self.feed(protocol, ":irc.test 433 * bot :Nickname already in use")
        self.assertEqual(self.sent(transport), ["NICK bot_2"])
        self.feed(protocol, ":irc.test 433 * bot_2 :Nickname already in use")
        self.assertEqual(self.sent(transport), ["NICK bot_3"])
        self.feed(protocol, ":irc.test 001 bot_3 :Welcome")
        self.assertEqual(self.successResultOf(protocol.registered), "bot_3")
        self.assertEqual(self.sent(transport)[:3], ["PRIVMSG NickServ :GHOST bot pw",
                                                    "NICK bot", "PRIVMSG NickServ :IDENTIFY pw"])

    def test_refused_login_fails_registration(self) -> None:
        protocol, transport, _ = self.connect(password="wrong")
        self.feed(protocol, ":irc.test 464 * :Password incorrect")
        failure = self.failureResultOf(protocol.registered, RegistrationFailed)
        self.assertEqual(str(failure.value), "IRC login failed (464): Password incorrect")
        self.assertTrue(transport.disconnecting)

    def test_registration_times_out_on_the_clock(self) -> None:
        protocol, _, clock = self.connect()
        clock.advance(30)
        self.failureResultOf(protocol.registered, RegistrationFailed)

    def test_a_line_is_accepted_by_the_pong_after_it(self) -> None:
        protocol, transport, _ = self.connect()
        self.feed(protocol, ":irc.test 001 bot :Welcome")
        self.sent(transport)
        accepted = protocol.send_privmsg("alice", "hello\nworld\x07")
        privmsg, ping = self.sent(transport)
        self.assertEqual(privmsg, "PRIVMSG alice :hello world")
        self.assertNoResult(accepted)
        token = ping.split(":", 1)[1]
        self.feed(protocol, f":irc.test PONG irc.test :{token}")
        self.assertIsNone(self.successResultOf(accepted))
        refused = protocol.send_privmsg("nobody", "hi")
        self.feed(protocol, ":irc.test 401 bot nobody :No such nick or channel name")
        failure = self.failureResultOf(refused, SendFailed)
        self.assertEqual(failure.value.retry_after, 5.0)

    def test_messages_and_keepalive(self) -> None:
        protocol, transport, clock = self.connect()
        self.feed(protocol, ":irc.test 001 bot :Welcome",
                  ":alice!~alice@127.0.0.1 PRIVMSG bot :hi there",
                  ":alice!~alice@127.0.0.1 NOTICE bot :ignored")
        self.assertEqual(self.received, [("alice!~alice@127.0.0.1", "bot", "hi there")])
        self.sent(transport)
        clock.advance(60)
        [ping] = self.sent(transport)
        self.assertTrue(ping.startswith("PING :ka"))
        self.feed(protocol, f":irc.test PONG irc.test :{ping.split(':', 1)[1]}")
        clock.advance(60)
        self.sent(transport)
        clock.advance(60)            # no PONG this time: the connection is dropped
        self.assertTrue(transport.disconnecting)


class PacingTests(SynchronousTestCase):
    def test_five_lines_at_once_then_one_per_second(self) -> None:
        from twisted.internet.defer import Deferred

        from openclaw.channels.irc.account import _TokenBucket

        clock = Clock()
        bucket = _TokenBucket(clock)
        taken = [Deferred.fromCoroutine(bucket.take()) for _ in range(7)]
        self.assertEqual([d.called for d in taken], [True] * 5 + [False] * 2)
        clock.advance(1.0)
        self.assertEqual([d.called for d in taken], [True] * 6 + [False])
        clock.advance(1.0)
        self.assertTrue(taken[6].called)
