"""System presence: who is connected (``system-presence``, ``presence`` events).

The gateway's own entry (``mode: "gateway"``, ``reason: "self"``) is always listed. Client
entries are keyed case-insensitively (connection id for operators, device id for nodes),
expire after 5 minutes without refresh, at most 200 are kept, newest first. Ephemeral
clients (CLI, backend, probe) are not tracked, like the reference gateway.
"""

from __future__ import annotations

import platform
import socket
from collections.abc import Sequence
from typing import Any, Final

from twisted.internet.interfaces import IReactorTime

TTL_MS: Final = 300_000
MAX_ENTRIES: Final = 200

Entry = dict[str, Any]


def _self_platform() -> tuple[str, str]:
    system = platform.system().lower()
    release = platform.release()
    if system == "darwin":
        return f"macos {platform.mac_ver()[0]}", "Mac"
    if system == "windows":
        return f"windows {release}", "Windows"
    if system == "linux":
        return f"linux {release}", "Linux"
    return f"{system} {release}", system


def _primary_ipv4() -> str | None:
    """Best effort LAN address without any network traffic (UDP connect sends nothing)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


class PresenceRegistry:
    """Presence entries plus the ``presence`` state version counter."""

    def __init__(
        self,
        clock: IReactorTime,
        *,
        version: str,
        instance_id: str,
        host: str | None = None,
        ip: str | None = None,
    ) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[Entry, float]] = {}
        self.version_counter = 1
        host_name = host or socket.gethostname()
        address = ip if ip is not None else _primary_ipv4()
        platform_label, family = _self_platform()
        text = f"Gateway: {host_name}{f' ({address})' if address else ''} · app {version} · " \
               "mode gateway · reason self"
        self._self: Entry = {
            "host": host_name,
            **({"ip": address} if address else {}),
            "version": version,
            "platform": platform_label,
            "deviceFamily": family,
            "mode": "gateway",
            "reason": "self",
            "instanceId": instance_id,
            "text": text,
        }

    def _now_ms(self) -> int:
        return int(self._clock.seconds() * 1000)

    def bump_version(self) -> int:
        self.version_counter += 1
        return self.version_counter

    def upsert(self, key: str, presence: Entry) -> None:
        normalized = key.strip().lower() or socket.gethostname().lower()
        existing = self._entries.get(normalized, ({}, 0.0))[0]
        merged: Entry = {**existing, **{k: v for k, v in presence.items() if v is not None}}
        for list_key in ("roles", "scopes"):
            values = [*existing.get(list_key, []), *presence.get(list_key, [])]
            unique = list(dict.fromkeys(v for v in values if isinstance(v, str) and v.strip()))
            if unique:
                merged[list_key] = unique
            else:
                merged.pop(list_key, None)
        merged["ts"] = self._now_ms()
        if not merged.get("text"):
            merged["text"] = (
                f"Node: {merged.get('host', 'unknown')} · mode {merged.get('mode', 'unknown')}"
            )
        self._entries[normalized] = (merged, self._clock.seconds())

    def get(self, key: str) -> Entry | None:
        """The entry stored under ``key`` (None when absent or expired)."""
        found = self._entries.get(key.strip().lower())
        return dict(found[0]) if found is not None else None

    def touch(self, key: str) -> bool:
        normalized = key.strip().lower()
        existing = self._entries.get(normalized)
        if existing is None:
            return False
        entry = {**existing[0], "ts": self._now_ms()}
        self._entries[normalized] = (entry, self._clock.seconds())
        return True

    def list(self) -> list[Entry]:
        now = self._clock.seconds()
        for key, (_, seen) in list(self._entries.items()):
            if (now - seen) * 1000 > TTL_MS:
                del self._entries[key]
        if len(self._entries) > MAX_ENTRIES - 1:
            oldest = sorted(self._entries.items(), key=lambda item: item[1][1])
            for key, _ in oldest[: len(self._entries) - (MAX_ENTRIES - 1)]:
                del self._entries[key]
        entries: list[Entry] = [dict(entry) for entry, _ in self._entries.values()]
        entries.append({**self._self, "ts": self._now_ms()})
        entries.sort(key=lambda entry: entry.get("ts", 0), reverse=True)
        return entries

    def keys(self) -> Sequence[str]:
        return list(self._entries)
