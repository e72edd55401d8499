"""The ``channels`` child of the gateway tree: one child service per channel account.

:class:`ChannelsService` aggregates its accounts (:class:`~openclaw.channels.interfaces.
IChannel` providers) into the real gateway's shapes:

* :meth:`ChannelsService.status` is the ``channels.status`` payload (``ChannelsStatusResult``:
  the UI catalog, ``channels`` summaries, ``channelAccounts`` snapshots, default account ids,
  ``statusIssues``, and ``partial``/``warnings`` when a probe or a status hook failed), with
  live probes (at most five at a time, each bounded by the request's timeout) when asked;
* :meth:`ChannelsService.health_fields` is what the cached ``health`` summary carries
  (``channels``, ``channelOrder``, ``channelLabels``), from snapshots only.

With no channel accounts (the gateway runs none until the channel networks land) both are the
real gateway's answer for "no channels configured": empty maps and lists.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any, Final

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredSemaphore, TimeoutError, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from openclaw.channels.interfaces import ChannelMeta, IChannel

log = Logger(namespace="channels")

STATUS_TIMEOUT_MS: Final = 10_000
STATUS_PROBE_TIMEOUT_MS: Final = 30_000
STATUS_MIN_TIMEOUT_MS: Final = 1_000
STATUS_MAX_TIMEOUT_MS: Final = 30_000
PROBE_CONCURRENCY: Final = 5
MAX_STATUS_ISSUES: Final = 50
MAX_WARNINGS: Final = 50


class UnknownChannel(ValueError):
    """``channels.status {channel}`` named a channel this gateway does not run."""

    def __init__(self, raw: str) -> None:
        super().__init__(f"unknown channel: {raw}")
        self.raw = raw


def status_timeout_ms(probe: bool, raw: Any) -> int:
    """``resolveChannelsStatusTimeoutMs``: 30 s when probing else 10 s; an explicit value is
    clamped to 1..30 s."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        return STATUS_PROBE_TIMEOUT_MS if probe else STATUS_TIMEOUT_MS
    return int(min(max(STATUS_MIN_TIMEOUT_MS, raw), STATUS_MAX_TIMEOUT_MS))


class ChannelsService(MultiService):
    """Child ``channels`` of the gateway tree (between ``agents`` and ``web``)."""

    name = "channels"  # type: ignore[assignment]

    def __init__(self, clock: IReactorTime) -> None:
        super().__init__()
        self._clock = clock

    # -- accounts -------------------------------------------------------------------------

    def add_account(self, account: IChannel) -> None:
        """Run ``account`` as a child named ``<channel>:<account>`` (started with the tree,
        or now if the tree already runs)."""
        if not IChannel.providedBy(account):
            raise TypeError(f"{account!r} does not provide IChannel")
        account.setName(f"{account.meta.id}:{account.account_id}")
        account.setServiceParent(self)

    def accounts(self, channel_id: str | None = None) -> list[IChannel]:
        """Accounts in registration order (of one channel, or all)."""
        return [child for child in self
                if IChannel.providedBy(child)
                and (channel_id is None or child.meta.id == channel_id)]

    def channels(self) -> list[ChannelMeta]:
        """One :class:`ChannelMeta` per channel, in the order its first account was added."""
        seen: dict[str, ChannelMeta] = {}
        for account in self.accounts():
            seen.setdefault(account.meta.id, account.meta)
        return list(seen.values())

    def resolve_channel(self, raw: str) -> str | None:
        """The channel id ``raw`` names (id or alias, case-insensitive), if this gateway runs
        it; upstream only knows the channels of loaded plugins, i.e. configured ones."""
        key = raw.strip().lower()
        for meta in self.channels():
            if key == meta.id or key in meta.aliases:
                return meta.id
        return None

    def default_account_id(self, channel_id: str) -> str | None:
        accounts = self.accounts(channel_id)
        for account in accounts:
            if account.is_default:
                return str(account.account_id)
        ids = [str(account.account_id) for account in accounts]
        if "default" in ids:
            return "default"
        return ids[0] if ids else None

    # -- health ---------------------------------------------------------------------------

    def health_fields(self) -> dict[str, Any]:
        """``channels``/``channelOrder``/``channelLabels`` of the health summary: per channel
        the default account's record plus ``accounts`` (every account's record)."""
        channels: dict[str, Any] = {}
        order: list[str] = []
        labels: dict[str, str] = {}
        for meta in self.channels():
            order.append(meta.id)
            labels[meta.id] = meta.label or meta.id
            records: dict[str, dict[str, Any]] = {}
            for account in self.accounts(meta.id):
                try:
                    record = dict(account.snapshot())
                except Exception:
                    log.failure("health: {channel}:{account} snapshot failed",
                                channel=meta.id, account=account.account_id)
                    continue
                record["accountId"] = str(account.account_id)
                records[str(account.account_id)] = record
            default_id = self.default_account_id(meta.id)
            fallback = records.get(default_id or "") or next(iter(records.values()), None)
            if fallback is not None:
                channels[meta.id] = {**fallback, "accounts": records}
        return {"channels": channels, "channelOrder": order, "channelLabels": labels}

    # -- channels.status ------------------------------------------------------------------

    async def status(self, *, probe: bool = False, timeout_ms: int | None = None,
                     channel: str | None = None,
                     event_loop: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``channels.status`` payload; raises :class:`UnknownChannel`."""
        timeout = timeout_ms if timeout_ms is not None else status_timeout_ms(probe, None)
        selected = self.channels()
        if channel is not None:
            wanted = self.resolve_channel(channel)
            if wanted is None:
                raise UnknownChannel(channel)
            selected = [meta for meta in selected if meta.id == wanted]
        warnings: list[str] = []
        entries = [meta.ui_entry() for meta in selected]
        payload: dict[str, Any] = {
            "ts": int(self._clock.seconds() * 1000),
            "channelOrder": [entry["id"] for entry in entries],
            "channelLabels": {entry["id"]: entry["label"] for entry in entries},
            "channelDetailLabels": {entry["id"]: entry["detailLabel"] for entry in entries},
            "channelSystemImages": {entry["id"]: entry["systemImage"] for entry in entries
                                    if "systemImage" in entry},
            "channelMeta": entries,
        }
        if event_loop is not None:
            payload["eventLoop"] = event_loop
        summaries: dict[str, Any] = {}
        snapshots: dict[str, list[dict[str, Any]]] = {}
        defaults: dict[str, str] = {}
        issues: list[dict[str, Any]] = []
        limiter = DeferredSemaphore(PROBE_CONCURRENCY)
        # every account of every selected channel at once (probes: five at a time)
        plan = [
            (meta, [(account, _call_deferred(self._account_snapshot, account, meta.id, probe,
                                             timeout, warnings, limiter))
                    for account in self.accounts(meta.id)])
            for meta in sorted(selected, key=lambda m: m.id)
        ]
        for meta, pending in plan:
            rows: list[tuple[IChannel, dict[str, Any]]] = []
            for account, waiting in pending:
                snapshot = await waiting
                if snapshot is not None:
                    rows.append((account, snapshot))
            default_id = self.default_account_id(meta.id) or "default"
            snapshots[meta.id] = [snapshot for _, snapshot in rows]
            defaults[meta.id] = default_id
            default_row = next((row for row in rows if row[1]["accountId"] == default_id),
                               rows[0] if rows else None)
            summaries[meta.id] = self._summary(meta.id, default_row, warnings)
            for account, snapshot in rows:
                try:
                    issues.extend(account.status_issues(snapshot) or ())
                except Exception as e:
                    warnings.append(f"{meta.id} status diagnostics failed: {_message(e)}")
        payload["channels"] = summaries
        payload["channelAccounts"] = snapshots
        payload["channelDefaultAccountId"] = defaults
        payload["statusIssues"] = issues[:MAX_STATUS_ISSUES]
        if warnings:
            payload["partial"] = True
            payload["warnings"] = sorted(warnings)[:MAX_WARNINGS]
        return payload

    async def _account_snapshot(self, account: IChannel, channel_id: str, probe: bool,
                                timeout_ms: int, warnings: list[str],
                                limiter: DeferredSemaphore) -> dict[str, Any] | None:
        account_id = str(account.account_id)
        try:
            snapshot = dict(account.snapshot())
        except Exception as e:
            warnings.append(f"{channel_id}:{account_id} status failed: {_message(e)}")
            return None
        snapshot["accountId"] = account_id
        enabled = snapshot.get("enabled", True) is not False
        configured = snapshot.get("configured", True) is not False
        if probe and enabled and configured:
            await limiter.acquire()
            try:
                result = await self._run_probe(account, channel_id, timeout_ms, warnings)
            finally:
                limiter.release()
            if result is not None:
                snapshot["probe"] = result
                snapshot["lastProbeAt"] = int(self._clock.seconds() * 1000)
                failure = _failure_message(result)
                if failure and not snapshot.get("lastError"):
                    snapshot["lastError"] = failure
        snapshot.setdefault("lastInboundAt", None)
        snapshot.setdefault("lastOutboundAt", None)
        return snapshot

    async def _run_probe(self, account: IChannel, channel_id: str, timeout_ms: int,
                         warnings: list[str]) -> Any:
        prefix = f"{channel_id}:{account.account_id} probe"
        try:
            running = _as_deferred(account.probe(timeout_ms))
        except Exception as e:
            warnings.append(f"{prefix} failed: {_message(e)}")
            return {"ok": False, "error": _message(e)}
        running.addTimeout(max(1, timeout_ms) / 1000.0, self._clock)
        try:
            return await running
        except TimeoutError:
            warnings.append(f"{prefix} timed out after {timeout_ms}ms")
            return {"ok": False, "timedOut": True,
                    "error": f"probe timed out after {timeout_ms}ms"}
        except Exception as e:
            warnings.append(f"{prefix} failed: {_message(e)}")
            return {"ok": False, "error": _message(e)}

    def _summary(self, channel_id: str, default_row: tuple[IChannel, dict[str, Any]] | None,
                 warnings: list[str]) -> dict[str, Any]:
        snapshot = default_row[1] if default_row is not None else {}

        def fallback(last_error: Any = None) -> dict[str, Any]:
            result: dict[str, Any] = {"configured": snapshot.get("configured", False)}
            error = last_error if last_error is not None else snapshot.get("lastError")
            if error:
                result["lastError"] = error
            return result

        if default_row is None:
            return fallback()
        try:
            summary = default_row[0].summary(snapshot)
        except Exception as e:
            warnings.append(f"{channel_id} summary failed: {_message(e)}")
            return fallback(_message(e))
        return dict(summary) if summary is not None else fallback()

def _as_deferred(value: Any) -> Deferred[Any]:
    if isinstance(value, Deferred):
        return value
    if inspect.iscoroutine(value):
        return Deferred.fromCoroutine(value)
    if inspect.isawaitable(value):
        return Deferred.fromCoroutine(_await(value))
    return succeed(value)


def _call_deferred(func: Any, *args: Any) -> Deferred[Any]:
    return Deferred.fromCoroutine(func(*args))


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _failure_message(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("ok") is False:
        error = value.get("error")
        if isinstance(error, str) and error:
            return error
    return None


def _message(error: BaseException) -> str:
    return str(error) or type(error).__name__
