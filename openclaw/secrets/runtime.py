"""The ``secrets`` service: the running gateway's immutable secrets snapshot.

Resolved once at start (``prepare_gateway``), then swapped whole by ``secrets.reload``, by a
hot config reload and by config write preflights. A failed activation never swaps: the last
known-good snapshot keeps serving and the failure names the ref (``SECRETS_RELOADER_DEGRADED``
is logged once; ``SECRETS_RELOADER_RECOVERED`` after the next success).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from openclaw.secrets.io import SecretIO
from openclaw.secrets.resolve import (
    SecretResolutionError,
    SecretsSnapshot,
    resolve_secrets,
)

log = Logger(namespace="secrets")

Listener = Callable[[SecretsSnapshot, SecretsSnapshot], None]


class SecretsService(Service):
    """Holds the active :class:`SecretsSnapshot`; ``prepare`` resolves, ``swap`` activates."""

    name = "secrets"

    def __init__(
        self,
        snapshot: SecretsSnapshot,
        *,
        io: SecretIO,
        env: Mapping[str, str],
        home: str,
        flag_token: bool = False,
        flag_password: bool = False,
    ) -> None:
        self._snapshot = snapshot
        self._io = io
        self._env = env
        self._home = home
        self._flags = {"flag_token": flag_token, "flag_password": flag_password}
        self.listeners: list[Listener] = []
        self.degraded: SecretResolutionError | None = None
        self.generation = 1

    @property
    def snapshot(self) -> SecretsSnapshot:
        return self._snapshot

    def prepare(self, document: Mapping[str, Any]) -> Deferred[SecretsSnapshot]:
        """Resolve ``document``'s active refs without activating them."""
        return resolve_secrets(document, self._env, self._io, home=self._home, **self._flags)

    def swap(self, snapshot: SecretsSnapshot) -> None:
        """Activate ``snapshot`` (one assignment: readers see old or new, never a mix)."""
        old, self._snapshot = self._snapshot, snapshot
        self.generation += 1
        if self.degraded is not None:
            self.degraded = None
            log.info("SECRETS_RELOADER_RECOVERED: secrets resolve again; snapshot swapped")
        for listener in list(self.listeners):
            try:
                listener(old, snapshot)
            except Exception:
                log.failure("secrets listener failed")

    def note_failure(self, error: SecretResolutionError, *, context: str) -> None:
        """Log a failed activation (the degraded event once, then plain warnings)."""
        if self.degraded is None:
            log.warn("SECRETS_RELOADER_DEGRADED: {context} failed; keeping the last-known-good "
                     "secrets snapshot: {reason}. Fix the secret, then run `openclaw secrets "
                     "reload`.", context=context, reason=str(error))
        else:
            log.warn("{context} failed again; still on the last-known-good secrets snapshot: "
                     "{reason}", context=context, reason=str(error))
        self.degraded = error

    async def reload(self, document: Mapping[str, Any]) -> SecretsSnapshot:
        """Re-resolve and swap, all or nothing (raises :class:`SecretResolutionError`)."""
        try:
            snapshot = await self.prepare(document)
        except SecretResolutionError as e:
            self.note_failure(e, context="secrets.reload")
            raise
        self.swap(snapshot)
        log.info("secrets reloaded ({count} active ref(s))", count=len(snapshot.refs))
        return snapshot
