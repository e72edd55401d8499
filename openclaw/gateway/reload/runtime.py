"""Glue between one ``GatewayService`` tree and the reload machinery.

:class:`ReloadRuntime` implements the coordinator's hooks against the running tree:

* reading the file happens in the reactor's thread pool (``load_config`` is blocking);
* applying a change is one synchronous swap of the config snapshot, the secrets snapshot
  and the gateway plan (readers see old or new, never a mix), then the services are
  reconfigured in tree order: every child with a ``reconfig_service(update)`` method gets a
  :class:`ConfigUpdate` (Buildbot's ``reconfigServiceWithBuildbotConfig``); the WebSocket
  factory gets new auth settings when they changed (``apply_auth_settings`` closes sessions
  on a rotated shared secret with 4001);
* a restart is delegated to the tree's supervisor (in-process rebuild or exit 0).

It also owns the config write path used by ``config.set/patch/apply`` (serialized by a lock)
and ``secrets.reload``, and decorates the ``health`` summary with the reload state.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from twisted.internet.defer import Deferred, DeferredLock, maybeDeferred
from twisted.logger import Logger

from openclaw.blocking import blocking_runner
from openclaw.gateway.reload.coordinator import ConfigInvalid, ReloadCoordinator
from openclaw.gateway.reload.rules import ReloadPlan
from openclaw.gateway.reload.watcher import ConfigWatcher
from openclaw.secrets import ReactorSecretIO, SecretsService, SecretsSnapshot

if TYPE_CHECKING:
    from twisted.application.service import IService

    from openclaw.config import ConfigSnapshot
    from openclaw.gateway.protocol.context import GatewayContext
    from openclaw.gateway.protocol.factory import GatewayWebSocketFactory
    from openclaw.gateway.startup import GatewayPlan
    from openclaw.logs import SecretScrubber

log = Logger(namespace="reload")

# id(context) -> the runtime, held weakly (the tree owns it; contexts are not hashable).
_RUNTIMES: Final[dict[int, weakref.ref[ReloadRuntime]]] = {}


def runtime_of(context: GatewayContext) -> ReloadRuntime | None:
    """The reload runtime serving ``context`` (None in unit tests without a tree)."""
    ref = _RUNTIMES.get(id(context))
    runtime = ref() if ref is not None else None
    if runtime is None or runtime.ws_factory.context is not context:
        return None
    return runtime


def _register(context: Any, runtime: ReloadRuntime) -> None:
    key = id(context)

    def forget(ref: weakref.ref[ReloadRuntime]) -> None:
        if _RUNTIMES.get(key) is ref:
            del _RUNTIMES[key]

    _RUNTIMES[key] = weakref.ref(runtime, forget)


@attrs.frozen
class ConfigUpdate:
    """What ``reconfig_service(update)`` receives: old and new config, secrets, the plan."""

    old: ConfigSnapshot
    new: ConfigSnapshot
    secrets: SecretsSnapshot
    plan: ReloadPlan


@attrs.frozen
class DiskState:
    exists: bool
    raw: str | None
    hash: str | None


def make_secrets_service(plan: GatewayPlan, reactor: Any,
                         env: MutableMapping[str, str]) -> SecretsService:
    from openclaw.secrets import EMPTY_SNAPSHOT

    return SecretsService(
        plan.secrets or EMPTY_SNAPSHOT, io=ReactorSecretIO(reactor), env=env,
        home=plan.paths.home, flag_token=bool(plan.options.token),
        flag_password=bool(plan.options.password))


def _one_line(error: Exception, path: str) -> str:
    from openclaw.config import ConfigError

    if isinstance(error, ConfigError):
        issues = "; ".join(f"{issue.path or '<root>'}: {issue.message}" for issue in error.issues)
        return f"{path}: {issues}"
    return f"{path}: {error}"


class ConfigHolder(Protocol):
    snapshot: ConfigSnapshot


class ReloadTarget(Protocol):
    """What reloading needs of the gateway tree it serves (``GatewayService``): the live
    config, secrets and plan it swaps, the scrubber it feeds, the supervisor that restarts
    the tree, and the children it reconfigures in order."""

    reactor: Any
    plan: GatewayPlan
    supervisor: Any

    @property
    def config(self) -> ConfigHolder: ...

    @property
    def secrets(self) -> SecretsService: ...

    @property
    def scrubber(self) -> SecretScrubber: ...

    def __iter__(self) -> Iterator[IService]: ...


class ReloadRuntime:
    def __init__(self, gateway: ReloadTarget, ws_factory: GatewayWebSocketFactory, *,
                 env: MutableMapping[str, str]) -> None:
        self.gateway = gateway
        self.ws_factory = ws_factory
        self.env = env
        self.reactor = gateway.reactor
        self.path = gateway.plan.paths.config_path
        self.home = gateway.plan.paths.home
        self.run_blocking = blocking_runner(self.reactor)
        self.coordinator = ReloadCoordinator(self, clock=self.reactor, path=self.path)
        self.watcher = ConfigWatcher(self._watch_paths(gateway.config.snapshot),
                                     self._on_file_event, reactor=self.reactor)
        self.write_lock = DeferredLock()
        self.rate_buckets: dict[Any, list[float]] = {}
        self.last_restart: dict[str, Any] | None = None
        context = ws_factory.context
        _register(context, self)
        base = context.health.collector

        def collector() -> dict[str, Any]:
            summary = base() if base is not None else {}
            return self.decorate_health(summary)

        context.health.collector = collector

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.watcher.startService()
        log.debug("config watcher on {path} ({mode})", path=self.path, mode=self.watcher.mode)

    def stop(self) -> None:
        if self.watcher.running:
            self.watcher.stopService()
        self.coordinator.stop()

    def _watch_paths(self, snapshot: ConfigSnapshot) -> list[str]:
        return [self.path, *snapshot.included_files]

    def _on_file_event(self, path: str) -> None:
        self.coordinator.request(source=f"file event ({os.path.basename(path)})")

    # -- ReloadHooks ---------------------------------------------------------------------

    def active_snapshot(self) -> ConfigSnapshot:
        return self.gateway.config.snapshot

    def _load(self) -> ConfigSnapshot | None:
        from openclaw.config import ConfigError, load_config

        try:
            snapshot = load_config(self.path, env=self.env, home=self.home)
        except ConfigError as e:
            digest = None
            try:
                with open(self.path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            except OSError:
                pass
            raise ConfigInvalid(_one_line(e, self.path), digest) from None
        return snapshot if snapshot.exists else None

    def read_config(self) -> Deferred[ConfigSnapshot | None]:
        return self.run_blocking(self._load)

    def prepare_secrets(self, snapshot: ConfigSnapshot) -> Deferred[SecretsSnapshot]:
        return self.gateway.secrets.prepare(snapshot.parsed)

    def apply_config(self, snapshot: ConfigSnapshot, secrets: SecretsSnapshot,
                     plan: ReloadPlan) -> Deferred[None]:
        return Deferred.fromCoroutine(self._apply(snapshot, secrets, plan))

    async def _apply(self, snapshot: ConfigSnapshot, secrets: SecretsSnapshot,
                     plan: ReloadPlan) -> None:
        gateway = self.gateway
        old = gateway.config.snapshot
        # The atomic swap: three assignments in one reactor turn.
        gateway.config.snapshot = snapshot
        gateway.secrets.swap(secrets)
        gateway.plan = attrs.evolve(gateway.plan, snapshot=snapshot, secrets=secrets)
        self.watcher.set_paths(self._watch_paths(snapshot))
        self.refresh_auth()
        update = ConfigUpdate(old=old, new=snapshot, secrets=secrets, plan=plan)
        for child in list(gateway):
            hook = getattr(child, "reconfig_service", None)
            if hook is None:
                continue
            try:
                await maybeDeferred(hook, update)
            except Exception:
                log.failure("reconfiguring service {name} failed", name=child.name)

    def refresh_auth(self) -> None:
        """Recompute the shared-secret auth from the active config + secrets; apply it hot."""
        from openclaw.gateway.startup import StartupRefused, auth_settings_for, resolve_auth

        gateway = self.gateway
        plan = gateway.plan
        try:
            auth = resolve_auth(plan.options, self.env, gateway.config.snapshot,
                                gateway.secrets.snapshot)
        except StartupRefused as e:
            log.warn("gateway auth unchanged: {reason}", reason=e.message)
            return
        if auth.mode != plan.auth.mode:
            log.warn("gateway auth mode change ({old} -> {new}) needs a gateway restart; "
                     "keeping {old}", old=plan.auth.mode, new=auth.mode)
            return
        if auth.generated_token and plan.auth.generated_token:
            auth = plan.auth  # keep this run's ephemeral token
        if auth != plan.auth:
            gateway.plan = plan = attrs.evolve(plan, auth=auth)
        settings = auth_settings_for(plan)
        context = self.ws_factory.context
        if settings != context.auth:
            before = context.auth.shared_secret_fingerprint()
            rotated = settings.shared_secret_fingerprint() != before
            # New handshakes check the new settings at once; sessions on the old secret are
            # closed one reactor turn later, so the request that caused the rotation still
            # gets its answer first (upstream holds that response the same way).
            context.auth = settings
            context.rate_limiter.settings = settings.rate_limit

            def close_stale() -> None:
                if context.auth is not settings:
                    return  # superseded by a newer rotation
                closed = self.ws_factory.apply_auth_settings(settings)
                if rotated:
                    log.info("gateway shared secret rotated; {n} session(s) on the old "
                             "secret closed (4001)", n=closed)

            if not rotated:
                log.info("gateway auth settings updated")
            self.reactor.callLater(0, close_stale)
        gateway.scrubber.update([*auth.secrets, *gateway.secrets.snapshot.secret_values()])

    def request_restart(self, reason: str, delay_ms: int) -> Any:
        supervisor = getattr(self.gateway, "supervisor", None)
        if supervisor is None:
            log.warn("config change requires a gateway restart, but this gateway runs without "
                     "a supervisor; restart it to apply ({reason})", reason=reason)
            return None
        self.last_restart = supervisor.request_restart(reason, delay_ms=delay_ms,
                                                       source="config")
        return self.last_restart

    def reload_state_changed(self) -> None:
        health = self.ws_factory.context.health

        def refresh() -> None:
            try:
                health.refresh()
            except Exception:
                log.failure("health refresh after a reload failed")

        self.reactor.callLater(0, refresh)

    # -- health --------------------------------------------------------------------------

    def decorate_health(self, summary: dict[str, Any]) -> dict[str, Any]:
        reload_state: dict[str, Any] = {"hotReloadStatus": "active"}
        coordinator = self.coordinator
        if coordinator.last_error is not None:
            reload_state["lastError"] = coordinator.last_error.to_json()
        if coordinator.pending_restart_paths:
            reload_state["pendingRestartPaths"] = list(coordinator.pending_restart_paths)
        secrets_error = self.gateway.secrets.degraded
        if secrets_error is not None:
            reload_state["secretsDegraded"] = [
                {"path": f.path, "ref": f.ref, "message": f.message}
                for f in secrets_error.failures]
        summary["configReload"] = reload_state
        return summary

    # -- secrets.reload ------------------------------------------------------------------

    async def reload_secrets(self) -> SecretsSnapshot:
        """Re-resolve the active config's refs and swap all or nothing (raises on failure)."""
        snapshot = await self.gateway.secrets.reload(self.gateway.config.snapshot.parsed)
        self.gateway.plan = attrs.evolve(self.gateway.plan, secrets=snapshot)
        self.refresh_auth()
        self.reload_state_changed()
        return snapshot

    # -- config writes -------------------------------------------------------------------

    def _read_disk(self) -> DiskState:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return DiskState(False, None, None)
        return DiskState(True, data.decode("utf-8", "replace"),
                         hashlib.sha256(data).hexdigest())

    def read_disk(self) -> Deferred[DiskState]:
        return self.run_blocking(self._read_disk)

    def validate(self, text: str) -> Deferred[ConfigSnapshot]:
        from openclaw.config import parse_config_text

        return self.run_blocking(parse_config_text, text, self.path, env=self.env,
                                 home=self.home)

    def write_sentinel(self, payload: dict[str, Any]) -> Deferred[bool]:
        """``<state>/restart-sentinel.json`` (atomic, 0600); fires False when it failed."""
        import json

        from openclaw.atomic_files import atomic_write_bytes

        path = os.path.join(self.gateway.plan.paths.state_dir, "restart-sentinel.json")

        def write() -> bool:
            try:
                atomic_write_bytes(path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
            except OSError:
                return False
            return True

        return self.run_blocking(write)

    def write(self, text: str) -> Deferred[None]:
        from openclaw.gateway.reload.writer import write_config_atomic

        return self.run_blocking(write_config_atomic, self.path, text)
