"""Every handshake branch of GatewayConnection, driven without a reactor."""

from __future__ import annotations

import json
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth.decision import AuthSettings, TrustedProxySettings
from openclaw.auth.ratelimit import RateLimitSettings
from openclaw.gateway.protocol import connect as connect_module
from openclaw.gateway.protocol.connection import PeerInfo, truncate_close_reason
from openclaw.gateway.protocol.context import ConnectionPolicy
from tests.gateway.protocol.support import (
    REMOTE_PEER,
    TOKEN,
    DeviceKey,
    Harness,
    connect_params,
    send,
)

HELLO_KEYS = {"type", "protocol", "server", "features", "snapshot", "auth", "policy",
              "controlUiWidgetKinds", "controlUiLinkReaders"}


class ChallengeTests(SynchronousTestCase):
    def test_challenge_sent_on_open_without_seq(self) -> None:
        harness = Harness()
        connection, transport = harness.open()
        [challenge] = transport.messages()
        self.assertEqual(challenge["type"], "event")
        self.assertEqual(challenge["event"], "connect.challenge")
        self.assertEqual(set(challenge["payload"]), {"nonce", "ts"})
        self.assertEqual(challenge["payload"]["nonce"], connection.nonce)
        self.assertEqual(challenge["payload"]["ts"], harness.context.now_ms())
        self.assertNotIn("seq", challenge)

    def test_silence_times_out_with_1000(self) -> None:
        harness = Harness()
        _, transport = harness.open()
        harness.clock.advance(14.9)
        self.assertIsNone(transport.closed)
        harness.clock.advance(0.2)
        self.assertEqual(transport.closed, (1000, ""))

    def test_timeout_is_configurable_and_cancelled_by_hello(self) -> None:
        harness = Harness(policy=ConnectionPolicy(handshake_timeout_ms=500))
        connection, transport, response = harness.connect()
        self.assertTrue(response["ok"])
        harness.clock.advance(5)
        self.assertIsNone(transport.closed)
        self.assertEqual(harness.clock.getDelayedCalls(), [])
        _, idle = harness.open()
        harness.clock.advance(0.5)
        self.assertEqual(idle.closed, (1000, ""))


class FirstFrameTests(SynchronousTestCase):
    def first(self, payload: bytes, binary: bool = False) -> tuple[Any, list[dict[str, Any]]]:
        harness = Harness()
        connection, transport = harness.open()
        transport.frames.clear()
        connection.on_message(payload, binary)
        return transport, transport.messages()

    def test_non_connect_first_request(self) -> None:
        transport, messages = self.first(b'{"type":"req","id":"n1","method":"health","params":{}}')
        self.assertEqual(messages, [{"type": "res", "id": "n1", "ok": False, "error": {
            "code": "INVALID_REQUEST",
            "message": "invalid handshake: first request must be connect"}}])
        self.assertEqual(transport.closed,
                         (1008, "invalid handshake: first request must be connect"))

    def test_garbage_and_binary_close_1000(self) -> None:
        transport, messages = self.first(b"this is {not json")
        self.assertEqual((messages, transport.closed), ([], (1000, "")))
        transport, messages = self.first(b"\x00\x01\x02binary", binary=True)
        self.assertEqual((messages, transport.closed), ([], (1000, "")))
        transport, _ = self.first(b"[" * 100_000 if False else b"[[[[")
        self.assertEqual(transport.closed, (1000, ""))

    def test_binary_json_connect_is_accepted(self) -> None:
        harness = Harness()
        connection, transport = harness.open()
        frame = {"type": "req", "id": "c", "method": "connect", "params": connect_params()}
        connection.on_message(json.dumps(frame).encode(), True)
        self.assertTrue(transport.messages()[-1]["ok"])

    def test_not_a_request_frame(self) -> None:
        transport, messages = self.first(b'{"hello":"world"}')
        self.assertEqual((messages, transport.closed), ([], (1008, "invalid request frame")))

    def test_invalid_connect_params(self) -> None:
        params = connect_params()
        params["client"]["mode"] = "operator"
        frame = {"type": "req", "id": "x", "method": "connect", "params": params}
        transport, messages = self.first(json.dumps(frame).encode())
        message = "invalid connect params: at /client/mode: must be equal to one of the " \
                  "allowed values"
        self.assertEqual(messages[0]["error"], {"code": "INVALID_REQUEST", "message": message})
        self.assertEqual(transport.closed, (1008, message))

    def test_missing_params(self) -> None:
        transport, messages = self.first(b'{"type":"req","id":"x","method":"connect"}')
        self.assertEqual(messages[0]["error"]["message"],
                         "invalid connect params: must be object")

    def test_preauth_frame_over_64k_closes_1009(self) -> None:
        transport, messages = self.first(b" " * (64 * 1024 + 1))
        self.assertEqual((messages, transport.closed), ([], (1009, "preauth payload too large")))
        transport, _ = self.first(b" " * (64 * 1024))
        self.assertEqual(transport.closed, (1000, ""))

    def test_close_reason_truncated_to_120_bytes(self) -> None:
        self.assertEqual(len(truncate_close_reason("é" * 100).encode()), 120)
        self.assertEqual(truncate_close_reason("ok"), "ok")
        self.assertEqual(len(truncate_close_reason("a" + "é" * 100).encode()), 119)


class NegotiationTests(SynchronousTestCase):
    def test_protocol_mismatch(self) -> None:
        _, transport, response = Harness().connect(connect_params(min_protocol=1, max_protocol=2))
        self.assertEqual(response["error"], {
            "code": "INVALID_REQUEST", "message": "protocol mismatch",
            "details": {"code": "PROTOCOL_MISMATCH", "clientMinProtocol": 1,
                        "clientMaxProtocol": 2, "expectedProtocol": 4,
                        "minimumProbeProtocol": 3}})
        self.assertEqual(transport.closed, (1002, "protocol mismatch"))

    def test_v3_only_operator_refused(self) -> None:
        _, transport, _ = Harness().connect(connect_params(min_protocol=3, max_protocol=3))
        self.assertEqual(transport.closed, (1002, "protocol mismatch"))

    def test_probe_and_legacy_node_accepted(self) -> None:
        harness = Harness()
        _, _, probe = harness.connect(connect_params(mode="probe", min_protocol=3))
        self.assertEqual(probe["payload"]["protocol"], 4)
        key = DeviceKey()
        params = connect_params(client_id="node-host", mode="node", role="node", scopes=[],
                                min_protocol=3, max_protocol=3)
        _, transport, node = harness.connect(params, device_key=key)
        self.assertTrue(node["ok"], node)
        self.assertEqual(node["payload"]["auth"]["role"], "node")
        self.assertIsNone(transport.closed)

    def test_invalid_role(self) -> None:
        _, transport, response = Harness().connect(connect_params(role="admin"))
        self.assertEqual(response["error"], {"code": "INVALID_REQUEST", "message": "invalid role"})
        self.assertEqual(transport.closed, (1008, "invalid role"))


class HelloTests(SynchronousTestCase):
    def test_hello_ok_shape(self) -> None:
        harness = Harness()
        harness.context.health.refresh()
        _, transport, response = harness.connect(connect_params(
            scopes=["operator.read", "operator.write", "operator.admin"]))
        payload = response["payload"]
        self.assertEqual(set(payload), HELLO_KEYS)
        self.assertEqual(payload["type"], "hello-ok")
        self.assertEqual(payload["protocol"], 4)
        self.assertEqual(set(payload["server"]),
                         {"version", "buildId", "bootId", "controlUiBuildSource", "connId"})
        self.assertEqual(payload["features"]["methods"], harness.registry.advertised_methods)
        self.assertIn("tick", payload["features"]["events"])
        self.assertEqual(payload["auth"]["method"], "token")
        self.assertEqual(payload["auth"]["scopes"],
                         ["operator.read", "operator.write", "operator.admin"])
        self.assertIn("recoveryScope", payload["auth"])
        self.assertEqual(payload["policy"]["maxPayload"], 26214400)
        self.assertEqual(payload["policy"]["maxBufferedBytes"], 52428800)
        self.assertEqual(payload["policy"]["tickIntervalMs"], 30000)
        self.assertEqual(payload["policy"]["allowedSessionVisibilities"],
                         ["shared", "read-only", "suggest", "draft"])
        self.assertIs(payload["policy"]["hasMultipleSessionSharingIdentities"], False)
        self.assertIs(payload["auth"]["recoveryMigrationAllowed"], True)
        self.assertEqual(payload["controlUiWidgetKinds"], [])
        self.assertEqual(payload["controlUiLinkReaders"], [])
        # no canvas host: a plugin surface URL would make the UI poll plugin.surface.refresh
        self.assertNotIn("pluginSurfaceUrls", payload)
        snapshot = payload["snapshot"]
        for key in ("presence", "health", "stateVersion", "uptimeMs", "sessionDefaults",
                    "suspension", "configPath", "stateDir", "authMode"):
            self.assertIn(key, snapshot)
        self.assertEqual(snapshot["sessionDefaults"]["mainSessionKey"], "agent:main:main")
        self.assertEqual(snapshot["health"]["ok"], True)
        self.assertEqual(snapshot["presence"][0]["reason"], "self")
        self.assertIsNone(transport.closed)

    def test_sensitive_snapshot_only_for_admin(self) -> None:
        _, _, response = Harness().connect()
        snapshot = response["payload"]["snapshot"]
        for key in ("configPath", "stateDir", "authMode"):
            self.assertNotIn(key, snapshot)

    def test_pipelined_requests_are_queued_until_hello(self) -> None:
        harness = Harness()
        connection, transport = harness.open()
        transport.frames.clear()
        send(connection, {"type": "req", "id": "c", "method": "connect",
                          "params": connect_params(token="wrong")})
        send(connection, {"type": "req", "id": "h", "method": "health"})
        self.assertEqual(transport.messages(), [])
        harness.clock.advance(1)
        [reply] = transport.messages()
        self.assertEqual(reply["id"], "c")
        self.assertEqual(transport.close_code, 1008)

    def test_queued_requests_flushed_after_success(self) -> None:
        harness = Harness()
        real_decide = connect_module.decide_auth

        def slow_decide(*args: Any, **kwargs: Any) -> Any:
            return attrs.evolve(real_decide(*args, **kwargs), delay_seconds=1.0)

        self.patch(connect_module, "decide_auth", slow_decide)
        connection, transport = harness.open()
        transport.frames.clear()
        send(connection, {"type": "req", "id": "c", "method": "connect",
                          "params": connect_params()})
        send(connection, {"type": "req", "id": "h", "method": "health"})
        send(connection, {"type": "req", "id": "s", "method": "status"})
        self.assertEqual(transport.messages(), [])
        harness.clock.advance(1)
        ids = [m.get("id") for m in transport.messages() if m.get("type") == "res"]
        self.assertEqual(ids, ["c", "h", "s"])

    def test_client_gone_during_connect(self) -> None:
        harness = Harness()
        connection, transport = harness.open()
        send(connection, {"type": "req", "id": "c", "method": "connect",
                          "params": connect_params(token="bad")})
        connection.on_closed()
        harness.clock.advance(1)
        self.assertEqual([m for m in transport.messages() if m.get("type") == "res"], [])
        self.assertIsNone(connection.session)

    def test_too_many_queued_frames(self) -> None:
        harness = Harness()
        connection, transport = harness.open()
        send(connection, {"type": "req", "id": "c", "method": "connect",
                          "params": connect_params(token="wrong")})
        for index in range(16):
            send(connection, {"type": "req", "id": f"q{index}", "method": "health"})
        self.assertEqual(transport.closed, (1008, "too many pending handshake frames"))
        harness.clock.advance(1)


class SharedAuthTests(SynchronousTestCase):
    def test_wrong_token_answered_after_penalty(self) -> None:
        harness = Harness()
        connection, transport = harness.open()
        transport.frames.clear()
        send(connection, {"type": "req", "id": "w1", "method": "connect",
                          "params": connect_params(token="definitely-wrong-token")})
        self.assertEqual(transport.messages(), [])
        harness.clock.advance(0.25)
        [reply] = transport.messages()
        message = ("unauthorized: gateway token mismatch (use this gateway's gateway.auth.token "
                   "or pair the device)")
        self.assertEqual(reply["error"], {
            "code": "INVALID_REQUEST", "message": message,
            "details": {"code": "AUTH_TOKEN_MISMATCH", "authReason": "token_mismatch",
                        "canRetryWithDeviceToken": False,
                        "recommendedNextStep": "update_auth_credentials"}})
        self.assertEqual(transport.closed, (1008, message))

    def test_connect_without_auth_requires_device(self) -> None:
        _, transport, response = Harness().connect(connect_params(token=None))
        self.assertEqual(response["error"], {"code": "NOT_PAIRED",
                                             "message": "device identity required",
                                             "details": {"code": "DEVICE_IDENTITY_REQUIRED"}})
        self.assertEqual(transport.closed, (1008, "device identity required"))

    def test_empty_token_counts_as_missing(self) -> None:
        _, _, response = Harness().connect(connect_params(token=""))
        self.assertEqual(response["error"]["message"], "device identity required")

    def test_remote_cli_hint(self) -> None:
        _, _, response = Harness().connect(connect_params(token="bad"), peer=REMOTE_PEER)
        self.assertEqual(response["error"]["message"],
                         "unauthorized: gateway token mismatch (set gateway.remote.token to "
                         "match gateway.auth.token)")

    def test_password_mode(self) -> None:
        harness = Harness(auth=AuthSettings(mode="password", password="pw"))
        params = connect_params(token=None)
        params["auth"] = {"password": "pw"}
        _, _, ok = harness.connect(params)
        self.assertEqual(ok["payload"]["auth"]["method"], "password")
        params["auth"] = {"password": "nope"}
        _, _, bad = harness.connect(params)
        self.assertEqual(bad["error"]["details"]["code"], "AUTH_PASSWORD_MISMATCH")

    def test_none_mode_still_needs_device_except_local_backend(self) -> None:
        harness = Harness(auth=AuthSettings(mode="none"))
        _, _, cli = harness.connect(connect_params(token=None))
        self.assertEqual(cli["error"]["code"], "NOT_PAIRED")
        _, _, backend = harness.connect(connect_params(token=None, client_id="gateway-client",
                                                       mode="backend"))
        self.assertEqual(backend["payload"]["auth"]["method"], "none")
        self.assertEqual(backend["payload"]["auth"]["scopes"], ["operator.read"])
        self.assertNotIn("recoveryScope", backend["payload"]["auth"])

    def test_remote_rate_limit(self) -> None:
        harness = Harness(auth=AuthSettings(mode="token", token=TOKEN,
                                            rate_limit=RateLimitSettings(max_attempts=2)))
        for _ in range(2):
            harness.connect(connect_params(token="bad"), peer=REMOTE_PEER)
        _, transport, response = harness.connect(connect_params(), peer=REMOTE_PEER)
        error = response["error"]
        self.assertEqual(error["message"],
                         "unauthorized: too many failed authentication attempts (retry later)")
        self.assertEqual(error["details"]["code"], "AUTH_RATE_LIMITED")
        self.assertEqual(error["details"]["recommendedNextStep"], "wait_then_retry")
        self.assertTrue(error["retryable"])
        self.assertGreater(error["retryAfterMs"], 0)
        self.assertEqual(transport.close_code, 1008)

    def test_trusted_proxy_operator(self) -> None:
        settings = AuthSettings(
            mode="trusted-proxy", trusted_proxies=("10.0.0.0/8",),
            trusted_proxy=TrustedProxySettings(user_header="x-user"))
        peer = PeerInfo("10.0.0.5", {"host": "gw.internal", "x-forwarded-for": "198.51.100.2",
                                     "x-user": "alice"})
        _, _, response = Harness(auth=settings).connect(connect_params(token=None), peer=peer)
        self.assertEqual(response["payload"]["auth"]["method"], "trusted-proxy")
        self.assertEqual(response["payload"]["auth"]["scopes"], [])
        anonymous = PeerInfo("10.0.0.5", {"host": "gw.internal",
                                          "x-forwarded-for": "198.51.100.2"})
        _, _, denied = Harness(auth=settings).connect(connect_params(token=None), peer=anonymous)
        self.assertEqual(denied["error"]["code"], "NOT_PAIRED")


class OriginTests(SynchronousTestCase):
    def test_foreign_origin_rejected(self) -> None:
        peer = PeerInfo("127.0.0.1", {"host": "127.0.0.1:18789",
                                      "origin": "https://evil.example"})
        _, transport, response = Harness().connect(connect_params(), peer=peer)
        self.assertEqual(response["error"], {
            "code": "INVALID_REQUEST",
            "message": "origin not allowed (open the Control UI from the gateway host or allow "
                       "it in gateway.controlUi.allowedOrigins)",
            "details": {"code": "CONTROL_UI_ORIGIN_NOT_ALLOWED", "reason": "origin not allowed"}})
        self.assertEqual(transport.close_code, 1008)

    def test_allowed_origin_and_browser_without_origin(self) -> None:
        settings = AuthSettings(mode="token", token=TOKEN,
                                allowed_origins=("https://ui.example",))
        peer = PeerInfo("127.0.0.1", {"host": "127.0.0.1:18789",
                                      "origin": "https://ui.example"})
        _, _, response = Harness(auth=settings).connect(connect_params(), peer=peer)
        self.assertTrue(response["ok"])
        browser = connect_params(client_id="openclaw-control-ui", mode="webchat")
        _, _, missing = Harness().connect(browser)
        self.assertEqual(missing["error"]["details"],
                         {"code": "CONTROL_UI_ORIGIN_NOT_ALLOWED",
                          "reason": "origin missing or invalid"})

    def test_control_ui_needs_device_identity(self) -> None:
        peer = PeerInfo("127.0.0.1", {"host": "127.0.0.1:18789",
                                      "origin": "http://127.0.0.1:18789"})
        params = connect_params(client_id="openclaw-control-ui", mode="webchat")
        _, transport, response = Harness().connect(params, peer=peer)
        self.assertEqual(response["error"], {
            "code": "INVALID_REQUEST",
            "message": "control ui requires device identity (use HTTPS or localhost secure "
                       "context)",
            "details": {"code": "CONTROL_UI_DEVICE_IDENTITY_REQUIRED"}})
        self.assertEqual(transport.close_code, 1008)

    def test_browser_copilot_requirements(self) -> None:
        params = connect_params(client_id="openclaw-browser-copilot", mode="ui")
        _, _, response = Harness().connect(params)
        self.assertEqual(response["error"]["message"],
                         "browser copilot requires ui mode with run-tool-bindings and "
                         "session-scoped-events capabilities")
        params["caps"] = ["run-tool-bindings", "session-scoped-events"]
        _, _, origin = Harness().connect(params)
        self.assertEqual(origin["error"]["details"]["reason"], "invalid browser copilot origin")


class ScopeGrantTests(SynchronousTestCase):
    """The grants the real gateway gives the real clients (recorded-frames.md)."""

    def granted(self, **kw: Any) -> list[str]:
        _, _, response = Harness().connect(connect_params(**kw))
        return list(response["payload"]["auth"]["scopes"])

    def test_table(self) -> None:
        everything = ["operator.admin", "operator.read", "operator.write", "operator.approvals",
                      "operator.questions", "operator.pairing", "operator.talk.secrets"]
        self.assertEqual(self.granted(scopes=everything), everything)
        self.assertEqual(self.granted(scopes=["operator.read"]), ["operator.read"])
        self.assertEqual(self.granted(client_id="gateway-client", mode="backend"),
                         ["operator.read"])
        self.assertEqual(self.granted(mode="probe", min_protocol=3), [])
        self.assertEqual(self.granted(client_id="test", mode="test"), [])

    def test_remote_cli_loses_self_declared_scopes(self) -> None:
        _, _, response = Harness().connect(connect_params(), peer=REMOTE_PEER)
        self.assertEqual(response["payload"]["auth"]["scopes"], [])

    def test_proxied_loopback_cli_loses_scopes(self) -> None:
        peer = PeerInfo("127.0.0.1", {"host": "127.0.0.1", "x-forwarded-for": "1.2.3.4"})
        _, _, response = Harness(auth=AuthSettings(mode="token", token=TOKEN,
                                                   trusted_proxies=("127.0.0.1",))
                                 ).connect(connect_params(), peer=peer)
        self.assertEqual(response["payload"]["auth"]["scopes"], [])
