"""Our Control UI (openclaw/control_ui/, issue #15) in headless Chromium, end to end, against
our gateway and against the REAL OpenClaw gateway serving our UI through its
``gateway.controlUi.root`` (proof that the UI speaks the real protocol, not only ours).

Nothing is a test double except the model (an OpenAI-compatible loopback server,
``tests/e2e/model_server.py``): real gateways, real Chromium (Debian's, via Playwright's
``executable_path``), real WebSocket, real WebCrypto Ed25519 device identity and pairing.

Every test opens a fresh browser context (new storage, so a new device), signs in with
``/#token=…`` and works through the UI like a user. Screenshots of every view land in
``.cache/e2e-shots/<ours|real>/`` (``OPENCLAW_E2E_SHOTS`` overrides).

Against our gateway, a step that needs a method our gateway does not offer yet is an expected
failure naming the method (trial "todo", pytest "xfail"); it runs for real as soon as the
gateway advertises the method. Until our gateway serves the UI at ``/`` itself, the UI comes
from a loopback static server beside it (``tests/e2e/static_server.py``, with the strict CSP).

Run: ``.venv/bin/python -m twisted.trial tests.e2e`` or ``.venv/bin/python -m pytest tests/e2e``.
The real gateway needs the reference install (``scripts/reference-openclaw.sh``; from a git
worktree set ``REFERENCE_OPENCLAW_SRC`` to the shared reference folder);
``OPENCLAW_INTEROP_REAL_GATEWAY=0`` skips it. Without Chromium or Playwright the tests skip
loudly.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import uuid
from typing import TYPE_CHECKING, Any

from twisted.trial.unittest import SynchronousTestCase

from tests.e2e.browser import shared_browser
from tests.e2e.gateways import UI_MARKER, UiGateway, shared_gateway, shared_model
from tests.e2e.operator import ConnectRefused
from tests.support import REPO_ROOT, http_get

WAIT_MS = 90_000          # a turn on the real gateway takes ~10 s on a loaded 2-core box
QUICK_MS = 30_000
ANSWER = "Hello from the fake model. All good."
DESKTOP = {"width": 1300, "height": 860}
PHONE = {"width": 390, "height": 844}

if TYPE_CHECKING:
    from playwright.sync_api import Page

    _Base = SynchronousTestCase
else:
    _Base = object  # a mixin: collected only through the TestCase classes below


def needs(*methods: str, any_of: bool = False) -> Any:
    """Mark a test as needing gateway methods (``"GET /"``: the gateway serves the UI itself).

    Against our gateway, a missing one makes the test an expected failure naming it (set up
    before the test runs: trial reads ``todo`` then; pytest gets ``xfail``); the test runs for
    real once the gateway offers them. Against the real gateway a missing method is a failure.
    """

    def mark(test: Any) -> Any:
        @functools.wraps(test)
        def run(self: ControlUiChecks) -> None:
            if self.missing:
                self.fail(self.missing)
            test(self)

        run.needs = (methods, any_of)
        return run

    return mark


def view_ids() -> list[str]:
    """The views in navigation order, from the UI's own registry (control-ui/views/index.js)."""
    with open(os.path.join(REPO_ROOT, "control-ui", "views", "index.js"), encoding="utf-8") as f:
        return re.findall(r'\{ id: "([a-z-]+)"', f.read())


def shots_dir(kind: str) -> str:
    base = os.environ.get("OPENCLAW_E2E_SHOTS") or os.path.join(REPO_ROOT, ".cache", "e2e-shots")
    path = os.path.join(base, kind)
    os.makedirs(path, exist_ok=True)
    return path


class WsTap:
    """Stands between the page and the gateway (Playwright's WebSocket routing): frames pass
    through untouched, and a test can inject server frames, close the page's socket like a
    restarting gateway would, or answer the next ``connect`` with an error."""

    def __init__(self) -> None:
        self.routes: list[Any] = []
        self.connects = 0
        self.seq = 0
        self.refuse: list[dict[str, Any]] = []  # errors for the next connects, in order

    def handle(self, ws: Any) -> None:
        server = ws.connect_to_server()
        self.routes.append((ws, server))

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("method") == "connect":
                self.connects += 1
                if self.refuse:
                    error = self.refuse.pop(0)
                    ws.send(json.dumps({"type": "res", "id": frame["id"], "ok": False,
                                        "error": error}))
                    return
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if isinstance(frame.get("seq"), int):
                self.seq = frame["seq"]
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    def inject(self, event: str, payload: Any, seq: int | None = None) -> None:
        ws, _ = self.routes[-1]
        ws.send(json.dumps({"type": "event", "event": event, "payload": payload,
                            "seq": self.seq + 1 if seq is None else seq}))

    def drop(self, code: int, reason: str) -> None:
        ws, server = self.routes[-1]
        ws.close(code=code, reason=reason)
        server.close()


class ControlUiChecks(_Base):
    """The must-show behaviour of issue #15, for one gateway (``kind``)."""

    kind = ""
    _methods: dict[str, set[str]] = {}

    def setUp(self) -> None:
        self.browser = shared_browser()
        self.gateway: UiGateway = shared_gateway(self.kind)
        self.model = shared_model()
        self.page_errors: list[str] = []
        self.missing = self.missing_methods()
        if self.missing and self.kind == "ours":
            if "pytest" in sys.modules and os.environ.get("PYTEST_CURRENT_TEST"):
                import pytest

                pytest.xfail(self.missing)
            self.todo = self.missing

    # -- helpers -----------------------------------------------------------------------------

    def methods(self) -> set[str]:
        if self.kind not in self._methods:
            self._methods[self.kind] = self.gateway.hello_methods()
        return self._methods[self.kind]

    def missing_methods(self) -> str:
        """Why this test cannot pass on this gateway yet ("" when it can)."""
        methods, any_of = getattr(getattr(type(self), self._testMethodName), "needs", ((), False))
        if not methods:
            return ""
        offered = set(self.methods())
        if self.gateway.serves_ui:
            offered.add("GET /")
        missing = [m for m in methods if m not in offered]
        if not missing or (any_of and len(missing) < len(methods)):
            return ""
        what = " or ".join(missing) if any_of else ", ".join(missing)
        return f"until the protocol branch: our gateway does not offer {what}"

    def open_page(self, fragment: str | None = None, path: str = "/", viewport: Any = None,
                  host: str = "127.0.0.1", color_scheme: str = "light",
                  tap: WsTap | None = None) -> Page:
        context = self.browser.new_context(viewport=viewport or DESKTOP,
                                           color_scheme=color_scheme)
        self.addCleanup(context.close)
        page = context.new_page()
        page.set_default_timeout(QUICK_MS)
        page.on("pageerror", lambda error: self.page_errors.append(f"uncaught: {error}"))
        page.on("console", lambda msg: self.page_errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text else None)
        self.addCleanup(self.check_page_errors)
        if fragment is None:
            fragment = f"token={self.gateway.token}"
        if tap is not None:
            page.route_web_socket(re.compile(r"^wss?://"), tap.handle)
        page.goto(self.gateway.ui_url(path, fragment, host=host))
        return page

    def check_page_errors(self) -> None:
        self.assertEqual(self.page_errors, [], "the page threw or broke its CSP")

    def signed_in(self, **kwargs: Any) -> Page:
        page = self.open_page(**kwargs)
        page.wait_for_selector("[data-conn=connected]", state="attached", timeout=WAIT_MS)
        return page

    def shot(self, page: Page, name: str) -> str:
        path = os.path.join(shots_dir(self.kind), f"{name}.png")
        page.screenshot(path=path)
        return path

    def turn(self, key: str, message: str) -> None:
        """One chat turn through an operator connection, waited for to the end."""
        with self.gateway.operator(caps=("tool-events",)) as op:
            run = str(uuid.uuid4())
            op.request("chat.send", {"sessionKey": key, "message": message,
                                     "idempotencyKey": run, "deliver": False})
            op.wait_event(lambda f: f.get("event") == "chat"
                          and f["payload"].get("runId") == run
                          and f["payload"].get("state") in ("final", "error", "aborted"),
                          timeout=WAIT_MS / 1000)

    def restore_config_after(self) -> None:
        """Put the gateway's config back after this test: the gateway is shared by the tests
        of the process, and a log level left at ``warn`` would starve ``test_follow_logs``."""
        with self.gateway.operator() as op:
            original = op.request("config.get", {})["raw"]

        def restore() -> None:
            with self.gateway.operator() as op:
                current = op.request("config.get", {})
                if current["raw"] != original:
                    op.request("config.set", {"raw": original, "baseHash": current["hash"]})

        self.addCleanup(restore)

    def go(self, page: Page, view: str) -> None:
        if page.is_visible(".topbar") and not page.query_selector(".shell.nav-open"):
            page.click(".topbar button[aria-label=Menu]")  # a phone: open the menu first
        page.click(f"[data-nav={view}]")
        page.wait_for_selector(f"main[data-view={view}]")

    def new_chat(self, page: Page) -> None:
        page.click("button[title='New session']")
        page.wait_for_selector("[data-composer]:not([disabled])")

    def send(self, page: Page, text: str) -> None:
        page.click("[data-composer]")
        page.keyboard.type(text)
        page.keyboard.press("Enter")

    # -- sign-in -----------------------------------------------------------------------------

    def test_sign_in_with_token_in_fragment(self) -> None:
        page = self.signed_in()
        self.assertNotIn(self.gateway.token, page.url, "the token stays in the address bar")
        stored = page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
        self.assertIn(self.gateway.token, stored, "the token is kept in localStorage")
        self.assertTrue(page.is_visible("main[data-view=chat]"))
        # a reload signs in again from storage, without the fragment
        page.reload()
        page.wait_for_selector("[data-conn=connected]", state="attached", timeout=WAIT_MS)
        self.shot(page, "00-signed-in")

    def test_wrong_token_refused(self) -> None:
        page = self.open_page(fragment="token=not-the-token")
        page.wait_for_selector("[data-screen=sign-in] [data-problem=auth]", timeout=WAIT_MS)
        text = page.inner_text("[data-problem=auth]")
        self.assertRegex(text.lower(), r"unauthorized|token")
        self.assertFalse(page.is_visible("[data-conn]"), "no app behind a refused token")
        self.shot(page, "01-wrong-token")
        page.fill("input[name=token]", self.gateway.token)
        page.click("[data-screen=sign-in] button[type=submit]")
        page.wait_for_selector("[data-conn=connected]", state="attached", timeout=WAIT_MS)

    def test_origin_not_allowed_refused(self) -> None:
        page = self.open_page(host="ui.example")
        page.wait_for_selector("[data-screen=origin] [data-problem=origin]", timeout=WAIT_MS)
        self.assertIn("origin not allowed", page.inner_text("[data-problem=origin]"))
        self.assertIn("allowedOrigins", page.inner_text("[data-screen=origin]"))
        self.shot(page, "02-origin-not-allowed")

    @needs("GET /")
    def test_served_by_the_gateway(self) -> None:
        status, headers, body = http_get(f"{self.gateway.http_url}/sessions")
        self.assertEqual(status, 200, "deep links fall back to index.html")
        self.assertIn(UI_MARKER, body)
        headers = {k.lower(): v for k, v in headers.items()}
        self.assertIn("no-cache", headers.get("cache-control", ""))
        self.assertEqual(headers.get("x-frame-options", "").upper(), "DENY")
        assets = re.findall(rb'src="([^"]*/assets/[^"]+\.js)"', body)
        self.assertTrue(assets, body[:400])
        status, headers, _ = http_get(f"{self.gateway.http_url}{assets[0].decode()}")
        self.assertEqual(status, 200)
        headers = {k.lower(): v for k, v in headers.items()}
        if self.kind == "ours":  # the real gateway cannot know a configured root's names are hashed
            self.assertIn("immutable", headers.get("cache-control", ""))

    # -- chat --------------------------------------------------------------------------------

    def test_chat_answer_streams_in(self) -> None:
        page = self.signed_in()
        self.new_chat(page)
        gate = self.model.hold()
        self.addCleanup(gate.release)
        self.send(page, "hello there")
        page.wait_for_selector("[data-role=user][data-pending], [data-role=user]")
        streaming = page.wait_for_selector("[data-streaming]", timeout=WAIT_MS)
        page.wait_for_function(
            "() => (document.querySelector('[data-streaming]')?.innerText || '')"
            ".includes('Hello from the')", timeout=WAIT_MS)
        partial = streaming.inner_text()
        self.assertNotIn("All good", partial, "the answer is shown while it streams")
        self.shot(page, "10-chat-streaming")
        gate.release()
        page.wait_for_selector("[data-role=streaming]", state="detached", timeout=WAIT_MS)
        page.wait_for_function(
            f"() => [...document.querySelectorAll('.msg[data-role=assistant]')]"
            f".some((m) => m.innerText.includes({json.dumps(ANSWER)}))", timeout=WAIT_MS)
        self.shot(page, "11-chat-answered")

    @needs("chat.abort")
    def test_abort_running_turn(self) -> None:
        page = self.signed_in()
        self.new_chat(page)
        gate = self.model.hold()
        self.addCleanup(gate.release)
        self.send(page, "take your time")
        page.wait_for_function(
            "() => (document.querySelector('[data-streaming]')?.innerText || '')"
            ".includes('Hello from the')", timeout=WAIT_MS)
        page.click("[data-abort]")
        page.wait_for_selector(".msg.stopped", timeout=WAIT_MS)
        page.wait_for_selector("[data-role=streaming]", state="detached")
        self.assertFalse(page.is_visible("[data-abort]"))
        self.assertNotIn("All good", page.inner_text("[data-chat-log]"))
        self.shot(page, "12-chat-aborted")

    def test_tool_call_shown_while_it_runs(self) -> None:
        page = self.signed_in()
        self.new_chat(page)
        gate = self.model.hold()  # holds the answer that follows the tool result
        self.addCleanup(gate.release)
        self.send(page, "[tool] what do the notes say?")
        # the tool card shows while the run goes on (the answer after it is held)
        page.wait_for_selector("[data-role=streaming] [data-tool=read]", timeout=WAIT_MS)
        page.wait_for_selector("[data-role=streaming] [data-tool=read][data-tool-phase=result]",
                               timeout=WAIT_MS)
        self.shot(page, "13-chat-tool-call")
        gate.release()
        page.wait_for_selector("[data-role=streaming]", state="detached", timeout=WAIT_MS)
        page.wait_for_function(
            "() => document.querySelector('[data-chat-log]').innerText.includes('they say hi')",
            timeout=WAIT_MS)

    # -- operations --------------------------------------------------------------------------

    @needs("device.pair.list", "device.pair.approve")
    def test_approve_pairing_request_of_a_second_device(self) -> None:
        page = self.signed_in()
        self.go(page, "devices")
        # A CLI client with a browser Origin is never paired silently, even on loopback.
        second = self.gateway.operator(origin=self.gateway.http_url)
        with self.assertRaises(ConnectRefused) as refused:
            second.open()
        self.assertEqual(refused.exception.code, "PAIRING_REQUIRED")
        request_id = (refused.exception.error.get("details") or {}).get("requestId")
        self.assertTrue(request_id, refused.exception.error)
        row = f"[data-pending-devices] tr[data-request-id='{request_id}']"
        page.wait_for_selector(row, timeout=WAIT_MS)
        self.shot(page, "30-devices-pending")
        page.click(f"{row} [data-approve]")
        page.wait_for_selector(row, state="detached", timeout=WAIT_MS)
        paired = f"[data-paired-devices] tr[data-device-id='{second.device.device_id}']"
        page.wait_for_selector(paired)
        with self.gateway.operator(origin=self.gateway.http_url, device=second.device) as again:
            self.assertIn("operator.read", again.hello["auth"]["scopes"])

    @needs("config.get", "config.schema", "config.patch")
    def test_config_form_change_applied(self) -> None:
        self.restore_config_after()
        page = self.signed_in()
        self.go(page, "config")
        page.click("[data-section=logging]")
        field = "select[data-path='logging.level']"
        page.wait_for_selector(field)
        page.select_option(field, "debug")
        page.click("[data-save]")
        result = page.wait_for_selector("[data-save-result]", timeout=WAIT_MS)
        self.assertEqual(result.get_attribute("data-save-result"), "ok", result.inner_text())
        self.assertIn("applied live", result.inner_text())
        with self.gateway.operator() as op:
            parsed = op.request("config.get", {})["parsed"]
        self.assertEqual(parsed.get("logging", {}).get("level"), "debug")
        self.assertEqual(page.eval_on_selector(field, "(s) => s.value"), "debug")
        self.shot(page, "40-config-applied")

    @needs("config.get", "config.schema", "config.patch", "config.set")
    def test_config_conflict_is_reloaded_and_saved(self) -> None:
        self.restore_config_after()
        page = self.signed_in()
        self.go(page, "config")
        page.click("[data-section=logging]")
        field = "select[data-path='logging.level']"
        page.wait_for_selector(field)
        page.select_option(field, "warn")
        with self.gateway.operator() as op:  # someone else saves first
            snapshot = op.request("config.get", {})
            changed = json.loads(snapshot["raw"])  # the tests write their configs as JSON
            changed.setdefault("logging", {})["level"] = "error"
            # config.set: config.patch/apply are rate-limited (3 per minute) on the real gateway
            op.request("config.set", {"raw": json.dumps(changed), "baseHash": snapshot["hash"]})
        page.click("[data-save]")
        page.wait_for_selector("[data-save-result=err] [data-reload-conflict]", timeout=WAIT_MS)
        self.shot(page, "41-config-conflict")
        # The real gateway sometimes answers "changed since last load" again right after the
        # reload (2 of about 6 full runs; its cause inside the Node gateway is not pinned
        # down, its config is stable meanwhile): a user reloads and saves again, so the test
        # does too, a few times at most. Ours never needs the second round.
        for _ in range(3):
            page.click("[data-reload-conflict]")
            page.wait_for_selector("[data-save]:not([disabled])")
            page.click("[data-save]")
            # the outcome, whichever it is (a rate-limit notice is "warn" and retries itself)
            outcome = page.wait_for_selector("[data-save-result=ok], [data-save-result=err]",
                                             timeout=WAIT_MS)
            if page.query_selector("[data-save-result=err] [data-reload-conflict]") is None:
                break
        self.assertEqual(outcome.get_attribute("data-save-result"), "ok", outcome.inner_text())
        with self.gateway.operator() as op:
            self.assertEqual(op.request("config.get", {})["parsed"]["logging"]["level"], "warn")

    @needs("logs.tail")
    def test_follow_logs(self) -> None:
        page = self.signed_in()
        self.go(page, "logs")
        page.wait_for_selector("[data-logs] .log-line", timeout=WAIT_MS)
        self.assertTrue(page.is_checked("[data-follow]"))
        before = page.eval_on_selector_all("[data-logs] .log-line", "(l) => l.length")
        with self.gateway.operator() as op:  # a client comes and goes: the gateway logs it
            op.request("health", {})
        page.wait_for_function(
            f"() => document.querySelectorAll('[data-logs] .log-line').length > {before}",
            timeout=WAIT_MS)
        self.shot(page, "50-logs-following")
        page.uncheck("[data-level=info]")
        self.assertEqual(page.eval_on_selector_all("[data-logs] [data-log-level=info]",
                                                   "(l) => l.length"), 0)

    @needs("sessions.usage", "usage.cost", any_of=True)
    def test_usage_after_a_turn(self) -> None:
        self.turn(f"agent:main:dashboard:{uuid.uuid4()}", "count my tokens")
        page = self.signed_in()
        self.go(page, "usage")
        page.wait_for_selector("[data-total-tokens]:not([data-total-tokens='0'])",
                               timeout=WAIT_MS)
        page.wait_for_selector("[data-usage-chart] rect.bar-rect")
        self.shot(page, "60-usage")

    @needs("exec.approval.list", "exec.approval.request", "exec.approval.resolve")
    def test_approve_or_deny_exec_request(self) -> None:
        page = self.signed_in()
        self.go(page, "approvals")
        with self.gateway.operator() as op:
            accepted = op.request("exec.approval.request", {
                "command": "ls -la /tmp", "cwd": "/tmp", "host": "gateway",
                "twoPhase": True, "timeoutMs": 120000})
            approval = accepted["id"]
            card = f"[data-approval='{approval}']"
            page.wait_for_selector(card, timeout=WAIT_MS)
            self.shot(page, "70-approval-waiting")
            page.click(f"{card} [data-decision=deny]")
            page.wait_for_selector(card, state="detached", timeout=WAIT_MS)
            decided = op.request("exec.approval.waitDecision", {"id": approval},
                                 timeout=WAIT_MS / 1000)
        self.assertEqual(decided.get("decision"), "deny")

    def test_sessions_compact_reset_delete(self) -> None:
        key = f"agent:main:dashboard:{uuid.uuid4()}"
        self.turn(key, "remember this session")
        page = self.signed_in()
        self.go(page, "sessions")
        row = f"[data-sessions] tr[data-session-key='{key}']"
        page.wait_for_selector(row, timeout=WAIT_MS)
        preview = json.dumps(f"{row} [data-preview]")
        page.wait_for_function(
            f"() => (document.querySelector({preview})?.innerText || '').includes('All good')",
            timeout=WAIT_MS)
        self.shot(page, "31-sessions")
        page.click(f"{row} button:has-text('Compact')")
        page.wait_for_selector(".toast.ok, .toast.err", timeout=WAIT_MS)
        self.assertFalse(page.is_visible(".toast.err"), page.inner_text(".toast-area"))
        page.click(f"{row} button:has-text('Reset')")
        page.click("dialog [data-confirm]")
        page.wait_for_selector(".toast.ok:has-text('Reset')", timeout=WAIT_MS)
        page.click(f"{row} button:has-text('Delete')")
        page.click("dialog [data-confirm]")
        page.wait_for_selector(row, state="detached", timeout=WAIT_MS)
        with self.gateway.operator() as op:
            keys = [s["key"] for s in op.request("sessions.list", {"limit": 200})["sessions"]]
        self.assertNotIn(key, keys)

    @needs("cron.list", "cron.add", "cron.run", "cron.update", "cron.remove")
    def test_cron_job_added_run_paused_removed(self) -> None:
        page = self.signed_in()
        self.go(page, "cron")
        page.click("button:has-text('New job')")
        name = f"e2e-{uuid.uuid4().hex[:8]}"
        form = "[data-cron-form]"
        page.fill(f"{form} label:has-text('Name') input", name)
        page.fill(f"{form} textarea", "say hello from cron")
        page.click(f"{form} button[type=submit]")
        row = f"[data-cron-jobs] tr:has-text('{name}')"
        page.wait_for_selector(row, timeout=WAIT_MS)
        page.click(f"{row} button:has-text('Run now')")
        page.wait_for_selector(f".toast.ok:has-text('{name}')", timeout=WAIT_MS)
        page.click(f"{row} button:has-text('Pause')")
        page.wait_for_selector(f"{row} button:has-text('Resume')", timeout=WAIT_MS)
        self.shot(page, "80-cron")
        page.click(f"{row} button:has-text('Remove')")
        page.click("dialog [data-confirm]")
        page.wait_for_selector(row, state="detached", timeout=WAIT_MS)

    # -- staying connected ----------------------------------------------------------------------

    def test_shutdown_reason_shown_then_reconnects(self) -> None:
        tap = WsTap()
        page = self.signed_in(tap=tap)
        self.assertEqual(tap.connects, 1)
        tap.inject("shutdown", {"reason": "gateway restarting", "restartExpectedMs": 1500})
        tap.drop(1012, "service restart")
        banner = page.wait_for_selector("[data-banner=reconnecting] [data-shutdown-reason]")
        self.assertEqual(banner.inner_text(), "gateway restarting")
        self.shot(page, "20-restarting")
        page.wait_for_selector("[data-conn=connected]", state="attached", timeout=WAIT_MS)
        self.assertEqual(tap.connects, 2)
        self.assertFalse(page.is_visible("[data-banner=reconnecting]"))

    def test_seq_gap_reconnects_and_refreshes(self) -> None:
        tap = WsTap()
        page = self.signed_in(tap=tap)
        self.go(page, "instances")
        page.wait_for_selector("[data-presence] tbody tr")
        tap.inject("heartbeat", {"ts": 0, "status": "skipped"}, seq=tap.seq + 5)
        page.wait_for_selector(".banner.info:has-text('Missed events')", timeout=WAIT_MS)
        self.assertEqual(tap.connects, 2, "a gap in seq means lost events: connect again")
        page.wait_for_selector("[data-presence] tbody tr")
        self.shot(page, "21-seq-gap-refreshed")

    def test_device_awaiting_approval_then_connects(self) -> None:
        tap = WsTap()
        # what a gateway answers a browser that is not paired yet (protocol.md 2.4, step 13)
        tap.refuse.append({"code": "NOT_PAIRED", "message": "pairing required", "details": {
            "code": "PAIRING_REQUIRED", "reason": "not-paired", "requestId": "req-e2e-1",
            "remediationHint": "Approve this device from a signed-in Control UI."}})
        page = self.open_page(tap=tap)
        page.wait_for_selector("[data-screen=pairing] [data-request-id=req-e2e-1]",
                               timeout=WAIT_MS)
        self.assertIn("openclaw devices approve req-e2e-1", page.inner_text("[data-screen]"))
        self.shot(page, "22-awaiting-approval")
        # once approved (here: the gateway stops refusing) the page connects by itself
        page.wait_for_selector("[data-conn=connected]", state="attached", timeout=WAIT_MS)
        self.assertEqual(tap.connects, 2)

    # -- every view, themes, phone -------------------------------------------------------------

    def test_every_view_screenshot(self) -> None:
        page = self.signed_in()
        for index, view in enumerate(view_ids()):
            self.go(page, view)
            page.wait_for_load_state("networkidle")
            page.wait_for_function("() => !document.querySelector('main .spinner')",
                                   timeout=WAIT_MS)
            self.shot(page, f"8{index:02d}-view-{view}")
        page.click("[data-theme-toggle]")  # system -> light
        page.click("[data-theme-toggle]")  # light -> dark
        self.assertEqual(page.evaluate("() => document.documentElement.dataset.theme"), "dark")
        self.go(page, "chat")
        page.wait_for_function("() => !document.querySelector('main .spinner')", timeout=WAIT_MS)
        self.shot(page, "900-dark-chat")
        self.go(page, "sessions")
        self.shot(page, "901-dark-sessions")

    def test_phone_sized_screen(self) -> None:
        self.turn(f"agent:main:dashboard:{uuid.uuid4()}", "a session to list")
        page = self.signed_in(viewport=PHONE)
        self.assertTrue(page.is_visible(".topbar"), "a top bar replaces the sidebar")
        self.assertFalse(page.is_visible("[data-nav=sessions]"), "the sidebar is folded away")
        self.shot(page, "910-phone-chat")
        page.click(".topbar button[aria-label=Menu]")
        page.click("[data-nav=sessions]", trial=True)  # waits until the menu stops moving
        self.shot(page, "911-phone-menu")
        page.keyboard.press("Escape")
        page.wait_for_selector(".sidebar", state="hidden")
        self.go(page, "sessions")
        page.wait_for_selector(".sidebar", state="hidden")
        page.wait_for_selector("[data-sessions] tbody tr[data-session-key]")
        self.shot(page, "912-phone-sessions")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        self.assertLessEqual(width, PHONE["width"], "nothing overflows the screen sideways")

    def test_keyboard_only(self) -> None:
        page = self.signed_in()
        page.keyboard.press("Tab")  # the skip link comes first
        self.assertEqual(page.evaluate("() => document.activeElement.className"), "skip-link")
        page.keyboard.press("Enter")
        self.assertEqual(page.evaluate("() => document.activeElement.id"), "main")
        for _ in range(40):  # tab on until the composer has the focus
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "composer":
                break
        self.assertEqual(page.evaluate("() => document.activeElement.id"), "composer")


class ControlUiAgainstOurGateway(ControlUiChecks, SynchronousTestCase):
    """Our gateway (python -m openclaw gateway)."""

    kind = "ours"


class ControlUiAgainstRealGateway(ControlUiChecks, SynchronousTestCase):
    """The real OpenClaw 2026.9.6 gateway serving our UI through gateway.controlUi.root."""

    kind = "real"
