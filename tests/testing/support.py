"""Helpers for the fake-server tests: a treq client that leaves no connection behind, and a
child process runner for the ``python -m`` entry points."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, cast

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.web.client import HTTPConnectionPool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Http:
    """treq over a non-persistent pool: every request closes its connection, so trial finds a
    clean reactor after each test."""

    def __init__(self) -> None:
        self.pool = HTTPConnectionPool(reactor, persistent=False)

    async def request(self, method: str, url: str, *, json_body: Any = None,
                      data: Any = None, headers: dict[str, str] | None = None,
                      files: Any = None) -> tuple[int, Any, Any]:
        """``(status, parsed JSON body or raw bytes, response headers)``."""
        kwargs: dict[str, Any] = {"pool": self.pool, "reactor": reactor}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if files is not None:
            kwargs["files"] = files
        if headers:
            kwargs["headers"] = {k: [v] for k, v in headers.items()}
        response = await treq.request(method, url, **kwargs)
        raw = await treq.content(response)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        return response.code, body, response.headers


class LineReader(ProcessProtocol):
    """A child process whose stdout lines arrive as a Deferred per line."""

    def __init__(self) -> None:
        self.buffer = b""
        self.lines: list[str] = []
        self.waiting: list[tuple[int, Deferred[str]]] = []
        self.ended: Deferred[int] = Deferred()
        self.stderr = b""

    def line(self, index: int) -> Deferred[str]:
        if index < len(self.lines):
            return Deferred.fromCoroutine(_value(self.lines[index]))
        waiter: Deferred[str] = Deferred()
        self.waiting.append((index, waiter))
        return waiter

    def outReceived(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n", 1)
            self.lines.append(raw.decode())
            ready = [(i, d) for i, d in self.waiting if i < len(self.lines)]
            self.waiting = [(i, d) for i, d in self.waiting if i >= len(self.lines)]
            for i, waiter in ready:
                waiter.callback(self.lines[i])

    def errReceived(self, data: bytes) -> None:
        self.stderr += data

    def processEnded(self, reason: Failure) -> None:
        for _, waiter in self.waiting:
            waiter.errback(RuntimeError(f"the process ended: {self.stderr.decode()}"))
        self.waiting = []
        self.ended.callback(getattr(reason.value, "exitCode", None) or 0)


async def _value(value: str) -> str:
    return value


def spawn_module(module: str, *args: str) -> tuple[Any, LineReader]:
    protocol = LineReader()
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1")
    process = cast(IReactorProcess, reactor).spawnProcess(
        protocol, sys.executable, [sys.executable, "-m", module, *args], env=env,
        path=REPO_ROOT)
    return process, protocol
