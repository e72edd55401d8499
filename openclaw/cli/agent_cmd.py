"""``openclaw agent``: one agent turn through the gateway, streamed to the terminal.

The options, the ``agent`` request and the ``--json`` result are the real CLI's
(``src/commands/agent-via-gateway.ts``): the request carries ``message``, ``agentId``,
``model``, ``to``, ``replyTo``, ``sessionId``, ``sessionKey``, ``thinking``, ``deliver``,
``channel``, ``replyChannel``, ``replyAccountId``, ``timeout`` (seconds) and a fresh
``idempotencyKey``, waits for the final answer (the ``accepted`` ack is skipped), and
``--json`` prints that final payload (``{runId, status, summary, result}``; ``deliveryStatus``
lifted beside it). Unlike the real CLI, the reply is written as it streams (the run's
``agent`` ``assistant`` events); a reply that did not stream is printed at the end.

Exit status: 0 for a run that ended ``ok``, 1 for a failed run (``model returned no
content``, a provider error, a timeout), a refused request or an unreachable gateway; 130 on
Ctrl-C (the run is aborted with ``chat.abort`` first). ``--local`` (the embedded runtime
without a gateway) is not available: the gateway runs the agent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from openclaw.cli.common import write_json
from openclaw.cli.options import Command, InvalidValue, Option, command_failed, run_parse

DEFAULT_TIMEOUT_S: Final = 600
MESSAGE_FILE_MAX_BYTES: Final = 4 * 1024 * 1024
NO_TIMEOUT_MS: Final = 2_147_000_000
_SHORT: Final = {"-m": "--message", "-t": "--to"}

AGENT = Command(
    usage="openclaw agent [options]",
    description="Run an agent turn via the Gateway",
    options=(
        Option("--agent", "Agent id (overrides routing bindings)", "<id>"),
        Option("--channel", "Delivery channel (omit to use the main session channel)",
               "<channel>"),
        Option("--deliver", "Send the agent's reply back to the selected channel"),
        Option("--json", "Output result as JSON"),
        Option("--local", "Run the embedded agent locally (not available: use the gateway)"),
        Option("--message", "Message body for the agent (-m)", "<text>"),
        Option("--message-file", "Read the agent message body from a UTF-8 file (max 4 MiB)",
               "<path>"),
        Option("--model", "Model override for this run (provider/model or model id)", "<id>"),
        Option("--reply-account", "Delivery account id override", "<id>"),
        Option("--reply-channel", "Delivery channel override (separate from routing)",
               "<channel>"),
        Option("--reply-to", "Delivery target override (separate from session routing)",
               "<target>"),
        Option("--session-id", "Use an explicit session id", "<id>"),
        Option("--session-key", "Explicit session key (agent:<id>:<key>, or scoped to --agent)",
               "<key>"),
        Option("--to", "Recipient number in E.164 used to derive the session key (-t)",
               "<number>"),
        Option("--thinking", "Thinking level: off | minimal | low | medium | high | xhigh",
               "<level>"),
        Option("--timeout", "Override agent command timeout (seconds, default 600 or config "
               "value)", "<seconds>"),
        Option("--verbose", "Persist agent verbose level for the session", "<on|off>"),
    ),
)


class AgentCliError(Exception):
    """A command-line problem found before the request (the real CLI's wording)."""


def read_message(values: Mapping[str, Any]) -> str:
    """``--message`` or ``--message-file`` (not both), non-blank."""
    raw_file = values.get("messageFile")
    message_file = raw_file.strip() if isinstance(raw_file, str) else None
    if values.get("message") is not None and message_file:
        raise AgentCliError("Use either --message or --message-file, not both.")
    if raw_file is not None and not message_file:
        raise AgentCliError("--message-file must not be empty.")
    if message_file:
        try:
            if os.path.isdir(message_file):
                raise AgentCliError(f"Message file is a directory: {message_file}")
            if os.path.getsize(message_file) > MESSAGE_FILE_MAX_BYTES:
                raise AgentCliError(f"File exceeds {MESSAGE_FILE_MAX_BYTES} bytes: "
                                    f"{message_file}")
            with open(message_file, "rb") as handle:
                data = handle.read(MESSAGE_FILE_MAX_BYTES + 1)
        except FileNotFoundError:
            raise AgentCliError(f"Message file not found: {message_file}") from None
        except OSError as e:
            raise AgentCliError(f"Unable to read message file {message_file}: "
                                f"{e.strerror}") from None
        try:
            text = data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            raise AgentCliError(f"Message file must be valid UTF-8: {message_file}") from None
        if not text.strip():
            raise AgentCliError(f"Message file is empty: {message_file}")
        return text
    message = str(values.get("message") or "")
    if not message.strip():
        raise AgentCliError('Missing message. Use openclaw agent --message "..." --agent <id> '
                            "or openclaw agent --message-file <path> --agent <id>.")
    return message


def timeout_seconds(raw: Any, config_default: Any) -> int:
    """``--timeout`` (non-negative integer seconds; 0 disables) > config > 600."""
    if raw is None:
        if isinstance(config_default, int) and not isinstance(config_default, bool) and \
                config_default >= 0:
            return config_default
        return DEFAULT_TIMEOUT_S
    text = str(raw).strip()
    if not text.isdigit():
        raise AgentCliError("Invalid --timeout. Use seconds as a non-negative integer, for "
                            "example --timeout 600. Use --timeout 0 to disable the timeout.")
    return int(text)


def request_params(values: Mapping[str, Any], message: str, timeout_s: int,
                   run_id: str) -> dict[str, Any]:
    """The ``agent`` params, in the real CLI's order, unset ones left out."""
    agent = values.get("agent")
    candidates: list[tuple[str, Any]] = [
        ("message", message),
        ("agentId", agent.strip().lower() if isinstance(agent, str) else None),
        ("model", (values.get("model") or "").strip() or None),
        ("to", values.get("to")),
        ("replyTo", values.get("replyTo")),
        ("sessionId", values.get("sessionId")),
        ("sessionKey", (values.get("sessionKey") or "").strip() or None),
        ("thinking", values.get("thinking")),
        ("deliver", bool(values.get("deliver"))),
        ("channel", (values.get("channel") or "").strip().lower() or None),
        ("replyChannel", values.get("replyChannel")),
        ("replyAccountId", values.get("replyAccount")),
        ("timeout", timeout_s),
        ("idempotencyKey", run_id),
    ]
    return {key: value for key, value in candidates if value is not None}


def json_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """``buildGatewayJsonResponse``: ``result.deliveryStatus`` repeated at the top."""
    result = response.get("result")
    status = result.get("deliveryStatus") if isinstance(result, Mapping) else None
    return dict(response) if status is None else {**response, "deliveryStatus": status}


def final_texts(response: Mapping[str, Any]) -> list[str]:
    result = response.get("result")
    payloads = result.get("payloads") if isinstance(result, Mapping) else None
    texts: list[str] = []
    for payload in payloads or ():
        if not isinstance(payload, Mapping):
            continue
        lines = []
        text = payload.get("text")
        if isinstance(text, str) and text.strip():
            lines.append(text.rstrip())
        urls = payload.get("mediaUrls") or ([payload["mediaUrl"]] if isinstance(
            payload.get("mediaUrl"), str) else [])
        lines += [f"Attachment: {url}" for url in urls if isinstance(url, str)]
        if lines:
            texts.append("\n".join(lines))
    return texts


class ReplyStream:
    """Writes the run's ``assistant`` deltas to ``out`` as they arrive."""

    def __init__(self, run_id: str, out: Any, enabled: bool) -> None:
        self.run_id = run_id
        self.out = out
        self.enabled = enabled
        self.text = ""

    def on_event(self, frame: Mapping[str, Any]) -> None:
        if frame.get("event") != "agent":
            return
        payload = frame.get("payload")
        if not isinstance(payload, Mapping) or payload.get("runId") != self.run_id or \
                payload.get("stream") != "assistant":
            return
        data = payload.get("data") if isinstance(payload.get("data"), Mapping) else {}
        text = data.get("text") if isinstance(data, Mapping) else None
        if not isinstance(text, str):
            return
        if text.startswith(self.text):
            delta = text[len(self.text):]
        else:   # rewritten (a fallback model started over): on a new line
            delta = ("\n" if self.text else "") + text
        self.text = text
        if self.enabled and delta:
            self.out.write(delta)
            self.out.flush()

    def finish(self, response: Mapping[str, Any]) -> None:
        """Close the streamed line, or print the final payloads that did not stream."""
        if not self.enabled:
            return
        texts = final_texts(response)
        streamed = self.text.strip()
        if streamed:
            self.out.write("\n")
            rest = [t for t in texts if t.strip() != streamed]
            if rest and len(rest) == len(texts):   # the final answer is another text
                self.out.write("\n".join(rest) + "\n")
            self.out.flush()
            return
        if texts:
            self.out.write("\n".join(texts) + "\n")
        elif response.get("status") == "in_flight":
            run = response.get("runId")
            sys.stderr.write(f"Agent run {run} is already in flight; not starting a duplicate "
                             "run.\n" if run else "Agent run is already in flight; not "
                             "starting a duplicate run.\n")
        elif response.get("status") != "ok":
            self.out.write(f"{response.get('summary') or 'No reply from agent.'}\n")
        else:
            self.out.write("No reply from agent.\n")
        self.out.flush()


def agent_command(args: list[str], env: MutableMapping[str, str]) -> int:
    argv = [_SHORT.get(arg, arg) for arg in args]
    parsed = run_parse(AGENT, argv)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    json_mode = bool(values.get("json"))
    try:
        return _run(values, env, json_mode)
    except AgentCliError as e:
        return _fail(str(e), json_mode)
    except InvalidValue as e:
        return _fail(str(e), json_mode)


def _fail(message: str, json_mode: bool, run_id: str | None = None) -> int:
    if json_mode:
        from openclaw.cli.common import cli_error_json

        document = cli_error_json(message)
        if run_id:
            document = {"ok": False, "runId": run_id, "origin": "gateway",
                        "error": document["error"]}
        write_json(document)
        return 1
    return command_failed(message)


def _run(values: dict[str, Any], env: MutableMapping[str, str], json_mode: bool) -> int:
    from openclaw.client.connection import (
        ADMIN,
        ClientIdentity,
        GatewayConnection,
        uuid4,
    )
    from openclaw.client.errors import GatewayClientError, GatewayRequestError
    from openclaw.client.target import load_client_config, resolve_target

    for flag, key in (("--agent", "agent"), ("--session-id", "sessionId"),
                      ("--session-key", "sessionKey"), ("--to", "to")):
        value = values.get(key)
        if value is not None and not str(value).strip():
            raise AgentCliError(f"{flag} must not be blank")
    if values.get("local"):
        raise AgentCliError("--local is not available in openclaw-twisted: the gateway runs "
                            "the agent (start it with openclaw gateway, then run without "
                            "--local).")
    message = read_message(values)
    if message.strip().lower().startswith("/compact"):
        sys.stderr.write("Slash commands cannot be executed via --message from the CLI. Use: "
                         "openclaw sessions compact <key>\n")
        return 1
    config = load_client_config(env)
    timeout_s = timeout_seconds(values.get("timeout"),
                                config.get("agents.defaults.timeoutSeconds"))
    wait_ms = NO_TIMEOUT_MS if timeout_s == 0 else max(10_000, (timeout_s + 30) * 1000)
    run_id = uuid4()
    if values.get("sessionId") and not values.get("sessionKey"):
        values = {**values, "sessionKey": session_key_of_id(env, str(values["sessionId"]),
                                                            values.get("agent"))}
    params = request_params(values, message, timeout_s, run_id)
    # A model override needs operator.admin from a backend identity (as the real CLI).
    identity = ClientIdentity(client_id="gateway-client", mode="backend",
                              scopes=(ADMIN,)) if params.get("model") else \
        ClientIdentity(scopes=(ADMIN,))
    stream = ReplyStream(run_id, sys.stdout, enabled=not json_mode)
    accepted: dict[str, Any] = {}
    try:
        target = resolve_target(env, config)
        with GatewayConnection(target, identity, timeout_ms=min(wait_ms, 30_000)) as conn:
            conn.extend_deadline(wait_ms)
            try:
                response = conn.stream_request("agent", params, stream.on_event,
                                               expect_final=True,
                                               on_accepted=accepted.update)
            except KeyboardInterrupt:
                _abort(conn, run_id, params.get("sessionKey"))
                sys.stderr.write("\nInterrupted; the run was aborted.\n")
                return 130
    except GatewayRequestError as e:
        if stream.text.strip() and not json_mode:
            sys.stdout.write("\n")
        payload = e.payload if isinstance(e.payload, Mapping) else {}
        failed_run = str(payload.get("runId") or accepted.get("runId") or "") or None
        return _fail(e.message, json_mode, failed_run)
    except GatewayClientError as e:
        if json_mode:
            write_json(e.to_json())
            return 1
        sys.stderr.write(e.text + "\n")
        return 1
    except KeyboardInterrupt:
        return 130
    if not isinstance(response, dict):
        return _fail("gateway agent call did not return a response", json_mode)
    if json_mode:
        write_json(json_response(response))
    else:
        stream.finish(response)
    return 0 if response.get("status") in ("ok", "completed") else 1


def session_key_of_id(env: Mapping[str, str], session_id: str, agent: Any) -> str | None:
    """The key of the stored session with ``session_id`` (``--session-id``), if any."""
    import json

    from openclaw.client.target import client_paths

    _home, state_dir, _config = client_paths(env)
    agents_dir = os.path.join(state_dir, "agents")
    try:
        agent_ids = [str(agent).strip().lower()] if agent else sorted(os.listdir(agents_dir))
    except OSError:
        return None
    for agent_id in agent_ids:
        try:
            with open(os.path.join(agents_dir, agent_id, "sessions", "sessions.json"),
                      encoding="utf-8") as handle:
                entries = json.load(handle)
        except (OSError, ValueError):
            continue
        for key, entry in entries.items() if isinstance(entries, dict) else ():
            if isinstance(entry, dict) and entry.get("sessionId") == session_id:
                return str(key)
    return None


def _abort(conn: Any, run_id: str, session_key: Any) -> None:
    """Ctrl-C: ``chat.abort`` the run on the same connection (best effort)."""
    params: dict[str, Any] = {"runId": run_id,
                              "sessionKey": session_key if isinstance(session_key, str)
                              else "main"}
    try:
        conn.extend_deadline(2000)
        conn.request("chat.abort", params)
    except Exception:
        sys.stderr.write(f"Interrupted; failed to abort Gateway run {params['runId']}.\n")
