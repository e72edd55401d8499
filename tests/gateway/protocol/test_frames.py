"""Frame encoding and request-frame validation."""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.protocol.errors import ErrorShape, missing_scope
from openclaw.gateway.protocol.frames import (
    RawJson,
    encode_event,
    encode_json,
    request_frame_error,
    response_error,
    response_ok,
)


class EncodeJsonTests(SynchronousTestCase):
    def test_compact_and_non_ascii_kept(self) -> None:
        self.assertEqual(encode_json({"a": [1, "é·"]}), '{"a":[1,"é·"]}'.encode())

    def test_lone_surrogate_falls_back_to_escapes(self) -> None:
        data = encode_json({"id": "\ud800x"})
        self.assertEqual(data, b'{"id":"\\ud800x"}')
        self.assertEqual(json.loads(data), {"id": "\ud800x"})


class ResponseTests(SynchronousTestCase):
    def test_ok_response_field_order(self) -> None:
        self.assertEqual(
            response_ok("r1", {"ok": True}),
            b'{"type":"res","id":"r1","ok":true,"payload":{"ok":true}}',
        )

    def test_ok_with_null_payload_keeps_null(self) -> None:
        self.assertEqual(json.loads(response_ok("r", None))["payload"], None)

    def test_raw_payload_is_not_reencoded(self) -> None:
        self.assertEqual(response_ok("x", RawJson(b"[1]")),
                         b'{"type":"res","id":"x","ok":true,"payload":[1]}')

    def test_error_omits_absent_optionals(self) -> None:
        frame = json.loads(response_error("r2", ErrorShape("INVALID_REQUEST", "unknown method: x")))
        self.assertEqual(frame, {"type": "res", "id": "r2", "ok": False,
                                 "error": {"code": "INVALID_REQUEST",
                                           "message": "unknown method: x"}})
        self.assertNotIn("payload", frame)

    def test_error_with_all_fields(self) -> None:
        shape = ErrorShape("UNAVAILABLE", "busy", {"reason": "x"}, True, 500)
        self.assertEqual(shape.to_wire(), {"code": "UNAVAILABLE", "message": "busy",
                                           "details": {"reason": "x"}, "retryable": True,
                                           "retryAfterMs": 500})

    def test_missing_scope_shape(self) -> None:
        self.assertEqual(missing_scope("operator.read", ["operator.read"]).shape.to_wire(), {
            "code": "FORBIDDEN", "message": "missing scope: operator.read",
            "details": {"code": "MISSING_SCOPE", "missingScope": "operator.read",
                        "requiredScopes": ["operator.read"]}})


class EventTests(SynchronousTestCase):
    def test_event_without_seq(self) -> None:
        event = encode_event("connect.challenge", {"nonce": "n", "ts": 1})
        self.assertEqual(event.frame(None),
                         b'{"type":"event","event":"connect.challenge",'
                         b'"payload":{"nonce":"n","ts":1}}')

    def test_event_with_seq_and_state_version(self) -> None:
        event = encode_event("health", {"ok": True}, state_version={"presence": 1, "health": 3})
        self.assertEqual(
            event.frame(7),
            b'{"type":"event","event":"health","payload":{"ok":true},"seq":7,'
            b'"stateVersion":{"presence":1,"health":3}}',
        )


class RequestFrameTests(SynchronousTestCase):
    """Messages recorded from the real gateway's validator (see docs/protocol.md)."""

    def test_valid_frames(self) -> None:
        self.assertIsNone(request_frame_error({"type": "req", "id": "1", "method": "m"}))
        self.assertIsNone(request_frame_error(
            {"type": "req", "id": "1", "method": "m", "params": None, "traceparent": "t"}))

    def test_messages_match_reference(self) -> None:
        cases = [
            ({"hello": "world"},
             "must have required property 'type'; at root: unexpected property 'hello'"),
            ({"type": "req", "id": "", "method": "x"},
             "at /id: must not have fewer than 1 characters"),
            ({"type": "req", "id": 1, "method": "x", "extra": 1},
             "at root: unexpected property 'extra'; at /id: must be string"),
            ({"type": "cancel", "id": "a"},
             "must have required property 'method'; at /type: must be equal to constant"),
            ([], "must be object"),
            ("str", "must be object"),
            (None, "must be object"),
            ({"type": "req", "id": "a", "method": "m", "traceparent": "x" * 129},
             "at /traceparent: must not have more than 128 characters"),
            ({"type": "req", "id": "a", "method": "m", "traceparent": None},
             "at /traceparent: must be string"),
        ]
        for frame, expected in cases:
            self.assertEqual(request_frame_error(frame), expected, frame)
