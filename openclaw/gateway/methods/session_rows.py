"""Session rows as the Control UI reads them (``SessionRow`` of openclaw 2026.9.6).

One projection for ``sessions.list``, ``sessions.describe``, ``chat.startup``'s
``sessionInfo`` and the ``sessions.changed`` / ``session.message`` events: a session index
entry plus what only the gateway knows (active runs, the resolved model and its context
window). This gateway has one operator identity, so every row is owned and created by the
``gateway-owner`` profile, shared, never a member list.

The model defaults (``defaults``) are the agent's primary model as the run would resolve it,
with this gateway's only thinking level (``off``) and its only runtime (``auto``, local).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from openclaw.agents.session_keys import channel_of_key, session_kind
from openclaw.providers.registry import parse_model_ref
from openclaw.providers.types import ProviderError

if TYPE_CHECKING:
    from openclaw.agents.runtime import AgentRuntime

OWNER_PROFILE: Final = "gateway-owner"
OWNER_ACTOR: Final = {"type": "human", "id": OWNER_PROFILE,
                      "identity": {"type": "profile", "id": OWNER_PROFILE}}
THINKING_LEVELS: Final = ({"id": "off", "label": "off"},)
AGENT_RUNTIME: Final = {"id": "auto", "source": "implicit", "cloudPlacementSupported": False,
                        "devicePlacementSupported": False}
FAST_AUTO_ON_SECONDS: Final = 60

# Entry fields copied to the row as they are (when set).
_COPIED: Final = ("sessionId", "label", "displayName", "subject", "chatType", "origin",
                  "thinkingLevel", "fastMode", "verboseLevel", "reasoningLevel", "elevatedLevel",
                  "sendPolicy", "inputTokens", "outputTokens", "startedAt",
                  "endedAt", "runtimeMs", "lastInteractionAt", "lastRunId", "queueMode",
                  "responseUsage", "spawnedBy", "derivedTitle", "lastMessagePreview",
                  "modelOverride", "statusNote", "icon", "color", "category")
# Row fields spread at the top level of session events (upstream spreads the row).
_EVENT_FIELDS: Final = ("sessionId", "label", "displayName", "kind", "chatType", "status",
                        "model", "modelProvider", "totalTokens", "unread", "pinned",
                        "archived", "updatedAt", "visibility", "createdActor", "owner")


class SessionRows:
    """Builds rows and defaults from the runtime's live state."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime

    def model_of(self, agent_id: str, entry: Mapping[str, Any] | None = None
                 ) -> tuple[str | None, str | None, int | None]:
        """``(provider, model, context window)`` a run of this session would use."""
        runtime = self.runtime
        router = runtime.router
        default = router.catalog.default_ref() if router is not None else None
        view = runtime.view()
        agent = view.agent(agent_id)
        entry = entry or {}
        override = entry.get("modelOverride")
        if override and "/" not in str(override) and entry.get("providerOverride"):
            override = f"{entry['providerOverride']}/{override}"
        primary = override or (agent.model_primary if agent else None) or view.defaults_model
        if default is None:
            return None, primary, None
        ref = parse_model_ref(str(primary), default.provider) if primary else default
        window: int | None = None
        try:
            info = router.catalog.get(ref.provider).model(ref.model) if router else None
            if info is not None and info.context_window:
                window = int(info.context_window)
        except ProviderError:
            window = None
        return ref.provider, ref.model, window

    def defaults(self, agent_id: str | None = None) -> dict[str, Any]:
        """``defaults`` of ``sessions.list`` / ``chat.history`` / ``chat.startup``."""
        provider, model, window = self.model_of(agent_id or self.runtime.view().default_id)
        return {
            "agentRuntime": dict(AGENT_RUNTIME),
            "contextTokens": window,
            "model": model,
            "modelProvider": provider,
            "modelSelectionTarget": "session",
            "thinkingDefault": "off",
            "thinkingLevels": [dict(level) for level in THINKING_LEVELS],
            "thinkingOptions": [level["id"] for level in THINKING_LEVELS],
        }

    def row(self, agent_id: str, key: str, entry: Mapping[str, Any] | None) -> dict[str, Any]:
        """The ``SessionRow`` of ``key`` (``entry`` None: a session not created yet)."""
        runtime = self.runtime
        entry = entry or {}
        running = [h.run_id for h in runtime.runs_in(key)]
        is_main = runtime.is_main_session(agent_id, key)
        provider, model, window = self.model_of(agent_id, entry)
        row: dict[str, Any] = {
            "key": key,
            "agentId": agent_id,
            "kind": session_kind(key),
            "classification": "main" if is_main else "session",
            "isMain": is_main,
            "isBackground": False,
            "visibility": "shared",
            "createdVia": "operator",
            "createdActor": dict(OWNER_ACTOR),
            "owner": {"actor": dict(OWNER_ACTOR)},
            "createdAt": entry.get("sessionStartedAt") or entry.get("updatedAt"),
            "updatedAt": entry.get("updatedAt"),
        }
        channel = channel_of_key(key) or (entry.get("origin") or {}).get("provider")
        if channel:
            row["channel"] = channel
        for field in _COPIED:
            if entry.get(field) is not None:
                row[field] = entry[field]
        row.update({
            "archived": bool(entry.get("archived")),
            "pinned": bool(entry.get("pinned")),
            "unread": False,
            "status": "running" if running else entry.get("status", "idle"),
            "hasActiveRun": bool(running),
            "activeRunIds": running,
            "systemSent": bool(entry.get("sessionId")),
            "abortedLastRun": bool(entry.get("abortedLastRun")),
            "model": model,
            "modelProvider": provider,
            # upstream's meaning: the model's context window, and how much of it the last
            # prompt used (the runtime records that as the entry's ``contextTokens``)
            "contextTokens": window,
            "totalTokens": int(entry.get("contextTokens") or 0),
            "totalTokensFresh": True,
            "thinkingLevels": [dict(level) for level in THINKING_LEVELS],
            "thinkingOptions": [level["id"] for level in THINKING_LEVELS],
            "thinkingDefault": "off",
            "effectiveFastMode": False,
            "effectiveFastModeSource": "default",
            "fastAutoOnSeconds": FAST_AUTO_ON_SECONDS,
            "effectiveResponseUsage": entry.get("responseUsage") or "off",
            "effectiveQueueMode": entry.get("queueMode") or runtime.view().queue_mode,
            "permissionModePending": False,
            "hasAutomation": False,
            "modelOverrideSource": "session" if entry.get("modelOverride") else None,
            "runtimeSelectionLocked": False,
            "agentRuntime": dict(AGENT_RUNTIME),
            "activeLeafEntryId": None,
            "snapshotAt": runtime.now_ms(),
        })
        return row

    def event_payload(self, agent_id: str, key: str, entry: Mapping[str, Any] | None,
                      **extra: Any) -> dict[str, Any]:
        """A ``sessions.changed`` / ``session.message`` payload: identifiers, ``extra``, the
        row under ``session`` and its main fields spread at the top level."""
        row = self.row(agent_id, key, entry)
        payload: dict[str, Any] = {"sessionKey": key, "agentId": agent_id, **extra,
                                   "session": row}
        for field in _EVENT_FIELDS:
            if field in row and field not in payload:
                payload[field] = row[field]
        payload.setdefault("ts", self.runtime.now_ms())
        return payload

    def message_payload(self, agent_id: str, key: str, record: Mapping[str, Any]
                        ) -> dict[str, Any]:
        """A ``session.message`` payload for one appended transcript record: the message
        with ``__openclaw {id, runId?}`` (clients match it with the streamed copy of the run
        and with ``chat.history``), the row, and the run that produced it."""
        entry = self.runtime.store.agent(agent_id).get(key)
        running = [h.run_id for h in self.runtime.runs_in(key) if h.state == "running"]
        message = record.get("message")
        extra: dict[str, Any] = {"messageId": record.get("id")}
        if isinstance(message, dict):
            meta: dict[str, Any] = {"id": record.get("id")}
            if running and message.get("role") != "user":
                meta["runId"] = running[0]
            message = {**message, "__openclaw": meta}
        if running:
            extra["runId"] = running[0]
        return self.event_payload(agent_id, key, entry, message=message, **extra)

