"""Matrix against a real Synapse: pairing, rooms and mentions, invites, threads and edits,
encrypted rooms, outages and restarts.

One Synapse is shared by the tests of this process (new rooms per test, a fresh gateway
state dir per test); the outage test runs its own, since it kills it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SkipTest, TestCase

from tests.channels.matrix_client import MatrixPerson
from tests.channels.servers import Synapse, missing_reason, synapse_available
from tests.channels.stack import GatewayStack
from tests.upstream import openai_text

BOT = "@ocbot:localhost"
PASSWORDS = {"ocbot": "bot-password-1", "alice": "alice-password-1", "bob": "bob-password-1"}

_shared: Synapse | None = None


async def shared_synapse() -> Synapse:
    """One homeserver for the tests of this process (stopped at exit)."""
    global _shared
    if _shared is None or _shared.proc is None:
        server = Synapse()
        await server.start()
        for user, password in PASSWORDS.items():
            await server.register(user, password)
        _shared = server
    return _shared


def matrix_channel(server: Synapse, *, login: bool = False,
                   **overrides: Any) -> dict[str, Any]:
    """The bot's account: its access token, or (``login``) user id and password."""
    credentials: dict[str, Any] = {"userId": BOT, "password": PASSWORDS["ocbot"]} if login \
        else {"accessToken": server.tokens["ocbot"]}
    matrix: dict[str, Any] = {"homeserver": server.base_url, **credentials,
                              "network": {"dangerouslyAllowPrivateNetwork": True},
                              "autoJoin": "always", "dm": {"policy": "pairing"}}
    matrix.update(overrides)
    return {"matrix": matrix}


def joined(user_id: str, room_id: str) -> Any:
    return lambda e: (e.get("type") == "m.room.member" and e.get("state_key") == user_id
                      and e.get("room_id") == room_id
                      and (e.get("content") or {}).get("membership") == "join")


def from_bot(room_id: str) -> Any:
    return lambda e: (e.get("type") == "m.room.message" and e.get("sender") == BOT
                      and e.get("room_id") == room_id)


class MatrixLiveBase(TestCase):
    timeout = 90

    async def server(self, *, own: bool = False) -> Synapse:
        if not synapse_available():
            raise SkipTest(missing_reason("Synapse"))
        if not own:
            return await shared_synapse()
        server = Synapse()
        await server.start()
        self.addCleanup(server.close)
        for user, password in PASSWORDS.items():
            await server.register(user, password)
        return server

    async def boot(self, server: Synapse, **matrix: Any) -> GatewayStack:
        stack = GatewayStack()
        self.addCleanup(stack.close)
        stack.write_config(stack.base_config(matrix_channel(server, **matrix)))
        await stack.start()
        await stack.connected("matrix")
        return stack

    async def person(self, server: Synapse, user: str) -> MatrixPerson:
        person = await MatrixPerson(server.base_url, user, PASSWORDS[user]).login(
            server.tokens[user])
        self.addCleanup(person.stop)
        return person

    async def dm(self, person: MatrixPerson) -> str:
        room = await person.create_dm(BOT)
        await person.wait_event(joined(BOT, room))
        return room


class MatrixLiveTests(MatrixLiveBase):
    async def test_pairing_then_dm_reaches_the_agent(self) -> None:
        server = await self.server()
        stack = await self.boot(server, login=True)    # password login
        alice = await self.person(server, "alice")
        room = await self.dm(alice)
        await alice.send(room, "hello?")
        pairing = await alice.wait_event(from_bot(room))
        body = pairing["content"]["body"]
        self.assertTrue(body.startswith("OpenClaw: access not configured.\n\nYour Matrix user "
                                        "id: @alice:localhost\nPairing code:\n```\n"), body)
        code = re.search(r"```\n([A-Z2-9]{8})\n```", body).group(1)  # type: ignore[union-attr]
        self.assertIn(f"```\nopenclaw pairing approve matrix {code}\n```", body)
        self.assertEqual(pairing["content"]["format"], "org.matrix.custom.html")
        self.assertEqual(pairing["content"]["m.mentions"], {})
        self.assertEqual(stack.upstream.requests, [])

        rc, out, err = await stack.cli("pairing", "list", "matrix", "--json")
        self.assertEqual(rc, 0, err)
        import json

        listed = json.loads(out)
        self.assertEqual(listed["channel"], "matrix")
        [request] = listed["requests"]
        self.assertEqual(sorted(request), ["code", "createdAt", "id", "lastSeenAt", "meta"])
        self.assertEqual(request["id"], "@alice:localhost")
        self.assertEqual(request["meta"]["accountId"], "default")

        rc, out, err = await stack.cli("pairing", "approve", "matrix", code)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), [
            "Approved matrix sender @alice:localhost.",
            "Command owner configured matrix:@alice:localhost (commands.ownerAllowFrom was "
            "empty)."])

        stack.upstream.script(openai_text(["Hello ", "**alice**"]))
        seen = len(alice.events)
        await alice.send(room, "what's up?")
        reply = await alice.wait_event(from_bot(room), since=seen)
        self.assertEqual(reply["content"]["body"], "Hello **alice**")
        self.assertEqual(reply["content"]["formatted_body"],
                         "<p>Hello <strong>alice</strong></p>")
        self.assertEqual(stack.upstream.requests[-1].json["messages"][-1]["content"],
                         "what's up?")
        typing = [e for e in alice.events if e.get("type") == "m.typing"]
        self.assertIn(BOT, {user for e in typing for user in e["content"]["user_ids"]})

    async def test_room_message_needs_a_mention(self) -> None:
        server = await self.server()
        alias = f"room-{uuid.uuid4().hex[:8]}"
        stack = await self.boot(server, groupPolicy="allowlist",
                                groupAllowFrom=["@alice:localhost"],
                                groups={f"#{alias}:localhost": {"requireMention": True}})
        alice = await self.person(server, "alice")
        bob = await self.person(server, "bob")
        room = await alice.create_room([BOT, "@bob:localhost"], alias=alias)
        await bob.join(room)
        await alice.wait_event(joined(BOT, room))
        stack.upstream.script(openai_text("pong"), openai_text("pong again"))
        await alice.send(room, "just chatting")
        await alice.send(room, "ocbot: answer this", **{"m.mentions": {"user_ids": [BOT]}})
        await bob.send(room, "ocbot: me too", **{"m.mentions": {"user_ids": [BOT]}})
        # messages of one room are handled in order: this answer comes after bob's message
        await alice.send(room, "ocbot: and this", **{"m.mentions": {"user_ids": [BOT]}})
        await alice.wait_event(lambda e: from_bot(room)(e)
                               and e["content"]["body"] == "pong again")
        self.assertEqual([e["content"]["body"] for e in alice.messages_from(BOT, room)],
                         ["pong", "pong again"])
        notes = [row[0] for row in stack.channels.db.query(
            "SELECT note FROM ingress ORDER BY id")]
        # bob is not in groupAllowFrom
        self.assertEqual(notes, ["missing-mention", "replied", "policy=allowlist", "replied"])

    async def test_invites_follow_the_auto_join_allowlist(self) -> None:
        server = await self.server()
        allowed = f"allowed-{uuid.uuid4().hex[:8]}"
        stack = await self.boot(server, autoJoin="allowlist",
                                autoJoinAllowlist=[f"#{allowed}:localhost"])
        alice = await self.person(server, "alice")
        refused = await alice.create_room([BOT], alias=f"other-{uuid.uuid4().hex[:8]}")
        by_alias = await alice.create_room([BOT], alias=allowed)
        await alice.wait_event(joined(BOT, by_alias))
        self.assertEqual(await alice.members(refused), ["@alice:localhost"])
        by_id = await alice.create_room([BOT])
        config = stack.read_config()
        config["channels"]["matrix"]["autoJoinAllowlist"].append(by_id)
        stack.write_config(config)
        from tests.channels.stack import config_applied

        await config_applied(stack)         # the account restarts and looks again
        await alice.wait_event(joined(BOT, by_id))
        self.assertEqual(await alice.members(refused), ["@alice:localhost"])

    async def test_threads_replies_and_edits(self) -> None:
        server = await self.server()
        stack = await self.boot(server, dm={"policy": "allowlist",
                                            "allowFrom": ["@alice:localhost"]})
        alice = await self.person(server, "alice")
        room = await self.dm(alice)
        root = await alice.send(room, "start a thread")
        stack.upstream.script(openai_text("top level answer"),
                              openai_text("threaded answer"), openai_text("third"))
        first = await alice.wait_event(from_bot(room))
        self.assertNotIn("m.relates_to", first["content"])
        seen = len(alice.events)
        await alice.send(room, "inside the thread", **{"m.relates_to": {
            "rel_type": "m.thread", "event_id": root, "is_falling_back": True,
            "m.in_reply_to": {"event_id": root}}})
        threaded = await alice.wait_event(from_bot(room), since=seen)
        relation = threaded["content"]["m.relates_to"]
        self.assertEqual((relation["rel_type"], relation["event_id"]), ("m.thread", root))
        self.assertEqual(threaded["content"]["body"], "threaded answer")
        # an edit of an earlier message is not a new message
        await alice.send(room, "* start a thread (edited)", **{
            "m.new_content": {"msgtype": "m.text", "body": "start a thread (edited)"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": root}})
        seen = len(alice.events)
        await alice.send(room, "plain again")
        third = await alice.wait_event(from_bot(room), since=seen)
        self.assertEqual(third["content"]["body"], "third")
        sent = [r.json["messages"][-1]["content"] for r in stack.upstream.requests]
        self.assertEqual(sent, ["start a thread", "inside the thread", "plain again"])

    async def test_encrypted_rooms_are_reported_not_supported(self) -> None:
        server = await self.server()
        stack = await self.boot(server, groupPolicy="open")
        alice = await self.person(server, "alice")
        room = await alice.create_room([BOT], encrypted=True)
        await alice.wait_event(joined(BOT, room))
        status = await stack.channels.status()
        issues = [i for i in status["statusIssues"] if room in i["message"]]
        self.assertEqual(len(issues), 1, status["statusIssues"])
        self.assertEqual((issues[0]["channel"], issues[0]["kind"]), ("matrix", "config"))
        self.assertIn("not supported", issues[0]["message"])

    async def test_gateway_restart_resumes_sync_without_losing_or_repeating(self) -> None:
        server = await self.server()
        stack = await self.boot(server, dm={"policy": "allowlist",
                                            "allowFrom": ["@alice:localhost"]})
        alice = await self.person(server, "alice")
        room = await self.dm(alice)
        stack.upstream.script(openai_text("first answer"), openai_text("while you were away"))
        await alice.send(room, "first")
        await alice.wait_event(from_bot(room))
        await stack.stop()
        await alice.send(room, "sent while the gateway was down")
        await stack.start()
        await stack.connected("matrix")
        seen = len(alice.messages_from(BOT))
        reply = await alice.wait_event(lambda e: from_bot(room)(e) and e["content"][
            "body"] == "while you were away")
        self.assertEqual(seen, 1)
        self.assertEqual([r.json["messages"][-1]["content"] for r in stack.upstream.requests],
                         ["first", "sent while the gateway was down"])
        self.assertEqual(reply["content"]["body"], "while you were away")


class MatrixRpcTests(MatrixLiveBase):
    async def test_send_rpc_and_logout(self) -> None:
        server = await self.server()
        stack = await self.boot(server, login=True)
        alice = await self.person(server, "alice")
        room = await self.dm(alice)
        long_text = "\n\n".join(f"paragraph {i} " + "x" * 60 for i in range(4))
        sent = await stack.call("send", {"channel": "matrix", "to": f"room:{room}",
                                         "message": long_text, "idempotencyKey": "mx-1"},
                                ("operator.write",))
        self.assertEqual((sent["channel"], sent["to"], sent["chunks"]), ("matrix", room, 1))
        self.assertTrue(sent["messageId"].startswith("$"), sent)
        event = await alice.wait_event(from_bot(room))
        self.assertEqual(event["event_id"], sent["messageId"])
        self.assertEqual(event["content"]["body"], long_text)
        stored = stack.channels.db.query("SELECT key FROM kv WHERE key = 'login'")
        self.assertEqual(stored, [("login",)])
        out = await stack.call("channels.logout", {"channel": "matrix"})
        self.assertEqual(out, {"channel": "matrix", "accountId": "default", "cleared": True,
                               "loggedOut": True})
        self.assertEqual(stack.channels.db.query("SELECT key FROM kv WHERE key = 'login'"),
                         [])


class MatrixOutageTests(MatrixLiveBase):
    async def test_homeserver_outage_delivers_the_reply_once_after_reconnect(self) -> None:
        server = await self.server(own=True)
        stack = await self.boot(server, dm={"policy": "allowlist",
                                            "allowFrom": ["@alice:localhost"]})
        alice = await self.person(server, "alice")
        room = await self.dm(alice)
        started: Deferred[Any] = Deferred()
        gate: Deferred[None] = Deferred()
        reply = openai_text("written while the homeserver was down")
        reply.started, reply.gate = started, gate
        stack.upstream.script(reply, openai_text("second"))
        first_connection = stack.account("matrix").connection_id
        await alice.send(room, "tell me something")
        await started
        await server.kill()
        gate.callback(None)
        run = await stack.gateway.agents.runtime.wait("matrix-default-1", 20)
        self.assertEqual(run.status, "ok")
        await server.start()
        connection = await stack.connected("matrix")
        self.assertNotEqual(connection, first_connection)
        got = await alice.wait_event(from_bot(room), timeout=40)
        self.assertEqual(got["content"]["body"], "written while the homeserver was down")
        await alice.send(room, "and now?")
        await alice.wait_event(lambda e: from_bot(room)(e)
                               and e["content"]["body"] == "second", timeout=40)
        self.assertEqual([e["content"]["body"] for e in alice.messages_from(BOT, room)],
                         ["written while the homeserver was down", "second"])
