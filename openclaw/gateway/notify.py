"""systemd's readiness protocol (``sd_notify(3)``): ready, reloading, stopping, status, watchdog.

A ``Type=notify`` service finds ``NOTIFY_SOCKET`` in its environment: a filesystem path, or
``@name`` for Linux's abstract namespace. Each notification is one datagram of
newline-separated ``KEY=VALUE`` lines. The gateway sends

* ``READY=1`` once its port listens and every child service started (start-up, and again
  when an in-process restart or a config reload finished);
* ``RELOADING=1`` with ``MONOTONIC_USEC`` (what ``Type=notify-reload`` requires) when a
  config reload or an in-process restart begins;
* ``STOPPING=1`` when it begins to shut down;
* ``STATUS=...``: one line saying what it is doing;
* ``WATCHDOG=1`` from a reactor timer when ``WATCHDOG_USEC`` is set (and ``WATCHDOG_PID``,
  when present, is this process): a reactor that stops turning stops the pings, and systemd
  restarts the service (``WatchdogSec=``).

Hand-written, as Synapse's is: the protocol is one ``sendto`` on a non-blocking
``AF_UNIX``/``SOCK_DGRAM`` socket. The PyPI clients either send on a blocking socket
(``sdnotify``) or need libsystemd and a compiler (``systemd-python``, ``cysystemd``).
A notification never blocks the reactor and never raises: if systemd is not reading, it is
dropped (and said once in the log).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Final

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = [
    "SystemdNotifier",
    "Watchdog",
    "monotonic_usec",
    "notify_address",
    "watchdog_interval_s",
]

log = Logger(namespace="gateway")

# A STATUS= line longer than this is cut (systemd shows one line in `systemctl status`).
MAX_STATUS_CHARS: Final = 200


def monotonic_usec() -> int:
    """``CLOCK_MONOTONIC`` in microseconds, the clock ``MONOTONIC_USEC`` is read against."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def notify_address(raw: str | None) -> str | bytes | None:
    """The ``sendto`` address of a ``NOTIFY_SOCKET`` value (None: not a unix socket)."""
    if not raw:
        return None
    if raw.startswith("@"):
        # The abstract namespace: a leading NUL instead of the '@'.
        return b"\0" + raw[1:].encode("utf-8")
    if raw.startswith("/"):
        return raw
    return None  # vsock:... and anything else systemd may grow: not supported here


def watchdog_interval_s(env: Mapping[str, str], pid: int | None = None) -> float | None:
    """The watchdog timeout systemd asked for (``sd_watchdog_enabled``), None when off.

    ``WATCHDOG_PID``, when set, names the process that must ping: a child that inherited the
    environment is not it.
    """
    raw = (env.get("WATCHDOG_USEC") or "").strip()
    if not raw.isdigit() or int(raw) <= 0:
        return None
    owner = (env.get("WATCHDOG_PID") or "").strip()
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    return int(raw) / 1_000_000


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line[:MAX_STATUS_CHARS]


class SystemdNotifier:
    """Sends ``sd_notify`` datagrams to ``address``; does nothing when there is none."""

    def __init__(self, address: str | bytes | None, *,
                 monotonic: Callable[[], int] = monotonic_usec) -> None:
        self.address = address
        self._monotonic = monotonic
        self._socket: socket.socket | None = None
        self._warned = False
        self.sent = 0

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> SystemdNotifier:
        """The notifier ``NOTIFY_SOCKET`` asks for (a silent one when it is unset).

        ``NOTIFY_SOCKET`` stays in the environment: a process restart by re-exec
        (:mod:`openclaw.gateway.handover`) keeps the pid, and systemd expects its
        notifications from the same process.
        """
        raw = env.get("NOTIFY_SOCKET")
        address = notify_address(raw)
        if raw and address is None:
            log.warn("NOTIFY_SOCKET={raw} is not a unix socket; systemd notifications are off",
                     raw=raw)
        return cls(address)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines; False when it could not be sent."""
        if self.address is None:
            return False
        data = "\n".join(fields).encode("utf-8")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto(data, self.address)
        except OSError as e:
            # BlockingIOError: systemd's queue is full; ENOENT/ECONNREFUSED: nobody listens.
            if not self._warned:
                self._warned = True
                log.warn("systemd notification not delivered ({reason}); later ones that "
                         "fail are dropped silently", reason=e.strerror or str(e))
            return False
        self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        fields = ["READY=1"]
        if status:
            fields.append(f"STATUS={_one_line(status)}")
        return self.notify(*fields)

    def reloading(self, status: str | None = None) -> bool:
        fields = ["RELOADING=1", f"MONOTONIC_USEC={self._monotonic()}"]
        if status:
            fields.append(f"STATUS={_one_line(status)}")
        return self.notify(*fields)

    def stopping(self, status: str | None = None) -> bool:
        fields = ["STOPPING=1"]
        if status:
            fields.append(f"STATUS={_one_line(status)}")
        return self.notify(*fields)

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


class Watchdog:
    """Pings systemd's watchdog from the reactor at half the timeout (as ``sd_notify(3)``
    recommends), while ``healthy()`` says so."""

    def __init__(self, notifier: SystemdNotifier, clock: IReactorTime, timeout_s: float, *,
                 healthy: Callable[[], bool] = lambda: True) -> None:
        self._notifier = notifier
        self._healthy = healthy
        self.timeout_s = timeout_s
        self._loop = LoopingCall(self._ping)
        self._loop.clock = clock

    @property
    def running(self) -> bool:
        return bool(self._loop.running)

    def start(self) -> None:
        if not self._loop.running:
            self._loop.start(self.timeout_s / 2, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def _ping(self) -> None:
        if self._healthy():
            self._notifier.watchdog()
