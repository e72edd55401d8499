"""``talk.catalog``: the voice ("talk") providers this gateway offers.

None yet: the modes, transports and brains are upstream's vocabulary, every provider list is
empty and nothing is ready, which is how the Control UI's talk controls learn that voice is
not available here.
"""

from __future__ import annotations

from typing import Any, Final

from openclaw.auth.scopes import READ
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec

TALK_MODES: Final = ("realtime", "stt-tts", "transcription")
TALK_TRANSPORTS: Final = ("webrtc", "provider-websocket", "gateway-relay", "managed-room")
TALK_BRAINS: Final = ("agent-consult", "direct-tools", "none")


def talk_catalog(call: MethodCall) -> dict[str, Any]:
    return {
        "modes": list(TALK_MODES),
        "transports": list(TALK_TRANSPORTS),
        "brains": list(TALK_BRAINS),
        "speech": {"providers": [], "ready": False},
        "transcription": {"providers": [], "ready": False},
        "realtime": {"providers": [], "ready": False},
    }


TALK_METHODS: Final = (
    MethodSpec("talk.catalog", talk_catalog, READ, params_schema("talk.catalog")),
)
