"""A person on the test homeserver (treq, client-server API), and small HTTP helpers.

``MatrixPerson`` logs in, opens DMs and rooms, sends messages (with ``m.mentions``, threads,
replies, edits) and runs its own ``/sync`` loop; ``await person.wait_event(predicate)``
fires with the first matching timeline event from someone else, however early it came.
Connections are not kept alive between requests, so nothing lingers after a test.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import treq.client
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.web.client import Agent, HTTPConnectionPool

API = "/_matrix/client/v3"
_TXN = itertools.count(1)


def _client() -> treq.client.HTTPClient:
    return treq.client.HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor,
                                                                         persistent=False)))


async def http_status(url: str) -> int:
    try:
        response = await _client().get(url).addTimeout(2, reactor)
        await treq.content(response)
        return int(response.code)
    except Exception:
        return 0


async def http_json(method: str, url: str, body: Any = None,
                    token: str | None = None, timeout: float = 20.0) -> Any:
    headers = {"Content-Type": ["application/json"]}
    if token:
        headers["Authorization"] = [f"Bearer {token}"]
    data = json.dumps(body).encode() if body is not None else None
    response = await _client().request(method, url, headers=headers,
                                       data=data).addTimeout(timeout, reactor)
    payload = json.loads((await treq.content(response)) or b"{}")
    if response.code >= 400:
        raise RuntimeError(f"{method} {url}: {response.code} {payload}")
    return payload


class MatrixPerson:
    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url
        self.user = user
        self.user_id = f"@{user}:localhost"
        self.password = password
        self.token: str | None = None
        self.events: list[dict[str, Any]] = []
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], Deferred[Any]]] = []
        self._since: str | None = None
        self._loop: Deferred[None] | None = None
        self._call: Deferred[Any] | None = None
        self.invites: list[str] = []
        self._stopped = False

    async def api(self, method: str, path: str, body: Any = None,
                  query: Mapping[str, Any] | None = None, timeout: float = 20.0) -> Any:
        url = self.base_url + API + path
        if query:
            url += "?" + urlencode(query)
        return await http_json(method, url, body, self.token, timeout)

    async def login(self, token: str | None = None) -> MatrixPerson:
        """Log in with the password (or use ``token``), then start the sync loop."""
        if token is None:
            answer = await self.api("POST", "/login", {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": self.user},
                "password": self.password})
            token = str(answer["access_token"])
        self.token = token
        first = await self.api("GET", "/sync", query={"timeout": 0})
        self._since = first["next_batch"]
        self._loop = Deferred.fromCoroutine(self._sync_loop())
        self._loop.addErrback(lambda f: None)
        return self

    async def _sync_loop(self) -> None:
        while not self._stopped:
            try:
                self._call = Deferred.fromCoroutine(self.api(
                    "GET", "/sync", query={"timeout": 5000, "since": self._since},
                    timeout=15))
                data = await self._call
            except CancelledError:
                return
            except Exception:
                from twisted.internet.task import deferLater

                self._call = deferLater(reactor, 0.2, lambda: None)
                try:
                    await self._call
                except CancelledError:
                    return
                continue
            self._since = data.get("next_batch", self._since)
            rooms = data.get("rooms") or {}
            for room_id in rooms.get("invite") or {}:
                self.invites.append(room_id)
            for room_id, joined in (rooms.get("join") or {}).items():
                for event in (joined.get("timeline") or {}).get("events") or ():
                    event = {**event, "room_id": room_id}
                    self.events.append(event)
                    for entry in list(self._waiters):
                        predicate, waiter = entry
                        if predicate(event):
                            self._waiters.remove(entry)
                            waiter.callback(event)
                for event in (joined.get("ephemeral") or {}).get("events") or ():
                    self.events.append({**event, "room_id": room_id, "ephemeral": True})

    async def stop(self) -> None:
        self._stopped = True
        call = self._call
        if call is not None and not call.called:
            call.cancel()
        if self._loop is not None:
            with contextlib.suppress(Exception):
                await self._loop

    def wait_event(self, predicate: Callable[[dict[str, Any]], bool], *, since: int = 0,
                   timeout: float = 20.0) -> Deferred[Any]:
        for event in self.events[since:]:
            if not event.get("ephemeral") and predicate(event):
                done: Deferred[Any] = Deferred()
                done.callback(event)
                return done
        waiter: Deferred[Any] = Deferred()
        self._waiters.append((predicate, waiter))
        waiter.addTimeout(timeout, reactor)
        return waiter

    def messages_from(self, user_id: str, room_id: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == "m.room.message"
                and e.get("sender") == user_id and not e.get("ephemeral")
                and (room_id is None or e.get("room_id") == room_id)]

    async def create_dm(self, other: str) -> str:
        answer = await self.api("POST", "/createRoom", {
            "is_direct": True, "invite": [other], "preset": "trusted_private_chat"})
        return str(answer["room_id"])

    async def create_room(self, invite: list[str], alias: str | None = None,
                          encrypted: bool = False) -> str:
        body: dict[str, Any] = {"invite": invite, "preset": "private_chat", "name": "test room"}
        if alias:
            body["room_alias_name"] = alias
        if encrypted:
            body["initial_state"] = [{"type": "m.room.encryption", "state_key": "",
                                      "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        answer = await self.api("POST", "/createRoom", body)
        return str(answer["room_id"])

    async def join(self, room: str) -> str:
        answer = await self.api("POST", f"/join/{quote(room, safe='')}", {})
        return str(answer["room_id"])

    async def send(self, room_id: str, body: str, **content: Any) -> str:
        payload = {"msgtype": "m.text", "body": body, **content}
        answer = await self.api(
            "PUT", f"/rooms/{quote(room_id, safe='')}/send/m.room.message/t{next(_TXN)}",
            payload)
        return str(answer["event_id"])

    async def members(self, room_id: str) -> list[str]:
        answer = await self.api("GET", f"/rooms/{quote(room_id, safe='')}/joined_members")
        return sorted(answer.get("joined") or {})
