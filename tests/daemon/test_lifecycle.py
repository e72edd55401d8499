"""`openclaw gateway install|start|stop|restart|uninstall` end to end.

systemd: against tests.daemon.fake_systemd, a `systemctl --user` stand-in that really runs the
installed unit's ExecStart (so a real gateway answers), and against a host without a user bus
(what this CI machine has). launchd/schtasks: the command sequences, with a scripted runner.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence

from twisted.trial.unittest import SynchronousTestCase

from openclaw.daemon import ServiceActionError
from openclaw.daemon.launchd import LaunchAgentService
from openclaw.daemon.runner import CommandResult
from openclaw.daemon.schtasks import ScheduledTaskService
from openclaw.daemon.spec import ServiceSpec
from openclaw.daemon.systemd import SystemdUserService, render_unit
from tests.cli.helpers import make_env, run_cli, temp_dir
from tests.daemon.fake_systemd import kill_started, read_state
from tests.support import REPO_ROOT, free_port, http_get, write_config


def wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_get(f"http://127.0.0.1:{port}/readyz", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"nothing ready on port {port}")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class SystemdLifecycleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.env = make_env(temp_dir(), systemd="fake")
        self.env["PYTHONPATH"] = REPO_ROOT  # the unit's python must find this checkout
        self.state = self.env["FAKE_SYSTEMD_STATE"]
        self.addCleanup(kill_started, self.state)
        self.port = free_port()
        write_config(self.env, {"gateway": {"mode": "local", "port": self.port,
                                            "auth": {"token": "svc-token"}}})
        self.unit = os.path.join(self.env["HOME"], ".config", "systemd", "user",
                                 "openclaw-gateway.service")

    def main_pid(self) -> int:
        return int(read_state(self.state)["pids"]["openclaw-gateway.service"])

    def test_full_lifecycle(self) -> None:
        installed = run_cli(["gateway", "install", "--json"], self.env)
        self.assertEqual(installed.code, 0, installed.out + installed.err)
        report = installed.json()
        self.assertEqual((report["action"], report["ok"], report["result"]),
                         ("install", True, "installed"))
        self.assertEqual(report["service"], {"label": "systemd", "loaded": True,
                                             "loadedText": "enabled",
                                             "notLoadedText": "disabled"})
        self.assertIn("Systemd lingering is disabled for", report["warnings"][0])
        with open(self.unit) as f:
            unit = f.read()
        self.assertIn(f" -m openclaw gateway --port {self.port}\n", unit)
        self.assertIn("Restart=always\nRestartSec=5\n", unit)
        self.assertIn("KillMode=control-group\n", unit)
        self.assertIn(f"Environment=OPENCLAW_GATEWAY_PORT={self.port}\n", unit)
        self.assertIn(["enable", "openclaw-gateway.service"], read_state(self.state)["calls"])
        wait_ready(self.port)
        first_pid = self.main_pid()

        status = run_cli(["gateway", "status", "--json"], self.env).json()
        self.assertEqual(status["service"]["label"], "systemd")
        self.assertEqual(status["service"]["targetRole"], "target")
        self.assertEqual(status["service"]["runtime"]["pid"], first_pid)
        self.assertEqual(status["gateway"]["portSource"], "service args")
        self.assertTrue(status["rpc"]["ok"])
        text = run_cli(["gateway", "status"], self.env).out
        self.assertIn("Service: systemd (enabled)\n", text)
        self.assertIn(f"Runtime: running (pid {first_pid}, state active, sub running)\n", text)
        self.assertIn(f"Service file: {self.unit}\n", text)

        again = run_cli(["gateway", "install"], self.env)
        self.assertEqual((again.code, again.out), (0, "Gateway service already enabled.\n"
                                                      "Reinstall with: openclaw gateway install "
                                                      "--force\n"))
        started = run_cli(["gateway", "start"], self.env)
        self.assertEqual((started.code, started.out),
                         (0, f"Gateway service already running (pid {first_pid}).\n"))

        restarted = run_cli(["gateway", "restart"], self.env)
        self.assertEqual(restarted.code, 0, restarted.err)
        self.assertIn("Restarted systemd service: openclaw-gateway.service\n", restarted.out)
        self.assertRegex(restarted.out, rf"Gateway ready on port {self.port} \([\d.]+s\)\.")
        self.assertIn(f"Waiting for the gateway on port {self.port} to be ready", restarted.err)
        self.assertNotEqual(self.main_pid(), first_pid)
        self.assertFalse(pid_alive(first_pid))

        pid = self.main_pid()
        stopped = run_cli(["gateway", "stop"], self.env)
        self.assertEqual((stopped.code, stopped.out),
                         (0, "Stopped systemd service: openclaw-gateway.service\n"))
        self.assertFalse(pid_alive(pid))
        disabled = run_cli(["gateway", "stop", "--disable", "--json"], self.env).json()
        self.assertEqual((disabled["result"], disabled["service"]["loaded"]), ("stopped", False))
        noop = run_cli(["gateway", "stop"], self.env)
        self.assertEqual((noop.code, noop.out), (0, "Gateway service disabled.\n"))

        restarted_after_disable = run_cli(["gateway", "start"], self.env)
        self.assertEqual(restarted_after_disable.code, 0, restarted_after_disable.err)
        self.assertEqual(restarted_after_disable.out,
                         "Started systemd service: openclaw-gateway.service\n")
        wait_ready(self.port)
        self.assertEqual(run_cli(["daemon", "status", "--json"], self.env).json()["service"][
            "loaded"], True)

        pid = self.main_pid()
        removed = run_cli(["gateway", "uninstall"], self.env)
        self.assertEqual((removed.code, removed.out),
                         (0, f"Removed systemd service: {self.unit}\n"))
        self.assertFalse(os.path.exists(self.unit))
        self.assertFalse(pid_alive(pid))
        missing = run_cli(["gateway", "start"], self.env)
        self.assertEqual(missing.code, 1)
        self.assertEqual(missing.err, "Gateway service disabled.\n")
        self.assertEqual(missing.out, "Tip: openclaw gateway install\nTip: openclaw gateway "
                                      "start\nTip: systemctl --user start "
                                      "openclaw-gateway.service\n")

    def test_socket_activation_install_and_uninstall(self) -> None:
        installed = run_cli(["gateway", "install", "--socket-activation", "--json"], self.env)
        self.assertEqual(installed.code, 0, installed.out + installed.err)
        socket_unit = self.unit[:-len(".service")] + ".socket"
        with open(socket_unit) as f:
            self.assertIn(f"\nListenStream=127.0.0.1:{self.port}\n", f.read())
        with open(self.unit) as f:
            unit = f.read()
        self.assertIn("\nRequires=openclaw-gateway.socket\n", unit)
        self.assertIn("\nType=notify\n", unit)
        calls = read_state(self.state)["calls"]
        self.assertLess(calls.index(["stop", "openclaw-gateway.service"]),
                        calls.index(["restart", "openclaw-gateway.socket"]))
        self.assertLess(calls.index(["restart", "openclaw-gateway.socket"]),
                        calls.index(["restart", "openclaw-gateway.service"]))
        self.assertIn(["enable", "openclaw-gateway.socket"], calls)
        wait_ready(self.port)
        # Reinstalled without the flag: the socket unit goes away.
        plain = run_cli(["gateway", "install", "--force"], self.env)
        self.assertEqual(plain.code, 0, plain.err)
        self.assertIn(f"Removed systemd socket: {socket_unit}\n", plain.out)
        self.assertFalse(os.path.exists(socket_unit))
        run_cli(["gateway", "install", "--force", "--socket-activation"], self.env)
        removed = run_cli(["gateway", "uninstall"], self.env)
        self.assertEqual(removed.out, f"Removed systemd socket: {socket_unit}\n"
                                      f"Removed systemd service: {self.unit}\n")
        calls = read_state(self.state)["calls"]
        self.assertLess(calls.index(["disable", "--now", "openclaw-gateway.socket"]),
                        calls.index(["disable", "--now", "openclaw-gateway.service"]))

    def write_unit(self, code: str) -> None:
        spec = ServiceSpec("OpenClaw Gateway",
                           (sys.executable, "-c", code, "--port", str(self.port)),
                           {"OPENCLAW_SERVICE_MARKER": "openclaw"})
        os.makedirs(os.path.dirname(self.unit), exist_ok=True)
        with open(self.unit, "w") as f:
            f.write(render_unit(spec))
        state = read_state(self.state)
        state["enabled"] = ["openclaw-gateway.service"]  # as `systemctl --user enable` would
        with open(self.state, "w") as f:
            json.dump(state, f)

    def test_restart_still_starting_exits_2(self) -> None:
        self.write_unit("import time; time.sleep(60)")
        result = run_cli(["gateway", "restart", "--wait", "1500ms", "--json"], self.env)
        self.assertEqual(result.code, 2, result.out)
        report = result.json()
        self.assertEqual((report["ok"], report["result"]), (False, "still-starting"))
        self.assertIn("Run openclaw gateway status --deep.", report["error"])

    def test_restart_health_failed_exits_1(self) -> None:
        self.write_unit("raise SystemExit(3)")
        result = run_cli(["gateway", "restart", "--json"], self.env)
        self.assertEqual(result.code, 1, result.out)
        report = result.json()
        self.assertEqual((report["action"], report["ok"], report["result"]),
                         ("restart", False, "restart-health-failed"))
        self.assertEqual(report["error"], "Gateway did not become healthy after restart.")

    def test_restart_refuses_invalid_config(self) -> None:
        self.write_unit("raise SystemExit(0)")
        write_config(self.env, '{"gateway": {"port": "x"}}')
        result = run_cli(["gateway", "restart"], self.env)
        self.assertEqual(result.code, 1)
        self.assertTrue(result.err.startswith("Gateway aborted: config is invalid.\n"))


class SystemdUnavailableTests(SynchronousTestCase):
    """A host without a systemd user bus: clear reports, exit 1, nothing half-done."""

    def setUp(self) -> None:
        self.env = make_env(temp_dir())  # systemctl answers "Failed to connect to bus"
        write_config(self.env, {"gateway": {"mode": "local", "port": free_port()}})

    def test_control_commands_report_the_manager_absent(self) -> None:
        for verb in ("start", "stop", "restart"):
            result = run_cli(["gateway", verb], self.env)
            self.assertEqual(result.code, 1, verb)
            self.assertEqual(result.err, "Gateway service check failed: systemctl --user "
                                         "unavailable: Failed to connect to bus: No medium "
                                         "found\n")
            self.assertIn("Tip: systemd user services are unavailable;", result.out)

    def test_install_writes_the_unit_and_fails_clearly(self) -> None:
        result = run_cli(["gateway", "install", "--json"], self.env)
        self.assertEqual(result.code, 1)
        report = result.json()
        self.assertEqual(report["error"], "Gateway install failed: systemctl --user unavailable: "
                                          "Failed to connect to bus: No medium found")
        self.assertTrue(any("loginctl enable-linger" in hint for hint in report["hints"]))
        unit = os.path.join(self.env["HOME"], ".config", "systemd", "user",
                            "openclaw-gateway.service")
        self.assertTrue(os.path.exists(unit))


class Recorder:
    """A scripted CommandRunner: records argv, answers from a table of prefixes."""

    def __init__(self, answers: dict[tuple[str, ...], CommandResult] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        self.calls.append(list(argv))
        for prefix, result in self.answers.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return result
        return CommandResult(0, "", "")


class SystemUnitConflictTests(SynchronousTestCase):
    def test_refuses_user_unit_next_to_system_unit(self) -> None:
        home = self.mktemp()
        system_dir = self.mktemp()
        os.makedirs(system_dir)
        with open(os.path.join(system_dir, "openclaw-gateway-work.service"), "w") as f:
            f.write("[Service]\nExecStart=/usr/bin/openclaw gateway\n")
        env = {"HOME": home, "OPENCLAW_PROFILE": "work"}
        spec = ServiceSpec("OpenClaw Gateway", ("/bin/true",))
        runner = Recorder()
        manager = SystemdUserService(env, runner, system_unit_dirs=[system_dir])
        with self.assertRaises(ServiceActionError) as caught:
            manager.install(spec, [])
        self.assertIn("System-level OpenClaw gateway service detected", str(caught.exception))
        self.assertIn("OPENCLAW_SERVICE_REPAIR_POLICY=external", str(caught.exception))
        self.assertFalse(os.path.exists(manager.definition_path))
        self.assertEqual(runner.calls, [])
        external = SystemdUserService(dict(env, OPENCLAW_SERVICE_REPAIR_POLICY="external"),
                                      runner, system_unit_dirs=[system_dir])
        out: list[str] = []
        external.install(spec, out)
        self.assertEqual(out, [f"Installed systemd service: {external.definition_path}"])
        self.assertEqual([c[2:] for c in runner.calls], [
            ["daemon-reload"], ["enable", "openclaw-gateway-work.service"],
            ["restart", "openclaw-gateway-work.service"]])


class SocketAddressesTests(SynchronousTestCase):
    def test_the_addresses_the_gateway_would_bind(self) -> None:
        from openclaw.cli.gateway_service import socket_addresses

        self.assertEqual(socket_addresses("loopback", None, 18789), ("127.0.0.1:18789",))
        self.assertEqual(socket_addresses("lan", None, 1), ("0.0.0.0:1",))
        self.assertEqual(socket_addresses("custom", "10.1.2.3", 5),
                         ("10.1.2.3:5", "127.0.0.1:5"))
        with self.assertRaises(ValueError):
            socket_addresses("custom", None, 5)


class LaunchdControlTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.home = self.mktemp()
        self.runner = Recorder({("launchctl", "print"): CommandResult(
            0, "state = running\n\tpid = 4242\n\tlast exit code = 0\n")})
        self.manager = LaunchAgentService({"HOME": self.home, "OPENCLAW_PROFILE": "work"},
                                          self.runner)
        self.target = f"gui/{os.getuid()}/ai.openclaw.work"

    def test_install_writes_plist_and_bootstraps(self) -> None:
        spec = ServiceSpec("OpenClaw Gateway", ("/usr/bin/python3", "-m", "openclaw", "gateway"),
                           stdout_path=os.path.join(self.home, "logs", "gateway.log"))
        out: list[str] = []
        self.manager.install(spec, out)
        plist = os.path.join(self.home, "Library", "LaunchAgents", "ai.openclaw.work.plist")
        self.assertTrue(os.path.exists(plist))
        self.assertEqual(self.runner.calls[-1],
                         ["launchctl", "bootstrap", f"gui/{os.getuid()}", plist])
        runtime = self.manager.read_runtime()
        self.assertEqual((runtime.status, runtime.pid), ("running", 4242))

    def test_stop_is_bootout_and_disable_persists(self) -> None:
        self.manager.stop([])
        self.assertEqual(self.runner.calls, [["launchctl", "bootout", self.target]])
        self.runner.calls.clear()
        self.manager.stop([], disable=True)
        self.assertEqual(self.runner.calls, [["launchctl", "disable", self.target],
                                             ["launchctl", "bootout", self.target]])
        self.runner.calls.clear()
        self.manager.start([])
        self.assertEqual(self.runner.calls[0], ["launchctl", "enable", self.target])

    def test_restart_is_kickstart(self) -> None:
        self.manager.restart([])
        self.assertIn(["launchctl", "kickstart", "-k", self.target], self.runner.calls)


class SchtasksControlTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.home = self.mktemp()
        self.state = os.path.join(self.home, ".openclaw")
        self.env = {"HOME": self.home, "APPDATA": os.path.join(self.home, "AppData"),
                    "USERNAME": "al", "USERDOMAIN": "WORKGROUP"}
        self.spec = ServiceSpec("OpenClaw Gateway", ("C:\\py\\python.exe", "-m", "openclaw",
                                                     "gateway", "--port", "18789"))

    def test_install_creates_task_from_xml_and_runs_it(self) -> None:
        runner = Recorder()
        manager = ScheduledTaskService(self.env, runner, state_dir=self.state)
        out: list[str] = []
        manager.install(self.spec, out)
        self.assertEqual(runner.calls[0][:5], ["schtasks", "/Create", "/F", "/TN",
                                               "OpenClaw Gateway"])
        self.assertEqual(runner.calls[0][5], "/XML")
        self.assertEqual(runner.calls[1], ["schtasks", "/Run", "/TN", "OpenClaw Gateway"])
        with open(os.path.join(self.state, "gateway.cmd"), "rb") as f:
            self.assertIn(b"\r\n", f.read())

    def test_access_denied_falls_back_to_startup_folder(self) -> None:
        runner = Recorder({("schtasks", "/Create"): CommandResult(
            1, "", "ERROR: Access is denied.")})
        manager = ScheduledTaskService(self.env, runner, state_dir=self.state)
        out: list[str] = []
        manager.install(self.spec, out)
        entry = os.path.join(self.env["APPDATA"], "Microsoft", "Windows", "Start Menu",
                             "Programs", "Startup", "OpenClaw Gateway.cmd")
        self.assertEqual(out, [f"Installed Startup-folder login item: {entry}"])
        with open(entry) as f:
            self.assertIn('start "" /min', f.read())
        self.assertTrue(manager.is_loaded())

    def test_runtime_from_last_run_result(self) -> None:
        runner = Recorder({("schtasks", "/Query"): CommandResult(
            0, "TaskName: \\OpenClaw Gateway\nLast Run Result: 0x41301\n")})
        manager = ScheduledTaskService(self.env, runner, state_dir=self.state)
        self.assertEqual(manager.read_runtime().status, "running")
        runner.answers = {("schtasks", "/Query"): CommandResult(0, "Last Run Result: 0x1\n")}
        runtime = manager.read_runtime()
        self.assertEqual((runtime.status, runtime.detail),
                         ("stopped", "Task Last Run Result=0x1; treating as not running."))
