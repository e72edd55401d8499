"""Method dispatch types: the call a handler receives, its registration, the registry, and
the gate that authorizes a call.

A handler takes a :class:`MethodCall` and returns the response payload, either directly
(cheap methods stay synchronous: no coroutine per request on the hot path) or as an
awaitable. It raises :class:`~openclaw.gateway.protocol.errors.GatewayError` to fail. The
method families (``openclaw.gateway.methods``) fill a :class:`MethodRegistry` that the wiring
hands to the WebSocket factory: the protocol never imports the families.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from openclaw.auth.scopes import method_denial
from openclaw.gateway.protocol.errors import (
    GatewayError,
    invalid_params,
    missing_scope,
    unauthorized_role,
)
from openclaw.gateway.protocol.schema import Schema, validation_error_text
from openclaw.gateway.protocol.session import ClientSession

if TYPE_CHECKING:
    from openclaw.gateway.protocol.context import GatewayContext


@attrs.define(slots=True)
class MethodCall:
    """One request as a handler sees it (mutable slots: built per request, keep it cheap)."""

    method: str
    request_id: str
    params: Any
    session: ClientSession
    context: GatewayContext

    @property
    def param_map(self) -> Mapping[str, Any]:
        return self.params if isinstance(self.params, dict) else {}


Handler = Callable[[MethodCall], Any | Awaitable[Any]]


@attrs.frozen
class MethodSpec:
    """One method: its handler, the scope it needs, its params schema, advertisement."""

    name: str
    handler: Handler
    scope: str
    params: Schema | None = None
    advertise: bool = True

    def check_params(self, params: Any) -> None:
        if self.params is None:
            return
        errors = validation_error_text(self.params, params)
        if errors is not None:
            raise invalid_params(self.name, errors)


class MethodRegistry:
    """Name → :class:`MethodSpec`; later registrations of a name replace earlier ones.

    ``fallback_scope`` classifies a method nobody registered (the reference table), so an
    unknown method is authorized with its upstream scope before it is answered.
    """

    def __init__(self, specs: Iterable[MethodSpec] = (),
                 fallback_scope: Callable[[str], str | None] = lambda name: None) -> None:
        self._specs: dict[str, MethodSpec] = {}
        self._fallback_scope = fallback_scope
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
        return self._fallback_scope(name)

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


def authorize_method(role: str, scopes: Collection[str], required_scope: str | None
                     ) -> GatewayError | None:
    """The dispatcher's gate as the protocol's error (``None``: allowed)."""
    denial = method_denial(role, scopes, required_scope)
    if denial is None:
        return None
    if denial.kind == "role" or denial.missing_scope is None:
        return unauthorized_role(denial.role)
    return missing_scope(denial.missing_scope, [denial.missing_scope])
