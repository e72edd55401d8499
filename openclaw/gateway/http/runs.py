"""The HTTP API's view of the agent runtime: agent targets, session keys, runs, errors.

Everything the OpenAI-compatible endpoints need from :mod:`openclaw.agents` goes through
:class:`AgentRunner`, a small adapter over :class:`~openclaw.agents.runtime.AgentRuntime`
(its public API only):

* **caller function tools** ("client tools") go to the run as ``RunRequest.client_tools``;
  the run stops at the model's first call of one of them and reports the calls as
  ``RunResult.pending_tool_calls``. The caller's answers (trailing ``tool`` messages /
  ``function_call_output`` items) go as ``RunRequest.tool_results``: in a session whose last
  turn ended at those calls they become the calls' tool results. A caller tool named like a
  gateway tool is ``400 invalid tool configuration``.
* **sampling parameters** (``max_tokens``, ``temperature``...) go as
  ``RunRequest.stream_params`` to the provider request (what the provider's API has).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from openclaw.agents.runtime import (
    AgentRequestError,
    AgentRuntime,
    ClientToolConflict,
    ClientToolResult,
    RunHandle,
    RunRequest,
    RunResult,
)
from openclaw.agents.session_keys import normalize_agent_id
from openclaw.providers.registry import parse_model_ref
from openclaw.providers.types import ProviderError, ToolCall, ToolSpec, Usage

log = Logger(namespace="gateway.http")

AGENT_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)
_MODEL_AGENT_RE: Final = re.compile(r"^openclaw[:/](?P<id>[a-z0-9][a-z0-9_-]{0,63})$",
                                    re.IGNORECASE)
_ALIAS_AGENT_RE: Final = re.compile(r"^agent:(?P<id>[a-z0-9][a-z0-9_-]{0,63})$", re.IGNORECASE)
RESERVED_KEY_PREFIXES: Final = ("subagent:", "cron:", "acp:")
_RESERVED_KEY_MARKERS: Final = (":subagent:", ":cron:", ":acp:")

INVALID_MODEL: Final = "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."
RESERVED_SESSION_KEY: Final = (
    "`x-openclaw-session-key` cannot use reserved internal session namespaces.")
NO_RESPONSE: Final = "No response from OpenClaw."

INVALID_TOOL_CONFIGURATION: Final = "invalid tool configuration"


class RequestRejected(ValueError):
    """A 400 ``invalid_request_error`` with this message."""


def is_agent_model_id(model: str | None) -> bool:
    """``isOpenClawAgentModelId``."""
    raw = (model or "").strip()
    if not raw:
        return False
    if raw.lower() in ("openclaw", "openclaw/default"):
        return True
    return bool(_MODEL_AGENT_RE.match(raw) or _ALIAS_AGENT_RE.match(raw))


def agent_of_model(model: str | None, default_id: str) -> str | None:
    """``resolveAgentIdFromModel``."""
    raw = (model or "").strip()
    if not raw:
        return None
    if raw.lower() in ("openclaw", "openclaw/default"):
        return default_id
    match = _MODEL_AGENT_RE.match(raw) or _ALIAS_AGENT_RE.match(raw)
    return normalize_agent_id(match.group("id")) if match else None


def is_reserved_session_key(key: str) -> bool:
    lowered = key.strip().lower()
    return lowered.startswith(RESERVED_KEY_PREFIXES) or any(
        marker in f":{lowered}" for marker in _RESERVED_KEY_MARKERS)


@attrs.frozen
class RunSpec:
    """One HTTP-started agent turn."""

    message: str
    run_id: str
    agent_id: str
    session_key: str
    channel: str = "webchat"
    extra_system_prompt: str | None = None
    model: str | None = None
    client_tools: tuple[ToolSpec, ...] = ()
    tool_results: tuple[ClientToolResult, ...] = ()
    stream_params: Mapping[str, Any] | None = None
    kind: str = "http"
    label: str | None = None
    timeout_s: float | None = None


@attrs.frozen
class PendingCall:
    id: str
    name: str
    arguments: str          # JSON text


@attrs.frozen
class RunOutcome:
    status: str                               # ok | error | aborted | timeout
    text: str
    usage: Usage
    stop_reason: str | None
    error: str | None = None
    error_kind: str | None = None
    error_detail: Mapping[str, Any] | None = None
    pending_tool_calls: tuple[PendingCall, ...] = ()
    session_key: str = ""

    @property
    def failed(self) -> bool:
        return self.status != "ok"

    @property
    def finish_reason(self) -> str:
        if self.pending_tool_calls:
            return "tool_calls"
        return "length" if self.stop_reason == "length" else "stop"


class RunTicket:
    """A started run: its events, its outcome, its cancel."""

    def __init__(self, handle: RunHandle) -> None:
        self.handle = handle
        self.run_id = handle.run_id
        self.session_key = handle.session_key
        self.outcome: Deferred[RunOutcome] = Deferred()
        self.outcome_value: RunOutcome | None = None
        handle.result.addCallback(self._settle)

    def _settle(self, result: Any) -> Any:
        outcome = self.outcome_value = _outcome_of(result)
        if not self.outcome.called:
            self.outcome.callback(outcome)
        return result

    def events(self) -> AsyncIterator[dict[str, Any]]:
        return self.handle.events()

    def cancel(self, reason: str = "disconnect") -> bool:
        return self.handle.cancel(reason)


def _arguments_text(call: ToolCall) -> str:
    if call.raw_arguments:
        return call.raw_arguments
    return json.dumps(dict(call.arguments), separators=(",", ":"), ensure_ascii=False)


def _outcome_of(result: RunResult) -> RunOutcome:
    pending = tuple(PendingCall(str(call.id), str(call.name), _arguments_text(call))
                    for call in result.pending_tool_calls)
    return RunOutcome(
        status=result.status, text=result.text or "", usage=result.usage,
        stop_reason=result.stop_reason, error=result.error, error_kind=result.error_kind,
        error_detail=result.error_detail, pending_tool_calls=pending,
        session_key=result.session_key)


class AgentRunner:
    """What the HTTP endpoints know of agents."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime

    # -- agents -------------------------------------------------------------------------

    def default_agent(self) -> str:
        return self.runtime.view().default_id

    def agent_ids(self) -> list[str]:
        return list(self.runtime.view().agents)

    def model_ids(self) -> list[str]:
        """``/v1/models`` ids: openclaw, openclaw/default, the default agent, every agent."""
        ids = ["openclaw", "openclaw/default", f"openclaw/{self.default_agent()}"]
        for agent_id in self.agent_ids():
            candidate = f"openclaw/{agent_id}"
            if candidate not in ids:
                ids.append(candidate)
        return ids

    def resolve_agent(self, model: str | None, header_agent: str | None) -> str:
        """``resolveAgentIdForRequest``; raises :class:`RequestRejected`."""
        if model is not None and model.strip() and not is_agent_model_id(model):
            raise RequestRejected(INVALID_MODEL)
        known = self.agent_ids()
        if header_agent:
            if not AGENT_ID_RE.match(header_agent):
                raise RequestRejected(f"Unknown agent '{header_agent}'.")
            agent_id = normalize_agent_id(header_agent)
            if agent_id not in known:
                raise RequestRejected(f"Unknown agent '{agent_id}'.")
            return agent_id
        from_model = agent_of_model(model, self.default_agent())
        if from_model is not None:
            if from_model not in known:
                raise RequestRejected(f"Unknown agent '{from_model}'.")
            return from_model
        return self.default_agent()

    def session_key(self, agent_id: str, explicit: str | None, user: str | None,
                    prefix: str, fresh_id: str) -> str:
        """``resolveSessionKey`` of the OpenAI-compatible endpoints."""
        if explicit:
            if is_reserved_session_key(explicit):
                raise RequestRejected(RESERVED_SESSION_KEY)
            return explicit
        user = (user or "").strip()
        rest = f"{prefix}-user:{user}" if user else f"{prefix}:{fresh_id}"
        return f"agent:{normalize_agent_id(agent_id)}:{rest.lower()}"

    def check_model_override(self, raw: str, agent_id: str) -> str:
        """Validate ``x-openclaw-model`` (``provider/model`` or a bare id)."""
        view = self.runtime.view()
        agent = view.agent(agent_id)
        primary = (agent.model_primary if agent else None) or view.defaults_model
        router = self.runtime.router
        default_provider = None
        if primary and "/" in primary:
            default_provider = primary.split("/", 1)[0]
        elif router is not None:
            default_provider = router.catalog.default_ref().provider
        text = raw.strip()
        if not text or text.startswith("/") or text.endswith("/") or any(
                ch.isspace() for ch in text):
            raise RequestRejected("Invalid `x-openclaw-model`.")
        ref = parse_model_ref(text, default_provider or "local")
        if not ref.provider or not ref.model:
            raise RequestRejected("Invalid `x-openclaw-model`.")
        allowed = router is None or self._provider_known(ref.provider)
        if not allowed:
            raise RequestRejected(
                f"Model '{ref.provider}/{ref.model}' is not allowed for agent '{agent_id}'.")
        return f"{ref.provider}/{ref.model}"

    def _provider_known(self, provider: str) -> bool:
        catalog = self.runtime.router.catalog
        try:
            catalog.get(provider)
        except ProviderError:
            return False
        return True

    # -- runs ---------------------------------------------------------------------------

    def start(self, spec: RunSpec) -> RunTicket:
        """Start (queue) a run; raises :class:`RequestRejected` for a refused request."""
        request = RunRequest(
            message=spec.message, run_id=spec.run_id, agent_id=spec.agent_id,
            session_key=spec.session_key, kind=spec.kind, model=spec.model,
            extra_system_prompt=spec.extra_system_prompt or None, channel=spec.channel,
            label=spec.label, timeout_s=spec.timeout_s, client_tools=spec.client_tools,
            tool_results=spec.tool_results,
            stream_params=dict(spec.stream_params) if spec.stream_params else None)
        try:
            return RunTicket(self.runtime.start(request))
        except ClientToolConflict as e:
            log.warn("HTTP API: refused caller tools: {error}", error=str(e))
            raise RequestRejected(INVALID_TOOL_CONFIGURATION) from None
        except AgentRequestError as e:
            raise RequestRejected(str(e)) from None


# --------------------------------------------------------------------------- errors


def error_for(outcome: RunOutcome) -> tuple[int, dict[str, Any]]:
    """``resolveOpenAiCompatError``: ``(status, {"message", "type"[, "code"]})``."""
    detail = outcome.error_detail or {}
    status = detail.get("httpStatus") if isinstance(detail.get("httpStatus"), int) else None
    kind = outcome.error_kind
    raw = (outcome.error or "").strip()
    if outcome.status == "timeout" or kind == "timeout":
        code = status if status is not None and 400 <= status < 500 else 504
        return code, {"message": "upstream provider timeout", "type": "api_error"}
    if kind == "rate_limit" or status == 429:
        return status or 429, {"message": raw or "rate limited", "type": "rate_limit_error"}
    if status in (401, 403) or detail.get("failoverReason") == "auth":
        return status or 401, {"message": raw or "request failed",
                               "type": "authentication_error"}
    if status == 402:
        return 402, {"message": raw or "request failed", "type": "insufficient_quota"}
    if kind == "context_length":
        return status or 400, {"message": raw or "request failed",
                               "type": "invalid_request_error"}
    if status is not None and status >= 500:
        return 502, {"message": "upstream provider error", "type": "api_error"}
    if status is not None and status == 404:
        return 404, {"message": raw or "request failed", "type": "invalid_request_error"}
    if status is not None and 400 <= status < 500:
        return status, {"message": raw or "request failed", "type": "invalid_request_error"}
    return 500, {"message": "internal error", "type": "api_error"}


# --------------------------------------------------------------------------- prompts

HISTORY_CONTEXT_MARKER: Final = "[Chat messages since your last reply - for context]"
CURRENT_MESSAGE_MARKER: Final = "[Current message - respond to this]"


@attrs.frozen
class ConversationEntry:
    role: str          # user | assistant | tool
    sender: str
    body: str


def render_tool_call(call_id: str, name: str, arguments: str) -> str:
    return f"tool_call id={call_id} name={name} arguments={arguments}"


def message_from_entries(entries: Sequence[ConversationEntry]) -> str:
    """``buildAgentMessageFromConversationEntries``: the current turn, history as context."""
    if not entries:
        return ""
    current = next((i for i in range(len(entries) - 1, -1, -1)
                    if entries[i].role in ("user", "tool")), len(entries) - 1)
    entry = entries[current]
    history = [f"{e.sender}: {e.body}" for e in entries[:current]]
    if not history and entry.role != "tool":
        return entry.body
    history_text = "\n".join(history)
    current_message = f"{entry.sender}: {entry.body}"
    if not history_text.strip():
        return current_message
    return "\n".join([HISTORY_CONTEXT_MARKER, history_text, "", CURRENT_MESSAGE_MARKER,
                      current_message])


def chat_usage(usage: Usage) -> dict[str, Any]:
    """``toOpenAiChatCompletionsUsage``."""
    prompt = max(0, usage.input + usage.cache_read)
    completion = max(0, usage.output)
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": max(prompt + completion, usage.total)}
    if usage.cache_read > 0:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cache_read}
    return out


def responses_usage(usage: Usage | None) -> dict[str, Any]:
    """``toOpenAiResponsesUsage``."""
    usage = usage or Usage()
    input_tokens = usage.input + usage.cache_read + usage.cache_write
    return {"input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": usage.cache_read,
                                     "cache_write_tokens": usage.cache_write},
            "output_tokens": usage.output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": max(input_tokens + usage.output, usage.total)}
