"""``GET /v1/models`` and ``GET /v1/models/{id}`` (``models-http``).

Mounted when chat completions or responses is enabled. The ids are agent targets, not
provider models: ``openclaw``, ``openclaw/default``, ``openclaw/<default agent>``, then
``openclaw/<agentId>`` for every configured agent. Method is checked before auth (``405
Allow: GET``), as upstream. A client pinned to an agent with ``x-openclaw-agent-id`` sees
only the ids that reach that agent (our issue asks for it; 2026.9.6 ignores the header
here, and clients that do not send it get the same list as there). The unfiltered body is
rendered once per config snapshot: this is the endpoint clients poll.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from twisted.web.http import Request, datetimeToString
from twisted.web.server import version as server_version

from openclaw.gateway.http.common import (
    JSON_CONTENT_TYPE,
    dumps,
    invalid_request_body,
    method_not_allowed,
    write_json,
)
from openclaw.gateway.http.runs import agent_of_model, is_agent_model_id
from openclaw.gateway.site import security_header_lines

if TYPE_CHECKING:
    from openclaw.gateway.http.api import HttpApi

PREFIX = b"/v1/models/"


def model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "openclaw",
            "permission": []}


class Models:
    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self._cache: tuple[Any, list[str], bytes] | None = None
        self._prepared: tuple[bytes, int, bytes] | None = None

    def _ids(self) -> tuple[list[str], bytes]:
        snapshot = self.api.get_config()
        cached = self._cache
        if cached is not None and cached[0] is snapshot:
            return cached[1], cached[2]
        runner = self.api.runner
        ids = runner.model_ids() if runner is not None else [
            "openclaw", "openclaw/default", "openclaw/main"]
        body = dumps({"object": "list", "data": [model_object(i) for i in ids]})
        self._cache = (snapshot, ids, body)
        return ids, body

    def prepared(self, request: Request) -> tuple[bytes, int] | None:
        """``GET /v1/models`` (already authorized) as the bytes the tree would write: its
        headers in the tree's order (twisted.web's Server and Date, the security headers,
        ours), rebuilt when the listing or the second changes."""
        if request.requestHeaders.hasHeader(b"x-openclaw-agent-id"):
            return None
        _, body = self._ids()
        second = int(time.time())
        prepared = self._prepared
        if prepared is None or prepared[0] is not body or prepared[1] != second:
            date = datetimeToString(second)
            head = (b"HTTP/1.1 200 OK\r\nServer: " + server_version + b"\r\nDate: " + date
                    + b"\r\n" + security_header_lines() + b"Content-Type: " + JSON_CONTENT_TYPE
                    + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
            prepared = self._prepared = (body, second, head + body)
        return prepared[2], len(body)

    def __call__(self, request: Request, path: bytes) -> bytes | int | None:
        if path != b"/v1/models" and not path.startswith(PREFIX):
            return None
        if not self.api.compat_enabled():
            return None
        if request.method != b"GET":
            return method_not_allowed(request, "GET")
        auth, refusal = self.api.authorize(request, "models.list")
        if auth is None:
            return refusal
        ids, body = self._ids()
        if path == b"/v1/models":
            pinned = (request.getHeader(b"x-openclaw-agent-id") or b"").strip()
            if not pinned:
                return write_json(request, 200, body)
            return self._pinned_listing(request, ids, pinned.decode("utf-8", "replace"))
        encoded = path[len(PREFIX):]
        if not encoded:
            return write_json(request, 400, invalid_request_body("Missing model id."))
        try:
            model_id = unquote_to_bytes(encoded).decode("utf-8")
        except UnicodeDecodeError:
            return write_json(request, 400, invalid_request_body("Invalid model id encoding."))
        if _bad_percent(encoded):
            return write_json(request, 400, invalid_request_body("Invalid model id encoding."))
        if not is_agent_model_id(model_id):
            return write_json(request, 400, invalid_request_body("Invalid model id."))
        not_found = {"error": {"message": f"Model '{model_id}' not found.",
                               "type": "invalid_request_error"}}
        if model_id.strip().lower() not in ("openclaw", "openclaw/default"):
            runner = self.api.runner
            default = runner.default_agent() if runner is not None else "main"
            agent_id = agent_of_model(model_id, default)
            known = runner.agent_ids() if runner is not None else ["main"]
            if agent_id is None or agent_id not in known:
                return write_json(request, 404, not_found)
        if model_id not in ids:
            return write_json(request, 404, not_found)
        return write_json(request, 200, model_object(model_id))


    def _pinned_listing(self, request: Request, ids: list[str], agent: str) -> bytes | int:
        runner = self.api.runner
        default = runner.default_agent() if runner is not None else "main"
        known = runner.agent_ids() if runner is not None else ["main"]
        agent = agent.lower()
        if agent not in known:
            return write_json(request, 400, invalid_request_body(
                f"Unknown agent '{agent}' in x-openclaw-agent-id."))
        reaching = [i for i in ids if agent_of_model(i, default) == agent]
        return write_json(request, 200, dumps(
            {"object": "list", "data": [model_object(i) for i in reaching]}))


def _bad_percent(encoded: bytes) -> bool:
    """``decodeURIComponent`` throws on a ``%`` not followed by two hex digits."""
    index = encoded.find(b"%")
    while index != -1:
        pair = encoded[index + 1:index + 3]
        if len(pair) != 2 or any(c not in b"0123456789abcdefABCDEF" for c in pair):
            return True
        index = encoded.find(b"%", index + 1)
    return False
