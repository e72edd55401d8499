"""Two profiles side by side: the default one and ``--profile <name>``.

Each is set up, installed as a (fake) systemd user service -- which really starts its
gateway -- and then its ``status``, ``health``, ``gateway call`` and ``gateway status`` reach
that profile's own gateway on that profile's own port: the default profile's ``gateway.port``,
the named profile's stable derived port (no ``gateway.port``, no ``OPENCLAW_GATEWAY_PORT``).
"""

from __future__ import annotations

import json
import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config.profile_port import profile_port
from tests.cli.helpers import run_cli, temp_dir
from tests.daemon.fake_systemd import install_fake_systemd, kill_started
from tests.daemon.test_lifecycle import wait_ready
from tests.support import REPO_ROOT, free_port


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_profile_name() -> str:
    """A profile whose derived port nothing listens on right now."""
    for index in range(50):
        name = "rescue" if index == 0 else f"rescue{index}"
        if port_free(profile_port(name)):
            return name
    raise AssertionError("no free derived profile port")


class TwoProfilesTests(SynchronousTestCase):
    def setUp(self) -> None:
        base = temp_dir()
        home = os.path.join(base, "home")
        os.makedirs(home)
        # no OPENCLAW_* at all: the profile flag alone decides state dir, config and port
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))}
        self.env.update(HOME=home, NO_COLOR="1", PYTHONPATH=REPO_ROOT)
        self.state = install_fake_systemd(base, self.env)
        self.env["FAKE_SYSTEMD_STATE"] = self.state
        self.addCleanup(kill_started, self.state)
        self.home = home

    def cli(self, profile: list[str], *argv: str) -> tuple[int, str, str]:
        run = run_cli([*profile, *argv], self.env)
        return run.code, run.out, run.err

    def test_each_profile_uses_its_own_port_everywhere(self) -> None:
        name = free_profile_name()
        default_port = free_port()
        profiles = {(): (default_port, os.path.join(self.home, ".openclaw"),
                         "openclaw-gateway.service"),
                    ("--profile", name): (profile_port(name),
                                          os.path.join(self.home, f".openclaw-{name}"),
                                          f"openclaw-gateway-{name}.service")}
        for flags, (port, _state_dir, unit) in profiles.items():
            code, out, err = self.cli(list(flags), "setup")
            self.assertEqual(code, 0, err)
            if not flags:
                code, _, err = self.cli([], "config", "set", "gateway.port", str(port))
                self.assertEqual(code, 0, err)
            code, out, err = self.cli(list(flags), "gateway", "install", "--json")
            self.assertEqual(code, 0, out + err)
            with open(os.path.join(self.home, ".config", "systemd", "user", unit)) as f:
                text = f.read()
            self.assertIn(f" gateway --port {port}\n", text)
            self.assertIn(f"Environment=OPENCLAW_GATEWAY_PORT={port}\n", text)
            wait_ready(port)

        for flags, (port, state_dir, _unit) in profiles.items():
            code, out, err = self.cli(list(flags), "status")
            self.assertEqual(code, 0, err)
            self.assertIn(f"ws://127.0.0.1:{port} (local loopback) · reachable", out)
            self.assertIn(f"http://127.0.0.1:{port}/", out)
            code, out, err = self.cli(list(flags), "gateway", "status", "--json")
            status = json.loads(out)
            self.assertEqual(status["gateway"]["port"], port, out)
            self.assertTrue(status["rpc"]["ok"], out)
            code, out, err = self.cli(list(flags), "health", "--json")
            self.assertEqual(code, 0, err)
            health = json.loads(out)
            self.assertTrue(health["sessions"]["path"].startswith(state_dir + os.sep), out)
            code, out, err = self.cli(list(flags), "gateway", "call", "health", "--json")
            self.assertEqual(code, 0, err)
            code, out, err = self.cli(list(flags), "dashboard", "--json")
            self.assertEqual(code, 0, err)
            self.assertIn(f"http://127.0.0.1:{port}/#token=", out)
