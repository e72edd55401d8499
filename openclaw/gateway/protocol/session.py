"""What the gateway knows about an authenticated connection (after ``hello-ok``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from openclaw.gateway.protocol.constants import ClientId, ClientMode


@attrs.frozen
class ClientSession:
    conn_id: str
    role: str
    scopes: tuple[str, ...]
    protocol: int
    client: Mapping[str, Any]
    caps: tuple[str, ...] = ()
    device_id: str | None = None
    auth_method: str | None = None
    is_local_client: bool = False
    client_ip: str | None = None
    presence_key: str | None = None
    connected_at_ms: int = 0
    uses_shared_auth: bool = False

    @property
    def client_id(self) -> str:
        return str(self.client.get("id", ""))

    @property
    def client_mode(self) -> str:
        return str(self.client.get("mode", ""))


def is_operator_ui(client: Mapping[str, Any]) -> bool:
    return client.get("id") in (ClientId.CONTROL_UI, ClientId.BROWSER_COPILOT, ClientId.TUI)


def is_browser_operator_ui(client: Mapping[str, Any]) -> bool:
    return client.get("id") in (ClientId.CONTROL_UI, ClientId.BROWSER_COPILOT)


def is_webchat(client: Mapping[str, Any]) -> bool:
    return client.get("mode") == ClientMode.WEBCHAT or client.get("id") == ClientId.WEBCHAT_UI


def is_native_app_ui(client: Mapping[str, Any]) -> bool:
    return client.get("mode") == ClientMode.UI and client.get("id") in (
        ClientId.MACOS_APP, ClientId.LINUX_APP, ClientId.IOS_APP, ClientId.ANDROID_APP
    )


def is_ephemeral(client: Mapping[str, Any]) -> bool:
    """CLI, backend and probe connections are not tracked in presence."""
    return client.get("mode") in (ClientMode.CLI, ClientMode.BACKEND, ClientMode.PROBE)
