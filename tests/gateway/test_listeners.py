"""The listener pool: passed sockets (systemd, a handover), sockets bound and kept, and the
re-exec handover's descriptor shuffle, on real sockets."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
import tempfile
import time

from twisted.internet.error import CannotListenError
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.handover import (
    RestartRequest,
    consume_restart_request,
    exec_with_listeners,
    reexec_argv,
    request_path_for,
    write_restart_request,
)
from openclaw.gateway.listeners import HANDOVER_NAME, ListenerPool, bind_listening_socket


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, 0))
    sock.listen(8)
    return sock


def free_descriptors(count: int, first: int = 300) -> int:
    """The first of ``count`` consecutive descriptor numbers nothing uses, from ``first``."""
    fd = first
    while True:
        taken = False
        for candidate in range(fd, fd + count):
            try:
                os.fstat(candidate)
                taken = True
            except OSError:
                pass
        if not taken:
            return fd
        fd += count


class PassedSocketsTests(SynchronousTestCase):
    def pass_sockets(self, *sockets: socket.socket) -> int:
        """Put copies of ``sockets`` on consecutive descriptors, as systemd would."""
        start = free_descriptors(len(sockets))
        for offset, sock in enumerate(sockets):
            os.dup2(sock.fileno(), start + offset)
            sock.close()
        return start

    def test_systemd_sockets_are_served_whatever_the_config(self) -> None:
        first, second = listening_socket(), listening_socket()
        addresses = [first.getsockname(), second.getsockname()]
        start = self.pass_sockets(first, second)
        env = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2",
               "LISTEN_FDNAMES": "openclaw-gateway.socket:openclaw-gateway.socket",
               "OTHER": "kept"}
        pool = ListenerPool.from_environment(env, start=start)
        self.addCleanup(pool.close)
        self.assertEqual(env, {"OTHER": "kept"})  # consumed
        self.assertEqual([(listener.name, listener.address(), listener.activated)
                          for listener in pool.activated],
                         [("openclaw-gateway.socket", addresses[0], True),
                          ("openclaw-gateway.socket", addresses[1], True)])
        for listener in pool.listeners():
            self.assertFalse(listener.sock.get_inheritable())
            self.assertFalse(listener.sock.getblocking())
        pool.retain([])  # systemd's sockets are never closed by the gateway
        self.assertEqual(len(pool), 2)

    def test_no_names_means_systemd_default_names(self) -> None:
        start = self.pass_sockets(listening_socket())
        pool = ListenerPool.from_environment(
            {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1"}, start=start)
        self.addCleanup(pool.close)
        self.assertEqual([listener.name for listener in pool.activated], ["unknown"])

    def test_sockets_for_another_process_are_ignored(self) -> None:
        env = {"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x"}
        with capturedLogs() as events:
            pool = ListenerPool.from_environment(env, start=free_descriptors(1))
        self.assertEqual((len(pool), env), (0, {}))
        self.assertIn("LISTEN_FDS=1 is not for this process (LISTEN_PID=1); ignored",
                      [formatEvent(e) for e in events])

    def test_what_is_not_a_listening_tcp_socket_is_closed(self) -> None:
        unbound = socket.socket()
        datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        start = self.pass_sockets(unbound, datagram)
        with capturedLogs() as events:
            pool = ListenerPool.from_environment(
                {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2"}, start=start)
        self.assertEqual(len(pool), 0)
        for fd in (start, start + 1):
            with self.assertRaises(OSError):
                os.fstat(fd)
        self.assertEqual(sum("is not a listening TCP socket" in formatEvent(e)
                             for e in events), 2)

    def test_handed_over_sockets_are_matched_to_the_config(self) -> None:
        kept, dropped = listening_socket(), listening_socket()
        kept_port, dropped_port = kept.getsockname()[1], dropped.getsockname()[1]
        start = self.pass_sockets(kept, dropped)
        pool = ListenerPool.from_environment(
            {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2",
             "LISTEN_FDNAMES": f"{HANDOVER_NAME}:{HANDOVER_NAME}"}, start=start)
        self.addCleanup(pool.close)
        self.assertEqual(pool.activated, [])
        listener = pool.claim("127.0.0.1", kept_port)
        self.assertEqual(listener.address(), ("127.0.0.1", kept_port))
        pool.retain([listener])
        self.assertEqual([lst.address()[1] for lst in pool.listeners()], [kept_port])
        self.assertNotEqual(kept_port, dropped_port)


class BoundSocketsTests(SynchronousTestCase):
    def test_claim_binds_once_and_keeps_the_socket(self) -> None:
        pool = ListenerPool()
        self.addCleanup(pool.close)
        first = pool.claim("127.0.0.1", 0)
        self.assertIs(pool.claim("127.0.0.1", 0), first)
        port = first.address()[1]
        # It listens: a connection attempt is accepted by the kernel with nobody serving.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        self.assertFalse(first.sock.get_inheritable())
        self.assertFalse(first.sock.getblocking())

    def test_retain_closes_what_the_config_dropped(self) -> None:
        pool = ListenerPool()
        self.addCleanup(pool.close)
        old = pool.claim("127.0.0.1", 0)
        new = pool.claim("127.0.0.2", 0)
        port = old.address()[1]
        with capturedLogs() as events:
            pool.retain([new])
        self.assertEqual(pool.listeners(), [new])
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        self.assertIn(f"closing listening socket 127.0.0.1:{port} (no longer configured)",
                      [formatEvent(e) for e in events])

    def test_a_taken_port_is_refused_like_listen_tcp(self) -> None:
        taken = listening_socket()
        self.addCleanup(taken.close)
        with self.assertRaises(CannotListenError) as raised:
            bind_listening_socket("127.0.0.1", taken.getsockname()[1])
        self.assertEqual(raised.exception.socketError.errno, errno.EADDRINUSE)


class RestartRequestTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        self.path = request_path_for(os.path.join(directory, "gateway.1234abcd.lock"))

    def test_path_sits_beside_the_lock(self) -> None:
        self.assertTrue(self.path.endswith("gateway.1234abcd.restart.json"))

    def test_round_trip_consumes_the_file(self) -> None:
        write_restart_request(self.path, RestartRequest(pid=42, requested_at=time.time()))
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        request = consume_restart_request(self.path, 42)
        assert request is not None
        self.assertEqual((request.pid, request.mode), (42, "exec"))
        self.assertFalse(os.path.exists(self.path))
        self.assertIsNone(consume_restart_request(self.path, 42))

    def test_stale_or_foreign_requests_are_dropped(self) -> None:
        write_restart_request(self.path, RestartRequest(pid=42, requested_at=time.time()))
        self.assertIsNone(consume_restart_request(self.path, 43))
        self.assertFalse(os.path.exists(self.path))
        write_restart_request(self.path, RestartRequest(pid=42, requested_at=time.time() - 600))
        self.assertIsNone(consume_restart_request(self.path, 42))
        with open(self.path, "w") as handle:
            handle.write("not json")
        self.assertIsNone(consume_restart_request(self.path, 42))
        self.assertFalse(os.path.exists(self.path))


class ReexecTests(SynchronousTestCase):
    def test_argv_is_the_original_command_line_without_force(self) -> None:
        self.assertEqual(
            reexec_argv(["python3", "-X", "dev", "-m", "openclaw", "gateway", "--force",
                         "--port", "1"], executable="/venv/bin/python"),
            ["/venv/bin/python", "-X", "dev", "-m", "openclaw", "gateway", "--port", "1"])
        self.assertEqual(reexec_argv()[0], sys.executable)

    def test_listeners_sit_on_3_and_up_at_exec_and_everything_is_restored_after(self
                                                                               ) -> None:
        pool = ListenerPool()
        self.addCleanup(pool.close)
        listeners = [pool.claim("127.0.0.1", 0), pool.claim("127.0.0.2", 0)]
        before = {fd: _identity(fd) for fd in range(3, 3 + len(listeners))}
        seen: dict[str, object] = {}

        def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
            seen["argv"], seen["env"] = argv, env
            seen["fds"] = [(socket.socket(fileno=os.dup(fd)), os.get_inheritable(fd))
                           for fd in range(3, 3 + len(listeners))]
            raise OSError(errno.ENOENT, "No such file or directory")

        with self.assertRaises(OSError):
            exec_with_listeners(["/bin/python", "-m", "openclaw"],
                                {"KEEP": "1", "LISTEN_FDS": "9", "LISTEN_PID": "1"},
                                listeners, execve=execve)
        self.assertEqual(seen["argv"], ["/bin/python", "-m", "openclaw"])
        self.assertEqual(seen["env"], {
            "KEEP": "1", "LISTEN_PID": str(os.getpid()), "LISTEN_FDS": str(len(listeners)),
            "LISTEN_FDNAMES": ":".join([HANDOVER_NAME] * len(listeners))})
        passed = seen["fds"]
        assert isinstance(passed, list)
        for (sock, inheritable), listener in zip(passed, listeners, strict=True):
            self.assertEqual(sock.getsockname(), listener.sock.getsockname())
            self.assertTrue(inheritable)
            sock.close()
        self.assertEqual({fd: _identity(fd) for fd in before}, before)
        for listener in listeners:  # still listening
            socket.create_connection(listener.address()[:2], timeout=5).close()


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        stat = os.fstat(fd)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
