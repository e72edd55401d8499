"""A protocol-faithful local Discord server: REST API v10 (``twisted.web``) and the gateway
WebSocket (Autobahn, see :mod:`openclaw.testing.discord_gateway`) on one loopback port, for
tests and for trying the Discord channel offline (``DISCORD_API_URL``).

Run it on its own::

    python -m openclaw.testing.discord_api --port 8082 [--token ...]

In a test (the reactor is passed in; ``clock`` drives heartbeat deadlines, rate-limit windows,
snowflakes and timestamps and defaults to the reactor)::

    server = DiscordServer(reactor, clock=clock)
    server.start()
    bot = server.add_bot(username="OpenClaw")
    alice = server.add_user("alice")
    guild = server.add_guild("Test Guild", members=[alice, bot])
    server.post_message(alice, guild.channel("general"), f"{bot.mention} hi")
    posted = await bot.sent.next()          # what the bot posted over REST, awaitable
    await server.stop()

Like Discord: ``/api/v10`` routes with ``Authorization: Bot <token>`` (401 ``{"message":
"401: Unauthorized", "code": 0}`` otherwise), JSON error bodies with Discord's codes (10003
Unknown Channel, 10008 Unknown Message, 50006 Cannot send an empty message, 50035 Invalid Form
Body with ``errors``, ...), 404/405 for unknown routes and methods, rate-limit headers
(``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket``) on every answer and, on 429,
``{"message": "You are being rate limited.", "retry_after": <float seconds>, "global": ...}``
with ``Retry-After`` and ``X-RateLimit-Scope`` (plus ``X-RateLimit-Global`` when global).
Snowflake ids, ISO-8601 timestamps, message content blanked for a session without the
MESSAGE_CONTENT intent unless the message is a DM, the bot's own, or mentions the bot. The
bot's own REST messages come back to it as ``MESSAGE_CREATE`` dispatches, as on Discord.

Deviations, on purpose: permissions are not modelled (a member bot may do everything in its
guild); route limits are reported in headers but only enforced with
``enforce_route_limits=True`` (tests inject 429s with :meth:`DiscordServer.rate_limit`); the
gateway speaks JSON only (no ETF, no zlib-stream).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import unquote

import attrs
from autobahn.twisted.resource import WebSocketResource
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from openclaw.testing.discord_gateway import (
    GATEWAY_TRACE,
    PRIVILEGED_INTENTS,
    ApplicationFlags,
    GatewayConnection,
    GatewayFactory,
    GatewaySession,
    Intents,
    Op,
    dispatch_frame,
    new_session_id,
)
from openclaw.testing.loopback import LoopbackListener, TrackingSite
from openclaw.testing.recorder import Recorder

DISCORD_EPOCH_MS = 1_420_070_400_000
MAX_CONTENT = 2000

# Route templates (method + path under /api/v10), for rate_limit() and RestCall.route.
GET_GATEWAY = "GET /gateway"
GET_GATEWAY_BOT = "GET /gateway/bot"
GET_CURRENT_USER = "GET /users/@me"
GET_USER = "GET /users/{user_id}"
GET_CURRENT_APPLICATION = "GET /oauth2/applications/@me"
CREATE_DM = "POST /users/@me/channels"
GET_CURRENT_USER_GUILDS = "GET /users/@me/guilds"
GET_CHANNEL = "GET /channels/{channel_id}"
GET_CHANNEL_MESSAGES = "GET /channels/{channel_id}/messages"
CREATE_MESSAGE = "POST /channels/{channel_id}/messages"
GET_MESSAGE = "GET /channels/{channel_id}/messages/{message_id}"
EDIT_MESSAGE = "PATCH /channels/{channel_id}/messages/{message_id}"
DELETE_MESSAGE = "DELETE /channels/{channel_id}/messages/{message_id}"
TRIGGER_TYPING = "POST /channels/{channel_id}/typing"
ADD_REACTION = "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
REMOVE_REACTION = "DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
GET_GUILD = "GET /guilds/{guild_id}"
GET_GUILD_CHANNELS = "GET /guilds/{guild_id}/channels"
GET_GUILD_ROLES = "GET /guilds/{guild_id}/roles"
GET_GUILD_MEMBER = "GET /guilds/{guild_id}/members/{user_id}"
GET_COMMANDS = "GET /applications/{application_id}/commands"
OVERWRITE_COMMANDS = "PUT /applications/{application_id}/commands"
CREATE_COMMAND = "POST /applications/{application_id}/commands"
EDIT_COMMAND = "PATCH /applications/{application_id}/commands/{command_id}"
DELETE_COMMAND = "DELETE /applications/{application_id}/commands/{command_id}"
GET_GUILD_COMMANDS = "GET /applications/{application_id}/guilds/{guild_id}/commands"
OVERWRITE_GUILD_COMMANDS = "PUT /applications/{application_id}/guilds/{guild_id}/commands"

GUILD_TEXT = 0
DM = 1
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19


class DiscordApiError(Exception):
    """An error answer: HTTP ``status`` with Discord's JSON ``body``."""

    def __init__(self, status: int, message: str, code: int = 0,
                 errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors


def form_error(field: str, code: str, message: str) -> DiscordApiError:
    """50035 Invalid Form Body with one field error, in Discord's nested ``errors`` shape."""
    return DiscordApiError(400, "Invalid Form Body", 50035,
                           {field: {"_errors": [{"code": code, "message": message}]}})


def unknown(what: str, code: int) -> DiscordApiError:
    return DiscordApiError(404, f"Unknown {what}", code)


# --- the world -------------------------------------------------------------------------------


@attrs.define(eq=False)
class DiscordUser:
    id: str
    username: str
    global_name: str | None = None
    bot: bool = False
    discriminator: str = "0"

    def as_json(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "username": self.username, "avatar": None,
                                "discriminator": self.discriminator, "public_flags": 0,
                                "flags": 0, "global_name": self.global_name}
        if self.bot:
            user["bot"] = True
        return user

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@attrs.define(eq=False)
class DiscordRole:
    id: str
    name: str
    position: int = 0
    permissions: str = "0"
    managed: bool = False
    mentionable: bool = True
    color: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "color": self.color,
                "colors": {"primary_color": self.color, "secondary_color": None,
                           "tertiary_color": None},
                "hoist": False, "icon": None, "unicode_emoji": None,
                "position": self.position, "permissions": self.permissions,
                "managed": self.managed, "mentionable": self.mentionable, "flags": 0}

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@attrs.define(eq=False)
class GuildMember:
    user: DiscordUser
    roles: list[str]
    joined_at: str
    nick: str | None = None

    def as_json(self, with_user: bool = True) -> dict[str, Any]:
        member: dict[str, Any] = {"roles": list(self.roles), "nick": self.nick, "avatar": None,
                                  "banner": None, "premium_since": None, "pending": False,
                                  "joined_at": self.joined_at, "mute": False, "deaf": False,
                                  "flags": 0, "communication_disabled_until": None}
        if with_user:
            member["user"] = self.user.as_json()
        return member


@attrs.define(eq=False)
class DiscordChannel:
    id: str
    type: int
    name: str | None = None
    guild: DiscordGuild | None = None
    recipients: list[DiscordUser] = attrs.Factory(list)
    position: int = 0
    topic: str | None = None
    last_message_id: str | None = None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def as_json(self, viewer: DiscordUser | None = None) -> dict[str, Any]:
        if self.type == DM:
            others = [u for u in self.recipients if viewer is None or u.id != viewer.id]
            return {"id": self.id, "type": DM, "last_message_id": self.last_message_id,
                    "flags": 0, "recipients": [u.as_json() for u in others]}
        assert self.guild is not None
        return {"id": self.id, "type": self.type, "guild_id": self.guild.id, "name": self.name,
                "position": self.position, "permission_overwrites": [], "parent_id": None,
                "nsfw": False, "topic": self.topic, "rate_limit_per_user": 0,
                "last_message_id": self.last_message_id, "flags": 0}


@attrs.define(eq=False)
class DiscordGuild:
    id: str
    name: str
    owner_id: str
    created_at: str
    roles: dict[str, DiscordRole] = attrs.Factory(dict)
    members: dict[str, GuildMember] = attrs.Factory(dict)
    channels: list[DiscordChannel] = attrs.Factory(list)

    def channel(self, name: str) -> DiscordChannel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(f"no channel #{name} in {self.name}")

    def role(self, name: str) -> DiscordRole:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"no role {name} in {self.name}")

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "icon": None, "splash": None,
                "discovery_splash": None, "owner_id": self.owner_id, "afk_channel_id": None,
                "afk_timeout": 300, "verification_level": 0,
                "default_message_notifications": 0, "explicit_content_filter": 0,
                "roles": [r.as_json() for r in self.roles.values()], "emojis": [],
                "features": [], "mfa_level": 0, "system_channel_id": None,
                "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None,
                "description": None, "banner": None, "premium_tier": 0,
                "preferred_locale": "en-US", "public_updates_channel_id": None,
                "nsfw_level": 0, "stickers": [], "premium_progress_bar_enabled": False}


@attrs.define(eq=False)
class RestCall:
    """One REST request; ``status`` is filled in when it is answered."""

    method: str
    path: str
    route: str | None
    body: Any
    at: float
    status: int | None = None


@attrs.define(eq=False)
class PostedMessage:
    """A message the bot created over REST (``body`` is what it posted)."""

    channel_id: str
    message_id: str
    content: str
    message: dict[str, Any]
    body: dict[str, Any]
    at: float

    @property
    def reply_to(self) -> str | None:
        reference = self.message.get("message_reference")
        return reference.get("message_id") if reference else None


@attrs.define(eq=False)
class EditedDiscordMessage:
    channel_id: str
    message_id: str
    content: str
    previous_content: str
    message: dict[str, Any]
    at: float


@attrs.define(eq=False)
class DeletedDiscordMessage:
    channel_id: str
    message_id: str
    at: float


@attrs.define(eq=False)
class TypingCall:
    channel_id: str
    at: float


@attrs.define(eq=False)
class ReactionCall:
    channel_id: str
    message_id: str
    emoji: str
    removed: bool
    at: float


@attrs.define(eq=False)
class DiscordBot:
    """One application with its bot user, and what the tests can observe about it."""

    token: str
    user: DiscordUser
    application_id: str
    application_name: str
    flags: int
    requests: Recorder[RestCall] = attrs.Factory(Recorder)
    sent: Recorder[PostedMessage] = attrs.Factory(Recorder)
    edits: Recorder[EditedDiscordMessage] = attrs.Factory(Recorder)
    deletions: Recorder[DeletedDiscordMessage] = attrs.Factory(Recorder)
    typing: Recorder[TypingCall] = attrs.Factory(Recorder)
    reactions: Recorder[ReactionCall] = attrs.Factory(Recorder)
    sessions: list[GatewaySession] = attrs.Factory(list)
    session_start_remaining: int = 1000
    # Application commands: "global" or a guild id -> the registered commands.
    commands: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def mention(self) -> str:
        return self.user.mention

    def recorders(self) -> list[Recorder[Any]]:
        return [value for value in attrs.asdict(self, recurse=False).values()
                if isinstance(value, Recorder)]

    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if not s.invalidated]


@attrs.define(eq=False)
class _Stored:
    message: dict[str, Any]
    channel: DiscordChannel
    author: DiscordUser


@attrs.define(eq=False)
class _Injected:
    route: str | None
    count: int
    retry_after: float
    scope: str
    is_global: bool
    major: str | None
    status: int = 429
    body: dict[str, Any] | None = None


@attrs.define(eq=False)
class _Window:
    until: float
    scope: str
    is_global: bool


# --- the server ----------------------------------------------------------------------------


class DiscordServer:
    """The fake Discord. Build the world with ``add_bot``/``add_user``/``add_guild``/
    ``add_channel``/``add_role``/``add_member``, inject what users do with ``post_message``/
    ``dm``/``edit_message``, observe the bot through :class:`DiscordBot` recorders and the
    gateway through :attr:`connections`."""

    def __init__(self, reactor: Any, *, clock: IReactorTime | None = None,
                 host: str = "127.0.0.1", heartbeat_interval: float = 41.25,
                 heartbeat_timeout: float | None = None, resume_window: float = 120.0,
                 route_limit: int = 5, route_window: float = 5.0,
                 enforce_route_limits: bool = False) -> None:
        """``heartbeat_interval`` (seconds) goes out in Hello; a connection that does not
        heartbeat within ``heartbeat_timeout`` (default 1.5 intervals) is closed with 4009.
        A dropped session can be resumed for ``resume_window`` seconds."""
        self.reactor = reactor
        self.clock: IReactorTime = clock if clock is not None else cast(IReactorTime, reactor)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = (heartbeat_timeout if heartbeat_timeout is not None
                                  else heartbeat_interval * 1.5)
        self.resume_window = resume_window
        self.route_limit = route_limit
        self.route_window = route_window
        self.enforce_route_limits = enforce_route_limits
        self.bots: dict[str, DiscordBot] = {}
        self.users: dict[str, DiscordUser] = {}
        self.guilds: dict[str, DiscordGuild] = {}
        self.channels: dict[str, DiscordChannel] = {}
        self.messages: dict[str, _Stored] = {}
        self.connections: Recorder[GatewayConnection] = Recorder(reactor)
        self._last_snowflake = 0
        self._injected: list[_Injected] = []
        self._windows: dict[tuple[str, str | None], _Window] = {}
        self._global_window: _Window | None = None
        self._usage: dict[tuple[str, str | None], tuple[float, int]] = {}
        self.gateway = GatewayFactory(self)
        self.site = TrackingSite(_Root(self))
        self.listener = LoopbackListener(reactor, self.site, host)

    # -- lifecycle

    def start(self, port: int | None = 0) -> int:
        """Listen on loopback; ``port=None`` reuses the previous port (after :meth:`stop`)."""
        return self.listener.listen(port)

    async def stop(self) -> None:
        """Stop listening, drop every REST and gateway connection. Sessions stay resumable
        (within ``resume_window``), so :meth:`start` with ``port=None`` is a server restart."""
        self.gateway.abort_all()
        await self.listener.stop()

    async def restart(self) -> None:
        await self.stop()
        self.start(None)

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def origin(self) -> str:
        return f"{self.listener.host}:{self.listener.port}"

    @property
    def api_base(self) -> str:
        """The value for ``DISCORD_API_URL``."""
        return f"http://{self.origin}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.origin}"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self.origin}/resume"

    def now(self) -> float:
        return self.clock.seconds()

    def timestamp(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).isoformat(timespec="microseconds")

    def snowflake(self) -> str:
        """A Discord id: milliseconds since 2015 in the high bits, always increasing."""
        elapsed = max(int(self.now() * 1000) - DISCORD_EPOCH_MS, 0)
        value = max(elapsed << 22, self._last_snowflake + 1)
        self._last_snowflake = value
        return str(value)

    # -- building the world

    def add_bot(self, token: str | None = None, *, username: str = "OpenClaw",
                application_name: str | None = None,
                flags: int = ApplicationFlags.GATEWAY_MESSAGE_CONTENT_LIMITED) -> DiscordBot:
        """An application with a bot user. ``flags`` are the application flags: by default
        the MESSAGE_CONTENT intent is enabled ("limited", as for a bot in < 100 servers);
        ``flags=0`` makes identifying with MESSAGE_CONTENT fail with 4014."""
        user = DiscordUser(self.snowflake(), username, bot=True,
                           discriminator=f"{len(self.bots) + 1:04d}")
        if token is None:
            encoded = base64.urlsafe_b64encode(user.id.encode()).decode().rstrip("=")
            token = f"{encoded}.GfAKE0.{hashlib.sha256(user.id.encode()).hexdigest()[:38]}"
        bot = DiscordBot(token, user, user.id, application_name or username, flags)
        for recorder in bot.recorders():
            recorder.use_reactor(self.reactor)
        self.bots[token] = bot
        self.users[user.id] = user
        return bot

    def add_user(self, username: str, *, global_name: str | None = None,
                 bot: bool = False) -> DiscordUser:
        user = DiscordUser(self.snowflake(), username, global_name, bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, *, members: Iterable[DiscordUser | DiscordBot] = (),
                  channels: Iterable[str] = ("general",),
                  owner: DiscordUser | None = None) -> DiscordGuild:
        """A guild with an ``@everyone`` role, text channels and members; a bot member gets
        its managed role, as when Discord adds a bot."""
        guild_id = self.snowflake()
        member_list = list(members)
        owner_user = owner or next((_user_of(m) for m in member_list if not _user_of(m).bot),
                                   None)
        guild = DiscordGuild(guild_id, name, owner_user.id if owner_user else "0",
                             self.timestamp())
        guild.roles[guild_id] = DiscordRole(guild_id, "@everyone", permissions="1071698660929",
                                            mentionable=False)
        self.guilds[guild_id] = guild
        for channel_name in channels:
            self.add_channel(guild, channel_name)
        for member in member_list:
            self.add_member(guild, member)
        return guild

    def add_channel(self, guild: DiscordGuild, name: str, *, topic: str | None = None
                    ) -> DiscordChannel:
        channel = DiscordChannel(self.snowflake(), GUILD_TEXT, name, guild,
                                 position=len(guild.channels), topic=topic)
        guild.channels.append(channel)
        self.channels[channel.id] = channel
        self._dispatch_guild(guild, "CHANNEL_CREATE", lambda _s: channel.as_json(),
                             Intents.GUILDS)
        return channel

    def add_role(self, guild: DiscordGuild, name: str, *,
                 members: Iterable[DiscordUser | DiscordBot] = (),
                 managed: bool = False) -> DiscordRole:
        role = DiscordRole(self.snowflake(), name, position=len(guild.roles), managed=managed)
        guild.roles[role.id] = role
        for member in members:
            guild.members[_user_of(member).id].roles.append(role.id)
        return role

    def add_member(self, guild: DiscordGuild, member: DiscordUser | DiscordBot, *,
                   roles: Iterable[DiscordRole] = (), nick: str | None = None) -> GuildMember:
        user = _user_of(member)
        entry = GuildMember(user, [r.id for r in roles], self.timestamp(), nick)
        guild.members[user.id] = entry
        if isinstance(member, DiscordBot):
            managed = self.add_role(guild, member.application_name, managed=True)
            entry.roles.append(managed.id)
            for session in self._sessions_of(member, Intents.GUILDS):
                dispatch_frame(session, "GUILD_CREATE", self._guild_create(guild, member))
        return entry

    def dm_channel(self, user: DiscordUser, bot: DiscordBot) -> DiscordChannel:
        """The DM channel between a user and a bot (created on first use)."""
        for channel in self.channels.values():
            if channel.type == DM and {u.id for u in channel.recipients} == {user.id, bot.id}:
                return channel
        channel = DiscordChannel(self.snowflake(), DM, recipients=[user, bot.user])
        self.channels[channel.id] = channel
        return channel

    # -- what users do

    def post_message(self, author: DiscordUser | DiscordBot, channel: DiscordChannel,
                     content: str, *, reply_to: Any = None, reply_ping: bool = True,
                     attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A message from a user (or another bot): ``<@id>``/``<@&id>``/``@everyone`` in
        ``content`` become ``mentions``/``mention_roles``/``mention_everyone``; a reply pings
        the replied-to author unless ``reply_ping=False``. Every bot that can see the channel
        gets ``MESSAGE_CREATE``. Returns the message as the REST API shows it."""
        user = _user_of(author)
        target = self._reply_target(channel, reply_to) if reply_to is not None else None
        mentions = self._parse_mentions(channel, content)
        if target is not None and reply_ping and target.author.id not in {
                u.id for u in mentions[0]}:
            mentions[0].append(target.author)
        stored = self._store_message(channel, user, content, mentions, target, attachments)
        self._dispatch_message("MESSAGE_CREATE", stored)
        return _copy(stored.message)

    def dm(self, user: DiscordUser, bot: DiscordBot, content: str, *, reply_to: Any = None
           ) -> dict[str, Any]:
        """A direct message from ``user`` to ``bot``."""
        return self.post_message(user, self.dm_channel(user, bot), content, reply_to=reply_to)

    def edit_message(self, message: Mapping[str, Any], content: str) -> dict[str, Any]:
        """The author edits a message: ``MESSAGE_UPDATE`` for every bot that can see it."""
        stored = self.messages[str(message["id"])]
        stored.message.update(content=content, edited_timestamp=self.timestamp())
        users, roles, everyone = self._parse_mentions(stored.channel, content)
        stored.message.update(mentions=[u.as_json() for u in users], mention_roles=roles,
                              mention_everyone=everyone)
        self._dispatch_message("MESSAGE_UPDATE", stored)
        return _copy(stored.message)

    def rate_limit(self, route: str | None = CREATE_MESSAGE, *, retry_after: float = 1.0,
                   count: int = 1, scope: str = "user", is_global: bool = False,
                   major: str | None = None) -> None:
        """Answer the next ``count`` requests on ``route`` (a template such as
        :data:`CREATE_MESSAGE`; ``None`` for any route) with 429 and ``retry_after``; requests
        in that bucket (or, global, any request) before the wait is over are refused too.
        ``major`` limits it to one channel or guild id."""
        self._injected.append(_Injected(route, count, retry_after, scope, is_global, major))

    def fail(self, route: str | None, status: int, body: dict[str, Any], *,
             count: int = 1) -> None:
        """Answer the next ``count`` requests on ``route`` with any status and JSON body."""
        self._injected.append(_Injected(route, count, 0.0, "user", False, None, status, body))

    def drop_connections(self, bot: DiscordBot | None = None, *, code: int | None = None
                         ) -> list[GatewayConnection]:
        """Drop the bot's open gateway connections (all bots' if None): cut the TCP connection,
        or close with ``code`` (4000 is resumable). Returns the connections dropped."""
        dropped: list[GatewayConnection] = []
        for protocol in list(self.gateway.live):
            connection = protocol.connection
            if connection is None or not connection.is_open:
                continue
            if bot is not None and (connection.session is None
                                    or connection.session.bot is not bot):
                continue
            dropped.append(connection)
            if code is None:
                connection.drop()
            else:
                connection.close(code)
        return dropped

    def open_connections(self, bot: DiscordBot | None = None) -> list[GatewayConnection]:
        found = []
        for protocol in self.gateway.live:
            connection = protocol.connection
            if connection is not None and connection.is_open and (
                    bot is None or (connection.session is not None
                                    and connection.session.bot is bot)):
                found.append(connection)
        return found

    # -- internals: messages

    def _reply_target(self, channel: DiscordChannel, reply_to: Any) -> _Stored:
        message_id = str(reply_to.message_id if isinstance(reply_to, PostedMessage)
                         else reply_to["id"] if isinstance(reply_to, Mapping) else reply_to)
        stored = self.messages.get(message_id)
        if stored is None or stored.channel is not channel:
            raise ValueError(f"no message {message_id} in that channel to reply to")
        return stored

    def _parse_mentions(self, channel: DiscordChannel, content: str
                        ) -> tuple[list[DiscordUser], list[str], bool]:
        users: list[DiscordUser] = []
        for match in re.finditer(r"<@!?(\d+)>", content):
            user = self.users.get(match.group(1))
            if user is not None and user not in users:
                users.append(user)
        roles: list[str] = []
        if channel.guild is not None:
            for match in re.finditer(r"<@&(\d+)>", content):
                if match.group(1) in channel.guild.roles and match.group(1) not in roles:
                    roles.append(match.group(1))
        everyone = channel.guild is not None and bool(re.search(r"@(everyone|here)\b", content))
        return users, roles, everyone

    def _store_message(self, channel: DiscordChannel, author: DiscordUser, content: str,
                       mentions: tuple[list[DiscordUser], list[str], bool],
                       target: _Stored | None, attachments: list[dict[str, Any]] | None,
                       extra: Mapping[str, Any] | None = None) -> _Stored:
        message_id = self.snowflake()
        users, roles, everyone = mentions
        message: dict[str, Any] = {
            "type": MESSAGE_REPLY if target is not None else MESSAGE_DEFAULT,
            "channel_id": channel.id, "content": content, "attachments": attachments or [],
            "embeds": [], "timestamp": self.timestamp(), "edited_timestamp": None,
            "flags": 0, "components": [], "id": message_id, "author": author.as_json(),
            "mentions": [u.as_json() for u in users], "mention_roles": roles,
            "pinned": False, "mention_everyone": everyone, "tts": False}
        if extra:
            message.update(extra)
        if target is not None:
            reference: dict[str, Any] = {"type": 0, "channel_id": channel.id,
                                         "message_id": target.message["id"]}
            if channel.guild is not None:
                reference["guild_id"] = channel.guild.id
            message["message_reference"] = reference
            referenced = _copy(target.message)
            referenced.pop("referenced_message", None)
            message["referenced_message"] = referenced
        stored = _Stored(message, channel, author)
        self.messages[message_id] = stored
        channel.last_message_id = message_id
        return stored

    def _content_visible(self, stored: _Stored, bot: DiscordBot, intents: int) -> bool:
        if intents & Intents.MESSAGE_CONTENT:
            return True
        if stored.channel.type == DM or stored.author.id == bot.id:
            return True
        return any(u["id"] == bot.id for u in stored.message["mentions"])

    def _message_for(self, stored: _Stored, bot: DiscordBot, intents: int, *,
                     gateway: bool) -> dict[str, Any]:
        """The message as ``bot`` gets it (content blanked without the intent)."""
        message = _copy(stored.message)
        if not self._content_visible(stored, bot, intents):
            message.update(content="", embeds=[], attachments=[], components=[])
            message.pop("poll", None)
        guild = stored.channel.guild
        if gateway and guild is not None:
            message["guild_id"] = guild.id
            member = guild.members.get(stored.author.id)
            if member is not None:
                message["member"] = member.as_json(with_user=False)
            for user in message["mentions"]:
                mentioned = guild.members.get(user["id"])
                if mentioned is not None:
                    user["member"] = mentioned.as_json(with_user=False)
        return message

    def _rest_intents(self, bot: DiscordBot) -> int:
        """REST reads honour the application's message-content flag, not a session's."""
        allowed = PRIVILEGED_INTENTS[Intents.MESSAGE_CONTENT]
        return Intents.MESSAGE_CONTENT if bot.flags & allowed else 0

    def _bots_in(self, channel: DiscordChannel) -> list[DiscordBot]:
        if channel.type == DM:
            ids = {u.id for u in channel.recipients}
        else:
            assert channel.guild is not None
            ids = set(channel.guild.members)
        return [bot for bot in self.bots.values() if bot.id in ids]

    def _sessions_of(self, bot: DiscordBot, intent: int) -> list[GatewaySession]:
        now = self.now()
        found = []
        for session in bot.live_sessions():
            if session.connection is None and session.disconnected_at is not None and (
                    now - session.disconnected_at > self.resume_window):
                session.invalidated = True
                continue
            if session.has(intent):
                found.append(session)
        return found

    def _dispatch_message(self, event: str, stored: _Stored) -> None:
        intent = (Intents.DIRECT_MESSAGES if stored.channel.type == DM
                  else Intents.GUILD_MESSAGES)
        for bot in self._bots_in(stored.channel):
            for session in self._sessions_of(bot, intent):
                dispatch_frame(session, event, self._message_for(
                    stored, bot, session.intents, gateway=True))

    def _dispatch_guild(self, guild: DiscordGuild, event: str,
                        data: Callable[[GatewaySession], Any], intent: int) -> None:
        for bot in self.bots.values():
            if bot.id in guild.members:
                for session in self._sessions_of(bot, intent):
                    dispatch_frame(session, event, data(session))

    def _guild_create(self, guild: DiscordGuild, bot: DiscordBot) -> dict[str, Any]:
        data = guild.as_json()
        own = guild.members.get(bot.id)
        data.update(
            joined_at=own.joined_at if own else guild.created_at, large=False,
            unavailable=False, member_count=len(guild.members),
            members=[own.as_json()] if own else [], voice_states=[], presences=[],
            channels=[c.as_json() for c in guild.channels], threads=[],
            stage_instances=[], guild_scheduled_events=[], soundboard_sounds=[])
        return data

    # -- the gateway (called by discord_gateway.GatewayServerProtocol)

    def _bot_by_token(self, token: Any) -> DiscordBot | None:
        if not isinstance(token, str):
            return None
        if token.lower().startswith("bot "):
            token = token[4:]
        return self.bots.get(token)

    def gateway_identify(self, connection: GatewayConnection, data: Any) -> None:
        protocol = connection.protocol
        if connection.session is not None:
            protocol.close_with(4005)
            return
        if not isinstance(data, dict):
            protocol.close_with(4002)
            return
        bot = self._bot_by_token(data.get("token"))
        if bot is None:
            protocol.close_with(4004)
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or isinstance(intents, bool) or intents < 0 or (
                intents & ~Intents.ALL):
            protocol.close_with(4013)
            return
        for intent, allowed_by in PRIVILEGED_INTENTS.items():
            if intents & intent and not bot.flags & allowed_by:
                protocol.close_with(4014)
                return
        shard = data.get("shard")
        if shard is not None and not (
                isinstance(shard, list) and len(shard) == 2
                and all(isinstance(v, int) for v in shard) and 0 <= shard[0] < shard[1]):
            protocol.close_with(4010)
            return
        connection.identify = data
        bot.session_start_remaining = max(bot.session_start_remaining - 1, 0)
        session = GatewaySession(new_session_id(), bot, intents, shard, connection=connection)
        bot.sessions.append(session)
        connection.session = session
        ready: dict[str, Any] = {
            "v": 10, "user_settings": {},
            "user": dict(bot.user.as_json(), verified=True, mfa_enabled=False, email=None),
            "session_type": "normal", "session_id": session.session_id,
            "resume_gateway_url": self.resume_gateway_url, "relationships": [],
            "private_channels": [], "presences": [],
            "guilds": [{"id": g.id, "unavailable": True} for g in self.guilds.values()
                       if bot.id in g.members],
            "guild_join_requests": [], "geo_ordered_rtc_regions": ["fake"],
            "auth": {}, "application": {"id": bot.application_id, "flags": bot.flags},
            "_trace": GATEWAY_TRACE}
        if shard is not None:
            ready["shard"] = shard
        dispatch_frame(session, "READY", ready)
        if session.has(Intents.GUILDS):
            for guild in self.guilds.values():
                if bot.id in guild.members:
                    dispatch_frame(session, "GUILD_CREATE", self._guild_create(guild, bot))
        if not connection.identified.called:
            connection.identified.callback(session)

    def gateway_resume(self, connection: GatewayConnection, data: Any) -> None:
        protocol = connection.protocol
        if connection.session is not None:
            protocol.close_with(4005)
            return
        if not isinstance(data, dict):
            protocol.close_with(4002)
            return
        bot = self._bot_by_token(data.get("token"))
        if bot is None:
            protocol.close_with(4004)
            return
        connection.resume = data
        session = next((s for s in bot.sessions if s.session_id == data.get("session_id")),
                       None)
        seq = data.get("seq")
        expired = session is not None and session.connection is None and (
            session.disconnected_at is not None
            and self.now() - session.disconnected_at > self.resume_window)
        if session is None or session.invalidated or expired or not isinstance(seq, int):
            if session is not None:
                session.invalidated = True
            connection.send({"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if seq > session.seq:
            protocol.close_with(4007)
            return
        if session.buffer and seq < session.buffer[0]["s"] - 1:
            session.invalidated = True  # too far behind: the missed events are gone
            connection.send({"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        previous = session.connection
        if previous is not None and previous is not connection:
            previous.drop()
        session.connection = connection
        session.disconnected_at = None
        connection.session = session
        for frame in list(session.buffer):
            if frame["s"] > seq:
                connection.send(frame)
        dispatch_frame(session, "RESUMED", {"_trace": GATEWAY_TRACE})
        if not connection.resumed.called:
            connection.resumed.callback(session)

    # -- REST

    def check_rate_limit(self, bot: DiscordBot, route: str, major: str | None
                         ) -> dict[str, str]:
        """Raise a 429 (as :class:`_RateLimited`) or return the ``X-RateLimit-*`` headers."""
        now = self.now()
        bucket = _bucket_hash(route)
        if self._global_window is not None and now < self._global_window.until:
            raise _RateLimited(self._global_window.until - now, "global", True, bucket, now)
        window = self._windows.get((route, major)) or self._windows.get((route, None))
        if window is not None and now < window.until:
            raise _RateLimited(window.until - now, window.scope, False, bucket, now)
        for injected in self._injected:
            if injected.count <= 0 or injected.route not in (None, route) or (
                    injected.major is not None and injected.major != major):
                continue
            injected.count -= 1
            if injected.body is not None:
                raise DiscordApiError(injected.status, str(injected.body.get("message", "")),
                                      int(injected.body.get("code", 0)),
                                      injected.body.get("errors"))
            until = now + injected.retry_after
            if injected.is_global:
                self._global_window = _Window(until, "global", True)
            else:
                self._windows[(route, injected.major)] = _Window(until, injected.scope, False)
            raise _RateLimited(injected.retry_after, "global" if injected.is_global
                               else injected.scope, injected.is_global, bucket, now)
        self._injected = [i for i in self._injected if i.count > 0]
        started, used = self._usage.get((route, major), (now, 0))
        if now - started >= self.route_window:
            started, used = now, 0
        if self.enforce_route_limits:
            if used >= self.route_limit:
                raise _RateLimited(started + self.route_window - now, "user", False, bucket, now)
            used += 1
            self._usage[(route, major)] = (started, used)
            reset_after = started + self.route_window - now
        else:
            used, reset_after = 1, self.route_window
        return {"X-RateLimit-Limit": str(self.route_limit),
                "X-RateLimit-Remaining": str(max(self.route_limit - used, 0)),
                "X-RateLimit-Reset": f"{now + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket}

    def _channel_for(self, bot: DiscordBot, channel_id: str) -> DiscordChannel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise unknown("Channel", 10003)
        if bot not in self._bots_in(channel):
            raise DiscordApiError(403, "Missing Access", 50001)
        return channel

    def _message_in(self, channel: DiscordChannel, message_id: str) -> _Stored:
        stored = self.messages.get(message_id)
        if stored is None or stored.channel is not channel:
            raise unknown("Message", 10008)
        return stored

    def _guild_for(self, bot: DiscordBot, guild_id: str) -> DiscordGuild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise unknown("Guild", 10004)
        if bot.id not in guild.members:
            raise DiscordApiError(403, "Missing Access", 50001)
        return guild

    def r_gateway(self, bot: DiscordBot | None, params: dict[str, Any], body: Any) -> Any:
        return {"url": self.gateway_url}

    def r_gateway_bot(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return {"url": self.gateway_url, "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": bot.session_start_remaining,
            "reset_after": 86_400_000, "max_concurrency": 1}}

    def r_current_user(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return dict(bot.user.as_json(), verified=True, mfa_enabled=False, locale="en-US",
                    premium_type=0, email=None, bio="", banner=None, accent_color=None)

    def r_user(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        user = self.users.get(params["user_id"])
        if user is None:
            raise unknown("User", 10013)
        return user.as_json()

    def r_current_application(self, bot: DiscordBot, params: dict[str, Any],
                              body: Any) -> Any:
        guilds = sum(1 for g in self.guilds.values() if bot.id in g.members)
        return {"id": bot.application_id, "name": bot.application_name, "icon": None,
                "description": "", "summary": "", "type": None, "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": hashlib.sha256(bot.token.encode()).hexdigest(),
                "flags": bot.flags, "hook": True, "is_monetized": False,
                "bot": bot.user.as_json(), "owner": {"id": "0", "username": "owner",
                                                     "avatar": None, "discriminator": "0",
                                                     "public_flags": 0, "flags": 0,
                                                     "global_name": None},
                "team": None, "approximate_guild_count": guilds, "tags": [],
                "redirect_uris": [], "interactions_endpoint_url": None}

    def r_current_user_guilds(self, bot: DiscordBot, params: dict[str, Any],
                              body: Any) -> Any:
        return [{"id": g.id, "name": g.name, "icon": None, "owner": False,
                 "permissions": "1071698660929", "features": [], "banner": None}
                for g in self.guilds.values() if bot.id in g.members]

    def r_create_dm(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        recipient = str(body.get("recipient_id", "")) if isinstance(body, dict) else ""
        user = self.users.get(recipient)
        if user is None or user.id == bot.id:
            raise DiscordApiError(400, "Invalid Recipient(s)", 50033)
        return self.dm_channel(user, bot).as_json(viewer=bot.user)

    def r_channel(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return self._channel_for(bot, params["channel_id"]).as_json(viewer=bot.user)

    def r_channel_messages(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        channel = self._channel_for(bot, params["channel_id"])
        query: dict[str, str] = params.get("query") or {}
        limit = _int(query.get("limit"), 50)
        if not 1 <= limit <= 100:
            raise form_error("limit", "NUMBER_TYPE_MAX", "int value should be less than or "
                             "equal to 100." if limit > 100 else
                             "int value should be greater than or equal to 1.")
        found = sorted((s for s in self.messages.values() if s.channel is channel),
                       key=lambda s: int(s.message["id"]), reverse=True)
        before, after = query.get("before"), query.get("after")
        if before:
            found = [s for s in found if int(s.message["id"]) < int(before)]
        if after:
            found = [s for s in found if int(s.message["id"]) > int(after)]
        intents = self._rest_intents(bot)
        return [self._message_for(s, bot, intents, gateway=False) for s in found[:limit]]

    def r_create_message(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        channel = self._channel_for(bot, params["channel_id"])
        if not isinstance(body, dict):
            raise DiscordApiError(400, "Invalid Form Body", 50035, {"_errors": [
                {"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a "
                                                         "DictType"}]})
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            content = json.dumps(content)
        content = content or ""
        if len(content) > MAX_CONTENT:
            raise form_error("content", "BASE_TYPE_MAX_LENGTH",
                             f"Must be {MAX_CONTENT} or fewer in length.")
        embeds = body.get("embeds") or []
        attachments = body.get("attachments") or []
        if not content.strip() and not embeds and not attachments and not body.get(
                "sticker_ids") and not body.get("components") and not body.get("poll"):
            raise DiscordApiError(400, "Cannot send an empty message", 50006)
        target: _Stored | None = None
        reference = body.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id"):
            found = self.messages.get(str(reference["message_id"]))
            ref_channel = str(reference.get("channel_id") or channel.id)
            if found is not None and found.channel.id == ref_channel:
                target = found
            elif reference.get("fail_if_not_exists", True):
                raise form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                 "Unknown message")
        users, roles, everyone = self._parse_mentions(channel, content)
        users, roles, everyone = _apply_allowed_mentions(body.get("allowed_mentions"), users,
                                                         roles, everyone)
        replied = body.get("allowed_mentions") or {}
        if target is not None and isinstance(replied, dict) and replied.get("replied_user") \
                and target.author not in users:
            users.append(target.author)
        extra: dict[str, Any] = {"embeds": embeds}
        if "nonce" in body:
            extra["nonce"] = body["nonce"]
        flags = body.get("flags")
        if isinstance(flags, int):
            extra["flags"] = flags & ((1 << 2) | (1 << 12))
        stored = self._store_message(channel, bot.user, content, (users, roles, everyone),
                                     target, attachments, extra)
        message = self._message_for(stored, bot, Intents.MESSAGE_CONTENT, gateway=False)
        bot.sent.record(PostedMessage(channel.id, stored.message["id"], content, message,
                                      body, self.now()))
        self._dispatch_message("MESSAGE_CREATE", stored)
        return message

    def r_message(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        channel = self._channel_for(bot, params["channel_id"])
        stored = self._message_in(channel, params["message_id"])
        return self._message_for(stored, bot, self._rest_intents(bot), gateway=False)

    def r_edit_message(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        channel = self._channel_for(bot, params["channel_id"])
        stored = self._message_in(channel, params["message_id"])
        if stored.author.id != bot.id:
            raise DiscordApiError(403, "Cannot edit a message authored by another user", 50005)
        if not isinstance(body, dict):
            body = {}
        previous = str(stored.message["content"])
        if "content" in body:
            content = body["content"] if isinstance(body["content"], str) else ""
            if len(content) > MAX_CONTENT:
                raise form_error("content", "BASE_TYPE_MAX_LENGTH",
                                 f"Must be {MAX_CONTENT} or fewer in length.")
            if not content.strip() and not (body.get("embeds") or stored.message["embeds"]):
                raise DiscordApiError(400, "Cannot send an empty message", 50006)
            users, roles, everyone = self._parse_mentions(channel, content)
            stored.message.update(content=content, mentions=[u.as_json() for u in users],
                                  mention_roles=roles, mention_everyone=everyone)
        if "embeds" in body:
            stored.message["embeds"] = body["embeds"] or []
        stored.message["edited_timestamp"] = self.timestamp()
        message = self._message_for(stored, bot, Intents.MESSAGE_CONTENT, gateway=False)
        bot.edits.record(EditedDiscordMessage(channel.id, stored.message["id"],
                                              str(stored.message["content"]), previous,
                                              message, self.now()))
        self._dispatch_message("MESSAGE_UPDATE", stored)
        return message

    def r_delete_message(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        channel = self._channel_for(bot, params["channel_id"])
        stored = self._message_in(channel, params["message_id"])
        if stored.author.id != bot.id and channel.type == DM:
            raise DiscordApiError(403, "Cannot execute action on a DM channel", 50003)
        del self.messages[stored.message["id"]]
        bot.deletions.record(DeletedDiscordMessage(channel.id, stored.message["id"],
                                                   self.now()))
        data: dict[str, Any] = {"id": stored.message["id"], "channel_id": channel.id}
        if channel.guild is not None:
            data["guild_id"] = channel.guild.id
        intent = Intents.DIRECT_MESSAGES if channel.type == DM else Intents.GUILD_MESSAGES
        for other in self._bots_in(channel):
            for session in self._sessions_of(other, intent):
                dispatch_frame(session, "MESSAGE_DELETE", data)
        return None

    def r_typing(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        channel = self._channel_for(bot, params["channel_id"])
        bot.typing.record(TypingCall(channel.id, self.now()))
        return None

    def _reaction(self, bot: DiscordBot, params: dict[str, Any], removed: bool) -> Any:
        channel = self._channel_for(bot, params["channel_id"])
        stored = self._message_in(channel, params["message_id"])
        emoji = unquote(params["emoji"])
        if not emoji or (":" not in emoji and not any(ord(c) > 0x2000 for c in emoji)):
            raise unknown("Emoji", 10014)
        bot.reactions.record(ReactionCall(channel.id, stored.message["id"], emoji, removed,
                                          self.now()))
        return None

    def r_add_reaction(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return self._reaction(bot, params, removed=False)

    def r_remove_reaction(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return self._reaction(bot, params, removed=True)

    def r_guild(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return self._guild_for(bot, params["guild_id"]).as_json()

    def r_guild_channels(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return [c.as_json() for c in self._guild_for(bot, params["guild_id"]).channels]

    def r_guild_roles(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return [r.as_json() for r in self._guild_for(bot, params["guild_id"]).roles.values()]

    def r_guild_member(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        guild = self._guild_for(bot, params["guild_id"])
        member = guild.members.get(params["user_id"])
        if member is None:
            raise unknown("Member", 10007)
        return member.as_json()


    # -- application (slash) commands, which the channel deploys at start

    def _commands_of(self, bot: DiscordBot, params: dict[str, Any]) -> list[dict[str, Any]]:
        if params["application_id"] != bot.application_id:
            raise DiscordApiError(403, "Missing Access", 50001)
        scope = params.get("guild_id") or "global"
        if scope != "global":
            self._guild_for(bot, scope)
        return bot.commands.setdefault(scope, [])

    def _command(self, bot: DiscordBot, params: dict[str, Any], spec: Any,
                 existing: dict[str, Any] | None = None, index: int | None = None
                 ) -> dict[str, Any]:
        def invalid(field: str, code: str, message: str) -> DiscordApiError:
            error = form_error(field, code, message)
            if field == "_errors":
                error.body["errors"] = {"_errors": [{"code": code, "message": message}]}
            if index is not None:  # Discord nests list items by index
                error.body["errors"] = {str(index): error.body["errors"]}
            return error

        if not isinstance(spec, dict):
            raise invalid("_errors", "DICT_TYPE_CONVERT",
                          "Only dictionaries may be used in a DictType")
        name = spec.get("name", existing["name"] if existing else None)
        kind = int(spec.get("type", existing["type"] if existing else 1))
        if not isinstance(name, str) or not re.fullmatch(r"[-_\w]{1,32}", name) or (
                kind == 1 and name != name.lower()):
            raise invalid("name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        description = spec.get("description", existing["description"] if existing else "")
        if kind == 1 and not 1 <= len(str(description)) <= 100:
            raise invalid("description", "BASE_TYPE_BAD_LENGTH",
                          "Must be between 1 and 100 in length.")
        command = dict(existing or {})
        command.update(spec)
        command.update(id=existing["id"] if existing else self.snowflake(),
                       application_id=bot.application_id, type=kind, name=name,
                       description=description, version=self.snowflake(),
                       default_member_permissions=spec.get("default_member_permissions"))
        if params.get("guild_id"):
            command["guild_id"] = params["guild_id"]
        return command

    def r_commands(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        return self._commands_of(bot, params)

    def r_overwrite_commands(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        current = self._commands_of(bot, params)
        if not isinstance(body, list):
            raise DiscordApiError(400, "Invalid Form Body", 50035, {"_errors": [
                {"code": "LIST_TYPE_CONVERT", "message": "Only iterables may be used in a "
                                                         "ListType"}]})
        by_name = {c["name"]: c for c in current}
        replaced = [self._command(bot, params, spec, by_name.get(
            spec.get("name") if isinstance(spec, dict) else None), index)
            for index, spec in enumerate(body)]
        current[:] = replaced
        return replaced

    def r_create_command(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        current = self._commands_of(bot, params)
        name = body.get("name") if isinstance(body, dict) else None
        existing = next((c for c in current if c["name"] == name), None)
        command = self._command(bot, params, body, existing)
        if existing is not None:
            current[current.index(existing)] = command
            return command
        current.append(command)
        return _Created(command)

    def r_edit_command(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        current = self._commands_of(bot, params)
        existing = next((c for c in current if c["id"] == params["command_id"]), None)
        if existing is None:
            raise unknown("application command", 10063)
        command = self._command(bot, params, body, existing)
        current[current.index(existing)] = command
        return command

    def r_delete_command(self, bot: DiscordBot, params: dict[str, Any], body: Any) -> Any:
        current = self._commands_of(bot, params)
        existing = next((c for c in current if c["id"] == params["command_id"]), None)
        if existing is None:
            raise unknown("application command", 10063)
        current.remove(existing)
        return None


@attrs.define
class _Created:
    """A result answered with 201 Created."""

    value: Any


class _RateLimited(Exception):
    def __init__(self, retry_after: float, scope: str, is_global: bool, bucket: str,
                 now: float = 0.0) -> None:
        super().__init__("You are being rate limited.")
        self.retry_after = round(max(retry_after, 0.0), 3)
        self.reset_at = now + self.retry_after
        self.scope = scope
        self.is_global = is_global
        self.bucket = bucket


# --- HTTP ------------------------------------------------------------------------------------

_ROUTES: list[tuple[str, re.Pattern[str], str, bool]] = []


def _route(template: str, handler: str, auth: bool = True) -> None:
    path = template.split(" ", 1)[1]
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\{", "{")
                     .replace(r"\}", "}"))
    _ROUTES.append((template, re.compile(f"^{pattern}$"), handler, auth))


for _template, _handler in (
        (GET_GATEWAY_BOT, "r_gateway_bot"), (GET_CURRENT_USER, "r_current_user"),
        (GET_CURRENT_USER_GUILDS, "r_current_user_guilds"), (CREATE_DM, "r_create_dm"),
        (GET_USER, "r_user"), (GET_CURRENT_APPLICATION, "r_current_application"),
        ("GET /applications/@me", "r_current_application"),
        (GET_CHANNEL, "r_channel"), (GET_CHANNEL_MESSAGES, "r_channel_messages"),
        (CREATE_MESSAGE, "r_create_message"), (GET_MESSAGE, "r_message"),
        (EDIT_MESSAGE, "r_edit_message"), (DELETE_MESSAGE, "r_delete_message"),
        (TRIGGER_TYPING, "r_typing"), (ADD_REACTION, "r_add_reaction"),
        (REMOVE_REACTION, "r_remove_reaction"), (GET_GUILD, "r_guild"),
        (GET_GUILD_CHANNELS, "r_guild_channels"), (GET_GUILD_ROLES, "r_guild_roles"),
        (GET_COMMANDS, "r_commands"), (OVERWRITE_COMMANDS, "r_overwrite_commands"),
        (CREATE_COMMAND, "r_create_command"), (EDIT_COMMAND, "r_edit_command"),
        (DELETE_COMMAND, "r_delete_command"), (GET_GUILD_COMMANDS, "r_commands"),
        (OVERWRITE_GUILD_COMMANDS, "r_overwrite_commands"),
        (GET_GUILD_MEMBER, "r_guild_member")):
    _route(_template, _handler)
_route(GET_GATEWAY, "r_gateway", auth=False)


class _Root(Resource):
    """``/api/v{9,10}/...`` REST, ``/_fake/...`` control, any path with a WebSocket upgrade
    (``/`` and ``/resume``) the gateway."""

    def __init__(self, fake: DiscordServer) -> None:
        super().__init__()
        self.fake = fake
        self.websocket = WebSocketResource(fake.gateway)
        self.control = ControlResource(fake)

    def getChild(self, path: bytes, request: Request) -> Any:
        upgrade = (request.getHeader("upgrade") or "").lower()
        if upgrade == "websocket":
            return self.websocket
        if path == b"api":
            return _RestResource(self.fake)
        if path == b"_fake":
            return self.control
        return _RestResource(self.fake, prefixed=False)

    def render(self, request: Request) -> bytes:
        return _error_response(request, DiscordApiError(404, "404: Not Found"))


class _RestResource(Resource):
    isLeaf = True

    def __init__(self, fake: DiscordServer, prefixed: bool = True) -> None:
        super().__init__()
        self.fake = fake
        self.prefixed = prefixed

    def render(self, request: Request) -> Any:
        segments = [p.decode("utf-8", "replace") for p in request.postpath or []]
        if not self.prefixed or not segments or segments[0] not in ("v9", "v10"):
            return _error_response(request, DiscordApiError(404, "404: Not Found"))
        path = "/" + "/".join(segments[1:]).rstrip("/")
        method = request.method.decode()
        matched = [(t, m, h, a) for t, p, h, a in _ROUTES if (m := p.match(path))]
        chosen = next((entry for entry in matched if entry[0].startswith(method + " ")), None)
        if chosen is None:
            status, text = (405, "405: Method Not Allowed") if matched else (404,
                                                                             "404: Not Found")
            known = self.fake._bot_by_token(_bearer(request))
            if known is not None:  # visible in the log, for finding what a client missed
                known.requests.record(RestCall(method, path, None, None, self.fake.now(),
                                               status))
            return _error_response(request, DiscordApiError(status, text))
        template, match, handler_name, auth = chosen
        params: dict[str, Any] = dict(match.groupdict())
        query: dict[bytes, list[bytes]] = request.args or {}
        params["query"] = {k.decode(): v[0].decode("utf-8", "replace")
                           for k, v in query.items() if v}
        bot = self.fake._bot_by_token(_bearer(request))
        if auth and bot is None:
            return _error_response(request, DiscordApiError(401, "401: Unauthorized"))
        route = template
        call = RestCall(method, path, route, None, self.fake.now())
        headers: dict[str, str] = {}
        if bot is not None:
            bot.requests.record(call)
        try:
            body = _request_body(request)
            call.body = body
            major = params.get("channel_id") or params.get("guild_id")
            if bot is not None:
                headers = self.fake.check_rate_limit(bot, route, major)
            result = getattr(self.fake, handler_name)(bot, params, body)
        except _RateLimited as limited:
            call.status = 429
            return _rate_limited_response(request, limited)
        except DiscordApiError as e:
            call.status = e.status
            for name, value in headers.items():
                request.setHeader(name, value)
            return _error_response(request, e)
        for name, value in headers.items():
            request.setHeader(name, value)
        if result is None:
            call.status = 204
            request.setResponseCode(204)
            return b""
        status = 201 if isinstance(result, _Created) else 200
        call.status = status
        return _json_response(request, status,
                              result.value if isinstance(result, _Created) else result)


def _bearer(request: Request) -> str | None:
    header = request.getHeader("authorization") or ""
    return header[4:] if header.startswith("Bot ") else None


def _request_body(request: Request) -> Any:
    if request.method in (b"GET", b"DELETE") or request.content is None:
        return None
    content_type = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        args: dict[bytes, list[bytes]] = request.args or {}
        payload = args.get(b"payload_json", [b"{}"])[0]
        body = _parse_json(payload)
        files = [k for k in args if k.startswith(b"files[") or k == b"file"]
        if isinstance(body, dict) and files and not body.get("attachments"):
            body["attachments"] = [{"id": str(i), "filename": k.decode()}
                                   for i, k in enumerate(files)]
        return body
    request.content.seek(0)
    raw = request.content.read()
    if not raw.strip():
        return {}
    return _parse_json(raw)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise DiscordApiError(400, "The request body contains invalid JSON.", 50109) from None


def _json_response(request: Request, status: int, body: Any) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _error_response(request: Request, error: DiscordApiError) -> bytes:
    return _json_response(request, error.status, error.body)


def _rate_limited_response(request: Request, limited: _RateLimited) -> bytes:
    request.setHeader("Retry-After", str(max(1, math.ceil(limited.retry_after))))
    request.setHeader("X-RateLimit-Scope", limited.scope)
    if limited.is_global:
        request.setHeader("X-RateLimit-Global", "true")
    else:
        request.setHeader("X-RateLimit-Limit", "5")
        request.setHeader("X-RateLimit-Remaining", "0")
        request.setHeader("X-RateLimit-Reset", f"{limited.reset_at:.3f}")
        request.setHeader("X-RateLimit-Reset-After", f"{limited.retry_after:.3f}")
        request.setHeader("X-RateLimit-Bucket", limited.bucket)
    return _json_response(request, 429, {"message": "You are being rate limited.",
                                         "retry_after": limited.retry_after,
                                         "global": limited.is_global})


def _bucket_hash(route: str) -> str:
    return hashlib.md5(route.encode(), usedforsecurity=False).hexdigest()


def _apply_allowed_mentions(allowed: Any, users: list[DiscordUser], roles: list[str],
                            everyone: bool) -> tuple[list[DiscordUser], list[str], bool]:
    if not isinstance(allowed, dict):
        return users, roles, everyone
    parse = allowed.get("parse")
    parse = parse if isinstance(parse, list) else []
    user_ids = {str(u) for u in allowed.get("users") or []}
    role_ids = {str(r) for r in allowed.get("roles") or []}
    kept_users = [u for u in users if "users" in parse or u.id in user_ids]
    kept_roles = [r for r in roles if "roles" in parse or r in role_ids]
    return kept_users, kept_roles, everyone and "everyone" in parse


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy that is plain JSON (what the API hands out, never our own objects)."""
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _user_of(member: DiscordUser | DiscordBot) -> DiscordUser:
    return member.user if isinstance(member, DiscordBot) else member


# --- out-of-process control: /_fake/... --------------------------------------------------------


class ControlResource(Resource):
    """JSON endpoints to drive the fake from another process.

    ``GET  /_fake/state``                       bots, users, guilds and channels
    ``POST /_fake/users``     ``{"username", "global_name"?}``
    ``POST /_fake/guilds``    ``{"name", "members"?: [username...], "channels"?: [name...]}``
    ``POST /_fake/messages``  ``{"user", "channel_id", "content", "reply_to"?}``
    ``POST /_fake/dm``        ``{"user", "content", "bot"?}``
    ``GET  /_fake/sent?bot=&after=N&wait=S``     what the bot posted, from index N
    ``GET  /_fake/requests?bot=``               its REST calls and the gateway connections
    ``POST /_fake/rate_limit`` ``{"route"?, "retry_after"?, "count"?, "global"?}``
    ``POST /_fake/gateway/drop`` ``{"bot"?, "code"?}``; ``/_fake/gateway/reconnect``;
    ``/_fake/gateway/invalidate`` ``{"resumable"?}``
    """

    isLeaf = True

    def __init__(self, fake: DiscordServer) -> None:
        super().__init__()
        self.fake = fake

    def render(self, request: Request) -> Any:
        action = "_".join(p.decode() for p in request.postpath or [] if p)
        try:
            body = _control_body(request)
            handler = getattr(self, f"do_{request.method.decode().lower()}_{action}", None)
            if handler is None:
                raise _ControlError(404, f"no control endpoint {request.method.decode()} "
                                         f"/_fake/{action.replace('_', '/')}")
            result = handler(request, body)
        except _ControlError as e:
            return _json_response(request, e.status, {"error": str(e)})
        except (ValueError, KeyError) as e:
            return _json_response(request, 400, {"error": str(e)})
        if isinstance(result, Deferred):
            def answer(value: Any) -> None:
                request.write(_json_response(request, 200, value))
                request.finish()

            result.addCallback(answer)
            return NOT_DONE_YET
        return _json_response(request, 200, result)

    def _bot(self, name: Any) -> DiscordBot:
        bots = list(self.fake.bots.values())
        if name in (None, ""):
            if len(bots) != 1:
                raise _ControlError(400, "several bots: say which with \"bot\"")
            return bots[0]
        for bot in bots:
            if name in (bot.token, bot.user.username, bot.id):
                return bot
        raise _ControlError(404, f"no bot {name!r}")

    def _user(self, name: Any) -> DiscordUser:
        for user in self.fake.users.values():
            if not user.bot and name in (user.id, user.username):
                return user
        raise _ControlError(404, f"no user {name!r}")

    def do_get_state(self, request: Request, body: Any) -> Any:
        return {
            "api_base": self.fake.api_base, "gateway_url": self.fake.gateway_url,
            "bots": [{"token": b.token, "username": b.user.username, "id": b.id,
                      "application_flags": b.flags} for b in self.fake.bots.values()],
            "users": [u.as_json() for u in self.fake.users.values() if not u.bot],
            "guilds": [{"id": g.id, "name": g.name,
                        "channels": [{"id": c.id, "name": c.name} for c in g.channels],
                        "roles": [{"id": r.id, "name": r.name} for r in g.roles.values()],
                        "members": list(g.members)} for g in self.fake.guilds.values()],
        }

    def do_post_users(self, request: Request, body: Any) -> Any:
        return self.fake.add_user(str(body["username"]),
                                  global_name=body.get("global_name")).as_json()

    def do_post_guilds(self, request: Request, body: Any) -> Any:
        members: list[DiscordUser | DiscordBot] = []
        for name in body.get("members", []):
            try:
                members.append(self._bot(name))
            except _ControlError:
                members.append(self._user(name))
        guild = self.fake.add_guild(str(body.get("name", "Guild")), members=members,
                                    channels=body.get("channels", ["general"]))
        return {"id": guild.id, "channels": [{"id": c.id, "name": c.name}
                                              for c in guild.channels]}

    def do_post_messages(self, request: Request, body: Any) -> Any:
        channel = self.fake.channels.get(str(body.get("channel_id")))
        if channel is None:
            raise _ControlError(404, f"no channel {body.get('channel_id')!r}")
        return self.fake.post_message(self._user(body.get("user")), channel,
                                      str(body.get("content", "")),
                                      reply_to=body.get("reply_to"))

    def do_post_dm(self, request: Request, body: Any) -> Any:
        return self.fake.dm(self._user(body.get("user")), self._bot(body.get("bot")),
                            str(body.get("content", "")), reply_to=body.get("reply_to"))

    def do_get_sent(self, request: Request, body: Any) -> Any:
        raw: dict[bytes, list[bytes]] = request.args or {}
        query = {k.decode(): v[0].decode() for k, v in raw.items() if v}
        bot = self._bot(query.get("bot"))
        after = _int(query.get("after"), 0)
        wait = float(query.get("wait") or 0)

        def page() -> dict[str, Any]:
            return {"messages": [p.message for p in bot.sent.items[after:]],
                    "next": len(bot.sent.items)}

        if len(bot.sent.items) > after or wait <= 0:
            return page()
        done: Deferred[dict[str, Any]] = Deferred()
        watcher = bot.sent.wait_for(lambda _: len(bot.sent.items) > after)
        timer = self.fake.clock.callLater(wait, watcher.cancel)

        def finished(_: Any) -> None:
            if timer.active():
                timer.cancel()
            done.callback(page())

        def hung_up(_: Failure) -> None:
            done.pause()
            watcher.cancel()

        watcher.addBoth(finished)
        request.notifyFinish().addErrback(hung_up)
        return done

    def do_get_requests(self, request: Request, body: Any) -> Any:
        raw: dict[bytes, list[bytes]] = request.args or {}
        bot = self._bot(raw.get(b"bot", [b""])[0].decode())
        return {"requests": [{"method": c.method, "path": c.path, "route": c.route,
                              "body": c.body, "at": c.at, "status": c.status}
                             for c in bot.requests],
                "gateway": [{"path": c.path, "query": c.query, "open": c.is_open,
                             "identify": c.identify is not None,
                             "resume": c.resume is not None, "close_code": c.close_code,
                             "received": c.received.items}
                            for c in self.fake.connections]}

    def do_post_rate_limit(self, request: Request, body: Any) -> Any:
        self.fake.rate_limit(body.get("route", CREATE_MESSAGE),
                             retry_after=float(body.get("retry_after", 1.0)),
                             count=int(body.get("count", 1)),
                             is_global=bool(body.get("global", False)))
        return {"ok": True}

    def do_post_gateway_drop(self, request: Request, body: Any) -> Any:
        bot = self._bot(body["bot"]) if body.get("bot") else None
        code = body.get("code")
        dropped = self.fake.drop_connections(bot, code=int(code) if code else None)
        return {"dropped": len(dropped)}

    def do_post_gateway_reconnect(self, request: Request, body: Any) -> Any:
        connections = self.fake.open_connections()
        for connection in connections:
            connection.request_reconnect()
        return {"connections": len(connections)}

    def do_post_gateway_invalidate(self, request: Request, body: Any) -> Any:
        connections = self.fake.open_connections()
        for connection in connections:
            connection.invalidate_session(bool(body.get("resumable", False)))
        return {"connections": len(connections)}


class _ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _control_body(request: Request) -> Any:
    if request.method != b"POST" or request.content is None:
        return {}
    request.content.seek(0)
    raw = request.content.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _ControlError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _ControlError(400, "the body must be a JSON object")
    return body


# --- running it on its own ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m openclaw.testing.discord_api",
        description="A local fake of Discord (REST API v10 and the gateway) for trying the "
                    "Discord channel offline.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--token", default=None)
    parser.add_argument("--username", default="OpenClaw")
    parser.add_argument("--no-message-content", action="store_true",
                        help="the application lacks the MESSAGE_CONTENT intent")
    options = parser.parse_args(argv)

    async def serve(reactor: Any) -> None:
        server = DiscordServer(reactor, host=options.host)
        flags = 0 if options.no_message_content else (
            ApplicationFlags.GATEWAY_MESSAGE_CONTENT_LIMITED)
        bot = server.add_bot(options.token, username=options.username, flags=flags)
        alice = server.add_user("alice", global_name="Alice")
        guild = server.add_guild("OpenClaw Test", members=[alice, bot])
        server.start(options.port)
        general = guild.channel("general")
        print(f"Fake Discord listening on {server.api_base} (gateway {server.gateway_url}; "
              f"bot {options.username} token {bot.token}; guild {guild.id} #general "
              f"{general.id}; user alice {alice.id})")
        print(f"Usage: DISCORD_API_URL={server.api_base} with channels.discord.token="
              f"{bot.token}; DM as alice with curl -d '{{\"user\":\"alice\",\"content\":\"hi\"}}'"
              f" http://{server.origin}/_fake/dm and read replies with curl "
              f"'http://{server.origin}/_fake/sent?wait=30'", flush=True)
        await Deferred()  # until interrupted

    from twisted.internet import task

    task.react(lambda reactor: Deferred.fromCoroutine(serve(reactor)), [])


if __name__ == "__main__":
    main(sys.argv[1:])
