"""``models.providers.<id>.localService``: a local model server started on demand.

As docs/gateway/local-model-services.md of the real gateway describes it: before a request to
a provider with ``localService``, probe ``healthUrl`` (default ``<baseUrl>/models``); if it
answers, use the running server (even one another process started, without adopting it);
otherwise spawn ``command`` with ``args`` (no shell), ``cwd`` and ``env`` merged over the
gateway's environment, and poll the health URL until ``readyTimeoutMs``. Start-up is
serialized per service, each request holds a lease, and an OpenClaw-started process is
stopped ``idleStopMs`` after the last lease ends (``0``: keep it until the gateway stops).
The child is a ``reactor.spawnProcess`` child; its output is kept as a bounded tail for the
error message and the log, and configured environment values are never logged.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from openclaw.providers.types import KIND_TIMEOUT, ProviderError

if TYPE_CHECKING:
    from treq.client import HTTPClient

log = Logger(namespace="providers.local")

DEFAULT_READY_TIMEOUT_MS: Final = 120_000
POLL_INTERVAL_S: Final = 0.25
PROBE_TIMEOUT_S: Final = 2.0
STOP_GRACE_S: Final = 5.0
TAIL_LINES: Final = 40


@attrs.frozen
class LocalServiceSpec:
    command: str
    args: tuple[str, ...] = ()
    cwd: str | None = None
    env: Mapping[str, str] = attrs.Factory(dict)
    health_url: str = ""
    ready_timeout_ms: int = DEFAULT_READY_TIMEOUT_MS
    idle_stop_ms: int = 0

    def identity(self) -> tuple[Any, ...]:
        return (self.command, self.args, self.cwd, tuple(sorted(self.env.items())),
                self.health_url)


class _ChildProtocol(ProcessProtocol):
    def __init__(self, name: str) -> None:
        self.name = name
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.exited: Deferred[int | None] = Deferred()
        self._partial = b""
        self.exit_code: int | None = None
        self.running = True

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        buffer = self._partial + data
        *lines, self._partial = buffer.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.tail.append(text[:500])
        if len(self._partial) > 4096:
            self.tail.append(self._partial[:500].decode("utf-8", "replace"))
            self._partial = b""

    def processEnded(self, reason: Failure) -> None:
        self.running = False
        value = reason.value
        self.exit_code = getattr(value, "exitCode", None)
        if isinstance(value, ProcessDone):
            self.exit_code = 0
        if not self.exited.called:
            self.exited.callback(self.exit_code)

    def output_tail(self, lines: int = 12) -> str:
        return "\n".join(list(self.tail)[-lines:])


class LocalService:
    """One on-demand server (one per provider and command/args/env set)."""

    def __init__(self, provider_id: str, spec: LocalServiceSpec, reactor: Any,
                 client: HTTPClient) -> None:
        self.provider_id = provider_id
        self.spec = spec
        self._reactor = reactor
        self._clock: IReactorTime = reactor
        self._client = client
        self._child: _ChildProtocol | None = None
        self._transport: Any = None
        self._starting: Deferred[None] | None = None
        self._stopping: Deferred[None] | None = None
        self._leases = 0
        self._idle_timer: IDelayedCall | None = None
        self.ready = False
        self.owned = False
        self.starts = 0

    # -- leases ---------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Make sure the server answers; hold a lease until :meth:`release`."""
        self._leases += 1
        self._cancel_idle()
        try:
            if self._stopping is not None:
                await _shield(self._stopping)
            if self.ready and (not self.owned or (self._child and self._child.running)):
                return
            if self._starting is None:
                starting = Deferred.fromCoroutine(self._ensure_started())

                def clear(result: Any) -> Any:
                    self._starting = None
                    return result

                starting.addBoth(clear)
                self._starting = starting
            await _shield(self._starting)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        self._leases = max(0, self._leases - 1)
        if self._leases == 0 and self.owned and self.spec.idle_stop_ms > 0 and self.ready:
            self._cancel_idle()
            self._idle_timer = self._clock.callLater(self.spec.idle_stop_ms / 1000.0,
                                                     self._idle_stop)

    @property
    def leases(self) -> int:
        return self._leases

    @property
    def pid(self) -> int | None:
        return getattr(self._transport, "pid", None) if self._child and self._child.running \
            else None

    def _cancel_idle(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _idle_stop(self) -> None:
        self._idle_timer = None
        if self._leases == 0:
            log.info("local model service for provider {provider} idle for {ms} ms; stopping",
                     provider=self.provider_id, ms=self.spec.idle_stop_ms)
            Deferred.fromCoroutine(self.stop())

    # -- start / stop ---------------------------------------------------------------------

    async def probe(self) -> bool:
        try:
            response = await self._client.get(self.spec.health_url, timeout=PROBE_TIMEOUT_S,
                                               reactor=self._reactor)
            await response.content()
            return 200 <= int(response.code) < 300
        except Exception:
            return False

    async def _ensure_started(self) -> None:
        if await self.probe():
            self.ready = True
            if not (self._child and self._child.running):
                self.owned = False
                log.info("local model service for provider {provider} already answers at "
                         "{url}; reusing it", provider=self.provider_id,
                         url=self.spec.health_url)
            return
        self.ready = False
        if not self._child or not self._child.running:
            self._spawn()
        child = self._child
        assert child is not None
        started = self._clock.seconds()
        deadline = started + self.spec.ready_timeout_ms / 1000.0
        while True:
            if not child.running:
                raise ProviderError(
                    self.provider_id,
                    f'local model service for provider "{self.provider_id}" exited with code '
                    f"{child.exit_code} before it was ready"
                    + (f":\n{child.output_tail()}" if child.tail else ""),
                    failover=True)
            if await self.probe():
                self.ready = True
                log.info("local model service for provider {provider} ready after {s:.1f}s "
                         "(pid {pid})", provider=self.provider_id,
                         s=self._clock.seconds() - started, pid=self.pid)
                return
            if self._clock.seconds() >= deadline:
                tail = child.output_tail()
                await self.stop()
                raise ProviderError(
                    self.provider_id,
                    f'local model service for provider "{self.provider_id}" not ready at '
                    f"{self.spec.health_url} within {self.spec.ready_timeout_ms} ms"
                    + (f":\n{tail}" if tail else ""), kind=KIND_TIMEOUT, failover=True)
            await deferLater(self._clock, POLL_INTERVAL_S, lambda: None)

    def _spawn(self) -> None:
        spec = self.spec
        if not os.path.isabs(spec.command):
            raise ProviderError(self.provider_id,
                                f'localService.command for provider "{self.provider_id}" must '
                                f"be an absolute path (got {spec.command!r})")
        env = dict(os.environ)
        env.update(spec.env)
        child = _ChildProtocol(self.provider_id)
        process: IReactorProcess = self._reactor
        self._transport = process.spawnProcess(
            child, spec.command, [spec.command, *spec.args], env=env, path=spec.cwd,
            childFDs={0: "w", 1: "r", 2: "r"})
        self._child = child
        self.owned = True
        self.starts += 1
        log.info("started local model service for provider {provider}: {command} (pid {pid})",
                 provider=self.provider_id, command=os.path.basename(spec.command),
                 pid=getattr(self._transport, "pid", None))

        def ended(code: int | None) -> None:
            self.ready = False
            if self._stopping is None:
                log.warn("local model service for provider {provider} exited with code "
                         "{code}; last output:\n{tail}", provider=self.provider_id, code=code,
                         tail=child.output_tail())

        child.exited.addCallback(ended)

    async def stop(self) -> None:
        """Stop the child this process started (SIGTERM, SIGKILL after a grace period)."""
        self._cancel_idle()
        if self._stopping is not None:
            await _shield(self._stopping)
            return
        child, transport = self._child, self._transport
        self.ready = False
        if child is None or not child.running:
            return
        stopping: Deferred[None] = Deferred()
        self._stopping = stopping
        try:
            _signal(transport, "TERM")
            exited = _shield(child.exited)
            exited.addTimeout(STOP_GRACE_S, self._clock)
            try:
                await exited
            except Exception:
                _signal(transport, "KILL")
                await _shield(child.exited)
        finally:
            self._stopping = None
            self._child = None
            stopping.callback(None)


def _signal(transport: Any, name: str) -> None:
    with contextlib.suppress(ProcessExitedAlready, OSError, AttributeError):
        transport.signalProcess(name)


def _shield(deferred: Deferred[Any]) -> Deferred[Any]:
    """A Deferred that follows ``deferred`` but whose cancellation does not cancel it."""
    out: Deferred[Any] = Deferred()

    def ok(result: Any) -> Any:
        if not out.called:
            out.callback(result)
        return result

    def bad(failure: Failure) -> None:
        if not out.called:
            out.errback(failure)

    deferred.addCallbacks(ok, bad)
    return out


class LocalServices:
    """All local services of the gateway, keyed by provider and command identity."""

    def __init__(self, reactor: Any, client: HTTPClient) -> None:
        self._reactor = reactor
        self._client = client
        self.client = client
        self._services: dict[tuple[Any, ...], LocalService] = {}

    def get(self, provider_id: str, spec: LocalServiceSpec) -> LocalService:
        key = (provider_id, *spec.identity())
        service = self._services.get(key)
        if service is None:
            service = self._services[key] = LocalService(provider_id, spec, self._reactor,
                                                         self._client)
        return service

    def services(self) -> Sequence[LocalService]:
        return list(self._services.values())

    async def stop_all(self) -> None:
        for service in list(self._services.values()):
            try:
                await service.stop()
            except Exception:
                log.failure("stopping local model service {provider} failed",
                            provider=service.provider_id)


__all__ = ["LocalService", "LocalServiceSpec", "LocalServices", "signal"]
