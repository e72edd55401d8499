"""Agents: runs, the per-session queue, durable sessions, workspaces, tools.

Public names: :class:`AgentRuntime` (``start(RunRequest) -> RunHandle``; ``handle.events()``
async iterator of agent events, ``await handle.result``, ``handle.cancel()``),
:class:`RunRequest`, :class:`RunResult`, :class:`RunHandle`, :class:`SessionStore`,
:class:`AgentsService`, :class:`StoreService`. See docs/agents.md.
"""

from openclaw.agents.runtime import (
    AgentRequestError,
    AgentRuntime,
    DuplicateRun,
    RunHandle,
    RunRequest,
    RunResult,
)
from openclaw.agents.service import AgentsService, StoreService
from openclaw.agents.store import SessionStore

__all__ = [
    "AgentRequestError",
    "AgentRuntime",
    "AgentsService",
    "DuplicateRun",
    "RunHandle",
    "RunRequest",
    "RunResult",
    "SessionStore",
    "StoreService",
]
