"""Time zones by name, as the config and the RPC params give them (IANA names; ``UTC``/``Z``
and their aliases without a tz database lookup)."""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_of(name: str | None) -> tzinfo | None:
    """The zone called ``name``, or None when it is empty or unknown."""
    if not name:
        return None
    if name.upper() in ("UTC", "Z", "ETC/UTC", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
