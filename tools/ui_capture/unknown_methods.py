"""How the stock Control UI reacts when methods are missing: intercept its WebSocket in
Chromium (Playwright ``route_web_socket``) and answer chosen methods with the real gateway's
``unknown method`` error, optionally hiding them from ``hello-ok.features.methods``.

    python unknown_methods.py --url http://127.0.0.1:18999 --token T --methods m1,m2 \
        --hide --seconds 90 --out result.json --shots dir/

The result counts, per method, how many times the UI sent it, so retry loops show up.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import WebSocketRoute, sync_playwright

NAVIGATE = """(path) => { history.pushState({}, "", path);
    window.dispatchEvent(new PopStateEvent("popstate", {state: {}})); }"""
VIEWS = ["/chat", "/sessions", "/settings/channels", "/debug", "/systems", "/settings/devices",
         "/logs", "/usage", "/automations", "/settings/general", "/chat"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--methods", required=True, help="comma-separated, or @file (JSON list)")
    parser.add_argument("--hide", action="store_true", help="also drop them from features.methods")
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--shots", required=True, type=Path)
    parser.add_argument("--base", default="")
    args = parser.parse_args()
    if args.methods.startswith("@"):
        broken = set(json.loads(Path(args.methods[1:]).read_text()))
    else:
        broken = set(args.methods.split(","))
    broken.discard("connect")
    args.shots.mkdir(parents=True, exist_ok=True)
    sent: collections.Counter[str] = collections.Counter()
    answered_unknown: collections.Counter[str] = collections.Counter()
    timeline: list[tuple[float, str]] = []
    t0 = time.monotonic()
    errors_seen: list[str] = []

    def handler(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if isinstance(message, str):
                try:
                    frame = json.loads(message)
                except ValueError:
                    frame = None
                if isinstance(frame, dict) and frame.get("type") == "req":
                    method = str(frame.get("method"))
                    sent[method] += 1
                    timeline.append((round(time.monotonic() - t0, 2), method))
                    if method in broken:
                        answered_unknown[method] += 1
                        ws.send(json.dumps({"type": "res", "id": frame.get("id"), "ok": False,
                                            "error": {"code": "INVALID_REQUEST",
                                                      "message": f"unknown method: {method}"}}))
                        return
            server.send(message)

        def from_server(message: str | bytes) -> None:
            if args.hide and isinstance(message, str) and '"hello-ok"' in message:
                frame: dict[str, Any] = json.loads(message)
                payload = frame.get("payload") or {}
                if payload.get("type") == "hello-ok":
                    features = payload.setdefault("features", {})
                    features["methods"] = [m for m in features.get("methods", [])
                                           if m not in broken]
                    message = json.dumps(frame)
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.on("console", lambda m: errors_seen.append(m.text[:300])
                if m.type == "error" else None)
        page.route_web_socket("**", handler)
        page.goto(f"{args.url}{args.base}/chat#token={args.token}")
        per_view = args.seconds / len(VIEWS)
        for i, path in enumerate(VIEWS):
            page.evaluate(NAVIGATE, args.base + path)
            page.wait_for_timeout(int(per_view * 1000))
            page.screenshot(path=str(args.shots / f"{i:02d}{path.replace('/', '_')}.png"))
        try:
            box = page.locator("textarea").first
            box.fill("hello?")
            page.keyboard.press("Enter")
            page.wait_for_timeout(8000)
            page.screenshot(path=str(args.shots / "99-after-send.png"))
        except Exception as exc:
            errors_seen.append(f"send failed: {exc}")
        body_text = page.inner_text("body")[:3000]
        browser.close()
    args.out.write_text(json.dumps({
        "hide": args.hide, "seconds": args.seconds, "broken": sorted(broken),
        "sent": dict(sent.most_common()), "answered_unknown": dict(answered_unknown.most_common()),
        "chat_send_sent": sent.get("chat.send", 0), "timeline": timeline,
        "console_errors": errors_seen[:50], "body_text": body_text}, indent=1))


if __name__ == "__main__":
    main()
