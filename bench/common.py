"""What every bench shares: the processes it starts (our gateway, the scripted upstream),
percentiles, the machine and its load, and the result rows ``python -m bench`` tabulates."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from openclaw.net import free_loopback_port as free_port  # noqa: E402

TOKEN = "bench-token-123456"


@attrs.define
class Row:
    """One line of the table: our figure beside its floor or peer, measured in the same run."""

    what: str
    ours: str
    base: str           # the floor or peer figure (with what it is)
    ratio: str          # ours against it, as the aim reads it
    aim: str
    met: bool | None    # None: not applicable (reported only)
    note: str = ""

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "**not met**", None: "-"}[self.met]
        return [self.what, self.ours, self.base, self.ratio, self.aim, verdict]


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def loadavg() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> str:
    model = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return (f"{os.cpu_count()} CPUs ({model}), {memory:.0f} GiB, Linux "
            f"{platform.release()}, Python {platform.python_version()}")


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def wait_http(port: int, path: str = "/healthz", timeout: float = 30.0,
              proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited {proc.returncode} before serving {path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} not serving {path} within {timeout:g}s")


def stop(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process started with ``start_new_session`` and everything it started."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def gateway_config(upstream_port: int | None = None, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN},
                    "http": {"endpoints": {"chatCompletions": {"enabled": True}}}},
        "logging": {"level": "warn"},
    }
    if upstream_port is not None:
        config["models"] = {"providers": {"up": {
            "baseUrl": f"http://127.0.0.1:{upstream_port}/v1", "apiKey": "k",
            "api": "openai-completions", "models": [{"id": "m1", "name": "m1"}]}}}
        config["agents"] = {"defaults": {"model": "up/m1", "skipBootstrap": True}}
    for key, value in extra.items():
        config[key] = value
    return config


class Gateway:
    """``python -m openclaw gateway`` in a throw-away state directory."""

    def __init__(self, config: dict[str, Any], *, env: dict[str, str] | None = None,
                 prepare: Any = None) -> None:
        self.state = tempfile.mkdtemp(prefix="oc-bench-")
        self.port = free_port()
        self.config = config
        self.extra_env = env or {}
        self.prepare = prepare      # called with the state dir before the start
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def state_dir(self) -> str:
        return os.path.join(self.state, "s")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_")}
        env.update(HOME=self.state, OPENCLAW_HOME=self.state, OPENCLAW_STATE_DIR=self.state_dir,
                   OPENCLAW_CONFIG_PATH=os.path.join(self.state_dir, "openclaw.json"),
                   PYTHONPATH=ROOT, **self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> Gateway:
        os.makedirs(self.state_dir, exist_ok=True)
        with open(os.path.join(self.state_dir, "openclaw.json"), "w") as handle:
            json.dump(self.config, handle)
        if self.prepare is not None:
            self.prepare(self.state_dir)
        wrap = os.environ.get("BENCH_WRAP", "").split()
        log = open(os.path.join(self.state, "gateway.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*wrap, sys.executable, "-m", "openclaw", "gateway", "--port", str(self.port)],
            env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        wait_http(self.port, "/readyz", timeout, self.proc)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(os.path.join(self.state, "gateway.log"), encoding="utf-8",
                      errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and os.environ.get("BENCH_WRAP"):
            # a wrapper (py-spy record) writes its output once the gateway it runs has ended
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(self.proc.pid).children():
                    child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
        stop(self.proc)
        import shutil

        shutil.rmtree(self.state, ignore_errors=True)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextlib.contextmanager
def upstream(chunks: int, burst: int = 5000) -> Iterator[int]:
    """The scripted zero-latency model upstream (bench/scripted_upstream.py) in its own
    process; yields its port."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "bench.scripted_upstream", str(port),
                             str(chunks), str(burst)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        if b"ready" not in proc.stdout.readline():
            raise RuntimeError("the scripted upstream did not start")
        yield port
    finally:
        stop(proc)
