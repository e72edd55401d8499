"""Frame encoding and request-frame validation.

Every frame is one JSON object in one text message. Responses and events are assembled
from pre-encoded fragments so a payload is serialized exactly once per frame (and once per
broadcast for events, whatever the number of recipients). Optional envelope fields are
omitted when absent: the reference clients validate envelopes strictly and drop frames
carrying ``"seq": null`` or ``"error": null``.
"""

from __future__ import annotations

import json
from typing import Any, Final

import attrs

from openclaw.gateway.protocol.errors import ErrorShape
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    AnyValue,
    Const,
    Object,
    String,
    optional,
    required,
    validation_error_text,
)

_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_COMPACT_ASCII: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
_encode_string: Final = json.encoder.encode_basestring  # C-accelerated, keeps non-ASCII


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept verbatim like ``JSON.stringify``.

    Lone surrogates (legal in JSON input, not encodable as UTF-8) fall back to ``\\uXXXX``
    escapes, which is also what ``JSON.stringify`` emits for them.
    """
    text = _COMPACT.encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _COMPACT_ASCII.encode(value).encode("ascii")


@attrs.frozen
class RawJson:
    """An already-encoded JSON value a handler may return to skip re-encoding."""

    data: bytes


def encode_string(text: str) -> bytes:
    """A JSON string literal (request ids are echoed on every response: keep it cheap)."""
    try:
        return _encode_string(text).encode("utf-8")
    except UnicodeEncodeError:
        return _COMPACT_ASCII.encode(text).encode("ascii")


def payload_bytes(payload: Any) -> bytes:
    return payload.data if isinstance(payload, RawJson) else encode_json(payload)


_RES_PREFIX: Final = b'{"type":"res","id":'
_OK_PAYLOAD: Final = b',"ok":true,"payload":'
_FAILED_ERROR: Final = b',"ok":false,"error":'


def response_ok(request_id: str, payload: Any) -> bytes:
    """``{"type":"res","id":…,"ok":true,"payload":…}``."""
    body = payload.data if type(payload) is RawJson else encode_json(payload)
    return b"".join((_RES_PREFIX, encode_string(request_id), _OK_PAYLOAD, body, b"}"))


def response_error(request_id: str, error: ErrorShape, payload: Any = None) -> bytes:
    """``{"type":"res","id":…,"ok":false,"error":{…}}`` (payload only when given)."""
    parts = [_RES_PREFIX, encode_string(request_id), b',"ok":false']
    if payload is not None:
        parts += [b',"payload":', payload_bytes(payload)]
    parts += [b',"error":', encode_json(error.to_wire()), b"}"]
    return b"".join(parts)


@attrs.frozen
class EncodedEvent:
    """An event serialized once; :meth:`frame` adds the per-connection ``seq``."""

    name: str
    head: bytes
    tail: bytes

    def frame(self, seq: int | None) -> bytes:
        if seq is None:
            return self.head + self.tail
        return b"".join((self.head, b',"seq":', str(seq).encode("ascii"), self.tail))


def encode_event(
    event: str, payload: Any = None, *, state_version: dict[str, int] | None = None
) -> EncodedEvent:
    """Field order matches the real gateway: type, event, payload, seq, stateVersion."""
    head = b'{"type":"event","event":' + encode_json(event)
    if payload is not None:
        head += b',"payload":' + payload_bytes(payload)
    tail = b"}"
    if state_version is not None:
        tail = b',"stateVersion":' + encode_json(state_version) + b"}"
    return EncodedEvent(event, head, tail)


REQUEST_FRAME_SCHEMA: Final = Object(
    {
        "type": required(Const("req")),
        "id": required(NON_EMPTY_STRING),
        "method": required(NON_EMPTY_STRING),
        "params": optional(AnyValue()),
        "traceparent": optional(String(max_length=128)),
        "expectedProfileId": optional(String(min_length=1, max_length=128)),
    }
)

_REQUEST_KEYS: Final = frozenset(REQUEST_FRAME_SCHEMA.fields)


def request_frame_error(frame: Any) -> str | None:
    """``None`` for a valid request frame, else the formatted validation text.

    The common case (a well-formed request) is checked inline without walking the schema.
    """
    if type(frame) is dict and frame.get("type") == "req":
        request_id = frame.get("id")
        method = frame.get("method")
        if (
            type(request_id) is str
            and request_id
            and type(method) is str
            and method
            and _REQUEST_KEYS.issuperset(frame)
        ):
            trace = frame.get("traceparent", "")
            profile = frame.get("expectedProfileId", "-")
            if (
                type(trace) is str
                and len(trace) <= 128
                and type(profile) is str
                and 0 < len(profile) <= 128
            ):
                return None
    return validation_error_text(REQUEST_FRAME_SCHEMA, frame) or "unknown validation error"
