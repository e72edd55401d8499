"""A real gateway process under systemd's protocols and under load.

No ``systemd --user`` can run on this machine (no systemd as PID 1, no delegated cgroup:
``systemd --user`` exits 1 at start-up), so the test stands in for systemd the way systemd
talks to a service: a unix datagram socket of the test's own as ``NOTIFY_SOCKET``, a
listening socket the test binds and passes as descriptor 3 with ``LISTEN_FDS``/
``LISTEN_PID``/``LISTEN_FDNAMES`` (``LISTEN_PID`` and ``WATCHDOG_PID`` set by a shell
trampoline, as systemd sets them between fork and exec), and ``WATCHDOG_USEC``. Every wait
waits on the event itself: a datagram, a log line, a process exit, a count of answered
requests.

The restarts run under load: clients connecting in a loop (one ``GET /healthz`` per
connection) must never see a connection refused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IReactorProcess, IReactorUNIXDatagram
from twisted.internet.protocol import DatagramProtocol, ProcessProtocol, Protocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from tests.support import REPO_ROOT, isolated_env, write_config
from tests.testing.support import Http

TOKEN = "zero-downtime-token-1234"


class NotifyRecorder(DatagramProtocol):
    """systemd's end of ``NOTIFY_SOCKET``: every datagram, and Deferreds waiting for one."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self._waiting: list[tuple[int, Callable[[dict[str, str]], bool],
                                  Deferred[dict[str, str]]]] = []

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        message = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        self.messages.append(message)
        index = len(self.messages) - 1
        for entry in list(self._waiting):
            after, predicate, waiter = entry
            if index >= after and predicate(message):
                self._waiting.remove(entry)
                waiter.callback(message)

    def mark(self) -> int:
        return len(self.messages)

    def wait(self, predicate: Callable[[dict[str, str]], bool], after: int = 0
             ) -> Deferred[dict[str, str]]:
        """The first message from index ``after`` on that matches (already here or not)."""
        for message in self.messages[after:]:
            if predicate(message):
                done: Deferred[dict[str, str]] = Deferred()
                done.callback(message)
                return done
        waiter: Deferred[dict[str, str]] = Deferred()
        self._waiting.append((after, predicate, waiter))
        return waiter

    def kinds(self, after: int = 0) -> list[str]:
        return [next(iter(m)) for m in self.messages[after:] if "WATCHDOG" not in m]


def has(key: str, value: str = "1") -> Callable[[dict[str, str]], bool]:
    return lambda message: message.get(key) == value


class GatewayChild(ProcessProtocol):
    """The gateway process: its output lines, Deferreds for lines, its exit."""

    def __init__(self) -> None:
        self.output = ""
        self.lines: list[str] = []
        self._waiting: list[tuple[str, int, Deferred[str]]] = []
        self.ended: Deferred[int] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data.decode("utf-8", "replace")
        while "\n" in self.output:
            line, self.output = self.output.split("\n", 1)
            self.lines.append(line)
            for entry in list(self._waiting):
                text, after, waiter = entry
                if len(self.lines) - 1 >= after and text in line:
                    self._waiting.remove(entry)
                    waiter.callback(line)

    errReceived = outReceived

    def wait_line(self, text: str, after: int = 0) -> Deferred[str]:
        for line in self.lines[after:]:
            if text in line:
                done: Deferred[str] = Deferred()
                done.callback(line)
                return done
        waiter: Deferred[str] = Deferred()
        self._waiting.append((text, after, waiter))
        return waiter

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.ended.callback(-1 if code is None else int(code))


class _OneRequest(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"GET /healthz HTTP/1.0\r\nHost: gateway\r\n\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.done.callback(self.data)


class LoadClients:
    """``concurrency`` clients, each connecting in a loop: one request per connection."""

    def __init__(self, port: int, concurrency: int = 4) -> None:
        self.endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=30)
        self.ok = 0
        self.refused = 0
        self.unanswered = 0
        self.other: list[str] = []
        self._running = True
        self._targets: list[tuple[int, Deferred[None]]] = []
        self._loops = [Deferred.fromCoroutine(self._loop()) for _ in range(concurrency)]

    async def _loop(self) -> None:
        while self._running:
            try:
                protocol = await connectProtocol(self.endpoint, _OneRequest())
            except ConnectionRefusedError:
                self.refused += 1
                continue
            except Exception as e:
                self.other.append(repr(e))
                continue
            data = await protocol.done
            if data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200"):
                self.ok += 1
                for entry in list(self._targets):
                    if self.ok >= entry[0]:
                        self._targets.remove(entry)
                        entry[1].callback(None)
            else:
                self.unanswered += 1

    def answered(self, more: int) -> Deferred[None]:
        """Fires once ``more`` further requests were answered 200."""
        waiter: Deferred[None] = Deferred()
        self._targets.append((self.ok + more, waiter))
        return waiter

    async def stop(self) -> None:
        self._running = False
        await DeferredList(self._loops)


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(511)
    return sock


# Sets what systemd sets in the child between fork and exec: the pid is the shell's, which
# `exec` keeps.
TRAMPOLINE = 'LISTEN_PID=$$ WATCHDOG_PID=$$; export LISTEN_PID WATCHDOG_PID; exec "$@"'


class ZeroDowntimeTests(TestCase):
    timeout = 150

    def gateway_env(self, port: int, **extra: str) -> dict[str, str]:
        env = isolated_env(self.mktemp(), PYTHONPATH=REPO_ROOT, PYTHONUNBUFFERED="1", **extra)
        write_config(env, {"gateway": {"mode": "local", "port": port,
                                       "auth": {"mode": "token", "token": TOKEN}}})
        return env

    def spawn(self, env: dict[str, str], port: int, *, listen_fd: int | None = None
              ) -> tuple[GatewayChild, Any]:
        child = GatewayChild()
        argv = [sys.executable, "-m", "openclaw", "gateway", "--port", str(port)]
        child_fds: dict[int, Any] = {0: "w", 1: "r", 2: "r"}
        if listen_fd is not None:
            argv = ["/bin/sh", "-c", TRAMPOLINE, "sh", *argv]
            child_fds[3] = listen_fd
        process = cast(IReactorProcess, reactor).spawnProcess(
            child, argv[0], argv, env=env, path=REPO_ROOT, childFDs=child_fds)

        def kill_if_running() -> Deferred[int] | None:
            if child.ended.called:
                return None
            process.signalProcess("KILL")
            return child.ended

        self.addCleanup(kill_if_running)
        return child, process

    def load(self, port: int) -> LoadClients:
        load = LoadClients(port)
        self.addCleanup(lambda: Deferred.fromCoroutine(load.stop()))
        return load

    def notify_socket(self) -> tuple[NotifyRecorder, str]:
        recorder = NotifyRecorder()
        path = tempfile.mkdtemp(prefix="oc-notify-")  # a short path: sun_path is 108 bytes
        self.addCleanup(shutil.rmtree, path, True)
        address = os.path.join(path, "notify")
        port = cast(IReactorUNIXDatagram, reactor).listenUNIXDatagram(address, recorder)
        self.addCleanup(port.stopListening)
        return recorder, address

    async def test_systemd_protocol_with_a_passed_socket(self) -> None:
        sock = listening_socket()
        port = sock.getsockname()[1]
        notify, address = self.notify_socket()
        env = self.gateway_env(port, NOTIFY_SOCKET=address, WATCHDOG_USEC="400000",
                               LISTEN_FDS="1", LISTEN_FDNAMES="openclaw-gateway.socket")
        child, process = self.spawn(env, port, listen_fd=sock.fileno())
        # systemd would keep its copy; the test lets go of its own, so the gateway's copy is
        # the only one and a restart that closed it would refuse connections.
        sock.close()

        ready = await notify.wait(has("READY"))
        self.assertEqual(ready["STATUS"], f"serving on ws://127.0.0.1:{port} (generation 1)")
        http = Http()
        status, body, _ = await http.request("GET", f"http://127.0.0.1:{port}/readyz")
        self.assertEqual((status, body["ready"]), (200, True))
        await child.wait_line(f"listening on ws://127.0.0.1:{port}")

        # Watchdog pings from the reactor while it is healthy (WatchdogSec=0.4s here).
        mark = notify.mark()
        for _ in range(3):
            await notify.wait(has("WATCHDOG"), after=notify.mark())
        self.assertGreaterEqual(notify.messages[mark:].count({"WATCHDOG": "1"}), 3)

        # `systemctl reload` (ExecReload= sends SIGHUP): RELOADING=1, then READY=1.
        write_config(env, {"gateway": {"mode": "local", "port": port,
                                       "auth": {"mode": "token", "token": TOKEN}},
                           "logging": {"level": "debug"}})
        mark = notify.mark()
        process.signalProcess("HUP")
        reloading = await notify.wait(has("RELOADING"), after=mark)
        self.assertTrue(reloading["MONOTONIC_USEC"].isdigit())
        # (SIGHUP, or the file watcher when its event came last: both ask for the pass)
        self.assertTrue(reloading["STATUS"].startswith("reloading config ("), reloading)
        await notify.wait(has("READY"), after=mark)
        self.assertEqual(notify.kinds(mark), ["RELOADING", "READY"])
        await child.wait_line("config reloaded (logging)")

        # An in-process restart under load: the adopted socket is never closed.
        load = self.load(port)
        await load.answered(20)
        mark = notify.mark()
        process.signalProcess(signal.SIGUSR1)
        restarting = await notify.wait(has("RELOADING"), after=mark)
        self.assertEqual(restarting["STATUS"], "restarting: signal SIGUSR1")
        restarted = await notify.wait(has("READY"), after=mark)
        self.assertEqual(restarted["STATUS"],
                         f"serving on ws://127.0.0.1:{port} (generation 2)")
        await load.answered(50)
        await load.stop()
        self.assertEqual((load.refused, load.other), (0, []), load.__dict__)

        # Watchdog still pinging after the restart.
        await notify.wait(has("WATCHDOG"), after=notify.mark())

        mark = notify.mark()
        process.signalProcess("TERM")
        stopping = await notify.wait(has("STOPPING"), after=mark)
        self.assertEqual(stopping["STATUS"], "stopping")
        self.assertEqual(await child.ended, 0, "\n".join(child.lines))
        self.assertNotIn("Traceback", "\n".join(child.lines))

    async def test_gateway_restart_without_systemd_hands_the_socket_over(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = self.gateway_env(port)
        child, process = self.spawn(env, port)
        first_ready = await child.wait_line("gateway ready (pid")
        self.assertIn(f"pid {process.pid},", first_ready)
        load = self.load(port)
        await load.answered(20)
        mark = len(child.lines)

        cli_env = dict(env)
        cli_env.pop("PYTHONUNBUFFERED")
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-m", "openclaw", "gateway", "restart", "--json"], env=cli_env,
            path=REPO_ROOT)
        self.assertEqual(code, 0, (out, err, "\n".join(child.lines)))
        report = json.loads(out)
        self.assertEqual((report["ok"], report["result"]), (True, "restarted"))

        await child.wait_line("restart mode: full process restart (re-exec", after=mark)
        again = await child.wait_line("gateway ready (pid", after=mark)
        # The same process (re-exec keeps the pid), serving the same socket.
        self.assertIn(f"pid {process.pid},", again)
        self.assertFalse(child.ended.called)
        await load.answered(50)
        await load.stop()
        self.assertEqual((load.refused, load.other), (0, []), load.__dict__)

        process.signalProcess("TERM")
        self.assertEqual(await child.ended, 0, "\n".join(child.lines))
        self.assertNotIn("Traceback", "\n".join(child.lines))
