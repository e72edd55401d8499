"""Test doubles shared by the protocol and methods tests (reactor-free)."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from zope.interface import implementer

from openclaw.auth.decision import AuthSettings
from openclaw.blocking import run_inline
from openclaw.config import ConfigSnapshot
from openclaw.gateway.devices import identity as ident
from openclaw.gateway.devices.identity import GatewayIdentity
from openclaw.gateway.methods.registry import MethodRegistry, build_registry
from openclaw.gateway.methods.system import collect_health
from openclaw.gateway.protocol.connection import (
    GatewayConnection,
    IConnectionTransport,
    PeerInfo,
)
from openclaw.gateway.protocol.context import ConnectionPolicy, GatewayContext
from tests.support import config_snapshot

TOKEN = "s3cret-token"
NOW = 1_795_224_393.856


@implementer(IConnectionTransport)
class FakeTransport:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self.buffered = 0
        self.max_message_size: int | None = None

    def send_frame(self, data: bytes) -> None:
        assert isinstance(data, bytes)
        if self.closed is None:
            self.frames.append(data)

    def close(self, code: int, reason: str) -> None:
        if self.closed is None:
            self.closed = (code, reason)

    def buffered_bytes(self) -> int:
        return self.buffered

    def set_max_message_size(self, size: int) -> None:
        self.max_message_size = size

    @property
    def close_code(self) -> int | None:
        return self.closed[0] if self.closed is not None else None

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(frame) for frame in self.frames]

    def take(self) -> list[dict[str, Any]]:
        messages = self.messages()
        self.frames.clear()
        return messages


def fake_redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: ("__OPENCLAW_REDACTED__" if key in ("token", "password", "apiKey")
                  and isinstance(item, str) else fake_redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [fake_redact(item) for item in value]
    return value


def make_context(
    *,
    clock: Clock | None = None,
    auth: AuthSettings | None = None,
    snapshot: ConfigSnapshot | None = None,
    state_dir: Path | None = None,
    policy: ConnectionPolicy | None = None,
    log_file: Path | None = None,
) -> GatewayContext:
    clock = clock or Clock()
    if clock.seconds() == 0:
        clock.advance(NOW)
    state = state_dir or Path(tempfile.mkdtemp(prefix="oc-proto-"))
    current = snapshot if snapshot is not None else config_snapshot()
    context = GatewayContext.create(
        clock=clock,
        version="2026.9.6-test",
        state_dir=state,
        get_config=lambda: current,
        auth=auth or AuthSettings(mode="token", token=TOKEN),
        log_file=(lambda: log_file) if log_file is not None else None,
        run_blocking=run_inline,
        policy=policy or ConnectionPolicy(),
        identity=GatewayIdentity.generate(),
        instance_id="gw-instance",
        host="testhost",
        ip="192.0.2.10",
        redact_config=fake_redact,
        config_schema=lambda: {"type": "object", "properties": {}},
    )
    context.health.collector = lambda: collect_health(context)
    return context


class StepRunner:
    """A ``run_blocking`` that queues each call until the test runs it.

    :meth:`run_next` runs the oldest call on a thread of its own (waiting for that thread to
    finish), then fires its Deferred on the test's thread, as the reactor would.
    """

    def __init__(self) -> None:
        self.queued: list[tuple[Deferred[Any], Callable[..., Any], tuple[Any, ...],
                                dict[str, Any]]] = []
        self.threads: list[int] = []

    def __call__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        deferred: Deferred[Any] = Deferred()
        self.queued.append((deferred, func, args, kwargs))
        return deferred

    def run_next(self) -> None:
        deferred, func, args, kwargs = self.queued.pop(0)
        outcome: dict[str, Any] = {}

        def work() -> None:
            outcome["thread"] = threading.get_ident()
            try:
                outcome["result"] = func(*args, **kwargs)
            except Exception:
                outcome["failure"] = Failure()

        thread = threading.Thread(target=work, name="step-runner")
        thread.start()
        thread.join()
        self.threads.append(outcome["thread"])
        if "failure" in outcome:
            deferred.errback(outcome["failure"])
        else:
            deferred.callback(outcome["result"])

    def run_all(self) -> None:
        while self.queued:
            self.run_next()


def clock_of(context: GatewayContext) -> Clock:
    assert isinstance(context.clock, Clock)
    return context.clock


LOCAL_PEER = PeerInfo("127.0.0.1", {"host": "127.0.0.1:18789"})
REMOTE_PEER = PeerInfo("203.0.113.7", {"host": "gateway.example:18789"})


def connect_params(
    *,
    token: str | None = TOKEN,
    client_id: str = "cli",
    mode: str = "cli",
    role: str | None = "operator",
    scopes: list[str] | None = None,
    min_protocol: int = 4,
    max_protocol: int = 4,
    platform: str = "linux",
    device_family: str | None = "Linux",
    **extra: Any,
) -> dict[str, Any]:
    client: dict[str, Any] = {"id": client_id, "version": "2026.9.6", "platform": platform,
                              "mode": mode}
    if device_family is not None:
        client["deviceFamily"] = device_family
    params: dict[str, Any] = {
        "minProtocol": min_protocol,
        "maxProtocol": max_protocol,
        "client": client,
        "caps": [],
        "scopes": scopes if scopes is not None else ["operator.read"],
    }
    if role is not None:
        params["role"] = role
    if token is not None:
        params["auth"] = {"token": token}
    params.update(extra)
    return params


@attrs.define
class DeviceKey:
    private_key: Ed25519PrivateKey = attrs.Factory(Ed25519PrivateKey.generate)

    @property
    def raw_public(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_key(self) -> str:
        return ident.b64url_encode(self.raw_public)

    @property
    def device_id(self) -> str:
        import hashlib

        return hashlib.sha256(self.raw_public).hexdigest()

    def sign(self, params: Mapping[str, Any], nonce: str, signed_at: int, *,
             version: str = "v3", token: str | None = None, device_id: str | None = None
             ) -> dict[str, Any]:
        client = params["client"]
        auth = params.get("auth") or {}
        if token is None:
            token = next((auth[k] for k in ("token", "deviceToken", "bootstrapToken")
                          if auth.get(k) is not None), None)
        fields = ident.SignedConnectFields(
            device_id=device_id or self.device_id, client_id=client["id"],
            client_mode=client["mode"], role=params.get("role", "operator"),
            scopes=tuple(params.get("scopes") or ()), signed_at_ms=signed_at, token=token,
            nonce=nonce, platform=client.get("platform"),
            device_family=client.get("deviceFamily"))
        payload = ident.build_payload_v3(fields) if version == "v3" \
            else ident.build_payload_v2(fields)
        return {
            "id": device_id or self.device_id,
            "publicKey": self.public_key,
            "signature": ident.sign_payload(self.private_key, payload),
            "signedAt": signed_at,
            "nonce": nonce,
        }


class Harness:
    """One context and registry; opens connections over :class:`FakeTransport`."""

    def __init__(self, **context_options: Any) -> None:
        self.context = make_context(**context_options)
        self.clock: Clock = clock_of(self.context)
        self.registry: MethodRegistry = build_registry()
        self.opened: list[GatewayConnection] = []

    def open(self, peer: PeerInfo = LOCAL_PEER) -> tuple[GatewayConnection, FakeTransport]:
        transport = FakeTransport()
        connection = GatewayConnection(self.context, self.registry, transport, peer)
        connection.on_open()
        self.opened.append(connection)
        return connection, transport

    @staticmethod
    def nonce_of(transport: FakeTransport) -> str:
        challenge = json.loads(transport.frames[0])
        assert challenge["event"] == "connect.challenge"
        return str(challenge["payload"]["nonce"])

    def connect(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        peer: PeerInfo = LOCAL_PEER,
        device_key: DeviceKey | None = None,
        sign_version: str = "v3",
        request_id: str = "c1",
    ) -> tuple[GatewayConnection, FakeTransport, dict[str, Any]]:
        """Open, answer the challenge with ``connect``, return the ``res`` frame."""
        connection, transport = self.open(peer)
        nonce = self.nonce_of(transport)
        transport.frames.clear()
        body = dict(params if params is not None else connect_params())
        if device_key is not None:
            body["device"] = device_key.sign(body, nonce, self.context.now_ms(),
                                             version=sign_version)
        send(connection, {"type": "req", "id": request_id, "method": "connect", "params": body})
        self.clock.advance(10)  # let any auth-failure penalty elapse
        response = next((m for m in transport.messages()
                         if m.get("type") == "res" and m.get("id") == request_id), {})
        return connection, transport, response

    def call(self, connection: GatewayConnection, transport: FakeTransport, method: str,
             params: Any = None, request_id: str = "r1", *, omit_params: bool = False
             ) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "req", "id": request_id, "method": method}
        if not omit_params:
            frame["params"] = params if params is not None else {}
        transport.frames.clear()
        send(connection, frame)
        return next((m for m in transport.messages()
                     if m.get("type") == "res" and m.get("id") == request_id), {})


def send(connection: GatewayConnection, frame: Any) -> None:
    connection.on_message(json.dumps(frame).encode("utf-8"), False)
