"""RPC error shapes: ``{code, message, details?, retryable?, retryAfterMs?}``.

A handler signals failure by raising :class:`GatewayError`; the connection turns it into a
``res`` frame with ``ok:false``. Absent optional fields are omitted, never ``null``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import attrs


class ErrorCode:
    """Top-level ``error.code`` values."""

    INVALID_REQUEST: Final = "INVALID_REQUEST"
    UNAVAILABLE: Final = "UNAVAILABLE"
    NOT_PAIRED: Final = "NOT_PAIRED"
    FORBIDDEN: Final = "FORBIDDEN"
    APPROVAL_NOT_FOUND: Final = "APPROVAL_NOT_FOUND"


class DetailCode:
    """``error.details.code`` values used on connect failures and scope checks."""

    AUTH_REQUIRED: Final = "AUTH_REQUIRED"
    AUTH_UNAUTHORIZED: Final = "AUTH_UNAUTHORIZED"
    AUTH_TOKEN_MISSING: Final = "AUTH_TOKEN_MISSING"
    AUTH_TOKEN_MISMATCH: Final = "AUTH_TOKEN_MISMATCH"
    AUTH_TOKEN_NOT_CONFIGURED: Final = "AUTH_TOKEN_NOT_CONFIGURED"
    AUTH_PASSWORD_MISSING: Final = "AUTH_PASSWORD_MISSING"
    AUTH_PASSWORD_MISMATCH: Final = "AUTH_PASSWORD_MISMATCH"
    AUTH_PASSWORD_NOT_CONFIGURED: Final = "AUTH_PASSWORD_NOT_CONFIGURED"
    AUTH_BOOTSTRAP_TOKEN_INVALID: Final = "AUTH_BOOTSTRAP_TOKEN_INVALID"
    AUTH_DEVICE_TOKEN_MISMATCH: Final = "AUTH_DEVICE_TOKEN_MISMATCH"
    AUTH_SCOPE_MISMATCH: Final = "AUTH_SCOPE_MISMATCH"
    AUTH_RATE_LIMITED: Final = "AUTH_RATE_LIMITED"
    AUTH_IDENTITY_HEADER_REQUIRED: Final = "AUTH_IDENTITY_HEADER_REQUIRED"
    CONTROL_UI_ORIGIN_NOT_ALLOWED: Final = "CONTROL_UI_ORIGIN_NOT_ALLOWED"
    CONTROL_UI_DEVICE_IDENTITY_REQUIRED: Final = "CONTROL_UI_DEVICE_IDENTITY_REQUIRED"
    PROTOCOL_MISMATCH: Final = "PROTOCOL_MISMATCH"
    DEVICE_IDENTITY_REQUIRED: Final = "DEVICE_IDENTITY_REQUIRED"
    DEVICE_AUTH_INVALID: Final = "DEVICE_AUTH_INVALID"
    DEVICE_AUTH_DEVICE_ID_MISMATCH: Final = "DEVICE_AUTH_DEVICE_ID_MISMATCH"
    DEVICE_AUTH_SIGNATURE_EXPIRED: Final = "DEVICE_AUTH_SIGNATURE_EXPIRED"
    DEVICE_AUTH_NONCE_REQUIRED: Final = "DEVICE_AUTH_NONCE_REQUIRED"
    DEVICE_AUTH_NONCE_MISMATCH: Final = "DEVICE_AUTH_NONCE_MISMATCH"
    DEVICE_AUTH_SIGNATURE_INVALID: Final = "DEVICE_AUTH_SIGNATURE_INVALID"
    DEVICE_AUTH_PUBLIC_KEY_INVALID: Final = "DEVICE_AUTH_PUBLIC_KEY_INVALID"
    PAIRING_REQUIRED: Final = "PAIRING_REQUIRED"
    MISSING_SCOPE: Final = "MISSING_SCOPE"


@attrs.frozen
class ErrorShape:
    """The ``error`` object of a failed ``res`` frame."""

    code: str
    message: str
    details: Any = None
    retryable: bool | None = None
    retry_after_ms: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            wire["details"] = self.details
        if self.retryable is not None:
            wire["retryable"] = self.retryable
        if self.retry_after_ms is not None:
            wire["retryAfterMs"] = self.retry_after_ms
        return wire


class GatewayError(Exception):
    """Raised by handlers (and the dispatcher) to answer a request with ``ok:false``."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: Any = None,
        retryable: bool | None = None,
        retry_after_ms: int | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.shape = ErrorShape(code, message, details, retryable, retry_after_ms)
        # sent beside the error (``ok:false`` + ``payload``), as a failed ``agent`` run's
        # ``{runId, status:"error", summary}``
        self.payload = payload

    @property
    def code(self) -> str:
        return self.shape.code

    @property
    def message(self) -> str:
        return self.shape.message


def invalid_request(message: str, *, details: Any = None) -> GatewayError:
    return GatewayError(ErrorCode.INVALID_REQUEST, message, details=details)


def invalid_params(method: str, errors: str) -> GatewayError:
    return GatewayError(ErrorCode.INVALID_REQUEST, f"invalid {method} params: {errors}")


def unknown_method(method: str) -> GatewayError:
    return GatewayError(ErrorCode.INVALID_REQUEST, f"unknown method: {method}")


def missing_scope(missing: str, required: Sequence[str]) -> GatewayError:
    """The v4 ``FORBIDDEN``/``MISSING_SCOPE`` answer (legacy message kept for old clients)."""
    return GatewayError(
        ErrorCode.FORBIDDEN,
        f"missing scope: {missing}",
        details={
            "code": DetailCode.MISSING_SCOPE,
            "missingScope": missing,
            "requiredScopes": list(required) or [missing],
        },
    )


def unauthorized_role(role: str) -> GatewayError:
    return GatewayError(ErrorCode.INVALID_REQUEST, f"unauthorized role: {role}")


def internal_error(error_id: str) -> ErrorShape:
    """What a client is told of an unexpected failure: a generic message and the id under
    which the log holds the traceback (the exception text may carry paths or secrets)."""
    return ErrorShape(ErrorCode.UNAVAILABLE, f"internal error (errorId {error_id})",
                      details={"errorId": error_id})
