"""The stock OpenClaw Control UI against this gateway, in headless Chromium.

The reference version's own UI build (``dist/control-ui`` of the npm package) is served by
our gateway through ``gateway.controlUi.root``; a scripted OpenAI-compatible upstream answers
as the model. The browser signs in with ``#token=``, chats (a streamed answer, then a second
turn stopped with the UI's *Stop* button), and visits the sessions, agents, channels, debug,
instances, devices, logs and config views; every WebSocket frame is recorded. It fails on any
``unknown method`` answer to a method the UI needs (and on any advertised method answering
so) and on any rejected parameters. Screenshots of each view are saved under the test's temp
directory (the path is printed).

Views whose feature methods another issue builds (usage, cron) are walked only when the
gateway advertises those methods; until then their calls are the expected "not built yet"
answers listed in ``PENDING``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from twisted.internet import reactor, threads
from twisted.trial.unittest import TestCase

from tests.e2e.browser import LAUNCH_ARGS, FrameLog, require_chromium, stock_control_ui
from tests.support import GatewayProcess, free_port, isolated_env, write_config
from tests.upstream import ScriptedUpstream, openai_text

TOKEN: Final = "e2e-control-ui-token"
ANSWER: Final = "Hello from the scripted model."
# Methods the stock UI calls whose features are built elsewhere: expected to be unknown while
# not advertised (none left: usage, cron, exec approvals and themes.list are built).
PENDING: Final[dict[str, str]] = {}
# (name, path, methods that must be advertised for the step to run)
VIEWS: Final = (
    ("sessions", "/sessions", ()),
    ("agents", "/settings/agents", ()),
    ("channels", "/settings/channels", ()),
    ("debug", "/debug", ()),
    ("instances", "/systems", ()),
    ("devices", "/settings/devices", ()),
    ("logs", "/logs", ()),
    ("config", "/settings/general", ()),
    # sessions.usage is answered but never advertised (as upstream)
    ("usage", "/usage", ("usage.status", "usage.cost")),
    ("cron", "/automations", ("cron.list", "cron.status", "cron.runs")),
)
VIEW_DWELL_MS: Final = 1500
# A retry loop shows as one method called far more often than a walk needs (the stock UI
# retries question.list every 4 s, sessions.describe every 5 s, config.get/.schema ~40/s
# when they fail). The walk's busiest method is called about ten times.
MAX_CALLS_PER_METHOD: Final = 20


def _navigate(page: Any, path: str) -> None:
    """Client-side navigation (one WebSocket for the whole walk), as the UI's links do."""
    page.evaluate("""(path) => { history.pushState({}, "", path);
                     window.dispatchEvent(new PopStateEvent("popstate", {state: {}})); }""",
                  path)


def _wait_until(page: Any, predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` while Playwright runs (its events are only dispatched while the
    sync API is waiting on the browser, so this waits with the page, not ``time.sleep``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(50)


class StockControlUiTests(TestCase):
    timeout = 120

    def setUp(self) -> None:
        self.chromium = require_chromium()
        self.ui_dir = stock_control_ui()
        self.shots = os.path.abspath(self.mktemp())
        os.makedirs(self.shots)
        self.upstream = ScriptedUpstream(reactor)
        self.upstream.start()
        self.addCleanup(self.upstream.stop)

    async def start_gateway(self) -> str:
        env = isolated_env(self.mktemp())
        write_config(env, {
            "gateway": {"mode": "local", "controlUi": {"root": self.ui_dir}},
            "models": {"providers": {"scripted": {
                "baseUrl": self.upstream.base_url, "apiKey": "sk-test",
                "api": "openai-completions",
                "models": [{"id": "m1", "name": "Scripted One", "contextWindow": 32000}]}}},
            "agents": {"defaults": {"model": "scripted/m1"}},
        })
        port = free_port()
        gateway = GatewayProcess(env, ["--port", str(port), "--token", TOKEN]).start()
        self.addCleanup(gateway.kill)
        await threads.deferToThread(gateway.wait_healthy, port, 30.0)
        return f"http://127.0.0.1:{port}"

    async def test_stock_ui_walk(self) -> None:
        base = await self.start_gateway()
        self.upstream.script(
            openai_text(["Hello ", "from ", "the ", "scripted ", "model."], delay=0.05),
            # a long answer for the Stop button
            openai_text([f"word{i} " for i in range(60)], delay=0.25, first_delay=0.1))
        log = FrameLog()
        walked = await threads.deferToThread(self.walk, base, log)
        print(f"\nControl UI screenshots: {self.shots} ({', '.join(walked)})")
        self.check_frames(log)
        calls = Counter(f["method"] for f in log.requests().values())
        self.assertEqual({m: n for m, n in calls.items() if n > MAX_CALLS_PER_METHOD}, {},
                         "a method was called in a loop")
        # no canvas URL in hello-ok: the UI never polls plugin.surface.refresh
        self.assertEqual(calls["plugin.surface.refresh"], 0)
        for method in ("question.list", "sessions.describe", "config.get", "config.schema",
                       "board.get"):
            self.assertGreater(calls[method], 0, method)
        # the streamed answer came as chat deltas and ended final; the stopped run aborted
        chat = [f["payload"] for f in log.events("chat")]
        self.assertTrue(any(p.get("state") == "delta" for p in chat))
        self.assertTrue(any(p.get("state") == "final" for p in chat))
        self.assertTrue(any(p.get("state") == "aborted" for p in chat), chat[-3:])
        self.assertEqual(len(log.sent("chat.send")), 2)
        self.assertTrue(log.sent("chat.abort"))
        phases = [f["payload"]["phase"] for f in log.events("chat.send_timing")]
        self.assertEqual(phases[:2], ["dispatch-started", "model-selected"])
        self.assertIn("post-dispatch-completed", phases)
        self.assertTrue(log.events("models.snapshot"))
        hello = log.hello()
        assert hello is not None
        self.assertEqual(hello["server"]["controlUiBuildSource"], "configured")

    def walk(self, base: str, log: FrameLog) -> list[str]:
        """The browser part (a thread: Playwright's sync API has its own event loop)."""
        from playwright.sync_api import sync_playwright

        walked = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=self.chromium, headless=True,
                                                 args=list(LAUNCH_ARGS))
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                log.attach(page)
                page.goto(f"{base}/chat#token={TOKEN}")
                composer = page.locator("textarea:visible").first
                composer.wait_for(timeout=30000)
                # chat: a message, the streamed answer
                composer.fill("hello from the browser")
                page.keyboard.press("Enter")
                page.get_by_text(ANSWER).first.wait_for(timeout=30000)
                page.screenshot(path=os.path.join(self.shots, "01-chat.png"))
                walked.append("chat")
                # abort: a long answer stopped with the UI's Stop button
                composer.fill("tell me a long story")
                page.keyboard.press("Enter")
                stop = page.locator('button[aria-label="Stop generating"]:visible').first
                stop.wait_for(timeout=30000)
                _wait_until(page, lambda: any(f["payload"].get("state") == "delta"
                                        and "word" in str(f["payload"].get("deltaText"))
                                        for f in log.events("chat")), 30, "the long answer")
                stop.click()
                _wait_until(page, lambda: any(f["payload"].get("state") == "aborted"
                                        for f in log.events("chat")), 30, "the aborted run")
                page.screenshot(path=os.path.join(self.shots, "02-chat-stopped.png"))
                walked.append("abort")
                advertised = set((log.hello() or {}).get("features", {}).get("methods", []))
                for index, (name, path, needs) in enumerate(VIEWS, start=3):
                    if not set(needs) <= advertised:
                        continue   # enabled once the feature's methods are advertised
                    _navigate(page, path)
                    page.wait_for_timeout(VIEW_DWELL_MS)
                    page.screenshot(path=os.path.join(self.shots, f"{index:02d}-{name}.png"))
                    walked.append(name)
            finally:
                browser.close()
                log.save(os.path.join(self.shots, "frames.jsonl"))
        return walked

    def check_frames(self, log: FrameLog) -> None:
        advertised = set((log.hello() or {}).get("features", {}).get("methods", []))
        problems = []
        for method, params, error in log.failures():
            message = str(error.get("message", ""))
            if message.startswith("unknown method:"):
                if method in PENDING and method not in advertised:
                    continue
                problems.append(f"{method}: {message}")
            elif message.startswith(f"invalid {method} params"):
                problems.append(f"{method} rejected {params!r}: {message}")
            else:
                problems.append(f"{method} {params!r}: {error}")
        self.assertEqual(problems, [], "the stock UI got error answers")
