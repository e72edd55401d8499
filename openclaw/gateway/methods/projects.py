"""``projects.list``: the agents' workspaces, as upstream lists them.

This gateway has no project registry (no registered or cloned repositories, no recents):
each configured agent's workspace is its one project (``source: "workspace"``), and
``repoRoot`` is only shown to callers holding ``operator.write``, as upstream.
"""

from __future__ import annotations

import os
from typing import Any

from openclaw.agents.runtime import AgentRuntime
from openclaw.auth.scopes import READ, WRITE, scope_satisfied
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec


def make_project_methods(runtime: AgentRuntime) -> tuple[MethodSpec, ...]:
    def projects_list(call: MethodCall) -> dict[str, Any]:
        writer = scope_satisfied(WRITE, call.session.scopes)
        projects = []
        for agent in runtime.view().agents.values():
            project: dict[str, Any] = {
                "id": f"workspace:{agent.id}", "agentId": agent.id,
                "displayName": os.path.basename(agent.workspace.rstrip(os.sep)) or agent.id,
                "source": "workspace"}
            if writer:
                project["repoRoot"] = agent.workspace
            projects.append(project)
        return {"projects": projects, "recents": []}

    return (MethodSpec("projects.list", projects_list, READ, params_schema("projects.list")),)
