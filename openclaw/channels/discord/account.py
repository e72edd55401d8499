"""One Discord bot account: the gateway WebSocket in, REST out.

* start: ``GET /users/@me`` and ``/oauth2/applications/@me`` (the bot, and the application
  flags that say whether the Message Content intent is enabled, limited or disabled), then
  the gateway from ``GET /gateway/bot`` (with ``DISCORD_API_URL`` only when on the same
  origin as the REST base; plain ``ws`` only on loopback);
* inbound: ``MESSAGE_CREATE`` in DMs and guild channels (the bot's own messages, which come
  back as dispatches, and other bots' are not new messages; group DMs only with
  ``dm.groupEnabled``); a guild message mentions the bot by a user mention, a mention of
  one of the bot's roles, or a reply to one of its messages; the bot's own mention is
  taken out of the text the agent sees;
* guilds: ``groupPolicy`` with ``guilds.<id or slug>`` (a ``channels`` map there is an
  allowlist, ``"*"`` keeps the rest reachable), ``users`` or ``roles`` allowed,
  ``requireMention`` per guild or channel;
* outbound: ``POST /channels/{id}/messages`` (a ``user:<id>`` target opens the DM first),
  cut to 2000 characters and 17 lines; typing ``POST /channels/{id}/typing``;
* status: ``tokenSource``, ``bot``, ``application`` (``intents.messageContent`` shows as
  ``intents:content=...`` in ``channels status``); a fatal gateway close (4004, 4014...)
  stops the account with that error instead of reconnecting.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, DeferredLock
from twisted.logger import Logger

from openclaw.channels.account import ChannelAccount, ChannelContext
from openclaw.channels.discord.config import DISCORD_META, DiscordSettings, check_base
from openclaw.channels.discord.format import DEFAULT_MAX_LINES, MAX_CONTENT, chunk_discord
from openclaw.channels.discord.gateway import (
    DEFAULT_INTENTS,
    GUILD_MEMBERS,
    GUILD_PRESENCES,
    MESSAGE_CONTENT,
    GatewaySession,
)
from openclaw.channels.discord.rest import DiscordApiError, DiscordRest
from openclaw.channels.model import (
    DIRECT,
    AccountSpec,
    InboundMessage,
    NotConnected,
    OutboundMessage,
    SendFailed,
)
from openclaw.channels.policy import AccessPolicy, GroupRule
from openclaw.config.channels import DiscordAccountConfig

log = Logger(namespace="channels.discord")

CHANNEL: Final = "channel"
DM_CHANNEL: Final = 1
GROUP_DM_CHANNEL: Final = 3
DISCORD_EPOCH_MS: Final = 1_420_070_400_000
STOP_GRACE_S: Final = 5.0        # a send in flight at stop may finish (no resend after)
# application flags: privileged intents enabled / "limited" (bots in fewer than 100 guilds)
_APP_FLAGS: Final = {"presence": (1 << 12, 1 << 13), "guildMembers": (1 << 14, 1 << 15),
                     "messageContent": (1 << 18, 1 << 19)}


def privileged_intents(flags: int) -> dict[str, str]:
    """``resolveDiscordPrivilegedIntentsFromFlags``."""
    found = {}
    for name, (enabled, limited) in _APP_FLAGS.items():
        found[name] = "enabled" if flags & enabled else "limited" if flags & limited \
            else "disabled"
    return {"messageContent": found["messageContent"], "guildMembers": found["guildMembers"],
            "presence": found["presence"]}


def application_summary(app: Mapping[str, Any]) -> dict[str, Any]:
    flags = app.get("flags") if isinstance(app.get("flags"), int) else None
    summary: dict[str, Any] = {"id": app.get("id"), "flags": flags}
    if flags is not None:
        summary["intents"] = privileged_intents(flags)
    return summary


def normalize_allow_entry(raw: str) -> str:
    value = raw.strip()
    value = re.sub(r"^(discord|user):", "", value, flags=re.IGNORECASE).strip()
    match = re.fullmatch(r"<@!?(\d+)>", value)
    if match:
        value = match.group(1)
    match = re.fullmatch(r"<@&(\d+)>", value)
    if match:
        value = f"role:{match.group(1)}"
    return value.lower()


def normalize_target(raw: str) -> str | None:
    """``channel:<id>``, ``user:<id>``, ``<@id>``, ``<#id>`` (``discord:`` prefix allowed);
    a bare number is refused (it could be a user or a channel)."""
    target = re.sub(r"^discord:", "", raw.strip(), flags=re.IGNORECASE).strip()
    match = re.fullmatch(r"<@!?(\d+)>", target)
    if match:
        return f"user:{match.group(1)}"
    match = re.fullmatch(r"<#(\d+)>", target)
    if match:
        return f"channel:{match.group(1)}"
    match = re.fullmatch(r"(user|channel):\s*(\d+)", target, flags=re.IGNORECASE)
    if match:
        return f"{match.group(1).lower()}:{match.group(2)}"
    return None


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower().lstrip("#")).strip("-")


def build_groups(config: DiscordAccountConfig) -> dict[str, GroupRule]:
    """``guilds`` as policy keys ``<guild>/<channel>`` (guild: id or slug; channel: id, name
    or ``*``); the guild ``"*"`` is the policy wildcard."""
    groups: dict[str, GroupRule] = {}
    for guild_key, guild in (config.guilds or {}).items():
        gkey = guild_key.strip().lower()
        senders = tuple(normalize_allow_entry(u) for u in guild.users or ()) + tuple(
            f"role:{r.strip().lower()}" for r in guild.roles or ())
        base = GroupRule(require_mention=guild.require_mention, allow_from=senders)
        channels = guild.channels or {}
        if not channels:
            groups["*" if gkey == "*" else f"{gkey}/*"] = base
            continue
        if "*" not in channels:
            groups[f"{gkey}/*"] = GroupRule(enabled=False)     # a channel map is an allowlist
        for channel_key, channel in channels.items():
            ckey = channel_key.strip().lower().lstrip("#")
            ckey = ckey if ckey == "*" or ckey.isdigit() else slug(ckey)
            channel_senders = tuple(normalize_allow_entry(u) for u in channel.users or ()) + \
                tuple(f"role:{r.strip().lower()}" for r in channel.roles or ())
            groups[f"{gkey}/{ckey}"] = GroupRule(
                require_mention=channel.require_mention if channel.require_mention is not None
                else guild.require_mention, enabled=channel.enabled,
                allow_from=channel_senders or senders, system_prompt=channel.system_prompt)
    return groups


def snowflake_ms(value: str) -> int | None:
    return (int(value) >> 22) + DISCORD_EPOCH_MS if value.isdigit() else None


class DiscordAccount(ChannelAccount):
    meta = DISCORD_META
    default_chunk_limit = MAX_CONTENT
    default_history_limit = 20

    def __init__(self, spec: AccountSpec, context: ChannelContext) -> None:
        super().__init__(spec, context)
        self.dc: DiscordSettings = spec.settings
        self.token = spec.secrets.get("token", "")
        self.rest: DiscordRest | None = None
        self.session: GatewaySession | None = None
        self.bot: dict[str, Any] | None = None          # {id, username}
        self.application: dict[str, Any] | None = None  # {id, flags, intents}
        self.guilds: dict[str, dict[str, Any]] = {}     # id -> {name, roles (the bot's)}
        self.channel_cache: dict[str, dict[str, Any]] = {}
        self.dm_channels: dict[str, str] = {}           # user id -> DM channel id
        self._gateway_url: str | None = None
        self._inbox = DeferredLock()
        self._starting: Deferred[None] | None = None

    @property
    def bot_id(self) -> str:
        return str((self.bot or {}).get("id") or "")

    # -- connection ---------------------------------------------------------------------

    def intents(self) -> int:
        config = self.dc.config.intents
        intents = DEFAULT_INTENTS
        if config is not None and config.message_content is False:
            intents &= ~MESSAGE_CONTENT
        if config is not None and config.presence:
            intents |= GUILD_PRESENCES
        if config is not None and config.guild_members:
            intents |= GUILD_MEMBERS
        return intents

    def start_network(self) -> None:
        refused = check_base(self.dc.api_base)
        if refused:
            raise RuntimeError(refused)
        self.rest = DiscordRest(self.context.reactor, self.context.timer, self.dc.api_base,
                                self.token)
        self._starting = Deferred.fromCoroutine(self._start())
        self._starting.addErrback(lambda f: log.failure("discord start failed", f))

    async def _start(self) -> None:
        rest = self.rest
        assert rest is not None
        try:
            me = await rest.get("/users/@me")
            self.bot = {"id": str(me.get("id")), "username": me.get("username")}
            try:
                self.application = application_summary(
                    await rest.get("/oauth2/applications/@me"))
            except DiscordApiError as e:
                log.info("[{account}] application lookup failed: {error}",
                         account=self.account_id, error=str(e))
        except DiscordApiError as e:
            if e.status == 401:
                self._fatal(f"Discord rejected the bot token: GET /users/@me returned 401 "
                            f"({e.message}). Update channels.discord.token or "
                            "DISCORD_BOT_TOKEN.")
                return
            log.info("[{account}] bot probe failed: {error}", account=self.account_id,
                     error=str(e))
        except Exception as e:
            log.info("[{account}] bot probe failed: {error}", account=self.account_id,
                     error=str(e) or type(e).__name__)
        if not self.active:
            return
        content = ((self.application or {}).get("intents") or {}).get("messageContent")
        if content == "disabled":
            log.warn("[{account}] Discord Message Content Intent is disabled; bot may not "
                     "respond to channel messages.", account=self.account_id)
        log.info("[{account}] starting Discord provider{bot}", account=self.account_id,
                 bot=f" (@{self.bot['username']})" if self.bot else "")
        self.session = GatewaySession(
            reactor=self.context.reactor, clock=self.context.timer,
            account_id=self.account_id, token=self.token, intents=self.intents(),
            gateway_url=lambda: Deferred.fromCoroutine(self._discover()),
            check_url=self._check_gateway_url, on_ready=self._ready,
            on_dispatch=self._dispatch, on_lost=self._lost, on_fatal=self._fatal)
        self.session.start()

    async def _discover(self) -> str:
        if self._gateway_url is not None:
            return self._gateway_url
        assert self.rest is not None
        found = await self.rest.get("/gateway/bot")
        url = str(found.get("url") or "") if isinstance(found, dict) else ""
        base = urlsplit(self.dc.api_base)
        if self.dc.api_override and (not url or urlsplit(url).netloc != base.netloc):
            # the override is the whole of Discord: its own origin serves the gateway
            url = f"{'wss' if base.scheme == 'https' else 'ws'}://{base.netloc}"
        self._gateway_url = url
        return url

    def _check_gateway_url(self, url: str) -> str | None:
        refused = check_base(url)
        if refused:
            return refused
        if self.dc.api_override and urlsplit(url).netloc != urlsplit(self.dc.api_base).netloc:
            return f"Discord gateway {url} is not on the DISCORD_API_URL origin"
        return None

    def stop_network(self) -> Deferred[None] | None:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        starting, self._starting = self._starting, None
        if starting is not None and not starting.called:
            starting.cancel()
        session, self.session = self.session, None
        if session is not None:
            await session.stop()
        rest, self.rest = self.rest, None
        if rest is not None:
            await rest.close(grace_s=STOP_GRACE_S)

    def _ready(self, data: dict[str, Any], resumed: bool) -> None:
        if not resumed:
            user = data.get("user") or {}
            if user.get("id"):
                self.bot = {"id": str(user["id"]), "username": user.get("username")}
            app = data.get("application")
            if isinstance(app, dict) and isinstance(app.get("flags"), int):
                self.application = application_summary(app)
        self.connection_made()

    def _lost(self, reason: str) -> None:
        self.connection_lost(reason)
        self.connect_failed(reason)

    def _fatal(self, message: str) -> None:
        self.connected = False
        self.active = False
        self.lifecycle = "error"
        self.last_error = message
        self.last_stop_at = self.now_ms()
        Deferred.fromCoroutine(self._stop()).addErrback(
            lambda f: log.failure("discord stop failed", f))
        self.notify_failure(message)

    # -- inbound ------------------------------------------------------------------------

    def _dispatch(self, event: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        self.last_transport_at = self.now_ms()
        if event == "GUILD_CREATE":
            self._guild(data)
        elif event in ("CHANNEL_CREATE", "CHANNEL_UPDATE"):
            self.channel_cache[str(data.get("id"))] = data
        elif event == "MESSAGE_CREATE":
            self._inbox.run(lambda: Deferred.fromCoroutine(self._message(data))).addErrback(
                lambda f: log.failure("discord: accepting a message failed", f))

    def _guild(self, data: dict[str, Any]) -> None:
        guild_id = str(data.get("id"))
        roles: list[str] = []
        for member in data.get("members") or ():
            user = member.get("user") or {}
            if str(user.get("id")) == self.bot_id:
                roles = [str(r) for r in member.get("roles") or ()]
        for role in data.get("roles") or ():
            tags = role.get("tags") or {}
            if str(tags.get("bot_id")) == self.bot_id and str(role.get("id")) not in roles:
                roles.append(str(role.get("id")))
        self.guilds[guild_id] = {"name": str(data.get("name") or ""), "roles": roles}
        for channel in data.get("channels") or ():
            channel = dict(channel)
            channel.setdefault("guild_id", guild_id)
            self.channel_cache[str(channel.get("id"))] = channel

    async def _channel_info(self, channel_id: str) -> dict[str, Any]:
        cached = self.channel_cache.get(channel_id)
        if cached is not None:
            return cached
        rest = self.rest
        if rest is None:
            return {}
        try:
            found = await rest.get(f"/channels/{channel_id}")
        except Exception as e:
            log.info("[{account}] channel {channel} lookup failed: {error}",
                     account=self.account_id, channel=channel_id, error=str(e))
            return {}
        if isinstance(found, dict):
            self.channel_cache[channel_id] = found
            return found
        return {}

    async def _message(self, data: dict[str, Any]) -> None:
        message = await self.inbound_message(data)
        if message is not None:
            await self.receive(message)

    async def inbound_message(self, data: Mapping[str, Any]) -> InboundMessage | None:
        author = data.get("author") or {}
        author_id = str(author.get("id") or "")
        if not author_id or author_id == self.bot_id or data.get("webhook_id"):
            return None
        mentioned_users = {str(u.get("id")) for u in data.get("mentions") or ()
                           if isinstance(u, Mapping)}
        guild_id = str(data["guild_id"]) if data.get("guild_id") else None
        channel_id = str(data.get("channel_id") or "")
        bot_roles = set((self.guilds.get(guild_id or "") or {}).get("roles") or ())
        referenced = data.get("referenced_message") or {}
        mentioned = (self.bot_id in mentioned_users
                     or bool(bot_roles & {str(r) for r in data.get("mention_roles") or ()})
                     or str((referenced.get("author") or {}).get("id")) == self.bot_id)
        allow_bots = self.dc.config.allow_bots
        if author.get("bot") and not (allow_bots is True or (allow_bots == "mentions"
                                                             and mentioned)):
            return None
        text = str(data.get("content") or "")
        if self.bot_id:
            text = re.sub(rf"<@!?{self.bot_id}>", "", text)
        text = text.strip()
        if not text:
            if guild_id and not (data.get("attachments") or data.get("embeds")):
                log.debug("[{account}] empty content in {channel} (Message Content intent "
                          "off?)", account=self.account_id, channel=channel_id)
            return None
        member = data.get("member") or {}
        roles = tuple(str(r) for r in member.get("roles") or ())
        names = {str(n).lower() for n in (author.get("username"), author.get("global_name"),
                                          member.get("nick")) if n}
        name = str(member.get("nick") or author.get("global_name") or author.get("username")
                   or author_id)
        message_id = str(data.get("id") or "")
        ts = snowflake_ms(message_id) or self.now_ms()
        if isinstance(data.get("timestamp"), str):
            with contextlib.suppress(ValueError):
                ts = int(datetime.fromisoformat(data["timestamp"]).timestamp() * 1000)
        common: dict[str, Any] = dict(
            channel="discord", account_id=self.account_id, event_id=message_id,
            sender_id=author_id, sender_name=name, text=text, ts=ts,
            sender_keys=(author_id, *(f"role:{r}" for r in roles)),
            sender_names=tuple(sorted(names - {author_id})), message_id=message_id,
            reply_target=f"channel:{channel_id}")
        if guild_id is None:
            info = await self._channel_info(channel_id)
            if info.get("type") == GROUP_DM_CHANNEL:
                dm = self.dc.config.dm
                allowed = {c.lower() for c in (dm.group_channels if dm else None) or ()}
                if not (dm and dm.group_enabled) or (allowed and channel_id not in allowed):
                    return None
                return InboundMessage(chat_type="group", conversation_id=channel_id,
                                      group_keys=(f"dm/{channel_id}", "dm/*"),
                                      mentioned=mentioned,
                                      meta={"channelId": channel_id}, **common)
            self.dm_channels[author_id] = channel_id
            return InboundMessage(chat_type=DIRECT, conversation_id=author_id,
                                  meta={"channelId": channel_id,
                                        "username": str(author.get("username") or "")},
                                  **common)
        guild = self.guilds.get(guild_id) or {}
        channel = self.channel_cache.get(channel_id) or {}
        channel_name = slug(str(channel.get("name") or ""))
        guild_keys = [guild_id]
        if guild.get("name"):
            guild_keys.append(slug(str(guild["name"])))
        configured = self.dc.config.guilds or {}
        for key, entry in configured.items():
            if entry.slug and slug(entry.slug) in guild_keys[1:] and key.lower() not in \
                    guild_keys:
                guild_keys.append(key.lower())
        keys = [f"{g}/{c}" for g in guild_keys
                for c in (channel_id, channel_name) if c] + [f"{g}/*" for g in guild_keys]
        keys += [f"*/{c}" for c in (channel_id, channel_name) if c]
        return InboundMessage(chat_type=CHANNEL, conversation_id=channel_id,
                              group_keys=tuple(keys), mentioned=mentioned,
                              meta={"channelId": channel_id, "guildId": guild_id},
                              **common)

    # -- outbound -----------------------------------------------------------------------

    def chunking(self) -> tuple[int, str, int | None]:
        limit, mode, _ = super().chunking()
        return min(int(limit), MAX_CONTENT), mode, None

    def chunk(self, text: str) -> list[str]:
        limit, mode, _ = self.chunking()
        lines = self.dc.config.max_lines_per_message or DEFAULT_MAX_LINES
        return chunk_discord(text, limit, mode, int(lines))

    async def _channel_id(self, target: str) -> str:
        kind, _, ident = target.partition(":")
        if kind == "channel":
            return ident
        if kind != "user":
            raise SendFailed(f"invalid Discord target: {target}")
        known = self.dm_channels.get(ident)
        if known is not None:
            return known
        assert self.rest is not None
        try:
            opened = await self.rest.request("POST", "/users/@me/channels",
                                             {"recipient_id": ident})
        except DiscordApiError as e:
            raise _send_failed(e) from e
        channel_id = str(opened.get("id"))
        self.dm_channels[ident] = channel_id
        return channel_id

    async def send_message(self, message: OutboundMessage) -> str | None:
        rest = self.rest
        if rest is None:
            raise NotConnected()
        channel_id = await self._channel_id(message.target)
        body: dict[str, Any] = {"content": message.text}
        if message.reply_to_id:
            body["message_reference"] = {"message_id": message.reply_to_id,
                                         "fail_if_not_exists": False}
        try:
            posted = await rest.request("POST", f"/channels/{channel_id}/messages", body)
        except DiscordApiError as e:
            raise _send_failed(e) from e
        except Exception as e:
            raise SendFailed(f"Discord send failed: {str(e) or type(e).__name__}",
                             retry_after=2.0) from e
        return str(posted.get("id")) if isinstance(posted, dict) else None

    def set_typing(self, target: str, on: bool) -> None:
        rest = self.rest
        if rest is None or not on or not self.connected:
            return

        async def typing() -> None:
            channel_id = await self._channel_id(target)
            await rest.request("POST", f"/channels/{channel_id}/typing", attempts=0)

        Deferred.fromCoroutine(typing()).addErrback(lambda f: None)

    def reply_plan(self, message: InboundMessage) -> tuple[str, str | None, str | None]:
        mode = self.dc.config.reply_to_mode or "off"
        reply_to = message.message_id if mode in ("first", "all", "batched") else None
        return message.reply_target, None, reply_to

    # -- policy -------------------------------------------------------------------------

    def access_policy(self) -> AccessPolicy:
        config = self.dc.config
        snapshot = self.context.config()
        defaults = snapshot.config.channels.defaults
        dm = config.dm
        groups = build_groups(config)
        if dm is not None and dm.group_enabled:
            groups["dm/*"] = GroupRule(require_mention=False)
        return AccessPolicy(
            dm_policy=config.dm_policy or "pairing",
            dm_enabled=not (dm is not None and dm.enabled is False),
            allow_from=tuple(normalize_allow_entry(e) for e in config.allow_from or ()),
            group_policy=config.group_policy or (defaults.group_policy if defaults else None)
            or "allowlist",
            groups=groups, name_matching=bool(config.dangerously_allow_name_matching),
            group_senders_required=False, mention_patterns=self.mention_patterns(snapshot))

    def pairing_sender(self, message: InboundMessage) -> tuple[str, dict[str, str]]:
        return message.sender_id, {"name": message.meta.get("username") or
                                   message.sender_name}

    def pairing_id_line(self, message: InboundMessage) -> str:
        return f"Your Discord user id: {message.sender_id}"

    def pairing_notify_target(self, sender_id: str, meta: Mapping[str, str]) -> str | None:
        return f"user:{sender_id}" if sender_id.isdigit() else None

    # -- status -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        snapshot = super().snapshot()
        snapshot["tokenSource"] = self.dc.token_source
        snapshot["lastStopAt"] = self.last_stop_at
        if self.application is not None:
            snapshot["application"] = self.application
        if self.bot is not None:
            snapshot["bot"] = self.bot
        return snapshot

    def summary(self, snapshot: dict[str, Any]) -> dict[str, Any] | None:
        return {"configured": snapshot.get("configured", False),
                "tokenSource": snapshot.get("tokenSource", "none"),
                "running": snapshot.get("running", False),
                "lastStartAt": snapshot.get("lastStartAt"),
                "lastStopAt": snapshot.get("lastStopAt"),
                "lastError": snapshot.get("lastError"),
                "probe": snapshot.get("probe"),
                "lastProbeAt": snapshot.get("lastProbeAt")}

    def status_issues(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        if snapshot.get("enabled") is False or not snapshot.get("configured"):
            return []
        app = snapshot.get("application") or (snapshot.get("probe") or {}).get("application")
        content = ((app or {}).get("intents") or {}).get("messageContent") if isinstance(
            app, dict) else None
        issues = []
        if content == "disabled":
            issues.append({"channel": "discord", "accountId": self.account_id,
                           "kind": "intent",
                           "message": "Message Content Intent is disabled. Bot may not see "
                                      "normal channel messages.",
                           "fix": "Enable Message Content Intent in Discord Dev Portal → Bot "
                                  "→ Privileged Gateway Intents, or require mention-only "
                                  "operation."})
        return issues

    def probe(self, timeout_ms: int) -> Any:
        return Deferred.fromCoroutine(self._probe(timeout_ms))

    async def _probe(self, timeout_ms: int) -> dict[str, Any]:
        clock = self.context.timer
        started = clock.seconds()

        def elapsed() -> int:
            return int((clock.seconds() - started) * 1000)

        result: dict[str, Any] = {"ok": False, "status": None, "error": None}
        if not self.token:
            return {**result, "error": "missing token", "elapsedMs": 0}
        refused = check_base(self.dc.api_base)
        if refused:
            return {**result, "error": refused, "elapsedMs": 0}
        timeout = max(1, timeout_ms) / 1000.0
        rest = DiscordRest(self.context.reactor, clock, self.dc.api_base, self.token)
        try:
            try:
                me = await rest.request("GET", "/users/@me", timeout_s=timeout, attempts=0)
            except DiscordApiError as e:
                return {**result, "status": e.status, "error": f"getMe failed ({e.status})",
                        "elapsedMs": elapsed()}
            result.update(ok=True, bot={"id": me.get("id"), "username": me.get("username")})
            try:
                app = await rest.request("GET", "/oauth2/applications/@me",
                                         timeout_s=max(0.001, timeout - (
                                             clock.seconds() - started)), attempts=0)
                result["application"] = application_summary(app)
            except Exception:  # best effort: the intents audit is extra; the probe answered
                pass
            return {**result, "elapsedMs": elapsed()}
        except Exception as e:
            return {**result, "error": str(e) or type(e).__name__, "elapsedMs": elapsed()}
        finally:
            await rest.close()


def _send_failed(error: DiscordApiError) -> SendFailed:
    if error.status == 429:
        return SendFailed(str(error), retry_after=error.retry_after or 1.0)
    if error.status >= 500 or error.status == 0:
        return SendFailed(str(error), retry_after=2.0)
    return SendFailed(str(error))
