"""How an agent presents itself to people: its name and avatar (``agent.identity.get``, the
Control UI's ``/control-ui-config.json`` and ``/avatar/<agentId>``).

Upstream's defaults: name ``Assistant`` (``nameSource: "default"``) and, without an avatar,
the name's first letter. ``identity.avatar`` is a workspace-relative image path (``local``),
an ``http(s)`` URL (``remote``), a ``data:`` image URI (``data``), or any other short text
(an emoji or letters) shown as is (``none``).
"""

from __future__ import annotations

import hashlib
import os
from typing import Final, Literal

import attrs

from openclaw.agents.config import AgentsView

DEFAULT_ASSISTANT_NAME: Final = "Assistant"
IMAGE_EXTENSIONS: Final = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                           ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml"}
AVATAR_MAX_BYTES: Final = 2 * 1024 * 1024

AvatarKind = Literal["none", "local", "remote", "data"]


@attrs.frozen
class AssistantIdentity:
    agent_id: str
    name: str
    name_source: Literal["config", "default"]
    # What clients show when there is no image: the configured text/emoji or the letter.
    avatar_text: str
    avatar_kind: AvatarKind
    # The configured value (a path, URL or data URI) when it names an image.
    avatar_source: str | None = None
    # Absolute path of a ``local`` avatar (inside the workspace; existence not checked).
    avatar_path: str | None = None
    emoji: str | None = None

    @property
    def mime_type(self) -> str:
        extension = os.path.splitext(self.avatar_path or "")[1].lower()
        return IMAGE_EXTENSIONS.get(extension, "application/octet-stream")


def _inside(root: str, path: str) -> bool:
    root = os.path.realpath(root)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def classify_avatar(value: str, workspace: str) -> tuple[AvatarKind, str | None]:
    """``(kind, absolute path for local)`` of a configured avatar value."""
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return "remote", None
    if lowered.startswith("data:image/"):
        return "data", None
    extension = os.path.splitext(lowered)[1]
    if extension in IMAGE_EXTENSIONS and "\0" not in text:
        path = text if os.path.isabs(text) else os.path.join(workspace, text)
        if _inside(workspace, path):
            return "local", os.path.normpath(path)
    return "none", None


def assistant_identity(view: AgentsView, agent_id: str | None = None) -> AssistantIdentity:
    """The identity of ``agent_id`` (default agent when None or unknown)."""
    settings = view.agent(agent_id) if agent_id else None
    if settings is None:
        settings = view.agent(view.default_id)
    resolved_id = settings.id if settings is not None else view.default_id
    identity = dict(settings.identity) if settings is not None else {}
    configured_name = identity.get("name") or (settings.name if settings else None)
    name = str(configured_name).strip() if configured_name else ""
    name_source: Literal["config", "default"] = "config" if name else "default"
    name = name or DEFAULT_ASSISTANT_NAME
    emoji = str(identity["emoji"]) if identity.get("emoji") else None
    raw_avatar = str(identity.get("avatar") or "").strip()
    kind: AvatarKind = "none"
    path: str | None = None
    if raw_avatar and settings is not None:
        kind, path = classify_avatar(raw_avatar, settings.workspace)
    text = raw_avatar if raw_avatar and kind == "none" else (emoji or name[:1].upper())
    return AssistantIdentity(
        agent_id=resolved_id, name=name, name_source=name_source, avatar_text=text,
        avatar_kind=kind, avatar_source=raw_avatar if kind != "none" else None,
        avatar_path=path, emoji=emoji)


def read_avatar(identity: AssistantIdentity) -> bytes | None:
    """The bytes of a local avatar image (blocking: run it in a thread), None when absent."""
    if identity.avatar_kind != "local" or identity.avatar_path is None:
        return None
    try:
        with open(identity.avatar_path, "rb") as handle:
            data = handle.read(AVATAR_MAX_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= AVATAR_MAX_BYTES else None


def avatar_revision(data: bytes) -> str:
    """The ``?v=`` of an avatar URL: 16 hex digits of the image's SHA-256."""
    return hashlib.sha256(data).hexdigest()[:16]
