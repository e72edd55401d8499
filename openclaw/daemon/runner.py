"""Running the native service managers (``systemctl``, ``launchctl``, ``schtasks``).

One small seam: every control command goes through a :class:`CommandRunner`, so tests can
observe and script the manager without touching this machine's real service state, and a
missing binary becomes an ordinary failed result (exit 127) instead of an exception.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence

import attrs


@attrs.frozen
class CommandResult:
    code: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def detail(self) -> str:
        """The most useful one-line explanation of a failure."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return text[0].strip() if text else f"exit {self.code}"


CommandRunner = Callable[[Sequence[str]], CommandResult]


def run_command(
    argv: Sequence[str], *, timeout: float = 15.0, env: Mapping[str, str] | None = None
) -> CommandResult:
    """Run `argv`; never raises for a missing binary, a timeout or a non-zero exit."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout,
            env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL, check=False,
        )
    except FileNotFoundError:
        return CommandResult(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{argv[0]} timed out after {timeout:.0f}s")
    except OSError as e:
        return CommandResult(126, "", f"{argv[0]}: {e.strerror}")
    return CommandResult(done.returncode, done.stdout, done.stderr)


def default_runner(env: Mapping[str, str]) -> CommandRunner:
    """Runs commands with the given environment (its PATH picks the manager binaries)."""
    run_env = dict(env) if "PATH" in env else {**os.environ, **env}

    def runner(argv: Sequence[str]) -> CommandResult:
        return run_command(argv, env=run_env)

    return runner
