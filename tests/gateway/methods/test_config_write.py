"""config.set / config.patch / config.apply against a real gateway process."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.gateway.reload.support import (
    Client,
    Gateway,
    RequestFailed,
    agent_model,
    base_config,
    free_port,
    wait_until,
    write_json_atomic,
)


class ConfigWriteTests(SynchronousTestCase):
    def setUp(self) -> None:
        base = tempfile.mkdtemp(prefix="oc-config-write-")
        self.addCleanup(shutil.rmtree, base, True)
        self.port = free_port()
        config = base_config(self.port)
        config["hooks"] = {"enabled": True, "token": "hook-secret-abc"}
        config["gateway"]["trustedProxies"] = ["10.0.0.1", "10.0.0.2"]
        self.gateway = Gateway(base, config)
        self.addCleanup(self.gateway.stop)
        self.gateway.start(self.port)
        self.client = Client(self.port)
        self.addCleanup(self.client.close)

    def file_text(self) -> str:
        with open(self.gateway.config_path, encoding="utf-8") as handle:
            return handle.read()

    def base_hash(self) -> str:
        got: dict[str, Any] = self.client.request("config.get", {})
        return str(got["hash"])

    def patch(self, patch: Any, **extra: Any) -> Any:
        params = {"raw": json.dumps(patch), "baseHash": self.base_hash(), **extra}
        return self.client.request("config.patch", params)

    def refused(self, method: str, params: dict[str, Any]) -> RequestFailed:
        with self.assertRaises(RequestFailed) as caught:
            self.client.request(method, params)
        return caught.exception

    def test_patch_applies_before_answering_and_keeps_backups(self) -> None:
        before = self.file_text()
        result = self.patch({"agents": {"entries": {"main": {"model": "openai/patched"}}}})
        self.assertTrue(result["ok"])
        self.assertIn("agents.entries.main.model", result["changedPaths"])
        self.assertEqual(result["path"], self.gateway.config_path)
        self.assertNotIn("restart", result)
        self.assertEqual(result["sentinel"]["payload"]["stats"]["requiresRestart"], False)
        # Applied to the running gateway by the time the answer arrives.
        self.assertEqual(agent_model(self.client), "openai/patched")
        self.assertEqual(result["hash"], self.base_hash())
        self.assertEqual(result["config"]["hooks"]["token"], "__OPENCLAW_REDACTED__")
        with open(self.gateway.config_path + ".bak", encoding="utf-8") as handle:
            self.assertEqual(handle.read(), before)
        # Patch again and again: a ring of five backups, all private.
        for n in range(6):
            self.patch({"agents": {"entries": {"main": {"model": f"openai/p{n}"}}}})
        ring = [self.gateway.config_path + s for s in (".bak", ".bak.1", ".bak.2", ".bak.3",
                                                       ".bak.4")]
        for path in [self.gateway.config_path, *ring]:
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
        self.assertFalse(os.path.exists(self.gateway.config_path + ".bak.5"))
        with open(ring[0], encoding="utf-8") as handle:
            self.assertIn("openai/p4", handle.read())
        with open(ring[4], encoding="utf-8") as handle:
            self.assertIn("openai/p0", handle.read())
        text = self.file_text()
        self.assertIn("hook-secret-abc", text, "redacted values restored, not overwritten")
        self.assertNotIn("__OPENCLAW_REDACTED__", text)
        self.assertEqual(json.loads(text)["meta"]["lastTouchedVersion"],
                         self.client.hello["server"]["version"])
        self.assertFalse(self.client.closed.is_set())

    def test_stale_or_missing_base_hash_is_refused(self) -> None:
        stale = self.base_hash()
        config = json.loads(self.file_text())
        config["agents"]["entries"]["main"]["model"] = "openai/edited-by-hand"
        write_json_atomic(self.gateway.config_path, config)
        wait_until(lambda: agent_model(self.client) == "openai/edited-by-hand",
                   what="hand edit applied")
        patch = json.dumps({"agents": {"entries": {"main": {"model": "openai/lost-update"}}}})
        error = self.refused("config.patch", {"raw": patch, "baseHash": stale})
        self.assertEqual((error.code, error.message), (
            "INVALID_REQUEST", "config changed since last load; re-run config.get and retry"))
        error = self.refused("config.patch", {"raw": patch})
        self.assertEqual(error.message, "config base hash required; re-run config.get and retry")
        error = self.refused("config.apply", {"raw": "{}", "baseHash": stale})
        self.assertEqual(error.message,
                         "config changed since last load; re-run config.get and retry")
        self.assertEqual(agent_model(self.client), "openai/edited-by-hand")
        self.assertIn("edited-by-hand", self.file_text())

    def test_invalid_writes_are_refused_before_touching_the_file(self) -> None:
        before = self.file_text()
        error = self.refused("config.patch", {"raw": json.dumps({"gateway": {"bind": "moon"}}),
                                              "baseHash": self.base_hash()})
        self.assertEqual(error.code, "INVALID_REQUEST")
        self.assertTrue(error.message.startswith("invalid config: gateway.bind: "),
                        error.message)
        self.assertEqual(error.error["details"]["issues"][0]["path"], "gateway.bind")
        error = self.refused("config.patch", {"raw": "{not json", "baseHash": self.base_hash()})
        self.assertEqual(error.code, "INVALID_REQUEST")
        error = self.refused("config.patch", {"raw": "[1]", "baseHash": self.base_hash()})
        self.assertEqual(error.message, "config.patch raw must be an object")
        error = self.refused("config.patch", {
            "raw": json.dumps({"hooks": {"token": {"source": "env", "provider": "default",
                                                   "id": "NOT_SET_ANYWHERE"}}}),
            "baseHash": self.base_hash()})
        self.assertIn("invalid config: active SecretRef resolution failed", error.message)
        self.assertIn("NOT_SET_ANYWHERE", error.message)
        error = self.refused("config.patch", {
            "raw": json.dumps({"gateway": {"trustedProxies": ["10.0.0.1"]}}),
            "baseHash": self.base_hash()})
        self.assertIn("config.patch would remove entries from array path(s): "
                      "gateway.trustedProxies", error.message)
        self.assertEqual(self.file_text(), before)
        self.assertFalse(os.path.exists(self.gateway.config_path + ".bak"))
        # With replacePaths the same truncation is accepted.
        result = self.patch({"gateway": {"trustedProxies": ["10.0.0.1"]}},
                            replacePaths=["gateway.trustedProxies"])
        self.assertEqual(result["changedPaths"], ["gateway.trustedProxies", "meta"])
        # A patch that changes nothing is a no-op.
        noop = self.patch({"gateway": {"trustedProxies": ["10.0.0.1"]}})
        self.assertEqual((noop["noop"], noop["changedPaths"]), (True, []))

    def test_apply_with_redacted_round_trip_and_set(self) -> None:
        got = self.client.request("config.get", {})
        config = got["config"]
        self.assertEqual(config["hooks"]["token"], "__OPENCLAW_REDACTED__")
        config["agents"]["entries"]["main"]["model"] = "openai/applied"
        result = self.client.request("config.apply",
                                     {"raw": json.dumps(config), "baseHash": got["hash"]})
        self.assertTrue(result["ok"])
        self.assertEqual(agent_model(self.client), "openai/applied")
        self.assertIn("hook-secret-abc", self.file_text())
        # config.set acknowledges persistence; the change then reloads like a file edit.
        config["agents"]["entries"]["main"]["model"] = "openai/set"
        result = self.client.request("config.set",
                                     {"raw": json.dumps(config), "baseHash": self.base_hash()})
        self.assertTrue(result["ok"])
        wait_until(lambda: agent_model(self.client) == "openai/set", what="config.set applied")
        del config["agents"]["entries"]["main"]
        config["agents"]["entries"]["other"] = {"model": "openai/x"}
        error = self.refused("config.set", {"raw": json.dumps(config),
                                            "baseHash": self.base_hash()})
        self.assertIn("config.set would remove existing agent entries: main", error.message)

    def test_apply_restart_change_schedules_the_restart(self) -> None:
        got = self.client.request("config.get", {})
        config = json.loads(self.file_text())
        new_port = free_port()
        config["gateway"]["port"] = new_port
        result = self.client.request("config.apply", {
            "raw": json.dumps(config), "baseHash": got["hash"], "restartDelayMs": 300,
            "note": "moving ports"})
        self.assertEqual((result["restart"]["coalesced"], result["restart"]["delayMs"]),
                         (False, 300))
        self.assertTrue(result["sentinel"]["persisted"])
        self.assertEqual(result["sentinel"]["payload"]["message"], "moving ports")
        self.assertEqual(result["sentinel"]["payload"]["stats"]["requiresRestart"], True)
        self.assertTrue(os.path.exists(os.path.join(self.gateway.state_dir,
                                                    "restart-sentinel.json")))
        self.assertEqual(self.client.wait_closed(), 1012)
        self.assertIn("shutdown", self.client.event_names())
        self.gateway.wait_healthy(new_port)
        fresh = Client(new_port)
        self.addCleanup(fresh.close)
        self.assertEqual(fresh.request("config.get", {})["config"]["gateway"]["port"], new_port)
