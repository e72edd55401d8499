"""A scripted channel account for the channels tests (what a network package provides)."""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from zope.interface import implementer

from openclaw.channels.interfaces import ChannelMeta, IChannel

IRC = ChannelMeta("irc", "IRC", aliases=("internet-relay-chat",))
TELEGRAM = ChannelMeta("telegram", "Telegram", detail_label="Telegram Bot",
                       system_image="paperplane")


@implementer(IChannel)
class ScriptedAccount(Service):
    """Snapshot from its fields; ``probe`` answers ``probe_result`` (a value, an exception to
    raise, or a Deferred that never fires unless the test fires it)."""

    def __init__(self, meta: ChannelMeta, account_id: str = "default", *,
                 is_default: bool = False, configured: bool = True, enabled: bool = True,
                 probe_result: Any = None, summary: dict[str, Any] | None = None,
                 issues: list[dict[str, Any]] | None = None) -> None:
        self.meta = meta
        self.account_id = account_id
        self.is_default = is_default
        self.configured = configured
        self.enabled = enabled
        self.probe_result = probe_result
        self.probes: list[int] = []
        self._summary = summary
        self._issues = issues or []
        self.last_error: str | None = None

    def snapshot(self) -> dict[str, Any]:
        return {"accountId": self.account_id, "enabled": self.enabled,
                "configured": self.configured, "running": self.running,
                "connected": self.running, "lastError": self.last_error}

    def probe(self, timeout_ms: int) -> Any:
        self.probes.append(timeout_ms)
        if isinstance(self.probe_result, BaseException):
            raise self.probe_result
        if self.probe_result == "hang":
            return Deferred()
        return self.probe_result

    def summary(self, snapshot: dict[str, Any]) -> dict[str, Any] | None:
        return self._summary

    def status_issues(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self._issues)
