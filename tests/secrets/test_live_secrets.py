"""Secrets in a real gateway: a token in a secret file, rotated, picked up by secrets.reload."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.gateway.reload.support import Client, Gateway, RequestFailed, free_port
from tests.support import REPO_ROOT

OLD = "old-token-0123456789abcdef"
NEW = "new-token-9876543210fedcba"
NEWER = "newer-token-000000000000"


def write_secret_file(path: str, token: str, mode: int = 0o600) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"gateway": {"token": token}}, handle)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class SecretRotationTests(SynchronousTestCase):
    def setUp(self) -> None:
        base = tempfile.mkdtemp(prefix="oc-secrets-")
        self.addCleanup(shutil.rmtree, base, True)
        self.secret_path = os.path.join(base, "secrets.json")
        write_secret_file(self.secret_path, OLD)
        self.port = free_port()
        config = {
            "gateway": {"mode": "local", "port": self.port,
                        "auth": {"mode": "token", "token": {"source": "file",
                                                            "provider": "filemain",
                                                            "id": "/gateway/token"}}},
            "secrets": {"providers": {"filemain": {"source": "file",
                                                   "path": self.secret_path}}},
        }
        self.gateway = Gateway(base, config)
        self.addCleanup(self.gateway.stop)
        self.gateway.start(self.port)

    def client(self, token: str) -> Client:
        client = Client(self.port, token=token)
        self.addCleanup(client.close)
        return client

    def cli(self, token: str, *args: str) -> tuple[int, str, str]:
        code = ("import sys; from openclaw.cli.secrets_cmd import secrets_command; "
                "import os; sys.exit(secrets_command(sys.argv[1:], os.environ, profile=None, "
                "dev=False))")
        done = subprocess.run(
            [sys.executable, "-c", code, "reload", "--url", f"ws://127.0.0.1:{self.port}",
             "--token", token, *args],
            env=self.gateway.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
            check=False)
        return done.returncode, done.stdout, done.stderr

    def test_rotation_and_refused_old_token(self) -> None:
        first = self.client(OLD)
        write_secret_file(self.secret_path, NEW)
        # Nothing changes until secrets.reload: the runtime snapshot is immutable.
        self.client(OLD).close()
        result = first.request("secrets.reload", {})
        self.assertEqual(result, {"ok": True, "warningCount": 0})
        self.assertEqual(first.wait_closed(), 4001)
        self.assertEqual(first.close_reason, "gateway auth changed")
        with self.assertRaises(RequestFailed):
            Client(self.port, token=OLD)
        fresh = self.client(NEW)
        self.assertEqual(fresh.request("status", {}) is not None, True)
        output = self.gateway.output()
        self.assertNotIn(NEW, output)
        self.assertNotIn(OLD, output)

    def test_bad_secret_file_keeps_the_old_snapshot(self) -> None:
        client = self.client(OLD)
        write_secret_file(self.secret_path, NEW, mode=0o644)
        with self.assertRaises(RequestFailed) as caught:
            client.request("secrets.reload", {})
        error = caught.exception
        self.assertEqual(error.code, "UNAVAILABLE")
        self.assertTrue(error.message.startswith(
            "secrets.reload failed: gateway.auth.token (file:filemain:/gateway/token): "),
            error.message)
        self.assertIn("world-accessible (mode 0644)", error.message)
        failure: Any = error.error["details"]["failures"][0]
        self.assertEqual(failure["path"], "gateway.auth.token")
        # The old token still works: nothing was swapped.
        self.assertFalse(client.closed.is_set())
        self.client(OLD)
        health = client.request("health", {"probe": True})
        self.assertEqual(health["configReload"]["secretsDegraded"][0]["path"],
                         "gateway.auth.token")
        self.gateway.wait_for_log("SECRETS_RELOADER_DEGRADED")
        # The CLI reports the failure the real CLI's way, exit 1.
        code, out, err = self.cli(OLD)
        self.assertEqual(code, 1, out + err)
        self.assertIn("Could not reload secrets because the Gateway did not respond: "
                      "secrets.reload failed: gateway.auth.token", err)
        # Fixed file: the CLI reloads, the new token is live.
        write_secret_file(self.secret_path, NEWER)
        code, out, err = self.cli(OLD, "--json")
        self.assertEqual((code, json.loads(out)), (0, {"ok": True, "warningCount": 0}), err)
        self.assertEqual(client.wait_closed(), 4001)
        self.client(NEWER)
        self.gateway.wait_for_log("SECRETS_RELOADER_RECOVERED")
        code, out, _ = self.cli(NEWER)
        self.assertEqual((code, out), (0, "Secrets reloaded.\n"))
