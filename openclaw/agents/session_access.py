"""The session tools' view of the runtime (``sessions_list``, ``sessions_history``,
``sessions_send``, ``session_status``): :class:`RuntimeSessions` implements the tools'
``SessionsAccess`` seam over an :class:`~openclaw.agents.runtime.AgentRuntime`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from openclaw.agents.requests import AgentRequestError, RunRequest
from openclaw.agents.session_keys import agent_of_key, normalize_agent_id, session_kind

if TYPE_CHECKING:
    from openclaw.agents.runtime import AgentRuntime


class RuntimeSessions:
    """What the session tools may see and do, through the runtime they run in."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime

    def _resolve(self, agent_id: str, key: str) -> tuple[str, str]:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        try:
            return self.runtime.resolve(agent_of_key(key, agent_id), key)
        except AgentRequestError as e:
            raise tools_mod.ToolFailure(str(e)) from None

    async def tool_sessions_list(self, agent_id: str, params: Mapping[str, Any]
                                 ) -> list[dict[str, Any]]:
        sessions = self.runtime.store.agent(agent_id)
        await sessions.load()
        rows = []
        raw_limit = params.get("limit")
        limit = raw_limit if isinstance(raw_limit, int) and raw_limit > 0 else 50
        kinds = params.get("kinds") if isinstance(params.get("kinds"), list) else None
        active = params.get("activeMinutes")
        now = self.runtime.now_ms()
        for key, entry in sorted(sessions.entries.items(),
                                 key=lambda kv: -int(kv[1].get("updatedAt") or 0)):
            kind = session_kind(key)
            if kinds and kind not in kinds:
                continue
            if isinstance(active, int) and \
                    now - int(entry.get("updatedAt") or 0) > active * 60000:
                continue
            rows.append({"key": key, "kind": kind, "sessionId": entry.get("sessionId"),
                         "updatedAt": entry.get("updatedAt"), "label": entry.get("label"),
                         "model": entry.get("model"),
                         "totalTokens": entry.get("totalTokens")})
            if len(rows) >= limit:
                break
        return rows

    async def tool_sessions_history(self, agent_id: str, key: str, limit: int,
                                    include_tools: bool) -> dict[str, Any]:
        target_agent, canonical = self._resolve(agent_id, key)
        records = await self.runtime.store.agent(target_agent).read(canonical)
        messages = [r["message"] for r in records if r.get("type") == "message"
                    and isinstance(r.get("message"), dict)]
        if not include_tools:
            messages = [m for m in messages if m.get("role") in ("user", "assistant")]
        return {"sessionKey": canonical, "messages": messages[-limit:]}

    async def tool_sessions_send(self, agent_id: str, from_key: str,
                                 params: Mapping[str, Any]) -> dict[str, Any]:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        runtime = self.runtime
        key = params.get("sessionKey")
        target_agent = str(params.get("agentId") or agent_id)
        if not isinstance(key, str) or not key:
            label = params.get("label")
            found = None
            if isinstance(label, str):
                sessions = runtime.store.agent(normalize_agent_id(target_agent))
                await sessions.load()
                found = next((k for k, e in sessions.entries.items()
                              if e.get("label") == label), None)
            if found is None:
                raise tools_mod.ToolFailure("sessionKey (or a known label) is required")
            key = found
        agent, canonical = self._resolve(target_agent, key)
        if canonical == from_key:
            raise tools_mod.ToolFailure("sessions_send cannot target the current session")
        run_id = f"send-{uuid.uuid4()}"
        runtime.start(RunRequest(message=str(params.get("message")), run_id=run_id,
                                 agent_id=agent, session_key=canonical, kind="tool",
                                 channel="sessions_send"))
        wait = params.get("timeoutSeconds")
        wait_s = float(wait) if isinstance(wait, int | float) and wait >= 0 else 30.0
        if wait_s == 0:
            return {"runId": run_id, "status": "accepted", "sessionKey": canonical}
        result = await runtime.wait(run_id, wait_s)
        if result is None:
            return {"runId": run_id, "status": "timeout", "sessionKey": canonical}
        return {"runId": run_id, "status": "ok" if result.status == "ok" else "error",
                "sessionKey": canonical, "reply": result.text,
                **({"error": result.error} if result.error else {})}

    async def tool_session_status(self, agent_id: str, key: str) -> dict[str, Any]:
        target_agent, canonical = self._resolve(agent_id, key)
        sessions = self.runtime.store.agent(target_agent)
        await sessions.load()
        entry = sessions.get(canonical) or {}
        running = self.runtime.runs_in(canonical)
        return {"sessionKey": canonical, "agentId": target_agent,
                "sessionId": entry.get("sessionId"), "updatedAt": entry.get("updatedAt"),
                "model": entry.get("model"), "modelProvider": entry.get("modelProvider"),
                "inputTokens": entry.get("inputTokens"),
                "outputTokens": entry.get("outputTokens"),
                "totalTokens": entry.get("totalTokens"),
                "status": "running" if running else entry.get("status") or "idle",
                "queued": max(0, len(running) - 1)}


__all__ = ["RuntimeSessions"]
