"""What one running channel account is to the gateway: :class:`IChannel`.

Upstream a channel is a plugin (``extensions/<id>``) with config, security, outbound, status
and gateway adapters; the gateway starts one runtime per account. Here each account is a
:class:`~twisted.application.service.IService` (typically ``ClientService``-based) that is a
child of :class:`~openclaw.channels.service.ChannelsService`, named ``"<channel>:<account>"``,
and provides :class:`IChannel` so ``channels.status`` and ``health`` can report it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from twisted.application.service import IService
from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from openclaw.channels.model import AccountSpec
    from openclaw.config.loader import ConfigSnapshot
    from openclaw.secrets.resolve import SecretsSnapshot


@attrs.frozen
class ChannelMeta:
    """UI metadata of a channel (``ChannelUiMetaSchema``: ``id``, ``label``, ``detailLabel``,
    ``systemImage``), plus the lower-case aliases ``channels.status {channel}`` accepts."""

    id: str
    label: str
    detail_label: str | None = None
    system_image: str | None = None
    aliases: tuple[str, ...] = ()

    def ui_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.id, "label": self.label,
                                 "detailLabel": self.detail_label or self.label}
        if self.system_image:
            entry["systemImage"] = self.system_image
        return entry


class IChannel(IService):
    """One channel account run by the gateway (a child service of ``ChannelsService``).

    ``snapshot``, ``summary`` and ``status_issues`` are cheap and synchronous (they read
    runtime state); ``probe`` may do network I/O and returns a Deferred or an awaitable.
    """

    meta = Attribute("ChannelMeta of the channel this account belongs to")
    account_id = Attribute("normalized account id (``default`` for the implicit account)")
    is_default = Attribute("True for the channel's default account (``defaultAccount``)")

    def snapshot() -> dict[str, Any]:
        """The account snapshot (``ChannelAccountSnapshotSchema``): ``accountId``,
        ``enabled``, ``configured``, ``running``, ``connected``, ``lastStartAt``,
        ``lastStopAt``, ``lastError``, ``lastInboundAt``, ``lastOutboundAt``, ... plus any
        channel-specific fields (``mode``, ``dmPolicy``, ``tokenSource``, ...)."""

    def probe(timeout_ms: int) -> Any:  # noqa: N805
        """Live credential check for ``channels status --probe``: ``{ok, error, elapsedMs,
        ...}`` (a dict, a Deferred or an awaitable), or None when the channel has no probe.
        The caller bounds it by ``timeout_ms``."""

    def summary(snapshot: dict[str, Any]) -> dict[str, Any] | None:  # noqa: N805
        """The channel summary (upstream ``buildChannelSummary``) built from the default
        account's snapshot, or None for the generic ``{configured, lastError?}``."""

    def status_issues(snapshot: dict[str, Any]) -> list[dict[str, Any]]:  # noqa: N805
        """Operator-facing problems: ``{channel, accountId, kind, message, fix?}`` with
        ``kind`` one of ``intent``, ``permissions``, ``config``, ``auth``, ``runtime``."""


class IChannelPlugin(Interface):
    """A chat network the gateway runs (upstream's channel plugin, built in here)."""

    meta = Attribute("ChannelMeta")
    id_label = Attribute("what the pairing list calls a sender id (ircUser, matrixUserId)")

    def account_specs(snapshot: ConfigSnapshot, secrets: SecretsSnapshot | None,  # noqa: N805
                      env: Mapping[str, str]) -> list[AccountSpec]:
        """Every account of the channel's config section (``AccountSpec``; none when the
        section is absent)."""

    def build(spec: Any, context: Any) -> IChannel:  # noqa: N805
        """The account service for ``spec``."""

    def normalize_target(raw: str) -> str | None:  # noqa: N805
        """A ``send`` target in the network's syntax (IRC ``#chan``/``nick``, Matrix room
        id, alias or ``@user:server``), or None when ``raw`` is not one."""

    def normalize_allow_entry(raw: str) -> str:  # noqa: N805
        """An allowlist entry as policy compares it."""

    def config_status(spec: Any) -> dict[str, Any]:  # noqa: N805
        """The account's snapshot from config alone (``channels status`` fallback)."""
