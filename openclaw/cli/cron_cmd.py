"""``openclaw cron`` (alias ``automations``): the gateway's scheduled jobs
(``src/cli/cron-cli.ts``), through the running gateway's ``cron.*`` methods.

* ``status`` -> ``cron.status`` (JSON);
* ``list [--all] [--agent id] [--json]`` -> a table, or ``cron.list``'s document;
* ``get <id>`` / ``show <id|name> [--json]`` -> the job;
* ``add|create [schedule] [message]`` with ``--name``, ``--at``/``--every``/``--cron``
  (``--tz``, ``--exact``, ``--stagger``), ``--message`` or ``--system-event``, ``--agent``,
  ``--session``, ``--session-key``, ``--announce``/``--no-deliver``, ``--channel``, ``--to``,
  ``--account``, ``--best-effort-deliver``, ``--model``, ``--timeout-seconds``, ``--tools``,
  ``--description``, ``--display-name``, ``--disabled``, ``--delete-after-run``,
  ``--keep-after-run``, ``--wake`` -> the job (JSON);
* ``edit <id>`` with the same flags (and ``--enable``/``--disable``, ``--clear-*``) ->
  ``cron.update``; ``enable``/``disable <id>``;
* ``rm|remove|delete <id>`` -> ``{ok, removed}``;
* ``run <id> [--due] [--wait [--wait-timeout 10m] [--poll-interval 2s]]`` -> ``cron.run``,
  then with ``--wait`` the run's ``cron.runs`` entry (exit 0 only when it succeeded);
* ``runs [id] [--id id] [--limit n] [--offset n] [--status s] [--delivery-status s]
  [--query q] [--run-id r] [--sort asc|desc]`` -> ``cron.runs`` (JSON).

Errors are the gateway's (``invalid cron.add params: ...``), printed on stderr, exit 1.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from openclaw.cli.common import parse_timeout_ms, write_json
from openclaw.cli.options import (
    GATEWAY_CLIENT_OPTIONS,
    JSON,
    Command,
    CommandError,
    Option,
    run_guarded,
)

RPC_TIMEOUT_MS: Final = 30_000
_UNITS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
                 "w": 604_800_000}

CONNECTION: Final = (*GATEWAY_CLIENT_OPTIONS,
                     Option("--port", "Local Gateway port", "<port>"),
                     Option("--timeout", 'Timeout in ms (default: "30000")', "<ms>"),
                     Option("--expect-final", "Wait for final response (agent)"))
EXPLICIT_JSON: Final = Option("--json", "Explicit machine-output spelling (command results are "
                              "JSON by default)")
JOB_OPTIONS: Final = (
    Option("--account", "Channel account id for delivery (multi-account setups)", "<id>"),
    Option("--agent", "Agent id for this job", "<id>"),
    Option("--announce", "Fallback-deliver final text to a chat"),
    Option("--at", "One-shot time (ISO, offset-less uses --tz) or duration like 20m", "<when>"),
    Option("--best-effort-deliver", "Do not fail the job if delivery fails"),
    Option("--channel", "Delivery channel (last|<channel-plugin-id>)", "<channel>"),
    Option("--cron", "Cron expression (5-field or 6-field with seconds)", "<expr>"),
    Option("--delete-after-run", "Delete one-shot after successful completion"),
    Option("--deliver", "Deprecated (use --announce).", dest="announceAlias"),
    Option("--description", "Job description", "<text>"),
    Option("--display-name", "Human-readable job label", "<name>"),
    Option("--every", "Interval duration (e.g. 10m, 1h)", "<duration>"),
    Option("--exact", "Disable cron staggering (set stagger to 0)"),
    Option("--keep-after-run", "Keep one-shot job after it succeeds"),
    Option("--message", "Agent message payload", "<text>"),
    Option("--model", "Model override for agent jobs (provider/model or alias)", "<model>"),
    Option("--name", "Job name", "<name>"),
    Option("--no-deliver", "Disable runner fallback delivery"),
    Option("--session", "Session target (main|isolated|current|session:<id>)", "<target>"),
    Option("--session-key", "Session key for job routing", "<key>"),
    Option("--stagger", "Cron stagger window (e.g. 30s, 5m)", "<duration>"),
    Option("--system-event", "System event payload (main session)", "<text>"),
    Option("--timeout-seconds", "Timeout seconds for agent jobs", "<n>"),
    Option("--to", "Delivery destination", "<dest>"),
    Option("--tools", 'Tool allow-list (e.g. exec,read or exec read; "" disables all tools)',
           "<list>"),
    Option("--tz", "Timezone for cron expressions (IANA)", "<iana>"),
    Option("--wake", "Wake mode (now|next-heartbeat)", "<mode>"),
)
ADD = Command(usage="openclaw cron add|create [options] [scheduleOrName] [message]",
              description="Add an automation",
              options=(*JOB_OPTIONS, Option("--disabled", "Create job disabled"),
                       EXPLICIT_JSON, *CONNECTION),
              positionals=("[scheduleOrName]", "[message]"))
EDIT = Command(usage="openclaw cron edit [options] <id>",
               description="Edit an automation (patch fields)",
               options=(*JOB_OPTIONS, Option("--enable", "Enable job"),
                        Option("--disable", "Disable job"),
                        Option("--clear-agent", "Unset agent and use default"),
                        Option("--clear-model", "Remove the per-job model override"),
                        Option("--clear-display-name", "Restore the stable name"),
                        Option("--clear-session-key", "Unset session key"),
                        Option("--clear-tools", "Remove tool allow-list (use all tools)"),
                        Option("--clear-channel", "Unset the delivery channel"),
                        Option("--clear-to", "Unset the delivery destination"),
                        Option("--clear-account", "Unset the per-job delivery account"),
                        EXPLICIT_JSON, *CONNECTION),
               positionals=("<id>",))
LIST = Command(usage="openclaw cron list [options]", description="List automations",
               options=(Option("--agent", "Filter by agent id", "<id>"),
                        Option("--all", "Include disabled jobs"), JSON, *CONNECTION))
STATUS = Command(usage="openclaw cron status [options]",
                 description="Show automations scheduler status",
                 options=(EXPLICIT_JSON, *CONNECTION))
ONE: Final = {
    "get": "Get an automation as JSON", "show": "Show an automation",
    "rm": "Remove an automation", "enable": "Enable an automation",
    "disable": "Disable an automation"}
RUN = Command(usage="openclaw cron run [options] <id>", description="Run an automation now (debug)",
              options=(Option("--due", "Run only when due"),
                       Option("--wait", "Wait for the queued run to finish"),
                       Option("--wait-timeout", 'Maximum time to wait for --wait (default: "10m")',
                              "<duration>"),
                       Option("--poll-interval", 'Polling interval for --wait (default: "2s")',
                              "<duration>"),
                       EXPLICIT_JSON, *CONNECTION),
              positionals=("<id>",))
RUNS = Command(usage="openclaw cron runs [options] [id]",
               description="Show automation run history",
               options=(Option("--delivery-status", "Filter by delivery status", "<status>"),
                        Option("--id", "Job id (alternative to positional argument)", "<id>"),
                        Option("--limit", 'Max entries (default 50) (default: "50")', "<n>"),
                        Option("--offset", "Entries to skip before returning results", "<n>"),
                        Option("--query", "Filter by run summary or error text", "<text>"),
                        Option("--run-id", "Filter by cron run id", "<runId>"),
                        Option("--sort", "Sort by run time (asc, desc)", "<direction>"),
                        Option("--status", "Filter by run status (all, ok, error, skipped)",
                               "<status>"),
                        EXPLICIT_JSON, *CONNECTION),
               positionals=("[id]",))

USAGE: Final = """\
Usage: openclaw cron|automations [options] [command]

Manage automations (via Gateway)

Commands:
  add                    Add an automation
  disable                Disable an automation
  edit                   Edit an automation (patch fields)
  enable                 Enable an automation
  get                    Get an automation as JSON
  list                   List automations
  rm                     Remove an automation
  run                    Run an automation now (debug)
  runs                   Show automation run history
  show                   Show an automation
  status                 Show automations scheduler status

Docs: https://docs.openclaw.ai/cli/cron
"""


class CronCliError(CommandError):
    pass


def parse_duration_ms(raw: Any) -> int:
    text = str(raw or "").strip().lower()
    if text.isdigit():
        return int(text)
    total = position = 0
    for match in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", text):
        if match.start() != position:
            break
        total += int(float(match.group(1)) * _UNITS[match.group(2)])
        position = match.end()
    if not text or position != len(text) or total <= 0:
        raise CronCliError(f"Invalid duration: {raw}")
    return total


def _command(name: str) -> Command:
    aliases = {"rm": "rm|remove"}
    return Command(usage=f"openclaw cron {aliases.get(name, name)} [options] <id>",
                   description=ONE[name],
                   options=(JSON if name == "show" else EXPLICIT_JSON, *CONNECTION),
                   positionals=("<id>",))


def cron_command(args: list[str], env: MutableMapping[str, str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(USAGE)
        return 0 if args else 1
    sub, rest = args[0], args[1:]
    sub = {"create": "add", "remove": "rm", "delete": "rm"}.get(sub, sub)
    handlers: dict[str, Callable[[list[str], MutableMapping[str, str]], int]] = {
        "add": _add, "edit": _edit, "list": _list, "status": _status, "run": _run,
        "runs": _runs, "get": _one("get"), "show": _one("show"), "rm": _one("rm"),
        "enable": _one("enable"), "disable": _one("disable")}
    handler = handlers.get(sub)
    if handler is None:
        sys.stderr.write(f'OpenClaw cron has no command "{sub}".\nTry: openclaw cron --help\n')
        return 1
    try:
        return handler(rest, env)
    except CronCliError as e:
        sys.stderr.write(f"{e}\n")
        return 1


def _call(env: MutableMapping[str, str], values: Mapping[str, Any], method: str,
          params: dict[str, Any]) -> Any:
    from openclaw.cli.common import parse_port_option, resolve_command_target
    from openclaw.client.connection import ADMIN, ClientIdentity, call_gateway
    from openclaw.client.target import load_client_config

    timeout_ms = parse_timeout_ms(values.get("timeout"), RPC_TIMEOUT_MS)
    target = resolve_command_target(env, load_client_config(env), dict(values),
                                    local_port=parse_port_option(values.get("port")))
    return call_gateway(target, method, params, identity=ClientIdentity(scopes=(ADMIN,)),
                        timeout_ms=timeout_ms)


# -- add / edit ------------------------------------------------------------------------------


def _schedule(values: Mapping[str, Any], positional: str | None) -> dict[str, Any] | None:
    chosen = [name for name in ("at", "every", "cron") if values.get(name)]
    if len(chosen) > 1:
        raise CronCliError("Choose one schedule: --at, --every or --cron")
    tz = values.get("tz") or None
    if chosen == ["every"]:
        return {"kind": "every", "everyMs": parse_duration_ms(values["every"])}
    if chosen == ["at"]:
        raw = str(values["at"]).strip()
        try:
            at = datetime.now(UTC) + timedelta(milliseconds=parse_duration_ms(raw))
            text = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        except CronCliError:
            text = raw
        schedule: dict[str, Any] = {"kind": "at", "at": text}
        if tz:
            schedule["tz"] = tz
        return schedule
    expr = values.get("cron") or positional
    if not expr:
        return None
    schedule = {"kind": "cron", "expr": str(expr)}
    if tz:
        schedule["tz"] = tz
    if values.get("exact"):
        schedule["staggerMs"] = 0
    elif values.get("stagger"):
        schedule["staggerMs"] = parse_duration_ms(values["stagger"])
    return schedule


def _delivery(values: Mapping[str, Any], current: Mapping[str, Any] | None = None
              ) -> dict[str, Any] | None:
    no_deliver = values.get("deliver") is False     # --no-deliver
    announce = values.get("announce") or values.get("announceAlias") or \
        values.get("bestEffortDeliver")
    if no_deliver and announce:
        raise CronCliError("Choose --announce or --no-deliver, not both")
    routing = {k: values.get(k) for k in ("channel", "to", "account")}
    if no_deliver:
        return {"mode": "none"}
    if not announce and not any(routing.values()):
        return None
    delivery: dict[str, Any] = {"mode": "announce"}
    if routing["channel"]:
        delivery["channel"] = routing["channel"]
    if routing["to"]:
        delivery["to"] = routing["to"]
    if routing["account"]:
        delivery["accountId"] = routing["account"]
    if values.get("bestEffortDeliver"):
        delivery["bestEffort"] = True
    return delivery


def _tools(raw: Any) -> list[str]:
    return [t for t in re.split(r"[,\s]+", str(raw)) if t]


def _add(args: list[str], env: MutableMapping[str, str]) -> int:
    def body(values: dict[str, Any], positionals: list[str]) -> int:
        flag_schedule = any(values.get(n) for n in ("at", "every", "cron"))
        first = positionals[0] if positionals else None
        schedule = _schedule(values, None if flag_schedule else first)
        if schedule is None:
            raise CronCliError("A schedule is required: pass --at, --every or --cron (or a "
                               "cron expression before the message)")
        name = values.get("name") or (first if flag_schedule else None)
        message = values.get("message") or (positionals[1] if len(positionals) > 1 else None)
        if flag_schedule and not values.get("message") and len(positionals) > 1:
            message = positionals[1]
        event = values.get("systemEvent")
        if event and message:
            raise CronCliError("Choose --message or --system-event, not both")
        if not event and not message:
            raise CronCliError("A message is required: pass --message (or --system-event)")
        params: dict[str, Any] = {"name": str(name or (message or event or "job"))[:80],
                                  "schedule": schedule, "wakeMode": values.get("wake") or "now"}
        if event:
            params["payload"] = {"kind": "systemEvent", "text": event}
            params["sessionTarget"] = values.get("session") or "main"
        else:
            payload: dict[str, Any] = {"kind": "agentTurn", "message": message}
            if values.get("model"):
                payload["model"] = values["model"]
            if values.get("timeoutSeconds") is not None:
                payload["timeoutSeconds"] = _non_negative(values["timeoutSeconds"])
            if values.get("tools") is not None:
                payload["toolsAllow"] = _tools(values["tools"])
            params["payload"] = payload
            params["sessionTarget"] = values.get("session") or "isolated"
        delivery = _delivery(values)
        if delivery is not None:
            params["delivery"] = delivery
        for flag, field in (("agent", "agentId"), ("description", "description"),
                            ("displayName", "displayName"), ("sessionKey", "sessionKey")):
            if values.get(flag):
                params[field] = values[flag]
        if values.get("disabled"):
            params["enabled"] = False
        if values.get("deleteAfterRun"):
            params["deleteAfterRun"] = True
        if values.get("keepAfterRun"):
            params["deleteAfterRun"] = False
        write_json(_call(env, values, "cron.add", params))
        return 0

    return run_guarded(ADD, args, body)


def _non_negative(raw: Any) -> int:
    text = str(raw).strip()
    if not text.isdigit():
        raise CronCliError(f"Invalid --timeout-seconds: {raw} (a non-negative whole number)")
    return int(text)


def _edit(args: list[str], env: MutableMapping[str, str]) -> int:
    def body(values: dict[str, Any], positionals: list[str]) -> int:
        patch: dict[str, Any] = {}
        schedule = _schedule(values, None)
        if schedule is not None:
            patch["schedule"] = schedule
        if values.get("enable") and values.get("disable"):
            raise CronCliError("Choose --enable or --disable, not both")
        if values.get("enable"):
            patch["enabled"] = True
        if values.get("disable"):
            patch["enabled"] = False
        for flag, field in (("name", "name"), ("description", "description"),
                            ("displayName", "displayName"), ("agent", "agentId"),
                            ("sessionKey", "sessionKey"), ("session", "sessionTarget"),
                            ("wake", "wakeMode")):
            if values.get(flag):
                patch[field] = values[flag]
        for flag, field in (("clearAgent", "agentId"), ("clearDisplayName", "displayName"),
                            ("clearSessionKey", "sessionKey")):
            if values.get(flag):
                patch[field] = None
        payload: dict[str, Any] = {}
        if values.get("message"):
            payload.update(kind="agentTurn", message=values["message"])
        if values.get("systemEvent"):
            payload.update(kind="systemEvent", text=values["systemEvent"])
        if values.get("model"):
            payload["model"] = values["model"]
        if values.get("clearModel"):
            payload["model"] = None
        if values.get("tools") is not None:
            payload["toolsAllow"] = _tools(values["tools"])
        if values.get("clearTools"):
            payload["toolsAllow"] = None
        if values.get("timeoutSeconds") is not None:
            payload["timeoutSeconds"] = _non_negative(values["timeoutSeconds"])
        if payload:
            patch["payload"] = payload
        delivery = _delivery(values)
        for flag, field in (("clearChannel", "channel"), ("clearTo", "to"),
                            ("clearAccount", "accountId")):
            if values.get(flag):
                delivery = delivery or {}
                delivery[field] = None
        if delivery is not None:
            patch["delivery"] = delivery
        if values.get("deleteAfterRun"):
            patch["deleteAfterRun"] = True
        if values.get("keepAfterRun"):
            patch["deleteAfterRun"] = False
        write_json(_call(env, values, "cron.update", {"id": positionals[0], "patch": patch}))
        return 0

    return run_guarded(EDIT, args, body)


# -- reading -------------------------------------------------------------------------------


def _ago(ms: Any) -> str:
    if not isinstance(ms, int | float):
        return "-"
    delta = int(ms / 1000 - time.time())
    word = "in " if delta > 0 else ""
    delta = abs(delta)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if delta >= size:
            return f"{word}{delta // size}{unit}" + ("" if word else " ago")
    return f"{word}{delta}s" + ("" if word else " ago")


def _schedule_text(schedule: Mapping[str, Any]) -> str:
    kind = schedule.get("kind")
    if kind == "every":
        return f"every {schedule.get('everyMs', 0) // 1000}s"
    if kind == "cron":
        return f"cron {schedule.get('expr')}" + (f" @ {schedule['tz']}"
                                                 if schedule.get("tz") else "")
    if kind == "at":
        return f"at {schedule.get('at')}"
    return str(kind)


def _job_status(job: Mapping[str, Any]) -> str:
    state = job.get("state") or {}
    if not job.get("enabled", True):
        return "disabled"
    if state.get("runningAtMs") is not None:
        return "running"
    return str(state.get("lastRunStatus") or "idle")


def _list(args: list[str], env: MutableMapping[str, str]) -> int:
    def body(values: dict[str, Any], positionals: list[str]) -> int:
        params: dict[str, Any] = {"includeDisabled": bool(values.get("all")), "limit": 200}
        if values.get("agent"):
            params["agentId"] = values["agent"]
        result = _call(env, values, "cron.list", params)
        jobs = result.get("jobs", [])
        for job in jobs:
            job["status"] = _job_status(job)
        if values.get("json"):
            write_json(result)
            return 0
        if not jobs:
            sys.stdout.write("No automations.\n")
            return 0
        rows = [("ID", "Name", "Schedule", "Next", "Last", "Status", "Agent ID")]
        for job in jobs:
            state = job.get("state") or {}
            rows.append((job["id"], str(job.get("displayName") or job["name"]),
                         _schedule_text(job.get("schedule") or {}),
                         _ago(state.get("nextRunAtMs")), _ago(state.get("lastRunAtMs")),
                         job["status"], str(job.get("effectiveAgentId") or "-")))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                             .rstrip() + "\n")
        return 0

    return run_guarded(LIST, args, body)


def _status(args: list[str], env: MutableMapping[str, str]) -> int:
    def body(values: dict[str, Any], positionals: list[str]) -> int:
        write_json(_call(env, values, "cron.status", {}))
        return 0

    return run_guarded(STATUS, args, body)


def _find(env: MutableMapping[str, str], values: Mapping[str, Any], ref: str) -> dict[str, Any]:
    jobs = _call(env, values, "cron.list", {"includeDisabled": True, "limit": 200})["jobs"]
    by_id = [job for job in jobs if job["id"] == ref]
    if by_id:
        return dict(by_id[0])
    by_name = [job for job in jobs if str(job.get("name", "")).lower() == ref.lower()]
    if len(by_name) == 1:
        return dict(by_name[0])
    if by_name:
        raise CronCliError(f'Automation name "{ref}" is ambiguous: ' + ", ".join(
            job["id"] for job in by_name))
    raise CronCliError(f"Automation not found: {ref}. List automations and retry with a "
                       "current job id.")


def _one(name: str) -> Callable[[list[str], MutableMapping[str, str]], int]:
    def handler(args: list[str], env: MutableMapping[str, str]) -> int:
        def body(values: dict[str, Any], positionals: list[str]) -> int:
            ref = positionals[0]
            if name == "rm":
                write_json(_call(env, values, "cron.remove", {"id": ref}))
            elif name in ("enable", "disable"):
                write_json(_call(env, values, "cron.update", {
                    "id": ref, "patch": {"enabled": name == "enable"}}))
            elif name == "get" or values.get("json"):
                job = _find(env, values, ref)
                job["status"] = _job_status(job)
                write_json(job)
            else:
                job = _find(env, values, ref)
                state = job.get("state") or {}
                lines = [f"{job.get('displayName') or job['name']} ({job['id']})",
                         f"  status:   {_job_status(job)}",
                         f"  schedule: {_schedule_text(job.get('schedule') or {})}",
                         f"  next run: {_ago(state.get('nextRunAtMs'))}",
                         f"  last run: {_ago(state.get('lastRunAtMs'))}"
                         + (f" ({state.get('lastRunStatus')})"
                            if state.get("lastRunStatus") else ""),
                         f"  payload:  {json.dumps(job.get('payload'))}",
                         f"  delivery: {json.dumps(job.get('delivery'))}"]
                if state.get("lastError"):
                    lines.append(f"  error:    {state['lastError']}")
                sys.stdout.write("\n".join(lines) + "\n")
            return 0

        return run_guarded(_command(name), args, body)

    return handler


def _run(args: list[str], env: MutableMapping[str, str]) -> int:
    def body(values: dict[str, Any], positionals: list[str]) -> int:
        job_id = positionals[0]
        result = _call(env, values, "cron.run", {"id": job_id,
                                                 "mode": "due" if values.get("due") else "force"})
        if not values.get("wait") or not result.get("enqueued"):
            write_json(result)
            return 0
        deadline = time.monotonic() + parse_duration_ms(values.get("waitTimeout") or "10m") / 1000
        interval = parse_duration_ms(values.get("pollInterval") or "2s") / 1000
        while True:
            page = _call(env, values, "cron.runs", {"id": job_id, "runId": result["runId"],
                                                    "limit": 1})
            if page.get("entries"):
                entry = page["entries"][0]
                write_json({**result, **entry})
                return 0 if entry.get("completionStatus") == "succeeded" else 1
            if time.monotonic() >= deadline:
                write_json({**result, "status": "timeout"})
                return 1
            time.sleep(interval)   # the CLI process, not the gateway: polling as upstream

    return run_guarded(RUN, args, body)


def _runs(args: list[str], env: MutableMapping[str, str]) -> int:
    def body(values: dict[str, Any], positionals: list[str]) -> int:
        job_id = values.get("id") or (positionals[0] if positionals else None)
        params: dict[str, Any] = {"scope": "job" if job_id else "all"}
        if job_id:
            params["id"] = job_id
        for flag, field in (("deliveryStatus", "deliveryStatus"), ("query", "query"),
                            ("runId", "runId"), ("status", "status")):
            if values.get(flag):
                params[field] = values[flag]
        if values.get("sort"):
            params["sortDir"] = values["sort"]
        for flag in ("limit", "offset"):
            if values.get(flag) is not None:
                text = str(values[flag])
                if not text.isdigit():
                    raise CronCliError(f"Invalid --{flag}: {text}")
                params[flag] = int(text)
        params.setdefault("limit", 50)
        write_json(_call(env, values, "cron.runs", params))
        return 0

    return run_guarded(RUNS, args, body)


__all__ = ["cron_command", "parse_duration_ms"]
