"""Exec approvals: the policy the ``exec`` tool runs under, and how it asks an operator.

**The policy document** (upstream's ``exec-approvals`` file, ``version: 1``) keeps
``defaults`` and per-agent ``security`` (``deny`` | ``allowlist`` | ``full``), ``ask``
(``off`` | ``on-miss`` | ``always``), ``askFallback`` (``deny`` | ``allowlist`` | ``full``) and
the agent's ``allowlist`` of executable path globs (``*`` applies to every agent). It lives in
the gateway's state database (``<state>/gateway.sqlite#exec_approvals_config``, the JSON
bytes as stored, so its SHA-256 is the compare-and-set hash ``exec.approvals.set`` checks).
Its socket token is never shown.

**The effective policy** of a command is the stricter of the config (``tools.exec.security``,
default ``full``; ``tools.exec.ask``, default ``off``; an agent's own ``tools.exec`` first) and
the document: the lower security, the higher ask; ``askFallback`` is capped by the security.
``security: deny`` refuses every command; ``allowlist`` runs only commands whose every
executable (each pipeline/list segment's first word, resolved on ``PATH``) matches the
allowlist. An approval is asked when ``ask`` is ``always``, or ``on-miss`` under
``allowlist`` with a miss.

**Asking** goes through the approval seam the gateway wires (:class:`ApprovalRequester`):
the request is shown to the operators' approval clients, and the tool waits for
``allow-once`` / ``allow-always`` (which adds the command's executables to the agent's
allowlist) / ``deny``, or for none (no reviewer connected, or the request expired): then
``askFallback`` decides (``deny`` by default). A denial is the tool's error result, in
upstream's words: ``Exec denied (gateway id=<id>, user-denied): <command>``.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from openclaw.config.loader import ConfigSnapshot
from openclaw.state_db import SerialWriter, SqliteDatabase

log = Logger(namespace="agents.approvals")

SECURITY_ORDER: Final = ("deny", "allowlist", "full")
ASK_ORDER: Final = ("off", "on-miss", "always")
DEFAULTS: Final = {"security": "full", "ask": "off", "askFallback": "deny",
                   "autoAllowSkills": False}
DECISIONS: Final = ("allow-once", "allow-always", "deny")
DEFAULT_APPROVAL_TIMEOUT_MS: Final = 1_800_000
CONFIG_KEY: Final = "current"
TABLE: Final = "exec_approvals_config"
SOCKET_NAME: Final = "exec-approvals.sock"

APPROVALS_SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    config_key TEXT PRIMARY KEY, raw_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL);
"""


class ApprovalsChanged(Exception):
    """``exec.approvals.set`` with a stale (or missing) base hash."""


# --------------------------------------------------------------------------- the document


def _min(order: tuple[str, ...], *values: str | None) -> str:
    present = [v for v in values if v in order]
    return min(present, key=order.index) if present else order[-1]


def _max(order: tuple[str, ...], *values: str | None) -> str:
    present = [v for v in values if v in order]
    return max(present, key=order.index) if present else order[0]


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


@attrs.frozen
class ApprovalsSnapshot:
    path: str
    exists: bool
    document: Mapping[str, Any]
    raw: str

    @property
    def hash(self) -> str:
        return _hash(self.raw)

    def redacted(self) -> dict[str, Any]:
        document = copy.deepcopy(dict(self.document))
        socket = document.get("socket")
        if isinstance(socket, dict):
            socket.pop("token", None)
        return document

    def defaults(self) -> dict[str, Any]:
        return resolved_defaults(self.document)

    def payload(self) -> dict[str, Any]:
        """``exec.approvals.get`` / ``.set``: ``{path, exists, file, hash, resolvedDefaults}``."""
        return {"path": self.path, "exists": self.exists, "file": self.redacted(),
                "hash": self.hash, "resolvedDefaults": self.defaults()}


def _section(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = document.get(name)
    return value if isinstance(value, Mapping) else {}


def resolved_defaults(document: Mapping[str, Any]) -> dict[str, Any]:
    defaults = _section(document, "defaults")
    out = dict(DEFAULTS)
    for name in ("security", "ask", "askFallback"):
        value = defaults.get(name)
        order = ASK_ORDER if name == "ask" else SECURITY_ORDER
        if isinstance(value, str) and value in order:
            out[name] = value
    if isinstance(defaults.get("autoAllowSkills"), bool):
        out["autoAllowSkills"] = defaults["autoAllowSkills"]
    return out


def normalized(document: Mapping[str, Any], socket_path: str, token: str | None
               ) -> dict[str, Any]:
    """A document as stored: version 1, the socket (path and token kept), defaults, agents."""
    out: dict[str, Any] = {"version": 1}
    socket = dict(document.get("socket") or {}) if isinstance(document.get("socket"),
                                                              Mapping) else {}
    socket.setdefault("path", socket_path)
    if token and not socket.get("token"):
        socket["token"] = token
    out["socket"] = socket
    defaults = document.get("defaults")
    out["defaults"] = dict(defaults) if isinstance(defaults, Mapping) else {}
    agents = document.get("agents")
    out["agents"] = {str(k): dict(v) for k, v in agents.items() if isinstance(v, Mapping)} \
        if isinstance(agents, Mapping) else {}
    return out


class ApprovalsStore:
    """The document in ``gateway.sqlite``; the gateway's copy is kept in memory after the
    first read, and every change is written through the serial writer."""

    def __init__(self, db: SqliteDatabase, writer: SerialWriter, state_dir: str) -> None:
        self.db = db
        self.writer = writer
        self.path = f"{db.path}#{TABLE}"
        self.socket_path = os.path.join(state_dir, SOCKET_NAME)
        self._snapshot: ApprovalsSnapshot | None = None

    # blocking parts (the writer's thread) ------------------------------------------------

    def _read(self) -> ApprovalsSnapshot:
        conn = self.db.connection()
        conn.executescript(APPROVALS_SCHEMA)
        found = self.db.query(f"SELECT raw_json FROM {TABLE} WHERE config_key = ?",
                              (CONFIG_KEY,))
        if found:
            raw = str(found[0][0])
            try:
                document = json.loads(raw)
            except ValueError:
                document = {}
            return ApprovalsSnapshot(self.path, True, document if isinstance(document, dict)
                                     else {}, raw)
        return self._write(normalized({}, self.socket_path, secrets.token_urlsafe(24)))

    def _write(self, document: Mapping[str, Any]) -> ApprovalsSnapshot:
        raw = _dumps(document)
        self.db.connection().executescript(APPROVALS_SCHEMA)
        self.db.execute(f"INSERT OR REPLACE INTO {TABLE} (config_key, raw_json, updated_at_ms) "
                        "VALUES (?, ?, ?)", (CONFIG_KEY, raw, int(time.time() * 1000)))
        return ApprovalsSnapshot(self.path, True, json.loads(raw), raw)

    # the reactor's side ------------------------------------------------------------------

    async def snapshot(self) -> ApprovalsSnapshot:
        if self._snapshot is None:
            loaded = await self.writer(self._read)
            if self._snapshot is None:
                self._snapshot = loaded
        return self._snapshot

    async def replace(self, document: Mapping[str, Any], base_hash: str | None
                      ) -> ApprovalsSnapshot:
        """Write a whole document (``exec.approvals.set``); the socket token is kept."""
        current = await self.snapshot()
        if current.exists and base_hash != current.hash:
            raise ApprovalsChanged()
        token = (current.document.get("socket") or {}).get("token")
        incoming = dict(document)
        socket = dict(incoming.get("socket") or {})
        socket.pop("token", None)
        incoming["socket"] = socket
        self._snapshot = await self.writer(self._write,
                                           normalized(incoming, self.socket_path, token))
        return self._snapshot

    async def allow_always(self, agent_id: str, patterns: list[str], command: str) -> None:
        """Add ``allow-always`` entries for a command's executables to an agent's allowlist."""
        current = await self.snapshot()
        document = copy.deepcopy(dict(current.document))
        agent = document.setdefault("agents", {}).setdefault(agent_id, {})
        allowlist = agent.setdefault("allowlist", [])
        known = {entry.get("pattern") for entry in allowlist if isinstance(entry, dict)}
        added = False
        for pattern in patterns:
            if pattern in known:
                continue
            allowlist.append({"id": str(uuid.uuid4()), "pattern": pattern,
                              "source": "allow-always", "commandText": command,
                              "lastUsedAt": int(time.time() * 1000)})
            added = True
        if added:
            self._snapshot = await self.writer(self._write, document)


# --------------------------------------------------------------------------- evaluation


_SEPARATORS: Final = re.compile(r"\|\||&&|[|;&\n]")


def command_executables(command: str, cwd: str) -> list[str] | None:
    """Each segment's executable resolved to a path (None: the command cannot be analysed,
    e.g. unbalanced quotes or a substitution)."""
    if "$(" in command or "`" in command:
        return None
    out: list[str] = []
    for segment in _SEPARATORS.split(command):
        try:
            words = shlex.split(segment)
        except ValueError:
            return None
        while words and "=" in words[0] and not words[0].startswith("="):
            words = words[1:]          # VAR=value prefixes
        if not words:
            continue
        word = words[0]
        if "/" in word:
            path = os.path.realpath(os.path.join(cwd, os.path.expanduser(word)))
        else:
            found = shutil.which(word)
            path = os.path.realpath(found) if found else word
        out.append(path)
    return out


def _matches(pattern: str, path: str) -> bool:
    expanded = os.path.expanduser(pattern)
    if "/" not in expanded:
        return fnmatch.fnmatchcase(os.path.basename(path), expanded)
    return fnmatch.fnmatchcase(path, expanded.replace("**", "*"))


@attrs.frozen
class ExecPolicy:
    security: str
    ask: str
    ask_fallback: str
    allowlist: tuple[str, ...]

    def allowlisted(self, executables: list[str] | None) -> bool:
        if not executables:
            return False
        return all(any(_matches(p, path) for p in self.allowlist) for path in executables)


def effective_policy(snapshot: ConfigSnapshot, document: Mapping[str, Any], agent_id: str
                     ) -> ExecPolicy:
    config = snapshot.config
    exec_config = config.tools.exec
    agent_exec = None
    for entry in config.agents.roster:
        if entry.id == agent_id and entry.tools is not None:
            agent_exec = entry.tools.exec
    requested_security = (agent_exec.security if agent_exec and agent_exec.security else
                          exec_config.security if exec_config and exec_config.security
                          else "full")
    requested_ask = (agent_exec.ask if agent_exec and agent_exec.ask else
                     exec_config.ask if exec_config and exec_config.ask else "off")
    defaults = resolved_defaults(document)
    agents = _section(document, "agents")
    own = _section(agents, agent_id)
    file_security = own.get("security") or defaults["security"]
    file_ask = own.get("ask") or defaults["ask"]
    file_fallback = own.get("askFallback") or defaults["askFallback"]
    security = _min(SECURITY_ORDER, requested_security, file_security)
    patterns: list[str] = []
    for name in ("*", agent_id):
        section = agents.get(name)
        if isinstance(section, Mapping):
            patterns += [str(e["pattern"]) for e in section.get("allowlist") or []
                         if isinstance(e, Mapping) and isinstance(e.get("pattern"), str)]
    return ExecPolicy(security, _max(ASK_ORDER, requested_ask, file_ask),
                      _min(SECURITY_ORDER, security, file_fallback), tuple(patterns))


# --------------------------------------------------------------------------- the seam


class ApprovalRequester(Protocol):
    """What the gateway wires in: shows ``request`` to the approval clients and fires with
    the decision (``allow-once`` | ``allow-always`` | ``deny``), or None when nobody can
    decide or it expired. ``on_created`` gets the approval id as soon as it exists."""

    def __call__(self, request: dict[str, Any], timeout_ms: int,
                 on_created: Callable[[str], None]) -> Deferred[str | None]: ...


class ExecApprovals:
    """The ``exec`` tool's gate (``ToolContext.approvals``)."""

    def __init__(self, store: ApprovalsStore, get_config: Callable[[], ConfigSnapshot],
                 timeout_ms: int = DEFAULT_APPROVAL_TIMEOUT_MS) -> None:
        self.store = store
        self.get_config = get_config
        self.timeout_ms = timeout_ms
        self.requester: ApprovalRequester | None = None

    async def authorize(self, command: str, cwd: str, *, agent_id: str, session_key: str,
                        run_id: str | None = None, tool_call_id: str | None = None,
                        run_blocking: Callable[..., Deferred[Any]] | None = None
                        ) -> str | None:
        """None: the command may run; else the denial text (the tool's error result)."""
        snapshot = await self.store.snapshot()
        policy = effective_policy(self.get_config(), snapshot.document, agent_id)
        if policy.security == "deny":
            return "exec denied: host=gateway security=deny"
        resolve: Callable[..., Awaitable[Any]] = (
            run_blocking if run_blocking is not None else _inline)
        executables: list[str] | None = await resolve(command_executables, command, cwd)
        allowlisted = policy.allowlisted(executables)
        needs_ask = policy.ask == "always" or (
            policy.ask == "on-miss" and policy.security == "allowlist" and not allowlisted)
        if not needs_ask:
            if policy.security == "allowlist" and not allowlisted:
                return "exec denied: allowlist miss"
            return None
        approval_id = ""

        def created(value: str) -> None:
            nonlocal approval_id
            approval_id = value

        request = {"command": command, "commandArgv": None, "cwd": cwd, "host": "gateway",
                   "nodeId": None, "security": policy.security, "ask": policy.ask,
                   "agentId": agent_id, "sessionKey": session_key, "runId": run_id,
                   "toolCallId": tool_call_id,
                   "resolvedPath": executables[0] if executables else None}
        requester = self.requester
        decision: str | None = None
        if requester is not None:
            decision = await requester(request, self.timeout_ms, created)
        label = f"gateway id={approval_id}, " if approval_id else ""
        if decision == "deny":
            return f"Exec denied ({label}user-denied): {command}"
        if decision in ("allow-once", "allow-always"):
            if decision == "allow-always" and executables:
                await self.store.allow_always(agent_id, executables, command)
            return None
        # nobody decided: the fallback
        if policy.ask_fallback == "full":
            return None
        if policy.ask_fallback == "allowlist":
            return None if allowlisted else (
                f"Exec denied ({label}approval-timeout: allowlist-miss): {command}")
        return f"Exec denied ({label}approval-timeout): {command}"


def _inline(func: Callable[..., Any], *args: Any) -> Deferred[Any]:
    from twisted.internet.defer import succeed

    return succeed(func(*args))


__all__ = [
    "APPROVALS_SCHEMA",
    "DECISIONS",
    "DEFAULTS",
    "DEFAULT_APPROVAL_TIMEOUT_MS",
    "ApprovalRequester",
    "ApprovalsChanged",
    "ApprovalsSnapshot",
    "ApprovalsStore",
    "ExecApprovals",
    "ExecPolicy",
    "command_executables",
    "effective_policy",
    "resolved_defaults",
]
