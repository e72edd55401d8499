"""The supervisor's process-level duties on real trees and a MemoryReactorClock: systemd
notifications around start, reloads, restarts and stop; the watchdog; listening sockets kept
across in-process restarts; the re-exec restart and its fallbacks."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.handover import RestartRequest, request_path_for, write_restart_request
from openclaw.gateway.lock import lock_path_for
from openclaw.gateway.notify import SystemdNotifier
from openclaw.gateway.startup import GatewayPlan, GatewayRunOptions, StartupRefused, prepare_gateway
from openclaw.gateway.supervisor import IN_PROCESS, GatewaySupervisor
from openclaw.net import free_loopback_port
from tests.gateway.test_notify import NotifySocket
from tests.support import isolated_env, write_config


class SupervisorOpsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        base = tempfile.mkdtemp(prefix="oc-supervisor-ops-")
        self.addCleanup(shutil.rmtree, base, True)
        self.env = isolated_env(base, WATCHDOG_USEC="4000000",
                                WATCHDOG_PID=str(os.getpid()))
        self.port = free_loopback_port()
        write_config(self.env, {"gateway": {"mode": "local"}})
        self.plan = prepare_gateway(GatewayRunOptions(allow_unconfigured=True,
                                                      port=str(self.port)), self.env)
        self.notify = NotifySocket(self)
        self.env["NOTIFY_SOCKET"] = self.notify.env_value
        self.next_plans: list[Any] = []
        self.executed: list[dict[str, Any]] = []

        def prepare(options: GatewayRunOptions, env: Any) -> GatewayPlan:
            nxt = self.next_plans.pop(0)
            if isinstance(nxt, Exception):
                raise nxt
            return nxt

        def execute(argv: list[str], env: Any, listeners: list[Any]) -> None:
            self.executed.append({"argv": argv, "listeners": list(listeners),
                                  "tree_running": self.supervisor.gateway.running})
            raise OSError(2, "No such file or directory")

        self.supervisor = GatewaySupervisor(
            self.plan, self.reactor, self.env, prepare=prepare, restart_mode=IN_PROCESS,
            install_signals=False, reexec_argv=["/nonexistent/python", "-m", "openclaw"],
            execute=execute)
        self.addCleanup(self.supervisor.notifier.close)
        self.supervisor.privilegedStartService()
        self.supervisor.startService()
        self.addCleanup(self.stop)

    def stop(self) -> None:
        if self.supervisor.running:
            stopping = self.supervisor.stopService()
            self.reactor.advance(10)
            if stopping is not None:
                self.successResultOf(stopping)

    def kinds(self) -> list[str]:
        """The notifications received, by their first key (WATCHDOG pings left out)."""
        return [next(iter(m)) for m in self.notify.received() if "WATCHDOG" not in m]

    def adopted(self) -> list[int]:
        return [fileno for fileno, *_ in self.reactor.adoptedPorts]

    def test_ready_after_start_with_a_status(self) -> None:
        [ready] = [m for m in self.notify.received() if "READY" in m]
        self.assertEqual(ready["STATUS"],
                         f"serving on ws://127.0.0.1:{self.port} (generation 1)")

    def test_in_process_restart_keeps_the_listening_socket(self) -> None:
        self.notify.received()
        [before] = [lst for lst in self.supervisor.listeners.listeners()
                    if lst.address() == ("127.0.0.1", self.port)]
        self.next_plans.append(self.plan)
        self.supervisor.request_restart("signal SIGUSR1")
        self.reactor.advance(0)
        self.assertEqual(self.supervisor.generation, 2)
        # Served again from the very same socket, which kept listening all along.
        [after] = [lst for lst in self.supervisor.listeners.listeners()
                   if lst.address() == ("127.0.0.1", self.port)]
        self.assertIs(after, before)
        self.assertEqual(self.adopted().count(before.fileno()), 2)
        socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        received = self.notify.received()
        restarting = [m for m in received if "RELOADING" in m]
        self.assertEqual([m.get("STATUS") for m in restarting],
                         ["restarting: signal SIGUSR1"])
        self.assertTrue(restarting[0]["MONOTONIC_USEC"].isdigit())
        self.assertEqual([next(iter(m)) for m in received if "WATCHDOG" not in m],
                         ["RELOADING", "READY"])
        self.assertEqual(received[-1]["STATUS"],
                         f"serving on ws://127.0.0.1:{self.port} (generation 2)")

    def test_refused_config_says_ready_again(self) -> None:
        self.notify.received()
        self.next_plans.append(StartupRefused("Invalid config", 1))
        self.supervisor.request_restart("signal SIGUSR1")
        self.reactor.advance(0)
        self.assertEqual(self.supervisor.generation, 1)
        self.assertEqual(self.kinds(), ["RELOADING", "READY"])

    def test_config_reload_is_bracketed(self) -> None:
        self.notify.received()
        runtime = self.supervisor.gateway.config.reload
        with open(self.env["OPENCLAW_CONFIG_PATH"], "w") as handle:
            json.dump({"gateway": {"mode": "local"}, "logging": {"level": "debug"}}, handle)
        self.supervisor._on_sighup("SIGHUP")
        self.reactor.advance(0)
        self.successResultOf(runtime.coordinator.idle)
        self.assertEqual(runtime.coordinator.last_outcome, "applied")
        received = self.notify.received()
        self.assertEqual([m.get("STATUS") for m in received if "RELOADING" in m],
                         ["reloading config (SIGHUP)"])
        self.assertEqual([next(iter(m)) for m in received if "WATCHDOG" not in m],
                         ["RELOADING", "READY"])

    def test_watchdog_pings_on_the_reactor(self) -> None:
        self.assertIsNotNone(self.supervisor.watchdog)
        self.notify.received()
        self.reactor.advance(2.0)
        self.reactor.advance(2.0)
        self.assertEqual([m for m in self.notify.received() if "WATCHDOG" in m],
                         [{"WATCHDOG": "1"}] * 2)

    def test_stop_says_stopping_and_closes_the_sockets(self) -> None:
        self.notify.received()
        self.stop()
        self.assertEqual(self.kinds(), ["STOPPING"])
        self.assertEqual(self.supervisor.listeners.listeners(), [])
        self.assertFalse(self.supervisor.watchdog.running)  # type: ignore[union-attr]
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()

    def test_restart_request_file_asks_for_a_re_exec(self) -> None:
        lock = lock_path_for(self.plan.paths.lock_dir, self.plan.paths.config_path)
        write_restart_request(request_path_for(lock),
                              RestartRequest(pid=os.getpid(), requested_at=time.time()))
        self.next_plans.append(self.plan)
        self.supervisor._on_restart_signal("SIGUSR2")
        self.reactor.advance(0)
        # The tree stopped before the exec, the pool's sockets were handed to it; the exec
        # failed here, so the gateway restarted in-process on the same socket.
        [call] = self.executed
        self.assertFalse(call["tree_running"])
        self.assertEqual({lst.address()[1] for lst in call["listeners"]}, {self.port})
        self.assertEqual(call["argv"], ["/nonexistent/python", "-m", "openclaw"])
        self.assertEqual(self.supervisor.generation, 2)
        self.assertTrue(self.supervisor.gateway.running)
        self.assertFalse(os.path.exists(request_path_for(lock)))

    def test_a_signal_without_a_request_restarts_in_process(self) -> None:
        self.next_plans.append(self.plan)
        self.supervisor._on_restart_signal("SIGUSR2")
        self.reactor.advance(0)
        self.assertEqual((self.executed, self.supervisor.generation), ([], 2))

    def test_re_exec_with_a_refused_config_keeps_serving(self) -> None:
        self.next_plans.append(StartupRefused("Invalid config", 1))
        first = self.supervisor.gateway
        self.supervisor.request_restart("openclaw gateway restart", mode="exec")
        self.reactor.advance(0)
        self.assertEqual(self.executed, [])
        self.assertIs(self.supervisor.gateway, first)
        self.assertTrue(first.running)


class NoNotifySocketTests(SynchronousTestCase):
    def test_without_systemd_nothing_is_set_up(self) -> None:
        base = tempfile.mkdtemp(prefix="oc-supervisor-ops-")
        self.addCleanup(shutil.rmtree, base, True)
        env = isolated_env(base, WATCHDOG_USEC="4000000")
        plan = prepare_gateway(GatewayRunOptions(allow_unconfigured=True, port="1"), env)
        supervisor = GatewaySupervisor(plan, MemoryReactorClock(), env,
                                       install_signals=False)
        self.assertIsInstance(supervisor.notifier, SystemdNotifier)
        self.assertFalse(supervisor.notifier.enabled)
        self.assertIsNone(supervisor.watchdog)
        self.assertEqual(len(supervisor.listeners), 0)


class ActivatedTreeTests(SynchronousTestCase):
    """A tree on a socket systemd passed: served as is, and --force never hunts for the
    port's other holder (systemd itself)."""

    def test_serves_the_passed_socket_and_never_forces(self) -> None:
        from openclaw.gateway import service as service_module
        from openclaw.gateway.listeners import Listener, ListenerPool
        from openclaw.gateway.service import GatewayService

        base = tempfile.mkdtemp(prefix="oc-activated-")
        self.addCleanup(shutil.rmtree, base, True)
        env = isolated_env(base)
        write_config(env, {"gateway": {"mode": "local"}})
        plan = prepare_gateway(GatewayRunOptions(allow_unconfigured=True, port="1",
                                                 force=True), env)
        passed = socket.socket()
        passed.bind(("127.0.0.1", 0))
        passed.listen(8)
        pool = ListenerPool([Listener(passed, "openclaw-gateway.socket")])
        self.addCleanup(pool.close)

        def refuse(port: int) -> None:
            raise AssertionError("--force looked for the port's other holder")

        self.patch(service_module, "force_free_port", refuse)
        reactor = MemoryReactorClock()
        tree = GatewayService(plan, reactor, env=env, use_lock=False, listeners=pool)
        tree.privilegedStartService()
        self.assertEqual([fileno for fileno, *_ in reactor.adoptedPorts], [passed.fileno()])
        self.assertEqual(pool.listeners()[0].sock, passed)
