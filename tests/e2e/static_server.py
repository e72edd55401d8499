"""Serve the packaged Control UI (``openclaw/control_ui/``) from a loopback HTTP server of the
test's own, the way the gateway must (http.md §10): SPA fallback to ``index.html`` with its
``./`` hrefs made absolute, ``no-cache`` on the document, ``immutable`` on ``assets/``, and the
strict security headers (a CSP without ``'unsafe-inline'``), so a CSP violation of the UI fails
the tests here too.

Used for our gateway until its own ``GET /`` serves the UI (the protocol branch): the page is
opened here and pointed at the gateway with ``#gatewayUrl=``.
"""

from __future__ import annotations

import mimetypes
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openclaw.control_ui

UI_ROOT = Path(openclaw.control_ui.__file__).resolve().parent
STRICT_CSP = ("default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
              "script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
              "connect-src 'self' ws: wss:")
SECURITY_HEADERS = {
    "Content-Security-Policy": STRICT_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATIC_SUFFIXES = (".js", ".css", ".json", ".map", ".svg", ".png", ".jpg", ".ico", ".txt",
                   ".webmanifest")


def rewritten_index(base_path: str = "") -> bytes:
    text = (UI_ROOT / "index.html").read_text(encoding="utf-8")
    for attr in ("src", "href"):
        text = text.replace(f'{attr}="./', f'{attr}="{base_path}/')
    text = text.replace("<html ", f'<html data-openclaw-control-ui-base-path="{base_path}" ', 1)
    return text.encode("utf-8")


class StaticUiServer:
    """``StaticUiServer().start()`` → port; ``url``; ``stop()``."""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self.csp_reports: list[str] = []

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> int:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str, cache: str) -> None:
                self.send_response(status)
                for name, value in SECURITY_HEADERS.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Cache-Control", cache)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].split("#", 1)[0]
                relative = path.lstrip("/")
                target = (UI_ROOT / relative).resolve()
                inside = target == UI_ROOT or UI_ROOT in target.parents
                if inside and target.is_file() and target.suffix != ".py":
                    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                    if target.suffix == ".js":
                        kind = "text/javascript"
                    cache = ("public, max-age=31536000, immutable"
                             if relative.startswith("assets/") else "no-cache")
                    if target.name == "index.html":
                        self._send(200, rewritten_index(), "text/html; charset=utf-8", "no-cache")
                    else:
                        self._send(200, target.read_bytes(), kind, cache)
                    return
                if not inside or os.path.splitext(path)[1] in STATIC_SUFFIXES:
                    self._send(404, b"Not Found", "text/plain; charset=utf-8", "no-cache")
                    return
                self._send(200, rewritten_index(), "text/html; charset=utf-8", "no-cache")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="static-ui", daemon=True).start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
