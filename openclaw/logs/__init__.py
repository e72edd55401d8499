"""Gateway logging: JSON-lines file log in the real gateway's shape, human console output."""

from openclaw.logs.console import ConsoleLogObserver
from openclaw.logs.file_log import DailyJsonLogFile, JsonLinesLogObserver, log_file_path_for
from openclaw.logs.levels import LEVEL_NAMES, parse_level
from openclaw.logs.scrub import SecretScrubber

__all__ = [
    "LEVEL_NAMES",
    "ConsoleLogObserver",
    "DailyJsonLogFile",
    "JsonLinesLogObserver",
    "SecretScrubber",
    "log_file_path_for",
    "parse_level",
]
