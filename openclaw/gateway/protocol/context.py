"""Everything connections and methods need, built once by ``GatewayService``.

Library code never imports the global reactor: the clock (and, for file reads of size, the
thread pool) arrive through :class:`GatewayContext`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from twisted.internet.interfaces import IReactorTime

from openclaw.auth.decision import AuthSettings
from openclaw.auth.preauth import PreauthBudget, preauth_limit_from_env
from openclaw.auth.ratelimit import AuthRateLimiter
from openclaw.blocking import BlockingRunner, blocking_runner
from openclaw.config.loader import ConfigSnapshot
from openclaw.gateway.devices.identity import GatewayIdentity, gateway_identity_path
from openclaw.gateway.devices.store import DeviceStore
from openclaw.gateway.protocol.constants import (
    HANDSHAKE_TIMEOUT_MS,
    MAX_BUFFERED_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_PREAUTH_PAYLOAD_BYTES,
    TICK_INTERVAL_MS,
)
from openclaw.gateway.protocol.events import EventBus
from openclaw.gateway.protocol.session import ClientSession
from openclaw.gateway.status.health import EventLoopMonitor, HealthState
from openclaw.gateway.status.presence import PresenceRegistry


@attrs.frozen
class ConnectionPolicy:
    """Limits advertised in ``hello-ok.policy`` and enforced per connection."""

    max_payload: int = MAX_PAYLOAD_BYTES
    max_buffered_bytes: int = MAX_BUFFERED_BYTES
    max_preauth_payload: int = MAX_PREAUTH_PAYLOAD_BYTES
    tick_interval_ms: int = TICK_INTERVAL_MS
    handshake_timeout_ms: int = HANDSHAKE_TIMEOUT_MS


def handshake_timeout_from_env(env: dict[str, str] | os._Environ[str]) -> int:
    """``OPENCLAW_HANDSHAKE_TIMEOUT_MS`` overrides the pre-auth handshake budget."""
    raw = env.get("OPENCLAW_HANDSHAKE_TIMEOUT_MS", "").strip()
    try:
        value = int(raw)
    except ValueError:
        return HANDSHAKE_TIMEOUT_MS
    return value if value > 0 else HANDSHAKE_TIMEOUT_MS


def daily_log_file(state_dir: Path, clock: IReactorTime) -> Callable[[], str | os.PathLike[str]]:
    """``<state>/logs/openclaw-YYYY-MM-DD.log`` for the clock's current local date."""

    def current() -> Path:
        day = time.strftime("%Y-%m-%d", time.localtime(clock.seconds()))
        return state_dir / "logs" / f"openclaw-{day}.log"

    return current


def _default_redact(value: Any) -> Any:
    from openclaw.config.redact import redact_config

    return redact_config(value)


def _default_schema() -> dict[str, Any]:
    from openclaw.config import config_json_schema

    schema: dict[str, Any] = config_json_schema()
    return schema


@attrs.define
class GatewayContext:
    """Shared state of the WebSocket control plane (one per gateway process)."""

    clock: IReactorTime
    version: str
    state_dir: Path
    # The running config (swapped whole by a reload).
    get_config: Callable[[], ConfigSnapshot]
    auth: AuthSettings
    # Returns the current log file path (``LogService.current_log_path``).
    log_file: Callable[[], str | os.PathLike[str]]
    device_store: DeviceStore
    presence: PresenceRegistry
    events: EventBus
    identity: GatewayIdentity
    rate_limiter: AuthRateLimiter
    health: HealthState
    event_loop: EventLoopMonitor
    run_blocking: BlockingRunner
    instance_id: str
    boot_id: str
    started_at: float
    policy: ConnectionPolicy = ConnectionPolicy()
    redact_config: Callable[[Any], Any] = _default_redact
    config_schema: Callable[[], dict[str, Any]] = _default_schema
    # This host's interface addresses (a trusted proxy must not be the gateway itself).
    local_addresses: frozenset[str] = frozenset()
    last_heartbeat: dict[str, Any] | None = None
    # The gateway's ``channels`` service (``ChannelsService``); None: no channels run.
    channels: Any = None
    # ``status`` facts only the gateway tree knows (set by its wiring; None: defaults).
    shutdown_budget: Callable[[], dict[str, Any]] | None = None
    worker_pools: Callable[[], dict[str, Any]] | None = None
    # In-flight asynchronous RPC requests over all connections (set by the WS factory).
    active_requests: Callable[[], int] = lambda: 0
    # ``hello-ok.features.capabilities``: what the registered families implement; the ones a
    # client may use in its ``connect`` are announced in ``connect.challenge`` too.
    capabilities: list[str] = attrs.Factory(list)
    challenge_capabilities: list[str] = attrs.Factory(list)
    # Called after ``hello-ok`` (and the presence broadcast) with the session and the
    # connect params: per-connection follow-ups such as the ``models.snapshot`` event.
    hello_hooks: list[Callable[[ClientSession, Mapping[str, Any]], None]] = attrs.Factory(list)
    # Unauthenticated WebSockets per client address, shared with /voiceclaw/realtime.
    preauth_budget: PreauthBudget = attrs.Factory(
        lambda: PreauthBudget(preauth_limit_from_env(os.environ)))

    @classmethod
    def create(
        cls,
        *,
        clock: IReactorTime,
        version: str,
        state_dir: Path,
        get_config: Callable[[], ConfigSnapshot],
        auth: AuthSettings,
        log_file: Callable[[], str | os.PathLike[str]] | None = None,
        run_blocking: BlockingRunner | None = None,
        policy: ConnectionPolicy | None = None,
        identity: GatewayIdentity | None = None,
        instance_id: str | None = None,
        host: str | None = None,
        ip: str | None = None,
        redact_config: Callable[[Any], Any] | None = None,
        config_schema: Callable[[], dict[str, Any]] | None = None,
        local_addresses: frozenset[str] = frozenset(),
    ) -> GatewayContext:
        """Build a context with its stores; small synchronous file I/O (identity key)."""
        state_dir = Path(state_dir)
        if run_blocking is None:
            run_blocking = blocking_runner(clock)
        instance = instance_id or str(uuid.uuid4())
        return cls(
            clock=clock,
            version=version,
            state_dir=state_dir,
            get_config=get_config,
            auth=auth,
            log_file=log_file or daily_log_file(state_dir, clock),
            device_store=DeviceStore(state_dir / "devices", clock, run_blocking),
            presence=PresenceRegistry(clock, version=version, instance_id=instance, host=host,
                                      ip=ip),
            events=EventBus(),
            identity=identity or GatewayIdentity.load_or_create(gateway_identity_path(state_dir)),
            rate_limiter=AuthRateLimiter(clock, auth.rate_limit),
            health=HealthState(clock),
            event_loop=EventLoopMonitor(clock),
            run_blocking=run_blocking,
            instance_id=instance,
            boot_id=str(uuid.uuid4()),
            started_at=clock.seconds(),
            policy=policy or ConnectionPolicy(handshake_timeout_ms=handshake_timeout_from_env(
                os.environ)),
            redact_config=redact_config or _default_redact,
            config_schema=config_schema or _default_schema,
            local_addresses=local_addresses,
        )

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    def uptime_ms(self) -> int:
        return max(0, round((self.clock.seconds() - self.started_at) * 1000))
