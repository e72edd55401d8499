"""The tool seam: what a tool is, what it runs with, and what it answers.

A tool is a :class:`Tool` record (name, one-line summary, the description and JSON Schema the
model sees, and an async runner). A record rather than an interface with one class per tool:
every module contributes its tools as data (``fs.FS_TOOLS``, ``exec.EXEC_TOOLS``,
``sessions.SESSION_TOOLS``), and the registry, the runtime and ``/tools/invoke`` only ever
read those five fields.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import Deferred

from openclaw.providers.types import ToolSpec

if TYPE_CHECKING:
    from openclaw.agents.approvals import ExecApprovals
    from openclaw.agents.tools.exec import ExecSession, ProcessRegistry
    from openclaw.agents.tools.sessions import SessionsAccess


@attrs.define
class ToolContext:
    """Everything a tool call may touch: the workspace, the session, the reactor."""

    workspace: str
    agent_id: str
    session_key: str
    reactor: Any
    run_blocking: Callable[..., Deferred[Any]]
    """Runs a blocking function off the reactor thread (``deferToThread`` in production)."""
    sessions: SessionsAccess | None
    processes: ProcessRegistry
    cancelled: Callable[[], bool] = lambda: False
    foreground: list[ExecSession] = attrs.Factory(list)
    """``exec`` commands the run is waiting on (killed when the run is cancelled)."""
    approvals: ExecApprovals | None = None
    """The exec approvals gate (``openclaw.agents.approvals``); None: no approvals policy."""
    run_id: str | None = None


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
    """The JSON Schema of the arguments, as the model sees it."""
    run: Runner

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)


def object_schema(properties: Mapping[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    return schema


def string_schema(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}
