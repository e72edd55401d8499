"""A protocol-faithful local Telegram Bot API server (``twisted.web``), for tests and for trying
the Telegram channel offline (``channels.telegram.apiRoot``).

Run it on its own::

    python -m openclaw.testing.telegram_bot_api --port 8081 [--token 123456:TEST]

In a test (the reactor is passed in; ``clock`` drives long-poll timeouts, dates and flood
waits and defaults to the reactor)::

    server = TelegramBotApiServer(reactor, clock=clock)
    server.start()                                   # 127.0.0.1:<free port>
    bot = server.add_bot(username="openclaw_test_bot")
    alice = server.add_user("Alice", username="alice")
    server.dm(alice, bot, "hello")                   # an update for bot's getUpdates
    reply = await bot.sent.next()                    # what the bot sent, awaitable
    await server.stop()

What it does like Telegram (facts from the Bot API docs and the open-source
``tdlib/telegram-bot-api`` server): ``/bot<token>/<method>`` by GET or POST with query, form,
multipart or JSON parameters, method names case-insensitive; every answer is
``{"ok":true,"result":...}`` or ``{"ok":false,"error_code":N,"description":"..."}`` (429 adds
``parameters.retry_after`` and a ``Retry-After`` header); a malformed token is 401
``Unauthorized: invalid token specified``, an unknown token 401 ``Unauthorized``, an unknown
method 404 ``Not Found: method not found``. ``getUpdates`` is a real long poll: it answers as soon
as an update exists or after ``timeout`` seconds; ``offset`` confirms (forgets) earlier updates,
a negative offset keeps only the last ``-offset``; a poll that parks while another is parked ends
the older one with 409 ``Conflict: terminated by other getUpdates request; make sure that only
one bot instance is running``. ``allowed_updates`` is remembered and, as in Telegram, filters
updates when they are created (the default leaves out ``chat_member``, ``message_reaction`` and
``message_reaction_count``). Group privacy mode (``can_read_all_group_messages=False``, the
default for new bots) delivers only commands, @mentions of the bot and replies to it unless the
bot is an administrator. Dates are Unix seconds; message ids count per chat; offsets in
entities are UTF-16. ``parse_mode=HTML`` is checked exactly like TDLib does.

Deviations, on purpose: Markdown parse modes are accepted without validation; webhooks are
stored and reported but updates are not pushed to them; the real server's 3-second delay before
repeating a 409 is not imitated.

Out-of-process control: JSON endpoints under ``/_fake/`` (see :class:`ControlResource` and
``docs/testing-servers.md``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from openclaw.testing.loopback import LoopbackListener, TrackingSite
from openclaw.testing.recorder import Recorder
from openclaw.testing.telegram_text import (
    TelegramEntityError,
    detect_entities,
    entity_text,
    merge_entities,
    parse_html,
    utf16_len,
)

LONG_POLL_MAX_TIMEOUT = 50
MAX_MESSAGE_LENGTH = 4096
CONFLICT_OTHER_POLL = ("Conflict: terminated by other getUpdates request; make sure that only one "
                       "bot instance is running")
CONFLICT_WEBHOOK_ACTIVE = ("Conflict: can't use getUpdates method while webhook is active; use "
                           "deleteWebhook to delete the webhook first")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")
UPDATE_TYPES = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages",
    "message_reaction", "message_reaction_count", "inline_query", "chosen_inline_result",
    "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll",
    "poll_answer", "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
    "removed_chat_boost",
)
DEFAULT_ALLOWED_UPDATES = frozenset(UPDATE_TYPES) - {
    "chat_member", "message_reaction", "message_reaction_count"}
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note"})
# The emoji a bot may react with (ReactionTypeEmoji in the Bot API docs).
REACTION_EMOJI = frozenset({
    '👍', '👎', '❤', '🔥', '🥰', '👏', '😁', '🤔', '🤯', '😱', '🤬', '😢', '🎉', '🤩', '🤮',
    '💩', '🙏', '👌', '🕊', '🤡', '🥱', '🥴', '😍', '🐳', '❤\u200d🔥', '🌚', '🌭', '💯',
    '🤣', '⚡', '🍌', '🏆', '💔', '🤨', '😐', '🍓', '🍾', '💋', '🖕', '😈', '😴', '😭', '🤓',
    '👻', '👨\u200d💻', '👀', '🎃', '🙈', '😇', '😨', '🤝', '✍', '🤗', '🫡', '🎅', '🎄',
    '☃', '💅', '🤪', '🗿', '🆒', '💘', '🙉', '🦄', '😘', '💊', '🙊', '😎', '👾',
    '🤷\u200d♂', '🤷', '🤷\u200d♀', '😡',
})
_TOKEN = re.compile(r"^(\d+):([A-Za-z0-9_-]+)$")


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": description}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# --- what the server knows -------------------------------------------------------------------


@attrs.define(eq=False)
class TelegramUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def as_json(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot,
                                "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code and not self.is_bot:
            user["language_code"] = self.language_code
        return user

    @property
    def mention(self) -> str:
        """``@username`` (for message text)."""
        return f"@{self.username}" if self.username else self.first_name


@attrs.define(eq=False)
class TelegramGroup:
    """A basic group (``type: "group"``) or supergroup (``-100...`` ids), optionally a forum."""

    id: int
    title: str
    type: str
    is_forum: bool = False
    username: str | None = None
    members: dict[int, str] = attrs.Factory(dict)   # user id -> ChatMember status
    topics: dict[int, str] = attrs.Factory(dict)    # message_thread_id -> topic name
    next_message_id: int = 1

    def as_json(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "title": self.title, "type": self.type}
        if self.username:
            chat["username"] = self.username
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    def take_message_id(self) -> int:
        value = self.next_message_id
        self.next_message_id += 1
        return value


@attrs.define(eq=False)
class ApiCall:
    """One request to ``/bot<token>/<method>``; ``status`` is filled in when it is answered."""

    method: str
    params: dict[str, str]
    at: float
    http_method: str
    status: int | None = None
    description: str | None = None


@attrs.define(eq=False)
class SentMessage:
    """A message the bot sent with ``sendMessage``: ``text`` is the plain text as Telegram
    stores it, ``raw_text`` what the bot posted (HTML when ``parse_mode`` is HTML)."""

    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    raw_text: str
    parse_mode: str | None
    reply_to_message_id: int | None
    message_thread_id: int | None
    params: dict[str, str]
    message: dict[str, Any]
    at: float


@attrs.define(eq=False)
class EditedMessage:
    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    raw_text: str
    parse_mode: str | None
    previous_text: str
    params: dict[str, str]
    at: float


@attrs.define(eq=False)
class ChatAction:
    chat_id: int
    action: str
    message_thread_id: int | None
    at: float


@attrs.define(eq=False)
class Reaction:
    chat_id: int
    message_id: int
    reaction: list[dict[str, Any]]
    at: float


@attrs.define(eq=False)
class DeletedMessage:
    chat_id: int
    message_id: int
    at: float


@attrs.define(eq=False)
class LongPoll:
    """A ``getUpdates`` that is waiting for updates (see ``FakeTelegramBot.long_polls``)."""

    offset: int
    limit: int
    timeout: int
    at: float
    request: Request | None = None
    timer: IDelayedCall | None = None
    answered: Deferred[int] = attrs.Factory(Deferred)   # fires with the HTTP status


@attrs.define(eq=False)
class _Injected:
    method: str
    count: int
    code: int
    description: str
    retry_after: int | None
    chat_id: int | None


@attrs.define(eq=False)
class _Stored:
    message: dict[str, Any]
    author_id: int
    thread_root: int | None = None


@attrs.define(eq=False)
class FakeTelegramBot:
    """One bot (one token) and everything the tests can observe about it."""

    token: str
    user: TelegramUser
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    supports_inline_queries: bool = False
    # What the bot did, awaitable (see openclaw.testing.recorder).
    requests: Recorder[ApiCall] = attrs.Factory(Recorder)
    sent: Recorder[SentMessage] = attrs.Factory(Recorder)
    edits: Recorder[EditedMessage] = attrs.Factory(Recorder)
    deletions: Recorder[DeletedMessage] = attrs.Factory(Recorder)
    chat_actions: Recorder[ChatAction] = attrs.Factory(Recorder)
    reactions: Recorder[Reaction] = attrs.Factory(Recorder)
    long_polls: Recorder[LongPoll] = attrs.Factory(Recorder)
    # Bot API state.
    webhook_url: str = ""
    webhook_secret: str = ""
    allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
    commands: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)
    updates: deque[dict[str, Any]] = attrs.Factory(deque)
    next_update_id: int = 1
    parked: LongPoll | None = None
    confirmed_through: int = 0   # the highest update_id the bot confirmed with an offset
    confirmations: list[tuple[int, Deferred[int]]] = attrs.Factory(list)
    private_next_id: dict[int, int] = attrs.Factory(dict)   # user id -> next message id
    started_by: set[int] = attrs.Factory(set)               # users who opened the DM
    blocked_by: set[int] = attrs.Factory(set)
    injected: list[_Injected] = attrs.Factory(list)
    flood_until: dict[tuple[str, int | None], float] = attrs.Factory(dict)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username or ""

    @property
    def mention(self) -> str:
        return f"@{self.username}"

    @property
    def pending_update_count(self) -> int:
        return len(self.updates)

    @property
    def last_update_id(self) -> int:
        """The id of the newest update created for this bot (0 if none)."""
        return self.next_update_id - 1

    def wait_confirmed(self, update_id: int | None = None) -> Deferred[int]:
        """Fires when the bot has confirmed ``update_id`` (default: the newest update so far)
        by polling with a higher ``offset``, i.e. it has handled it. A test uses this to check
        that a message was received and deliberately ignored."""
        wanted = self.last_update_id if update_id is None else update_id
        done: Deferred[int] = Deferred()
        if self.confirmed_through >= wanted:
            done.callback(self.confirmed_through)
        else:
            self.confirmations.append((wanted, done))
        return done

    def _confirm(self, through: int, reactor: Any) -> None:
        if through <= self.confirmed_through:
            return
        self.confirmed_through = through
        ready = [d for wanted, d in self.confirmations if wanted <= through]
        self.confirmations = [(w, d) for w, d in self.confirmations if w > through]
        for waiter in ready:
            reactor.callLater(0, waiter.callback, through)

    def recorders(self) -> list[Recorder[Any]]:
        return [value for value in attrs.asdict(self, recurse=False).values()
                if isinstance(value, Recorder)]

    def rate_limit(self, method: str = "sendMessage", *, retry_after: int = 1, count: int = 1,
                   chat_id: int | None = None) -> None:
        """Answer the next ``count`` calls of ``method`` (for ``chat_id`` only, if given) with
        429 ``Too Many Requests: retry after N``; calls before the wait is over are refused too,
        as Telegram's flood control does."""
        self.injected.append(_Injected(method.lower(), count, 429,
                                       f"Too Many Requests: retry after {retry_after}",
                                       retry_after, chat_id))

    def fail(self, method: str, code: int, description: str, *, count: int = 1,
             chat_id: int | None = None) -> None:
        """Answer the next ``count`` calls of ``method`` with an arbitrary error."""
        self.injected.append(_Injected(method.lower(), count, code, description, None, chat_id))


# --- the server ----------------------------------------------------------------------------


class TelegramBotApiServer:
    """The fake Bot API. Build the world with ``add_bot``/``add_user``/``add_group``, inject
    what users do with ``dm``/``group_message``/``edit_user_message``/``react``, and observe
    the bot through the recorders on :class:`FakeTelegramBot`."""

    def __init__(self, reactor: Any, *, clock: IReactorTime | None = None,
                 host: str = "127.0.0.1") -> None:
        self.reactor = reactor
        self.clock: IReactorTime = clock if clock is not None else cast(IReactorTime, reactor)
        self.bots: dict[str, FakeTelegramBot] = {}
        self.users: dict[int, TelegramUser] = {}
        self.groups: dict[int, TelegramGroup] = {}
        self._messages: dict[tuple[Any, int], _Stored] = {}
        self._next_user_id = 1_000_001
        self._next_bot_id = 7_000_000_001
        self._next_group_id = 1
        root = Resource()
        root.putChild(b"_fake", ControlResource(self))
        self.site = TrackingSite(_ApiRoot(self, root))
        self.listener = LoopbackListener(reactor, self.site, host)

    # -- lifecycle

    def start(self, port: int | None = 0) -> int:
        """Listen on loopback; ``port=None`` reuses the previous port (after :meth:`stop`)."""
        return self.listener.listen(port)

    async def stop(self) -> None:
        """Stop listening and cut every connection (parked long polls end without an answer).
        State is kept: :meth:`start` with ``port=None`` resumes on the same port."""
        for bot in self.bots.values():
            self._unpark(bot)
        await self.listener.stop()

    async def restart(self) -> None:
        await self.stop()
        self.start(None)

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def api_root(self) -> str:
        """The value for ``channels.telegram.apiRoot``."""
        return f"http://{self.listener.host}:{self.listener.port}"

    def now(self) -> float:
        return self.clock.seconds()

    # -- building the world

    def add_bot(self, token: str | None = None, *, username: str = "openclaw_test_bot",
                first_name: str = "OpenClaw Test", can_join_groups: bool = True,
                can_read_all_group_messages: bool = False,
                supports_inline_queries: bool = False) -> FakeTelegramBot:
        """A bot. ``can_read_all_group_messages=False`` is group privacy mode (Telegram's
        default): in groups the bot then only gets commands, @mentions and replies to it,
        unless it is an administrator."""
        if token is None:
            bot_id = self._next_bot_id
            self._next_bot_id += 1
            token = f"{bot_id}:AAF{'x' * 8}{bot_id % 100000:05d}-fake-token"
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError(f"a bot token looks like <bot id>:<secret>, not {token!r}")
        user = TelegramUser(int(match.group(1)), first_name, username=username, is_bot=True,
                            language_code=None)
        bot = FakeTelegramBot(token, user, can_join_groups=can_join_groups,
                              can_read_all_group_messages=can_read_all_group_messages,
                              supports_inline_queries=supports_inline_queries)
        for recorder in bot.recorders():
            recorder.use_reactor(self.reactor)
        self.bots[token] = bot
        self.users[user.id] = user
        return bot

    def add_user(self, first_name: str, *, username: str | None = None,
                 last_name: str | None = None, language_code: str | None = "en",
                 user_id: int | None = None) -> TelegramUser:
        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        user = TelegramUser(user_id, first_name, last_name, username, language_code)
        self.users[user.id] = user
        return user

    def add_group(self, title: str, *, supergroup: bool = True, forum: bool = False,
                  username: str | None = None, members: Iterable[Any] = (),
                  admins: Iterable[Any] = (), group_id: int | None = None) -> TelegramGroup:
        """A group with its members (users or bots); ``admins`` join as administrators."""
        if group_id is None:
            serial = self._next_group_id
            self._next_group_id += 1
            group_id = -(1_000_000_000_000 + 2_000_000_000 + serial) if supergroup else -(
                4_000_000_000 + serial)
        group = TelegramGroup(group_id, title, "supergroup" if supergroup else "group",
                              is_forum=forum and supergroup, username=username)
        self.groups[group.id] = group
        for member in members:
            self.join(group, member)
        for admin in admins:
            self.join(group, admin, status="administrator")
        return group

    def join(self, group: TelegramGroup, member: TelegramUser | FakeTelegramBot,
             status: str = "member") -> None:
        """Add a user or bot to a group (``status``: member, administrator, creator, left,
        kicked, restricted)."""
        group.members[_user_of(member).id] = status

    def add_topic(self, group: TelegramGroup, name: str) -> int:
        """A forum topic; returns its ``message_thread_id``."""
        if not group.is_forum:
            raise ValueError(f"{group.title} is not a forum")
        thread_id = group.take_message_id()
        group.topics[thread_id] = name
        return thread_id

    def open_dm(self, user: TelegramUser, bot: FakeTelegramBot) -> None:
        """The user pressed Start: the bot may now message them."""
        bot.started_by.add(user.id)
        bot.blocked_by.discard(user.id)

    def block(self, user: TelegramUser, bot: FakeTelegramBot) -> None:
        """The user blocked the bot: sends answer 403 ``Forbidden: bot was blocked by the user``."""
        bot.blocked_by.add(user.id)

    # -- what users do

    def dm(self, user: TelegramUser, bot: FakeTelegramBot, text: str, *,
           reply_to: Any = None, entities: list[dict[str, Any]] | None = None
           ) -> dict[str, Any]:
        """A private message from ``user`` to ``bot``; returns the Message as delivered."""
        self.open_dm(user, bot)
        key = ("p", bot.id, user.id)
        message_id = self._take_private_id(bot, user.id)
        message = self._user_message(user, _private_chat_json(user), message_id, text, entities)
        stored = _Stored(message, user.id)
        if reply_to is not None:
            message["reply_to_message"] = self._reply_target(key, reply_to).message_without_reply()
        self._messages[(key, message_id)] = stored
        self._enqueue(bot, "message", message)
        return message

    def group_message(self, user: TelegramUser, group: TelegramGroup, text: str, *,
                      reply_to: Any = None, thread_id: int | None = None,
                      entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A message from ``user`` in ``group`` (a forum topic with ``thread_id``); every bot
        in the group that may see it (privacy mode) gets an update. Returns the Message."""
        key = ("g", group.id)
        message = self._user_message(user, group.as_json(), group.take_message_id(), text,
                                     entities)
        stored = _Stored(message, user.id)
        target = self._reply_target(key, reply_to) if reply_to is not None else None
        if target is not None:
            message["reply_to_message"] = target.message_without_reply()
        self._apply_thread(group, message, stored, thread_id, target)
        self._messages[(key, message["message_id"])] = stored
        for bot in self.bots.values():
            if self._bot_sees(bot, group, message, target):
                self._enqueue(bot, "message", message)
        return message

    def edit_user_message(self, message: Mapping[str, Any], text: str) -> dict[str, Any]:
        """The author edits a message: ``edited_message`` updates with ``edit_date``."""
        chat = message["chat"]
        edited = dict(message)
        edited.update(text=text, edit_date=int(self.now()))
        found = detect_entities(text)
        if found:
            edited["entities"] = found
        else:
            edited.pop("entities", None)
        for bot in self._bots_in_chat(chat):
            key = self._chat_key(bot, chat)
            stored = self._messages.get((key, message["message_id"]))
            if stored is not None:
                stored.message = edited
            if chat["type"] == "private" or self._bot_sees(
                    bot, self.groups[chat["id"]], edited, None):
                self._enqueue(bot, "edited_message", edited)
        return edited

    def react(self, user: TelegramUser, message: Mapping[str, Any] | SentMessage,
              emoji: str | None) -> None:
        """``user`` sets (or, with ``None``, clears) a reaction: a ``message_reaction`` update,
        delivered only to bots that asked for it in ``allowed_updates``."""
        msg = message.message if isinstance(message, SentMessage) else message
        chat = msg["chat"]
        new = [{"type": "emoji", "emoji": emoji}] if emoji else []
        update = {"chat": chat, "message_id": msg["message_id"], "user": user.as_json(),
                  "date": int(self.now()), "old_reaction": [], "new_reaction": new}
        for bot in self._bots_in_chat(chat):
            self._enqueue(bot, "message_reaction", update)

    def inject_update(self, bot: FakeTelegramBot, update_type: str,
                      payload: dict[str, Any]) -> int | None:
        """Any other update (``callback_query``, ``my_chat_member``, ...); returns its
        ``update_id``, or ``None`` when ``allowed_updates`` filtered it out."""
        return self._enqueue(bot, update_type, payload)

    # -- internals: messages and updates

    def _take_private_id(self, bot: FakeTelegramBot, user_id: int) -> int:
        value = bot.private_next_id.get(user_id, 1)
        bot.private_next_id[user_id] = value + 1
        return value

    def _user_message(self, user: TelegramUser, chat: dict[str, Any], message_id: int,
                      text: str, entities: list[dict[str, Any]] | None) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": message_id, "from": user.as_json(),
                                   "chat": chat, "date": int(self.now()), "text": text}
        found = detect_entities(text) if entities is None else entities
        if found:
            message["entities"] = found
        return message

    def _reply_target(self, key: Any, reply_to: Any) -> _ReplyTarget:
        message_id = _message_id_of(reply_to)
        stored = self._messages.get((key, message_id))
        if stored is None:
            raise ValueError(f"no message {message_id} in that chat to reply to")
        return _ReplyTarget(stored)

    def _apply_thread(self, group: TelegramGroup, message: dict[str, Any], stored: _Stored,
                      thread_id: int | None, target: _ReplyTarget | None) -> None:
        if group.is_forum:
            topic = thread_id or (target.stored.thread_root if target else None)
            if topic is not None:
                if topic not in group.topics:
                    raise ValueError(f"no topic {topic} in {group.title}")
                message["message_thread_id"] = topic
                message["is_topic_message"] = True
                stored.thread_root = topic
        elif group.type == "supergroup" and target is not None:
            # Replies in supergroups belong to the thread of the message they answer.
            root = target.stored.thread_root or target.stored.message["message_id"]
            message["message_thread_id"] = root
            stored.thread_root = root

    def _bot_sees(self, bot: FakeTelegramBot, group: TelegramGroup, message: Mapping[str, Any],
                  target: _ReplyTarget | None) -> bool:
        status = group.members.get(bot.id)
        if status in (None, "left", "kicked"):
            return False
        if message.get("from", {}).get("is_bot"):
            return False  # bots do not see other bots' group messages
        if bot.can_read_all_group_messages or status in ("administrator", "creator"):
            return True
        text = str(message.get("text", ""))
        if text.startswith("/"):
            return True
        if target is not None and target.stored.author_id == bot.id:
            return True
        for entity in message.get("entities", []):
            if entity["type"] == "mention" and entity_text(text, entity).lower() == (
                    "@" + bot.username.lower()):
                return True
            if entity["type"] == "text_mention" and entity.get("user", {}).get("id") == bot.id:
                return True
        return False

    def _bots_in_chat(self, chat: Mapping[str, Any]) -> list[FakeTelegramBot]:
        if chat["type"] == "private":
            return [bot for bot in self.bots.values() if chat["id"] in bot.started_by]
        group = self.groups.get(chat["id"])
        if group is None:
            return []
        return [bot for bot in self.bots.values()
                if group.members.get(bot.id) not in (None, "left", "kicked")]

    def _chat_key(self, bot: FakeTelegramBot, chat: Mapping[str, Any]) -> Any:
        return ("p", bot.id, chat["id"]) if chat["type"] == "private" else ("g", chat["id"])

    def _enqueue(self, bot: FakeTelegramBot, update_type: str,
                 payload: Mapping[str, Any]) -> int | None:
        if update_type not in bot.allowed_updates:
            return None
        update_id = bot.next_update_id
        bot.next_update_id += 1
        bot.updates.append({"update_id": update_id, update_type: _copy(payload)})
        self._wake(bot)
        return update_id

    # -- internals: getUpdates

    def _collect(self, bot: FakeTelegramBot, offset: int, limit: int) -> list[dict[str, Any]]:
        return [u for u in bot.updates if u["update_id"] >= offset][:limit]

    def _wake(self, bot: FakeTelegramBot) -> None:
        poll = bot.parked
        if poll is None:
            return
        updates = self._collect(bot, poll.offset, poll.limit)
        if updates:
            self._answer_parked(bot, 200, {"ok": True, "result": updates})

    def _answer_parked(self, bot: FakeTelegramBot, status: int, body: dict[str, Any]) -> None:
        poll = bot.parked
        if poll is None:
            return
        bot.parked = None
        if poll.timer is not None and poll.timer.active():
            poll.timer.cancel()
        if poll.request is not None:
            _write_json(poll.request, status, body)
        poll.answered.callback(status)

    def _unpark(self, bot: FakeTelegramBot) -> None:
        poll, bot.parked = bot.parked, None
        if poll is not None and poll.timer is not None and poll.timer.active():
            poll.timer.cancel()

    def get_updates(self, bot: FakeTelegramBot, args: Mapping[str, str],
                    request: Request) -> Any:
        if bot.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK_ACTIVE)
        offset = _int_arg(args, "offset", 0)
        limit = _clamp(_int_arg(args, "limit", 100), 1, 100)
        timeout = _clamp(_int_arg(args, "timeout", 0), 0, LONG_POLL_MAX_TIMEOUT)
        allowed = _parse_allowed_updates(args.get("allowed_updates", ""))
        if allowed is not None:
            bot.allowed_updates = allowed
        if offset < 0:
            keep = -offset
            while len(bot.updates) > keep:
                bot.updates.popleft()
            offset = 0
        if offset > 0:
            while bot.updates and bot.updates[0]["update_id"] < offset:
                bot.updates.popleft()
            bot._confirm(min(offset - 1, bot.last_update_id), self.reactor)
        else:
            offset = bot.updates[0]["update_id"] if bot.updates else bot.next_update_id
        updates = self._collect(bot, offset, limit)
        if updates or timeout == 0:
            return updates
        if bot.parked is not None:
            self._answer_parked(bot, 409, _error_body(ApiError(409, CONFLICT_OTHER_POLL)))
        poll = LongPoll(offset, limit, timeout, self.now(), request)
        poll.timer = self.clock.callLater(timeout, self._poll_timed_out, bot, poll)
        bot.parked = poll

        def gone(_: Failure) -> None:
            if bot.parked is poll:
                self._unpark(bot)

        request.notifyFinish().addErrback(gone)
        bot.long_polls.record(poll)
        return NOT_DONE_YET

    def _poll_timed_out(self, bot: FakeTelegramBot, poll: LongPoll) -> None:
        if bot.parked is poll:
            poll.timer = None
            self._answer_parked(bot, 200, {"ok": True,
                                           "result": self._collect(bot, poll.offset, poll.limit)})

    # -- internals: chats as the bot addresses them

    def _resolve_chat(self, bot: FakeTelegramBot, chat_id: str, *, write: bool
                      ) -> tuple[Any, dict[str, Any], TelegramGroup | None]:
        """``(message key, Chat object, group or None)`` for a ``chat_id`` parameter."""
        if not chat_id:
            raise bad_request("chat_id is empty")
        group: TelegramGroup | None = None
        if chat_id.startswith("@"):
            name = chat_id[1:].lower()
            group = next((g for g in self.groups.values()
                          if g.username and g.username.lower() == name), None)
            if group is None:
                raise bad_request("chat not found")
        else:
            numeric = _to_int(chat_id)
            if numeric is None:
                raise bad_request("chat not found")
            if numeric > 0:
                user = self.users.get(numeric)
                if user is None or user.is_bot or (
                        numeric not in bot.started_by and numeric not in bot.blocked_by):
                    if user is not None and not user.is_bot and write:
                        raise ApiError(403, "Forbidden: bot can't initiate conversation with "
                                            "a user")
                    raise bad_request("chat not found")
                if write and numeric in bot.blocked_by:
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                return ("p", bot.id, user.id), _private_chat_json(user), None
            group = self.groups.get(numeric)
            if group is None:
                raise bad_request("chat not found")
        status = group.members.get(bot.id)
        if status in (None, "left", "kicked"):
            if status is None:
                raise bad_request("chat not found")
            kind = "supergroup" if group.type == "supergroup" else "group"
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        return ("g", group.id), group.as_json(), group

    def _message_text(self, args: Mapping[str, str]) -> tuple[str, list[dict[str, Any]], str]:
        """``(plain text, entities, parse mode)`` of a text parameter, Telegram's checks."""
        raw = args.get("text", "")
        if not raw:
            raise bad_request("message text is empty")
        if len(raw.encode("utf-8")) > (1 << 15):
            raise bad_request("text is too long")
        if args.get("link_preview_options"):
            options = _json_arg(args["link_preview_options"],
                                "can't parse link preview options JSON object")
            if not isinstance(options, dict):
                raise bad_request("object expected as link preview options")
        mode = args.get("parse_mode", "").lower()
        if mode not in ("", "none", "html", "markdown", "markdownv2"):
            raise bad_request("unsupported parse_mode")
        if mode == "html":
            try:
                text, formatting = parse_html(raw)
            except TelegramEntityError as e:
                raise bad_request(f"can't parse entities: {e}") from None
        else:
            text, formatting = raw, _explicit_entities(args.get("entities", ""))
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise bad_request("message is too long")
        return text, merge_entities(formatting, detect_entities(text)), mode

    # -- the methods (each gets the bot, the parameters and the request)

    def m_getme(self, bot: FakeTelegramBot, args: Mapping[str, str], request: Request) -> Any:
        me = bot.user.as_json()
        me.update(can_join_groups=bot.can_join_groups,
                  can_read_all_group_messages=bot.can_read_all_group_messages,
                  supports_inline_queries=bot.supports_inline_queries,
                  can_connect_to_business=False, has_main_web_app=False)
        return me

    def m_getupdates(self, bot: FakeTelegramBot, args: Mapping[str, str],
                     request: Request) -> Any:
        return self.get_updates(bot, args, request)

    def m_setwebhook(self, bot: FakeTelegramBot, args: Mapping[str, str],
                     request: Request) -> Any:
        url = args.get("url", "")
        if _truthy(args.get("drop_pending_updates", "")):
            bot.updates.clear()
        if url:
            parts = urlsplit(url)
            loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
            if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            secret = args.get("secret_token", "")
            if len(secret) > 256:
                raise bad_request("secret token is too long")
            if not re.fullmatch(r"[A-Za-z0-9_-]*", secret):
                raise bad_request("secret token contains unallowed characters")
            if bot.parked is not None:
                self._answer_parked(bot, 409, _error_body(
                    ApiError(409, "Conflict: terminated by setWebhook request")))
            already = bot.webhook_url == url
            bot.webhook_url, bot.webhook_secret = url, secret
            return _Described(True, "Webhook is already set" if already else "Webhook was set")
        already = not bot.webhook_url
        bot.webhook_url, bot.webhook_secret = "", ""
        return _Described(True, "Webhook is already deleted" if already else
                          "Webhook was deleted")

    def m_deletewebhook(self, bot: FakeTelegramBot, args: Mapping[str, str],
                        request: Request) -> Any:
        return self.m_setwebhook(bot, {k: v for k, v in args.items() if k != "url"}, request)

    def m_getwebhookinfo(self, bot: FakeTelegramBot, args: Mapping[str, str],
                         request: Request) -> Any:
        info: dict[str, Any] = {"url": bot.webhook_url, "has_custom_certificate": False,
                                "pending_update_count": bot.pending_update_count}
        if bot.webhook_url:
            info["max_connections"] = 40
            info["allowed_updates"] = sorted(bot.allowed_updates)
        return info

    def m_sendmessage(self, bot: FakeTelegramBot, args: Mapping[str, str],
                      request: Request) -> Any:
        text, entities, _mode = self._message_text(args)
        key, chat, group = self._resolve_chat(bot, args.get("chat_id", ""), write=True)
        thread = _int_arg(args, "message_thread_id", 0)
        if group is not None and group.is_forum and thread and thread not in group.topics:
            raise bad_request("message thread not found")
        reply_to, allow_without = _reply_parameters(args)
        target: _ReplyTarget | None = None
        if reply_to:
            stored = self._messages.get((key, reply_to))
            if stored is not None:
                target = _ReplyTarget(stored)
            elif not allow_without:
                raise bad_request("message to be replied not found")
        message_id = (group.take_message_id() if group is not None
                      else self._take_private_id(bot, chat["id"]))
        message: dict[str, Any] = {"message_id": message_id, "from": bot.user.as_json(),
                                   "chat": chat, "date": int(self.now()), "text": text}
        if entities:
            message["entities"] = entities
        stored = _Stored(message, bot.id)
        if target is not None:
            message["reply_to_message"] = target.message_without_reply()
        if group is not None:
            self._apply_thread(group, message, stored,
                               thread if group.is_forum and thread else None, target)
        self._messages[(key, message_id)] = stored
        bot.sent.record(SentMessage(
            chat["id"], message_id, text, entities, args.get("text", ""),
            args.get("parse_mode") or None, target.stored.message["message_id"] if target
            else None, message.get("message_thread_id"), dict(args), _copy(message),
            self.now()))
        return message

    def m_editmessagetext(self, bot: FakeTelegramBot, args: Mapping[str, str],
                          request: Request) -> Any:
        text, entities, _mode = self._message_text(args)
        chat_id, message_id = args.get("chat_id", ""), _int_arg(args, "message_id", 0)
        if not chat_id and message_id <= 0:
            if not args.get("inline_message_id"):
                raise bad_request("message identifier is not specified")
            raise bad_request("message to edit not found")
        key, chat, _group = self._resolve_chat(bot, chat_id, write=True)
        stored = self._messages.get((key, message_id))
        if stored is None:
            raise bad_request("message to edit not found")
        if stored.author_id != bot.id:
            raise bad_request("message can't be edited")
        old = stored.message
        if old.get("text") == text and old.get("entities", []) == entities:
            raise ApiError(400, NOT_MODIFIED)
        edited = dict(old)
        edited.update(text=text, edit_date=int(self.now()))
        if entities:
            edited["entities"] = entities
        else:
            edited.pop("entities", None)
        stored.message = edited
        bot.edits.record(EditedMessage(chat["id"], message_id, text, entities,
                                       args.get("text", ""), args.get("parse_mode") or None,
                                       str(old.get("text", "")), dict(args), self.now()))
        return edited

    def m_deletemessage(self, bot: FakeTelegramBot, args: Mapping[str, str],
                        request: Request) -> Any:
        key, chat, group = self._resolve_chat(bot, args.get("chat_id", ""), write=True)
        message_id = _int_arg(args, "message_id", 0)
        stored = self._messages.get((key, message_id))
        if stored is None:
            raise bad_request("message to delete not found")
        is_admin = group is not None and group.members.get(bot.id) in ("administrator",
                                                                         "creator")
        if stored.author_id != bot.id and not is_admin and group is not None:
            raise bad_request("message can't be deleted")
        del self._messages[(key, message_id)]
        bot.deletions.record(DeletedMessage(chat["id"], message_id, self.now()))
        return True

    def m_sendchataction(self, bot: FakeTelegramBot, args: Mapping[str, str],
                         request: Request) -> Any:
        action = args.get("action", "")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        _key, chat, group = self._resolve_chat(bot, args.get("chat_id", ""), write=True)
        thread = _int_arg(args, "message_thread_id", 0) or None
        if group is not None and group.is_forum and thread and thread not in group.topics:
            raise bad_request("message thread not found")
        bot.chat_actions.record(ChatAction(chat["id"], action, thread, self.now()))
        return True

    def m_setmessagereaction(self, bot: FakeTelegramBot, args: Mapping[str, str],
                             request: Request) -> Any:
        key, chat, _group = self._resolve_chat(bot, args.get("chat_id", ""), write=True)
        message_id = _int_arg(args, "message_id", 0)
        reaction = _json_arg(args.get("reaction", "") or "[]",
                             "can't parse reaction types JSON object")
        if not isinstance(reaction, list):
            raise bad_request("expected an Array of ReactionType")
        for item in reaction:
            if not isinstance(item, dict) or item.get("type") not in ("emoji", "custom_emoji",
                                                                      "paid"):
                raise bad_request("can't parse ReactionType: expected an Object")
            if item["type"] == "emoji" and item.get("emoji") not in REACTION_EMOJI:
                raise bad_request("REACTION_INVALID")
        if (key, message_id) not in self._messages:
            raise bad_request("message to react not found")
        bot.reactions.record(Reaction(chat["id"], message_id, reaction, self.now()))
        return True

    def m_getchat(self, bot: FakeTelegramBot, args: Mapping[str, str], request: Request) -> Any:
        _key, chat, group = self._resolve_chat(bot, args.get("chat_id", ""), write=False)
        full = dict(chat)
        full.update(accent_color_id=0, max_reaction_count=11)
        if group is not None:
            full["permissions"] = {"can_send_messages": True}
        return full

    def m_getchatmember(self, bot: FakeTelegramBot, args: Mapping[str, str],
                        request: Request) -> Any:
        user_id = max(_to_int(args.get("user_id", "")) or 0, 0)
        if user_id == 0:
            raise bad_request("invalid user_id specified")
        _key, chat, group = self._resolve_chat(bot, args.get("chat_id", ""), write=False)
        user = self.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        if group is None:
            status = "member" if user_id in (chat["id"], bot.id) else "left"
        else:
            status = group.members.get(user_id, "left")
        member: dict[str, Any] = {"user": user.as_json(), "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                          can_delete_messages=True, can_restrict_members=True,
                          can_promote_members=False, can_change_info=True,
                          can_invite_users=True, can_pin_messages=True)
        return member

    def m_setmycommands(self, bot: FakeTelegramBot, args: Mapping[str, str],
                        request: Request) -> Any:
        commands = _json_arg(args.get("commands", ""), "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("expected an Array of BotCommand")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("expected an Array of BotCommand")
            name = str(command.get("command", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description must be non-empty")
        bot.commands[_scope_key(args)] = commands
        return True

    def m_deletemycommands(self, bot: FakeTelegramBot, args: Mapping[str, str],
                           request: Request) -> Any:
        bot.commands.pop(_scope_key(args), None)
        return True

    def m_getmycommands(self, bot: FakeTelegramBot, args: Mapping[str, str],
                        request: Request) -> Any:
        return bot.commands.get(_scope_key(args), [])

    # -- dispatch

    def call(self, token: str, method: str, args: dict[str, str], request: Request) -> Any:
        """Run one Bot API call; returns the result, ``NOT_DONE_YET`` or raises ApiError."""
        match = _TOKEN.match(token)
        if match is None or token.startswith("0") or len(token) > 80:
            raise ApiError(401, "Unauthorized: invalid token specified")
        bot = self.bots.get(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        call = ApiCall(method, dict(args), self.now(), request.method.decode())
        bot.requests.record(call)
        try:
            self._check_injected(bot, method.lower(), args)
            handler = getattr(self, f"m_{method.lower()}", None)
            if handler is None or not method:
                raise ApiError(404, "Not Found: method not found")
            result = handler(bot, args, request)
        except ApiError as e:
            call.status, call.description = e.code, e.description
            raise
        if result is NOT_DONE_YET:
            poll = bot.parked
            if poll is not None:
                poll.answered.addCallback(lambda status: _set_status(call, status))
        else:
            call.status = 200
        return result

    def _check_injected(self, bot: FakeTelegramBot, method: str, args: Mapping[str, str]) -> None:
        chat_id = _to_int(args.get("chat_id", ""))
        now = self.now()
        for scope in ((method, chat_id), (method, None)):
            until = bot.flood_until.get(scope)
            if until is not None and now < until:
                wait = max(1, math.ceil(until - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        for injected in bot.injected:
            if injected.method != method or injected.count <= 0:
                continue
            if injected.chat_id is not None and injected.chat_id != chat_id:
                continue
            injected.count -= 1
            if injected.retry_after is not None:
                bot.flood_until[(method, injected.chat_id)] = now + injected.retry_after
            raise ApiError(injected.code, injected.description, injected.retry_after)
        bot.injected = [i for i in bot.injected if i.count > 0]


@attrs.define(eq=False)
class _ReplyTarget:
    stored: _Stored

    def message_without_reply(self) -> dict[str, Any]:
        message = _copy(self.stored.message)
        message.pop("reply_to_message", None)
        return message


@attrs.define
class _Described:
    """A result with a ``description`` next to it (``setWebhook``/``deleteWebhook``)."""

    result: Any
    description: str


# --- HTTP ------------------------------------------------------------------------------------


class _ApiRoot(Resource):
    """``/bot<token>/<method>`` for the API; anything else goes to the tree (``/_fake``)."""

    def __init__(self, server: TelegramBotApiServer, tree: Resource) -> None:
        super().__init__()
        self.fake = server
        self.tree = tree

    def getChild(self, path: bytes, request: Request) -> Any:
        if path.startswith(b"bot"):
            return _MethodResource(self.fake, path[3:].decode("utf-8", "replace"))
        if path in self.tree.children:
            return self.tree.children[path]
        return _NotFound()

    def render(self, request: Request) -> bytes:
        return _error_json(request, ApiError(404, "Not Found"))


class _NotFound(Resource):
    isLeaf = True

    def render(self, request: Request) -> bytes:
        return _error_json(request, ApiError(404, "Not Found"))


class _MethodResource(Resource):
    isLeaf = True

    def __init__(self, server: TelegramBotApiServer, token: str) -> None:
        super().__init__()
        self.fake = server
        self.token = token

    def render(self, request: Request) -> Any:
        postpath = [p.decode("utf-8", "replace") for p in request.postpath or []]
        if len(postpath) > 1 and postpath[0] == "test":
            postpath = postpath[1:]
        method = postpath[0] if postpath else ""
        try:
            args = _request_args(request)
            if not method:
                method = args.get("method", "")
            result = self.fake.call(self.token, method, args, request)
        except ApiError as e:
            return _error_json(request, e)
        if result is NOT_DONE_YET:
            return NOT_DONE_YET
        body: dict[str, Any] = {"ok": True}
        if isinstance(result, _Described):
            body.update(result=result.result, description=result.description)
        else:
            body["result"] = result
        return _json_bytes(request, 200, body)


def _request_args(request: Request) -> dict[str, str]:
    """The call's parameters as the Bot API server sees them: every value a string (JSON
    values other than strings are kept as their JSON text, as ``tdlib/telegram-bot-api`` does)."""
    args: dict[str, str] = {}
    query: dict[bytes, list[bytes]] = request.args or {}
    for key, values in query.items():
        if values:
            raw = values[0]
            args[key.decode("utf-8", "replace")] = (
                raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
    content_type = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
    if content_type == "application/json" and request.content is not None:
        request.content.seek(0)
        raw_body = request.content.read()
        if raw_body.strip():
            try:
                body = json.loads(raw_body)
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected")
            for key, value in body.items():
                if value is None:
                    continue
                if isinstance(value, str):
                    args[key] = value
                elif isinstance(value, bool):
                    args[key] = "true" if value else "false"
                else:
                    args[key] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return args


def _error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": error.code,
                            "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return body


def _error_json(request: Request, error: ApiError) -> bytes:
    if error.retry_after is not None:
        request.setHeader(b"Retry-After", str(error.retry_after).encode())
    return _json_bytes(request, error.code, _error_body(error))


def _json_bytes(request: Request, status: int, body: Any) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _write_json(request: Request, status: int, body: dict[str, Any]) -> None:
    if body.get("ok") is False and "parameters" in body:
        request.setHeader(b"Retry-After", str(body["parameters"]["retry_after"]).encode())
    payload = _json_bytes(request, status, body)
    request.write(payload)
    request.finish()


# --- small helpers ---------------------------------------------------------------------------


def _set_status(call: ApiCall, status: int) -> int:
    call.status = status
    return status


def _copy(value: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy that is plain JSON (what the API hands out, never our own objects)."""
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


def _user_of(member: TelegramUser | FakeTelegramBot) -> TelegramUser:
    return member.user if isinstance(member, FakeTelegramBot) else member


def _private_chat_json(user: TelegramUser) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": user.id, "first_name": user.first_name, "type": "private"}
    if user.last_name:
        chat["last_name"] = user.last_name
    if user.username:
        chat["username"] = user.username
    return chat


def _message_id_of(value: Any) -> int:
    if isinstance(value, SentMessage):
        return value.message_id
    if isinstance(value, Mapping):
        return int(value["message_id"])
    return int(value)


def _to_int(value: str) -> int | None:
    try:
        return int(value.strip())
    except (ValueError, AttributeError):
        return None


def _int_arg(args: Mapping[str, str], name: str, default: int) -> int:
    """Like the Bot API: an absent value is the default, an unparsable one is 0."""
    raw = args.get(name, "")
    if raw == "":
        return default
    match = re.match(r"^\s*(-?\d+)", raw)
    return int(match.group(1)) if match else 0


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


def _json_arg(raw: str, error: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(error) from None


def _explicit_entities(raw: str) -> list[dict[str, Any]]:
    if not raw:
        return []
    value = _json_arg(raw, "can't parse entities JSON object")
    if not isinstance(value, list):
        raise bad_request("expected an Array of MessageEntity")
    entities: list[dict[str, Any]] = []
    for item in value:
        if (not isinstance(item, dict) or not isinstance(item.get("offset"), int)
                or not isinstance(item.get("length"), int) or not item.get("type")):
            raise bad_request("can't parse MessageEntity: Can't find field \"type\"")
        entities.append(item)
    return entities


def _parse_allowed_updates(raw: str) -> frozenset[str] | None:
    """``None`` keeps the previous setting (parameter absent or unparsable)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = [part.strip() for part in raw.split(",")]
    if not isinstance(value, list):
        return None
    wanted = frozenset(v for v in value if isinstance(v, str) and v in UPDATE_TYPES)
    return wanted or DEFAULT_ALLOWED_UPDATES


def _reply_parameters(args: Mapping[str, str]) -> tuple[int, bool]:
    if "reply_parameters" not in args:
        return max(_int_arg(args, "reply_to_message_id", 0), 0), _truthy(
            args.get("allow_sending_without_reply", ""))
    raw = args["reply_parameters"]
    if not raw:
        return 0, False
    value = _json_arg(raw, "can't parse reply parameters JSON object")
    if not isinstance(value, dict):
        raise bad_request("object expected as reply parameters")
    if not value:
        return 0, False
    message_id = value.get("message_id")
    if not isinstance(message_id, int):
        raise bad_request('can\'t find field "message_id"')
    return max(message_id, 0), bool(value.get("allow_sending_without_reply"))


def _scope_key(args: Mapping[str, str]) -> str:
    scope: Any = {}
    if args.get("scope"):
        scope = _json_arg(args["scope"], "can't parse BotCommandScope JSON object")
    if not isinstance(scope, dict):
        raise bad_request("object expected as BotCommandScope")
    kind = str(scope.get("type", "default"))
    chat = scope.get("chat_id")
    return f"{kind}:{chat or ''}:{args.get('language_code', '')}"


# --- out-of-process control: /_fake/... --------------------------------------------------------


class ControlResource(Resource):
    """JSON endpoints to drive the fake from another process (curl, a CLI, another language).

    ``GET  /_fake/state``                     bots, users, groups
    ``POST /_fake/users``   ``{"first_name", "username"?}``
    ``POST /_fake/groups``  ``{"title", "supergroup"?, "forum"?, "members"?: [username...],
                              "admins"?: [username...]}``
    ``POST /_fake/dm``      ``{"user": username|id, "text", "bot"?: username,
                              "reply_to_message_id"?}``
    ``POST /_fake/group_message`` ``{"user", "chat_id", "text", "reply_to_message_id"?,
                              "message_thread_id"?}``
    ``GET  /_fake/sent?bot=&after=N&wait=S``  the bot's messages from index N (waits up to S s)
    ``GET  /_fake/requests?bot=``             every Bot API call the bot made, with its status
    ``POST /_fake/rate_limit`` ``{"method"?, "retry_after"?, "count"?, "bot"?}``
    ``POST /_fake/fail``    ``{"method", "error_code", "description", "count"?, "bot"?}``
    """

    isLeaf = True

    def __init__(self, server: TelegramBotApiServer) -> None:
        super().__init__()
        self.fake = server

    def render(self, request: Request) -> Any:
        action = "/".join(p.decode() for p in request.postpath or [] if p)
        try:
            body = _control_body(request)
            handler = getattr(self, f"do_{request.method.decode().lower()}_{action}", None)
            if handler is None:
                raise _ControlError(404, f"no control endpoint {request.method.decode()} "
                                         f"/_fake/{action}")
            result = handler(request, body)
        except _ControlError as e:
            return _json_bytes(request, e.status, {"error": str(e)})
        except ValueError as e:
            return _json_bytes(request, 400, {"error": str(e)})
        if isinstance(result, Deferred):
            result.addCallback(lambda value: (request.write(_json_bytes(request, 200, value)),
                                              request.finish()))
            return NOT_DONE_YET
        return _json_bytes(request, 200, result)

    def _bot(self, name: Any) -> FakeTelegramBot:
        bots = list(self.fake.bots.values())
        if name in (None, ""):
            if len(bots) != 1:
                raise _ControlError(400, "several bots: say which with \"bot\"")
            return bots[0]
        for bot in bots:
            if name in (bot.token, bot.username, f"@{bot.username}", bot.id, str(bot.id)):
                return bot
        raise _ControlError(404, f"no bot {name!r}")

    def _user(self, name: Any) -> TelegramUser:
        for user in self.fake.users.values():
            if not user.is_bot and name in (user.id, str(user.id), user.username,
                                            f"@{user.username}"):
                return user
        raise _ControlError(404, f"no user {name!r}")

    def do_get_state(self, request: Request, body: Any) -> Any:
        return {
            "api_root": self.fake.api_root,
            "bots": [{"token": b.token, "username": b.username, "id": b.id}
                     for b in self.fake.bots.values()],
            "users": [u.as_json() for u in self.fake.users.values() if not u.is_bot],
            "groups": [dict(g.as_json(), members=g.members, topics=g.topics)
                       for g in self.fake.groups.values()],
        }

    def do_post_users(self, request: Request, body: Any) -> Any:
        return self.fake.add_user(str(body.get("first_name") or body.get("username") or "User"),
                                    username=body.get("username")).as_json()

    def do_post_groups(self, request: Request, body: Any) -> Any:
        def members(key: str) -> list[Any]:
            found: list[Any] = []
            for name in body.get(key, []):
                try:
                    found.append(self._bot(name))
                except _ControlError:
                    found.append(self._user(name))
            return found

        group = self.fake.add_group(str(body.get("title", "Group")),
                                      supergroup=bool(body.get("supergroup", True)),
                                      forum=bool(body.get("forum", False)),
                                      members=members("members"), admins=members("admins"))
        return group.as_json()

    def do_post_dm(self, request: Request, body: Any) -> Any:
        return self.fake.dm(self._user(body.get("user")), self._bot(body.get("bot")),
                              str(body.get("text", "")),
                              reply_to=body.get("reply_to_message_id"))

    def do_post_group_message(self, request: Request, body: Any) -> Any:
        group = self.fake.groups.get(int(body.get("chat_id", 0)))
        if group is None:
            raise _ControlError(404, f"no group {body.get('chat_id')!r}")
        return self.fake.group_message(self._user(body.get("user")), group,
                                         str(body.get("text", "")),
                                         reply_to=body.get("reply_to_message_id"),
                                         thread_id=body.get("message_thread_id"))

    def do_get_sent(self, request: Request, body: Any) -> Any:
        args = _request_args(request)
        bot = self._bot(args.get("bot"))
        after = _int_arg(args, "after", 0)
        wait = float(args.get("wait", "0") or 0)

        def page() -> dict[str, Any]:
            return {"messages": [s.message for s in bot.sent.items[after:]],
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
            done.pause()  # nobody to answer any more
            watcher.cancel()

        watcher.addBoth(finished)
        request.notifyFinish().addErrback(hung_up)
        return done

    def do_get_requests(self, request: Request, body: Any) -> Any:
        bot = self._bot(_request_args(request).get("bot"))
        return {"requests": [{"method": c.method, "params": c.params, "at": c.at,
                              "status": c.status, "description": c.description}
                             for c in bot.requests]}

    def do_post_rate_limit(self, request: Request, body: Any) -> Any:
        self._bot(body.get("bot")).rate_limit(str(body.get("method", "sendMessage")),
                                              retry_after=int(body.get("retry_after", 1)),
                                              count=int(body.get("count", 1)))
        return {"ok": True}

    def do_post_fail(self, request: Request, body: Any) -> Any:
        self._bot(body.get("bot")).fail(str(body["method"]), int(body.get("error_code", 500)),
                                        str(body.get("description", "Internal Server Error")),
                                        count=int(body.get("count", 1)))
        return {"ok": True}


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
        prog="python -m openclaw.testing.telegram_bot_api",
        description="A local fake of the Telegram Bot API for trying the Telegram channel "
                    "offline.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456789:AAF-openclaw-fake-token")
    parser.add_argument("--username", default="openclaw_test_bot")
    parser.add_argument("--privacy", action="store_true",
                        help="group privacy mode on (the bot sees only commands, mentions and "
                             "replies in groups)")
    options = parser.parse_args(argv)

    async def serve(reactor: Any) -> None:
        server = TelegramBotApiServer(reactor, host=options.host)
        server.add_bot(options.token, username=options.username,
                       can_read_all_group_messages=not options.privacy)
        server.add_user("Alice", username="alice")
        server.start(options.port)
        root = server.api_root
        print(f"Fake Telegram Bot API listening on {root}  (bot @{options.username}, token "
              f"{options.token}; user @alice)")
        print(f"Usage: set channels.telegram.apiRoot={root} and botToken={options.token}; "
              f"send a DM with curl -d '{{\"user\":\"alice\",\"text\":\"hi\"}}' {root}/_fake/dm "
              f"and read replies with curl '{root}/_fake/sent?wait=30'", flush=True)
        await Deferred()  # until interrupted

    from twisted.internet import task

    task.react(lambda reactor: Deferred.fromCoroutine(serve(reactor)), [])


if __name__ == "__main__":
    main(sys.argv[1:])
