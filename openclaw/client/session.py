"""An asyncio gateway session for interactive clients (``openclaw tui``).

The same handshake as :class:`~openclaw.client.connection.GatewayConnection` (challenge ->
``connect`` -> ``hello-ok``, the connect params built by the same code), on the ``websockets``
asyncio client, so a full-screen UI keeps running while requests are in flight and events
stream in. Requests are futures keyed by id; every event frame goes to ``on_event``; when the
socket closes, ``closed`` resolves with ``(code, reason)`` and the pending requests fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, cast

from openclaw import __version__
from openclaw.client.connection import ClientIdentity, GatewayConnection, uuid4
from openclaw.client.errors import GatewayRequestError, GatewayTransportError, closed_error
from openclaw.client.target import GatewayTarget

EventHandler = Callable[[dict[str, Any]], None]


class GatewaySession:
    """One authenticated connection; :meth:`open`, :meth:`request`, :meth:`close`."""

    def __init__(self, target: GatewayTarget, identity: ClientIdentity,
                 on_event: EventHandler, *, caps: tuple[str, ...] = (),
                 open_timeout_s: float = 10.0) -> None:
        self.target = target
        self.identity = identity
        self.on_event = on_event
        self.caps = caps
        self.open_timeout_s = open_timeout_s
        self.hello: dict[str, Any] | None = None
        self.closed: asyncio.Future[tuple[int, str]] | None = None
        self._ws: Any = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._seq = 0

    async def open(self) -> dict[str, Any]:
        from websockets.asyncio.client import connect

        loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        try:
            self._ws = await asyncio.wait_for(connect(
                self.target.url, compression=None, max_size=None, proxy=None,
                user_agent_header=f"openclaw-twisted/{__version__}", close_timeout=1),
                self.open_timeout_s)
        except (OSError, TimeoutError) as e:
            raise GatewayTransportError(kind="unreachable", message=f"gateway not reachable at "
                                        f"{self.target.url}: {e}",
                                        connection=self.target.connection,
                                        reason=str(e)) from None
        except Exception as e:
            raise closed_error(self.target.connection, 1006, str(e)) from None
        try:
            async with asyncio.timeout(self.open_timeout_s):
                while True:
                    frame = json.loads(await self._ws.recv())
                    if frame.get("type") == "event" and \
                            frame.get("event") == "connect.challenge":
                        break
                self._reader = asyncio.create_task(self._read())
                params = GatewayConnection(self.target, self.identity)._connect_params()
                params["caps"] = list(self.caps)
                hello = await self.request("connect", params)
        except BaseException:
            await self.close()
            raise
        self.hello = hello
        return cast(dict[str, Any], hello)

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        code, reason = 1006, ""
        try:
            async for raw in self._ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(frame, dict):
                    continue
                if frame.get("type") == "res":
                    waiter = self._pending.pop(str(frame.get("id")), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(frame)
                elif frame.get("type") == "event":
                    self.on_event(frame)
        except ConnectionClosed:
            pass
        finally:
            received = getattr(self._ws, "close_code", None)
            if received is not None:
                code, reason = int(received), str(getattr(self._ws, "close_reason", "") or "")
            error = closed_error(self.target.connection, code, reason)
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(error)
            self._pending.clear()
            if self.closed is not None and not self.closed.done():
                self.closed.set_result((code, reason))

    async def request(self, method: str, params: Any = None, *,
                      timeout_s: float | None = 30.0) -> Any:
        """Send one request and return its payload; raise on ``ok: false``."""
        if self._ws is None:
            raise closed_error(self.target.connection, 1006, "not connected")
        self._seq += 1
        request_id = f"{self._seq}:{uuid4()}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiter
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        await self._ws.send(json.dumps(frame, separators=(",", ":")))
        reply = await asyncio.wait_for(waiter, timeout_s)
        if reply.get("ok") is True:
            return reply.get("payload")
        error = GatewayRequestError.from_frame(reply.get("error"),
                                               during_connect=method == "connect")
        error.payload = reply.get("payload")
        raise error

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        reader = self._reader
        if reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(reader, 2)


__all__ = ["GatewaySession"]
