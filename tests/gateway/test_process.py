"""A real gateway process: start, probes, refusals, signals, --force, twistd, file log."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.support import (
    GatewayProcess,
    free_port,
    http_get,
    isolated_env,
    write_config,
)

TOKEN = "process-test-token-1234"


class GatewayProcessTests(SynchronousTestCase):
    def start(self, env=None, args=(), command=None) -> tuple[GatewayProcess, int]:
        env = env or self.make_env()
        port = free_port()
        gateway = GatewayProcess(env, ["--port", str(port), *args], command=command).start()
        self.addCleanup(gateway.kill)
        gateway.wait_healthy(port)
        return gateway, port

    def make_env(self, config=None):
        env = isolated_env(self.mktemp())
        write_config(env, config or {"gateway": {"mode": "local", "auth": {"token": TOKEN}}})
        return env

    def test_serves_healthz_and_stops_on_sigterm(self) -> None:
        gateway, port = self.start()
        status, headers, body = http_get(f"http://127.0.0.1:{port}/healthz")
        self.assertEqual((status, json.loads(body)), (200, {"ok": True, "status": "live"}))
        status, _, body = http_get(f"http://127.0.0.1:{port}/readyz")
        self.assertEqual((status, json.loads(body)["ready"]), (200, True))
        code, out, err, took = gateway.terminate(signal.SIGTERM)
        self.assertEqual(code, 0, err)
        self.assertLess(took, 5.0)
        self.assertIn(f"listening on ws://127.0.0.1:{port}", out)
        self.assertNotIn("Traceback", out + err)

    def test_sigint_exits_zero(self) -> None:
        gateway, _ = self.start()
        code, _, err, took = gateway.terminate(signal.SIGINT)
        self.assertEqual(code, 0, err)
        self.assertLess(took, 5.0)

    def test_sigint_stops_a_gateway_started_with_sigint_ignored(self) -> None:
        # a shell starts background jobs (`openclaw gateway &`) with SIGINT ignored; the
        # ignored disposition survives exec
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        # twistd re-raises the signal once shut down cleanly (see the twistd test below)
        for command, clean_exits in (([sys.executable, "-m", "openclaw", "gateway"], (0,)),
                                     ([twistd, "--nodaemon", "--pidfile=", "openclaw"],
                                      (0, -signal.SIGINT))):
            shell = ["sh", "-c", "trap '' INT; exec \"$@\"", "sh", *command]
            gateway, _ = self.start(command=shell)
            code, out, err, _ = gateway.terminate(signal.SIGINT)
            self.assertIn(code, clean_exits, err)
            self.assertIn("gateway stopping", out)

    def test_second_gateway_on_same_port_refused(self) -> None:
        first, port = self.start()
        second = GatewayProcess(self.make_env(), ["--port", str(port)]).start()
        code, out, err = second.run_to_exit()
        self.assertEqual(code, 1)
        self.assertIn(
            f"Gateway failed to start: another gateway instance is already listening on "
            f"ws://127.0.0.1:{port}\n",
            err,
        )
        self.assertNotIn("Traceback", out + err)
        # The first one is unaffected.
        self.assertEqual(http_get(f"http://127.0.0.1:{port}/healthz")[0], 200)

    def test_second_gateway_on_same_config_is_locked_out(self) -> None:
        env = self.make_env()
        first, _ = self.start(env)
        second = GatewayProcess(env, ["--port", str(free_port())]).start()
        code, out, err = second.run_to_exit(timeout=30)
        self.assertEqual(code, 78)
        self.assertIn(f"gateway already running (pid {first.proc.pid}); lock timeout after 5000ms",
                      err)

    def test_force_frees_port_from_stale_listener(self) -> None:
        port = free_port()
        squatter = subprocess.Popen([
            sys.executable, "-c",
            "import socket,time,signal\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"  # forces the SIGKILL escalation
            f"s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('127.0.0.1',{port})); s.listen(); print('up', flush=True); time.sleep(60)",
        ], stdout=subprocess.PIPE)
        self.addCleanup(squatter.kill)
        squatter.stdout.readline()
        gateway = GatewayProcess(self.make_env(), ["--port", str(port), "--force"]).start()
        self.addCleanup(gateway.kill)
        gateway.wait_healthy(port)
        self.assertIsNotNone(squatter.wait(timeout=5))
        code, out, err, _ = gateway.terminate()
        self.assertIn(f"force: killed pid {squatter.pid}", out)
        self.assertIn(f"force: escalated to SIGKILL while freeing port {port}", out)

    def test_file_log_is_json_lines_without_secrets(self) -> None:
        env = self.make_env()
        gateway, port = self.start(env, args=["--verbose"])
        gateway.terminate()
        files = glob.glob(os.path.join(env["OPENCLAW_STATE_DIR"], "logs", "openclaw-*.log"))
        self.assertEqual(len(files), 1)
        with open(files[0], encoding="utf-8") as f:
            text = f.read()
        records = [json.loads(line) for line in text.splitlines()]
        messages = [r["0"] for r in records]
        self.assertIn(f"listening on ws://127.0.0.1:{port}", messages)
        for record in records:
            self.assertEqual(set(record), {"0", "_meta", "time"})
            self.assertIn(record["_meta"]["logLevelName"], ("INFO", "WARN", "DEBUG"))
        (listening,) = [r for r in records if r["0"].startswith("listening on ws://127")]
        self.assertEqual(json.loads(listening["_meta"]["name"]), {"subsystem": "gateway"})
        self.assertNotIn(TOKEN, text)
        self.assertEqual(os.stat(files[0]).st_mode & 0o777, 0o600)

    def test_twistd_plugin_runs_the_same_gateway(self) -> None:
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        env = self.make_env()
        gateway, port = self.start(
            env, command=[twistd, "--nodaemon", "--pidfile=", "openclaw"]
        )
        code, out, err, took = gateway.terminate()
        # twistd re-raises the terminating signal once shut down cleanly (systemd's
        # SuccessExitStatus=143 covers it); `openclaw gateway` exits 0 instead.
        self.assertIn(code, (0, -signal.SIGTERM), err)
        self.assertIn("Server Shut Down.", out)
        self.assertIn(f"listening on ws://127.0.0.1:{port}", out)

    def test_twistd_refusal_exits_non_zero(self) -> None:
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        env = isolated_env(self.mktemp())
        proc = GatewayProcess(env, ["--port", "abc"], command=[
            twistd, "--nodaemon", "--pidfile=", "openclaw"]).start()
        code, out, err = proc.run_to_exit()
        self.assertEqual(code, 1)
        self.assertIn("Invalid --port. Use a port number from 1 to 65535", err)
        self.assertNotIn("Traceback", out + err)


class BadInputTests(SynchronousTestCase):
    """Each bad input: one clear message, non-zero exit, no traceback."""

    def run_gateway(self, config, args=(), **env_extra) -> tuple[int, str]:
        env = isolated_env(self.mktemp(), **env_extra)
        if config is not None:
            write_config(env, config)
        code, out, err = GatewayProcess(env, list(args)).start().run_to_exit()
        self.assertNotIn("Traceback", out + err)
        return code, err

    def test_config_syntax_error(self) -> None:
        code, err = self.run_gateway('{ gateway: { mode: "local" ')
        self.assertEqual(code, 78)
        self.assertIn("Invalid config at", err)

    def test_include_cycle(self) -> None:
        env = isolated_env(self.mktemp())
        base = os.path.dirname(env["OPENCLAW_CONFIG_PATH"])
        with open(os.path.join(base, "a.json5"), "w") as f:
            f.write('{ "$include": "./a.json5" }')
        write_config(env, '{ gateway: { mode: "local" }, agents: { "$include": "./a.json5" } }')
        code, out, err = GatewayProcess(env, []).start().run_to_exit()
        self.assertEqual(code, 78)
        self.assertIn("Circular include detected", err)
        self.assertNotIn("Traceback", out + err)

    def test_missing_env_var(self) -> None:
        code, err = self.run_gateway(
            '{ gateway: { mode: "local", auth: { token: "${NOT_SET_X}" } } }'
        )
        self.assertEqual(code, 78)
        self.assertIn('Missing env var "NOT_SET_X"', err)

    def test_negative_port(self) -> None:
        code, err = self.run_gateway({"gateway": {"mode": "local", "port": -1}})
        self.assertEqual(code, 78)
        self.assertIn("gateway.port", err)

    def test_non_numeric_env_port(self) -> None:
        code, err = self.run_gateway({"gateway": {"mode": "local"}}, OPENCLAW_GATEWAY_PORT="x1")
        self.assertEqual(code, 78)
        self.assertIn('Invalid OPENCLAW_GATEWAY_PORT "x1"', err)

    def test_unknown_flag(self) -> None:
        code, err = self.run_gateway({"gateway": {"mode": "local"}}, args=["--prot", "1"])
        self.assertEqual(code, 1)
        self.assertIn("Usage: openclaw gateway", err)

    def test_refusal_wording_non_loopback(self) -> None:
        code, err = self.run_gateway({"gateway": {"mode": "local"}}, args=["--bind", "lan"])
        self.assertEqual(code, 78)
        self.assertTrue(err.startswith("Refusing to bind gateway to lan without auth."))


