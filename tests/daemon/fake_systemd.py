"""A stand-in for ``systemctl --user`` and ``loginctl`` with the real CLI contract.

The lifecycle tests must never touch this machine's real user manager, yet they should run
the real code paths end to end: ``openclaw gateway install`` writes a real unit file, and
``start``/``restart`` here really run that unit's ``ExecStart`` (with its ``Environment=``), so
a real gateway answers on the unit's port. State (enabled units, main PIDs, every call) lives
in ``$FAKE_SYSTEMD_STATE``. ``FAKE_SYSTEMD_UNAVAILABLE=1`` answers like a host without a
user bus (``Failed to connect to bus: No medium found``).

Install with :func:`install_fake_systemd` (a ``bin`` dir put first on ``PATH``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@contextlib.contextmanager
def _state() -> Iterator[dict[str, Any]]:
    path = os.environ["FAKE_SYSTEMD_STATE"]
    with open(path + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = {"enabled": [], "pids": {}, "calls": []}
        yield state
        with open(path, "w", encoding="utf-8") as f:
            json.dump(state, f)


def _unit_path(unit: str) -> str:
    return os.path.join(os.environ["HOME"], ".config", "systemd", "user", unit)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start(state: dict[str, Any], unit: str) -> int:
    if unit.endswith(".socket"):
        # Socket units are recorded, not run: the service still binds the port itself here
        # (socket activation proper is tested with LISTEN_FDS in tests/gateway).
        return 0 if os.path.isfile(_unit_path(unit)) else 5
    if _alive(state["pids"].get(unit)):
        return 0
    sys.path.insert(0, REPO_ROOT)
    from openclaw.daemon.systemd import command_from_unit

    try:
        with open(_unit_path(unit), encoding="utf-8") as f:
            command = command_from_unit(f.read())
    except OSError:
        sys.stderr.write(f"Failed to start {unit}: Unit {unit} not found.\n")
        return 5
    assert command is not None
    log = open(os.environ["FAKE_SYSTEMD_STATE"] + f".{unit}.log", "ab")  # noqa: SIM115
    env = {"PATH": "/usr/bin:/bin", **command.environment}
    proc = subprocess.Popen(list(command.program_arguments), env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            cwd=command.working_directory or "/")
    state["pids"][unit] = proc.pid
    return 0


def _stop(state: dict[str, Any], unit: str) -> None:
    pid = state["pids"].pop(unit, None)
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def systemctl(argv: list[str]) -> int:
    if os.environ.get("FAKE_SYSTEMD_UNAVAILABLE") == "1":
        sys.stderr.write("Failed to connect to bus: No medium found\n")
        return 1
    if argv[:1] != ["--user"]:
        sys.stderr.write("fake systemctl only knows --user\n")
        return 1
    args = argv[1:]
    verb, rest = args[0], args[1:]
    units = [a for a in rest if not a.startswith("-")]
    with _state() as state:
        state["calls"].append(args)
        if verb == "show-environment":
            sys.stdout.write(f"HOME={os.environ.get('HOME', '')}\n")
            return 0
        if verb == "daemon-reload":
            return 0
        unit = units[0] if units else ""
        exists = os.path.isfile(_unit_path(unit))
        if verb == "is-enabled":
            if not exists:
                sys.stderr.write(f"Failed to get unit file state for {unit}: No such file or "
                                 "directory\n")
                return 1
            enabled = unit in state["enabled"]
            sys.stdout.write("enabled\n" if enabled else "disabled\n")
            return 0 if enabled else 1
        if verb == "enable":
            if not exists:
                sys.stderr.write(f"Failed to enable unit: Unit file {unit} does not exist.\n")
                return 1
            if unit not in state["enabled"]:
                state["enabled"].append(unit)
            return 0
        if verb == "disable":
            if unit in state["enabled"]:
                state["enabled"].remove(unit)
            if "--now" in rest:
                _stop(state, unit)
            return 0
        if verb == "start":
            return _start(state, unit)
        if verb == "stop":
            _stop(state, unit)
            return 0
        if verb == "restart":
            _stop(state, unit)
            return _start(state, unit)
        if verb == "show":
            pid = state["pids"].get(unit)
            alive = _alive(pid)
            sys.stdout.write(
                f"ActiveState={'active' if alive else 'inactive'}\n"
                f"SubState={'running' if alive else 'dead'}\n"
                f"MainPID={pid if alive else 0}\n"
                "ExecMainStatus=0\nExecMainCode=0\n"
                f"LoadState={'loaded' if exists else 'not-found'}\n"
            )
            return 0
    sys.stderr.write(f"Unknown command verb {verb}.\n")
    return 1


def loginctl(argv: list[str]) -> int:
    if argv[:1] == ["show-user"]:
        sys.stdout.write(f"Linger={os.environ.get('FAKE_LINGER', 'no')}\n")
        return 0
    return 1


def install_fake_systemd(base_dir: str, env: dict[str, str], *, unavailable: bool = False
                         ) -> str:
    """Put fake ``systemctl``/``loginctl`` first on ``env["PATH"]``; return the state file."""
    bin_dir = os.path.join(base_dir, "fake-bin")
    os.makedirs(bin_dir, exist_ok=True)
    for name in ("systemctl", "loginctl"):
        path = os.path.join(bin_dir, name)
        with open(path, "w", encoding="utf-8") as f:
            if unavailable:  # a shell script: no interpreter start-up per call
                f.write("#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\n"
                        "exit 1\n")
            else:
                f.write(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {REPO_ROOT!r})\n"
                        "from tests.daemon.fake_systemd import systemctl, loginctl\n"
                        f"sys.exit({name}(sys.argv[1:]))\n")
        os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    state = os.path.join(base_dir, "fake-systemd.json")
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    env["FAKE_SYSTEMD_STATE"] = state
    if unavailable:
        env["FAKE_SYSTEMD_UNAVAILABLE"] = "1"
    return state


def read_state(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return dict(json.load(f))
    except (OSError, ValueError):
        return {"enabled": [], "pids": {}, "calls": []}


def kill_started(path: str) -> None:
    """Stop every process the fake started (test cleanup)."""
    for pid in read_state(path).get("pids", {}).values():
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
