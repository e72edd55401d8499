"""The chat surface as the Control UI drives it.

On top of the chat family (``chat.send``, ``chat.history``; ``methods/chat.py``):

* ``chat.startup``: the first history page of a chat pane (the UI keeps typed messages queued
  until it answered): ``chat.history``'s result plus the ``sessionInfo`` row, the model
  ``defaults``, ``pendingInputs`` and, while a run streams, ``inFlightRun``. The ``shortId``
  form resolves nothing here (no short session ids): ``{resolution: {ok: false}}``.
* ``chat.history`` answers the same projection (the UI reads ``sessionInfo``/``defaults``
  from every page). No ``deltaCursor`` is ever returned, so the UI never asks for deltas.
* ``chat.metadata``: the models the composer offers and the slash commands this gateway
  interprets (``/stop``).
* ``chat.send`` as upstream validates it: the UI's ``__controlUiReconnectResume`` flag is
  dropped for operator-UI clients before upstream's closed schema applies, the answer carries
  ``serverTiming`` for them, and ``chat.send_timing`` events (``dispatch-started``,
  ``model-selected``, ``agent-run-started``, ``first-assistant-event``, ``dispatch-completed``,
  ``post-dispatch-completed``) go to the sending connection only.
* ``models.snapshot``: sent once after ``hello-ok`` to a Control UI that asked for it
  (``modelCatalog`` param and the ``model-catalog-snapshot`` cap), without ``seq``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from openclaw.agents.runtime import AgentRequestError, RunHandle, RunResult
from openclaw.auth.scopes import READ
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import Handler, MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_params, invalid_request
from openclaw.gateway.protocol.schema import validation_error_text
from openclaw.gateway.protocol.session import ClientSession, is_operator_ui, is_webchat

if TYPE_CHECKING:
    from openclaw.gateway.methods.agent import AgentGateway

RECONNECT_RESUME_FLAG: Final = "__controlUiReconnectResume"
MODEL_CATALOG_CAP: Final = "model-catalog-snapshot"
CONTROL_UI_CLIENT: Final = "openclaw-control-ui"
STOP_COMMAND: Final = {
    "name": "stop", "nativeName": "stop", "description": "Stop the current run.",
    "category": "session", "scope": "both", "source": "native", "acceptsArgs": False,
    "textAliases": ["/stop", "/abort"],
}


def is_ui_client(session: ClientSession) -> bool:
    """Operator UIs (Control UI, WebChat): they get timings and may send the resume flag."""
    return is_operator_ui(session.client) or is_webchat(session.client)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _trim_to_bytes(messages: list[Any], max_bytes: int | None) -> tuple[list[Any], bool]:
    """Drop the oldest messages until the page fits ``maxBytes`` (always keep the last)."""
    if not max_bytes:
        return messages, False
    sizes = [len(json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode())
             for m in messages]
    total = sum(sizes)
    start = 0
    while total > max_bytes and start < len(messages) - 1:
        total -= sizes[start]
        start += 1
    return messages[start:], start > 0


@attrs.define
class _Timed:
    """One ``chat.send`` of a UI client whose run is being timed."""

    conn_id: str
    session_key: str
    agent_id: str
    received: float
    acked: float | None = None
    dispatched: float | None = None
    first_text: bool = False
    # Run phases reached before the ``res`` went out, emitted right after it.
    early: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)


class SendTiming:
    """Runtime observer turning a timed run's progress into ``chat.send_timing`` events."""

    def __init__(self, gateway: AgentGateway) -> None:
        self.gateway = gateway
        self.clock = gateway.clock
        self.runs: dict[str, _Timed] = {}
        gateway.runtime.observers.append(self)

    def emit(self, run_id: str, phase: str, **extra: Any) -> None:
        timed = self.runs.get(run_id)
        if timed is None:
            return
        if timed.acked is None and phase != "dispatch-started":
            timed.early.append((phase, extra))
            return
        now = self.clock.seconds()
        payload: dict[str, Any] = {
            "phase": phase, "runId": run_id, "sessionKey": timed.session_key,
            "agentId": timed.agent_id,
            "ackToPhaseMs": _ms(now - (timed.acked if timed.acked is not None else now)),
            "receivedToPhaseMs": _ms(now - timed.received)}
        if timed.dispatched is not None and phase != "dispatch-started":
            payload["dispatchStartedToPhaseMs"] = _ms(now - timed.dispatched)
        payload.update(extra)
        self.gateway.context.events.broadcast("chat.send_timing", payload,
                                              targets=[timed.conn_id], drop_if_slow=True)

    def acknowledged(self, run_id: str) -> None:
        """The ``res`` went out: the run is dispatched."""
        timed = self.runs.get(run_id)
        if timed is None:
            return
        timed.acked = timed.dispatched = self.clock.seconds()
        self.emit(run_id, "dispatch-started")
        early, timed.early = timed.early, []
        for phase, extra in early:
            self.emit(run_id, phase, **extra)
        if run_id not in self.gateway.runtime.active:
            self.runs.pop(run_id, None)   # the run ended before the answer went out

    def run_event(self, handle: RunHandle, event: dict[str, Any]) -> None:
        timed = self.runs.get(handle.run_id)
        if timed is None:
            return
        stream = event.get("stream")
        if stream == "lifecycle" and event["data"].get("phase") == "start":
            entry = self.gateway.runtime.store.agent(handle.agent_id).get(handle.session_key)
            provider, model, _ = self.gateway.rows.model_of(handle.agent_id, entry)
            self.emit(handle.run_id, "model-selected", provider=provider, model=model)
            self.emit(handle.run_id, "agent-run-started")
        elif stream == "assistant" and not timed.first_text:
            timed.first_text = True
            self.emit(handle.run_id, "first-assistant-event")

    def run_finished(self, handle: RunHandle, result: RunResult) -> None:
        timed = self.runs.get(handle.run_id)
        if timed is None:
            return
        started = self.clock.seconds()
        self.emit(handle.run_id, "dispatch-completed")
        self.emit(handle.run_id, "post-dispatch-completed",
                  postDispatchMs=_ms(self.clock.seconds() - started))
        if timed.acked is not None:
            del self.runs[handle.run_id]


def make_chat_ui_methods(gateway: AgentGateway, chat_specs: Sequence[MethodSpec],
                         models_list: Handler) -> tuple[MethodSpec, ...]:
    """``chat.startup``, ``chat.metadata`` and the UI-aware ``chat.history`` / ``chat.send``
    built around the chat family's own handlers (``chat_specs``)."""
    runtime = gateway.runtime
    rows = gateway.rows
    clock = gateway.clock
    by_name = {spec.name: spec for spec in chat_specs}
    history_handler = by_name["chat.history"].handler
    send_handler = by_name["chat.send"].handler
    timing = SendTiming(gateway)
    # sent to the sender only; upstream does not list it in features.events either
    gateway.context.events.register_event("chat.send_timing", (READ,), advertise=False)

    async def projection(call: MethodCall, params: Mapping[str, Any]) -> dict[str, Any]:
        """``chat.history``'s page completed with the session row and the defaults."""
        try:
            agent_id, key = runtime.resolve(params.get("agentId"), params.get("sessionKey"))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None
        history_params = {name: params[name] for name in ("sessionKey", "agentId", "limit",
                                                          "maxChars") if name in params}
        page = history_handler(attrs.evolve(call, params=history_params))
        result: dict[str, Any] = dict(await page if not isinstance(page, dict) else page)
        messages, trimmed = _trim_to_bytes(list(result.get("messages") or []),
                                           params.get("maxBytes"))
        sessions = runtime.store.agent(agent_id)
        entry = sessions.get(key)
        result.update({
            "sessionKey": key,
            "messages": messages,
            "pendingInputs": {"items": [], "total": 0},
            "hasMore": trimmed,
            "defaults": rows.defaults(agent_id),
            "sessionInfo": rows.row(agent_id, key, entry),
        })
        active = [h for h in runtime.runs_in(key) if h.state == "running"]
        if active:
            result["inFlightRun"] = {"runId": active[0].run_id,
                                     "startedAt": active[0].started_at or active[0].accepted_at,
                                     "text": ""}
        if params.get("inputRunIds"):
            result["inputReceipts"] = []
            result["inputConsumptions"] = []
        return result

    async def chat_history(call: MethodCall) -> dict[str, Any]:
        return await projection(call, call.param_map)

    async def chat_startup(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        if "shortId" in params:
            # No short session ids on this gateway: nothing to resolve.
            return {"resolution": {"ok": False, "candidates": []}}
        return await projection(call, params)

    async def chat_metadata(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        if params.get("sessionKey") or params.get("agentId"):
            try:
                runtime.resolve(params.get("agentId"), params.get("sessionKey"))
            except AgentRequestError as e:
                raise invalid_request(str(e)) from None
        listed = models_list(attrs.evolve(call, params={}))
        catalog: dict[str, Any] = dict(await listed if not isinstance(listed, dict)
                                       else listed)
        return {"models": catalog.get("models", []), "commands": [dict(STOP_COMMAND)],
                "accountSelection": catalog.get("accountSelection"),
                "runtimeSelectionLocked": False, "swarmEnabled": False}

    send_schema = params_schema("chat.send")

    async def chat_send(call: MethodCall) -> Any:
        params = dict(call.param_map) if isinstance(call.params, dict) else call.params
        ui = is_ui_client(call.session)
        if ui and isinstance(params, dict):
            params.pop(RECONNECT_RESUME_FLAG, None)
        errors = validation_error_text(send_schema, params)
        if errors is not None:
            raise invalid_params("chat.send", errors)
        received = clock.seconds()
        run_id = str(params["idempotencyKey"])
        if ui:
            try:
                agent_id, key = runtime.resolve(params.get("agentId"), params.get("sessionKey"))
            except AgentRequestError:
                agent_id, key = "", ""
            if key and run_id not in timing.runs and runtime.get(run_id) is None:
                timing.runs[run_id] = _Timed(call.session.conn_id, key, agent_id, received)
        try:
            answer = send_handler(attrs.evolve(call, params=params))
            result = await answer if not isinstance(answer, dict) else answer
        except BaseException:
            timing.runs.pop(run_id, None)
            raise
        if ui and isinstance(result, dict) and result.get("status") == "started":
            result = {**result, "serverTiming": {
                "loadSessionMs": 0.0, "receivedToAckMs": _ms(clock.seconds() - received)}}
            clock.callLater(0, timing.acknowledged, run_id)
        elif run_id in timing.runs and runtime.get(run_id) is None:
            timing.runs.pop(run_id, None)
        return result

    return (
        MethodSpec("chat.send", chat_send, by_name["chat.send"].scope),
        MethodSpec("chat.history", chat_history, by_name["chat.history"].scope,
                   params_schema("chat.history")),
        MethodSpec("chat.startup", chat_startup, READ, params_schema("chat.startup")),
        MethodSpec("chat.metadata", chat_metadata, READ, params_schema("chat.metadata")),
    )


def models_snapshot_hook(gateway: AgentGateway, models_list: Handler
                         ) -> Callable[[ClientSession, Mapping[str, Any]], None]:
    """The ``hello-ok`` follow-up that sends ``models.snapshot`` to a Control UI asking for it."""
    gateway.context.events.register_event("models.snapshot", (READ,))

    def hook(session: ClientSession, params: Mapping[str, Any]) -> None:
        target = params.get("modelCatalog")
        if session.client_id != CONTROL_UI_CLIENT or MODEL_CATALOG_CAP not in session.caps \
                or not isinstance(target, dict):
            return
        scope: dict[str, Any] = {}
        for name in ("agentId", "sessionKey"):
            if isinstance(target.get(name), str):
                scope[name] = target[name]
        call = MethodCall("models.list", "catalog:" + session.conn_id, {**scope,
                          "view": "configured"}, session, gateway.context)
        catalog = models_list(call)
        if not isinstance(catalog, dict):
            return
        gateway.context.events.broadcast("models.snapshot", {
            "target": dict(target), "scope": scope, "catalog": catalog},
            targets=[session.conn_id])

    return hook
