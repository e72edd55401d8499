"""OpenClaw as the brain of a voice session: agent ``main``'s tools and session store.

One :class:`VoiceBrain` per gateway (made from its agent runtime) opens, for each
owner-authorized voice session, the tool runtime Gemini calls into and the recorder that
writes the conversation into ``agent:main:voiceclaw:<key>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from twisted.internet.interfaces import IReactorTime

from openclaw.agents import tools as tools_mod
from openclaw.agents.direct import DirectTools
from openclaw.agents.runtime import AgentRuntime
from openclaw.voiceclaw.recorder import VoiceRecorder
from openclaw.voiceclaw.tools import ToolOutcome, ToolRunner, VoiceToolRuntime

__all__ = ["BRAIN_AGENT", "VoiceBrain"]

BRAIN_AGENT: Final = "main"


class VoiceBrain:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.direct = DirectTools(runtime)
        # How one call runs (the agents' run_tool: policy check, failures as error results).
        self.run_tool: ToolRunner = tools_mod.run_tool

    def resolve(self, session_key: str) -> tuple[str, str]:
        """``(agentId, canonical key)`` of a voice session's store key; raises
        ``AgentRequestError`` when agent ``main`` is not configured."""
        return self.runtime.resolve(BRAIN_AGENT, session_key)

    def tools(self, agent_id: str, session_key: str, *, clock: IReactorTime,
              timeout_ms: int, max_concurrent: int, progress: Callable[[str, str], None],
              finished: Callable[[ToolOutcome], None]) -> VoiceToolRuntime:
        return VoiceToolRuntime(self.direct, agent_id, session_key,
                                clock=clock, timeout_ms=timeout_ms,
                                max_concurrent=max_concurrent, progress=progress,
                                finished=finished, run_tool=self.run_tool)

    def recorder(self, agent_id: str, session_key: str, *, model: str) -> VoiceRecorder:
        return VoiceRecorder(self.runtime, agent_id, session_key, model=model,
                             workspace=self.direct.workspace(agent_id))
