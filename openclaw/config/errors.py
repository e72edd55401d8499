"""Config errors: every problem found while loading is a :class:`ConfigIssue`.

Loading collects issues instead of stopping at the first one, so the operator sees everything
that is wrong in one go.  All failures raise :class:`ConfigError` (or a subclass); its ``str()``
is the operator-facing message of the real gateway::

    Invalid config at /home/me/.openclaw/openclaw.json:
    - gateway.port: Too big: expected number to be <=65535 (maximum: 65535)
    - gateway: Unrecognized key: "prot"

Paths use the real gateway's notation: dotted keys, ``[0]`` for array items and
``["odd key"]`` for keys that are not plain identifiers; the document root is ``<root>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

import attrs

__all__ = [
    "CircularIncludeError",
    "ConfigError",
    "ConfigIncludeError",
    "ConfigIssue",
    "ConfigParseError",
    "MissingEnvVarError",
    "PathSegment",
    "format_config_path",
]

PathSegment = str | int
"""One step of a config path: an object key or an array index."""

ROOT_PATH = "<root>"
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$:-]*$")
# Terminal control characters must never reach an operator's terminal from user-edited text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def format_config_path(segments: Sequence[PathSegment]) -> str:
    """Render path segments the way the real gateway prints them (``a.b[0]["x y"]``)."""
    rendered = ""
    for segment in segments:
        if isinstance(segment, int):
            rendered += f"[{segment}]"
        elif not _PLAIN_SEGMENT.match(segment):
            rendered += f"[{json.dumps(segment, ensure_ascii=False)}]"
        else:
            rendered = f"{rendered}.{segment}" if rendered else segment
    return rendered or ROOT_PATH


def _sanitize(text: str) -> str:
    return _CONTROL_CHARS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


@attrs.frozen
class ConfigIssue:
    """One problem in one place: ``path`` (``<root>`` for the whole file), what, and which file."""

    path: str
    message: str
    file: str

    def render(self, main_file: str | None = None) -> str:
        """The bullet line; names the file only when it is not ``main_file``."""
        line = f"- {_sanitize(self.path or ROOT_PATH)}: {_sanitize(self.message)}"
        if main_file is not None and self.file and self.file != main_file:
            line += f" (in {_sanitize(self.file)})"
        return line


class ConfigError(Exception):
    """The config cannot be used.  ``str()`` is the complete operator-facing message."""

    def __init__(self, file: str, issues: Iterable[ConfigIssue]) -> None:
        self.file = file
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        if not self.issues:
            raise ValueError("ConfigError needs at least one issue")
        super().__init__(file, self.issues)

    def __str__(self) -> str:
        lines = [f"Invalid config at {_sanitize(self.file)}:"]
        lines.extend(issue.render(self.file) for issue in self.issues)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(file={self.file!r}, issues={self.issues!r})"


class ConfigParseError(ConfigError):
    """The file (or an included file) is not valid JSON5 or cannot be read as text."""

    def __init__(
        self,
        file: str,
        reason: str,
        *,
        line: int | None = None,
        column: int | None = None,
        main_file: str | None = None,
    ) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        message = f"JSON5 parse failed: {reason}{where}"
        super().__init__(main_file or file, [ConfigIssue(ROOT_PATH, message, file)])


class ConfigIncludeError(ConfigError):
    """A ``$include`` directive could not be resolved (missing file, escape, depth, ...)."""

    def __init__(self, file: str, path: str, message: str, *, main_file: str | None = None) -> None:
        self.reason = message
        super().__init__(main_file or file, [ConfigIssue(path, message, file)])


class CircularIncludeError(ConfigIncludeError):
    """``$include`` files include each other; ``chain`` is the loop, first file repeated last."""

    def __init__(
        self, file: str, path: str, chain: Sequence[str], *, main_file: str | None = None
    ) -> None:
        self.chain = tuple(chain)
        message = "Circular include detected: " + " -> ".join(self.chain)
        super().__init__(file, path, message, main_file=main_file)


class MissingEnvVarError(ConfigError):
    """One or more ``${VAR}`` references name variables that are unset or empty."""

    def __init__(self, file: str, issues: Iterable[ConfigIssue]) -> None:
        super().__init__(file, issues)
