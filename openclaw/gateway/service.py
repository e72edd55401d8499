"""The gateway's service tree: a MultiService of named children started in a deliberate order.

Start order: logs, config, secrets, store, state (the gateway's SQLite database), providers,
usage, agents, channels (one child per channel account), heartbeat, cron, web. Stop runs in reverse,
so web says `shutdown` to every client and stops listening before anything it depends on goes
away. `stopService` is bounded: a stuck child cannot keep the process from exiting.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, cast

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, DeferredList, TimeoutError, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IReactorCore,
    IReactorSocket,
    IReactorTCP,
    IReactorTime,
)
from twisted.logger import Logger, globalLogPublisher

from openclaw import __version__
from openclaw.config import ConfigSnapshot
from openclaw.gateway.listeners import Listener, ListenerPool
from openclaw.gateway.lock import GatewayLock, GatewayLockError, lock_path_for
from openclaw.gateway.ports import ForceError, force_free_port
from openclaw.gateway.site import (
    GatewayRootResource,
    GatewaySite,
    ProbesStage,
    Stage,
    shared_secret_checker,
)
from openclaw.gateway.startup import EXIT_CONFIG_ERROR, GatewayPlan, StartupRefused
from openclaw.logs import DailyJsonLogFile, JsonLinesLogObserver, SecretScrubber, parse_level

if TYPE_CHECKING:
    from openclaw.gateway.metrics import GatewayMetrics
    from openclaw.gateway.protocol.factory import GatewayWebSocketFactory
    from openclaw.gateway.reload.runtime import ConfigUpdate, ReloadRuntime
    from openclaw.providers.registry import LocalModelInstall

log = Logger(namespace="gateway")

DEFAULT_STOP_TIMEOUT_S = 5.0


class GatewayReactor(IReactorTCP, IReactorSocket, IReactorTime, IReactorCore):
    """What the gateway needs of a reactor (typing only)."""


class LogService(Service):
    """Mirrors every log event into the JSON-lines file log while running."""

    name = "logs"

    def __init__(self, plan: GatewayPlan, scrubber: SecretScrubber) -> None:
        logging_config = plan.snapshot.config.logging
        self.log_file = DailyJsonLogFile(
            plan.paths.log_dir,
            fixed_path=logging_config.file or None,
            max_file_bytes=logging_config.max_file_bytes,
        )
        self.observer = JsonLinesLogObserver(
            self.log_file, level=parse_level(logging_config.level), scrub=scrubber
        )

    @property
    def current_log_path(self) -> str:
        return self.log_file.current_path

    def startService(self) -> None:
        globalLogPublisher.addObserver(self.observer)
        super().startService()

    def reconfig_service(self, update: ConfigUpdate) -> None:
        self.observer.level = parse_level(update.new.config.logging.level)

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        globalLogPublisher.removeObserver(self.observer)
        self.log_file.close()
        return None


class ConfigService(Service):
    """Holds the running config snapshot; `reload` watches the file and applies edits."""

    name = "config"

    def __init__(self, plan: GatewayPlan) -> None:
        self.plan = plan
        self.snapshot: ConfigSnapshot = plan.snapshot
        self.reload: ReloadRuntime | None = None  # set by GatewayService

    def current(self) -> ConfigSnapshot:
        return self.snapshot

    def startService(self) -> None:
        super().startService()
        for path in self.snapshot.unsupported:
            log.warn(
                "config: {path} is not supported by this gateway yet; kept, not applied",
                path=path,
            )
        if self.reload is not None:
            self.reload.start()

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        if self.reload is not None:
            self.reload.stop()
        return None


class WebService(Service):
    """Serves the listening sockets with the Site and the WebSocket factory.

    With a :class:`~openclaw.gateway.listeners.ListenerPool` (the supervisor's) the sockets
    belong to the pool and are served through ``adoptStreamPort``: stopping this service
    stops serving them but does not close them, so an in-process restart never refuses a
    connection. Without one it binds with ``listenTCP`` and closes on stop.
    """

    name = "web"

    def __init__(
        self,
        plan: GatewayPlan,
        reactor: GatewayReactor,
        root: GatewayRootResource,
        ws_factory: GatewayWebSocketFactory,
        stop_timeout_s: float,
        listeners: ListenerPool | None = None,
    ) -> None:
        self.plan = plan
        self._reactor = reactor
        self.listeners = listeners
        self.root = root
        self.site = GatewaySite(root, reactor=reactor)
        self.site.noisy = False
        self.ws_factory = ws_factory
        self._stop_timeout_s = stop_timeout_s
        self.ports: list[IListeningPort] = []
        self.shutdown_reason = "gateway stopping"
        self.restart_expected_ms: int | None = None
        # Called once listening stopped, before the control clients are drained (other
        # WebSocket endpoints close their sockets).
        self.stopping_hooks: list[Callable[[], None]] = []

    def privilegedStartService(self) -> None:
        if self.listeners is not None:
            self._serve_pool(self.listeners)
            super().privilegedStartService()
            return
        for address in self.plan.listen:
            try:
                port = self._reactor.listenTCP(
                    self.plan.port,
                    self.site,  # type: ignore[arg-type]
                    interface=address.host,
                    backlog=511,
                )
            except CannotListenError as e:
                self._refuse(address.host, address.required, e)
                continue
            self.ports.append(port)
        super().privilegedStartService()

    def _serve_pool(self, pool: ListenerPool) -> None:
        """Claim the plan's addresses from the pool (or serve what systemd passed), then
        adopt them; raises StartupRefused, serving nothing, when a required one fails."""
        activated = pool.activated
        if activated:
            claimed = activated
            host, port = activated[0].address()
            if port != self.plan.port:
                log.info("socket activation: serving the socket systemd passed "
                         "({host}:{port}); the configured port {configured} is not bound",
                         host=_url_host(host), port=port, configured=self.plan.port)
        else:
            claimed = []
            for address in self.plan.listen:
                try:
                    claimed.append(pool.claim(address.host, self.plan.port))
                except CannotListenError as e:
                    self._refuse(address.host, address.required, e)
        pool.retain(claimed)
        for listener in claimed:
            self.ports.append(self._adopt(listener))

    def _adopt(self, listener: Listener) -> IListeningPort:
        return self._reactor.adoptStreamPort(
            listener.fileno(), listener.family, self.site)  # type: ignore[arg-type]

    def _refuse(self, host: str, required: bool, error: CannotListenError) -> None:
        """Log a skipped optional address, or raise StartupRefused for a required one."""
        url = f"ws://{_url_host(host)}:{self.plan.port}"
        if not required:
            log.info("not listening on {url}: {reason}", url=url, reason=_reason(error))
            return
        self._close_ports()
        if _is_address_in_use(error):
            raise StartupRefused(
                f"another gateway instance is already listening on {url}", 1
            ) from None
        raise StartupRefused(f"failed to bind gateway socket on {url}: {_reason(error)}", 1
                             ) from None

    def startService(self) -> None:
        if not self.ports:
            self.privilegedStartService()
        self.ws_factory.start()
        super().startService()
        for port in self.ports:
            host = port.getHost()
            log.info(
                "listening on ws://{host}:{port}",
                host=_url_host(host.host),  # type: ignore[attr-defined]
                port=host.port,  # type: ignore[attr-defined]
            )

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        stopping = [maybeDeferred(p.stopListening) for p in self.ports]
        self.ports = []
        await DeferredList(stopping, consumeErrors=True)
        for hook in self.stopping_hooks:
            try:
                hook()
            except Exception:
                log.failure("web stopping hook failed")
        try:
            await self.ws_factory.shutdown(
                self.shutdown_reason, self.restart_expected_ms, self._stop_timeout_s
            )
        finally:
            self.ws_factory.stop()
            # The device store writes off the reactor: let its last writes land before the
            # next tree (an in-process restart) reads the files. A failure is already logged.
            with contextlib.suppress(OSError):
                await self.ws_factory.context.device_store.durable()

    def _close_ports(self) -> None:
        for port in self.ports:
            port.stopListening()
        self.ports = []


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _reason(error: CannotListenError) -> str:
    inner = error.socketError
    return getattr(inner, "strerror", None) or str(inner)


def _is_address_in_use(error: CannotListenError) -> bool:
    return getattr(error.socketError, "errno", None) == errno.EADDRINUSE


class GatewayService(MultiService):
    """The root of the tree that `twistd openclaw` and `openclaw gateway` run."""

    def __init__(
        self,
        plan: GatewayPlan,
        reactor: GatewayReactor,
        *,
        extra_stages: tuple[Stage, ...] = (),
        stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
        use_lock: bool = True,
        env: MutableMapping[str, str] | None = None,
        scrubber: SecretScrubber | None = None,
        local_model: LocalModelInstall | None = None,
        listeners: ListenerPool | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        super().__init__()
        self.setName("gateway")
        self.plan = plan
        self.reactor = reactor
        self.env = os.environ if env is None else env
        self.started_at = time.time()
        self.stop_timeout_s = stop_timeout_s
        self.scrubber = scrubber or SecretScrubber(plan.auth.secrets)
        self.scrubber.update([*plan.auth.secrets,
                              *(plan.secrets.secret_values() if plan.secrets else ())])
        # The GatewaySupervisor that can restart this tree in-process (None: nobody can).
        self.supervisor: Any = None
        self._lock = (
            GatewayLock(
                lock_path_for(plan.paths.lock_dir, plan.paths.config_path),
                plan.paths.config_path,
            )
            if use_lock and plan.single_instance_lock
            else None
        )
        self._bound = False
        from openclaw.gateway.metrics import GatewayMetrics

        # The supervisor's (one registry per process, kept across in-process restarts), or
        # one of this tree's own. diagnostics.enabled is read once: changing it restarts.
        self.metrics = metrics if metrics is not None else GatewayMetrics()
        self.metrics_enabled = bool(plan.snapshot.config.diagnostics.enabled)
        self._sources: object = None

        self.logs = LogService(plan, self.scrubber)
        self.logs.setServiceParent(self)
        self.config = ConfigService(plan)
        self.config.setServiceParent(self)
        from openclaw.gateway.reload.runtime import ReloadRuntime, make_secrets_service

        self.secrets = make_secrets_service(plan, reactor, self.env)
        self.secrets.setServiceParent(self)

        from openclaw.agents.service import AgentsService, StoreService
        from openclaw.providers.router import ProvidersService

        self.store = StoreService(reactor, str(plan.paths.state_dir))
        self.store.setServiceParent(self)
        from openclaw.agents.state import StateService

        # <state>/gateway.sqlite: usage ledger, cron jobs and runs, exec approvals policy
        self.state = StateService(reactor, str(plan.paths.state_dir))
        self.state.setServiceParent(self)
        self.providers = ProvidersService(
            reactor, self.config.current, get_secrets=lambda: self.secrets.snapshot,
            local_install=local_model,
        )
        self.providers.setServiceParent(self)
        from openclaw.agents.usage import UsageLedger, UsageService

        # every transcript message feeds the usage ledger (a session store listener); it
        # starts before agents so it stops after them, with the runs' last rows written
        self.usage = UsageService(
            UsageLedger(self.store.store, self.state.db, self.state.writer, reactor),
            lambda: list(self.agents.runtime.view().agents))
        self.usage.setServiceParent(self)
        self.agents = AgentsService(
            reactor, self.store.store, self.providers.router, self.config.current,
            state_dir=str(plan.paths.state_dir),
            default_workspace=str(plan.paths.default_workspace), home=str(plan.paths.home))
        self.agents.setServiceParent(self)
        self.agent_gateway: Any = None

        from openclaw.channels.service import ChannelsService

        self.channels = ChannelsService(
            reactor, reactor=reactor, state_dir=str(plan.paths.state_dir),
            config=self.config.current, secrets=lambda: self.secrets.snapshot, env=self.env)
        self.channels.setServiceParent(self)

        from openclaw.gateway.channels_wiring import wire_channels
        from openclaw.gateway.ws_wiring import build_websocket

        websocket, ws_factory = build_websocket(self)
        ws_factory.context.channels = self.channels
        from openclaw.agents.heartbeat import HeartbeatService
        from openclaw.gateway.methods.heartbeat import heartbeat_emitter, set_heartbeats_spec

        # heartbeat turns on the reactor's clock; deliveries through the channel seam
        self.heartbeat = HeartbeatService(
            reactor, self.agents.runtime, heartbeat_emitter(ws_factory.context),
            deliver=lambda: getattr(self.agent_gateway, "deliver", None))
        self.heartbeat.setServiceParent(self)
        ws_factory.methods.register(set_heartbeats_spec(self.heartbeat))
        from openclaw.agents.cron import CronService
        from openclaw.gateway.methods.cron import CronMethods, cron_emitter

        # scheduled agent turns on the reactor's clock; jobs and runs in gateway.sqlite
        self.cron = CronService(
            reactor, self.agents.runtime, self.state.db, self.state.writer,
            cron_emitter(ws_factory.context),
            deliver=lambda: getattr(self.agent_gateway, "deliver", None))
        self.cron.setServiceParent(self)
        for spec in CronMethods(self.cron).specs():
            ws_factory.methods.register(spec)
        from openclaw.gateway.methods.usage import UsageMethods

        for spec in UsageMethods(self.agents.runtime, self.usage.ledger).specs():
            ws_factory.methods.register(spec)
        from openclaw.agents.approvals import ApprovalsStore, ExecApprovals
        from openclaw.gateway.methods.approvals import wire_exec_approvals

        # the exec tool asks its approvals through the manager (the approval seam)
        gate = ExecApprovals(ApprovalsStore(self.state.db, self.state.writer,
                                            str(plan.paths.state_dir)), self.config.current)
        self.agents.runtime.exec_approvals = gate
        self.approvals, approval_specs = wire_exec_approvals(
            ws_factory.context, reactor, gate, cast(Any, self.agent_gateway).send_interim)
        for spec in approval_specs:
            ws_factory.methods.register(spec)
        wire_channels(self.channels, self.agents.runtime, self.agent_gateway)
        self.config.reload = ReloadRuntime(self, ws_factory, env=self.env)
        probes = ProbesStage(
            version=__version__,
            started_at=self.started_at,
            readiness=self.readiness,
            # Read the secrets per request: a hot reload may rotate them.
            bearer_ok=lambda presented: shared_secret_checker(self.plan.auth.secrets)(presented),
        )
        from openclaw.gateway.http import build_control_ui, build_http_api
        from openclaw.gateway.metrics import MetricsStage, instrument_tree
        from openclaw.gateway.site import SECURITY_HEADERS

        # spec http.md §1: probes, then hooks .. chat completions, then the Control UI; the
        # metrics route (an operator API) right after the probes.
        self.http_api = build_http_api(self, ws_factory)
        self.control_ui = build_control_ui(self, ws_factory, self.http_api)
        from openclaw.gateway.voiceclaw_wiring import build_voiceclaw, upgrade_admission

        # /voiceclaw/realtime: routed before the control protocol's WebSocket
        self.voiceclaw = build_voiceclaw(self, ws_factory.context, self.http_api.auth)
        metrics_stage = MetricsStage(self.metrics, self.http_api, lambda: self.metrics_enabled)
        root = GatewayRootResource(
            websocket,
            [probes, metrics_stage, *self.http_api.stages(), *extra_stages, self.control_ui],
            websocket_routes={self.voiceclaw.path.encode(): self.voiceclaw.resource},
            admit_upgrade=upgrade_admission(ws_factory.context))
        self.web = WebService(plan, reactor, root, ws_factory, stop_timeout_s, listeners)
        self.web.stopping_hooks.append(self.voiceclaw.shutdown)
        self.web.stopping_hooks.append(self.approvals.cancel_all)
        self.web.site.requestFactory = self.http_api.request_factory(SECURITY_HEADERS)
        self.web.site.protocol = self.http_api.channel_factory(  # type: ignore[method-assign]
            SECURITY_HEADERS)
        self.web.setServiceParent(self)
        if self.metrics_enabled:
            instrument_tree(self, self.metrics)

    def readiness(self) -> list[str]:
        """Names of child services that are not running (empty = ready)."""
        return [
            cast(str, child.name)
            for child in self
            if not child.running
        ]

    async def acquire_lock(self) -> None:
        """Take the single-instance lock, waiting on the reactor clock (never blocking).

        The supervisor's in-process restart calls this before binding; start-up, before the
        reactor runs, lets ``privilegedStartService`` take it (see ``openclaw.gateway.lock``).
        """
        if self._lock is None:
            return
        try:
            await self._lock.acquire(self.reactor)
        except GatewayLockError as e:
            raise StartupRefused(str(e), EXIT_CONFIG_ERROR) from None

    def release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def privilegedStartService(self) -> None:
        """Lock and bind: raises StartupRefused, holding nothing, when either is refused.

        Idempotent, so a tree bound before being attached to a running parent (an in-process
        restart) is not bound twice when ``addService`` calls this again.
        """
        if self._bound:
            return
        listeners = self.web.listeners
        if self.plan.options.force and not (listeners is not None and listeners.activated):
            # Blocks for up to 2 s waiting for the killed listeners: start-up only (the
            # supervisor never restarts with --force), before the reactor runs. Never with
            # socket activation: the other holder of the port is systemd itself.
            self._free_port()
        if self._lock is not None and not self._lock.held:
            try:
                self._lock.acquire_before_reactor()
            except GatewayLockError as e:
                raise StartupRefused(str(e), EXIT_CONFIG_ERROR) from None
        try:
            super().privilegedStartService()
        except BaseException:
            self.release_lock()
            raise
        self._bound = True

    def startService(self) -> None:
        if self.metrics_enabled:
            from openclaw.gateway.metrics import sources_of

            self._sources = self.metrics.live.sources = sources_of(self)
        for warning in self.plan.warnings:
            log.warn("{text}", text=warning)
        from openclaw.gateway.startup import seeded_control_ui_origins

        seeded = seeded_control_ui_origins(self.plan)
        if seeded is not None:
            log.info(
                "gateway: seeded gateway.controlUi.allowedOrigins {origins} for bind={bind}. "
                "Applied for this runtime without writing config; add other origins to "
                "gateway.controlUi.allowedOrigins if needed.",
                origins=json.dumps(list(seeded)), bind=self.plan.bind)
        if self.plan.auth.generated_token:
            log.warn(
                "auth: no gateway token configured; generated an ephemeral token for this run. "
                "Clients cannot connect without it: set gateway.auth.token (openclaw setup) "
                "or pass --token."
            )
        super().startService()
        log.info(
            "gateway ready (pid {pid}, config {config}, auth {auth})",
            pid=os.getpid(),
            config=self.plan.paths.config_path,
            auth=self.plan.auth.mode,
        )

    def stopService(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        log.info("gateway stopping")
        stopping: Deferred[None] = Deferred.fromCoroutine(self._stop_children())
        stopping.addTimeout(self.stop_timeout_s + 1.0, self.reactor)
        try:
            await stopping
        except TimeoutError:
            log.warn("gateway stop timed out after {s}s; exiting anyway", s=self.stop_timeout_s)
        finally:
            self._bound = False
            self.release_lock()
            if self.metrics.live.sources is self._sources:
                self.metrics.live.sources = None

    async def _stop_children(self) -> None:
        """Stop the children one after the other, last started first: ``MultiService`` would
        stop them all at once, closing the session store while runs still record their end."""
        Service.stopService(self)
        for child in reversed(list(self)):
            try:
                await maybeDeferred(child.stopService)
            except Exception:
                log.failure("stopping {name} failed", name=child.name)
            if child is self.web:
                # The embeddings client pool outlives requests; close it once no request can
                # call it any more.
                embeddings = self.http_api.embeddings
                if embeddings is not None:
                    await embeddings.stop()

    def _free_port(self) -> None:
        port = self.plan.port
        try:
            result = force_free_port(port)
        except ForceError as e:
            raise StartupRefused(f"Force: {e}", 1) from None
        if not result.killed:
            log.debug("force: no listeners on port {port}", port=port)
            return
        for pid, command in result.killed:
            log.info(
                "force: killed pid {pid}{command} on port {port}",
                pid=pid,
                command=f" ({command})" if command else "",
                port=port,
            )
        if result.escalated_to_sigkill:
            log.info("force: escalated to SIGKILL while freeing port {port}", port=port)
        if result.waited_ms:
            log.info("force: waited {ms}ms for port {port} to free", ms=result.waited_ms, port=port)
