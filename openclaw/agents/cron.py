"""Cron: scheduled agent turns on the reactor's clock, kept in the gateway's state database.

A **job** is upstream's record (``cron.add`` params, normalized): ``name``, ``schedule``
(``{kind: "at", at}`` once, ``{kind: "every", everyMs, anchorMs}``, ``{kind: "cron", expr,
tz?, staggerMs?}`` with 5 or 6 fields, seconds first), ``sessionTarget`` (``main``,
``isolated``: a fresh session per run under ``agent:<id>:cron:<jobId>:run:<uuid>``,
``current`` / ``session:<key>``: that session), ``payload`` (``agentTurn {message, model?,
timeoutSeconds?, toolsAllow?}`` or ``systemEvent {text}``, a turn of the main session),
``delivery`` (``none``; ``announce`` through the channel seam to ``channel``/``to``), and its
runtime ``state`` (``nextRunAtMs``, ``runningAtMs``, ``lastRunAtMs``, ``lastRunStatus``,
``lastError``, ``lastDurationMs``, ``consecutiveErrors``, ``lastDeliveryStatus``...).

**Scheduling.** One timer for the earliest enabled job; a due job runs through
``runtime.start(RunRequest(...))`` (like the heartbeat), one run per job at a time. Recurring
top-of-hour cron expressions are staggered by a stable per-job offset within 5 minutes unless
``staggerMs`` says otherwise; a failed run backs off (30 s, 1 m, 5 m, 15 m, 60 m). Jobs missed
while the gateway was down run once at start. A one-shot job is disabled after its run and
deleted after a successful one when ``deleteAfterRun``.

**Storage.** ``cron_jobs`` (the definition and the state as JSON) and ``cron_runs`` (one entry
per finished run, as ``cron.runs`` answers them) in ``<state>/gateway.sqlite``, written in
order through the state database's writer: a job added is on disk when ``cron.add`` answers.

**Events.** ``emit(payload)`` gets upstream's ``cron`` event: ``{jobId, action, job?,
runAtMs?, nextRunAtMs?, ...}`` with ``action`` ``added``, ``updated``, ``removed``,
``started``, ``finished``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from openclaw.agents.handle import follow
from openclaw.agents.requests import AgentRequestError, RunRequest, RunResult
from openclaw.agents.runtime import AgentRuntime
from openclaw.agents.session_keys import main_session_key, normalize_agent_id
from openclaw.state_db import SerialWriter, SqliteDatabase
from openclaw.zones import zone_of

log = Logger(namespace="agents.cron")

TOP_OF_HOUR_STAGGER_MS: Final = 300_000
ERROR_BACKOFF_MS: Final = (30_000, 60_000, 300_000, 900_000, 3_600_000)
DEFAULT_RUN_TIMEOUT_S: Final = 600.0
MAX_TIMER_S: Final = 3600.0
RUNS_KEEP_PER_JOB: Final = 2000
SUMMARY_MAX_CHARS: Final = 2000
NO_CHANNEL: Final = ("Channel is required (no configured channels detected). Run openclaw "
                     "channels add to configure one, or pass --channel <channel> after enabling "
                     "a channel. Use openclaw channels list --all to see available channel ids. "
                     "Set delivery.channel explicitly or use a main session with a previous "
                     "channel.")

CRON_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS cron_jobs (
    id TEXT PRIMARY KEY, job_json TEXT NOT NULL, state_json TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cron_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, run_id TEXT NOT NULL,
    ts INTEGER NOT NULL, status TEXT NOT NULL, entry_json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cron_runs_job ON cron_runs (job_id, ts);
CREATE INDEX IF NOT EXISTS cron_runs_ts ON cron_runs (ts);
"""


class CronError(ValueError):
    """A job request upstream answers with ``INVALID_REQUEST``; the text is the reason."""


class CronJobNotFound(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


# --------------------------------------------------------------------------- schedules


def _b64_digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def parse_at(value: Any, tz: str | None = None) -> int | None:
    """An ``at`` time (ISO, offset-less in ``tz`` or UTC) as epoch ms."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_of(tz) or UTC)
    return int(moment.timestamp() * 1000)


def _fields(expr: str) -> list[str]:
    return expr.split()


def valid_cron_expr(expr: str) -> bool:
    fields = _fields(expr)
    if len(fields) not in (5, 6):
        return False
    from croniter import croniter  # with the first schedule: start-up does without it

    return bool(croniter.is_valid(expr, second_at_beginning=len(fields) == 6))


def _top_of_hour(expr: str) -> bool:
    fields = _fields(expr)
    if len(fields) == 6:
        if fields[0] != "0":
            return False
        fields = fields[1:]
    if len(fields) != 5 or fields[0] != "0":
        return False
    parts = fields[1].split(",")
    pattern = ("*", "?")
    return all(part.split("/")[0].replace("-", "").isdigit() or part.startswith(pattern)
               for part in parts) and any(part.startswith(pattern) for part in parts)


def stagger_ms(schedule: Mapping[str, Any]) -> int:
    explicit = schedule.get("staggerMs")
    if isinstance(explicit, int | float) and not isinstance(explicit, bool) and explicit >= 0:
        return int(explicit)
    expr = schedule.get("expr")
    return TOP_OF_HOUR_STAGGER_MS if isinstance(expr, str) and _top_of_hour(expr) else 0


def stable_offset_ms(job_id: str, stagger: int) -> int:
    if stagger <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4], "big") % stagger


def _cron_next(expr: str, tz: str | None, after_ms: int) -> int | None:
    zone = zone_of(tz) or datetime.now().astimezone().tzinfo or UTC
    start = datetime.fromtimestamp(after_ms / 1000, tz=UTC).astimezone(zone)
    try:
        from croniter import croniter

        iterator = croniter(expr, start, second_at_beginning=len(_fields(expr)) == 6)
        moment = iterator.get_next(datetime)
    except (ValueError, KeyError):
        return None
    return int(moment.timestamp() * 1000)


def next_run_ms(job: Mapping[str, Any], now_ms: int) -> int | None:
    """When ``job`` runs next after ``now_ms`` (None: never again)."""
    schedule = job.get("schedule") or {}
    state = job.get("state") or {}
    kind = schedule.get("kind")
    natural: int | None
    if kind == "at":
        if state.get("lastRunAtMs") is not None:
            return None
        natural = parse_at(schedule.get("at"), schedule.get("tz"))
    elif kind == "every":
        every = int(schedule.get("everyMs") or 0)
        if every <= 0:
            return None
        anchor = int(schedule.get("anchorMs") or job.get("createdAtMs") or now_ms)
        natural = anchor if now_ms < anchor else anchor + ((now_ms - anchor) // every + 1) * every
    elif kind == "cron":
        expr = str(schedule.get("expr") or "")
        offset = stable_offset_ms(str(job.get("id") or ""), stagger_ms(schedule))
        cursor = max(0, now_ms - offset)
        natural = None
        for _ in range(4):
            base = _cron_next(expr, schedule.get("tz"), cursor)
            if base is None:
                break
            if base + offset > now_ms:
                natural = base + offset
                break
            cursor = max(cursor + 1, base + 1000)
    else:
        return None
    if natural is None:
        return None
    if state.get("lastRunStatus") == "error" and state.get("lastRunAtMs") is not None:
        errors = max(1, int(state.get("consecutiveErrors") or 1))
        backoff = ERROR_BACKOFF_MS[min(errors, len(ERROR_BACKOFF_MS)) - 1]
        natural = max(natural, int(state["lastRunAtMs"]) + int(state.get("lastDurationMs") or 0)
                      + backoff)
    return natural


# --------------------------------------------------------------------------- job records


_DEFINITION_FIELDS: Final = ("id", "name", "description", "enabled", "createdAtMs", "updatedAtMs",
                             "agentId", "sessionKey", "declarationKey", "displayName",
                             "deleteAfterRun", "schedule", "sessionTarget", "wakeMode",
                             "payload", "delivery", "failureAlert", "scheduledToolPolicy")


def definition(job: Mapping[str, Any]) -> dict[str, Any]:
    return {k: job[k] for k in _DEFINITION_FIELDS if k in job}


def config_revision(job: Mapping[str, Any]) -> str:
    return _b64_digest({k: v for k, v in definition(job).items()
                        if k not in ("updatedAtMs", "createdAtMs")})


def read_view(job: Mapping[str, Any]) -> dict[str, Any]:
    """A job as ``cron.add`` / ``cron.update`` / ``cron.list`` answer it."""
    view = copy.deepcopy(definition(job))
    view["state"] = copy.deepcopy(dict(job.get("state") or {}))
    view["configRevision"] = config_revision(job)
    next_run = view["state"].get("nextRunAtMs")
    if next_run is not None:
        view["nextRunAtMs"] = next_run
    return view


def iso(ms: Any) -> str | None:
    if not isinstance(ms, int | float):
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def compact_view(job: Mapping[str, Any], default_agent: str) -> dict[str, Any]:
    state = job.get("state") or {}
    out: dict[str, Any] = {"id": job["id"], "name": job["name"]}
    if job.get("agentId") is not None:
        out["agentId"] = job["agentId"]
    out["updatedAtMs"] = job.get("updatedAtMs")
    for name in ("declarationKey", "displayName"):
        if job.get(name):
            out[name] = job[name]
    out.update({"enabled": job.get("enabled", True), "nextRunAt": iso(state.get("nextRunAtMs")),
                "nextRunAtMs": state.get("nextRunAtMs"),
                "scheduleKind": (job.get("schedule") or {}).get("kind"),
                "schedule": job.get("schedule"), "lastRunAt": iso(state.get("lastRunAtMs")),
                "lastRunAtMs": state.get("lastRunAtMs"),
                "lastRunStatus": state.get("lastRunStatus"),
                "lastRunError": state.get("lastError")})
    if state.get("runningAtMs") is not None:
        out["runningAtMs"] = state["runningAtMs"]
    for name in ("lastDelivered", "lastDeliveryStatus", "lastDeliveryError"):
        if state.get(name) is not None:
            out[name] = state[name]
    return out


def effective_agent(job: Mapping[str, Any], default_agent: str) -> str:
    agent = job.get("agentId")
    if isinstance(agent, str) and agent:
        return normalize_agent_id(agent)
    key = job.get("sessionKey")
    if isinstance(key, str) and key.startswith("agent:"):
        return normalize_agent_id(key.split(":")[1])
    return default_agent


def delivery_preview(job: Mapping[str, Any]) -> dict[str, Any]:
    delivery = job.get("delivery") or {}
    mode = delivery.get("mode", "none")
    if mode == "announce":
        channel = delivery.get("channel") or "last"
        to = delivery.get("to")
        if channel == "last" and not to:
            return {"label": "announce -> last",
                    "detail": f"last -> no route, will fail-closed: {NO_CHANNEL}"}
        return {"label": f"announce -> {channel}",
                "detail": f"{channel} -> {to}" if to else f"{channel} -> default target"}
    if mode == "webhook":
        return {"label": "webhook", "detail": str(delivery.get("to") or "")}
    return {"label": "none", "detail": "no delivery"}


def normalize_create(params: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """A new job from ``cron.add`` params (already schema-valid); raises :class:`CronError`."""
    job: dict[str, Any] = {k: copy.deepcopy(v) for k, v in params.items()
                           if k in _DEFINITION_FIELDS and k not in ("id", "createdAtMs",
                                                                    "updatedAtMs")}
    job["id"] = str(uuid.uuid4())
    job["name"] = str(params["name"]).strip()
    if not job["name"]:
        raise CronError("name must not be blank")
    for field in ("declarationKey", "displayName"):
        if isinstance(job.get(field), str) and not job[field].strip():
            raise CronError(f"{field} must not be blank")
    job["enabled"] = params.get("enabled", True) is not False
    job["createdAtMs"] = job["updatedAtMs"] = now_ms
    job["schedule"] = normalize_schedule(job["schedule"], now_ms)
    payload = dict(job["payload"])
    if payload.get("kind") == "agentTurn":
        if not str(payload.get("message") or "").strip():
            raise CronError("payload.message must not be blank")
        payload.setdefault("toolsAllow", ["*"])
        job["scheduledToolPolicy"] = {"version": 1, "mode": "trusted"}
        job.setdefault("delivery", {"mode": "announce"})
    elif payload.get("kind") == "systemEvent":
        if not str(payload.get("text") or "").strip():
            raise CronError("payload.text must not be blank")
    else:
        raise CronError(f"payload kind {payload.get('kind')!r} is not supported by this gateway")
    job["payload"] = payload
    job.setdefault("delivery", {"mode": "none"})
    target = job.get("sessionTarget")
    if target == "current" and not job.get("sessionKey"):
        job["sessionTarget"] = "isolated"
    if job["schedule"]["kind"] == "at" and "deleteAfterRun" not in job:
        job["deleteAfterRun"] = True
    job["state"] = {}
    return job


def normalize_schedule(schedule: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    out = dict(schedule)
    kind = out.get("kind")
    if kind == "every":
        if not isinstance(out.get("everyMs"), int | float) or out["everyMs"] <= 0:
            raise CronError("schedule.everyMs must be a positive number")
        out.setdefault("anchorMs", now_ms)
    elif kind == "cron":
        expr = str(out.get("expr") or "").strip()
        if not valid_cron_expr(expr):
            raise CronError(f"invalid cron expression: {expr}")
        out["expr"] = expr
        if out.get("tz") and zone_of(str(out["tz"])) is None:
            raise CronError(f"invalid timezone: {out['tz']}")
    elif kind == "at":
        if parse_at(out.get("at"), out.get("tz")) is None:
            raise CronError("schedule.at must be an ISO timestamp")
    else:
        raise CronError(f"schedule kind {kind!r} is not supported by this gateway")
    return out


def apply_patch(job: Mapping[str, Any], patch: Mapping[str, Any], now_ms: int
                ) -> dict[str, Any]:
    """``cron.update``: the job with ``patch`` applied (``null`` clears a field)."""
    updated = copy.deepcopy(dict(job))
    for name, value in patch.items():
        if name in ("id", "createdAtMs", "updatedAtMs", "state"):
            continue
        if value is None:
            updated.pop(name, None)
        elif name in ("payload", "delivery") and isinstance(value, Mapping) and \
                isinstance(updated.get(name), Mapping) and (
                    name != "payload" or value.get("kind") in (None, updated[name].get("kind"))):
            merged = dict(updated[name])
            for key, item in value.items():
                if item is None:
                    merged.pop(key, None)
                else:
                    merged[key] = copy.deepcopy(item)
            updated[name] = merged
        else:
            updated[name] = copy.deepcopy(value)
    if "schedule" in patch and patch["schedule"] is not None:
        updated["schedule"] = normalize_schedule(updated["schedule"], now_ms)
        updated.setdefault("state", {})
        updated["state"].pop("lastRunAtMs", None) if updated["schedule"]["kind"] == "at" \
            else None
    if not str(updated.get("name") or "").strip():
        raise CronError("name must not be blank")
    if isinstance(patch.get("displayName"), str) and not patch["displayName"].strip():
        raise CronError("displayName must not be blank")
    updated["updatedAtMs"] = now_ms
    return updated


# --------------------------------------------------------------------------- storage


class CronDatabase:
    """Blocking access to ``cron_jobs`` / ``cron_runs`` (the writer's thread, or tests)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            self.db.connection().executescript(CRON_SCHEMA)
            self._ready = True

    def load(self) -> list[dict[str, Any]]:
        self._ensure()
        jobs = []
        for job_json, state_json in self.db.query(
                "SELECT job_json, state_json FROM cron_jobs ORDER BY sort_order, rowid"):
            job = json.loads(job_json)
            job["state"] = json.loads(state_json)
            jobs.append(job)
        return jobs

    def save(self, job: Mapping[str, Any]) -> None:
        self._ensure()
        self.db.execute(
            "INSERT INTO cron_jobs (id, job_json, state_json, sort_order, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET job_json = excluded.job_json, "
            "state_json = excluded.state_json, updated_at = excluded.updated_at",
            (job["id"], json.dumps(definition(job)), json.dumps(job.get("state") or {}),
             int(job.get("createdAtMs") or 0), int(job.get("updatedAtMs") or 0)))

    def delete(self, job_id: str) -> bool:
        self._ensure()
        return self.db.execute("DELETE FROM cron_jobs WHERE id = ?", (job_id,)) > 0

    def add_run(self, entry: Mapping[str, Any]) -> None:
        self._ensure()
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO cron_runs (job_id, run_id, ts, status, entry_json) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (entry["jobId"], entry["runId"], entry["ts"], entry["status"],
                          json.dumps(entry)))
            conn.execute("DELETE FROM cron_runs WHERE job_id = ? AND id NOT IN (SELECT id FROM "
                         "cron_runs WHERE job_id = ? ORDER BY ts DESC LIMIT ?)",
                         (entry["jobId"], entry["jobId"], RUNS_KEEP_PER_JOB))

    def runs(self, job_id: str | None) -> list[dict[str, Any]]:
        self._ensure()
        if job_id is None:
            rows = self.db.query("SELECT entry_json FROM cron_runs ORDER BY ts, id")
        else:
            rows = self.db.query("SELECT entry_json FROM cron_runs WHERE job_id = ? "
                                 "ORDER BY ts, id", (job_id,))
        return [json.loads(row[0]) for row in rows]


# --------------------------------------------------------------------------- the service


class CronService(Service):
    """Child ``cron`` of the gateway tree (see the module docstring)."""

    name = "cron"

    def __init__(self, reactor: Any, runtime: AgentRuntime, db: SqliteDatabase,
                 writer: SerialWriter, emit: Callable[[dict[str, Any]], None],
                 deliver: Callable[[], Callable[..., Any] | None] = lambda: None,
                 process_id: str | None = None) -> None:
        self.reactor = reactor
        self.runtime = runtime
        self.database = CronDatabase(db)
        self.writer = writer
        self.emit = emit
        self.deliver = deliver
        self.process_id = process_id or str(uuid.uuid4())
        self.jobs: dict[str, dict[str, Any]] = {}
        self.loaded: Deferred[None] | None = None
        self._timer: IDelayedCall | None = None
        self._running: dict[str, Deferred[dict[str, Any]]] = {}
        self._manual = 0

    def now_ms(self) -> int:
        return int(self.reactor.seconds() * 1000)

    @property
    def db_path(self) -> str:
        return self.database.db.path

    def default_agent(self) -> str:
        return self.runtime.view().default_id

    # -- lifecycle --------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self.loaded = Deferred.fromCoroutine(self._load())
        self.loaded.addErrback(lambda f: log.failure("cron: loading jobs failed", f))

    async def _load(self) -> None:
        for job in await self.writer(self.database.load):
            state = job.setdefault("state", {})
            if state.pop("runningAtMs", None) is not None:
                state["lastRunStatus"] = state["lastStatus"] = "error"
                state["lastError"] = "interrupted by a gateway restart"
            self.jobs[job["id"]] = job
        now = self.now_ms()
        for job in self.jobs.values():
            state = job["state"]
            if not job.get("enabled", True):
                continue
            if state.get("nextRunAtMs") is None:
                state["nextRunAtMs"] = next_run_ms(job, now)
            # missed while down: caught up once (the timer fires at once for them)
        self._arm()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        return Deferred.fromCoroutine(self.writer.drain())

    async def ready(self) -> None:
        if self.loaded is not None:
            await self.loaded

    # -- the timer --------------------------------------------------------------------------

    def _arm(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        if not self.running:
            return
        wake = self.next_wake_ms()
        if wake is None:
            return
        delay = max(0.0, (wake - self.now_ms()) / 1000.0)
        self._timer = self.reactor.callLater(min(delay, MAX_TIMER_S), self._tick)

    def next_wake_ms(self) -> int | None:
        times = [job["state"]["nextRunAtMs"] for job in self.jobs.values()
                 if job.get("enabled", True) and job["id"] not in self._running
                 and isinstance(job["state"].get("nextRunAtMs"), int | float)]
        return int(min(times)) if times else None

    def _tick(self) -> None:
        self._timer = None
        now = self.now_ms()
        for job in list(self.jobs.values()):
            due = job["state"].get("nextRunAtMs")
            if job.get("enabled", True) and job["id"] not in self._running and \
                    isinstance(due, int | float) and due <= now:
                self._start(job, f"cron:{job['id']}:{now}", int(due))
        self._arm()

    # -- runs -------------------------------------------------------------------------------

    def _start(self, job: dict[str, Any], run_id: str, scheduled_at: int | None
               ) -> Deferred[dict[str, Any]]:
        running = Deferred.fromCoroutine(self._run(job, run_id, scheduled_at))
        self._running[job["id"]] = running

        def done(result: Any) -> Any:
            self._running.pop(job["id"], None)
            self._arm()
            return result

        running.addBoth(done)
        running.addErrback(lambda f: log.failure("cron: job {job} failed", f, job=job["id"]))
        return running

    def _session_key(self, job: Mapping[str, Any], agent_id: str) -> str:
        target = str(job.get("sessionTarget") or "isolated")
        view = self.runtime.view()
        if job.get("payload", {}).get("kind") == "systemEvent" or target == "main":
            return main_session_key(agent_id, view.session)
        if target.startswith("session:"):
            return target[len("session:"):]
        if target == "current" and job.get("sessionKey"):
            return str(job["sessionKey"])
        return f"agent:{agent_id}:cron:{job['id']}:run:{uuid.uuid4()}"

    async def _run(self, job: dict[str, Any], run_id: str, scheduled_at: int | None
                   ) -> dict[str, Any]:
        started = self.now_ms()
        state = job["state"]
        state["runningAtMs"] = started
        self._emit("started", job, runAtMs=started)
        agent_id = effective_agent(job, self.default_agent())
        payload = job.get("payload") or {}
        key = self._session_key(job, agent_id)
        message = str(payload.get("message") if payload.get("kind") == "agentTurn"
                      else payload.get("text") or "")
        timeout = payload.get("timeoutSeconds")
        result: RunResult | None = None
        error: str | None = None
        try:
            handle = self.runtime.start(RunRequest(
                message=message, run_id=f"{run_id}:{uuid.uuid4()}", agent_id=agent_id,
                session_key=key, kind="cron", channel="cron",
                timeout_s=float(timeout) if isinstance(timeout, int | float) and timeout > 0
                else DEFAULT_RUN_TIMEOUT_S,
                model=payload.get("model") or None,
                tools_allow=tuple(payload["toolsAllow"]) if isinstance(
                    payload.get("toolsAllow"), list) and payload["toolsAllow"] != ["*"]
                else None))
            result = await follow(handle.result)
        except AgentRequestError as e:
            error = str(e)
        ended = self.now_ms()
        status = "ok" if result is not None and result.status == "ok" else "error"
        if result is not None and result.status != "ok":
            error = result.error or result.status
        summary = (result.text.strip() if result is not None else "")[:SUMMARY_MAX_CHARS]
        delivery = await self._deliver(job, summary) if status == "ok" else {
            "status": "not-delivered", "delivered": False, "error": None}
        if delivery["status"] == "not-delivered" and delivery.get("error") and status == "ok":
            status, error = "error", str(delivery["error"])
        entry: dict[str, Any] = {
            "ts": ended, "jobId": job["id"], "action": "finished", "status": status,
            "completionStatus": "succeeded" if status == "ok" else "failed", "runId": run_id,
            "runAtMs": started, "durationMs": max(0, ended - started)}
        if error:
            entry["error"] = error
        if summary:
            entry["summary"] = summary
        if result is not None:
            entry.update({"model": result.model, "provider": result.provider,
                          "usage": {"input_tokens": result.usage.input,
                                    "output_tokens": result.usage.output,
                                    "total_tokens": result.usage.total},
                          "sessionId": result.session_id, "sessionKey": result.session_key})
        intended = dict(job.get("delivery") or {"mode": "none"})
        entry.update({"delivered": delivery["delivered"], "deliveryStatus": delivery["status"],
                      "delivery": {"intended": intended, "resolved": delivery.get("resolved"),
                                   "fallbackUsed": False, "delivered": delivery["delivered"]}})
        if delivery.get("error"):
            entry["deliveryError"] = delivery["error"]
        # the job's state after the run
        state.pop("runningAtMs", None)
        state.update({"lastRunAtMs": started, "lastRunStatus": status, "lastStatus": status,
                      "lastDurationMs": entry["durationMs"],
                      "lastDeliveryStatus": delivery["status"],
                      "lastDelivered": delivery["delivered"]})
        if error:
            state["lastError"] = error
            state["consecutiveErrors"] = int(state.get("consecutiveErrors") or 0) + 1
        else:
            state.pop("lastError", None)
            state["consecutiveErrors"] = 0
        remove = False
        if (job.get("schedule") or {}).get("kind") == "at":
            job["enabled"] = False
            remove = bool(job.get("deleteAfterRun")) and status == "ok"
        state["nextRunAtMs"] = next_run_ms(job, ended) if job.get("enabled", True) else None
        entry["nextRunAtMs"] = state["nextRunAtMs"]
        if job["id"] in self.jobs:
            await self.writer(self.database.add_run, {**entry, "jobName": job.get("name")})
            if remove:
                del self.jobs[job["id"]]
                await self.writer(self.database.delete, job["id"])
            else:
                await self.writer(self.database.save, job)
        self._emit("finished", job, runAtMs=started, status=status,
                   durationMs=entry["durationMs"], nextRunAtMs=state["nextRunAtMs"],
                   **({"error": error} if error else {}),
                   **({"summary": summary} if summary else {}))
        if remove:
            self._emit("removed", job)
        return entry

    async def _deliver(self, job: Mapping[str, Any], text: str) -> dict[str, Any]:
        delivery = job.get("delivery") or {}
        mode = delivery.get("mode", "none")
        if mode == "none":
            return {"status": "not-requested", "delivered": False}
        if mode != "announce":
            return {"status": "not-delivered", "delivered": False,
                    "error": f"delivery mode {mode} is not supported by this gateway"}
        if not text or text.upper() == "NO_REPLY":
            return {"status": "not-delivered", "delivered": False}
        channel = delivery.get("channel") or "last"
        to = delivery.get("to")
        deliver = self.deliver()
        if channel == "last" or not to or deliver is None:
            if delivery.get("bestEffort"):
                return {"status": "not-delivered", "delivered": False}
            return {"status": "not-delivered", "delivered": False, "error": NO_CHANNEL}
        request: dict[str, Any] = {"channel": channel, "to": to, "message": text,
                                   "idempotencyKey": f"cron-{uuid.uuid4()}"}
        if delivery.get("accountId"):
            request["accountId"] = delivery["accountId"]
        try:
            await deliver(request)
        except Exception as e:
            reason = getattr(e, "message", None) or str(e) or type(e).__name__
            if delivery.get("bestEffort"):
                return {"status": "not-delivered", "delivered": False}
            return {"status": "not-delivered", "delivered": False, "error": reason}
        return {"status": "delivered", "delivered": True,
                "resolved": {"channel": channel, "to": to}}

    def _emit(self, action: str, job: Mapping[str, Any], **fields: Any) -> None:
        payload: dict[str, Any] = {"jobId": job["id"], "action": action}
        if action != "removed":
            payload["job"] = read_view(job)
        payload.update({k: v for k, v in fields.items() if v is not None})
        try:
            self.emit(payload)
        except Exception:
            log.failure("cron: emitting the event failed")

    # -- the operations behind the RPC methods ---------------------------------------------

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise CronJobNotFound(job_id)
        return job

    async def add(self, params: Mapping[str, Any]) -> dict[str, Any]:
        await self.ready()
        job = normalize_create(params, self.now_ms())
        agent = job.get("agentId")
        if isinstance(agent, str) and normalize_agent_id(agent) not in self.runtime.view().agents:
            raise CronError(f'unknown agent id "{agent}"')
        job["state"]["nextRunAtMs"] = next_run_ms(job, self.now_ms()) if job["enabled"] \
            else None
        await self.writer(self.database.save, job)
        self.jobs[job["id"]] = job
        self._emit("added", job)
        self._arm()
        return job

    async def update(self, job_id: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        await self.ready()
        job = self.get(job_id)
        updated = apply_patch(job, patch, self.now_ms())
        state = updated.setdefault("state", {})
        state["nextRunAtMs"] = next_run_ms(updated, self.now_ms()) \
            if updated.get("enabled", True) else None
        await self.writer(self.database.save, updated)
        job.clear()
        job.update(updated)
        self._emit("updated", job)
        self._arm()
        return job

    async def remove(self, job_id: str) -> bool:
        await self.ready()
        job = self.jobs.pop(job_id, None)
        if job is None:
            return False
        await self.writer(self.database.delete, job_id)
        self._emit("removed", job)
        self._arm()
        return True

    async def enqueue_run(self, job_id: str, mode: str) -> dict[str, Any]:
        await self.ready()
        job = self.get(job_id)
        if job_id in self._running:
            return {"ok": True, "ran": False, "reason": "already-running"}
        if mode == "if-enabled" and not job.get("enabled", True):
            return {"ok": True, "ran": False, "reason": "disabled"}
        due = job["state"].get("nextRunAtMs")
        if mode == "due" and not (job.get("enabled", True) and isinstance(due, int | float)
                                  and due <= self.now_ms()):
            return {"ok": True, "ran": False, "reason": "not-due"}
        self._manual += 1
        run_id = f"manual:{job_id}:{self.now_ms()}:{self._manual}"
        self._start(job, run_id, None)
        return {"ok": True, "enqueued": True, "runId": run_id}

    async def runs(self, job_id: str | None) -> list[dict[str, Any]]:
        await self.ready()
        return await self.writer(self.database.runs, job_id)

    def status(self) -> dict[str, Any]:
        return {"enabled": True, "triggersEnabled": True, "jobs": len(self.jobs),
                "nextWakeAtMs": self.next_wake_ms(), "storage": "sqlite",
                "storePath": self.db_path, "sqlitePath": self.db_path}

    def revision(self) -> str:
        return _b64_digest([definition(job) for job in self.jobs.values()])


__all__ = [
    "CRON_SCHEMA",
    "CronDatabase",
    "CronError",
    "CronJobNotFound",
    "CronService",
    "apply_patch",
    "compact_view",
    "config_revision",
    "delivery_preview",
    "effective_agent",
    "iso",
    "next_run_ms",
    "normalize_create",
    "parse_at",
    "read_view",
    "stable_offset_ms",
    "stagger_ms",
    "valid_cron_expr",
]
