# No __init__.py in twisted/ or twisted/plugins/: this directory extends Twisted's own.
from twisted.application.service import ServiceMaker

openclawGateway = ServiceMaker(
    "OpenClaw Gateway",
    "openclaw.gateway.tap",
    "Run the OpenClaw gateway (WebSocket control protocol + HTTP API on one port).",
    "openclaw",
)
