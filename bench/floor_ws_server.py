"""The raw floor for bench/ws_rpc.py: a bare Twisted + Autobahn WebSocket server.

It answers the frames a gateway answers in the bench and does nothing else: on open it sends a
`connect.challenge` event; it answers `connect` with a fixed `hello-ok` and `health` with a fixed
health payload (the size of the real gateway's), echoing the request ids; anything else gets a
fixed `INVALID_REQUEST` error. No auth, no scopes, no state: what any Twisted gateway must at
least pay per RPC (framing, JSON decode of the request, JSON encode of the reply).

    .venv/bin/python bench/floor_ws_server.py PORT          # listens on 127.0.0.1:PORT
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import reactor

HEALTH: dict[str, Any] = {
    "ok": True, "ts": 0, "durationMs": 4,
    "plugins": {"loaded": ["anthropic", "browser", "canvas", "memory-core", "ollama", "openai"],
                "errors": [], "unavailable": []},
    "configReload": {"hotReloadStatus": "active"},
    "channels": {}, "channelOrder": [], "channelLabels": {},
    "heartbeatSeconds": 1800, "defaultAgentId": "main",
    "agents": [{
        "agentId": "main", "isDefault": True,
        "heartbeat": {"enabled": True, "every": "30m", "everyMs": 1800000,
                      "prompt": "Follow the heartbeat monitor scratch context when provided. "
                                "Recurring tasks are automations; create or change their "
                                "schedules with the automations tool, not heartbeat scratch. "
                                "Do not infer or repeat old tasks from prior chats. If nothing "
                                "needs attention, reply NO_REPLY.",
                      "target": "owner", "ackMaxChars": 300},
        "sessions": {"path": "/tmp/state/agents/main/sessions/sessions.json", "count": 0,
                     "recent": []},
    }],
    "sessions": {"path": "/tmp/state/agents/main/sessions/sessions.json", "count": 0,
                 "recent": []},
    "modelRuntime": {"degraded": False, "pendingAgents": []},
    "eventLoop": {"degraded": False, "degradedSinceMs": None, "reasons": [],
                  "intervalMs": 1000.2, "delayP99Ms": 2.1, "delayMaxMs": 2.1,
                  "utilization": 0.01, "cpuCoreRatio": 0.01},
}
HELLO_OK: dict[str, Any] = {
    "type": "hello-ok", "protocol": 4,
    "server": {"version": "floor", "connId": ""},
    "features": {"methods": ["health", "status"], "events": ["connect.challenge", "tick"]},
    "snapshot": {"presence": [], "health": {}, "stateVersion": {"presence": 1, "health": 1},
                 "uptimeMs": 0},
    "auth": {"method": "token", "role": "operator", "scopes": ["operator.read"]},
    "policy": {"maxPayload": 26214400, "maxBufferedBytes": 52428800, "tickIntervalMs": 30000},
}
HEALTH_JSON = json.dumps(HEALTH, separators=(",", ":"))
UNKNOWN_JSON = json.dumps({"code": "INVALID_REQUEST", "message": "unknown method"})


class FloorProtocol(WebSocketServerProtocol):
    def onOpen(self) -> None:
        challenge = {"type": "event", "event": "connect.challenge",
                     "payload": {"nonce": str(uuid.uuid4()), "ts": int(time.time() * 1000)}}
        self.sendMessage(json.dumps(challenge).encode())

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        frame = json.loads(payload)
        method = frame.get("method")
        rid = json.dumps(frame.get("id"))
        if method == "health":
            reply = f'{{"type":"res","id":{rid},"ok":true,"payload":{HEALTH_JSON}}}'
        elif method == "connect":
            hello = dict(HELLO_OK, server={"version": "floor", "connId": str(uuid.uuid4())})
            reply = f'{{"type":"res","id":{rid},"ok":true,"payload":{json.dumps(hello)}}}'
        else:
            reply = f'{{"type":"res","id":{rid},"ok":false,"error":{UNKNOWN_JSON}}}'
        self.sendMessage(reply.encode())


def main() -> None:
    port = int(sys.argv[1])
    factory = WebSocketServerFactory(f"ws://127.0.0.1:{port}")
    factory.protocol = FloorProtocol
    reactor.listenTCP(port, factory, interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main()
