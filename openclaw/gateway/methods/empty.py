"""Methods the stock Control UI calls for features this gateway does not have.

Each answers upstream's exact result for "nothing here" (captured from the real gateway with
nothing configured), validates upstream's params and needs upstream's scope, so the UI shows
an empty panel instead of an ``unknown method`` banner or a retry loop (``question.list`` is
called every 4 s forever while it fails). ``docs/protocol.md`` lists each with the reason:

* boards (``board.get``), progress cards (``progressCard.get``), session discussions
  (``session.discussion.info``), the companion side-chat (``sessions.companion.state``),
  transcript branches (``sessions.branches.list``), external CLI session catalogs
  (``sessions.catalog.list``), user-defined sidebar groups (``sessions.groups.list`` /
  ``.defaults``), the question broker (``question.list``), agent-proposed tasks
  (``taskSuggestions.list``), the task registry (``tasks.list``), GitHub publishing
  (``sessions.github.options``) and pull-request watching
  (``controlUi.sessionPullRequests.subscribe``), the @mentions inbox (``mentions.list``),
  multi-user session sharing (``session.members.listEvidence``: the single owner only),
  approvals of the system agent and of plugin tools (``openclaw.approval.list``,
  ``plugin.approval.list``), plugin UI extensions (``plugins.controlUi.list``);
* and ``sessions.observer.visibility`` (no observer digests to pause: acknowledged).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any, Final

from openclaw.agents.runtime import AgentRequestError, AgentRuntime
from openclaw.auth.scopes import APPROVALS, QUESTIONS, READ, WRITE
from openclaw.gateway.methods.session_rows import OWNER_ACTOR, OWNER_PROFILE
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request
from openclaw.gateway.protocol.handshake import SESSION_VISIBILITIES

PULL_REQUEST_KEYS_MAX: Final = 200
SESSION_KEY_MAX: Final = 512
# A stable revision of the (empty) plugin UI descriptor set.
CONTROL_UI_PLUGINS_REVISION: Final = hashlib.sha256(b"[]").hexdigest()
GITHUB_OPTIONS: Final = {
    "shared": None, "latestShared": None, "pendingPersonal": None,
    "personal": {"state": "disconnected", "account": None, "generation": None,
                 "pending": None, "accessExpiresAtMs": None, "refreshState": "not_applicable"},
}


def _constant(value: Any) -> Callable[[MethodCall], Any]:
    def answer(call: MethodCall) -> Any:
        return copy.deepcopy(value)

    return answer


def _key_list(value: Any) -> list[str] | None:
    """``controlUi.sessionPullRequests.subscribe`` keys: strings, trimmed, 1-512 chars,
    deduplicated, at most 200; None when invalid."""
    if not isinstance(value, list) or len(value) > PULL_REQUEST_KEYS_MAX:
        return None
    keys: list[str] = []
    for item in value:
        if not isinstance(item, str):
            return None
        text = item.strip()
        if not text or len(text) > SESSION_KEY_MAX:
            return None
        if text not in keys:
            keys.append(text)
    return keys


def pull_requests_subscribe(call: MethodCall) -> dict[str, Any]:
    params = call.params if isinstance(call.params, dict) else None
    keys = _key_list(params.get("sessionKeys")) if params is not None else None
    refresh = params.get("refreshSessionKeys", []) if params is not None else None
    refresh_keys = _key_list(refresh) if refresh is not None else None
    if params is None or keys is None or refresh_keys is None or \
            set(params) - {"sessionKeys", "refreshSessionKeys"} or \
            any(key not in keys for key in refresh_keys):
        raise invalid_request("invalid controlUi.sessionPullRequests.subscribe params")
    return {"subscribed": bool(keys)}


def mentions_list(call: MethodCall) -> dict[str, Any]:
    return {"items": [], "revision": 0, "gatewayInstanceId": call.context.boot_id}


def _spec(name: str, handler: Callable[[MethodCall], Any], scope: str = READ) -> MethodSpec:
    return MethodSpec(name, handler, scope, params_schema(name))


# Empty answers that need nothing but the call.
EMPTY_METHODS: Final = (
    _spec("sessions.catalog.list", _constant({"catalogs": []})),
    _spec("sessions.groups.list", _constant({"groups": [], "sectionOrder": []})),
    _spec("sessions.groups.defaults", _constant({"defaults": []}), WRITE),
    _spec("sessions.observer.visibility", _constant({"ok": True})),
    _spec("question.list", _constant({"questions": []}), QUESTIONS),
    _spec("taskSuggestions.list", _constant({"suggestions": []})),
    _spec("tasks.list", _constant({"tasks": []})),
    _spec("mentions.list", mentions_list),
    _spec("plugins.controlUi.list", _constant({
        "plugins": [], "diagnostics": [], "revision": CONTROL_UI_PLUGINS_REVISION})),
    MethodSpec("controlUi.sessionPullRequests.subscribe", pull_requests_subscribe, READ),
    MethodSpec("openclaw.approval.list", _constant([]), APPROVALS),
    MethodSpec("plugin.approval.list", _constant([]), APPROVALS),
)


def make_session_empty_methods(runtime: AgentRuntime) -> tuple[MethodSpec, ...]:
    """The empty-by-design methods about one session: its key is validated (an unknown agent
    or a foreign key is an error) and answered canonical, as upstream."""

    def canonical(call: MethodCall) -> str:
        params = call.param_map
        try:
            return runtime.resolve(params.get("agentId"), params.get("sessionKey"))[1]
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None

    def board_get(call: MethodCall) -> dict[str, Any]:
        return {"sessionKey": canonical(call), "revision": 0, "tabs": [], "widgets": []}

    def members_evidence(call: MethodCall) -> dict[str, Any]:
        return {"sessionKey": canonical(call), "role": "admin", "owner": dict(OWNER_ACTOR),
                "identities": [{**OWNER_ACTOR, "label": OWNER_PROFILE}], "members": [],
                "allowedVisibilities": list(SESSION_VISIBILITIES)}

    def session_scoped(value: Any) -> Callable[[MethodCall], Any]:
        answer = _constant(value)

        def scoped(call: MethodCall) -> Any:
            canonical(call)
            return answer(call)

        return scoped

    return (
        _spec("board.get", board_get),
        _spec("progressCard.get", session_scoped({"card": None})),
        _spec("session.discussion.info", session_scoped({"state": "none"})),
        _spec("session.members.listEvidence", members_evidence),
        _spec("sessions.companion.state", session_scoped({"exchanges": []})),
        _spec("sessions.branches.list", session_scoped({"branches": []})),
        _spec("sessions.github.options", session_scoped(GITHUB_OPTIONS)),
    )
