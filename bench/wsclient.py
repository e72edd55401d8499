"""A small asyncio client of the gateway's WebSocket protocol for the benches: the
handshake, masked text frames out, frames in (pings answered), the token ``connect``, and
requests. Lean on purpose - thousands of them share one process in the connection bench, and
its costs are the client's share of every latency the benches report."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import sys
from typing import Any

CONNECT_PARAMS: dict[str, Any] = {
    "minProtocol": 4, "maxProtocol": 4,
    "client": {"id": "cli", "version": "bench", "platform": sys.platform, "mode": "cli"},
    "role": "operator", "scopes": ["operator.read", "operator.write"], "caps": [],
}


class Closed(Exception):
    pass


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    repeat = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeat, "big")).to_bytes(
        len(payload), "big")


class WsConn:
    """One connection: ``await open(port)``, ``await authenticate(token)``, ``send``,
    ``await recv()`` (a decoded frame), ``await call(method, params)``."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._ids = 0

    async def open(self, port: int, host: str = "127.0.0.1", path: str = "/") -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port, limit=2**22)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           "\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise Closed(head.split(b"\r\n", 1)[0].decode(errors="replace"))

    def send_raw(self, payload: bytes, opcode: int = 0x1) -> None:
        assert self.writer is not None
        key = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        self.writer.write(head + key + _mask(payload, key))

    async def recv_raw(self) -> bytes:
        """The next text or binary message (pings answered, fragments joined)."""
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            key = await self.reader.readexactly(4) if second & 0x80 else b""
            payload = await self.reader.readexactly(size)
            if key:
                payload = _mask(payload, key)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise Closed(payload[2:].decode(errors="replace"))
            if opcode == 0x9:
                self.send_raw(payload, 0xA)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if first & 0x80:
                return b"".join(parts)

    async def recv(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await self.recv_raw())
        return frame

    def send(self, method: str, params: Any = None) -> str:
        self._ids += 1
        request_id = f"r{self._ids}"
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if params is not None:
            frame["params"] = params
        self.send_raw(json.dumps(frame).encode())
        return request_id

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        request_id = self.send(method, params)
        while True:
            frame = await self.recv()
            if frame.get("type") == "res" and frame.get("id") == request_id:
                return frame

    async def authenticate(self, token: str, **params: Any) -> dict[str, Any]:
        """Wait for the challenge, ``connect`` with the token; returns ``hello-ok``."""
        while (await self.recv()).get("event") != "connect.challenge":
            pass
        answer = await self.call("connect", {**CONNECT_PARAMS, "auth": {"token": token},
                                             **params})
        if not answer.get("ok"):
            raise Closed(f"connect refused: {answer.get('error')}")
        return answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
