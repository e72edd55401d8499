"""Redact secrets from config documents before they leave the process (``config.get``, logs).

Sensitive values are replaced by the real gateway's sentinel ``"__OPENCLAW_REDACTED__"``
(seen in recorded ``config.get`` answers).  A value is sensitive when

* the real schema declares it a secret input (string or SecretRef: ``gateway.auth.token``,
  ``models.providers.*.apiKey``, ``channels.telegram.botToken``, ... from the key tree), or
* its path looks secret (upstream's heuristic: ``...token``, ``password``, ``secret``,
  ``apiKey``, ``privateKey``, ``serviceAccount``, ``localService.env.*``; but not
  ``maxTokens``-style counters), or
* it is a URL at a URL key (``baseUrl``, ``httpUrl``, ...) carrying credentials or a token
  query parameter.

``${VAR}`` placeholders are not secrets and stay visible.  For a SecretRef only the ``id``
is hidden (source and provider stay, so the UI can show where the secret comes from).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from openclaw.config import upstream
from openclaw.config.schema import REDACTED_SENTINEL

__all__ = [
    "REDACTED_SENTINEL",
    "is_redacted_value",
    "is_sensitive_config_path",
    "redact_config",
    "redact_raw",
    "restore_redacted",
]

_NON_SECRET_SUFFIXES = (
    "maxtokens",
    "maxoutputtokens",
    "maxinputtokens",
    "maxcompletiontokens",
    "contexttokens",
    "totaltokens",
    "tokencount",
    "tokenlimit",
    "tokenbudget",
    "passwordfile",
)
_SENSITIVE = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"token$",
        r"password",
        r"secret",
        r"api.?key",
        r"encrypt.?key",
        r"private.?key",
        r"serviceaccount(?:ref)?$",
    )
]
_PLACEHOLDER = re.compile(r"^\$\{[^}]*\}$")
_URL_KEYS = (".baseUrl", ".httpUrl", ".cdpUrl", ".request.proxy.url")
_MCP_URL = re.compile(r"^(?:nodeHost\.)?mcp\.servers\.[^.]+\.url$")
_SENSITIVE_QUERY_NAMES = frozenset(
    {
        "token", "key", "api_key", "apikey", "secret", "access_token", "auth_token",
        "password", "pass", "passwd", "auth", "jwt", "session", "id_token", "code",
        "client_secret", "app_secret", "hook_token", "refresh_token", "signature",
        "x_amz_signature", "x_amz_security_token", "private_key", "credential",
        "authorization", "sig", "x_api_key", "x_access_token", "x_auth_token",
    }
)  # fmt: skip
_TELEGRAM_BOT_PATH = re.compile(r"/bot\d{6,}(?::|%3[aA])[A-Za-z0-9_-]{20,}(?=/|$)")
_REDACTED_DISPLAY_VALUES = frozenset(
    {
        REDACTED_SENTINEL,
        "REDACTED",
        "xoxb-REDACTED",
        "xapp-REDACTED",
        "***",
        "[redacted]",
        "[REDACTED]",
        "<redacted>",
        "[REDACTED_PRIVATE_KEY]",
        "[REDACTED CREDENTIAL]",
    }
)


def is_redacted_value(value: Any) -> bool:
    """True for display placeholders that are never credential material."""
    return isinstance(value, str) and value.strip() in _REDACTED_DISPLAY_VALUES


def is_sensitive_config_path(path: str) -> bool:
    """Upstream's path heuristic (``src/config/sensitive-paths.ts``)."""
    if path.endswith("[]"):
        path = path[:-2]
    lowered = path.lower()
    if "localservice.env." in lowered:
        return True
    if lowered.endswith(_NON_SECRET_SUFFIXES):
        return False
    return any(pattern.search(path) for pattern in _SENSITIVE)


def _is_whole_object_sensitive(path: str) -> bool:
    lowered = path.lower()
    return lowered.endswith(("serviceaccount", "serviceaccountref"))


def _concrete(value: str) -> bool:
    trimmed = value.strip()
    return bool(trimmed) and not _PLACEHOLDER.match(trimmed)


def _is_secret_ref(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("source"), str) and isinstance(value.get("id"), str)


def _url_has_credentials(value: str) -> bool:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    if not parts.scheme or not parts.netloc:
        return False
    if "@" in parts.netloc:
        return True
    if _TELEGRAM_BOT_PATH.search(parts.path):
        return True
    for chunk in (parts.query, parts.fragment):
        for name, _ in parse_qsl(chunk, keep_blank_values=True):
            normalized = unquote(name).strip().lower().replace("-", "_")
            if normalized in _SENSITIVE_QUERY_NAMES or re.search(
                r"(?:^|_)token(?:_[a-f0-9]{16,})?$", normalized
            ):
                return True
    return False


def _is_sensitive_url_path(path: str) -> bool:
    return path.endswith(_URL_KEYS) or bool(_MCP_URL.match(path))


class _Redactor:
    def __init__(self) -> None:
        self.values: list[str] = []

    def collect(self, value: Any) -> None:
        if isinstance(value, str):
            if _concrete(value):
                self.values.append(value)
        elif isinstance(value, Mapping):
            if _is_secret_ref(value):
                self.collect(value["id"])
                return
            for item in value.values():
                self.collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.collect(item)

    def secret_input(self, value: Any) -> Any:
        """A value at a path the schema declares a secret input."""
        if isinstance(value, str):
            if not _concrete(value):
                return value
            self.values.append(value)
            return REDACTED_SENTINEL
        if isinstance(value, Mapping):
            if _is_secret_ref(value):
                redacted = self.plain(value)
                if _concrete(value["id"]):
                    self.values.append(value["id"])
                    redacted["id"] = REDACTED_SENTINEL
                return redacted
            self.collect(value)
            return REDACTED_SENTINEL
        if isinstance(value, list | tuple):
            return [self.secret_input(item) for item in value]
        if value is None:
            return None
        return REDACTED_SENTINEL

    def plain(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: self.plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.plain(item) for item in value]
        return value

    def walk(self, value: Any, dotted: str, node: Any) -> Any:
        if isinstance(value, list | tuple):
            item_path = f"{dotted}[]"
            item_node = upstream.child_node(node, 0)
            sensitive = is_sensitive_config_path(item_path)
            result = []
            for item in value:
                if item_node == upstream.SECRET:
                    result.append(self.secret_input(item))
                elif isinstance(item, str) and sensitive and _concrete(item):
                    self.values.append(item)
                    result.append(REDACTED_SENTINEL)
                else:
                    result.append(self.walk(item, item_path, item_node))
            return result
        if not isinstance(value, Mapping):
            return value
        result_map: dict[str, Any] = {}
        for key, item in value.items():
            path = f"{dotted}.{key}" if dotted else str(key)
            child = upstream.child_node(node, key) if node is not None else None
            if child == upstream.SECRET:
                result_map[key] = self.secret_input(item)
            elif isinstance(item, str) and is_sensitive_config_path(path) and _concrete(item):
                self.values.append(item)
                result_map[key] = REDACTED_SENTINEL
            elif (
                isinstance(item, Mapping)
                and is_sensitive_config_path(path)
                and _is_whole_object_sensitive(path)
            ):
                self.collect(item)
                result_map[key] = REDACTED_SENTINEL
            elif (
                isinstance(item, str)
                and _is_sensitive_url_path(path)
                and _url_has_credentials(item)
            ):
                self.values.append(item)
                result_map[key] = REDACTED_SENTINEL
            else:
                result_map[key] = self.walk(item, path, child)
        return result_map


def redact_config(obj: Any) -> Any:
    """A plain (mutable) copy of the config document ``obj`` with secrets replaced.

    Works on raw/parsed documents (dicts, lists, frozen or not).  Non-secret values are
    copied unchanged.
    """
    return _Redactor().walk(obj, "", upstream.upstream_tree())


def _redact_collecting(obj: Any) -> tuple[Any, list[str]]:
    redactor = _Redactor()
    return redactor.walk(obj, "", upstream.upstream_tree()), redactor.values


def redact_raw(raw: str, resolved: Any) -> str | None:
    """``raw`` (the file text) with every secret of ``resolved`` (its parsed form) replaced.

    Returns None when textual replacement cannot be proven safe (a secret also occurring in a
    non-secret place, or written with JSON escapes); callers then omit the raw text, as the
    real gateway does.
    """
    from openclaw.config.errors import ConfigError
    from openclaw.config.jsonfile import parse_json5

    _, secrets = _redact_collecting(resolved)
    redacted = raw
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        redacted = redacted.replace(secret, REDACTED_SENTINEL)
    try:
        authored = parse_json5(raw, "<raw>")
        reparsed = parse_json5(redacted, "<raw>")
    except ConfigError:
        return None
    expected, leftover = _redact_collecting(authored)
    if reparsed != expected or _contains_any(reparsed, leftover):
        return None
    return redacted


def _contains_any(value: Any, secrets: Iterable[str]) -> bool:
    wanted = {secret for secret in secrets if secret and secret != REDACTED_SENTINEL}
    if not wanted:
        return False

    def walk(item: Any) -> bool:
        if isinstance(item, str):
            return item in wanted
        if isinstance(item, Mapping):
            return any(walk(key) or walk(child) for key, child in item.items())
        if isinstance(item, list | tuple):
            return any(walk(child) for child in item)
        return False

    return walk(value)


def restore_redacted(incoming: Any, original: Any) -> Any:
    """Put back original secrets where ``incoming`` (e.g. an edited ``config.get`` result)
    still carries the sentinel, so round-tripping a redacted config never writes the sentinel.
    Values the client changed are kept; a sentinel with no original counterpart is kept as is
    (validation then rejects it).
    """
    if isinstance(incoming, str):
        if incoming == REDACTED_SENTINEL and isinstance(original, str):
            return original
        return incoming
    if isinstance(incoming, Mapping):
        base = original if isinstance(original, Mapping) else {}
        return {key: restore_redacted(item, base.get(key)) for key, item in incoming.items()}
    if isinstance(incoming, list | tuple):
        base_list = original if isinstance(original, list | tuple) else []
        return [
            restore_redacted(item, base_list[index] if index < len(base_list) else None)
            for index, item in enumerate(incoming)
        ]
    return incoming
