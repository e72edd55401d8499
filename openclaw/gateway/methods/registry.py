"""The one place that maps every RPC method to its handler and required scope.

``features.methods`` in ``hello-ok`` is derived from this table (advertised entries only),
so the gateway advertises exactly what it implements. Scopes follow the reference
``method-scopes`` table of openclaw 2026.9.6; ``health`` is public (any authenticated
connection). A method we do not implement is authorized with its reference scope (else
``operator.admin``, default deny) and then answered ``unknown method: X``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from openclaw.gateway.methods import (
    agents,
    channels,
    config,
    config_write,
    devices,
    logs,
    models,
    secrets,
    system,
)
from openclaw.gateway.methods.base import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request
from openclaw.gateway.protocol.schema import EMPTY_PARAMS
from openclaw.gateway.protocol.scopes import ADMIN, PAIRING, PUBLIC, READ

if TYPE_CHECKING:
    from openclaw.gateway.methods.agent import AgentGateway


def _connect_again(call: MethodCall) -> None:
    raise invalid_request("connect is only valid as the first request")


CORE_METHODS: Final[tuple[MethodSpec, ...]] = (
    MethodSpec("health", system.health, PUBLIC),
    MethodSpec("logs.tail", logs.logs_tail, READ, logs.LOGS_TAIL_PARAMS),
    MethodSpec("channels.status", channels.channels_status, READ,
               channels.CHANNELS_STATUS_PARAMS),
    MethodSpec("status", system.status, READ),
    MethodSpec("config.get", config.config_get, READ, EMPTY_PARAMS),
    MethodSpec("config.set", config_write.config_set, ADMIN, config_write.CONFIG_SET_PARAMS),
    MethodSpec("config.apply", config_write.config_apply, ADMIN,
               config_write.CONFIG_APPLY_PARAMS),
    MethodSpec("config.patch", config_write.config_patch, ADMIN,
               config_write.CONFIG_PATCH_PARAMS),
    MethodSpec("config.schema", config.config_schema, READ, EMPTY_PARAMS),
    MethodSpec("secrets.reload", secrets.secrets_reload, ADMIN, secrets.SECRETS_RELOAD_PARAMS),
    MethodSpec("models.list", models.models_list, READ, models.MODELS_LIST_PARAMS),
    MethodSpec("agents.list", agents.agents_list, READ, EMPTY_PARAMS),
    MethodSpec("last-heartbeat", system.last_heartbeat, READ),
    MethodSpec("device.pair.list", devices.device_pair_list, PAIRING,
               devices.DEVICE_PAIR_LIST_PARAMS),
    MethodSpec("device.pair.approve", devices.device_pair_approve, PAIRING,
               devices.DEVICE_PAIR_REQUEST_PARAMS),
    MethodSpec("device.pair.reject", devices.device_pair_reject, PAIRING,
               devices.DEVICE_PAIR_REQUEST_PARAMS),
    MethodSpec("device.pair.remove", devices.device_pair_remove, PAIRING,
               devices.DEVICE_PAIR_REMOVE_PARAMS),
    MethodSpec("gateway.identity.get", system.gateway_identity, READ),
    MethodSpec("system-presence", system.system_presence, READ),
    MethodSpec("connect", _connect_again, ADMIN, advertise=False),
)


class MethodRegistry:
    """Name → :class:`MethodSpec`; later registrations of a name replace earlier ones."""

    def __init__(self, specs: Iterable[MethodSpec] = CORE_METHODS) -> None:
        self._specs: dict[str, MethodSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: MethodSpec) -> None:
        self._specs[spec.name] = spec
        self._advertised: list[str] | None = None

    def get(self, name: str) -> MethodSpec | None:
        return self._specs.get(name)

    def required_scope(self, name: str) -> str | None:
        """Scope of an implemented method, else the reference classification, else None."""
        spec = self._specs.get(name)
        if spec is not None:
            return spec.scope
        # the reference table (500+ names) loads with the first call of a method we lack
        from openclaw.gateway.methods.reference_scopes import REFERENCE_METHOD_SCOPES

        return REFERENCE_METHOD_SCOPES.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[MethodSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def advertised_methods(self) -> list[str]:
        if self._advertised is None:
            self._advertised = [spec.name for spec in self._specs.values() if spec.advertise]
        return list(self._advertised)


def build_registry(extra: Iterable[MethodSpec] = ()) -> MethodRegistry:
    """The core methods plus ``extra`` (other families registered by the lead)."""
    registry = MethodRegistry()
    for spec in extra:
        registry.register(spec)
    return registry


def agent_method_specs(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    """The agents families (``agent``, ``chat``, ``sessions``, ``send``/``wake``) bound to the
    runtime bridge, plus ``models.list`` that also shows the built-in local model."""
    from openclaw.gateway.methods.send import make_all_methods

    catalog = gateway.runtime.router.catalog if gateway.runtime.router is not None else None

    def models_list(call: MethodCall) -> dict[str, Any]:
        result = models.models_list(call)
        if not result["models"] and catalog is not None:
            result["models"] = catalog.model_views()
        return result

    return (*make_all_methods(gateway),
            MethodSpec("models.list", models_list, READ, models.MODELS_LIST_PARAMS))
