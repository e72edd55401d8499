"""Secrets: SecretRef resolution (env, file, exec) into an immutable runtime snapshot.

* :func:`resolve_secrets_sync` -- start-up (before the reactor runs) and worker threads;
* :func:`resolve_secrets` with :class:`ReactorSecretIO` -- at runtime, never blocking the
  reactor (files in the thread pool, resolver commands via ``spawnProcess`` + timeouts);
* :class:`SecretsService` -- the ``secrets`` child of the gateway tree: ``snapshot``,
  ``prepare``, ``swap``, ``reload`` (all or nothing, last-known-good kept on failure).

Consumers read a value by config path: ``gateway.secrets.snapshot.value(
"models.providers.openai.apiKey")`` or ``snapshot.resolve_input(raw_value, path)``.
"""

from __future__ import annotations

from openclaw.secrets.io import ReactorSecretIO, SecretIO, SecretIOError, SyncSecretIO
from openclaw.secrets.refs import RefSite, SecretConfigError, collect_ref_sites
from openclaw.secrets.resolve import (
    EMPTY_SNAPSHOT,
    SecretFailure,
    SecretResolutionError,
    SecretsSnapshot,
    resolve_secrets,
    resolve_secrets_sync,
)
from openclaw.secrets.runtime import SecretsService

__all__ = [
    "EMPTY_SNAPSHOT",
    "ReactorSecretIO",
    "RefSite",
    "SecretConfigError",
    "SecretFailure",
    "SecretIO",
    "SecretIOError",
    "SecretResolutionError",
    "SecretsService",
    "SecretsSnapshot",
    "SyncSecretIO",
    "collect_ref_sites",
    "resolve_secrets",
    "resolve_secrets_sync",
]
