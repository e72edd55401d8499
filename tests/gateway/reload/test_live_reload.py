"""Hot reload and in-process restart of a real gateway process, seen by real clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.support import http_get

from .support import (
    Client,
    Gateway,
    agent_model,
    base_config,
    free_port,
    wait_until,
    write_in_place,
    write_json_atomic,
)


class LiveBase(SynchronousTestCase):
    mode = "hybrid"

    def start(self, env: dict[str, str] | None = None, **reload: Any) -> Gateway:
        base = tempfile.mkdtemp(prefix="oc-reload-")
        self.addCleanup(shutil.rmtree, base, True)
        self.port = free_port()
        self.config = base_config(self.port, reload={"mode": self.mode, **reload})
        gateway = Gateway(base, self.config, extra_env=env)
        self.addCleanup(gateway.stop)
        self.gateway = gateway.start(self.port)
        return gateway

    def client(self, port: int | None = None) -> Client:
        client = Client(port or self.port)
        self.addCleanup(client.close)
        return client

    def edit(self, change: Any) -> dict[str, Any]:
        """Apply ``change(config)`` and save the file the way vim does (write + rename)."""
        config = json.loads(json.dumps(self.config))
        change(config)
        self.config = config
        write_json_atomic(self.gateway.config_path, config)
        return config

    def set_model(self, model: str) -> None:
        self.edit(lambda c: c["agents"]["entries"]["main"].__setitem__("model", model))

    def health(self, client: Client) -> dict[str, Any]:
        result: dict[str, Any] = client.request("health", {"probe": True})
        return result

    def assert_open(self, *clients: Client) -> None:
        for client in clients:
            self.assertFalse(client.closed.is_set(), f"closed with {client.close_code}")
            self.assertIsNotNone(client.request("status", {}))
            self.assertNotIn("shutdown", client.event_names())


class HybridTests(LiveBase):
    def test_hot_changes_keep_every_connection(self) -> None:
        self.start()
        clients = [self.client() for _ in range(3)]
        self.set_model("openai/gpt-5")
        for client in clients:
            wait_until(lambda c=client: agent_model(c) == "openai/gpt-5", what="new model")
        hash_before = clients[0].request("config.get", {})["hash"]
        self.edit(lambda c: c.__setitem__("hooks", {"enabled": True, "token": "hook-secret-1"}))
        self.gateway.wait_for_log("config hot reload applied (hooks)")
        self.edit(lambda c: c["hooks"].__setitem__("token", "hook-secret-2"))
        self.gateway.wait_for_log("config hot reload applied (hooks.token)")
        got = clients[1].request("config.get", {})
        self.assertNotEqual(got["hash"], hash_before)
        self.assertEqual(got["config"]["hooks"]["token"], "__OPENCLAW_REDACTED__")
        self.assertNotIn("hook-secret-2", json.dumps(got))
        self.assert_open(*clients)
        self.assertNotIn("requires gateway restart", self.gateway.output())
        self.assertNotIn("hook-secret", self.gateway.output())

    def test_port_change_restarts_in_process(self) -> None:
        self.start()
        clients = [self.client() for _ in range(2)]
        new_port = free_port()
        self.edit(lambda c: c["gateway"].__setitem__("port", new_port))
        for client in clients:
            self.assertEqual(client.wait_closed(), 1012)
            self.assertEqual(client.close_reason, "service restart")
            shutdown = [e for e in client.events if e["event"] == "shutdown"]
            self.assertEqual(len(shutdown), 1)
            self.assertEqual(shutdown[0]["payload"],
                             {"reason": "gateway restarting", "restartExpectedMs": 1500})
        self.gateway.wait_healthy(new_port)
        fresh = self.client(new_port)
        self.assertEqual(agent_model(fresh), "openai/gpt-4o-mini")
        with self.assertRaises(OSError):
            http_get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
        self.gateway.wait_for_log("gateway restarted in-process (generation 2)")
        self.assertIsNone(self.gateway.proc.poll(), "same process")

    def test_rename_replace_saves_are_picked_up_every_time(self) -> None:
        self.start()
        client = self.client()
        for n in range(4):
            self.set_model(f"openai/model-{n}")
            wait_until(lambda n=n: agent_model(client) == f"openai/model-{n}", what=f"save {n}")
        self.assert_open(client)

    def test_storm_of_writes_makes_one_reload(self) -> None:
        self.start()
        client = self.client()
        config = json.loads(json.dumps(self.config))
        # a burst well inside one debounce window (the window itself is tested on a fake
        # clock in test_coordinator)
        for n in range(100):
            config["agents"]["entries"]["main"]["model"] = f"openai/storm-{n}"
            write_in_place(self.gateway.config_path, json.dumps(config, indent=2))
        wait_until(lambda: agent_model(client) == "openai/storm-99", what="last write")
        self.assertEqual(self.gateway.count("config change detected"), 1, self.gateway.output())
        self.assert_open(client)

    def test_bad_edits_keep_the_last_good_config(self) -> None:
        self.start()
        client = self.client()
        good_config = self.config
        good = json.dumps(good_config, indent=2)
        path = self.gateway.config_path
        # An invalid value: one clear warning with the path and the reason, reported in health.
        self.edit(lambda c: c["gateway"].__setitem__("bind", "everywhere"))
        self.gateway.wait_for_log("config reload skipped (invalid config)")
        line = next(x for x in self.gateway.output().splitlines() if "invalid config" in x)
        self.assertIn(path, line)
        self.assertIn("gateway.bind", line)
        error = self.health(client)["configReload"]["lastError"]
        self.assertEqual((error["kind"], error["path"]), ("invalid-config", path))
        got = client.request("config.get", {})
        self.assertFalse(got["valid"])
        self.assertEqual(got["issues"][0]["path"], "gateway.bind")
        self.assertNotEqual(got["hash"], got["appliedConfigHash"])
        # A half-written file (the writer was interrupted mid-way).
        write_in_place(path, good[: len(good) // 2])
        self.gateway.wait_for_log("JSON5 parse failed")
        self.assertEqual(agent_model(client), "openai/gpt-4o-mini")
        # A deleted file.
        os.unlink(path)
        self.gateway.wait_for_log("config reload skipped (config file not found)")
        self.assertEqual(self.health(client)["configReload"]["lastError"]["kind"],
                         "missing-config")
        self.assertEqual(agent_model(client), "openai/gpt-4o-mini")
        self.assertEqual(http_get(f"http://127.0.0.1:{self.port}/healthz")[0], 200)
        # Fixed again: applied, the error clears.
        self.config = good_config
        self.set_model("openai/fixed")
        wait_until(lambda: agent_model(client) == "openai/fixed", what="fixed config")
        wait_until(lambda: "lastError" not in self.health(client)["configReload"],
                   what="error cleared")
        self.assertEqual(self.gateway.count("config reload skipped (invalid config)"), 2)
        self.assert_open(client)

    def test_sigusr1_restarts_in_place(self) -> None:
        self.start()
        client = self.client()
        self.gateway.signal(signal.SIGUSR1)
        self.assertEqual(client.wait_closed(), 1012)
        self.gateway.wait_for_log("gateway restarted in-process")
        self.gateway.wait_healthy(self.port)
        self.assertEqual(agent_model(self.client()), "openai/gpt-4o-mini")


class SighupTests(LiveBase):
    def test_sighup_reloads_at_once(self) -> None:
        self.start(debounceMs=60000)
        client = self.client()
        self.set_model("openai/after-hup")
        self.assertEqual(agent_model(client), "openai/gpt-4o-mini", "still debouncing")
        self.gateway.signal(signal.SIGHUP)
        wait_until(lambda: agent_model(client) == "openai/after-hup", what="SIGHUP reload")
        self.assert_open(client)


class OffModeTests(LiveBase):
    mode = "off"

    def test_off_applies_nothing(self) -> None:
        self.start()
        client = self.client()
        self.set_model("openai/ignored")
        self.gateway.wait_for_log("config reload disabled (gateway.reload.mode=off)")
        self.assertEqual(agent_model(client), "openai/gpt-4o-mini")
        new_port = free_port()
        self.edit(lambda c: c["gateway"].__setitem__("port", new_port))
        self.gateway.wait_for_log("config reload disabled", count=2)
        self.assert_open(client)
        self.assertEqual(agent_model(client), "openai/gpt-4o-mini")
        # config.get shows the file (what a restart would run), appliedConfigHash the runtime.
        got = client.request("config.get", {})
        self.assertNotEqual(got["hash"], got["appliedConfigHash"])
        self.assertEqual(got["config"]["gateway"]["port"], new_port)


class HotModeTests(LiveBase):
    mode = "hot"

    def test_hot_ignores_restart_changes(self) -> None:
        self.start()
        client = self.client()
        new_port = free_port()

        def change(c: dict[str, Any]) -> None:
            c["gateway"]["port"] = new_port
            c["agents"]["entries"]["main"]["model"] = "openai/hot-applied"

        self.edit(change)
        self.gateway.wait_for_log("config reload requires gateway restart; hot mode ignoring "
                                  "(gateway.port)")
        self.assertEqual(agent_model(client), "openai/hot-applied")
        self.assert_open(client)
        self.assertEqual(self.health(client)["configReload"]["pendingRestartPaths"],
                         ["gateway.port"])
        with self.assertRaises(OSError):
            http_get(f"http://127.0.0.1:{new_port}/healthz", timeout=1)


class RestartModeTests(LiveBase):
    mode = "restart"

    def test_restart_mode_restarts_for_a_hot_change(self) -> None:
        self.start()
        client = self.client()
        self.set_model("openai/after-restart")
        self.assertEqual(client.wait_closed(), 1012)
        self.assertIn("shutdown", client.event_names())
        self.gateway.wait_for_log("gateway restarted in-process")
        self.gateway.wait_healthy(self.port)
        self.assertEqual(agent_model(self.client()), "openai/after-restart")


class SupervisedRestartTests(LiveBase):
    def test_supervisor_mode_exits_zero_for_the_supervisor_to_restart(self) -> None:
        self.start(env={"OPENCLAW_RESTART_MODE": "supervisor"})
        client = self.client()
        self.gateway.signal(signal.SIGUSR1)
        self.assertEqual(client.wait_closed(), 1012)
        shutdown = [e for e in client.events if e["event"] == "shutdown"]
        self.assertEqual(shutdown[0]["payload"]["reason"], "gateway restarting")
        assert self.gateway.proc is not None
        self.assertEqual(self.gateway.proc.wait(10), 0)
        self.assertIn("restart mode: full process restart (supervisor restart)",
                      self.gateway.output())
