"""The safe core of the built-in tools, with the real names, schemas and tool policy.

* :mod:`.policy`: profiles, groups, allow/deny layers, :func:`resolve_policy`.
* :mod:`.core`: the tool seam (:class:`Tool`, :class:`ToolContext`, :class:`ToolOutput`).
* :mod:`.fs`: ``read``, ``write``, ``edit``, ``apply_patch``, confined to the agent workspace.
* :mod:`.exec`: ``exec`` and ``process``, child processes with timeouts and output caps;
  available only when tool policy allows them, and in non-main sessions only with
  ``tools.exec.security: "full"``.
* :mod:`.sessions`: ``sessions_list``, ``sessions_history``, ``sessions_send``,
  ``session_status``, through the runtime's :class:`SessionsAccess`.
* :mod:`.registry`: the catalog and :func:`run_tool`.

A denied tool is not described to the model, and a call to it is answered with an error
result ("not available"). The names below are the package's interface (the runtime and
``/tools/invoke`` use them as ``tools.X``).
"""

from __future__ import annotations

from openclaw.agents.tools.core import (
    Runner,
    Tool,
    ToolContext,
    ToolFailure,
    ToolOutput,
    object_schema,
    string_schema,
)
from openclaw.agents.tools.exec import (
    DEFAULT_EXEC_TIMEOUT_S,
    DEFAULT_YIELD_MS,
    OUTPUT_KEEP_CHARS,
    OUTPUT_RETURN_CHARS,
    SETSID,
    ExecSession,
    ProcessRegistry,
)
from openclaw.agents.tools.fs import READ_MAX_BYTES, READ_MAX_LINES, confine, parse_patch
from openclaw.agents.tools.policy import (
    ALIASES,
    GROUPS,
    PROFILES,
    RUNTIME_TOOLS,
    PolicyLayer,
    ToolPolicy,
    expand,
    normalize_tool_name,
    resolve_policy,
)
from openclaw.agents.tools.registry import CORE_TOOLS, TOOLS_BY_NAME, available_tools, run_tool
from openclaw.agents.tools.sessions import SessionsAccess

__all__ = [
    "ALIASES",
    "CORE_TOOLS",
    "DEFAULT_EXEC_TIMEOUT_S",
    "DEFAULT_YIELD_MS",
    "GROUPS",
    "OUTPUT_KEEP_CHARS",
    "OUTPUT_RETURN_CHARS",
    "PROFILES",
    "READ_MAX_BYTES",
    "READ_MAX_LINES",
    "RUNTIME_TOOLS",
    "SETSID",
    "TOOLS_BY_NAME",
    "ExecSession",
    "PolicyLayer",
    "ProcessRegistry",
    "Runner",
    "SessionsAccess",
    "Tool",
    "ToolContext",
    "ToolFailure",
    "ToolOutput",
    "ToolPolicy",
    "available_tools",
    "confine",
    "expand",
    "normalize_tool_name",
    "object_schema",
    "parse_patch",
    "resolve_policy",
    "run_tool",
    "string_schema",
]
