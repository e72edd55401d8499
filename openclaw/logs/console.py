"""Human console output for `openclaw gateway`: time, [subsystem], message."""

from __future__ import annotations

import sys
import time
from typing import IO

from twisted.logger import ILogObserver, LogEvent, LogLevel
from zope.interface import implementer

from openclaw.logs.file_log import event_message, subsystem_of
from openclaw.logs.scrub import SecretScrubber

_LEVEL_TAGS = {LogLevel.warn: "warn: ", LogLevel.error: "error: ", LogLevel.critical: "fatal: "}


def console_prefix(subsystem: str) -> str:
    """Upstream drops a leading gateway/ or channels/ and keeps the last two segments."""
    parts = [p for p in subsystem.split("/") if p]
    if len(parts) > 1 and parts[0] in ("gateway", "channels"):
        parts = parts[1:]
    return "/".join(parts[-2:]) or "gateway"


@implementer(ILogObserver)
class ConsoleLogObserver:
    """Prints events at or above `level`; warnings and worse go to stderr."""

    def __init__(
        self,
        *,
        level: LogLevel = LogLevel.info,
        scrub: SecretScrubber | None = None,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.level = level
        self._scrub = scrub or SecretScrubber()
        self._out = out
        self._err = err

    def __call__(self, event: LogEvent) -> None:
        level = event.get("log_level", LogLevel.info)
        if level < self.level:
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(event.get("log_time") or time.time()))
        prefix = console_prefix(subsystem_of(event))
        text = self._scrub(event_message(event))
        line = f"{stamp} [{prefix}] {_LEVEL_TAGS.get(level, '')}{text}\n"
        stream = (self._err or sys.stderr) if level >= LogLevel.warn else (self._out or sys.stdout)
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):
            pass
