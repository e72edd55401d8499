"""The gateway's file log: JSON lines in the real gateway's (tslog) shape, one file per day.

`openclaw logs` and the `logs.tail` RPC read these files, so the shape matches upstream:
positional message parts under "0", level and subsystem under "_meta", ISO time under "time".
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from twisted.logger import ILogObserver, LogEvent, LogLevel, formatEvent
from zope.interface import implementer

from openclaw.logs.levels import LEVEL_NAMES
from openclaw.logs.scrub import SecretScrubber

LOG_FILE_PREFIX = "openclaw-"
LOG_FILE_SUFFIX = ".log"
DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024  # logging.maxFileBytes default (upstream)
DEFAULT_MAX_ARCHIVES = 5


def log_file_path_for(log_dir: str, day: str) -> str:
    """Path of the daily log file for `day` (YYYY-MM-DD, host local time as upstream)."""
    return os.path.join(log_dir, f"{LOG_FILE_PREFIX}{day}{LOG_FILE_SUFFIX}")


def archive_path_for(path: str, index: int) -> str:
    """``openclaw-2026-01-01.log`` -> ``openclaw-2026-01-01.<index>.log``."""
    stem, ext = os.path.splitext(path)
    return f"{stem}.{index}{ext or LOG_FILE_SUFFIX}"


def _local_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(now))


class DailyJsonLogFile:
    """An append-only log file that moves to a new file when the local date changes.

    With a fixed `path` (config `logging.file`) it never rotates by day. Old daily files
    (and their archives) beyond `keep_days` are pruned when a new one is opened.

    Size rotation (``logging.maxFileBytes``): a line that would take the active file past
    `max_file_bytes` first moves it to ``<name>.1.log`` (older archives shift up to
    ``.<max_archives>.log``; the oldest is dropped) and starts a fresh file under the same
    name. Readers holding a byte cursor see the file shrink below it, which ``logs.tail``
    reports as ``reset``.
    """

    def __init__(
        self,
        log_dir: str,
        *,
        fixed_path: str | None = None,
        keep_days: int = 1,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_archives: int = DEFAULT_MAX_ARCHIVES,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.log_dir = log_dir
        self._fixed_path = fixed_path
        self._keep_days = keep_days
        self._max_file_bytes = max(1, max_file_bytes)
        self._max_archives = max(0, max_archives)
        self._now = now
        self._day: str | None = None
        self._file: IO[str] | None = None
        self._path: str | None = None
        self._size = 0

    @property
    def current_path(self) -> str:
        """The file being written now (what `logs.tail` should read)."""
        if self._fixed_path:
            return self._fixed_path
        return log_file_path_for(self.log_dir, _local_day(self._now()))

    def write_line(self, line: str) -> None:
        path = self.current_path
        if path != self._path or self._file is None:
            self._open(path)
        size = len(line.encode("utf-8")) + 1
        if self._size > 0 and self._size + size > self._max_file_bytes:
            self._rotate(path)
        assert self._file is not None
        self._file.write(line)
        self._file.write("\n")
        self._file.flush()
        self._size += size

    def _rotate(self, path: str) -> None:
        """Shift ``.N.log`` archives up, move the active file to ``.1.log``, reopen."""
        self.close()
        if self._max_archives == 0:
            with contextlib.suppress(OSError):
                os.unlink(path)
        else:
            with contextlib.suppress(OSError):
                os.unlink(archive_path_for(path, self._max_archives))
            for index in range(self._max_archives - 1, 0, -1):
                with contextlib.suppress(OSError):
                    os.replace(archive_path_for(path, index), archive_path_for(path, index + 1))
            with contextlib.suppress(OSError):
                os.replace(path, archive_path_for(path, 1))
        self._open(path)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._path = None

    def _open(self, path: str) -> None:
        self.close()
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._path = path
        self._size = os.fstat(fd).st_size
        if not self._fixed_path:
            self._prune()

    def _prune(self) -> None:
        cutoff = self._now() - self._keep_days * 86400 - 86400
        try:
            names = os.listdir(self.log_dir)
        except OSError:
            return
        for name in names:
            if not (name.startswith(LOG_FILE_PREFIX) and name.endswith(LOG_FILE_SUFFIX)):
                continue
            full = os.path.join(self.log_dir, name)
            try:
                if os.stat(full).st_mtime < cutoff and full != self._path:
                    os.unlink(full)
            except OSError:
                continue


# Python logger namespaces -> upstream subsystem names (longest prefix wins).
_SUBSYSTEMS: tuple[tuple[str, str], ...] = (
    ("openclaw.gateway.protocol", "gateway/ws"),
    ("openclaw.gateway.methods", "gateway/ws"),
    ("openclaw.config", "gateway/config"),
    ("openclaw.gateway", "gateway"),
    ("openclaw", "gateway"),
)


def subsystem_of(event: LogEvent) -> str:
    """The OpenClaw subsystem of an event: an explicit field, else from the namespace.

    Our own loggers use upstream names ("gateway", "gateway/reload") or Python module
    namespaces mapped above; third-party namespaces keep their top package ("twisted").
    """
    subsystem = event.get("subsystem")
    if isinstance(subsystem, str):
        return subsystem
    namespace = str(event.get("log_namespace") or "gateway")
    if "." not in namespace:
        return namespace
    for prefix, name in _SUBSYSTEMS:
        if namespace == prefix or namespace.startswith(prefix + "."):
            return name
    return namespace.split(".", 1)[0]


def event_message(event: LogEvent) -> str:
    text = formatEvent(event)
    failure = event.get("log_failure")
    if failure is not None:
        text = f"{text}\n{failure.getTraceback()}"
    return text


@implementer(ILogObserver)
class JsonLinesLogObserver:
    """Writes every event at or above `level` as one tslog-shaped JSON line."""

    def __init__(
        self,
        log_file: DailyJsonLogFile,
        *,
        level: LogLevel = LogLevel.info,
        scrub: SecretScrubber | None = None,
    ) -> None:
        self.log_file = log_file
        self.level = level
        self._scrub = scrub or SecretScrubber()

    def __call__(self, event: LogEvent) -> None:
        level = event.get("log_level", LogLevel.info)
        if level < self.level:
            return
        # A full disk or a vanished log dir must not take the gateway down with it.
        with contextlib.suppress(OSError):
            self.log_file.write_line(self.render(event))

    def render(self, event: LogEvent) -> str:
        moment = datetime.fromtimestamp(event.get("log_time") or time.time(), tz=UTC)
        iso = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record: dict[str, Any] = {
            "0": self._scrub(event_message(event)),
            "_meta": {
                "logLevelName": LEVEL_NAMES.get(event.get("log_level", LogLevel.info), "INFO"),
                "name": json.dumps({"subsystem": subsystem_of(event)}, separators=(",", ":")),
                "date": iso,
            },
            "time": iso,
        }
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
