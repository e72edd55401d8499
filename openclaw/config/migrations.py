"""Legacy config shapes normalised in memory on load (what ``openclaw doctor --fix`` rewrites).

The file is never rewritten here; each applied migration yields a warning so the operator
knows to run ``openclaw doctor --fix``.  Where both the legacy and the current key are set,
the current one wins (legacy values only fill what is missing), like the real doctor.

Covered: ``agents.list`` -> ``agents.entries``; ``memorySearch`` (top level, agent defaults,
per agent) -> ``memory.search``; retired keys of the implemented sections (``meta.lastTouchedAt``,
``gateway.tailscale.resetOnExit``, ``logging.redactSensitive``, ...); renamed keys and values
(``logging.consoleStyle: "compact"``, ``models.providers.*.api: "openai"``, ...); legacy
top-level string entries of ``env``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import attrs

from openclaw.config.errors import PathSegment, format_config_path

__all__ = ["MigrationResult", "apply_legacy_migrations"]

Path = tuple[str, ...]
IssuePath = tuple[PathSegment, ...]
Doc = MutableMapping[str, Any]
_AGENT_ID = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$", re.IGNORECASE)
_FIX_HINT = 'run "openclaw doctor --fix" to update the file'


@attrs.frozen
class MigrationResult:
    """Warnings for applied migrations, and issues for legacy values that cannot be migrated."""

    warnings: tuple[str, ...]
    issues: tuple[tuple[IssuePath, str], ...]


def _get(doc: Any, path: Path) -> Any:
    node = doc
    for segment in path:
        if not isinstance(node, MutableMapping) or segment not in node:
            return None
        node = node[segment]
    return node


def _has(doc: Any, path: Path) -> bool:
    node = doc
    for segment in path:
        if not isinstance(node, MutableMapping) or segment not in node:
            return False
        node = node[segment]
    return True


def _expand(doc: Any, pattern: tuple[str, ...]) -> Iterator[Path]:
    """Concrete paths matching ``pattern`` (``"*"`` = every key of an object)."""

    def walk(node: Any, done: Path, rest: tuple[str, ...]) -> Iterator[Path]:
        if not rest:
            yield done
            return
        if not isinstance(node, MutableMapping):
            return
        head, tail = rest[0], rest[1:]
        keys = list(node) if head == "*" else [head] if head in node else []
        for key in keys:
            yield from walk(node[key], (*done, key), tail)

    yield from walk(doc, (), pattern)


def _fill_missing(current: Any, legacy: Any) -> Any:
    """``current`` with gaps filled from ``legacy`` (objects recurse; current values win)."""
    if isinstance(current, MutableMapping) and isinstance(legacy, MutableMapping):
        merged = dict(legacy)
        for key, value in current.items():
            merged[key] = _fill_missing(value, legacy[key]) if key in legacy else value
        return merged
    return current


def _set(doc: Doc, path: Path, value: Any) -> bool:
    node: Any = doc
    for segment in path[:-1]:
        child = node.get(segment)
        if child is None:
            child = {}
            node[segment] = child
        if not isinstance(child, MutableMapping):
            return False
        node = child
    last = path[-1]
    node[last] = _fill_missing(node[last], value) if last in node else value
    return True


def _pop(doc: Doc, path: Path) -> Any:
    parent = _get(doc, path[:-1]) if len(path) > 1 else doc
    if isinstance(parent, MutableMapping):
        return parent.pop(path[-1], None)
    return None


@attrs.define
class _Migrator:
    doc: Doc
    warnings: list[str] = attrs.Factory(list)
    issues: list[tuple[IssuePath, str]] = attrs.Factory(list)

    def move(self, source: tuple[str, ...], target: Callable[[Path], Path]) -> None:
        for path in list(_expand(self.doc, source)):
            destination = target(path)
            value = _get(self.doc, path)
            parent = _get(self.doc, destination[:-1]) if len(destination) > 1 else self.doc
            if parent is not None and not isinstance(parent, MutableMapping):
                continue  # the destination's parent is malformed; validation reports it
            _pop(self.doc, path)
            _set(self.doc, destination, value)
            self.warnings.append(
                f'Moved legacy config key "{format_config_path(path)}" to '
                f'"{format_config_path(destination)}"; {_FIX_HINT}.'
            )

    def remove(self, pattern: tuple[str, ...], reason: str) -> None:
        for path in list(_expand(self.doc, pattern)):
            _pop(self.doc, path)
            self.warnings.append(
                f'Ignoring retired config key "{format_config_path(path)}" ({reason}); {_FIX_HINT}.'
            )

    def rewrite(self, pattern: tuple[str, ...], old: str, new: str) -> None:
        for path in list(_expand(self.doc, pattern)):
            if _get(self.doc, path) == old:
                parent = _get(self.doc, path[:-1]) if len(path) > 1 else self.doc
                parent[path[-1]] = new
                self.warnings.append(
                    f'Replaced retired value "{old}" of "{format_config_path(path)}" with '
                    f'"{new}"; {_FIX_HINT}.'
                )


def _migrate_env_sugar(m: _Migrator) -> None:
    env = m.doc.get("env")
    if not isinstance(env, MutableMapping):
        return
    for key in [k for k in env if k not in ("vars", "shellEnv")]:
        if not isinstance(env[key], str):
            continue
        variables = env.get("vars")
        if variables is None:
            variables = env["vars"] = {}
        if not isinstance(variables, MutableMapping):
            return
        value = env.pop(key)
        variables.setdefault(key, value)
        m.warnings.append(f'Moved legacy config key "env.{key}" to "env.vars.{key}"; {_FIX_HINT}.')


def _migrate_agent_list(m: _Migrator) -> None:
    agents = m.doc.get("agents")
    if not isinstance(agents, MutableMapping) or "list" not in agents:
        return
    roster = agents["list"]
    base: IssuePath = ("agents", "list")
    if not isinstance(roster, list):
        m.issues.append((base, f"Invalid input: expected array, received {_type_name(roster)}"))
        del agents["list"]
        return
    entries = agents.get("entries")
    if entries is None:
        entries = {}
    if not isinstance(entries, MutableMapping):
        return  # validation reports agents.entries itself
    migrated: dict[str, Any] = {}
    seen: dict[str, int] = {}
    ok = True
    for index, item in enumerate(roster):
        if not isinstance(item, MutableMapping):
            m.issues.append(
                ((*base, index), f"Invalid input: expected object, received {_type_name(item)}")
            )
            ok = False
            continue
        agent_id = item.get("id")
        if not isinstance(agent_id, str):
            received = _type_name(agent_id) if "id" in item else "undefined"
            m.issues.append(
                ((*base, index, "id"), f"Invalid input: expected string, received {received}")
            )
            ok = False
            continue
        agent_id = agent_id.strip()
        if not _AGENT_ID.match(agent_id):
            m.issues.append(((*base, index, "id"), "Invalid agent id"))
            ok = False
            continue
        canonical = agent_id.lower()
        if canonical in seen:
            m.issues.append(
                (
                    (*base, index, "id"),
                    f'Duplicate agent id "{agent_id}" (already used by '
                    f"{format_config_path((*base, seen[canonical]))})",
                )
            )
            ok = False
            continue
        seen[canonical] = index
        migrated[canonical] = {key: value for key, value in item.items() if key != "id"}
    if not ok:
        del agents["list"]  # reported above; do not also report it as an unknown key
        return
    existing = {key.lower(): key for key in entries if isinstance(key, str)}
    merged: dict[str, Any] = dict(entries)
    for agent_id, body in migrated.items():
        if agent_id in existing:
            key = existing[agent_id]
            merged[key] = _fill_missing(merged[key], body)
        else:
            merged[agent_id] = body
    agents["entries"] = merged
    del agents["list"]
    m.warnings.append(f'Moved legacy config key "agents.list" to "agents.entries"; {_FIX_HINT}.')
    marked = any(
        isinstance(entry, MutableMapping) and entry.get("default") is True
        for entry in merged.values()
    )
    if len(merged) > 1 and not marked and "ownership" not in agents:
        # A legacy roster without a default marker meant "the first agent answers";
        # doctor turns it into an explicit multi-agent fleet.
        agents["ownership"] = "explicit"
        m.warnings.append(
            'Set agents.ownership="explicit" for the migrated multi-agent roster (no agent was '
            f"marked default: true); {_FIX_HINT}."
        )


def _type_name(value: Any) -> str:
    from openclaw.config.fields import json_type_name

    return json_type_name(value)


def _migrate_memory_search(m: _Migrator) -> None:
    legacy_blocks = [
        (("memorySearch",), ("memory", "search")),
        (("agents", "defaults", "memorySearch"), ("memory", "search")),
    ]
    for source, target in legacy_blocks:
        if _has(m.doc, source):
            _clean_legacy_memory_search(m, source)
            m.move(source, _constant(target))
    for path in list(_expand(m.doc, ("agents", "entries", "*", "memorySearch"))):
        _clean_legacy_memory_search(m, path)
        m.move(path, lambda p: (*p[:-1], "memory", "search"))


def _constant(target: Path) -> Callable[[Path], Path]:
    return lambda _path: target


def _clean_legacy_memory_search(m: _Migrator, path: Path) -> None:
    block = _get(m.doc, path)
    if not isinstance(block, MutableMapping):
        return
    if block.get("provider") == "auto":
        block["provider"] = "openai"
        m.warnings.append(
            f'Replaced retired value "auto" of "{format_config_path((*path, "provider"))}" '
            f'with "openai"; {_FIX_HINT}.'
        )
    store = block.get("store")
    if isinstance(store, MutableMapping) and "path" in store:
        del store["path"]
        m.warnings.append(
            f'Ignoring retired config key "{format_config_path((*path, "store", "path"))}" '
            f"(memory indexes live in each agent database); {_FIX_HINT}."
        )
        if not store:
            del block["store"]


def apply_legacy_migrations(doc: Doc) -> MigrationResult:
    """Rewrite legacy keys of ``doc`` (a mutable plain document) in place."""
    m = _Migrator(doc)
    if not isinstance(doc, MutableMapping):
        return MigrationResult((), ())
    _migrate_env_sugar(m)
    _migrate_agent_list(m)
    _migrate_memory_search(m)

    m.move(("audit",), lambda _p: ("logging", "audit"))
    m.move(("defaultModel",), lambda _p: ("agents", "defaults", "model"))
    m.move(("media",), lambda _p: ("attachments",))
    m.remove(("tui",), "the TUI footer uses the compact default")
    m.remove(("meta", "lastTouchedAt"), "write times are kept in the state database")

    m.remove(("gateway", "tailscale", "resetOnExit"), "Tailscale routes are released on stop")
    m.remove(("gateway", "reload", "deferralTimeoutMs"), "in-flight deferral is built in")
    m.remove(("gateway", "controlUi", "chatMessageMaxWidth"), "chat width is browser-local")
    m.remove(
        ("gateway", "controlUi", "allowInsecureAuth"),
        "insecure Control UI auth was removed; use HTTPS or loopback",
    )
    m.remove(("gateway", "webchat"), "WebChat is retired")
    m.move(
        ("gateway", "nodes", "allowCommands"), lambda _p: ("gateway", "nodes", "commands", "allow")
    )
    m.move(
        ("gateway", "nodes", "denyCommands"), lambda _p: ("gateway", "nodes", "commands", "deny")
    )
    m.move(
        ("gateway", "nodes", "skills", "enabled"), lambda _p: ("gateway", "nodes", "allowSkills")
    )
    skills = _get(doc, ("gateway", "nodes", "skills"))
    if isinstance(skills, MutableMapping) and not skills:
        _pop(doc, ("gateway", "nodes", "skills"))

    m.rewrite(("logging", "consoleStyle"), "compact", "pretty")
    m.remove(("logging", "redactSensitive"), "redaction is always on")

    m.rewrite(("models", "providers", "*", "api"), "openai", "openai-completions")

    for scope in (("agents", "defaults"), ("agents", "entries", "*")):
        m.move((*scope, "embeddedPi"), lambda p: (*p[:-1], "embeddedAgent"))
        m.remove((*scope, "systemPromptOverride"), "OpenClaw owns the generated system prompt")
        m.remove((*scope, "silentReplyRewrite"), "exact NO_REPLY is no longer rewritten")
    m.move(("agents", "defaults", "pdfMaxBytesMb"), lambda p: (*p[:-1], "pdfMaxMb"))
    m.remove(
        ("agents", "defaults", "llm"),
        "use models.providers.<id>.timeoutSeconds for slow providers",
    )
    return MigrationResult(tuple(m.warnings), tuple(m.issues))
