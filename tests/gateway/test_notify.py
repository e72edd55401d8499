"""sd_notify datagrams on a real unix datagram socket, and the watchdog on a Clock."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.notify import (
    SystemdNotifier,
    Watchdog,
    notify_address,
    watchdog_interval_s,
)


class NotifySocket:
    """A datagram socket standing where systemd's would (``NOTIFY_SOCKET``)."""

    def __init__(self, test: SynchronousTestCase, *, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        test.addCleanup(self.sock.close)
        if abstract:
            name = f"openclaw-test-notify-{os.getpid()}-{id(self)}"
            self.sock.bind(b"\0" + name.encode())
            self.env_value = "@" + name
        else:
            directory = tempfile.mkdtemp(prefix="oc-notify-")
            test.addCleanup(shutil.rmtree, directory, True)
            self.env_value = os.path.join(directory, "notify")
            self.sock.bind(self.env_value)
        self.sock.setblocking(False)

    def received(self) -> list[dict[str, str]]:
        """Every datagram waiting, each as its KEY=VALUE fields."""
        messages = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return messages
            messages.append(dict(line.split("=", 1) for line in data.decode().split("\n")))


class NotifierTests(SynchronousTestCase):
    def test_each_notification_is_one_datagram(self) -> None:
        listener = NotifySocket(self)
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": listener.env_value})
        notifier._monotonic = lambda: 123456789
        self.addCleanup(notifier.close)
        self.assertTrue(notifier.enabled)
        notifier.ready("serving on ws://127.0.0.1:1 (generation 1)")
        notifier.reloading("reloading config\n(SIGHUP)")
        notifier.stopping("stopping")
        notifier.status("x" * 500)
        notifier.watchdog()
        self.assertEqual(listener.received(), [
            {"READY": "1", "STATUS": "serving on ws://127.0.0.1:1 (generation 1)"},
            {"RELOADING": "1", "MONOTONIC_USEC": "123456789",
             "STATUS": "reloading config (SIGHUP)"},
            {"STOPPING": "1", "STATUS": "stopping"},
            {"STATUS": "x" * 200},
            {"WATCHDOG": "1"},
        ])
        self.assertEqual(notifier.sent, 5)

    def test_abstract_namespace(self) -> None:
        listener = NotifySocket(self, abstract=True)
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": listener.env_value})
        self.addCleanup(notifier.close)
        self.assertTrue(notifier.ready())
        self.assertEqual(listener.received(), [{"READY": "1"}])

    def test_monotonic_usec_is_clock_monotonic(self) -> None:
        import time

        listener = NotifySocket(self)
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": listener.env_value})
        self.addCleanup(notifier.close)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        notifier.reloading()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        [message] = listener.received()
        self.assertTrue(before <= int(message["MONOTONIC_USEC"]) <= after)

    def test_without_notify_socket_nothing_is_sent(self) -> None:
        notifier = SystemdNotifier.from_environment({})
        self.assertFalse(notifier.enabled)
        self.assertFalse(notifier.ready())

    def test_unsupported_address_is_refused_with_a_warning(self) -> None:
        self.assertIsNone(notify_address("vsock:2:1234"))
        with capturedLogs() as events:
            notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"})
        self.assertFalse(notifier.enabled)
        self.assertIn("NOTIFY_SOCKET=vsock:2:1234 is not a unix socket; systemd "
                      "notifications are off", [formatEvent(e) for e in events])

    def test_nobody_listening_never_raises_and_warns_once(self) -> None:
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        notifier = SystemdNotifier(os.path.join(directory, "gone"))
        self.addCleanup(notifier.close)
        with capturedLogs() as events:
            self.assertFalse(notifier.ready())
            self.assertFalse(notifier.watchdog())
        warnings = [formatEvent(e) for e in events if "not delivered" in formatEvent(e)]
        self.assertEqual(len(warnings), 1)


class WatchdogTests(SynchronousTestCase):
    def test_interval_from_the_environment(self) -> None:
        self.assertEqual(watchdog_interval_s({"WATCHDOG_USEC": "30000000"}), 30.0)
        self.assertEqual(watchdog_interval_s({"WATCHDOG_USEC": "200000",
                                              "WATCHDOG_PID": str(os.getpid())}), 0.2)
        self.assertIsNone(watchdog_interval_s({"WATCHDOG_USEC": "200000",
                                               "WATCHDOG_PID": "1"}, pid=4242))
        self.assertIsNone(watchdog_interval_s({"WATCHDOG_USEC": "0"}))
        self.assertIsNone(watchdog_interval_s({"WATCHDOG_USEC": "soon"}))
        self.assertIsNone(watchdog_interval_s({}))

    def test_pings_at_half_the_timeout_while_healthy(self) -> None:
        listener = NotifySocket(self)
        notifier = SystemdNotifier(listener.env_value)
        self.addCleanup(notifier.close)
        clock = Clock()
        healthy = [True]
        watchdog = Watchdog(notifier, clock, 10.0, healthy=lambda: healthy[0])
        watchdog.start()
        self.assertEqual(listener.received(), [{"WATCHDOG": "1"}])
        clock.advance(4.9)
        self.assertEqual(listener.received(), [])
        clock.advance(0.1)
        self.assertEqual(listener.received(), [{"WATCHDOG": "1"}])
        healthy[0] = False
        clock.advance(5.0)
        self.assertEqual(listener.received(), [])
        healthy[0] = True
        clock.advance(5.0)
        self.assertEqual(listener.received(), [{"WATCHDOG": "1"}])
        watchdog.stop()
        clock.advance(50.0)
        self.assertEqual(listener.received(), [])
        self.assertFalse(watchdog.running)
