"""Browser Origin policy for WebSocket connects (``origin-check``, ``ws-origin-policy``).

Applied to the browser Control UI / webchat clients, and to any client that sends an
``Origin`` header. Accepted: an allow-listed origin (``gateway.controlUi.allowedOrigins``,
``*`` allowed), an origin equal to the Host of a private/loopback/``.local``/``.ts.net``
gateway, or a loopback origin from a direct-local client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, Literal
from urllib.parse import urlsplit

import attrs

from openclaw.auth.netaddr import (
    is_loopback_host,
    is_private_or_loopback_address,
    parse_ip,
    resolve_host_name,
)

ORIGIN_NOT_ALLOWED_MESSAGE: Final = (
    "origin not allowed (open the Control UI from the gateway host or allow it in "
    "gateway.controlUi.allowedOrigins)"
)

_ORIGIN_SHAPE: Final = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\\]+/?$", re.IGNORECASE)

MatchedBy = Literal["allowlist", "host-header-fallback", "private-same-origin", "local-loopback"]


@attrs.frozen
class OriginCheck:
    ok: bool
    reason: str | None = None
    matched_by: MatchedBy | None = None


@attrs.frozen
class _ParsedOrigin:
    origin: str
    host: str
    hostname: str


def _parse_origin(raw: str | None) -> _ParsedOrigin | None:
    text = (raw or "").strip()
    if not text or text == "null" or not _ORIGIN_SHAPE.match(text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.username or parts.password or not parts.scheme or not parts.netloc:
        return None
    scheme = parts.scheme.lower()
    hostname = (parts.hostname or "").lower()
    if not hostname:
        return None
    default_port = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    host_for_url = f"[{hostname}]" if ":" in hostname else hostname
    host = host_for_url if port is None or port == default_port else f"{host_for_url}:{port}"
    return _ParsedOrigin(f"{scheme}://{host}", host, hostname)


def _is_trusted_same_origin_host(host_header: str, is_local_client: bool) -> bool:
    hostname = resolve_host_name(host_header)
    if not hostname:
        return False
    if is_loopback_host(hostname):
        return is_local_client
    if parse_ip(hostname) is not None:
        return is_private_or_loopback_address(hostname)
    return hostname.endswith(".local") or hostname.endswith(".ts.net")


def check_browser_origin(
    origin: str | None,
    *,
    request_host: str | None,
    allowed_origins: Iterable[str],
    is_local_client: bool,
    allow_host_header_fallback: bool = False,
) -> OriginCheck:
    parsed = _parse_origin(origin)
    if parsed is None:
        return OriginCheck(False, reason="origin missing or invalid")
    allowlist = {value.strip().lower() for value in allowed_origins if value and value.strip()}
    if "*" in allowlist or parsed.origin in allowlist:
        return OriginCheck(True, matched_by="allowlist")
    host = (request_host or "").strip().lower()
    if allow_host_header_fallback and host and parsed.host == host:
        return OriginCheck(True, matched_by="host-header-fallback")
    if host and parsed.host == host and _is_trusted_same_origin_host(host, is_local_client):
        return OriginCheck(True, matched_by="private-same-origin")
    if is_local_client and is_loopback_host(parsed.hostname):
        return OriginCheck(True, matched_by="local-loopback")
    return OriginCheck(False, reason="origin not allowed")
