"""Drive the stock Control UI in headless Chromium against a gateway and record every
WebSocket frame it exchanges (and the HTTP responses of the page itself).

    python capture.py --url http://127.0.0.1:18999 --token anchor-token \
        --frames frames.jsonl --http http.jsonl --shots shots/

Frame log lines: {"t": secs, "conn": n, "dir": "c2s"|"s2c"|"info", "view": name, "data": ...}.
Views are visited by client-side navigation (history.pushState + popstate), so one
connection normally serves the whole walk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, WebSocket, sync_playwright

VIEWS = [
    ("chat", "/chat"),
    ("sessions", "/sessions"),
    ("agents-home", "/agents"),
    ("agents", "/settings/agents"),
    ("channels", "/settings/channels"),
    ("debug", "/debug"),
    ("systems", "/systems"),
    ("devices", "/settings/devices"),
    ("logs", "/logs"),
    ("usage", "/usage"),
    ("cron", "/automations"),
    ("config", "/settings/general"),
    ("approvals", "/settings/approvals"),
    ("activity", "/activity"),
    ("tasks", "/tasks"),
    ("infrastructure", "/settings/infrastructure"),
    ("skills", "/skills"),
    ("plugins", "/plugins"),
    ("workboard", "/workboard"),
    ("about", "/settings/about"),
    ("updates", "/settings/updates"),
]


class Recorder:
    def __init__(self, frames: Path, http: Path) -> None:
        self.t0 = time.monotonic()
        self.frames = frames.open("w")
        self.http = http.open("w")
        self.view = "boot"
        self.conn = 0

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def frame(self, conn: int, direction: str, payload: Any) -> None:
        if isinstance(payload, (bytes, bytearray)):
            data: Any = {"binary_len": len(payload)}
        else:
            try:
                data = json.loads(payload)
            except ValueError:
                data = {"raw_text": payload}
        rec = {"t": self.now(), "conn": conn, "dir": direction, "view": self.view, "data": data}
        self.frames.write(json.dumps(rec) + "\n")
        self.frames.flush()

    def on_websocket(self, ws: WebSocket) -> None:
        self.conn += 1
        n = self.conn
        self.frame(n, "info", json.dumps({"event": "open", "url": ws.url}))
        ws.on("framesent", lambda p: self.frame(n, "c2s", p))
        ws.on("framereceived", lambda p: self.frame(n, "s2c", p))
        ws.on("close", lambda _ws: self.frame(n, "info", json.dumps({"event": "close"})))
        ws.on("socketerror", lambda e: self.frame(n, "info", json.dumps({"event": "error",
                                                                            "error": str(e)})))

    def on_response(self, response: Any) -> None:
        url = response.url
        if "/assets/" in url and not url.endswith(("index.html",)):
            # keep one sample of asset headers per type, not every chunk
            kind = url.rsplit(".", 1)[-1]
            if getattr(self, f"_seen_{kind}", False):
                return
            setattr(self, f"_seen_{kind}", True)
        try:
            headers = response.all_headers()
        except Exception:
            headers = {}
        rec: dict[str, Any] = {"t": self.now(), "view": self.view,
                               "method": response.request.method, "url": url,
                               "status": response.status, "headers": headers}
        if url.endswith(".json") or "/avatar/" in url:
            with contextlib.suppress(Exception):
                rec["body"] = response.text()[:4000]
        self.http.write(json.dumps(rec) + "\n")
        self.http.flush()

    def note(self, what: str, **extra: Any) -> None:
        self.frame(0, "info", json.dumps({"event": what, **extra}))


def navigate(page: Page, path: str) -> None:
    page.evaluate(
        """(path) => { history.pushState({}, "", path);
                       window.dispatchEvent(new PopStateEvent("popstate", {state: {}})); }""",
        path)


def send_chat(page: Page, rec: Recorder, text: str) -> None:
    box = page.locator("textarea").first
    box.wait_for(timeout=20000)
    box.click()
    box.fill(text)
    page.keyboard.press("Enter")
    rec.note("chat-sent", text=text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--frames", required=True, type=Path)
    parser.add_argument("--http", required=True, type=Path)
    parser.add_argument("--shots", required=True, type=Path)
    parser.add_argument("--dwell", type=float, default=4.0)
    parser.add_argument("--views", default="")
    parser.add_argument("--base", default="", help="gateway.controlUi.basePath, e.g. /oc")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    rec = Recorder(args.frames, args.http)
    wanted = set(args.views.split(",")) if args.views else None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.on("websocket", rec.on_websocket)
        page.on("response", rec.on_response)
        page.on("console", lambda m: rec.note("console", type=m.type, text=m.text[:500]))
        page.on("pageerror", lambda e: rec.note("pageerror", error=str(e)[:500]))
        page.goto(f"{args.url}{args.base}/chat#token={args.token}")
        rec.view = "chat"
        page.wait_for_timeout(8000)
        page.screenshot(path=str(args.shots / "00-boot.png"))
        storage = page.evaluate("() => JSON.stringify({local: {...localStorage}, "
                                "session: {...sessionStorage}, url: location.href})")
        rec.note("storage-after-boot", storage=json.loads(storage))
        try:
            send_chat(page, rec, "hello from the capture")
            page.wait_for_timeout(8000)
        except Exception as exc:
            rec.note("chat-failed", error=str(exc)[:500])
        page.screenshot(path=str(args.shots / "01-chat.png"))
        for i, (name, path) in enumerate(VIEWS[1:], start=2):
            if wanted is not None and name not in wanted:
                continue
            rec.view = name
            rec.note("navigate", path=path)
            navigate(page, args.base + path)
            page.wait_for_timeout(int(args.dwell * 1000))
            page.screenshot(path=str(args.shots / f"{i:02d}-{name}.png"))
        rec.view = "reload"
        rec.note("reload")
        page.goto(f"{args.url}{args.base}/chat")
        page.wait_for_timeout(6000)
        storage = page.evaluate("() => JSON.stringify({local: {...localStorage}, "
                                "session: {...sessionStorage}, url: location.href})")
        rec.note("storage-after-reload", storage=json.loads(storage))
        page.screenshot(path=str(args.shots / "99-reload.png"))
        browser.close()


if __name__ == "__main__":
    main()
