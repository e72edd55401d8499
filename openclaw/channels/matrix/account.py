"""One Matrix account: a long-poll ``/sync`` loop that reconnects by itself.

* login: the configured access token, else a password login whose token and device are kept
  in the channel store (a restart reuses them: the same device, and transaction ids stay
  deduplicated by the homeserver); a token the homeserver no longer knows is dropped and the
  password login runs again;
* the loop resumes from the ``since`` token stored after each batch was accepted into the
  durable ingress queue (a restart neither loses nor repeats messages: a batch accepted but
  not yet acknowledged is deduplicated by event id); a new account does not answer what was
  said before its first start; every (re)start first reads the rooms' state and the pending
  invites (an invite refused before may be allowed by the new config);
* after an error it waits 0.5 s, then 1.6 times longer each time, at most 30 s (with
  jitter), on the reactor clock;
* invites are joined per ``autoJoin`` (``always``, ``allowlist`` of room ids and aliases --
  aliases resolved against the homeserver -- or ``off``);
* a room is a DM when the invite said ``is_direct`` or it has two members; messages in
  encrypted rooms are not readable here (end-to-end encryption is not supported) and the
  room is reported in ``channels status``;
* mentions: ``m.mentions.user_ids`` together with a visible mention (the user id,
  ``@localpart`` or the display name in the body, or a ``matrix.to`` link), a reply to one of
  the bot's messages, or -- from clients without ``m.mentions`` -- the name in the body;
* threads (``m.thread``) and replies (``m.in_reply_to``) are kept; an edit (``m.replace``)
  of an earlier message is not a new message;
* delivery: ``PUT /send/m.room.message/<txn>`` with a transaction id derived from the
  outbound row, so a retry after a lost answer is deduplicated; typing while a run streams.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import random
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger

from openclaw.channels.account import ChannelAccount, ChannelContext
from openclaw.channels.matrix.client import MatrixApiError, MatrixClient
from openclaw.channels.matrix.config import MATRIX_META, MatrixSettings
from openclaw.channels.matrix.format import message_content, strip_reply_fallback
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

log = Logger(namespace="channels.matrix")

SYNC_TIMEOUT_MS: Final = 30_000
RETRY_FIRST_S: Final = 0.5
RETRY_FACTOR: Final = 1.6
RETRY_MAX_S: Final = 30.0
BLOCKED_PRIVATE: Final = "Blocked hostname or private/internal/special-use IP address"
_STATE_FILTER: Final = json.dumps({"room": {"timeline": {"limit": 1}},
                                   "presence": {"types": []}})


def normalize_allow_entry(raw: str) -> str:
    value = raw.strip().lower()
    if value.startswith("matrix:"):
        value = value[len("matrix:"):]
    if value.startswith("user:"):
        value = value[len("user:"):]
    return value.strip()


def normalize_target(raw: str) -> str | None:
    """``!room:server``, ``#alias:server``, ``@user:server`` (``matrix:``/``room:``/``user:``
    prefixes allowed)."""
    target = raw.strip()
    for prefix in ("matrix:", "room:", "channel:", "user:"):
        if target.lower().startswith(prefix):
            target = target[len(prefix):].strip()
    if re.fullmatch(r"[!#@][^\s:]+:[^\s]+", target) or re.fullmatch(r"![^\s:]+", target):
        return target
    return None


def is_private_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
            (".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return bool(address.is_private or address.is_loopback or address.is_link_local
                or address.is_reserved or address.is_unspecified)


@attrs.define
class _Room:
    room_id: str
    direct: bool = False
    members: int = 0
    encrypted: bool = False
    aliases: tuple[str, ...] = ()
    names: dict[str, str] = attrs.Factory(dict)      # user id -> display name
    loaded: bool = False                             # full state fetched once


class MatrixAccount(ChannelAccount):
    meta = MATRIX_META
    default_chunk_limit = 4000
    default_history_limit = 0

    def __init__(self, spec: AccountSpec, context: ChannelContext) -> None:
        super().__init__(spec, context)
        self.mx: MatrixSettings = spec.settings
        self.client: MatrixClient | None = None
        self.user_id = self.mx.user_id
        self.display_name: str | None = None
        self.rooms: dict[str, _Room] = {}
        self.last_event_at: int | None = None
        self.health_state = "starting"
        self._loop: Deferred[None] | None = None
        self._sync_call: Deferred[Any] | None = None
        self._own_events: set[str] = set()
        self._history_floor = 0     # ms: older events came before this account's first start

    @property
    def scope(self) -> str:
        """The store key of this account's login, ``since`` token and history floor."""
        return f"matrix:{self.account_id}:{self.mx.homeserver}:{self.mx.user_id}"

    # -- connection loop ----------------------------------------------------------------

    def start_network(self) -> None:
        host = urlsplit(self.mx.homeserver).hostname or ""
        if is_private_host(host) and not self.mx.allow_private_network:
            raise RuntimeError(BLOCKED_PRIVATE)
        self.client = MatrixClient(self.context.reactor, self.mx.homeserver)
        self._loop = Deferred.fromCoroutine(self._run())
        self._loop.addErrback(lambda f: None if f.check(CancelledError) else log.failure(
            "matrix loop failed", f))

    def stop_network(self) -> Deferred[None] | None:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        call, self._sync_call = self._sync_call, None
        if call is not None and not call.called:
            call.cancel()
        loop, self._loop = self._loop, None
        if loop is not None and not loop.called:
            loop.cancel()
        client = self.client
        if client is not None:
            await client.close()

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while self.active:
            try:
                since = await self._connect()
                delay = RETRY_FIRST_S
                while self.active:
                    since = await self._sync_once(since)
            except CancelledError:
                return
            except MatrixApiError as e:
                if e.errcode == "M_UNKNOWN_TOKEN":
                    await self.context.run(self.context.db.kv_set, self.scope, "login", None)
                    if self.client is not None:
                        self.client.access_token = None
                self._failed(str(e))
            except Exception as e:
                self._failed(str(e) or type(e).__name__)
            if not self.active:
                return
            wait = min(RETRY_MAX_S, delay) * (0.8 + 0.4 * random.random())
            delay = min(RETRY_MAX_S, delay * RETRY_FACTOR)
            self._sync_call = deferLater(self.context.reactor, wait, lambda: None)
            try:
                await self._sync_call
            except CancelledError:
                return

    def _failed(self, reason: str) -> None:
        was = self.connected
        self.health_state = "degraded"
        self.connection_lost(reason)
        self.connect_failed(reason)
        if was:
            log.info("{name}: sync stopped: {reason}", name=self.spec.name, reason=reason)

    async def _call(self, deferred: Deferred[Any]) -> Any:
        self._sync_call = deferred
        try:
            return await deferred
        finally:
            if self._sync_call is deferred:
                self._sync_call = None

    async def _connect(self) -> str | None:
        client = self.client
        assert client is not None
        db, run = self.context.db, self.context.run
        token = self.spec.secrets.get("accessToken")
        if not token:
            stored = await run(db.kv_get, self.scope, "login")
            login = json.loads(stored) if stored else None
            if login and login.get("access_token"):
                token = login["access_token"]
            else:
                answer = await self._call(client.login_password(
                    self.mx.user_id, self.spec.secrets.get("password", ""), self.mx.device_id,
                    self.mx.device_name))
                token = answer["access_token"]
                await run(db.kv_set, self.scope, "login", json.dumps(
                    {"access_token": token, "device_id": answer.get("device_id"),
                     "user_id": answer.get("user_id")}))
        client.access_token = token
        whoami = await self._call(client.whoami())
        self.user_id = str(whoami.get("user_id") or self.mx.user_id)
        try:
            profile = await self._call(client.profile(self.user_id))
            self.display_name = profile.get("displayname") or None
        except MatrixApiError:
            self.display_name = None
        stored = await run(db.kv_get, self.scope, "since")
        since = None if stored is None else str(stored)
        if since is None:
            # A new account does not answer history: what was said before its first start.
            await run(db.kv_set, self.scope, "floor", str(self.now_ms()))
        self._history_floor = int(await run(db.kv_get, self.scope, "floor") or 0)
        # Every (re)start looks at the current state and every pending invite (an invite
        # refused before may be allowed now), without the timelines.
        current = await self._call(client.sync(None, 0, _STATE_FILTER))
        await self._handle(current, history=False)
        if since is None:
            since = str(current["next_batch"]) if current.get("next_batch") else None
            await run(db.kv_set, self.scope, "since", since)
        self.health_state = "healthy"
        self.connection_made()
        return since

    async def _sync_once(self, since: str | None) -> str | None:
        client = self.client
        assert client is not None
        data = await self._call(client.sync(since, SYNC_TIMEOUT_MS, None))
        self.last_transport_at = self.now_ms()
        await self._handle(data, history=True)
        next_batch = data.get("next_batch") or since
        if next_batch != since:
            # Only now: every message of the batch is in the durable ingress queue.
            await self.context.run(self.context.db.kv_set, self.scope, "since", next_batch)
        return next_batch

    # -- sync handling ------------------------------------------------------------------

    def _room(self, room_id: str) -> _Room:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = _Room(room_id)
        return room

    async def _handle(self, data: Mapping[str, Any], *, history: bool) -> None:
        rooms = data.get("rooms") or {}
        for room_id, invite in (rooms.get("invite") or {}).items():
            await self._invited(room_id, invite)
        for room_id, joined in (rooms.get("join") or {}).items():
            room = self._room(room_id)
            summary = joined.get("summary") or {}
            if isinstance(summary.get("m.joined_member_count"), int):
                room.members = summary["m.joined_member_count"]
            for event in (joined.get("state") or {}).get("events") or ():
                self._state(room, event)
            for event in (joined.get("timeline") or {}).get("events") or ():
                self.last_event_at = self.now_ms()
                if "state_key" in event:
                    self._state(room, event)
                    continue
                if history:
                    await self._timeline(room, event)
        for room_id in (rooms.get("leave") or {}):
            self.rooms.pop(room_id, None)

    def _state(self, room: _Room, event: Mapping[str, Any]) -> None:
        kind, content = event.get("type"), event.get("content") or {}
        if kind == "m.room.encryption":
            room.encrypted = True
        elif kind == "m.room.canonical_alias":
            aliases = [content.get("alias"), *(content.get("alt_aliases") or [])]
            room.aliases = tuple(a for a in aliases if isinstance(a, str) and a)
        elif kind == "m.room.member":
            user = str(event.get("state_key") or "")
            if content.get("membership") == "join":
                if content.get("displayname"):
                    room.names[user] = str(content["displayname"])
                if user == self.user_id and content.get("is_direct"):
                    room.direct = True
            elif user in room.names:
                room.names.pop(user, None)

    async def _invited(self, room_id: str, invite: Mapping[str, Any]) -> None:
        room = self._room(room_id)
        for event in (invite.get("invite_state") or {}).get("events") or ():
            self._state(room, event)
            if (event.get("type") == "m.room.member" and event.get("state_key") == self.user_id
                    and (event.get("content") or {}).get("is_direct")):
                room.direct = True
        mode = self.mx.auto_join
        allowed = mode == "always" or (mode == "allowlist" and await self._join_allowed(room))
        if not allowed:
            log.info("{name}: invite to {room} not joined (autoJoin={mode})",
                     name=self.spec.name, room=room_id, mode=mode)
            return
        assert self.client is not None
        try:
            await self.client.join(room_id)
            log.info("{name}: joined {room}", name=self.spec.name, room=room_id)
        except MatrixApiError as e:
            log.warn("{name}: joining {room} failed: {error}", name=self.spec.name,
                     room=room_id, error=str(e))

    async def _join_allowed(self, room: _Room) -> bool:
        assert self.client is not None
        for entry in self.mx.auto_join_allowlist:
            entry = entry.strip()
            if entry == "*" or entry == room.room_id:
                return True
            if entry.startswith("#"):
                try:
                    resolved = await self.client.resolve_alias(entry)
                except MatrixApiError:
                    continue
                if resolved.get("room_id") == room.room_id:
                    return True
        return False

    async def _load_room(self, room: _Room) -> None:
        """The room's current state (members, DM flag, aliases, encryption): a room first
        seen after a restart comes without it in an incremental sync."""
        assert self.client is not None
        try:
            state = await self.client.room_state(room.room_id)
        except MatrixApiError as e:
            log.info("{name}: state of {room} unavailable: {error}", name=self.spec.name,
                     room=room.room_id, error=str(e))
            return
        members = 0
        for event in state if isinstance(state, list) else ():
            self._state(room, event)
            if event.get("type") == "m.room.member" and (event.get("content") or {}).get(
                    "membership") == "join":
                members += 1
        room.members = members or room.members
        room.loaded = True

    def _is_direct(self, room: _Room) -> bool:
        if self._group_rule_keys(room) and not room.direct:
            return False
        return room.direct or room.members == 2

    def _group_rule_keys(self, room: _Room) -> bool:
        groups = self._groups()
        keys = {room.room_id.lower(), *(a.lower() for a in room.aliases)}
        return any(key.lower() in keys for key in groups)

    async def _timeline(self, room: _Room, event: Mapping[str, Any]) -> None:
        sender = str(event.get("sender") or "")
        event_id = str(event.get("event_id") or "")
        if not sender or not event_id or sender == self.user_id:
            return
        if int(event.get("origin_server_ts") or 0) < self._history_floor:
            return
        kind = event.get("type")
        if kind == "m.room.encrypted":
            room.encrypted = True
            log.warn("{name}: encrypted message in {room} not readable (end-to-end "
                     "encryption is not supported)", name=self.spec.name, room=room.room_id)
            return
        if kind != "m.room.message":
            return
        content = event.get("content") or {}
        if content.get("msgtype") not in ("m.text", "m.emote"):
            return
        if not room.loaded:
            await self._load_room(room)
        relates = content.get("m.relates_to") or {}
        if relates.get("rel_type") == "m.replace":
            log.debug("{name}: edit {event} in {room} is not a new message",
                      name=self.spec.name, event=event_id, room=room.room_id)
            return
        body = strip_reply_fallback(str(content.get("body") or ""))
        if not body.strip():
            return
        thread_id = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
        reply_to = (relates.get("m.in_reply_to") or {}).get("event_id")
        direct = self._is_direct(room)
        name = room.names.get(sender) or sender.split(":", 1)[0].lstrip("@")
        message = InboundMessage(
            channel="matrix", account_id=self.account_id, event_id=event_id,
            chat_type=DIRECT if direct else GROUP, sender_id=sender, sender_name=name,
            conversation_id=sender if direct else room.room_id, reply_target=room.room_id,
            text=body.strip(), ts=int(event.get("origin_server_ts") or self.now_ms()),
            sender_keys=(sender.lower(),),
            sender_names=tuple({name.lower()} - {sender.lower()}),
            group_keys=() if direct else (room.room_id, *room.aliases),
            mentioned=self._mentioned(content, body, reply_to),
            thread_id=str(thread_id) if thread_id else None,
            reply_to_id=str(reply_to) if reply_to else None, message_id=event_id,
            meta={"roomId": room.room_id})
        await self.receive(message)

    def _mentioned(self, content: Mapping[str, Any], body: str, reply_to: Any) -> bool:
        if reply_to and reply_to in self._own_events:
            return True
        user = self.user_id
        localpart = user.split(":", 1)[0].lstrip("@")
        lowered = body.lower()
        visible = (user.lower() in lowered or f"@{localpart.lower()}" in lowered
                   or (self.display_name is not None
                       and self.display_name.lower() in lowered)
                   or f"matrix.to/#/{user}".lower() in str(content.get("formatted_body")
                                                           or "").lower())
        mentions = content.get("m.mentions")
        if isinstance(mentions, Mapping):
            return user in (mentions.get("user_ids") or ()) and visible
        return visible

    # -- outbound -----------------------------------------------------------------------

    async def send_message(self, message: OutboundMessage) -> str | None:
        client = self.client
        if client is None or not self.connected:
            raise NotConnected()
        room_id = await self._room_for(message.target)
        txn = "oc" + hashlib.sha256(f"{self.scope}\0{message.key}".encode()).hexdigest()[:24]
        content = message_content(message.text, thread_id=message.thread_id,
                                  reply_to_id=message.reply_to_id)
        try:
            answer = await client.send_event(room_id, "m.room.message", content, txn)
        except MatrixApiError as e:
            if e.status == 429:
                raise SendFailed(str(e), retry_after=(e.retry_after_ms or 1000) / 1000) from e
            if e.status in (400, 403, 404):
                raise SendFailed(str(e)) from e
            raise
        event_id = str(answer.get("event_id") or "")
        if event_id:
            self._own_events.add(event_id)
        return event_id or None

    async def _room_for(self, target: str) -> str:
        assert self.client is not None
        if target.startswith("!"):
            return target
        if target.startswith("#"):
            try:
                return str((await self.client.resolve_alias(target))["room_id"])
            except MatrixApiError as e:
                raise SendFailed(f"unknown room alias {target}: {e}") from e
        for room in self.rooms.values():
            if room.direct and target in room.names:
                return room.room_id
        try:
            created = await self.client.create_dm(target)
        except MatrixApiError as e:
            raise SendFailed(f"cannot open a DM with {target}: {e}") from e
        room = self._room(str(created["room_id"]))
        room.direct = True
        room.names[target] = target
        return room.room_id

    def set_typing(self, target: str, on: bool) -> None:
        client = self.client
        if client is None or not self.connected or not target.startswith("!"):
            return
        client.typing(target, self.user_id, on).addErrback(lambda f: None)

    def reply_plan(self, message: InboundMessage) -> tuple[str, str | None, str | None]:
        config = self.mx.config
        mode = (config.dm.thread_replies if not message.is_group and config.dm and
                config.dm.thread_replies else None) or config.thread_replies or "inbound"
        thread = None
        if mode == "always":
            thread = message.thread_id or message.message_id
        elif mode == "inbound":
            thread = message.thread_id
        reply_mode = config.reply_to_mode or "off"
        reply_to = message.message_id if reply_mode in ("first", "all", "batched") else None
        return message.reply_target, thread, reply_to

    def dm_session_peer(self, message: InboundMessage) -> str | None:
        dm = self.mx.config.dm
        if dm is not None and dm.session_scope == "per-room":
            return message.reply_target
        return None

    # -- policy -------------------------------------------------------------------------

    def _groups(self) -> Mapping[str, Any]:
        config = self.mx.config
        merged = dict(config.rooms or {})
        merged.update(config.groups or {})
        return {key: rule for key, rule in merged.items()
                if not rule.account or rule.account.strip().lower() == self.account_id}

    def access_policy(self) -> AccessPolicy:
        config = self.mx.config
        snapshot = self.context.config()
        defaults = snapshot.config.channels.defaults
        dm = config.dm
        groups = {key: GroupRule(
            require_mention=(False if rule.auto_reply is True else True
                             if rule.auto_reply is False else rule.require_mention),
            enabled=rule.enabled,
            allow_from=tuple(normalize_allow_entry(u) for u in rule.users or ()),
            system_prompt=rule.system_prompt) for key, rule in self._groups().items()}
        dm_policy = (dm.policy if dm else None) or "pairing"
        group_policy = config.group_policy or (defaults.group_policy if defaults else None) \
            or "allowlist"
        if config.allowlist_only:
            dm_policy = dm_policy if dm_policy == "disabled" else "allowlist"
            group_policy = "allowlist" if group_policy == "open" else group_policy
        return AccessPolicy(
            dm_policy=dm_policy, dm_enabled=not (dm is not None and dm.enabled is False),
            allow_from=tuple(normalize_allow_entry(e) for e in (dm.allow_from if dm else None)
                             or ()),
            group_policy=group_policy,
            group_allow_from=tuple(normalize_allow_entry(e)
                                   for e in config.group_allow_from or ()),
            groups=groups, name_matching=bool(config.dangerously_allow_name_matching),
            group_senders_required=False, mention_patterns=self.mention_patterns(snapshot))

    def pairing_sender(self, message: InboundMessage) -> tuple[str, dict[str, str]]:
        return message.sender_id.lower(), {"name": message.sender_name,
                                           "roomId": message.reply_target}

    def pairing_id_line(self, message: InboundMessage) -> str:
        return f"Your Matrix user id: {message.sender_id}"

    def pairing_notify_target(self, sender_id: str, meta: Mapping[str, str]) -> str | None:
        return meta.get("roomId") or sender_id

    async def logout(self) -> bool:
        stored = await self.context.run(self.context.db.kv_get, self.scope, "login")
        if not stored:
            return False
        login = json.loads(stored)
        client = MatrixClient(self.context.reactor, self.mx.homeserver,
                              login.get("access_token"))
        try:
            await client.logout()
        except Exception as e:
            log.info("{name}: logout at the homeserver failed: {error}", name=self.spec.name,
                     error=str(e))
        finally:
            await client.close()
        await self.context.run(self.context.db.kv_set, self.scope, "login", None)
        await self.context.run(self.context.db.kv_set, self.scope, "since", None)
        return True

    # -- status -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        snapshot = super().snapshot()
        snapshot.update(baseUrl=self.mx.homeserver, healthState=self.health_state
                        if self.active else "stopped", lastEventAt=self.last_event_at,
                        lastTransportActivityAt=self.last_transport_at,
                        lastInboundAt=self.last_inbound_at,
                        lastOutboundAt=self.last_outbound_at)
        return snapshot

    def status_issues(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        issues = []
        for room in sorted(self.rooms.values(), key=lambda r: r.room_id):
            if room.encrypted:
                issues.append({
                    "channel": "matrix", "accountId": self.account_id, "kind": "config",
                    "message": f"Room {room.room_id} is end-to-end encrypted; encryption is "
                               "not supported by this gateway, so its messages are not read.",
                    "fix": "Use an unencrypted room (or a DM without encryption) for the "
                           "bot."})
        if self.mx.config.encryption:
            issues.append({"channel": "matrix", "accountId": self.account_id,
                           "kind": "config",
                           "message": "channels.matrix.encryption is on, but end-to-end "
                                      "encryption is not supported by this gateway.",
                           "fix": "Set channels.matrix.encryption to false."})
        return issues

    def probe(self, timeout_ms: int) -> Any:
        return Deferred.fromCoroutine(self._probe(timeout_ms))

    async def _probe(self, timeout_ms: int) -> dict[str, Any]:
        reactor = self.context.reactor
        started = reactor.seconds()
        host = urlsplit(self.mx.homeserver).hostname or ""
        if is_private_host(host) and not self.mx.allow_private_network:
            return {"ok": False, "status": None, "error": BLOCKED_PRIVATE, "userId": None,
                    "elapsedMs": 0}
        token = self.client.access_token if self.client is not None else None
        client = MatrixClient(reactor, self.mx.homeserver,
                              token or self.spec.secrets.get("accessToken"))
        try:
            if client.access_token is None:
                return {"ok": False, "status": None, "error": "not logged in",
                        "userId": None, "elapsedMs": 0}
            answer = await client.whoami(timeout_s=max(1, timeout_ms) / 1000.0)
            return {"ok": True, "status": 200, "error": None,
                    "userId": answer.get("user_id"),
                    "elapsedMs": int((reactor.seconds() - started) * 1000)}
        except MatrixApiError as e:
            return {"ok": False, "status": e.status, "error": str(e), "userId": None,
                    "elapsedMs": int((reactor.seconds() - started) * 1000)}
        except Exception as e:
            return {"ok": False, "status": None, "error": str(e) or type(e).__name__,
                    "userId": None,
                    "elapsedMs": int((reactor.seconds() - started) * 1000)}
        finally:
            await client.close()
