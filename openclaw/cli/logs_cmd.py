"""``openclaw logs``: tail the gateway's file log over the ``logs.tail`` RPC.

Works against remote gateways too (it never reads files when it can ask). Output:

* text: ``Log file: <path>`` then one line per record (``<time> <level> <subsystem>
  <message>``; local time by default, ``--utc`` for ISO UTC), colours only on a terminal
  without ``--plain``/``--no-color``/``NO_COLOR``;
* ``--json``: one object per line tagged by ``type``: ``meta`` (file, cursor, size), ``log``
  (parsed record), ``raw`` (unparseable line), ``notice``.

``--follow`` polls every ``--interval`` ms with the returned cursor over one connection. A
rotated file (size-rotation: the size drops below the cursor; day change: a new ``file``) is
read again from its start with a ``Log cursor reset (file rotated).`` notice, and a gateway
restart is ridden out with reconnects (``[logs] gateway disconnected, reconnecting in Ns...``,
up to 8 attempts with exponential backoff). When the implicit local gateway cannot be
reached (not with ``--url``), a one-shot tail reads the configured log file directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from openclaw.cli.common import json_line
from openclaw.cli.options import (
    GATEWAY_CLIENT_OPTIONS,
    JSON,
    Command,
    InvalidValue,
    Option,
    command_failed,
    parse_positive_int,
    run_parse,
    timeout_option,
)

DEFAULT_LIMIT = 200
DEFAULT_MAX_BYTES = 250_000
DEFAULT_INTERVAL_MS = 1000
DEFAULT_TIMEOUT_MS = 30_000
MAX_FOLLOW_RETRIES = 8
TRUNCATED = "Log tail truncated (increase --limit or --max-bytes)."
LOCAL_FALLBACK = "Local Gateway RPC unavailable; reading configured file log instead."
HINT = "Hint: run `openclaw doctor`."

LOGS = Command(
    usage="openclaw logs [options]",
    description="Tail gateway file logs via RPC",
    options=(
        Option("--limit", f"Max lines to return (default {DEFAULT_LIMIT})", "<n>"),
        Option("--max-bytes", f"Max bytes to read (default {DEFAULT_MAX_BYTES})", "<n>"),
        Option("--follow", "Follow log output"),
        Option("--interval", f"Polling interval in ms (default {DEFAULT_INTERVAL_MS})", "<ms>"),
        JSON,
        Option("--plain", "Plain text output (no ANSI styling)"),
        Option("--no-color", "Disable ANSI colors"),
        Option("--local-time", "Display timestamps in local timezone (default)"),
        Option("--utc", "Display timestamps in UTC"),
        *GATEWAY_CLIENT_OPTIONS,
        timeout_option(DEFAULT_TIMEOUT_MS),
        Option("--expect-final", "Wait for final response (agent)"),
    ),
)

_COLORS = {"error": "31", "fatal": "31", "warn": "33", "debug": "90", "trace": "90"}


def parse_log_line(raw: str) -> dict[str, Any] | None:
    """The real CLI's ``parseLogLine``: time, level, subsystem/module/plugin, message."""
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    meta: dict[str, Any] = record["_meta"] if isinstance(record.get("_meta"), dict) else {}
    context = _meta_name(meta.get("name"))
    if meta.get("name") != record.get("0"):
        positional = _meta_name(record.get("0"))
        context = {k: context.get(k) or positional.get(k) for k in ("subsystem", "module",
                                                                    "plugin")}
    level = meta.get("logLevelName") if isinstance(meta.get("logLevelName"), str) else (
        record.get("level"))
    time_value = record.get("time") if isinstance(record.get("time"), str) else (
        meta.get("date") if isinstance(meta.get("date"), str) else None)
    parsed: dict[str, Any] = {}
    if time_value is not None:
        parsed["time"] = time_value
    if isinstance(level, str) and level.strip():
        parsed["level"] = level.strip().lower()
    subsystem = context.get("subsystem") or (
        record.get("subsystem") if isinstance(record.get("subsystem"), str) else None)
    for key, value in (("subsystem", subsystem), ("module", context.get("module")),
                       ("plugin", context.get("plugin"))):
        if value is not None:
            parsed[key] = value
    message = record.get("message")
    if not isinstance(message, str):
        parts = []
        for key in record:
            if key.isdigit():
                item = record[key]
                if isinstance(item, str):
                    parts.append(item)
                elif item is not None:
                    parts.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        message = " ".join(parts)
    parsed["message"] = message
    parsed["raw"] = raw
    return parsed


def _meta_name(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str) or not raw.lstrip().startswith("{"):
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: value[k] for k in ("subsystem", "module", "plugin")
            if isinstance(value.get(k), str)}


def format_timestamp(value: str | None, *, utc: bool, pretty: bool) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if utc and not pretty:
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    local = moment.astimezone(UTC) if utc else moment.astimezone()
    stamp = local.isoformat(timespec="milliseconds")
    if pretty:
        return f"{local.strftime('%H:%M:%S')}{stamp[-6:]}"
    return stamp


def format_line(raw: str, *, utc: bool, pretty: bool, color: bool) -> str:
    parsed = parse_log_line(raw)
    if parsed is None:
        return raw
    label = parsed.get("subsystem") or parsed.get("module") or parsed.get("plugin") or ""
    stamp = format_timestamp(parsed.get("time"), utc=utc, pretty=pretty)
    level = parsed.get("level", "")
    message = parsed["message"] or raw
    if not pretty:
        return " ".join(part for part in (stamp, level, label, message) if part).strip()
    code = _COLORS.get(level, "36")

    def paint(text: str, sgr: str) -> str:
        return f"\x1b[{sgr}m{text}\x1b[0m" if color and text else text

    head = " ".join(p for p in (paint(stamp, "90"), paint(level, code), paint(label, "35")) if p)
    return f"{head} {paint(message, code)}".strip()


def reset_notice(skipped: Any) -> str:
    if isinstance(skipped, int) and skipped > 0:
        return f"Log cursor re-anchored (skipped {skipped} bytes)."
    return "Log cursor reset (file rotated)."


def read_local_tail(path: str, *, limit: int, max_bytes: int) -> dict[str, Any]:
    """The ``logs.tail`` answer computed from a local file (the unreachable-gateway fallback)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            start = max(0, size - max_bytes)
            f.seek(start)
            data = f.read(size - start)
    except OSError:
        return {"file": path, "cursor": 0, "size": 0, "lines": [], "truncated": False,
                "reset": False}
    lines = data.decode("utf-8", "replace").split("\n")
    lines.pop()
    if start > 0 and lines:
        lines.pop(0)
    truncated = start > 0 or len(lines) > limit
    return {"file": path, "cursor": start + data.rfind(b"\n") + 1, "size": size,
            "lines": lines[-limit:], "truncated": truncated, "reset": False}


def _configured_log_file(env: Mapping[str, str]) -> str:
    from openclaw.client.target import ClientConfig
    from openclaw.config.paths import resolve_paths

    paths = resolve_paths(env)
    config = ClientConfig.load(paths.config_path, env, paths.home)
    fixed = config.get("logging.file")
    if isinstance(fixed, str) and fixed.strip():
        return fixed
    log_dir = os.path.join(paths.state_dir, "logs")
    today = os.path.join(log_dir, f"openclaw-{time.strftime('%Y-%m-%d')}.log")
    if os.path.exists(today):
        return today
    try:
        dated = sorted(n for n in os.listdir(log_dir)
                       if n.startswith("openclaw-") and n.count(".") == 1 and n.endswith(".log"))
    except OSError:
        dated = []
    return os.path.join(log_dir, dated[-1]) if dated else today


class Tail:
    """The follow loop's state: connection, cursor, file, retries, output mode."""

    def __init__(self, env: MutableMapping[str, str], values: Mapping[str, Any]) -> None:
        from openclaw.client import backend_identity, cli_identity
        from openclaw.client.target import load_client_config, resolve_target

        self.env = env
        self.json = bool(values["json"])
        self.follow = bool(values["follow"])
        self.limit = parse_positive_int(values.get("limit"), DEFAULT_LIMIT, "--limit")
        self.max_bytes = parse_positive_int(values.get("maxBytes"), DEFAULT_MAX_BYTES,
                                            "--max-bytes")
        self.interval = parse_positive_int(values.get("interval"), DEFAULT_INTERVAL_MS,
                                           "--interval") / 1000.0
        self.timeout_ms = parse_positive_int(values.get("timeout"), DEFAULT_TIMEOUT_MS,
                                             "--timeout")
        self.utc = bool(values["utc"])
        self.pretty = not self.json and sys.stdout.isatty() and not values["plain"]
        self.color = self.pretty and bool(values["color"]) and not env.get("NO_COLOR")
        config = load_client_config(env)
        self.target = resolve_target(env, config, url=values.get("url"),
                                     token=values.get("token"), password=values.get("password"))
        implicit = self.target.connection.is_local_loopback and not values.get("url")
        self.identity = backend_identity("logs.tail") if implicit else cli_identity()
        self.local_fallback_allowed = implicit
        self.connection: Any = None
        self.cursor: int | None = None
        self.file: str | None = None

    # output ----------------------------------------------------------------------------

    def emit(self, value: Mapping[str, Any], *, stderr: bool = False) -> None:
        (sys.stderr if stderr else sys.stdout).write(json_line(value) + "\n")

    def notice(self, message: str, *, stdout_json: bool = True) -> None:
        if self.json:
            self.emit({"type": "notice", "message": message}, stderr=not stdout_json)
        else:
            sys.stderr.write(message + "\n")

    def print_payload(self, payload: Mapping[str, Any], first: bool) -> None:
        lines = [line for line in payload.get("lines") or [] if isinstance(line, str)]
        file_changed = payload.get("file") != self.file
        if self.json:
            if first or file_changed:
                self.emit({"type": "meta", "file": payload.get("file"), "sourceKind": "file",
                           "cursor": payload.get("cursor"), "size": payload.get("size"),
                           **({"localFallback": True} if payload.get("localFallback") else {})})
            for line in lines:
                parsed = parse_log_line(line)
                self.emit({"type": "log", **parsed} if parsed else {"type": "raw", "raw": line})
        else:
            if (first or file_changed) and payload.get("localFallback"):
                sys.stderr.write(LOCAL_FALLBACK + "\n")
            if (first or file_changed) and payload.get("file"):
                sys.stdout.write(f"Log file: {payload['file']}\n")
            for line in lines:
                sys.stdout.write(format_line(line, utc=self.utc, pretty=self.pretty,
                                             color=self.color) + "\n")
        if payload.get("truncated"):
            self.notice(TRUNCATED)
        if payload.get("reset"):
            self.notice(reset_notice(payload.get("skippedBytes")))
        sys.stdout.flush()

    # transport -------------------------------------------------------------------------

    def fetch(self) -> dict[str, Any]:
        from openclaw.client import GatewayConnection

        if self.connection is None:
            self.connection = GatewayConnection(self.target, self.identity,
                                                timeout_ms=self.timeout_ms)
            self.connection.open()
        # Each request gets its own deadline; a long follow must not expire the connection.
        self.connection.deadline = time.monotonic() + self.timeout_ms / 1000.0
        params: dict[str, Any] = {"limit": self.limit, "maxBytes": self.max_bytes}
        if self.cursor is not None:
            params = {"cursor": self.cursor, **params}
        payload = self.connection.request("logs.tail", params)
        if not isinstance(payload, dict):
            raise ValueError("Unexpected logs.tail response")
        if self.file is not None and payload.get("file") != self.file and not payload.get(
                "reset"):
            # A new day's file: our cursor belonged to the old one, start the new one over.
            retry = dict(params, cursor=0)
            payload = self.connection.request("logs.tail", retry)
            payload = {**payload, "reset": True}
        return payload

    def drop_connection(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def run(self) -> int:
        from openclaw.client import GatewayClientError, GatewayRequestError

        first = True
        attempt = 0
        while True:
            try:
                payload = self.fetch()
            except GatewayClientError as e:
                self.drop_connection()
                transient = not (isinstance(e, GatewayRequestError) and e.during_connect)
                if self.follow and transient and attempt < MAX_FOLLOW_RETRIES:
                    attempt += 1
                    delay = min(30.0, 2 ** (attempt - 1)) * (1 + random.uniform(-0.2, 0.2))
                    self.notice(f"[logs] gateway disconnected, reconnecting in "
                                f"{round(delay)}s...", stdout_json=False)
                    time.sleep(delay)
                    continue
                if first and not self.follow and self.local_fallback_allowed and not (
                        isinstance(e, GatewayRequestError)):
                    payload = read_local_tail(_configured_log_file(self.env), limit=self.limit,
                                              max_bytes=self.max_bytes)
                    payload["localFallback"] = True
                    self.print_payload(payload, True)
                    return 0
                return self.report(e)
            if attempt:
                self.notice("[logs] gateway reconnected", stdout_json=False)
                attempt = 0
            self.print_payload(payload, first)
            if isinstance(payload.get("cursor"), int):
                self.cursor = payload["cursor"]
            self.file = payload.get("file") if isinstance(payload.get("file"), str) else None
            first = False
            if not self.follow:
                self.drop_connection()
                return 0
            time.sleep(self.interval)

    def report(self, error: Any) -> int:
        details = self.target.connection
        text = error.text if hasattr(error, "text") else str(error)
        if self.json:
            self.emit({"type": "error", "message": text, "error": text,
                       "details": {"url": details.url, "urlSource": details.url_source,
                                   **({"bindDetail": details.bind_detail}
                                      if details.bind_detail else {}),
                                   "message": details.message},
                       "hint": HINT}, stderr=True)
        else:
            sys.stderr.write(f"{text}\n{details.message}\n{HINT}\n")
        return 1


def logs_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(LOGS, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.client import GatewayClientError

    try:
        tail = Tail(env, values)
    except InvalidValue as e:
        return command_failed(str(e))
    except GatewayClientError as e:
        from openclaw.cli.common import report_client_error

        return report_client_error(e, json_mode=bool(values["json"]))
    try:
        return tail.run()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stderr.write("openclaw logs: output stdout closed (EPIPE). Stopping tail.\n")
        return 0
    finally:
        tail.drop_connection()
