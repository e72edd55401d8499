"""The top of the tree: one ``GatewayService`` at a time, rebuilt in-process on restart.

``twistd openclaw`` and ``openclaw gateway`` both run a :class:`GatewaySupervisor`. A restart
(``SIGUSR1``/``SIGUSR2``, a restart-kind config change, a config write RPC) runs:

1. the new config is resolved first (``prepare_gateway`` in a worker thread: file, secrets,
   port, auth). If it refuses, the current tree keeps serving (``config restart failed``);
2. the current tree stops: every client gets ``shutdown`` ``{reason: "gateway restarting",
   restartExpectedMs}`` then close 1012, the port closes, the lock is released;
3. a new tree is built from the new plan and started in the same process and reactor,
   listening on the (possibly new) port. Should that fail (the new port is taken), the
   previous plan is started again; if even that fails the process exits 1.

Supervised deployments can opt out of the in-process rebuild with
``OPENCLAW_RESTART_MODE=supervisor``: the gateway says ``shutdown`` to its clients and exits
0, and systemd (``Restart=always``) or launchd (``KeepAlive``) starts it again.
``OPENCLAW_NO_RESPAWN=1`` forces the in-process rebuild.

``SIGHUP`` re-reads the config now (the same reload path as a file edit). Handlers do no work
in signal context: they hand over with ``reactor.callFromThread`` and chain any previous
handler (twistd rotates its log file on ``SIGUSR1``).

Process-level things live here, not in the tree, because they outlive trees:

* the listening sockets (:class:`~openclaw.gateway.listeners.ListenerPool`): an in-process
  restart serves the same sockets, so no connection attempt is refused while it runs;
* systemd's notifications (:mod:`openclaw.gateway.notify`): ``READY=1`` once the tree
  started, ``RELOADING=1``/``READY=1`` around config reloads and in-process restarts,
  ``STOPPING=1``, ``STATUS=`` lines, and the watchdog's pings;
* the process restart by re-exec that ``openclaw gateway restart`` asks for when no service
  manager runs the gateway (:mod:`openclaw.gateway.handover`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Final

import attrs
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorThreads
from twisted.logger import Logger

from openclaw.config.loader import ConfigSnapshot
from openclaw.gateway.listeners import ListenerPool
from openclaw.gateway.notify import SystemdNotifier, Watchdog, watchdog_interval_s
from openclaw.gateway.startup import GatewayPlan, GatewayRunOptions, StartupRefused
from openclaw.logs import SecretScrubber

log = Logger(namespace="gateway")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block.

    Building the tree imports most of the gateway: thousands of module, class and function
    objects, all of which survive. The collections their allocations trigger find nothing to
    free and cost about 8 % of start-up (docs/performance.md); the first collection after
    the block sees whatever garbage it made.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

RESTART_EXPECTED_MS: Final = 1500
SUPERVISOR_RESTART_EXPECTED_MS: Final = 5000
EXEC_RESTART_EXPECTED_MS: Final = 3000
IN_PROCESS: Final = "in-process"
SUPERVISOR: Final = "supervisor"
EXEC: Final = "exec"


def restart_mode_from_env(env: MutableMapping[str, str]) -> str:
    """``OPENCLAW_RESTART_MODE`` = ``supervisor`` (exit 0) or ``in-process`` (default)."""
    if env.get("OPENCLAW_NO_RESPAWN", "").strip().lower() in ("1", "true", "yes", "on"):
        return IN_PROCESS
    raw = env.get("OPENCLAW_RESTART_MODE", "").strip().lower()
    if raw in ("supervisor", "exit", "process"):
        return SUPERVISOR
    return IN_PROCESS


def _restart_allowed_by_config(snapshot: ConfigSnapshot) -> bool:
    """``commands.restart: false`` blocks restarts requested by an outside signal."""
    return snapshot.config.commands.restart


def take_sigint() -> None:
    """Let the reactor handle SIGINT however the process was started: a shell starts
    background jobs with SIGINT ignored, and Twisted only replaces Python's default handler,
    so ``openclaw gateway &`` would otherwise never stop on SIGINT (upstream's Node process
    does). Call before the reactor runs, from the main thread."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


class GatewaySupervisor(MultiService):
    """Runs the current ``GatewayService``; restarts it in-process or by exiting 0."""

    def __init__(
        self,
        plan: GatewayPlan,
        reactor: Any,
        env: MutableMapping[str, str],
        *,
        scrubber: SecretScrubber | None = None,
        build: Callable[..., Any] | None = None,
        prepare: Callable[[GatewayRunOptions, MutableMapping[str, str]], GatewayPlan]
        | None = None,
        restart_mode: str | None = None,
        install_signals: bool = True,
        listeners: ListenerPool | None = None,
        notifier: SystemdNotifier | None = None,
        reexec_argv: list[str] | None = None,
        execute: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.setName("supervisor")
        self.reactor = reactor
        self.env = env
        self.options = plan.options
        self.scrubber = scrubber or SecretScrubber(plan.auth.secrets)
        self.restart_mode = restart_mode or restart_mode_from_env(env)
        self._build_tree = build or self._default_build
        self._prepare = prepare or self._default_prepare
        self._install_signals = install_signals
        self._previous_handlers: dict[int, Any] = {}
        self._pending: IDelayedCall | None = None
        self._pending_reason = ""
        self.restarting: Deferred[None] | None = None
        self.generation = 1
        self.exit_code = 0
        # The sockets systemd (or a re-exec) passed are consumed from the environment here,
        # before anything can start a child process that would inherit the variables.
        self.listeners = listeners if listeners is not None else (
            ListenerPool.from_environment(env))
        self.notifier = notifier if notifier is not None else (
            SystemdNotifier.from_environment(env))
        watchdog_s = watchdog_interval_s(env) if self.notifier.enabled else None
        self.watchdog = (Watchdog(self.notifier, reactor, watchdog_s)
                         if watchdog_s is not None else None)
        # How to run this process again for a restart by re-exec (None: not possible, e.g.
        # under twistd, which would refuse its own pid file; such requests run in-process).
        self.reexec_argv = reexec_argv
        self._execute = execute
        self._reload_notices = _ReloadNotices(self)
        from openclaw.gateway.metrics import GatewayMetrics

        # One metrics registry for the process: counters survive in-process restarts.
        self.metrics = GatewayMetrics()
        self.gateway = self._make(plan)
        self.gateway.setServiceParent(self)

    # -- building trees ------------------------------------------------------------------

    def _default_build(self, plan: GatewayPlan) -> Any:
        with gc_paused():
            from openclaw.gateway.service import GatewayService

            return GatewayService(plan, self.reactor, env=self.env, scrubber=self.scrubber,
                                  listeners=self.listeners, metrics=self.metrics)

    def _default_prepare(self, options: GatewayRunOptions,
                         env: MutableMapping[str, str]) -> GatewayPlan:
        from openclaw.gateway.startup import prepare_gateway

        return prepare_gateway(options, env)

    def _make(self, plan: GatewayPlan) -> Any:
        gateway = self._build_tree(plan)
        gateway.supervisor = self
        runtime = getattr(getattr(gateway, "config", None), "reload", None)
        if runtime is not None:
            runtime.coordinator.observers.append(self._reload_notices)
        return gateway

    async def _start_tree(self, plan: GatewayPlan) -> Any | None:
        """Build a tree, lock, bind and start it as our child (in-process restart only).

        Raises StartupRefused when the lock or the port is refused, leaving nothing attached
        and nothing held. Nothing here blocks the reactor: the lock is waited for on the
        reactor clock, and ``--force`` (which waits for killed listeners) is start-up only.
        None: the supervisor was stopped while waiting for the lock.
        """
        plan = attrs.evolve(plan, options=attrs.evolve(plan.options, force=False))
        gateway = self._make(plan)
        await gateway.acquire_lock()
        if not self.running:
            gateway.release_lock()
            return None
        # Bind before attaching, so a refusal leaves no half-started child behind; the
        # tree's privilegedStartService is idempotent, and addService (we are running)
        # then starts it.
        gateway.privilegedStartService()
        gateway.setServiceParent(self)
        return gateway

    # -- lifecycle -----------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        if self._install_signals:       # the process's own gateway (not a test's)
            from openclaw.gateway.limits import raise_open_files_limit, report_open_files_limit

            report_open_files_limit(raise_open_files_limit())
            self._install_signal_handlers()
        self.notifier.ready(self.serving_status())
        if self.watchdog is not None:
            self.watchdog.start()

    def stopService(self) -> Deferred[None] | None:
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
        self._uninstall_signal_handlers()
        self.notifier.stopping("stopping")
        if self.watchdog is not None:
            self.watchdog.stop()
        stopped: Deferred[None] | None = super().stopService()
        if stopped is None:
            self.listeners.close()
            return None

        def close_listeners(result: object) -> object:
            self.listeners.close()
            return result

        stopped.addBoth(close_listeners)
        return stopped

    def serving_status(self) -> str:
        plan = getattr(self.gateway, "plan", None)
        url = plan.ws_url if plan is not None else "?"
        return f"serving on {url} (generation {self.generation})"

    def _install_signal_handlers(self) -> None:
        handlers = {"SIGHUP": self._on_sighup, "SIGUSR1": self._on_restart_signal,
                    "SIGUSR2": self._on_restart_signal}
        for name, action in handlers.items():
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                previous = signal.getsignal(signum)
                signal.signal(signum, self._signal_handler(name, action, previous))
            except (ValueError, OSError):  # not the main thread / unsupported
                continue
            self._previous_handlers[signum] = previous

    def _signal_handler(self, name: str, action: Callable[[str], None], previous: Any
                        ) -> Callable[[int, Any], None]:
        def handler(signum: int, frame: Any) -> None:
            self.reactor.callFromThread(action, name)
            if callable(previous) and previous not in (signal.SIG_IGN, signal.SIG_DFL):
                previous(signum, frame)

        return handler

    def _uninstall_signal_handlers(self) -> None:
        handlers, self._previous_handlers = self._previous_handlers, {}
        for signum, previous in handlers.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)

    def _on_sighup(self, name: str) -> None:
        log.info("signal {name} received: reloading the config", name=name)
        runtime = getattr(self.gateway.config, "reload", None)
        if runtime is not None:
            runtime.coordinator.request(source=name, delay_ms=0)

    def _on_restart_signal(self, name: str) -> None:
        log.info("signal {name} received", name=name)
        request = self._consume_restart_request()
        if not _restart_allowed_by_config(self.gateway.config.snapshot):
            log.warn("restart via {name} ignored: commands.restart is false", name=name)
            return
        if request is not None:
            self.request_restart(f"{request.reason} ({name})", delay_ms=0, source="signal",
                                 mode=EXEC)
            return
        self.request_restart(f"signal {name}", delay_ms=0, source="signal")

    def _consume_restart_request(self) -> Any:
        """The request ``openclaw gateway restart`` left before signalling, if any."""
        from openclaw.gateway.handover import consume_restart_request, request_path_for
        from openclaw.gateway.lock import lock_path_for

        paths = getattr(self.gateway.plan, "paths", None)
        if paths is None:
            return None
        lock = lock_path_for(paths.lock_dir, paths.config_path)
        return consume_restart_request(request_path_for(lock))

    # -- restarts ------------------------------------------------------------------------

    def request_restart(self, reason: str, *, delay_ms: int = 0, source: str = "config",
                        mode: str | None = None) -> dict[str, Any]:
        """Schedule a restart; requests while one is pending or running coalesce.

        ``mode`` EXEC asks for a process restart by re-exec (``openclaw gateway restart``);
        otherwise the supervisor's own mode applies.
        """
        result: dict[str, Any] = {
            "ok": True, "pid": os.getpid(), "signal": "SIGUSR1", "reason": reason,
            "mode": self.restart_mode, "cooldownMsApplied": 0,
        }
        if (self._pending is not None and self._pending.active()) or (
                self.restarting is not None):
            log.info("restart request coalesced (already pending) reason={reason}",
                     reason=reason)
            return {**result, "delayMs": 0, "coalesced": True}
        delay_ms = max(0, int(delay_ms))
        self._pending_reason = reason
        self._pending = self.reactor.callLater(delay_ms / 1000.0, self._begin_restart, reason,
                                               mode)
        return {**result, "delayMs": delay_ms, "coalesced": False}

    def _begin_restart(self, reason: str, mode: str | None = None) -> None:
        self._pending = None
        restarting = Deferred.fromCoroutine(self._restart(reason, mode))
        restarting.addErrback(lambda f: log.failure("gateway restart failed", f))
        if not restarting.called:  # a restart that finished at once is not in progress
            self.restarting = restarting
            restarting.addBoth(self._restart_done)

    def _restart_done(self, result: object) -> None:
        self.restarting = None

    @property
    def busy(self) -> bool:
        """A restart is scheduled or running."""
        return (self._pending is not None and self._pending.active()) or (
            self.restarting is not None)

    async def _restart(self, reason: str, mode: str | None = None) -> None:
        if mode == EXEC:
            if self.reexec_argv is not None:
                await self._restart_by_exec(reason)
                return
            log.info("a process restart cannot re-exec this process (not started by "
                     "`openclaw gateway`); restarting in-process instead")
        elif self.restart_mode == SUPERVISOR:
            await self._exit_for_supervisor(reason)
            return
        await self._restart_in_process(reason)

    async def _exit_for_supervisor(self, reason: str) -> None:
        log.info("restart mode: full process restart (supervisor restart); reason: {reason}",
                 reason=reason)
        web = getattr(self.gateway, "web", None)
        if web is not None:
            web.shutdown_reason = "gateway restarting"
            web.restart_expected_ms = SUPERVISOR_RESTART_EXPECTED_MS
        self.exit_code = 0
        self.reactor.stop()

    async def _new_plan(self) -> GatewayPlan:
        options = attrs.evolve(self.options, force=False)
        if IReactorThreads.providedBy(self.reactor):
            from twisted.internet.threads import deferToThreadPool

            return await deferToThreadPool(self.reactor, self.reactor.getThreadPool(),
                                           self._prepare, options, self.env)
        return self._prepare(options, self.env)

    async def _restart_by_exec(self, reason: str) -> None:
        """Stop the tree, then ``execve`` this process's command line with the listening
        sockets passed on (:mod:`openclaw.gateway.handover`). The config is resolved first:
        one that would refuse to start keeps the current tree serving. If the exec fails,
        the new plan starts in-process."""
        from openclaw.gateway.handover import exec_with_listeners

        log.info("restart mode: full process restart (re-exec, listening sockets handed "
                 "over); reason: {reason}", reason=reason)
        retired = await self._retire_current(reason, EXEC_RESTART_EXPECTED_MS)
        if retired is None:
            return
        old, plan = retired
        assert self.reexec_argv is not None
        self._uninstall_signal_handlers()
        if self.watchdog is not None:
            self.watchdog.stop()
        try:
            execute = self._execute or exec_with_listeners
            execute(self.reexec_argv, self.env, self.listeners.listeners())
        except OSError as e:
            log.error("re-exec failed ({reason}); restarting in-process instead",
                      reason=e.strerror or str(e))
        if self._install_signals:
            self._install_signal_handlers()
        if self.watchdog is not None:
            self.watchdog.start()
        await self._start_replacement(old, plan, mode="exec-fallback")

    async def _plan_or_none(self) -> GatewayPlan | None:
        try:
            return await self._new_plan()
        except StartupRefused as e:
            log.error("config restart failed: {reason}; still serving the current config",
                      reason=e.message)
            return None

    async def _restart_in_process(self, reason: str) -> None:
        log.info("restart mode: in-process restart; reason: {reason}", reason=reason)
        retired = await self._retire_current(reason, RESTART_EXPECTED_MS)
        if retired is None:
            return
        old, plan = retired
        await self._start_replacement(old, plan)

    async def _retire_current(self, reason: str, expected_ms: int
                              ) -> tuple[Any, GatewayPlan] | None:
        """The new plan and the stopped current tree (its clients told ``shutdown`` with
        ``expected_ms``); None when the new config is refused (still serving the current one)
        or the supervisor stopped meanwhile."""
        self.notifier.reloading(f"restarting: {reason}")
        plan = await self._plan_or_none()
        if plan is None:
            self.notifier.ready(self.serving_status())
            return None
        old = self.gateway
        web = getattr(old, "web", None)
        if web is not None:
            web.shutdown_reason = "gateway restarting"
            web.restart_expected_ms = expected_ms
        await old.disownServiceParent()
        if not self.running:
            return None  # stopped while restarting
        return old, plan

    async def _start_replacement(self, old: Any, plan: GatewayPlan | None,
                                 mode: str = IN_PROCESS) -> None:
        """Start the tree of ``plan`` after ``old`` stopped (``old``'s own plan again when
        ``plan`` is None or refuses); exit 1 when neither starts."""
        try:
            if plan is None:
                raise StartupRefused("the new config did not resolve", 1)
            gateway = await self._start_tree(plan)
        except StartupRefused as e:
            log.error("gateway restart failed: {reason}; starting again with the previous "
                      "config", reason=e.message)
            try:
                gateway = await self._start_tree(old.plan)
            except StartupRefused as again:
                log.critical("gateway could not restart: {reason}", reason=again.message)
                self.exit_code = 1
                self.reactor.stop()
                return
        if gateway is None:
            return  # stopped while restarting
        self.gateway = gateway
        self.generation += 1
        self.metrics.gateway_restarts.labels(mode).inc()
        log.info("gateway restarted in-process (generation {n}) on {url}",
                 n=self.generation, url=self.gateway.plan.ws_url)
        self.notifier.ready(self.serving_status())


class _ReloadNotices:
    """``RELOADING=1`` when a config reload pass begins, ``READY=1`` when it ends, unless a
    restart it asked for (or one already running) will say ``READY=1`` itself."""

    def __init__(self, supervisor: GatewaySupervisor) -> None:
        self._supervisor = supervisor

    def reload_started(self, source: str) -> None:
        if not self._supervisor.busy:
            self._supervisor.notifier.reloading(f"reloading config ({source})")

    def reload_finished(self, outcome: str) -> None:
        supervisor = self._supervisor
        if not supervisor.busy:
            supervisor.notifier.ready(supervisor.serving_status())
