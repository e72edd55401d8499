"""The ``connect`` request, step by step: :class:`ConnectFlow`.

One flow per ``connect``, in the reference gateway's order of checks (``connect-admission``,
``connect-auth``, ``connect-device-pairing``):

1. :meth:`~ConnectFlow.admit` - protocol version, role, the browser copilot's requirements,
   the browser ``Origin``;
2. :meth:`~ConnectFlow.authenticate` - the shared secret (or trusted proxy) through
   :func:`openclaw.auth.decision.decide_auth`, with the loopback penalty delay;
3. :meth:`~ConnectFlow.check_missing_device` - a connect without a device identity;
4. :meth:`~ConnectFlow.verify_device` - the device proof (signature, nonce, skew), then the
   device-token fallback when the shared secret did not pass;
5. :meth:`~ConnectFlow.pair` - the pairing policy (silent local approval, upgrades), the
   device token;
6. the connection attaches the session (``hello-ok``).

A refusal answers the request and closes the socket (``GatewayConnection._reject``) and
raises, so the flow stops where it failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.logger import Logger

from openclaw.auth.decision import AuthDecision, AuthRequest, classify_ingress, decide_auth
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
from openclaw.gateway.devices import identity as ident
from openclaw.gateway.devices.pairing import (
    PairingFailure,
    metadata_mismatch,
    pairing_failure,
    should_allow_silent_local_pairing,
)
from openclaw.gateway.devices.store import DeviceStore
from openclaw.gateway.protocol.auth_failure import (
    auth_detail_code,
    auth_provided_kind,
    format_auth_failure_message,
    recommended_next_step,
)
from openclaw.gateway.protocol.constants import (
    CLOSE_AUTH_CHANGED,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    DEVICE_SIGNATURE_SKEW_MS,
    ClientId,
    ClientMode,
)
from openclaw.gateway.protocol.errors import (
    DetailCode,
    ErrorCode,
    GatewayError,
    invalid_request,
)
from openclaw.gateway.protocol.handshake import negotiate_protocol
from openclaw.gateway.protocol.session import (
    is_browser_operator_ui,
    is_native_app_ui,
    is_operator_ui,
    is_webchat,
)

if TYPE_CHECKING:
    from openclaw.gateway.protocol.connection import GatewayConnection, _Rejected
    from openclaw.gateway.protocol.context import GatewayContext

log = Logger(namespace="gateway.protocol")

SHARED_AUTH_METHODS: Final = ("token", "password", "trusted-proxy")
_BROWSER_ORIGIN_LOOPBACK_KEY: Final = "198.18.0.1"


def _trimmed(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class ConnectFlow:
    """One ``connect`` request of one connection (see the module docstring)."""

    def __init__(self, connection: GatewayConnection, request_id: str,
                 params: dict[str, Any]) -> None:
        self.connection = connection
        self.request_id = request_id
        self.params = params
        self.ctx: GatewayContext = connection.context
        self.settings = self.ctx.auth
        self.client: dict[str, Any] = params["client"]
        self.client_id: str = self.client["id"]
        self.mode: str = self.client["mode"]
        self.caps = tuple(params.get("caps") or ())
        self.role: str = params.get("role", ROLE_OPERATOR)
        self.scopes: list[str] = list(params.get("scopes") or [])
        peer = connection.peer
        self.origin = (peer.origin or "").strip()
        self.has_origin = bool(self.origin)
        self.ingress = classify_ingress(
            peer.remote_address, peer.headers, self.settings.trusted_proxies,
            allow_real_ip_fallback=self.settings.allow_real_ip_fallback)
        self.is_local = self.ingress.is_local_direct
        self.is_copilot = self.client_id == ClientId.BROWSER_COPILOT
        self.is_control_ui = is_operator_ui(self.client) and not self.is_copilot
        self.is_webchat = is_webchat(self.client)
        # the credentials
        self.auth: dict[str, Any] = params.get("auth") or {}
        self.device: dict[str, Any] | None = params.get("device")
        self.shared_token = _trimmed(self.auth.get("token"))
        self.shared_password = _trimmed(self.auth.get("password"))
        self.has_shared_auth = bool(self.auth.get("token")) or bool(self.auth.get("password"))
        self.device_credential: str | None = None
        self.explicit_device_token = False
        if self.device is not None:
            if _trimmed(self.auth.get("deviceToken")):
                self.device_credential = _trimmed(self.auth.get("deviceToken"))
                self.explicit_device_token = True
            elif self.shared_token:
                self.device_credential = self.shared_token
        # the outcome so far
        self.decision = AuthDecision(False)
        self.failed = self.decision
        self.auth_ok = False
        self.auth_method = "token"
        self.shared_ok = False
        self.subject: str | None = None
        self.device_public_key: str | None = None

    # -- the whole flow -------------------------------------------------------------------

    async def run(self) -> None:
        self.admit()
        await self.authenticate()
        where = self.locality()
        if self.device is None:
            self.check_missing_device(where)
        else:
            self.verify_device()
        await self.device_token_fallback()
        if not self.auth_ok:
            raise self.reject_unauthorized(self.failed)
        device_token = await self.pair()
        connection = self.connection
        if connection.is_closed:
            from openclaw.gateway.protocol.connection import _Rejected

            raise _Rejected()
        uses_shared = self.auth_method in SHARED_AUTH_METHODS
        fingerprint = self.settings.shared_secret_fingerprint() if uses_shared else None
        if fingerprint is not None and fingerprint != self.ctx.auth.shared_secret_fingerprint():
            # the secret rotated while this connect was being decided
            connection.close(CLOSE_AUTH_CHANGED, "gateway auth changed")
            from openclaw.gateway.protocol.connection import _Rejected

            raise _Rejected()
        device = self.device
        connection._attach(
            self.request_id, self.params, self.client, self.role, self.scopes, self.caps,
            device_id=device["id"] if device else None, auth_method=self.auth_method,
            is_local=self.is_local, client_ip=self.ingress.client_ip,
            device_token=device_token, fingerprint=fingerprint)

    def reject(self, error: GatewayError, code: int = CLOSE_POLICY_VIOLATION,
               reason: str | None = None) -> _Rejected:
        return self.connection._reject(self.request_id, error, code, reason)

    # -- 1. admission ---------------------------------------------------------------------

    def admit(self) -> None:
        mismatch = negotiate_protocol(self.params)
        if mismatch is not None:
            raise self.reject(mismatch, CLOSE_PROTOCOL_ERROR, "protocol mismatch")
        if self.role not in ROLES:
            raise self.reject(invalid_request("invalid role"))
        copilot_origin = self.check_copilot()
        if copilot_origin is None and (self.has_origin or is_browser_operator_ui(self.client)
                                       or self.is_webchat):
            self.check_origin()

    def check_copilot(self) -> str | None:
        """The browser copilot's extension origin (None: not the copilot)."""
        if not self.is_copilot:
            return None
        if self.mode != ClientMode.UI or "run-tool-bindings" not in self.caps \
                or "session-scoped-events" not in self.caps:
            raise self.reject(invalid_request(
                "browser copilot requires ui mode with run-tool-bindings and "
                "session-scoped-events capabilities"))
        if not self.origin.startswith("chrome-extension://"):
            raise self.reject(invalid_request(
                "browser copilot requires a canonical Chrome extension origin",
                details={"code": DetailCode.CONTROL_UI_ORIGIN_NOT_ALLOWED,
                         "reason": "invalid browser copilot origin"}))
        return self.origin

    def check_origin(self) -> None:
        settings = self.settings
        check = check_browser_origin(
            self.origin,
            request_host=self.connection.peer.host,
            allowed_origins=settings.allowed_origins,
            is_local_client=self.is_local,
            allow_host_header_fallback=settings.allow_host_header_origin_fallback,
        )
        if not check.ok:
            raise self.reject(invalid_request(
                ORIGIN_NOT_ALLOWED_MESSAGE,
                details={"code": DetailCode.CONTROL_UI_ORIGIN_NOT_ALLOWED,
                         "reason": check.reason}))

    # -- 2. the shared secret -------------------------------------------------------------

    async def authenticate(self) -> None:
        settings, ctx, peer = self.settings, self.ctx, self.connection.peer
        presented = self.shared_token or self.shared_password
        decision = decide_auth(
            settings,
            AuthRequest(remote_address=peer.remote_address, headers=peer.headers,
                        token=self.shared_token, password=self.shared_password,
                        local_addresses=ctx.local_addresses),
            ctx.rate_limiter if presented else None,
            defer_failure=self.device_credential is not None,
        )
        if self.has_origin and is_loopback_address(self.ingress.client_ip):
            # loopback browsers are told apart by origin for the failure limiter
            subject = browser_origin_rate_key(self.origin)
            if decision.subject != subject:
                decision = attrs.evolve(decision, subject=subject)
        self.decision = self.failed = decision
        self.subject = decision.subject
        await self.connection._sleep(decision.delay_seconds)
        self.auth_ok = decision.ok
        self.auth_method = decision.method or ("password" if settings.mode == "password"
                                               else "token")
        self.shared_ok = decision.ok and decision.method in SHARED_AUTH_METHODS

    @property
    def pending_shared_failure(self) -> bool:
        """A shared secret that failed while a device credential may still pass: the failure
        is recorded only if that fallback fails too."""
        return self.device_credential is not None and self.decision.reason in (
            "token_mismatch", "password_mismatch")

    def reject_unauthorized(self, failure: AuthDecision) -> _Rejected:
        auth, device = self.auth, self.device
        provided = auth_provided_kind(auth.get("token"), auth.get("password"),
                                      auth.get("bootstrapToken"), auth.get("deviceToken"))
        can_retry = (failure.reason == "token_mismatch" and device is not None
                     and provided == "token" and not auth.get("deviceToken"))
        message = format_auth_failure_message(
            mode=self.settings.mode, auth_provided=provided, reason=failure.reason,
            client_mode=self.mode, client_is_operator_ui=is_operator_ui(self.client),
            client_is_webchat=self.is_webchat, is_local_client=self.is_local)
        details: dict[str, Any] = {"code": auth_detail_code(failure.reason)}
        if failure.reason is not None:
            details["authReason"] = failure.reason
        details["canRetryWithDeviceToken"] = can_retry
        details["recommendedNextStep"] = recommended_next_step(failure.reason, can_retry)
        connection = self.connection
        log.warn(
            "unauthorized conn={conn} peer={peer} client={client} mode={mode} role={role} "
            "auth={auth} device={device} reason={reason}",
            conn=connection.conn_id, peer=connection.peer.remote_address,
            client=self.client_id, mode=self.mode, role=self.role, auth=provided,
            device="yes" if device else "no", reason=failure.reason,
        )
        error = GatewayError(
            ErrorCode.INVALID_REQUEST, message, details=details,
            retryable=True if failure.rate_limited else None,
            retry_after_ms=failure.retry_after_ms if failure.rate_limited else None)
        return self.reject(error, CLOSE_POLICY_VIOLATION, message)

    # -- locality ---------------------------------------------------------------------------

    def locality(self) -> str:
        peer = self.connection.peer
        return pairing_locality(
            is_local=self.is_local, client=self.client, shared_ok=self.shared_ok,
            auth_method=self.auth_method,
            has_proxy_headers=self.ingress.kind == "trusted-proxy",
            has_origin=self.has_origin, remote=peer.remote_address, host=peer.host,
            origin=self.origin)

    def skip_backend_pairing(self, where: str) -> bool:
        return (self.client_id == ClientId.GATEWAY_CLIENT and self.mode == ClientMode.BACKEND
                and where in ("direct_local", "shared_secret_loopback_local")
                and not self.has_origin
                and (self.auth_method in ("none", "device-token")
                     or (self.shared_ok and self.auth_method in ("token", "password"))))

    def preserve_cli_scopes(self, where: str) -> bool:
        return (self.client_id == ClientId.CLI and self.mode == ClientMode.CLI
                and where in ("direct_local", "cli_container_local") and not self.has_origin
                and self.shared_ok and self.auth_method in ("token", "password"))

    # -- 3. no device identity ------------------------------------------------------------

    def check_missing_device(self, where: str) -> None:
        settings = self.settings
        skip_backend = self.skip_backend_pairing(where)
        trusted_proxy_ui = (self.is_control_ui and self.role == ROLE_OPERATOR
                            and settings.mode == "trusted-proxy" and self.auth_ok
                            and self.auth_method == "trusted-proxy")
        verdict = missing_device_verdict(
            role=self.role, is_control_ui=self.is_control_ui,
            trusted_proxy_ui_ok=trusted_proxy_ui, local_backend_ok=skip_backend,
            shared_ok=self.shared_ok, auth_ok=self.auth_ok,
            has_shared_auth=self.has_shared_auth)
        if not skip_backend and not self.preserve_cli_scopes(where) and (
                verdict != "allow" or self.auth_method in SHARED_AUTH_METHODS):
            self.scopes = []
        if verdict == "reject-control-ui-insecure-auth":
            raise self.reject(invalid_request(
                "control ui requires device identity (use HTTPS or localhost secure context)",
                details={"code": DetailCode.CONTROL_UI_DEVICE_IDENTITY_REQUIRED}))
        if verdict == "reject-unauthorized":
            raise self.reject_unauthorized(self.decision)
        if verdict == "reject-device-required":
            raise self.reject(GatewayError(
                ErrorCode.NOT_PAIRED, "device identity required",
                details={"code": DetailCode.DEVICE_IDENTITY_REQUIRED}))

    # -- 4. the device identity -----------------------------------------------------------

    def verify_device(self) -> None:
        device = self.device
        assert device is not None
        proof_error = self.device_proof_error(device)
        if proof_error is not None:
            if self.pending_shared_failure:
                self.ctx.rate_limiter.record_failure(self.subject, SCOPE_SHARED_SECRET)
            raise self.reject(proof_error)
        self.device_public_key = ident.normalize_public_key(device["publicKey"])

    def device_proof_error(self, device: Mapping[str, Any]) -> GatewayError | None:
        def failure(reason: str, message: str, code: str) -> GatewayError:
            return invalid_request(message, details={"code": code, "reason": reason})

        derived = ident.device_id_for_public_key(device["publicKey"])
        if not derived or derived != device["id"]:
            return failure("device-id-mismatch", "device identity mismatch",
                           DetailCode.DEVICE_AUTH_DEVICE_ID_MISMATCH)
        signed_at = device["signedAt"]
        if abs(self.ctx.now_ms() - signed_at) > DEVICE_SIGNATURE_SKEW_MS:
            return failure("device-signature-stale", "device signature expired",
                           DetailCode.DEVICE_AUTH_SIGNATURE_EXPIRED)
        nonce = device["nonce"].strip()
        if not nonce:
            return failure("device-nonce-missing", "device nonce required",
                           DetailCode.DEVICE_AUTH_NONCE_REQUIRED)
        if nonce != self.connection.nonce:
            return failure("device-nonce-mismatch", "device nonce mismatch",
                           DetailCode.DEVICE_AUTH_NONCE_MISMATCH)
        auth, client = self.auth, self.client
        signature_token = next(
            (auth[key] for key in ("token", "deviceToken", "bootstrapToken")
             if auth.get(key) is not None), None)
        fields = ident.SignedConnectFields(
            device_id=device["id"], client_id=client["id"], client_mode=client["mode"],
            role=self.role, scopes=tuple(self.scopes), signed_at_ms=int(signed_at),
            token=signature_token, nonce=nonce, platform=client.get("platform"),
            device_family=client.get("deviceFamily"))
        if ident.signature_payload_version(device["publicKey"], device["signature"], fields) \
                is None:
            return failure("device-signature", "device signature invalid",
                           DetailCode.DEVICE_AUTH_SIGNATURE_INVALID)
        if ident.normalize_public_key(device["publicKey"]) is None:
            return failure("device-public-key", "device public key invalid",
                           DetailCode.DEVICE_AUTH_PUBLIC_KEY_INVALID)
        return None

    async def device_token_fallback(self) -> None:
        """A device whose shared secret did not pass may hold a device token instead."""
        device, ctx, subject = self.device, self.ctx, self.subject
        limiter = ctx.rate_limiter
        if device is not None and not self.auth_ok and self.device_credential is not None:
            limit = limiter.check(subject, SCOPE_DEVICE_TOKEN)
            if not limit.allowed:
                self.failed = AuthDecision(False, reason="rate_limited", rate_limited=True,
                                           retry_after_ms=limit.retry_after_ms,
                                           subject=subject)
            else:
                token_check = ctx.device_store.verify_token(
                    device["id"], self.device_credential, self.role, self.scopes)
                if token_check.ok:
                    self.auth_ok, self.auth_method = True, "device-token"
                    limiter.reset(subject, SCOPE_DEVICE_TOKEN)
                else:
                    if token_check.reason == "scope-mismatch":
                        reason = "scope_mismatch"
                    elif self.explicit_device_token:
                        reason = "device_token_mismatch"
                    else:
                        reason = self.decision.reason or "device_token_mismatch"
                    self.failed = AuthDecision(False, reason=reason, subject=subject)
                    limiter.record_failure(subject, SCOPE_DEVICE_TOKEN)
        if self.pending_shared_failure and not self.auth_ok:
            await self.connection._sleep(
                limiter.record_failure_delay(subject, SCOPE_SHARED_SECRET))

    # -- 5. pairing -----------------------------------------------------------------------

    async def pair(self) -> dict[str, Any] | None:
        """The pairing policy; the device token to hand out (None: none)."""
        device, public_key = self.device, self.device_public_key
        if device is None or public_key is None:
            return None
        where = self.locality()
        skip_backend = self.skip_backend_pairing(where)
        store = self.ctx.device_store
        device_id: str = device["id"]
        paired = store.get_paired(device_id)
        is_paired = paired is not None and paired.get("publicKey") == public_key
        auth_none_ui = (self.is_control_ui and self.role == ROLE_OPERATOR
                        and self.settings.mode == "none")
        access = {
            "displayName": self.client.get("displayName"),
            "remoteIp": self.ingress.client_ip if not self.is_local else None,
            "lastSeenAtMs": self.ctx.now_ms(),
            "lastSeenReason": "connect",
        }
        baseline = True
        if skip_backend or auth_none_ui:
            if is_paired:
                store.update_metadata(device_id, access)
            else:
                baseline = auth_none_ui or self.auth_method != "device-token"
        elif not is_paired:
            self.require_pairing("not-paired", paired, where, access)
        else:
            assert paired is not None
            role, scopes = self.role, self.scopes
            if metadata_mismatch(self.client, paired):
                self.require_pairing("metadata-upgrade", paired, where, access)
            elif role not in DeviceStore.approved_roles(paired):
                self.require_pairing("role-upgrade", paired, where, access)
            elif scopes and not (
                DeviceStore.approved_scopes(paired)
                and role_scopes_allow(role, scopes, DeviceStore.approved_scopes(paired))
            ):
                self.require_pairing("scope-upgrade", paired, where, access)
            store.update_metadata(device_id, access)
        if not baseline:
            return None
        return await store.ensure_token(device_id, self.role, self.scopes)

    def require_pairing(self, reason: str, existing: dict[str, Any] | None, where: str,
                        access: Mapping[str, Any]) -> None:
        """Create the pairing request, approve it silently when local, else reject."""
        device, public_key = self.device, self.device_public_key
        assert device is not None and public_key is not None
        ctx, client, role, scopes = self.ctx, self.client, self.role, self.scopes
        store = ctx.device_store
        device_id: str = device["id"]
        silent = not (existing is not None and role != ROLE_OPERATOR) and \
            should_allow_silent_local_pairing(
                locality=where, has_browser_origin=self.has_origin,
                is_control_ui=self.is_control_ui, is_webchat=self.is_webchat,
                is_native_app_ui=is_native_app_ui(client), auth_method=self.auth_method,
                reason=reason, auto_approve_local=auto_approve_local(ctx))
        metadata = {
            "displayName": client.get("displayName"),
            "platform": client.get("platform"),
            "deviceFamily": client.get("deviceFamily"),
            "clientId": client.get("id"),
            "clientMode": client.get("mode"),
            "remoteIp": self.ingress.client_ip if not self.is_local else None,
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
                log.info("device pairing auto-approved device={device} role={role}",
                         device=device_id, role=role)
                store.update_metadata(device_id, dict(access))
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
            wait_for_approval=(self.is_control_ui and role == ROLE_OPERATOR
                               and pending_id is not None))
        raise self.reject(GatewayError(ErrorCode.NOT_PAIRED, result.message,
                                       details=result.details),
                          CLOSE_POLICY_VIOLATION, result.close_reason)


def browser_origin_rate_key(origin: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin)
        if parts.scheme and parts.netloc:
            return f"browser-origin:{parts.scheme.lower()}://{parts.netloc.lower()}"
    except ValueError:
        pass
    return _BROWSER_ORIGIN_LOOPBACK_KEY


def missing_device_verdict(
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


def pairing_locality(
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


def auto_approve_local(context: GatewayContext) -> bool | None:
    return context.get_config().config.gateway.nodes.pairing.auto_approve_local


__all__ = ["ConnectFlow", "missing_device_verdict", "pairing_locality"]
