"""``openclaw config get|set|unset|file|validate``: dotted-path edits of ``openclaw.json``.

* ``get <path> [--json]``: the value (secrets redacted); scalars print bare, objects as JSON.
  A valid but unset path, or an unknown one, exits 1 with the real CLI's message.
* ``set <path> <value>``: the value is parsed as JSON (``19999``, ``false``, ``{"a":1}``),
  otherwise taken as a string; the whole candidate config is validated before anything is
  written; then the file is replaced atomically (mode 0600) after rotating the ``.bak`` ring.
  The confirmation says whether the running gateway needs a restart (hot-reload rules).
* ``unset <path>``: removes the key (exit 1 when it is not there).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from openclaw import __version__
from openclaw.cli.common import write_json
from openclaw.cli.options import JSON, Command, run_parse

if TYPE_CHECKING:
    from openclaw.config.paths import OpenClawPaths

GET = Command(usage="openclaw config get [options] <path>",
              description="Get a config value by dot path", options=(JSON,),
              positionals=("<path>",))
SET = Command(usage="openclaw config set [options] <path> <value>",
              description="Set a config value by dot path (value parsed as JSON when possible)",
              options=(JSON,), positionals=("<path>", "<value>"))
UNSET = Command(usage="openclaw config unset [options] <path>",
                description="Remove a config value by dot path", options=(JSON,),
                positionals=("<path>",))
FILE = Command(usage="openclaw config file", description="Print the active config file path")
VALIDATE = Command(usage="openclaw config validate [options]",
                   description="Validate the config file", options=(JSON,))

CONFIG_USAGE = """\
Usage: openclaw config <get|set|unset|file|validate> [options]

Read and edit the config file by dotted path (e.g. gateway.port).
"""

# Hot-reload rules (longest prefix wins; no match = restart), spec config-ops §3.4.
_RELOAD_NONE = (
    "gateway.remote", "gateway.reload", "diagnostics.stuckSessionWarnMs", "meta", "identity",
    "wizard", "logging", "agents", "tools", "bindings", "audio", "agent", "routing",
    "messages", "session", "talk", "skills", "secrets", "ui",
)
_RELOAD_HOT = (
    "gateway.channelHealthCheckMinutes", "gateway.channelStaleEventThresholdMinutes",
    "gateway.channelMaxRestartsPerHour", "hooks", "agents.defaults.heartbeat",
    "agents.defaults.models", "agents.defaults.model", "models", "agents.list",
    "agent.heartbeat", "cron", "gateway.auth.token", "gateway.auth.password",
    "gateway.auth.rateLimit", "gateway.http.endpoints", "gateway.controlUi.enabled",
    "gateway.controlUi.allowedOrigins", "channels", "approvals", "update",
)
_RELOAD_RESTART = ("gateway", "plugins", "discovery", "canvasHost")


def reload_kind(path: str) -> str:
    """``none``, ``hot`` or ``restart`` for a changed dotted path."""
    best, kind = "", "restart"
    for prefixes, name in ((_RELOAD_NONE, "none"), (_RELOAD_HOT, "hot"),
                           (_RELOAD_RESTART, "restart")):
        for prefix in prefixes:
            matches = path == prefix or path.startswith(prefix + ".")
            if matches and len(prefix) > len(best):
                best, kind = prefix, name
    return kind


def apply_note(path: str) -> str:
    return {
        "none": "No gateway restart needed.",
        "hot": "Change will apply without restarting the gateway.",
        "restart": "Restart the gateway to apply.",
    }[reload_kind(path)]


def split_path(dotted: str) -> list[str]:
    return [part for part in dotted.strip().split(".") if part]


def schema_knows(dotted: str) -> bool:
    """Whether the config schema (implemented + accepted upstream keys) has this path."""
    from openclaw.config import config_json_schema

    node: Any = config_json_schema()
    for key in split_path(dotted):
        if not isinstance(node, Mapping):
            return False
        properties = node.get("properties")
        if isinstance(properties, Mapping) and key in properties:
            node = properties[key]
            continue
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            node = extra
            continue
        # An accepted-but-opaque subtree: anything below it is allowed.
        return bool(node.get("x-openclaw-unsupported") or extra is True or (
            "properties" not in node and node.get("type") in (None, "object")))
    return True


def _lookup(document: Any, parts: list[str]) -> tuple[bool, Any]:
    node = document
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def read_raw_document(path: str) -> dict[str, Any]:
    """The file's own document (before ``$include``/``${VAR}``), or {} when missing."""
    from openclaw.config.jsonfile import parse_json5

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    document = parse_json5(text, path)
    if not isinstance(document, dict):
        from openclaw.config import ConfigError, ConfigIssue

        raise ConfigError(path, [ConfigIssue("<root>", "Config root must be an object", path)])
    return document


def write_config_document(
    path: str, document: Mapping[str, Any], env: Mapping[str, str], home: str
) -> None:
    """Validate `document` as the config at `path`, then replace the file (0600, backups).

    Raises :class:`openclaw.config.ConfigError` without writing when it does not validate.
    """
    from openclaw.config import parse_config_text

    stamped = dict(document)
    meta = dict(stamped.get("meta") or {}) if isinstance(stamped.get("meta"), Mapping) else {}
    meta["lastTouchedVersion"] = __version__
    stamped["meta"] = meta
    text = json.dumps(stamped, indent=2, ensure_ascii=False) + "\n"
    parse_config_text(text, path, env=env, home=home)
    from openclaw.gateway.reload.writer import write_config_atomic

    write_config_atomic(path, text)


def set_config_value(paths: OpenClawPaths, env: Mapping[str, str], dotted: str, value: Any) -> None:
    document = read_raw_document(paths.config_path)
    node: dict[str, Any] = document
    parts = split_path(dotted)
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
    write_config_document(paths.config_path, document, env, paths.home)


def _issues_text(error: Exception) -> str:
    issues = getattr(error, "issues", None)
    if issues:
        return "; ".join(f"{issue.path}: {issue.message}" for issue in issues)
    return str(error)


def config_command(args: list[str], env: MutableMapping[str, str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(CONFIG_USAGE)
        return 0 if args else 1
    sub, rest = args[0], args[1:]
    handler = {"get": _get, "set": _set, "unset": _unset, "file": _file,
               "validate": _validate}.get(sub)
    if handler is None:
        sys.stderr.write(f'OpenClaw config has no command "{sub}".\nTry: openclaw config '
                         "--help\nDocs: https://docs.openclaw.ai/cli\n")
        return 1
    return handler(rest, env)


def _paths(env: Mapping[str, str]) -> Any:
    from openclaw.config.paths import resolve_paths

    return resolve_paths(env)


def _fail(json_mode: bool, message: str) -> int:
    if json_mode:
        from openclaw.cli.common import cli_error_json

        write_json(cli_error_json(message))
    sys.stderr.write(message + "\n")
    return 1


def _get(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(GET, args)
    if isinstance(parsed, int):
        return parsed
    values, (dotted,) = parsed
    json_mode = bool(values["json"])
    from openclaw.config import ConfigError, load_config, redact_config, thaw

    paths = _paths(env)
    if not schema_knows(dotted):
        return _fail(json_mode, f"Unknown config path: {dotted}. Run openclaw config schema "
                                "to inspect valid paths.")
    try:
        snapshot = load_config(paths.config_path, env=env, home=paths.home)
        document: Any = thaw(snapshot.parsed)
    except ConfigError:
        document = read_raw_document(paths.config_path)
    found, value = _lookup(redact_config(document), split_path(dotted))
    if not found:
        return _fail(json_mode, f"Config path is valid but unset: {dotted}. The runtime "
                                "default applies until you set an authored value with "
                                f"openclaw config set {dotted} <value>.")
    if json_mode or isinstance(value, dict | list):
        write_json(value)
    elif isinstance(value, bool):
        sys.stdout.write(("true" if value else "false") + "\n")
    elif value is None:
        sys.stdout.write("null\n")
    else:
        sys.stdout.write(f"{value}\n")
    return 0


def _set(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(SET, args)
    if isinstance(parsed, int):
        return parsed
    values, (dotted, raw) = parsed
    json_mode = bool(values["json"])
    from openclaw.config import ConfigError

    if not split_path(dotted) or not schema_knows(dotted):
        return _fail(json_mode, f"Unknown config path: {dotted}. Run openclaw config schema "
                                "to inspect valid paths.")
    paths = _paths(env)
    try:
        set_config_value(paths, env, dotted, parse_value(raw))
    except ConfigError as e:
        return _fail(json_mode, f"Config validation failed: {_issues_text(e)}")
    except OSError as e:
        return _fail(json_mode, f"Config write failed: {e}")
    note = apply_note(dotted)
    if json_mode:
        write_json({"ok": True, "path": dotted, "restart": reload_kind(dotted) == "restart",
                    "configPath": paths.config_path})
    else:
        sys.stdout.write(f"Updated {dotted}. {note}\n")
    return 0


def _unset(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(UNSET, args)
    if isinstance(parsed, int):
        return parsed
    values, (dotted,) = parsed
    json_mode = bool(values["json"])
    from openclaw.config import ConfigError

    paths = _paths(env)
    try:
        document = read_raw_document(paths.config_path)
    except ConfigError as e:
        return _fail(json_mode, f"Config validation failed: {_issues_text(e)}")
    parts = split_path(dotted)
    found, parent = _lookup(document, parts[:-1])
    if not parts or not found or not isinstance(parent, dict) or parts[-1] not in parent:
        return _fail(json_mode, f"Config path not found: {dotted}. Nothing was changed. Run "
                                "openclaw config get <path> first if you are unsure of the "
                                "path.")
    del parent[parts[-1]]
    try:
        write_config_document(paths.config_path, document, env, paths.home)
    except ConfigError as e:
        return _fail(json_mode, f"Config validation failed: {_issues_text(e)}")
    if json_mode:
        write_json({"ok": True, "path": dotted, "removed": True,
                    "configPath": paths.config_path})
    else:
        sys.stdout.write(f"Removed {dotted}. {apply_note(dotted)}\n")
    return 0


def _file(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(FILE, args)
    if isinstance(parsed, int):
        return parsed
    sys.stdout.write(_paths(env).config_path + "\n")
    return 0


def _validate(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(VALIDATE, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.config import ConfigError, load_config

    paths = _paths(env)
    try:
        load_config(paths.config_path, env=env, home=paths.home)
    except ConfigError as e:
        issues = [{"path": i.path, "message": i.message} for i in getattr(e, "issues", [])]
        if values["json"]:
            write_json({"valid": False, "path": paths.config_path, "issues": issues})
        else:
            sys.stderr.write(f"Invalid config at {paths.config_path}:\n{e}\n")
        return 1
    if values["json"]:
        write_json({"valid": True, "path": paths.config_path})
    else:
        sys.stdout.write(f"Config valid: {paths.config_path}\n")
    return 0
