"""Config family: ``config.get`` (redacted snapshot), ``config.schema`` and the writes
``config.set``, ``config.patch``, ``config.apply``.

Secrets are replaced by ``__OPENCLAW_REDACTED__`` everywhere, including inside the raw
file text: every secret string the redactor removed from the parsed document is also
replaced where it appears as a quoted literal in ``raw``.

With a running gateway tree (a :class:`~openclaw.gateway.reload.runtime.ReloadRuntime`),
``config.get`` describes the *file* (``hash`` = sha256 of the file now on disk, the
``baseHash`` writes must quote; ``valid: false`` + ``issues`` while it does not load) and
``appliedConfigHash`` the snapshot the gateway runs on. Writes are serialized, validated by
the full load pipeline and a secrets preflight, written atomically behind a ``.bak`` ring,
and then flow through the same reload path as a file edit; ``config.patch`` and
``config.apply`` wait until the running gateway applied the write, or report the restart
they scheduled (openclaw 2026.9 semantics). The handlers live in :mod:`.config_write`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from openclaw.gateway.protocol import config_view
from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.errors import ErrorCode, GatewayError

REDACTED: Final = "__OPENCLAW_REDACTED__"


def _removed_secrets(original: Any, redacted: Any) -> Iterator[str]:
    """Strings present in ``original`` that the redactor replaced."""
    if isinstance(original, Mapping) and isinstance(redacted, Mapping):
        for key, value in original.items():
            if key in redacted:
                yield from _removed_secrets(value, redacted[key])
    elif isinstance(original, list) and isinstance(redacted, list):
        for before, after in zip(original, redacted, strict=False):
            yield from _removed_secrets(before, after)
    elif isinstance(original, str) and original != redacted and original:
        yield original


def redact_raw_text(raw: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        for quote in ('"', "'"):
            escaped = secret.replace("\\", "\\\\").replace(quote, "\\" + quote)
            pattern = re.compile(re.escape(quote + escaped + quote))
            raw = pattern.sub(lambda _m: f'"{REDACTED}"', raw)
    return raw


def _warnings(snapshot: Any) -> list[dict[str, str]]:
    """Loader warnings plus keys of real OpenClaw that this gateway does not apply yet."""
    result: list[dict[str, str]] = []
    for item in config_view.field(snapshot, "warnings") or ():
        if isinstance(item, Mapping):
            result.append({"path": str(item.get("path", "")),
                           "message": str(item.get("message", ""))})
        else:
            result.append({"path": "", "message": str(item)})
    for dotted in config_view.field(snapshot, "unsupported") or ():
        result.append({"path": str(dotted),
                       "message": "not supported by this gateway yet; kept, not applied"})
    return result


def _redact_raw(raw: str, parsed: Any, redacted: Any) -> str | None:
    try:
        from openclaw.config.redact import redact_raw
    except ImportError:
        return redact_raw_text(raw, set(_removed_secrets(parsed, redacted)))
    return redact_raw(raw, parsed)


def config_get(call: MethodCall) -> Any:
    from openclaw.gateway.reload.runtime import runtime_of

    runtime = runtime_of(call.context)
    if runtime is not None:
        from openclaw.gateway.methods.config_write import config_get_file

        return config_get_file(call, runtime)
    return config_get_snapshot(call)


def config_get_snapshot(call: MethodCall, snapshot: Any = None) -> dict[str, Any]:
    context = call.context
    if snapshot is None:
        try:
            snapshot = context.get_config()
        except Exception as exc:
            raise GatewayError(ErrorCode.UNAVAILABLE, f"config unavailable: {exc}") from exc
    parsed = config_view.field(snapshot, "parsed")
    parsed_dict: Any = _plain(parsed) if parsed is not None else {}
    redacted = context.redact_config(parsed_dict)
    raw = config_view.field(snapshot, "raw")
    if isinstance(raw, str):
        raw = _redact_raw(raw, parsed_dict, redacted)
    config_hash = config_view.field(snapshot, "hash")
    return {
        "path": str(config_view.field(snapshot, "path") or ""),
        "includedPaths": [str(item) for item in
                          config_view.field(snapshot, "included_files") or ()],
        "includeProvenance": [],
        "agentRosterIncludeOwned": False,
        "bindingsIncludeOwned": False,
        "exists": bool(config_view.field(snapshot, "exists")),
        "raw": raw,
        "parsed": redacted,
        "sourceConfig": redacted,
        "resolved": redacted,
        "valid": True,
        "runtimeConfig": redacted,
        "config": redacted,
        "hash": config_hash,
        "issues": [],
        "warnings": _warnings(snapshot),
        "legacyIssues": [],
        "configRevisionHash": config_hash,
        "appliedConfigHash": config_hash,
    }


def _plain(value: Any) -> Any:
    """A JSON-shaped deep copy (mappings to dicts, sequences to lists)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def config_schema(call: MethodCall) -> dict[str, Any]:
    schema = call.context.config_schema()
    if isinstance(schema, Mapping) and "schema" in schema:
        response = dict(schema)
        response.setdefault("uiHints", {})
        response.setdefault("version", call.context.version)
        return response
    return {
        "schema": schema,
        "uiHints": {},
        "version": call.context.version,
        "generatedAt": _iso_time(call.context.started_at),
    }


def _iso_time(seconds: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
