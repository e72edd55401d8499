"""Wire constants of the OpenClaw gateway protocol (v4, v3 accepted from nodes and probes).

Values are those of openclaw 2026.9.6 (``server-constants``, ``client-info``,
``connect-admission``); see ``docs/protocol.md`` for where each comes from.
"""

from __future__ import annotations

from typing import Final

PROTOCOL_VERSION: Final = 4
MIN_NODE_PROTOCOL_VERSION: Final = 3
MIN_PROBE_PROTOCOL_VERSION: Final = 3

MAX_PREAUTH_PAYLOAD_BYTES: Final = 64 * 1024
MAX_PAYLOAD_BYTES: Final = 25 * 1024 * 1024
MAX_BUFFERED_BYTES: Final = 50 * 1024 * 1024
TICK_INTERVAL_MS: Final = 30_000
HEALTH_REFRESH_INTERVAL_MS: Final = 60_000
HANDSHAKE_TIMEOUT_MS: Final = 15_000
DEVICE_SIGNATURE_SKEW_MS: Final = 120_000
MAX_QUEUED_HANDSHAKE_FRAMES: Final = 15
UNAUTHORIZED_FLOOD_CLOSE_AFTER: Final = 10
CLOSE_REASON_MAX_BYTES: Final = 120

# Attachment limits advertised in hello-ok.policy (the real gateway's defaults).
ATTACHMENT_MAX_BYTES: Final = 19_464_192
ATTACHMENT_MAX_IMAGE_BYTES: Final = 6_291_456

# WebSocket close codes the gateway uses.
CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_POLICY_VIOLATION: Final = 1008
CLOSE_MESSAGE_TOO_BIG: Final = 1009
CLOSE_SERVICE_RESTART: Final = 1012
CLOSE_TRY_AGAIN_LATER: Final = 1013
CLOSE_AUTH_CHANGED: Final = 4001


class ClientId:
    """Closed set of ``connect.params.client.id`` values (``GATEWAY_CLIENT_IDS``)."""

    WEBCHAT_UI: Final = "webchat-ui"
    CONTROL_UI: Final = "openclaw-control-ui"
    BROWSER_COPILOT: Final = "openclaw-browser-copilot"
    TUI: Final = "openclaw-tui"
    WEBCHAT: Final = "webchat"
    CLI: Final = "cli"
    GATEWAY_CLIENT: Final = "gateway-client"
    MACOS_APP: Final = "openclaw-macos"
    LINUX_APP: Final = "openclaw-linux"
    IOS_APP: Final = "openclaw-ios"
    WATCHOS_APP: Final = "openclaw-watchos"
    ANDROID_APP: Final = "openclaw-android"
    NODE_HOST: Final = "node-host"
    WORKER: Final = "openclaw-worker"
    TEST: Final = "test"
    FINGERPRINT: Final = "fingerprint"
    PROBE: Final = "openclaw-probe"


class ClientMode:
    """Closed set of ``connect.params.client.mode`` values (``GATEWAY_CLIENT_MODES``)."""

    WEBCHAT: Final = "webchat"
    CLI: Final = "cli"
    UI: Final = "ui"
    BACKEND: Final = "backend"
    NODE: Final = "node"
    WORKER: Final = "worker"
    PROBE: Final = "probe"
    TEST: Final = "test"


CLIENT_IDS: Final = tuple(
    value for name, value in vars(ClientId).items() if name.isupper() and isinstance(value, str)
)
CLIENT_MODES: Final = tuple(
    value for name, value in vars(ClientMode).items() if name.isupper() and isinstance(value, str)
)
