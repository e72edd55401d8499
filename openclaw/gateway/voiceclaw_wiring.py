"""Wires ``/voiceclaw/realtime`` into a GatewayService.

The endpoint (``openclaw.voiceclaw``) knows nothing of the gateway: this module hands it the
one HTTP auth decision and shared rate limiter (``HttpAuthenticator``), the control protocol's
pre-auth budget and handshake timeout, the agent runtime as its brain, and the Gemini Live
URL and key read from the running config and the gateway's environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from twisted.web.http import Request

from openclaw.auth.preauth import budget_key
from openclaw.gateway.http.auth import peer_host, request_headers
from openclaw.voiceclaw.brain import VoiceBrain
from openclaw.voiceclaw.endpoint import VoiceClawEndpoint, gemini_url_for
from openclaw.voiceclaw.session import VoiceClawServices
from openclaw.voiceclaw.tools import tool_limits_from_env

if TYPE_CHECKING:
    from openclaw.gateway.http.auth import HttpAuthenticator
    from openclaw.gateway.protocol.context import GatewayContext
    from openclaw.gateway.service import GatewayService

__all__ = ["build_voiceclaw", "upgrade_admission"]

GEMINI_API_KEY_ENV = "GEMINI_API_KEY"


def build_voiceclaw(gateway: GatewayService, context: GatewayContext,
                    authenticator: HttpAuthenticator) -> VoiceClawEndpoint:
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
