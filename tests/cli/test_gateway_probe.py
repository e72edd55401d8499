"""`openclaw gateway probe`: every target reported, two profiles' gateways, exit codes."""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.cli.helpers import LiveGateway, make_env, run_cli, shared_gateway, start_all, temp_dir
from tests.support import free_port, write_config


class ProbeTests(SynchronousTestCase):
    def test_local_gateway_reachable(self) -> None:
        gateway = shared_gateway()
        result = run_cli(["gateway", "probe"], gateway.client_env())
        self.assertEqual(result.code, 0, result.err)
        lines = result.out.splitlines()
        self.assertEqual(lines[:4], ["Gateway Status", "Reachable: yes",
                                     "Capability: connected-no-operator-scope",
                                     "Probe budget: 3000ms"])
        self.assertIn(f"Local loopback {gateway.url}", lines)
        self.assertTrue(any(line.startswith("  Connect: ok (") and "Read probe: limited"
                            in line for line in lines))
        probe = run_cli(["gateway", "probe", "--json"], gateway.client_env()).json()
        self.assertEqual(probe["primaryTargetId"], "localLoopback")
        self.assertTrue(probe["ok"])
        self.assertEqual([w["code"] for w in probe["warnings"]], ["probe_scope_limited"])
        target = probe["targets"][0]
        self.assertEqual(target["connect"]["ok"], True)
        self.assertEqual(target["auth"]["capability"], "connected_no_operator_scope")

    def test_nothing_reachable_exits_1(self) -> None:
        env = make_env(temp_dir())
        port = free_port()
        write_config(env, {"gateway": {"mode": "local", "port": port}})
        result = run_cli(["gateway", "probe"], env)
        self.assertEqual(result.code, 1)
        self.assertIn("Reachable: no", result.out)
        self.assertIn(f"  Connect: failed - connect ECONNREFUSED 127.0.0.1:{port} · "
                      "Capability: unknown", result.out)
        data = run_cli(["gateway", "probe", "--json"], env)
        self.assertEqual(data.code, 1)
        self.assertEqual(data.json()["warnings"][0]["code"], "no_gateway_reachable")

    def test_two_gateways_on_two_profiles(self) -> None:
        """Profiles `blue` and `green` each run a gateway; probing from `blue` with --url for
        `green` sees both, warns multiple_gateways, and discovery lists the other profile."""
        base = temp_dir()
        home_env = make_env(base)
        home = home_env["HOME"]
        gateways = {}
        for profile in ("blue", "green"):
            state = os.path.join(home, f".openclaw-{profile}")
            gateway = LiveGateway(
                token=f"{profile}-token", base_dir=base,
                env_extra={"OPENCLAW_STATE_DIR": state, "OPENCLAW_PROFILE": profile,
                           "OPENCLAW_CONFIG_PATH": os.path.join(state, "openclaw.json")})
            gateways[profile] = gateway
            self.addCleanup(gateway.stop)
        start_all(*gateways.values())
        env = {k: v for k, v in home_env.items()
               if k not in ("OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH")}
        green = gateways["green"]
        result = run_cli(["--profile", "blue", "gateway", "probe", "--url", green.url,
                          "--token", green.token, "--json"], env)
        self.assertEqual(result.code, 0, result.err)
        probe = result.json()
        urls = {t["id"]: (t["url"], t["connect"]["ok"]) for t in probe["targets"]}
        self.assertEqual(urls, {"explicit": (green.url, True),
                                "localLoopback": (gateways["blue"].url, True)})
        codes = [w["code"] for w in probe["warnings"]]
        self.assertIn("multiple_gateways", codes)
        self.assertEqual(probe["primaryTargetId"], "explicit")
        self.assertEqual([b["profile"] for b in probe["discovery"]["beacons"]], ["green"])
        text = run_cli(["--profile", "blue", "gateway", "probe", "--url", green.url, "--token",
                        green.token], env)
        self.assertIn("- Unconventional setup: multiple reachable gateway identities detected.",
                      text.out)
        self.assertIn(f"URL (explicit) {green.url}", text.out)
        self.assertIn(f"Local loopback {gateways['blue'].url}", text.out)
