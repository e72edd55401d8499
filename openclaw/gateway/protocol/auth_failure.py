"""How the WebSocket handshake words an auth failure: ``details.code``, the human message
and the recommended next step, as the real gateway sends them (the decision itself is
:func:`openclaw.auth.decision.decide_auth`, shared with HTTP)."""

from __future__ import annotations

from typing import Literal

from openclaw.auth.decision import PROXY_ATTRIBUTION_REQUIRED
from openclaw.gateway.protocol.errors import DetailCode


def auth_detail_code(reason: str | None) -> str:
    """``resolveAuthConnectErrorDetailCode``."""
    if reason is not None and reason.startswith("trusted_proxy_missing_header_"):
        return DetailCode.AUTH_IDENTITY_HEADER_REQUIRED
    table = {
        "token_missing": DetailCode.AUTH_TOKEN_MISSING,
        "token_mismatch": DetailCode.AUTH_TOKEN_MISMATCH,
        "token_missing_config": DetailCode.AUTH_TOKEN_NOT_CONFIGURED,
        "password_missing": DetailCode.AUTH_PASSWORD_MISSING,
        "password_mismatch": DetailCode.AUTH_PASSWORD_MISMATCH,
        "password_missing_config": DetailCode.AUTH_PASSWORD_NOT_CONFIGURED,
        "bootstrap_token_invalid": DetailCode.AUTH_BOOTSTRAP_TOKEN_INVALID,
        "rate_limited": DetailCode.AUTH_RATE_LIMITED,
        "device_token_mismatch": DetailCode.AUTH_DEVICE_TOKEN_MISMATCH,
        "scope_mismatch": DetailCode.AUTH_SCOPE_MISMATCH,
    }
    if reason is None:
        return DetailCode.AUTH_REQUIRED
    return table.get(reason, DetailCode.AUTH_UNAUTHORIZED)


AuthProvided = Literal["password", "token", "bootstrap-token", "device-token", "none"]


def auth_provided_kind(
    token: str | None, password: str | None, bootstrap_token: str | None,
    device_token: str | None,
) -> AuthProvided:
    if password:
        return "password"
    if token:
        return "token"
    if bootstrap_token:
        return "bootstrap-token"
    if device_token:
        return "device-token"
    return "none"


def recommended_next_step(reason: str | None, can_retry_with_device_token: bool) -> str:
    """``resolveUnauthorizedHandshakeContext``."""
    if can_retry_with_device_token:
        return "retry_with_device_token"
    if reason in ("token_missing", "token_missing_config", "token_redacted_config",
                  "password_redacted_config", "password_missing", "password_missing_config"):
        return "update_auth_configuration"
    if reason in ("token_mismatch", "password_mismatch", "device_token_mismatch"):
        return "update_auth_credentials"
    if reason == "rate_limited":
        return "wait_then_retry"
    return "review_auth_configuration"


def format_auth_failure_message(
    *,
    mode: str,
    auth_provided: AuthProvided,
    reason: str | None,
    client_mode: str | None,
    client_is_operator_ui: bool,
    client_is_webchat: bool,
    is_local_client: bool,
) -> str:
    """The human message the real gateway sends (``formatGatewayAuthFailureMessage``)."""
    is_cli = client_mode == "cli"
    ui = client_is_operator_ui or client_is_webchat
    if client_mode == "node" and reason and reason.startswith("trusted_proxy_missing_header_"):
        return ("gateway rejected this node: trusted-proxy identity-header authentication is "
                "required and no usable machine credential was accepted; run `openclaw doctor` "
                "on the Gateway")
    ui_hint = "open the dashboard URL and paste the token in Control UI settings"
    missing_ui_token_hint = (
        "paste in Control UI settings or openclaw doctor --generate-gateway-token; restart"
    )
    if is_cli:
        token_hint = (
            "use this gateway's gateway.auth.token or pair the device"
            if is_local_client
            else "set gateway.remote.token to match gateway.auth.token"
        )
        password_hint = (
            "use this gateway's gateway.auth.password"
            if is_local_client
            else "set gateway.remote.password to match gateway.auth.password"
        )
    elif ui:
        token_hint = ui_hint
        password_hint = "enter the password in Control UI settings"
    else:
        token_hint = "provide gateway auth token"
        password_hint = "provide gateway auth password"
    messages = {
        "token_missing": (
            f"unauthorized: gateway token missing ({missing_ui_token_hint if ui else token_hint})"
        ),
        "token_mismatch": f"unauthorized: gateway token mismatch ({token_hint})",
        "token_missing_config": (
            "unauthorized: gateway token not configured on gateway (set gateway.auth.token)"
        ),
        "token_redacted_config": (
            "gateway credential is a redaction sentinel (run openclaw doctor --fix on the "
            "Gateway, then restart and re-pair)"
        ),
        "password_missing": f"unauthorized: gateway password missing ({password_hint})",
        "password_mismatch": f"unauthorized: gateway password mismatch ({password_hint})",
        "password_missing_config": (
            "unauthorized: gateway password not configured on gateway "
            "(set gateway.auth.password)"
        ),
        "rate_limited": "unauthorized: too many failed authentication attempts (retry later)",
        PROXY_ATTRIBUTION_REQUIRED: (
            "unauthorized: proxy client attribution is required (configure "
            "gateway.trustedProxies narrowly and make the proxy overwrite or safely rebuild "
            "forwarded client headers)"
        ),
        "device_token_mismatch": (
            "unauthorized: device token mismatch (rotate/reissue device token)"
        ),
        "scope_mismatch": (
            "unauthorized: device token scope mismatch (re-pair or approve scope upgrade)"
        ),
    }
    messages["password_redacted_config"] = messages["token_redacted_config"]
    if reason in messages:
        return messages[reason]
    if mode == "token" and auth_provided == "none":
        return f"unauthorized: gateway token missing ({token_hint})"
    if mode == "token" and auth_provided == "device-token":
        return ("unauthorized: device token rejected (pair/repair this device, or provide "
                "gateway token)")
    if mode == "password" and auth_provided == "none":
        return f"unauthorized: gateway password missing ({password_hint})"
    return "unauthorized"
