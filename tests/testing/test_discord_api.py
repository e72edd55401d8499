"""The fake Discord over real loopback sockets: REST with treq, the gateway with Autobahn."""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from openclaw.testing.discord_api import (
    CREATE_MESSAGE,
    DM,
    GUILD_TEXT,
    TRIGGER_TYPING,
    DiscordBot,
    DiscordServer,
)
from openclaw.testing.discord_gateway import ApplicationFlags, Intents
from tests.testing.discord_client import GatewayClient, connect
from tests.testing.support import Http, spawn_module

START = 1_765_000_000.0
CHAT_INTENTS = (Intents.GUILDS | Intents.GUILD_MESSAGES | Intents.DIRECT_MESSAGES
                | Intents.MESSAGE_CONTENT)


class DiscordCase(TestCase):
    timeout = 15

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(START)
        self.server = DiscordServer(reactor, clock=self.clock, heartbeat_interval=10.0)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.http = Http()
        self.bot = self.server.add_bot(username="OpenClaw")
        self.alice = self.server.add_user("alice", global_name="Alice")
        self.bob = self.server.add_user("bob")
        self.guild = self.server.add_guild("Test Guild", members=[self.alice, self.bob,
                                                                    self.bot])
        self.general = self.guild.channel("general")
        self.clients: list[GatewayClient] = []
        self.addCleanup(self._close_clients)

    async def _close_clients(self) -> None:
        for client in self.clients:
            if not client.closed.called:
                client.transport.abortConnection()  # type: ignore[union-attr]
            await client.closed

    def api(self, path: str) -> str:
        return f"{self.server.api_base}{path}"

    async def rest(self, method: str, path: str, body: Any = None, *,
                   bot: DiscordBot | None = None, auth: str | None = None
                   ) -> tuple[int, Any, Any]:
        headers = {"Authorization": auth if auth is not None else f"Bot {(bot or self.bot).token}"}
        if auth == "":
            headers = {}
        return await self.http.request(method, self.api(path), json_body=body, headers=headers)

    async def gateway(self, path: str = "/?v=10&encoding=json") -> GatewayClient:
        client = await connect(f"{self.server.gateway_url}{path}")
        self.clients.append(client)
        return client

    async def identified(self, intents: int = CHAT_INTENTS, bot: DiscordBot | None = None
                         ) -> GatewayClient:
        client = await self.gateway()
        hello = await client.frame()
        self.assertEqual(hello["op"], 10)
        client.send(2, {"token": (bot or self.bot).token, "intents": intents,
                        "properties": {"os": "linux", "browser": "openclaw",
                                       "device": "openclaw"}})
        ready = await client.dispatch("READY")
        self.assertEqual(ready["s"], 1)
        if intents & Intents.GUILDS:
            await client.dispatch("GUILD_CREATE")
        return client


class RestTests(DiscordCase):
    async def test_bot_token_auth(self) -> None:
        unauthorized = {"message": "401: Unauthorized", "code": 0}
        for auth in ("", f"Bearer {self.bot.token}", "Bot wrong", self.bot.token):
            status, body, _ = await self.rest("GET", "/users/@me", auth=auth)
            self.assertEqual((status, body), (401, unauthorized), auth)
        status, body, headers = await self.rest("GET", "/users/@me")
        self.assertEqual(status, 200)
        self.assertEqual((body["id"], body["username"], body["bot"]),
                         (self.bot.id, "OpenClaw", True))
        self.assertEqual(headers.getRawHeaders("content-type"), ["application/json"])
        self.assertEqual(headers.getRawHeaders("x-ratelimit-limit"), ["5"])
        self.assertEqual(len(headers.getRawHeaders("x-ratelimit-bucket")[0]), 32)
        self.assertEqual([c.route for c in self.bot.requests], ["GET /users/@me"])

    async def test_application_flags_and_gateway_discovery(self) -> None:
        status, body, _ = await self.rest("GET", "/oauth2/applications/@me")
        self.assertEqual((body["id"], body["flags"]),
                         (self.bot.application_id,
                          ApplicationFlags.GATEWAY_MESSAGE_CONTENT_LIMITED))
        self.assertEqual(body["bot"]["id"], self.bot.id)
        status, body, _ = await self.rest("GET", "/gateway", auth="")
        self.assertEqual((status, body), (200, {"url": self.server.gateway_url}))
        status, body, _ = await self.rest("GET", "/gateway/bot")
        self.assertEqual(body, {"url": f"ws://127.0.0.1:{self.server.port}", "shards": 1,
                                "session_start_limit": {"total": 1000, "remaining": 1000,
                                                        "reset_after": 86400000,
                                                        "max_concurrency": 1}})

    async def test_routes_methods_and_bodies(self) -> None:
        self.assertEqual((await self.rest("GET", "/nothing/here"))[:2],
                         (404, {"message": "404: Not Found", "code": 0}))
        self.assertEqual((await self.rest("PUT", "/users/@me"))[:2],
                         (405, {"message": "405: Method Not Allowed", "code": 0}))
        status, body, _ = await self.http.request(
            "GET", f"http://127.0.0.1:{self.server.port}/api/v6/users/@me",
            headers={"Authorization": f"Bot {self.bot.token}"})
        self.assertEqual(status, 404)
        status, body, _ = await self.http.request(
            "POST", self.api(f"/channels/{self.general.id}/messages"), data=b"{nope",
            headers={"Authorization": f"Bot {self.bot.token}",
                     "Content-Type": "application/json"})
        self.assertEqual((status, body), (400, {
            "message": "The request body contains invalid JSON.", "code": 50109}))

    async def test_channels(self) -> None:
        status, body, _ = await self.rest("GET", f"/channels/{self.general.id}")
        self.assertEqual((body["id"], body["type"], body["guild_id"], body["name"]),
                         (self.general.id, GUILD_TEXT, self.guild.id, "general"))
        self.assertEqual((await self.rest("GET", "/channels/123"))[:2],
                         (404, {"message": "Unknown Channel", "code": 10003}))
        other = self.server.add_guild("Elsewhere", members=[self.alice])
        status, body, _ = await self.rest("GET", f"/channels/{other.channel('general').id}")
        self.assertEqual((status, body), (403, {"message": "Missing Access", "code": 50001}))
        status, body, _ = await self.rest("POST", "/users/@me/channels",
                                          {"recipient_id": self.alice.id})
        self.assertEqual((body["type"], [u["id"] for u in body["recipients"]]),
                         (DM, [self.alice.id]))
        self.assertEqual(body["id"], self.server.dm_channel(self.alice, self.bot).id)
        self.assertEqual((await self.rest("POST", "/users/@me/channels",
                                          {"recipient_id": "1"}))[:2],
                         (400, {"message": "Invalid Recipient(s)", "code": 50033}))
        roles = (await self.rest("GET", f"/guilds/{self.guild.id}/roles"))[1]
        self.assertEqual([r["name"] for r in roles], ["@everyone", "OpenClaw"])
        member = (await self.rest("GET", f"/guilds/{self.guild.id}/members/{self.bot.id}"))[1]
        self.assertEqual(member["roles"], [roles[1]["id"]])

    async def test_create_edit_delete_messages(self) -> None:
        asked = self.server.post_message(self.alice, self.general, f"{self.bot.mention} hi")
        status, body, _ = await self.rest(
            "POST", f"/channels/{self.general.id}/messages",
            {"content": f"hello {self.alice.mention}", "nonce": "n1",
             "message_reference": {"message_id": asked["id"]}})
        self.assertEqual(status, 200)
        self.assertEqual((body["type"], body["content"], body["nonce"], body["author"]["id"]),
                         (19, f"hello <@{self.alice.id}>", "n1", self.bot.id))
        self.assertEqual(body["message_reference"], {
            "type": 0, "channel_id": self.general.id, "message_id": asked["id"],
            "guild_id": self.guild.id})
        self.assertEqual(body["referenced_message"]["content"], f"<@{self.bot.id}> hi")
        self.assertEqual([u["id"] for u in body["mentions"]], [self.alice.id])
        self.assertTrue(body["timestamp"].startswith("2025-12-06T"))
        self.assertGreater(int(body["id"]), int(asked["id"]))
        posted = await self.bot.sent.next()
        self.assertEqual((posted.channel_id, posted.content, posted.reply_to),
                         (self.general.id, f"hello <@{self.alice.id}>", asked["id"]))
        status, edited, _ = await self.rest(
            "PATCH", f"/channels/{self.general.id}/messages/{body['id']}", {"content": "bye"})
        self.assertEqual((edited["content"], edited["edited_timestamp"] is not None),
                         ("bye", True))
        edit = await self.bot.edits.next()
        self.assertEqual((edit.previous_content, edit.content),
                         (f"hello <@{self.alice.id}>", "bye"))
        self.assertEqual((await self.rest("PATCH", f"/channels/{self.general.id}/messages/"
                                                   f"{asked['id']}", {"content": "x"}))[:2],
                         (403, {"message": "Cannot edit a message authored by another user",
                                "code": 50005}))
        self.assertEqual((await self.rest("PATCH", f"/channels/{self.general.id}/messages/1",
                                          {"content": "x"}))[:2],
                         (404, {"message": "Unknown Message", "code": 10008}))
        status, _, _ = await self.rest("PUT", f"/channels/{self.general.id}/messages/"
                                              f"{asked['id']}/reactions/%F0%9F%91%80/@me")
        self.assertEqual(status, 204)
        self.assertEqual((await self.bot.reactions.next()).emoji, "👀")
        status, _, _ = await self.rest("DELETE",
                                       f"/channels/{self.general.id}/messages/{body['id']}")
        self.assertEqual(status, 204)
        self.assertEqual((await self.bot.deletions.next()).message_id, body["id"])
        history = (await self.rest("GET", f"/channels/{self.general.id}/messages"))[1]
        self.assertEqual([m["id"] for m in history], [asked["id"]])

    async def test_message_bad_input(self) -> None:
        path = f"/channels/{self.general.id}/messages"
        self.assertEqual((await self.rest("POST", path, {"content": ""}))[:2],
                         (400, {"message": "Cannot send an empty message", "code": 50006}))
        self.assertEqual((await self.rest("POST", path, {"content": "x" * 2001}))[:2], (400, {
            "message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]}}}))
        status, body, _ = await self.rest("POST", path, {"content": "x",
                                                         "message_reference": {"message_id": "9"}})
        self.assertEqual((status, body["errors"]), (400, {"message_reference": {"_errors": [
            {"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]}}))
        status, body, _ = await self.rest("POST", path, {
            "content": "x", "message_reference": {"message_id": "9",
                                                  "fail_if_not_exists": False}})
        self.assertEqual((status, body["type"]), (200, 0))
        status, body, _ = await self.rest("POST", path, {"content": "x" * 2000})
        self.assertEqual(status, 200)
        self.assertEqual(len(self.bot.sent), 2)

    async def test_application_commands(self) -> None:
        app = self.bot.application_id
        commands = [{"name": "status", "description": "Show status", "type": 1},
                    {"name": "help", "description": "Help"}]
        status, body, _ = await self.rest("PUT", f"/applications/{app}/commands", commands)
        self.assertEqual((status, [c["name"] for c in body]), (200, ["status", "help"]))
        self.assertEqual({c["application_id"] for c in body}, {app})
        listed = (await self.rest("GET", f"/applications/{app}/commands"))[1]
        self.assertEqual([c["id"] for c in listed], [c["id"] for c in body])
        status, created, _ = await self.rest("POST", f"/applications/{app}/commands",
                                             {"name": "ask", "description": "Ask"})
        self.assertEqual(status, 201)
        status, edited, _ = await self.rest(
            "PATCH", f"/applications/{app}/commands/{created['id']}", {"description": "Ask!"})
        self.assertEqual((status, edited["id"], edited["description"]),
                         (200, created["id"], "Ask!"))
        status, _, _ = await self.rest("DELETE", f"/applications/{app}/commands/{created['id']}")
        self.assertEqual(status, 204)
        self.assertEqual((await self.rest("DELETE", f"/applications/{app}/commands/1"))[:2],
                         (404, {"message": "Unknown application command", "code": 10063}))
        status, body, _ = await self.rest("PUT", f"/applications/{app}/commands",
                                          [{"name": "Bad Name", "description": "x"}])
        self.assertEqual((status, body["code"], list(body["errors"])), (400, 50035, ["0"]))
        self.assertEqual((await self.rest("GET", "/applications/1/commands"))[0], 403)
        guild_path = f"/applications/{app}/guilds/{self.guild.id}/commands"
        self.assertEqual((await self.rest("PUT", guild_path, [commands[0]]))[1][0]["guild_id"],
                         self.guild.id)
        self.assertEqual(len(self.bot.commands["global"]), 2)
        await self.rest("GET", "/no/such/route")
        self.assertEqual((self.bot.requests[-1].path, self.bot.requests[-1].status),
                         ("/no/such/route", 404))

    async def test_typing(self) -> None:
        status, body, _ = await self.rest("POST", f"/channels/{self.general.id}/typing")
        self.assertEqual((status, body), (204, None))
        typing = await self.bot.typing.next()
        self.assertEqual((typing.channel_id, typing.at), (self.general.id, START))

    async def test_rate_limit_429_and_headers(self) -> None:
        path = f"/channels/{self.general.id}/messages"
        self.server.rate_limit(CREATE_MESSAGE, retry_after=1.5)
        status, body, headers = await self.rest("POST", path, {"content": "hi"})
        self.assertEqual((status, body), (429, {"message": "You are being rate limited.",
                                                "retry_after": 1.5, "global": False}))
        got = {name: headers.getRawHeaders(name) for name in (
            "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
            "x-ratelimit-reset-after", "x-ratelimit-scope", "x-ratelimit-global")}
        bucket = headers.getRawHeaders("x-ratelimit-bucket")[0]
        self.assertEqual(got, {"retry-after": ["2"], "x-ratelimit-limit": ["5"],
                               "x-ratelimit-remaining": ["0"],
                               "x-ratelimit-reset": [f"{START + 1.5:.3f}"],
                               "x-ratelimit-reset-after": ["1.500"],
                               "x-ratelimit-scope": ["user"], "x-ratelimit-global": None})
        self.clock.advance(1.0)
        status, body, _ = await self.rest("POST", path, {"content": "hi"})
        self.assertEqual((status, body["retry_after"]), (429, 0.5))
        # Other routes are not in the bucket.
        self.assertEqual((await self.rest("POST", f"/channels/{self.general.id}/typing"))[0],
                         204)
        self.clock.advance(0.5)
        status, body, headers = await self.rest("POST", path, {"content": "hi"})
        self.assertEqual(status, 200)
        self.assertEqual(headers.getRawHeaders("x-ratelimit-bucket"), [bucket])
        self.assertEqual([(c.route, c.status) for c in self.bot.requests],
                         [(CREATE_MESSAGE, 429), (CREATE_MESSAGE, 429), (TRIGGER_TYPING, 204),
                          (CREATE_MESSAGE, 200)])
        self.server.rate_limit(None, retry_after=3.0, is_global=True)
        status, body, headers = await self.rest("GET", "/users/@me")
        self.assertEqual((status, body["global"], headers.getRawHeaders("x-ratelimit-global"),
                          headers.getRawHeaders("x-ratelimit-scope")),
                         (429, True, ["true"], ["global"]))
        self.assertEqual((await self.rest("GET", "/gateway/bot"))[0], 429)
        self.server.fail(CREATE_MESSAGE, 500, {"message": "500: Internal Server Error",
                                               "code": 0})
        self.clock.advance(3.0)
        self.assertEqual((await self.rest("POST", path, {"content": "hi"}))[:2],
                         (500, {"message": "500: Internal Server Error", "code": 0}))

    async def test_route_limits_when_enforced(self) -> None:
        self.server.enforce_route_limits = True
        path = f"/channels/{self.general.id}/typing"
        remaining = []
        for _ in range(5):
            status, _, headers = await self.rest("POST", path)
            remaining.append(headers.getRawHeaders("x-ratelimit-remaining")[0])
        self.assertEqual(remaining, ["4", "3", "2", "1", "0"])
        self.clock.advance(2.0)
        status, body, headers = await self.rest("POST", path)
        self.assertEqual((status, body["retry_after"], headers.getRawHeaders("retry-after")),
                         (429, 3.0, ["3"]))
        self.clock.advance(3.0)
        self.assertEqual((await self.rest("POST", path))[0], 204)

    async def test_rest_reads_blank_content_without_the_app_flag(self) -> None:
        plain = self.server.add_bot(username="Plain", flags=0)
        self.server.add_member(self.guild, plain)
        self.server.post_message(self.alice, self.general, "secret")
        self.server.post_message(self.alice, self.general, f"{plain.mention} for you")
        history = (await self.rest("GET", f"/channels/{self.general.id}/messages",
                                   bot=plain))[1]
        self.assertEqual([m["content"] for m in history], [f"<@{plain.id}> for you", ""])
        dm = self.server.dm(self.alice, plain, "private")
        message = (await self.rest("GET", f"/channels/{dm['channel_id']}/messages/{dm['id']}",
                                   bot=plain))[1]
        self.assertEqual(message["content"], "private")


class GatewayTests(DiscordCase):
    async def test_hello_heartbeat_identify_ready(self) -> None:
        client = await self.gateway()
        hello = await client.frame()
        self.assertEqual((hello["op"], hello["d"]["heartbeat_interval"], hello["s"]),
                         (10, 10000, None))
        client.send(1, None)
        self.assertEqual(await client.frame(), {"op": 11, "s": None, "t": None, "d": None})
        client.send(2, {"token": self.bot.token, "intents": CHAT_INTENTS,
                        "properties": {"os": "linux", "browser": "x", "device": "x"}})
        ready = await client.frame()
        self.assertEqual((ready["op"], ready["t"], ready["s"]), (0, "READY", 1))
        data = ready["d"]
        self.assertEqual((data["v"], data["user"]["id"], data["user"]["bot"]),
                         (10, self.bot.id, True))
        self.assertEqual(data["resume_gateway_url"], self.server.resume_gateway_url)
        self.assertEqual(data["guilds"], [{"id": self.guild.id, "unavailable": True}])
        self.assertEqual(data["application"], {"id": self.bot.application_id,
                                               "flags": self.bot.flags})
        guild = await client.frame()
        self.assertEqual((guild["t"], guild["s"], guild["d"]["id"], guild["d"]["unavailable"]),
                         ("GUILD_CREATE", 2, self.guild.id, False))
        self.assertEqual([c["name"] for c in guild["d"]["channels"]], ["general"])
        connection = self.server.connections[0]
        session = await connection.identified
        self.assertEqual((session.session_id, session.intents), (data["session_id"],
                                                                  CHAT_INTENTS))
        self.assertEqual((connection.path, connection.query),
                         ("/", {"v": "10", "encoding": "json"}))
        client.send(1, 2)
        self.assertEqual((await client.frame())["op"], 11)
        self.assertEqual(connection.heartbeats, 2)

    async def test_message_create_dispatches(self) -> None:
        client = await self.identified()
        role = self.server.add_role(self.guild, "Helpers", members=[self.bob])
        said = self.server.post_message(self.alice, self.general,
                                        f"{self.bot.mention} and {role.mention} look")
        frame = await client.dispatch("MESSAGE_CREATE")
        self.assertEqual(frame["s"], 3)
        message = frame["d"]
        self.assertEqual((message["id"], message["guild_id"], message["content"]),
                         (said["id"], self.guild.id, said["content"]))
        self.assertEqual(message["author"]["id"], self.alice.id)
        self.assertEqual(message["member"]["roles"], [])
        self.assertEqual([(u["id"], "member" in u) for u in message["mentions"]],
                         [(self.bot.id, True)])
        self.assertEqual(message["mention_roles"], [role.id])
        dm = self.server.dm(self.alice, self.bot, "psst")
        frame = await client.dispatch("MESSAGE_CREATE")
        self.assertEqual((frame["s"], frame["d"]["id"], "guild_id" in frame["d"]),
                         (4, dm["id"], False))
        # The bot's own REST messages come back to it, like on Discord.
        status, posted, _ = await self.rest("POST", f"/channels/{self.general.id}/messages",
                                            {"content": "mine"})
        frame = await client.dispatch("MESSAGE_CREATE")
        self.assertEqual((frame["d"]["id"], frame["d"]["author"]["id"]),
                         (posted["id"], self.bot.id))
        self.server.edit_message(said, "edited")
        frame = await client.dispatch("MESSAGE_UPDATE")
        self.assertEqual((frame["d"]["content"], frame["s"]), ("edited", 6))
        random = self.server.add_channel(self.guild, "random")
        frame = await client.dispatch("CHANNEL_CREATE")
        self.assertEqual((frame["d"]["id"], frame["d"]["name"]), (random.id, "random"))
        received = self.server.connections[0].received
        self.assertEqual(await received.next(), {"op": 2, "d": {
            "token": self.bot.token, "intents": CHAT_INTENTS,
            "properties": {"os": "linux", "browser": "openclaw", "device": "openclaw"}}})
        heartbeat = received.wait_for(lambda payload: payload["op"] == 1)
        client.send(1, 7)
        self.assertEqual(await heartbeat, {"op": 1, "d": 7})

    async def test_intents_select_dispatches_and_blank_content(self) -> None:
        client = await self.identified(Intents.GUILDS | Intents.GUILD_MESSAGES)
        self.server.dm(self.alice, self.bot, "not for this session")  # no DIRECT_MESSAGES
        self.server.post_message(self.alice, self.general, "unmentioned")
        self.server.post_message(self.alice, self.general, f"{self.bot.mention} mentioned")
        replied_to = (await self.rest("POST", f"/channels/{self.general.id}/messages",
                                      {"content": "own"}))[1]
        self.server.post_message(self.bob, self.general, "a reply", reply_to=replied_to)
        self.server.post_message(self.bob, self.general, "a silent reply",
                                 reply_to=replied_to, reply_ping=False)
        contents = [(await client.dispatch("MESSAGE_CREATE"))["d"]["content"]
                    for _ in range(5)]
        self.assertEqual(contents, ["", f"<@{self.bot.id}> mentioned", "own", "a reply", ""])

    async def test_close_codes(self) -> None:
        plain = self.server.add_bot(username="Plain", flags=0)
        cases: list[tuple[str, Any, int, str]] = [
            ("/?v=10&encoding=json", {"op": 2, "d": {"token": "nope", "intents": 0}},
             4004, "Authentication failed."),
            ("/?v=10&encoding=json", {"op": 2, "d": {"token": plain.token,
                                                     "intents": Intents.MESSAGE_CONTENT}},
             4014, "Disallowed intent(s)."),
            ("/?v=10&encoding=json", {"op": 2, "d": {"token": plain.token,
                                                     "intents": 1 << 18}},
             4013, "Invalid intent(s)."),
            ("/?v=10&encoding=json", {"op": 3, "d": {}}, 4003, "Not authenticated."),
            ("/?v=10&encoding=json", {"op": 5, "d": None}, 4001, "Unknown opcode."),
            ("/?v=10&encoding=json", b"{not json", 4002, "Decode error."),
            ("/?v=10&encoding=json", {"op": 2, "d": {"token": plain.token, "intents": 0,
                                                     "shard": [1, 1]}},
             4010, "Invalid shard."),
            ("/?v=10&encoding=json", {"op": 6, "d": {"token": "nope", "session_id": "x",
                                                     "seq": 1}},
             4004, "Authentication failed."),
        ]
        for path, payload, code, reason in cases:
            client = await self.gateway(path)
            await client.frame()
            if isinstance(payload, bytes):
                client.send_raw(payload)
            else:
                client.send(payload["op"], payload["d"])
            self.assertEqual(await client.closed, (code, reason), payload)
        client = await self.gateway("/?v=8&encoding=json")
        self.assertEqual(await client.closed, (4012, "Invalid API version."))
        client = await self.gateway("/?v=10&encoding=etf")
        code, reason = await client.closed
        self.assertEqual(code, 4002)
        client = await self.identified(0)
        client.send(2, {"token": self.bot.token, "intents": 0})
        self.assertEqual(await client.closed, (4005, "Already authenticated."))
        self.assertEqual([c.close_code for c in self.server.connections],
                         [4004, 4014, 4013, 4003, 4001, 4002, 4010, 4004, 4012, 4002, 4005])

    async def test_missed_heartbeats_close_with_4009(self) -> None:
        client = await self.identified()
        connection = self.server.connections[0]
        self.clock.advance(14.9)
        client.send(1, 2)
        self.assertEqual((await client.frame())["op"], 11)
        self.clock.advance(14.9)  # 1.5 intervals since the last heartbeat: still fine
        self.assertFalse(client.closed.called)
        self.clock.advance(0.1)
        self.assertEqual(await client.closed, (4009, "Session timed out."))
        # The timed-out session cannot be resumed.
        again = await self.gateway("/resume?v=10&encoding=json")
        await again.frame()
        again.send(6, {"token": self.bot.token, "session_id":
                       connection.session.session_id if connection.session else "", "seq": 2})
        self.assertEqual(await again.frame(), {"op": 9, "d": False, "s": None, "t": None})

    async def test_resume_replays_missed_dispatches(self) -> None:
        client = await self.identified()
        first = self.server.connections[0]
        session = await first.identified
        self.server.post_message(self.alice, self.general, "seen")
        seen = await client.dispatch("MESSAGE_CREATE")
        self.assertEqual(self.server.drop_connections(self.bot), [first])
        self.assertEqual((await client.closed)[0], 1006)
        self.assertEqual((await first.closed)[0], 1006)
        self.server.post_message(self.alice, self.general, "missed 1")
        self.server.dm(self.alice, self.bot, "missed 2")
        resumed = await self.gateway("/resume?v=10&encoding=json")
        self.assertEqual((await resumed.frame())["op"], 10)
        resumed.send(6, {"token": self.bot.token, "session_id": session.session_id,
                         "seq": seen["s"]})
        replay = [await resumed.frame() for _ in range(3)]
        self.assertEqual([(f["t"], f["s"]) for f in replay],
                         [("MESSAGE_CREATE", 4), ("MESSAGE_CREATE", 5), ("RESUMED", 6)])
        self.assertEqual([f["d"].get("content") for f in replay[:2]], ["missed 1", "missed 2"])
        second = self.server.connections[1]
        self.assertIs(await second.resumed, session)
        self.assertEqual(second.path, "/resume")
        self.server.post_message(self.alice, self.general, "live again")
        frame = await resumed.dispatch("MESSAGE_CREATE")
        self.assertEqual((frame["s"], frame["d"]["content"]), (7, "live again"))
        # A close with 4000 (what a restart looks like) is resumable too.
        self.server.drop_connections(code=4000)
        self.assertEqual(await resumed.closed, (4000, "Unknown error."))
        third = await self.gateway("/resume?v=10&encoding=json")
        await third.frame()
        third.send(6, {"token": self.bot.token, "session_id": session.session_id, "seq": 7})
        self.assertEqual((await third.frame())["t"], "RESUMED")

    async def test_bad_resumes(self) -> None:
        client = await self.identified()
        session = await self.server.connections[0].identified
        self.server.drop_connections()
        await client.closed
        too_far = await self.gateway()
        await too_far.frame()
        too_far.send(6, {"token": self.bot.token, "session_id": session.session_id,
                         "seq": 99})
        self.assertEqual(await too_far.closed, (4007, "Invalid seq."))
        unknown = await self.gateway()
        await unknown.frame()
        unknown.send(6, {"token": self.bot.token, "session_id": "nope", "seq": 1})
        self.assertEqual(await unknown.frame(), {"op": 9, "d": False, "s": None, "t": None})
        # The client may identify on the same connection after op 9.
        unknown.send(2, {"token": self.bot.token, "intents": 0})
        self.assertEqual((await unknown.dispatch("READY"))["s"], 1)
        self.clock.advance(self.server.resume_window + 1)
        late = await self.gateway()
        await late.frame()
        late.send(6, {"token": self.bot.token, "session_id": session.session_id, "seq": 2})
        self.assertEqual(await late.frame(), {"op": 9, "d": False, "s": None, "t": None})

    async def test_server_sent_reconnect_and_invalid_session(self) -> None:
        client = await self.identified()
        connection = self.server.connections[0]
        connection.request_reconnect()
        self.assertEqual(await client.frame(), {"op": 7, "d": None, "s": None, "t": None})
        connection.request_heartbeat()
        self.assertEqual((await client.frame())["op"], 1)
        connection.invalidate_session(resumable=True)
        self.assertEqual(await client.frame(), {"op": 9, "d": True, "s": None, "t": None})
        self.assertIsNotNone(connection.session)
        connection.invalidate_session(resumable=False)
        self.assertEqual(await client.frame(), {"op": 9, "d": False, "s": None, "t": None})
        self.assertIsNone(connection.session)
        client.send(2, {"token": self.bot.token, "intents": CHAT_INTENTS})
        ready = await client.dispatch("READY")
        self.assertEqual(len(self.bot.sessions), 2)
        self.assertTrue(self.bot.sessions[0].invalidated)
        self.assertEqual(ready["d"]["session_id"], self.bot.sessions[1].session_id)

    async def test_server_restart_keeps_sessions_resumable(self) -> None:
        client = await self.identified()
        session = await self.server.connections[0].identified
        port = self.server.port
        await self.server.stop()
        code, _ = await client.closed
        self.assertEqual(code, 1006)
        self.server.post_message(self.alice, self.general, "while down")
        self.server.start(None)
        self.assertEqual(self.server.port, port)
        resumed = await self.gateway()
        await resumed.frame()
        resumed.send(6, {"token": self.bot.token, "session_id": session.session_id, "seq": 2})
        frames = [await resumed.frame(), await resumed.frame()]
        self.assertEqual([(f["t"], f["s"]) for f in frames], [("MESSAGE_CREATE", 3),
                                                               ("RESUMED", 4)])

    async def test_too_many_payloads_close_with_4008(self) -> None:
        client = await self.identified()
        for _ in range(121):
            client.send(1, 2)
        code, reason = await client.closed
        self.assertEqual((code, reason), (4008, "Rate limited."))


class ControlAndProcessTests(DiscordCase):
    async def test_control_endpoints(self) -> None:
        client = await self.identified()
        origin = f"http://{self.server.origin}"
        status, body, _ = await self.http.request("POST", f"{origin}/_fake/dm", json_body={
            "user": "alice", "content": "via control"})
        self.assertEqual((status, body["content"]), (200, "via control"))
        self.assertEqual((await client.dispatch("MESSAGE_CREATE"))["d"]["content"],
                         "via control")
        status, body, _ = await self.http.request("POST", f"{origin}/_fake/messages", json_body={
            "user": "bob", "channel_id": self.general.id, "content": "in general"})
        self.assertEqual(body["channel_id"], self.general.id)
        waiting = Deferred.fromCoroutine(self.http.request("GET", f"{origin}/_fake/sent?wait=30"))
        await self.rest("POST", f"/channels/{self.general.id}/messages", {"content": "reply"})
        status, body, _ = await waiting
        self.assertEqual(([m["content"] for m in body["messages"]], body["next"]),
                         (["reply"], 1))
        status, body, _ = await self.http.request("POST", f"{origin}/_fake/gateway/reconnect",
                                                  json_body={})
        self.assertEqual(body, {"connections": 1})
        self.assertEqual((await client.op(7))["d"], None)
        status, body, _ = await self.http.request("POST", f"{origin}/_fake/gateway/drop",
                                                  json_body={"code": 4000})
        self.assertEqual(body, {"dropped": 1})
        self.assertEqual((await client.closed)[0], 4000)
        status, body, _ = await self.http.request("GET", f"{origin}/_fake/state")
        self.assertEqual(body["guilds"][0]["name"], "Test Guild")
        status, body, _ = await self.http.request("POST", f"{origin}/_fake/rate_limit",
                                                  json_body={"retry_after": 0.25})
        self.assertEqual((await self.rest("POST", f"/channels/{self.general.id}/messages",
                                          {"content": "x"}))[1]["retry_after"], 0.25)

    async def test_runs_on_its_own(self) -> None:
        process, output = spawn_module("openclaw.testing.discord_api", "--port", "0")
        self.addCleanup(lambda: output.ended)
        self.addCleanup(process.signalProcess, "TERM")
        banner = await output.line(0)
        self.assertIn("Fake Discord listening on http://127.0.0.1:", banner)
        self.assertTrue((await output.line(1)).startswith("Usage: DISCORD_API_URL="))
        api_base = banner.split("listening on ")[1].split()[0]
        token = banner.split(" token ")[1].split(";")[0]
        status, body, _ = await self.http.request(
            "GET", f"{api_base}/users/@me", headers={"Authorization": f"Bot {token}"})
        self.assertEqual((status, body["username"]), (200, "OpenClaw"))
        status, body, _ = await self.http.request(
            "GET", f"{api_base}/gateway/bot", headers={"Authorization": f"Bot {token}"})
        client = await connect(f"{body['url']}/?v=10&encoding=json")
        self.clients.append(client)
        self.assertEqual((await client.frame())["op"], 10)
