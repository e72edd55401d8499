"""The one place that maps every RPC method to its handler and required scope.

``CORE_METHODS`` need nothing but the call (config, context); ``agent_method_specs`` are bound
to the running gateway (agent runtime, per-connection state).

``features.methods`` in ``hello-ok`` is derived from this table (advertised entries only),
so the gateway advertises exactly what it implements. Scopes follow the reference
``method-scopes`` table of openclaw 2026.9.6; ``health`` is public (any authenticated
connection). A method we do not implement is authorized with its reference scope (else
``operator.admin``, default deny) and then answered ``unknown method: X``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from openclaw.auth.scopes import ADMIN, PAIRING, PUBLIC, READ, WRITE
from openclaw.gateway.methods import (
    agents,
    channels,
    config,
    config_write,
    devices,
    logs,
    models,
    pairing,
    secrets,
    system,
)
from openclaw.gateway.methods.empty import EMPTY_METHODS
from openclaw.gateway.methods.plugins import PLUGIN_METHODS
from openclaw.gateway.methods.talk import TALK_METHODS
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodRegistry, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request
from openclaw.gateway.protocol.schema import EMPTY_PARAMS

if TYPE_CHECKING:
    from openclaw.gateway.methods.agent import AgentGateway


def _connect_again(call: MethodCall) -> None:
    raise invalid_request("connect is only valid as the first request")


CORE_METHODS: Final[tuple[MethodSpec, ...]] = (
    MethodSpec("health", system.health, PUBLIC),
    MethodSpec("logs.tail", logs.logs_tail, READ, logs.LOGS_TAIL_PARAMS),
    MethodSpec("channels.status", channels.channels_status, READ,
               channels.CHANNELS_STATUS_PARAMS),
    MethodSpec("channels.start", channels.channels_start, ADMIN,
               channels.CHANNEL_ACCOUNT_PARAMS),
    MethodSpec("channels.stop", channels.channels_stop, ADMIN, channels.CHANNEL_ACCOUNT_PARAMS),
    MethodSpec("channels.logout", channels.channels_logout, ADMIN,
               channels.CHANNEL_ACCOUNT_PARAMS),
    MethodSpec("channels.pairing.list", pairing.pairing_list, PAIRING,
               pairing.PAIRING_LIST_PARAMS),
    MethodSpec("channels.pairing.approve", pairing.pairing_approve, WRITE,
               pairing.PAIRING_APPROVE_PARAMS),
    MethodSpec("channels.pairing.dismiss", pairing.pairing_dismiss, PAIRING,
               pairing.PAIRING_DISMISS_PARAMS),
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
    MethodSpec("update.status", system.update_status, ADMIN, params_schema("update.status")),
    MethodSpec("models.authStatus", models.models_auth_status, READ,
               models.MODELS_AUTH_STATUS_PARAMS),
    *TALK_METHODS,
    *PLUGIN_METHODS,
    *EMPTY_METHODS,
    MethodSpec("connect", _connect_again, ADMIN, advertise=False),
)


def reference_scope(name: str) -> str | None:
    """Upstream's scope of a method we do not implement (the table loads on first use)."""
    from openclaw.gateway.methods.reference_scopes import REFERENCE_METHOD_SCOPES

    return REFERENCE_METHOD_SCOPES.get(name)


def build_registry(extra: Iterable[MethodSpec] = ()) -> MethodRegistry:
    """The core methods plus ``extra`` (other families registered by the wiring)."""
    registry = MethodRegistry(CORE_METHODS, fallback_scope=reference_scope)
    for spec in extra:
        registry.register(spec)
    return registry


def agent_method_specs(gateway: AgentGateway) -> tuple[MethodSpec, ...]:
    """Everything bound to the running gateway: the agents families (``agent``, ``chat``,
    ``sessions``, ``send``/``wake``) on the runtime bridge, the Control UI's chat surface
    (``chat.startup``, ``chat.metadata``, the UI-aware ``chat.send``/``chat.history``,
    ``models.snapshot``), nodes and host, user preferences, projects, the session-scoped
    empty-by-design methods, and ``models.list`` that also shows the built-in local model.

    Families that need per-connection state register their ``hello-ok`` hooks, events and
    capabilities on the gateway's context here."""
    from openclaw.gateway.methods.chat_ui import (
        MODEL_CATALOG_CAP,
        make_chat_ui_methods,
        models_snapshot_hook,
    )
    from openclaw.gateway.methods.empty import make_session_empty_methods
    from openclaw.gateway.methods.nodes import make_node_methods
    from openclaw.gateway.methods.prefs import make_prefs_methods
    from openclaw.gateway.methods.projects import make_project_methods
    from openclaw.gateway.methods.send import make_all_methods

    runtime = gateway.runtime
    context = gateway.context
    catalog = runtime.router.catalog if runtime.router is not None else None

    def models_list(call: MethodCall) -> dict[str, Any]:
        config = call.context.get_config().config
        rows = models.configured_models(config, call.param_map.get("provider"))
        if not rows and catalog is not None and not call.param_map.get("provider"):
            rows = catalog.model_views()
        return models.catalog_result(config, rows)

    base = make_all_methods(gateway)
    chat_ui = make_chat_ui_methods(gateway, base, models_list)
    context.hello_hooks.append(models_snapshot_hook(gateway, models_list))
    for announced in (context.capabilities, context.challenge_capabilities):
        if MODEL_CATALOG_CAP not in announced:
            announced.append(MODEL_CATALOG_CAP)
    return (*base, *chat_ui,
            MethodSpec("models.list", models_list, READ, models.MODELS_LIST_PARAMS),
            *make_session_empty_methods(runtime), *make_project_methods(runtime),
            *make_node_methods(context, runtime), *make_prefs_methods(context))
