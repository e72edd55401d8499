"""Config family: ``config.get`` (redacted snapshot), ``config.schema`` and the writes
``config.set``, ``config.patch``, ``config.apply``.

Secrets are replaced by ``__OPENCLAW_REDACTED__`` everywhere, including inside the raw
file text (:func:`openclaw.config.redact.redact_raw`).

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

from collections.abc import Mapping
from typing import Any, Final

from openclaw.config.loader import ConfigSnapshot
from openclaw.config.redact import redact_raw
from openclaw.gateway.protocol.dispatch import MethodCall

REDACTED: Final = "__OPENCLAW_REDACTED__"


def _warnings(snapshot: ConfigSnapshot) -> list[dict[str, str]]:
    """Loader warnings plus keys of real OpenClaw that this gateway does not apply yet."""
    result: list[dict[str, str]] = [{"path": "", "message": item} for item in snapshot.warnings]
    for dotted in snapshot.unsupported:
        result.append({"path": str(dotted),
                       "message": "not supported by this gateway yet; kept, not applied"})
    return result


def config_get(call: MethodCall) -> Any:
    from openclaw.gateway.reload.runtime import runtime_of

    runtime = runtime_of(call.context)
    if runtime is not None:
        from openclaw.gateway.methods.config_write import config_get_file

        return config_get_file(call, runtime)
    return config_get_snapshot(call)


def config_get_snapshot(call: MethodCall, snapshot: ConfigSnapshot | None = None
                        ) -> dict[str, Any]:
    context = call.context
    if snapshot is None:
        snapshot = context.get_config()
    parsed_dict: Any = _plain(snapshot.parsed)
    redacted = context.redact_config(parsed_dict)
    raw = snapshot.raw
    if isinstance(raw, str):
        raw = redact_raw(raw, parsed_dict)
    config_hash = snapshot.hash
    return {
        "path": snapshot.path,
        "includedPaths": list(snapshot.included_files),
        "includeProvenance": [],
        "agentRosterIncludeOwned": False,
        "bindingsIncludeOwned": False,
        "exists": snapshot.exists,
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
