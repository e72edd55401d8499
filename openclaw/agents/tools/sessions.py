"""The session tools: ``sessions_list``, ``sessions_history``, ``sessions_send``,
``session_status``.

They call back into the agent runtime through :class:`SessionsAccess` (the runtime implements
it), so this package never imports the runtime.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from typing import Any, Final, Protocol

from openclaw.agents.tools.core import (
    Tool,
    ToolContext,
    ToolFailure,
    ToolOutput,
    object_schema,
    string_schema,
)


class SessionsAccess(Protocol):
    """What the session tools need from the agent runtime."""

    def tool_sessions_list(self, agent_id: str, params: Mapping[str, Any]
                           ) -> Awaitable[list[dict[str, Any]]]: ...

    def tool_sessions_history(self, agent_id: str, key: str, limit: int,
                              include_tools: bool) -> Awaitable[dict[str, Any]]: ...

    def tool_sessions_send(self, agent_id: str, from_key: str, params: Mapping[str, Any]
                           ) -> Awaitable[dict[str, Any]]: ...

    def tool_session_status(self, agent_id: str, key: str) -> Awaitable[dict[str, Any]]: ...


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


async def run_sessions_list(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    if ctx.sessions is None:
        raise ToolFailure("sessions are not available")
    rows = await ctx.sessions.tool_sessions_list(ctx.agent_id, args)
    return ToolOutput(_dump({"count": len(rows), "sessions": rows}))


async def run_sessions_history(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
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


async def run_sessions_send(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    if ctx.sessions is None:
        raise ToolFailure("sessions are not available")
    if not isinstance(args.get("message"), str) or not args.get("message"):
        raise ToolFailure("message is required")
    result = await ctx.sessions.tool_sessions_send(ctx.agent_id, ctx.session_key, args)
    return ToolOutput(_dump(result), is_error=result.get("status") == "error")


async def run_session_status(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
    if ctx.sessions is None:
        raise ToolFailure("sessions are not available")
    key = args.get("sessionKey")
    result = await ctx.sessions.tool_session_status(
        ctx.agent_id, key if isinstance(key, str) and key else ctx.session_key)
    return ToolOutput(_dump(result))


SESSION_TOOLS: Final[tuple[Tool, ...]] = (
    Tool("sessions_list", "List sessions",
         "List sessions of this agent with their latest activity.",
         object_schema({"kinds": {"type": "array", "items": {"type": "string"}},
                        "limit": {"type": "integer", "minimum": 1},
                        "activeMinutes": {"type": "integer", "minimum": 1},
                        "messageLimit": {"type": "integer", "minimum": 0}}),
         run_sessions_list),
    Tool("sessions_history", "Read a session's history",
         "Fetch the recent messages of another session.",
         object_schema({"sessionKey": string_schema("Session key."),
                        "limit": {"type": "integer", "minimum": 1},
                        "includeTools": {"type": "boolean"}}, ["sessionKey"]),
         run_sessions_history),
    Tool("sessions_send", "Send to another session",
         "Send a message into another session and (optionally) wait for its reply.",
         object_schema({"sessionKey": string_schema("Target session key."),
                        "label": string_schema("Target session label."),
                        "agentId": string_schema("Target agent id."),
                        "message": string_schema("Message to send."),
                        "timeoutSeconds": {"type": "integer", "minimum": 0,
                                           "description": "Seconds to wait for the reply; 0 = "
                                           "do not wait."}}, ["message"]),
         run_sessions_send),
    Tool("session_status", "Show session status",
         "Show the status of this (or another) session: model, tokens, times.",
         object_schema({"sessionKey": string_schema("Session key (default: this session).")}),
         run_session_status),
)
