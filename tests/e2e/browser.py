"""Headless Chromium for the end-to-end tests: Debian's ``chromium`` driven by Playwright for
Python through ``executable_path`` (nothing ever downloads a browser: never run
``playwright install``).

:func:`require_chromium` finds the system binary (``apt-get install chromium``;
``OPENCLAW_CHROMIUM`` overrides) with Playwright importable, else skips loudly, or fails when
``CI`` is true. :func:`shared_browser` is one browser per test process (stopped at exit) for
tests that drive it from the test's own thread; each test opens its own context (fresh
storage, so a fresh device identity). :func:`stock_control_ui` is the stock Control UI of the
reference OpenClaw version (the ``dist/control-ui`` folder of the npm package that
``scripts/reference-openclaw.sh`` installs). :class:`FrameLog` records every WebSocket frame a
page exchanges, so a test can assert on the protocol the UI really spoke.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any, Final
from unittest import SkipTest

CHROMIUM_CANDIDATES: Final = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Headless, no sandbox (containers), nothing phoning home; `*.example` names resolve to
# loopback so a test can open the UI from an origin the gateway does not allow.
LAUNCH_ARGS: Final = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--no-first-run", "--host-resolver-rules=MAP *.example 127.0.0.1",
)
_lock = threading.Lock()
_state: dict[str, Any] = {}
_announced: set[str] = set()


def browser_unavailable(reason: str) -> SkipTest:
    """Skip loudly (a banner on stderr and a warning), or fail when ``CI`` is true."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        raise AssertionError(f"BROWSER E2E CANNOT RUN (CI=true, so this fails): {reason}")
    with _lock:
        first = reason not in _announced
        _announced.add(reason)
    if first:
        sys.stderr.write("\n" + "!" * 78 + f"\n!! BROWSER E2E SKIPPED: {reason}\n"
                         "!! (apt-get install -y --no-install-recommends chromium; "
                         "pip install '.[test]'; never `playwright install`)\n" + "!" * 78
                         + "\n")
        warnings.warn(f"BROWSER E2E SKIPPED: {reason}", stacklevel=3)
    return SkipTest(f"BROWSER E2E SKIPPED: {reason}")


def chromium_path() -> str | None:
    """The Chromium binary to drive (``OPENCLAW_CHROMIUM`` names one), or None."""
    configured = os.environ.get("OPENCLAW_CHROMIUM", "").strip()
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """The Chromium binary, with Playwright importable; else a loud skip."""
    path = chromium_path()
    if path is None:
        raise browser_unavailable("no chromium binary (apt-get install -y "
                                  "--no-install-recommends chromium, or set OPENCLAW_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise browser_unavailable("Playwright for Python is not installed (pip install "
                                  "'.[test]')") from None
    return path


def shared_browser() -> Any:
    """The process's Chromium (a Playwright ``Browser``), launched on first use."""
    with _lock:
        browser = _state.get("browser")
        if browser is not None:
            return browser
        failure = _state.get("failure")
    if failure:
        raise browser_unavailable(failure)
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with _lock:
        if "browser" not in _state:
            playwright = sync_playwright().start()
            try:
                browser = playwright.chromium.launch(executable_path=path,
                                                     args=list(LAUNCH_ARGS))
            except Exception as e:
                playwright.stop()
                _state["failure"] = f"Chromium at {path} does not start: {e}"
                raise browser_unavailable(_state["failure"]) from None
            _state["playwright"] = playwright
            _state["browser"] = browser
        return _state["browser"]


@atexit.register
def _stop_browser() -> None:
    browser = _state.pop("browser", None)
    playwright = _state.pop("playwright", None)
    try:
        if browser is not None:
            browser.close()
    finally:
        if playwright is not None:
            playwright.stop()


def stock_control_ui() -> str:
    """The stock Control UI build of the reference version (``dist/control-ui``)."""
    from tests.reference import PACKAGE_REL, installed_reference

    ui = os.path.join(installed_reference(), PACKAGE_REL, "dist", "control-ui")
    if not os.path.isfile(os.path.join(ui, "index.html")):
        raise browser_unavailable(f"no stock Control UI in {ui}")
    return ui


class FrameLog:
    """Every frame of every WebSocket of a page, parsed (thread-safe: Playwright's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames: list[tuple[str, dict[str, Any]]] = []   # ("sent"|"received", frame)
        self.times: list[float] = []                          # monotonic, per frame

    def attach(self, page: Any) -> None:
        page.on("websocket", self._socket)

    def _socket(self, socket: Any) -> None:
        socket.on("framesent", lambda payload: self._add("sent", payload))
        socket.on("framereceived", lambda payload: self._add("received", payload))

    def _add(self, direction: str, payload: Any) -> None:
        if not isinstance(payload, str):
            return
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        if isinstance(frame, dict):
            with self._lock:
                self.frames.append((direction, frame))
                self.times.append(time.monotonic())

    def save(self, path: str) -> None:
        """One JSON line per frame: ``{"dir": "sent"|"received", "frame": ...}``."""
        with self._lock:
            rows = list(zip(self.times, self.frames, strict=True))
        start = rows[0][0] if rows else 0.0
        with open(path, "w", encoding="utf-8") as handle:
            for at, (direction, frame) in rows:
                handle.write(json.dumps({"t": round(at - start, 3), "dir": direction,
                                         "frame": frame}) + "\n")

    def snapshot(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self.frames)

    def requests(self) -> dict[str, dict[str, Any]]:
        return {f["id"]: f for d, f in self.snapshot() if d == "sent" and f.get("type") == "req"}

    def failures(self) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        """``(method, params, error)`` of every request answered with an error."""
        requests = self.requests()
        for direction, frame in self.snapshot():
            if direction == "received" and frame.get("type") == "res" and not frame.get("ok"):
                request = requests.get(frame.get("id"), {})
                yield (str(request.get("method", "?")), request.get("params"),
                       frame.get("error") or {})

    def events(self, name: str) -> list[dict[str, Any]]:
        return [f for d, f in self.snapshot()
                if d == "received" and f.get("type") == "event" and f.get("event") == name]

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [f for f in self.requests().values() if f.get("method") == method]

    def hello(self) -> dict[str, Any] | None:
        for direction, frame in self.snapshot():
            payload = frame.get("payload") if direction == "received" else None
            if isinstance(payload, dict) and payload.get("type") == "hello-ok":
                return payload
        return None
