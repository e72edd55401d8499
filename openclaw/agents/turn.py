"""One run, from its turn on the session lane to its result: :class:`Turn`.

The steps, in order (each a method below):

1. :meth:`Turn.prepare` - the run timeout, the workspace, the bootstrap files read in the
   background;
2. :meth:`Turn.record_input` - the session ensured, the user message (or the caller's tool
   results) durable in the transcript: the run is *accepted*, ``lifecycle start``;
3. :meth:`Turn.loop` - the tool loop: offer tools under policy, call the model through the
   fallback chain (:meth:`Turn.call_model`, streaming ``assistant`` events), record each
   assistant message, run the requested tools (:meth:`Turn.run_tools`), until the model stops
   calling tools, calls the caller's own tools, or hits the step limit;
4. :meth:`Turn.conclude` - what a failure leaves in the transcript, ``lifecycle end`` or
   ``error``, the session row.

Errors become the result (:meth:`Turn.fail`): a run never raises to its caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from openclaw.agents.config import DEFAULT_MAX_STEPS, AgentSettings, AgentsView
from openclaw.agents.context import caller_answers, dangling_tool_calls, missing_results
from openclaw.agents.durable import WriterStopped
from openclaw.agents.handle import RunHandle
from openclaw.agents.model_fit import model_fit, no_content_error
from openclaw.agents.requests import STOP_TOOL_CALLS, AgentRequestError, RunRequest, RunResult
from openclaw.agents.session_access import RuntimeSessions
from openclaw.agents.session_keys import session_kind
from openclaw.agents.store import all_written
from openclaw.agents.usage import usage_wire
from openclaw.agents.workspace import (
    PromptInputs,
    build_system_prompt,
    ensure_workspace,
    load_context_files,
)
from openclaw.providers.registry import ModelRef, model_chain, parse_model_ref
from openclaw.providers.types import (
    ABORTED,
    ERROR,
    KIND_TIMEOUT,
    KIND_UNKNOWN,
    TOOL_USE,
    AssistantTurn,
    ModelRequest,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
    sampling_fields,
)

if TYPE_CHECKING:
    from openclaw.agents import tools as tools_mod
    from openclaw.agents.runtime import AgentRuntime
    from openclaw.agents.tools import ToolContext

log = Logger(namespace="agents")


@attrs.define
class ToolOffer:
    """The tools offered to the model in one run: the gateway's under policy and the
    caller's own (never run here)."""

    policy: tools_mod.ToolPolicy
    specs: list[ToolSpec]
    lines: list[tuple[str, str]]            # (name, one-line summary) for the system prompt
    client_names: set[str]


class Turn:
    """Executes one :class:`RunHandle` on its runtime (see the module docstring)."""

    def __init__(self, runtime: AgentRuntime, handle: RunHandle) -> None:
        self.runtime = runtime
        self.handle = handle
        self.request: RunRequest = handle.request
        self.view: AgentsView = runtime.view()
        agent = self.view.agent(handle.agent_id)
        assert agent is not None
        self.agent: AgentSettings = agent
        self.sessions = runtime.store.agent(handle.agent_id)
        self.result = RunResult(handle.run_id, "ok", handle.session_key, handle.agent_id)
        request = self.request
        self.timeout_s = request.timeout_s if request.timeout_s is not None \
            else self.view.timeout_s
        self.started = False
        self.partial: list[str] = []        # the answer streamed so far in this model call
        self.recording: Deferred[None] | None = None     # the input on its way to disk

    # -- the whole run --------------------------------------------------------------------

    async def run(self) -> None:
        handle = self.handle
        try:
            self.prepare()
            await self.prepare_workspace()
            entry, history = await self.record_input()
            await self.loop(entry, history)
        except (CancelledError, ProviderError, AgentRequestError) as e:
            self.fail(e)
        except Exception as e:
            self.crashed(e)
        finally:
            handle._current_call = None
        if self.recording is not None:
            # it failed before its first model call: still accepted once the input is durable
            try:
                await self.accept()
            except CancelledError:
                pass        # aborted before its first model call: fail() has said so
            except Exception as e:
                self.crashed(e)
        await self.conclude()

    def crashed(self, error: Exception) -> None:
        result = self.result
        log.failure("agent run {run} failed", Failure(error), run=self.handle.run_id)
        result.status = "error"
        result.error = f"{type(error).__name__}: {error}"
        result.error_kind = KIND_UNKNOWN

    # -- 1. before the input is recorded --------------------------------------------------

    def prepare(self) -> None:
        handle = self.handle
        if self.timeout_s and self.timeout_s > 0:
            handle._timer = self.runtime.reactor.callLater(self.timeout_s, handle.cancel,
                                                           "timeout")

    async def prepare_workspace(self) -> None:
        runtime, view, workspace = self.runtime, self.view, self.agent.workspace
        if workspace not in runtime._workspaces_ready:
            await self.handle.guard(runtime.run_blocking(ensure_workspace, workspace,
                                                         skip_bootstrap=view.skip_bootstrap))
            runtime._workspaces_ready.add(workspace)
        # read the bootstrap files while the session and the user message are written
        total_chars = self.bootstrap_budget()
        files = runtime.run_blocking(
            load_context_files, workspace, max_chars=min(view.bootstrap_max_chars,
                                                         total_chars),
            total_max_chars=total_chars)
        files.addErrback(lambda f: f)   # kept as the result: raised where it is awaited
        self.handle.context_files = files

    def bootstrap_budget(self) -> int:
        """``bootstrapTotalMaxChars``, capped for small-context models (about a quarter of the
        context window: the built-in 4k-token local model gets ~4000 characters)."""
        view, router = self.view, self.runtime.router
        total = view.bootstrap_total_max_chars
        if router is None:
            return total
        try:
            default = router.catalog.default_ref()
            primary = self.request.model or self.agent.model_primary or view.defaults_model
            ref = parse_model_ref(primary, default.provider) if primary else default
            info = router.catalog.get(ref.provider).model(ref.model)
        except (ProviderError, ValueError):
            return total
        if info is not None and info.context_window:
            return max(1000, min(total, int(info.context_window)))
        return total

    # -- 2. the input, durable ------------------------------------------------------------

    async def record_input(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The session entry and the model context with this run's input, which is on its way
        to disk (:attr:`recording`): the first model request is prepared meanwhile, and
        :meth:`accept` waits for it before anything is sent."""
        handle, request, result, runtime = self.handle, self.request, self.result, \
            self.runtime
        sessions, key = self.sessions, handle.session_key
        await sessions.load()
        # A new session's header and index entry, then the input: queued in this reactor turn,
        # they go to disk in one writer batch, and the run waits for all of them at once.
        entry, created = sessions.open_session(key, cwd=self.agent.workspace,
                                               fields=self.session_fields())
        handle.session_id = result.session_id = entry.get("sessionId")
        if created is not None:
            runtime._history[(handle.agent_id, key)] = []   # new: nothing to read back
        history = await runtime._load_history(handle.agent_id, key)
        parent = await sessions.leaf_id(key)
        dangling = dangling_tool_calls(history)
        answers = caller_answers(dangling, request.tool_results)
        if answers is not None:
            # the caller answered its tool calls: the model continues from the results
            now = runtime.now_ms()
            inputs: list[dict[str, Any]] = [
                {"role": "toolResult", "toolCallId": call.get("id"),
                 "toolName": call.get("name"),
                 "content": [{"type": "text", "text": answer.content}],
                 "isError": answer.is_error, "timestamp": now}
                for call, answer in zip(dangling, answers, strict=True)]
            records: list[dict[str, Any]] = [{"type": "message", "message": message}
                                             for message in inputs]
        else:
            if dangling:
                # as context_messages() will show them when the transcript is read again
                history.extend(missing_results(dangling))
            inputs = [{"role": "user", "content": request.message,
                       "timestamp": runtime.now_ms(),
                       # clients match their sent message by its run id
                       "idempotencyKey": f"{request.run_id}:user"}]
            records = [{"type": "message", "id": handle.message_id, "message": inputs[0]}]
        _, recorded = sessions.append_after(key, parent, records)
        if created is not None:
            recorded = all_written([created, recorded])
        self.recording = recorded
        history.extend(inputs)      # dropped from the cache if the write fails (accept)
        return entry, history

    async def accept(self) -> None:
        """Wait until the input is durable: the run is accepted (its waiters first: a
        ``chat.send`` ack goes out before any event of the run), ``lifecycle start``. Raises
        the write's error (the run is then not accepted)."""
        recording, self.recording = self.recording, None
        if recording is None:
            return
        handle, result, runtime = self.handle, self.result, self.runtime
        try:
            await recording     # not cancellable: once written, the input is the run's
        except BaseException:
            runtime.forget_history(handle.agent_id, handle.session_key)  # unknown on disk
            raise
        self.started = True
        handle.started_at = result.started_at = runtime.now_ms()
        handle._settle_acceptance(None)
        handle.emit("lifecycle", {"phase": "start", "startedAt": result.started_at})
        if handle.abort_reason is not None:
            raise CancelledError()

    def session_fields(self) -> dict[str, Any]:
        """What a new session's row starts with."""
        request = self.request
        fields: dict[str, Any] = {"chatType": "group" if session_kind(
            self.handle.session_key) == "group" else "direct"}
        if request.origin:
            fields["origin"] = dict(request.origin)
        if request.label:
            fields["label"] = request.label
        return fields

    # -- 3. the tool loop -----------------------------------------------------------------

    async def loop(self, entry: dict[str, Any], history: list[dict[str, Any]]) -> None:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        handle, request, result, view, agent = self.handle, self.request, self.result, \
            self.view, self.agent
        offer = self.offer_tools()
        chain = self.model_chain(entry)
        fit = model_fit(self.runtime.router, chain[0])
        if not fit.supports_tools:      # offered tools, a small model answers with nothing
            offer = attrs.evolve(offer, specs=[], lines=[], client_names=set())
        context_files = await self.context_files()
        handle.tool_context = self.tool_context(tools_mod)
        sampling = sampling_fields(request.stream_params)
        max_steps = request.max_steps or DEFAULT_MAX_STEPS
        last_model: str | None = (f"{entry.get('modelProvider')}/{entry.get('model')}"
                                  if entry.get("model") else None)
        total = Usage()
        for step in range(1, max_steps + 1):
            result.steps = step
            system = build_system_prompt(PromptInputs(
                agent_id=handle.agent_id, workspace=agent.workspace, model_ref=str(chain[0]),
                tools=offer.lines, context_files=context_files, channel=request.channel,
                user_timezone=view.user_timezone, extra=request.extra_system_prompt,
                agent_name=agent.name, compact=fit.compact_prompt))
            turn, ref, api = await self.call_model(chain, ModelRequest(
                model=chain[0].model, system=system, messages=list(history),
                tools=offer.specs, **sampling))
            if not turn.text.strip() and not turn.tool_calls:
                raise no_content_error(ref.provider, ref.model)
            total = total + turn.usage
            last_model = await self.record_answer(turn, ref, api, last_model, history)
            if not turn.tool_calls or turn.stop_reason != TOOL_USE:
                break
            pending = tuple(call for call in turn.tool_calls if call.name in offer.client_names)
            if step == max_steps and not pending:
                result.stop_reason = "max_steps"
                log.warn("run {run}: tool loop stopped at the step limit ({n} model calls)",
                         run=handle.run_id, n=max_steps)
                break
            await self.run_tools(turn.tool_calls, offer, history)
            if pending:
                # the model called the caller's tools: hand them back, the run ends here
                result.pending_tool_calls = pending
                result.stop_reason = STOP_TOOL_CALLS
                break
        result.usage = total
        self.count_tokens(total)

    def offer_tools(self) -> ToolOffer:
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        request = self.request
        policy = self.runtime._policy(self.view, self.agent, self.handle.agent_id,
                                      self.handle.session_key, request)
        available = tools_mod.available_tools(policy)
        specs = [tool.spec() for tool in available]
        lines = [(tool.name, tool.summary) for tool in available]
        client_tools = offered_client_tools(request, tools_mod)
        specs.extend(client_tools)
        lines.extend((tool.name, _summary(tool.description)) for tool in client_tools)
        return ToolOffer(policy, specs, lines, {tool.name for tool in client_tools})

    def model_chain(self, entry: Mapping[str, Any]) -> list[ModelRef]:
        """The model to call and its fallbacks (a session's or the request's override has
        none)."""
        router, agent, view = self.runtime.router, self.agent, self.view
        default = router.catalog.default_ref() if router is not None else \
            ModelRef("local", "smollm2")
        override = self.request.model or entry.get("modelOverride")
        if override and "/" not in str(override) and entry.get("providerOverride"):
            override = f"{entry['providerOverride']}/{override}"
        primary = override or agent.model_primary or view.defaults_model
        return model_chain(primary, () if override else agent.model_fallbacks, default)

    async def context_files(self) -> Any:
        """The workspace bootstrap files read in :meth:`prepare_workspace`."""
        handle, view = self.handle, self.view
        pending = handle.context_files
        handle.context_files = None
        if pending is None:
            pending = self.runtime.run_blocking(
                load_context_files, self.agent.workspace, max_chars=view.bootstrap_max_chars,
                total_max_chars=view.bootstrap_total_max_chars)
        loaded = await handle.guard(pending)
        if isinstance(loaded, Failure):
            loaded.raiseException()
        return loaded

    def tool_context(self, tools_mod: Any) -> ToolContext:
        runtime, handle = self.runtime, self.handle
        processes = runtime._processes.setdefault(handle.agent_id, tools_mod.ProcessRegistry())
        context: ToolContext = tools_mod.ToolContext(
            workspace=self.agent.workspace, agent_id=handle.agent_id,
            session_key=handle.session_key, reactor=runtime.reactor,
            run_blocking=runtime.run_blocking, sessions=RuntimeSessions(runtime),
            processes=processes, cancelled=lambda: handle.abort_reason is not None,
            approvals=runtime.exec_approvals, run_id=handle.run_id)
        return context

    async def record_answer(self, turn: AssistantTurn, ref: ModelRef, api: str,
                            last_model: str | None, history: list[dict[str, Any]]
                            ) -> str:
        """The assistant message (after a ``model_change`` when the model changed), durable;
        returns the model now in use."""
        result = self.result
        result.model, result.provider = ref.model, ref.provider
        records: list[dict[str, Any]] = []
        if last_model != str(ref):
            records.append({"type": "model_change", "provider": ref.provider,
                            "modelId": ref.model})
        content: list[dict[str, Any]] = []
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        content.extend(call.block() for call in turn.tool_calls)
        assistant = {"role": "assistant", "content": content, "api": api,
                     "provider": ref.provider, "model": ref.model,
                     "usage": usage_wire(self.runtime.get_config().config, ref.provider,
                                         ref.model, turn.usage),
                     "stopReason": turn.stop_reason,
                     "timestamp": self.runtime.now_ms()}
        records.append({"type": "message", "message": assistant})
        await self.append(records)
        history.append(assistant)
        self.partial.clear()
        result.text = turn.text
        result.stop_reason = turn.stop_reason
        return str(ref)

    async def run_tools(self, calls: Sequence[ToolCall], offer: ToolOffer,
                        history: list[dict[str, Any]]) -> None:
        """Each gateway tool the model called, under policy, its result durable."""
        from openclaw.agents import tools as tools_mod  # loaded with the first run

        handle = self.handle
        context = handle.tool_context
        assert context is not None
        for call in calls:
            if call.name in offer.client_names:
                continue        # the caller runs it: left unanswered in the transcript
            handle.emit("tool", {"phase": "start", "name": call.name,
                                 "toolCallId": call.id, "args": dict(call.arguments)})
            output = await handle.guard(Deferred.fromCoroutine(
                tools_mod.run_tool(context, offer.policy, call)))
            tool_result = {"role": "toolResult", "toolCallId": call.id,
                           "toolName": call.name, "content": output.content(),
                           "isError": output.is_error, "timestamp": self.runtime.now_ms()}
            if output.details is not None:
                tool_result["details"] = output.details
            await self.append([{"type": "message", "message": tool_result}])
            history.append(tool_result)
            handle.emit("tool", {"phase": "result", "name": call.name,
                                 "toolCallId": call.id, "meta": _tool_meta(call),
                                 "isError": output.is_error,
                                 "result": {"content": output.content(),
                                            "details": output.details}})
            if handle.abort_reason is not None:
                raise CancelledError()

    def count_tokens(self, total: Usage) -> None:
        handle, result = self.handle, self.result
        current = self.sessions.get(handle.session_key) or {}
        self.sessions.touch(
            handle.session_key,
            inputTokens=int(current.get("inputTokens") or 0) + total.input,
            outputTokens=int(current.get("outputTokens") or 0) + total.output,
            totalTokens=int(current.get("totalTokens") or 0) + total.total,
            contextTokens=total.input + total.cache_read,
            modelProvider=result.provider, model=result.model)

    async def call_model(self, chain: Sequence[ModelRef], request: ModelRequest
                         ) -> tuple[AssistantTurn, ModelRef, str]:
        """Stream one model call, falling back through ``chain`` on provider failures that
        happen before any output."""
        handle, router, partial = self.handle, self.runtime.router, self.partial
        last: ProviderError | None = None
        for index, ref in enumerate(chain):
            final = index == len(chain) - 1
            try:
                opening = Deferred.fromCoroutine(router.open(ref, attrs.evolve(
                    request, model=ref.model)))
                if self.recording is not None and not opening.called:
                    await self.accept()     # a local model starting must not hold the ack
                opened = await handle.guard(opening)
            except ProviderError as e:
                last = e
                if final or (not e.failover and "unknown model provider" not in str(e)):
                    raise
                log.warn("model {ref} unavailable ({error}); falling back to {next}", ref=ref,
                         error=str(e), next=chain[index + 1])
                continue
            handle._current_call = opened.call
            streamed = False
            try:
                if self.recording is not None:
                    opened.call.prepare()       # the request, built while the input is written
                    await self.accept()
                turn: AssistantTurn | None = None
                text = "".join(partial)     # the cumulative text, grown (not re-joined)
                async for event in opened.call:
                    if isinstance(event, TextDelta):
                        delta = event.text
                        partial.append(delta)
                        text += delta
                        handle.emit_text(text, delta, streamed)
                        streamed = True
                    elif isinstance(event, AssistantTurn):
                        turn = event
                if turn is None:
                    raise ProviderError(ref.provider, f"{ref.provider}: the stream ended "
                                        "without a result", model=ref.model)
                return turn, ref, opened.spec.api
            except CancelledError:
                raise
            except ProviderError as e:
                last = e
                if streamed or final or not e.failover or handle.abort_reason is not None:
                    raise
                log.warn("model {ref} failed ({error}); falling back to {next}", ref=ref,
                         error=str(e), next=chain[index + 1])
            finally:
                handle._current_call = None
                opened.release()
            if handle.abort_reason is not None:
                raise CancelledError()
        assert last is not None
        raise last

    # -- 4. the end -----------------------------------------------------------------------

    def fail(self, error: BaseException) -> None:
        """The result of a run that an abort, a timeout, the provider or the request
        stopped."""
        handle, result = self.handle, self.result
        aborted = handle.abort_reason
        if isinstance(error, AgentRequestError):
            result.status, result.error, result.error_kind = "error", str(error), KIND_UNKNOWN
            return
        result.text = "".join(self.partial)
        if isinstance(error, CancelledError) or aborted is not None:
            reason = aborted or "rpc"
            result.stop_reason = reason
            if reason == "timeout":
                result.status = "timeout"
                result.error = f"agent run timed out after {self.timeout_s:g}s"
                result.error_kind = KIND_TIMEOUT
            else:
                result.status = "aborted"
            return
        assert isinstance(error, ProviderError)
        log.warn("agent run {run} failed: {error}", run=handle.run_id, error=str(error))
        result.status = "error"
        result.error = str(error)
        result.error_kind = error.kind
        result.error_detail = error.detail()
        result.stop_reason = ERROR

    async def conclude(self) -> None:
        runtime, handle, result = self.runtime, self.handle, self.result
        result.ended_at = runtime.now_ms()
        if result.started_at is None:
            result.started_at = handle.accepted_at
        if self.started and result.status != "ok":
            # keep what the model said before the failure (pi-ai stores it with the reason)
            await self.record_failure()
            runtime.forget_history(handle.agent_id, handle.session_key)
        if self.started:
            phase = {"phase": "end", "startedAt": result.started_at, "endedAt": result.ended_at}
            if result.status == "aborted":
                handle.emit("lifecycle", {**phase, "aborted": True,
                                          "stopReason": result.stop_reason})
            elif result.status in ("error", "timeout"):
                handle.emit("lifecycle", {"phase": "error", "startedAt": result.started_at,
                                          "endedAt": result.ended_at, "error": result.error})
            else:
                handle.emit("lifecycle", phase)
        self.sessions.touch(handle.session_key, lastInteractionAt=result.ended_at,
                            lastRunId=handle.run_id, status=_row_status(result.status),
                            endedAt=result.ended_at, startedAt=result.started_at,
                            runtimeMs=result.duration_ms,
                            abortedLastRun=result.status == "aborted")

    async def record_failure(self) -> None:
        result = self.result
        message: dict[str, Any] = {
            "role": "assistant",
            "content": [{"type": "text", "text": result.text}] if result.text else [],
            "api": None, "provider": result.provider, "model": result.model,
            "usage": Usage().to_wire(),
            "stopReason": ABORTED if result.status == "aborted" else ERROR,
            "timestamp": self.runtime.now_ms(),
        }
        if result.error:
            message["errorMessage"] = result.error
        try:
            await self.append([{"type": "message", "message": message}])
        except (OSError, WriterStopped):
            log.failure("recording the end of run {run} failed", run=self.handle.run_id)

    async def append(self, records: list[dict[str, Any]]) -> None:
        await self.sessions.append(self.handle.session_key, records)


def offered_client_tools(request: RunRequest, tools_mod: Any) -> list[ToolSpec]:
    """The caller's tools, narrowed by the run's own allow list (as upstream)."""
    tools = list(request.client_tools)
    if tools and request.tools_allow:
        layer = tools_mod.PolicyLayer("run", tools_mod.expand(request.tools_allow))
        tools = [t for t in tools
                 if layer.verdict(tools_mod.normalize_tool_name(t.name)) is None]
    return tools


def _summary(description: str) -> str:
    line = description.strip().split("\n", 1)[0].strip()
    return line[:197] + "..." if len(line) > 200 else line or "Provided by the caller."


def _row_status(status: str) -> str:
    return {"ok": "done", "error": "failed", "aborted": "killed", "timeout": "timeout"}.get(
        status, status)


def _tool_meta(call: ToolCall) -> str:
    args = call.arguments
    for name in ("path", "command", "sessionKey", "action"):
        value = args.get(name) if isinstance(args, Mapping) else None
        if isinstance(value, str) and value:
            return value[:200]
    return ""


__all__ = ["ToolOffer", "Turn", "offered_client_tools"]
