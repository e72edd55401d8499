"""Headless Chromium for the end-to-end tests: Debian's ``chromium`` driven by Playwright for
Python through ``executable_path`` (nothing ever downloads a browser: never run
``playwright install``).

``shared_browser()`` starts one browser per test process (stopped at exit); each test opens its
own context (fresh storage, so a fresh device identity). Without Playwright or a Chromium binary
the tests skip loudly (a banner on stderr and a warning), or fail when ``CI`` is ``true``.
``OPENCLAW_E2E_CHROMIUM`` overrides the binary.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import threading
import warnings
from typing import Any
from unittest import SkipTest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Chromium flags: headless, no sandbox (containers), nothing phoning home. `*.example` names
# resolve to loopback so a test can open the UI from an origin the gateway does not allow.
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--no-first-run", "--host-resolver-rules=MAP *.example 127.0.0.1",
)
_lock = threading.Lock()
_state: dict[str, Any] = {}


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None."""
    override = os.environ.get("OPENCLAW_E2E_CHROMIUM", "").strip()
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def browser_unavailable(reason: str) -> SkipTest:
    """Skip loudly, or fail when CI is "true" (the e2e tests are part of the bar there)."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        raise AssertionError(f"CONTROL UI E2E CANNOT RUN (CI=true): {reason}")
    with _lock:
        if not _state.get(f"announced:{reason}"):
            _state[f"announced:{reason}"] = True
            sys.stderr.write("\n" + "!" * 78 + f"\n!! CONTROL UI E2E SKIPPED: {reason}\n"
                             "!! (apt-get install -y --no-install-recommends chromium; "
                             "pip install playwright; never `playwright install`)\n"
                             + "!" * 78 + "\n")
            warnings.warn(f"CONTROL UI E2E SKIPPED: {reason}", stacklevel=2)
    return SkipTest(f"CONTROL UI E2E SKIPPED: {reason}")


def shared_browser() -> Any:
    """The process's Chromium (a Playwright ``Browser``), launched on first use."""
    with _lock:
        browser = _state.get("browser")
        if browser is not None:
            return browser
        failure = _state.get("failure")
    if failure:
        raise browser_unavailable(failure)
    path = chromium_path()
    if path is None:
        _state["failure"] = "no Chromium binary (/usr/bin/chromium)"
        raise browser_unavailable(_state["failure"])
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _state["failure"] = "Playwright for Python is not installed"
        raise browser_unavailable(_state["failure"]) from None
    with _lock:
        if "browser" not in _state:
            playwright = sync_playwright().start()
            try:
                browser = playwright.chromium.launch(executable_path=path,
                                                     args=list(CHROMIUM_ARGS))
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
