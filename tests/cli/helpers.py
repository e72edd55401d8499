"""Helpers for the operator-command tests: run the CLI, share one live gateway per process."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

from openclaw.cli.main import main
from tests.support import REPO_ROOT, GatewayProcess, free_port, isolated_env, write_config

TOKEN = "cli-test-token-0123456789"


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(f"stdout is not JSON ({e}):\n{self.out}\n--- stderr\n{self.err}"
                                 ) from None

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def run_cli(argv: list[str], env: Mapping[str, str]) -> CliRun:
    """`openclaw <argv>` in this process (fast: no interpreter start-up per call)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv), env=dict(env))
        except SystemExit as e:  # --help of the twisted-usage gateway run options
            code = int(e.code or 0)
    return CliRun(code, out.getvalue(), err.getvalue())


def run_cli_process(argv: list[str], env: Mapping[str, str], timeout: float = 30.0) -> CliRun:
    """`python -m openclaw <argv>` as a real process (real exit status and streams)."""
    child_env = dict(env)
    child_env.setdefault("PYTHONPATH", REPO_ROOT)
    done = subprocess.run([sys.executable, "-m", "openclaw", *argv], env=child_env,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
                          stdin=subprocess.DEVNULL, check=False)
    return CliRun(done.returncode, done.stdout, done.stderr)


def make_env(base_dir: str, *, systemd: str = "unavailable", **extra: str) -> dict[str, str]:
    """An isolated environment; `systemd` picks the service manager the commands see:
    ``unavailable`` (a host without a user bus, the default: deterministic everywhere),
    ``fake`` (tests.daemon.fake_systemd, really runs units) or ``real`` (this machine's)."""
    env = isolated_env(base_dir, **extra)
    env.setdefault("NO_COLOR", "1")
    if systemd != "real":
        from tests.daemon.fake_systemd import install_fake_systemd

        install_fake_systemd(base_dir, env, unavailable=systemd == "unavailable")
    return env


def mode_of(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class LiveGateway:
    """One `python -m openclaw gateway` with its own state dir, config token and port."""

    def __init__(self, token: str = TOKEN, *, base_dir: str | None = None,
                 config: dict[str, Any] | None = None, extra_args: list[str] | None = None,
                 env_extra: Mapping[str, str] | None = None) -> None:
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="openclaw-cli-gw-")
        self.token = token
        self.port = free_port()
        self.env = make_env(self.base_dir, **dict(env_extra or {}))
        gateway = {"mode": "local", "port": self.port, "auth": {"mode": "token", "token": token}}
        self.config = config or {"gateway": gateway}
        write_config(self.env, self.config)
        self.process = GatewayProcess(self.env, ["--port", str(self.port), *(extra_args or [])])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> str:
        return self.env["OPENCLAW_STATE_DIR"]

    def start(self) -> LiveGateway:
        self.process.start()
        self.process.wait_healthy(self.port, timeout=30)
        return self


    def client_env(self, **extra: str) -> dict[str, str]:
        """An environment for CLI commands aimed at this gateway (its state dir and config)."""
        env = dict(self.env)
        env.update(extra)
        return env

    def stop(self) -> None:
        proc = self.process.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(Exception):
                self.process.terminate(timeout=15)
        self.process.kill()

    def restart(self) -> None:
        self.stop()
        self.process = GatewayProcess(self.env, self.process.args)
        self.start()

    def log_file(self) -> str:
        log_dir = os.path.join(self.state_dir, "logs")
        names = sorted(n for n in os.listdir(log_dir) if n.count(".") == 1)
        return os.path.join(log_dir, names[-1])


def start_all(*gateways: LiveGateway) -> None:
    """Start several gateways at once (their start-ups overlap), then wait for each."""
    for gateway in gateways:
        gateway.process.start()
    for gateway in gateways:
        gateway.process.wait_healthy(gateway.port, timeout=30)


_shared: LiveGateway | None = None
_lock = threading.Lock()
_temp_dirs: list[str] = []


def shared_gateway() -> LiveGateway:
    """The live gateway most tests of this process talk to (started once)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = LiveGateway().start()
            _temp_dirs.append(_shared.base_dir)
        return _shared


def temp_dir(prefix: str = "openclaw-cli-") -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(path)
    return path


@atexit.register
def _cleanup() -> None:
    if _shared is not None:
        _shared.stop()
    for path in _temp_dirs:
        shutil.rmtree(path, ignore_errors=True)
