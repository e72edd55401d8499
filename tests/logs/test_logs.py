"""File log shape, daily file naming, level filtering, secret scrubbing, console format."""

from __future__ import annotations

import io
import json
import os

from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from openclaw.logs import (
    ConsoleLogObserver,
    DailyJsonLogFile,
    JsonLinesLogObserver,
    SecretScrubber,
    parse_level,
)
from openclaw.logs.console import console_prefix


def event(text, level=LogLevel.info, namespace="gateway", **fields):
    return {"log_format": text, "log_level": level, "log_namespace": namespace,
            "log_time": 1767225600.0, **fields}


class FileLogTests(SynchronousTestCase):
    def test_tslog_shape(self) -> None:
        log_file = DailyJsonLogFile(self.mktemp(), now=lambda: 1767225600.0)
        observer = JsonLinesLogObserver(log_file)
        observer(event("listening on {url}", url="ws://127.0.0.1:1"))
        with open(log_file.current_path, encoding="utf-8") as f:
            record = json.loads(f.readline())
        self.assertEqual(record["0"], "listening on ws://127.0.0.1:1")
        self.assertEqual(record["_meta"]["logLevelName"], "INFO")
        self.assertEqual(json.loads(record["_meta"]["name"]), {"subsystem": "gateway"})
        self.assertEqual(record["time"], "2026-01-01T00:00:00.000Z")
        self.assertEqual(record["_meta"]["date"], record["time"])

    def test_daily_file_name_and_rollover(self) -> None:
        clock = [1767225600.0]
        log_dir = self.mktemp()
        log_file = DailyJsonLogFile(log_dir, now=lambda: clock[0])
        first = log_file.current_path
        self.assertRegex(os.path.basename(first), r"^openclaw-\d{4}-\d{2}-\d{2}\.log$")
        log_file.write_line("{}")
        clock[0] += 86400
        log_file.write_line("{}")
        self.assertNotEqual(log_file.current_path, first)
        self.assertTrue(os.path.exists(log_file.current_path))

    def test_fixed_path(self) -> None:
        path = os.path.join(self.mktemp(), "gw.log")
        log_file = DailyJsonLogFile("/nonexistent", fixed_path=path)
        log_file.write_line("{}")
        self.assertEqual(log_file.current_path, path)
        self.assertTrue(os.path.exists(path))

    def test_level_filter_and_subsystem_field(self) -> None:
        log_file = DailyJsonLogFile(self.mktemp())
        observer = JsonLinesLogObserver(log_file, level=LogLevel.warn)
        observer(event("quiet", LogLevel.info))
        observer(event("loud", LogLevel.error, subsystem="gateway/reload"))
        with open(log_file.current_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 1)
        record = json.loads(lines[0])
        self.assertEqual(record["_meta"]["logLevelName"], "ERROR")
        self.assertEqual(json.loads(record["_meta"]["name"])["subsystem"], "gateway/reload")

    def test_subsystem_from_namespace(self) -> None:
        from openclaw.logs.file_log import subsystem_of

        self.assertEqual(subsystem_of(event("x", namespace="gateway/reload")), "gateway/reload")
        self.assertEqual(
            subsystem_of(event("x", namespace="openclaw.gateway.protocol.factory.F")), "gateway/ws"
        )
        self.assertEqual(subsystem_of(event("x", namespace="openclaw.gateway.service")), "gateway")
        self.assertEqual(subsystem_of(event("x", namespace="twisted.web.http")), "twisted")
        self.assertEqual(subsystem_of(event("x", subsystem="cron")), "cron")

    def test_secrets_scrubbed(self) -> None:
        log_file = DailyJsonLogFile(self.mktemp())
        observer = JsonLinesLogObserver(log_file, scrub=SecretScrubber(["hunter2-token"]))
        observer(event("token is {t}; header Bearer abcdefghijkl", t="hunter2-token"))
        with open(log_file.current_path, encoding="utf-8") as f:
            text = f.read()
        self.assertNotIn("hunter2-token", text)
        self.assertNotIn("abcdefghijkl", text)
        self.assertIn("***", text)


class ConsoleTests(SynchronousTestCase):
    def test_format_and_streams(self) -> None:
        out, err = io.StringIO(), io.StringIO()
        observer = ConsoleLogObserver(out=out, err=err)
        observer(event("hello"))
        observer(event("careful", LogLevel.warn, namespace="gateway/reload"))
        observer(event("hidden", LogLevel.debug))
        self.assertRegex(out.getvalue(), r"^\d\d:\d\d:\d\d \[gateway\] hello\n$")
        self.assertRegex(err.getvalue(), r"^\d\d:\d\d:\d\d \[reload\] warn: careful\n$")

    def test_prefix_rules(self) -> None:
        self.assertEqual(console_prefix("gateway"), "gateway")
        self.assertEqual(console_prefix("gateway/reload"), "reload")
        self.assertEqual(console_prefix("channels/telegram/bot"), "telegram/bot")
        self.assertEqual(console_prefix("a/b/c"), "b/c")

    def test_parse_level(self) -> None:
        self.assertEqual(parse_level("debug"), LogLevel.debug)
        self.assertEqual(parse_level("WARN"), LogLevel.warn)
        self.assertEqual(parse_level(None), LogLevel.info)
        self.assertEqual(parse_level("bogus"), LogLevel.info)
