"""The safe core of the built-in tools, with the real names, schemas and tool policy.

* ``read``, ``write``, ``edit``, ``apply_patch``: confined to the agent workspace (relative
  paths resolve against it; anything resolving outside it, symlinks included, is refused).
* ``exec`` and ``process``: ``/bin/sh -c`` children through ``reactor.spawnProcess`` with a
  lifetime timeout and output caps, backgrounded after ``yieldMs``; available only when tool
  policy allows them, and in non-main sessions only with ``tools.exec.security: "full"``.
* ``sessions_list``, ``sessions_history``, ``sessions_send``, ``session_status``.

Policy follows the real layering: the profile (``tools.profile`` or the agent's), then
``tools.allow``/``tools.deny``, then ``agents.entries.<id>.tools.allow``/``deny``, then the
run's ``toolsAllow``; each layer can only narrow, deny always wins, a non-empty allow list
blocks everything not listed, matching ignores case, ``*`` globs, ``group:*`` names expand.
A denied tool is not described to the model, and a call to it is answered with an error
result ("not available").
"""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
import json
import os
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from openclaw.providers.types import ToolCall, ToolSpec

# --------------------------------------------------------------------------- policy

ALIASES: Final = {"bash": "exec", "apply-patch": "apply_patch"}
GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "group:fs": ("read", "write", "edit", "apply_patch"),
    "group:runtime": ("exec", "process", "code_execution"),
    "group:sessions": ("sessions", "sessions_list", "sessions_history", "sessions_search",
                       "sessions_send", "sessions_spawn", "sessions_yield", "subagents",
                       "session_status"),
    "group:memory": ("memory_search", "memory_get"),
    "group:web": ("web_search", "web_fetch", "x_search"),
    "group:ui": ("browser", "canvas"),
    "group:automation": ("automations", "gateway", "heartbeat_respond"),
    "group:messaging": ("message",),
    "group:nodes": ("nodes",),
    "group:agents": ("agents_list", "update_plan"),
    "group:media": ("image", "image_generate", "tts"),
    "group:openclaw": ("sessions", "sessions_list", "sessions_history", "sessions_send",
                       "session_status", "memory_search", "memory_get", "web_fetch",
                       "web_search", "message"),
}
PROFILES: Final[Mapping[str, tuple[str, ...] | None]] = {
    "minimal": ("session_status",),
    "coding": (*GROUPS["group:fs"], *GROUPS["group:runtime"], *GROUPS["group:sessions"],
               *GROUPS["group:memory"], *GROUPS["group:web"], "image"),
    "messaging": ("message", "sessions_list", "sessions_history", "sessions_send",
                  "session_status", "sessions"),
    "full": None,
}
RUNTIME_TOOLS: Final = frozenset({"exec", "process"})


def normalize_tool_name(name: str) -> str:
    lowered = name.strip().lower()
    return ALIASES.get(lowered, lowered)


def expand(names: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            continue
        normalized = normalize_tool_name(name)
        for item in GROUPS.get(normalized, (normalized,)):
            if item not in out:
                out.append(item)
    return tuple(out)


@attrs.frozen
class PolicyLayer:
    source: str
    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()

    def verdict(self, name: str) -> str | None:
        """None when allowed, else the reason."""
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.deny):
            return f"denied by {self.source} deny list"
        if self.allow is not None and not any(fnmatch.fnmatchcase(name, pattern)
                                              for pattern in self.allow):
            return f"not in the {self.source} allow list"
        return None


def _layer(source: str, raw: Any) -> PolicyLayer | None:
    if not isinstance(raw, Mapping):
        return None
    allow = raw.get("allow")
    also = raw.get("alsoAllow")
    deny = raw.get("deny")
    allow_list = expand(allow) if isinstance(allow, list) and allow else None
    if allow_list is not None and isinstance(also, list):
        allow_list = allow_list + expand(also)
    deny_list = expand(deny) if isinstance(deny, list) else ()
    if allow_list is None and not deny_list:
        return None
    return PolicyLayer(source, allow_list, deny_list)


@attrs.frozen
class ToolPolicy:
    layers: tuple[PolicyLayer, ...] = ()
    is_main: bool = True
    exec_security: str | None = None

    def check(self, name: str) -> str | None:
        """None when ``name`` may run, else why not."""
        tool = normalize_tool_name(name)
        for layer in self.layers:
            reason = layer.verdict(tool)
            if reason is not None:
                return reason
        if tool in RUNTIME_TOOLS:
            if self.exec_security == "deny":
                return 'tools.exec.security is "deny"'
            if not self.is_main and self.exec_security != "full":
                return ('exec and process are off in non-main sessions (set '
                        'tools.exec.security: "full" to allow them)')
        return None


def resolve_policy(tools_config: Mapping[str, Any] | None, agent_tools: Mapping[str, Any] | None,
                   *, is_main: bool, run_allow: Sequence[str] | None = None) -> ToolPolicy:
    tools_config = tools_config or {}
    agent_tools = agent_tools or {}
    layers: list[PolicyLayer] = []
    profile = agent_tools.get("profile") or tools_config.get("profile")
    if isinstance(profile, str) and PROFILES.get(profile):
        allowed = tuple(PROFILES[profile] or ())
        also = agent_tools.get("alsoAllow") or tools_config.get("alsoAllow")
        if isinstance(also, list):
            allowed += expand(also)
        layers.append(PolicyLayer(f"tools.profile={profile}", allowed))
    for source, raw in (("tools", tools_config), ("agent tools", agent_tools)):
        layer = _layer(source, raw)
        if layer is not None:
            layers.append(layer)
    if run_allow:
        layers.append(PolicyLayer("run toolsAllow", expand(run_allow)))
    exec_config = tools_config.get("exec")
    security = exec_config.get("security") if isinstance(exec_config, Mapping) else None
    return ToolPolicy(tuple(layers), is_main, security if isinstance(security, str) else None)


# --------------------------------------------------------------------------- runtime context


class SessionsAccess(Protocol):
    """What the session tools need from the agent runtime."""

    def tool_sessions_list(self, agent_id: str, params: Mapping[str, Any]
                           ) -> Awaitable[list[dict[str, Any]]]: ...

    def tool_sessions_history(self, agent_id: str, key: str, limit: int,
                              include_tools: bool) -> Awaitable[dict[str, Any]]: ...

    def tool_sessions_send(self, agent_id: str, from_key: str, params: Mapping[str, Any]
                           ) -> Awaitable[dict[str, Any]]: ...

    def tool_session_status(self, agent_id: str, key: str) -> Awaitable[dict[str, Any]]: ...


@attrs.define
class ToolContext:
    workspace: str
    agent_id: str
    session_key: str
    reactor: Any
    run_blocking: Callable[..., Deferred[Any]]
    sessions: SessionsAccess | None
    processes: ProcessRegistry
    cancelled: Callable[[], bool] = lambda: False
    foreground: list[ExecSession] = attrs.Factory(list)


@attrs.frozen
class ToolOutput:
    text: str
    is_error: bool = False
    details: Any = None

    def content(self) -> list[dict[str, Any]]:
        return [{"type": "text", "text": self.text}]


class ToolFailure(Exception):
    """A tool refused or failed: the model gets the message as an error result."""


Runner = Callable[[ToolContext, Mapping[str, Any]], Awaitable[ToolOutput]]


@attrs.frozen
class Tool:
    name: str
    summary: str
    description: str
    parameters: Mapping[str, Any]
    run: Runner

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)


def _obj(properties: Mapping[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    return schema


def _str(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


# --------------------------------------------------------------------------- filesystem

READ_MAX_LINES: Final = 2000
READ_MAX_BYTES: Final = 51200


def confine(workspace: str, raw: Any) -> str:
    """Absolute path of ``raw`` inside ``workspace`` (symlinks resolved), else ToolFailure."""
    if not isinstance(raw, str) or not raw.strip():
        raise ToolFailure("path is required")
    text = raw.strip()
    if text.startswith("@"):
        text = text[1:]
    text = os.path.expanduser(text) if text.startswith("~") else text
    root = os.path.realpath(workspace)
    candidate = text if os.path.isabs(text) else os.path.join(root, text)
    resolved = os.path.realpath(candidate)
    if resolved != root and not resolved.startswith(root + os.sep):
        raise ToolFailure(f"Path escapes workspace root ({workspace}): {raw}")
    return resolved


def _display(workspace: str, path: str) -> str:
    root = os.path.realpath(workspace)
    return os.path.relpath(path, root) if path.startswith(root) else path


def _read(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    path = confine(workspace, args.get("path"))
    if not os.path.exists(path):
        if args.get("optional") is True:
            return ToolOutput(f"File not found: {args.get('path')}",
                              details={"status": "not_found"})
        raise ToolFailure(f"File not found: {path}.")
    if os.path.isdir(path):
        raise ToolFailure(f"Path is a directory: {args.get('path')}")
    offset = args.get("offset")
    limit = args.get("limit")
    start = int(offset) - 1 if isinstance(offset, int) and offset >= 1 else 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.read().split("\n")
    total = len(lines)
    count = int(limit) if isinstance(limit, int | float) and limit > 0 else READ_MAX_LINES
    selected = lines[start:start + min(count, READ_MAX_LINES)]
    text = "\n".join(selected)
    notes = []
    if len(text.encode()) > READ_MAX_BYTES:
        text = text.encode()[:READ_MAX_BYTES].decode("utf-8", "ignore")
        notes.append(f"[Truncated: {READ_MAX_BYTES // 1024}KB limit]")
    end = start + len(selected)
    if end < total:
        notes.append(f"[Showing lines {start + 1}-{end} of {total}. Use offset={end + 1} to "
                     "continue.]")
    return ToolOutput(text + ("\n\n" + "\n".join(notes) if notes else ""))


def _write(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    path = confine(workspace, args.get("path"))
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolFailure("content must be a string")
    created = not os.path.exists(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.openclaw-tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    size = len(content.encode())
    return ToolOutput(f"Successfully wrote {size} bytes to {args.get('path')}",
                      details={"changed": True, "created": created})


def _edit(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    path = confine(workspace, args.get("path"))
    edits = args.get("edits")
    if isinstance(edits, str):
        try:
            edits = json.loads(edits)
        except ValueError:
            edits = None
    if edits is None and isinstance(args.get("oldText"), str):
        edits = [{"oldText": args.get("oldText"), "newText": args.get("newText", "")}]
    if not isinstance(edits, list) or not edits:
        raise ToolFailure("edits must be a non-empty array of {oldText, newText}")
    if not os.path.isfile(path):
        raise ToolFailure(f"File not found: {path}.")
    with open(path, encoding="utf-8") as handle:
        original = handle.read()
    spans: list[tuple[int, int, str]] = []
    for edit in edits:
        old = edit.get("oldText") if isinstance(edit, dict) else None
        new = edit.get("newText", "") if isinstance(edit, dict) else None
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise ToolFailure("each edit needs a non-empty oldText and a newText string")
        index = original.find(old)
        if index < 0:
            raise ToolFailure(f"Could not find the exact text in {args.get('path')}. The old "
                              "text must match exactly including all whitespace and newlines.")
        if original.find(old, index + 1) >= 0:
            raise ToolFailure(f"Found multiple occurrences of the text in {args.get('path')}. "
                              "Provide more context to make it unique.")
        spans.append((index, index + len(old), new))
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise ToolFailure("edits overlap; merge nearby changes into one edit")
    out, cursor = [], 0
    for start, end, new in spans:
        out.append(original[cursor:start])
        out.append(new)
        cursor = end
    out.append(original[cursor:])
    updated = "".join(out)
    if updated == original:
        return ToolOutput(f"No changes made to {args.get('path')}.", details={"changed": False})
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(updated)
    return ToolOutput(f"Successfully replaced {len(spans)} block(s) in {args.get('path')}.",
                      details={"changed": True})


# apply_patch: the "*** Begin Patch" envelope (Add / Delete / Update [+ Move to] hunks).


@attrs.define
class _Chunk:
    context: str | None
    old: list[str]
    new: list[str]
    eof: bool = False


def parse_patch(text: str) -> list[dict[str, Any]]:
    lines = text.strip().split("\n")
    lines = [line.rstrip("\r") for line in lines]
    if lines and lines[0] in ("<<EOF", "<<'EOF'", '<<"EOF"') and lines[-1].endswith("EOF"):
        lines = lines[1:-1]
    if not lines or lines[0].strip() != "*** Begin Patch":
        raise ToolFailure("The first line of the patch must be '*** Begin Patch'")
    if lines[-1].strip() != "*** End Patch":
        raise ToolFailure("The last line of the patch must be '*** End Patch'")
    body = lines[1:-1]
    hunks: list[dict[str, Any]] = []
    i = 0
    while i < len(body):
        line = body[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("*** Add File: "):
            path, contents = line[14:], []
            i += 1
            while i < len(body) and body[i].startswith("+"):
                contents.append(body[i][1:])
                i += 1
            hunks.append({"kind": "add", "path": path,
                          "contents": "".join(f"{c}\n" for c in contents)})
            continue
        if line.startswith("*** Delete File: "):
            hunks.append({"kind": "delete", "path": line[17:]})
            i += 1
            continue
        if line.startswith("*** Update File: "):
            path = line[17:]
            i += 1
            move = None
            if i < len(body) and body[i].strip().startswith("*** Move to: "):
                move = body[i].strip()[13:]
                i += 1
            chunks: list[_Chunk] = []
            current: _Chunk | None = None
            while i < len(body) and not body[i].startswith("***"):
                raw = body[i]
                if raw == "@@" or raw.startswith("@@ "):
                    current = _Chunk(raw[3:] if raw.startswith("@@ ") else None, [], [])
                    chunks.append(current)
                elif current is None and raw.strip() == "":
                    pass
                else:
                    if current is None:
                        current = _Chunk(None, [], [])
                        chunks.append(current)
                    marker, rest = (raw[:1], raw[1:]) if raw else (" ", "")
                    if marker == "+":
                        current.new.append(rest)
                    elif marker == "-":
                        current.old.append(rest)
                    elif marker == " ":
                        current.old.append(rest)
                        current.new.append(rest)
                    else:
                        raise ToolFailure(f"Invalid patch line in {path}: {raw!r}")
                i += 1
            if i < len(body) and body[i].strip() == "*** End of File":
                if chunks:
                    chunks[-1].eof = True
                i += 1
            if not chunks:
                raise ToolFailure(f"Update file hunk for path '{path}' is empty")
            hunks.append({"kind": "update", "path": path, "move": move, "chunks": chunks})
            continue
        raise ToolFailure(f"'{line}' is not a valid hunk header. Valid hunk headers: "
                          "'*** Add File: {path}', '*** Delete File: {path}', "
                          "'*** Update File: {path}'")
    return hunks


def _seek(lines: list[str], pattern: list[str], start: int, eof: bool) -> int:
    if not pattern:
        return len(lines) if eof else start
    for transform in (lambda s: s, str.rstrip, str.strip):
        target = [transform(p) for p in pattern]
        candidates = range(len(lines) - len(pattern), start - 1, -1) if eof else \
            range(start, len(lines) - len(pattern) + 1)
        for index in candidates:
            if [transform(x) for x in lines[index:index + len(pattern)]] == target:
                return index
    return -1


def _apply_chunks(original: str, chunks: list[_Chunk], path: str) -> str:
    lines = original.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    cursor = 0
    replacements: list[tuple[int, int, list[str]]] = []
    for chunk in chunks:
        if chunk.context:
            found = _seek(lines, [chunk.context], cursor, False)
            if found < 0:
                raise ToolFailure(f"Failed to find context '{chunk.context}' in {path}")
            cursor = found + 1
        index = _seek(lines, chunk.old, cursor, chunk.eof)
        if index < 0:
            raise ToolFailure(f"Failed to find expected lines in {path}:\n" + "\n".join(chunk.old))
        replacements.append((index, index + len(chunk.old), chunk.new))
        cursor = index + len(chunk.old)
    for start, end, new in sorted(replacements, reverse=True):
        lines[start:end] = new
    return "\n".join(lines) + "\n"


def _apply_patch(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    text = args.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ToolFailure("Provide a patch input.")
    hunks = parse_patch(text)
    if not hunks:
        raise ToolFailure("No files were modified.")
    summary: dict[str, list[str]] = {"added": [], "modified": [], "deleted": []}
    for hunk in hunks:
        path = confine(workspace, hunk["path"])
        shown = _display(workspace, path)
        if hunk["kind"] == "add":
            if os.path.exists(path):
                raise ToolFailure(f'File already exists: {shown}. Use "*** Update File: '
                                  f'{shown}" to change it.')
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(hunk["contents"])
            summary["added"].append(shown)
        elif hunk["kind"] == "delete":
            if not os.path.isfile(path):
                raise ToolFailure(f"File not found: {shown}")
            os.remove(path)
            summary["deleted"].append(shown)
        else:
            if not os.path.isfile(path):
                raise ToolFailure(f"File not found: {shown}")
            with open(path, encoding="utf-8") as handle:
                updated = _apply_chunks(handle.read(), hunk["chunks"], shown)
            target = confine(workspace, hunk["move"]) if hunk.get("move") else path
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(updated)
            if target != path:
                os.remove(path)
            summary["modified"].append(_display(workspace, target))
    lines = ["Success. Updated the following files:"]
    lines += [f"A {p}" for p in summary["added"]] + [f"M {p}" for p in summary["modified"]] + \
        [f"D {p}" for p in summary["deleted"]]
    return ToolOutput("\n".join(lines), details={"summary": summary})


def _blocking(func: Callable[[str, Mapping[str, Any]], ToolOutput]) -> Runner:
    async def run(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
        result: ToolOutput = await ctx.run_blocking(func, ctx.workspace, args)
        return result

    return run


# --------------------------------------------------------------------------- exec / process

OUTPUT_KEEP_CHARS: Final = 1_000_000
OUTPUT_RETURN_CHARS: Final = 64_000
DEFAULT_YIELD_MS: Final = 10_000
DEFAULT_EXEC_TIMEOUT_S: Final = 1800
# Run each command in its own process group (so kill reaches its children too).
SETSID: Final = next((p for p in ("/usr/bin/setsid", "/bin/setsid") if os.path.exists(p)), None)


class _ExecProtocol(ProcessProtocol):
    def __init__(self, session: ExecSession) -> None:
        self.session = session

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.session._output(data.decode("utf-8", "replace"))

    def processEnded(self, reason: Failure) -> None:
        self.session._ended(getattr(reason.value, "exitCode", None),
                            getattr(reason.value, "signal", None))


@attrs.define(eq=False)
class ExecSession:
    id: str
    command: str
    cwd: str
    started_at: float
    output: str = ""
    dropped: int = 0
    exit_code: int | None = None
    exit_signal: Any = None
    running: bool = True
    background: bool = False
    timed_out: bool = False
    poll_offset: int = 0
    transport: Any = None
    timer: IDelayedCall | None = None
    waiters: list[Deferred[None]] = attrs.Factory(list)

    def _output(self, text: str) -> None:
        self.output += text
        if len(self.output) > OUTPUT_KEEP_CHARS:
            cut = len(self.output) - OUTPUT_KEEP_CHARS
            self.output = self.output[cut:]
            self.dropped += cut
            self.poll_offset = max(0, self.poll_offset - cut)

    def _ended(self, code: int | None, sig: Any) -> None:
        self.running = False
        self.exit_code = code
        self.exit_signal = sig
        timer, self.timer = self.timer, None
        if timer is not None and timer.active():
            timer.cancel()
        self._wake()

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(None)

    own_group: bool = False

    def kill(self) -> None:
        """SIGKILL the command (its whole process group when it runs under ``setsid``)."""
        if not self.running or self.transport is None:
            return
        pid = getattr(self.transport, "pid", None)
        if self.own_group and isinstance(pid, int) and pid > 1 and pid != os.getpgrp():
            try:
                os.killpg(pid, signal.SIGKILL)
                return
            except OSError:
                pass
        with contextlib.suppress(ProcessExitedAlready, OSError):
            self.transport.signalProcess("KILL")

    def status(self) -> str:
        if self.running:
            return "running"
        if self.timed_out:
            return "timeout"
        return "completed" if self.exit_code == 0 else "failed"


class ProcessRegistry:
    """Background ``exec`` sessions of one agent (the ``process`` tool's view)."""

    def __init__(self) -> None:
        self.sessions: dict[str, ExecSession] = {}

    def kill_all(self) -> None:
        for session in self.sessions.values():
            session.kill()


def _tail(text: str, limit: int = OUTPUT_RETURN_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"[output truncated: showing the last {limit} of {len(text)} chars]\n" + text[-limit:]


def _finished_text(session: ExecSession) -> str:
    out = _tail(session.output).rstrip("\n")
    if session.timed_out:
        note = "Command timed out and was killed."
    elif session.exit_code == 0:
        note = ""
    elif session.exit_code is not None:
        note = f"Command exited with code {session.exit_code}"
    else:
        note = f"Command was terminated by signal {session.exit_signal}"
    parts = [part for part in (out or "(no output)", note) if part]
    return "\n\n".join(parts)


async def _wait_for(session: ExecSession, reactor: Any, seconds: float) -> None:
    """Until the command ends or ``seconds`` pass."""
    if not session.running or seconds <= 0:
        return
    waiter: Deferred[None] = Deferred()
    session.waiters.append(waiter)

    def wake() -> None:
        if not waiter.called:
            waiter.callback(None)

    timer = reactor.callLater(seconds, wake)
    try:
        await waiter
    finally:
        if timer.active():
            timer.cancel()
        if waiter in session.waiters:
            session.waiters.remove(waiter)


def _exec_cwd(workspace: str, workdir: Any) -> str:
    cwd = confine(workspace, workdir) if isinstance(workdir, str) and workdir else \
        os.path.realpath(workspace)
    if not os.path.isdir(cwd):
        raise ToolFailure(f"workdir is not a directory: {workdir}")
    return cwd


async def _exec(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ToolFailure("command is required")
    cwd: str = await ctx.run_blocking(_exec_cwd, ctx.workspace, args.get("workdir"))
    env = dict(os.environ)
    extra = args.get("env")
    if isinstance(extra, Mapping):
        env.update({str(k): str(v) for k, v in extra.items()})
    timeout = args.get("timeoutSeconds")
    timeout_s = float(timeout) if isinstance(timeout, int | float) and timeout >= 0 else \
        float(DEFAULT_EXEC_TIMEOUT_S)
    yield_ms = args.get("yieldMs")
    yield_s = (float(yield_ms) / 1000.0 if isinstance(yield_ms, int | float) and yield_ms >= 0
               else DEFAULT_YIELD_MS / 1000.0)
    background = args.get("background") is True
    session = ExecSession(id=uuid.uuid4().hex[:8], command=command, cwd=cwd,
                          started_at=ctx.reactor.seconds())
    protocol = _ExecProtocol(session)
    argv = ["/bin/sh", "-c", command]
    if SETSID is not None:
        argv = [SETSID, *argv]
        session.own_group = True
    session.transport = ctx.reactor.spawnProcess(
        protocol, argv[0], argv, env=env, path=cwd, childFDs={0: "w", 1: "r", 2: "r"})
    ctx.processes.sessions[session.id] = session
    if timeout_s > 0:
        def expire() -> None:
            session.timer = None
            if session.running:
                session.timed_out = True
                session.kill()

        session.timer = ctx.reactor.callLater(timeout_s, expire)
    if background:
        session.background = True
        return ToolOutput(f"Command started in the background (session {session.id}, pid "
                          f"{session.transport.pid}). Use process to poll, log or kill it.",
                          details={"status": "running", "sessionId": session.id})
    ctx.foreground.append(session)
    try:
        await _wait_for(session, ctx.reactor, yield_s)
    except CancelledError:
        session.kill()
        raise
    finally:
        if session in ctx.foreground:
            ctx.foreground.remove(session)
    if session.running:
        session.background = True
        return ToolOutput(f"Command still running (session {session.id}, pid "
                          f"{session.transport.pid}). Use process (poll/log/kill) to follow "
                          f"it.\n\n{_tail(session.output)}".rstrip(),
                          details={"status": "running", "sessionId": session.id})
    ctx.processes.sessions.pop(session.id, None)
    failed = session.timed_out or session.exit_code != 0
    return ToolOutput(_finished_text(session), is_error=failed,
                      details={"status": session.status(), "exitCode": session.exit_code})


async def _process(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    action = args.get("action")
    registry = ctx.processes
    if action == "list":
        if not registry.sessions:
            return ToolOutput("No running or recent sessions.")
        rows = [f"{s.id} {s.status():9} {s.command[:80]}" for s in registry.sessions.values()]
        return ToolOutput("\n".join(rows))
    session_id = args.get("sessionId")
    session = registry.sessions.get(session_id) if isinstance(session_id, str) else None
    if session is None:
        raise ToolFailure(f"No session found for {session_id}")
    if action == "poll":
        wait = args.get("timeout")
        if isinstance(wait, int | float) and wait > 0:
            await _wait_for(session, ctx.reactor, min(float(wait), 30000.0) / 1000.0)
        new = session.output[session.poll_offset:]
        session.poll_offset = len(session.output)
        state = "Process still running." if session.running else (
            f"Process exited with code {session.exit_code}.")
        return ToolOutput(f"{_tail(new) or '(no new output)'}\n\n{state}",
                          details={"status": session.status()})
    if action == "log":
        lines = session.output.split("\n")
        offset = args.get("offset")
        limit = args.get("limit")
        start = int(offset) if isinstance(offset, int | float) and offset >= 0 else 0
        count = int(limit) if isinstance(limit, int | float) and limit > 0 else 200
        return ToolOutput(_tail("\n".join(lines[start:start + count])) or "(no output)")
    if action == "write":
        data = args.get("data")
        if not session.running:
            raise ToolFailure(f"Session {session.id} is not running")
        if isinstance(data, str) and data:
            session.transport.write(data.encode())
        if args.get("eof") is True:
            session.transport.closeStdin()
        return ToolOutput(f"Wrote {len(data or '')} bytes to session {session.id}.")
    if action == "submit":
        if session.running:
            session.transport.write(b"\n")
        return ToolOutput(f"Submitted to session {session.id}.")
    if action == "kill":
        session.kill()
        return ToolOutput(f"Killed session {session.id}.")
    if action in ("clear", "remove"):
        if session.running:
            session.kill()
        registry.sessions.pop(session.id, None)
        return ToolOutput(f"Removed session {session.id}.")
    if action in ("send-keys", "paste"):
        raise ToolFailure(f"process {action} needs a PTY session, which this gateway does not "
                          "provide")
    raise ToolFailure(f"Unknown process action: {action}")


# --------------------------------------------------------------------------- session tools


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


async def _sessions_list(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    if ctx.sessions is None:
        raise ToolFailure("sessions are not available")
    rows = await ctx.sessions.tool_sessions_list(ctx.agent_id, args)
    return ToolOutput(_dump({"count": len(rows), "sessions": rows}))


async def _sessions_history(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    if ctx.sessions is None:
        raise ToolFailure("sessions are not available")
    key = args.get("sessionKey")
    if not isinstance(key, str) or not key:
        raise ToolFailure("sessionKey is required")
    limit = args.get("limit")
    result = await ctx.sessions.tool_sessions_history(
        ctx.agent_id, key, int(limit) if isinstance(limit, int) and limit > 0 else 20,
        args.get("includeTools") is True)
    return ToolOutput(_dump(result))


async def _sessions_send(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    if ctx.sessions is None:
        raise ToolFailure("sessions are not available")
    if not isinstance(args.get("message"), str) or not args.get("message"):
        raise ToolFailure("message is required")
    result = await ctx.sessions.tool_sessions_send(ctx.agent_id, ctx.session_key, args)
    return ToolOutput(_dump(result), is_error=result.get("status") == "error")


async def _session_status(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    if ctx.sessions is None:
        raise ToolFailure("sessions are not available")
    key = args.get("sessionKey")
    result = await ctx.sessions.tool_session_status(
        ctx.agent_id, key if isinstance(key, str) and key else ctx.session_key)
    return ToolOutput(_dump(result))


# --------------------------------------------------------------------------- the catalog

PATH = _str("File path; relative/absolute.")

CORE_TOOLS: Final[tuple[Tool, ...]] = (
    Tool("read", "Read file contents",
         "Read text file. Text caps 2000 lines or 50KB. Continue with offset/limit.",
         _obj({"path": PATH,
               "offset": {"type": "integer", "minimum": 1, "description": "Start line; 1-based."},
               "limit": {"type": "number", "description": "Max lines."},
               "optional": {"type": "boolean",
                            "description": "Missing paths return not_found instead of failing."}},
              ["path"]), _blocking(_read)),
    Tool("write", "Create or overwrite files",
         "Write content to a file, creating parent directories. Overwrites existing files.",
         _obj({"path": PATH, "content": _str("File content.")}, ["path", "content"]),
         _blocking(_write)),
    Tool("edit", "Make precise edits",
         "Edit a file with exact targeted replacements (oldText must match exactly and be "
         "unique).",
         _obj({"path": PATH, "edits": {
             "type": "array", "description": "Targeted replacements against the original file; "
             "no overlap/nesting.",
             "items": _obj({"oldText": _str("Exact original text; unique and non-overlapping."),
                            "newText": _str("Replacement text.")}, ["oldText", "newText"])}},
              ["path", "edits"]), _blocking(_edit)),
    Tool("apply_patch", "Patch files",
         "Patch one/many files. Input requires *** Begin Patch and *** End Patch.",
         _obj({"input": _str("Patch content using the *** Begin Patch/End Patch format.")},
              ["input"]), _blocking(_apply_patch)),
    Tool("exec", "Run shell commands",
         "Execute a shell command in the workspace. Long commands move to the background "
         "after yieldMs; follow them with the process tool.",
         _obj({"command": _str("Shell command."),
               "workdir": _str("Working directory (inside the workspace)."),
               "env": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Literal overrides; no expansion."},
               "yieldMs": {"type": "number",
                           "description": "Milliseconds before backgrounding; default 10000."},
               "background": {"type": "boolean", "description": "Background now."},
               "timeoutSeconds": {"type": "number",
                                  "description": "Process lifetime in seconds; 0 disables."}},
              ["command"]), _exec),
    Tool("process", "Manage background exec sessions",
         "Manage background exec sessions: list, poll, log, write, submit, kill, remove.",
         _obj({"action": {"type": "string", "enum": ["list", "poll", "log", "write", "send-keys",
                                                      "submit", "paste", "kill", "clear",
                                                      "remove"],
                          "description": "Process action."},
               "sessionId": _str("Required for every action except list."),
               "data": _str("Data to write for write"),
               "eof": {"type": "boolean", "description": "Close stdin after write"},
               "offset": {"type": "number", "description": "Log offset"},
               "limit": {"type": "number", "description": "Log length"},
               "timeout": {"type": "number", "minimum": 0,
                           "description": "For poll: wait up to this many milliseconds."}},
              ["action"]), _process),
    Tool("sessions_list", "List sessions",
         "List sessions of this agent with their latest activity.",
         _obj({"kinds": {"type": "array", "items": {"type": "string"}},
               "limit": {"type": "integer", "minimum": 1},
               "activeMinutes": {"type": "integer", "minimum": 1},
               "messageLimit": {"type": "integer", "minimum": 0}}), _sessions_list),
    Tool("sessions_history", "Read a session's history",
         "Fetch the recent messages of another session.",
         _obj({"sessionKey": _str("Session key."),
               "limit": {"type": "integer", "minimum": 1},
               "includeTools": {"type": "boolean"}}, ["sessionKey"]), _sessions_history),
    Tool("sessions_send", "Send to another session",
         "Send a message into another session and (optionally) wait for its reply.",
         _obj({"sessionKey": _str("Target session key."),
               "label": _str("Target session label."),
               "agentId": _str("Target agent id."),
               "message": _str("Message to send."),
               "timeoutSeconds": {"type": "integer", "minimum": 0,
                                  "description": "Seconds to wait for the reply; 0 = do not "
                                  "wait."}}, ["message"]), _sessions_send),
    Tool("session_status", "Show session status",
         "Show the status of this (or another) session: model, tokens, times.",
         _obj({"sessionKey": _str("Session key (default: this session).")}), _session_status),
)
TOOLS_BY_NAME: Final = {tool.name: tool for tool in CORE_TOOLS}


def available_tools(policy: ToolPolicy) -> list[Tool]:
    return [tool for tool in CORE_TOOLS if policy.check(tool.name) is None]


async def run_tool(ctx: ToolContext, policy: ToolPolicy, call: ToolCall) -> ToolOutput:
    """Run one model tool call; refusals and failures become error results."""
    name = normalize_tool_name(call.name)
    tool = TOOLS_BY_NAME.get(name)
    if tool is None:
        return ToolOutput(f"Tool {call.name} not found.", is_error=True)
    reason = policy.check(name)
    if reason is not None:
        return ToolOutput(f"Tool {name} is not available: {reason}.", is_error=True,
                          details={"status": "refused", "reason": reason})
    if "_raw" in call.arguments and len(call.arguments) == 1:
        return ToolOutput(f"Invalid arguments for {name}: not a JSON object.", is_error=True)
    try:
        return await tool.run(ctx, call.arguments)
    except ToolFailure as e:
        return ToolOutput(str(e), is_error=True)
    except CancelledError:
        raise
    except OSError as e:
        return ToolOutput(f"{name} failed: {e.strerror or e}", is_error=True)
    except Exception as e:
        return ToolOutput(f"{name} failed: {e}", is_error=True)
