"""Probing a gateway the way ``gateway status`` and ``gateway probe`` do.

A *connectivity* probe connects as ``cli``/``probe`` (protocol 3-4, version ``dev``): the
gateway grants such clients no scopes, so reaching ``hello-ok`` proves reachability and auth,
not read access (``connected_no_operator_scope``). A *read* probe (``--require-rpc``) connects
as ``cli``/``cli`` with ``operator.read`` and must answer ``status``. ``gateway probe`` also
pipelines ``health``, ``status``, ``system-presence`` and ``config.get`` after a connectivity
connect and reports whether they were limited by scope.
"""

from __future__ import annotations

import time
from typing import Any

import attrs

from openclaw.client.connection import (
    NO_PARAMS,
    GatewayConnection,
    capability_of,
    cli_identity,
    probe_identity,
)
from openclaw.client.errors import GatewayClientError, GatewayRequestError, GatewayTransportError
from openclaw.client.target import GatewayTarget


@attrs.frozen
class ProbeResult:
    url: str
    connected: bool
    kind: str = "connect"  # connect | read
    latency_ms: int | None = None
    hello: dict[str, Any] | None = None
    scopes: tuple[str, ...] = ()
    error: str | None = None
    close: dict[str, Any] | None = None
    failure: str | None = None  # unreachable | auth | timeout | closed | rpc
    rpc_ok: bool = False
    scope_limited: bool = False
    details: dict[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        return self.connected and (self.kind == "connect" or self.rpc_ok)

    @property
    def capability(self) -> str:
        return capability_of(self.scopes) if self.connected else "unknown"

    @property
    def server(self) -> dict[str, Any]:
        server = (self.hello or {}).get("server")
        return server if isinstance(server, dict) else {}

    @property
    def role(self) -> str | None:
        auth = (self.hello or {}).get("auth")
        role = auth.get("role") if isinstance(auth, dict) else None
        return role if isinstance(role, str) else None

    @property
    def server_version(self) -> str | None:
        version = self.server.get("version")
        return version if isinstance(version, str) else None

    def server_json(self) -> dict[str, Any]:
        if not self.connected:
            return {"version": None, "connId": None}
        server: dict[str, Any] = {"version": self.server.get("version")}
        if self.server.get("buildId"):
            server["buildId"] = self.server["buildId"]
        server["connId"] = self.server.get("connId")
        return server

    def auth_json(self) -> dict[str, Any]:
        return {"role": self.role, "scopes": list(self.scopes), "capability": self.capability}


def _failure(target: GatewayTarget, error: GatewayClientError, kind: str) -> ProbeResult:
    close = None
    failure = "closed"
    text = str(error)
    if isinstance(error, GatewayTransportError):
        if error.unreachable:
            failure = "unreachable"
            text = error.reason or text
            close = {"code": 1006, "reason": ""}
        elif error.kind == "timeout":
            failure = "timeout"
        else:
            close = {"code": error.code or 1006, "reason": error.reason or ""}
    elif isinstance(error, GatewayRequestError):
        failure = "auth" if error.during_connect else "rpc"
        text = error.message
    return ProbeResult(url=target.url, connected=False, kind=kind, error=text, close=close,
                       failure=failure)


def probe_connect(target: GatewayTarget, *, timeout_ms: int, details: bool = False
                  ) -> ProbeResult:
    """Connectivity probe; with `details`, also the four read RPCs ``gateway probe`` sends."""
    started = time.monotonic()
    conn = GatewayConnection(target, probe_identity(), timeout_ms=timeout_ms)
    try:
        hello = conn.open()
        latency = int((time.monotonic() - started) * 1000)
        scopes = tuple(conn.granted_scopes)
        answers: dict[str, Any] = {}
        rpc_ok = False
        limited = False
        error = None
        if details:
            calls = [("health", NO_PARAMS), ("status", NO_PARAMS),
                     ("system-presence", NO_PARAMS), ("config.get", {})]
            try:
                results = conn.pipeline(calls)
            except GatewayClientError as e:
                results = [e] * len(calls)
            failures = [r for r in results if isinstance(r, GatewayClientError)]
            rpc_ok = not failures
            limited = any(isinstance(r, GatewayRequestError) and r.code == "FORBIDDEN"
                          for r in failures)
            if failures:
                error = str(failures[0])
            for (method, _), result in zip(calls, results, strict=True):
                answers[method] = None if isinstance(result, GatewayClientError) else result
        return ProbeResult(url=target.url, connected=True, latency_ms=latency, hello=hello,
                           scopes=scopes, rpc_ok=rpc_ok, scope_limited=limited, error=error,
                           details=answers)
    except GatewayClientError as e:
        return _failure(target, e, "connect")
    finally:
        conn.close()


def probe_read(target: GatewayTarget, *, timeout_ms: int) -> ProbeResult:
    """Read probe: connect with ``operator.read`` and require a ``status`` answer."""
    started = time.monotonic()
    conn = GatewayConnection(target, cli_identity(), timeout_ms=timeout_ms)
    try:
        hello = conn.open()
        latency = int((time.monotonic() - started) * 1000)
        scopes = tuple(conn.granted_scopes)
        try:
            status = conn.request("status")
        except GatewayClientError as e:
            return ProbeResult(url=target.url, connected=True, kind="read", latency_ms=latency,
                               hello=hello, scopes=scopes, error=str(e), failure="rpc",
                               scope_limited=isinstance(e, GatewayRequestError)
                               and e.code == "FORBIDDEN")
        return ProbeResult(url=target.url, connected=True, kind="read", latency_ms=latency,
                           hello=hello, scopes=scopes, rpc_ok=True, details={"status": status})
    except GatewayClientError as e:
        if isinstance(e, GatewayTransportError) and e.unreachable:
            result = _failure(target, e, "read")
            return attrs.evolve(result, error=e.full_message)
        return _failure(target, e, "read")
    finally:
        conn.close()
