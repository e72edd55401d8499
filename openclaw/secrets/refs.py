"""Where SecretRefs may appear in a config document, and the providers that back them.

A SecretRef is one object shape everywhere: ``{source: "env" | "file" | "exec", provider,
id}``. The typed config (``openclaw.config.schema``) already validates refs in the sections
it implements (``gateway.auth.*``, ``models.providers.*.apiKey``); the sections kept verbatim
(``channels``, ``hooks``, ``secrets``, ...) are validated here, with the same grammar and the
real gateway's messages.

Pure functions: no I/O, no Twisted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from openclaw.config.schema import SecretRef

__all__ = [
    "DEFAULT_PROVIDER",
    "EnvProviderConfig",
    "ExecProviderConfig",
    "FileProviderConfig",
    "ProviderConfig",
    "RefSite",
    "SecretConfigError",
    "collect_ref_sites",
    "parse_providers",
    "provider_for",
    "ref_from_value",
]

DEFAULT_PROVIDER: Final = "default"
SOURCES: Final = ("env", "file", "exec")
DEFAULT_TIMEOUT_MS: Final = 5000
DEFAULT_MAX_BYTES: Final = 1024 * 1024
_PROVIDER_RE: Final = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_ENV_ID_RE: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
_EXEC_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$")

# Secret-bearing keys (the last path segment) of sections this gateway keeps verbatim.
_SECRET_KEYS: Final = frozenset({
    "token", "password", "apiKey", "botToken", "appToken", "userToken", "signingSecret",
    "webhookSecret", "pushToken", "webhookToken", "accessToken", "secret", "clientSecret",
    "appSecret", "privateKey", "serviceAccount",
})
# Exact paths (``*`` = one segment) where the real gateway accepts a SecretRef.
_SURFACES: Final = (
    "gateway.auth.token", "gateway.auth.password",
    "gateway.remote.token", "gateway.remote.password",
    "models.providers.*.apiKey", "models.providers.*.headers.*",
    "memory.search.remote.apiKey", "agents.defaults.memorySearch.remote.apiKey",
    "agents.entries.*.memory.search.remote.apiKey",
    "skills.entries.*.apiKey", "talk.apiKey", "messages.tts.*.apiKey",
    "tools.web.search.*.apiKey", "cron.webhookToken",
    "hooks.token", "hooks.gmail.pushToken",
    "agents.defaults.sandbox.docker.env.*", "agents.entries.*.sandbox.docker.env.*",
)


class SecretConfigError(Exception):
    """A SecretRef or a ``secrets.providers`` entry is malformed (path + reason)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@attrs.frozen
class RefSite:
    """A SecretRef found at ``path``; ``active`` = the running gateway needs its value."""

    path: str
    ref: SecretRef
    active: bool = True
    reason: str = ""


@attrs.frozen
class EnvProviderConfig:
    source: str = "env"
    allowlist: tuple[str, ...] | None = None


@attrs.frozen
class FileProviderConfig:
    path: str
    mode: str = "json"
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    max_bytes: int = DEFAULT_MAX_BYTES
    source: str = "file"


@attrs.frozen
class ExecProviderConfig:
    command: str
    args: tuple[str, ...] = ()
    pass_env: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    json_only: bool = True
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    no_output_timeout_ms: int | None = None
    max_output_bytes: int = DEFAULT_MAX_BYTES
    allow_symlink_command: bool = False
    trusted_dirs: tuple[str, ...] = ()
    source: str = "exec"


ProviderConfig = EnvProviderConfig | FileProviderConfig | ExecProviderConfig


def _glob_match(path: str, pattern: str) -> bool:
    parts, wanted = path.split("."), pattern.split(".")
    return len(parts) == len(wanted) and all(w in ("*", p) for p, w in zip(parts, wanted,
                                                                           strict=True))


def is_secret_surface(path: str) -> bool:
    """True where a SecretRef is accepted (the supported credential surface)."""
    if any(_glob_match(path, pattern) for pattern in _SURFACES):
        return True
    parts = path.split(".")
    return parts[0] == "channels" and len(parts) >= 3 and parts[-1] in _SECRET_KEYS


def _looks_like_ref(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("source"), str)
        and "id" in value
        and set(value) <= {"source", "provider", "id"}
    )


def ref_from_value(value: Any, path: str) -> SecretRef | None:
    """The SecretRef ``value`` denotes (typed or a plain mapping), else None.

    Raises :class:`SecretConfigError` for a ref-shaped object that breaks the grammar.
    """
    if isinstance(value, SecretRef):
        return value
    if not _looks_like_ref(value):
        return None
    source, provider, ref_id = value.get("source"), value.get("provider"), value.get("id")
    if source not in SOURCES:
        if source == "store":
            raise SecretConfigError(
                path, 'SecretRef source "store" (the SQLite secret store) is not supported by '
                "this gateway; use env, file or exec")
        raise SecretConfigError(path, f'Invalid SecretRef source "{source}"')
    if not isinstance(provider, str) or not _PROVIDER_RE.match(provider):
        raise SecretConfigError(
            path, 'Secret reference provider must match /^[a-z][a-z0-9_-]{0,63}$/ '
            '(example: "default").')
    if not isinstance(ref_id, str) or not _valid_id(str(source), ref_id):
        raise SecretConfigError(path, _ID_MESSAGES[str(source)])
    return SecretRef(source=str(source), provider=provider, id=ref_id)


_ID_MESSAGES: Final = {
    "env": 'Env secret reference id must match /^[A-Z][A-Z0-9_]{0,127}$/ '
           '(example: "OPENAI_API_KEY").',
    "file": 'File secret reference id must be an absolute JSON pointer (example: '
            '"/providers/openai/apiKey"), or "value" for singleValue mode.',
    "exec": 'Exec secret reference id must match /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$/ '
            'and must not include "." or ".." path segments.',
}


def _valid_id(source: str, ref_id: str) -> bool:
    if source == "env":
        return bool(_ENV_ID_RE.match(ref_id))
    if source == "file":
        return ref_id == "value" or ref_id.startswith("/")
    return bool(_EXEC_ID_RE.match(ref_id)) and all(
        segment not in (".", "..") for segment in ref_id.split("/"))


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, SecretRef) or _looks_like_ref(value):
        yield path, value
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            if path == "" and key == "secrets":
                continue  # provider definitions, not secret values
            yield from _walk(child, f"{path}.{key}" if path else str(key))


def _enabled(value: Any) -> bool:
    return not (isinstance(value, Mapping) and value.get("enabled") is False)


def _inactive_reason(document: Mapping[str, Any], path: str, *,
                     flag_token: bool, flag_password: bool) -> str:
    parts = path.split(".")
    gateway = document.get("gateway") if isinstance(document.get("gateway"), Mapping) else {}
    assert isinstance(gateway, Mapping)
    if parts[:2] == ["gateway", "remote"] and gateway.get("mode") != "remote":
        return "gateway.remote credentials are only used by remote-mode clients"
    if parts[:2] == ["gateway", "auth"]:
        auth = gateway.get("auth") if isinstance(gateway.get("auth"), Mapping) else {}
        assert isinstance(auth, Mapping)
        mode = auth.get("mode")
        if parts[2] == "token" and (flag_token or mode in ("password", "none", "trusted-proxy")):
            return "--token overrides it" if flag_token else f"gateway.auth.mode is {mode}"
        if parts[2] == "password" and (flag_password or mode in ("token", "none",
                                                                   "trusted-proxy")):
            return "--password overrides it" if flag_password else f"gateway.auth.mode is {mode}"
    if parts[0] == "channels" and len(parts) >= 2:
        channels = document.get("channels")
        channel = channels.get(parts[1]) if isinstance(channels, Mapping) else None
        if not _enabled(channel):
            return f"channels.{parts[1]} is disabled"
        if len(parts) >= 4 and parts[2] == "accounts" and isinstance(channel, Mapping):
            accounts = channel.get("accounts")
            account = accounts.get(parts[3]) if isinstance(accounts, Mapping) else None
            if not _enabled(account):
                return f"channels.{parts[1]}.accounts.{parts[3]} is disabled"
    return ""


def collect_ref_sites(
    document: Mapping[str, Any], *, flag_token: bool = False, flag_password: bool = False
) -> list[RefSite]:
    """Every SecretRef of ``document`` on a supported surface, active ones flagged.

    A ref-shaped object elsewhere is resolved too when its key looks secret (``...token``,
    ``...apiKey``: channel plugins add such keys), else left alone as plain config data.
    """
    from openclaw.config.redact import is_sensitive_config_path

    sites: list[RefSite] = []
    for path, value in _walk(document, ""):
        if not (is_secret_surface(path) or is_sensitive_config_path(path)):
            continue
        ref = ref_from_value(value, path)
        if ref is None:
            continue
        reason = _inactive_reason(document, path, flag_token=flag_token,
                                  flag_password=flag_password)
        sites.append(RefSite(path=path, ref=ref, active=not reason, reason=reason))
    return sites


def _int(value: Any, path: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SecretConfigError(path, "must be a positive integer")
    return value


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str) or not all(
            isinstance(item, str) for item in value):
        raise SecretConfigError(path, "must be an array of strings")
    return tuple(value)


def _provider(alias: str, raw: Any, home: str) -> ProviderConfig:
    base = f"secrets.providers.{alias}"
    if not _PROVIDER_RE.match(alias):
        raise SecretConfigError(base, "provider alias must match /^[a-z][a-z0-9_-]{0,63}$/")
    if not isinstance(raw, Mapping):
        raise SecretConfigError(base, "must be an object")
    source = raw.get("source")
    if source == "env":
        allowlist = raw.get("allowlist")
        return EnvProviderConfig(
            allowlist=None if allowlist is None else _strings(allowlist, f"{base}.allowlist"))
    if source == "file":
        path = raw.get("path")
        if not isinstance(path, str) or not path.strip():
            raise SecretConfigError(f"{base}.path", "is required")
        mode = raw.get("mode", "json")
        if mode not in ("json", "singleValue"):
            raise SecretConfigError(f"{base}.mode", 'must be "json" or "singleValue"')
        return FileProviderConfig(
            path=_expand(path, home), mode=str(mode),
            timeout_ms=_int(raw.get("timeoutMs"), f"{base}.timeoutMs", DEFAULT_TIMEOUT_MS),
            max_bytes=_int(raw.get("maxBytes"), f"{base}.maxBytes", DEFAULT_MAX_BYTES))
    if source == "exec":
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip():
            raise SecretConfigError(f"{base}.command", "is required")
        command = _expand(command, home)
        if not os.path.isabs(command):
            raise SecretConfigError(f"{base}.command", "must be an absolute path (no shell)")
        env = raw.get("env") or {}
        if not isinstance(env, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise SecretConfigError(f"{base}.env", "must map names to strings")
        timeout = _int(raw.get("timeoutMs"), f"{base}.timeoutMs", DEFAULT_TIMEOUT_MS)
        json_only = raw.get("jsonOnly", True)
        if not isinstance(json_only, bool):
            raise SecretConfigError(f"{base}.jsonOnly", "must be a boolean")
        return ExecProviderConfig(
            command=command,
            args=_strings(raw.get("args"), f"{base}.args"),
            pass_env=_strings(raw.get("passEnv"), f"{base}.passEnv"),
            env=tuple(sorted((str(k), str(v)) for k, v in env.items())),
            json_only=json_only,
            timeout_ms=timeout,
            no_output_timeout_ms=(
                _int(raw.get("noOutputTimeoutMs"), f"{base}.noOutputTimeoutMs", timeout)
                if raw.get("noOutputTimeoutMs") is not None else None),
            max_output_bytes=_int(raw.get("maxOutputBytes"), f"{base}.maxOutputBytes",
                                  DEFAULT_MAX_BYTES),
            allow_symlink_command=raw.get("allowSymlinkCommand") is True,
            trusted_dirs=tuple(_expand(d, home) for d in
                               _strings(raw.get("trustedDirs"), f"{base}.trustedDirs")),
        )
    if source == "store":
        raise SecretConfigError(f"{base}.source", 'source "store" is not supported by this '
                                "gateway; use env, file or exec")
    raise SecretConfigError(f"{base}.source", 'must be "env", "file" or "exec"')


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return os.path.join(home, path[2:]) if path != "~" else home
    return path


def parse_providers(document: Mapping[str, Any], home: str) -> dict[str, ProviderConfig]:
    """``secrets.providers`` as typed provider configs (raises :class:`SecretConfigError`)."""
    section = document.get("secrets")
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise SecretConfigError("secrets", "must be an object")
    providers = section.get("providers") or {}
    if not isinstance(providers, Mapping):
        raise SecretConfigError("secrets.providers", "must be an object")
    return {str(alias): _provider(str(alias), raw, home) for alias, raw in providers.items()}


def default_alias(document: Mapping[str, Any], source: str) -> str:
    section = document.get("secrets")
    defaults = section.get("defaults") if isinstance(section, Mapping) else None
    alias = defaults.get(source) if isinstance(defaults, Mapping) else None
    return alias if isinstance(alias, str) and alias else DEFAULT_PROVIDER


def provider_for(ref: SecretRef, providers: Mapping[str, ProviderConfig],
                 document: Mapping[str, Any]) -> ProviderConfig:
    """The provider a ref resolves through (the real gateway's rules and messages).

    An env ref naming the source's default alias uses the built-in env reader unless an
    explicit ``secrets.providers`` entry of the same source exists.
    """
    configured = providers.get(ref.provider)
    if configured is not None and configured.source == ref.source:
        return configured
    if ref.source == "env" and ref.provider == default_alias(document, "env"):
        return EnvProviderConfig()
    if configured is None:
        raise LookupError(
            f'Secret provider "{ref.provider}" is not configured '
            f"(ref: {ref.source}:{ref.provider}:{ref.id}).")
    raise LookupError(
        f'Secret provider "{ref.provider}" has source "{configured.source}" but ref requests '
        f'"{ref.source}".')
