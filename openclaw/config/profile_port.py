"""The stable port of a named profile, shared by the gateway and every CLI command.

Without ``--port``, ``$OPENCLAW_GATEWAY_PORT`` or ``gateway.port``, the gateway of
``--profile <name>`` listens on a port derived from the name (FNV-1a, 20000-59999), so parallel
profiles do not collide on 18789. The clients (``status``, ``health``, ``gateway call/probe``,
``logs``, ``gateway install``, ``dashboard``...) derive the same one. Dependency-free: the CLI
imports it on every start.
"""

from __future__ import annotations

import re
from typing import Final

PROFILE_PORT_BASE: Final = 20000
PROFILE_PORT_SPAN: Final = 40000
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)


def profile_port(profile: str) -> int:
    """FNV-1a over the UTF-8 name, folded into 20000..59999."""
    value = 2166136261
    for byte in profile.encode("utf-8"):
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return PROFILE_PORT_BASE + value % PROFILE_PORT_SPAN


def named_profile(raw: str | None) -> str | None:
    """The named profile in effect (``$OPENCLAW_PROFILE``), or None for none/default/invalid."""
    text = (raw or "").strip()
    if not text or text in ("undefined", "null") or text.lower() == "default":
        return None
    return text if _NAME.match(text) else None


__all__ = ["named_profile", "profile_port"]
