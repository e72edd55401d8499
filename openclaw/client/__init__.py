"""The gateway client library every CLI command (and the tests) use.

* :mod:`openclaw.client.target` -- which URL and credentials (flags, env, config), as the real
  CLI resolves them;
* :mod:`openclaw.client.connection` -- a blocking WebSocket client speaking the real handshake
  (``connect.challenge`` -> ``connect`` -> ``hello-ok``) and request/response frames;
* :mod:`openclaw.client.errors` -- transport, request and credential errors with the real CLI's
  messages and ``--json`` shapes.

Nothing here imports Twisted: a CLI command must start and answer fast.
"""

from openclaw.client.connection import (
    ClientIdentity,
    GatewayConnection,
    backend_identity,
    call_gateway,
    cli_identity,
    probe_identity,
)
from openclaw.client.errors import (
    CredentialsRequiredError,
    GatewayClientError,
    GatewayRequestError,
    GatewayTransportError,
    GatewayUrlError,
)
from openclaw.client.target import (
    ClientConfig,
    ConnectionDetails,
    GatewayTarget,
    load_client_config,
    resolve_target,
)

__all__ = [
    "ClientConfig",
    "ClientIdentity",
    "ConnectionDetails",
    "CredentialsRequiredError",
    "GatewayClientError",
    "GatewayConnection",
    "GatewayRequestError",
    "GatewayTarget",
    "GatewayTransportError",
    "GatewayUrlError",
    "backend_identity",
    "call_gateway",
    "cli_identity",
    "load_client_config",
    "probe_identity",
    "resolve_target",
]
