"""Long polling for one Telegram bot: ``getUpdates`` in a loop, the offset persisted, a
watchdog, and the error paths upstream takes.

* start: ``getMe`` (the bot's id and username: mentions need them), then
  ``deleteWebhook {drop_pending_updates: false}``; the first ``getUpdates`` (and the first
  after a failure: it tells at once that Telegram is back) has ``timeout: 0``, the next ones
  ``timeout: 30`` (request guard 45 s), ``limit: 100``, the saved ``offset`` and
  ``allowed_updates``;
* each update is handed to the account, which makes it durable (the ingress queue) before it
  returns; only then is the offset (``update_id + 1``) saved in ``channels.sqlite``, so a
  restart neither skips an update nor processes one twice (a redelivered update is
  deduplicated by the ingress queue);
* the watchdog looks every 30 s: 120 s without a completed ``getUpdates`` (a stuck request,
  a dead connection, errors only) is a stall -- ``Polling stall detected (...); forcing
  restart.`` -- and polling restarts on a fresh connection pool;
* 409 (another poller took the token, or a webhook is set) is a clear status error,
  ``Telegram getUpdates conflict: ...``, and polling waits 30 s (doubling to 10 min)
  before it tries again -- no tight loop fighting the other poller; 401/404 (a rejected
  token) waits the same way; 429 waits ``retry_after``; network errors retry after 1 s,
  doubling to 30 s (with jitter).

All timers are on the account's clock.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger

from openclaw.channels.telegram.api import TelegramApi, TelegramApiError

if TYPE_CHECKING:
    from openclaw.channels.telegram.account import TelegramAccount

log = Logger(namespace="channels.telegram")

LONG_POLL_TIMEOUT_S: Final = 30
LIMIT: Final = 100
ALLOWED_UPDATES: Final = ("message", "edited_message", "my_chat_member")
STALL_THRESHOLD_S: Final = 120.0
WATCHDOG_INTERVAL_S: Final = 30.0
RETRY_FIRST_S: Final = 1.0
RETRY_MAX_S: Final = 30.0
RESTART_FIRST_S: Final = 30.0
RESTART_MAX_S: Final = 600.0
CONFLICT_HINT: Final = (" Another OpenClaw gateway, script, or Telegram poller may be using "
                        "this bot token; stop the duplicate poller or switch this account to "
                        "webhook mode.")


class _Restart(Exception):
    """The watchdog asked for a fresh start."""


class TelegramPoller:
    def __init__(self, account: TelegramAccount) -> None:
        self.account = account
        self.clock = account.context.timer
        self.api: TelegramApi | None = None
        self.offset: int | None = None
        self.last_completed: float = 0.0     # clock time of the last completed getUpdates
        self.restarts = 0
        self._loop: Deferred[None] | None = None
        self._call: Deferred[Any] | None = None
        self._watchdog: LoopingCall | None = None
        self._stopping = False
        self._restart_wanted = False

    @property
    def scope(self) -> str:
        return f"telegram:{self.account.account_id}:{self.account.bot_id}"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self.last_completed = self.clock.seconds()
        self.api = self.account.new_api()
        watchdog = LoopingCall(self._watch)
        watchdog.clock = self.clock
        watchdog.start(WATCHDOG_INTERVAL_S, now=False).addErrback(
            lambda f: log.failure("telegram watchdog failed", f))
        self._watchdog = watchdog
        self._loop = Deferred.fromCoroutine(self._run())
        self._loop.addErrback(lambda f: None if f.check(CancelledError) else log.failure(
            "telegram polling failed", f))

    async def stop(self) -> None:
        self._stopping = True
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog.running:
            watchdog.stop()
        call, self._call = self._call, None
        if call is not None and not call.called:
            call.cancel()
        loop, self._loop = self._loop, None
        if loop is not None and not loop.called:
            loop.cancel()
        api, self.api = self.api, None
        if api is not None:
            await api.close()

    def _watch(self) -> None:
        if self._stopping or self._restart_wanted:
            return
        idle = self.clock.seconds() - self.last_completed
        if idle < STALL_THRESHOLD_S:
            return
        message = (f"Polling stall detected (no completed getUpdates for {int(idle)}s); "
                   "forcing restart.")
        log.warn("[{account}] {message}", account=self.account.account_id, message=message)
        self.account.poll_failed(message)
        self._restart_wanted = True
        call = self._call
        if call is not None and not call.called:
            call.cancel()

    # -- the loop -----------------------------------------------------------------------

    async def _guarded(self, deferred: Deferred[Any]) -> Any:
        self._call = deferred
        try:
            return await deferred
        except Exception:
            # a cancelled request may fail as CancelledError or as treq's wrapped one
            if self._restart_wanted and not self._stopping:
                raise _Restart() from None
            raise
        finally:
            if self._call is deferred:
                self._call = None

    async def _sleep(self, seconds: float) -> None:
        if self._stopping:
            raise CancelledError()
        await self._guarded(deferLater(self.clock, max(0.0, seconds), lambda: None))

    async def _run(self) -> None:
        account = self.account
        stored = await account.context.run(account.context.db.kv_get, self.scope, "offset")
        self.offset = int(stored) if stored and stored.lstrip("-").isdigit() else None
        delay = RETRY_FIRST_S
        restart_delay = RESTART_FIRST_S
        ready = False
        first = True
        while not self._stopping:
            try:
                if self._restart_wanted:
                    raise _Restart()
                if not ready:
                    await self._setup()
                    ready = True
                await self._poll(0 if first else LONG_POLL_TIMEOUT_S)
                first = False
                delay = RETRY_FIRST_S
                restart_delay = RESTART_FIRST_S
            except CancelledError:
                return
            except _Restart:
                await self._restart()
                ready, first = False, True
            except TelegramApiError as e:
                if self._stopping:
                    return
                first = True      # after a failure, a quick poll says when we are back
                if e.code == 409:
                    reason = f"Telegram getUpdates conflict: {e.description}.{CONFLICT_HINT}"
                elif e.code in (401, 404) and e.method == "getMe":
                    reason = (f"Telegram rejected the bot token: getMe returned {e.code} "
                              f"({e.description}). Update channels.telegram.botToken, "
                              "tokenFile or TELEGRAM_BOT_TOKEN.")
                else:
                    reason = f"Telegram {e.method} failed ({e.code}): {e.description}"
                account.poll_failed(reason)
                try:
                    if e.code == 429:
                        await self._sleep(e.retry_after if e.retry_after is not None else 1.0)
                    elif e.code in (401, 404, 409):
                        log.warn("[{account}] {reason}; retrying in {delay}s",
                                 account=account.account_id, reason=reason,
                                 delay=int(restart_delay))
                        ready = ready and e.code != 409   # a webhook may be back: clear it
                        await self._sleep(_jitter(restart_delay))
                        restart_delay = min(RESTART_MAX_S, restart_delay * 2)
                    else:
                        await self._sleep(_jitter(delay))
                        delay = min(RETRY_MAX_S, delay * 2)
                except CancelledError:
                    return
                except _Restart:
                    await self._restart()
                    ready, first = False, True
            except Exception as e:
                if self._stopping:
                    return
                first = True
                account.poll_failed(f"Telegram polling failed: {describe(e)}")
                try:
                    await self._sleep(_jitter(delay))
                except CancelledError:
                    return
                except _Restart:
                    await self._restart()
                    ready, first = False, True
                    continue
                delay = min(RETRY_MAX_S, delay * 2)

    async def _restart(self) -> None:
        self.restarts += 1
        self._restart_wanted = False
        self.last_completed = self.clock.seconds()
        old, self.api = self.api, self.account.new_api()
        if old is not None:
            await old.close()

    async def _setup(self) -> None:
        assert self.api is not None
        me = await self._guarded(self.api.call("getMe"))
        self.account.bot_ready(me if isinstance(me, dict) else {})
        await self._guarded(self.api.call("deleteWebhook", {"drop_pending_updates": False}))

    async def _poll(self, timeout: int) -> None:
        assert self.api is not None
        params: dict[str, Any] = {"timeout": timeout, "limit": LIMIT,
                                  "allowed_updates": list(ALLOWED_UPDATES)}
        if self.offset is not None:
            params["offset"] = self.offset
        updates = await self._guarded(self.api.call(
            "getUpdates", params, timeout_s=timeout + 15.0))
        self.last_completed = self.clock.seconds()
        self.account.poll_ok()
        if not isinstance(updates, list) or not updates:
            return
        newest = self.offset
        for update in updates:
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                continue
            await self.account.handle_update(update)   # durable when it returns
            newest = max(newest or 0, update["update_id"] + 1)
        if newest is not None and newest != self.offset:
            self.offset = newest
            await self.account.context.run(self.account.context.db.kv_set, self.scope,
                                           "offset", json.dumps(newest))


def describe(error: BaseException) -> str:
    """A network error as one line (treq wraps the causes in lists of Failures)."""
    reasons = getattr(error, "reasons", None)
    if isinstance(reasons, list) and reasons:
        inner = reasons[0].value if hasattr(reasons[0], "value") else reasons[0]
        return f"{type(error).__name__}: {describe(inner)}"
    return str(error) or type(error).__name__


def _jitter(seconds: float) -> float:
    return seconds * (0.8 + 0.4 * random.random())
