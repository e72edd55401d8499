"""``config.set``, ``config.patch``, ``config.apply`` and the file view of ``config.get``.

Payloads and messages follow openclaw 2026.9.6 (``server-methods/config.ts``):

* ``config.set {raw, baseHash?}`` -- replace the whole config; acknowledges persistence
  (the write then reloads like a file edit) -> ``{ok, path, hash, config}``;
* ``config.apply {raw, baseHash?, sessionKey?, deliveryContext?, note?, restartDelayMs?}`` --
  replace the whole config and wait until the running gateway applied it (hot) or scheduled
  the restart it needs -> ``{ok, path, hash, config, restart?, sentinel}``;
* ``config.patch {... , replacePaths?}`` -- an RFC 7396 merge patch onto the file as authored
  (objects merge, ``null`` deletes, arrays of ``{id}`` objects merge by id, other arrays
  replace; removing array entries needs ``replacePaths``) -> the same plus ``changedPaths``
  (``{ok, noop: true, changedPaths: []}`` when nothing changes).

``baseHash`` (sha256 of the file, from ``config.get``) is required once the file exists:
missing -> ``config base hash required; re-run config.get and retry``, stale -> ``config
changed since last load; re-run config.get and retry``. Values shown redacted by
``config.get`` (``__OPENCLAW_REDACTED__``) are restored from the file before validation.
``config.apply``/``config.patch`` are limited to 30 calls per 60 s per client.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from twisted.logger import Logger

from openclaw import __version__
from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.errors import ErrorCode, GatewayError, invalid_request
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    Array,
    Integer,
    Object,
    String,
    closed_object,
    optional,
    required,
)

if TYPE_CHECKING:
    from openclaw.config import ConfigError, ConfigSnapshot
    from openclaw.gateway.reload.runtime import ReloadRuntime

log = Logger(namespace="gateway")

REDACTED: Final = "__OPENCLAW_REDACTED__"
MAX_ISSUES_IN_MESSAGE: Final = 3
RATE_LIMIT: Final = 30
RATE_WINDOW_S: Final = 60.0
DEFAULT_RESTART_DELAY_MS: Final = 2000
DOCTOR_HINT: Final = "Run: openclaw doctor --non-interactive"

CONFIG_SET_PARAMS: Final = closed_object(
    raw=required(NON_EMPTY_STRING), baseHash=optional(NON_EMPTY_STRING))
_APPLY_LIKE: Final = {
    "raw": required(NON_EMPTY_STRING),
    "baseHash": optional(NON_EMPTY_STRING),
    "sessionKey": optional(String()),
    "deliveryContext": optional(Object({}, closed=False)),
    "note": optional(String()),
    "restartDelayMs": optional(Integer(minimum=0)),
}
CONFIG_APPLY_PARAMS: Final = closed_object(**_APPLY_LIKE)
CONFIG_PATCH_PARAMS: Final = closed_object(**_APPLY_LIKE,
                                           replacePaths=optional(Array(NON_EMPTY_STRING)))

BASE_HASH_REQUIRED: Final = "config base hash required; re-run config.get and retry"
BASE_HASH_STALE: Final = "config changed since last load; re-run config.get and retry"


# -- config.get over the file -------------------------------------------------------------


async def _config_get_file(call: MethodCall, runtime: ReloadRuntime) -> dict[str, Any]:
    from openclaw.config import ConfigError
    from openclaw.gateway.methods.config import config_get_snapshot

    active = runtime.gateway.config.snapshot
    disk = await runtime.read_disk()
    view: Any = active
    issues: list[dict[str, str]] = []
    if disk.exists and disk.hash != active.hash and disk.raw is not None:
        try:
            view = await runtime.validate(disk.raw)
        except ConfigError as e:
            issues = _issues(e)
            view = active
    result = config_get_snapshot(call, view)
    result["appliedConfigHash"] = active.hash
    if not disk.exists:
        if active.exists:  # deleted under us: the active config keeps serving
            result.update(exists=False, hash=None, configRevisionHash=None, raw=None)
    elif disk.hash != getattr(view, "hash", None):
        # The file on disk does not load: describe it, keep serving the active config.
        result.update(hash=disk.hash, configRevisionHash=disk.hash, raw=None, valid=False,
                      issues=issues)
    return result


def config_get_file(call: MethodCall, runtime: ReloadRuntime) -> Any:
    return _config_get_file(call, runtime)


# -- helpers ------------------------------------------------------------------------------


def _issues(error: ConfigError) -> list[dict[str, str]]:
    return [{"path": issue.path or "<root>", "message": issue.message}
            for issue in error.issues]


def summarize_issues(issues: list[dict[str, str]]) -> str:
    shown = issues[:MAX_ISSUES_IN_MESSAGE]
    if not shown:
        return "invalid config"
    hidden = len(issues) - len(shown)
    lines = "; ".join(f"{i['path']}: {i['message']}" for i in shown)
    more = f" (+{hidden} more issue{'' if hidden == 1 else 's'})" if hidden else ""
    return f"invalid config: {lines}{more}"


def _parse_raw(raw: str) -> Any:
    from openclaw.config import ConfigError
    from openclaw.config.jsonfile import parse_json5

    try:
        return parse_json5(raw, "<raw>")
    except ConfigError as e:
        reason = "; ".join(issue.message for issue in e.issues) or str(e)
        raise invalid_request(reason) from None


def _sentinel_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "<root>"] if value.strip() == REDACTED else []
    if isinstance(value, Mapping):
        return [p for k, v in value.items()
                for p in _sentinel_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _sentinel_paths(v, f"{path}[{i}]")]
    return []


def _roster_ids(document: Any) -> list[str]:
    agents = document.get("agents") if isinstance(document, Mapping) else None
    entries = agents.get("entries") if isinstance(agents, Mapping) else None
    return [str(k).strip().lower() for k in entries] if isinstance(entries, Mapping) else []


def _check_rate(call: MethodCall, runtime: ReloadRuntime) -> None:
    session = call.session
    key = (call.method, session.device_id or session.client_ip or session.conn_id)
    now = call.context.clock.seconds()
    buckets = runtime.rate_buckets
    recent = [t for t in buckets.get(key, []) if now - t < RATE_WINDOW_S]
    if len(recent) >= RATE_LIMIT:
        retry_ms = max(1, int((recent[0] + RATE_WINDOW_S - now) * 1000))
        raise GatewayError(
            ErrorCode.UNAVAILABLE,
            f"rate limit exceeded for {call.method}; retry after {(retry_ms + 999) // 1000}s",
            details={"method": call.method, "limit": f"{RATE_LIMIT} per 60s"},
            retryable=True, retry_after_ms=retry_ms)
    recent.append(now)
    buckets[key] = recent


def _runtime(call: MethodCall) -> ReloadRuntime:
    from openclaw.gateway.reload.runtime import runtime_of

    runtime = runtime_of(call.context)
    if runtime is None:
        raise GatewayError(ErrorCode.UNAVAILABLE, f"{call.method} unavailable: this gateway "
                           "has no config writer")
    return runtime


def _redacted(call: MethodCall, snapshot: ConfigSnapshot) -> Any:
    from openclaw.config import thaw

    return call.context.redact_config(thaw(snapshot.parsed))


# -- the write path -----------------------------------------------------------------------


async def _write(call: MethodCall) -> dict[str, Any]:
    runtime = _runtime(call)
    if call.method in ("config.apply", "config.patch"):
        _check_rate(call, runtime)
    await runtime.write_lock.acquire()
    try:
        return await _write_locked(call, runtime)
    finally:
        runtime.write_lock.release()


async def _write_locked(call: MethodCall, runtime: ReloadRuntime) -> dict[str, Any]:
    from openclaw.config import ConfigError, restore_redacted
    from openclaw.gateway.reload.rules import diff_config_paths
    from openclaw.gateway.reload.writer import (
        collect_destructive_array_paths,
        leaf_diff_paths,
        merge_patch,
        render_config,
        stamp_meta,
    )
    from openclaw.secrets import SecretResolutionError

    params = call.param_map
    method = call.method
    disk = await runtime.read_disk()
    if disk.exists:
        base_hash = params.get("baseHash")
        if not base_hash:
            raise invalid_request(BASE_HASH_REQUIRED)
        if base_hash != disk.hash:
            raise invalid_request(BASE_HASH_STALE)
    source: Any = {}
    if disk.exists and disk.raw is not None:
        try:
            source = _parse_raw(disk.raw)
        except GatewayError:
            if method == "config.patch":
                raise invalid_request("invalid config: the config file does not parse; fix "
                                      "(openclaw doctor) before patching") from None
            source = {}
    submitted = _parse_raw(str(params["raw"]))
    changed_paths: list[str] | None = None
    if method == "config.patch":
        if not isinstance(submitted, Mapping):
            raise invalid_request("config.patch raw must be an object")
        replace_paths = frozenset(str(p) for p in params.get("replacePaths") or ())
        merged = merge_patch(source, submitted, replace_paths=replace_paths)
        candidate = restore_redacted(merged, source)
        destructive = [p for p in collect_destructive_array_paths(source, submitted, candidate)
                       if p not in replace_paths]
        if destructive:
            raise invalid_request(
                f"config.patch would remove entries from array path(s): "
                f"{', '.join(destructive)}. Pass replacePaths with the exact path(s) when this "
                "is intentional, or use config.apply for full-config replacement.")
        if not leaf_diff_paths(source, candidate):
            log.info("config.patch noop (no changed paths)")
            return {"ok": True, "noop": True, "changedPaths": [], "path": runtime.path,
                    "config": _redacted(call, runtime.gateway.config.snapshot)}
    else:
        if not isinstance(submitted, Mapping):
            raise invalid_request("invalid config: <root>: Invalid input: expected object")
        candidate = restore_redacted(submitted, source)
        if method == "config.set":
            kept = set(_roster_ids(candidate))
            dropped = sorted(i for i in _roster_ids(source) if i not in kept)
            if dropped:
                raise invalid_request(
                    f"config.set would remove existing agent entries: {', '.join(dropped)}. "
                    "Use the agents.delete RPC or `openclaw agents delete <id>` for "
                    "intentional deletion.")
    leftovers = _sentinel_paths(candidate)
    if leftovers:
        issues = [{"path": p, "message": f'"{REDACTED}" is the redaction placeholder shown by '
                   "config.get, not a secret; restore the real value"} for p in leftovers]
        raise GatewayError(ErrorCode.INVALID_REQUEST, summarize_issues(issues),
                           details={"issues": issues})
    text = render_config(stamp_meta(candidate, __version__))
    try:
        snapshot = await runtime.validate(text)
    except ConfigError as e:
        issues = _issues(e)
        raise GatewayError(ErrorCode.INVALID_REQUEST, summarize_issues(issues),
                           details={"issues": issues}) from None
    try:
        await runtime.gateway.secrets.prepare(snapshot.parsed)
    except SecretResolutionError as e:
        raise invalid_request(
            f"invalid config: active SecretRef resolution failed ({e})") from None
    active = runtime.gateway.config.snapshot
    changed_paths = diff_config_paths(active.parsed, snapshot.parsed)
    log.info("{method} write changedPaths={paths}", method=method,
             paths=",".join(changed_paths) or "<none>")
    await runtime.write(text)
    written_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    result: dict[str, Any] = {"ok": True, "path": runtime.path, "hash": written_hash,
                              "config": _redacted(call, snapshot)}
    if method == "config.set":
        runtime.coordinator.request(source="config.set", delay_ms=0)
        return result
    delay = params.get("restartDelayMs")
    delay_ms = int(delay) if isinstance(delay, int) else DEFAULT_RESTART_DELAY_MS
    runtime.last_restart = None
    outcome = await runtime.coordinator.expect(written_hash, origin="rpc",
                                               restart_delay_ms=delay_ms)
    return await _finish(call, runtime, result, outcome, changed_paths)


async def _finish(call: MethodCall, runtime: ReloadRuntime, result: dict[str, Any],
                  outcome: str, changed_paths: list[str]) -> dict[str, Any]:
    from openclaw.gateway.reload import coordinator as c

    method = call.method
    if outcome not in (c.APPLIED, c.UNCHANGED, c.RESTART, c.HOT_IGNORED_RESTART):
        raise GatewayError(
            ErrorCode.UNAVAILABLE,
            f"{method} persisted but was not applied to the active Gateway ({outcome}); run "
            "config.get, then use config.apply to reapply the saved config or restart the "
            "Gateway")
    requires_restart = outcome in (c.RESTART, c.HOT_IGNORED_RESTART)
    if method == "config.patch":
        result["changedPaths"] = changed_paths
    params = call.param_map
    payload = {
        "kind": "config-patch" if method == "config.patch" else "config-apply",
        "status": "ok",
        "ts": int(time.time() * 1000),
        "sessionKey": params.get("sessionKey"),
        "deliveryContext": params.get("deliveryContext"),
        "message": params.get("note"),
        "doctorHint": DOCTOR_HINT,
        "stats": {"mode": method, "root": runtime.path, "requiresRestart": requires_restart},
    }
    payload = {k: v for k, v in payload.items() if v is not None or k == "message"}
    persisted = False
    if outcome == c.RESTART:
        restart = runtime.last_restart
        if restart is not None:
            result["restart"] = restart
        persisted = await runtime.write_sentinel(payload)
    result["sentinel"] = {"persisted": persisted, "payload": payload}
    return result


def config_set(call: MethodCall) -> Any:
    return _write(call)


def config_patch(call: MethodCall) -> Any:
    return _write(call)


def config_apply(call: MethodCall) -> Any:
    return _write(call)
