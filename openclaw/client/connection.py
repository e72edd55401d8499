"""A synchronous gateway client: the real handshake, then request/response over one socket.

CLI commands are short-lived processes, so this client is deliberately blocking (the
``websockets`` sync client, no reactor): ``openclaw health --json`` must answer in well under
0.3 s and importing Twisted alone costs more than that budget allows.

The handshake is the real CLI's (see ``recorded-frames.md``): wait for the server's
``connect.challenge`` event, send ``req connect`` with the client identity, the requested
scopes and the shared secret, and expect ``res`` with ``payload.type == "hello-ok"``. No
device identity is sent (the real CLI does not send one with token/password auth either), so
the gateway grants what its loopback rules allow for the client id/mode.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

from openclaw import __version__
from openclaw.client.errors import (
    GatewayRequestError,
    GatewayTransportError,
    closed_error,
    timeout_error,
    unreachable_error,
)
from openclaw.client.target import GatewayTarget

PROTOCOL_VERSION: Final = 4
MIN_PROBE_PROTOCOL: Final = 3
DEFAULT_TIMEOUT_MS: Final = 10_000
READ: Final = "operator.read"
WRITE: Final = "operator.write"
ADMIN: Final = "operator.admin"
# What the real CLI asks for when it cannot classify a method (CLI_DEFAULT_OPERATOR_SCOPES).
CLI_DEFAULT_SCOPES: Final = (
    ADMIN, READ, WRITE, "operator.approvals", "operator.questions", "operator.pairing",
    "operator.talk.secrets",
)
_NO_PARAMS: Final = object()


def uuid4() -> str:
    """A random (version 4) UUID string; ``import uuid`` costs ~10 ms of CLI start-up."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def platform_name() -> str:
    """Node's ``process.platform`` spelling."""
    if sys.platform.startswith("linux"):
        return "linux"
    return {"darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)


def device_family() -> str:
    return {"linux": "Linux", "darwin": "Mac", "win32": "Windows"}.get(platform_name(), "Unknown")


class ClientIdentity(NamedTuple):
    """Who the client says it is in ``connect.params`` (decides the granted scopes)."""

    client_id: str = "cli"
    mode: str = "cli"
    version: str = __version__
    display_name: str | None = None
    scopes: tuple[str, ...] = (READ,)
    min_protocol: int = PROTOCOL_VERSION
    max_protocol: int = PROTOCOL_VERSION


def cli_identity(scopes: Sequence[str] = (READ,)) -> ClientIdentity:
    """``openclaw gateway call``, ``gateway health``, ``logs``: ``cli``/``cli``."""
    return ClientIdentity(scopes=tuple(scopes))


def backend_identity(method: str) -> ClientIdentity:
    """``openclaw health`` / ``openclaw status``: ``gateway-client``/``backend``."""
    return ClientIdentity(client_id="gateway-client", mode="backend",
                          display_name=f"gateway:{method}")


def probe_identity() -> ClientIdentity:
    """``gateway status`` / ``gateway probe``: ``cli``/``probe``, protocol 3-4, version dev."""
    return ClientIdentity(mode="probe", version="dev", min_protocol=MIN_PROBE_PROTOCOL)


def _errno_name(error: OSError) -> str | None:
    if isinstance(error, socket.gaierror):
        return "ENOTFOUND"
    if error.errno is not None:
        return errno.errorcode.get(error.errno)
    if isinstance(error, ConnectionRefusedError):
        return "ECONNREFUSED"
    return None


class GatewayConnection:
    """One authenticated WebSocket connection to a gateway.

    Use as a context manager, or call :meth:`open` / :meth:`close`. Every blocking step is
    bounded by the deadline given at construction (``timeout_ms`` from now).
    """

    def __init__(
        self,
        target: GatewayTarget,
        identity: ClientIdentity,
        *,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> None:
        self.target = target
        self.identity = identity
        self.timeout_ms = timeout_ms
        self.deadline = time.monotonic() + timeout_ms / 1000.0
        self.hello: dict[str, Any] | None = None
        self.connect_latency_ms: int | None = None
        self._ws: Any = None
        self._exit_stack = contextlib.ExitStack()
        self._seq = 0

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> GatewayConnection:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error(self.target.connection, self.timeout_ms)
        return remaining

    def open(self) -> dict[str, Any]:
        """Connect, answer the challenge, and return the ``hello-ok`` payload."""
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        started = time.monotonic()
        connection = self.target.connection
        try:
            # Entered as a context manager: websockets >= 17 connects in __enter__ (and
            # warns otherwise); older versions return the connection, which also is one.
            self._ws = self._exit_stack.enter_context(connect(
                self.target.url,
                open_timeout=self._remaining(),
                close_timeout=1,
                compression=None,
                max_size=None,
                user_agent_header=f"openclaw-twisted/{__version__}",
                proxy=None,
            ))
        except (InvalidURI, ValueError) as e:
            raise GatewayTransportError(
                kind="closed", message=f"invalid gateway URL: {e}", connection=connection,
                reason=str(e),
            ) from None
        except TimeoutError:
            raise timeout_error(connection, self.timeout_ms) from None
        except OSError as e:
            code = _errno_name(e)
            parts = urlsplit(self.target.url)
            reason = f"connect {code or 'failed'} {parts.hostname}:{parts.port}"
            raise unreachable_error(connection, code, reason) from None
        except InvalidHandshake as e:
            raise closed_error(connection, 1006, f"websocket upgrade failed: {e}") from None
        self._receive_challenge()
        response = self._call("connect", self._connect_params(), during_connect=True)
        if not isinstance(response, dict) or response.get("type") != "hello-ok":
            raise closed_error(connection, 1002, "unexpected connect response")
        self.hello = response
        self.connect_latency_ms = int((time.monotonic() - started) * 1000)
        return response

    def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
            self._ws = None

    # -- frames --------------------------------------------------------------------------

    def _connect_params(self) -> dict[str, Any]:
        client: dict[str, Any] = {"id": self.identity.client_id}
        if self.identity.display_name:
            client["displayName"] = self.identity.display_name
        client.update(
            version=self.identity.version,
            platform=platform_name(),
            deviceFamily=device_family(),
            mode=self.identity.mode,
            instanceId=uuid4(),
        )
        auth: dict[str, str] = {}
        if self.target.token:
            auth["token"] = self.target.token
        if self.target.password:
            auth["password"] = self.target.password
        params: dict[str, Any] = {
            "minProtocol": self.identity.min_protocol,
            "maxProtocol": self.identity.max_protocol,
            "client": client,
            "caps": [],
        }
        if auth:
            params["auth"] = auth
        params["role"] = "operator"
        params["scopes"] = list(self.identity.scopes)
        return params

    def _receive(self) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed

        try:
            raw = self._ws.recv(timeout=self._remaining())
        except TimeoutError:
            raise timeout_error(self.target.connection, self.timeout_ms) from None
        except ConnectionClosed as e:
            received = e.rcvd
            code = received.code if received is not None else 1006
            reason = received.reason if received is not None else ""
            raise closed_error(self.target.connection, code, reason) from None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        try:
            frame = json.loads(raw)
        except ValueError:
            return {}
        return frame if isinstance(frame, dict) else {}

    def _receive_challenge(self) -> None:
        while True:
            frame = self._receive()
            if frame.get("type") == "event" and frame.get("event") == "connect.challenge":
                return

    def _send(self, frame: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self._ws.send(json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed as e:
            received = e.rcvd
            code = received.code if received is not None else 1006
            raise closed_error(self.target.connection, code,
                               received.reason if received else "") from None

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._seq}:{uuid4()}"

    def _call(self, method: str, params: Any, *, during_connect: bool = False) -> Any:
        request_id = self._next_id()
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not _NO_PARAMS:
            frame["params"] = params
        self._send(frame)
        while True:
            reply = self._receive()
            if reply.get("type") != "res" or reply.get("id") != request_id:
                continue  # events (health, tick, presence) and stray frames
            if reply.get("ok") is True:
                return reply.get("payload")
            raise GatewayRequestError.from_frame(reply.get("error"),
                                                 during_connect=during_connect)

    def request(self, method: str, params: Any = _NO_PARAMS) -> Any:
        """Send one request and return its payload; raise on ``ok: false``.

        Without ``params`` the frame carries no ``params`` key at all (as ``openclaw health``
        sends ``health``).
        """
        if self._ws is None:
            self.open()
        return self._call(method, params)

    def stream_request(self, method: str, params: Any,
                       on_event: Callable[[dict[str, Any]], None], *,
                       expect_final: bool = False,
                       on_accepted: Callable[[Any], None] | None = None) -> Any:
        """One request whose events matter (``agent``): every event frame goes to
        ``on_event`` while the answer is awaited. With ``expect_final`` an interim
        ``status: "accepted"`` answer goes to ``on_accepted`` and the wait goes on (the real
        client's ``expectFinal``). A failure raises with the frame's ``payload`` kept."""
        if self._ws is None:
            self.open()
        request_id = self._next_id()
        self._send({"type": "req", "id": request_id, "method": method, "params": params})
        while True:
            reply = self._receive()
            kind = reply.get("type")
            if kind == "event":
                on_event(reply)
                continue
            if kind != "res" or reply.get("id") != request_id:
                continue
            payload = reply.get("payload")
            if reply.get("ok") is True:
                if expect_final and isinstance(payload, dict) and \
                        payload.get("status") == "accepted":
                    if on_accepted is not None:
                        on_accepted(payload)
                    continue
                return payload
            error = GatewayRequestError.from_frame(reply.get("error"))
            error.payload = payload
            raise error

    def extend_deadline(self, timeout_ms: int) -> None:
        """Give the next steps ``timeout_ms`` from now (a long agent run)."""
        self.timeout_ms = timeout_ms
        self.deadline = time.monotonic() + timeout_ms / 1000.0

    def pipeline(self, calls: Sequence[tuple[str, Any]]) -> list[Any | GatewayRequestError]:
        """Send several requests at once, then collect every answer (errors as values)."""
        if self._ws is None:
            self.open()
        pending: dict[str, int] = {}
        for index, (method, params) in enumerate(calls):
            request_id = self._next_id()
            frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
            if params is not _NO_PARAMS:
                frame["params"] = params
            self._send(frame)
            pending[request_id] = index
        results: list[Any | GatewayRequestError] = [None] * len(calls)
        while pending:
            reply = self._receive()
            index = pending.pop(str(reply.get("id")), -1) if reply.get("type") == "res" else -1
            if index < 0:
                continue
            if reply.get("ok") is True:
                results[index] = reply.get("payload")
            else:
                results[index] = GatewayRequestError.from_frame(reply.get("error"))
        return results

    @property
    def granted_scopes(self) -> list[str]:
        auth = (self.hello or {}).get("auth")
        scopes = auth.get("scopes") if isinstance(auth, dict) else None
        return [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []

    @property
    def server(self) -> dict[str, Any]:
        server = (self.hello or {}).get("server")
        return server if isinstance(server, dict) else {}


NO_PARAMS: Final = _NO_PARAMS


def call_gateway(
    target: GatewayTarget,
    method: str,
    params: Any = _NO_PARAMS,
    *,
    identity: ClientIdentity | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Any:
    """Connect, send one request, close; return the payload (raises client errors)."""
    with GatewayConnection(target, identity or cli_identity(), timeout_ms=timeout_ms) as conn:
        return conn.request(method, params)


def capability_of(scopes: Sequence[str]) -> str:
    """The real CLI's capability classification of granted operator scopes."""
    granted = set(scopes)
    if ADMIN in granted:
        return "admin_capable"
    if WRITE in granted:
        return "write_capable"
    if READ in granted:
        return "read_only"
    return "connected_no_operator_scope"
