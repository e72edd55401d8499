"""``openclaw tui``: a terminal chat with an agent, over the gateway's own protocol.

Built on prompt_toolkit (see docs/cli.md for why not Textual): a full-screen application with
the conversation above, a status line, and an input line below.

* On open (and after every reconnect) it loads the session's history with ``chat.history``
  (``--history-limit``, default 200).
* Enter sends the input with ``chat.send``; the reply streams from the ``chat`` ``delta``
  events (``deltaText``, ``replace``), and ends with ``final``/``aborted``/``error``.
* Tool calls show as they run: the connection advertises the ``tool-events`` cap, so the
  gateway sends this client the ``agent`` ``tool`` events of the runs it starts
  (``start`` -> ``⚙ name args``, ``result`` -> ``✓``/``✗``).
* Esc (or ``/abort``, or Ctrl-C while a turn runs) aborts the running turn (``chat.abort``).
  ``/new`` resets the session, ``/quit`` (or Ctrl-D, or Ctrl-C when idle) leaves.
* When the gateway goes away the status line shows its ``shutdown`` reason ("gateway
  restarting") or the close code, and the client reconnects with backoff (0.5 s doubling to
  5 s), then reloads the history.

``--message`` sends a first message once connected. ``--url`` with ``--token``/``--password``
targets another gateway; otherwise the profile's own (port, token) as every command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Final

import attrs

from openclaw.cli.options import Command, InvalidValue, Option, parse_positive_int, run_parse

DEFAULT_HISTORY_LIMIT: Final = 200
RECONNECT_DELAYS_S: Final = (0.5, 1.0, 2.0, 4.0, 5.0)
TOOL_EVENTS_CAP: Final = "tool-events"

TUI = Command(
    usage="openclaw tui|terminal [options] [target]",
    description="Open a terminal UI connected to the Gateway",
    options=(
        Option("--deliver", "Deliver assistant replies"),
        Option("--history-limit", 'History entries to load (default: "200")', "<n>"),
        Option("--local", "Run against the local embedded agent runtime (not available)"),
        Option("--message", "Send an initial message after connecting", "<text>"),
        Option("--password", "Gateway password (if required)", "<password>"),
        Option("--session", 'Session key (default: "main")', "<key>"),
        Option("--thinking", "Thinking level override", "<level>"),
        Option("--timeout-ms", "Agent timeout in ms (defaults to "
               "agents.defaults.timeoutSeconds)", "<ms>"),
        Option("--tls-fingerprint", "Expected Gateway TLS certificate fingerprint",
               "<sha256>"),
        Option("--token", "Gateway token (if required)", "<token>"),
        Option("--url", "Gateway WebSocket URL (defaults to gateway.remote.url when "
               "configured)", "<url>"),
    ),
    positionals=("[target]",),
)


# --------------------------------------------------------------------------- the conversation


@attrs.define
class Block:
    kind: str           # "user" | "assistant" | "tool" | "system" | "error"
    text: str
    run_id: str | None = None
    call_id: str | None = None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content
                       if isinstance(part, Mapping) and part.get("type") == "text")
    return ""


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


@attrs.define
class Conversation:
    """What the screen shows, fed by history and by ``chat``/``agent`` events."""

    session_key: str
    blocks: list[Block] = attrs.Factory(list)
    run_id: str | None = None           # the running turn this client knows of
    status: str = "connecting"
    notice: str = ""
    shutdown_reason: str | None = None  # what the gateway said before it went away

    def load_history(self, messages: Sequence[Any]) -> None:
        self.blocks = []
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            role = message.get("role")
            text = _text_of(message.get("content")).strip()
            if role == "user" and text:
                self.blocks.append(Block("user", text))
            elif role == "assistant":
                if text:
                    self.blocks.append(Block("assistant", text))
                for part in message.get("content") or ():
                    if isinstance(part, Mapping) and part.get("type") == "toolCall":
                        self.blocks.append(Block("tool", f"⚙ {part.get('name')} "
                                                 f"{_short(part.get('arguments') or {})}"))
                if message.get("stopReason") == "error" and message.get("errorMessage"):
                    self.blocks.append(Block("error", f"error: {message['errorMessage']}"))
            elif role == "toolResult":
                mark = "✗" if message.get("isError") else "✓"
                self.blocks.append(Block("tool", f"{mark} {message.get('toolName')}"))

    def _assistant(self, run_id: str) -> Block:
        for block in reversed(self.blocks):
            if block.kind == "assistant" and block.run_id == run_id:
                return block
            if block.kind == "user":
                break
        block = Block("assistant", "", run_id=run_id)
        self.blocks.append(block)
        return block

    def on_event(self, frame: Mapping[str, Any]) -> bool:
        """Apply one event frame; True when the screen changed."""
        name = frame.get("event")
        payload = frame.get("payload")
        if not isinstance(payload, Mapping):
            return False
        if name == "chat":
            return self._on_chat(payload)
        if name == "agent" and payload.get("stream") == "tool":
            return self._on_tool(payload)
        if name == "shutdown":
            reason = str(payload.get("reason") or "gateway stopping")
            self.shutdown_reason = self.notice = reason
            self.blocks.append(Block("system", f"— {reason} —"))
            return True
        return False

    def _ours(self, payload: Mapping[str, Any]) -> bool:
        key = payload.get("sessionKey")
        return key == self.session_key or (
            isinstance(key, str) and self.run_id is not None and payload.get("runId") ==
            self.run_id)

    def _on_chat(self, payload: Mapping[str, Any]) -> bool:
        if not self._ours(payload):
            return False
        run_id = str(payload.get("runId") or "")
        state = payload.get("state")
        if state == "delta":
            block = self._assistant(run_id)
            delta = payload.get("deltaText")
            message = payload.get("message")
            if payload.get("replace") and isinstance(delta, str):
                block.text = delta
            elif isinstance(message, Mapping):
                block.text = _text_of(message.get("content"))
            elif isinstance(delta, str):
                block.text += delta
            return True
        if state == "final":
            message = payload.get("message")
            if isinstance(message, Mapping):
                self._assistant(run_id).text = _text_of(message.get("content"))
            self._end(run_id)
            return True
        if state == "aborted":
            message = payload.get("message")
            if isinstance(message, Mapping) and _text_of(message.get("content")):
                self._assistant(run_id).text = _text_of(message.get("content"))
            self.blocks.append(Block("system", "— aborted —", run_id=run_id))
            self._end(run_id)
            return True
        if state == "error":
            error = payload.get("errorMessage") or "run failed"
            self.blocks.append(Block("error", f"error: {error}", run_id=run_id))
            self._end(run_id)
            return True
        return False

    def _end(self, run_id: str) -> None:
        if self.run_id == run_id or self.run_id is None:
            self.run_id = None
        self.blocks = [b for b in self.blocks if not (b.kind == "assistant" and
                                                      b.run_id == run_id and not b.text)]

    def _on_tool(self, payload: Mapping[str, Any]) -> bool:
        if not self._ours(payload):
            return False
        data = payload.get("data") if isinstance(payload.get("data"), Mapping) else {}
        assert isinstance(data, Mapping)
        call_id = str(data.get("toolCallId") or "")
        name = data.get("name")
        if data.get("phase") == "start":
            self.blocks.append(Block("tool", f"⚙ {name} {_short(data.get('args') or {})} …",
                                     run_id=str(payload.get("runId")), call_id=call_id))
            return True
        if data.get("phase") == "result":
            mark = "✗" if data.get("isError") else "✓"
            meta = data.get("meta")
            text = f"{mark} {name}" + (f" {_short(meta)}" if meta else "")
            for block in reversed(self.blocks):
                if block.kind == "tool" and block.call_id == call_id:
                    block.text = text
                    return True
            self.blocks.append(Block("tool", text, call_id=call_id))
            return True
        return False

    def render(self) -> str:
        lines: list[str] = []
        prefixes = {"user": "you: ", "assistant": "assistant: ", "tool": "  ",
                    "system": "", "error": ""}
        for block in self.blocks:
            text = block.text or ("…" if block.kind == "assistant" else "")
            lines.append(prefixes.get(block.kind, "") + text)
            if block.kind in ("assistant", "error", "system"):
                lines.append("")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the application


class TuiApp:
    """The gateway session, the conversation and the prompt_toolkit application."""

    def __init__(self, target: Any, conversation: Conversation, options: Mapping[str, Any]
                 ) -> None:
        self.target = target
        self.chat = conversation
        self.options = options
        self.session: Any = None
        self.app: Any = None
        self.output: Any = None
        self.stopping = False
        self._first_message = options.get("message")

    # -- screen

    def build(self) -> Any:
        from prompt_toolkit.application import Application
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.layout import HSplit, Layout, Window
        from prompt_toolkit.layout.controls import FormattedTextControl
        from prompt_toolkit.widgets import TextArea

        self.output = TextArea(read_only=True, scrollbar=True, wrap_lines=True, focusable=False)
        status = Window(FormattedTextControl(self._status_text), height=1,
                        style="reverse")
        self.input = TextArea(height=1, prompt="> ", multiline=False,
                              accept_handler=self._accept)
        keys = KeyBindings()

        @keys.add("escape", eager=True)
        def _escape(event: Any) -> None:
            self.abort()

        @keys.add("c-c")
        def _interrupt(event: Any) -> None:
            if self.chat.run_id is not None:
                self.abort()
            else:
                self.quit()

        @keys.add("c-d")
        def _eof(event: Any) -> None:
            self.quit()

        self.app = Application(layout=Layout(HSplit([self.output, status, self.input]),
                                             focused_element=self.input),
                               key_bindings=keys, full_screen=True, mouse_support=False)
        return self.app

    def _status_text(self) -> str:
        state = self.chat.status
        run = "running · Esc aborts" if self.chat.run_id else "idle"
        notice = f" · {self.chat.notice}" if self.chat.notice else ""
        return f" openclaw tui · {self.target.url} · {self.chat.session_key} · {state} · " \
               f"{run}{notice} "

    def refresh(self) -> None:
        if self.output is not None:
            from prompt_toolkit.document import Document

            text = self.chat.render()
            self.output.buffer.set_document(Document(text, len(text)), bypass_readonly=True)
        if self.app is not None:
            self.app.invalidate()

    def _accept(self, buffer: Any) -> bool:
        text = buffer.text.strip()
        if text:
            asyncio.get_running_loop().create_task(self.submit(text))
        return False

    # -- actions

    async def submit(self, text: str) -> None:
        if text in ("/quit", "/exit"):
            self.quit()
            return
        if text in ("/abort", "/stop"):
            self.abort()
            return
        if text in ("/new", "/reset"):
            await self._call("sessions.reset", {"key": self.chat.session_key})
            self.chat.blocks = [Block("system", "— new session —")]
            self.refresh()
            return
        if self.session is None:
            self.chat.blocks.append(Block("error", "not connected; the message was not sent"))
            self.refresh()
            return
        from openclaw.client.connection import uuid4

        run_id = uuid4()
        params: dict[str, Any] = {"sessionKey": self.chat.session_key, "message": text,
                                  "idempotencyKey": run_id}
        if self.options.get("deliver"):
            params["deliver"] = True
        if self.options.get("thinking"):
            params["thinking"] = str(self.options["thinking"])
        if self.options.get("timeoutMs"):
            params["timeoutMs"] = int(self.options["timeoutMs"])
        self.chat.blocks.append(Block("user", text))
        self.chat.run_id = run_id
        self.refresh()
        reply = await self._call("chat.send", params)
        if reply is None:
            self.chat.run_id = None
        self.refresh()

    def abort(self) -> None:
        run_id = self.chat.run_id
        if run_id is None or self.session is None:
            return
        params = {"sessionKey": self.chat.session_key, "runId": run_id}
        asyncio.get_running_loop().create_task(self._call("chat.abort", params))

    def quit(self) -> None:
        self.stopping = True
        if self.app is not None and self.app.is_running:
            self.app.exit(result=0)

    async def _call(self, method: str, params: Any) -> Any:
        from openclaw.client.errors import GatewayClientError

        session = self.session
        if session is None:
            return None
        try:
            return await session.request(method, params)
        except (GatewayClientError, TimeoutError) as e:
            message = getattr(e, "message", None) or str(e) or type(e).__name__
            self.chat.blocks.append(Block("error", f"{method} failed: {message}"))
            self.refresh()
            return None

    # -- connection

    async def connect_loop(self) -> None:
        from openclaw.client.connection import ADMIN, READ, WRITE, ClientIdentity
        from openclaw.client.errors import GatewayClientError, GatewayRequestError
        from openclaw.client.session import GatewaySession

        attempt = 0
        # ``cli``/``cli`` with the shared secret, as ``openclaw agent``: the real TUI's id
        # (``openclaw-tui``) is an operator UI, which must sign with a paired device identity.
        identity = ClientIdentity(client_id="cli", mode="cli", display_name="openclaw tui",
                                  scopes=(ADMIN, READ, WRITE))
        while not self.stopping:
            session = GatewaySession(self.target, identity, self._event,
                                     caps=(TOOL_EVENTS_CAP,))
            try:
                await session.open()
                history = await session.request("chat.history", {
                    "sessionKey": self.chat.session_key,
                    "limit": int(self.options.get("historyLimit") or DEFAULT_HISTORY_LIMIT)})
            except GatewayRequestError as e:
                await session.close()
                if e.during_connect:    # refused credentials: retrying cannot help
                    self.chat.status = "refused"
                    self.chat.blocks.append(Block("error", e.text))
                    self.refresh()
                    return
                self.chat.blocks.append(Block("error", f"chat.history failed: {e.message}"))
                history = None
                self.refresh()
                await self._backoff(attempt)
                attempt += 1
                continue
            except (GatewayClientError, OSError, TimeoutError) as e:
                await session.close()
                reconnecting = attempt > 0 or self.chat.shutdown_reason is not None
                self.chat.status = "reconnecting" if reconnecting else "connecting"
                said = self.chat.shutdown_reason
                self.chat.notice = f"{said} · {_reason_of(e)}" if said else _reason_of(e)
                self.refresh()
                await self._backoff(attempt)
                attempt += 1
                continue
            attempt = 0
            self.session = session
            if isinstance(history, Mapping):
                key = history.get("sessionKey")
                if isinstance(key, str) and key:
                    self.chat.session_key = key
                self.chat.load_history(history.get("messages") or ())
            if self.chat.shutdown_reason is not None:
                self.chat.blocks.append(Block(
                    "system", f"— reconnected (the gateway said: {self.chat.shutdown_reason}) —"))
                self.chat.shutdown_reason = None
            self.chat.status = "connected"
            self.chat.notice = ""
            self.chat.run_id = None
            self.refresh()
            if self._first_message:
                text, self._first_message = str(self._first_message), None
                asyncio.get_running_loop().create_task(self.submit(text))
            assert session.closed is not None
            code, reason = await session.closed
            self.session = None
            if self.stopping:
                return
            self.chat.status = "reconnecting"
            if self.chat.shutdown_reason is None:   # closed without a shutdown event
                self.chat.shutdown_reason = f"connection closed ({code}" + \
                    (f" {reason})" if reason else ")")
            self.chat.notice = self.chat.shutdown_reason
            self.chat.run_id = None
            self.refresh()
            await self._backoff(0)

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])

    def _event(self, frame: dict[str, Any]) -> None:
        if self.chat.on_event(frame):
            self.refresh()

    async def run(self) -> int:
        app = self.build()
        self.refresh()
        connector = asyncio.get_running_loop().create_task(self.connect_loop())
        try:
            result = await app.run_async()
        finally:
            self.stopping = True
            connector.cancel()
            with contextlib.suppress(BaseException):
                await connector
            if self.session is not None:
                await self.session.close()
        return int(result or 0)


def _reason_of(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return text.splitlines()[0] if text else "gateway unreachable"


def tui_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(TUI, args)
    if isinstance(parsed, int):
        return parsed
    values, positionals = parsed
    from openclaw.client.errors import GatewayClientError
    from openclaw.client.target import load_client_config, resolve_target

    if values.get("local"):
        sys.stderr.write("--local is not available in openclaw-twisted: the gateway runs the "
                         "agent (start it with openclaw gateway).\n")
        return 1
    if values.get("tlsFingerprint"):
        sys.stderr.write("--tls-fingerprint is not supported yet; use a wss:// URL with a "
                         "certificate your system trusts.\n")
        return 1
    session = str(values.get("session") or "main").strip() or "main"
    url = values.get("url")
    if positionals:
        target_arg = positionals[0].strip()
        if target_arg.startswith("agent:"):
            session = target_arg
        elif target_arg.startswith(("ws://", "wss://")):
            url = target_arg
        else:
            sys.stderr.write(f'Unsupported target "{target_arg}": pass an agent:<id>:<key> '
                             "session key or a ws:// URL.\n")
            return 1
    try:
        parse_positive_int(values.get("historyLimit"), DEFAULT_HISTORY_LIMIT,
                           "--history-limit")
        if values.get("timeoutMs") is not None:
            parse_positive_int(values["timeoutMs"], 1, "--timeout-ms")
        target = resolve_target(env, load_client_config(env), url=url,
                                token=values.get("token"), password=values.get("password"))
    except InvalidValue as e:
        sys.stderr.write(f"{e}\n")
        return 1
    except GatewayClientError as e:
        sys.stderr.write(e.text + "\n")
        return 1
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        sys.stderr.write("openclaw tui needs a terminal (stdin and stdout must be a TTY); use "
                         "openclaw agent -m ... in scripts.\n")
        return 1
    app = TuiApp(target, Conversation(session_key=session), values)
    return asyncio.run(app.run())


__all__ = ["Block", "Conversation", "TuiApp", "tui_command"]
