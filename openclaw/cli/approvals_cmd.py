"""``openclaw approvals`` (alias ``exec-approvals``): the exec approvals policy and pending
requests (``src/cli/exec-approvals-cli.ts``), through the running gateway.

* ``get [--json]`` -> ``exec.approvals.get`` (``{path, exists, file, hash, resolvedDefaults}``;
  the socket token is never shown) or a summary;
* ``set --file <path> | --stdin [--json]`` -> ``exec.approvals.set`` with the current hash
  (JSON5 accepted); ``allowlist add|remove [--agent id] <pattern>`` (``--agent`` defaults to
  ``*``, every agent) edit the document the same way, without writing when nothing changes;
* ``pending [--json]`` -> ``exec.approval.list`` (``{approvals: [...]}`` with ``--json``);
* ``resolve <id> <allow-once|allow-always|deny> [--reason text]`` -> ``exec.approval.resolve``
  (a repeated identical decision is ``already resolved (same decision)``, exit 0).

``--node`` targets are not supported (this gateway runs no node hosts' approvals); the
document is always the gateway's (``--gateway`` is accepted).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping
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

DECISIONS: Final = ("allow-once", "allow-always", "deny")
TARGET: Final = (Option("--gateway", "Force gateway approvals"),
                 Option("--node", "Target node id/name/IP", "<node>"),
                 *GATEWAY_CLIENT_OPTIONS)
GET = Command(usage="openclaw approvals get [options]",
              description="Fetch exec approvals snapshot",
              options=(JSON, *TARGET, Option("--timeout", 'Timeout in ms (default: "60000")',
                                             "<ms>")))
SET = Command(usage="openclaw approvals set [options]",
              description="Replace exec approvals with a JSON file",
              options=(Option("--file", "Path to JSON file to upload", "<path>"), JSON,
                       Option("--stdin", "Read JSON from stdin"), *TARGET,
                       Option("--timeout", 'Timeout in ms (default: "10000")', "<ms>")))
PENDING = Command(usage="openclaw approvals pending [options]",
                  description="List pending exec, plugin, and system-agent approvals",
                  options=(JSON, *GATEWAY_CLIENT_OPTIONS,
                           Option("--timeout", "Timeout in ms", "<ms>")))
RESOLVE = Command(usage="openclaw approvals resolve [options] <id> <decision>",
                  description="Resolve a pending approval",
                  options=(Option("--reason", "A local note for the confirmation", "<text>"),
                           Option("--expires-in-days", "Standing grant lifetime", "<n>"),
                           JSON, *GATEWAY_CLIENT_OPTIONS,
                           Option("--timeout", "Timeout in ms", "<ms>")),
                  positionals=("<id>", "<decision>"))


def _allowlist_command(action: str) -> Command:
    return Command(usage=f"openclaw approvals allowlist {action} [options] <pattern>",
                   description=("Add a glob pattern to an allowlist" if action == "add"
                                else "Remove a glob pattern from an allowlist"),
                   options=(Option("--agent", 'Agent id (defaults to "*")', "<id>"), JSON,
                            *TARGET, Option("--timeout", "Timeout in ms", "<ms>")),
                   positionals=("<pattern>",))


USAGE: Final = """\
Usage: openclaw approvals|exec-approvals [options] [command]

Manage approval policy and pending requests

Commands:
  allowlist   Edit the per-agent allowlist
  get         Fetch exec approvals snapshot
  pending     List pending exec, plugin, and system-agent approvals
  resolve     Resolve a pending approval
  set         Replace exec approvals with a JSON file

Docs: https://docs.openclaw.ai/cli/approvals
"""


class ApprovalsCliError(CommandError):
    pass


def approvals_command(args: list[str], env: MutableMapping[str, str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(USAGE)
        return 0 if args else 1
    sub, rest = args[0], args[1:]
    if sub == "allowlist":
        if not rest or rest[0] in ("-h", "--help", "help") or rest[0] not in ("add", "remove"):
            sys.stdout.write("Usage: openclaw approvals allowlist [options] [command]\n\n"
                             "Commands:\n  add         Add a glob pattern to an allowlist\n"
                             "  remove      Remove a glob pattern from an allowlist\n")
            return 0 if rest and rest[0] in ("-h", "--help", "help") else 1
        action = rest[0]
        return _guarded(_allowlist_command(action), rest[1:],
                        lambda values, positionals: _allowlist(env, values, action,
                                                               positionals[0]))
    handlers: dict[str, tuple[Command, Callable[[dict[str, Any], list[str]], int]]] = {
        "get": (GET, lambda values, positionals: _get(env, values)),
        "set": (SET, lambda values, positionals: _set(env, values)),
        "pending": (PENDING, lambda values, positionals: _pending(env, values)),
        "resolve": (RESOLVE, lambda values, positionals: _resolve(env, values, positionals)),
    }
    entry = handlers.get(sub)
    if entry is None:
        sys.stderr.write(f'OpenClaw approvals has no command "{sub}".\nTry: openclaw '
                         "approvals --help\n")
        return 1
    return _guarded(entry[0], rest, entry[1])


def _guarded(command: Command, args: list[str],
             body: Callable[[dict[str, Any], list[str]], int]) -> int:
    def gateway_only(values: dict[str, Any], positionals: list[str]) -> int:
        if values.get("node"):
            raise ApprovalsCliError("--node is not supported by this gateway: it runs no node "
                                    "hosts' exec approvals (use --gateway)")
        return body(values, positionals)

    return run_guarded(command, args, gateway_only)


def _call(env: MutableMapping[str, str], values: Mapping[str, Any], method: str,
          params: dict[str, Any], default_ms: int = 30_000) -> Any:
    from openclaw.cli.common import resolve_command_target
    from openclaw.client.connection import ClientIdentity, call_gateway
    from openclaw.client.target import load_client_config

    timeout_ms = parse_timeout_ms(values.get("timeout"), default_ms)
    target = resolve_command_target(env, load_client_config(env), dict(values))
    return call_gateway(target, method, params,
                        identity=ClientIdentity(scopes=("operator.admin",
                                                        "operator.approvals")),
                        timeout_ms=timeout_ms)


def _summary(snapshot: Mapping[str, Any]) -> str:
    defaults = snapshot.get("resolvedDefaults") or {}
    file = snapshot.get("file") or {}
    lines = [f"Approvals: {snapshot.get('path')}",
             f"  defaults: security={defaults.get('security')} ask={defaults.get('ask')} "
             f"askFallback={defaults.get('askFallback')}"]
    for agent, section in sorted((file.get("agents") or {}).items()):
        patterns = [e.get("pattern") for e in section.get("allowlist") or []]
        policy = " ".join(f"{k}={section[k]}" for k in ("security", "ask", "askFallback")
                          if section.get(k))
        lines.append(f"  agent {agent}: {policy or 'defaults'}"
                     + (f"; allowlist: {', '.join(map(str, patterns))}" if patterns else ""))
    return "\n".join(lines) + "\n"


def _get(env: MutableMapping[str, str], values: Mapping[str, Any]) -> int:
    snapshot = _call(env, values, "exec.approvals.get", {}, 60_000)
    if values.get("json"):
        write_json(snapshot)
    else:
        sys.stdout.write(_summary(snapshot))
    return 0


def _set(env: MutableMapping[str, str], values: Mapping[str, Any]) -> int:
    import json5

    if bool(values.get("file")) == bool(values.get("stdin")):
        raise ApprovalsCliError("Use either --file or --stdin (exactly one).")
    if values.get("stdin"):
        text = sys.stdin.read()
    else:
        try:
            with open(str(values["file"]), encoding="utf-8") as handle:
                text = handle.read()
        except OSError as e:
            raise ApprovalsCliError(f"Failed to read {values['file']}: {e}") from None
    try:
        document = json5.loads(text)
    except ValueError as e:
        raise ApprovalsCliError(f"Invalid JSON5: {e}") from None
    if not isinstance(document, dict):
        raise ApprovalsCliError("The approvals file must be an object.")
    document.setdefault("version", 1)
    current = _call(env, values, "exec.approvals.get", {}, 10_000)
    document.pop("socket", None)
    if isinstance(current.get("file"), dict) and current["file"].get("socket"):
        document["socket"] = {"path": current["file"]["socket"].get("path")}
    result = _call(env, values, "exec.approvals.set",
                   {"file": document, "baseHash": current["hash"]}, 10_000)
    if values.get("json"):
        write_json(result)
    else:
        sys.stdout.write(_summary(result))
    return 0


def _allowlist(env: MutableMapping[str, str], values: Mapping[str, Any], action: str,
               pattern: str) -> int:
    if not pattern.strip():
        raise ApprovalsCliError("Pattern must not be blank.")
    agent = str(values.get("agent") or "*")
    current = _call(env, values, "exec.approvals.get", {})
    file = copy.deepcopy(current["file"])
    section = file.setdefault("agents", {}).setdefault(agent, {})
    allowlist = section.setdefault("allowlist", [])
    present = [e for e in allowlist if e.get("pattern") == pattern]
    if (action == "add" and present) or (action == "remove" and not present):
        if not section["allowlist"]:
            del section["allowlist"]
        result = current
    else:
        if action == "add":
            allowlist.append({"pattern": pattern})
        else:
            section["allowlist"] = [e for e in allowlist if e.get("pattern") != pattern]
        result = _call(env, values, "exec.approvals.set",
                       {"file": file, "baseHash": current["hash"]})
    if values.get("json"):
        write_json(result)
    else:
        verb = "Added" if action == "add" else "Removed"
        unchanged = result is current
        sys.stdout.write(f"{'Unchanged' if unchanged else verb}: {pattern} (agent {agent})\n")
    return 0


def _pending(env: MutableMapping[str, str], values: Mapping[str, Any]) -> int:
    listed = _call(env, values, "exec.approval.list", {})
    approvals = [{"kind": "exec", **entry} for entry in (listed or [])]
    if values.get("json"):
        write_json({"approvals": approvals})
        return 0
    if not approvals:
        sys.stdout.write("No pending approvals.\n")
        return 0
    now = time.time() * 1000
    for entry in approvals:
        request = entry.get("request") or {}
        expires = max(0, int((entry.get("expiresAtMs", now) - now) / 1000))
        sys.stdout.write(f"{entry['id']}  exec  agent={request.get('agentId') or '-'}  "
                         f"session={request.get('sessionKey') or '-'}  expires in {expires}s\n"
                         f"    {request.get('command')}\n")
    return 0


def _resolve(env: MutableMapping[str, str], values: Mapping[str, Any],
             positionals: list[str]) -> int:
    from openclaw.client.errors import GatewayClientError

    approval_id, decision = positionals
    if decision not in DECISIONS:
        raise ApprovalsCliError(f"Invalid decision: {decision} (allow-once, allow-always or "
                                "deny)")
    params: dict[str, Any] = {"id": approval_id, "decision": decision}
    if values.get("expiresInDays"):
        text = str(values["expiresInDays"])
        if not text.isdigit() or not 1 <= int(text) <= 3650:
            raise ApprovalsCliError(f"Invalid --expires-in-days: {text}")
        params["grantExpiresInDays"] = int(text)
    pending = {entry["id"] for entry in _call(env, values, "exec.approval.list", {}) or []}
    try:
        result = _call(env, values, "exec.approval.resolve", params)
    except GatewayClientError:
        raise
    repeated = approval_id not in pending and not any(p.startswith(approval_id)
                                                      for p in pending)
    if values.get("json"):
        write_json({**result, "id": approval_id, "decision": decision})
    else:
        note = f" ({values['reason']})" if values.get("reason") else ""
        sys.stdout.write(f"{approval_id}: already resolved (same decision)\n" if repeated
                         else f"Resolved {approval_id}: {decision}{note}\n")
    return 0


__all__ = ["approvals_command"]
