"""Authenticated connections: dispatch, errors, async/out-of-order answers, events, limits."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth.scopes import READ
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import GatewayError
from openclaw.gateway.protocol.frames import encode_event
from openclaw.gateway.protocol.schema import Integer, Object, required
from tests.gateway.protocol.support import (
    LOCAL_PEER,
    DeviceKey,
    Harness,
    connect_params,
    send,
)

ADMIN = ["operator.admin"]


class DispatchTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.harness = Harness()

    def connect(self, scopes: list[str] | None = None, **kw: Any) -> tuple[Any, Any]:
        connection, transport, response = self.harness.connect(connect_params(scopes=scopes,
                                                                              **kw))
        self.assertTrue(response["ok"], response)
        transport.frames.clear()
        return connection, transport

    def test_unknown_method(self) -> None:
        connection, transport = self.connect(ADMIN)
        self.assertEqual(self.harness.call(connection, transport, "no.such.method"),
                         {"type": "res", "id": "r1", "ok": False,
                          "error": {"code": "INVALID_REQUEST",
                                    "message": "unknown method: no.such.method"}})

    def test_unknown_method_needs_admin(self) -> None:
        connection, transport = self.connect(["operator.read"])
        error = self.harness.call(connection, transport, "no.such.method")["error"]
        self.assertEqual(error["details"]["missingScope"], "operator.admin")

    def test_unimplemented_reference_method_uses_its_scope(self) -> None:
        connection, transport = self.connect(["operator.read"])
        self.assertEqual(self.harness.call(connection, transport, "sessions.list")["error"],
                         {"code": "INVALID_REQUEST", "message": "unknown method: sessions.list"})
        probe, probe_transport = self.connect(mode="probe", min_protocol=3)
        self.assertEqual(self.harness.call(probe, probe_transport, "sessions.list")["error"]
                         ["code"], "FORBIDDEN")

    def test_missing_scope_and_public_health(self) -> None:
        connection, transport = self.connect(mode="probe", min_protocol=3)
        for method in ("status", "system-presence", "config.get"):
            self.assertEqual(self.harness.call(connection, transport, method)["error"], {
                "code": "FORBIDDEN", "message": "missing scope: operator.read",
                "details": {"code": "MISSING_SCOPE", "missingScope": "operator.read",
                            "requiredScopes": ["operator.read"]}})
        self.assertTrue(self.harness.call(connection, transport, "health",
                                          omit_params=True)["ok"])
        self.assertIsNone(transport.closed)

    def test_write_implies_read(self) -> None:
        connection, transport = self.connect(["operator.write"])
        self.assertTrue(self.harness.call(connection, transport, "status")["ok"])

    def test_invalid_frames_after_hello(self) -> None:
        connection, transport = self.connect()
        send(connection, {"type": "req", "id": "x1", "method": ""})
        send(connection, {"type": "req", "method": "health"})
        send(connection, {"type": "req", "id": 5, "method": "health"})
        connection.on_message(b"not json at all", False)
        connection.on_message(b"\xff\xfe", True)
        errors = transport.messages()
        self.assertEqual([e["id"] for e in errors], ["x1", "invalid", "invalid"])
        self.assertEqual(errors[0]["error"]["message"],
                         "invalid request frame: at /method: must not have fewer than 1 "
                         "characters")
        self.assertIsNone(transport.closed)

    def test_param_validation(self) -> None:
        connection, transport = self.connect()
        response = self.harness.call(connection, transport, "logs.tail", {"limit": "x"})
        self.assertEqual(response["error"], {
            "code": "INVALID_REQUEST", "message": "invalid logs.tail params: at /limit: must be "
                                                  "integer"})
        response = self.harness.call(connection, transport, "config.get", {"extra": 1})
        self.assertEqual(response["error"]["message"],
                         "invalid config.get params: at root: unexpected property 'extra'")
        response = self.harness.call(connection, transport, "agents.list", None)
        self.assertTrue(response["ok"])

    def test_connect_after_hello(self) -> None:
        connection, transport = self.connect(ADMIN)
        self.assertEqual(self.harness.call(connection, transport, "connect",
                                           connect_params())["error"]["message"],
                         "connect is only valid as the first request")
        reader, reader_transport = self.connect(["operator.read"])
        self.assertEqual(self.harness.call(reader, reader_transport, "connect")["error"]["code"],
                         "FORBIDDEN")


class AsyncTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.harness = Harness()
        self.pending: dict[str, Deferred[Any]] = {}

        def slow(call: MethodCall) -> Deferred[Any]:
            deferred: Deferred[Any] = Deferred()
            self.pending[call.request_id] = deferred
            return deferred

        async def coroutine(call: MethodCall) -> Any:
            if call.param_map.get("fail"):
                raise GatewayError("UNAVAILABLE", "nope", retryable=True)
            if call.param_map.get("crash"):
                raise ValueError("boom")
            return {"n": call.param_map.get("n")}

        def crashing(call: MethodCall) -> Any:
            raise RuntimeError("handler exploded")

        registry = self.harness.registry
        registry.register(MethodSpec("test.slow", slow, READ))
        registry.register(MethodSpec("test.coro", coroutine, READ,
                                     Object({"n": required(Integer())}, closed=False)))
        registry.register(MethodSpec("test.crash", crashing, READ))
        connection, transport, _ = self.harness.connect()
        transport.frames.clear()
        self.connection, self.transport = connection, transport

    def test_out_of_order_responses(self) -> None:
        send(self.connection, {"type": "req", "id": "a", "method": "test.slow"})
        send(self.connection, {"type": "req", "id": "b", "method": "test.slow"})
        send(self.connection, {"type": "req", "id": "c", "method": "health"})
        self.pending["b"].callback({"second": True})
        self.pending["a"].callback({"first": True})
        self.assertEqual([m["id"] for m in self.transport.messages()], ["c", "b", "a"])

    def test_coroutine_handlers(self) -> None:
        send(self.connection, {"type": "req", "id": "ok", "method": "test.coro",
                               "params": {"n": 3}})
        send(self.connection, {"type": "req", "id": "err", "method": "test.coro",
                               "params": {"n": 1, "fail": True}})
        send(self.connection, {"type": "req", "id": "crash", "method": "test.coro",
                               "params": {"n": 1, "crash": True}})
        send(self.connection, {"type": "req", "id": "sync", "method": "test.crash"})
        by_id = {m["id"]: m for m in self.transport.messages()}
        self.assertEqual(by_id["ok"]["payload"], {"n": 3})
        self.assertEqual(by_id["err"]["error"], {"code": "UNAVAILABLE", "message": "nope",
                                                 "retryable": True})
        # unexpected failures: a generic answer with the id the log files the traceback under
        for request_id in ("crash", "sync"):
            error = by_id[request_id]["error"]
            error_id = error["details"]["errorId"]
            self.assertEqual(error, {"code": "UNAVAILABLE",
                                     "message": f"internal error (errorId {error_id})",
                                     "details": {"errorId": error_id}})
        self.assertNotEqual(by_id["crash"]["error"]["details"]["errorId"],
                            by_id["sync"]["error"]["details"]["errorId"])
        logged = self.flushLoggedErrors(ValueError, RuntimeError)
        self.assertEqual(sorted(str(f.value) for f in logged), ["boom", "handler exploded"])

    def test_cancel_frame(self) -> None:
        send(self.connection, {"type": "req", "id": "a", "method": "test.slow"})
        send(self.connection, {"type": "cancel", "id": "a"})
        send(self.connection, {"type": "cancel", "id": "unknown"})
        send(self.connection, {"type": "cancel"})
        [reply] = self.transport.messages()
        self.assertEqual(reply["error"], {"code": "UNAVAILABLE", "message": "request cancelled"})

    def test_close_cancels_pending_and_drops_answers(self) -> None:
        send(self.connection, {"type": "req", "id": "a", "method": "test.slow"})
        deferred = self.pending["a"]
        self.connection.on_closed()
        self.assertTrue(deferred.called)
        self.assertEqual(self.transport.messages(), [])


class EventDeliveryTests(SynchronousTestCase):
    def test_seq_is_per_connection(self) -> None:
        harness = Harness()
        one, one_transport, _ = harness.connect()
        harness.context.events.broadcast("tick", {"ts": 1})
        two, two_transport, _ = harness.connect()
        harness.context.events.broadcast("tick", {"ts": 2})
        ticks_one = [m for m in one_transport.messages() if m.get("event") == "tick"]
        ticks_two = [m for m in two_transport.messages() if m.get("event") == "tick"]
        self.assertEqual([t["seq"] for t in ticks_one], [1, 2])
        self.assertEqual([t["seq"] for t in ticks_two], [1])

    def test_slow_consumer(self) -> None:
        harness = Harness()
        connection, transport, _ = harness.connect()
        transport.frames.clear()
        transport.buffered = harness.context.policy.max_buffered_bytes + 1
        connection.deliver_event(encode_event("presence", {"presence": []}), True, True)
        self.assertEqual(transport.frames, [])
        self.assertIsNone(transport.closed)
        transport.buffered = 0
        connection.deliver_event(encode_event("tick", {"ts": 1}), False, True)
        self.assertEqual(transport.messages()[-1]["seq"], 2)
        transport.buffered = harness.context.policy.max_buffered_bytes + 1
        connection.deliver_event(encode_event("tick", {"ts": 2}), False, True)
        self.assertEqual(transport.closed, (1008, "slow consumer"))

    def test_slow_consumer_on_response(self) -> None:
        harness = Harness()
        connection, transport, _ = harness.connect()
        transport.buffered = harness.context.policy.max_buffered_bytes + 1
        harness.call(connection, transport, "health")
        self.assertEqual(transport.closed, (1008, "slow consumer"))

    def test_presence_for_tracked_clients(self) -> None:
        harness = Harness()
        watcher, watcher_transport, _ = harness.connect()
        watcher_transport.frames.clear()
        key = DeviceKey()
        params = connect_params(client_id="openclaw-macos", mode="ui", platform="macos 15.1",
                                device_family="Mac")
        params["client"]["instanceId"] = "mac-1"
        params["client"]["displayName"] = "Mac"
        app, app_transport, response = harness.connect(params, device_key=key)
        self.assertTrue(response["ok"], response)
        events = [m for m in watcher_transport.messages() if m.get("event") == "presence"]
        self.assertEqual(len(events), 1)
        hosts = {entry.get("host"): entry for entry in events[0]["payload"]["presence"]}
        self.assertEqual(hosts["Mac"]["reason"], "connect")
        self.assertEqual(hosts["Mac"]["deviceId"], key.device_id)
        self.assertNotIn("ip", hosts["Mac"])
        self.assertEqual(events[0]["stateVersion"]["presence"], 2)
        app.on_closed()
        events = [m for m in watcher_transport.messages() if m.get("event") == "presence"]
        self.assertEqual(len(events), 2)
        hosts = {entry.get("host"): entry for entry in events[1]["payload"]["presence"]}
        self.assertEqual(hosts["Mac"]["reason"], "disconnect")
        listed = harness.call(watcher, watcher_transport, "system-presence")["payload"]
        self.assertIn("Mac", [entry.get("host") for entry in listed])

    def test_shutdown_event_then_1012(self) -> None:
        harness = Harness()
        connection, transport, _ = harness.connect()
        transport.frames.clear()
        connection.shutdown({"reason": "gateway restarting", "restartExpectedMs": 1500})
        [event] = transport.messages()
        self.assertEqual(event["event"], "shutdown")
        self.assertEqual(event["payload"], {"reason": "gateway restarting",
                                            "restartExpectedMs": 1500})
        self.assertEqual(event["seq"], 1)
        self.assertEqual(transport.closed, (1012, "service restart"))
        pre, pre_transport = harness.open()
        pre.shutdown({"reason": "gateway stopping"})
        self.assertEqual(len(pre_transport.frames), 1)
        self.assertEqual(pre_transport.closed, (1012, "service restart"))


class RoleTests(SynchronousTestCase):
    def test_node_flood_guard(self) -> None:
        harness = Harness()
        params = connect_params(client_id="node-host", mode="node", role="node", scopes=[])
        connection, transport, response = harness.connect(params, device_key=DeviceKey())
        self.assertTrue(response["ok"])
        transport.frames.clear()
        self.assertTrue(harness.call(connection, transport, "health")["ok"])
        for index in range(10):
            reply = harness.call(connection, transport, "status", request_id=f"s{index}")
            self.assertEqual(reply["error"]["message"], "unauthorized role: node")
            self.assertIsNone(transport.closed)
        harness.call(connection, transport, "status", request_id="last")
        self.assertEqual(transport.closed, (1008, "repeated unauthorized calls"))

    def test_flood_counter_resets(self) -> None:
        harness = Harness()
        params = connect_params(client_id="node-host", mode="node", role="node", scopes=[])
        connection, transport, _ = harness.connect(params, device_key=DeviceKey())
        for index in range(30):
            harness.call(connection, transport, "status", request_id=f"s{index}")
            if index % 5 == 0:
                harness.call(connection, transport, "health")
        self.assertIsNone(transport.closed)


class AuthChangeTests(SynchronousTestCase):
    def test_closed_connection_ignores_everything(self) -> None:
        harness = Harness()
        connection, transport, _ = harness.connect()
        connection.close_for_auth_change()
        self.assertEqual(transport.closed, (4001, "gateway auth changed"))
        connection.on_message(json.dumps({"type": "req", "id": "a",
                                          "method": "health"}).encode())
        connection.deliver_event(encode_event("tick", {"ts": 1}), False, True)
        connection.close(1000, "")
        self.assertEqual(transport.closed, (4001, "gateway auth changed"))
        self.assertEqual(len(harness.context.events), 0)

    def test_peer_info_properties(self) -> None:
        self.assertEqual(LOCAL_PEER.host, "127.0.0.1:18789")
        self.assertIsNone(LOCAL_PEER.origin)
        self.assertIsNone(LOCAL_PEER.user_agent)
