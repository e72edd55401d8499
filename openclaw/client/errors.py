"""What can go wrong when a CLI command talks to a gateway, in the real CLI's words and shapes.

Three families, as in the real CLI (``src/gateway/call.ts``):

* :class:`GatewayTransportError` -- nothing answered, the socket closed, or a deadline passed
  (``{"type": "gateway_transport_error", "kind": "closed"|"timeout", ...}``);
* :class:`GatewayRequestError` -- the gateway answered a request (or ``connect``) with
  ``ok: false`` (``{"type": "gateway_request_error", "code", "message", ...}``);
* :class:`CredentialsRequiredError` -- refused before opening a socket
  (``{"type": "gateway_credentials_required", "message"}``).

Each knows its ``--json`` payload (:meth:`to_json`), so every command reports a failure the
same way.
"""

from __future__ import annotations

from typing import Any

from openclaw.client.target import ConnectionDetails

START_HINT = "Start it with `openclaw gateway run` or check `openclaw gateway status`."


class GatewayClientError(Exception):
    """Base of every client-side failure; ``str()`` is the first line the operator sees."""

    def to_json(self) -> dict[str, Any]:
        return {"ok": False, "error": {"type": "gateway_error", "message": str(self)}}

    @property
    def text(self) -> str:
        """The full human-readable report (several lines)."""
        return str(self)


class GatewayTransportError(GatewayClientError):
    """The gateway could not be reached, closed the socket, or did not answer in time."""

    def __init__(
        self,
        *,
        kind: str,
        message: str,
        connection: ConnectionDetails,
        reason: str | None = None,
        code: int | None = None,
        timeout_ms: int | None = None,
        errno_code: str | None = None,
    ) -> None:
        super().__init__(message.split("\n", 1)[0])
        self.kind = kind
        self.full_message = message
        self.connection = connection
        self.reason = reason
        self.code = code
        self.timeout_ms = timeout_ms
        self.errno_code = errno_code

    @property
    def text(self) -> str:
        return self.full_message

    @property
    def unreachable(self) -> bool:
        """Nothing accepted the TCP connection (as opposed to a later close or timeout)."""
        return self.errno_code is not None

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": "gateway_transport_error",
            "kind": self.kind,
            "message": str(self),
        }
        if self.code is not None:
            error["code"] = self.code
        if self.reason is not None:
            error["reason"] = self.reason
        if self.timeout_ms is not None:
            error["timeoutMs"] = self.timeout_ms
        gateway: dict[str, Any] = {
            "url": self.connection.url,
            "urlSource": self.connection.url_source,
        }
        if self.connection.bind_detail:
            gateway["bindDetail"] = self.connection.bind_detail
        if self.connection.remote_fallback_note:
            gateway["remoteFallbackNote"] = self.connection.remote_fallback_note
        return {"ok": False, "error": error, "gateway": gateway}


def unreachable_error(
    connection: ConnectionDetails, errno_code: str | None, reason: str
) -> GatewayTransportError:
    """`Gateway not reachable at URL (ECONNREFUSED).` plus the start hint and the target."""
    suffix = f" ({errno_code})" if errno_code else ""
    message = "\n".join(
        [f"Gateway not reachable at {connection.url}{suffix}.", START_HINT, connection.message]
    )
    return GatewayTransportError(
        kind="closed", message=message, connection=connection, reason=reason,
        errno_code=errno_code or "ECONNREFUSED",
    )


def closed_error(
    connection: ConnectionDetails, code: int, reason: str
) -> GatewayTransportError:
    """The gateway closed the WebSocket before answering: `gateway closed (1006): ...`."""
    detail = reason or "no close reason"
    message = f"gateway closed ({code}): {detail}\n{connection.message}"
    return GatewayTransportError(
        kind="closed", message=message, connection=connection, reason=detail, code=code
    )


def timeout_error(connection: ConnectionDetails, timeout_ms: int) -> GatewayTransportError:
    message = f"gateway timeout after {timeout_ms}ms\n{connection.message}"
    return GatewayTransportError(
        kind="timeout", message=message, connection=connection, timeout_ms=timeout_ms
    )


class GatewayRequestError(GatewayClientError):
    """The gateway answered ``ok: false`` (to ``connect`` when ``during_connect``)."""

    def __init__(
        self,
        *,
        code: str,
        message: str,
        details: Any = None,
        retryable: bool = False,
        retry_after_ms: int | None = None,
        during_connect: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.payload: Any = None    # sent beside the error (a failed run's final payload)
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms
        self.during_connect = during_connect

    @classmethod
    def from_frame(cls, error: Any, *, during_connect: bool = False) -> GatewayRequestError:
        shape = error if isinstance(error, dict) else {}
        retry_after = shape.get("retryAfterMs")
        return cls(
            code=str(shape.get("code") or "UNAVAILABLE"),
            message=str(shape.get("message") or "gateway request failed"),
            details=shape.get("details"),
            retryable=bool(shape.get("retryable", False)),
            retry_after_ms=retry_after if isinstance(retry_after, int) else None,
            during_connect=during_connect,
        )

    @property
    def detail_code(self) -> str | None:
        details = self.details if isinstance(self.details, dict) else {}
        code = details.get("code")
        return code if isinstance(code, str) else None

    @property
    def text(self) -> str:
        if self.during_connect:
            return f"gateway connect failed: GatewayClientRequestError: {self.message}"
        return self.message

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": "gateway_request_error",
            "code": self.code,
            "message": self.message,
        }
        if self.details is not None:
            error["details"] = self.details
        error["retryable"] = self.retryable
        if self.retry_after_ms is not None:
            error["retryAfterMs"] = self.retry_after_ms
        return {"ok": False, "error": error}


class CredentialsRequiredError(GatewayClientError):
    """Refused before opening a socket: an explicit ``--url`` needs explicit credentials."""

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": False,
            "error": {"type": "gateway_credentials_required", "message": str(self)},
        }


def url_override_credentials_error(config_path: str) -> CredentialsRequiredError:
    return CredentialsRequiredError(
        "\n".join(
            [
                "gateway url override requires explicit credentials",
                "Fix: pass --token or --password with --url (or gatewayToken in tools).",
                "For the default local or SSH-tunneled Gateway, remove --url to use the "
                "configured target.",
                f"Config: {config_path}",
            ]
        )
    )


class GatewayUrlError(GatewayClientError):
    """A URL the client refuses to use (bad scheme, plaintext ws:// to a remote host)."""
