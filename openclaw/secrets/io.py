"""How secret providers touch the system: private file reads and resolver commands.

Two implementations of one small interface:

* :class:`SyncSecretIO` -- plain blocking calls (``open``, ``subprocess.run`` with a
  timeout). Used at start-up, before the reactor runs, and from worker threads.
* :class:`ReactorSecretIO` -- never blocks the reactor: file reads run in the reactor's
  thread pool, resolver commands through ``reactor.spawnProcess`` with an overall timeout,
  a no-output timeout and an output cap (the child is killed when one trips).

Both apply the same safety checks: a secret file must be a private regular file (no
symlink, one hard link, owned by us, no group/other permission bits); a resolver command
must be an absolute path to a regular file that is not group/world-writable and is owned by
us or root (symlinks only with ``allowSymlinkCommand``; inside ``trustedDirs`` when set).
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping
from typing import Any, Protocol

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from openclaw.secrets.refs import ExecProviderConfig, FileProviderConfig

__all__ = [
    "ExecResult",
    "ReactorSecretIO",
    "SecretIO",
    "SecretIOError",
    "SyncSecretIO",
    "check_exec_command",
    "read_private_file",
]


class SecretIOError(Exception):
    """A provider could not be read or run; the message names the provider/path."""


@attrs.frozen
class ExecResult:
    code: int | None
    stdout: bytes
    # "exit" | "timeout" | "no-output-timeout" | "output-limit"
    termination: str = "exit"


class SecretIO(Protocol):
    def read_file(self, alias: str, provider: FileProviderConfig) -> Deferred[bytes]: ...

    def run_exec(self, alias: str, provider: ExecProviderConfig, stdin: bytes,
                 env: Mapping[str, str]) -> Deferred[ExecResult]: ...


def read_private_file(alias: str, provider: FileProviderConfig) -> bytes:
    """The bytes of a provider's file after the permission checks (blocking)."""
    path = provider.path
    label = f"secrets.providers.{alias}.path"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise SecretIOError(f"{label} {path} does not exist.") from None
    except OSError as e:
        raise SecretIOError(f"{label} {path} cannot be read: {e.strerror}.") from None
    if stat.S_ISLNK(info.st_mode):
        raise SecretIOError(f"{label} {path} must not be a symlink.")
    if not stat.S_ISREG(info.st_mode):
        raise SecretIOError(f"{label} {path} must be a regular file.")
    if info.st_nlink > 1:
        raise SecretIOError(f"{label} {path} must not be hardlinked.")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise SecretIOError(f"{label} {path} must be owned by the current user.")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        who = "world" if mode & 0o007 else "group"
        raise SecretIOError(
            f"{label} {path} is {who}-accessible (mode {mode:04o}); it must be private: "
            f"chmod 600 {path}")
    if info.st_size > provider.max_bytes:
        raise SecretIOError(f"{label} {path} exceeds maxBytes ({provider.max_bytes}).")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise SecretIOError(f"{label} {path} cannot be read: {e.strerror}.") from None
    try:
        opened = os.fstat(fd)
        if (opened.st_ino, opened.st_dev) != (info.st_ino, info.st_dev):
            raise SecretIOError(f"{label} {path} changed while being read; retry.")
        data = os.read(fd, provider.max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > provider.max_bytes:
        raise SecretIOError(f"{label} {path} exceeds maxBytes ({provider.max_bytes}).")
    return data


def check_exec_command(alias: str, provider: ExecProviderConfig) -> str:
    """The resolver command to run, after the path trust checks (blocking, stat only)."""
    label = f"secrets.providers.{alias}.command"
    command = provider.command
    try:
        info = os.lstat(command)
    except OSError:
        raise SecretIOError(f"{label} {command} does not exist.") from None
    if stat.S_ISLNK(info.st_mode):
        if not provider.allow_symlink_command:
            raise SecretIOError(
                f"{label} {command} must not be a symlink (set allowSymlinkCommand or "
                "configure the real binary path).")
        command = os.path.realpath(command)
        info = os.stat(command)
    if not stat.S_ISREG(info.st_mode):
        raise SecretIOError(f"{label} {command} must be a regular file.")
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise SecretIOError(f"{label} {command} must not be group- or world-writable.")
    if hasattr(os, "geteuid") and info.st_uid not in (os.geteuid(), 0):
        raise SecretIOError(f"{label} {command} must be owned by the current user or root.")
    if not os.access(command, os.X_OK):
        raise SecretIOError(f"{label} {command} is not executable.")
    if provider.trusted_dirs:
        real = os.path.realpath(command)
        if not any(real.startswith(os.path.realpath(d).rstrip(os.sep) + os.sep)
                   for d in provider.trusted_dirs):
            raise SecretIOError(f"{label} {command} is outside secrets.providers.{alias}."
                                "trustedDirs.")
    return command


def _child_env(provider: ExecProviderConfig, env: Mapping[str, str]) -> dict[str, str]:
    child = {key: env[key] for key in provider.pass_env if key in env}
    child.update(dict(provider.env))
    return child


class SyncSecretIO:
    """Blocking I/O returning already-fired Deferreds (start-up, worker threads)."""

    def read_file(self, alias: str, provider: FileProviderConfig) -> Deferred[bytes]:
        try:
            return succeed(read_private_file(alias, provider))
        except Exception:
            return fail(Failure())

    def run_exec(self, alias: str, provider: ExecProviderConfig, stdin: bytes,
                 env: Mapping[str, str]) -> Deferred[ExecResult]:
        try:
            command = check_exec_command(alias, provider)
        except Exception:
            return fail(Failure())
        try:
            done = subprocess.run(
                [command, *provider.args], input=stdin, capture_output=True,
                env=_child_env(provider, env), cwd=os.path.dirname(command),
                timeout=provider.timeout_ms / 1000.0, check=False)
        except subprocess.TimeoutExpired:
            return succeed(ExecResult(None, b"", "timeout"))
        except OSError as e:
            return fail(SecretIOError(
                f'Exec provider "{alias}" could not start {command}: {e.strerror}.'))
        if len(done.stdout) > provider.max_output_bytes:
            return succeed(ExecResult(done.returncode, b"", "output-limit"))
        return succeed(ExecResult(done.returncode, done.stdout))


class _ResolverProcess(ProcessProtocol):
    def __init__(self, stdin: bytes, max_bytes: int, done: Deferred[ExecResult]) -> None:
        self._stdin = stdin
        self._max = max_bytes
        self._chunks: list[bytes] = []
        self.output_size = 0
        self.done = done
        self.termination = "exit"

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self._stdin)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.output_size += len(data)
        if self.output_size > self._max:
            self.kill("output-limit")
            return
        self._chunks.append(data)

    def errReceived(self, data: bytes) -> None:
        pass  # resolver diagnostics may carry secrets: never logged

    def kill(self, why: str) -> None:
        if self.termination == "exit":
            self.termination = why
        try:
            assert self.transport is not None
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        stdout = b"".join(self._chunks) if self.termination == "exit" else b""
        if not self.done.called:
            self.done.callback(ExecResult(code, stdout, self.termination))


class ReactorSecretIO:
    """Non-blocking I/O: a thread for file reads, ``spawnProcess`` for resolver commands."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def read_file(self, alias: str, provider: FileProviderConfig) -> Deferred[bytes]:
        from twisted.internet.threads import deferToThreadPool

        return deferToThreadPool(self._reactor, self._reactor.getThreadPool(),
                                 read_private_file, alias, provider)

    def run_exec(self, alias: str, provider: ExecProviderConfig, stdin: bytes,
                 env: Mapping[str, str]) -> Deferred[ExecResult]:
        try:
            command = check_exec_command(alias, provider)
        except Exception:
            return fail(Failure())
        done: Deferred[ExecResult] = Deferred()
        protocol = _ResolverProcess(stdin, provider.max_output_bytes, done)
        try:
            self._reactor.spawnProcess(
                protocol, command, [command, *provider.args], env=_child_env(provider, env),
                path=os.path.dirname(command))
        except OSError as e:
            return fail(SecretIOError(
                f'Exec provider "{alias}" could not start {command}: {e.strerror}.'))
        timers: list[IDelayedCall] = [
            self._reactor.callLater(provider.timeout_ms / 1000.0, protocol.kill, "timeout")]
        if provider.no_output_timeout_ms is not None:

            def silent() -> None:
                if protocol.output_size == 0:
                    protocol.kill("no-output-timeout")

            timers.append(self._reactor.callLater(provider.no_output_timeout_ms / 1000.0,
                                                  silent))

        def cancel_timers(result: ExecResult) -> ExecResult:
            for timer in timers:
                if timer.active():
                    timer.cancel()
            return result

        return done.addBoth(cancel_timers)
