"""``GET /api/diagnostics/prometheus``: the Prometheus text exposition, for operators only.

As upstream's ``diagnostics-prometheus`` route: gateway auth (the same token or password as
every operator API; a wrong one counts against the rate limiter), then the caller's
effective scopes must include ``operator.read`` (implied by ``operator.write`` and
``operator.admin``): ``401``/``429`` from the shared auth decision, ``403 missing scope:
operator.read`` otherwise. Never public. Content type ``text/plain; version=0.0.4;
charset=utf-8``. With ``diagnostics.enabled: false`` the answer is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from prometheus_client import generate_latest
from twisted.web.http import Request

from openclaw.auth.scopes import READ, scope_satisfied
from openclaw.gateway.http.auth import shared_secret_scopes
from openclaw.gateway.http.common import method_not_allowed, missing_scope_body, write_json
from openclaw.gateway.metrics.registry import GatewayMetrics

if TYPE_CHECKING:
    from openclaw.gateway.http.api import HttpApi

__all__ = ["CONTENT_TYPE", "PATH", "MetricsStage"]

PATH: Final = b"/api/diagnostics/prometheus"
CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"


class MetricsStage:
    """The HTTP stage serving :data:`PATH` (after the probes, before the API and UI)."""

    def __init__(self, metrics: GatewayMetrics, api: HttpApi, enabled: Callable[[], bool]
                 ) -> None:
        self._metrics = metrics
        self._api = api
        self._enabled = enabled

    def __call__(self, request: Request, path: bytes) -> bytes | int | None:
        if path != PATH:
            return None
        if request.method not in (b"GET", b"HEAD"):
            return method_not_allowed(request, "GET, HEAD")
        auth, failure, delay = self._api.auth.check(request)
        if auth is None:
            assert failure is not None
            return self._api.refuse(request, failure, delay)
        if not scope_satisfied(READ, shared_secret_scopes(request, auth)):
            return write_json(request, 403, missing_scope_body(READ))
        body = generate_latest(self._metrics.registry) if self._enabled() else b""
        request.setResponseCode(200)
        request.setHeader(b"content-type", CONTENT_TYPE)
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-length", str(len(body)).encode("ascii"))
        return b"" if request.method == b"HEAD" else body
