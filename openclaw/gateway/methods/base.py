"""Types shared by every RPC family: the call a handler receives and its registration.

A handler takes a :class:`MethodCall` and returns the response payload, either directly
(cheap methods stay synchronous: no coroutine per request on the hot path) or as an
awaitable. It raises :class:`~openclaw.gateway.protocol.errors.GatewayError` to fail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from openclaw.gateway.protocol.errors import invalid_params
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
