"""Ed25519 device identity, the paired-device store and the gateway's own key."""

from __future__ import annotations

import base64
import json
import os
import stat
import tempfile
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.atomic_files import atomic_write_bytes
from openclaw.blocking import run_inline
from openclaw.gateway.devices import identity as ident
from openclaw.gateway.devices.store import DeviceStore, redact_paired_device
from tests.gateway.protocol.support import DeviceKey, StepRunner


def fields(key: DeviceKey, **changes: object) -> ident.SignedConnectFields:
    base: dict[str, object] = dict(
        device_id=key.device_id, client_id="cli", client_mode="cli", role="operator",
        scopes=("operator.admin", "operator.read"), signed_at_ms=1767225600000,
        token="tok", nonce="5b0f", platform="Darwin ", device_family=None)
    base.update(changes)
    return ident.SignedConnectFields(**base)  # type: ignore[arg-type]


class PayloadTests(SynchronousTestCase):
    def test_v3_and_v2_layouts(self) -> None:
        key = DeviceKey()
        f = fields(key)
        self.assertEqual(
            ident.build_payload_v3(f),
            f"v3|{key.device_id}|cli|cli|operator|operator.admin,operator.read|1767225600000"
            "|tok|5b0f|darwin|",
        )
        self.assertEqual(
            ident.build_payload_v2(f),
            f"v2|{key.device_id}|cli|cli|operator|operator.admin,operator.read|1767225600000"
            "|tok|5b0f",
        )
        self.assertEqual(ident.build_payload_v2(fields(key, token=None)).split("|")[7], "")

    def test_metadata_lowercases_ascii_only(self) -> None:
        self.assertEqual(ident.normalize_metadata("  MacBook Ä "), "macbook Ä")
        self.assertEqual(ident.normalize_metadata(None), "")


class SignatureTests(SynchronousTestCase):
    def test_v3_preferred_then_v2(self) -> None:
        key = DeviceKey()
        f = fields(key)
        v3 = ident.sign_payload(key.private_key, ident.build_payload_v3(f))
        v2 = ident.sign_payload(key.private_key, ident.build_payload_v2(f))
        self.assertEqual(ident.signature_payload_version(key.public_key, v3, f), "v3")
        self.assertEqual(ident.signature_payload_version(key.public_key, v2, f), "v2")
        self.assertIsNone(ident.signature_payload_version(key.public_key, v2,
                                                          fields(key, nonce="other")))
        self.assertIsNone(ident.signature_payload_version(DeviceKey().public_key, v3, f))

    def test_standard_base64_signature_and_pem_key_accepted(self) -> None:
        key = DeviceKey()
        payload = "hello"
        raw_sig = key.private_key.sign(payload.encode())
        standard = base64.b64encode(raw_sig).decode()
        pem = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.assertTrue(ident.verify_signature(pem, payload, standard))
        self.assertEqual(ident.device_id_for_public_key(pem), key.device_id)
        self.assertEqual(ident.normalize_public_key(pem), key.public_key)

    def test_device_id_is_sha256_of_raw_key(self) -> None:
        key = DeviceKey()
        self.assertEqual(ident.device_id_for_public_key(key.public_key), key.device_id)
        self.assertEqual(len(key.device_id), 64)

    def test_invalid_inputs(self) -> None:
        self.assertIsNone(ident.normalize_public_key(ident.b64url_encode(b"short")))
        self.assertIsNone(ident.public_key_bytes(""))
        self.assertIsNone(ident.public_key_bytes("-----BEGIN PUBLIC KEY-----\nxx\n-----END"))
        self.assertFalse(ident.verify_signature("AAAA", "p", "sig"))
        self.assertRaises(ValueError, ident.b64url_decode, "A" * 5000)


class GatewayIdentityTests(SynchronousTestCase):
    def test_persisted_and_reloaded(self) -> None:
        directory = Path(tempfile.mkdtemp())
        path = ident.gateway_identity_path(directory)
        first = ident.GatewayIdentity.load_or_create(path)
        second = ident.GatewayIdentity.load_or_create(path)
        self.assertEqual(first.device_id, second.device_id)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        signature = first.sign("payload")
        self.assertTrue(ident.verify_signature(second.public_key, "payload", signature))


class AtomicWriteTests(SynchronousTestCase):
    def test_replaces_content_with_private_mode(self) -> None:
        path = Path(tempfile.mkdtemp()) / "nested" / "file.json"
        atomic_write_bytes(path, b"one")
        atomic_write_bytes(path, b"two")
        self.assertEqual(path.read_bytes(), b"two")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual([p.name for p in path.parent.iterdir()], ["file.json"])


class DeviceStoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.directory = Path(tempfile.mkdtemp()) / "devices"
        self.store = DeviceStore(self.directory, self.clock, run_inline)

    def request(self, device: str = "dev1", scopes: tuple[str, ...] = ("operator.read",),
                role: str = "operator") -> str:
        result = self.store.request_pairing(
            device_id=device, public_key=f"pk-{device}", role=role, scopes=scopes, silent=False,
            metadata={"platform": "linux", "clientId": "cli", "remoteIp": None})
        return str(result.request["requestId"])

    def token(self, device: str, role: str, scopes: list[str]) -> dict[str, object] | None:
        result: dict[str, object] | None = self.successResultOf(
            self.store.ensure_token(device, role, scopes))
        return result

    def test_request_approve_persists(self) -> None:
        request_id = self.request()
        self.assertEqual(len(self.store.list_pending()), 1)
        again = self.store.request_pairing(device_id="dev1", public_key="pk-dev1",
                                           role="operator", scopes=["operator.write"],
                                           silent=False, metadata={})
        self.assertFalse(again.created)
        self.assertEqual(again.request["scopes"], ["operator.read", "operator.write"])
        result = self.store.approve(request_id, caller_scopes=["operator.admin"])
        assert result is not None and result.device is not None
        self.assertEqual(result.status, "approved")
        self.assertEqual(result.device["scopes"], ["operator.read", "operator.write"])
        reloaded = DeviceStore(self.directory, self.clock, run_inline)
        paired = reloaded.get_paired("dev1")
        assert paired is not None
        self.assertEqual(paired["publicKey"], "pk-dev1")
        self.assertEqual(DeviceStore.approved_roles(paired), ["operator"])
        self.assertEqual(reloaded.list_pending(), [])
        self.assertEqual(stat.S_IMODE(os.stat(self.directory / "paired.json").st_mode), 0o600)

    def test_approve_checks_caller_scopes(self) -> None:
        request_id = self.request(scopes=("operator.admin",))
        denied = self.store.approve(request_id, caller_scopes=["operator.pairing"])
        assert denied is not None
        self.assertEqual((denied.status, denied.forbidden_message),
                         ("forbidden", "missing scope: operator.admin"))
        self.assertIsNone(self.store.approve("nope", caller_scopes=None))

    def test_reject_remove_and_expiry(self) -> None:
        request_id = self.request()
        self.assertEqual(self.store.reject(request_id),
                         {"requestId": request_id, "deviceId": "dev1"})
        self.assertIsNone(self.store.reject(request_id))
        self.request("dev3")
        self.clock.advance(301)
        self.assertEqual(self.store.list_pending(), [])
        approved_id = self.request("dev4")
        self.store.approve(approved_id, caller_scopes=None)
        self.assertEqual(self.store.remove("dev4"), {"deviceId": "dev4"})
        self.assertIsNone(self.store.remove("dev4"))

    def test_tokens(self) -> None:
        self.store.approve(self.request(scopes=("operator.read", "operator.write")),
                           caller_scopes=None)
        self.assertIsNone(self.token("dev1", "node", []))
        self.assertIsNone(self.token("missing", "operator", []))
        token = self.token("dev1", "operator", ["operator.read"])
        assert token is not None
        same = self.token("dev1", "operator", ["operator.read"])
        assert same is not None
        self.assertEqual(same["token"], token["token"])
        check = self.store.verify_token("dev1", token["token"], "operator", ["operator.read"])
        self.assertTrue(check.ok)
        self.assertEqual(self.store.verify_token("dev1", "wrong", "operator", []).reason,
                         "token-mismatch")
        self.assertEqual(
            self.store.verify_token("dev1", token["token"], "operator", ["operator.write"]).reason,
            "scope-mismatch")
        rotated = self.token("dev1", "operator", ["operator.write"])
        assert rotated is not None
        self.assertNotEqual(rotated["token"], token["token"])
        self.assertIn("rotatedAtMs", rotated)
        public = redact_paired_device(self.store.get_paired("dev1") or {}, connected=True)
        self.assertNotIn("token", json.dumps(public["tokens"]))
        self.assertTrue(public["connected"])
        self.assertNotIn("approvedScopes", public)

    def test_unreadable_file_is_treated_as_empty(self) -> None:
        self.directory.mkdir(parents=True)
        (self.directory / "paired.json").write_text("{not json")
        self.assertEqual(DeviceStore(self.directory, self.clock, run_inline).list_paired(), [])

    def test_metadata_update(self) -> None:
        self.store.approve(self.request(), caller_scopes=None)
        self.store.update_metadata("dev1", {"displayName": "Box", "remoteIp": None})
        self.store.update_metadata("ghost", {"displayName": "x"})
        paired = self.store.get_paired("dev1")
        assert paired is not None
        self.assertEqual(paired["displayName"], "Box")


class DeviceStoreWritesTests(SynchronousTestCase):
    """Writes run on run_blocking's threads, never on the caller's (the reactor) thread."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.directory = Path(tempfile.mkdtemp()) / "devices"
        self.runner = StepRunner()
        self.store = DeviceStore(self.directory, self.clock, self.runner)

    def on_disk(self) -> dict[str, dict[str, object]]:
        document = json.loads((self.directory / "paired.json").read_text())
        devices: dict[str, dict[str, object]] = document["devices"]
        return devices

    def pair(self, device: str = "dev1") -> None:
        request = self.store.request_pairing(
            device_id=device, public_key=f"pk-{device}", role="operator",
            scopes=["operator.read"], silent=False, metadata={"platform": "linux"})
        self.store.approve(request.request["requestId"], caller_scopes=None)

    def test_writes_happen_off_the_calling_thread_and_are_durable_when_fired(self) -> None:
        self.pair()
        # The memory is updated at once; nothing was written on this thread.
        self.assertIsNotNone(self.store.get_paired("dev1"))
        self.assertFalse(self.directory.exists())
        durable = self.store.durable()
        self.assertNoResult(durable)
        self.runner.run_all()
        self.successResultOf(durable)
        self.assertEqual(list(self.on_disk()), ["dev1"])
        pending = json.loads((self.directory / "pending.json").read_text())
        self.assertEqual(pending["requests"], {})
        self.assertTrue(self.runner.threads)
        self.assertNotIn(threading.get_ident(), self.runner.threads)
        self.assertEqual(stat.S_IMODE(os.stat(self.directory / "paired.json").st_mode), 0o600)

    def test_metadata_updates_coalesce_into_one_more_write(self) -> None:
        self.pair()
        self.runner.run_all()
        for seen in range(1, 6):
            self.store.update_metadata("dev1", {"lastSeenAtMs": seen})
        self.assertEqual(len(self.runner.queued), 1)  # the first; the rest wait behind it
        self.runner.run_next()
        self.assertEqual(len(self.runner.queued), 1)  # one write with the newest content
        self.runner.run_next()
        self.assertEqual(self.runner.queued, [])
        self.assertEqual(self.on_disk()["dev1"]["lastSeenAtMs"], 5)
        self.successResultOf(self.store.durable())

    def test_a_new_token_is_handed_out_once_on_disk_an_existing_one_at_once(self) -> None:
        self.pair()
        self.runner.run_all()
        issued = self.store.ensure_token("dev1", "operator", ["operator.read"])
        self.assertNoResult(issued)
        self.runner.run_all()
        token = self.successResultOf(issued)
        assert token is not None
        tokens = self.on_disk()["dev1"]["tokens"]
        assert isinstance(tokens, dict)
        self.assertEqual(tokens["operator"]["token"], token["token"])
        # A metadata write in flight does not hold up the existing token.
        self.store.update_metadata("dev1", {"lastSeenAtMs": 7})
        again = self.successResultOf(self.store.ensure_token("dev1", "operator", []))
        assert again is not None
        self.assertEqual(again["token"], token["token"])
        self.assertEqual(len(self.runner.queued), 1)

    def test_a_failed_write_is_reported_and_the_next_change_writes_again(self) -> None:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self.directory.write_text("a file where the directory should be")
        self.pair()
        durable = self.store.durable()
        self.runner.run_all()
        self.failureResultOf(durable, OSError)
        self.assertTrue(self.flushLoggedErrors(OSError))
        self.directory.unlink()
        self.store.update_metadata("dev1", {"lastSeenAtMs": 9})
        self.runner.run_all()
        self.successResultOf(self.store.durable())
        self.assertEqual(self.on_disk()["dev1"]["lastSeenAtMs"], 9)
