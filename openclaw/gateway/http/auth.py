"""HTTP auth: the WebSocket's decision function and rate limiter, applied to a request.

One auth decision for WS and HTTP (house rule): :class:`HttpAuthenticator` builds an
:class:`~openclaw.auth.decision.AuthRequest` from the request (peer address, headers,
``Authorization: Bearer`` offered as token *and* password, as upstream) and calls
:func:`~openclaw.auth.decision.decide_auth` with the live settings and the limiter of
the WebSocket's :class:`~openclaw.gateway.protocol.context.GatewayContext` (so a hot-reloaded
secret or rate-limit applies to both, and failures on HTTP count against WS and back).

Answers (``http-common``): rate limited -> ``429`` + ``Retry-After``; unattributable proxy
traffic -> ``403 proxy_attribution_required``; every other failure -> ``401 Unauthorized``. A
wrong secret from loopback is answered after the limiter's penalty delay (~250 ms, doubling),
like the real gateway. In ``none`` and ``trusted-proxy`` modes a browser ``Origin`` header
must pass the Control UI origin policy.

Scopes (``http-auth-utils``): shared-secret callers get the full default operator set and
their ``x-openclaw-scopes`` is ignored; identity-bearing callers (``trusted-proxy``,
``none``) get ``x-openclaw-scopes`` when present (present-but-empty = none), the defaults
when absent. The "trusted" derivation used by ``/sessions/<key>/kill`` gives shared-secret
callers no scopes at all, as 2026.9.6 does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.web.http import Request

from openclaw.auth.decision import (
    PROXY_ATTRIBUTION_REQUIRED,
    AuthDecision,
    AuthRequest,
    AuthSettings,
    decide_auth,
)
from openclaw.auth.origin import check_browser_origin
from openclaw.auth.ratelimit import AuthRateLimiter
from openclaw.auth.scopes import (
    ADMIN,
    APPROVALS,
    PAIRING,
    QUESTIONS,
    READ,
    TALK_SECRETS,
    WRITE,
    scope_satisfied,
)
from openclaw.gateway.http.common import (
    PROXY_ATTRIBUTION_BODY,
    RATE_LIMITED_BODY,
    UNAUTHORIZED_BODY,
    Exchange,
    bearer_token,
    header,
    header_trimmed,
    invalid_request_body,
    missing_scope_body,
    retry_after_header,
)
from openclaw.gateway.http.schema import Schema, first_issue

# CLI_DEFAULT_OPERATOR_SCOPES of the real gateway.
DEFAULT_OPERATOR_SCOPES: Final = (ADMIN, READ, WRITE, APPROVALS, QUESTIONS, PAIRING, TALK_SECRETS)
SHARED_SECRET_METHODS: Final = frozenset({"token", "password"})

# Gateway method -> operator scope it needs on HTTP.
METHOD_SCOPES: Final = {
    "models.list": READ,
    "chat.send": WRITE,
    "agent": WRITE,
    "chat.history": READ,
    "sessions.delete": ADMIN,
}


@attrs.frozen
class HttpAuth:
    """An authenticated HTTP caller."""

    method: str                     # token | password | trusted-proxy | none
    user: str | None
    client_ip: str | None
    local_direct: bool
    bearer: str | None

    @property
    def shared_secret(self) -> bool:
        return self.method in SHARED_SECRET_METHODS

    def subject(self, mode: str) -> str:
        """``previous_response_id`` scope subject (``resolveResponseSessionAuthSubject``)."""
        if self.method == "trusted-proxy":
            return f"trusted-proxy:{self.user}"
        if self.bearer:
            return "bearer:" + hashlib.sha256(self.bearer.encode("utf-8")).hexdigest()
        return f"gateway-auth:{mode}"


@attrs.frozen
class AuthFailure:
    """A refusal: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: tuple[tuple[bytes, bytes], ...] = ()


@attrs.frozen
class AuthSource:
    """Where the live auth inputs come from (the WebSocket's GatewayContext)."""

    settings: Callable[[], AuthSettings]
    limiter: Callable[[], AuthRateLimiter | None]
    local_addresses: Callable[[], frozenset[str]] = lambda: frozenset()


# Decisions of these modes depend on the peer, the secret and these headers only.
_MEMO_MODES: Final = frozenset({"token", "password", "none"})
_MEMO_PREFIXES: Final = (b"x-forwarded-", b"forwarded", b"x-real-ip", b"tailscale-", b"origin",
                         b"host")
_MEMO_MAX: Final = 4096


_RELEVANT: dict[bytes, str | None] = {}   # header name as stored -> its memo key part


def _relevant_name(name: bytes) -> str | None:
    if name in _RELEVANT:
        return _RELEVANT[name]
    lowered = name.lower()
    part = lowered.decode("latin-1") if lowered.startswith(_MEMO_PREFIXES) else None
    if len(_RELEVANT) < _MEMO_MAX:
        _RELEVANT[name] = part
    return part


def _relevant_headers(request: Request) -> list[str]:
    """Every header that can change the decision (attribution, identity, origin), in order."""
    out: list[str] = []
    for name, values in request.requestHeaders.getAllRawHeaders():
        part = _relevant_name(name)
        if part is not None:
            out.append(part)
            out.extend(v.decode("latin-1") for v in values)
    return out


def request_headers(request: Request) -> dict[str, str]:
    """Lowercase header names -> first value."""
    out: dict[str, str] = {}
    for name, values in request.requestHeaders.getAllRawHeaders():
        if values:
            out.setdefault(name.decode("latin-1").lower(), values[0].decode("utf-8", "replace"))
    return out


def peer_host(request: Request) -> str | None:
    address = request.getClientAddress()
    host = getattr(address, "host", None)
    if host is None and request.channel is not None:
        transport = getattr(request.channel, "transport", None)
        if transport is not None:
            host = getattr(transport.getPeer(), "host", None)
    return str(host) if host is not None else None


class HttpAuthenticator:
    def __init__(self, source: AuthSource, clock: IReactorTime) -> None:
        self._source = source
        self._clock = clock
        self._memo: dict[tuple[str | None, ...],
                         tuple[AuthSettings, AuthDecision, HttpAuth]] = {}

    @property
    def mode(self) -> str:
        return self._source.settings().mode

    def settings(self) -> AuthSettings:
        return self._source.settings()

    def decide(self, request: Request, *, count_failures: bool = True) -> AuthDecision:
        """The shared decision for this request (no waiting, no answer)."""
        return self._decided(request, count_failures)[0]

    def remembered(self, request: Request) -> HttpAuth | None:
        """The caller of an earlier identical request that passed, while that answer still
        holds (the memo of :meth:`_decided`), else None: nothing decided, nothing counted."""
        settings = self._source.settings()
        if settings.mode not in _MEMO_MODES:
            return None
        limiter = self._source.limiter()
        if limiter is not None and len(limiter) != 0:
            return None
        memo = self._memo.get((peer_host(request), bearer_token(request),
                               *_relevant_headers(request)))
        if memo is None or memo[0] is not settings:
            return None
        return memo[2]

    def _decided(self, request: Request, count_failures: bool
                 ) -> tuple[AuthDecision, HttpAuth | None]:
        """The decision and, when it passed, the caller.

        Successes are memoized while the rate limiter holds no entry at all: then
        :func:`decide_auth` has no state to consult or reset, so its answer depends only on the
        settings, the peer, the secret and the headers that shape attribution (the key).
        """
        settings = self._source.settings()
        token = bearer_token(request)
        limiter = self._source.limiter()
        cache_key = None
        if settings.mode in _MEMO_MODES and (limiter is None or len(limiter) == 0):
            cache_key = (peer_host(request), token, *_relevant_headers(request))
            memo = self._memo.get(cache_key)
            if memo is not None and memo[0] is settings:
                return memo[1], memo[2]
        decision = self._decide(request, settings, token, count_failures)
        if not decision.ok:
            return decision, None
        ingress = decision.ingress
        auth = HttpAuth(method=decision.method or "none", user=decision.user,
                        client_ip=decision.subject,
                        local_direct=bool(ingress is not None and ingress.is_local_direct),
                        bearer=token)
        if cache_key is not None:
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[cache_key] = (settings, decision, auth)
        return decision, auth

    def _decide(self, request: Request, settings: AuthSettings, token: str | None,
                count_failures: bool) -> AuthDecision:
        return self._decide_for(peer_host(request), request_headers(request), settings, token,
                                count_failures)

    def decide_credentials(self, remote_address: str | None, headers: Mapping[str, str],
                           secret: str | None) -> AuthDecision:
        """The same decision for a credential that did not come in ``Authorization`` (the
        VoiceClaw ``session.config.apiKey``): counts failures; the caller applies
        ``delay_seconds``. ``headers`` are the upgrade request's, names lowercase."""
        return self._decide_for(remote_address, headers, self._source.settings(), secret, True)

    def _decide_for(self, remote_address: str | None, headers: Mapping[str, str],
                    settings: AuthSettings, token: str | None,
                    count_failures: bool) -> AuthDecision:
        decision = decide_auth(
            settings,
            AuthRequest(remote_address=remote_address, headers=headers, token=token,
                        password=token, local_addresses=self._source.local_addresses()),
            self._source.limiter() if count_failures else None,
        )
        if decision.ok and settings.mode in ("none", "trusted-proxy"):
            origin = headers.get("origin")
            if origin is not None:
                ingress = decision.ingress
                check = check_browser_origin(
                    origin, request_host=headers.get("host"),
                    allowed_origins=settings.allowed_origins,
                    is_local_client=bool(ingress is not None and ingress.is_local_direct),
                    allow_host_header_fallback=settings.allow_host_header_origin_fallback)
                if not check.ok:
                    return attrs.evolve(decision, ok=False, reason="origin_not_allowed")
        return decision

    def failure_for(self, decision: AuthDecision) -> AuthFailure:
        if decision.rate_limited:
            return AuthFailure(429, RATE_LIMITED_BODY,
                               tuple(retry_after_header(decision.retry_after_ms)))
        if decision.reason == PROXY_ATTRIBUTION_REQUIRED:
            return AuthFailure(403, PROXY_ATTRIBUTION_BODY)
        return AuthFailure(401, UNAUTHORIZED_BODY)

    def check(self, request: Request) -> tuple[HttpAuth | None, AuthFailure | None, float]:
        """``(auth, None, 0)`` or ``(None, failure, delay_seconds)``; counts failures."""
        decision, auth = self._decided(request, True)
        if auth is None:
            return None, self.failure_for(decision), decision.delay_seconds
        return auth, None, 0.0

    def probe(self, request: Request) -> AuthFailure | None:
        """Would this request be refused? (No counting, no delay: for early body refusals.)"""
        decision = self.decide(request, count_failures=False)
        if decision.ok:
            limiter = self._source.limiter()
            if limiter is not None and decision.subject is not None:
                check = limiter.check(decision.subject, "shared-secret")
                if not check.allowed and decision.method in SHARED_SECRET_METHODS:
                    return AuthFailure(429, RATE_LIMITED_BODY,
                                       tuple(retry_after_header(check.retry_after_ms)))
            return None
        return self.failure_for(decision)

    async def penalty(self, seconds: float) -> None:
        if seconds > 0:
            await deferLater(self._clock, seconds, lambda: None)


# --------------------------------------------------------------------------- scopes


def declared_scopes(request: Request) -> list[str]:
    value = header(request, "x-openclaw-scopes")
    if value is None:
        return list(DEFAULT_OPERATOR_SCOPES)
    return [scope.strip() for scope in value.split(",") if scope.strip()]


def shared_secret_scopes(request: Request, auth: HttpAuth) -> list[str]:
    """``resolveSharedSecretHttpOperatorScopes``."""
    if auth.shared_secret:
        return list(DEFAULT_OPERATOR_SCOPES)
    return declared_scopes(request)


def trusted_scopes(request: Request, auth: HttpAuth) -> list[str]:
    """``resolveTrustedHttpOperatorScopes``: shared-secret callers assert nothing."""
    if auth.shared_secret:
        return []
    return declared_scopes(request)


def missing_scope_for(method: str, scopes: list[str]) -> str | None:
    needed = METHOD_SCOPES.get(method, ADMIN)
    if ADMIN in scopes or scope_satisfied(needed, scopes):
        return None
    return needed


def is_owner(request: Request, auth: HttpAuth) -> bool:
    """``resolveOpenAiCompatibleHttpSenderIsOwner``."""
    return ADMIN in shared_secret_scopes(request, auth)


def admit_model_request(exchange: Exchange, auth: HttpAuth, schema: Schema, body: Any
                        ) -> tuple[bool, str | None]:
    """The preflight every OpenAI-compatible endpoint shares, in upstream's order.

    An ``x-openclaw-model`` backend override needs an owner (403 missing operator.admin),
    then the body must fit the endpoint's schema (400 with the first issue). Answers the
    request itself when it refuses; returns whether to go on, and the override.
    """
    model_header = header_trimmed(exchange.request, "x-openclaw-model")
    if model_header and not is_owner(exchange.request, auth):
        exchange.json(403, missing_scope_body("operator.admin"))
        return False, model_header
    issue = first_issue(schema, body)
    if issue is not None:
        exchange.json(400, invalid_request_body(issue))
        return False, model_header
    return True, model_header


__all__ = [
    "DEFAULT_OPERATOR_SCOPES",
    "AuthFailure",
    "AuthSource",
    "HttpAuth",
    "HttpAuthenticator",
    "admit_model_request",
    "declared_scopes",
    "is_owner",
    "missing_scope_body",
    "missing_scope_for",
    "shared_secret_scopes",
    "trusted_scopes",
]
