"""Sessions family: ``sessions.list``, ``sessions.describe``, ``sessions.preview``,
``sessions.patch``, ``sessions.reset``, ``sessions.delete``, ``sessions.compact``,
``sessions.subscribe`` / ``unsubscribe``, ``sessions.messages.subscribe`` / ``unsubscribe``.

Rows are :class:`~openclaw.gateway.methods.session_rows.SessionRows` (the Control UI's
``SessionRow``); list/describe/subscribe params are upstream's schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from openclaw.agents.runtime import AgentRequestError
from openclaw.agents.session_keys import session_kind
from openclaw.auth.scopes import ADMIN, APPROVALS, READ, WRITE
from openclaw.gateway.methods.agent import AgentGateway
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    AnyValue,
    Array,
    Boolean,
    Enum,
    Integer,
    Object,
    Schema,
    String,
    _Collector,
    optional,
    required,
)
from openclaw.gateway.protocol.session import is_webchat
from openclaw.providers.registry import parse_model_ref


class Nullable(Schema):
    """``T | null`` (TypeBox ``Type.Union([T, Type.Null()])``)."""

    def __init__(self, inner: Schema) -> None:
        self.inner = inner

    def check(self, value: Any, path: str, out: _Collector) -> None:
        if value is not None:
            self.inner.check(value, path, out)


_OPT_STR: Final = optional(Nullable(NON_EMPTY_STRING))
PREVIEW_PARAMS: Final = Object({
    "keys": required(Array(NON_EMPTY_STRING)), "limit": optional(Integer(minimum=1)),
    "maxChars": optional(Integer(minimum=20)),
})
PATCH_PARAMS: Final = Object({
    "key": required(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
    "expectedSessionId": optional(NON_EMPTY_STRING),
    "expectedLifecycleRevision": optional(NON_EMPTY_STRING),
    "expectedPermissionMode": optional(AnyValue()), "expectedSandboxMode": optional(AnyValue()),
    "expectedNativeRuntimeConsent": optional(AnyValue()),
    "expectedToolOverrides": optional(AnyValue()), "expectedMarkedUnreadAt": optional(AnyValue()),
    "label": optional(Nullable(String(max_length=512))),
    "autoLabel": optional(Nullable(String(max_length=512))),
    "icon": optional(Nullable(String())), "color": optional(Nullable(String())),
    "category": optional(Nullable(String(max_length=512))),
    "boardFace": optional(Enum(("chat", "dashboard"))), "boardPresentation": optional(AnyValue()),
    "statusNote": optional(Nullable(String(max_length=120))), "attention": optional(AnyValue()),
    "ttlMinutes": optional(Integer(minimum=1, maximum=120)), "archived": optional(Boolean()),
    "pinned": optional(Boolean()), "unread": optional(Boolean()),
    "contextWindow": _OPT_STR, "thinkingLevel": _OPT_STR,
    "fastMode": optional(AnyValue()), "toolOverrides": optional(AnyValue()),
    "verboseLevel": _OPT_STR, "traceLevel": _OPT_STR, "reasoningLevel": _OPT_STR,
    "responseUsage": optional(Nullable(Enum(("off", "tokens", "full", "on")))),
    "elevatedLevel": _OPT_STR, "execHost": _OPT_STR, "execSecurity": _OPT_STR,
    "execAsk": _OPT_STR, "execNode": _OPT_STR, "permissionMode": optional(AnyValue()),
    "sandboxMode": optional(AnyValue()), "nativeRuntimeConsent": _OPT_STR, "model": _OPT_STR,
    "agentRuntime": _OPT_STR, "completionOwnerSessionKey": _OPT_STR,
    "inheritedToolPolicyVersion": optional(AnyValue()),
    "inheritedToolAllow": optional(AnyValue()), "inheritedToolDeny": optional(AnyValue()),
    "sendPolicy": optional(Nullable(Enum(("allow", "deny")))),
    "groupActivation": optional(Nullable(Enum(("mention", "always")))),
    "spawnedBy": _OPT_STR, "queueMode": _OPT_STR,
})
RESET_PARAMS: Final = Object({
    "key": required(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
    "reason": optional(Enum(("new", "reset"))), "expectedSessionId": optional(NON_EMPTY_STRING),
})
DELETE_PARAMS: Final = Object({
    "key": required(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
    "deleteTranscript": optional(Boolean()), "expectedSessionId": optional(NON_EMPTY_STRING),
    "expectedLifecycleRevision": optional(NON_EMPTY_STRING),
    "expectedSessionUpdatedAt": optional(AnyValue()), "emitLifecycleHooks": optional(Boolean()),
    "archivedOnly": optional(Boolean()),
})
COMPACT_PARAMS: Final = Object({
    "key": required(NON_EMPTY_STRING), "agentId": optional(NON_EMPTY_STRING),
    "maxLines": optional(Integer(minimum=1)),
})
UNSUBSCRIBE_PARAMS: Final = Object({})
LIST_DEFAULT_LIMIT: Final = 200
COMPACT_KEEP_MESSAGES: Final = 20

# patch fields stored verbatim on the entry (null clears)
_PLAIN_PATCH: Final = ("label", "autoLabel", "icon", "color", "category", "boardFace",
                       "boardPresentation", "statusNote", "attention", "archived", "pinned",
                       "contextWindow", "thinkingLevel", "fastMode", "toolOverrides",
                       "verboseLevel", "traceLevel", "reasoningLevel", "responseUsage",
                       "elevatedLevel", "execHost", "execSecurity", "execAsk", "execNode",
                       "permissionMode", "sandboxMode", "nativeRuntimeConsent", "agentRuntime",
                       "completionOwnerSessionKey", "sendPolicy", "groupActivation",
                       "spawnedBy", "queueMode")


def _text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "toolCall":
                parts.append(f"[tool call: {block.get('name')}]")
        return " ".join(p for p in parts if p)
    return ""


def _message_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["message"] for r in records if r.get("type") == "message"
            and isinstance(r.get("message"), dict)]


def may_replay_approvals(call: MethodCall) -> bool:
    """``includeApprovals`` needs admin, or ``operator.approvals`` on a paired device."""
    scopes = call.session.scopes
    return ADMIN in scopes or (APPROVALS in scopes and call.session.device_id is not None)


class SessionsMethods:
    """The sessions family over the agents bridge (one instance per gateway)."""

    def __init__(self, gateway: AgentGateway) -> None:
        self.gateway = gateway
        self.runtime = gateway.runtime
        self.rows = gateway.rows

    def resolve(self, params: Mapping[str, Any], field: str = "key") -> tuple[str, str]:
        try:
            return self.runtime.resolve(params.get("agentId"), params.get(field))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None

    def wanted(self, key: str, entry: Mapping[str, Any], params: Mapping[str, Any], now: int
               ) -> bool:
        """The ``sessions.list`` filters (upstream's defaults: archived rows hidden)."""
        kind = session_kind(key)
        if kind == "global" and not params.get("includeGlobal", True):
            return False
        if kind == "unknown" and not params.get("includeUnknown"):
            return False
        archived = params.get("archived", False)
        if archived != "all" and bool(entry.get("archived")) != bool(archived):
            return False
        if params.get("excludeCron") and ":cron:" in key:
            return False
        if params.get("excludeSubagents") and ":subagent:" in key:
            return False
        for field in ("label", "spawnedBy"):
            if params.get(field) and entry.get(field) != params[field]:
                return False
        if "pinned" in params and bool(entry.get("pinned")) != params["pinned"]:
            return False
        if params.get("requireLastInteraction") and not entry.get("lastInteractionAt"):
            return False
        active = params.get("activeMinutes")
        if active and now - int(entry.get("updatedAt") or 0) > int(active) * 60000:
            return False
        search = str(params.get("search") or "").strip().lower()
        return not search or search in " ".join(
            str(v) for v in (key, entry.get("label"), entry.get("displayName"),
                             entry.get("derivedTitle")) if v).lower()

    async def list_result(self, params: Mapping[str, Any]) -> dict[str, Any]:
        view = self.runtime.view()
        requested = params.get("agentId")
        agent_ids = [str(requested).lower()] if requested else list(view.agents)
        found: list[dict[str, Any]] = []
        now = self.runtime.now_ms()
        path = ""
        for agent_id in agent_ids:
            if agent_id not in view.agents:
                raise invalid_request(f'unknown agent id "{requested}"')
            sessions = self.runtime.store.agent(agent_id)
            await sessions.load()
            if agent_id == view.default_id or not path:
                path = sessions.index_path
            for key, entry in list(sessions.entries.items()):
                if self.wanted(key, entry, params, now):
                    found.append(self.rows.row(agent_id, key, entry))
        order = params.get("sortBy") or "updatedAt"
        field = "lastInteractionAt" if order == "lastInteractionAt" else "updatedAt"
        found.sort(key=lambda r: (-int(bool(r.get("hasActiveRun")) and order == "activity"),
                                  -int(r.get(field) or r.get("updatedAt") or 0)))
        if params.get("activeOnly"):
            found = [r for r in found if r.get("status") == "running"]
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or LIST_DEFAULT_LIMIT)
        total = len(found)
        page = found[offset: offset + limit]
        if params.get("includeDerivedTitles") or params.get("includeLastMessage"):
            for item in page:
                messages = _message_records(await self.runtime.store.agent(item["agentId"]).read(
                    item["key"]))
                if params.get("includeDerivedTitles"):
                    first = next((m for m in messages if m.get("role") == "user"), None)
                    if first:
                        item["derivedTitle"] = _text(first)[:60]
                if params.get("includeLastMessage"):
                    last = next((m for m in reversed(messages)
                                 if m.get("role") in ("user", "assistant") and _text(m)), None)
                    if last:
                        item["lastMessagePreview"] = _text(last)[:120]
        more = offset + len(page) < total
        return {"ts": now, "path": path, "count": len(page), "totalCount": total,
                "limitApplied": limit, "hasMore": more,
                "nextOffset": offset + len(page) if more else None,
                "defaults": self.rows.defaults(str(requested).lower() if requested else None),
                "owners": [], "sessions": page}

    async def sessions_list(self, call: MethodCall) -> dict[str, Any]:
        return await self.list_result(call.param_map)

    async def sessions_describe(self, call: MethodCall) -> dict[str, Any]:
        """``{session: SessionRow | null}``; an unknown key is ``null``, not an error."""
        params = call.param_map
        try:
            agent_id, key = self.runtime.resolve(params.get("agentId"), params.get("key"))
        except AgentRequestError:
            return {"session": None}
        sessions = self.runtime.store.agent(agent_id)
        await sessions.load()
        entry = sessions.get(key)
        if entry is None:
            return {"session": None}
        row = self.rows.row(agent_id, key, entry)
        if params.get("includeDerivedTitles") or params.get("includeLastMessage"):
            messages = _message_records(await sessions.read(key))
            first = next((m for m in messages if m.get("role") == "user"), None)
            if params.get("includeDerivedTitles") and first:
                row["derivedTitle"] = _text(first)[:60]
            last = next((m for m in reversed(messages)
                         if m.get("role") in ("user", "assistant") and _text(m)), None)
            if params.get("includeLastMessage") and last:
                row["lastMessagePreview"] = _text(last)[:120]
        return {"session": row}

    async def sessions_preview(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        keys = [str(k).strip() for k in params.get("keys") or [] if str(k).strip()][:64]
        limit = int(params.get("limit") or 12)
        max_chars = int(params.get("maxChars") or 240)
        previews = []
        for raw in keys:
            try:
                agent_id, key = self.runtime.resolve(None, raw)
            except AgentRequestError as e:
                raise invalid_request(str(e)) from None
            preview: dict[str, Any] = {"key": raw, "status": "missing", "items": []}
            previews.append(preview)
            sessions = self.runtime.store.agent(agent_id)
            await sessions.load()
            if not (sessions.get(key) or {}).get("sessionId"):
                continue
            try:
                messages = _message_records(await sessions.read(key))
            except Exception:
                preview["status"] = "error"
                continue
            items = []
            for message in messages[-limit:]:
                role = message.get("role")
                text = _text(message)
                if not text:
                    continue
                kind = role if role in ("user", "assistant", "system") else (
                    "tool" if role == "toolResult" else "other")
                items.append({"role": kind, "text": text[:max_chars]})
            preview["items"] = items
            preview["status"] = "ok" if items else "empty"
        return {"ts": self.runtime.now_ms(), "previews": previews}

    def forbid_webchat(self, call: MethodCall, verb: str) -> None:
        client = call.session.client
        if is_webchat(client) and client.get("id") != "openclaw-control-ui":
            raise invalid_request(f"webchat clients cannot {verb} sessions; use chat.send for "
                                  "session-scoped updates")

    async def sessions_patch(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        self.forbid_webchat(call, "patch")
        agent_id, key = self.resolve(params)
        sessions = self.runtime.store.agent(agent_id)
        await sessions.load()
        entry = sessions.get(key) or {}
        if params.get("expectedSessionId") and entry.get("sessionId") != \
                params["expectedSessionId"]:
            raise invalid_request("session changed (expectedSessionId does not match)")
        changes: dict[str, Any] = {field: params[field] for field in _PLAIN_PATCH
                                   if field in params}
        resolved: dict[str, Any] = {}
        if "model" in params:
            model = params["model"]
            if model is None:
                changes["modelOverride"] = None
                changes["providerOverride"] = None
            else:
                default = self.runtime.router.catalog.default_ref() if self.runtime.router else None
                ref = parse_model_ref(str(model), default.provider if default else "local")
                changes["modelOverride"] = ref.model
                changes["providerOverride"] = ref.provider
                resolved = {"modelProvider": ref.provider, "model": ref.model}
        if "unread" in params:
            changes["lastReadAt"] = None if params["unread"] else self.runtime.now_ms()
        updated = await sessions.patch(key, changes)
        return {"ok": True, "path": sessions.index_path, "key": key, "entry": dict(updated),
                "resolved": resolved}

    async def sessions_reset(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        agent_id, key = self.resolve(params)
        sessions = self.runtime.store.agent(agent_id)
        await sessions.load()
        if params.get("expectedSessionId") and (sessions.get(key) or {}).get("sessionId") != \
                params["expectedSessionId"]:
            raise invalid_request("session changed (expectedSessionId does not match)")
        self.runtime.abort(key, reason="reset")
        settings = self.runtime.view().agent(agent_id)
        entry = await sessions.reset(key, cwd=settings.workspace if settings else "",
                                     reason=str(params.get("reason") or "reset"))
        self.runtime.forget_history(agent_id, key)
        return {"ok": True, "key": key, "entry": dict(entry)}

    async def sessions_delete(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        self.forbid_webchat(call, "delete")
        if not params.get("archivedOnly") and ADMIN not in call.session.scopes:
            raise invalid_request("missing scope: operator.admin")
        agent_id, key = self.resolve(params)
        if self.runtime.is_main_session(agent_id, key):
            raise invalid_request(f"Cannot delete the main session ({key}).")
        self.runtime.abort(key, reason="delete")
        sessions = self.runtime.store.agent(agent_id)
        deleted, archived = await sessions.delete(
            key, delete_transcript=params.get("deleteTranscript") is not False)
        self.runtime.forget_history(agent_id, key)
        return {"ok": True, "key": key, "deleted": deleted, "archived": archived}

    async def sessions_compact(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        agent_id, key = self.resolve(params)
        sessions = self.runtime.store.agent(agent_id)
        await sessions.load()
        entry = sessions.get(key)
        if not entry or not entry.get("sessionId"):
            return {"ok": True, "key": key, "compacted": False, "reason": "no sessionId"}
        if self.runtime.runs_in(key):
            raise invalid_request(f"Session {key} has queued work; retry after it finishes.")
        records = await sessions.read(key)
        if len(records) <= 1:
            return {"ok": True, "key": key, "compacted": False, "reason": "no transcript"}
        max_lines = params.get("maxLines")
        if max_lines is not None:
            return await self.compact_to_lines(agent_id, key, entry, records, int(max_lines))
        return await self.compact_with_summary(agent_id, key, entry, records)

    async def compact_to_lines(self, agent_id: str, key: str, entry: Mapping[str, Any],
                               records: list[dict[str, Any]], max_lines: int
                               ) -> dict[str, Any]:
        """Keep the last ``max_lines`` records (the old transcript archived)."""
        sessions = self.runtime.store.agent(agent_id)
        header, body = records[0], records[1:]
        if len(body) <= max_lines:
            return {"ok": True, "key": key, "compacted": False, "kept": len(body)}
        kept = body[-max_lines:]
        kept[0] = {**kept[0], "parentId": None}
        await sessions.rewrite(key, [header, *kept])
        self.runtime.forget_history(agent_id, key)
        sessions.touch(key, compactionCount=int(entry.get("compactionCount") or 0) + 1)
        return {"ok": True, "key": key, "compacted": True, "kept": len(kept)}

    async def compact_with_summary(self, agent_id: str, key: str, entry: Mapping[str, Any],
                                   records: list[dict[str, Any]]) -> dict[str, Any]:
        """A ``compaction`` record summing up all but the last messages (never splitting a
        tool call from its result)."""
        sessions = self.runtime.store.agent(agent_id)
        messages = [r for r in records if r.get("type") == "message"]
        if len(messages) <= COMPACT_KEEP_MESSAGES:
            return {"ok": True, "key": key, "compacted": False, "reason": "nothing to compact"}
        index = len(messages) - COMPACT_KEEP_MESSAGES
        while index > 0 and (messages[index].get("message") or {}).get("role") == "toolResult":
            index -= 1
        first_kept = messages[index]
        lines = []
        for record in messages[:index]:
            message = record.get("message") or {}
            if message.get("role") in ("user", "assistant"):
                text = _text(message).strip().replace("\n", " ")
                if text:
                    lines.append(f"- {message['role']}: {text[:200]}")
        summary = "Earlier conversation (compacted):\n" + "\n".join(lines[-50:])
        await sessions.append(key, [{"type": "compaction", "summary": summary,
                                     "firstKeptEntryId": first_kept.get("id"),
                                     "tokensBefore": int(entry.get("contextTokens") or 0)}])
        self.runtime.forget_history(agent_id, key)
        sessions.touch(key, compactionCount=int(entry.get("compactionCount") or 0) + 1)
        return {"ok": True, "key": key, "compacted": True, "kept": len(messages) - index}

    async def subscribe(self, call: MethodCall) -> dict[str, Any]:
        """``{}`` -> ``{subscribed}``; with ``sessions.list`` params also the first list."""
        self.gateway.session_subscribers.add(call.session.conn_id)
        if not call.param_map:
            return {"subscribed": True}
        return {"subscribed": True, "list": await self.list_result(call.param_map)}

    def unsubscribe(self, call: MethodCall) -> dict[str, Any]:
        self.gateway.session_subscribers.discard(call.session.conn_id)
        return {"subscribed": False}

    def messages_subscribe(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        approvals = params.get("includeApprovals") is True
        if approvals and not may_replay_approvals(call):
            raise invalid_request(
                "sessions.messages.subscribe includeApprovals requires a paired device and "
                f"gateway scope: {APPROVALS}")
        _, key = self.resolve(params)
        self.gateway.message_subscribers.setdefault(key, set()).add(call.session.conn_id)
        result: dict[str, Any] = {"subscribed": True, "key": key}
        if approvals:
            # No approval flow is bound to sessions here yet: an empty replay.
            result["approvalReplay"] = {"sessionKey": key, "approvals": [],
                                        "truncated": False, "updatedAtMs": self.runtime.now_ms()}
        return result

    def viewers_set(self, call: MethodCall) -> dict[str, Any]:
        """The sessions this connection shows (replaces the previous set; ``[]`` clears):
        listed as ``watchedSessions`` in its presence entry."""
        params = call.param_map
        keys: list[str] = []
        for raw in params["sessionKeys"]:
            try:
                key = self.runtime.resolve(params.get("agentId"), raw)[1]
            except AgentRequestError as e:
                raise invalid_request(str(e)) from None
            if key not in keys:
                keys.append(key)
        presence_key = call.session.presence_key
        context = call.context
        if presence_key and context.presence.get(presence_key) is not None:
            context.presence.upsert(presence_key, {"watchedSessions": keys})
            version = context.presence.bump_version()
            context.events.broadcast(
                "presence", {"presence": context.presence.list()}, drop_if_slow=True,
                state_version={"presence": version, "health": context.health.version})
        return {"sessionKeys": keys}

    def messages_unsubscribe(self, call: MethodCall) -> dict[str, Any]:
        _, key = self.resolve(call.param_map)
        self.gateway.message_subscribers.get(key, set()).discard(call.session.conn_id)
        return {"subscribed": False, "key": key}

    def specs(self) -> tuple[MethodSpec, ...]:
        return (
            MethodSpec("sessions.list", self.sessions_list, READ, params_schema("sessions.list")),
            MethodSpec("sessions.describe", self.sessions_describe, READ,
                       params_schema("sessions.describe")),
            MethodSpec("sessions.preview", self.sessions_preview, READ, PREVIEW_PARAMS),
            MethodSpec("sessions.patch", self.sessions_patch, ADMIN, PATCH_PARAMS),
            MethodSpec("sessions.reset", self.sessions_reset, ADMIN, RESET_PARAMS),
            MethodSpec("sessions.delete", self.sessions_delete, WRITE, DELETE_PARAMS),
            MethodSpec("sessions.compact", self.sessions_compact, ADMIN, COMPACT_PARAMS),
            MethodSpec("sessions.subscribe", self.subscribe, READ,
                       params_schema("sessions.subscribe")),
            # not a 2026.9.6 method: kept for older clients, not advertised
            MethodSpec("sessions.unsubscribe", self.unsubscribe, READ, UNSUBSCRIBE_PARAMS,
                       advertise=False),
            MethodSpec("sessions.messages.subscribe", self.messages_subscribe, READ,
                       params_schema("sessions.messages.subscribe")),
            MethodSpec("sessions.messages.unsubscribe", self.messages_unsubscribe, READ,
                       params_schema("sessions.messages.unsubscribe")),
            MethodSpec("sessions.viewers.set", self.viewers_set, READ,
                       params_schema("sessions.viewers.set")),
        )


def make_sessions_methods(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    return SessionsMethods(gateway).specs()
