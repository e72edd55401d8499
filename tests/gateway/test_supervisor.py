"""The gateway supervisor with fake trees and a Clock: in-process restart, refusals, exit."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import attrs
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway import service as service_module
from openclaw.gateway.lock import GatewayLock, lock_path_for
from openclaw.gateway.startup import GatewayPlan, GatewayRunOptions, StartupRefused, prepare_gateway
from openclaw.gateway.supervisor import (
    IN_PROCESS,
    RESTART_EXPECTED_MS,
    SUPERVISOR,
    GatewaySupervisor,
    restart_mode_from_env,
)
from openclaw.net import free_loopback_port
from tests.support import isolated_env


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def callFromThread(self, f: Any, *args: Any) -> None:
        f(*args)


@attrs.define
class FakeWeb:
    shutdown_reason: str = "gateway stopping"
    restart_expected_ms: int | None = None


@attrs.define
class FakeConfig:
    snapshot: Any


class FakeTree(Service):
    """Stands in for GatewayService: records start/stop, can refuse to bind."""

    def __init__(self, plan: GatewayPlan, refuse: bool, log: list[str]) -> None:
        self.plan = plan
        self.name = "gateway"
        self.web = FakeWeb()
        self.config = FakeConfig(plan.snapshot)
        self.supervisor: Any = None
        self._refuse = refuse
        self._log = log
        self._bound = False

    async def acquire_lock(self) -> None:
        pass

    def release_lock(self) -> None:
        pass

    def privilegedStartService(self) -> None:
        if self._bound:  # idempotent, like GatewayService
            return
        if self._refuse:
            raise StartupRefused("another gateway instance is already listening", 1)
        self._bound = True
        self._log.append(f"bind {self.plan.port}")

    def startService(self) -> None:
        super().startService()
        self._log.append(f"start {self.plan.port}")

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self._log.append(f"stop {self.plan.port} ({self.web.shutdown_reason}, "
                         f"{self.web.restart_expected_ms})")
        return succeed(None)


class SupervisorTests(SynchronousTestCase):
    def setUp(self) -> None:
        base = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, base, True)
        self.env = isolated_env(base)
        self.options = GatewayRunOptions(allow_unconfigured=True, port="20001", force=True)
        self.plan = prepare_gateway(self.options, self.env)
        self.reactor = FakeReactor()
        self.log: list[str] = []
        self.refuse_ports: set[int] = set()
        self.next_plans: list[Any] = []

        def build(plan: GatewayPlan) -> FakeTree:
            return FakeTree(plan, plan.port in self.refuse_ports, self.log)

        def prepare(options: GatewayRunOptions, env: Any) -> GatewayPlan:
            self.log.append(f"prepare force={options.force}")
            nxt = self.next_plans.pop(0)
            if isinstance(nxt, Exception):
                raise nxt
            return nxt

        self.supervisor = GatewaySupervisor(self.plan, self.reactor, self.env, build=build,
                                            prepare=prepare, restart_mode=IN_PROCESS,
                                            install_signals=False)
        self.supervisor.privilegedStartService()
        self.supervisor.startService()
        self.log.clear()

    def plan_on(self, port: int) -> GatewayPlan:
        return attrs.evolve(self.plan, port=port)

    def test_in_process_restart_rebuilds_on_the_new_port(self) -> None:
        first = self.supervisor.gateway
        self.next_plans.append(self.plan_on(20002))
        result = self.supervisor.request_restart("config change (gateway.port)", delay_ms=2000)
        self.assertEqual((result["coalesced"], result["delayMs"], result["mode"]),
                         (False, 2000, IN_PROCESS))
        self.reactor.advance(1.999)
        self.assertEqual(self.log, [])
        self.reactor.advance(0.001)
        self.assertEqual(self.log, [
            "prepare force=False",
            f"stop 20001 (gateway restarting, {RESTART_EXPECTED_MS})",
            "bind 20002", "start 20002",
        ])
        self.assertIsNot(self.supervisor.gateway, first)
        self.assertIs(self.supervisor.gateway.supervisor, self.supervisor)
        self.assertEqual(list(self.supervisor), [self.supervisor.gateway])
        self.assertEqual(self.supervisor.generation, 2)

    def test_requests_coalesce(self) -> None:
        self.next_plans.append(self.plan_on(20002))
        self.supervisor.request_restart("a", delay_ms=100)
        second = self.supervisor.request_restart("b", delay_ms=0)
        self.assertTrue(second["coalesced"])
        self.reactor.advance(1)
        self.assertEqual(self.log.count("prepare force=False"), 1)

    def test_refused_new_config_keeps_serving(self) -> None:
        current = self.supervisor.gateway
        self.next_plans.append(StartupRefused("Invalid config"))
        self.supervisor.request_restart("x")
        self.reactor.advance(0)
        self.assertIs(self.supervisor.gateway, current)
        self.assertTrue(current.running)
        self.assertEqual(self.log, ["prepare force=False"])

    def test_unbindable_new_port_falls_back_to_the_previous_plan(self) -> None:
        self.refuse_ports.add(20002)
        self.next_plans.append(self.plan_on(20002))
        self.supervisor.request_restart("x")
        self.reactor.advance(0)
        self.assertEqual(self.log[-2:], ["bind 20001", "start 20001"])
        self.assertEqual(self.supervisor.gateway.plan.port, 20001)
        self.assertFalse(self.supervisor.gateway.plan.options.force)
        self.assertFalse(self.reactor.stopped)

    def test_supervisor_mode_exits_zero(self) -> None:
        self.supervisor.restart_mode = SUPERVISOR
        self.supervisor.request_restart("x")
        self.reactor.advance(0)
        self.assertTrue(self.reactor.stopped)
        self.assertEqual(self.supervisor.exit_code, 0)
        web = self.supervisor.gateway.web
        self.assertEqual(web.shutdown_reason, "gateway restarting")

    def test_stop_cancels_a_pending_restart(self) -> None:
        self.supervisor.request_restart("x", delay_ms=1000)
        self.supervisor.stopService()
        self.reactor.advance(2)
        self.assertNotIn("prepare force=False", self.log)

    def test_commands_restart_false_blocks_signals(self) -> None:
        from openclaw.config import parse_config_text

        blocked = parse_config_text('{"commands": {"restart": false}}', "/x/openclaw.json",
                                    env={}, home="/x")
        self.supervisor.gateway.config.snapshot = blocked
        self.supervisor._on_restart_signal("SIGUSR1")
        self.reactor.advance(1)
        self.assertEqual(self.log, [])


class RestartModeTests(SynchronousTestCase):
    def test_env(self) -> None:
        self.assertEqual(restart_mode_from_env({}), IN_PROCESS)
        self.assertEqual(restart_mode_from_env({"OPENCLAW_RESTART_MODE": "supervisor"}),
                         SUPERVISOR)
        self.assertEqual(restart_mode_from_env({"OPENCLAW_RESTART_MODE": "supervisor",
                                                "OPENCLAW_NO_RESPAWN": "1"}), IN_PROCESS)


class RealTreeRestartTests(SynchronousTestCase):
    """Real GatewayService trees on a MemoryReactorClock: the restart never blocks."""

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        # The supervisor's listener pool binds real sockets (which outlive each tree), so
        # the ports are free ones.
        self.first_port = free_loopback_port()
        self.second_port = free_loopback_port()
        while self.second_port == self.first_port:
            self.second_port = free_loopback_port()
        # No --force at start-up here: it would really kill whatever listens on the port.
        self.plan = self.plan_in("first", self.first_port, force=False)
        self.next_plans: list[GatewayPlan] = []

        def prepare(options: GatewayRunOptions, env: Any) -> GatewayPlan:
            return self.next_plans.pop(0)

        self.supervisor = GatewaySupervisor(self.plan, self.reactor, self.plan_env,
                                            prepare=prepare, restart_mode=IN_PROCESS,
                                            install_signals=False)
        self.supervisor.privilegedStartService()
        self.supervisor.startService()
        self.addCleanup(self.stop)
        # From here on, anything that would block the reactor fails the test.
        self.patch(time, "sleep", self.blocked("time.sleep"))
        self.patch(GatewayLock, "acquire_before_reactor", self.blocked("a blocking lock wait"))
        self.patch(service_module, "force_free_port", self.blocked("force_free_port"))

    def plan_in(self, name: str, port: int, *, force: bool = True) -> GatewayPlan:
        """A plan with its own state dir and config (so its own lock file)."""
        base = tempfile.mkdtemp(prefix=f"oc-supervisor-{name}-")
        self.addCleanup(shutil.rmtree, base, True)
        self.plan_env = isolated_env(base)
        return prepare_gateway(GatewayRunOptions(allow_unconfigured=True, port=str(port),
                                                 force=force), self.plan_env)

    @staticmethod
    def blocked(what: str) -> Callable[..., None]:
        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"{what} on the in-process restart path")

        return refuse

    def stop(self) -> None:
        stopping = self.supervisor.stopService()
        self.reactor.advance(10)
        if stopping is not None:
            self.successResultOf(stopping)

    def lock_of(self, plan: GatewayPlan) -> GatewayLock:
        lock = GatewayLock(lock_path_for(plan.paths.lock_dir, plan.paths.config_path),
                           plan.paths.config_path)
        self.addCleanup(lock.release)
        return lock

    def listening_ports(self) -> set[int]:
        """The ports served now: the pool's sockets adopted by the running tree."""
        adopted = {fileno for fileno, *_ in self.reactor.adoptedPorts}
        return {listener.address()[1] for listener in self.supervisor.listeners.listeners()
                if listener.fileno() in adopted}

    def test_restart_waits_for_the_lock_on_the_reactor_clock(self) -> None:
        first = self.supervisor.gateway
        moved = self.plan_in("moved", self.second_port)
        holder = self.lock_of(moved)  # the previous owner of that config, on its way out
        self.assertTrue(holder.try_acquire())
        self.next_plans.append(moved)  # with --force, which a restart must not act on
        self.supervisor.request_restart("config change (gateway.port)")
        self.reactor.advance(0)
        self.assertFalse(first.running)
        self.assertIsNotNone(self.supervisor.restarting)
        self.reactor.advance(2.0)
        self.assertEqual(self.supervisor.generation, 1)
        holder.release()
        self.reactor.advance(0.1)
        gateway = self.supervisor.gateway
        self.assertIsNot(gateway, first)
        self.assertEqual((self.supervisor.generation, gateway.plan.port), (2, self.second_port))
        self.assertTrue(gateway.running)
        self.assertFalse(gateway.plan.options.force)
        self.assertIs(gateway.parent, self.supervisor)
        self.assertEqual(list(self.supervisor), [gateway])
        self.assertIs(self.supervisor.getServiceNamed("gateway"), gateway)
        self.assertIn(self.second_port, self.listening_ports())
        self.assertFalse(self.lock_of(moved).try_acquire())  # the new tree holds it
        self.assertIsNone(self.supervisor.restarting)

    def test_lock_still_held_after_the_wait_falls_back_to_the_previous_plan(self) -> None:
        moved = self.plan_in("moved", self.second_port)
        self.assertTrue(self.lock_of(moved).try_acquire())  # never let go
        self.next_plans.append(moved)
        with capturedLogs() as events:
            self.supervisor.request_restart("config change (gateway.port)")
            self.reactor.advance(0)
            self.reactor.advance(4.9)
            self.assertEqual(self.supervisor.generation, 1)
            self.reactor.advance(0.1)
        gateway = self.supervisor.gateway
        self.assertEqual((self.supervisor.generation, gateway.plan.port), (2, self.first_port))
        self.assertTrue(gateway.running)
        self.assertFalse(self.reactor.hasStopped)
        messages = [formatEvent(event) for event in events]
        self.assertIn(
            f"gateway restart failed: gateway already running (pid {os.getpid()}); lock timeout "
            "after 5000ms; starting again with the previous config", messages)

    def test_restart_with_a_free_lock_needs_no_clock(self) -> None:
        self.next_plans.append(self.plan)
        self.supervisor.request_restart("signal SIGUSR1")
        self.reactor.advance(0)
        self.assertEqual(self.supervisor.generation, 2)
        self.assertIsNone(self.supervisor.restarting)
        self.assertEqual(len(list(self.supervisor)), 1)
