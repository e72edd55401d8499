"""Address helpers for loopback, proxy and Host/Origin rules (``gateway/net.ts``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")


def parse_ip(raw: str | None) -> IPAddress | None:
    """Parse an IP literal (brackets, an IPv4 ``:port`` and IPv4-mapped IPv6 unwrapped)."""
    if not raw:
        return None
    text = raw.strip()
    if text.startswith("["):
        end = text.find("]")
        if end != -1:
            text = text[1:end]
    elif text.count(":") == 1 and "." in text:
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalize_ip(raw: str | None) -> str | None:
    address = parse_ip(raw)
    return str(address) if address is not None else None


def is_loopback_address(raw: str | None) -> bool:
    address = parse_ip(raw)
    return address is not None and address.is_loopback


def is_private_or_loopback_address(raw: str | None) -> bool:
    address = parse_ip(raw)
    if address is None:
        return False
    if address.is_loopback or address.is_private or address.is_link_local:
        return True
    return isinstance(address, ipaddress.IPv4Address) and address in _CGNAT


def ip_in_cidr(raw: str | None, cidr: str) -> bool:
    address = parse_ip(raw)
    candidate = cidr.strip()
    if address is None or not candidate:
        return False
    try:
        network = ipaddress.ip_network(candidate, strict=False)
    except ValueError:
        other = parse_ip(candidate)
        return other is not None and other == address
    return address.version == network.version and address in network


def is_trusted_proxy_address(raw: str | None, trusted_proxies: Iterable[str]) -> bool:
    return any(ip_in_cidr(raw, proxy) for proxy in trusted_proxies)


def resolve_host_name(host_header: str | None) -> str:
    """Hostname part of a Host header, lowercase, brackets stripped."""
    host = (host_header or "").strip().lower()
    if not host:
        return ""
    if host.startswith("["):
        end = host.find("]")
        if end != -1:
            return host[1:end]
    if parse_ip(host) is not None and host.count(":") > 1:
        return host
    return host.split(":", 1)[0]


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    name = host.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return is_loopback_address(name)


def is_private_or_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    name = host.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    address = parse_ip(name)
    if address is None or not is_private_or_loopback_address(name):
        return False
    return not (isinstance(address, ipaddress.IPv6Address) and (address.is_multicast
                                                                 or address.is_unspecified))


def is_localish_host(host_header: str | None) -> bool:
    host = resolve_host_name(host_header)
    return bool(host) and (is_loopback_host(host) or host.endswith(".ts.net"))


def has_forwarded_headers(headers: Mapping[str, str]) -> bool:
    """Proxy headers make a loopback peer ineligible for direct-local treatment."""
    return any(
        name == "forwarded" or name == "x-real-ip" or name.startswith("x-forwarded-")
        for name in headers
    )


def resolve_forwarded_client_ip(
    forwarded_for: str | None, trusted_proxies: Iterable[str]
) -> str | None:
    """Right-most X-Forwarded-For hop that is neither loopback nor a trusted proxy."""
    proxies = list(trusted_proxies)
    if not proxies or not forwarded_for:
        return None
    chain = [ip for ip in (normalize_ip(part) for part in forwarded_for.split(",")) if ip]
    for hop in reversed(chain):
        if is_loopback_address(hop):
            continue
        if not is_trusted_proxy_address(hop, proxies):
            return hop
    return None


def resolve_client_ip(
    remote_addr: str | None,
    headers: Mapping[str, str],
    trusted_proxies: Iterable[str],
    *,
    allow_real_ip_fallback: bool = False,
) -> str | None:
    """Client address: the peer, or the forwarded client when the peer is a trusted proxy."""
    proxies = list(trusted_proxies)
    remote = normalize_ip(remote_addr)
    if remote is None:
        return None
    if not is_trusted_proxy_address(remote, proxies):
        return remote
    forwarded = resolve_forwarded_client_ip(headers.get("x-forwarded-for"), proxies)
    if forwarded:
        return forwarded
    if allow_real_ip_fallback:
        return normalize_ip(headers.get("x-real-ip"))
    return None
