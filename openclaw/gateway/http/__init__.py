"""The gateway's HTTP API: OpenAI-compatible ``/v1``, ``/tools/invoke``, hooks, sessions.

:func:`build_http_api` wires an :class:`~openclaw.gateway.http.api.HttpApi` to a running
gateway: the WebSocket context's auth settings and rate limiter (one auth decision for WS and
HTTP), the agent runtime, the embeddings service. ``api.stages()`` go after the probes (and
before the Control UI); ``api.request_factory(...)`` is the Site's request class enforcing the
body caps. :func:`build_control_ui` makes the Control UI stage (the last one). See
``docs/http-api.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openclaw.gateway.http.api import HttpApi
from openclaw.gateway.http.auth import AuthSource, HttpAuthenticator
from openclaw.gateway.http.control_ui import ControlUiStage

if TYPE_CHECKING:
    from openclaw.gateway.protocol.context import GatewayContext


def authenticator_for(context: GatewayContext) -> HttpAuthenticator:
    """HTTP auth reading the WebSocket context's live settings and limiter."""
    return HttpAuthenticator(
        AuthSource(settings=lambda: context.auth, limiter=lambda: context.rate_limiter,
                   local_addresses=lambda: context.local_addresses),
        context.clock)


def build_http_api(gateway: Any, ws_factory: Any) -> HttpApi:
    """The HTTP API of a ``GatewayService`` (call after ``build_websocket``)."""
    from openclaw.gateway.http.runs import AgentRunner
    from openclaw.memory.embeddings import EmbeddingsService

    context = ws_factory.context
    agents = getattr(gateway, "agents", None)
    runtime = getattr(agents, "runtime", None)
    runner = AgentRunner(runtime) if runtime is not None else None
    embeddings = EmbeddingsService(gateway.reactor, gateway.config.current,
                                   context.run_blocking, env=getattr(gateway, "env", None))
    return HttpApi(
        clock=gateway.reactor,
        get_config=gateway.config.current,
        authenticator=authenticator_for(context),
        runner=runner,
        run_blocking=context.run_blocking,
        embeddings=embeddings,
        agent_gateway=lambda: getattr(gateway, "agent_gateway", None),
        get_secrets=lambda: getattr(getattr(gateway, "secrets", None), "snapshot", None),
    )


def build_control_ui(gateway: Any, ws_factory: Any, api: HttpApi) -> ControlUiStage:
    """The Control UI stage of a ``GatewayService`` (the last stage of the port)."""
    from openclaw.gateway.status import build_info

    context = ws_factory.context
    agents = getattr(gateway, "agents", None)
    runtime = getattr(agents, "runtime", None)
    return ControlUiStage(
        get_config=gateway.config.current,
        authenticator=api.auth,
        clock=gateway.reactor,
        run_blocking=context.run_blocking,
        version=context.version,
        build_id=lambda: build_info.build_id(context.version),
        agents_view=(lambda: runtime.view()) if runtime is not None else (lambda: None),
        device_token_scopes=context.device_store.operator_token_scopes,
    )


__all__ = ["ControlUiStage", "HttpApi", "authenticator_for", "build_control_ui",
           "build_http_api"]
