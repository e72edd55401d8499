"""Writing ``openclaw.json``: merge patches, the backup ring and atomic replacement.

Every OpenClaw-owned write (the ``config.set/patch/apply`` RPCs; reusable by ``openclaw
config set``) goes

1. validate first (the caller runs the full load pipeline on the candidate text);
2. rotate the backup ring next to the file: ``.bak.4`` is dropped, ``.bak.N`` becomes
   ``.bak.N+1``, ``.bak`` becomes ``.bak.1``, the current file is copied to ``.bak``; every
   backup is mode 0600; orphan ``openclaw.json.bak.*`` outside the ring are removed;
3. replace the file atomically: temp file in the same directory, ``fsync``, ``rename``,
   ``fsync`` of the directory (a crash leaves the old or the new file, never a torn one);
   the new file is mode 0600.

The document is written as JSON with a two-space indent (comments of a hand-edited JSON5 file
are not preserved, as upstream), ``meta.lastTouchedVersion`` stamped.
Blocking I/O: call from a thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from openclaw.atomic_files import atomic_write_bytes

__all__ = [
    "BACKUP_COUNT",
    "backup_paths",
    "collect_destructive_array_paths",
    "leaf_diff_paths",
    "merge_patch",
    "render_config",
    "rotate_backups",
    "stamp_meta",
    "write_config_atomic",
]

BACKUP_COUNT: Final = 5
MERGE_DENIED_KEYS: Final = frozenset({"__proto__", "prototype", "constructor"})


def backup_paths(config_path: str) -> list[str]:
    """The ring, newest first: ``.bak``, ``.bak.1`` ... ``.bak.4``."""
    return [f"{config_path}.bak", *(f"{config_path}.bak.{n}" for n in range(1, BACKUP_COUNT))]


def rotate_backups(config_path: str) -> None:
    """Shift the ring by one and copy the current file to ``.bak`` (no-op without a file)."""
    try:
        with open(config_path, "rb") as handle:
            current = handle.read()
    except FileNotFoundError:
        return
    ring = backup_paths(config_path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ring[-1])
    for index in range(len(ring) - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace(ring[index - 1], ring[index])
            os.chmod(ring[index], 0o600)
    atomic_write_bytes(ring[0], current)
    directory, name = os.path.split(os.path.abspath(config_path))
    keep = {os.path.basename(p) for p in ring}
    orphan = re.compile(re.escape(name) + r"\.bak\..+")
    for entry in os.listdir(directory):
        if orphan.fullmatch(entry) and entry not in keep:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, entry))


def write_config_atomic(config_path: str, text: str) -> None:
    """Rotate the backups, then atomically replace the config with ``text`` (mode 0600)."""
    rotate_backups(config_path)
    atomic_write_bytes(config_path, text.encode("utf-8"))


def render_config(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def stamp_meta(document: Mapping[str, Any], version: str) -> dict[str, Any]:
    """A copy of ``document`` with ``meta.lastTouchedVersion`` set.

    2026.9 no longer writes ``meta.lastTouchedAt`` (write times live in its state database;
    the loader drops the retired key with a warning), so neither do we.
    """
    stamped = dict(document)
    meta = dict(stamped.get("meta") or {}) if isinstance(stamped.get("meta"), Mapping) else {}
    meta.pop("lastTouchedAt", None)
    meta["lastTouchedVersion"] = version
    stamped["meta"] = meta
    return stamped


def _is_id_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, Mapping) and isinstance(item.get("id"), str) and item["id"]
        for item in value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def merge_patch(target: Any, patch: Any, *, replace_paths: frozenset[str] = frozenset(),
                path: str = "") -> Any:
    """RFC 7396 merge patch, with upstream's rule for arrays of ``{id}`` objects.

    Objects merge recursively, ``null`` deletes, other values replace. An array of objects
    with string ``id``s patched by such an array merges entry by entry on ``id`` (entries
    absent from the patch are kept) unless ``path`` is in ``replace_paths``.
    """
    if not isinstance(patch, Mapping):
        if (isinstance(patch, list) and _is_id_array(target) and path not in replace_paths
                and all(isinstance(item, Mapping) and isinstance(item.get("id"), str)
                        for item in patch)):
            merged = [dict(item) for item in target]
            index = {item["id"]: position for position, item in enumerate(merged)}
            for item in patch:
                if item["id"] in index:
                    position = index[item["id"]]
                    merged[position] = merge_patch(merged[position], item,
                                                   replace_paths=replace_paths,
                                                   path=f"{path}[]")
                else:
                    merged.append(merge_patch({}, item, replace_paths=replace_paths,
                                              path=f"{path}[]"))
            return merged
        return _plain(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if key in MERGE_DENIED_KEYS:
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value, replace_paths=replace_paths,
                                      path=_join(path, key))
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _array_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, list):
        return [path]
    if isinstance(value, Mapping):
        return [p for key, child in value.items() for p in _array_paths(child, _join(path, key))]
    return []


def _preserves(base: Sequence[Any], merged: Sequence[Any]) -> bool:
    pool = list(merged)
    for entry in base:
        if entry in pool:
            pool.remove(entry)
        else:
            return False
    return True


def collect_destructive_array_paths(base: Any, patch: Any, merged: Any,
                                    path: str = "") -> list[str]:
    """Array paths a patch would truncate or delete (they need ``replacePaths``)."""
    if not isinstance(base, Mapping) or not isinstance(patch, Mapping):
        return []
    merged = merged if isinstance(merged, Mapping) else {}
    found: list[str] = []
    for key, patch_value in patch.items():
        here = _join(path, key)
        base_value = base.get(key)
        merged_value = merged.get(key)
        if isinstance(base_value, list):
            if not isinstance(patch_value, list):
                found.append(here)
                continue
            if isinstance(merged_value, list):
                if _is_id_array(base_value):
                    ids = {item.get("id") for item in merged_value if isinstance(item, Mapping)}
                    if not all(item["id"] in ids for item in base_value):
                        found.append(here)
                elif not _preserves(base_value, merged_value):
                    found.append(here)
            continue
        if isinstance(base_value, Mapping) and not isinstance(patch_value, Mapping):
            found.extend(_array_paths(base_value, here))
            continue
        if isinstance(patch_value, Mapping):
            found.extend(collect_destructive_array_paths(base_value, patch_value, merged_value,
                                                         here))
    return found


def leaf_diff_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """Changed leaf paths (``config.patch``'s ``changedPaths``)."""
    if isinstance(before, Mapping) or isinstance(after, Mapping):
        left = before if isinstance(before, Mapping) else {}
        right = after if isinstance(after, Mapping) else {}
        keys = list(left) + [k for k in right if k not in left]
        if not keys:
            return [] if before == after else [path or "<root>"]
        return [p for key in keys for p in leaf_diff_paths(left.get(key), right.get(key),
                                                            _join(path, key))]
    return [] if before == after else [path or "<root>"]
