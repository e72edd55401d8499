"""From an accepted chat message to the agent's reply in the outbound queue.

1. :meth:`InboundPipeline.accept` writes the message to the durable ingress queue -- before
   any policy check -- and only then processes it (a restart processes what is pending);
2. policy (:mod:`openclaw.channels.policy`): dropped messages are logged the upstream way
   (``drop DM sender <id> (dmPolicy=pairing)``, ``drop channel #test (missing-mention)``);
   an unknown DM sender under ``pairing`` gets a pairing code (through the outbound queue);
   unanswered group messages are kept as pending history for the next answered turn;
3. routing (:mod:`openclaw.channels.routing`) picks the agent and the upstream session key;
4. the agent runs (the gateway gives us ``start_run``); typing is shown while it does;
5. the reply, chunked to the network's limit, is queued in the same transaction that marks
   the ingress row done, so it is delivered once even if everything restarts in between.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

from twisted.internet.defer import Deferred, DeferredList, DeferredLock
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from openclaw.agents.config import AgentsView
from openclaw.agents.runtime import AgentRequestError, RunHandle, RunRequest
from openclaw.blocking import BlockingRunner
from openclaw.channels import pairing, policy
from openclaw.channels.model import InboundMessage
from openclaw.channels.outbound import Outbox
from openclaw.channels.routing import Route, resolve_route
from openclaw.channels.store import ChannelDatabase, NewOutbound
from openclaw.config.loader import ConfigSnapshot

log = Logger(namespace="channels")

TYPING_INTERVAL_S: Final = 6.0


def observe(deferred: Deferred[Any]) -> Deferred[Any]:
    """A Deferred with ``deferred``'s result that leaves the result in place for others
    (awaiting a Deferred consumes its result)."""
    copy: Deferred[Any] = Deferred()

    def relay(result: Any) -> Any:
        copy.callback(result)
        return result

    deferred.addCallback(relay)
    return copy


class _Serial:
    """FIFO per key: messages of one account are stored in arrival order, and those of one
    conversation pass policy and start their run in order (history, pairing)."""

    def __init__(self) -> None:
        self._locks: dict[Any, DeferredLock] = {}

    async def acquire(self, key: Any) -> None:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = DeferredLock()
        await lock.acquire()

    def release(self, key: Any) -> None:
        lock = self._locks[key]
        lock.release()
        if not lock.locked and not lock.waiting:
            del self._locks[key]


def is_silent(text: str) -> bool:
    return text.strip().upper() == "NO_REPLY"


class InboundPipeline:
    """Durable ingress, policy, routing, the agent run and the reply, for every account."""

    def __init__(self, *, clock: IReactorTime, db: ChannelDatabase, run: BlockingRunner,
                 outbox: Outbox, config: Callable[[], ConfigSnapshot],
                 agents_view: Callable[[], AgentsView | None] | None,
                 start_run: Callable[[RunRequest], RunHandle] | None,
                 account_of: Callable[[str, str], Any]) -> None:
        self._clock = clock
        self._db = db
        self._run = run
        self._outbox = outbox
        self._config = config
        self._agents_view = agents_view
        self._start_run = start_run
        self._account_of = account_of
        self._in_flight: set[int] = set()
        self._tasks: set[Deferred[None]] = set()
        self._history: dict[tuple[str, str, str], deque[str]] = {}
        self._serial = _Serial()
        self.stopping = False

    def now_ms(self) -> int:
        return int(self._clock.seconds() * 1000)

    # -- ingress ------------------------------------------------------------------------

    async def accept(self, message: InboundMessage) -> None:
        """Make ``message`` durable, then process it (a duplicate event is ignored)."""
        key = (message.channel, message.account_id)
        await self._serial.acquire(key)
        try:
            row_id = await self._run(self._db.ingress_add, message.channel,
                                     message.account_id, message.event_id, message.to_json(),
                                     self.now_ms())
            if row_id is not None:
                self._spawn(row_id, message)
        finally:
            self._serial.release(key)
        if row_id is None:
            log.debug("{channel}:{account} duplicate event {event} ignored",
                      channel=message.channel, account=message.account_id,
                      event=message.event_id)

    async def resume(self, channel: str, account_id: str) -> None:
        """Process what a previous run of this account accepted but did not finish."""
        rows = await self._run(self._db.ingress_pending, channel, account_id)
        for row in rows:
            if row.id not in self._in_flight:
                self._spawn(row.id, InboundMessage.from_json(row.payload))

    def _spawn(self, row_id: int, message: InboundMessage) -> None:
        if self.stopping:
            return
        self._in_flight.add(row_id)
        task = Deferred.fromCoroutine(self._process(row_id, message))
        self._tasks.add(task)

        def done(result: Any) -> Any:
            self._tasks.discard(task)
            self._in_flight.discard(row_id)
            return result

        task.addBoth(done).addErrback(lambda f: log.failure(
            "{channel}:{account} message {event} failed", f, channel=message.channel,
            account=message.account_id, event=message.event_id))

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for the messages being processed (gateway stop)."""
        self.stopping = True
        if not self._tasks:
            return
        waiting: Deferred[Any] = DeferredList(list(self._tasks), consumeErrors=True)
        waiting.addTimeout(timeout_s, self._clock)
        try:
            await waiting
        except Exception:
            log.info("{n} channel message(s) still running at stop; they resume at start",
                     n=len(self._tasks))

    async def _finish(self, row_id: int, state: str, note: str | None,
                      outbound: Sequence[NewOutbound] = ()) -> None:
        await self._run(self._db.ingress_finish, row_id, state, note, self.now_ms(),
                        list(outbound))
        if outbound:
            self._outbox.queued(outbound)

    # -- processing ---------------------------------------------------------------------

    async def _process(self, row_id: int, message: InboundMessage) -> None:
        key = (message.channel, message.account_id, message.conversation_id.lower())
        await self._serial.acquire(key)
        run: Deferred[Any] | None = None
        try:
            run = await self._decide(row_id, message)
        finally:
            self._serial.release(key)
        if run is not None:
            await run

    async def _decide(self, row_id: int, message: InboundMessage) -> Deferred[Any] | None:
        """Policy up to the start of the run (in conversation order); the rest of a
        dispatched message (waiting for the run, queueing the reply) is returned."""
        account = self._account_of(message.channel, message.account_id)
        if account is None:
            log.info("{channel}:{account} is not running; message kept for its next start",
                     channel=message.channel, account=message.account_id)
            return None
        done = await self._run(self._db.outbox_by_key_prefix, f"in:{row_id}:")
        if done:   # answered before a restart: the reply is queued already
            await self._finish(row_id, "done", "replayed")
            return None
        access = account.access_policy()
        store_allow: list[str] = []
        if not message.is_group:
            store_allow = await self._run(pairing.allowed_senders, self._db, message.channel,
                                          message.account_id)
        decision = policy.decide(message, access, store_allow)
        prefix = message.channel
        if decision.action == policy.PAIRING:
            await self._pairing(row_id, message, account)
            log.info("{prefix}: drop DM sender {sender} (dmPolicy={mode})", prefix=prefix,
                     sender=message.sender_id, mode=access.dm_policy)
            return None
        if decision.action == policy.DROP:
            if message.is_group:
                what = (f"drop group sender {message.sender_id} ({decision.reason})"
                        if decision.reason.startswith("policy=")
                        else f"drop channel {message.conversation_id} ({decision.reason})")
            else:
                what = f"drop DM sender {message.sender_id} ({decision.reason})"
            log.info("{prefix}: {what}", prefix=prefix, what=what)
            await self._finish(row_id, "dropped", decision.reason)
            return None
        if decision.action == policy.SKIP:
            self._remember(message, account)
            log.info("{prefix}: drop channel {target} (missing-mention)", prefix=prefix,
                     target=message.conversation_id)
            await self._finish(row_id, "dropped", "missing-mention")
            return None
        return await self._dispatch(row_id, message, account, decision)

    async def _pairing(self, row_id: int, message: InboundMessage, account: Any) -> None:
        sender, meta = account.pairing_sender(message)
        code, created = await self._run(pairing.upsert_request, self._db, message.channel,
                                        message.account_id, sender, meta, self.now_ms())
        outbound: list[NewOutbound] = []
        if created:
            text = pairing.pairing_reply(message.channel, account.pairing_id_line(message),
                                         code)
            outbound = self._chunks(account, f"in:{row_id}:pairing", message.reply_target,
                                    text, {})
        await self._finish(row_id, "dropped", "pairing" if created else "pairing-pending",
                           outbound)

    def _remember(self, message: InboundMessage, account: Any) -> None:
        limit = account.history_limit(self._config())
        if limit <= 0:
            return
        key = (message.channel, message.account_id, message.conversation_id.lower())
        buffer = self._history.setdefault(key, deque(maxlen=limit))
        buffer.append(f"{message.sender_name}: {message.text}")

    def _take_history(self, message: InboundMessage) -> list[str]:
        key = (message.channel, message.account_id, message.conversation_id.lower())
        buffer = self._history.pop(key, None)
        return list(buffer) if buffer else []

    def route(self, message: InboundMessage, account: Any) -> Route:
        snapshot = self._config()
        view = self._agents_view() if self._agents_view is not None else None
        if view is None:
            raise AgentRequestError("no agents are configured")
        links = snapshot.parsed.get("session", {}).get("identityLinks")
        kind = message.chat_type
        peer = message.conversation_id
        return resolve_route(view, snapshot.config.bindings, channel=message.channel,
                             account_id=message.account_id,
                             is_default_account=bool(account.is_default), kind=kind,
                             peer_id=peer, thread_id=message.thread_id if message.is_group
                             else None,
                             identity_links=links if isinstance(links, dict) else None,
                             dm_peer_override=account.dm_session_peer(message))

    async def _dispatch(self, row_id: int, message: InboundMessage, account: Any,
                        decision: policy.Decision) -> Deferred[Any] | None:
        """Route and start the run; the returned Deferred waits for it and queues the
        reply."""
        if self._start_run is None:
            log.warn("{channel}: no agent runtime; message {event} kept",
                     channel=message.channel, event=message.event_id)
            return None
        try:
            route = self.route(message, account)
        except AgentRequestError as e:
            log.warn("{channel}: cannot route {event}: {error}", channel=message.channel,
                     event=message.event_id, error=str(e))
            await self._finish(row_id, "dropped", f"route: {e}")
            return None
        body = message.text
        history = self._take_history(message) if message.is_group else []
        if history:
            body = ("[Chat messages since your last reply - for context]\n"
                    + "\n".join(history) + "\n\n[Current message - respond to this]\n"
                    + f"{message.sender_name}: {message.text}")
        elif message.is_group:
            body = f"{message.sender_name}: {message.text}"
        rule = decision.group_rule
        request = RunRequest(
            message=body, run_id=f"{message.channel}-{message.account_id}-{row_id}",
            agent_id=route.agent_id, session_key=route.session_key, kind="agent",
            channel=message.channel,
            extra_system_prompt=rule.system_prompt if rule is not None else None,
            origin={"provider": message.channel, "surface": message.channel,
                    "chatType": message.chat_type, "from": message.sender_id,
                    "to": message.reply_target, "accountId": message.account_id,
                    **({"threadId": message.thread_id} if message.thread_id else {})})
        target, thread_id, reply_to = account.reply_plan(message)
        typing = _Typing(self._clock, account, target, thread_id)
        try:
            handle = self._start_run(request)
        except Exception as e:
            log.warn("{channel}: agent run refused for {event}: {error}",
                     channel=message.channel, event=message.event_id, error=str(e))
            await self._finish(row_id, "dropped", f"run: {e}")
            return None
        typing.start()
        preview = None
        try:
            preview = account.start_preview(handle, target, thread_id)
        except Exception:
            log.failure("{channel}: preview failed to start", channel=message.channel)
        return Deferred.fromCoroutine(self._reply(row_id, message, account, handle, typing,
                                                  (target, thread_id, reply_to), preview))

    async def _reply(self, row_id: int, message: InboundMessage, account: Any,
                     handle: RunHandle, typing: _Typing,
                     plan: tuple[str, str | None, str | None], preview: Any = None) -> None:
        target, thread_id, reply_to = plan
        try:
            result = await observe(handle.result)
        finally:
            typing.stop()
        preview_id = await _finish_preview(preview)
        if result.status == "aborted" and self.stopping:
            return    # the gateway is stopping: processed again at the next start
        if result.status not in ("ok", "aborted") or not result.text or \
                is_silent(result.text):
            if result.status not in ("ok", "aborted"):
                log.warn("{channel}: agent run {run} for {event} ended {status}: {error}",
                         channel=message.channel, run=handle.run_id, event=message.event_id,
                         status=result.status, error=result.error)
            if preview_id is not None:
                await _discard_preview(preview)
            await self._finish(row_id, "done", result.status)
            return
        prefix = account.response_prefix()
        text = f"{prefix} {result.text}" if prefix else result.text
        meta: dict[str, Any] = {}
        if thread_id:
            meta["threadId"] = thread_id
        if reply_to:
            meta["replyToId"] = reply_to
        outbound = self._chunks(account, f"in:{row_id}:reply", target, text, meta)
        if preview_id is not None and outbound:
            # The preview becomes the reply's first message (edited in place).
            first = outbound[0]
            outbound[0] = NewOutbound(key=first.key, channel=first.channel,
                                      account=first.account, target=first.target,
                                      text=first.text,
                                      meta={**first.meta, "editMessageId": preview_id})
        await self._finish(row_id, "done", "replied", outbound)

    def _chunks(self, account: Any, key: str, target: str, text: str,
                meta: dict[str, Any]) -> list[NewOutbound]:
        pieces = account.chunk(text)
        return [NewOutbound(key=f"{key}:{index}", channel=account.meta.id,
                            account=str(account.account_id), target=target, text=piece,
                            meta=meta)
                for index, piece in enumerate(pieces)]


async def _finish_preview(preview: Any) -> str | None:
    if preview is None:
        return None
    try:
        found = await preview.finish()
    except Exception:
        log.failure("channel preview failed")
        return None
    return str(found) if found else None


async def _discard_preview(preview: Any) -> None:
    try:
        await preview.discard()
    except Exception:
        log.failure("channel preview cleanup failed")


class _Typing:
    """The typing indicator while a run streams, refreshed every 6 s (best effort)."""

    def __init__(self, clock: IReactorTime, account: Any, target: str,
                 thread_id: str | None) -> None:
        self._clock = clock
        self._account = account
        self._target = target
        self._thread_id = thread_id
        self._timer: Any = None
        self._on = False

    def start(self) -> None:
        self._on = True
        self._tick()

    def _tick(self) -> None:
        if not self._on:
            return
        try:
            self._account.set_typing(self._target, True)
        except Exception:
            log.failure("typing failed")
        self._timer = self._clock.callLater(TYPING_INTERVAL_S, self._tick)

    def stop(self) -> None:
        self._on = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        try:
            self._account.set_typing(self._target, False)
        except Exception:
            log.failure("typing failed")
