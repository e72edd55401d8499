"""The ``exec`` and ``process`` tools: shell commands as child processes of the reactor.

``exec`` asks the exec approvals gate first (``openclaw.agents.approvals``: the policy may
deny the command or wait for an operator's decision), then runs ``/bin/sh -c`` through
``reactor.spawnProcess`` (in its own process group when ``setsid`` exists, so a kill reaches
the command's children), with a lifetime timeout and output caps; it moves to the background
after ``yieldMs``. ``process`` follows background commands (list, poll, log, write, submit,
kill, remove) through the agent's :class:`ProcessRegistry`. Policy decides whether either is
available at all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Mapping
from typing import Any, Final

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from openclaw.agents.tools.core import (
    Tool,
    ToolContext,
    ToolFailure,
    ToolOutput,
    object_schema,
    string_schema,
)
from openclaw.agents.tools.fs import confine

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


async def run_exec(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ToolFailure("command is required")
    cwd: str = await ctx.run_blocking(_exec_cwd, ctx.workspace, args.get("workdir"))
    if ctx.approvals is not None:
        denied = await ctx.approvals.authorize(
            command, cwd, agent_id=ctx.agent_id, session_key=ctx.session_key,
            run_id=ctx.run_id, run_blocking=ctx.run_blocking)
        if denied is not None:
            return ToolOutput(denied, is_error=True,
                              details={"status": "failed", "exitCode": None, "durationMs": 0,
                                       "aggregated": denied, "timedOut": "timeout" in denied,
                                       "cwd": cwd})
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


async def run_process(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
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


EXEC_TOOLS: Final[tuple[Tool, ...]] = (
    Tool("exec", "Run shell commands",
         "Execute a shell command in the workspace. Long commands move to the background "
         "after yieldMs; follow them with the process tool.",
         object_schema({
             "command": string_schema("Shell command."),
             "workdir": string_schema("Working directory (inside the workspace)."),
             "env": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "Literal overrides; no expansion."},
             "yieldMs": {"type": "number",
                         "description": "Milliseconds before backgrounding; default 10000."},
             "background": {"type": "boolean", "description": "Background now."},
             "timeoutSeconds": {"type": "number",
                                "description": "Process lifetime in seconds; 0 disables."}},
             ["command"]),
         run_exec),
    Tool("process", "Manage background exec sessions",
         "Manage background exec sessions: list, poll, log, write, submit, kill, remove.",
         object_schema({
             "action": {"type": "string", "enum": ["list", "poll", "log", "write", "send-keys",
                                                   "submit", "paste", "kill", "clear",
                                                   "remove"],
                        "description": "Process action."},
             "sessionId": string_schema("Required for every action except list."),
             "data": string_schema("Data to write for write"),
             "eof": {"type": "boolean", "description": "Close stdin after write"},
             "offset": {"type": "number", "description": "Log offset"},
             "limit": {"type": "number", "description": "Log length"},
             "timeout": {"type": "number", "minimum": 0,
                         "description": "For poll: wait up to this many milliseconds."}},
             ["action"]),
         run_process),
)
