"""Pairing policy helpers: silent local approval, metadata pinning, ``PAIRING_REQUIRED``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from openclaw.gateway.devices.identity import normalize_metadata
from openclaw.gateway.protocol.errors import DetailCode

_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

_REASONS: Final[Mapping[str, tuple[str, str]]] = {
    "not-paired": (
        "device is not approved yet",
        "Approve this device from the pending pairing requests.",
    ),
    "role-upgrade": (
        "device is asking for a higher role than currently approved",
        "Review the requested role upgrade, then approve the pending request.",
    ),
    "scope-upgrade": (
        "device is asking for more scopes than currently approved",
        "Review the requested scopes, then approve the pending upgrade.",
    ),
    "metadata-upgrade": (
        "device identity changed and must be re-approved",
        "Review the refreshed device details, then approve the pending request.",
    ),
}


def should_allow_silent_local_pairing(
    *,
    locality: str,
    has_browser_origin: bool,
    is_control_ui: bool,
    is_webchat: bool,
    is_native_app_ui: bool,
    auth_method: str,
    reason: str,
    auto_approve_local: bool | None,
) -> bool:
    """Direct-local (and container-local shared-secret) connects are approved silently."""
    if locality == "remote":
        return False
    if has_browser_origin and not is_control_ui and not is_webchat:
        return False
    if reason == "metadata-upgrade":
        return (
            not has_browser_origin
            and not is_control_ui
            and not is_webchat
            and (
                (locality == "direct_local" and is_native_app_ui)
                or locality in ("cli_container_local", "shared_secret_loopback_local")
            )
        )
    if auto_approve_local is False:
        return False
    if reason == "scope-upgrade":
        return auth_method in ("none", "token", "password")
    return True


def metadata_mismatch(client: Mapping[str, Any], paired: Mapping[str, Any]) -> bool:
    """Paired platform/deviceFamily are pinned: a changed claim needs re-approval."""
    for claimed_key, pinned_key in (("platform", "platform"), ("deviceFamily", "deviceFamily")):
        pinned = normalize_metadata(paired.get(pinned_key))
        if pinned and normalize_metadata(client.get(claimed_key)) != pinned:
            return True
    return False


@attrs.frozen
class PairingFailure:
    message: str
    details: dict[str, Any]
    close_reason: str


def pairing_failure(
    *,
    reason: str,
    request_id: str | None,
    device_id: str,
    role: str,
    scopes: Sequence[str],
    approved_roles: Sequence[str] = (),
    approved_scopes: Sequence[str] = (),
    wait_for_approval: bool = False,
) -> PairingFailure:
    requirement, hint = _REASONS.get(reason, ("device approval is required",
                                             "Approve the pending device request before "
                                             "retrying."))
    message = f"pairing required: {requirement}"
    safe_request_id = request_id if request_id and _REQUEST_ID.match(request_id) else None
    details: dict[str, Any] = {"code": DetailCode.PAIRING_REQUIRED, "reason": reason}
    if safe_request_id:
        details["requestId"] = safe_request_id
    details["remediationHint"] = hint
    if wait_for_approval:
        details.update(recommendedNextStep="wait_then_retry", retryable=True,
                       pauseReconnect=False)
    details["deviceId"] = device_id
    details["requestedRole"] = role
    trimmed = [scope.strip() for scope in scopes if scope.strip()]
    if trimmed:
        details["requestedScopes"] = trimmed
    if approved_roles:
        details["approvedRoles"] = list(approved_roles)
    if approved_scopes:
        details["approvedScopes"] = list(approved_scopes)
    close_reason = f"{message} (requestId: {safe_request_id})" if safe_request_id else message
    return PairingFailure(message, details, close_reason)
