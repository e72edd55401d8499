"""The one entry point of every config reload: debounce, coalesce, read, decide, apply.

Triggers (the file watcher, ``SIGHUP``, a config write RPC) all call :meth:`request`.
Events reset a debounce timer (``gateway.reload.debounceMs``, default 300 ms) so an editor's
temp-write/rename churn or a storm of writes ends in one read. Only one reload runs at a
time; a request arriving meanwhile runs one more pass afterwards (Buildbot's coalescing).

One pass (upstream ``config-reload``):

* missing file: retried twice, 150 ms apart, then ``config reload skipped (config file not
  found)``; the running config keeps serving;
* invalid file: ``config reload skipped (invalid config): <path>: <reason>``, logged once
  per distinct content; the last good snapshot keeps serving; reported in ``health``;
* same content hash as the running snapshot: nothing to do (our own writes end here);
* otherwise the changed paths are classified (:mod:`.rules`) and applied per
  ``gateway.reload.mode`` of the *new* config:

  ======== ================================================================================
  off      nothing is applied (``config reload disabled (gateway.reload.mode=off)``); a
           config write RPC still restarts, as an explicit operator action
  hot      hot changes applied; restart-kind changes only warned about
  restart  any change that is not ``none``-kind restarts the gateway
  hybrid   hot changes applied; a restart-kind change restarts the gateway
  ======== ================================================================================

Applying means: resolve the new config's secrets (failure = keep the old config), then one
atomic swap of config + secrets and the services' reconfiguration (the gateway's hooks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from openclaw.gateway.reload.rules import ReloadPlan, build_plan, diff_config_paths

if TYPE_CHECKING:
    from openclaw.config import ConfigSnapshot
    from openclaw.secrets import SecretsSnapshot

log = Logger(namespace="reload")

MISSING_RETRIES: Final = 2
MISSING_RETRY_DELAY_S: Final = 0.15
WAITER_TIMEOUT_S: Final = 30.0
DEFAULT_DEBOUNCE_MS: Final = 300

# Outcomes of one pass (what a config write RPC is told).
APPLIED: Final = "applied"
UNCHANGED: Final = "unchanged"
RESTART: Final = "restart-pending"
DISABLED: Final = "disabled"
HOT_IGNORED_RESTART: Final = "applied-restart-required"
INVALID: Final = "invalid"
MISSING: Final = "missing"
SECRETS_FAILED: Final = "secrets-failed"
FAILED: Final = "failed"
SUPERSEDED: Final = "superseded"
STOPPED: Final = "stopped"


class ConfigInvalid(Exception):
    """The file exists but does not load; ``str()`` is the operator-facing reason."""

    def __init__(self, message: str, hash: str | None = None) -> None:
        super().__init__(message)
        self.hash = hash


class ReloadHooks(Protocol):
    """What the coordinator needs from the gateway (``GatewayService`` implements it)."""

    def active_snapshot(self) -> ConfigSnapshot: ...

    def read_config(self) -> Deferred[ConfigSnapshot | None]:
        """The file's ConfigSnapshot, None when missing; fails with :class:`ConfigInvalid`."""

    def prepare_secrets(self, snapshot: ConfigSnapshot) -> Deferred[SecretsSnapshot]: ...

    def apply_config(self, snapshot: ConfigSnapshot, secrets: SecretsSnapshot,
                     plan: ReloadPlan) -> Deferred[None]:
        """Atomically swap config + secrets and reconfigure services."""

    def request_restart(self, reason: str, delay_ms: int) -> Any: ...

    def reload_state_changed(self) -> None: ...


class ReloadObserver(Protocol):
    """Told when a reload pass begins and how it ended (systemd's ``RELOADING=1``/
    ``READY=1``, the reload metrics). Called on the reactor; must not raise."""

    def reload_started(self, source: str) -> None: ...

    def reload_finished(self, outcome: str) -> None: ...


@attrs.define
class _Waiter:
    hash: str
    deferred: Deferred[str]
    after_run: int
    origin: str
    restart_delay_ms: int


@attrs.frozen
class ReloadError:
    """The last reload problem, as reported in ``health`` (``configReload.lastError``)."""

    kind: str  # "invalid-config" | "missing-config" | "secrets" | "apply"
    path: str
    message: str
    ts: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "message": self.message, "ts": self.ts}


def _debounce_ms(snapshot: ConfigSnapshot) -> int:
    return int(snapshot.config.gateway.reload.debounce_ms)


def _mode(snapshot: ConfigSnapshot) -> str:
    return str(snapshot.config.gateway.reload.mode)


class ReloadCoordinator:
    def __init__(self, hooks: ReloadHooks, *, clock: IReactorTime, path: str,
                 debounce_ms: Callable[[Any], int] = _debounce_ms) -> None:
        self._hooks = hooks
        self._clock = clock
        self.path = path
        self._debounce_ms = debounce_ms
        self._timer: IDelayedCall | None = None
        self._running = False
        self._again = False
        self._stopped = False
        self._run_id = 0
        self._waiters: list[_Waiter] = []
        self._logged_invalid: str | None = None
        self.last_error: ReloadError | None = None
        self.pending_restart_paths: tuple[str, ...] = ()
        self.passes = 0
        self.reloads = 0
        self.last_outcome: str | None = None
        self.idle: Deferred[None] | None = None
        self.observers: list[ReloadObserver] = []
        self._source = "watcher"

    # -- triggers ------------------------------------------------------------------------

    def request(self, source: str = "watcher", delay_ms: int | None = None) -> None:
        """Schedule a pass after the debounce delay (each call restarts the delay)."""
        if self._stopped:
            return
        if delay_ms is None:
            delay_ms = self._debounce_ms(self._hooks.active_snapshot())
        delay = max(0, delay_ms) / 1000.0
        if self._timer is not None and self._timer.active():
            self._timer.reset(delay)
        else:
            self._timer = self._clock.callLater(delay, self._fire)
        self._source = source
        log.debug("config reload requested by {source} (in {ms}ms)", source=source,
                  ms=delay_ms)

    def expect(self, hash: str, *, origin: str = "rpc", restart_delay_ms: int = 0
               ) -> Deferred[str]:
        """A Deferred firing with the outcome of the pass that sees content ``hash``."""
        active = self._hooks.active_snapshot()
        if getattr(active, "hash", None) == hash and not self._running:
            return succeed(UNCHANGED)
        waiter = _Waiter(hash, Deferred(), self._run_id, origin, restart_delay_ms)
        self._waiters.append(waiter)
        waiter.deferred.addTimeout(WAITER_TIMEOUT_S, self._clock,
                                   onTimeoutCancel=lambda *_: self._drop(waiter, "timeout"))
        self.request(source=origin, delay_ms=0)
        return waiter.deferred

    def _drop(self, waiter: _Waiter, outcome: str) -> str:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        return outcome

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.deferred.called:
                waiter.deferred.callback(STOPPED)

    # -- the pass ------------------------------------------------------------------------

    def _fire(self) -> None:
        self._timer = None
        if self._running:
            self._again = True
            return
        self._running = True
        self.idle = Deferred.fromCoroutine(self._loop())
        self.idle.addErrback(lambda f: log.failure("config reload crashed", f))

    async def _loop(self) -> None:
        try:
            while True:
                self._again = False
                self._run_id += 1
                run_id = self._run_id
                self._tell("reload_started", self._source)
                try:
                    seen_hash, outcome = await self._pass()
                except Exception:
                    log.failure("config reload failed")
                    seen_hash, outcome = None, FAILED
                self.passes += 1
                self.last_outcome = outcome
                self._tell("reload_finished", outcome)
                self._settle(run_id, seen_hash, outcome)
                if not self._again or self._stopped:
                    break
        finally:
            self._running = False

    def _tell(self, event: str, value: str) -> None:
        for observer in list(self.observers):
            try:
                getattr(observer, event)(value)
            except Exception:
                log.failure("reload observer failed")

    def _settle(self, run_id: int, seen_hash: str | None, outcome: str) -> None:
        for waiter in list(self._waiters):
            if waiter.deferred.called:
                self._waiters.remove(waiter)
            elif seen_hash is not None and waiter.hash == seen_hash:
                self._waiters.remove(waiter)
                waiter.deferred.callback(outcome)
            elif run_id > waiter.after_run and not self._again:
                self._waiters.remove(waiter)
                waiter.deferred.callback(SUPERSEDED)

    def _origin_for(self, hash: str | None) -> _Waiter | None:
        for waiter in self._waiters:
            if waiter.hash == hash and waiter.origin == "rpc":
                return waiter
        return None

    def _note_error(self, kind: str, message: str) -> None:
        self.last_error = ReloadError(kind, self.path, message,
                                      int(self._clock.seconds() * 1000))
        self._hooks.reload_state_changed()

    def _clear_error(self) -> None:
        if self.last_error is not None:
            log.info("config file {path} loads again; reload errors cleared", path=self.path)
            self.last_error = None
            self._logged_invalid = None
            self._hooks.reload_state_changed()

    async def _read(self) -> Any:
        snapshot = await self._hooks.read_config()
        retries = 0
        while snapshot is None and retries < MISSING_RETRIES and not self._stopped:
            retries += 1
            log.info("config reload retry ({n}/{total}): config file not found",
                     n=retries, total=MISSING_RETRIES)
            await deferLater(self._clock, MISSING_RETRY_DELAY_S)
            snapshot = await self._hooks.read_config()
        return snapshot

    async def _pass(self) -> tuple[str | None, str]:
        try:
            snapshot = await self._read()
        except ConfigInvalid as e:
            message = str(e)
            if message != self._logged_invalid:
                log.warn("config reload skipped (invalid config): {reason}; still serving the "
                         "last good config", reason=message)
                self._logged_invalid = message
            self._note_error("invalid-config", message)
            return e.hash, INVALID
        if self._stopped:
            return None, STOPPED
        if snapshot is None:
            if self.last_error is None or self.last_error.kind != "missing-config":
                log.warn("config reload skipped (config file not found): {path}; still serving "
                         "the last good config", path=self.path)
            self._note_error("missing-config", f"config file not found: {self.path}")
            return None, MISSING
        active = self._hooks.active_snapshot()
        if snapshot.hash == active.hash:
            self._clear_error()
            return snapshot.hash, UNCHANGED
        changed = diff_config_paths(active.parsed, snapshot.parsed)
        plan = build_plan(changed, previous=active.parsed, candidate=snapshot.parsed)
        mode = _mode(snapshot)
        rpc = self._origin_for(snapshot.hash)
        if changed:
            self.reloads += 1
            log.info("config change detected; evaluating reload ({paths})",
                     paths=", ".join(changed))
        if mode == "off" and changed and rpc is None:
            self._clear_error()
            self.pending_restart_paths = tuple(changed)
            log.info("config reload disabled (gateway.reload.mode=off)")
            self._hooks.reload_state_changed()
            return snapshot.hash, DISABLED
        needs_restart = (not plan.is_noop) and (
            mode in ("restart", "off") or (plan.restart_gateway and mode == "hybrid"))
        if needs_restart:
            if await self._secrets_ok(snapshot) is None:
                return snapshot.hash, SECRETS_FAILED
            self._clear_error()
            reasons = plan.restart_reasons or tuple(changed)
            why = (f"gateway.reload.mode={mode}" if mode != "hybrid" else "restart-required")
            log.info("config change requires gateway restart ({reasons}; {why})",
                     reasons=", ".join(reasons), why=why)
            self.pending_restart_paths = tuple(reasons)
            self._hooks.request_restart(
                f"config change ({', '.join(reasons)})",
                rpc.restart_delay_ms if rpc is not None else 0)
            self._hooks.reload_state_changed()
            return snapshot.hash, RESTART
        secrets = await self._secrets_ok(snapshot)
        if secrets is None:
            return snapshot.hash, SECRETS_FAILED
        try:
            await self._hooks.apply_config(snapshot, secrets, plan)
        except Exception as e:
            log.failure("config hot reload failed; the previous config stays active")
            self._note_error("apply", f"hot reload failed: {e}")
            return snapshot.hash, FAILED
        self._clear_error()
        if plan.restart_gateway:
            self.pending_restart_paths = plan.restart_reasons
            log.warn("config reload requires gateway restart; hot mode ignoring ({reasons})",
                     reasons=", ".join(plan.restart_reasons))
            self._hooks.reload_state_changed()
            return snapshot.hash, HOT_IGNORED_RESTART
        self.pending_restart_paths = ()
        if plan.hot_reasons:
            log.info("config hot reload applied ({paths})", paths=", ".join(plan.hot_reasons))
        elif changed:
            log.info("config reloaded ({paths}): no reload action needed",
                     paths=", ".join(changed))
        self._hooks.reload_state_changed()
        return snapshot.hash, APPLIED

    async def _secrets_ok(self, snapshot: ConfigSnapshot) -> SecretsSnapshot | None:
        from openclaw.secrets import SecretResolutionError

        try:
            return await self._hooks.prepare_secrets(snapshot)
        except SecretResolutionError as e:
            log.warn("config reload skipped (secrets): {reason}; still serving the last good "
                     "config", reason=str(e))
            self._note_error("secrets", str(e))
            return None
