"""Assemble tests/interop/data/control_ui_reference.json from the extracted upstream facts.

Inputs (all produced by the other scripts of this folder, under ``--work``):
  analysis/schemas.json        dump-schemas.mjs: every TypeBox schema / validator schema of dist/
  analysis/method-specs.json   dump-scopes.mjs: upstream's core method policy (482 methods)
  analysis/hello-ok-ui.json    the hello-ok the real gateway sent to the stock UI
  analysis/gates.txt           gates.py: UI call sites gated on features.methods / scopes
  analysis/capture-methods.json capsum.py over the UI capture and the probes
  run/unknown-hidden.json, run/unknown-advertised.json   unknown_methods.py results

    python build_reference.py --work .cache --out tests/interop/data/control_ui_reference.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

ISSUE_METHODS = [
    "connect", "agent.identity.get", "agents.list", "board.get", "channels.pairing.list",
    "channels.status", "chat.history", "chat.metadata", "chat.send", "chat.startup",
    "config.get", "config.schema", "controlUi.sessionPullRequests.subscribe", "cron.list",
    "cron.status", "device.pair.list", "diagnostics.lanes", "environments.list",
    "exec.approval.list", "exec.approvals.get", "health", "last-heartbeat", "logs.tail",
    "mentions.list", "models.authStatus", "models.list", "node.list", "openclaw.approval.list",
    "plugin.approval.list", "plugin.surface.refresh", "plugins.controlUi.list", "plugins.list",
    "progressCard.get", "projects.list", "question.list", "session.discussion.info",
    "session.members.listEvidence", "sessions.branches.list", "sessions.catalog.list",
    "sessions.companion.state", "sessions.describe", "sessions.github.options",
    "sessions.groups.defaults", "sessions.groups.list", "sessions.list",
    "sessions.messages.subscribe", "sessions.observer.visibility", "sessions.subscribe",
    "sessions.usage", "sessions.viewers.set", "status", "system-presence", "system.info",
    "talk.catalog", "taskSuggestions.list", "tasks.list", "update.status", "usage.status",
    "users.prefs.get",
]

# Methods behind the same features that the UI calls on user action, or that the issue names.
FEATURE_METHODS = [
    "usage.cost", "sessions.usage.timeseries", "sessions.usage.logs", "cron.add",
    "cron.update", "cron.remove", "cron.run", "cron.runs", "exec.approvals.set",
    "exec.approval.get", "exec.approval.resolve", "exec.approval.request",
    "exec.approval.grants.list", "approval.history", "users.prefs.set", "node.describe",
    "sessions.messages.unsubscribe", "chat.abort", "chat.inject", "sessions.reset",
    "sessions.delete", "sessions.compact", "sessions.patch", "channels.pairing.approve",
    "device.pair.approve", "device.pair.reject", "config.set", "config.patch", "config.apply",
    "themes.list", "artifacts.list", "skills.status", "skills.library.list",
    "plugins.catalog.browse",
]

# Upstream handlers whose validator does not follow the <Name>Params naming.
PARAMS_OVERRIDES = {
    "agent.identity.get": "validateAgentIdentityParams",
    "sessions.subscribe": "validateSessionsListParams",
    "sessions.viewers.set": "validateSessionsViewerPresenceSetParams",
    "sessions.github.options": "validateSessionGitHubOptionsParams",
    "session.members.listEvidence": "validateSessionMembersListParams",
    "exec.approval.resolve": "validateExecApprovalResolveParams",
    "exec.approval.request": "validateExecApprovalRequestParams",
    "exec.approval.get": "validateExecApprovalGetParams",
    "exec.approval.grants.list": "validateExecApprovalGrantsListParams",
}
RESULT_OVERRIDES = {
    "agent.identity.get": "AgentIdentityResultSchema",
    "sessions.github.options": "SessionGitHubOptionsResultSchema",
    "session.members.listEvidence": "SessionMembersListEvidenceResultSchema",
    "cron.add": "CronAddResultSchema",
}
EVENT_SCHEMAS = {
    "chat": "ChatEventSchema", "agent": "AgentEventSchema", "tick": "TickEventSchema",
    "shutdown": "ShutdownEventSchema", "users.prefs.changed": "UsersPrefsChangedEventSchema",
    "mentions.changed": "MentionsChangedEventSchema",
    "question.requested": "QuestionRequestedEventSchema",
    "question.resolved": "QuestionResolvedEventSchema",
    "progressCard.changed": "ProgressCardChangedEventSchema",
    "task.suggestion": "TaskSuggestionEventSchema",
    "plugins.controlUi.changed": "PluginsControlUiChangedEventSchema",
    "session.approval": "SessionApprovalEventSchema",
}
REDACT_KEYS = {"deviceToken", "recoveryScope", "token", "password", "privateKey", "signature"}


def camel(method: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[.\-]", method))


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in REDACT_KEYS and isinstance(v, str) else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def trim(value: Any, max_list: int = 5, max_str: int = 400, depth: int = 0) -> Any:
    if depth > 12:
        return "…"
    if isinstance(value, dict):
        return {k: trim(v, max_list, max_str, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        out = [trim(v, max_list, max_str, depth + 1) for v in value[:max_list]]
        if len(value) > max_list:
            out.append(f"…(+{len(value) - max_list} more)")
        return out
    if isinstance(value, str) and len(value) > max_str:
        return value[:max_str] + f"…({len(value)} chars)"
    return value


def example(cap: dict[str, Any]) -> Any:
    if not cap.get("results"):
        return None
    value = redact(trim(cap["results"][0]))
    if len(json.dumps(value)) > 100_000 and isinstance(value, dict):
        return {"__trimmed__": True, "keys": sorted(value),
                "bytes": len(json.dumps(cap["results"][0]))}
    return value


def strip_file(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    return {k: v for k, v in schema.items() if k != "__file"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    analysis = args.work / "analysis"
    schemas: dict[str, Any] = json.loads((analysis / "schemas.json").read_text())
    specs = json.loads((analysis / "method-specs.json").read_text())
    hello = json.loads((analysis / "hello-ok-ui.json").read_text())
    captured = json.loads((analysis / "capture-methods.json").read_text())
    hidden = json.loads((args.work / "run/unknown-hidden.json").read_text())
    advertised = json.loads((args.work / "run/unknown-advertised.json").read_text())
    gates: dict[str, dict[str, list[str]]] = {}
    for line in (analysis / "gates.txt").read_text().splitlines():
        kind, method, *files = line.split()
        gates.setdefault(method, {}).setdefault(kind, []).extend(files)
    spec_by_name = {s["name"]: s for s in specs}

    def params_schema(method: str) -> tuple[str | None, Any]:
        for name in (PARAMS_OVERRIDES.get(method), f"validate{camel(method)}Params",
                     f"{camel(method)}ParamsSchema"):
            if name and name in schemas:
                return name, strip_file(schemas[name])
        return None, None

    def result_schema(method: str) -> tuple[str | None, Any]:
        for name in (RESULT_OVERRIDES.get(method), f"{camel(method)}ResultSchema",
                     f"validate{camel(method)}Result"):
            if name and name in schemas:
                return name, strip_file(schemas[name])
        return None, None

    methods: dict[str, Any] = {}
    for method in ISSUE_METHODS + [m for m in FEATURE_METHODS if m not in ISSUE_METHODS]:
        spec = spec_by_name.get(method, {})
        pname, pschema = params_schema(method)
        rname, rschema = result_schema(method)
        cap = captured.get(method, {})
        methods[method] = {
            "inIssueList": method in ISSUE_METHODS,
            "scope": spec.get("scope"),
            "sessionScope": spec.get("sessionScope"),
            "advertised": method in hello["features"]["methods"],
            "startupUnavailableUntilSidecars": spec.get("startup") is not None,
            "controlPlaneWrite": bool(spec.get("controlPlaneWrite")),
            "uiGates": gates.get(method, {}),
            "paramsSchemaName": pname,
            "paramsSchema": pschema,
            "resultSchemaName": rname,
            "resultSchema": rschema,
            "paramsSeen": redact(cap.get("params", [])),
            "resultExample": example(cap),
            "errorsSeen": cap.get("errors", [])[:3],
            "uiCallsIn110sWhenUnknownAndHidden": hidden["sent"].get(method, 0),
            "uiCallsIn110sWhenUnknownButAdvertised": advertised["sent"].get(method, 0),
        }
    events = {}
    for event in hello["features"]["events"]:
        name = EVENT_SCHEMAS.get(event)
        events[event] = {"payloadSchemaName": name,
                         "payloadSchema": strip_file(schemas.get(name)) if name else None}
    reference = {
        "about": ("Facts about the stock Control UI of OpenClaw 2026.9.6 and the real gateway "
                  "it talks to, extracted from the npm package (dist/ TypeBox schemas, the "
                  "method policy table, the UI bundle) and from captures against the real "
                  "gateway. Human-readable companion: /work/notes/control-ui-protocol.md. "
                  "Regenerate with tools/ui_capture/build_reference.py."),
        "version": "2026.9.6",
        "uiBuildId": "2026.9.6-release-eb377ac59e6c-2026-09-23T16-33-12.144Z",
        "helloOk": redact(hello),
        "methodPolicy": specs,
        "methods": methods,
        "events": events,
        "frameSchemas": {n: strip_file(schemas.get(n)) for n in
                         ("RequestFrameSchema", "ResponseFrameSchema", "EventFrameSchema",
                          "ErrorShapeSchema", "HelloOkSchema", "ConnectParamsSchema",
                          "PresenceEntrySchema")},
        "unknownMethodExperiments": {
            "hidden": {k: hidden[k] for k in ("broken", "sent", "seconds")},
            "advertised": {k: advertised[k] for k in ("broken", "sent", "seconds")},
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(reference, indent=1, sort_keys=False).replace("anchor-token", "<TOKEN>")
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
