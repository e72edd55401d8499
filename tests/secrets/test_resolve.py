"""SecretRef resolution: env, file and exec providers, safety checks, all-or-nothing."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Any

from twisted.internet import reactor
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.secrets import (
    ReactorSecretIO,
    SecretResolutionError,
    SecretsService,
    collect_ref_sites,
    resolve_secrets,
    resolve_secrets_sync,
)
from openclaw.secrets.refs import SecretConfigError

RESOLVER = """#!{python}
import json, sys, time
request = json.load(sys.stdin)
mode = {mode!r}
if mode == "sleep":
    time.sleep(30)
if mode == "fail":
    sys.exit(3)
if mode == "raw":
    print("raw-secret-value")
    sys.exit(0)
values = {{i: "v:" + i for i in request["ids"] if not i.startswith("missing")}}
errors = {{i: {{"code": "NOT_FOUND"}} for i in request["ids"] if i.startswith("missing")}}
print(json.dumps({{"protocolVersion": 1, "values": values, "errors": errors}}))
"""


def ref(source: str, provider: str, ref_id: str) -> dict[str, str]:
    return {"source": source, "provider": provider, "id": ref_id}


class Base:
    def make_dir(self) -> str:
        directory = tempfile.mkdtemp()
        os.chmod(directory, 0o700)
        self.addCleanup(shutil.rmtree, directory, True)  # type: ignore[attr-defined]
        return directory

    def secret_file(self, directory: str, content: Any, mode: int = 0o600,
                    name: str = "secrets.json") -> str:
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content if isinstance(content, str) else json.dumps(content))
        os.chmod(path, mode)
        return path

    def resolver(self, directory: str, mode: str = "json") -> str:
        path = os.path.join(directory, f"resolver-{mode}")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(RESOLVER.format(python=sys.executable, mode=mode))
        os.chmod(path, 0o700)
        return path


class CollectTests(SynchronousTestCase):
    def test_sites_and_inactive_surfaces(self) -> None:
        document = {
            "gateway": {"mode": "local", "auth": {"mode": "token", "token": ref("env", "default",
                                                                               "GW_TOKEN")},
                        "remote": {"token": ref("env", "default", "REMOTE")}},
            "models": {"providers": {"openai": {"apiKey": ref("file", "vault", "/openai")}}},
            "hooks": {"token": ref("exec", "cmd", "hooks/token")},
            "channels": {"telegram": {"enabled": False,
                                      "botToken": ref("env", "default", "TG")}},
            "secrets": {"providers": {"vault": {"source": "file", "path": "/x"}}},
        }
        sites = {s.path: s for s in collect_ref_sites(document)}
        self.assertEqual(set(sites), {"gateway.auth.token", "gateway.remote.token",
                                      "models.providers.openai.apiKey", "hooks.token",
                                      "channels.telegram.botToken"})
        self.assertTrue(sites["gateway.auth.token"].active)
        self.assertFalse(sites["gateway.remote.token"].active)
        self.assertFalse(sites["channels.telegram.botToken"].active)
        self.assertTrue(sites["hooks.token"].active)

    def test_bad_ref_grammar(self) -> None:
        with self.assertRaises(SecretConfigError) as caught:
            collect_ref_sites({"hooks": {"token": ref("env", "default", "lower_case")}})
        self.assertEqual(caught.exception.path, "hooks.token")
        with self.assertRaises(SecretConfigError):
            collect_ref_sites({"hooks": {"token": ref("exec", "p", "a/../b")}})

    def test_plain_config_objects_are_not_refs(self) -> None:
        document = {"plugins": {"entries": {"x": {"config": {"source": "git", "id": "abc"}}}}}
        self.assertEqual(collect_ref_sites(document), [])


class SyncResolveTests(Base, SynchronousTestCase):
    def resolve(self, document: dict[str, Any], env: dict[str, str] | None = None) -> Any:
        return resolve_secrets_sync(document, env or {}, home="/nonexistent")

    def test_env_refs(self) -> None:
        document = {"hooks": {"token": ref("env", "default", "HOOK_TOKEN")}}
        snapshot = self.resolve(document, {"HOOK_TOKEN": "h1"})
        self.assertEqual(snapshot.value("hooks.token"), "h1")
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(document, {})
        self.assertIn('Environment variable "HOOK_TOKEN" is missing or empty.',
                      str(caught.exception))

    def test_env_allowlist(self) -> None:
        document = {"secrets": {"providers": {"default": {"source": "env", "allowlist": []}}},
                    "hooks": {"token": ref("env", "default", "HOOK_TOKEN")}}
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(document, {"HOOK_TOKEN": "h1"})
        self.assertIn("not allowlisted", str(caught.exception))

    def test_file_provider_json_and_single_value(self) -> None:
        directory = self.make_dir()
        json_file = self.secret_file(directory, {"gw": {"token": "t1"}, "a~b": {"c/d": "x"}})
        single = self.secret_file(directory, "single\n", name="token.txt")
        document = {
            "secrets": {"providers": {"main": {"source": "file", "path": json_file},
                                      "one": {"source": "file", "path": single,
                                              "mode": "singleValue"}}},
            "gateway": {"auth": {"mode": "token", "token": ref("file", "main", "/gw/token")}},
            "hooks": {"token": ref("file", "one", "value")},
            "models": {"providers": {"x": {"apiKey": ref("file", "main", "/a~0b/c~1d")}}},
        }
        snapshot = self.resolve(document)
        self.assertEqual(snapshot.value("gateway.auth.token"), "t1")
        self.assertEqual(snapshot.value("hooks.token"), "single")
        self.assertEqual(snapshot.value("models.providers.x.apiKey"), "x")
        self.assertNotIn("t1", repr(snapshot))

    def test_world_readable_file_is_refused(self) -> None:
        directory = self.make_dir()
        path = self.secret_file(directory, {"t": "v"}, mode=0o644)
        document = {"secrets": {"providers": {"main": {"source": "file", "path": path}}},
                    "hooks": {"token": ref("file", "main", "/t")}}
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(document)
        failure, = caught.exception.failures
        self.assertEqual((failure.path, failure.ref), ("hooks.token", "file:main:/t"))
        self.assertIn("world-accessible (mode 0644)", failure.message)
        self.assertIn(f"chmod 600 {path}", failure.message)

    def test_symlink_and_hardlink_are_refused(self) -> None:
        directory = self.make_dir()
        real = self.secret_file(directory, {"t": "v"})
        link = os.path.join(directory, "link.json")
        os.symlink(real, link)
        hard = os.path.join(directory, "hard.json")
        os.link(real, hard)
        for path, reason in ((link, "symlink"), (hard, "hardlinked")):
            document = {"secrets": {"providers": {"main": {"source": "file", "path": path}}},
                        "hooks": {"token": ref("file", "main", "/t")}}
            with self.assertRaises(SecretResolutionError) as caught:
                self.resolve(document)
            self.assertIn(reason, str(caught.exception))

    def test_missing_pointer_and_unknown_provider(self) -> None:
        directory = self.make_dir()
        path = self.secret_file(directory, {"t": "v"})
        document = {"secrets": {"providers": {"main": {"source": "file", "path": path}}},
                    "hooks": {"token": ref("file", "main", "/nope")},
                    "models": {"providers": {"x": {"apiKey": ref("file", "other", "/t")}}}}
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(document)
        messages = {f.path: f.message for f in caught.exception.failures}
        self.assertIn('JSON pointer "/nope" not found', messages["hooks.token"])
        self.assertEqual(messages["models.providers.x.apiKey"],
                         'Secret provider "other" is not configured (ref: file:other:/t).')

    def test_exec_provider(self) -> None:
        directory = self.make_dir()
        command = self.resolver(directory)
        document = {"secrets": {"providers": {"vault": {"source": "exec", "command": command}}},
                    "hooks": {"token": ref("exec", "vault", "hooks/token")},
                    "models": {"providers": {"x": {"apiKey": ref("exec", "vault", "x#key")}}}}
        snapshot = self.resolve(document)
        self.assertEqual(snapshot.value("hooks.token"), "v:hooks/token")
        self.assertEqual(snapshot.value("models.providers.x.apiKey"), "v:x#key")

    def test_exec_provider_errors(self) -> None:
        directory = self.make_dir()
        cases = [
            (self.resolver(directory), "missing/one", 'failed for id "missing/one" (NOT_FOUND)'),
            (self.resolver(directory, "fail"), "a", "exited with code 3"),
        ]
        for command, ref_id, expected in cases:
            document = {"secrets": {"providers": {"v": {"source": "exec", "command": command}}},
                        "hooks": {"token": ref("exec", "v", ref_id)}}
            with self.assertRaises(SecretResolutionError) as caught:
                self.resolve(document)
            self.assertIn(expected, str(caught.exception))

    def test_exec_raw_output_needs_json_only_false(self) -> None:
        directory = self.make_dir()
        command = self.resolver(directory, "raw")
        provider = {"source": "exec", "command": command}
        document = {"secrets": {"providers": {"v": provider}},
                    "hooks": {"token": ref("exec", "v", "a")}}
        with self.assertRaises(SecretResolutionError):
            self.resolve(document)
        provider["jsonOnly"] = False
        self.assertEqual(self.resolve(document).value("hooks.token"), "raw-secret-value")

    def test_exec_command_trust_checks(self) -> None:
        directory = self.make_dir()
        command = self.resolver(directory)
        os.chmod(command, 0o777)
        document = {"secrets": {"providers": {"v": {"source": "exec", "command": command}}},
                    "hooks": {"token": ref("exec", "v", "a")}}
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(document)
        self.assertIn("must not be group- or world-writable", str(caught.exception))
        relative = {"secrets": {"providers": {"v": {"source": "exec", "command": "resolver"}}},
                    "hooks": {"token": ref("exec", "v", "a")}}
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(relative)
        self.assertIn("must be an absolute path", str(caught.exception))

    def test_all_failures_are_reported_together(self) -> None:
        document = {"hooks": {"token": ref("env", "default", "A")},
                    "models": {"providers": {"x": {"apiKey": ref("env", "default", "B")}}}}
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(document)
        self.assertEqual({f.path for f in caught.exception.failures},
                         {"hooks.token", "models.providers.x.apiKey"})

    def test_redaction_placeholder_is_refused(self) -> None:
        document = {"hooks": {"token": ref("env", "default", "A")}}
        with self.assertRaises(SecretResolutionError) as caught:
            self.resolve(document, {"A": "__OPENCLAW_REDACTED__"})
        self.assertIn("redaction placeholder", str(caught.exception))


class ServiceTests(Base, SynchronousTestCase):
    def test_reload_is_all_or_nothing(self) -> None:
        from openclaw.secrets import SyncSecretIO

        env = {"A": "one"}
        document = {"hooks": {"token": ref("env", "default", "A")}}
        service = SecretsService(resolve_secrets_sync(document, env, home="/x"),
                                 io=SyncSecretIO(), env=env, home="/x")
        swaps: list[Any] = []
        service.listeners.append(lambda old, new: swaps.append((old, new)))
        env["A"] = "two"
        self.successResultOf(Deferred_from(service.reload(document)))
        self.assertEqual(service.snapshot.value("hooks.token"), "two")
        del env["A"]
        failure = self.failureResultOf(Deferred_from(service.reload(document)),
                                       SecretResolutionError)
        self.assertIn("hooks.token", str(failure.value))
        self.assertEqual(service.snapshot.value("hooks.token"), "two", "old snapshot kept")
        self.assertIsNotNone(service.degraded)
        env["A"] = "three"
        self.successResultOf(Deferred_from(service.reload(document)))
        self.assertIsNone(service.degraded)
        self.assertEqual(len(swaps), 2)


def Deferred_from(coroutine: Any) -> Any:
    from twisted.internet.defer import Deferred

    return Deferred.fromCoroutine(coroutine)


class ReactorIOTests(Base, TestCase):
    """Exec providers off the reactor: spawnProcess with timeouts; files in a thread."""

    async def test_exec_and_file_through_the_reactor(self) -> None:
        directory = self.make_dir()
        command = self.resolver(directory)
        path = self.secret_file(directory, {"t": "file-value"})
        document = {"secrets": {"providers": {"v": {"source": "exec", "command": command},
                                              "f": {"source": "file", "path": path}}},
                    "hooks": {"token": ref("exec", "v", "hooks")},
                    "models": {"providers": {"x": {"apiKey": ref("file", "f", "/t")}}}}
        snapshot = await resolve_secrets(document, {}, ReactorSecretIO(reactor), home="/x")
        self.assertEqual(snapshot.value("hooks.token"), "v:hooks")
        self.assertEqual(snapshot.value("models.providers.x.apiKey"), "file-value")

    async def test_exec_timeout_kills_the_resolver(self) -> None:
        directory = self.make_dir()
        command = self.resolver(directory, "sleep")
        document = {"secrets": {"providers": {"v": {"source": "exec", "command": command,
                                                    "timeoutMs": 300}}},
                    "hooks": {"token": ref("exec", "v", "a")}}
        with self.assertRaises(SecretResolutionError) as caught:
            await resolve_secrets(document, {}, ReactorSecretIO(reactor), home="/x")
        self.assertIn('Exec provider "v" timed out after 300ms.', str(caught.exception))
