"""``$include``: split a config over several JSON5 files (real ``src/config/includes.ts``).

* ``{"$include": "./a.json5"}`` is replaced by the content of ``a.json5`` (any JSON value).
* ``{"$include": ["a.json5", "b.json5"]}`` deep-merges the files left to right.
* Sibling keys next to ``$include`` are merged over the included content (which must then be
  an object).
* Deep merge: objects merge recursively, arrays concatenate, other values: later wins;
  ``__proto__``/``prototype``/``constructor`` keys are dropped.
* Paths are relative to the including file and must stay inside the top-level config directory
  (also after resolving symlinks) or a root listed in ``$OPENCLAW_INCLUDE_ROOTS``.
* At most 10 nested levels, no cycles, regular files of at most 2 MiB without hard links.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from openclaw.config.errors import (
    CircularIncludeError,
    ConfigIncludeError,
    ConfigParseError,
    PathSegment,
    format_config_path,
)
from openclaw.config.jsonfile import decode_config_bytes, parse_json5

__all__ = [
    "INCLUDE_KEY",
    "MAX_INCLUDE_DEPTH",
    "MAX_INCLUDE_FILE_BYTES",
    "IncludeResult",
    "deep_merge",
    "parse_include_roots",
    "resolve_includes",
]

INCLUDE_KEY = "$include"
MAX_INCLUDE_DEPTH = 10
MAX_INCLUDE_FILE_BYTES = 2 * 1024 * 1024
MAX_INCLUDE_PATH_LENGTH = 4096
BLOCKED_KEYS = frozenset({"__proto__", "prototype", "constructor"})

Path = tuple[PathSegment, ...]


def _js_typeof(value: Any) -> str:
    if value is None or isinstance(value, Mapping | list):
        return "object"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _sanitized(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _sanitized(item) if isinstance(item, Mapping) else item
        for key, item in value.items()
        if key not in BLOCKED_KEYS
    }


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` over ``base``: objects recurse, arrays concatenate, else override.

    Inputs are not modified; nested containers of the result may be shared with the inputs.
    """
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *override]
    if not isinstance(base, Mapping) or not isinstance(override, Mapping):
        return override
    merged = _sanitized(base)
    for key, value in override.items():
        if key in BLOCKED_KEYS:
            continue
        current = merged.get(key)
        if isinstance(value, Mapping):
            merged[key] = (
                deep_merge(current, value) if isinstance(current, Mapping) else _sanitized(value)
            )
        elif isinstance(current, list) and isinstance(value, list):
            merged[key] = [*current, *value]
        else:
            merged[key] = value
    return merged


def parse_include_roots(raw: str | None, home: str) -> tuple[str, ...]:
    """Extra include roots from ``$OPENCLAW_INCLUDE_ROOTS`` (``os.pathsep`` separated)."""
    from openclaw.config.paths import expand_home

    if not raw or not raw.strip():
        return ()
    roots: list[str] = []
    for entry in raw.split(os.pathsep):
        entry = entry.strip()
        if not entry:
            continue
        resolved = expand_home(entry, home)
        if os.path.isabs(resolved) and resolved not in roots:
            roots.append(resolved)
    return tuple(roots)


def _is_inside(root: str, candidate: str) -> bool:
    try:
        return os.path.commonpath([root, candidate]) == root
    except ValueError:  # different drives on Windows
        return False


@attrs.frozen
class _Root:
    lexical: str
    real: str


@attrs.frozen
class IncludeResult:
    """The resolved document, the files it was read from, and which file supplied what.

    ``provenance`` maps logical paths (where included content landed, or sibling keys
    overriding it) to the file that supplied them; :meth:`file_for` finds the file of any path.
    """

    value: Any
    files: tuple[str, ...]
    provenance: tuple[tuple[Path, str], ...]
    main_file: str

    def file_for(self, path: Sequence[PathSegment]) -> str:
        """The file a value at logical ``path`` came from (longest recorded prefix wins)."""
        best_length = -1
        best_file = self.main_file
        for prefix, file in self.provenance:
            covers = len(prefix) <= len(path) and tuple(path[: len(prefix)]) == prefix
            if covers and len(prefix) >= best_length:
                best_length = len(prefix)
                best_file = file
        return best_file


ReadBytes = Callable[[str], bytes]


@attrs.define
class _Resolver:
    main_file: str
    roots: tuple[_Root, ...]
    home: str
    files: list[str] = attrs.Factory(list)
    provenance: list[tuple[Path, str]] = attrs.Factory(list)

    def fail(self, file: str, path: Path, message: str) -> ConfigIncludeError:
        return ConfigIncludeError(file, format_config_path(path), message, main_file=self.main_file)

    def process(
        self, value: Any, path: Path, file: str, visited: tuple[str, ...], depth: int
    ) -> Any:
        if isinstance(value, list):
            return [
                self.process(item, (*path, index), file, visited, depth)
                for index, item in enumerate(value)
            ]
        if not isinstance(value, Mapping):
            return value
        if INCLUDE_KEY not in value:
            return {
                key: self.process(item, (*path, key), file, visited, depth)
                for key, item in value.items()
            }
        directive = value[INCLUDE_KEY]
        siblings = [key for key in value if key != INCLUDE_KEY]
        included = self.resolve_directive(directive, path, file, visited, depth)
        if not siblings:
            return included
        if not isinstance(included, Mapping):
            raise self.fail(file, path, "Sibling keys require included content to be an object")
        rest = {
            key: self.process(value[key], (*path, key), file, visited, depth) for key in siblings
        }
        for key in siblings:
            self.provenance.append(((*path, key), file))
        return deep_merge(included, rest)

    def resolve_directive(
        self, directive: Any, path: Path, file: str, visited: tuple[str, ...], depth: int
    ) -> Any:
        if isinstance(directive, str):
            return self.load(directive, path, file, visited, depth, single=True)
        if isinstance(directive, list):
            for item in directive:
                if not isinstance(item, str):
                    raise self.fail(
                        file,
                        path,
                        f"Invalid $include array item: expected string, got {_js_typeof(item)}",
                    )
            merged: Any = {}
            for item in directive:
                merged = deep_merge(
                    merged, self.load(item, path, file, visited, depth, single=False)
                )
            return merged
        raise self.fail(
            file,
            path,
            "Invalid $include value: expected string or array of strings, "
            f"got {_js_typeof(directive)}",
        )

    def resolve_path(self, include_path: str, path: Path, file: str) -> tuple[str, _Root]:
        from openclaw.config.paths import expand_home

        if "\0" in include_path:
            raise self.fail(file, path, "Include path must not contain null bytes")
        try:
            include_path.encode("utf-8")
        except UnicodeEncodeError:
            raise self.fail(file, path, "Include path is not valid Unicode text") from None
        if len(include_path) >= MAX_INCLUDE_PATH_LENGTH:
            raise self.fail(
                file,
                path,
                f"Include path exceeds maximum length ({MAX_INCLUDE_PATH_LENGTH} characters)",
            )
        if include_path == "~" or include_path.startswith(("~/", "~\\")):
            candidate = expand_home(include_path, self.home)
        elif os.path.isabs(include_path):
            candidate = include_path
        else:
            candidate = os.path.join(os.path.dirname(file), include_path)
        normalized = os.path.normpath(os.path.abspath(candidate))
        if len(normalized) >= MAX_INCLUDE_PATH_LENGTH:
            raise self.fail(
                file,
                path,
                "Resolved include path exceeds maximum length "
                f"({MAX_INCLUDE_PATH_LENGTH} characters)",
            )
        lexical = next((root for root in self.roots if _is_inside(root.lexical, normalized)), None)
        if lexical is None:
            raise self.fail(
                file,
                path,
                f"Include path escapes config directory: {include_path} "
                f"(root: {self.roots[0].lexical})",
            )
        if not os.path.lexists(normalized):
            return normalized, lexical
        real = os.path.realpath(normalized)
        real_root = next((root for root in self.roots if _is_inside(root.real, real)), None)
        if real_root is None:
            raise self.fail(
                file,
                path,
                f"Include path resolves outside config directory (symlink): {include_path} "
                f"(root: {self.roots[0].lexical})",
            )
        return normalized, real_root

    def read(self, include_path: str, resolved: str, path: Path, file: str) -> bytes:
        try:
            # O_NONBLOCK: opening a FIFO planted as an include must not hang the loader.
            fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            raise self.fail(
                file, path, f"Failed to read include file: {include_path} (resolved: {resolved})"
            ) from None
        try:
            info = os.fstat(fd)
            if (
                not stat.S_ISREG(info.st_mode)
                or info.st_size > MAX_INCLUDE_FILE_BYTES
                or info.st_nlink > 1
            ):
                raise self.fail(
                    file,
                    path,
                    "Include file failed security checks (regular file, max "
                    f"{MAX_INCLUDE_FILE_BYTES} bytes, no hardlinks): {include_path}",
                )
            chunks = []
            remaining = MAX_INCLUDE_FILE_BYTES + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
            if len(data) > MAX_INCLUDE_FILE_BYTES:  # grew after fstat
                raise self.fail(
                    file,
                    path,
                    "Include file failed security checks (regular file, max "
                    f"{MAX_INCLUDE_FILE_BYTES} bytes, no hardlinks): {include_path}",
                )
            return data
        except OSError:
            raise self.fail(
                file, path, f"Failed to read include file: {include_path} (resolved: {resolved})"
            ) from None
        finally:
            os.close(fd)

    def load(
        self,
        include_path: str,
        path: Path,
        file: str,
        visited: tuple[str, ...],
        depth: int,
        *,
        single: bool,
    ) -> Any:
        resolved, _root = self.resolve_path(include_path, path, file)
        if resolved in visited:
            raise CircularIncludeError(
                file, format_config_path(path), [*visited, resolved], main_file=self.main_file
            )
        if depth >= MAX_INCLUDE_DEPTH:
            raise self.fail(
                file,
                path,
                f"Maximum include depth ({MAX_INCLUDE_DEPTH}) exceeded at: {include_path}",
            )
        data = self.read(include_path, resolved, path, file)
        try:
            parsed = parse_json5(decode_config_bytes(data, resolved), resolved)
        except ConfigParseError as error:
            where = f" at line {error.line}, column {error.column}" if error.line else ""
            raise self.fail(
                file,
                path,
                f"Failed to parse include file: {include_path} (resolved: {resolved}): "
                f"{error.reason}{where}",
            ) from None
        if resolved not in self.files:
            self.files.append(resolved)
        if single or not isinstance(parsed, Mapping):
            self.provenance.append((path, resolved))
        else:
            for key in parsed:
                self.provenance.append(((*path, key), resolved))
        return self.process(parsed, path, resolved, (*visited, resolved), depth + 1)


def resolve_includes(
    document: Any,
    config_path: str,
    *,
    home: str,
    extra_roots: Sequence[str] = (),
) -> IncludeResult:
    """Resolve every ``$include`` in ``document`` (parsed from ``config_path``).

    Raises :class:`ConfigIncludeError` (or :class:`CircularIncludeError`) naming the file and
    the path of the offending directive.
    """
    main_file = os.path.abspath(config_path)
    lexical_roots = [os.path.dirname(main_file), *(r for r in extra_roots if os.path.isabs(r))]
    roots = tuple(
        _Root(lexical=os.path.normpath(root), real=os.path.realpath(root)) for root in lexical_roots
    )
    resolver = _Resolver(main_file=main_file, roots=roots, home=home)
    value = resolver.process(document, (), main_file, (main_file,), 0)
    return IncludeResult(
        value=value,
        files=tuple(resolver.files),
        provenance=tuple(resolver.provenance),
        main_file=main_file,
    )
