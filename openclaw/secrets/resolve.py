"""Resolve every active SecretRef of a config document into an immutable snapshot.

All or nothing: one failing ref fails the whole resolution with a
:class:`SecretResolutionError` naming every failed path and ref, so a caller keeps its
last-known-good snapshot. Refs are grouped per provider: a file is read once, a resolver
command runs once with every id it must answer (``{"protocolVersion":1,"provider":...,
"ids":[...]}`` on stdin).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred

from openclaw.config.frozen import FrozenDict
from openclaw.config.schema import REDACTED_SENTINEL, SecretRef
from openclaw.secrets.io import SecretIO, SyncSecretIO
from openclaw.secrets.refs import (
    EnvProviderConfig,
    ExecProviderConfig,
    FileProviderConfig,
    ProviderConfig,
    RefSite,
    SecretConfigError,
    collect_ref_sites,
    parse_providers,
    provider_for,
)

__all__ = [
    "EMPTY_SNAPSHOT",
    "SecretFailure",
    "SecretResolutionError",
    "SecretsSnapshot",
    "resolve_secrets",
    "resolve_secrets_sync",
]

_MISSING: Final = object()


@attrs.frozen
class SecretFailure:
    path: str
    ref: str  # "source:provider:id", or "" for a provider-level problem
    message: str

    def describe(self) -> str:
        return f"{self.path} ({self.ref}): {self.message}" if self.ref else (
            f"{self.path}: {self.message}")


class SecretResolutionError(Exception):
    """At least one active SecretRef could not be resolved; nothing was swapped."""

    def __init__(self, failures: list[SecretFailure]) -> None:
        self.failures = tuple(failures)
        super().__init__("; ".join(f.describe() for f in self.failures))


@attrs.frozen
class SecretsSnapshot:
    """Resolved values of the active refs, by config path (never logged, never sent)."""

    values: Mapping[str, str] = attrs.field(factory=FrozenDict, repr=False)
    refs: Mapping[str, SecretRef] = attrs.field(factory=FrozenDict)
    inactive: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    resolved_at: float = 0.0

    def value(self, path: str) -> str | None:
        return self.values.get(path)

    def secret_values(self) -> tuple[str, ...]:
        return tuple(self.values.values())

    def resolve_input(self, value: Any, path: str) -> str | None:
        """A SecretInput field's effective text: a literal as is, a ref from the snapshot."""
        if value is None or isinstance(value, str):
            return value
        return self.values.get(path)


EMPTY_SNAPSHOT: Final = SecretsSnapshot()


def _pointer(document: Any, pointer: str) -> Any:
    node = document
    for raw in pointer.split("/")[1:]:
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


async def _resolve_file(alias: str, provider: FileProviderConfig, refs: list[RefSite],
                        io: SecretIO, out: dict[str, str], failures: list[SecretFailure]
                        ) -> None:
    try:
        data = await io.read_file(alias, provider)
    except Exception as e:
        for site in refs:
            failures.append(SecretFailure(site.path, site.ref.key(), str(e)))
        return
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    if provider.mode == "singleValue":
        for site in refs:
            if site.ref.id != "value":
                failures.append(SecretFailure(site.path, site.ref.key(),
                                              f'singleValue file provider "{alias}" expects '
                                              'ref id "value".'))
            else:
                out[site.path] = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
        return
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        for site in refs:
            failures.append(SecretFailure(site.path, site.ref.key(),
                                          f'File provider "{alias}" payload is not a JSON '
                                          "object."))
        return
    for site in refs:
        found = _pointer(payload, site.ref.id)
        if found is _MISSING:
            failures.append(SecretFailure(site.path, site.ref.key(),
                                          f'JSON pointer "{site.ref.id}" not found in '
                                          f'file provider "{alias}".'))
        else:
            out[site.path] = found


def _parse_exec(alias: str, stdout: bytes, ids: list[str], json_only: bool
                ) -> tuple[dict[str, Any], dict[str, str]]:
    text = stdout.decode("utf-8", "replace").strip()
    if not text:
        raise ValueError(f'Exec provider "{alias}" returned empty stdout.')
    try:
        parsed = json.loads(text)
    except ValueError:
        if not json_only and len(ids) == 1:
            return {ids[0]: text}, {}
        raise ValueError(f'Exec provider "{alias}" returned invalid JSON.') from None
    if not isinstance(parsed, dict):
        if not json_only and len(ids) == 1 and isinstance(parsed, str):
            return {ids[0]: parsed}, {}
        raise ValueError(f'Exec provider "{alias}" response must be an object.')
    if parsed.get("protocolVersion") != 1:
        raise ValueError(f'Exec provider "{alias}" protocolVersion must be 1.')
    values = parsed.get("values")
    if not isinstance(values, dict):
        raise ValueError(f'Exec provider "{alias}" response missing "values".')
    raw_errors = parsed.get("errors")
    errors: dict[str, Any] = raw_errors if isinstance(raw_errors, dict) else {}
    found: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for ref_id in ids:
        if ref_id in errors:
            entry = errors[ref_id]
            code = entry.get("code") if isinstance(entry, dict) else None
            safe = f" ({code})" if code in ("NOT_FOUND", "AMBIGUOUS_DUPLICATE_KEY") else ""
            failed[ref_id] = f'Exec provider "{alias}" failed for id "{ref_id}"{safe}.'
        elif ref_id not in values:
            failed[ref_id] = f'Exec provider "{alias}" response missing id "{ref_id}".'
        else:
            found[ref_id] = values[ref_id]
    return found, failed


async def _resolve_exec(alias: str, provider: ExecProviderConfig, refs: list[RefSite],
                        io: SecretIO, env: Mapping[str, str], out: dict[str, str],
                        failures: list[SecretFailure]) -> None:
    ids = sorted({site.ref.id for site in refs})
    request = json.dumps({"protocolVersion": 1, "provider": alias, "ids": ids}).encode()
    try:
        result = await io.run_exec(alias, provider, request, env)
        if result.termination == "timeout":
            raise ValueError(f'Exec provider "{alias}" timed out after {provider.timeout_ms}ms.')
        if result.termination == "no-output-timeout":
            raise ValueError(f'Exec provider "{alias}" produced no output for '
                             f"{provider.no_output_timeout_ms}ms.")
        if result.termination == "output-limit":
            raise ValueError(f"Exec provider output exceeded maxOutputBytes "
                             f"({provider.max_output_bytes}).")
        if result.code != 0:
            raise ValueError(f'Exec provider "{alias}" exited with code {result.code}.')
        found, failed = _parse_exec(alias, result.stdout, ids, provider.json_only)
    except Exception as e:
        for site in refs:
            failures.append(SecretFailure(site.path, site.ref.key(), str(e)))
        return
    for site in refs:
        if site.ref.id in failed:
            failures.append(SecretFailure(site.path, site.ref.key(), failed[site.ref.id]))
        else:
            out[site.path] = found[site.ref.id]


async def _resolve(document: Mapping[str, Any], env: Mapping[str, str], io: SecretIO,
                   home: str, flag_token: bool, flag_password: bool) -> SecretsSnapshot:
    failures: list[SecretFailure] = []
    try:
        sites = collect_ref_sites(document, flag_token=flag_token, flag_password=flag_password)
        providers = parse_providers(document, home)
    except SecretConfigError as e:
        raise SecretResolutionError([SecretFailure(e.path, "", e.message)]) from None
    groups: dict[str, tuple[ProviderConfig, list[RefSite]]] = {}
    for site in sites:
        if not site.active:
            continue
        try:
            provider = provider_for(site.ref, providers, document)
        except LookupError as e:
            failures.append(SecretFailure(site.path, site.ref.key(), str(e)))
            continue
        key = f"{site.ref.source}:{site.ref.provider}"
        groups.setdefault(key, (provider, []))[1].append(site)
    out: dict[str, Any] = {}
    for key, (provider, group) in groups.items():
        alias = key.split(":", 1)[1]
        if isinstance(provider, EnvProviderConfig):
            for site in group:
                if provider.allowlist is not None and site.ref.id not in provider.allowlist:
                    failures.append(SecretFailure(
                        site.path, site.ref.key(),
                        f'Environment variable "{site.ref.id}" is not allowlisted in '
                        f"secrets.providers.{alias}.allowlist."))
                elif not env.get(site.ref.id):
                    failures.append(SecretFailure(
                        site.path, site.ref.key(),
                        f'Environment variable "{site.ref.id}" is missing or empty.'))
                else:
                    out[site.path] = env[site.ref.id]
        elif isinstance(provider, FileProviderConfig):
            await _resolve_file(alias, provider, group, io, out, failures)
        else:
            await _resolve_exec(alias, provider, group, io, env, out, failures)
    values: dict[str, str] = {}
    for site in sites:
        if site.path not in out:
            continue
        value = out[site.path]
        if not isinstance(value, str) or not value.strip():
            failures.append(SecretFailure(site.path, site.ref.key(),
                                          f'Secret reference "{site.ref.key()}" resolved to a '
                                          "non-string or empty value."))
        elif value.strip() == REDACTED_SENTINEL:
            failures.append(SecretFailure(site.path, site.ref.key(),
                                          f'Secret reference "{site.ref.key()}" resolves to a '
                                          "redaction placeholder; supply the real credential."))
        else:
            values[site.path] = value
    if failures:
        raise SecretResolutionError(failures)
    return SecretsSnapshot(
        values=FrozenDict(values),
        refs=FrozenDict({site.path: site.ref for site in sites if site.active}),
        inactive=tuple(f"{site.path} ({site.reason})" for site in sites if not site.active),
        resolved_at=time.time(),
    )


def resolve_secrets(
    document: Mapping[str, Any], env: Mapping[str, str], io: SecretIO, *, home: str,
    flag_token: bool = False, flag_password: bool = False,
) -> Deferred[SecretsSnapshot]:
    """Resolve every active ref of ``document``; fails with :class:`SecretResolutionError`."""
    return Deferred.fromCoroutine(
        _resolve(document, env, io, home, flag_token, flag_password))


def resolve_secrets_sync(
    document: Mapping[str, Any], env: Mapping[str, str], *, home: str,
    flag_token: bool = False, flag_password: bool = False,
) -> SecretsSnapshot:
    """Blocking resolution (start-up, worker threads); raises :class:`SecretResolutionError`."""
    results: list[Any] = []
    resolve_secrets(document, env, SyncSecretIO(), home=home, flag_token=flag_token,
                    flag_password=flag_password).addBoth(results.append)
    assert results, "synchronous secret I/O must complete immediately"
    outcome = results[0]
    if isinstance(outcome, SecretsSnapshot):
        return outcome
    outcome.raiseException()
    raise AssertionError("unreachable")  # pragma: no cover
