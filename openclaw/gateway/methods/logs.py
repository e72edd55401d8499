"""Logs family: ``logs.tail``, a byte cursor over the JSON-lines log file.

Semantics of the reference ``readLogSlice``: without a cursor, the last ``maxBytes`` bytes;
with a cursor, from there on (``reset`` when the file shrank below the cursor, i.e. it was
rotated or truncated, or when more than ``maxBytes`` are pending); only whole lines are
returned and the next cursor points just after the last complete line. When today's rolling
file does not exist yet, the newest file of the same family is read. The read runs off the
reactor thread (``context.run_blocking``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.errors import ErrorCode, GatewayError
from openclaw.gateway.protocol.schema import Integer, Object, optional

DEFAULT_LIMIT: Final = 500
DEFAULT_MAX_BYTES: Final = 250_000
MAX_LIMIT: Final = 5000
MAX_BYTES: Final = 1_000_000
_ROLLING_NAME: Final = re.compile(r"^(?P<stem>.+)-\d{4}-\d{2}-\d{2}(?P<ext>\.log)$")

LOGS_TAIL_PARAMS: Final = Object(
    {
        "cursor": optional(Integer(minimum=0)),
        "limit": optional(Integer(minimum=1, maximum=MAX_LIMIT)),
        "maxBytes": optional(Integer(minimum=1, maximum=MAX_BYTES)),
    }
)


def resolve_log_file(path: Path) -> Path:
    """``path`` if it exists, else the newest file of its rolling family (if any)."""
    if path.exists():
        return path
    match = _ROLLING_NAME.match(path.name)
    if match is None or not path.parent.is_dir():
        return path
    family = re.compile(
        rf"^{re.escape(match['stem'])}-\d{{4}}-\d{{2}}-\d{{2}}{re.escape(match['ext'])}$"
    )
    candidates = []
    for entry in path.parent.iterdir():
        if family.match(entry.name) and entry.is_file():
            candidates.append((entry.stat().st_mtime, entry))
    if not candidates:
        return path
    return max(candidates)[1]


def read_log_slice(
    file: Path, *, cursor: int | None, limit: int, max_bytes: int
) -> dict[str, Any]:
    """Blocking read of one slice (runs in a worker thread)."""
    max_bytes = min(max(max_bytes, 1), MAX_BYTES)
    limit = min(max(limit, 1), MAX_LIMIT)
    try:
        stat = os.stat(file)
    except FileNotFoundError:
        stat = None
    if stat is not None and not os.path.isfile(file):
        raise OSError(f"Log path is not a regular file: {file}")
    size = stat.st_size if stat is not None else 0
    reset = False
    truncated = False
    skipped: int | None = None
    if cursor is not None:
        if cursor > size:
            reset = True
            start = max(0, size - max_bytes)
            truncated = start > 0
        else:
            start = cursor
            if size - start > max_bytes:
                reset = True
                truncated = True
                bounded = max(0, size - max_bytes)
                skipped = bounded - start
                start = bounded
    else:
        start = max(0, size - max_bytes)
        truncated = start > 0

    def result(next_cursor: int, lines: list[str]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "cursor": next_cursor,
            "size": size,
            "lines": lines,
            "truncated": truncated,
            "reset": reset,
        }
        if skipped is not None:
            payload["skippedBytes"] = skipped
        return payload

    if size == 0 or size <= start:
        return result(size, [])
    try:
        with open(file, "rb") as handle:
            previous = b""
            if start > 0:
                handle.seek(start - 1)
                previous = handle.read(1)
            handle.seek(start)
            data = handle.read(size - start)
    except FileNotFoundError:
        return {"cursor": 0, "size": 0, "lines": [], "truncated": False,
                "reset": bool(cursor)}
    lines = data.decode("utf-8", "replace").split("\n")
    lines.pop()
    if start > 0 and previous != b"\n" and lines:
        lines.pop(0)
    if len(lines) > limit:
        truncated = True
        lines = lines[-limit:]
    next_cursor = start + data.rfind(b"\n") + 1
    return result(next_cursor, lines)


def logs_tail(call: MethodCall) -> Deferred[dict[str, Any]]:
    params = call.param_map
    context = call.context

    def read() -> dict[str, Any]:
        file = resolve_log_file(Path(context.log_file()))
        cursor = params.get("cursor")
        tail = read_log_slice(
            file,
            cursor=int(cursor) if cursor is not None else None,
            limit=int(params.get("limit", DEFAULT_LIMIT)),
            max_bytes=int(params.get("maxBytes", DEFAULT_MAX_BYTES)),
        )
        return {"file": str(file), **tail}

    deferred: Deferred[dict[str, Any]] = context.run_blocking(read)

    def failed(failure: Failure) -> Failure:
        if failure.check(GatewayError, CancelledError):
            return failure
        raise GatewayError(ErrorCode.UNAVAILABLE, f"log read failed: {failure.value}")

    deferred.addErrback(failed)
    return deferred
