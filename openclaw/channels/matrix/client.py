"""A small Matrix client-server API client on treq (``/_matrix/client/v3``).

Every request is bounded by a timeout on the given reactor (the long-poll ``/sync`` by the
poll window plus a margin) and cancellable, so stopping an account never waits for the
homeserver. Errors come back as :class:`MatrixApiError` with the homeserver's
``errcode``/``error`` and, for rate limits, ``retry_after_ms``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, urlencode

import treq.client
from twisted.internet.defer import Deferred, fail

from openclaw.channels.http_client import ChannelHttpClient, Headers

API: Final = "/_matrix/client/v3"
DEFAULT_TIMEOUT_S: Final = 30.0


class MatrixApiError(Exception):
    def __init__(self, status: int, errcode: str | None, error: str,
                 retry_after_ms: int | None = None) -> None:
        super().__init__(f"{status} {errcode or ''}: {error}".replace("  ", " ").strip())
        self.status = status
        self.errcode = errcode
        self.error = error
        self.retry_after_ms = retry_after_ms


def q(value: str) -> str:
    """A path segment (room ids, user ids, aliases contain ``!#@:``)."""
    return quote(value, safe="")


class MatrixClient(ChannelHttpClient):
    def __init__(self, reactor: Any, homeserver: str, access_token: str | None = None) -> None:
        super().__init__(reactor, reactor)
        self.homeserver = homeserver.rstrip("/")
        self.access_token = access_token

    def request(self, method: str, path: str, body: Any = None, *,
                query: Mapping[str, Any] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                auth: bool = True) -> Deferred[Any]:
        """The decoded JSON answer (a cancellable Deferred)."""
        url = self.homeserver + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        headers: Headers = {"Accept": ["application/json"]}
        if auth and self.access_token:
            headers["Authorization"] = [f"Bearer {self.access_token}"]
        data = None
        if body is not None:
            headers["Content-Type"] = ["application/json"]
            data = json.dumps(body).encode("utf-8")
        if self.closed:
            return fail(MatrixApiError(0, None, "client closed"))
        return self._send(method, url, headers=headers, data=data, timeout_s=timeout_s,
                          decode=self._decode)

    async def _decode(self, response: Any) -> Any:
        raw = await treq.content(response)
        try:
            payload = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            payload = {"error": raw[:200].decode("utf-8", "replace")}
        if response.code >= 400:
            if not isinstance(payload, dict):
                payload = {}
            retry = payload.get("retry_after_ms")
            raise MatrixApiError(response.code, payload.get("errcode"),
                                 str(payload.get("error") or response.phrase.decode()),
                                 retry if isinstance(retry, int) else None)
        return payload

    # -- endpoints ----------------------------------------------------------------------

    def login_password(self, user: str, password: str, device_id: str | None,
                       device_name: str | None) -> Deferred[Any]:
        body: dict[str, Any] = {"type": "m.login.password",
                                "identifier": {"type": "m.id.user", "user": user},
                                "password": password}
        if device_id:
            body["device_id"] = device_id
        if device_name:
            body["initial_device_display_name"] = device_name
        return self.request("POST", f"{API}/login", body, auth=False)

    def whoami(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> Deferred[Any]:
        return self.request("GET", f"{API}/account/whoami", timeout_s=timeout_s)

    def sync(self, since: str | None, timeout_ms: int, filter_json: str | None) -> Deferred[Any]:
        return self.request("GET", f"{API}/sync",
                            query={"since": since, "timeout": timeout_ms,
                                   "filter": filter_json},
                            timeout_s=timeout_ms / 1000.0 + 15.0)

    def join(self, room: str) -> Deferred[Any]:
        return self.request("POST", f"{API}/join/{q(room)}", {})

    def send_event(self, room_id: str, event_type: str, content: Mapping[str, Any],
                   txn_id: str) -> Deferred[Any]:
        return self.request("PUT", f"{API}/rooms/{q(room_id)}/send/{q(event_type)}/{q(txn_id)}",
                            dict(content))

    def typing(self, room_id: str, user_id: str, typing: bool,
               timeout_ms: int = 30_000) -> Deferred[Any]:
        body: dict[str, Any] = {"typing": typing}
        if typing:
            body["timeout"] = timeout_ms
        return self.request("PUT", f"{API}/rooms/{q(room_id)}/typing/{q(user_id)}", body)

    def room_state(self, room_id: str) -> Deferred[Any]:
        return self.request("GET", f"{API}/rooms/{q(room_id)}/state")

    def resolve_alias(self, alias: str) -> Deferred[Any]:
        return self.request("GET", f"{API}/directory/room/{q(alias)}")

    def profile(self, user_id: str) -> Deferred[Any]:
        return self.request("GET", f"{API}/profile/{q(user_id)}")

    def create_dm(self, user_id: str) -> Deferred[Any]:
        return self.request("POST", f"{API}/createRoom",
                            {"is_direct": True, "invite": [user_id],
                             "preset": "trusted_private_chat"})

    def logout(self) -> Deferred[Any]:
        return self.request("POST", f"{API}/logout", {})
