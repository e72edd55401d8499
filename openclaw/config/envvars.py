"""Environment handling for the config: ``${VAR}`` substitution, the ``env`` block, dotenv files.

* ``${NAME}`` (``NAME`` = ``[A-Z_][A-Z0-9_]*``) in any string value is replaced by the variable;
  ``$${NAME}`` is the escape for a literal ``${NAME}``; other ``${...}`` text is left alone.
  A missing or empty variable is an error naming the config path.
* ``env.vars`` fills variables that are missing or empty in the process environment (never
  overrides), before substitution so ``${VAR}`` can use them.  Names that change how code is
  loaded or where credentials come from (``LD_PRELOAD``, ``NODE_OPTIONS``, ...) are refused.
* ``.env`` files: the current directory's (an untrusted project dir, so gateway credentials and
  ``OPENCLAW_*`` paths are ignored there), then ``<state>/.env`` (and, for the default state
  dir, ``~/.config/openclaw/gateway.env``).  None of them overrides a variable already set.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

import attrs

from openclaw.config import _env_policy
from openclaw.config.errors import PathSegment, format_config_path

__all__ = [
    "DotenvLoad",
    "MissingEnvReference",
    "config_env_additions",
    "contains_env_reference",
    "is_blocked_config_env_var",
    "load_dotenv_files",
    "parse_dotenv",
    "substitute_env_vars",
]

ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
PORTABLE_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$", re.ASCII)
MAX_DOTENV_FILE_BYTES = 1024 * 1024
_CONFIG_ENV_BLOCKED = frozenset(
    {
        "OPENCLAW_ALLOW_OLDER_BINARY_DESTRUCTIVE_ACTIONS",
        "OPENCLAW_INCLUDE_ROOTS",
        "OPENCLAW_CONFIG_READONLY",
    }
)


@attrs.frozen
class MissingEnvReference:
    """A ``${NAME}`` whose variable is unset or empty, at config path ``path``."""

    name: str
    path: tuple[PathSegment, ...]

    @property
    def message(self) -> str:
        return (
            f'Missing env var "{self.name}" referenced at config path: '
            f"{format_config_path(self.path) if self.path else ''}"
        )


def _token_at(value: str, index: int) -> tuple[str, str, int] | None:
    """``(kind, name, end)`` for an escape (``$${X}``) or reference (``${X}``) at ``index``."""
    following = value[index + 1 : index + 2]
    if following == "$" and value[index + 2 : index + 3] == "{":
        end = value.find("}", index + 3)
        if end != -1 and ENV_VAR_NAME.match(value[index + 3 : end]):
            return ("escaped", value[index + 3 : end], end)
    if following == "{":
        end = value.find("}", index + 2)
        if end != -1 and ENV_VAR_NAME.match(value[index + 2 : end]):
            return ("reference", value[index + 2 : end], end)
    return None


def contains_env_reference(value: str) -> bool:
    """True when ``value`` has an unescaped ``${NAME}`` reference."""
    index = value.find("$")
    while index != -1:
        token = _token_at(value, index)
        if token is not None:
            if token[0] == "reference":
                return True
            index = value.find("$", token[2] + 1)
        else:
            index = value.find("$", index + 1)
    return False


def _substitute_string(
    value: str,
    env: Mapping[str, str],
    path: tuple[PathSegment, ...],
    missing: list[MissingEnvReference],
) -> str:
    if "$" not in value:
        return value
    chunks: list[str] = []
    index = 0
    length = len(value)
    while index < length:
        char = value[index]
        if char != "$":
            next_dollar = value.find("$", index)
            stop = length if next_dollar == -1 else next_dollar
            chunks.append(value[index:stop])
            index = stop
            continue
        token = _token_at(value, index)
        if token is None:
            chunks.append("$")
            index += 1
            continue
        kind, name, end = token
        if kind == "escaped":
            chunks.append("${" + name + "}")
        else:
            resolved = env.get(name)
            if resolved is None or resolved == "":
                missing.append(MissingEnvReference(name, path))
                chunks.append("${" + name + "}")
            else:
                chunks.append(resolved)
        index = end + 1
    return "".join(chunks)


def substitute_env_vars(
    document: Any, env: Mapping[str, str]
) -> tuple[Any, tuple[MissingEnvReference, ...]]:
    """Replace ``${NAME}`` in every string value of ``document`` (keys are left alone).

    Returns the new document and every missing reference (unresolved references are left
    as ``${NAME}`` in the result); the loader turns the latter into an error.
    """
    missing: list[MissingEnvReference] = []

    def visit(value: Any, path: tuple[PathSegment, ...]) -> Any:
        if isinstance(value, str):
            return _substitute_string(value, env, path, missing)
        if isinstance(value, list | tuple):
            return [visit(item, (*path, index)) for index, item in enumerate(value)]
        if isinstance(value, Mapping):
            return {key: visit(item, (*path, key)) for key, item in value.items()}
        return value

    return visit(document, ()), tuple(missing)


def is_blocked_config_env_var(name: str) -> bool:
    """Names the config ``env`` block may not set (real gateway's host-env policy)."""
    upper = name.upper()
    return (
        upper in _CONFIG_ENV_BLOCKED
        or upper in _env_policy.BLOCKED_ENV_KEYS
        or upper.startswith(_env_policy.BLOCKED_ENV_PREFIXES)
    )


def config_env_additions(
    env_block: Any, env: Mapping[str, str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Variables the config ``env`` block adds to ``env``, and warnings for refused ones.

    Only variables missing or blank in ``env`` are added; values must be non-blank and must not
    reference other variables; blocked names are refused with a warning.
    """
    additions: dict[str, str] = {}
    warnings: list[str] = []
    if not isinstance(env_block, Mapping):
        return additions, ()
    entries: list[tuple[str, Any]] = []
    variables = env_block.get("vars")
    if isinstance(variables, Mapping):
        entries.extend(variables.items())
    # Legacy shorthand ``env: {KEY: "value"}``, migrated to env.vars later.
    entries.extend(
        (key, value) for key, value in env_block.items() if key not in ("vars", "shellEnv")
    )
    for raw_key, value in entries:
        if not isinstance(value, str) or not value.strip():
            continue
        key = raw_key.strip()
        if not PORTABLE_ENV_KEY.match(key):
            warnings.append(f'Ignoring env.vars entry "{raw_key}": not a portable variable name.')
            continue
        if is_blocked_config_env_var(key):
            warnings.append(
                f'Ignoring env.vars entry "{key}": this variable cannot be set from the config.'
            )
            continue
        if contains_env_reference(value):
            warnings.append(
                f'Ignoring env.vars entry "{key}": values may not reference other variables.'
            )
            continue
        current = env.get(key)
        if current is not None and current.strip():
            continue
        additions.setdefault(key, value)
    return additions, tuple(warnings)


# --------------------------------------------------------------------------- dotenv

_DOTENV_LINE = re.compile(
    r"""^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)"""
    r"""(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?"""
    r"""\s*(?:#.*)?$""",
    re.MULTILINE | re.ASCII,
)
_DOTENV_QUOTED = re.compile(r"""^(['"`])([\s\S]*)\1$""", re.MULTILINE)


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse dotenv text exactly like the ``dotenv`` npm package (v16) the real gateway uses."""
    result: dict[str, str] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    for match in _DOTENV_LINE.finditer(lines):
        key = match.group(1)
        value = (match.group(2) or "").strip()
        quote = value[:1]
        value = _DOTENV_QUOTED.sub(r"\2", value)
        if quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        result[key] = value
    return result


def _workspace_key_blocked(key: str) -> bool:
    upper = key.upper()
    if is_blocked_config_env_var(upper) or upper in _env_policy.BLOCKED_WORKSPACE_DOTENV_KEYS:
        return True
    if upper.startswith(_env_policy.BLOCKED_WORKSPACE_DOTENV_PREFIXES):
        return True
    if upper.endswith(_env_policy.BLOCKED_WORKSPACE_DOTENV_SUFFIXES):
        return True
    tokens = [token for token in upper.split("_") if token]
    for sequence in _env_policy.BLOCKED_WORKSPACE_DOTENV_TOKEN_SEQUENCES:
        size = len(sequence)
        if any(tuple(tokens[i : i + size]) == sequence for i in range(len(tokens) - size + 1)):
            return True
    return False


@attrs.frozen
class DotenvLoad:
    """What :func:`load_dotenv_files` did: keys applied per file, and warnings to log."""

    applied: Mapping[str, tuple[str, ...]]
    warnings: tuple[str, ...]


def _read_dotenv(path: str, warnings: list[str]) -> dict[str, str] | None:
    try:
        resolved = os.path.realpath(path)
        fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        warnings.append(f"Failed to read {path}: {error.strerror or error}")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            warnings.append(f"Failed to read {path}: not a regular file")
            return None
        if info.st_size > MAX_DOTENV_FILE_BYTES:
            warnings.append(
                f"skipping oversized .env file (max {MAX_DOTENV_FILE_BYTES} bytes): {path}"
            )
            return None
        data = os.read(fd, MAX_DOTENV_FILE_BYTES + 1)
    except OSError as error:
        warnings.append(f"Failed to read {path}: {error.strerror or error}")
        return None
    finally:
        os.close(fd)
    return parse_dotenv(data.decode("utf-8", errors="replace"))


def load_dotenv_files(
    env: MutableMapping[str, str],
    cwd: str | None,
    state_dir: str,
    *,
    home: str | None = None,
) -> DotenvLoad:
    """Fill ``env`` (mutated) from ``<cwd>/.env`` then ``<state_dir>/.env``; never override.

    With ``home`` given and ``state_dir`` being the default ``~/.openclaw``, the per-user
    service env file ``~/.config/openclaw/gateway.env`` is read last.  Missing files are
    fine; unreadable or oversized ones are skipped with a warning.
    """
    warnings: list[str] = []
    applied: dict[str, tuple[str, ...]] = {}

    def apply(path: str, keep: Callable[[str], bool]) -> None:
        entries = _read_dotenv(path, warnings)
        if not entries:
            return
        keys = []
        for raw_key, value in entries.items():
            key = raw_key.strip()
            if not PORTABLE_ENV_KEY.match(key) or not keep(key):
                continue
            if key in env:
                continue
            env[key] = value
            keys.append(key)
        if keys:
            applied[path] = tuple(keys)

    if cwd:
        apply(os.path.join(cwd, ".env"), lambda key: not _workspace_key_blocked(key))
    state_env = os.path.join(state_dir, ".env")
    files: Sequence[str] = [state_env]
    if home is not None and os.path.abspath(state_dir) == os.path.join(home, ".openclaw"):
        files = [state_env, os.path.join(home, ".config", "openclaw", "gateway.env")]
    for path in files:
        apply(path, lambda key: True)
    return DotenvLoad(applied=applied, warnings=tuple(warnings))
