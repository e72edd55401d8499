"""One client connection: handshake, authentication, dispatch, events, limits.

:class:`GatewayConnection` is transport-neutral: it receives whole messages and talks to an
:class:`IConnectionTransport` (the Autobahn protocol in production, a fake in unit tests).
It follows the reference gateway's order of checks (``message-handler``,
``connect-admission``, ``connect-auth``, ``connect-device-pairing``): frame shape, first
request ``connect``, params schema, protocol, role, browser Origin, shared secret, missing
device identity, device proof, device token, pairing, then ``hello-ok``.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from openclaw.auth.scopes import ROLE_OPERATOR
from openclaw.gateway.protocol.constants import (
    CLOSE_AUTH_CHANGED,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_REASON_MAX_BYTES,
    CLOSE_SERVICE_RESTART,
    MAX_QUEUED_HANDSHAKE_FRAMES,
    UNAUTHORIZED_FLOOD_CLOSE_AFTER,
)
from openclaw.gateway.protocol.dispatch import MethodCall, authorize_method
from openclaw.gateway.protocol.errors import (
    ErrorCode,
    ErrorShape,
    GatewayError,
    internal_error,
    invalid_request,
    unknown_method,
)
from openclaw.gateway.protocol.events import IEventRecipient
from openclaw.gateway.protocol.frames import (
    EncodedEvent,
    RawJson,
    encode_event,
    request_frame_error,
    response_error,
    response_ok,
)
from openclaw.gateway.protocol.handshake import (
    CONNECT_PARAMS_SCHEMA,
    build_hello_ok,
    recovery_scope,
)
from openclaw.gateway.protocol.schema import validation_error_text
from openclaw.gateway.protocol.session import (
    ClientSession,
    is_ephemeral,
)
from openclaw.gateway.protocol.transport import IConnectionTransport, MethodLookup, PeerInfo

if TYPE_CHECKING:
    from openclaw.gateway.protocol.context import GatewayContext


_AWAITING_CONNECT: Final = "awaiting-connect"
_CONNECTING: Final = "connecting"
_OPEN: Final = "open"
_CLOSED: Final = "closed"

_SHARED_AUTH_METHODS: Final = ("token", "password", "trusted-proxy")
# Handler results that are certainly not awaitable (skips the ABC checks on the hot path).
_PLAIN_RESULTS: Final = frozenset({RawJson, dict, list, str, int, float, bool, type(None)})
_BROWSER_ORIGIN_LOOPBACK_KEY: Final = "198.18.0.1"


def truncate_close_reason(reason: str) -> str:
    """At most 120 UTF-8 bytes, never splitting a character."""
    data = reason.encode("utf-8")
    if len(data) <= CLOSE_REASON_MAX_BYTES:
        return reason
    return data[:CLOSE_REASON_MAX_BYTES].decode("utf-8", "ignore")


_decode_json = json.JSONDecoder().decode


def _loads(payload: bytes) -> Any:
    return _decode_json(payload.decode("utf-8", "replace"))




class _Rejected(Exception):
    """Internal: the connect attempt was answered with an error and closed."""


@implementer(IEventRecipient)
class GatewayConnection:
    log = Logger()

    def __init__(
        self,
        context: GatewayContext,
        methods: MethodLookup,
        transport: IConnectionTransport,
        peer: PeerInfo,
        *,
        conn_id: str | None = None,
        on_authenticated: Callable[[GatewayConnection], None] | None = None,
        on_closed: Callable[[GatewayConnection], None] | None = None,
    ) -> None:
        self.context = context
        self.methods = methods
        self.transport = transport
        self.peer = peer
        self.conn_id = conn_id or str(uuid.uuid4())
        self.nonce = str(uuid.uuid4())
        self.session: ClientSession | None = None
        self.shared_auth_fingerprint: str | None = None
        self._on_authenticated = on_authenticated
        self._on_closed = on_closed
        self._state = _AWAITING_CONNECT
        self._seq = 0
        self._queued: list[bytes] = []
        self._handshake_timer: IDelayedCall | None = None
        self._pending: dict[str, Deferred[Any]] = {}
        self._unauthorized_streak = 0
        self._detached = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        # called when an asynchronously answered request finished (the adapter serves the
        # messages it held back while too many were running)
        self.request_settled: Callable[[], None] | None = None

    # -- IEventRecipient -----------------------------------------------------------------

    @property
    def role(self) -> str:
        return self.session.role if self.session else ""

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.session.scopes if self.session else ()

    @property
    def is_open(self) -> bool:
        return self._state == _OPEN

    @property
    def is_closed(self) -> bool:
        return self._state == _CLOSED

    @property
    def pending_requests(self) -> int:
        """Requests answered asynchronously that are still running."""
        return len(self._pending)

    def deliver_event(self, event: EncodedEvent, drop_if_slow: bool, with_seq: bool) -> None:
        if self._state != _OPEN:
            return
        seq: int | None = None
        if with_seq:
            self._seq += 1
            seq = self._seq
        frame = event.frame(seq)
        if self._over_bound(frame):
            if drop_if_slow:
                return
            self.close_slow_consumer("unsent output over maxBufferedBytes")
            return
        self.transport.send_frame(frame)

    def close_slow_consumer(self, why: str) -> None:
        if self._state != _CLOSED:
            self.log.info("closing slow consumer conn={conn} ({why}, {buffered} bytes unsent)",
                          conn=self.conn_id, why=why, buffered=self.transport.buffered_bytes())
        self.close(CLOSE_POLICY_VIOLATION, "slow consumer")

    def _over_bound(self, frame: bytes) -> bool:
        """Would ``frame`` take the unsent output (what the transport holds, and this frame)
        over ``maxBufferedBytes``?"""
        limit = self.context.policy.max_buffered_bytes
        return self.transport.buffered_bytes() + len(frame) > limit

    # -- lifecycle -----------------------------------------------------------------------

    def on_open(self) -> None:
        payload: dict[str, Any] = {"nonce": self.nonce, "ts": self.context.now_ms()}
        if self.context.challenge_capabilities:
            payload["capabilities"] = list(self.context.challenge_capabilities)
        challenge = encode_event("connect.challenge", payload)
        self.transport.send_frame(challenge.frame(None))
        timeout = self.context.policy.handshake_timeout_ms / 1000.0
        self._handshake_timer = self.context.clock.callLater(timeout, self._handshake_timed_out)

    def _handshake_timed_out(self) -> None:
        self._handshake_timer = None
        if self.session is None and self._state != _CLOSED:
            self.log.info("handshake timeout conn={conn} peer={peer}", conn=self.conn_id,
                          peer=self.peer.remote_address)
            self.close(CLOSE_NORMAL, "")

    def close(self, code: int, reason: str) -> None:
        """Close once; later calls are ignored."""
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self.close_code, self.close_reason = code, truncate_close_reason(reason)
        self._cancel_timer()
        self.transport.close(code, self.close_reason)
        self._detach()

    def on_closed(self) -> None:
        """The socket is gone (either side closed it)."""
        if self._state != _CLOSED:
            self._state = _CLOSED
            self._cancel_timer()
        self._detach()

    def shutdown(self, notice: Mapping[str, Any]) -> None:
        """Send the ``shutdown`` event (when authenticated) and close 1012."""
        if self._state == _OPEN:
            self.deliver_event(encode_event("shutdown", dict(notice)), False, True)
        self.close(CLOSE_SERVICE_RESTART, "service restart")

    def close_for_auth_change(self) -> None:
        self.close(CLOSE_AUTH_CHANGED, "gateway auth changed")

    def _cancel_timer(self) -> None:
        timer, self._handshake_timer = self._handshake_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _detach(self) -> None:
        """Release everything tied to this connection, exactly once."""
        if self._detached:
            return
        self._detached = True
        pending, self._pending = self._pending, {}
        for deferred in pending.values():
            deferred.cancel()
        self._queued.clear()
        if self._on_closed is not None:
            self._on_closed(self)
        session = self.session
        if session is None:
            return
        events = self.context.events
        events.unsubscribe(self)
        if session.presence_key:
            presence = self.context.presence
            presence.upsert(session.presence_key, {"reason": "disconnect"})
            version = presence.bump_version()
            events.broadcast(
                "presence",
                {"presence": presence.list()},
                drop_if_slow=True,
                state_version={"presence": version, "health": self.context.health.version},
            )

    # -- inbound -------------------------------------------------------------------------

    def on_message(self, payload: bytes, is_binary: bool = False) -> None:
        if self._state == _CLOSED:
            return
        if self.session is None:
            if len(payload) > self.context.policy.max_preauth_payload:
                self.on_oversized_message()
                return
            if self._state == _CONNECTING:
                if len(self._queued) >= MAX_QUEUED_HANDSHAKE_FRAMES:
                    self.close(CLOSE_POLICY_VIOLATION, "too many pending handshake frames")
                    return
                self._queued.append(payload)
                return
            self._handle_first_frame(payload)
            return
        self._handle_request(payload)

    def on_oversized_message(self) -> None:
        if self.session is None:
            self.close(CLOSE_MESSAGE_TOO_BIG, "preauth payload too large")
        else:
            self.close(CLOSE_MESSAGE_TOO_BIG, "payload too large")

    def _send(self, data: bytes) -> None:
        if self._state == _CLOSED:
            return
        if self._over_bound(data):
            self.close_slow_consumer("unsent output over maxBufferedBytes")
            return
        self.transport.send_frame(data)

    def _send_error(self, request_id: str, error: ErrorShape) -> None:
        self._send(response_error(request_id, error))

    # -- handshake -----------------------------------------------------------------------

    def _handle_first_frame(self, payload: bytes) -> None:
        try:
            frame = _loads(payload)
        except (ValueError, RecursionError):
            self.log.info("unparsable first frame conn={conn}", conn=self.conn_id)
            self.close(CLOSE_NORMAL, "")
            return
        if request_frame_error(frame) is not None:
            self.log.warn(
                "invalid handshake conn={conn} peer={peer} origin={origin} host={host}",
                conn=self.conn_id, peer=self.peer.remote_address, origin=self.peer.origin,
                host=self.peer.host,
            )
            self.close(CLOSE_POLICY_VIOLATION, "invalid request frame")
            return
        request_id: str = frame["id"]
        if frame["method"] != "connect":
            self._reject_now(request_id, invalid_request(
                "invalid handshake: first request must be connect"))
            return
        params = frame.get("params")
        errors = validation_error_text(CONNECT_PARAMS_SCHEMA, params)
        if errors is not None:
            self._reject_now(request_id, invalid_request(f"invalid connect params: {errors}"))
            return
        self._state = _CONNECTING
        from openclaw.gateway.protocol.connect import ConnectFlow

        deferred: Deferred[None] = Deferred.fromCoroutine(
            ConnectFlow(self, request_id, params).run())
        deferred.addErrback(self._connect_crashed, request_id)

    def _connect_crashed(self, failure: Failure, request_id: str) -> None:
        if failure.check(_Rejected, CancelledError):
            return
        self.log.failure("connect handling failed conn={conn}", failure, conn=self.conn_id)
        if self.session is None:
            self.close(CLOSE_NORMAL, "")

    def _reject_now(self, request_id: str, error: GatewayError,
                    code: int = CLOSE_POLICY_VIOLATION, reason: str | None = None) -> None:
        self._send_error(request_id, error.shape)
        self.close(code, reason if reason is not None else error.message)

    def _reject(self, request_id: str, error: GatewayError,
                code: int = CLOSE_POLICY_VIOLATION, reason: str | None = None) -> _Rejected:
        self._reject_now(request_id, error, code, reason)
        return _Rejected()

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            await deferLater(self.context.clock, seconds, lambda: None)
        if self._state == _CLOSED:
            raise _Rejected()

    def _attach(
        self, request_id: str, params: Mapping[str, Any], client: Mapping[str, Any], role: str,
        scopes: Sequence[str], caps: tuple[str, ...], *, device_id: str | None,
        auth_method: str, is_local: bool, client_ip: str | None,
        device_token: Mapping[str, Any] | None, fingerprint: str | None,
    ) -> None:
        ctx = self.context
        presence_key: str | None = None
        if not is_ephemeral(client):
            presence_key = (device_id or client.get("instanceId") or self.conn_id) \
                if role != ROLE_OPERATOR else self.conn_id
        session = ClientSession(
            conn_id=self.conn_id, role=role, scopes=tuple(scopes),
            protocol=int(min(params["maxProtocol"], 4)), client=dict(client), caps=caps,
            device_id=device_id, auth_method=auth_method, is_local_client=is_local,
            client_ip=client_ip, presence_key=presence_key, connected_at_ms=ctx.now_ms(),
            uses_shared_auth=fingerprint is not None)
        self.session = session
        self.shared_auth_fingerprint = fingerprint
        self._state = _OPEN
        self._cancel_timer()
        self.transport.set_max_message_size(ctx.policy.max_payload)
        ctx.events.subscribe(self)
        if presence_key:
            ctx.presence.upsert(presence_key, {
                "host": client.get("displayName") or client.get("id"),
                "clientId": client.get("id"),
                "ip": None if is_local else client_ip,
                "version": client.get("version"),
                "platform": client.get("platform"),
                "deviceFamily": client.get("deviceFamily"),
                "modelIdentifier": client.get("modelIdentifier"),
                "timeZone": client.get("timeZone"),
                "mode": client.get("mode"),
                "deviceId": device_id,
                "roles": [role],
                "scopes": list(scopes),
                "instanceId": (device_id or client.get("instanceId"))
                if role != ROLE_OPERATOR else client.get("instanceId"),
                "reason": "connect",
            })
        recovery: str | None = None
        if role == ROLE_OPERATOR:
            if device_token is not None:
                recovery = recovery_scope(["device-token", str(device_token["token"])])
            elif fingerprint is not None:
                recovery = recovery_scope(["shared-auth", fingerprint, device_id or ""])
            elif device_id:
                recovery = recovery_scope(["device", device_id])
        hello = build_hello_ok(ctx, session, methods=self.methods.advertised_methods,
                               device_token=device_token, recovery=recovery)
        self._send(response_ok(request_id, hello))
        self.log.info(
            "connected conn={conn} client={client} mode={mode} version={version} role={role} "
            "auth={auth} scopes={scopes}",
            conn=self.conn_id, client=client.get("id"), mode=client.get("mode"),
            version=client.get("version"), role=role, auth=auth_method,
            scopes=",".join(scopes))
        if self._on_authenticated is not None:
            self._on_authenticated(self)
        if self._state != _OPEN:
            return
        if presence_key:
            version = ctx.presence.bump_version()
            ctx.events.broadcast(
                "presence", {"presence": ctx.presence.list()}, drop_if_slow=True,
                state_version={"presence": version, "health": ctx.health.version})
        for hook in ctx.hello_hooks:
            try:
                hook(session, params)
            except Exception:
                self.log.failure("hello hook failed conn={conn}", conn=self.conn_id)
        if ctx.health.collector is not None:
            ctx.health.maybe_background_refresh()
        queued, self._queued = self._queued, []
        for payload in queued:
            if self._state != _OPEN:
                break
            self._handle_request(payload)

    # -- requests ------------------------------------------------------------------------

    def _handle_request(self, payload: bytes) -> None:
        try:
            frame = _loads(payload)
        except (ValueError, RecursionError):
            self.log.warn("parse error conn={conn}", conn=self.conn_id)
            return
        if type(frame) is dict and frame.get("type") == "cancel":
            self._cancel_request(frame.get("id"))
            return
        shape_error = request_frame_error(frame)
        if shape_error is not None:
            frame_id = frame.get("id") if isinstance(frame, dict) else None
            self._send_error(
                frame_id if isinstance(frame_id, str) and frame_id else "invalid",
                invalid_request(f"invalid request frame: {shape_error}").shape)
            return
        request_id: str = frame["id"]
        method: str = frame["method"]
        session = self.session
        assert session is not None
        spec = self.methods.get(method)
        scope = spec.scope if spec is not None else self.methods.required_scope(method)
        denied = authorize_method(session.role, session.scopes, scope)
        if denied is not None:
            self._respond_error(request_id, denied.shape)
            return
        if spec is None:
            self._respond_error(request_id, unknown_method(method).shape)
            return
        params = frame.get("params")
        if params is None:
            params = {}
        try:
            if spec.params is not None:
                spec.check_params(params)
            result = spec.handler(MethodCall(method, request_id, params, session, self.context))
        except GatewayError as error:
            self._respond_error(request_id, error.shape, error.payload)
            return
        except Exception:
            self._respond_error(request_id, self._unexpected(Failure(), method))
            return
        if type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
            self._track(request_id, method, result)
            return
        self._unauthorized_streak = 0
        self._send(response_ok(request_id, result))

    def _track(self, request_id: str, method: str, awaitable: Any) -> None:
        deferred: Deferred[Any]
        if isinstance(awaitable, Deferred):
            deferred = awaitable
        elif inspect.iscoroutine(awaitable):
            deferred = Deferred.fromCoroutine(awaitable)
        else:
            deferred = Deferred.fromCoroutine(_await(awaitable))
        key = request_id
        self._pending[key] = deferred

        def finished(result: Any) -> None:
            if self._pending.get(key) is deferred:
                del self._pending[key]
            if self._state == _OPEN:
                self._unauthorized_streak = 0
                self._send(response_ok(request_id, result))
            self._settled()

        def failed(failure: Failure) -> None:
            if self._pending.get(key) is deferred:
                del self._pending[key]
            self._settled()
            if self._state != _OPEN:
                return
            if failure.check(GatewayError):
                error = cast(GatewayError, failure.value)
                self._respond_error(request_id, error.shape, error.payload)
            elif failure.check(CancelledError):
                self._respond_error(request_id, ErrorShape(ErrorCode.UNAVAILABLE,
                                                           "request cancelled"))
            else:
                self._respond_error(request_id, self._unexpected(failure, method))

        deferred.addCallbacks(finished, failed)

    def _unexpected(self, failure: Failure, method: str) -> ErrorShape:
        """Log an unexpected handler failure with a fresh error id; the client gets the id."""
        error_id = uuid.uuid4().hex[:12]
        self.log.failure("request handler failed method={method} errorId={error_id}", failure,
                         method=method, error_id=error_id)
        return internal_error(error_id)

    def _settled(self) -> None:
        settled = self.request_settled
        if settled is not None and self._state != _CLOSED:
            settled()

    def _cancel_request(self, request_id: Any) -> None:
        if isinstance(request_id, str):
            deferred = self._pending.get(request_id)
            if deferred is not None:
                deferred.cancel()

    def _respond_error(self, request_id: str, error: ErrorShape, payload: Any = None) -> None:
        if error.code == ErrorCode.INVALID_REQUEST and error.message.startswith(
                "unauthorized role:"):
            self._unauthorized_streak += 1
            self._send_error(request_id, error)
            if self._unauthorized_streak > UNAUTHORIZED_FLOOD_CLOSE_AFTER:
                self.close(CLOSE_POLICY_VIOLATION, "repeated unauthorized calls")
            return
        self._unauthorized_streak = 0
        self._send(response_error(request_id, error, payload))


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
