"""Shared test helpers: isolated state dirs, free ports, a real gateway child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import attrs

from openclaw.config import ConfigSnapshot, parse_config_text
from openclaw.net import free_loopback_port

TEST_CONFIG_PATH = "/state/openclaw.json"


def config_snapshot(document: Mapping[str, Any] | str | None = None, **fields: Any
                    ) -> ConfigSnapshot:
    """A real ConfigSnapshot of ``document`` (a mapping or JSON5 text), loaded by the real
    pipeline; ``fields`` override snapshot attributes (``warnings``, ``exists``...)."""
    text = document if isinstance(document, str) else json.dumps(document or {})
    snapshot = parse_config_text(text, TEST_CONFIG_PATH, env={}, home="/home/test")
    return attrs.evolve(snapshot, **fields) if fields else snapshot


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


free_port = free_loopback_port


def isolated_env(base_dir: str, **extra: str) -> dict[str, str]:
    """An environment whose home, state dir and config live under base_dir."""
    home = os.path.join(os.path.abspath(base_dir), "home")
    state = os.path.join(home, ".openclaw")
    os.makedirs(state, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENCLAW_", "CLAWDBOT_"))
    }
    env.update(HOME=home, OPENCLAW_HOME=home, OPENCLAW_STATE_DIR=state,
               OPENCLAW_CONFIG_PATH=os.path.join(state, "openclaw.json"))
    env.update(extra)
    return env


def write_config(env: Mapping[str, str], config: Any) -> str:
    path = env["OPENCLAW_CONFIG_PATH"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(config if isinstance(config, str) else json.dumps(config, indent=2))
    return path


def http_get(url: str, timeout: float = 5.0, headers: Mapping[str, str] | None = None
             ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class GatewayProcess:
    """`python -m openclaw gateway ...` as a child process, with its output captured."""

    def __init__(self, env: Mapping[str, str], args: list[str], command: list[str] | None = None
                 ) -> None:
        self.env = dict(env)
        self.env.setdefault("PYTHONPATH", REPO_ROOT)
        self.args = args
        self.command = command or [sys.executable, "-m", "openclaw", "gateway"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> GatewayProcess:
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [*self.command, *self.args], env=self.env, cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        return self

    def wait_healthy(self, port: int, timeout: float = 15.0) -> float:
        """Seconds from start until /healthz answered 200."""
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(
                    f"gateway exited {self.proc.returncode}: {out.decode()} {err.decode()}"
                )
            try:
                status, _, _ = http_get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                if status == 200:
                    return time.monotonic() - self.started_at
            except OSError:
                pass
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"gateway not healthy on port {port} within {timeout}s")

    def run_to_exit(self, timeout: float = 20.0) -> tuple[int, str, str]:
        assert self.proc is not None
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        return self.proc.returncode, out.decode(), err.decode()

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10.0
                  ) -> tuple[int, str, str, float]:
        """Send `sig`; return exit code, output and seconds until exit."""
        assert self.proc is not None
        sent = time.monotonic()
        self.proc.send_signal(sig)
        code, out, err = self.run_to_exit(timeout)
        return code, out, err, time.monotonic() - sent

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
