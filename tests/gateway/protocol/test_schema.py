"""Connect params validation: messages identical to the real gateway's."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.protocol.handshake import CONNECT_PARAMS_SCHEMA
from openclaw.gateway.protocol.schema import (
    Integer,
    Number,
    Object,
    String,
    optional,
    validation_error_text,
)

BASE: dict[str, Any] = {
    "minProtocol": 4,
    "maxProtocol": 4,
    "client": {"id": "cli", "version": "1", "platform": "x", "mode": "cli"},
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


class ConnectParamsTests(SynchronousTestCase):
    def check(self, params: Any, expected: str | None) -> None:
        self.assertEqual(validation_error_text(CONNECT_PARAMS_SCHEMA, params), expected)

    def test_minimal_valid(self) -> None:
        self.check(BASE, None)
        self.check(with_(minProtocol=4.0), None)
        self.check(with_(minProtocol=1e20), None)

    def test_reference_messages(self) -> None:
        self.check({}, "must have required property 'minProtocol'")
        self.check(None, "must be object")
        self.check(with_(client={**BASE["client"], "id": "nope"}),
                   "at /client/id: must be equal to one of the allowed values")
        self.check(
            {"minProtocol": "4", "maxProtocol": 4.5,
             "client": {"id": "cli", "version": "", "platform": "x", "mode": "zzz", "extra": 1},
             "foo": 1},
            "at root: unexpected property 'foo'; at /minProtocol: must be integer; "
            "at /maxProtocol: must be integer; at /client: unexpected property 'extra'; "
            "at /client/version: must not have fewer than 1 characters; "
            "at /client/mode: must be equal to one of the allowed values",
        )
        self.check(with_(minProtocol=0, device={"id": "a"}),
                   "at /minProtocol: must be >= 1; at /device: must have required property "
                   "'publicKey'")
        self.check(with_(client="x"), "at /client: must be object")
        self.check(with_(scopes=[1, ""]),
                   "at /scopes/0: must be string; at /scopes/1: must not have fewer than 1 "
                   "characters")
        self.check(with_(auth={"token": 5, "x": 1}),
                   "at /auth: unexpected property 'x'; at /auth/token: must be string")
        self.check(with_(caps="x"), "at /caps: must be array")
        self.check(with_(permissions={"a": "x"}), "at /permissions/a: must be boolean")
        self.check(with_(device={"id": "a", "publicKey": "b", "signature": "c", "signedAt": -1,
                                 "nonce": ""}),
                   "at /device/signedAt: must be >= 0; at /device/nonce: must not have fewer "
                   "than 1 characters")
        self.check(with_(client={}), "at /client: must have required property 'id'")
        self.check({"maxProtocol": "x"},
                   "must have required property 'minProtocol'; at /maxProtocol: must be integer")
        self.check(with_(role=""), "at /role: must not have fewer than 1 characters")
        self.check(with_(client={**BASE["client"], "buildId": "x" * 100}),
                   "at /client/buildId: must not have more than 96 characters")
        self.check(with_(minProtocol=True), "at /minProtocol: must be integer")
        self.check(with_(locale=None), "at /locale: must be string")

    def test_error_count_is_capped(self) -> None:
        text = validation_error_text(CONNECT_PARAMS_SCHEMA, with_(scopes=[1] * 12))
        assert text is not None
        self.assertEqual(len(text.split("; ")), 8)


class SchemaPrimitivesTests(SynchronousTestCase):
    def test_string_length_counts_utf16_units(self) -> None:
        self.assertIsNotNone(validation_error_text(String(max_length=1), "😀"))
        self.assertIsNone(validation_error_text(String(max_length=2), "😀"))

    def test_number_and_integer_bounds(self) -> None:
        self.assertEqual(validation_error_text(Integer(maximum=3), 4), "must be <= 3")
        self.assertEqual(validation_error_text(Number(minimum=1), 0.5), "must be >= 1")
        self.assertEqual(validation_error_text(Number(), "x"), "must be number")

    def test_open_object_allows_extra_keys(self) -> None:
        schema = Object({"a": optional(Integer())}, closed=False)
        self.assertIsNone(validation_error_text(schema, {"b": 1}))

    def test_pointer_escaping(self) -> None:
        schema = Object({"a/b": optional(Integer())})
        self.assertEqual(validation_error_text(schema, {"a/b": "x"}), "at /a~1b: must be integer")
