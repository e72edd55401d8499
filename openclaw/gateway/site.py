"""The one-port resource tree: WebSocket upgrades on any path, then HTTP stages in order.

The root is a leaf that routes by path itself (upstream's ordered "stages": probes, hooks,
models, embeddings, tools, sessions, responses, chat completions, Control UI), so a plain
GET and a WebSocket upgrade can share every path without byte-level sniffing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from twisted.logger import Logger
from twisted.web.http import Request
from twisted.web.http_headers import Headers
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Site
from zope.interface import implementer

from openclaw.auth.decision import safe_equal_secret
from openclaw.auth.preauth import BUDGET_FULL_TEXT

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(self), geolocation=()"),
)
JSON_CONTENT_TYPE = b"application/json; charset=utf-8"
TEXT_CONTENT_TYPE = b"text/plain; charset=utf-8"

LIVE_BODY = b'{"ok":true,"status":"live"}'

log = Logger(namespace="gateway")


def wants_websocket(request: Request) -> bool:
    for value in request.requestHeaders.getRawHeaders(b"upgrade", []):
        for token in value.split(b","):
            if token.strip().lower() == b"websocket":
                return True
    return False


def _canonical(pairs: Sequence[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """The pairs as ``Headers`` stores them (canonical names, checked values), worked out
    once instead of once per response."""
    template = Headers()
    for name, value in pairs:
        template.setRawHeaders(name, [value])
    return tuple((name, values[0]) for name, values in template.getAllRawHeaders())


_SECURITY_RAW: tuple[tuple[bytes, bytes], ...] = _canonical(SECURITY_HEADERS)


def security_header_lines() -> bytes:
    """The security headers as :func:`apply_security_headers` has them written."""
    return b"".join(name + b": " + value + b"\r\n" for name, value in _SECURITY_RAW)


def apply_security_headers(request: Request) -> None:
    # every answer carries them: set the already-canonical pairs straight into the header
    # table (what setRawHeaders would store, minus its per-call name and value checks)
    raw: dict[bytes, list[bytes]] | None = getattr(request.responseHeaders, "_rawHeaders", None)
    if raw is None:
        for name, value in SECURITY_HEADERS:
            request.responseHeaders.setRawHeaders(name, [value])
        return
    for name, value in _SECURITY_RAW:
        raw[name] = [value]


def send_json(request: Request, code: int, payload: Any, *, no_store: bool = False) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", JSON_CONTENT_TYPE)
    if no_store:
        request.setHeader(b"cache-control", b"no-store")
    body = payload if isinstance(payload, bytes) else json.dumps(
        payload, separators=(",", ":")
    ).encode("utf-8")
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    return b"" if request.method == b"HEAD" else body


def send_text(request: Request, code: int, text: str, *, allow: bytes | None = None) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", TEXT_CONTENT_TYPE)
    if allow is not None:
        request.setHeader(b"allow", allow)
    body = text.encode("utf-8")
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    return b"" if request.method == b"HEAD" else body


class Stage(Protocol):
    """One step of the HTTP pipeline: claims a request (returning its body) or passes."""

    def __call__(self, request: Request, path: bytes) -> bytes | int | None: ...


def _is_local_direct(request: Request) -> bool:
    """A loopback peer that did not come through a proxy (no forwarding headers)."""
    peer = request.getClientAddress()
    host = getattr(peer, "host", "")
    if host not in ("127.0.0.1", "::1") and not str(host).startswith("127."):
        return False
    headers = request.requestHeaders
    return not any(
        headers.hasHeader(h) for h in (b"x-forwarded-for", b"x-real-ip", b"forwarded")
    )


class ProbesStage:
    """`/health[z]` (liveness), `/ready[z]` (readiness), `/startupz`: no auth needed.

    Readiness details go only to local-direct or bearer-authenticated callers, as upstream.
    """

    def __init__(
        self,
        *,
        version: str,
        started_at: float,
        readiness: Callable[[], list[str]],
        bearer_ok: Callable[[bytes], bool],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._version = version
        self._started_at = started_at
        self._readiness = readiness
        self._bearer_ok = bearer_ok
        self._now = now
        self._routes: dict[bytes, Callable[[Request], bytes]] = {
            b"/health": self._live,
            b"/healthz": self._live,
            b"/ready": self._ready,
            b"/readyz": self._ready,
            b"/startupz": self._started,
        }

    def __call__(self, request: Request, path: bytes) -> bytes | None:
        handler = self._routes.get(path)
        if handler is None:
            return None
        if request.method not in (b"GET", b"HEAD"):
            return send_text(request, 405, "Method Not Allowed", allow=b"GET, HEAD")
        return handler(request)

    def _uptime_ms(self) -> int:
        return max(0, int((self._now() - self._started_at) * 1000))

    def _live(self, request: Request) -> bytes:
        return send_json(request, 200, LIVE_BODY, no_store=True)

    def _ready(self, request: Request) -> bytes:
        try:
            failing = self._readiness()
            uptime = self._uptime_ms()
        except Exception:
            # a readiness probe answers, whatever broke: "not ready", and the log says why
            log.failure("readiness check failed")
            failing, uptime = ["internal"], 0
        ready = not failing
        payload: dict[str, Any] = {"ready": ready}
        if _is_local_direct(request) or self._authorized(request):
            payload.update(failing=failing, uptimeMs=uptime)
        return send_json(request, 200 if ready else 503, payload, no_store=True)

    def _started(self, request: Request) -> bytes:
        return send_json(
            request,
            200,
            {
                "ok": True,
                "status": "started",
                "version": self._version,
                "uptimeMs": self._uptime_ms(),
            },
            no_store=True,
        )

    def _authorized(self, request: Request) -> bool:
        header = request.getHeader(b"authorization")
        if not header or header[:7].lower() != b"bearer ":
            return False
        return self._bearer_ok(header[7:].strip())


def shared_secret_checker(secrets: Sequence[str]) -> Callable[[bytes], bool]:
    """Constant-time match of a presented credential against the configured secrets."""
    configured = [s for s in secrets if s]

    def check(presented: bytes) -> bool:
        text = presented.decode("utf-8", "replace")
        matched = False
        for secret in configured:
            matched |= safe_equal_secret(text, secret)
        return matched

    return check


def refuse_upgrade(request: Request, code: int, text: str) -> int:
    """Answer a WebSocket upgrade with a plain-text HTTP error and drop the connection."""
    body = text.encode("utf-8")
    request.setResponseCode(code)
    request.setHeader(b"connection", b"close")
    request.setHeader(b"content-type", TEXT_CONTENT_TYPE)
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    channel = request.channel
    request.write(body)
    request.finish()
    if channel is not None:
        channel.loseConnection()
    return NOT_DONE_YET


@implementer(IResource)
class GatewayRootResource(Resource):
    """Routes every request on the port: WebSocket first, then the HTTP stages, then 404.

    A WebSocket upgrade first needs a slot of the pre-auth budget (``admit_upgrade``; 503
    ``Too many unauthenticated sockets`` when its address has none left), then goes to the
    endpoint of its path (``websocket_routes``: ``/voiceclaw/realtime``) or, on any other
    path, to the control protocol.
    """

    isLeaf = True

    def __init__(self, websocket: IResource, stages: Sequence[Stage], *,
                 websocket_routes: Mapping[bytes, IResource] | None = None,
                 admit_upgrade: Callable[[Request], bool] | None = None) -> None:
        super().__init__()
        self._websocket = websocket
        self.stages: list[Stage] = list(stages)
        self.websocket_routes: dict[bytes, IResource] = dict(websocket_routes or {})
        self.admit_upgrade = admit_upgrade

    def render(self, request: Request) -> bytes | int:
        if wants_websocket(request):
            if self.admit_upgrade is not None and not self.admit_upgrade(request):
                return refuse_upgrade(request, 503, BUDGET_FULL_TEXT)
            # request.path carries no query string: the query is ignored, as upstream.
            endpoint = self.websocket_routes.get(request.path, self._websocket)
            rendered: bytes | int = endpoint.render(request)
            return rendered
        apply_security_headers(request)
        path = request.path
        for stage in self.stages:
            result = stage(request, path)
            if result is not None:
                return result
        return send_text(request, 404, "Not Found")


class GatewaySite(Site):
    """The gateway's Site: no access log of its own (the gateway logs what matters).

    ``Site.log`` runs once per finished request: ``on_finished`` (the HTTP metrics) is
    called there, at no cost when unset.
    """

    on_finished: Callable[[Request], None] | None = None

    def log(self, request: Request) -> None:
        hook = self.on_finished
        if hook is not None:
            hook(request)
