"""The per-IP budget of unauthenticated WebSockets (``preauth-connection-budget``).

Every WebSocket upgrade on the gateway port, the control protocol's and VoiceClaw's alike,
takes a slot from one shared budget keyed by the attributed client IP before the socket is
accepted; the slot is given back once the socket has authenticated (pass or fail) or closed.
When an address already holds ``limit`` slots (default 32, env
``OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP``) the upgrade is answered with a raw HTTP 503
``Too many unauthenticated sockets`` and the connection is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from openclaw.auth.decision import classify_ingress

DEFAULT_MAX_PREAUTH_CONNECTIONS_PER_IP: Final = 32
PREAUTH_LIMIT_ENV: Final = "OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP"
BUDGET_FULL_TEXT: Final = "Too many unauthenticated sockets"
UNKNOWN_CLIENT_KEY: Final = "__openclaw_unknown_client_ip__"

__all__ = [
    "BUDGET_FULL_TEXT",
    "DEFAULT_MAX_PREAUTH_CONNECTIONS_PER_IP",
    "PREAUTH_LIMIT_ENV",
    "PreauthBudget",
    "PreauthSlot",
    "budget_key",
    "preauth_limit_from_env",
]


def preauth_limit_from_env(env: Mapping[str, str]) -> int:
    """The limit from ``OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP`` (a positive integer), or 32."""
    raw = env.get(PREAUTH_LIMIT_ENV, "").strip()
    if not raw.isdigit() or int(raw) < 1:
        return DEFAULT_MAX_PREAUTH_CONNECTIONS_PER_IP
    return int(raw)


def budget_key(remote_address: str | None, headers: Mapping[str, str],
               trusted_proxies: tuple[str, ...], *, allow_real_ip_fallback: bool = False) -> str:
    """The address a socket is counted against: the attributed client IP, or the peer itself
    for traffic that cannot be attributed (its upgrade is refused by auth later anyway)."""
    ingress = classify_ingress(remote_address, headers, trusted_proxies,
                               allow_real_ip_fallback=allow_real_ip_fallback)
    key = ingress.client_ip if ingress.kind != "unattributable-proxy" else ingress.remote_address
    return (key or "").strip() or UNKNOWN_CLIENT_KEY


class PreauthSlot:
    """One held slot; :meth:`release` gives it back once, however often it is called."""

    __slots__ = ("_budget", "key")

    def __init__(self, budget: PreauthBudget, key: str) -> None:
        self._budget: PreauthBudget | None = budget
        self.key = key

    @property
    def held(self) -> bool:
        return self._budget is not None

    def release(self) -> None:
        budget, self._budget = self._budget, None
        if budget is not None:
            budget._give_back(self.key)


class PreauthBudget:
    """Counts of unauthenticated sockets per client address (one per gateway)."""

    def __init__(self, limit: int = DEFAULT_MAX_PREAUTH_CONNECTIONS_PER_IP) -> None:
        self.limit = max(1, int(limit))
        self._counts: dict[str, int] = {}

    def held(self, key: str) -> int:
        return self._counts.get(key, 0)

    def admits(self, key: str) -> bool:
        """Would :meth:`acquire` succeed now?"""
        return self.held(key) < self.limit

    def acquire(self, key: str) -> PreauthSlot | None:
        """A slot for ``key``, or ``None`` when it already holds ``limit`` of them."""
        if not self.admits(key):
            return None
        self._counts[key] = self.held(key) + 1
        return PreauthSlot(self, key)

    def _give_back(self, key: str) -> None:
        current = self._counts.get(key, 0)
        if current <= 1:
            self._counts.pop(key, None)
        else:
            self._counts[key] = current - 1

    def __len__(self) -> int:
        """Slots held over all addresses."""
        return sum(self._counts.values())
