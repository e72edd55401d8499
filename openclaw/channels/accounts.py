"""Accounts of a channel config section, as upstream resolves them.

* account ids are normalized like ``src/routing/account-id.ts``: trimmed, empty ->
  ``default``, lower-cased, runs of other characters -> ``-``, edge ``-`` stripped, at most
  64 characters, prototype-like keys refused;
* the accounts of a channel are the keys of ``accounts``, else the implicit ``default``;
* the default account is ``defaultAccount`` when listed, else ``default`` when listed, else
  the first;
* a named account inherits every top-level field it leaves unset; nested objects (IRC
  ``nickserv``, Matrix ``dm``/``network``) merge field by field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import attrs

from openclaw.config.fields import settings_of

DEFAULT_ACCOUNT_ID: Final = "default"
_VALID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_INVALID_RUN: Final = re.compile(r"[^a-z0-9_-]+")
_PROTOTYPE_KEYS: Final = frozenset({"__proto__", "constructor", "prototype"})

T = TypeVar("T")


def normalize_account_id(raw: Any) -> str:
    text = str(raw or "").strip()
    if not text:
        return DEFAULT_ACCOUNT_ID
    lowered = text.lower()
    if lowered in _PROTOTYPE_KEYS:
        return DEFAULT_ACCOUNT_ID
    if _VALID.match(lowered):
        return lowered
    cleaned = _INVALID_RUN.sub("-", lowered).strip("-")[:64]
    return cleaned or DEFAULT_ACCOUNT_ID


def account_ids(section: Any) -> list[str]:
    """Normalized ids of ``section.accounts`` in config order, else ``["default"]``."""
    accounts = getattr(section, "accounts", None) or {}
    ids: list[str] = []
    for key in accounts:
        normalized = normalize_account_id(key)
        if normalized not in ids:
            ids.append(normalized)
    return ids or [DEFAULT_ACCOUNT_ID]


def default_account_id(section: Any, ids: list[str]) -> str:
    preferred = getattr(section, "default_account", None)
    if preferred:
        normalized = normalize_account_id(preferred)
        if normalized in ids:
            return normalized
    if DEFAULT_ACCOUNT_ID in ids:
        return DEFAULT_ACCOUNT_ID
    return ids[0] if ids else DEFAULT_ACCOUNT_ID


def each_account(section: Any) -> list[tuple[str, bool]]:
    """``(account id, is the default account)`` for every account of a channel section."""
    ids = account_ids(section)
    default_id = default_account_id(section, ids)
    return [(account_id, account_id == default_id) for account_id in ids]


def account_entry(section: Any, account_id: str) -> Any:
    """The raw ``accounts.<id>`` entry (matched after normalization), or None."""
    accounts: Mapping[str, Any] = getattr(section, "accounts", None) or {}
    for key, value in accounts.items():
        if normalize_account_id(key) == account_id:
            return value
    return None


def merge_account(account_cls: type[T], base: Any, override: Any,
                  nested: frozenset[str] = frozenset()) -> T:
    """``account_cls`` with each field from ``override`` when set, else from ``base``.

    Fields named in ``nested`` (attrs sections) merge field by field.
    """
    values: dict[str, Any] = {}
    for field, _meta in settings_of(account_cls):
        mine = getattr(override, field.name, None) if override is not None else None
        theirs = getattr(base, field.name, None) if base is not None else None
        if field.name in nested and mine is not None and theirs is not None:
            values[field.name] = _merge_fields(theirs, mine)
        else:
            values[field.name] = mine if mine is not None else theirs
    return account_cls(**values)


def _merge_fields(base: Any, override: Any) -> Any:
    changes = {field.name: getattr(override, field.name)
               for field in attrs.fields(type(override))
               if getattr(override, field.name) is not None}
    return attrs.evolve(base, **changes)
