"""A small synchronous operator client for the end-to-end tests: the protocol's handshake with
a signed Ed25519 device identity (payload v3), requests by id, and events kept for waiting on.

The tests use it beside the browser: to check what the UI did (``config.get`` after a save),
to make something happen the UI must show (a second device asking to pair, an exec approval
request), and to read a gateway's ``hello-ok``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

OPERATOR_SCOPES = ("operator.admin", "operator.read", "operator.write", "operator.approvals",
                   "operator.pairing")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ConnectRefused(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", "connect refused"))
        self.error = error

    @property
    def code(self) -> str:
        return str((self.error.get("details") or {}).get("code") or self.error.get("code"))


class RequestFailed(Exception):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message')}")
        self.error = error


class DeviceKey:
    """An Ed25519 device identity (what the browser keeps in IndexedDB)."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        self.public_key = _b64url(raw)
        self.device_id = hashlib.sha256(raw).hexdigest()

    def sign(self, payload: str) -> str:
        return _b64url(self.private.sign(payload.encode("utf-8")))


class Operator:
    """One connection: ``Operator(url, token).open()``; ``request``; ``wait_event``; ``close``."""

    def __init__(self, url: str, token: str, *, client_id: str = "cli", mode: str = "cli",
                 scopes: tuple[str, ...] = OPERATOR_SCOPES, origin: str | None = None,
                 caps: tuple[str, ...] = (), device: DeviceKey | None = None,
                 timeout: float = 30.0) -> None:
        self.url = url
        self.token = token
        self.client_id = client_id
        self.mode = mode
        self.scopes = scopes
        self.origin = origin
        self.caps = caps
        self.device = device or DeviceKey()
        self.timeout = timeout
        self.ws: ClientConnection | None = None
        self.hello: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []

    def open(self) -> Operator:
        headers = {"Origin": self.origin} if self.origin else None
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(
            self.url, additional_headers=headers, open_timeout=self.timeout,
            max_size=64 * 1024 * 1024))
        challenge = self._next(lambda f: f.get("event") == "connect.challenge")
        nonce = challenge["payload"]["nonce"]
        signed_at = challenge["payload"].get("ts") or int(time.time() * 1000)
        platform = "linux"
        payload = "|".join(["v3", self.device.device_id, self.client_id, self.mode, "operator",
                            ",".join(self.scopes), str(signed_at), self.token, nonce, platform,
                            ""])
        params = {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": self.client_id, "version": "e2e", "platform": platform,
                       "mode": self.mode, "instanceId": str(uuid.uuid4())},
            "role": "operator", "scopes": list(self.scopes), "caps": list(self.caps),
            "auth": {"token": self.token},
            "device": {"id": self.device.device_id, "publicKey": self.device.public_key,
                       "signature": self.device.sign(payload), "signedAt": signed_at,
                       "nonce": nonce},
        }
        frame_id = str(uuid.uuid4())
        self._send({"type": "req", "id": frame_id, "method": "connect", "params": params})
        res = self._next(lambda f: f.get("type") == "res" and f.get("id") == frame_id)
        if not res.get("ok"):
            self.close()
            raise ConnectRefused(res.get("error") or {})
        self.hello = res["payload"]
        return self

    def close(self) -> None:
        if self.ws is not None:
            self.ws = None
            self._stack.close()

    def __enter__(self) -> Operator:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def methods(self) -> set[str]:
        return set(self.hello.get("features", {}).get("methods", []))

    def request(self, method: str, params: Any = None, timeout: float | None = None) -> Any:
        frame_id = str(uuid.uuid4())
        frame: dict[str, Any] = {"type": "req", "id": frame_id, "method": method}
        if params is not None:
            frame["params"] = params
        self._send(frame)
        res = self._next(lambda f: f.get("type") == "res" and f.get("id") == frame_id, timeout)
        if not res.get("ok"):
            raise RequestFailed(method, res.get("error") or {})
        return res.get("payload")

    def wait_event(self, match: Callable[[dict[str, Any]], bool],
                   timeout: float | None = None) -> dict[str, Any]:
        """The first event (already received or coming) for which ``match(frame)`` holds."""
        for index, frame in enumerate(self.events):
            if match(frame):
                return self.events.pop(index)
        return self._next(lambda f: f.get("type") == "event" and match(f), timeout)

    def _send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        self.ws.send(json.dumps(frame))

    def _next(self, match: Callable[[dict[str, Any]], bool],
              timeout: float | None = None) -> dict[str, Any]:
        assert self.ws is not None
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching frame from the gateway")
            try:
                raw = self.ws.recv(timeout=left)
            except TimeoutError:
                raise TimeoutError("no matching frame from the gateway") from None
            except ConnectionClosed as e:
                raise ConnectionError(f"gateway closed the connection: {e}") from None
            frame = json.loads(raw)
            if match(frame):
                return frame
            if frame.get("type") == "event":
                self.events.append(frame)
