"""A real gateway child process plus real WebSocket clients, for the reload tests.

The process writes its console log to a file (a pipe could fill up while a test waits), so
tests can wait for a log line. The client speaks the real handshake over the `websockets`
sync client with a reader thread that records every event and the close code.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tests.support import REPO_ROOT, free_port, http_get, isolated_env

TOKEN = "reload-test-token-0123456789"
ADMIN_SCOPES = ["operator.admin", "operator.read", "operator.write"]


def base_config(port: int, **gateway: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "gateway": {"mode": "local", "port": port,
                    "auth": {"mode": "token", "token": TOKEN}, **gateway},
        "agents": {"entries": {"main": {"model": "openai/gpt-4o-mini"}}},
    }
    return config


def write_json_atomic(path: str, document: Any) -> None:
    """What an editor that saves by rename does: temp file in the directory, then rename."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".edit-", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(document, indent=2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_in_place(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
               what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Gateway:
    """``python -m openclaw gateway`` with its own state dir; output goes to a file."""

    def __init__(self, base_dir: str, config: Mapping[str, Any] | str, *,
                 extra_env: Mapping[str, str] | None = None, args: list[str] | None = None
                 ) -> None:
        self.env = isolated_env(base_dir, **(extra_env or {}))
        self.env["PYTHONPATH"] = REPO_ROOT
        self.config_path = self.env["OPENCLAW_CONFIG_PATH"]
        self.state_dir = self.env["OPENCLAW_STATE_DIR"]
        self.write_config(config)
        self.log_path = os.path.join(base_dir, "gateway.out")
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def write_config(self, config: Mapping[str, Any] | str) -> None:
        os.makedirs(os.path.dirname(self.config_path), exist_ok=True)
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        write_in_place(self.config_path, text)
        os.chmod(self.config_path, 0o600)

    def start(self, port: int, timeout: float = 20.0) -> Gateway:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openclaw", "gateway", *self.args], env=self.env,
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_healthy(port, timeout)
        return self

    def wait_healthy(self, port: int, timeout: float = 20.0) -> None:
        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited {self.proc.returncode}:\n{self.output()}")
            try:
                return http_get(f"http://127.0.0.1:{port}/healthz", timeout=1)[0] == 200
            except OSError:
                return False

        wait_until(healthy, timeout, what=f"gateway healthy on {port}")

    def output(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def count(self, text: str) -> int:
        return self.output().count(text)

    def wait_for_log(self, text: str, timeout: float = 10.0, count: int = 1) -> None:
        try:
            wait_until(lambda: self.count(text) >= count, timeout, what=repr(text))
        except AssertionError:
            raise AssertionError(f"{text!r} not logged; output:\n{self.output()}") from None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class RequestFailed(Exception):
    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error
        self.code = error.get("code")
        self.message = str(error.get("message"))


class Client:
    """One operator WebSocket connection with a reader thread."""

    def __init__(self, port: int, token: str = TOKEN, scopes: list[str] | None = None) -> None:
        from websockets.sync.client import connect

        self.ws = connect(f"ws://127.0.0.1:{port}", open_timeout=5, close_timeout=1,
                          compression=None, max_size=None, legacy=True)
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.closed = threading.Event()
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._challenge = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._challenge.wait(5):
            raise AssertionError("no connect.challenge")
        self.hello = self.request("connect", {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "cli", "version": "test", "platform": "linux", "mode": "cli",
                       "instanceId": str(uuid.uuid4())},
            "caps": [], "auth": {"token": token}, "role": "operator",
            "scopes": scopes or ADMIN_SCOPES,
        })

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self.ws:
                frame = json.loads(message)
                if frame.get("type") == "event":
                    if frame.get("event") == "connect.challenge":
                        self._challenge.set()
                    self.events.append(frame)
                elif frame.get("type") == "res":
                    self._responses.put(frame)
        except ConnectionClosed:
            pass
        finally:
            received = getattr(self.ws, "close_rcvd", None) or getattr(
                getattr(self.ws, "protocol", None), "close_rcvd", None)
            self.close_code = received.code if received is not None else 1006
            self.close_reason = received.reason if received is not None else ""
            self.closed.set()

    def request(self, method: str, params: Any = None, timeout: float = 15.0) -> Any:
        request_id = str(uuid.uuid4())
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        self.ws.send(json.dumps(frame))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no response to {method}")
            try:
                reply = self._responses.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.closed.is_set():
                    raise AssertionError(
                        f"connection closed ({self.close_code}) before {method} answered"
                    ) from None
                continue
            if reply.get("id") != request_id:
                continue
            if reply.get("ok"):
                return reply.get("payload")
            raise RequestFailed(reply.get("error") or {})

    def event_names(self) -> list[str]:
        return [str(e.get("event")) for e in self.events]

    def wait_closed(self, timeout: float = 10.0) -> int | None:
        if not self.closed.wait(timeout):
            raise AssertionError("connection not closed")
        return self.close_code

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


def agent_model(client: Client, agent_id: str = "main") -> str | None:
    for agent in client.request("agents.list", {})["agents"]:
        if agent["id"] == agent_id:
            model = agent.get("model") or {}
            return model.get("primary")
    return None


__all__ = [
    "ADMIN_SCOPES",
    "TOKEN",
    "Client",
    "Gateway",
    "RequestFailed",
    "agent_model",
    "base_config",
    "free_port",
    "wait_until",
    "write_in_place",
    "write_json_atomic",
]
