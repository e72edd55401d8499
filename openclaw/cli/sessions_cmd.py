"""``openclaw sessions``: list the stored sessions; ``delete`` and ``compact`` them through
the running gateway.

Listing reads the session stores on disk (``<state>/agents/<id>/sessions/sessions.json``),
as the real CLI reads its own: it works with the gateway down. ``--json`` prints the real
CLI's document (``src/commands/sessions.ts``): ``{path, stores?, allAgents?, count,
totalCount, limitApplied, hasMore, activeMinutes, sessions: [row]}``, each row the stored
entry's display fields plus ``agentId``, ``acpRuntime``, ``agentRuntime``, ``contextTokens``,
``kind``, ``totalTokens``, ``totalTokensFresh``, ``modelProvider`` and ``model``.

``sessions delete <keys...>`` and ``sessions compact <key>`` call ``sessions.delete`` /
``sessions.compact`` on the gateway (which aborts a running turn and archives the
transcript); they exit 1 when the gateway refuses or cannot be reached.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from openclaw.cli.common import parse_timeout_ms, report_client_error, write_json
from openclaw.cli.options import (
    GATEWAY_CLIENT_OPTIONS,
    JSON,
    Command,
    InvalidValue,
    Option,
    report_usage_error,
    run_parse,
)

DEFAULT_LIMIT: Final = 100
DEFAULT_CONTEXT_TOKENS: Final = 200_000
BUILTIN_CONTEXT_TOKENS: Final = 4096
RPC_TIMEOUT_MS: Final = 30_000

LIST = Command(
    usage="openclaw sessions [options] [command]",
    description="List stored conversation sessions",
    options=(
        Option("--active", "Only show sessions updated within the past N minutes", "<minutes>"),
        Option("--agent", "Agent id to inspect (required for multiple explicit agents)",
               "<id>"),
        Option("--all-agents", "Aggregate sessions across all configured agents"),
        JSON,
        Option("--limit", 'Max sessions to show (default: 100; use "all" for full output)',
               "<count>"),
        Option("--store", "Legacy session store selector path", "<path>"),
        Option("--verbose", "Verbose logging"),
    ),
)
DELETE = Command(
    usage="openclaw sessions delete [options] <keys...>",
    description="Delete stored sessions and their live artifacts via the running gateway",
    options=(Option("--agent", "Agent id that owns the session (required for global keys)",
                    "<id>"),
             Option("--dry-run", "Preview delete actions without writing"),
             JSON, *GATEWAY_CLIENT_OPTIONS,
             Option("--timeout", "RPC timeout in milliseconds", "<ms>"),
             Option("--yes", "Skip the destructive confirmation prompt")),
    positionals=("<keys>", *("[keys]",) * 63),
)
COMPACT = Command(
    usage="openclaw sessions compact [options] <key>",
    description="Compact a stored session transcript via the running gateway",
    options=(Option("--agent", "Agent id that owns the session (required for global keys)",
                    "<id>"),
             JSON,
             Option("--max-lines", "Truncate to the last N transcript lines instead of LLM "
                    "summarization", "<count>"),
             *GATEWAY_CLIENT_OPTIONS,
             Option("--timeout", "RPC timeout in milliseconds", "<ms>")),
    positionals=("<key>",),
)

_DISPLAY_FIELDS: Final = (
    "sessionId", "spawnedBy", "spawnedWorkspaceDir", "spawnedCwd", "parentSessionKey",
    "forkedFromParent", "spawnDepth", "subagentRole", "subagentControlScope",
    "sessionStartedAt", "lastInteractionAt", "label", "color", "status", "visibility",
    "createdActor", "owner", "participants", "participantCount", "systemSent",
    "abortedLastRun", "thinkingLevel", "verboseLevel", "traceLevel", "reasoningLevel",
    "elevatedLevel", "responseUsage", "groupActivation", "inputTokens", "outputTokens",
    "totalTokens", "totalTokensFresh", "totalTokensVersion", "model", "modelProvider",
    "providerOverride", "modelOverride", "contextTokens",
)


class SessionsError(Exception):
    pass


def sessions_command(args: list[str], env: MutableMapping[str, str]) -> int:
    if args and args[0] == "list":
        args = args[1:]
    elif args and args[0] == "delete":
        return _delete(args[1:], env)
    elif args and args[0] == "compact":
        return _compact(args[1:], env)
    elif args and not args[0].startswith("-"):
        sys.stderr.write(f'OpenClaw sessions has no command "{args[0]}".\nTry: openclaw '
                         "sessions --help\n")
        return 1
    parsed = run_parse(LIST, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    json_mode = bool(values["json"])
    try:
        document = list_sessions(env, values)
    except SessionsError as e:
        if json_mode:
            from openclaw.cli.common import cli_error_json

            write_json(cli_error_json(str(e)))
        sys.stderr.write(f"{e}\n")
        return 1
    if json_mode:
        write_json(document)
    else:
        _print_table(document)
    return 0


# -- listing ---------------------------------------------------------------------------------


def _parse_limit(raw: Any) -> int | None:
    """None: no limit ("all")."""
    if raw is None:
        return DEFAULT_LIMIT
    text = str(raw).strip()
    if text.lower() == "all":
        return None
    if not text.isdigit() or int(text) <= 0:
        raise SessionsError('--limit must be a positive integer or "all", for example '
                            "--limit 25.")
    return int(text)


def _configured_agents(document: Mapping[str, Any]) -> tuple[list[str], str]:
    """(agent ids, default id) from ``agents.entries`` (or legacy ``agents.list``)."""
    from openclaw.config.ids import normalize_agent_id

    agents = document.get("agents") if isinstance(document.get("agents"), Mapping) else {}
    ids: list[str] = []
    default: str | None = None
    entries = agents.get("entries") if isinstance(agents, Mapping) else None
    if isinstance(entries, Mapping):
        for key, entry in entries.items():
            ids.append(normalize_agent_id(str(key)))
            if isinstance(entry, Mapping) and entry.get("default") is True and default is None:
                default = ids[-1]
    legacy = agents.get("list") if isinstance(agents, Mapping) else None
    if isinstance(legacy, list):
        for entry in legacy:
            if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                ids.append(normalize_agent_id(entry["id"]))
                if entry.get("default") is True and default is None:
                    default = ids[-1]
    if not ids:
        ids = ["main"]
    unique = list(dict.fromkeys(ids))
    return unique, default or unique[0]


def _model_context(document: Mapping[str, Any], provider: str | None,
                   model: str | None) -> int | None:
    models = document.get("models") if isinstance(document.get("models"), Mapping) else {}
    providers = models.get("providers") if isinstance(models, Mapping) else None
    entry = providers.get(provider) if isinstance(providers, Mapping) and provider else None
    for definition in (entry or {}).get("models") or () if isinstance(entry, Mapping) else ():
        if isinstance(definition, Mapping) and definition.get("id") == model:
            window = definition.get("contextTokens") or definition.get("contextWindow")
            if isinstance(window, int | float) and window > 0:
                return int(window)
    if provider == "local" and not providers:
        return BUILTIN_CONTEXT_TOKENS
    return None


def _default_model(document: Mapping[str, Any]) -> tuple[str, str]:
    """(provider, model) a session without one would use."""
    from openclaw.cli.models_cmd import default_model_ref

    ref = default_model_ref(document)
    provider, _, model = ref.partition("/")
    return provider, model


def agent_of(key: str) -> str | None:
    """The agent of an ``agent:<id>:<rest>`` key (``openclaw.agents.session_keys`` rules,
    restated: importing that package loads the run engine and Twisted)."""
    parts = key.split(":")
    if len(parts) < 3 or parts[0] != "agent" or not parts[1] or not all(parts[2:]):
        return None
    return parts[1]


def kind_of(key: str) -> str:
    """``direct``/``group``/``global``/``unknown`` (``session_keys.session_kind``)."""
    if key in ("global", "unknown"):
        return key
    rest = ":".join(key.split(":")[2:]) if agent_of(key) else key
    return "group" if ":group:" in f":{rest}:" or ":channel:" in f":{rest}:" else "direct"


def _row(key: str, entry: Mapping[str, Any], agent_id: str, document: Mapping[str, Any],
         now_ms: int) -> dict[str, Any]:
    updated = entry.get("updatedAt") if isinstance(entry.get("updatedAt"), int) else None
    row: dict[str, Any] = {"key": key, "updatedAt": updated,
                           "ageMs": now_ms - updated if updated else None}
    for field in _DISPLAY_FIELDS:
        value = entry.get(field)
        if field == "visibility" and value is None:
            value = "shared"
        if value is not None:
            row[field] = value
    provider = entry.get("modelProvider") or entry.get("providerOverride")
    model = entry.get("model") or entry.get("modelOverride")
    if not (isinstance(provider, str) and isinstance(model, str)):
        provider, model = _default_model(document)
    context = entry.get("contextTokens")
    if not (isinstance(context, int) and context > 0):
        context = _model_context(document, str(provider), str(model))
    row.update(agentId=agent_of(key) or agent_id, acpRuntime=False,
               agentRuntime={"id": "openclaw", "source": "implicit"}, contextTokens=context,
               kind=kind_of(key))
    total = entry.get("totalTokens")
    row["totalTokens"] = total if isinstance(total, int | float) and total >= 0 else None
    row["totalTokensFresh"] = row["totalTokens"] is not None and \
        entry.get("totalTokensFresh") is True and entry.get("totalTokensVersion") == 1
    row["contextTokens"] = row["contextTokens"] or DEFAULT_CONTEXT_TOKENS
    row["modelProvider"] = provider
    row["model"] = model
    return row


def list_sessions(env: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``--json`` document of ``openclaw sessions``."""
    from openclaw.client.target import client_paths, load_client_config
    from openclaw.config.ids import normalize_agent_id

    _home, state_dir, _config_path = client_paths(env)
    document = load_client_config(env).document
    configured, default_id = _configured_agents(document)
    all_agents = bool(values.get("allAgents"))
    active_raw = values.get("active")
    active: int | None = None
    if active_raw is not None:
        text = str(active_raw).strip()
        if not text.isdigit() or int(text) <= 0:
            raise SessionsError("--active must be a positive number of minutes, for example "
                                "--active 30.")
        active = int(text)
    limit = _parse_limit(values.get("limit"))
    store_override = values.get("store")
    if all_agents:
        on_disk = sorted(name for name in _listdir(os.path.join(state_dir, "agents")))
        agent_ids = list(dict.fromkeys([*configured, *on_disk]))
    elif values.get("agent"):
        agent_ids = [normalize_agent_id(str(values["agent"]))]
    else:
        agent_ids = [default_id]
    targets = [(agent_id, str(store_override) if store_override and not all_agents else
                os.path.join(state_dir, "agents", agent_id, "sessions", "sessions.json"))
               for agent_id in agent_ids]
    now_ms = int(time.time() * 1000)
    since = now_ms - active * 60_000 if active is not None else None
    rows: list[dict[str, Any]] = []
    for agent_id, path in targets:
        for key, entry in _read_store(path).items():
            if not isinstance(entry, Mapping):
                continue
            updated = entry.get("updatedAt")
            if since is not None and not (isinstance(updated, int) and updated >= since):
                continue
            rows.append(_row(str(key), entry, agent_id, document, now_ms))
    rows.sort(key=lambda row: -(row.get("updatedAt") or 0))
    total = len(rows)
    shown = rows if limit is None else rows[:limit]
    aggregate = all_agents or len(targets) > 1
    out: dict[str, Any] = {"path": None if aggregate or not targets else targets[0][1]}
    if aggregate:
        out["stores"] = [{"agentId": agent_id, "path": path} for agent_id, path in targets]
    if all_agents:
        out["allAgents"] = True
    out.update(count=len(shown), totalCount=total, limitApplied=limit,
               hasMore=len(shown) < total, activeMinutes=active, sessions=shown)
    return out


def _listdir(path: str) -> list[str]:
    try:
        return [name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name))]
    except OSError:
        return []


def _read_store(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise SessionsError(f"Failed to read session store {path}: {e}") from None
    return data if isinstance(data, dict) else {}


def _age(ms: int | None) -> str:
    if ms is None:
        return "unknown"
    seconds = ms // 1000
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def _print_table(document: Mapping[str, Any]) -> None:
    out = sys.stdout
    stores = document.get("stores")
    if isinstance(stores, list):
        names = ", ".join(str(store["agentId"]) for store in stores)
        out.write(f"Session stores: {len(stores)} ({names})\n")
    else:
        out.write(f"Session store: {document.get('path')}\n")
    count, total, limit = document["count"], document["totalCount"], document["limitApplied"]
    if document["hasMore"] and limit is not None:
        out.write(f"Sessions listed: {count} of {total} (limit {limit})\n")
    else:
        out.write(f"Sessions listed: {count}\n")
    if document.get("activeMinutes"):
        out.write(f"Filtered to last {document['activeMinutes']} minute(s)\n")
    sessions = document["sessions"]
    if not sessions:
        out.write("No sessions found.\n")
        return
    show_agent = isinstance(stores, list)
    header = (["Agent"] if show_agent else []) + ["Kind", "Key", "Age", "Model",
                                                  "Tokens (ctx %)"]
    table = [header]
    for row in sessions:
        total_tokens = row.get("totalTokens")
        context = row.get("contextTokens") or DEFAULT_CONTEXT_TOKENS
        tokens = f"unknown/{context // 1000}k (?%)" if total_tokens is None else \
            f"{total_tokens}/{context // 1000}k ({min(999, round(total_tokens * 100 / context))}%)"
        table.append(([row["agentId"]] if show_agent else []) + [
            row["kind"], row["key"], _age(row.get("ageMs")), str(row.get("model") or "unknown"),
            tokens])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                   strict=True)).rstrip()
                  + "\n")


# -- through the gateway ---------------------------------------------------------------------


def _gateway_call(env: MutableMapping[str, str], values: Mapping[str, Any], method: str,
                  params: dict[str, Any]) -> Any:
    from openclaw.cli.common import resolve_command_target
    from openclaw.client.connection import ADMIN, ClientIdentity, call_gateway
    from openclaw.client.target import load_client_config

    timeout_ms = parse_timeout_ms(values.get("timeout"), RPC_TIMEOUT_MS)
    target = resolve_command_target(env, load_client_config(env), dict(values))
    return call_gateway(target, method, params, identity=ClientIdentity(scopes=(ADMIN,)),
                        timeout_ms=timeout_ms)


def _delete(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.client.errors import GatewayClientError

    parsed = run_parse(DELETE, args)
    if isinstance(parsed, int):
        return parsed
    values, keys = parsed
    json_mode = bool(values["json"])
    if not values.get("yes") and not values.get("dryRun") and not json_mode and \
            sys.stdin.isatty():
        answer = input(f"Delete {len(keys)} session(s) ({', '.join(keys)})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            sys.stderr.write("Aborted.\n")
            return 1
    results: list[dict[str, Any]] = []
    failed = False
    for key in keys:
        if values.get("dryRun"):
            results.append({"key": key, "dryRun": True, "deleted": False})
            continue
        params: dict[str, Any] = {"key": key}
        if values.get("agent"):
            params["agentId"] = str(values["agent"])
        try:
            results.append(_gateway_call(env, values, "sessions.delete", params))
        except InvalidValue as e:
            report_usage_error(str(e), DELETE.path, json_mode=json_mode)
            return 1
        except GatewayClientError as e:
            failed = True
            if not json_mode:
                report_client_error(e, json_mode=False, label=f"Delete {key} failed")
            results.append({"key": key, "ok": False, "error": e.to_json().get("error")})
    if json_mode:
        write_json({"ok": not failed, "results": results})
    else:
        for result in results:
            if result.get("dryRun"):
                sys.stdout.write(f"Would delete {result['key']}\n")
            elif result.get("ok") is not False:
                sys.stdout.write(f"Deleted {result.get('key')}"
                                 + (" (transcript archived)" if result.get("archived") else "")
                                 + "\n")
    return 1 if failed else 0


def _compact(args: list[str], env: MutableMapping[str, str]) -> int:
    from openclaw.client.errors import GatewayClientError

    parsed = run_parse(COMPACT, args)
    if isinstance(parsed, int):
        return parsed
    values, (key,) = parsed
    json_mode = bool(values["json"])
    params: dict[str, Any] = {"key": key}
    if values.get("agent"):
        params["agentId"] = str(values["agent"])
    try:
        if values.get("maxLines") is not None:
            text = str(values["maxLines"]).strip()
            if not text.isdigit() or int(text) <= 0:
                raise InvalidValue("--max-lines must be a positive integer.")
            params["maxLines"] = int(text)
        result = _gateway_call(env, values, "sessions.compact", params)
    except InvalidValue as e:
        report_usage_error(str(e), COMPACT.path, json_mode=json_mode)
        return 1
    except GatewayClientError as e:
        return report_client_error(e, json_mode=json_mode, label="Compaction failed")
    if json_mode:
        write_json(result)
    elif isinstance(result, Mapping) and result.get("compacted"):
        kept = f" (kept {result['kept']} entries)" if result.get("kept") is not None else ""
        sys.stdout.write(f"Compacted {key}{kept}\n")
    else:
        reason = result.get("reason") if isinstance(result, Mapping) else None
        sys.stdout.write(f"Nothing to compact for {key}" + (f": {reason}" if reason else "")
                         + "\n")
    return 0
