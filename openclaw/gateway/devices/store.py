"""The durable paired-device store under ``<state>/devices/``.

``paired.json`` holds approved devices (public key, approved roles/scopes, pinned client
metadata, per-role device tokens); ``pending.json`` holds pairing requests (expire after
5 minutes).

The in-memory maps are the truth; the files follow them. Every mutation hands the whole new
file to a :class:`LatestContentWriter`, which rewrites it atomically (mode 0600, fsync) off the
reactor through the context's ``run_blocking`` thread runner, one write per file at a time,
newest content winning: a burst of paired-device connects (each updates ``lastSeenAtMs``) costs
at most two writes, and nobody waits for them. :meth:`DeviceStore.ensure_token` and
:meth:`DeviceStore.durable` return Deferreds that fire once the change is on disk, for callers
that hand out what they wrote (a new device token, an approval reply).
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal, cast

import attrs
from twisted.internet.defer import Deferred, DeferredList, FirstError, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from openclaw.atomic_files import atomic_write_bytes
from openclaw.auth.decision import safe_equal_secret
from openclaw.auth.scopes import ADMIN, ROLE_OPERATOR, missing_requested_scope, role_scopes_allow

PENDING_TTL_MS: Final = 300_000
TOKEN_BYTES: Final = 32

Record = dict[str, Any]
# run_blocking(func, *args) -> Deferred[result] (GatewayContext.run_blocking)
BlockingRunner = Callable[..., "Deferred[Any]"]


def _unique(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        text = value.strip() if isinstance(value, str) else ""
        if text and text not in seen:
            seen.append(text)
    return seen


@attrs.frozen
class ApproveResult:
    status: Literal["approved", "forbidden"]
    device: Record | None = None
    scope: str | None = None

    @property
    def forbidden_message(self) -> str:
        return f"missing scope: {self.scope or 'unknown'}"


@attrs.frozen
class TokenCheck:
    ok: bool
    reason: Literal["token-mismatch", "scope-mismatch"] | None = None
    scopes: tuple[str, ...] = ()


@attrs.frozen
class PairingRequestResult:
    request: Record
    created: bool


class LatestContentWriter:
    """Keeps one file equal to the latest content handed to :meth:`write`, off the reactor.

    One atomic write runs at a time (on ``run_blocking``); content handed in meanwhile waits,
    and newer content replaces it, so the file only ever moves forward and a burst of updates
    collapses into one more write. A failed write is logged; the next change writes again.
    """

    log = Logger()

    def __init__(self, path: Path, run_blocking: BlockingRunner) -> None:
        self.path = path
        self._run_blocking = run_blocking
        self._running: Deferred[None] | None = None
        self._next: bytes | None = None
        self._running_waiters: list[Deferred[None]] = []
        self._next_waiters: list[Deferred[None]] = []

    def write(self, data: bytes) -> None:
        self._next = data
        if self._running is None:
            self._start()

    def flushed(self) -> Deferred[None]:
        """Fires once everything written so far is on disk (errback: that write failed)."""
        waiter: Deferred[None] = Deferred()
        if self._next is not None:
            self._next_waiters.append(waiter)
        elif self._running is not None:
            self._running_waiters.append(waiter)
        else:
            waiter.callback(None)
        return waiter

    def _start(self) -> None:
        data, self._next = self._next, None
        assert data is not None
        self._running_waiters, self._next_waiters = self._next_waiters, []
        running: Deferred[None] = self._run_blocking(atomic_write_bytes, self.path, data)
        self._running = running
        running.addBoth(self._finished)  # at once, when run_blocking ran inline

    def _finished(self, result: Failure | None) -> None:
        waiters, self._running_waiters = self._running_waiters, []
        self._running = None
        if isinstance(result, Failure):
            self.log.failure("could not write {path}", result, path=str(self.path))
        if self._next is not None:
            self._start()
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(None)


class DeviceStore:
    """Paired devices, pending pairing requests and device tokens."""

    log = Logger()

    def __init__(self, directory: Path, clock: IReactorTime, run_blocking: BlockingRunner
                 ) -> None:
        self.directory = directory
        self._clock = clock
        self._paired: dict[str, Record] | None = None
        self._pending: dict[str, Record] | None = None
        self._paired_file = LatestContentWriter(self.paired_path, run_blocking)
        self._pending_file = LatestContentWriter(self.pending_path, run_blocking)

    # -- persistence ---------------------------------------------------------------------

    @property
    def paired_path(self) -> Path:
        return self.directory / "paired.json"

    @property
    def pending_path(self) -> Path:
        return self.directory / "pending.json"

    def _now_ms(self) -> int:
        return int(self._clock.seconds() * 1000)

    def _read(self, path: Path, key: str) -> dict[str, Record]:
        try:
            document = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.log.error("unreadable device store {path}: {error}", path=str(path),
                           error=str(exc))
            return {}
        entries = document.get(key) if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if isinstance(v, dict)}

    def _paired_map(self) -> dict[str, Record]:
        if self._paired is None:
            self._paired = self._read(self.paired_path, "devices")
        return self._paired

    def _pending_map(self) -> dict[str, Record]:
        if self._pending is None:
            self._pending = self._read(self.pending_path, "requests")
        now = self._now_ms()
        expired = [
            request_id
            for request_id, request in self._pending.items()
            if now > int(request.get("refreshedAtMs") or request.get("ts") or 0) + PENDING_TTL_MS
        ]
        if expired:
            for request_id in expired:
                del self._pending[request_id]
            self._save_pending()
        return self._pending

    def _save_paired(self) -> None:
        # Serialized here, on the reactor thread: the writer gets a snapshot, never the map.
        document = {"version": 1, "devices": self._paired_map()}
        self._paired_file.write(json.dumps(document, indent=2).encode() + b"\n")

    def _save_pending(self) -> None:
        document = {"version": 1, "requests": self._pending or {}}
        self._pending_file.write(json.dumps(document, indent=2).encode() + b"\n")

    def durable(self) -> Deferred[None]:
        """Fires once every change made so far is on disk (errback: a write failed)."""
        waiting = DeferredList([self._paired_file.flushed(), self._pending_file.flushed()],
                               fireOnOneErrback=True, consumeErrors=True)

        def unwrap(failure: Failure) -> Failure:
            if failure.check(FirstError):
                return cast(FirstError, failure.value).subFailure
            return failure

        return waiting.addCallbacks(lambda _: None, unwrap)

    # -- queries -------------------------------------------------------------------------

    def get_paired(self, device_id: str) -> Record | None:
        record = self._paired_map().get(device_id.strip())
        return copy.deepcopy(record) if record is not None else None

    def get_pending(self, request_id: str) -> Record | None:
        request = self._pending_map().get(request_id.strip())
        return copy.deepcopy(request) if request is not None else None

    def list_pending(self) -> list[Record]:
        return sorted(
            (copy.deepcopy(r) for r in self._pending_map().values()), key=lambda r: r.get("ts", 0)
        )

    def list_paired(self) -> list[Record]:
        return sorted(
            (copy.deepcopy(r) for r in self._paired_map().values()),
            key=lambda r: r.get("approvedAtMs", 0),
        )

    @staticmethod
    def approved_roles(record: Record) -> list[str]:
        roles = record.get("roles")
        if isinstance(roles, list) and roles:
            return _unique(roles)
        role = record.get("role")
        return [role] if isinstance(role, str) and role else []

    @staticmethod
    def approved_scopes(record: Record) -> list[str]:
        scopes = record.get("approvedScopes")
        if not isinstance(scopes, list):
            scopes = record.get("scopes")
        return _unique(scopes) if isinstance(scopes, list) else []

    # -- pairing -------------------------------------------------------------------------

    def request_pairing(
        self,
        *,
        device_id: str,
        public_key: str,
        role: str,
        scopes: Sequence[str],
        silent: bool,
        metadata: Record,
    ) -> PairingRequestResult:
        """Create (or refresh) the pending request for this device key."""
        pending = self._pending_map()
        now = self._now_ms()
        for request in pending.values():
            if request.get("deviceId") == device_id and request.get("publicKey") == public_key:
                request.update({k: v for k, v in metadata.items() if v is not None})
                request["role"] = role
                request["roles"] = _unique([*request.get("roles", []), role])
                request["scopes"] = _unique([*request.get("scopes", []), *scopes])
                request["silent"] = bool(request.get("silent")) and silent
                request["refreshedAtMs"] = now
                self._save_pending()
                return PairingRequestResult(copy.deepcopy(request), created=False)
        existing = self._paired_map().get(device_id)
        request = {
            "requestId": str(uuid.uuid4()),
            "deviceId": device_id,
            "publicKey": public_key,
            **{k: v for k, v in metadata.items() if v is not None},
            "role": role,
            "roles": [role],
            "scopes": _unique(scopes),
            "silent": silent,
            "ts": now,
        }
        if existing is not None:
            request["isRepair"] = True
        pending[request["requestId"]] = request
        self._save_pending()
        return PairingRequestResult(copy.deepcopy(request), created=True)

    def approve(
        self,
        request_id: str,
        *,
        caller_scopes: Sequence[str] | None,
        approved_via: str | None = None,
    ) -> ApproveResult | None:
        """Approve a pending request; ``None`` for an unknown request id."""
        pending = self._pending_map()
        request = pending.get(request_id.strip())
        if request is None:
            return None
        roles = _unique(request.get("roles") or [request.get("role", ROLE_OPERATOR)])
        requested_scopes = _unique(request.get("scopes") or [])
        if caller_scopes is not None and ADMIN not in caller_scopes:
            missing = missing_requested_scope(ROLE_OPERATOR, requested_scopes, caller_scopes)
            if missing is not None:
                return ApproveResult("forbidden", scope=missing)
        now = self._now_ms()
        paired = self._paired_map()
        device_id = request["deviceId"]
        previous = paired.get(device_id)
        same_key = previous is not None and previous.get("publicKey") == request["publicKey"]
        base: Record = copy.deepcopy(previous) if (previous is not None and same_key) else {}
        record: Record = {
            **base,
            "deviceId": device_id,
            "publicKey": request["publicKey"],
            "role": request.get("role", roles[0] if roles else ROLE_OPERATOR),
            "roles": _unique([*(self.approved_roles(base) if base else []), *roles]),
            "scopes": _unique([*(self.approved_scopes(base) if base else []), *requested_scopes]),
            "createdAtMs": base.get("createdAtMs", now),
            "approvedAtMs": now,
        }
        record["approvedScopes"] = list(record["scopes"])
        for key in ("displayName", "platform", "deviceFamily", "clientId", "clientMode",
                    "remoteIp"):
            if request.get(key) is not None:
                record[key] = request[key]
        if approved_via:
            record["approvedVia"] = approved_via
        if not same_key:
            record["tokens"] = {}
        paired[device_id] = record
        del pending[request["requestId"]]
        self._save_paired()
        self._save_pending()
        return ApproveResult("approved", device=copy.deepcopy(record))

    def reject(self, request_id: str) -> Record | None:
        pending = self._pending_map()
        request = pending.pop(request_id.strip(), None)
        if request is None:
            return None
        self._save_pending()
        return {"requestId": request["requestId"], "deviceId": request["deviceId"]}

    def remove(self, device_id: str) -> Record | None:
        record = self._paired_map().pop(device_id.strip(), None)
        if record is None:
            return None
        self._save_paired()
        return {"deviceId": record["deviceId"]}

    def update_metadata(self, device_id: str, patch: Record) -> None:
        """Record what a connect says about the device; the write is not waited for."""
        record = self._paired_map().get(device_id)
        if record is None:
            return
        changed = False
        for key, value in patch.items():
            if value is not None and record.get(key) != value:
                record[key] = value
                changed = True
        if changed:
            self._save_paired()

    # -- device tokens -------------------------------------------------------------------

    def ensure_token(self, device_id: str, role: str, scopes: Sequence[str]
                     ) -> Deferred[Record | None]:
        """The live token for (device, role), issuing/rotating one when needed.

        A new token is handed out only once it is on disk: a client must never hold a
        token a restarted gateway does not know.
        """
        record = self._paired_map().get(device_id)
        if record is None or role not in self.approved_roles(record):
            return succeed(None)
        is_operator = role == ROLE_OPERATOR
        wanted = [s for s in _unique(scopes) if s.startswith("operator.") == is_operator]
        tokens = record.setdefault("tokens", {})
        current = tokens.get(role)
        if (
            isinstance(current, dict)
            and not current.get("revokedAtMs")
            and role_scopes_allow(role, wanted, current.get("scopes", []))
        ):
            return succeed(copy.deepcopy(current))
        now = self._now_ms()
        token = {
            "token": secrets.token_urlsafe(TOKEN_BYTES),
            "role": role,
            "scopes": wanted,
            "createdAtMs": current.get("createdAtMs", now) if isinstance(current, dict) else now,
        }
        if isinstance(current, dict):
            token["rotatedAtMs"] = now
        tokens[role] = token
        self._save_paired()
        issued: Record | None = copy.deepcopy(token)
        return self._paired_file.flushed().addCallback(lambda _: issued)

    def verify_token(
        self, device_id: str, token: str, role: str, scopes: Sequence[str]
    ) -> TokenCheck:
        record = self._paired_map().get(device_id)
        current = (record or {}).get("tokens", {}).get(role) if record else None
        if (
            not isinstance(current, dict)
            or current.get("revokedAtMs")
            or not safe_equal_secret(token, current.get("token"))
        ):
            return TokenCheck(False, "token-mismatch")
        allowed = current.get("scopes", [])
        if scopes and not role_scopes_allow(role, scopes, allowed):
            return TokenCheck(False, "scope-mismatch")
        current["lastUsedAtMs"] = self._now_ms()
        return TokenCheck(True, scopes=tuple(allowed))

    def operator_token_scopes(self, token: str) -> tuple[str, ...] | None:
        """Scopes of the live operator device token ``token`` (an HTTP ``Bearer`` from the
        Control UI, which holds the token ``hello-ok`` issued), or None. Every paired record
        is compared in constant time, so timing tells nothing about which one matched."""
        matched: tuple[str, ...] | None = None
        for record in self._paired_map().values():
            current = (record.get("tokens") or {}).get(ROLE_OPERATOR)
            if not isinstance(current, dict) or current.get("revokedAtMs"):
                continue
            if safe_equal_secret(token, current.get("token")) and matched is None:
                matched = tuple(str(s) for s in current.get("scopes") or ())
        return matched


def redact_paired_device(record: Record, *, connected: bool | None = None) -> Record:
    """Public view of a paired record: bearer tokens summarized, never exposed."""
    public = {k: v for k, v in record.items() if k not in ("tokens", "approvedScopes")}
    if connected is not None:
        public["connected"] = connected
    tokens = record.get("tokens")
    if isinstance(tokens, dict) and tokens:
        summaries = []
        for token in tokens.values():
            if not isinstance(token, dict):
                continue
            summary = {"role": token.get("role"), "scopes": token.get("scopes", [])}
            for key in ("createdAtMs", "rotatedAtMs", "revokedAtMs", "lastUsedAtMs"):
                if token.get(key) is not None:
                    summary[key] = token[key]
            summaries.append(summary)
        public["tokens"] = sorted(summaries, key=lambda s: str(s.get("role")))
    return public
