"""`openclaw logs`: formats, fallbacks, and `--follow` across log rotation and restarts."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.cli.logs_cmd import format_line, parse_log_line
from openclaw.client import call_gateway
from openclaw.client.connection import ClientIdentity
from openclaw.client.target import ClientConfig, resolve_target
from openclaw.logs.file_log import DailyJsonLogFile, archive_path_for
from tests.cli.helpers import LiveGateway, make_env, run_cli, shared_gateway, temp_dir
from tests.support import REPO_ROOT, free_port, write_config

RECORD = ('{"0":"connected conn=abc","_meta":{"logLevelName":"INFO","name":'
          '"{\\"subsystem\\":\\"gateway/ws\\"}","date":"2026-11-21T02:44:34.016Z"},'
          '"time":"2026-11-21T02:44:34.016Z"}')


def mark(gateway: LiveGateway, marker: str) -> None:
    """Make the gateway write a log line naming `marker` (its connect line logs the version)."""
    target = resolve_target({}, ClientConfig(path="/x", exists=False), url=gateway.url,
                            token=gateway.token)
    call_gateway(target, "health", identity=ClientIdentity(version=marker), timeout_ms=10_000)


class FormatTests(SynchronousTestCase):
    def test_parse_tslog_record(self) -> None:
        parsed = parse_log_line(RECORD)
        self.assertEqual(parsed, {"time": "2026-11-21T02:44:34.016Z", "level": "info",
                                  "subsystem": "gateway/ws", "message": "connected conn=abc",
                                  "raw": RECORD})
        self.assertIsNone(parse_log_line("not json"))

    def test_plain_and_utc_lines(self) -> None:
        self.assertEqual(format_line(RECORD, utc=True, pretty=False, color=False),
                         "2026-11-21T02:44:34.016Z info gateway/ws connected conn=abc")
        local = format_line(RECORD, utc=False, pretty=False, color=False)
        self.assertRegex(local, r"^2026-11-2[01]T\d\d:\d\d:34\.016[+-]\d\d:\d\d info gateway/ws ")
        self.assertEqual(format_line("garbage", utc=True, pretty=False, color=False), "garbage")


class LogsAgainstGatewayTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.gateway = shared_gateway()
        self.env = self.gateway.client_env()

    def test_plain_tail(self) -> None:
        mark(self.gateway, "plain-tail-marker")
        result = run_cli(["logs", "--limit", "50", "--plain", "--utc"], self.env)
        self.assertEqual(result.code, 0, result.err)
        lines = result.out.splitlines()
        self.assertEqual(lines[0], f"Log file: {self.gateway.log_file()}")
        self.assertTrue(any("version=plain-tail-marker" in line for line in lines))
        self.assertRegex(lines[1], r"^\d{4}-\d\d-\d\dT[\d:.]+Z (info|warn|debug|error) ")

    def test_json_tail(self) -> None:
        result = run_cli(["logs", "--limit", "2", "--json"], self.env)
        self.assertEqual(result.code, 0, result.err)
        records = result.json_lines()
        self.assertEqual(records[0]["type"], "meta")
        self.assertEqual(set(records[0]), {"type", "file", "sourceKind", "cursor", "size"})
        logs = [r for r in records if r["type"] == "log"]
        self.assertEqual(len(logs), 2)
        self.assertEqual(set(logs[0]) - {"module", "plugin"},
                         {"type", "time", "level", "subsystem", "message", "raw"})
        self.assertEqual(records[-1], {"type": "notice", "message": "Log tail truncated "
                                                                    "(increase --limit or "
                                                                    "--max-bytes)."})

    def test_bad_limit(self) -> None:
        result = run_cli(["logs", "--limit", "abc"], self.env)
        self.assertEqual(result.code, 1)
        self.assertIn("[openclaw] Reason: --limit must be a positive integer.", result.err)
        result = run_cli(["logs", "--limit"], self.env)
        self.assertEqual(result.err, "OpenClaw could not parse this command: option "
                                     "'--limit <n>' argument missing\nTry: openclaw logs "
                                     "--help\n")


class LogsWithoutGatewayTests(SynchronousTestCase):
    def test_explicit_url_unreachable(self) -> None:
        env = make_env(temp_dir())
        url = f"ws://127.0.0.1:{free_port()}"
        result = run_cli(["logs", "--url", url, "--token", "t"], env)
        self.assertEqual(result.code, 1)
        self.assertIn(f"Gateway not reachable at {url} (ECONNREFUSED).", result.err)
        self.assertTrue(result.err.endswith("Hint: run `openclaw doctor`.\n"))

    def test_local_fallback_reads_the_file(self) -> None:
        env = make_env(temp_dir())
        write_config(env, {"gateway": {"mode": "local", "port": free_port()}})
        log_dir = os.path.join(env["OPENCLAW_STATE_DIR"], "logs")
        os.makedirs(log_dir)
        path = os.path.join(log_dir, f"openclaw-{time.strftime('%Y-%m-%d')}.log")
        with open(path, "w") as f:
            f.write(RECORD + "\n")
        result = run_cli(["logs", "--utc"], env)
        self.assertEqual(result.code, 0, result.err)
        self.assertEqual(result.err, "Local Gateway RPC unavailable; reading configured file "
                                     "log instead.\n")
        self.assertEqual(result.out, f"Log file: {path}\n2026-11-21T02:44:34.016Z info "
                                     "gateway/ws connected conn=abc\n")


class SizeRotationTests(SynchronousTestCase):
    def test_archives_are_numbered_and_pruned(self) -> None:
        log_dir = self.mktemp()
        log = DailyJsonLogFile(log_dir, max_file_bytes=100, max_archives=2,
                               now=lambda: 1767225600.0)
        for index in range(10):
            log.write_line(json.dumps({"0": f"line {index}", "pad": "x" * 40}))
        current = log.current_path
        log.close()
        self.assertTrue(os.path.exists(archive_path_for(current, 1)))
        self.assertTrue(os.path.exists(archive_path_for(current, 2)))
        self.assertFalse(os.path.exists(archive_path_for(current, 3)))
        self.assertRegex(os.path.basename(archive_path_for(current, 1)),
                         r"^openclaw-\d{4}-\d\d-\d\d\.1\.log$")
        for path in (current, archive_path_for(current, 1)):
            self.assertLessEqual(os.path.getsize(path), 100)
        with open(current) as f:
            self.assertIn("line 9", f.read())

    def test_tail_cursor_resets_after_rotation(self) -> None:
        """logs.tail's reader sees a size-rotated file as `reset` (what --follow relies on)."""
        from pathlib import Path

        from openclaw.gateway.methods.logs import read_log_slice

        log = DailyJsonLogFile(self.mktemp(), max_file_bytes=300, now=lambda: 1767225600.0)
        for index in range(3):
            log.write_line(json.dumps({"0": f"before {index}", "pad": "y" * 50}))
        first = read_log_slice(Path(log.current_path), cursor=None, limit=100, max_bytes=10_000)
        for index in range(3):
            log.write_line(json.dumps({"0": f"after {index}", "pad": "z" * 50}))
        second = read_log_slice(Path(log.current_path), cursor=first["cursor"], limit=100,
                                max_bytes=10_000)
        log.close()
        self.assertTrue(second["reset"])
        self.assertTrue(any("after" in line for line in second["lines"]))


class Follower:
    """`python -m openclaw logs --follow --json` with its streams read in the background."""

    def __init__(self, env: dict[str, str]) -> None:
        child_env = dict(env, PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openclaw", "logs", "--follow", "--json", "--interval",
             "150", "--limit", "1000"], env=child_env, cwd=REPO_ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.out: queue.Queue[dict[str, Any]] = queue.Queue()
        self.err: queue.Queue[dict[str, Any]] = queue.Queue()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, sink: queue.Queue[dict[str, Any]]) -> None:
        for line in stream:
            try:
                sink.put(json.loads(line))
            except ValueError:
                sink.put({"type": "text", "message": line.rstrip()})

    def wait_for(self, sink: queue.Queue[dict[str, Any]], predicate: Any, what: str,
                 timeout: float = 30.0) -> list[dict[str, Any]]:
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                record = sink.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            seen.append(record)
            if predicate(record):
                return seen
        raise AssertionError(f"never saw {what}; got {seen[-10:]}, exit {self.proc.poll()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def log_with(marker: str) -> Any:
    return lambda r: r.get("type") == "log" and f"version={marker}" in r.get("message", "")


class FollowTests(SynchronousTestCase):
    def test_follow_across_rotation_and_restart(self) -> None:
        gateway = LiveGateway().start()
        self.addCleanup(gateway.stop)
        follower = Follower(gateway.client_env())
        self.addCleanup(follower.stop)
        mark(gateway, "m-before")
        follower.wait_for(follower.out, log_with("m-before"), "the first marker")

        # copytruncate rotation (logrotate's way): archive a copy, truncate in place.
        path = gateway.log_file()
        shutil.copyfile(path, archive_path_for(path, 1))
        with open(path, "r+") as f:
            f.truncate(0)
        mark(gateway, "m-rotated")
        reset = {"type": "notice", "message": "Log cursor reset (file rotated)."}
        seen = follower.wait_for(follower.out, lambda r: r == reset, "the reset notice")
        if not any(log_with("m-rotated")(r) for r in seen):  # lines come before notices
            follower.wait_for(follower.out, log_with("m-rotated"), "the post-rotation marker")

        # The gateway restarts: the follower reconnects and keeps tailing the same file.
        gateway.restart()
        mark(gateway, "m-restarted")
        follower.wait_for(follower.out, log_with("m-restarted"), "the post-restart marker",
                          timeout=40)
        notices = [r["message"] for r in follower.wait_for(
            follower.err, lambda r: r.get("message") == "[logs] gateway reconnected",
            "the reconnected notice")]
        self.assertTrue(any(n.startswith("[logs] gateway disconnected, reconnecting in ")
                            for n in notices), notices)
