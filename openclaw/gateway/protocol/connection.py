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
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from openclaw.auth.decision import (
    AuthDecision,
    AuthRequest,
    classify_ingress,
    decide_auth,
)
from openclaw.auth.netaddr import (
    is_loopback_address,
    is_loopback_host,
    is_private_or_loopback_address,
    is_private_or_loopback_host,
    resolve_host_name,
)
from openclaw.auth.origin import ORIGIN_NOT_ALLOWED_MESSAGE, check_browser_origin
from openclaw.auth.ratelimit import SCOPE_DEVICE_TOKEN, SCOPE_SHARED_SECRET
from openclaw.auth.scopes import ROLE_OPERATOR, ROLES, role_scopes_allow
from openclaw.gateway.protocol import device_identity as ident
from openclaw.gateway.protocol.auth_failure import (
    auth_detail_code,
    auth_provided_kind,
    format_auth_failure_message,
    recommended_next_step,
)
from openclaw.gateway.protocol.constants import (
    CLOSE_AUTH_CHANGED,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_REASON_MAX_BYTES,
    CLOSE_SERVICE_RESTART,
    DEVICE_SIGNATURE_SKEW_MS,
    MAX_QUEUED_HANDSHAKE_FRAMES,
    UNAUTHORIZED_FLOOD_CLOSE_AFTER,
    ClientId,
    ClientMode,
)
from openclaw.gateway.protocol.device_store import DeviceStore
from openclaw.gateway.protocol.dispatch import MethodCall, authorize_method
from openclaw.gateway.protocol.errors import (
    DetailCode,
    ErrorCode,
    ErrorShape,
    GatewayError,
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
    negotiate_protocol,
    recovery_scope,
)
from openclaw.gateway.protocol.pairing import (
    PairingFailure,
    metadata_mismatch,
    pairing_failure,
    should_allow_silent_local_pairing,
)
from openclaw.gateway.protocol.schema import validation_error_text
from openclaw.gateway.protocol.session import (
    ClientSession,
    is_browser_operator_ui,
    is_ephemeral,
    is_native_app_ui,
    is_operator_ui,
    is_webchat,
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


def _trimmed(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


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
        deferred: Deferred[None] = Deferred.fromCoroutine(self._connect(request_id, params))
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

    async def _connect(self, request_id: str, params: dict[str, Any]) -> None:
        ctx = self.context
        settings = ctx.auth
        client: dict[str, Any] = params["client"]
        client_id: str = client["id"]
        mode: str = client["mode"]
        caps = tuple(params.get("caps") or ())

        mismatch = negotiate_protocol(params)
        if mismatch is not None:
            raise self._reject(request_id, mismatch, CLOSE_PROTOCOL_ERROR, "protocol mismatch")
        role = params.get("role", ROLE_OPERATOR)
        if role not in ROLES:
            raise self._reject(request_id, invalid_request("invalid role"))
        scopes: list[str] = list(params.get("scopes") or [])

        headers = self.peer.headers
        origin = (self.peer.origin or "").strip()
        has_origin = bool(origin)
        ingress = classify_ingress(self.peer.remote_address, headers, settings.trusted_proxies,
                                   allow_real_ip_fallback=settings.allow_real_ip_fallback)
        is_local = ingress.is_local_direct
        is_copilot = client_id == ClientId.BROWSER_COPILOT
        copilot_origin = origin if is_copilot and origin.startswith("chrome-extension://") \
            else None
        if is_copilot:
            if mode != ClientMode.UI or "run-tool-bindings" not in caps \
                    or "session-scoped-events" not in caps:
                raise self._reject(request_id, invalid_request(
                    "browser copilot requires ui mode with run-tool-bindings and "
                    "session-scoped-events capabilities"))
            if copilot_origin is None:
                raise self._reject(request_id, invalid_request(
                    "browser copilot requires a canonical Chrome extension origin",
                    details={"code": DetailCode.CONTROL_UI_ORIGIN_NOT_ALLOWED,
                             "reason": "invalid browser copilot origin"}))
        is_control_ui = is_operator_ui(client) and not is_copilot
        client_is_webchat = is_webchat(client)
        if copilot_origin is None and (has_origin or is_browser_operator_ui(client)
                                       or client_is_webchat):
            check = check_browser_origin(
                origin,
                request_host=self.peer.host,
                allowed_origins=settings.allowed_origins,
                is_local_client=is_local,
                allow_host_header_fallback=settings.allow_host_header_origin_fallback,
            )
            if not check.ok:
                raise self._reject(request_id, invalid_request(
                    ORIGIN_NOT_ALLOWED_MESSAGE,
                    details={"code": DetailCode.CONTROL_UI_ORIGIN_NOT_ALLOWED,
                             "reason": check.reason}))

        auth: dict[str, Any] = params.get("auth") or {}
        token, password = auth.get("token"), auth.get("password")
        device: dict[str, Any] | None = params.get("device")
        has_shared_auth = bool(token) or bool(password)
        shared_token, shared_password = _trimmed(token), _trimmed(password)
        device_credential: str | None = None
        explicit_device_token = False
        if device is not None:
            if _trimmed(auth.get("deviceToken")):
                device_credential, explicit_device_token = _trimmed(auth.get("deviceToken")), True
            elif shared_token:
                device_credential = shared_token
        subject_override: str | None = None
        if has_origin and is_loopback_address(ingress.client_ip):
            subject_override = _browser_origin_rate_key(origin)
        limiter = ctx.rate_limiter
        auth_request = AuthRequest(
            remote_address=self.peer.remote_address,
            headers=headers,
            token=shared_token,
            password=shared_password,
            local_addresses=ctx.local_addresses,
        )
        decision = decide_auth(
            settings,
            auth_request,
            limiter if (shared_token or shared_password) else None,
            defer_failure=device_credential is not None,
        )
        if subject_override is not None and decision.subject != subject_override:
            decision = attrs.evolve(decision, subject=subject_override)
        subject = decision.subject
        await self._sleep(decision.delay_seconds)
        auth_ok = decision.ok
        auth_method: str = decision.method or ("password" if settings.mode == "password"
                                               else "token")
        shared_ok = decision.ok and decision.method in _SHARED_AUTH_METHODS
        pending_shared_failure = device_credential is not None and decision.reason in (
            "token_mismatch", "password_mismatch")
        failed: AuthDecision = decision
        has_proxy_headers = ingress.kind == "trusted-proxy"

        def locality() -> str:
            return _pairing_locality(
                is_local=is_local, client=client, shared_ok=shared_ok, auth_method=auth_method,
                has_proxy_headers=has_proxy_headers, has_origin=has_origin,
                remote=self.peer.remote_address, host=self.peer.host, origin=origin)

        def skip_backend_pairing(where: str) -> bool:
            return (client_id == ClientId.GATEWAY_CLIENT and mode == ClientMode.BACKEND
                    and where in ("direct_local", "shared_secret_loopback_local")
                    and not has_origin
                    and (auth_method in ("none", "device-token")
                         or (shared_ok and auth_method in ("token", "password"))))

        def preserve_cli_scopes(where: str) -> bool:
            return (client_id == ClientId.CLI and mode == ClientMode.CLI
                    and where in ("direct_local", "cli_container_local") and not has_origin
                    and shared_ok and auth_method in ("token", "password"))

        def reject_unauthorized(failure: AuthDecision) -> _Rejected:
            provided = auth_provided_kind(token, password, auth.get("bootstrapToken"),
                                          auth.get("deviceToken"))
            can_retry = (failure.reason == "token_mismatch" and device is not None
                         and provided == "token" and not auth.get("deviceToken"))
            message = format_auth_failure_message(
                mode=settings.mode, auth_provided=provided, reason=failure.reason,
                client_mode=mode, client_is_operator_ui=is_operator_ui(client),
                client_is_webchat=client_is_webchat, is_local_client=is_local)
            details: dict[str, Any] = {"code": auth_detail_code(failure.reason)}
            if failure.reason is not None:
                details["authReason"] = failure.reason
            details["canRetryWithDeviceToken"] = can_retry
            details["recommendedNextStep"] = recommended_next_step(failure.reason, can_retry)
            self.log.warn(
                "unauthorized conn={conn} peer={peer} client={client} mode={mode} role={role} "
                "auth={auth} device={device} reason={reason}",
                conn=self.conn_id, peer=self.peer.remote_address, client=client_id, mode=mode,
                role=role, auth=provided, device="yes" if device else "no",
                reason=failure.reason,
            )
            error = GatewayError(
                ErrorCode.INVALID_REQUEST, message, details=details,
                retryable=True if failure.rate_limited else None,
                retry_after_ms=failure.retry_after_ms if failure.rate_limited else None)
            return self._reject(request_id, error, CLOSE_POLICY_VIOLATION, message)

        where = locality()
        skip_backend = skip_backend_pairing(where)
        preserve_cli = preserve_cli_scopes(where)

        if device is None:
            trusted_proxy_ui = (is_control_ui and role == ROLE_OPERATOR
                                and settings.mode == "trusted-proxy" and auth_ok
                                and auth_method == "trusted-proxy")
            verdict = _missing_device_verdict(
                role=role, is_control_ui=is_control_ui, trusted_proxy_ui_ok=trusted_proxy_ui,
                local_backend_ok=skip_backend, shared_ok=shared_ok, auth_ok=auth_ok,
                has_shared_auth=has_shared_auth)
            if not skip_backend and not preserve_cli and (
                    verdict != "allow" or auth_method in _SHARED_AUTH_METHODS):
                scopes = []
            if verdict == "reject-control-ui-insecure-auth":
                raise self._reject(request_id, invalid_request(
                    "control ui requires device identity (use HTTPS or localhost secure context)",
                    details={"code": DetailCode.CONTROL_UI_DEVICE_IDENTITY_REQUIRED}))
            if verdict == "reject-unauthorized":
                raise reject_unauthorized(decision)
            if verdict == "reject-device-required":
                raise self._reject(request_id, GatewayError(
                    ErrorCode.NOT_PAIRED, "device identity required",
                    details={"code": DetailCode.DEVICE_IDENTITY_REQUIRED}))

        device_public_key: str | None = None
        if device is not None:
            proof_error = self._verify_device_proof(device, client, role, scopes, auth)
            if proof_error is not None:
                if pending_shared_failure:
                    limiter.record_failure(subject, SCOPE_SHARED_SECRET)
                raise self._reject(request_id, proof_error)
            device_public_key = ident.normalize_public_key(device["publicKey"])

        if device is not None and not auth_ok and device_credential is not None:
            limit = limiter.check(subject, SCOPE_DEVICE_TOKEN)
            if not limit.allowed:
                failed = AuthDecision(False, reason="rate_limited", rate_limited=True,
                                      retry_after_ms=limit.retry_after_ms, subject=subject)
            else:
                token_check = ctx.device_store.verify_token(
                    device["id"], device_credential, role, scopes)
                if token_check.ok:
                    auth_ok, auth_method = True, "device-token"
                    limiter.reset(subject, SCOPE_DEVICE_TOKEN)
                else:
                    if token_check.reason == "scope-mismatch":
                        reason = "scope_mismatch"
                    elif explicit_device_token:
                        reason = "device_token_mismatch"
                    else:
                        reason = decision.reason or "device_token_mismatch"
                    failed = AuthDecision(False, reason=reason, subject=subject)
                    limiter.record_failure(subject, SCOPE_DEVICE_TOKEN)
        if pending_shared_failure and not auth_ok:
            await self._sleep(limiter.record_failure_delay(subject, SCOPE_SHARED_SECRET))
        if not auth_ok:
            raise reject_unauthorized(failed)

        where = locality()
        skip_backend = skip_backend_pairing(where)

        device_token: dict[str, Any] | None = None
        if device is not None and device_public_key is not None:
            baseline, scopes = await self._authorize_device(
                request_id, device, device_public_key, client, role, scopes,
                auth_method=auth_method, locality=where, skip_backend=skip_backend,
                is_control_ui=is_control_ui, has_origin=has_origin,
                client_ip=ingress.client_ip if not is_local else None)
            if baseline:
                device_token = await ctx.device_store.ensure_token(device["id"], role, scopes)

        if self._state == _CLOSED:
            raise _Rejected()
        uses_shared = auth_method in _SHARED_AUTH_METHODS
        fingerprint = settings.shared_secret_fingerprint() if uses_shared else None
        if fingerprint is not None and fingerprint != ctx.auth.shared_secret_fingerprint():
            self.close(CLOSE_AUTH_CHANGED, "gateway auth changed")
            raise _Rejected()
        self._attach(request_id, params, client, role, scopes, caps,
                     device_id=device["id"] if device else None, auth_method=auth_method,
                     is_local=is_local, client_ip=ingress.client_ip,
                     device_token=device_token, fingerprint=fingerprint)

    def _verify_device_proof(
        self, device: Mapping[str, Any], client: Mapping[str, Any], role: str,
        scopes: Sequence[str], auth: Mapping[str, Any],
    ) -> GatewayError | None:
        def failure(reason: str, message: str, code: str) -> GatewayError:
            return invalid_request(message, details={"code": code, "reason": reason})

        derived = ident.device_id_for_public_key(device["publicKey"])
        if not derived or derived != device["id"]:
            return failure("device-id-mismatch", "device identity mismatch",
                           DetailCode.DEVICE_AUTH_DEVICE_ID_MISMATCH)
        signed_at = device["signedAt"]
        if abs(self.context.now_ms() - signed_at) > DEVICE_SIGNATURE_SKEW_MS:
            return failure("device-signature-stale", "device signature expired",
                           DetailCode.DEVICE_AUTH_SIGNATURE_EXPIRED)
        nonce = device["nonce"].strip()
        if not nonce:
            return failure("device-nonce-missing", "device nonce required",
                           DetailCode.DEVICE_AUTH_NONCE_REQUIRED)
        if nonce != self.nonce:
            return failure("device-nonce-mismatch", "device nonce mismatch",
                           DetailCode.DEVICE_AUTH_NONCE_MISMATCH)
        signature_token = next(
            (auth[key] for key in ("token", "deviceToken", "bootstrapToken")
             if auth.get(key) is not None), None)
        fields = ident.SignedConnectFields(
            device_id=device["id"], client_id=client["id"], client_mode=client["mode"],
            role=role, scopes=tuple(scopes), signed_at_ms=int(signed_at), token=signature_token,
            nonce=nonce, platform=client.get("platform"), device_family=client.get("deviceFamily"))
        if ident.signature_payload_version(device["publicKey"], device["signature"], fields) \
                is None:
            return failure("device-signature", "device signature invalid",
                           DetailCode.DEVICE_AUTH_SIGNATURE_INVALID)
        if ident.normalize_public_key(device["publicKey"]) is None:
            return failure("device-public-key", "device public key invalid",
                           DetailCode.DEVICE_AUTH_PUBLIC_KEY_INVALID)
        return None

    async def _authorize_device(
        self, request_id: str, device: Mapping[str, Any], public_key: str,
        client: dict[str, Any], role: str, scopes: list[str], *, auth_method: str,
        locality: str, skip_backend: bool, is_control_ui: bool, has_origin: bool,
        client_ip: str | None,
    ) -> tuple[bool, list[str]]:
        """Pairing policy; returns ``(token baseline approved, scopes)`` or raises."""
        store = self.context.device_store
        device_id: str = device["id"]
        paired = store.get_paired(device_id)
        is_paired = paired is not None and paired.get("publicKey") == public_key
        auth_none_ui = (is_control_ui and role == ROLE_OPERATOR
                        and self.context.auth.mode == "none")
        access_metadata = {
            "displayName": client.get("displayName"),
            "remoteIp": client_ip,
            "lastSeenAtMs": self.context.now_ms(),
            "lastSeenReason": "connect",
        }

        def require(reason: str, existing: dict[str, Any] | None) -> None:
            self._require_pairing(
                request_id, reason, existing, device_id, public_key, client, role, scopes,
                auth_method=auth_method, locality=locality, is_control_ui=is_control_ui,
                has_origin=has_origin, client_ip=client_ip, access_metadata=access_metadata)

        if skip_backend or auth_none_ui:
            if is_paired:
                store.update_metadata(device_id, access_metadata)
                return True, scopes
            return (auth_none_ui or auth_method != "device-token"), scopes
        if not is_paired:
            require("not-paired", paired)
            return True, scopes
        assert paired is not None
        if metadata_mismatch(client, paired):
            require("metadata-upgrade", paired)
        elif role not in DeviceStore.approved_roles(paired):
            require("role-upgrade", paired)
        elif scopes and not (
            DeviceStore.approved_scopes(paired)
            and role_scopes_allow(role, scopes, DeviceStore.approved_scopes(paired))
        ):
            require("scope-upgrade", paired)
        store.update_metadata(device_id, access_metadata)
        return True, scopes

    def _require_pairing(
        self, request_id: str, reason: str, existing: dict[str, Any] | None, device_id: str,
        public_key: str, client: Mapping[str, Any], role: str, scopes: Sequence[str], *,
        auth_method: str, locality: str, is_control_ui: bool, has_origin: bool,
        client_ip: str | None, access_metadata: Mapping[str, Any],
    ) -> None:
        """Create the pairing request, approve it silently when local, else reject."""
        ctx = self.context
        store = ctx.device_store
        auto_approve_local = _auto_approve_local(ctx)
        silent = not (existing is not None and role != ROLE_OPERATOR) and \
            should_allow_silent_local_pairing(
                locality=locality, has_browser_origin=has_origin, is_control_ui=is_control_ui,
                is_webchat=is_webchat(client), is_native_app_ui=is_native_app_ui(client),
                auth_method=auth_method, reason=reason, auto_approve_local=auto_approve_local)
        metadata = {
            "displayName": client.get("displayName"),
            "platform": client.get("platform"),
            "deviceFamily": client.get("deviceFamily"),
            "clientId": client.get("id"),
            "clientMode": client.get("mode"),
            "remoteIp": client_ip,
        }
        pairing = store.request_pairing(device_id=device_id, public_key=public_key, role=role,
                                        scopes=scopes, silent=silent, metadata=metadata)
        if silent:
            # Approve as a caller holding exactly the requested (and previously approved)
            # scopes, so a silent approval can never grant more than was asked for.
            prior = DeviceStore.approved_scopes(existing) if existing else []
            approved = store.approve(pairing.request["requestId"],
                                     caller_scopes=[*scopes, *prior], approved_via="local")
            if approved is not None and approved.status == "approved":
                self.log.info("device pairing auto-approved device={device} role={role}",
                              device=device_id, role=role)
                store.update_metadata(device_id, dict(access_metadata))
                ctx.events.broadcast(
                    "device.pair.resolved",
                    {"requestId": pairing.request["requestId"], "deviceId": device_id,
                     "decision": "approved", "ts": ctx.now_ms()},
                    drop_if_slow=True)
        elif pairing.created:
            ctx.events.broadcast("device.pair.requested", pairing.request, drop_if_slow=True)
        live = store.get_paired(device_id)
        if (
            live is not None
            and live.get("publicKey") == public_key
            and role in DeviceStore.approved_roles(live)
            and role_scopes_allow(role, scopes, DeviceStore.approved_scopes(live))
            and not metadata_mismatch(client, live)
        ):
            return
        pending_id = next(
            (p["requestId"] for p in store.list_pending()
             if p.get("deviceId") == device_id and p.get("publicKey") == public_key), None)
        exposed = existing if existing is not None and existing.get("publicKey") == public_key \
            else None
        result: PairingFailure = pairing_failure(
            reason=reason, request_id=pending_id, device_id=device_id, role=role,
            scopes=scopes,
            approved_roles=DeviceStore.approved_roles(exposed) if exposed else [],
            approved_scopes=DeviceStore.approved_scopes(exposed) if exposed else [],
            wait_for_approval=is_control_ui and role == ROLE_OPERATOR and pending_id is not None)
        raise self._reject(request_id, GatewayError(ErrorCode.NOT_PAIRED, result.message,
                                                    details=result.details),
                           CLOSE_POLICY_VIOLATION, result.close_reason)

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
        except Exception as exc:
            self.log.failure("request handler failed method={method}", method=method)
            self._respond_error(request_id, ErrorShape(ErrorCode.UNAVAILABLE, str(exc) or
                                                       type(exc).__name__))
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
                self._respond_error(request_id, failure.value.shape, failure.value.payload)
            elif failure.check(CancelledError):
                self._respond_error(request_id, ErrorShape(ErrorCode.UNAVAILABLE,
                                                           "request cancelled"))
            else:
                self.log.failure("request handler failed method={method}", failure,
                                 method=method)
                message = str(failure.value) or failure.type.__name__
                self._respond_error(request_id, ErrorShape(ErrorCode.UNAVAILABLE, message))

        deferred.addCallbacks(finished, failed)

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


def _browser_origin_rate_key(origin: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin)
        if parts.scheme and parts.netloc:
            return f"browser-origin:{parts.scheme.lower()}://{parts.netloc.lower()}"
    except ValueError:
        pass
    return _BROWSER_ORIGIN_LOOPBACK_KEY


def _missing_device_verdict(
    *, role: str, is_control_ui: bool, trusted_proxy_ui_ok: bool, local_backend_ok: bool,
    shared_ok: bool, auth_ok: bool, has_shared_auth: bool,
) -> str:
    """``evaluateMissingDeviceIdentity`` for a connect without ``device``."""
    if is_control_ui and trusted_proxy_ui_ok:
        return "allow"
    if local_backend_ok and role == ROLE_OPERATOR:
        return "allow"
    if is_control_ui:
        return "reject-control-ui-insecure-auth"
    if role == ROLE_OPERATOR and shared_ok:
        return "allow"
    if not auth_ok and has_shared_auth:
        return "reject-unauthorized"
    return "reject-device-required"


def _pairing_locality(
    *, is_local: bool, client: Mapping[str, Any], shared_ok: bool, auth_method: str,
    has_proxy_headers: bool, has_origin: bool, remote: str | None, host: str | None,
    origin: str,
) -> str:
    """``resolvePairingLocality``: how local a connect is, for silent pairing rules."""
    if is_local:
        return "direct_local"
    shared_secret = shared_ok and auth_method in ("token", "password")
    if (
        client.get("id") == ClientId.CONTROL_UI and client.get("mode") == ClientMode.WEBCHAT
        and shared_secret and not has_proxy_headers and has_origin
        and is_private_or_loopback_address(remote)
        and is_loopback_host(resolve_host_name(host))
        and is_loopback_host(_origin_hostname(origin))
    ):
        return "browser_container_local"
    if (
        shared_secret and not has_proxy_headers and not has_origin
        and is_loopback_address(remote) and is_private_or_loopback_host(resolve_host_name(host))
    ):
        if client.get("id") == ClientId.CLI and client.get("mode") == ClientMode.CLI:
            return "cli_container_local"
        return "shared_secret_loopback_local"
    return "remote"


def _origin_hostname(origin: str) -> str:
    from urllib.parse import urlsplit

    try:
        return (urlsplit(origin).hostname or "").lower()
    except ValueError:
        return ""


def _auto_approve_local(context: GatewayContext) -> bool | None:
    return context.get_config().config.gateway.nodes.pairing.auto_approve_local
