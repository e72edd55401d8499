"""Connect params schema, protocol negotiation and the ``hello-ok`` payload."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from openclaw.auth.scopes import ADMIN, ROLE_NODE
from openclaw.config.schema import OpenClawConfig
from openclaw.gateway.devices.identity import b64url_encode
from openclaw.gateway.protocol.constants import (
    ATTACHMENT_MAX_BYTES,
    ATTACHMENT_MAX_IMAGE_BYTES,
    CLIENT_IDS,
    CLIENT_MODES,
    MIN_PROBE_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    ClientMode,
)
from openclaw.gateway.protocol.errors import DetailCode, ErrorCode, GatewayError
from openclaw.gateway.protocol.schema import (
    NON_EMPTY_STRING,
    AnyValue,
    Array,
    Boolean,
    Enum,
    Integer,
    Object,
    Record,
    String,
    optional,
    required,
)
from openclaw.gateway.status.build_info import build_id

if TYPE_CHECKING:
    from openclaw.gateway.protocol.context import GatewayContext
    from openclaw.gateway.protocol.session import ClientSession

CONNECT_PARAMS_SCHEMA: Final = Object(
    {
        "minProtocol": required(Integer(minimum=1)),
        "maxProtocol": required(Integer(minimum=1)),
        "client": required(
            Object(
                {
                    "id": required(Enum(CLIENT_IDS)),
                    "displayName": optional(NON_EMPTY_STRING),
                    "version": required(NON_EMPTY_STRING),
                    "buildId": optional(String(min_length=1, max_length=96)),
                    "platform": required(NON_EMPTY_STRING),
                    "deviceFamily": optional(NON_EMPTY_STRING),
                    "modelIdentifier": optional(NON_EMPTY_STRING),
                    "timeZone": optional(String(min_length=1, max_length=64)),
                    "mode": required(Enum(CLIENT_MODES)),
                    "instanceId": optional(NON_EMPTY_STRING),
                }
            )
        ),
        "caps": optional(Array(NON_EMPTY_STRING)),
        "commands": optional(Array(NON_EMPTY_STRING)),
        "computerUse": optional(AnyValue()),
        "workerRuns": optional(AnyValue()),
        "permissions": optional(Record(Boolean())),
        "pathEnv": optional(String()),
        "role": optional(NON_EMPTY_STRING),
        "scopes": optional(Array(NON_EMPTY_STRING)),
        "modelCatalog": optional(AnyValue()),
        "device": optional(
            Object(
                {
                    "id": required(NON_EMPTY_STRING),
                    "publicKey": required(NON_EMPTY_STRING),
                    "signature": required(NON_EMPTY_STRING),
                    "signedAt": required(Integer(minimum=0)),
                    "nonce": required(NON_EMPTY_STRING),
                }
            )
        ),
        "auth": optional(
            Object(
                {
                    name: optional(String())
                    for name in (
                        "token",
                        "bootstrapToken",
                        "deviceToken",
                        "password",
                        "approvalRuntimeToken",
                        "agentRuntimeIdentityToken",
                    )
                }
            )
        ),
        "locale": optional(String()),
        "userAgent": optional(String()),
    }
)


SESSION_VISIBILITIES: Final = ("shared", "read-only", "suggest", "draft")
HELLO_HEALTH_OMITS: Final = frozenset({"modelRuntime"})


def negotiate_protocol(params: Mapping[str, Any]) -> GatewayError | None:
    """v4 for everyone; v3 for node-role node clients and probes (``connect-admission``)."""
    low, high = int(params["minProtocol"]), int(params["maxProtocol"])
    mode = params["client"]["mode"]
    current = high >= PROTOCOL_VERSION and low <= PROTOCOL_VERSION
    probe = (
        mode == ClientMode.PROBE and high >= MIN_PROBE_PROTOCOL_VERSION and low <= PROTOCOL_VERSION
    )
    legacy_node = (
        params.get("role") == ROLE_NODE and mode == ClientMode.NODE and high >= 3 and low <= 3
    )
    if current or probe or legacy_node:
        return None
    return GatewayError(
        ErrorCode.INVALID_REQUEST,
        "protocol mismatch",
        details={
            "code": DetailCode.PROTOCOL_MISMATCH,
            "clientMinProtocol": low,
            "clientMaxProtocol": high,
            "expectedProtocol": PROTOCOL_VERSION,
            "minimumProbeProtocol": MIN_PROBE_PROTOCOL_VERSION,
        },
    )


def recovery_scope(material: Sequence[str]) -> str:
    """Opaque, stable per-credential value (``sha256Base64Url(JSON.stringify(material))``)."""
    digest = hashlib.sha256(json.dumps(list(material), separators=(",", ":")).encode()).digest()
    return b64url_encode(digest)


def build_snapshot(context: GatewayContext, session: ClientSession) -> dict[str, Any]:
    """``hello-ok.snapshot``; config path, state dir and auth mode only for admins."""
    snapshot: dict[str, Any] = {
        "suspension": {"phase": "accepting"},
        "presence": context.presence.list(),
        # The health summary as upstream's hello carries it (without ``modelRuntime``,
        # which only the ``health`` method reports).
        "health": {k: v for k, v in (context.health.summary or {}).items()
                   if k not in HELLO_HEALTH_OMITS},
        "stateVersion": {
            "presence": context.presence.version_counter,
            "health": context.health.version,
        },
        "uptimeMs": context.uptime_ms(),
    }
    config_snapshot = context.get_config()
    snapshot["appliedConfigHash"] = config_snapshot.hash
    snapshot["sessionDefaults"] = session_defaults(config_snapshot.config)
    if ADMIN in session.scopes:
        if config_snapshot.path:
            snapshot["configPath"] = str(config_snapshot.path)
        snapshot["stateDir"] = str(context.state_dir)
        snapshot["authMode"] = context.auth.mode
    return snapshot


def session_defaults(config: OpenClawConfig) -> dict[str, Any]:
    """``hello-ok.snapshot.sessionDefaults``."""
    agents = config.agents
    default_id = agents.default_agent_id
    ownership = agents.ownership_kind
    default_model = agents.defaults.model.primary if agents.defaults.model else None
    default_entry = agents.default_agent
    main_key = config.session.main_key.strip().lower() or "main"
    is_global = config.session.scope == "global"
    return {
        "defaultAgentId": default_id,
        "modelConfigured": bool(default_entry.model and default_entry.model.primary)
        or bool(default_model),
        "ownership": ownership,
        "selectionRequired": ownership == "explicit",
        "mainKey": main_key,
        "mainSessionKey": "global" if is_global else f"agent:{default_id}:{main_key}",
        "scope": "global" if is_global else "per-sender",
    }


def control_ui_build_source(config: OpenClawConfig) -> str:
    """``configured`` when ``gateway.controlUi.root`` points at own assets, else ``bundled``."""
    return "configured" if config.gateway.control_ui.root else "bundled"


def build_hello_ok(
    context: GatewayContext,
    session: ClientSession,
    *,
    methods: Sequence[str],
    device_token: Mapping[str, Any] | None,
    recovery: str | None,
) -> dict[str, Any]:
    auth: dict[str, Any] = {}
    if session.auth_method is not None:
        auth["method"] = session.auth_method
    auth["role"] = session.role
    auth["scopes"] = list(session.scopes)
    if recovery is not None:
        auth["recoveryScope"] = recovery
        # The UI may re-key its locally stored recovery entries to this scope.
        auth["recoveryMigrationAllowed"] = True
    if device_token is not None:
        auth["deviceToken"] = device_token["token"]
        auth["issuedAtMs"] = device_token.get("rotatedAtMs") or device_token.get("createdAtMs")
    policy = context.policy
    return {
        "type": "hello-ok",
        "protocol": PROTOCOL_VERSION,
        "server": {
            "version": context.version,
            "buildId": build_id(context.version),
            "bootId": context.boot_id,
            "controlUiBuildSource": control_ui_build_source(context.get_config().config),
            "connId": session.conn_id,
        },
        "features": {
            "methods": list(methods),
            "events": context.events.advertised_events,
            "capabilities": list(context.capabilities),
        },
        "snapshot": build_snapshot(context, session),
        # No plugin widgets or link readers here; no ``pluginSurfaceUrls`` either (no canvas
        # host: a URL would make the Control UI poll ``plugin.surface.refresh``).
        "controlUiWidgetKinds": [],
        "controlUiLinkReaders": [],
        "auth": auth,
        "policy": {
            "maxPayload": policy.max_payload,
            "maxBufferedBytes": policy.max_buffered_bytes,
            "tickIntervalMs": policy.tick_interval_ms,
            "attachments": {
                "maxBytes": ATTACHMENT_MAX_BYTES,
                "maxImageBytes": ATTACHMENT_MAX_IMAGE_BYTES,
            },
            # One operator identity: every sharing mode is offered, no per-person sharing.
            "allowedSessionVisibilities": list(SESSION_VISIBILITIES),
            "hasMultipleSessionSharingIdentities": False,
        },
    }
