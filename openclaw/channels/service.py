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

import contextlib
import inspect
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from twisted.application.service import IService
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    DeferredSemaphore,
    TimeoutError,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from openclaw.agents.config import AgentsView
from openclaw.agents.runtime import RunRequest
from openclaw.blocking import BlockingRunner, blocking_runner
from openclaw.channels.account import ChannelContext
from openclaw.channels.inbound import InboundPipeline
from openclaw.channels.interfaces import ChannelMeta, IChannel, IChannelPlugin
from openclaw.channels.model import AccountSpec
from openclaw.channels.outbound import Outbox
from openclaw.channels.store import ChannelDatabase, database_path
from openclaw.config.loader import ConfigSnapshot
from openclaw.reconfig import NamedServiceSet
from openclaw.secrets.resolve import SecretsSnapshot

log = Logger(namespace="channels")

STATUS_TIMEOUT_MS: Final = 10_000
STATUS_PROBE_TIMEOUT_MS: Final = 30_000
STATUS_MIN_TIMEOUT_MS: Final = 1_000
STATUS_MAX_TIMEOUT_MS: Final = 30_000
PROBE_CONCURRENCY: Final = 5
MAX_STATUS_ISSUES: Final = 50
MAX_WARNINGS: Final = 50
PRUNE_AFTER_MS: Final = 7 * 24 * 3_600_000


class UnknownChannel(ValueError):
    """``channels.status {channel}`` named a channel this gateway does not run."""

    def __init__(self, raw: str) -> None:
        super().__init__(f"unknown channel: {raw}")
        self.raw = raw


def default_plugins() -> list[IChannelPlugin]:
    """The networks this gateway runs (imported when a gateway starts its channels)."""
    from openclaw.channels.discord.plugin import DiscordPlugin
    from openclaw.channels.irc.plugin import IrcPlugin
    from openclaw.channels.matrix.plugin import MatrixPlugin
    from openclaw.channels.telegram.plugin import TelegramPlugin

    return [TelegramPlugin(), DiscordPlugin(), IrcPlugin(), MatrixPlugin()]


def status_timeout_ms(probe: bool, raw: Any) -> int:
    """``resolveChannelsStatusTimeoutMs``: 30 s when probing else 10 s; an explicit value is
    clamped to 1..30 s."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        return STATUS_PROBE_TIMEOUT_MS if probe else STATUS_TIMEOUT_MS
    return int(min(max(STATUS_MIN_TIMEOUT_MS, raw), STATUS_MAX_TIMEOUT_MS))


class ChannelError(ValueError):
    """A channel request the caller got wrong (unknown channel/account, bad target...)."""


class ChannelsService(NamedServiceSet[AccountSpec]):
    """Child ``channels`` of the gateway tree (between ``agents`` and ``web``).

    With a state dir it runs the configured accounts: one child per account, named
    ``<channel>:<account>`` and built from a frozen :class:`AccountSpec`, so a hot reload
    restarts exactly the accounts whose resolved config changed (Buildbot's reconfig by
    name, :class:`~openclaw.reconfig.NamedServiceSet`). Without one (bare tests) it only
    aggregates the accounts added with :meth:`add_account`.
    """

    name = "channels"

    def __init__(self, clock: IReactorTime, *, reactor: Any = None,
                 state_dir: str | None = None,
                 config: Callable[[], ConfigSnapshot] | None = None,
                 secrets: Callable[[], SecretsSnapshot | None] | None = None,
                 env: Mapping[str, str] | None = None,
                 plugins: Sequence[IChannelPlugin] | None = None,
                 run: BlockingRunner | None = None) -> None:
        super().__init__("channels", self._specs_of_snapshot, self._build_account)
        self._clock = clock
        self._reactor = reactor if reactor is not None else clock
        self._state_dir = state_dir
        self._config = config
        self._secrets = secrets
        self._env: Mapping[str, str] = env if env is not None else {}
        self._plugins = list(plugins) if plugins is not None else (
            default_plugins() if state_dir is not None else [])
        self._run = run if run is not None else blocking_runner(self._reactor)
        self._start_run: Callable[[RunRequest], Any] | None = None
        self._agents_view: Callable[[], AgentsView | None] | None = None
        self.db: ChannelDatabase | None = None
        self.outbox: Outbox | None = None
        self.pipeline: InboundPipeline | None = None
        self.context: ChannelContext | None = None

    # -- wiring ---------------------------------------------------------------------------

    def connect_agents(self, start_run: Callable[[RunRequest], Any],
                       agents_view: Callable[[], AgentsView | None]) -> None:
        """The gateway's agent runtime: how an admitted message becomes a run."""
        self._start_run = start_run
        self._agents_view = agents_view
        if self.pipeline is not None:
            self.pipeline._start_run = start_run
            self.pipeline._agents_view = agents_view

    def plugin(self, channel_id: str) -> IChannelPlugin | None:
        return next((p for p in self._plugins if p.meta.id == channel_id), None)

    @property
    def plugins(self) -> list[IChannelPlugin]:
        return list(self._plugins)

    def _snapshot(self) -> ConfigSnapshot:
        assert self._config is not None
        return self._config()

    def _specs_of_snapshot(self, snapshot: ConfigSnapshot | None,
                           secrets: SecretsSnapshot | None = None) -> dict[str, AccountSpec]:
        wanted: dict[str, AccountSpec] = {}
        if snapshot is None:
            return wanted
        if secrets is None and self._secrets is not None:
            secrets = self._secrets()
        for plugin in self._plugins:
            for spec in plugin.account_specs(snapshot, secrets, self._env):
                wanted[spec.name] = spec
        return wanted

    def _build_account(self, name: str, spec: AccountSpec) -> IService:
        plugin = self.plugin(spec.channel)
        assert plugin is not None and self.context is not None
        account: IService = plugin.build(spec, self.context)
        return account

    def account(self, channel_id: str, account_id: str) -> Any:
        """The running account service ``<channel>:<account>``, or None."""
        try:
            child = self.getServiceNamed(f"{channel_id}:{account_id}")
        except KeyError:
            return None
        return child if IChannel.providedBy(child) else None

    # -- lifecycle ------------------------------------------------------------------------

    def startService(self) -> None:
        if self._state_dir is not None and self.db is None:
            # Opening the database is a small local file operation (once, at start).
            self.db = ChannelDatabase(database_path(self._state_dir))
            self.outbox = Outbox(self._clock, self.db, self._run, self.account)
            self.pipeline = InboundPipeline(
                clock=self._clock, db=self.db, run=self._run, outbox=self.outbox,
                config=self._snapshot, agents_view=self._agents_view,
                start_run=self._start_run, account_of=self.account)
            self.context = ChannelContext(reactor=self._reactor, run=self._run, db=self.db,
                                          pipeline=self.pipeline, outbox=self.outbox,
                                          config=self._snapshot, env=self._env,
                                          clock=self._clock)
            for name, spec in self._specs_of_snapshot(self._snapshot()).items():
                self._add(name, spec)
            self._prune()
        super().startService()

    def _prune(self) -> None:
        """Forget handled messages and settled replies older than a week (in a thread)."""
        db = self.db
        assert db is not None
        cutoff = int(self._clock.seconds() * 1000) - PRUNE_AFTER_MS

        def prune() -> None:
            db.ingress_prune(cutoff)
            db.outbox_prune(cutoff)

        self._run(prune).addErrback(lambda f: log.failure("pruning channels.sqlite failed", f))

    def stopService(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stopping = True
        await maybeDeferred(super().stopService)
        if self.outbox is not None:
            self.outbox.stop()
        if self.pipeline is not None:
            await self.pipeline.drain(1.0)

    def reconfig_service(self, update: Any) -> Deferred[None]:
        if self.context is None:
            return succeed(None)
        return Deferred.fromCoroutine(self.reconfigure(
            self._specs_of_snapshot(update.new, update.secrets)))

    async def start_account(self, channel_id: str, account_id: str) -> dict[str, Any]:
        """``channels.start``: start an account the config defines (stopped by
        ``channels.stop``, or failed), as its config says."""
        name = f"{channel_id}:{account_id}"
        spec = self._specs_of_snapshot(self._snapshot()).get(name)
        if spec is None:
            raise ChannelError(f"unknown channel account: {name}")
        account = self.account(channel_id, account_id)
        outcome: dict[str, Any] = {"status": "handed-off"}
        if not spec.enabled:
            outcome = {"status": "skipped", "reason": "disabled"}
        elif not spec.configured:
            outcome = {"status": "skipped", "reason": "unconfigured"}
        elif account is not None and account.running and account.active:
            outcome = {"status": "retry", "reason": "task-owned"}
        elif account is not None and self.specs.get(name) == spec:
            if account.running:
                await maybeDeferred(account.stopService)
            account.startService()
        else:
            wanted = dict(self.specs)
            wanted[name] = spec
            await self.reconfigure(wanted)
        account = self.account(channel_id, account_id)
        started = bool(account is not None and account.active)
        return {"channel": channel_id, "accountId": account_id, "started": started,
                "outcome": outcome}

    async def stop_account(self, channel_id: str, account_id: str) -> dict[str, Any]:
        """``channels.stop``: stop an account (its config and pairing stay) until
        ``channels.start``, a change of its config or a restart."""
        account = self.account(channel_id, account_id)
        if account is None:
            raise ChannelError(f"unknown channel account: {channel_id}:{account_id}")
        if account.running:
            await maybeDeferred(account.stopService)
        return {"channel": channel_id, "accountId": account_id,
                "stopped": not account.active}

    async def logout_account(self, channel_id: str, account_id: str) -> dict[str, Any]:
        """``channels.logout``: stop the account and forget its stored session."""
        account = self.account(channel_id, account_id)
        if account is None:
            raise ChannelError(f"unknown channel account: {channel_id}:{account_id}")
        if account.running:
            await maybeDeferred(account.stopService)
        cleared = bool(await account.logout())
        return {"channel": channel_id, "accountId": account_id, "cleared": cleared,
                "loggedOut": cleared}

    # -- outbound: the send RPC -----------------------------------------------------------

    def resolve_account(self, channel: str | None, account_id: str | None
                        ) -> tuple[IChannelPlugin, Any]:
        """The plugin and running account a request names (the only channel when unset,
        the channel's default account when unset); raises :class:`ChannelError`."""
        running = [meta.id for meta in self.channels()]
        if channel:
            wanted = self.resolve_channel(channel)
            if wanted is None:
                raise ChannelError(f"unknown channel: {channel}")
        elif len(running) == 1:
            wanted = running[0]
        elif not running:
            raise ChannelError("no channel is configured")
        else:
            raise ChannelError(f"channel required (configured: {', '.join(running)})")
        plugin = self.plugin(wanted)
        if plugin is None:
            raise ChannelError(f"channel {wanted} cannot send")
        from openclaw.channels.accounts import normalize_account_id

        chosen = normalize_account_id(account_id) if account_id and account_id.strip() \
            else self.default_account_id(wanted)
        account = self.account(wanted, chosen or "default")
        if account is None:
            raise ChannelError(f"unknown {wanted} account: {chosen}")
        return plugin, account

    async def deliver(self, params: Mapping[str, Any], *, wait_s: float = 10.0
                      ) -> dict[str, Any]:
        """The gateway ``send`` RPC (and ``agent --deliver``): queue durably, then wait up
        to ``wait_s`` for the network to accept every chunk."""
        if self.outbox is None:
            raise ChannelError("channels are not running")
        plugin, account = self.resolve_account(params.get("channel"), params.get("accountId"))
        target = plugin.normalize_target(str(params.get("to") or ""))
        if target is None:
            raise ChannelError(f"invalid {plugin.meta.label} target: {params.get('to')}")
        parts = [str(params.get("message") or "")]
        media = [str(params["mediaUrl"])] if params.get("mediaUrl") else []
        media += [str(url) for url in params.get("mediaUrls") or ()]
        parts += [f"Attachment: {url}" for url in media]
        text = "\n\n".join(part for part in parts if part.strip())
        if not text.strip():
            raise ChannelError("message or mediaUrl required")
        meta: dict[str, Any] = {}
        if params.get("threadId"):
            meta["threadId"] = str(params["threadId"])
        if params.get("replyToId"):
            meta["replyToId"] = str(params["replyToId"])
        from openclaw.channels.store import NewOutbound

        key = str(params.get("idempotencyKey") or "")
        rows = [NewOutbound(key=f"send:{key}:{index}", channel=plugin.meta.id,
                            account=str(account.account_id), target=target, text=piece,
                            meta=meta)
                for index, piece in enumerate(account.chunk(text))]
        ids = await self.outbox.enqueue(rows)
        waiting: Deferred[Any] = DeferredList([self.outbox.wait(row_id) for row_id in ids],
                                              consumeErrors=True)
        waiting.addTimeout(wait_s, self._clock)
        settled: list[Any] = []
        with contextlib.suppress(TimeoutError):
            settled = [row for ok, row in await waiting if ok]
        failed = [row for row in settled if row.state == "failed"]
        if failed:
            raise ChannelError(f"{plugin.meta.label} refused the message: "
                               f"{failed[0].last_error}")
        sent = [row for row in settled if row.state == "sent"]
        result: dict[str, Any] = {"channel": plugin.meta.id,
                                  "accountId": str(account.account_id), "to": target,
                                  "chunks": len(ids)}
        if sent and len(sent) == len(ids):
            result["messageId"] = sent[-1].message_id or str(sent[-1].id)
        else:
            result["queued"] = True
        return result

    # -- pairing --------------------------------------------------------------------------

    def pairing_accounts(self, channel: str | None = None,
                         account_id: str | None = None) -> list[Any]:
        """Running accounts that use DM pairing (``channels.pairing.list`` ``accounts``)."""
        wanted_channel = channel.strip().lower() if channel else None
        wanted_account = account_id.strip().lower() if account_id else None
        found = []
        for account in self.accounts():
            if not hasattr(account, "access_policy"):
                continue
            if wanted_channel and account.meta.id != wanted_channel:
                continue
            if wanted_account and str(account.account_id) != wanted_account:
                continue
            if not account.spec.configured or account.access_policy().dm_policy != "pairing":  # type: ignore[attr-defined]
                continue
            found.append(account)
        return found

    async def pairing_requests(self, accounts: Sequence[Any]) -> list[Any]:
        from openclaw.channels import pairing

        assert self.db is not None
        now = int(self._clock.seconds() * 1000)
        found: list[Any] = []
        for account in accounts:
            found.extend(await self._run(pairing.list_requests, self.db, account.meta.id, now,
                                         str(account.account_id)))
        return found

    async def pairing_approve(self, account: Any, request_id: str) -> Any:
        from openclaw.channels import pairing

        assert self.db is not None
        plugin = self.plugin(account.meta.id)
        assert plugin is not None
        return await self._run(pairing.approve_request, self.db, account.meta.id,
                               str(account.account_id), request_id,
                               int(self._clock.seconds() * 1000),
                               normalize=plugin.normalize_allow_entry)

    async def pairing_dismiss(self, account: Any, request_id: str) -> Any:
        from openclaw.channels import pairing

        assert self.db is not None
        return await self._run(pairing.dismiss_request, self.db, account.meta.id,
                               str(account.account_id), request_id,
                               int(self._clock.seconds() * 1000))

    async def notify_approved(self, channel_id: str, account_id: str, sender_id: str,
                              meta: Mapping[str, str]) -> bool:
        """Tell an approved sender (``--notify``); False when there is nowhere to say it."""
        from openclaw.channels.pairing import APPROVED_MESSAGE
        from openclaw.channels.store import NewOutbound

        account = self.account(channel_id, account_id)
        if account is None or self.outbox is None:
            return False
        target = account.pairing_notify_target(sender_id, meta)
        if not target:
            return False
        key = f"pairing-approved:{channel_id}:{account_id}:{sender_id}:{uuid.uuid4()}"
        await self.outbox.enqueue([NewOutbound(key=key, channel=channel_id,
                                               account=str(account_id), target=target,
                                               text=APPROVED_MESSAGE)])
        return True

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
            audit = None
            if hasattr(account, "audit"):
                await limiter.acquire()
                try:
                    audit = await self._run_hook(account, "audit", channel_id, timeout_ms,
                                                 warnings, result)
                finally:
                    limiter.release()
            if audit is not None:
                snapshot["audit"] = audit
            if result is not None:
                snapshot["probe"] = result
                snapshot["lastProbeAt"] = int(self._clock.seconds() * 1000)
            failure = _failure_message(audit) or _failure_message(result)
            if failure and not snapshot.get("lastError"):
                snapshot["lastError"] = failure
        snapshot.setdefault("lastInboundAt", None)
        snapshot.setdefault("lastOutboundAt", None)
        return snapshot

    async def _run_probe(self, account: IChannel, channel_id: str, timeout_ms: int,
                         warnings: list[str]) -> Any:
        return await self._run_hook(account, "probe", channel_id, timeout_ms, warnings)

    async def _run_hook(self, account: IChannel, step: str, channel_id: str, timeout_ms: int,
                        warnings: list[str], *args: Any) -> Any:
        """``probe``/``audit`` bounded by the request's timeout; a failure is a warning."""
        prefix = f"{channel_id}:{account.account_id} {step}"
        try:
            running = _as_deferred(getattr(account, step)(timeout_ms, *args))
        except Exception as e:
            warnings.append(f"{prefix} failed: {_message(e)}")
            return {"ok": False, "error": _message(e)}
        running.addTimeout(max(1, timeout_ms) / 1000.0, self._clock)
        try:
            return await running
        except TimeoutError:
            warnings.append(f"{prefix} timed out after {timeout_ms}ms")
            return {"ok": False, "timedOut": True,
                    "error": f"{step} timed out after {timeout_ms}ms"}
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
