"""Device identity at connect: signatures (v2/v3), proof failures, pairing, device tokens."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.devices.store import DeviceStore
from tests.gateway.protocol.support import (
    REMOTE_PEER,
    DeviceKey,
    Harness,
    StepRunner,
    connect_params,
    send,
)

ADMIN_SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.pairing"]


class SignatureTests(SynchronousTestCase):
    def test_v3_and_v2_accepted_and_paired_silently_from_loopback(self) -> None:
        for version in ("v3", "v2"):
            harness = Harness()
            key = DeviceKey()
            _, _, response = harness.connect(connect_params(), device_key=key,
                                             sign_version=version)
            auth = response["payload"]["auth"]
            self.assertEqual(auth["scopes"], ["operator.read"])
            self.assertIn("deviceToken", auth)
            self.assertIn("issuedAtMs", auth)
            paired = harness.context.device_store.get_paired(key.device_id)
            assert paired is not None
            self.assertEqual(paired["publicKey"], key.public_key)
            self.assertEqual(paired["platform"], "linux")

    def test_backend_device_from_loopback_skips_pairing(self) -> None:
        harness = Harness()
        key = DeviceKey()
        params = connect_params(client_id="gateway-client", mode="backend",
                                scopes=["operator.read", "operator.write"], device_family=None)
        _, _, response = harness.connect(params, device_key=key, sign_version="v2")
        auth = response["payload"]["auth"]
        self.assertEqual(auth["scopes"], ["operator.read", "operator.write"])
        self.assertNotIn("deviceToken", auth)
        self.assertIsNone(harness.context.device_store.get_paired(key.device_id))


class ProofFailureTests(SynchronousTestCase):
    def attempt(self, mutate: Any, **sign: Any) -> tuple[dict[str, Any], Any]:
        harness = Harness()
        key = DeviceKey()
        connection, transport = harness.open()
        nonce = harness.nonce_of(transport)
        transport.frames.clear()
        params = connect_params()
        device = key.sign(params, nonce, harness.context.now_ms(), **sign)
        mutate(device, harness)
        params["device"] = device
        send(connection, {"type": "req", "id": "c", "method": "connect", "params": params})
        harness.clock.advance(10)
        return transport.messages()[-1], transport.closed

    def expect(self, response: dict[str, Any], closed: Any, message: str, code: str,
               reason: str) -> None:
        self.assertEqual(response["error"], {"code": "INVALID_REQUEST", "message": message,
                                             "details": {"code": code, "reason": reason}})
        self.assertEqual(closed, (1008, message))

    def test_device_id_mismatch(self) -> None:
        response, closed = self.attempt(lambda d, h: d.update(id="0" * 64))
        self.expect(response, closed, "device identity mismatch",
                    "DEVICE_AUTH_DEVICE_ID_MISMATCH", "device-id-mismatch")

    def test_signature_expired(self) -> None:
        def stale(device: dict[str, Any], harness: Harness) -> None:
            device["signedAt"] = harness.context.now_ms() - 120_001

        response, closed = self.attempt(stale)
        self.expect(response, closed, "device signature expired",
                    "DEVICE_AUTH_SIGNATURE_EXPIRED", "device-signature-stale")

    def test_skew_inside_window_is_fine(self) -> None:
        harness = Harness()
        key = DeviceKey()
        connection, transport = harness.open()
        nonce = harness.nonce_of(transport)
        params = connect_params()
        params["device"] = key.sign(params, nonce, harness.context.now_ms() + 119_000)
        send(connection, {"type": "req", "id": "c", "method": "connect", "params": params})
        self.assertTrue(transport.messages()[-1]["ok"])

    def test_nonce_required_and_mismatch(self) -> None:
        response, closed = self.attempt(lambda d, h: d.update(nonce="   "))
        self.expect(response, closed, "device nonce required", "DEVICE_AUTH_NONCE_REQUIRED",
                    "device-nonce-missing")
        response, closed = self.attempt(lambda d, h: d.update(nonce="other-nonce"))
        self.expect(response, closed, "device nonce mismatch", "DEVICE_AUTH_NONCE_MISMATCH",
                    "device-nonce-mismatch")

    def test_bad_signature(self) -> None:
        response, closed = self.attempt(lambda d, h: d.update(signature="AAAA"))
        self.expect(response, closed, "device signature invalid",
                    "DEVICE_AUTH_SIGNATURE_INVALID", "device-signature")
        # Signed over other scopes than the ones presented.
        response, _ = self.attempt(lambda d, h: None, token="other-token")
        self.assertEqual(response["error"]["details"]["code"], "DEVICE_AUTH_SIGNATURE_INVALID")


class PairingTests(SynchronousTestCase):
    def admin(self, harness: Harness) -> tuple[Any, Any]:
        connection, transport, response = harness.connect(connect_params(scopes=ADMIN_SCOPES))
        self.assertTrue(response["ok"])
        return connection, transport

    def test_remote_device_needs_approval(self) -> None:
        harness = Harness()
        admin, admin_transport = self.admin(harness)
        admin_transport.frames.clear()
        key = DeviceKey()
        _, transport, response = harness.connect(connect_params(), peer=REMOTE_PEER,
                                                 device_key=key)
        error = response["error"]
        self.assertEqual(error["code"], "NOT_PAIRED")
        self.assertEqual(error["message"], "pairing required: device is not approved yet")
        details = error["details"]
        self.assertEqual(details["reason"], "not-paired")
        self.assertEqual(details["deviceId"], key.device_id)
        self.assertEqual(details["requestedScopes"], ["operator.read"])
        request_id = details["requestId"]
        self.assertEqual(transport.closed,
                         (1008, f"pairing required: device is not approved yet (requestId: "
                                f"{request_id})"))
        [event] = [m for m in admin_transport.messages() if m.get("type") == "event"]
        self.assertEqual(event["event"], "device.pair.requested")
        self.assertEqual(event["payload"]["requestId"], request_id)
        self.assertEqual(event["payload"]["remoteIp"], "203.0.113.7")

        listed = harness.call(admin, admin_transport, "device.pair.list")
        self.assertEqual([p["requestId"] for p in listed["payload"]["pending"]], [request_id])
        approved = harness.call(admin, admin_transport, "device.pair.approve",
                                {"requestId": request_id})
        self.assertEqual(approved["payload"]["device"]["deviceId"], key.device_id)
        self.assertNotIn("tokens", approved["payload"]["device"])

        _, _, again = harness.connect(connect_params(), peer=REMOTE_PEER, device_key=key)
        self.assertEqual(again["payload"]["auth"]["scopes"], ["operator.read"])
        self.assertIn("deviceToken", again["payload"]["auth"])

    def test_device_token_reconnect(self) -> None:
        harness = Harness()
        key = DeviceKey()
        _, _, first = harness.connect(connect_params(scopes=["operator.read"]), device_key=key)
        token = first["payload"]["auth"]["deviceToken"]
        params = connect_params(token=None)
        params["auth"] = {"deviceToken": token}
        _, _, second = harness.connect(params, device_key=key, peer=REMOTE_PEER)
        auth = second["payload"]["auth"]
        self.assertEqual(auth["method"], "device-token")
        self.assertEqual(auth["deviceToken"], token)
        # The shared-token field may carry the device token too.
        _, _, third = harness.connect(connect_params(token=token), device_key=key)
        self.assertEqual(third["payload"]["auth"]["method"], "device-token")

    def test_device_token_mismatch(self) -> None:
        harness = Harness()
        key = DeviceKey()
        harness.connect(connect_params(), device_key=key)
        params = connect_params(token=None)
        params["auth"] = {"deviceToken": "not-the-token"}
        _, transport, response = harness.connect(params, device_key=key, peer=REMOTE_PEER)
        self.assertEqual(response["error"]["message"],
                         "unauthorized: device token mismatch (rotate/reissue device token)")
        self.assertEqual(response["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH")
        self.assertEqual(transport.close_code, 1008)

    def test_wrong_shared_token_with_device_suggests_device_token(self) -> None:
        harness = Harness()
        _, _, response = harness.connect(connect_params(token="bad"), device_key=DeviceKey())
        details = response["error"]["details"]
        self.assertEqual(details["code"], "AUTH_TOKEN_MISMATCH")
        self.assertTrue(details["canRetryWithDeviceToken"])
        self.assertEqual(details["recommendedNextStep"], "retry_with_device_token")

    def test_scope_upgrade(self) -> None:
        harness = Harness()
        key = DeviceKey()
        harness.connect(connect_params(scopes=["operator.read"]), device_key=key)
        _, _, local = harness.connect(connect_params(scopes=["operator.write"]), device_key=key)
        self.assertEqual(local["payload"]["auth"]["scopes"], ["operator.write"])
        _, _, remote = harness.connect(connect_params(scopes=ADMIN_SCOPES), device_key=key,
                                       peer=REMOTE_PEER)
        details = remote["error"]["details"]
        self.assertEqual(details["reason"], "scope-upgrade")
        self.assertEqual(details["approvedScopes"], ["operator.read", "operator.write"])
        self.assertEqual(remote["error"]["message"],
                         "pairing required: device is asking for more scopes than currently "
                         "approved")

    def test_metadata_change_needs_reapproval(self) -> None:
        harness = Harness()
        key = DeviceKey()
        harness.connect(connect_params(), device_key=key)
        _, _, response = harness.connect(connect_params(platform="darwin"), device_key=key)
        self.assertEqual(response["error"]["details"]["reason"], "metadata-upgrade")

    def test_node_needs_device_and_gets_token(self) -> None:
        harness = Harness()
        node = connect_params(client_id="node-host", mode="node", role="node", scopes=[])
        _, _, bare = harness.connect(node)
        self.assertEqual(bare["error"]["message"], "device identity required")
        _, _, paired = harness.connect(node, device_key=DeviceKey())
        self.assertEqual(paired["payload"]["auth"]["role"], "node")
        self.assertIn("deviceToken", paired["payload"]["auth"])
        self.assertNotIn("recoveryScope", paired["payload"]["auth"])

    def test_node_reconnect_needs_new_approval_for_new_key_role(self) -> None:
        harness = Harness()
        key = DeviceKey()
        harness.connect(connect_params(), device_key=key)
        node = connect_params(client_id="node-host", mode="node", role="node", scopes=[])
        _, _, response = harness.connect(node, device_key=key)
        self.assertEqual(response["error"]["details"]["reason"], "role-upgrade")


class DeviceStoreWritesAtConnectTests(SynchronousTestCase):
    """The handshake waits for a new device token's write, never for a metadata write."""

    def test_paired_device_reconnect_does_not_wait_for_the_store(self) -> None:
        harness = Harness()
        runner = StepRunner()
        store = DeviceStore(harness.context.state_dir / "devices", harness.clock, runner)
        harness.context.device_store = store
        key = DeviceKey()
        # First connect: silent local pairing and a new device token; hello-ok waits for
        # the token to be on disk.
        _, transport, response = harness.connect(connect_params(), device_key=key)
        self.assertEqual(response, {})
        self.assertTrue(runner.queued)
        runner.run_all()
        hello = next(m for m in transport.messages() if m.get("type") == "res")
        self.assertTrue(hello["ok"], hello)
        token = hello["payload"]["auth"]["deviceToken"]
        # Reconnect: only lastSeenAtMs changes; its write is queued and not waited for.
        harness.clock.advance(60)
        _, _, response = harness.connect(connect_params(), device_key=key, request_id="c2")
        self.assertTrue(response["ok"], response)
        self.assertEqual(response["payload"]["auth"]["deviceToken"], token)
        self.assertEqual(len(runner.queued), 1)
        runner.run_all()
        on_disk = json.loads((harness.context.state_dir / "devices" / "paired.json").read_text())
        self.assertEqual(on_disk["devices"][key.device_id]["lastSeenAtMs"],
                         harness.context.now_ms() - 10_000)
