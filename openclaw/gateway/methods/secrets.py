"""Secrets family: ``secrets.reload``.

``secrets.reload {}`` re-resolves every active SecretRef of the running config (no config
write) and swaps the secrets snapshot all or nothing -> ``{ok: true, warningCount}``. A
rotated ``gateway.auth.token``/``password`` takes effect at once: sessions on the old shared
secret are closed 4001 and the old secret is refused from then on. On failure the previous
snapshot keeps serving and the error names each failed ref: ``UNAVAILABLE "secrets.reload
failed: <path> (<source>:<provider>:<id>): <reason>"`` (openclaw 2026.9 answers the bare
``secrets.reload failed``; the suffix tells the operator which ref to fix).
"""

from __future__ import annotations

from typing import Any, Final

from twisted.logger import Logger

from openclaw.gateway.protocol.dispatch import MethodCall
from openclaw.gateway.protocol.errors import ErrorCode, GatewayError
from openclaw.gateway.protocol.schema import Object

log = Logger(namespace="secrets")

SECRETS_RELOAD_PARAMS: Final = Object({})


async def _reload(call: MethodCall) -> dict[str, Any]:
    from openclaw.gateway.reload.runtime import runtime_of
    from openclaw.secrets import SecretResolutionError

    runtime = runtime_of(call.context)
    if runtime is None:
        raise GatewayError(ErrorCode.UNAVAILABLE, "secrets.reload failed: no secrets runtime")
    try:
        snapshot = await runtime.reload_secrets()
    except SecretResolutionError as e:
        log.warn("secrets.reload failed: {reason}", reason=str(e))
        raise GatewayError(
            ErrorCode.UNAVAILABLE, f"secrets.reload failed: {e}",
            details={"failures": [{"path": f.path, "ref": f.ref, "message": f.message}
                                  for f in e.failures]}) from None
    return {"ok": True, "warningCount": len(snapshot.warnings)}


def secrets_reload(call: MethodCall) -> Any:
    return _reload(call)
