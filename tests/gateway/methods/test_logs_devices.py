"""logs.tail (byte cursor, rotation) and the device pairing methods."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.methods.logs import read_log_slice, resolve_log_file
from tests.gateway.protocol.support import (
    REMOTE_PEER,
    DeviceKey,
    Harness,
    connect_params,
)


def log_line(index: int) -> str:
    return json.dumps({"0": f"message {index}",
                       "_meta": {"logLevelName": "INFO",
                                 "name": '{"subsystem":"gateway/ws"}',
                                 "date": "2026-11-21T01:27:29.121Z"},
                       "time": "2026-11-21T01:27:29.121+00:00"}, separators=(",", ":"))


class ReadLogSliceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.file = self.dir / "openclaw-2026-11-21.log"
        self.lines = [log_line(i) for i in range(10)]
        self.file.write_text("".join(line + "\n" for line in self.lines))
        self.size = self.file.stat().st_size

    def test_tail_without_cursor(self) -> None:
        result = read_log_slice(self.file, cursor=None, limit=3, max_bytes=250_000)
        self.assertEqual(result, {"cursor": self.size, "size": self.size,
                                  "lines": self.lines[-3:], "truncated": True, "reset": False})

    def test_max_bytes_drops_partial_first_line(self) -> None:
        result = read_log_slice(self.file, cursor=None, limit=500,
                                max_bytes=len(self.lines[-1]) + 10)
        self.assertEqual(result["lines"], self.lines[-1:])
        self.assertTrue(result["truncated"])

    def test_cursor_follow_and_partial_line(self) -> None:
        first = read_log_slice(self.file, cursor=None, limit=500, max_bytes=250_000)
        with self.file.open("a") as handle:
            handle.write(log_line(10) + "\n" + '{"partial":')
        follow = read_log_slice(self.file, cursor=first["cursor"], limit=500, max_bytes=250_000)
        self.assertEqual(follow["lines"], [log_line(10)])
        self.assertEqual(follow["cursor"], first["cursor"] + len(log_line(10)) + 1)
        self.assertEqual(follow["size"], follow["cursor"] + len('{"partial":'))
        self.assertFalse(follow["reset"])
        again = read_log_slice(self.file, cursor=follow["cursor"], limit=500, max_bytes=250_000)
        self.assertEqual((again["lines"], again["cursor"]), ([], follow["cursor"]))

    def test_rotation_resets(self) -> None:
        self.file.write_text(log_line(99) + "\n")
        result = read_log_slice(self.file, cursor=self.size, limit=500, max_bytes=250_000)
        self.assertTrue(result["reset"])
        self.assertEqual(result["lines"], [log_line(99)])

    def test_large_gap_skips(self) -> None:
        result = read_log_slice(self.file, cursor=0, limit=500, max_bytes=len(self.lines[-1]) + 5)
        self.assertTrue(result["reset"] and result["truncated"])
        self.assertGreater(result["skippedBytes"], 0)

    def test_missing_and_empty_files(self) -> None:
        missing = self.dir / "nope.log"
        self.assertEqual(read_log_slice(missing, cursor=None, limit=5, max_bytes=10),
                         {"cursor": 0, "size": 0, "lines": [], "truncated": False,
                          "reset": False})
        self.assertTrue(read_log_slice(missing, cursor=5, limit=5, max_bytes=10)["reset"])

    def test_directory_is_an_error(self) -> None:
        self.assertRaises(OSError, read_log_slice, self.dir, cursor=None, limit=5, max_bytes=10)

    def test_rolling_family_fallback(self) -> None:
        older = self.dir / "openclaw-2026-11-20.log"
        older.write_text("old\n")
        os.utime(older, (1, 1))
        today = self.dir / "openclaw-2026-11-22.log"
        self.assertEqual(resolve_log_file(today), self.file)
        self.assertEqual(resolve_log_file(self.dir / "custom.log"), self.dir / "custom.log")
        self.assertEqual(resolve_log_file(self.dir / "x" / "openclaw-2026-01-01.log"),
                         self.dir / "x" / "openclaw-2026-01-01.log")


class LogsTailMethodTests(SynchronousTestCase):
    def test_rpc(self) -> None:
        directory = Path(tempfile.mkdtemp())
        log_file = directory / "logs" / "openclaw-2026-11-21.log"
        log_file.parent.mkdir()
        log_file.write_text("".join(log_line(i) + "\n" for i in range(20)))
        harness = Harness(log_file=log_file)
        connection, transport, _ = harness.connect()
        payload = harness.call(connection, transport, "logs.tail",
                               {"limit": 15, "maxBytes": 250000})["payload"]
        self.assertEqual(list(payload), ["file", "cursor", "size", "lines", "truncated", "reset"])
        self.assertEqual(payload["file"], str(log_file))
        self.assertEqual(len(payload["lines"]), 15)
        follow = harness.call(connection, transport, "logs.tail",
                              {"cursor": payload["cursor"]})["payload"]
        self.assertEqual(follow["lines"], [])
        self.assertEqual(harness.call(connection, transport, "logs.tail",
                                      {"limit": 0})["error"]["message"],
                         "invalid logs.tail params: at /limit: must be >= 1")

    def test_read_failure_is_unavailable(self) -> None:
        harness = Harness()
        harness.context.run_blocking = lambda func, *a, **k: fail(Failure(OSError("disk on fire")))
        connection, transport, _ = harness.connect()
        error = harness.call(connection, transport, "logs.tail")["error"]
        self.assertEqual(error, {"code": "UNAVAILABLE", "message": "log read failed: disk on fire"})

    def test_runs_off_thread_when_runner_is_async(self) -> None:
        harness = Harness()
        started: list[Deferred[Any]] = []

        def deferred_runner(func: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
            deferred: Deferred[Any] = Deferred()
            started.append(deferred)
            deferred.addCallback(lambda _: func(*args, **kwargs))
            return deferred

        harness.context.run_blocking = deferred_runner
        connection, transport, _ = harness.connect()
        self.assertEqual(harness.call(connection, transport, "logs.tail"), {})
        started[0].callback(None)
        reply = next(m for m in transport.messages() if m.get("id") == "r1")
        self.assertTrue(reply["ok"])


class DevicePairMethodTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.harness = Harness()
        self.admin, self.admin_transport, _ = self.harness.connect(connect_params(
            scopes=["operator.admin"]))

    def pending_request(self, role: str = "operator", scopes: list[str] | None = None
                        ) -> tuple[DeviceKey, str]:
        key = DeviceKey()
        params = connect_params(scopes=scopes if scopes is not None else ["operator.read"],
                                role=role)
        if role == "node":
            params["client"].update(id="node-host", mode="node")
        _, _, response = self.harness.connect(params, peer=REMOTE_PEER, device_key=key)
        return key, response["error"]["details"]["requestId"]

    def resolved_events(self) -> list[str]:
        return [m["payload"]["decision"] for m in self.admin_transport.messages()
                if m.get("event") == "device.pair.resolved"]

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return self.harness.call(self.admin, self.admin_transport, method, params)

    def test_list_approve_reject(self) -> None:
        key, request_id = self.pending_request()
        _, other_id = self.pending_request()
        listed = self.call("device.pair.list")["payload"]
        self.assertEqual({p["requestId"] for p in listed["pending"]}, {request_id, other_id})
        self.assertEqual(listed["paired"], [])
        approved = self.call("device.pair.approve", {"requestId": request_id})["payload"]
        self.assertEqual(approved["requestId"], request_id)
        self.assertEqual(approved["device"]["deviceId"], key.device_id)
        self.assertEqual(self.resolved_events(), ["approved"])
        rejected = self.call("device.pair.reject", {"requestId": other_id})["payload"]
        self.assertEqual(rejected["requestId"], other_id)
        self.assertEqual(self.resolved_events(), ["rejected"])
        listed = self.call("device.pair.list")["payload"]
        self.assertEqual(listed["pending"], [])
        self.assertEqual([d["deviceId"] for d in listed["paired"]], [key.device_id])
        self.assertFalse(listed["paired"][0]["connected"])
        self.assertEqual(self.call("device.pair.approve", {"requestId": request_id})["error"],
                         {"code": "INVALID_REQUEST", "message": "unknown requestId"})
        self.assertEqual(self.call("device.pair.reject", {"requestId": "x"})["error"]["message"],
                         "unknown requestId")
        self.assertEqual(self.call("device.pair.approve", {})["error"]["message"],
                         "invalid device.pair.approve params: must have required property "
                         "'requestId'")

    def test_remove_disconnects_device_sessions(self) -> None:
        key = DeviceKey()
        device_connection, device_transport, response = self.harness.connect(
            connect_params(), device_key=key)
        self.assertIn("deviceToken", response["payload"]["auth"])
        listed = self.call("device.pair.list")["payload"]
        self.assertTrue(listed["paired"][0]["connected"])
        self.assertEqual(self.call("device.pair.remove", {"deviceId": key.device_id})["payload"],
                         {"deviceId": key.device_id})
        self.harness.clock.advance(0)
        self.assertEqual(device_transport.closed, (4001, "client invalidated: device-pair-removed"))
        self.assertEqual(self.call("device.pair.remove", {"deviceId": key.device_id})["error"]
                         ["message"], "unknown deviceId")

    def test_pairing_scope_required_and_self_scoping(self) -> None:
        reader, reader_transport, _ = self.harness.connect(connect_params())
        self.assertEqual(self.harness.call(reader, reader_transport, "device.pair.list")
                         ["error"]["details"]["missingScope"], "operator.pairing")
        own_key = DeviceKey()
        pairer, pairer_transport, response = self.harness.connect(
            connect_params(scopes=["operator.pairing", "operator.read"]), device_key=own_key)
        self.assertTrue(response["ok"])
        _, foreign_id = self.pending_request()
        listed = self.harness.call(pairer, pairer_transport, "device.pair.list")["payload"]
        self.assertEqual(listed["pending"], [])
        self.assertEqual([d["deviceId"] for d in listed["paired"]], [own_key.device_id])
        denied = self.harness.call(pairer, pairer_transport, "device.pair.approve",
                                   {"requestId": foreign_id})
        self.assertEqual(denied["error"]["message"], "device pairing approval denied")
        self.assertEqual(self.harness.call(pairer, pairer_transport, "device.pair.reject",
                                           {"requestId": foreign_id})["error"]["message"],
                         "device pairing rejection denied")
        self.assertEqual(self.harness.call(pairer, pairer_transport, "device.pair.remove",
                                           {"deviceId": "other"})["error"]["message"],
                         "device pairing removal denied")

    def test_non_admin_cannot_grant_more_than_it_holds(self) -> None:
        pairer, pairer_transport, _ = self.harness.connect(connect_params(
            scopes=["operator.pairing"]))
        _, request_id = self.pending_request(scopes=["operator.admin"])
        reply = self.harness.call(pairer, pairer_transport, "device.pair.approve",
                                  {"requestId": request_id})
        self.assertEqual(reply["error"]["message"], "missing scope: operator.admin")
        _, node_request = self.pending_request(role="node", scopes=[])
        reply = self.harness.call(pairer, pairer_transport, "device.pair.approve",
                                  {"requestId": node_request})
        self.assertEqual(reply["error"]["message"], "device pairing approval denied")
        self.assertTrue(self.call("device.pair.approve", {"requestId": node_request})["ok"])
