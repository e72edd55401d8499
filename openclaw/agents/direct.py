"""Agent tools run outside a model run: ``POST /tools/invoke`` and the VoiceClaw brain.

A model run resolves its tool policy, workspace and tool context inside
:class:`~openclaw.agents.runtime.AgentRuntime`; callers that run one tool by themselves (an
HTTP caller, a real-time voice session whose model lives elsewhere) get the same three things
here, so the policy of a session is decided in one place however its tools are reached.
"""

from __future__ import annotations

from collections.abc import Callable

from openclaw.agents import tools as tools_mod
from openclaw.agents.runtime import AgentRuntime
from openclaw.agents.session_access import RuntimeSessions
from openclaw.agents.workspace import ensure_workspace

__all__ = ["DirectTools"]


class DirectTools:
    """Policy, workspace and context of an agent's tools for one session key.

    Background processes started by ``exec`` live in one registry per agent for this caller,
    and each workspace is bootstrapped once, as a run does.
    """

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._processes: dict[str, tools_mod.ProcessRegistry] = {}
        self._workspaces: set[str] = set()

    def policy(self, agent_id: str, session_key: str) -> tools_mod.ToolPolicy:
        """The tool policy of ``session_key``: profile, allow/deny layers, the exec rules."""
        runtime = self.runtime
        view = runtime.view()
        agent = view.agent(agent_id)
        return tools_mod.resolve_policy(view.tools, agent.tools if agent else None,
                                        is_main=runtime.is_main_session(agent_id, session_key))

    def available(self, agent_id: str, session_key: str) -> list[tools_mod.Tool]:
        """The built-in tools the policy lets this session use."""
        return tools_mod.available_tools(self.policy(agent_id, session_key))

    def workspace(self, agent_id: str) -> str:
        agent = self.runtime.view().agent(agent_id)
        return agent.workspace if agent else self.runtime.default_workspace

    async def context(self, agent_id: str, session_key: str, *,
                      cancelled: Callable[[], bool] = lambda: False) -> tools_mod.ToolContext:
        """A tool context for one call; the workspace is created (off the reactor) first."""
        runtime = self.runtime
        workspace = self.workspace(agent_id)
        if workspace not in self._workspaces:
            await runtime.run_blocking(ensure_workspace, workspace,
                                       skip_bootstrap=runtime.view().skip_bootstrap)
            self._workspaces.add(workspace)
        processes = self._processes.setdefault(agent_id, tools_mod.ProcessRegistry())
        return tools_mod.ToolContext(
            workspace=workspace, agent_id=agent_id, session_key=session_key,
            reactor=runtime.reactor, run_blocking=runtime.run_blocking,
            sessions=RuntimeSessions(runtime),
            processes=processes, cancelled=cancelled)
