"""The catalog of built-in tools and the one way a model's tool call is run."""

from __future__ import annotations

from typing import Final

from twisted.internet.defer import CancelledError

from openclaw.agents.tools.core import Tool, ToolContext, ToolFailure, ToolOutput
from openclaw.agents.tools.exec import EXEC_TOOLS
from openclaw.agents.tools.fs import FS_TOOLS
from openclaw.agents.tools.policy import ToolPolicy, normalize_tool_name
from openclaw.agents.tools.sessions import SESSION_TOOLS
from openclaw.providers.types import ToolCall

CORE_TOOLS: Final[tuple[Tool, ...]] = (*FS_TOOLS, *EXEC_TOOLS, *SESSION_TOOLS)
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
