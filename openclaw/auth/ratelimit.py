"""Failed-authentication rate limiting (``auth-rate-limit`` of the real gateway).

A sliding window of failure timestamps per ``scope:client-ip``. After ``max_attempts``
failures inside ``window_ms`` the key is locked for ``lockout_ms``. Loopback clients are
exempt from lock-out by default (a local CLI never locks itself out) but each failure still
costs them an escalating delay (250 ms doubling up to 5 s), which is why a wrong token from
loopback is answered after ~250 ms.
"""

from __future__ import annotations

import math
from typing import Final, Protocol

import attrs
from twisted.internet.interfaces import IReactorTime

from openclaw.auth.netaddr import is_loopback_address, normalize_ip

SCOPE_SHARED_SECRET: Final = "shared-secret"
SCOPE_DEVICE_TOKEN: Final = "device-token"

LOOPBACK_DELAY_BASE_MS: Final = 250
LOOPBACK_DELAY_MAX_MS: Final = 5_000
_LOOPBACK_HISTORY_LIMIT: Final = (
    math.ceil(math.log2(LOOPBACK_DELAY_MAX_MS / LOOPBACK_DELAY_BASE_MS)) + 1
)
DEFAULT_MAX_ENTRIES: Final = 10_000


@attrs.frozen
class RateLimitSettings:
    """``gateway.auth.rateLimit``."""

    max_attempts: int = 10
    window_ms: int = 60_000
    lockout_ms: int = 300_000
    exempt_loopback: bool = True


@attrs.frozen
class RateLimitCheck:
    allowed: bool
    remaining: int
    retry_after_ms: int


class RateLimitObserver(Protocol):
    """Told of recorded failures, lock-outs and refusals (the gateway's metrics)."""

    def auth_failed(self, scope: str) -> None: ...

    def locked_out(self, scope: str) -> None: ...

    def refused(self, scope: str) -> None: ...


@attrs.define
class _Entry:
    attempts: list[float] = attrs.Factory(list)
    locked_until: float | None = None


class AuthRateLimiter:
    """In-memory limiter; times come from the injected clock (milliseconds)."""

    def __init__(
        self,
        clock: IReactorTime,
        settings: RateLimitSettings | None = None,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._clock = clock
        self.settings = settings or RateLimitSettings()
        self._max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        self.observer: RateLimitObserver | None = None

    def _now_ms(self) -> float:
        return self._clock.seconds() * 1000.0

    def _key(self, client_ip: str | None, scope: str) -> tuple[str, str]:
        ip = normalize_ip(client_ip or "") or (client_ip or "unknown")
        return f"{scope or 'default'}:{ip}", ip

    def is_exempt(self, client_ip: str | None) -> bool:
        return self.settings.exempt_loopback and is_loopback_address(client_ip or "")

    def _refresh(self, entry: _Entry, now: float) -> None:
        if entry.locked_until is not None and now >= entry.locked_until:
            entry.locked_until = None
            entry.attempts = []
        cutoff = now - self.settings.window_ms
        entry.attempts = [ts for ts in entry.attempts if ts > cutoff]

    def check(self, client_ip: str | None, scope: str) -> RateLimitCheck:
        key, ip = self._key(client_ip, scope)
        max_attempts = self.settings.max_attempts
        if self.is_exempt(ip):
            return RateLimitCheck(True, max_attempts, 0)
        entry = self._entries.get(key)
        if entry is None:
            return RateLimitCheck(True, max_attempts, 0)
        now = self._now_ms()
        self._refresh(entry, now)
        if entry.locked_until is None and len(entry.attempts) >= max_attempts:
            entry.locked_until = now + self.settings.lockout_ms
            if self.observer is not None:
                self.observer.locked_out(scope)
        if entry.locked_until is not None and now < entry.locked_until:
            if self.observer is not None:
                self.observer.refused(scope)
            return RateLimitCheck(False, 0, math.ceil(entry.locked_until - now))
        remaining = max(0, max_attempts - len(entry.attempts))
        return RateLimitCheck(remaining > 0, remaining, 0)

    def record_failure(self, client_ip: str | None, scope: str) -> None:
        if self.observer is not None:
            self.observer.auth_failed(scope)
        key, ip = self._key(client_ip, scope)
        exempt = self.is_exempt(ip)
        now = self._now_ms()
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._max_entries:
                self.prune()
                if len(self._entries) >= self._max_entries:
                    return
            entry = _Entry()
            self._entries[key] = entry
        if not exempt and entry.locked_until is not None and now < entry.locked_until:
            return
        self._refresh(entry, now)
        entry.attempts.append(now)
        if exempt:
            del entry.attempts[:-_LOOPBACK_HISTORY_LIMIT]
        elif len(entry.attempts) >= self.settings.max_attempts:
            entry.locked_until = now + self.settings.lockout_ms
            if self.observer is not None:
                self.observer.locked_out(scope)

    def record_failure_delay(self, client_ip: str | None, scope: str) -> float:
        """Record a failure; return the penalty delay (seconds) to wait before answering."""
        self.record_failure(client_ip, scope)
        key, ip = self._key(client_ip, scope)
        if not self.is_exempt(ip):
            return 0.0
        entry = self._entries.get(key)
        failures = len(entry.attempts) if entry else 1
        penalty_ms = min(
            LOOPBACK_DELAY_BASE_MS * 2 ** min(max(failures - 1, 0), 30), LOOPBACK_DELAY_MAX_MS
        )
        return float(penalty_ms) / 1000.0

    def reset(self, client_ip: str | None, scope: str) -> None:
        key, _ = self._key(client_ip, scope)
        self._entries.pop(key, None)

    def prune(self) -> None:
        now = self._now_ms()
        for key, entry in list(self._entries.items()):
            if entry.locked_until is not None and now < entry.locked_until:
                continue
            self._refresh(entry, now)
            if not entry.attempts:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
