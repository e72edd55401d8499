"""``POST /tools/invoke`` (``tools-invoke-http``): run one agent tool directly.

Always mounted; 2 MiB body; scope ``agent`` (write). Body ``{tool | name, action?, args?,
sessionKey?, agentId?, idempotencyKey?, dryRun?}`` (``dryRun`` is accepted and ignored).
The tool must survive the agent tool policy of the target session (profiles, ``tools.allow``/
``deny``, the agent's own lists, the exec rules) **and** the HTTP hard deny list (``exec``,
``spawn``, ``shell``, ``fs_write``, ``fs_delete``, ``fs_move``, ``apply_patch``,
``sessions_spawn``, ``sessions_send``, ``automations``/``cron``, ``gateway``, ``nodes`` ...),
minus ``gateway.tools.allow``, plus ``gateway.tools.deny``; owner-only tools stay closed to
non-owner identity callers even when allowed. Anything unknown or blocked is ``404 Tool not
available: <name>``.

Answers: ``200 {"ok":true,"result":{"content":[...],"details":...}}``; ``400
{"ok":false,"error":{"type":"invalid_request"|"tool_error","message"}}``; ``404`` as above;
``500 {"ok":false,"error":{"type":"tool_error","message":"tool execution failed"}}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.web.http import Request

from openclaw.agents import tools as tools_mod
from openclaw.agents.direct import DirectTools
from openclaw.agents.runtime import AgentRequestError
from openclaw.config.schema import GatewayToolsConfig
from openclaw.gateway.http.auth import HttpAuth, is_owner
from openclaw.gateway.http.common import Exchange, invalid_request_body

if TYPE_CHECKING:
    from openclaw.gateway.http.api import HttpApi

log = Logger(namespace="gateway.http")

PATH: Final = b"/tools/invoke"
AUTOMATIONS_TOOL: Final = "automations"
DEFAULT_HTTP_TOOL_DENY: Final = (
    "exec", "spawn", "shell", "fs_write", "fs_delete", "fs_move", "apply_patch", "terminal",
    "portal", "sessions_spawn", "sessions_send", "conversations_list", "conversations_send",
    "conversations_turn", AUTOMATIONS_TOOL, "cron", "gateway", "plugins", "nodes", "computer",
    "mobile_ui", "openclaw",
)
OWNER_ONLY_TOOLS: Final = frozenset({
    AUTOMATIONS_TOOL, "cron", "gateway", "plugins", "sessions", "screen", "terminal", "portal",
    "conversations_list", "conversations_send", "conversations_turn", "nodes", "computer",
    "mobile_ui", "openclaw"})


def _names(raw: Iterable[str]) -> set[str]:
    return {tools_mod.normalize_tool_name(item) for item in raw if item.strip()}


def http_denied(gateway_tools: GatewayToolsConfig, tool: str, owner: bool) -> bool:
    """The HTTP deny list after ``gateway.tools.allow``/``deny``; owner-only rules."""
    allow = _names(gateway_tools.allow)
    deny = _names(gateway_tools.deny)
    if tool in deny:
        return True
    if tool in OWNER_ONLY_TOOLS and not owner:
        return True
    return tool in DEFAULT_HTTP_TOOL_DENY and tool not in allow


def _error(status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"ok": False, "error": {"type": kind, "message": message}}


class ToolsInvoke:
    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self._direct: DirectTools | None = None

    def __call__(self, request: Request, path: bytes) -> bytes | int | None:
        if path != PATH:
            return None
        from openclaw.gateway.http.api import TOOLS_BODY_BYTES

        return self.api.post_json(request, method="agent", max_bytes=TOOLS_BODY_BYTES,
                                  handler=self.handle)

    def gateway_tools(self) -> GatewayToolsConfig:
        return self.api.get_config().config.gateway.tools

    async def handle(self, exchange: Exchange, auth: HttpAuth, body: Any) -> None:
        status, payload = await self.invoke(exchange.request, auth, body if body is not None
                                            else {}, gone=lambda: exchange.gone)
        exchange.json(status, payload)

    async def invoke(self, request: Request, auth: HttpAuth, body: Any,
                     gone: Callable[[], bool] = lambda: False) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            body = {}
        requested = body.get("name") if body.get("name") is not None else body.get("tool")
        name = requested.strip() if isinstance(requested, str) else ""
        if not name:
            return _error(400, "invalid_request", "tools.invoke requires name")
        if name == "cron":
            name = AUTOMATIONS_TOOL
        runner = self.api.runner
        if runner is None:
            return _error(404, "not_found", f"Tool not available: {name}")
        runtime = runner.runtime
        args_raw = body.get("args")
        args = dict(args_raw) if isinstance(args_raw, dict) else {}
        raw_key = body.get("sessionKey")
        session_key = raw_key.strip() if isinstance(raw_key, str) and raw_key.strip() \
            else "main"
        raw_agent = body.get("agentId")
        agent_arg = raw_agent.strip() if isinstance(raw_agent, str) and raw_agent.strip() \
            else None
        try:
            agent_id, canonical = runtime.resolve(agent_arg, session_key)
        except AgentRequestError as e:
            return _error(400, "invalid_request", str(e))
        owner = is_owner(request, auth)
        if self._direct is None or self._direct.runtime is not runtime:
            self._direct = DirectTools(runtime)
        direct = self._direct
        policy = direct.policy(agent_id, canonical)
        normalized = tools_mod.normalize_tool_name(name)
        tool = tools_mod.TOOLS_BY_NAME.get(normalized)
        if tool is None or policy.check(normalized) is not None or http_denied(
                self.gateway_tools(), normalized, owner):
            return _error(404, "not_found", f"Tool not available: {name}")
        action = body.get("action")
        properties = tool.parameters.get("properties") if isinstance(tool.parameters,
                                                                     Mapping) else None
        if isinstance(action, str) and action.strip() and "action" not in args and \
                isinstance(properties, Mapping) and "action" in properties:
            args["action"] = action.strip()
        context = await direct.context(agent_id, canonical, cancelled=gone)
        idempotency = body.get("idempotencyKey")
        call_id = (f"http-direct-operator-{idempotency.strip()}"
                   if isinstance(idempotency, str) and idempotency.strip()
                   else f"http-direct-operator-{int(time.time() * 1000)}")
        try:
            output = await Deferred.fromCoroutine(_run(tool, context, args))
        except tools_mod.ToolFailure as e:
            return _error(400, "tool_error", str(e) or "invalid tool arguments")
        except CancelledError:
            raise
        except Exception:
            log.failure("tools-invoke: tool {tool} ({call}) failed", tool=normalized,
                        call=call_id)
            return _error(500, "tool_error", "tool execution failed")
        result: dict[str, Any] = {"content": output.content()}
        if output.details is not None:
            result["details"] = output.details
        if output.is_error:
            result["isError"] = True
        return 200, {"ok": True, "result": result}


async def _run(tool: tools_mod.Tool, context: tools_mod.ToolContext,
               args: dict[str, Any]) -> tools_mod.ToolOutput:
    return await tool.run(context, args)


__all__ = ["DEFAULT_HTTP_TOOL_DENY", "ToolsInvoke", "http_denied", "invalid_request_body"]
