"""Agent ids: the one normalisation every layer uses (``normalizeAgentId`` upstream)."""

from __future__ import annotations

import re
from typing import Final

DEFAULT_AGENT_ID: Final = "main"
_VALID_ID: Final = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$")
_INVALID: Final = re.compile(r"[^a-z0-9_-]+")


def normalize_agent_id(raw: str | None) -> str:
    """Lowercased id; other characters become ``-``, at most 64; empty means ``main``."""
    text = (raw or "").strip().lower()
    if _VALID_ID.match(text):
        return text
    text = _INVALID.sub("-", text).strip("-")[:64]
    return text or DEFAULT_AGENT_ID
