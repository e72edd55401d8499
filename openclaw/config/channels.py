"""The typed ``channels`` and ``bindings`` sections (the parts this gateway runs).

Key names and types follow the real 2026.9 schema (``channels.irc``, ``channels.matrix``,
``channels.telegram``, ``channels.discord``, ``channels.defaults``, top-level ``bindings``);
keys of those sections this gateway does not implement are kept and reported as unsupported,
and every other channel (``slack``, ``signal``, ...) stays verbatim until its network lands.

Every account-level field defaults to None ("not set") because a named account inherits the
channel's top-level value for each field it leaves unset (``resolve_account`` in
:mod:`openclaw.channels.accounts`); the runtime defaults (``dmPolicy: "pairing"``, ``tls:
true`` ...) are applied there, once.
"""

# ruff: noqa: RUF009  -- setting() returns an attrs field, not a dataclass default value

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from openclaw.config.fields import (
    Bool,
    ConfigObject,
    Enum,
    Int,
    ListOf,
    MapOf,
    Num,
    OneOf,
    Section,
    Str,
    Transformed,
    setting,
)

DM_POLICIES = ("pairing", "allowlist", "open", "disabled")
GROUP_POLICIES = ("open", "disabled", "allowlist")
PEER_KINDS = ("direct", "group", "channel", "dm")


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# allowFrom entries are ``string | number`` upstream (Telegram ids are numbers); kept as text.
AllowEntry = OneOf(Str(), Transformed(Num(), _number_text))
AllowList = ListOf(AllowEntry)


@attrs.frozen(repr=False)
class ChannelDefaultsConfig(ConfigObject):
    """Settings every channel falls back to."""

    group_policy: str | None = setting(
        "groupPolicy", Enum(*GROUP_POLICIES, style="enum"), default=None,
        description='Group policy of channels that set none ("allowlist" when unset).')


# --------------------------------------------------------------------------- IRC


@attrs.frozen(repr=False)
class IrcNickServConfig(ConfigObject):
    """NickServ identification after registration."""

    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="Identify with NickServ (default when a "
                                               "password is set).")
    service: str | None = setting("service", Str(), default=None,
                                  description='The service nick (default "NickServ").')
    password: str | None = setting("password", Str(), default=None,
                                   description="NickServ password.")
    password_file: str | None = setting("passwordFile", Str(), default=None,
                                        description="File holding the NickServ password.")
    register: bool | None = setting("register", Bool(), default=None,
                                    description="Send REGISTER on every connect.")
    register_email: str | None = setting("registerEmail", Str(), default=None,
                                         description="E-mail for REGISTER.")


@attrs.frozen(repr=False)
class IrcGroupConfig(ConfigObject):
    """One ``channels.irc.groups.<#channel>`` entry (``"*"``: every channel)."""

    require_mention: bool | None = setting("requireMention", Bool(), default=None,
                                           description="Answer only when mentioned "
                                                       "(default true).")
    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: ignore this channel.")
    allow_from: tuple[str, ...] | None = setting("allowFrom", AllowList, default=None,
                                                 description="Senders allowed here.")
    system_prompt: str | None = setting("systemPrompt", Str(), default=None,
                                        description="Extra system prompt for this channel.")


@attrs.frozen(repr=False)
class StreamingConfig(ConfigObject):
    """How replies are cut and streamed."""

    mode: str | None = setting("mode", Enum("off", "partial", "quiet", "progress",
                                            style="enum"),
                               default=None, description="Preview streaming (Matrix).")
    chunk_mode: str | None = setting("chunkMode", Enum("length", "newline", style="enum"),
                                     default=None,
                                     description='"length" (default) or "newline".')


@attrs.frozen(repr=False)
class IrcAccountConfig(ConfigObject):
    """One IRC account (the channel's top level is the base of every account)."""

    name: str | None = setting("name", Str(), default=None, description="Display label.")
    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: do not start this account.")
    host: str | None = setting("host", Str(), default=None, description="Server host.")
    port: int | None = setting("port", Int(minimum=1, maximum=65535), default=None,
                               description="Server port (6697 with TLS, else 6667).")
    tls: bool | None = setting("tls", Bool(), default=None, description="TLS (default true).")
    nick: str | None = setting("nick", Str(), default=None, description="Nickname.")
    username: str | None = setting("username", Str(), default=None,
                                   description="USER name (default: the nick).")
    realname: str | None = setting("realname", Str(), default=None,
                                   description='Real name (default "OpenClaw").')
    password: str | None = setting("password", Str(), default=None,
                                   description="Server password (PASS, and SASL PLAIN).")
    password_file: str | None = setting("passwordFile", Str(), default=None,
                                        description="File holding the server password.")
    nickserv: IrcNickServConfig | None = setting("nickserv", Section(IrcNickServConfig),
                                                 default=None, description="NickServ.")
    dm_policy: str | None = setting("dmPolicy", Enum(*DM_POLICIES, style="enum"), default=None,
                                    description='Direct messages: "pairing" (default), '
                                                '"allowlist", "open", "disabled".')
    allow_from: tuple[str, ...] | None = setting("allowFrom", AllowList, default=None,
                                                 description="DM senders (nick!user@host).")
    group_policy: str | None = setting("groupPolicy", Enum(*GROUP_POLICIES, style="enum"),
                                       default=None,
                                       description='Channels: "allowlist" (default), "open", '
                                                   '"disabled".')
    group_allow_from: tuple[str, ...] | None = setting("groupAllowFrom", AllowList,
                                                       default=None,
                                                       description="Senders allowed in "
                                                                   "channels.")
    groups: Mapping[str, IrcGroupConfig] | None = setting(
        "groups", MapOf(Section(IrcGroupConfig)), default=None,
        description="Allowed channels and their settings.")
    channels: tuple[str, ...] | None = setting("channels", ListOf(Str()), default=None,
                                               description="Channels joined on connect.")
    text_chunk_limit: int | None = setting("textChunkLimit", Int(exclusive_minimum=0),
                                           default=None,
                                           description="Outbound chunk size (default 350).")
    streaming: StreamingConfig | None = setting("streaming", Section(StreamingConfig),
                                                default=None, description="Chunking.")
    dangerously_allow_name_matching: bool | None = setting(
        "dangerouslyAllowNameMatching", Bool(), default=None,
        description="Let bare nicks match allowlists (nicks are not identities).")
    reply_to_mode: str | None = setting("replyToMode", Enum("off", "first", "all", "batched"),
                                        default=None, description="Reply threading.")
    response_prefix: str | None = setting("responsePrefix", Str(), default=None,
                                          description="Prefix of outbound replies.")
    history_limit: int | None = setting("historyLimit", Int(minimum=0), default=None,
                                        description="Unanswered channel messages kept as "
                                                    "context (default 50).")


@attrs.frozen(repr=False)
class IrcConfig(IrcAccountConfig):
    """``channels.irc``: the base account plus named ``accounts``."""

    accounts: Mapping[str, IrcAccountConfig] | None = setting(
        "accounts", MapOf(Section(IrcAccountConfig)), default=None,
        description="Named accounts (inherit the top-level values).")
    default_account: str | None = setting("defaultAccount", Str(), default=None,
                                          description="The default account id.")


# --------------------------------------------------------------------------- Matrix


@attrs.frozen(repr=False)
class _SecretInput(ConfigObject):
    """``schema.SecretInput`` (a string or a SecretRef), looked up when used: the schema
    module imports this one."""

    def convert(self, value: Any, path: Any, ctx: Any) -> Any:
        from openclaw.config.schema import SecretInput

        return SecretInput.convert(value, path, ctx)

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        from openclaw.config.schema import SecretInput

        return SecretInput.json_schema(schema_path)


@attrs.frozen(repr=False)
class MatrixNetworkConfig(ConfigObject):
    """Network guards."""

    dangerously_allow_private_network: bool | None = setting(
        "dangerouslyAllowPrivateNetwork", Bool(), default=None,
        description="Allow a loopback/LAN/internal homeserver.")


@attrs.frozen(repr=False)
class MatrixDmConfig(ConfigObject):
    """Direct-message rooms."""

    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: ignore every DM.")
    policy: str | None = setting("policy", Enum(*DM_POLICIES, style="enum"), default=None,
                                 description='"pairing" (default), "allowlist", "open", '
                                             '"disabled".')
    allow_from: tuple[str, ...] | None = setting("allowFrom", AllowList, default=None,
                                                 description="DM senders (@user:server).")
    session_scope: str | None = setting("sessionScope", Enum("per-user", "per-room",
                                                             style="enum"),
                                        default=None, description="Session per user or room.")
    thread_replies: str | None = setting("threadReplies", Enum("off", "inbound", "always",
                                                               style="enum"),
                                         default=None, description="DM reply threading.")


@attrs.frozen(repr=False)
class MatrixGroupConfig(ConfigObject):
    """One ``channels.matrix.groups.<room id or alias>`` entry."""

    require_mention: bool | None = setting("requireMention", Bool(), default=None,
                                           description="Answer only when mentioned "
                                                       "(default true).")
    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: ignore this room.")
    users: tuple[str, ...] | None = setting("users", AllowList, default=None,
                                            description="Senders allowed in this room.")
    system_prompt: str | None = setting("systemPrompt", Str(), default=None,
                                        description="Extra system prompt for this room.")
    auto_reply: bool | None = setting("autoReply", Bool(), default=None,
                                      description="true: no mention needed here.")
    account: str | None = setting("account", Str(), default=None,
                                  description="Only this account uses the entry.")


@attrs.frozen(repr=False)
class MatrixAccountConfig(ConfigObject):
    """One Matrix account (the channel's top level is the base of every account)."""

    name: str | None = setting("name", Str(), default=None, description="Display label.")
    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: do not start this account.")
    homeserver: str | None = setting("homeserver", Str(), default=None,
                                     description="Homeserver URL.")
    network: MatrixNetworkConfig | None = setting("network", Section(MatrixNetworkConfig),
                                                  default=None, description="Network guards.")
    user_id: str | None = setting("userId", Str(), default=None,
                                  description="Full user id (@bot:server).")
    access_token: Any = setting("accessToken", _SecretInput(), default=None,
                                description="Access token (string or SecretRef).")
    password: Any = setting("password", _SecretInput(), default=None,
                            description="Password for password login (string or SecretRef).")
    device_id: str | None = setting("deviceId", Str(), default=None,
                                    description="Explicit device id.")
    device_name: str | None = setting("deviceName", Str(), default=None,
                                      description="Device display name at login.")
    initial_sync_limit: float | None = setting("initialSyncLimit", Num(minimum=0),
                                               default=None,
                                               description="Events fetched by the first sync.")
    encryption: bool | None = setting("encryption", Bool(), default=None,
                                      description="End-to-end encryption (not supported "
                                                  "here).")
    group_policy: str | None = setting("groupPolicy", Enum(*GROUP_POLICIES, style="enum"),
                                       default=None,
                                       description='Rooms: "allowlist" (default), "open", '
                                                   '"disabled".')
    group_allow_from: tuple[str, ...] | None = setting("groupAllowFrom", AllowList,
                                                       default=None,
                                                       description="Senders allowed in rooms.")
    groups: Mapping[str, MatrixGroupConfig] | None = setting(
        "groups", MapOf(Section(MatrixGroupConfig)), default=None,
        description="Allowed rooms (room id or alias).")
    rooms: Mapping[str, MatrixGroupConfig] | None = setting(
        "rooms", MapOf(Section(MatrixGroupConfig)), default=None,
        description="Legacy name of groups.")
    dm: MatrixDmConfig | None = setting("dm", Section(MatrixDmConfig), default=None,
                                        description="Direct messages.")
    auto_join: str | None = setting("autoJoin", Enum("always", "allowlist", "off",
                                                     style="enum"),
                                    default=None, description='Invites: "off" (default).')
    auto_join_allowlist: tuple[str, ...] | None = setting(
        "autoJoinAllowlist", AllowList, default=None,
        description="Room ids/aliases joined when autoJoin is allowlist.")
    text_chunk_limit: float | None = setting("textChunkLimit", Num(exclusive_minimum=0),
                                             default=None,
                                             description="Outbound chunk size (default 4000).")
    streaming: StreamingConfig | None = setting("streaming", Section(StreamingConfig),
                                                default=None, description="Streaming.")
    thread_replies: str | None = setting("threadReplies", Enum("off", "inbound", "always",
                                                               style="enum"),
                                         default=None, description='"inbound" (default).')
    reply_to_mode: str | None = setting("replyToMode", Enum("off", "first", "all", "batched",
                                                            style="enum"),
                                        default=None, description='"off" (default).')
    join_intro: bool | None = setting("joinIntro", Bool(), default=None,
                                      description="Introduce on joining a room (default "
                                                  "true).")
    dangerously_allow_name_matching: bool | None = setting(
        "dangerouslyAllowNameMatching", Bool(), default=None,
        description="Match display names against allowlists.")
    response_prefix: str | None = setting("responsePrefix", Str(), default=None,
                                          description="Prefix of outbound replies.")
    history_limit: int | None = setting("historyLimit", Int(minimum=0), default=None,
                                        description="Unanswered room messages kept as "
                                                    "context (default 0).")
    allowlist_only: bool | None = setting("allowlistOnly", Bool(), default=None,
                                          description="Force allowlist DM/group policies.")


@attrs.frozen(repr=False)
class MatrixConfig(MatrixAccountConfig):
    """``channels.matrix``: the base account plus named ``accounts``."""

    accounts: Mapping[str, MatrixAccountConfig] | None = setting(
        "accounts", MapOf(Section(MatrixAccountConfig)), default=None,
        description="Named accounts (inherit the top-level values).")
    default_account: str | None = setting("defaultAccount", Str(), default=None,
                                          description="The default account id.")


# --------------------------------------------------------------------------- Telegram, Discord


PREVIEW_MODES = ("off", "partial", "block", "progress")
REPLY_TO_MODES = ("off", "first", "all", "batched")


@attrs.frozen(repr=False)
class PreviewStreamingConfig(ConfigObject):
    """Live preview of a streaming reply (``channels.telegram.streaming``)."""

    mode: str | None = setting("mode", Enum(*PREVIEW_MODES, style="enum"), default=None,
                               description='"partial"/"block": edit one preview message as '
                                           'the reply streams; "progress" (default), "off": '
                                           "typing only.")
    chunk_mode: str | None = setting("chunkMode", Enum("length", "newline", style="enum"),
                                     default=None,
                                     description='"length" (default) or "newline".')


@attrs.frozen(repr=False)
class TelegramNetworkConfig(ConfigObject):
    """Network options."""

    dangerously_allow_private_network: bool | None = setting(
        "dangerouslyAllowPrivateNetwork", Bool(), default=None,
        description="Allow private/internal addresses for media downloads.")


@attrs.frozen(repr=False)
class TelegramGroupConfig(ConfigObject):
    """One ``channels.telegram.groups.<chat id>`` entry (``"*"``: every group)."""

    require_mention: bool | None = setting("requireMention", Bool(), default=None,
                                           description="Answer only when mentioned "
                                                       "(default true).")
    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: ignore this group.")
    allow_from: tuple[str, ...] | None = setting("allowFrom", AllowList, default=None,
                                                 description="Senders allowed here (user "
                                                             "ids).")
    system_prompt: str | None = setting("systemPrompt", Str(), default=None,
                                        description="Extra system prompt for this group.")
    group_policy: str | None = setting("groupPolicy", Enum(*GROUP_POLICIES, style="enum"),
                                       default=None,
                                       description='"open": any member may trigger the bot '
                                                   "here.")


@attrs.frozen(repr=False)
class TelegramAccountConfig(ConfigObject):
    """One Telegram bot (the channel's top level is the base of every account)."""

    name: str | None = setting("name", Str(), default=None, description="Display label.")
    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: do not start this account.")
    bot_token: Any = setting("botToken", _SecretInput(), default=None,
                             description="Bot token from BotFather (string or SecretRef).")
    token_file: str | None = setting("tokenFile", Str(), default=None,
                                     description="File holding the bot token (a regular "
                                                 "file; wins over botToken).")
    api_root: str | None = setting("apiRoot", Str(), default=None,
                                   description="Bot API root without /bot<TOKEN> (default "
                                               "https://api.telegram.org).")
    network: TelegramNetworkConfig | None = setting("network", Section(TelegramNetworkConfig),
                                                    default=None, description="Network.")
    dm_policy: str | None = setting("dmPolicy", Enum(*DM_POLICIES, style="enum"), default=None,
                                    description='Direct messages: "pairing" (default), '
                                                '"allowlist", "open", "disabled".')
    allow_from: tuple[str, ...] | None = setting("allowFrom", AllowList, default=None,
                                                 description="DM senders (numeric user ids).")
    group_policy: str | None = setting("groupPolicy", Enum(*GROUP_POLICIES, style="enum"),
                                       default=None,
                                       description='Groups: "allowlist" (default), "open", '
                                                   '"disabled".')
    group_allow_from: tuple[str, ...] | None = setting(
        "groupAllowFrom", AllowList, default=None,
        description="Senders allowed in groups (default: allowFrom).")
    groups: Mapping[str, TelegramGroupConfig] | None = setting(
        "groups", MapOf(Section(TelegramGroupConfig)), default=None,
        description="Allowed groups (chat ids) and their settings.")
    history_limit: int | None = setting("historyLimit", Int(minimum=0), default=None,
                                        description="Unanswered group messages kept as "
                                                    "context (default 50, at most 200).")
    text_chunk_limit: int | None = setting("textChunkLimit", Int(exclusive_minimum=0),
                                           default=None,
                                           description="Outbound chunk size (default 4000, "
                                                       "at most 4096).")
    streaming: PreviewStreamingConfig | None = setting(
        "streaming", Section(PreviewStreamingConfig), default=None,
        description="Preview streaming and chunking.")
    reply_to_mode: str | None = setting("replyToMode", Enum(*REPLY_TO_MODES),
                                        default=None, description='"off" (default).')
    response_prefix: str | None = setting("responsePrefix", Str(), default=None,
                                          description="Prefix of outbound replies.")


@attrs.frozen(repr=False)
class TelegramConfig(TelegramAccountConfig):
    """``channels.telegram``: the base bot plus named ``accounts``."""

    accounts: Mapping[str, TelegramAccountConfig] | None = setting(
        "accounts", MapOf(Section(TelegramAccountConfig)), default=None,
        description="Named accounts (inherit the top-level values).")
    default_account: str | None = setting("defaultAccount", Str(), default=None,
                                          description="The default account id.")


@attrs.frozen(repr=False)
class DiscordDmConfig(ConfigObject):
    """Direct messages."""

    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: ignore every DM.")
    group_enabled: bool | None = setting("groupEnabled", Bool(), default=None,
                                         description="Answer group DMs (default false).")
    group_channels: tuple[str, ...] | None = setting(
        "groupChannels", AllowList, default=None,
        description="Group DM channels answered (ids).")


@attrs.frozen(repr=False)
class DiscordIntentsConfig(ConfigObject):
    """Privileged gateway intents requested at identify."""

    message_content: bool | None = setting("messageContent", Bool(), default=None,
                                           description="MESSAGE_CONTENT (default true).")
    presence: bool | None = setting("presence", Bool(), default=None,
                                    description="GUILD_PRESENCES (default false).")
    guild_members: bool | None = setting("guildMembers", Bool(), default=None,
                                         description="GUILD_MEMBERS (default false).")


@attrs.frozen(repr=False)
class DiscordChannelConfig(ConfigObject):
    """One ``guilds.<id>.channels.<id or name>`` entry."""

    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: ignore this channel.")
    require_mention: bool | None = setting("requireMention", Bool(), default=None,
                                           description="Answer only when mentioned.")
    users: tuple[str, ...] | None = setting("users", ListOf(Str()), default=None,
                                            description="Senders allowed here (ids).")
    roles: tuple[str, ...] | None = setting("roles", ListOf(Str()), default=None,
                                            description="Roles allowed here (ids).")
    system_prompt: str | None = setting("systemPrompt", Str(), default=None,
                                        description="Extra system prompt for this channel.")


@attrs.frozen(repr=False)
class DiscordGuildConfig(ConfigObject):
    """One ``channels.discord.guilds.<id or slug>`` entry (``"*"``: every guild)."""

    slug: str | None = setting("slug", Str(), default=None, description="Guild slug.")
    require_mention: bool | None = setting("requireMention", Bool(), default=None,
                                           description="Answer only when mentioned "
                                                       "(default true).")
    users: tuple[str, ...] | None = setting("users", ListOf(Str()), default=None,
                                            description="Senders allowed (ids).")
    roles: tuple[str, ...] | None = setting("roles", ListOf(Str()), default=None,
                                            description="Roles allowed (ids).")
    channels: Mapping[str, DiscordChannelConfig] | None = setting(
        "channels", MapOf(Section(DiscordChannelConfig)), default=None,
        description="Allowed channels (a map is an allowlist; \"*\" keeps the rest).")


@attrs.frozen(repr=False)
class DiscordAccountConfig(ConfigObject):
    """One Discord bot (the channel's top level is the base of every account)."""

    name: str | None = setting("name", Str(), default=None, description="Display label.")
    enabled: bool | None = setting("enabled", Bool(), default=None,
                                   description="false: do not start this account.")
    token: Any = setting("token", _SecretInput(), default=None,
                         description="Bot token (string or SecretRef).")
    application_id: str | None = setting("applicationId", Str(), default=None,
                                         description="Application id (default: from the "
                                                     "token).")
    dm_policy: str | None = setting("dmPolicy", Enum(*DM_POLICIES, style="enum"), default=None,
                                    description='Direct messages: "pairing" (default), '
                                                '"allowlist", "open", "disabled".')
    allow_from: tuple[str, ...] | None = setting("allowFrom", ListOf(Str()), default=None,
                                                 description="DM senders (user ids).")
    dm: DiscordDmConfig | None = setting("dm", Section(DiscordDmConfig), default=None,
                                         description="Direct messages.")
    group_policy: str | None = setting("groupPolicy", Enum(*GROUP_POLICIES, style="enum"),
                                       default=None,
                                       description='Guilds: "allowlist" (default), "open", '
                                                   '"disabled".')
    guilds: Mapping[str, DiscordGuildConfig] | None = setting(
        "guilds", MapOf(Section(DiscordGuildConfig)), default=None,
        description="Allowed guilds (id or slug) and their channels.")
    intents: DiscordIntentsConfig | None = setting("intents", Section(DiscordIntentsConfig),
                                                   default=None,
                                                   description="Privileged intents.")
    allow_bots: bool | str | None = setting("allowBots", OneOf(Bool(), Enum("mentions")),
                                            default=None,
                                            description="Answer other bots (default false).")
    dangerously_allow_name_matching: bool | None = setting(
        "dangerouslyAllowNameMatching", Bool(), default=None,
        description="Let user names match allowlists (names are not identities).")
    history_limit: int | None = setting("historyLimit", Int(minimum=0), default=None,
                                        description="Unanswered channel messages kept as "
                                                    "context (default 20).")
    text_chunk_limit: int | None = setting("textChunkLimit", Int(exclusive_minimum=0),
                                           default=None,
                                           description="Outbound chunk size (default 2000).")
    max_lines_per_message: int | None = setting(
        "maxLinesPerMessage", Int(exclusive_minimum=0), default=None,
        description="Lines per outbound message (default 17).")
    streaming: PreviewStreamingConfig | None = setting(
        "streaming", Section(PreviewStreamingConfig), default=None,
        description="Chunking.")
    reply_to_mode: str | None = setting("replyToMode", Enum(*REPLY_TO_MODES),
                                        default=None, description='"off" (default).')
    response_prefix: str | None = setting("responsePrefix", Str(), default=None,
                                          description="Prefix of outbound replies.")


@attrs.frozen(repr=False)
class DiscordConfig(DiscordAccountConfig):
    """``channels.discord``: the base bot plus named ``accounts``."""

    accounts: Mapping[str, DiscordAccountConfig] | None = setting(
        "accounts", MapOf(Section(DiscordAccountConfig)), default=None,
        description="Named accounts (inherit the top-level values).")
    default_account: str | None = setting("defaultAccount", Str(), default=None,
                                          description="The default account id.")


@attrs.frozen(repr=False)
class ChannelsConfig(ConfigObject):
    """Chat channels (``irc``, ``matrix``, ``telegram`` and ``discord`` run here; other
    channels are kept verbatim)."""

    defaults: ChannelDefaultsConfig | None = setting(
        "defaults", Section(ChannelDefaultsConfig), default=None,
        description="Fallbacks for every channel.")
    irc: IrcConfig | None = setting("irc", Section(IrcConfig), default=None,
                                    description="IRC.")
    matrix: MatrixConfig | None = setting("matrix", Section(MatrixConfig), default=None,
                                          description="Matrix.")
    telegram: TelegramConfig | None = setting("telegram", Section(TelegramConfig),
                                              default=None, description="Telegram.")
    discord: DiscordConfig | None = setting("discord", Section(DiscordConfig), default=None,
                                            description="Discord.")


# --------------------------------------------------------------------------- routing


@attrs.frozen(repr=False)
class BindingPeerConfig(ConfigObject):
    """The conversation a binding pins."""

    kind: str = setting("kind", Enum(*PEER_KINDS), description="direct, group or channel.")
    id: str = setting("id", Str(), description="Peer id (#chan, @user:server, room id...).")


@attrs.frozen(repr=False)
class BindingMatchConfig(ConfigObject):
    """When a binding applies."""

    channel: str = setting("channel", Str(), description="Channel id (irc, matrix...).")
    account_id: str | None = setting("accountId", Str(), default=None,
                                     description='Account id ("*": any; unset: the default '
                                                 "account only).")
    peer: BindingPeerConfig | None = setting("peer", Section(BindingPeerConfig), default=None,
                                             description="One conversation.")
    guild_id: str | None = setting("guildId", Str(), default=None, description="Guild.")
    team_id: str | None = setting("teamId", Str(), default=None, description="Team.")
    roles: tuple[str, ...] | None = setting("roles", ListOf(Str()), default=None,
                                            description="Any of these member roles.")


@attrs.frozen(repr=False)
class BindingConfig(ConfigObject):
    """One ``bindings[]`` entry: traffic matching ``match`` goes to ``agentId``."""

    type: str | None = setting("type", Enum("route", "acp"), default=None,
                               description='"route" (default) or "acp".')
    agent_id: str = setting("agentId", Str(), description="The agent receiving the traffic.")
    comment: str | None = setting("comment", Str(), default=None, description="Note.")
    match: BindingMatchConfig = setting("match", Section(BindingMatchConfig),
                                        description="The match rule.")
