"""What every channel account service shares: runtime state, status snapshot, the glue to
the inbound pipeline and the outbound queue.

A network subclasses :class:`ChannelAccount` and implements the connection (``start_network``
/ ``stop_network``), ``send_message`` (one outbound chunk, returning once the network
accepted it), ``set_typing`` and ``probe``, and the few policy facts that differ per
network (``access_policy``, ``pairing_sender``, ``reply_plan``...). It calls
:meth:`ChannelAccount.connection_made` / :meth:`connection_lost` as its connection comes and
goes, and :meth:`receive` for every chat message it accepts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from openclaw.blocking import BlockingRunner
from openclaw.channels.interfaces import ChannelMeta, IChannel
from openclaw.channels.model import AccountSpec, InboundMessage, OutboundMessage
from openclaw.channels.policy import AccessPolicy
from openclaw.config.loader import ConfigSnapshot

log = Logger(namespace="channels")

_CONNECTION_IDS: Final = itertools.count(1)


@attrs.define
class ChannelContext:
    """What an account gets from the ``channels`` service."""

    reactor: Any
    run: BlockingRunner
    db: Any                                  # ChannelDatabase
    pipeline: Any                            # InboundPipeline
    outbox: Any                              # Outbox
    config: Callable[[], ConfigSnapshot]
    env: Mapping[str, str] = attrs.Factory(dict)
    # Timers (reconnect backoff, watchdogs, rate-limit waits); the reactor unless a test
    # gives a Clock while sockets stay real.
    clock: IReactorTime | None = None

    @property
    def timer(self) -> IReactorTime:
        if self.clock is not None:
            return self.clock
        timer: IReactorTime = self.reactor
        return timer


@implementer(IChannel)
class ChannelAccount(Service):
    """One running channel account (a child of ``ChannelsService``)."""

    meta: ChannelMeta
    default_chunk_limit: int = 4000

    def __init__(self, spec: AccountSpec, context: ChannelContext) -> None:
        self.spec = spec
        self.context = context
        self.account_id = spec.account_id
        self.is_default = spec.is_default
        self.settings = spec.settings
        self.active = False            # the connection loop runs (status ``running``)
        self.connected = False
        self.connection_id: int | None = None
        self.last_start_at: int | None = None
        self.last_stop_at: int | None = None
        self.last_connected_at: int | None = None
        self.last_inbound_at: int | None = None
        self.last_outbound_at: int | None = None
        self.last_transport_at: int | None = None
        self.last_error: str | None = None
        self.reconnect_attempts = 0
        self.lifecycle = "stopped"
        self._connected_waiters: list[Deferred[int]] = []
        self._failure_waiters: list[Deferred[str]] = []

    # -- time ---------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.context.timer.seconds() * 1000)

    # -- lifecycle ----------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        if not self.spec.enabled or not self.spec.configured:
            self.lifecycle = "disabled" if not self.spec.enabled else "unconfigured"
            return
        self.active = True
        self.last_start_at = self.now_ms()
        self.lifecycle = "starting"
        try:
            self.start_network()
        except Exception as e:
            self.active = False
            self.lifecycle = "error"
            self.last_error = str(e) or type(e).__name__
            log.error("{name}: cannot start: {error}", name=self.spec.name,
                      error=self.last_error)

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        was_active = self.active
        self.active = False
        self.connected = False
        self.lifecycle = "stopped"
        if was_active:
            self.last_stop_at = self.now_ms()
            return self.stop_network()
        return None

    def connection_made(self) -> None:
        """The network connection is ready (registered, logged in): deliver and resume."""
        self.connected = True
        self.connection_id = next(_CONNECTION_IDS)
        self.last_connected_at = self.last_transport_at = self.now_ms()
        self.last_error = None
        self.lifecycle = "ready"
        log.info("{name}: connected (connection {id})", name=self.spec.name,
                 id=self.connection_id)
        self.context.outbox.kick(self.meta.id, self.account_id)
        Deferred.fromCoroutine(self.context.pipeline.resume(self.meta.id, self.account_id)
                               ).addErrback(lambda f: log.failure("resume failed", f))
        waiters, self._connected_waiters = self._connected_waiters, []
        for waiter in waiters:
            waiter.callback(self.connection_id)

    def when_connected(self) -> Deferred[int]:
        """Fires with the connection id once the account is (or next is) connected."""
        waiter: Deferred[int] = Deferred()
        if self.connected and self.connection_id is not None:
            waiter.callback(self.connection_id)
        else:
            self._connected_waiters.append(waiter)
        return waiter

    def connection_lost(self, reason: str | None) -> None:
        if self.connected:
            log.info("{name}: disconnected ({reason})", name=self.spec.name,
                     reason=reason or "closed")
        self.connected = False
        if self.active:
            self.lifecycle = "reconnecting"
            if reason:
                self.last_error = reason

    def connect_failed(self, reason: str) -> None:
        self.reconnect_attempts += 1
        self.last_error = reason
        if self.active:
            self.lifecycle = "reconnecting"
        self.notify_failure(reason)

    def notify_failure(self, reason: str) -> None:
        # on the next reactor turn: whoever failed has scheduled its retry by then
        waiters, self._failure_waiters = self._failure_waiters, []
        for waiter in waiters:
            self.context.reactor.callLater(0, waiter.callback, reason)

    def when_failed(self) -> Deferred[str]:
        """Fires with the reason of the next failed connection attempt (tests, probes)."""
        waiter: Deferred[str] = Deferred()
        self._failure_waiters.append(waiter)
        return waiter

    async def receive(self, message: InboundMessage) -> None:
        self.last_inbound_at = self.last_transport_at = self.now_ms()
        await self.context.pipeline.accept(message)

    def note_outbound(self) -> None:
        self.last_outbound_at = self.last_transport_at = self.now_ms()

    # -- the network (override) ---------------------------------------------------------

    def start_network(self) -> None:
        raise NotImplementedError

    def stop_network(self) -> Deferred[None] | None:
        raise NotImplementedError

    async def send_message(self, message: OutboundMessage) -> str | None:
        raise NotImplementedError

    def set_typing(self, target: str, on: bool) -> None:
        """Show (or clear) typing in ``target``; networks without typing do nothing."""

    def start_preview(self, handle: Any, target: str, thread_id: str | None) -> Any:
        """A live preview of the reply while ``handle`` streams (an object with ``async
        finish() -> message id | None`` and ``async discard()``), or None (the default:
        typing only)."""
        return None

    def probe(self, timeout_ms: int) -> Any:
        return None

    def audit(self, timeout_ms: int, probe: Any) -> Any:
        """``channels status --probe``'s audit (Telegram group membership...): a dict, an
        awaitable, or None when there is nothing to audit."""
        return None

    async def logout(self) -> bool:
        """Forget stored credentials (``channels.logout``); True when something was cleared."""
        return False

    # -- policy facts (override where the network differs) ------------------------------

    def access_policy(self) -> AccessPolicy:
        raise NotImplementedError

    def pairing_sender(self, message: InboundMessage) -> tuple[str, dict[str, str]]:
        """``(pairing request id, meta)`` of an unknown DM sender."""
        return message.sender_id.lower(), {"name": message.sender_name}

    def pairing_id_line(self, message: InboundMessage) -> str:
        return f"Your {self.meta.label} id: {message.sender_id}"

    def reply_plan(self, message: InboundMessage) -> tuple[str, str | None, str | None]:
        """``(target, thread id, reply-to id)`` of the reply to ``message``."""
        return message.reply_target, None, None

    def pairing_notify_target(self, sender_id: str, meta: Mapping[str, str]) -> str | None:
        """Where the "access approved" message to an approved sender goes."""
        return None

    def dm_session_peer(self, message: InboundMessage) -> str | None:
        """The peer id a DM's session key uses, when it is not the conversation id."""
        return None

    @property
    def account_config(self) -> Any:
        """The merged account config section (``IrcAccountConfig``, ...)."""
        return getattr(self.settings, "config", self.settings)

    def chunking(self) -> tuple[int, str, int | None]:
        """``(textChunkLimit, chunkMode, max UTF-8 bytes per chunk)``."""
        settings = self.account_config
        limit = getattr(settings, "text_chunk_limit", None) or self.default_chunk_limit
        streaming = getattr(settings, "streaming", None)
        mode = getattr(streaming, "chunk_mode", None) or "length"
        return int(limit), mode, None

    def chunk(self, text: str) -> list[str]:
        """``text`` cut into the messages the network takes (:meth:`chunking`)."""
        from openclaw.channels.chunking import chunk_text

        limit, mode, max_bytes = self.chunking()
        return chunk_text(text, limit, mode=mode, max_bytes=max_bytes)

    def response_prefix(self) -> str | None:
        return getattr(self.account_config, "response_prefix", None) or None

    def history_limit(self, snapshot: ConfigSnapshot) -> int:
        value = getattr(self.account_config, "history_limit", None)
        if value is None:
            chat = snapshot.parsed.get("messages", {}).get("groupChat", {})
            value = chat.get("historyLimit") if isinstance(chat, Mapping) else None
        return int(value) if isinstance(value, int) else self.default_history_limit

    default_history_limit = 50

    def mention_patterns(self, snapshot: ConfigSnapshot) -> tuple[str, ...]:
        """``agents.entries.<default>.groupChat.mentionPatterns``, else
        ``messages.groupChat.mentionPatterns``."""
        parsed = snapshot.parsed
        entries = parsed.get("agents", {}).get("entries", {})
        for entry in (entries.values() if isinstance(entries, Mapping) else ()):
            chat = entry.get("groupChat") if isinstance(entry, Mapping) else None
            patterns = chat.get("mentionPatterns") if isinstance(chat, Mapping) else None
            if isinstance(patterns, list) and patterns:
                return tuple(str(p) for p in patterns)
        chat = parsed.get("messages", {}).get("groupChat", {})
        patterns = chat.get("mentionPatterns") if isinstance(chat, Mapping) else None
        return tuple(str(p) for p in patterns) if isinstance(patterns, list) else ()

    # -- status -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = {
            "accountId": self.account_id,
            "enabled": self.spec.enabled,
            "configured": self.spec.configured,
            "running": self.active,
            "connected": self.connected,
            "lifecycle": self.lifecycle,
            "reconnectAttempts": self.reconnect_attempts,
            "restartPending": False,
            "lastStartAt": self.last_start_at,
            "lastConnectedAt": self.last_connected_at,
            "lastInboundAt": self.last_inbound_at,
            "lastOutboundAt": self.last_outbound_at,
            "lastError": self.last_error,
        }
        name = getattr(self.account_config, "name", None)
        if name:
            snapshot["name"] = name
        return snapshot

    def summary(self, snapshot: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def status_issues(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        return []
