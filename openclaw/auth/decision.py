"""The one shared-secret / trusted-proxy auth decision (WS connect and HTTP reuse it).

:func:`decide_auth` is pure apart from the rate limiter it is handed (whose clock is
injected): inputs are the resolved :class:`AuthSettings`, the presented credentials, the
peer address and request headers; the output is an :class:`AuthDecision` carrying
``ok``/``method``/``reason``, the ``details.code`` to report, ``retryAfterMs`` when rate
limited, and the penalty delay to wait before answering a failure (loopback clients are
never locked out, they are slowed down instead).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Final, Literal

import attrs

from openclaw.auth.netaddr import (
    has_forwarded_headers,
    is_loopback_address,
    is_trusted_proxy_address,
    normalize_ip,
    resolve_client_ip,
)
from openclaw.auth.ratelimit import (
    SCOPE_SHARED_SECRET,
    AuthRateLimiter,
    RateLimitSettings,
)

AuthMode = Literal["none", "token", "password", "trusted-proxy"]
AuthMethod = Literal[
    "none", "token", "password", "trusted-proxy", "device-token", "bootstrap-token", "tailscale"
]

REDACTED_SENTINEL: Final = "__OPENCLAW_REDACTED__"
PROXY_ATTRIBUTION_REQUIRED: Final = "proxy_attribution_required"

_TAILSCALE_HEADERS: Final = (
    "tailscale-funnel-request",
    "tailscale-headers-info",
    "tailscale-user-login",
    "tailscale-user-name",
    "tailscale-user-profile-pic",
)


def _str_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)  # type: ignore[attr-defined]


@attrs.frozen
class TrustedProxySettings:
    """``gateway.auth.trustedProxy``."""

    user_header: str
    required_headers: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    allow_users: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    allow_loopback: bool = False


@attrs.frozen
class AuthSettings:
    """Resolved auth inputs the lead builds from config (no dependency on the config package).

    ``trusted_proxies`` is ``gateway.trustedProxies``; ``allowed_origins`` is
    ``gateway.controlUi.allowedOrigins``.
    """

    mode: AuthMode = "token"
    token: str | None = None
    password: str | None = None
    trusted_proxy: TrustedProxySettings | None = None
    trusted_proxies: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    allow_real_ip_fallback: bool = False
    rate_limit: RateLimitSettings = attrs.Factory(RateLimitSettings)
    allowed_origins: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    allow_host_header_origin_fallback: bool = False

    def shared_secret_fingerprint(self) -> str:
        """Opaque value that changes whenever the accepted shared secret changes."""
        import hashlib

        material = "\x00".join((self.mode, self.token or "", self.password or ""))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


IngressKind = Literal["direct-local", "direct-remote", "trusted-proxy", "unattributable-proxy"]


@attrs.frozen
class Ingress:
    """Where a request really comes from (``ingress-attribution``)."""

    kind: IngressKind
    client_ip: str | None
    remote_address: str

    @property
    def is_local_direct(self) -> bool:
        return self.kind == "direct-local"


def classify_ingress(
    remote_address: str | None,
    headers: Mapping[str, str],
    trusted_proxies: tuple[str, ...],
    *,
    allow_real_ip_fallback: bool = False,
) -> Ingress:
    remote = normalize_ip(remote_address) or (remote_address or "unknown")
    proxy_headers = has_forwarded_headers(headers)
    tailscale_headers = any(name in headers for name in _TAILSCALE_HEADERS)
    if is_loopback_address(remote) and not proxy_headers and not tailscale_headers:
        return Ingress("direct-local", remote, remote)
    if is_trusted_proxy_address(remote, trusted_proxies):
        client_ip = resolve_client_ip(
            remote, headers, trusted_proxies, allow_real_ip_fallback=allow_real_ip_fallback
        )
        if not client_ip or is_loopback_address(client_ip):
            return Ingress("unattributable-proxy", None, remote)
        return Ingress("trusted-proxy", client_ip, remote)
    if proxy_headers or tailscale_headers:
        return Ingress("unattributable-proxy", None, remote)
    return Ingress("direct-remote", remote, remote)


@attrs.frozen
class AuthRequest:
    """What a client presented plus where it came from. Header names are lowercase."""

    remote_address: str | None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    token: str | None = None
    password: str | None = None
    # Addresses of this host's own interfaces: a trusted proxy must not be ourselves.
    local_addresses: frozenset[str] = frozenset()


@attrs.frozen
class AuthDecision:
    ok: bool
    method: AuthMethod | None = None
    reason: str | None = None
    user: str | None = None
    rate_limited: bool = False
    retry_after_ms: int | None = None
    # Seconds to wait before answering (loopback failure penalty).
    delay_seconds: float = 0.0
    # The rate-limit subject the decision was keyed on.
    subject: str | None = None
    ingress: Ingress | None = None


def safe_equal_secret(provided: str | None, expected: str | None) -> bool:
    """Constant-time comparison that does not leak the expected length."""
    if not isinstance(provided, str) or not isinstance(expected, str):
        return False
    left = provided.encode("utf-8")
    right = expected.encode("utf-8")
    width = max(len(left), len(right))
    if width == 0:
        return True
    same = hmac.compare_digest(left.ljust(width, b"\0"), right.ljust(width, b"\0"))
    return same and len(left) == len(right)


def _is_invalid_secret(secret: str | None) -> bool:
    return secret is None or not secret.strip() or secret.strip() in ("undefined", "null")


def _authorize_trusted_proxy(
    settings: TrustedProxySettings,
    trusted_proxies: tuple[str, ...],
    request: AuthRequest,
) -> tuple[str | None, str | None]:
    """Return ``(user, None)`` or ``(None, reason)`` (``authorizeTrustedProxy``)."""
    remote = normalize_ip(request.remote_address)
    if not remote or not is_trusted_proxy_address(remote, trusted_proxies):
        return None, "trusted_proxy_untrusted_source"
    if is_loopback_address(remote):
        if not settings.allow_loopback:
            return None, "trusted_proxy_loopback_source"
    elif remote in {normalize_ip(addr) for addr in request.local_addresses}:
        return None, "trusted_proxy_local_interface_source"
    for header in settings.required_headers:
        value = request.headers.get(header.lower(), "")
        if not value.strip():
            return None, f"trusted_proxy_missing_header_{header}"
    user = request.headers.get(settings.user_header.lower(), "").strip()
    if not user:
        return None, "trusted_proxy_user_missing"
    if settings.allow_users and user not in settings.allow_users:
        return None, "trusted_proxy_user_not_allowed"
    return user, None


def decide_auth(
    settings: AuthSettings,
    request: AuthRequest,
    limiter: AuthRateLimiter | None,
    *,
    rate_limit_scope: str = SCOPE_SHARED_SECRET,
    defer_failure: bool = False,
) -> AuthDecision:
    """Authorize one connect/request (``authorizeGatewayConnect``).

    ``limiter`` is ``None`` when failures must not be counted (the WS path passes one only
    when a shared secret was presented). With ``defer_failure`` a mismatch is not recorded:
    the caller records it after the device-token fallback also failed.
    """
    mode = settings.mode
    if mode == "token" and settings.token == REDACTED_SENTINEL:
        return AuthDecision(False, reason="token_redacted_config")
    if mode == "password" and settings.password == REDACTED_SENTINEL:
        return AuthDecision(False, reason="password_redacted_config")
    if mode == "trusted-proxy":
        if settings.trusted_proxy is None:
            return AuthDecision(False, reason="trusted_proxy_config_missing")
        if not settings.trusted_proxies:
            return AuthDecision(False, reason="trusted_proxy_no_proxies_configured")

    ingress = classify_ingress(
        request.remote_address,
        request.headers,
        settings.trusted_proxies,
        allow_real_ip_fallback=settings.allow_real_ip_fallback,
    )
    if ingress.kind == "unattributable-proxy":
        return AuthDecision(False, reason=PROXY_ATTRIBUTION_REQUIRED, ingress=ingress)
    subject = ingress.client_ip

    def failed(reason: str, delay: float = 0.0) -> AuthDecision:
        return AuthDecision(False, reason=reason, delay_seconds=delay, subject=subject,
                            ingress=ingress)

    def rate_limited() -> AuthDecision | None:
        if limiter is None:
            return None
        check = limiter.check(subject, rate_limit_scope)
        if check.allowed:
            return None
        return AuthDecision(False, reason="rate_limited", rate_limited=True,
                            retry_after_ms=check.retry_after_ms, subject=subject, ingress=ingress)

    def compare(presented: str | None, expected: str | None, kind: Literal["token", "password"]
                ) -> AuthDecision:
        if _is_invalid_secret(expected):
            return failed(f"{kind}_missing_config")
        if not presented:
            return failed(f"{kind}_missing")
        if not safe_equal_secret(presented, expected):
            delay = 0.0
            if limiter is not None and not defer_failure:
                delay = limiter.record_failure_delay(subject, rate_limit_scope)
            return failed(f"{kind}_mismatch", delay)
        if limiter is not None:
            limiter.reset(subject, rate_limit_scope)
        return AuthDecision(True, method=kind, subject=subject, ingress=ingress)

    if mode == "trusted-proxy":
        assert settings.trusted_proxy is not None
        user, reason = _authorize_trusted_proxy(
            settings.trusted_proxy, settings.trusted_proxies, request
        )
        if user is not None:
            if ingress.kind != "trusted-proxy":
                return failed(PROXY_ATTRIBUTION_REQUIRED)
            return AuthDecision(True, method="trusted-proxy", user=user, subject=subject,
                                ingress=ingress)
        if ingress.is_local_direct and settings.password and request.password:
            limited = rate_limited()
            if limited is not None:
                return limited
            return compare(request.password, settings.password, "password")
        return failed(reason or "unauthorized")

    if mode == "none":
        return AuthDecision(True, method="none", subject=subject, ingress=ingress)

    limited = rate_limited()
    if limited is not None:
        return limited
    # Either wire field may carry the configured secret; the mode picks which one is checked.
    if mode == "token":
        presented = request.token if request.token is not None else request.password
        return compare(presented, settings.token, "token")
    if mode == "password":
        presented = request.password if request.password is not None else request.token
        return compare(presented, settings.password, "password")
    if limiter is not None:
        return failed("unauthorized", limiter.record_failure_delay(subject, rate_limit_scope))
    return failed("unauthorized")
