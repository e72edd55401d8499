"""Sessions family: ``sessions.list``, ``sessions.preview``, ``sessions.patch``,
``sessions.reset``, ``sessions.delete``, ``sessions.compact``, ``sessions.subscribe`` /
``unsubscribe``, ``sessions.messages.subscribe`` / ``unsubscribe``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from openclaw.agents.runtime import AgentRequestError
from openclaw.agents.session_keys import channel_of_key, session_kind
from openclaw.agents.store import AgentSessions
from openclaw.auth.scopes import ADMIN, READ
from openclaw.gateway.methods.agent import AgentGateway
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
LIST_PARAMS: Final = Object({
    "limit": optional(Integer(minimum=1)), "offset": optional(Integer(minimum=0)),
    "activeMinutes": optional(Integer(minimum=1)), "activeOnly": optional(Boolean()),
    "requireLastInteraction": optional(Boolean()),
    "sortBy": optional(Enum(("updatedAt", "lastInteractionAt", "activity"))),
    "includeGlobal": optional(Boolean()), "includeUnknown": optional(Boolean()),
    "excludeSubagents": optional(Boolean()), "excludeCron": optional(Boolean()),
    "excludeSystem": optional(Boolean()), "configuredAgentsOnly": optional(Boolean()),
    "includeDerivedTitles": optional(Boolean()), "includeLastMessage": optional(Boolean()),
    "includeActivitySummary": optional(Boolean()), "label": optional(String(max_length=512)),
    "projectId": optional(NON_EMPTY_STRING), "workspaceDir": optional(NON_EMPTY_STRING),
    "group": optional(String()), "pinned": optional(Boolean()),
    "boardFace": optional(Enum(("chat", "dashboard"))), "hasBoard": optional(Boolean()),
    "creatorId": optional(NON_EMPTY_STRING), "ownerId": optional(NON_EMPTY_STRING),
    "ownerFirst": optional(Boolean()), "involvingMe": optional(Boolean()),
    "profileRelation": optional(AnyValue()), "spawnedBy": optional(NON_EMPTY_STRING),
    "agentId": optional(NON_EMPTY_STRING), "search": optional(String()),
    "archived": optional(AnyValue()), "kinds": optional(Array(String())),
})
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
SUBSCRIBE_PARAMS: Final = Object({}, closed=False)
MESSAGES_SUBSCRIBE_PARAMS: Final = Object({"key": required(NON_EMPTY_STRING),
                                           "agentId": optional(NON_EMPTY_STRING)})
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


def make_sessions_methods(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    runtime = gateway.runtime

    def resolve(params: Mapping[str, Any], field: str = "key") -> tuple[str, str]:
        try:
            return runtime.resolve(params.get("agentId"), params.get(field))
        except AgentRequestError as e:
            raise invalid_request(str(e)) from None

    def row(key: str, entry: Mapping[str, Any], sessions: AgentSessions) -> dict[str, Any]:
        running = runtime.runs_in(key)
        out: dict[str, Any] = {"key": key, "kind": session_kind(key),
                               "updatedAt": entry.get("updatedAt")}
        channel = channel_of_key(key) or (entry.get("origin") or {}).get("provider")
        if channel:
            out["channel"] = channel
        for field in ("label", "displayName", "subject", "chatType", "origin", "sessionId",
                      "thinkingLevel", "fastMode", "verboseLevel", "reasoningLevel",
                      "elevatedLevel", "sendPolicy", "inputTokens", "outputTokens",
                      "totalTokens", "contextTokens", "startedAt", "endedAt", "runtimeMs",
                      "lastInteractionAt", "abortedLastRun", "lastRunId", "queueMode",
                      "responseUsage", "spawnedBy", "archived", "pinned"):
            if entry.get(field) is not None:
                out[field] = entry[field]
        if entry.get("model"):
            out["model"] = entry["model"]
            if entry.get("modelProvider"):
                out["modelProvider"] = entry["modelProvider"]
        if entry.get("modelOverride"):
            out["modelOverride"] = entry["modelOverride"]
        out["status"] = "running" if running else entry.get("status", "done")
        return out

    async def sessions_list(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        view = runtime.view()
        agent_ids = [str(params["agentId"]).lower()] if params.get("agentId") else \
            list(view.agents)
        rows: list[dict[str, Any]] = []
        now = runtime.now_ms()
        path = ""
        for agent_id in agent_ids:
            if agent_id not in view.agents:
                raise invalid_request(f'unknown agent id "{params["agentId"]}"')
            sessions = runtime.store.agent(agent_id)
            await sessions.load()
            if agent_id == view.default_id or not path:
                path = sessions.index_path
            for key, entry in sessions.entries.items():
                kind = session_kind(key)
                if kind == "global" and not params.get("includeGlobal", True):
                    continue
                if kind == "unknown" and not params.get("includeUnknown"):
                    continue
                if params.get("label") and entry.get("label") != params["label"]:
                    continue
                active = params.get("activeMinutes")
                if active and now - int(entry.get("updatedAt") or 0) > int(active) * 60000:
                    continue
                search = params.get("search")
                if search and str(search).lower() not in (
                        key + " " + str(entry.get("label") or "")).lower():
                    continue
                rows.append(row(key, entry, sessions))
        rows.sort(key=lambda r: -int(r.get("updatedAt") or 0))
        if params.get("activeOnly"):
            rows = [r for r in rows if r.get("status") == "running"]
        if params.get("includeDerivedTitles") or params.get("includeLastMessage"):
            for item in rows[: int(params.get("limit") or 50)]:
                agent_id = runtime.resolve(None, item["key"])[0]
                messages = _message_records(await runtime.store.agent(agent_id).read(
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
        offset = int(params.get("offset") or 0)
        limit = params.get("limit")
        total = len(rows)
        rows = rows[offset: offset + int(limit)] if limit else rows[offset:]
        default_ref = runtime.router.catalog.default_ref() if runtime.router else None
        agent = view.agent(view.default_id)
        primary = (agent.model_primary if agent else None) or view.defaults_model
        ref = parse_model_ref(primary, default_ref.provider) if primary and default_ref else \
            default_ref
        defaults: dict[str, Any] = {"modelProvider": ref.provider if ref else None,
                                    "model": ref.model if ref else None,
                                    "contextTokens": None}
        if ref is not None and runtime.router is not None:
            try:
                info = runtime.router.catalog.get(ref.provider).model(ref.model)
                if info is not None and info.context_window:
                    defaults["contextTokens"] = info.context_window
            except Exception:
                pass
        return {"ts": now, "path": path, "count": total, "defaults": defaults,
                "sessions": rows}

    async def sessions_preview(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        keys = [str(k).strip() for k in params.get("keys") or [] if str(k).strip()][:64]
        limit = int(params.get("limit") or 12)
        max_chars = int(params.get("maxChars") or 240)
        previews = []
        for raw in keys:
            try:
                agent_id, key = runtime.resolve(None, raw)
            except AgentRequestError as e:
                raise invalid_request(str(e)) from None
            preview: dict[str, Any] = {"key": raw, "status": "missing", "items": []}
            previews.append(preview)
            sessions = runtime.store.agent(agent_id)
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
        return {"ts": runtime.now_ms(), "previews": previews}

    def forbid_webchat(call: MethodCall, verb: str) -> None:
        client = call.session.client
        if is_webchat(client) and client.get("id") != "openclaw-control-ui":
            raise invalid_request(f"webchat clients cannot {verb} sessions; use chat.send for "
                                  "session-scoped updates")

    async def sessions_patch(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        forbid_webchat(call, "patch")
        agent_id, key = resolve(params)
        sessions = runtime.store.agent(agent_id)
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
                default = runtime.router.catalog.default_ref() if runtime.router else None
                ref = parse_model_ref(str(model), default.provider if default else "local")
                changes["modelOverride"] = ref.model
                changes["providerOverride"] = ref.provider
                resolved = {"modelProvider": ref.provider, "model": ref.model}
        if "unread" in params:
            changes["lastReadAt"] = None if params["unread"] else runtime.now_ms()
        updated = await sessions.patch(key, changes)
        return {"ok": True, "path": sessions.index_path, "key": key, "entry": dict(updated),
                "resolved": resolved}

    async def sessions_reset(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        agent_id, key = resolve(params)
        sessions = runtime.store.agent(agent_id)
        await sessions.load()
        if params.get("expectedSessionId") and (sessions.get(key) or {}).get("sessionId") != \
                params["expectedSessionId"]:
            raise invalid_request("session changed (expectedSessionId does not match)")
        runtime.abort(key, reason="reset")
        settings = runtime.view().agent(agent_id)
        entry = await sessions.reset(key, cwd=settings.workspace if settings else "",
                                     reason=str(params.get("reason") or "reset"))
        runtime.forget_history(agent_id, key)
        return {"ok": True, "key": key, "entry": dict(entry)}

    async def sessions_delete(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        forbid_webchat(call, "delete")
        if not params.get("archivedOnly") and ADMIN not in call.session.scopes:
            raise invalid_request("missing scope: operator.admin")
        agent_id, key = resolve(params)
        if runtime.is_main_session(agent_id, key):
            raise invalid_request(f"Cannot delete the main session ({key}).")
        runtime.abort(key, reason="delete")
        sessions = runtime.store.agent(agent_id)
        deleted, archived = await sessions.delete(
            key, delete_transcript=params.get("deleteTranscript") is not False)
        runtime.forget_history(agent_id, key)
        return {"ok": True, "key": key, "deleted": deleted, "archived": archived}

    async def sessions_compact(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        agent_id, key = resolve(params)
        sessions = runtime.store.agent(agent_id)
        await sessions.load()
        entry = sessions.get(key)
        if not entry or not entry.get("sessionId"):
            return {"ok": True, "key": key, "compacted": False, "reason": "no sessionId"}
        if runtime.runs_in(key):
            raise invalid_request(f"Session {key} has queued work; retry after it finishes.")
        records = await sessions.read(key)
        if len(records) <= 1:
            return {"ok": True, "key": key, "compacted": False, "reason": "no transcript"}
        max_lines = params.get("maxLines")
        if max_lines is not None:
            header, body = records[0], records[1:]
            if len(body) <= int(max_lines):
                return {"ok": True, "key": key, "compacted": False, "kept": len(body)}
            kept = body[-int(max_lines):]
            kept[0] = {**kept[0], "parentId": None}
            await sessions.rewrite(key, [header, *kept])
            runtime.forget_history(agent_id, key)
            sessions.touch(key, compactionCount=int(entry.get("compactionCount") or 0) + 1)
            return {"ok": True, "key": key, "compacted": True, "kept": len(kept)}
        messages = [r for r in records if r.get("type") == "message"]
        if len(messages) <= COMPACT_KEEP_MESSAGES:
            return {"ok": True, "key": key, "compacted": False, "reason": "nothing to compact"}
        index = len(messages) - COMPACT_KEEP_MESSAGES
        while index > 0 and (messages[index].get("message") or {}).get("role") == "toolResult":
            index -= 1  # never split a tool call from its result
        first_kept = messages[index]
        older = messages[:index]
        lines = []
        for record in older:
            message = record.get("message") or {}
            if message.get("role") in ("user", "assistant"):
                text = _text(message).strip().replace("\n", " ")
                if text:
                    lines.append(f"- {message['role']}: {text[:200]}")
        summary = "Earlier conversation (compacted):\n" + "\n".join(lines[-50:])
        await sessions.append(key, [{"type": "compaction", "summary": summary,
                                     "firstKeptEntryId": first_kept.get("id"),
                                     "tokensBefore": int(entry.get("contextTokens") or 0)}])
        runtime.forget_history(agent_id, key)
        sessions.touch(key, compactionCount=int(entry.get("compactionCount") or 0) + 1)
        return {"ok": True, "key": key, "compacted": True,
                "kept": len(messages) - index}

    def subscribe(call: MethodCall) -> dict[str, Any]:
        gateway.session_subscribers.add(call.session.conn_id)
        return {"subscribed": True}

    def unsubscribe(call: MethodCall) -> dict[str, Any]:
        gateway.session_subscribers.discard(call.session.conn_id)
        return {"subscribed": False}

    def messages_subscribe(call: MethodCall) -> dict[str, Any]:
        _, key = resolve(call.param_map)
        gateway.message_subscribers.setdefault(key, set()).add(call.session.conn_id)
        return {"subscribed": True, "key": key}

    def messages_unsubscribe(call: MethodCall) -> dict[str, Any]:
        _, key = resolve(call.param_map)
        gateway.message_subscribers.get(key, set()).discard(call.session.conn_id)
        return {"subscribed": False, "key": key}

    from openclaw.auth.scopes import WRITE

    return (
        MethodSpec("sessions.list", sessions_list, READ, LIST_PARAMS),
        MethodSpec("sessions.preview", sessions_preview, READ, PREVIEW_PARAMS),
        MethodSpec("sessions.patch", sessions_patch, ADMIN, PATCH_PARAMS),
        MethodSpec("sessions.reset", sessions_reset, ADMIN, RESET_PARAMS),
        MethodSpec("sessions.delete", sessions_delete, WRITE, DELETE_PARAMS),
        MethodSpec("sessions.compact", sessions_compact, ADMIN, COMPACT_PARAMS),
        MethodSpec("sessions.subscribe", subscribe, READ, SUBSCRIBE_PARAMS),
        MethodSpec("sessions.unsubscribe", unsubscribe, READ, SUBSCRIBE_PARAMS),
        MethodSpec("sessions.messages.subscribe", messages_subscribe, READ,
                   MESSAGES_SUBSCRIBE_PARAMS),
        MethodSpec("sessions.messages.unsubscribe", messages_unsubscribe, READ,
                   MESSAGES_SUBSCRIBE_PARAMS),
    )
