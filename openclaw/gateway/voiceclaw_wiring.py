"""Wires ``/voiceclaw/realtime`` into a GatewayService.

The endpoint (``openclaw.voiceclaw``) knows nothing of the gateway: this module hands it the
one HTTP auth decision and shared rate limiter (``HttpAuthenticator``), the control protocol's
pre-auth budget and handshake timeout, the agent runtime as its brain, and the Gemini Live
URL and key read from the running config and the gateway's environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from twisted.web.http import Request
from twisted.web.resource import Resource

from openclaw.auth.preauth import budget_key
from openclaw.gateway.http.auth import peer_host, request_headers
from openclaw.voiceclaw.protocol import VOICECLAW_PATH

if TYPE_CHECKING:
    from openclaw.gateway.http.auth import HttpAuthenticator
    from openclaw.gateway.protocol.context import GatewayContext
    from openclaw.gateway.service import GatewayService
    from openclaw.voiceclaw.endpoint import VoiceClawEndpoint

__all__ = ["LazyVoiceClaw", "build_voiceclaw", "upgrade_admission"]

GEMINI_API_KEY_ENV = "GEMINI_API_KEY"


class _FirstUseResource(Resource):
    """The route's resource until the first voice call: builds the endpoint, then hands the
    upgrade to its WebSocket resource."""

    isLeaf = True

    def __init__(self, holder: LazyVoiceClaw) -> None:
        super().__init__()
        self._holder = holder

    def render(self, request: Request) -> bytes | int:
        rendered: bytes | int = self._holder.endpoint.resource.render(request)
        return rendered


class LazyVoiceClaw:
    """``/voiceclaw/realtime`` whose endpoint (Gemini Live client, sessions, tools: ~30
    modules) is built on first use - the first call, or the first look at its attributes -
    so a gateway that never takes a voice call does not import it."""

    path = VOICECLAW_PATH

    def __init__(self, build: Callable[[], VoiceClawEndpoint]) -> None:
        self._build = build
        self._endpoint: VoiceClawEndpoint | None = None
        self.resource = _FirstUseResource(self)

    @property
    def built(self) -> bool:
        return self._endpoint is not None

    @property
    def endpoint(self) -> VoiceClawEndpoint:
        if self._endpoint is None:
            self._endpoint = self._build()
        return self._endpoint

    def shutdown(self) -> None:
        if self._endpoint is not None:
            self._endpoint.shutdown()

    def __getattr__(self, name: str) -> Any:
        # only for names this class lacks (services, observers, sessions...)
        return getattr(self.endpoint, name)


def build_voiceclaw(gateway: GatewayService, context: GatewayContext,
                    authenticator: HttpAuthenticator) -> LazyVoiceClaw:
    return LazyVoiceClaw(lambda: _build_endpoint(gateway, context, authenticator))


def _build_endpoint(gateway: GatewayService, context: GatewayContext,
                    authenticator: HttpAuthenticator) -> VoiceClawEndpoint:
    from openclaw.voiceclaw.brain import VoiceBrain
    from openclaw.voiceclaw.endpoint import VoiceClawEndpoint, gemini_url_for
    from openclaw.voiceclaw.session import VoiceClawServices
    from openclaw.voiceclaw.tools import tool_limits_from_env

    env = gateway.env
    timeout_ms, max_concurrent = tool_limits_from_env(env)

    def gemini_api_key() -> str | None:
        # startup copies the config's env block into the gateway's env; a reload may add one
        return env.get(GEMINI_API_KEY_ENV) or \
            gateway.config.current().env_additions.get(GEMINI_API_KEY_ENV)

    services = VoiceClawServices(
        reactor=gateway.reactor,
        clock=gateway.reactor,
        authorize=authenticator.decide_credentials,
        auth_mode=lambda: context.auth.mode,
        handshake_timeout_ms=lambda: context.policy.handshake_timeout_ms,
        gemini_url=lambda: gemini_url_for(gateway.config.current().config, env),
        gemini_api_key=gemini_api_key,
        brain=VoiceBrain(gateway.agents.runtime),
        tool_timeout_ms=timeout_ms,
        max_concurrent_tools=max_concurrent,
    )

    def key(remote: str | None, headers: Mapping[str, str]) -> str:
        auth = context.auth
        return budget_key(remote, headers, auth.trusted_proxies,
                          allow_real_ip_fallback=auth.allow_real_ip_fallback)

    return VoiceClawEndpoint(services, budget=lambda: context.preauth_budget, budget_key=key)


def upgrade_admission(context: GatewayContext) -> Callable[[Request], bool]:
    """``admit_upgrade`` of the root resource: does the caller's address have a pre-auth slot
    left? (Each endpoint takes its slot when the handshake reaches it.)"""

    def admit(request: Request) -> bool:
        auth = context.auth
        return context.preauth_budget.admits(budget_key(
            peer_host(request), request_headers(request), auth.trusted_proxies,
            allow_real_ip_fallback=auth.allow_real_ip_fallback))

    return admit
