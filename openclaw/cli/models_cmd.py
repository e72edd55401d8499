"""``openclaw models``: ``list``, ``status`` (the default), ``set <model>``.

Computed from the config file, as the real CLI does offline: the models of
``models.providers``, or the built-in local model when none is configured (the gateway's
``local`` provider, SmolLM2-135M unless ``$OPENCLAW_LOCAL_MODEL_GGUF`` names another GGUF).

* ``list --json``: ``{count, models: [{key, name, input, contextWindow, contextTokens?, local,
  available, tags}]}`` (``toCliModelRow``); ``--provider`` filters, ``--local`` keeps loopback
  models, ``--plain`` prints keys only.
* ``status --json``: ``{configPath, agentDir, defaultModel, resolvedDefault, fallbacks,
  imageModel, imageFallbacks, aliases, allowed, auth: {...}}``.
* ``set <model>``: writes ``agents.defaults.model.primary`` (validated, with backups) and
  prints ``Updated <config>`` / ``Default model: <model>``; the gateway picks it up live.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

from openclaw.cli.common import write_json
from openclaw.cli.options import JSON, Command, Option, run_parse

BUILTIN_PROVIDER: Final = "local"
BUILTIN_MODEL: Final = "smollm2"
BUILTIN_NAME: Final = "SmolLM2 135M Instruct (built-in)"
BUILTIN_CONTEXT: Final = 4096
OAUTH_WARN_AFTER_MS: Final = 86_400_000

AGENT = Option("--agent", "Agent id to inspect", "<id>")
LIST = Command(
    usage="openclaw models list [options]",
    description="List models (configured by default)",
    options=(AGENT, Option("--all", "Show full model catalog"), JSON,
             Option("--local", "Filter to local models"),
             Option("--plain", "Plain line output"),
             Option("--provider", "Filter by provider id", "<id>"),
             Option("--refresh", "Refresh provider discovery before listing")),
)
STATUS = Command(
    usage="openclaw models status [options]",
    description="Show configured model state",
    options=(AGENT, Option("--check", "Check auth/runtime readiness"), JSON,
             Option("--plain", "Plain output"),
             Option("--probe", "Probe configured provider auth (live)")),
)
SET = Command(usage="openclaw models set [options] <model>",
              description="Set the default model", positionals=("<model>",))
ROOT = Command(
    usage="openclaw models [options] [command]",
    description="Model discovery, scanning, and configuration (list, status, set)",
    options=(AGENT, Option("--json", "Output JSON (alias for `models status --json`)"),
             Option("--status-json", "Output JSON (alias for `models status --json`)"),
             Option("--status-plain", "Plain output (alias for `models status --plain`)")),
)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _providers(document: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(document.get("models")).get("providers"))


def _primary(document: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    model = _mapping(_mapping(document.get("agents")).get("defaults")).get("model")
    if isinstance(model, str):
        return model, []
    model = _mapping(model)
    primary = model.get("primary") if isinstance(model.get("primary"), str) else None
    fallbacks = [f for f in model.get("fallbacks") or () if isinstance(f, str)]
    return primary, fallbacks


def builtin_model_id() -> str:
    """The built-in model's id (a slug of ``$OPENCLAW_LOCAL_MODEL_GGUF``'s name if set)."""
    from openclaw.providers.local_install import LocalModelInstall

    override = os.environ.get("OPENCLAW_LOCAL_MODEL_GGUF")
    if override and os.path.isfile(override):
        return LocalModelInstall(python="", gguf=override, server_available=False,
                                 override=True).model_id
    return BUILTIN_MODEL


def default_model_ref(document: Mapping[str, Any]) -> str:
    """``agents.defaults.model.primary`` > the first configured model > the built-in one."""
    primary, _ = _primary(document)
    providers = _providers(document)
    if primary:
        if "/" in primary:
            return primary
        first = next(iter(providers), BUILTIN_PROVIDER)
        return f"{first}/{primary}"
    for provider_id, provider in providers.items():
        for model in _mapping(provider).get("models") or ():
            if isinstance(model, Mapping) and isinstance(model.get("id"), str):
                return f"{str(provider_id).lower()}/{model['id']}"
    return f"{BUILTIN_PROVIDER}/{builtin_model_id()}"


def _is_local(base_url: Any) -> bool | None:
    if not isinstance(base_url, str):
        return None
    host = urlsplit(base_url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def model_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every model the gateway would use, as ``models list --json`` rows."""
    default = default_model_ref(document)
    primary, fallbacks = _primary(document)
    rows: list[dict[str, Any]] = []
    providers = _providers(document)
    for provider_id, raw in providers.items():
        provider = _mapping(raw)
        for model in provider.get("models") or ():
            if not isinstance(model, Mapping) or not isinstance(model.get("id"), str):
                continue
            key = f"{str(provider_id).lower()}/{model['id']}"
            window = model.get("contextWindow")
            row: dict[str, Any] = {
                "key": key, "name": model.get("name") or model["id"],
                "input": "+".join(model.get("input") or ["text"]),
                "contextWindow": int(window) if isinstance(window, int | float) else None}
            if isinstance(model.get("contextTokens"), int):
                row["contextTokens"] = model["contextTokens"]
            row["local"] = _is_local(model.get("baseUrl") or provider.get("baseUrl"))
            row["available"] = True
            row["tags"] = _tags(key, default, fallbacks)
            rows.append(row)
    if not providers:
        from openclaw.providers.local_install import find_local_model

        install = find_local_model()
        key = f"{BUILTIN_PROVIDER}/{install.model_id}"
        rows.append({"key": key, "name": install.model_name, "input": "text",
                     "contextWindow": BUILTIN_CONTEXT, "local": True,
                     "available": install.available, "tags": _tags(key, default, fallbacks)})
    del primary
    return rows


def _tags(key: str, default: str, fallbacks: list[str]) -> list[str]:
    tags = ["default"] if key == default else []
    tags += [f"fallback#{i + 1}" for i, ref in enumerate(fallbacks) if ref == key]
    return [*tags, "configured"]


def models_command(args: list[str], env: MutableMapping[str, str]) -> int:
    if args and args[0] in ("list", "status", "set"):
        sub, rest = args[0], args[1:]
        return {"list": _list, "status": _status, "set": _set}[sub](rest, env)
    if args and not args[0].startswith("-"):
        sys.stderr.write(f'OpenClaw models has no command "{args[0]}".\nTry: openclaw models '
                         "--help\n")
        return 1
    parsed = run_parse(ROOT, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    rest = ["--json"] if values.get("json") or values.get("statusJson") else []
    if values.get("statusPlain"):
        rest.append("--plain")
    return _status(rest, env)


def _document(env: Mapping[str, str]) -> tuple[Mapping[str, Any], str, str]:
    from openclaw.client.target import client_paths, load_client_config

    _home, state_dir, config_path = client_paths(env)
    return load_client_config(env).document, state_dir, config_path


def _list(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(LIST, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    document, _state, _config = _document(env)
    rows = model_rows(document)
    provider = str(values.get("provider") or "").strip().lower()
    if provider:
        rows = [row for row in rows if row["key"].split("/", 1)[0] == provider]
    if values.get("local"):
        rows = [row for row in rows if row["local"] is True]
    if values.get("json"):
        write_json({"count": len(rows), "models": rows})
        return 0
    if values.get("plain"):
        sys.stdout.write("".join(row["key"] + "\n" for row in rows))
        return 0
    if not rows:
        sys.stdout.write("No models found.\n")
        return 0
    sys.stdout.write(f"{'Model':<42} {'Input':<10} {'Ctx':<11} {'Local':<5} {'Auth':<5} Tags\n")
    for row in rows:
        window = row.get("contextWindow")
        ctx = f"{round(window / 1000)}k" if isinstance(window, int) else "-"
        local = "-" if row["local"] is None else "yes" if row["local"] else "no"
        auth = "-" if row["available"] is None else "yes" if row["available"] else "no"
        sys.stdout.write(f"{row['key'][:42]:<42} {row['input']:<10} {ctx:<11} {local:<5} "
                         f"{auth:<5} {','.join(row['tags'])}\n")
    return 0


def status_document(env: Mapping[str, str], agent: str | None = None) -> dict[str, Any]:
    document, state_dir, config_path = _document(env)
    agent_id = (agent or "main").strip().lower()
    primary, fallbacks = _primary(document)
    resolved = default_model_ref(document)
    providers = _providers(document)
    used = {resolved.split("/", 1)[0], *(ref.split("/", 1)[0] for ref in fallbacks
                                         if "/" in ref)}
    agent_dir = os.path.join(state_dir, "agents", agent_id, "agent")
    auth_rows = []
    for provider_id, raw in providers.items():
        provider = _mapping(raw)
        key = provider.get("apiKey")
        auth_rows.append({"provider": str(provider_id).lower(),
                          "effective": {"kind": "api-key" if key else "none",
                                        "detail": "models.providers" if key else "none"}})
    missing = sorted(p for p in used if p != BUILTIN_PROVIDER and p not in
                     {str(k).lower() for k in providers})
    return {
        "configPath": config_path, "agentDir": agent_dir,
        "defaultModel": primary or resolved, "resolvedDefault": resolved,
        "fallbacks": fallbacks, "imageModel": None, "imageFallbacks": [], "aliases": {},
        "allowed": [],
        "auth": {"storePath": os.path.join(agent_dir, "auth-profiles.json"),
                 "shellEnvFallback": {"enabled": False, "appliedKeys": []},
                 "providersWithOAuth": [], "missingProvidersInUse": missing,
                 "modelRouteIssues": [], "providers": auth_rows, "unusableProfiles": [],
                 "oauth": {"warnAfterMs": OAUTH_WARN_AFTER_MS, "profiles": [],
                           "providers": []}},
    }


def _status(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(STATUS, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    status = status_document(env, values.get("agent"))
    if values.get("json"):
        write_json(status)
        return 1 if values.get("check") and status["auth"]["missingProvidersInUse"] else 0
    out = sys.stdout
    if values.get("plain"):
        out.write(status["resolvedDefault"] + "\n")
        return 0
    out.write(f"Config        : {status['configPath']}\n")
    out.write(f"Agent dir     : {status['agentDir']}\n")
    out.write(f"Default       : {status['resolvedDefault']}\n")
    fallbacks = status["fallbacks"]
    out.write(f"Fallbacks ({len(fallbacks)}) : {', '.join(fallbacks) or '-'}\n")
    if status["resolvedDefault"].startswith(f"{BUILTIN_PROVIDER}/") and \
            not _providers(_document(env)[0]):
        from openclaw.providers.local_install import find_local_model

        install = find_local_model()
        out.write("Built-in      : " + ("installed (llama-cpp-python serves it on first use)"
                                        if install.available else str(install.problem()))
                  + "\n")
    missing = status["auth"]["missingProvidersInUse"]
    if missing:
        out.write(f"Missing auth  : {', '.join(missing)}\n")
    return 1 if values.get("check") and missing else 0


def _set(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(SET, args)
    if isinstance(parsed, int):
        return parsed
    _values, (model,) = parsed
    model = model.strip()
    if not model:
        sys.stderr.write("Model id must not be empty.\n")
        return 1
    from openclaw.cli.config_cmd import _issues_text, set_config_value
    from openclaw.config import ConfigError
    from openclaw.config.paths import resolve_paths

    paths = resolve_paths(env)
    try:
        set_config_value(paths, env, "agents.defaults.model.primary", model)
    except ConfigError as e:
        sys.stderr.write(f"Config validation failed: {_issues_text(e)}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"Config write failed: {e}\n")
        return 1
    sys.stdout.write(f"Updated {paths.config_path}\nDefault model: {model}\n")
    return 0
