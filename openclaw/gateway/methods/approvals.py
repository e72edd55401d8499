"""Exec approvals over RPC: the pending requests, their reviewers, and the policy document.

``exec.approval.request`` (an operator client) and the ``exec`` tool (through the approval
seam, ``openclaw.agents.approvals.ApprovalRequester``) create a pending approval
``{id, request, createdAtMs, expiresAtMs}``. It is shown, as ``exec.approval.requested``,
to every *other* connection that can review: an operator with ``operator.admin`` or
``operator.approvals`` that is an approval client (the Control UI, a native app, or a client
that declared the ``approvals`` / ``exec-approvals`` cap) and may see the request (admins see
all; others the requests their own device or connection made, and the tool's). With no
reviewer it expires at once (decision ``null``). A reviewer lists (``exec.approval.list``),
inspects (``exec.approval.get``) and decides (``exec.approval.resolve`` with
``allow-once`` | ``allow-always`` | ``deny``, by id or unique prefix); the same audience gets
``exec.approval.resolved {id, decision, resolvedBy, ts, request}``; the request (or
``exec.approval.waitDecision``) answers ``{id, decision, createdAtMs, expiresAtMs}``. After
``timeoutMs`` (default 30 minutes) it expires with decision ``null``. ``twoPhase`` answers
``{status: "accepted", id, deliveryRoute, ...}`` first, then the decision.

``exec.approvals.get`` / ``.set`` read and replace the policy document (compare-and-set on its
hash). ``exec.approval.grants.list`` and ``approval.history`` answer empty: no standing
grants for automations, and resolved approvals are not kept as history.

Pending approvals live in memory: a restart cancels them (the tool's run is aborted by the
stop anyway), as upstream's ``gateway-restart`` terminal reason.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall

from openclaw.agents.approvals import (
    DECISIONS,
    DEFAULT_APPROVAL_TIMEOUT_MS,
    ApprovalsChanged,
    ApprovalsStore,
    ExecApprovals,
)
from openclaw.auth.scopes import ADMIN, APPROVALS
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request
from openclaw.gateway.protocol.session import ClientSession

REQUESTED: Final = "exec.approval.requested"
RESOLVED: Final = "exec.approval.resolved"
APPROVAL_CLIENT_IDS: Final = frozenset({"openclaw-control-ui", "openclaw-macos", "openclaw-ios",
                                        "openclaw-android"})
APPROVAL_CAPS: Final = frozenset({"approvals", "exec-approvals"})
KEEP_RESOLVED: Final = 200
NOT_FOUND_DETAILS: Final = {
    "reason": "APPROVAL_NOT_FOUND",
    "remediation": "Re-request the action; pending approvals are cleared after expiry or "
                   "restart."}
_REQUEST_TEMPLATE: Final = ("command", "commandPreview", "commandArgv", "systemRunBinding",
                            "systemRunPlan", "cwd", "nodeId", "host", "security", "ask",
                            "warningText", "scope", "commandAnalysis", "allowedDecisions",
                            "agentId", "resolvedPath", "sessionKey", "sessionId", "runId",
                            "toolCallId", "turnSourceChannel", "turnSourceTo",
                            "turnSourceAccountId", "turnSourceThreadId",
                            "cronExecutionSource", "cronOperationBinding")


def allowed_decisions(ask: Any) -> list[str]:
    return ["allow-once", "deny"] if ask == "always" else list(DECISIONS)


@attrs.define(eq=False)
class Approval:
    id: str
    request: dict[str, Any]
    created_at_ms: int
    expires_at_ms: int
    requested_by_conn: str | None = None
    requested_by_device: str | None = None
    decision: str | None = None
    resolved_at_ms: int | None = None
    terminal_reason: str | None = None
    waiters: list[Deferred[str | None]] = attrs.Factory(list)
    timer: IDelayedCall | None = None

    @property
    def pending(self) -> bool:
        return self.resolved_at_ms is None

    def entry(self) -> dict[str, Any]:
        return {"id": self.id, "request": self.request, "createdAtMs": self.created_at_ms,
                "expiresAtMs": self.expires_at_ms}

    def answer(self) -> dict[str, Any]:
        out = {"id": self.id, "decision": self.decision, "createdAtMs": self.created_at_ms,
               "expiresAtMs": self.expires_at_ms}
        if self.terminal_reason is not None and self.decision is None:
            out["terminalReason"] = self.terminal_reason
        return out


def visible(approval: Approval, session: ClientSession | None) -> bool:
    """Upstream's ``isApprovalRecordVisibleToClient`` for one operator identity."""
    if session is None or ADMIN in session.scopes:
        return True
    if approval.requested_by_device:
        return approval.requested_by_device == session.device_id
    if approval.requested_by_conn:
        return approval.requested_by_conn == session.conn_id
    return True


def reviews(session: ClientSession) -> bool:
    """Whether a connection is an exec approval client (upstream's ``canDeliverApprovals``)."""
    if ADMIN not in session.scopes and APPROVALS not in session.scopes:
        return False
    return session.client_id in APPROVAL_CLIENT_IDS or bool(APPROVAL_CAPS & set(session.caps))


class ExecApprovalManager:
    """Pending and recently decided approvals, their timers and their audience."""

    def __init__(self, context: Any, clock: Any) -> None:
        self.context = context
        self.clock = clock
        self.approvals: OrderedDict[str, Approval] = OrderedDict()

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    def audience(self, approval: Approval, exclude_conn: str | None = None) -> list[str]:
        out = []
        for recipient in self.context.events.recipients():
            session = getattr(recipient, "session", None)
            if session is None or recipient.conn_id == exclude_conn:
                continue
            if reviews(session) and visible(approval, session):
                out.append(recipient.conn_id)
        return out

    def create(self, request: dict[str, Any], timeout_ms: int, *, approval_id: str | None = None,
               requester: ClientSession | None = None) -> Approval:
        now = self.now_ms()
        approval = Approval(approval_id or str(uuid.uuid4()), request, now, now + timeout_ms,
                            requester.conn_id if requester is not None else None,
                            requester.device_id if requester is not None else None)
        self.approvals[approval.id] = approval
        approval.timer = self.clock.callLater(max(0, timeout_ms) / 1000.0, self.settle,
                                              approval, None, "timeout")
        return approval

    def publish(self, approval: Approval, exclude_conn: str | None = None) -> int:
        """Show a new approval to its reviewers; expire it at once when there are none."""
        targets = self.audience(approval, exclude_conn)
        if targets:
            self.context.events.broadcast(REQUESTED, {"approvalKind": "exec", **approval.entry()},
                                          targets=targets, drop_if_slow=True)
        else:
            self.settle(approval, None, "no-approval-route")
        return len(targets)

    def settle(self, approval: Approval, decision: str | None, reason: str) -> None:
        if not approval.pending:
            return
        approval.decision = decision
        approval.resolved_at_ms = self.now_ms()
        approval.terminal_reason = reason
        timer, approval.timer = approval.timer, None
        if timer is not None and timer.active():
            timer.cancel()
        waiters, approval.waiters = approval.waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(decision)
        self.approvals.move_to_end(approval.id)
        resolved = [a for a in self.approvals.values() if not a.pending]
        for old in resolved[:-KEEP_RESOLVED]:
            del self.approvals[old.id]

    def wait(self, approval: Approval) -> Deferred[str | None]:
        """Fires with the decision; cancelling it (an aborted run) expires the approval."""
        if not approval.pending:
            done: Deferred[str | None] = Deferred()
            done.callback(approval.decision)
            return done

        def cancelled(waiter: Deferred[str | None]) -> None:
            if waiter in approval.waiters:
                approval.waiters.remove(waiter)
            self.settle(approval, None, "run-aborted")

        waiter: Deferred[str | None] = Deferred(cancelled)
        approval.waiters.append(waiter)
        return waiter

    def lookup(self, raw: Any, session: ClientSession | None, *, pending: bool
               ) -> Approval | None:
        """By id or unique prefix among the visible approvals; raises on an ambiguous one."""
        key = raw.strip() if isinstance(raw, str) else ""
        if not key:
            return None
        candidates = [a for a in self.approvals.values()
                      if a.pending == pending and visible(a, session)]
        exact = [a for a in candidates if a.id == key]
        if exact:
            return exact[0]
        matches = [a for a in candidates if a.id.startswith(key)]
        if len(matches) > 1:
            raise invalid_request("ambiguous approval id prefix; use the full id")
        return matches[0] if matches else None

    def resolve(self, approval: Approval, decision: str, resolved_by: str | None) -> None:
        audience = self.audience(approval)
        self.settle(approval, decision, "user")
        if audience:
            self.context.events.broadcast(RESOLVED, {
                "id": approval.id, "decision": decision, "resolvedBy": resolved_by,
                "ts": self.now_ms(), "request": approval.request},
                targets=audience, drop_if_slow=True)

    # -- the exec tool's seam ---------------------------------------------------------------

    def tool_requester(self, request: dict[str, Any], timeout_ms: int,
                       on_created: Callable[[str], None]) -> Deferred[str | None]:
        full = full_request(request)
        approval = self.create(full, timeout_ms)
        on_created(approval.id)
        waiting = self.wait(approval)
        self.publish(approval)
        return waiting

    def cancel_all(self) -> None:
        for approval in list(self.approvals.values()):
            self.settle(approval, None, "gateway-restart")


def full_request(request: dict[str, Any]) -> dict[str, Any]:
    """Upstream's request record: every field present (null when unknown)."""
    out: dict[str, Any] = {name: request.get(name) for name in _REQUEST_TEMPLATE}
    command = str(request.get("command") or "")
    out["commandAnalysis"] = request.get("commandAnalysis") or {
        "commandCount": max(1, command.count("|") + command.count("&&") + command.count(";")
                            + 1 - command.count("||")),
        "nestedCommandCount": 0, "riskKinds": [], "warningLines": []}
    out["allowedDecisions"] = allowed_decisions(request.get("ask"))
    for name in ("commandPreview", "commandArgv"):
        if out[name] is None:
            del out[name]
    return out


class ExecApprovalMethods:
    """The approvals family bound to the manager and the policy store."""

    def __init__(self, manager: ExecApprovalManager, store: ApprovalsStore,
                 send_interim: Callable[[MethodCall, Any], None]) -> None:
        self.manager = manager
        self.store = store
        self.send_interim = send_interim

    # -- the policy document ----------------------------------------------------------------

    async def approvals_get(self, call: MethodCall) -> dict[str, Any]:
        return (await self.store.snapshot()).payload()

    async def approvals_set(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        base = params.get("baseHash")
        current = await self.store.snapshot()
        if current.exists and not base:
            raise invalid_request("exec approvals base hash required; re-run exec.approvals.get "
                                  "and retry")
        try:
            snapshot = await self.store.replace(dict(params["file"]), base)
        except ApprovalsChanged:
            raise invalid_request("exec approvals changed since last load; re-run "
                                  "exec.approvals.get and retry") from None
        return snapshot.payload()

    # -- pending approvals ------------------------------------------------------------------

    def approval_list(self, call: MethodCall) -> list[dict[str, Any]]:
        return [{**a.entry(), "approvalKind": "exec"} for a in self.manager.approvals.values()
                if a.pending and visible(a, call.session)]

    def approval_get(self, call: MethodCall) -> dict[str, Any]:
        approval = self.manager.lookup(call.param_map.get("id"), call.session, pending=True)
        if approval is None:
            raise invalid_request("unknown or expired approval id", details=NOT_FOUND_DETAILS)
        request = approval.request
        return {"id": approval.id, "commandText": request.get("command"),
                "commandPreview": request.get("commandPreview"),
                "allowedDecisions": request.get("allowedDecisions"),
                "host": request.get("host"), "nodeId": request.get("nodeId"),
                "agentId": request.get("agentId"), "expiresAtMs": approval.expires_at_ms}

    async def approval_request(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        host = str(params.get("host") or "").strip()
        if host == "node" and not str(params.get("nodeId") or "").strip():
            raise invalid_request("nodeId is required for host=node")
        if host == "node" and not params.get("systemRunPlan"):
            raise invalid_request("systemRunPlan is required for host=node")
        command = str(params.get("command") or "").strip()
        if not command:
            raise invalid_request("command is required")
        explicit = params.get("id")
        if isinstance(explicit, str) and explicit.startswith("plugin:"):
            raise invalid_request("approval ids starting with plugin: are reserved")
        if isinstance(explicit, str) and explicit in self.manager.approvals and \
                self.manager.approvals[explicit].pending:
            raise invalid_request("approval id already pending")
        request = {name: params.get(name) for name in _REQUEST_TEMPLATE if name in params}
        request.update({"command": params.get("command"), "host": host or None,
                        "nodeId": params.get("nodeId") if host == "node" else None})
        timeout = params.get("timeoutMs")
        timeout_ms = int(timeout) if isinstance(timeout, int | float) and not isinstance(
            timeout, bool) else DEFAULT_APPROVAL_TIMEOUT_MS
        approval = self.manager.create(full_request(request), timeout_ms,
                                       approval_id=explicit if isinstance(explicit, str)
                                       else None, requester=call.session)
        waiting = self.manager.wait(approval)
        reviewers = self.manager.publish(approval, exclude_conn=call.session.conn_id)
        if reviewers and params.get("twoPhase") is True:
            self.send_interim(call, {"status": "accepted", "id": approval.id,
                                     "deliveryRoute": "approval-client",
                                     "createdAtMs": approval.created_at_ms,
                                     "expiresAtMs": approval.expires_at_ms})
        await waiting
        return {k: v for k, v in approval.answer().items() if k != "terminalReason"}

    async def wait_decision(self, call: MethodCall) -> dict[str, Any]:
        raw = call.param_map.get("id")
        if not isinstance(raw, str) or not raw.strip():
            raise invalid_request("id is required")
        approval = self.manager.approvals.get(raw.strip())
        if approval is None or not visible(approval, call.session):
            raise invalid_request("approval expired or not found")
        await self.manager.wait(approval)
        return approval.answer()

    def approval_resolve(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        decision = params.get("decision")
        if decision not in DECISIONS:
            raise invalid_request("invalid decision")
        approval = self.manager.lookup(params.get("id"), call.session, pending=True)
        if approval is None:
            done = self.manager.lookup(params.get("id"), call.session, pending=False)
            if done is not None and done.terminal_reason == "user":
                if done.decision == decision:
                    return {"ok": True}
                raise invalid_request("approval already resolved",
                                      details={"reason": "APPROVAL_ALREADY_RESOLVED"})
            raise invalid_request("unknown or expired approval id", details=NOT_FOUND_DETAILS)
        if decision not in (approval.request.get("allowedDecisions") or DECISIONS):
            raise invalid_request("allow-always is unavailable for this command",
                                  details={"reason": "APPROVAL_ALLOW_ALWAYS_UNAVAILABLE"})
        client = call.session.client
        resolved_by = client.get("displayName") or client.get("id") or None
        self.manager.resolve(approval, str(decision), resolved_by)
        return {"ok": True}

    def specs(self) -> tuple[MethodSpec, ...]:
        def empty(value: dict[str, Any]) -> Callable[[MethodCall], dict[str, Any]]:
            return lambda call: dict(value)

        return (
            MethodSpec("exec.approvals.get", self.approvals_get, ADMIN,
                       params_schema("exec.approvals.get")),
            MethodSpec("exec.approvals.set", self.approvals_set, ADMIN,
                       params_schema("exec.approvals.set")),
            MethodSpec("exec.approval.list", self.approval_list, APPROVALS),
            MethodSpec("exec.approval.get", self.approval_get, APPROVALS,
                       params_schema("exec.approval.get")),
            MethodSpec("exec.approval.request", self.approval_request, APPROVALS,
                       params_schema("exec.approval.request")),
            MethodSpec("exec.approval.waitDecision", self.wait_decision, APPROVALS),
            MethodSpec("exec.approval.resolve", self.approval_resolve, APPROVALS,
                       params_schema("exec.approval.resolve")),
            MethodSpec("exec.approval.grants.list", empty({"grants": []}), APPROVALS,
                       params_schema("exec.approval.grants.list")),
            MethodSpec("approval.history", empty({"items": []}), APPROVALS,
                       params_schema("approval.history")),
        )


def wire_exec_approvals(context: Any, clock: Any, gate: ExecApprovals,
                        send_interim: Callable[[MethodCall, Any], None]
                        ) -> tuple[ExecApprovalManager, tuple[MethodSpec, ...]]:
    """The manager behind the exec tool's seam and the RPC family (the gateway's wiring)."""
    manager = ExecApprovalManager(context, clock)
    gate.requester = manager.tool_requester
    for event in (REQUESTED, RESOLVED):
        context.events.register_event(event, (APPROVALS,))
    return manager, ExecApprovalMethods(manager, gate.store, send_interim).specs()


__all__ = ["ExecApprovalManager", "ExecApprovalMethods", "allowed_decisions", "full_request",
           "wire_exec_approvals"]
