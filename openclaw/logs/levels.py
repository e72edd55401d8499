"""Mapping between OpenClaw's level names (tslog) and twisted.logger levels."""

from __future__ import annotations

from twisted.logger import LogLevel

# tslog has trace and fatal; twisted.logger tops out at critical and bottoms at debug.
LEVEL_NAMES: dict[LogLevel, str] = {
    LogLevel.debug: "DEBUG",
    LogLevel.info: "INFO",
    LogLevel.warn: "WARN",
    LogLevel.error: "ERROR",
    LogLevel.critical: "FATAL",
}

_BY_CONFIG_NAME: dict[str, LogLevel] = {
    "trace": LogLevel.debug,
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
    "fatal": LogLevel.critical,
    "silent": LogLevel.critical,
}


def parse_level(name: str | None, default: LogLevel = LogLevel.info) -> LogLevel:
    """The twisted level for a `logging.level`-style name; unknown or unset names give default."""
    if not name:
        return default
    return _BY_CONFIG_NAME.get(name.strip().lower(), default)
