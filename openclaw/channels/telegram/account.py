"""One Telegram bot account: long polling in, the Bot API out.

* inbound: ``message`` updates of private chats, groups and supergroups (forum topics keep
  their ``message_thread_id``); messages from bots and edits are not new messages; a group
  message mentions the bot with ``@botname`` (a ``mention`` entity, or a ``/command@botname``),
  a ``text_mention`` of the bot, or a reply to one of the bot's messages;
* outbound: ``sendMessage`` with ``parse_mode: "HTML"`` (the reply's Markdown rendered as
  Telegram HTML); if Telegram cannot parse it (``can't parse entities``) the same chunk is
  sent again as plain text; chunks of at most 4096 characters (``textChunkLimit``, default
  4000); a 429 is retried after ``retry_after`` on the clock; ``reply_parameters`` with
  ``replyToMode``; a preview shown while the reply streamed is finalized in place with
  ``editMessageText``;
* typing: ``sendChatAction typing`` while a run streams;
* live preview (``streaming.mode`` ``partial``/``block``): one message sent once the reply
  has 30 characters, edited (at most once a second) as it grows;
* status: ``mode: "polling"``, ``tokenSource``, ``tokenStatus``, ``allowUnmentionedGroups``;
  probe ``getMe`` (+ ``getWebhookInfo``) and the membership audit (``getChatMember`` for the
  explicit group ids configured with ``requireMention: false``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger

from openclaw.channels.account import ChannelAccount, ChannelContext
from openclaw.channels.deferreds import settled
from openclaw.channels.model import (
    DIRECT,
    GROUP,
    AccountSpec,
    InboundMessage,
    NotConnected,
    OutboundMessage,
    SendFailed,
)
from openclaw.channels.policy import AccessPolicy, GroupRule
from openclaw.channels.telegram.api import TelegramApi, TelegramApiError
from openclaw.channels.telegram.config import (
    DEFAULT_CHUNK,
    MAX_CHUNK,
    TELEGRAM_META,
    TelegramSettings,
    bot_id_of,
)
from openclaw.channels.telegram.format import to_telegram_html
from openclaw.channels.telegram.polling import TelegramPoller
from openclaw.config.loader import ConfigSnapshot

log = Logger(namespace="channels.telegram")

MAX_HISTORY: Final = 200
PREVIEW_MIN_CHARS: Final = 30
PREVIEW_THROTTLE_S: Final = 1.0
STOP_GRACE_S: Final = 5.0        # a send in flight at stop may finish (no resend after)
_TOPIC: Final = re.compile(r"^(-?\d+):topic:(\d+)$")


def normalize_allow_entry(raw: str) -> str:
    value = raw.strip()
    value = re.sub(r"^(telegram|tg):", "", value, flags=re.IGNORECASE).strip()
    return value.lower()


def normalize_target(raw: str) -> str | None:
    """A chat id (``123``, ``-100...``), ``@username``, or ``<chat id>:topic:<thread>``
    (``telegram:``/``tg:`` prefixes allowed)."""
    target = re.sub(r"^(telegram|tg):", "", raw.strip(), flags=re.IGNORECASE).strip()
    if target.lower().startswith(("user:", "chat:", "group:")):
        target = target.split(":", 1)[1].strip()
    if re.fullmatch(r"-?\d+", target) or _TOPIC.match(target):
        return target
    if re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,31}", target):
        return target
    return None


def split_target(target: str) -> tuple[str, int | None]:
    """``(chat_id, message_thread_id)``."""
    match = _TOPIC.match(target)
    if match:
        return match.group(1), int(match.group(2))
    return target, None


def display_name(user: Mapping[str, Any]) -> str:
    name = " ".join(str(part) for part in (user.get("first_name"), user.get("last_name"))
                    if part)
    return name or str(user.get("username") or user.get("id") or "")


class TelegramAccount(ChannelAccount):
    meta = TELEGRAM_META
    default_chunk_limit = DEFAULT_CHUNK
    default_history_limit = 50

    def __init__(self, spec: AccountSpec, context: ChannelContext) -> None:
        super().__init__(spec, context)
        self.tg: TelegramSettings = spec.settings
        self.token = spec.secrets.get("token", "")
        self.bot_id = bot_id_of(self.token) if self.token else ""
        self.bot_username: str | None = None
        self.bot_info: dict[str, Any] | None = None
        self.poller: TelegramPoller | None = None
        self.api: TelegramApi | None = None       # the sending client

    # -- connection ---------------------------------------------------------------------

    def new_api(self) -> TelegramApi:
        return TelegramApi(self.context.reactor, self.context.timer, self.tg.api_root,
                           self.token)

    def start_network(self) -> None:
        if self.tg.webhook_url:
            raise RuntimeError("Telegram webhook mode (webhookUrl) is not supported by this "
                               "gateway; remove webhookUrl to use long polling")
        log.info("[{account}] starting Telegram provider (polling)", account=self.account_id)
        self.api = self.new_api()
        self.poller = TelegramPoller(self)
        self.poller.start()

    def stop_network(self) -> Deferred[None] | None:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        poller, self.poller = self.poller, None
        if poller is not None:
            await poller.stop()
        api, self.api = self.api, None
        if api is not None:
            await api.close(grace_s=STOP_GRACE_S)

    def bot_ready(self, me: Mapping[str, Any]) -> None:
        username = me.get("username")
        self.bot_username = str(username) if username else None
        if isinstance(me.get("id"), int):
            self.bot_id = str(me["id"])
        self.bot_info = dict(me)

    def poll_ok(self) -> None:
        self.last_transport_at = self.now_ms()
        if not self.connected:
            log.info("[{account}] Telegram polling connected (@{bot})",
                     account=self.account_id, bot=self.bot_username)
            self.connection_made()
        elif self.last_error:
            self.last_error = None

    def poll_failed(self, reason: str) -> None:
        if self.connected:
            self.connection_lost(reason)
        self.connect_failed(reason)
        log.info("[{account}] {reason}", account=self.account_id, reason=reason)

    # -- inbound ------------------------------------------------------------------------

    async def handle_update(self, update: Mapping[str, Any]) -> None:
        message = update.get("message")
        if not isinstance(message, Mapping):
            return
        inbound = self.inbound_message(message)
        if inbound is not None:
            await self.receive(inbound)

    def inbound_message(self, message: Mapping[str, Any]) -> InboundMessage | None:
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        text = message.get("text") if isinstance(message.get("text"), str) else \
            message.get("caption")
        if not isinstance(text, str) or not text.strip() or not isinstance(sender, Mapping):
            return None
        if sender.get("is_bot") or str(sender.get("id")) == self.bot_id:
            return None
        kind = chat.get("type")
        if kind not in ("private", "group", "supergroup"):
            return None
        chat_id = str(chat.get("id"))
        user_id = str(sender.get("id"))
        username = str(sender.get("username") or "")
        group = kind != "private"
        thread = message.get("message_thread_id")
        topic = str(thread) if group and chat.get("is_forum") and thread else None
        names = tuple(n for n in (f"@{username.lower()}" if username else "",) if n)
        return InboundMessage(
            channel="telegram", account_id=self.account_id,
            event_id=f"{chat_id}:{message.get('message_id')}",
            chat_type=GROUP if group else DIRECT, sender_id=user_id,
            sender_name=display_name(sender), conversation_id=chat_id,
            reply_target=f"{chat_id}:topic:{topic}" if topic else chat_id, text=text.strip(),
            ts=int(message.get("date") or 0) * 1000 or self.now_ms(),
            sender_keys=(user_id,), sender_names=names,
            group_keys=(chat_id,) if group else (), mentioned=group and self._mentioned(
                message, text),
            thread_id=topic, message_id=str(message.get("message_id")),
            meta={"chatId": chat_id, "username": username,
                  "firstName": str(sender.get("first_name") or ""),
                  "lastName": str(sender.get("last_name") or "")})

    def _mentioned(self, message: Mapping[str, Any], text: str) -> bool:
        reply = message.get("reply_to_message")
        if isinstance(reply, Mapping) and str((reply.get("from") or {}).get("id")) == \
                self.bot_id:
            return True
        name = (self.bot_username or "").lower()
        entities = message.get("entities") or message.get("caption_entities") or []
        units = text.encode("utf-16-le")
        for entity in entities if isinstance(entities, list) else ():
            if not isinstance(entity, Mapping):
                continue
            kind = entity.get("type")
            if kind == "text_mention" and str((entity.get("user") or {}).get("id")) == \
                    self.bot_id:
                return True
            if kind in ("mention", "bot_command") and name:
                offset, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
                part = units[offset * 2:(offset + length) * 2].decode("utf-16-le",
                                                                      "replace").lower()
                if part == f"@{name}" or part.endswith(f"@{name}"):
                    return True
        return bool(name) and re.search(rf"(?<![\w@])@{re.escape(name)}\b", text.lower()) \
            is not None

    # -- outbound -----------------------------------------------------------------------

    def chunking(self) -> tuple[int, str, int | None]:
        limit, mode, _ = super().chunking()
        return min(int(limit), MAX_CHUNK), mode, None

    def history_limit(self, snapshot: ConfigSnapshot) -> int:
        return min(super().history_limit(snapshot), MAX_HISTORY)

    async def send_message(self, message: OutboundMessage) -> str | None:
        api = self.api
        if api is None:
            raise NotConnected()
        chat_id, thread = split_target(message.target)
        if message.thread_id and message.thread_id.isdigit():
            thread = int(message.thread_id)
        if message.edit_id:
            edited = await self._finalize_preview(api, chat_id, message)
            if edited is not None:
                return edited
        params: dict[str, Any] = {"chat_id": chat_id, "text": to_telegram_html(message.text),
                                  "parse_mode": "HTML"}
        if thread:
            params["message_thread_id"] = thread
        if message.reply_to_id and message.reply_to_id.isdigit():
            params["reply_parameters"] = {"message_id": int(message.reply_to_id),
                                          "allow_sending_without_reply": True}
        try:
            sent = await self._send(api, "sendMessage", params)
        except TelegramApiError as e:
            if not e.parse_error:
                raise _send_failed(e) from e
            log.info("[{account}] Telegram could not parse the HTML ({error}); sending plain "
                     "text", account=self.account_id, error=e.description)
            plain = {k: v for k, v in params.items() if k != "parse_mode"}
            plain["text"] = message.text
            try:
                sent = await self._send(api, "sendMessage", plain)
            except TelegramApiError as again:
                raise _send_failed(again) from again
        return str(sent.get("message_id")) if isinstance(sent, Mapping) else None

    async def _send(self, api: TelegramApi, method: str, params: Mapping[str, Any]) -> Any:
        try:
            return await api.call_retrying(method, params)
        except TelegramApiError:
            raise
        except Exception as e:
            # no answer (timeout, connection): try again later (it may have been sent)
            raise SendFailed(f"Telegram {method} failed: {str(e) or type(e).__name__}",
                             retry_after=2.0) from e

    async def _finalize_preview(self, api: TelegramApi, chat_id: str,
                                message: OutboundMessage) -> str | None:
        """Edit the preview into the final first chunk; None: send a new message."""
        assert message.edit_id is not None
        params: dict[str, Any] = {"chat_id": chat_id, "message_id": int(message.edit_id),
                                  "text": to_telegram_html(message.text), "parse_mode": "HTML"}
        for attempt in (params, {**{k: v for k, v in params.items() if k != "parse_mode"},
                                 "text": message.text}):
            try:
                await self._send(api, "editMessageText", attempt)
                return message.edit_id
            except TelegramApiError as e:
                if e.not_modified:
                    return message.edit_id
                if e.parse_error:
                    continue
                if e.code == 429:
                    raise _send_failed(e) from e
                log.info("[{account}] preview {id} not finalized ({error}); sending anew",
                         account=self.account_id, id=message.edit_id, error=e.description)
                return None
        return None

    def set_typing(self, target: str, on: bool) -> None:
        api = self.api
        if api is None or not on or not self.connected:
            return
        chat_id, thread = split_target(target)
        params: dict[str, Any] = {"chat_id": chat_id, "action": "typing"}
        if thread:
            params["message_thread_id"] = thread
        api.call("sendChatAction", params).addErrback(lambda f: None)

    def start_preview(self, handle: Any, target: str, thread_id: str | None) -> Any:
        streaming = getattr(self.tg.config, "streaming", None)
        mode = getattr(streaming, "mode", None) or "progress"
        if mode not in ("partial", "block") or self.api is None:
            return None
        chat_id, thread = split_target(target)
        if thread_id and thread_id.isdigit():
            thread = int(thread_id)
        return _Preview(self, handle, chat_id, thread)

    # -- policy -------------------------------------------------------------------------

    def access_policy(self) -> AccessPolicy:
        config = self.tg.config
        snapshot = self.context.config()
        defaults = snapshot.config.channels.defaults
        groups = {key: GroupRule(require_mention=rule.require_mention, enabled=rule.enabled,
                                 allow_from=tuple(normalize_allow_entry(e)
                                                  for e in rule.allow_from or ())
                                 or (("*",) if rule.group_policy == "open" else ()),
                                 system_prompt=rule.system_prompt)
                  for key, rule in (config.groups or {}).items()}
        allow = tuple(normalize_allow_entry(e) for e in config.allow_from or ())
        group_allow = tuple(normalize_allow_entry(e) for e in config.group_allow_from or ())
        return AccessPolicy(
            dm_policy=config.dm_policy or "pairing", allow_from=allow,
            group_policy=config.group_policy or (defaults.group_policy if defaults else None)
            or "allowlist",
            # groupAllowFrom falls back to allowFrom (never to pairing approvals)
            group_allow_from=group_allow or tuple(e for e in allow if e != "*" or
                                                  config.dm_policy == "open"),
            groups=groups, group_senders_required=True,
            mention_patterns=self.mention_patterns(snapshot))

    def pairing_sender(self, message: InboundMessage) -> tuple[str, dict[str, str]]:
        meta = {key: message.meta.get(key, "") for key in ("username", "firstName",
                                                           "lastName")}
        return message.sender_id, meta

    def pairing_id_line(self, message: InboundMessage) -> str:
        return f"Your Telegram user id: {message.sender_id}"

    def pairing_notify_target(self, sender_id: str, meta: Mapping[str, str]) -> str | None:
        return sender_id if re.fullmatch(r"\d+", sender_id) else None

    def reply_plan(self, message: InboundMessage) -> tuple[str, str | None, str | None]:
        mode = self.tg.config.reply_to_mode or "off"
        reply_to = message.message_id if mode in ("first", "all", "batched") else None
        return message.reply_target, message.thread_id, reply_to

    # -- status -------------------------------------------------------------------------

    def allow_unmentioned_groups(self) -> bool:
        return any(rule.require_mention is False
                   for rule in (self.tg.config.groups or {}).values())

    def snapshot(self) -> dict[str, Any]:
        snapshot = super().snapshot()
        snapshot.update(mode="polling", tokenSource=self.tg.token_source,
                        tokenStatus=self.tg.token_status,
                        allowUnmentionedGroups=self.allow_unmentioned_groups(),
                        lastTransportActivityAt=self.last_transport_at)
        if self.tg.state_reason and not snapshot.get("lastError"):
            snapshot["lastError"] = self.tg.state_reason
        return snapshot

    def summary(self, snapshot: dict[str, Any]) -> dict[str, Any] | None:
        return {"configured": snapshot.get("configured", False),
                "tokenSource": snapshot.get("tokenSource", "none"),
                "running": snapshot.get("running", False),
                "mode": snapshot.get("mode"),
                "lastStartAt": snapshot.get("lastStartAt"),
                "lastStopAt": snapshot.get("lastStopAt"),
                "lastError": snapshot.get("lastError"),
                "probe": snapshot.get("probe"),
                "lastProbeAt": snapshot.get("lastProbeAt")}

    def status_issues(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        from openclaw.channels.telegram.probe import status_issues

        return status_issues(self, snapshot)

    def probe(self, timeout_ms: int) -> Any:
        from openclaw.channels.telegram.probe import probe_telegram

        return Deferred.fromCoroutine(probe_telegram(self, timeout_ms))

    def audit(self, timeout_ms: int, probe: Any) -> Any:
        from openclaw.channels.telegram.probe import audit_membership

        return Deferred.fromCoroutine(audit_membership(self, timeout_ms, probe))


def _send_failed(error: TelegramApiError) -> SendFailed:
    if error.code == 429:
        return SendFailed(error.description, retry_after=error.retry_after or 1.0)
    if error.code >= 500 or error.code == 0:
        return SendFailed(error.description, retry_after=2.0)
    return SendFailed(error.description)      # 400/403: never deliverable as it is


class _Preview:
    """One message edited as the reply streams (best effort: a failed edit only stops the
    preview; the final reply is delivered through the outbox either way). A reader follows
    the run's events; a pump shows the latest text at most once per throttle interval."""

    def __init__(self, account: TelegramAccount, handle: Any, chat_id: str,
                 thread: int | None) -> None:
        self.account = account
        self.chat_id = chat_id
        self.thread = thread
        self.message_id: str | None = None
        self.latest = ""
        self.shown = ""
        self.broken = False
        self._done = False
        self._read_all = False
        self._signal: Deferred[None] | None = None
        self._sleep: Deferred[None] | None = None
        self._reader = Deferred.fromCoroutine(self._read(handle))
        self._reader.addErrback(lambda f: log.failure("telegram preview failed", f))
        self._pump_task = Deferred.fromCoroutine(self._pump())
        self._pump_task.addErrback(lambda f: log.failure("telegram preview failed", f))

    def _poke(self) -> None:
        signal, self._signal = self._signal, None
        if signal is not None and not signal.called:
            signal.callback(None)

    async def _read(self, handle: Any) -> None:
        async for event in handle.events():
            if self._done:
                break
            if event.get("stream") == "assistant":
                self.latest = str((event.get("data") or {}).get("text") or "")
                self._poke()
        self._read_all = True
        self._poke()

    async def _pump(self) -> None:
        clock = self.account.context.timer
        while not self._done and not self.broken:
            text = self.latest.strip()
            if text and text != self.shown and (self.message_id is not None
                                                or len(text) >= PREVIEW_MIN_CHARS):
                await self._show(text)
                self._sleep = deferLater(clock, PREVIEW_THROTTLE_S, lambda: None)
                try:
                    await self._sleep
                except CancelledError:
                    return
                finally:
                    self._sleep = None
                continue
            if self._read_all:
                return
            self._signal = Deferred()
            await self._signal

    async def _show(self, text: str) -> None:
        api = self.account.api
        text = text.strip()
        if api is None or not text or text == self.shown:
            return
        if len(text) > MAX_CHUNK - 1:
            text = text[:MAX_CHUNK - 1] + "…"
        html = to_telegram_html(text)
        try:
            if self.message_id is None:
                params: dict[str, Any] = {"chat_id": self.chat_id, "text": html,
                                          "parse_mode": "HTML"}
                if self.thread:
                    params["message_thread_id"] = self.thread
                sent = await api.call("sendMessage", params)
                self.message_id = str(sent.get("message_id"))
            else:
                await api.call("editMessageText", {"chat_id": self.chat_id,
                                                   "message_id": int(self.message_id),
                                                   "text": html, "parse_mode": "HTML"})
            self.shown = text
        except TelegramApiError as e:
            if not e.not_modified:
                self.broken = True
                log.info("[{account}] preview stopped: {error}",
                         account=self.account.account_id, error=e.description)
        except Exception as e:
            self.broken = True
            log.info("[{account}] preview stopped: {error}", account=self.account.account_id,
                     error=str(e) or type(e).__name__)

    async def finish(self) -> str | None:
        """Stop following; the preview's message id (to finalize in place), or None."""
        self._done = True
        self._poke()
        sleeping = self._sleep
        if sleeping is not None and not sleeping.called:
            sleeping.cancel()
        if not self._pump_task.called:
            await settled(self._pump_task)     # an edit in flight lands first
        return None if self.broken else self.message_id

    async def discard(self) -> None:
        api = self.account.api
        if self.message_id is None or api is None:
            return
        with contextlib.suppress(Exception):
            await api.call("deleteMessage", {"chat_id": self.chat_id,
                                             "message_id": int(self.message_id)})

