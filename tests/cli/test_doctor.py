"""`openclaw doctor [--fix]`: what it finds, what it repairs, what it leaves to the operator."""

from __future__ import annotations

import json
import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from openclaw.daemon import build_gateway_spec
from openclaw.daemon.systemd import render_unit
from tests.cli.helpers import (
    LiveGateway,
    make_env,
    mode_of,
    run_cli,
    shared_gateway,
    start_all,
    temp_dir,
)
from tests.support import free_port, write_config


def doctor(env: dict[str, str], *flags: str) -> tuple[int, dict[str, object], str]:
    """(exit code, the --json report, every line of it joined) of `openclaw doctor`."""
    result = run_cli(["doctor", *flags, "--json"], env)
    report = result.json()
    lines = [line for section in report["sections"].values() for line in section]
    return result.code, report, "\n".join(lines + report["changes"])


class DoctorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.env = make_env(temp_dir())
        self.port = free_port()
        self.config = write_config(self.env, {"gateway": {"mode": "local", "port": self.port,
                                                          "auth": {"token": "t0ken"}}})
        os.chmod(self.env["OPENCLAW_STATE_DIR"], 0o700)

    def test_fix_tightens_a_0644_config(self) -> None:
        state = self.env["OPENCLAW_STATE_DIR"]
        os.chmod(self.config, 0o644)
        os.chmod(state, 0o755)
        before = run_cli(["doctor"], self.env)
        self.assertEqual(before.code, 1)
        self.assertIn("◇  State integrity ─", before.out)
        self.assertIn("Config file is group/world readable", before.out)
        code, report, _ = doctor(self.env)
        self.assertIn(f"- Config file is group/world readable ({self.config}). Recommend "
                      "chmod 600.", report["sections"]["State integrity"])
        self.assertIn(f"- State directory permissions are too open ({state}). Recommend "
                      "chmod 700.", report["sections"]["State integrity"])
        self.assertEqual(mode_of(self.config), 0o644)  # no --fix: nothing changed

        fixed = run_cli(["doctor", "--fix"], self.env)
        self.assertEqual(fixed.code, 0, fixed.out)
        self.assertIn("◇  Doctor changes ─", fixed.out)
        self.assertIn("Tightened permissions on", fixed.out)
        self.assertEqual((mode_of(self.config), mode_of(state)), (0o600, 0o700))
        os.chmod(self.config, 0o644)
        os.chmod(state, 0o755)
        code, report, _ = doctor(self.env, "--fix")
        self.assertEqual(report["changes"], [f"- Tightened permissions on {state} to 700",
                                             f"- Tightened permissions on {self.config} to 600"])
        self.assertEqual(code, 0)
        self.assertIn("└  Doctor complete.", run_cli(["doctor"], self.env).out)

    def test_invalid_config_is_listed(self) -> None:
        write_config(self.env, '{"gateway": {"mode": "local", "port": "x", "bogus": 1}}')
        os.chmod(self.config, 0o600)
        code, report, text = doctor(self.env, "--fix")
        self.assertEqual(code, 1)
        self.assertIn(f"- Invalid config at {self.config}:", text)
        self.assertIn("- gateway.port: Invalid input: expected number, received string", text)
        self.assertIn('- gateway: Unrecognized key: "bogus"', text)

    def test_missing_config_and_token_generation(self) -> None:
        os.unlink(self.config)
        self.assertIn("Config missing", doctor(self.env)[2])
        write_config(self.env, {"gateway": {"mode": "local", "port": self.port}})
        os.chmod(self.config, 0o600)
        self.assertIn("doctor --generate-gateway-token", doctor(self.env)[2])
        _, report, _ = doctor(self.env, "--generate-gateway-token")
        self.assertEqual(report["changes"], ["- Generated gateway.auth.token"])
        with open(self.config) as f:
            self.assertEqual(len(json.load(f)["gateway"]["auth"]["token"]), 48)

    def test_legacy_keys_migrated_with_fix(self) -> None:
        write_config(self.env, {"gateway": {"mode": "local", "port": self.port,
                                            "auth": {"token": "t"}},
                                "agents": {"list": [{"id": "ops", "default": True}]}})
        os.chmod(self.config, 0o600)
        self.assertIn('Moved legacy config key "agents.list"', doctor(self.env)[2])
        _, report, _ = doctor(self.env, "--fix")
        self.assertEqual(report["changes"],
                         ['- Moved legacy config key "agents.list" to "agents.entries"'])
        with open(self.config) as f:
            self.assertEqual(list(json.load(f)["agents"]), ["entries"])

    def test_port_taken_by_another_program(self) -> None:
        os.chmod(self.config, 0o600)
        squatter = socket.socket()
        squatter.bind(("127.0.0.1", self.port))
        squatter.listen(1)
        self.addCleanup(squatter.close)
        code, _, text = doctor(self.env)
        self.assertEqual(code, 1)
        self.assertIn(f"- Port {self.port} is taken by another program", text)

    def test_running_gateway_is_probed(self) -> None:
        gateway = shared_gateway()
        result = run_cli(["doctor", "--json"], gateway.client_env())
        lines = result.json()["sections"]["Gateway"]
        self.assertTrue(lines[0].startswith(f"Gateway reachable at {gateway.url}"), lines)

    def test_service_port_drift_repaired(self) -> None:
        os.chmod(self.config, 0o600)
        env = make_env(temp_dir(), systemd="fake")
        env.update({k: self.env[k] for k in ("OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH")})
        unit_dir = os.path.join(env["HOME"], ".config", "systemd", "user")
        unit = os.path.join(unit_dir, "openclaw-gateway.service")
        spec = build_gateway_spec(env, port=self.port + 1, platform="linux",
                                  state_dir=env["OPENCLAW_STATE_DIR"])
        os.makedirs(unit_dir)
        with open(unit, "w") as f:
            f.write(render_unit(spec))
        code, _, text = doctor(env)
        self.assertIn("Gateway service port does not match current gateway config (service "
                      f"{self.port + 1}, config {self.port})", text)
        self.assertEqual(code, 1)
        _, report, _ = doctor(env, "--fix")
        self.assertEqual(report["changes"], [f"- Rewrote {unit} for port {self.port}; apply "
                                             "with openclaw gateway restart"])
        with open(unit) as f:
            self.assertIn(f"--port {self.port}\n", f.read())
        self.assertEqual(doctor(env)[0], 0)

    def test_duplicate_services_reported(self) -> None:
        os.chmod(self.config, 0o600)
        unit_dir = os.path.join(self.env["HOME"], ".config", "systemd", "user")
        os.makedirs(unit_dir)
        for name, port in (("openclaw-gateway.service", self.port),
                           ("openclaw-gateway-copy.service", self.port)):
            with open(os.path.join(unit_dir, name), "w") as f:
                f.write(f"[Service]\nExecStart=/usr/bin/env python3 -m openclaw gateway --port "
                        f"{port}\nEnvironment=OPENCLAW_SERVICE_MARKER=openclaw\n"
                        "Environment=OPENCLAW_SERVICE_KIND=gateway\n")
        code, _, text = doctor(self.env)
        self.assertIn("Other gateway-like services detected (best effort):", text)
        self.assertIn("- openclaw-gateway-copy.service (user, unit: ", text)
        self.assertIn("[same port]", text)
        self.assertEqual(code, 1)

    def test_two_gateways_on_one_state_dir(self) -> None:
        base = temp_dir()
        first = LiveGateway(base_dir=base, env_extra={"OPENCLAW_ALLOW_MULTI_GATEWAY": "1"})
        second = LiveGateway(base_dir=base, env_extra={"OPENCLAW_ALLOW_MULTI_GATEWAY": "1"})
        write_config(second.env, first.config)
        self.addCleanup(first.stop)
        self.addCleanup(second.stop)
        start_all(first, second)
        os.chmod(first.env["OPENCLAW_CONFIG_PATH"], 0o600)
        os.chmod(first.state_dir, 0o700)
        code, _, text = doctor(first.client_env())
        self.assertIn(f"- Multiple gateways share the state dir {first.state_dir}", text)
        self.assertIn(str(first.process.proc.pid), text)
        self.assertIn(str(second.process.proc.pid), text)
        self.assertEqual(code, 1)
