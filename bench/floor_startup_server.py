"""The raw floor for bench/startup.py: a bare Twisted + Autobahn server on one port.

It serves GET /healthz and WebSocket upgrades, and nothing else: what any Twisted gateway
must at least import and do before it can answer.
"""

import sys

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site


class Root(Resource):
    isLeaf = True

    def __init__(self, ws: WebSocketResource) -> None:
        super().__init__()
        self.ws = ws

    def render(self, request):  # type: ignore[no-untyped-def]
        if request.getHeader(b"upgrade"):
            return self.ws.render(request)
        request.setHeader(b"content-type", b"application/json")
        return b'{"ok":true,"status":"live"}'


def main() -> None:
    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol
    reactor.listenTCP(int(sys.argv[1]), Site(Root(WebSocketResource(factory))),
                      interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main()
