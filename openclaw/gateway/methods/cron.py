"""Cron over RPC: ``cron.list|status|get|add|update|remove|run|runs`` and the ``cron`` event,
bound to the cron service (``openclaw.agents.cron``), with upstream's params schemas, scopes
(read: list, status, get, runs; admin: the rest), result shapes and error text
(``invalid cron.add params: <reason>``, ``Automation not found: <id>. ...``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from openclaw.agents.cron import (
    CronError,
    CronJobNotFound,
    CronService,
    compact_view,
    delivery_preview,
    effective_agent,
    read_view,
)
from openclaw.agents.session_keys import normalize_agent_id
from openclaw.auth.scopes import ADMIN, READ
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request

CRON_EVENT: Final = "cron"
DEFAULT_LIST_LIMIT: Final = 50
DEFAULT_RUNS_LIMIT: Final = 50
_REMEDIATION: Final = (" For cross-session management, use a fresh authenticated configured "
                       "channel owner or Control UI administrator turn or the Automations page.")


def not_found(job_id: str, *, get: bool = False) -> Exception:
    head = (f"cron job not found: {job_id}" if get else f"Automation not found: {job_id}")
    return invalid_request(f"{head}. List automations and retry with a current job id."
                           f"{_REMEDIATION}",
                           details={"code": "CRON_JOB_NOT_FOUND", "jobId": job_id})


def _job_id(params: Mapping[str, Any], method: str) -> str:
    raw = params.get("id", params.get("jobId"))
    if not isinstance(raw, str) or not raw.strip():
        raise invalid_request(f"invalid {method} params: missing id")
    return raw.strip()


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _page(items: list[Any], offset: int, limit: int) -> dict[str, Any]:
    page = items[offset:offset + limit]
    more = offset + len(page) < len(items)
    return {"total": len(items), "offset": offset, "limit": limit, "hasMore": more,
            "nextOffset": offset + len(page) if more else None, "items": page}


class CronMethods:
    def __init__(self, service: CronService) -> None:
        self.service = service

    def _default_agent(self) -> str:
        return self.service.default_agent()

    async def cron_list(self, call: MethodCall) -> dict[str, Any]:
        await self.service.ready()
        params = call.param_map
        default = self._default_agent()
        jobs = list(self.service.jobs.values())
        enabled = params.get("enabled")
        if enabled == "enabled" or (enabled in (None,) and not params.get("includeDisabled")):
            jobs = [j for j in jobs if j.get("enabled", True)]
        elif enabled == "disabled":
            jobs = [j for j in jobs if not j.get("enabled", True)]
        agent = params.get("agentId")
        if isinstance(agent, str) and agent:
            jobs = [j for j in jobs if effective_agent(j, default) == normalize_agent_id(agent)]
        kind = params.get("scheduleKind")
        if kind not in (None, "all"):
            jobs = [j for j in jobs if (j.get("schedule") or {}).get("kind") == kind]
        last = params.get("lastRunStatus")
        if last not in (None, "all"):
            jobs = [j for j in jobs if (j["state"].get("lastRunStatus") or "unknown") == last]
        if params.get("trigger") == "conditional":
            jobs = []
        query = str(params.get("query") or "").strip().lower()
        if query:
            jobs = [j for j in jobs if query in " ".join(
                str(j.get(f) or "") for f in ("id", "name", "displayName", "description")
            ).lower()]
        key = params.get("sessionKey")
        if isinstance(key, str) and key:
            jobs = [j for j in jobs if j.get("sessionKey") == key or
                    j.get("sessionTarget") == f"session:{key}"]
        sort_by = params.get("sortBy") or "nextRunAtMs"
        descending = params.get("sortDir") == "desc"

        def sort_key(job: Mapping[str, Any]) -> Any:
            if sort_by == "name":
                return str(job.get("name") or "").lower()
            if sort_by == "updatedAtMs":
                return job.get("updatedAtMs") or 0
            due = job["state"].get("nextRunAtMs")
            return due if isinstance(due, int | float) else float("inf")

        jobs.sort(key=sort_key, reverse=descending)
        limit = _int(params.get("limit"), DEFAULT_LIST_LIMIT)
        offset = _int(params.get("offset"), 0)
        page = _page(jobs, offset, limit)
        compact = params.get("compact") is True
        views = [{**(compact_view(j, default) if compact else read_view(j)),
                  "effectiveAgentId": effective_agent(j, default)} for j in page.pop("items")]
        result: dict[str, Any] = {"jobs": views, **page,
                                  "snapshotRevision": self.service.revision()}
        if not compact and params.get("includeDeliveryPreviews") is not False:
            result["deliveryPreviews"] = {view["id"]: delivery_preview(view) for view in views}
        return result

    async def cron_status(self, call: MethodCall) -> dict[str, Any]:
        await self.service.ready()
        return self.service.status()

    async def cron_get(self, call: MethodCall) -> dict[str, Any]:
        await self.service.ready()
        job_id = _job_id(call.param_map, "cron.get")
        try:
            return read_view(self.service.get(job_id))
        except CronJobNotFound:
            raise not_found(job_id, get=True) from None

    async def cron_add(self, call: MethodCall) -> dict[str, Any]:
        try:
            job = await self.service.add(call.param_map)
        except CronError as e:
            raise invalid_request(f"invalid cron.add params: {e}") from None
        return {**read_view(job), "deliveryPreview": delivery_preview(job)}

    async def cron_update(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        job_id = _job_id(params, "cron.update")
        try:
            job = await self.service.update(job_id, params.get("patch") or {})
        except CronJobNotFound:
            raise not_found(job_id) from None
        except CronError as e:
            raise invalid_request(f"invalid cron.update params: {e}") from None
        return read_view(job)

    async def cron_remove(self, call: MethodCall) -> dict[str, Any]:
        job_id = _job_id(call.param_map, "cron.remove")
        if not await self.service.remove(job_id):
            raise not_found(job_id)
        return {"ok": True, "removed": True}

    async def cron_run(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        job_id = _job_id(params, "cron.run")
        expected = params.get("expectedProcessInstanceId")
        if expected and expected != self.service.process_id:
            raise invalid_request("invalid cron.run params: Gateway process changed after "
                                  "preflight")
        try:
            result = await self.service.enqueue_run(job_id, str(params.get("mode") or "force"))
        except CronJobNotFound:
            raise not_found(job_id) from None
        return {**result, "processInstanceId": self.service.process_id}

    async def cron_runs(self, call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        has_id = params.get("id") is not None or params.get("jobId") is not None
        scope = params.get("scope") or ("job" if has_id else "all")
        job_id: str | None = None
        if scope != "all":
            job_id = _job_id(params, "cron.runs")
        entries = await self.service.runs(job_id)
        if job_id is not None and not entries and job_id not in self.service.jobs:
            raise not_found(job_id)
        default = self._default_agent()
        agent = params.get("agentId")
        if isinstance(agent, str) and agent:
            wanted = normalize_agent_id(agent)
            owned = {j["id"] for j in self.service.jobs.values()
                     if effective_agent(j, default) == wanted}
            entries = [e for e in entries if e["jobId"] in owned]
        statuses = set(params.get("statuses") or ())
        if params.get("status") not in (None, "all"):
            statuses.add(params["status"])
        if statuses:
            entries = [e for e in entries if e.get("status") in statuses]
        deliveries = set(params.get("deliveryStatuses") or ())
        if params.get("deliveryStatus"):
            deliveries.add(params["deliveryStatus"])
        if deliveries:
            entries = [e for e in entries if e.get("deliveryStatus") in deliveries]
        if params.get("runId"):
            entries = [e for e in entries if e.get("runId") == params["runId"]]
        query = str(params.get("query") or "").strip().lower()
        if query:
            entries = [e for e in entries if query in
                       f"{e.get('summary') or ''} {e.get('error') or ''}".lower()]
        if params.get("sortDir", "desc") != "asc":
            entries = list(reversed(entries))
        limit = _int(params.get("limit"), DEFAULT_RUNS_LIMIT)
        offset = _int(params.get("offset"), 0)
        page = _page(entries, offset, limit)
        return {"entries": page.pop("items"), **page}

    def specs(self) -> tuple[MethodSpec, ...]:
        def spec(name: str, handler: Callable[[MethodCall], Any], scope: str) -> MethodSpec:
            try:
                schema = params_schema(name)
            except KeyError:        # cron.get: ids checked by the handler
                schema = None
            return MethodSpec(name, handler, scope, schema)

        return (
            spec("cron.list", self.cron_list, READ),
            spec("cron.status", self.cron_status, READ),
            spec("cron.get", self.cron_get, READ),
            spec("cron.add", self.cron_add, ADMIN),
            spec("cron.update", self.cron_update, ADMIN),
            spec("cron.remove", self.cron_remove, ADMIN),
            spec("cron.run", self.cron_run, ADMIN),
            spec("cron.runs", self.cron_runs, READ),
        )


def cron_emitter(context: Any) -> Callable[[dict[str, Any]], None]:
    """The ``cron`` event to every operator with ``operator.read``."""
    context.events.register_event(CRON_EVENT, (READ,))

    def emit(payload: dict[str, Any]) -> None:
        context.events.broadcast(CRON_EVENT, payload, drop_if_slow=True)

    return emit


__all__ = ["CronMethods", "cron_emitter", "not_found"]
