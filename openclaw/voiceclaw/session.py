"""One VoiceClaw client socket, from upgrade to close (spec §1).

::

    AWAIT_CONFIG --first session.config--> AUTHORIZING --ok--> STARTING --setupComplete--> READY
      | handshake timer: close 1000            | fail: error 401/403,        | fail: error 500,
      | "handshake timeout"                    | close 1008                  | close 1011
      | other frames: error 400                | other frames: error 400     | "setup failed"
      '---- socket closed anywhere: abort the tools, close Gemini, free the pre-auth slot ----'

The credential is ``session.config.apiKey``, checked like an HTTP API call (offered as token
and password, the shared rate limiter, the loopback penalty delay). With the brain on (the
default) only an owner may go on: the shared-secret holder, or a loopback caller of a gateway
without auth. Once configured, audio and camera frames go to Gemini Live, and Gemini's output
comes back as transcripts, audio, tool progress and metrics. An upstream error ends the
session with ``session.ended`` and close 1011 ``upstream error``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Interface

from openclaw.agents.runtime import AgentRequestError
from openclaw.auth.decision import AuthDecision
from openclaw.auth.preauth import PreauthSlot
from openclaw.voiceclaw.brain import VoiceBrain
from openclaw.voiceclaw.gemini import DEFAULT_MODEL, GeminiLiveUpstream
from openclaw.voiceclaw.protocol import (
    CLOSE_AUTH_REQUIRED,
    CLOSE_HANDSHAKE_TIMEOUT,
    CLOSE_OWNER_REQUIRED,
    CLOSE_SETUP_FAILED,
    CLOSE_UNAUTHORIZED,
    CLOSE_UPSTREAM_ERROR,
    ERR_ALREADY_CONFIGURED,
    ERR_AUTH_FAILED,
    ERR_AUTH_REQUIRED,
    ERR_CONFIG_REQUIRED,
    ERR_INTERNAL,
    ERR_INVALID_JSON,
    ERR_NO_GEMINI_KEY,
    ERR_OWNER_REQUIRED,
    SESSION_ENDED_SUMMARY,
    ClientEvent,
    CloseReason,
    VoiceSessionConfig,
    error_event,
    parse_client_event,
    redact_key,
    tool_session_key,
)
from openclaw.voiceclaw.recorder import VoiceRecorder
from openclaw.voiceclaw.tools import (
    DEFAULT_MAX_CONCURRENT_TOOLS,
    DEFAULT_TOOL_TIMEOUT_MS,
    ToolOutcome,
    VoiceToolRuntime,
)

__all__ = [
    "OWNER_METHODS",
    "Authorize",
    "IClientSocket",
    "Phase",
    "VoiceClawServices",
    "VoiceClawSession",
    "sender_is_owner",
]

log = Logger(namespace="voiceclaw")

OWNER_METHODS: Final = frozenset({"token", "password"})
Phase = Literal["await_config", "authorizing", "starting", "ready", "ended"]
Authorize = Callable[[str | None, Mapping[str, str], str | None], AuthDecision]
"""``(peer address, upgrade headers, presented secret)`` -> the HTTP auth decision."""


class SetupError(Exception):
    """The session could not start; the text goes to the client."""


class IClientSocket(Interface):
    """The WebSocket of one VoiceClaw client."""

    def send_event(event: Mapping[str, Any]) -> None:  # noqa: N805
        """One JSON text frame (dropped once the socket is closing)."""

    def close(code: int, reason: str) -> None:  # noqa: N805
        """Start the closing handshake with any code (1008 and 1011 included)."""

    def is_open() -> bool:
        """Whether frames can still be sent."""


@attrs.define
class VoiceClawServices:
    """What every session of the endpoint uses, read when a session needs it (a config
    reload or a rotated secret applies to the next decision)."""

    reactor: Any
    """Opens the sockets to Gemini Live (``IReactorTCP``/``IReactorSSL``)."""
    clock: IReactorTime
    """Every timer: handshake, auth penalty, Gemini setup, reconnect backoff, watchdog, tools."""
    authorize: Authorize
    auth_mode: Callable[[], str]
    handshake_timeout_ms: Callable[[], int]
    gemini_url: Callable[[], str]
    gemini_api_key: Callable[[], str | None]
    brain: VoiceBrain | None = None
    tool_timeout_ms: int = DEFAULT_TOOL_TIMEOUT_MS
    max_concurrent_tools: int = DEFAULT_MAX_CONCURRENT_TOOLS


def sender_is_owner(method: str | None, local_direct: bool) -> bool:
    """The shared-secret holder, or a loopback caller of an auth-less gateway."""
    return method in OWNER_METHODS or (method == "none" and local_direct)


class VoiceClawSession:
    """The state machine of one client socket (see the module doc)."""

    def __init__(self, services: VoiceClawServices, socket: IClientSocket,
                 remote_address: str | None, headers: Mapping[str, str],
                 slot: PreauthSlot | None = None) -> None:
        self.services = services
        self.socket = socket
        self.remote_address = remote_address
        self.headers = dict(headers)
        self.slot = slot
        self.id = str(uuid.uuid4())
        self.started_at = services.clock.seconds()
        self.phase: Phase = "await_config"
        self.config: VoiceSessionConfig | None = None
        self.session_key: str | None = None
        self.upstream: GeminiLiveUpstream | None = None
        self.tools: VoiceToolRuntime | None = None
        self.recorder: VoiceRecorder | None = None
        self.decided: Deferred[AuthDecision] = Deferred()
        """Fires with the auth decision on ``session.config`` (before any penalty delay)."""
        self.done: Deferred[None] = Deferred()
        """Fires when the session has ended and what it recorded is on disk."""
        self._config_started = False
        self._handshake_timer: IDelayedCall | None = None

    @property
    def ended(self) -> bool:
        return self.phase == "ended"

    # -- socket events ---------------------------------------------------------------------

    def opened(self) -> None:
        timeout_s = max(0.0, self.services.handshake_timeout_ms() / 1000.0)
        self._handshake_timer = self.services.clock.callLater(timeout_s, self._handshake_expired)

    def received(self, payload: bytes) -> None:
        event = parse_client_event(payload)
        if event is None:
            self._send(error_event(ERR_INVALID_JSON, 400))
            return
        try:
            self._handle(event)
        except ValueError as e:
            # the client's fault (missing or bad base64): upstream answers it like any failure
            log.warn("voice session {id}: bad {type}: {error}", id=self.id, type=event.type,
                     error=str(e))
            self._send(error_event(ERR_INTERNAL, 500))
        except Exception:
            log.failure("voice session {id}: handling {type} failed", id=self.id,
                        type=event.type)
            self._send(error_event(ERR_INTERNAL, 500))

    def closed(self) -> None:
        self._end()

    # -- client events ---------------------------------------------------------------------

    def _handle(self, event: ClientEvent) -> None:
        if self.config is None:
            if event.type != "session.config":
                self._send(error_event(ERR_CONFIG_REQUIRED, 400))
                return
            if self._config_started:
                return  # a second config while the first is being authorised
            self._config_started = True
            self._cancel_handshake_timer()
            Deferred.fromCoroutine(self._start(VoiceSessionConfig.from_event(event))) \
                .addErrback(self._start_crashed)
            return
        upstream = self.upstream
        kind = event.type
        if kind == "audio.append":
            data = event.fields.get("data")
            if not isinstance(data, str):
                raise ValueError("audio.append without base64 data")
            if upstream is not None:
                upstream.send_audio(data)
        elif kind == "frame.append":
            data = event.fields.get("data")
            if not isinstance(data, str):
                raise ValueError("frame.append without base64 data")
            if upstream is not None:
                upstream.send_frame(data, event.text("mimeType"))
        elif kind == "tool.result":
            call_id, output = event.text("callId"), event.fields.get("output")
            if upstream is not None and call_id is not None:
                upstream.send_tool_result(call_id, output if isinstance(output, str)
                                          else str(output))
        elif kind == "session.config":
            self._send(error_event(ERR_ALREADY_CONFIGURED, 400))
        # audio.commit, response.create, response.cancel: Gemini's own VAD and barge-in
        # handle them; text.input, client.timing and the rest are ignored.

    # -- starting --------------------------------------------------------------------------

    async def _start(self, config: VoiceSessionConfig) -> None:
        services = self.services
        self.phase = "authorizing"
        decision = services.authorize(self.remote_address, self.headers,
                                      config.api_key or None)
        self.decided.callback(decision)
        if not decision.ok and decision.delay_seconds > 0:
            # a wrong secret from loopback is answered late, as on HTTP
            await deferLater(services.clock, decision.delay_seconds, lambda: None)
        self._release_slot()
        if self.ended:
            return
        if not decision.ok:
            log.info("voice session {id}: authentication failed ({reason})", id=self.id,
                     reason=decision.reason)
            self._refuse(ERR_AUTH_FAILED, 401, CLOSE_UNAUTHORIZED)
            return
        local_direct = decision.ingress is not None and decision.ingress.is_local_direct
        if config.brain and services.auth_mode() == "none" and not local_direct:
            self._refuse(ERR_AUTH_REQUIRED, 403, CLOSE_AUTH_REQUIRED)
            return
        if config.brain and not sender_is_owner(decision.method, local_direct):
            self._refuse(ERR_OWNER_REQUIRED, 403, CLOSE_OWNER_REQUIRED)
            return
        self.config = config
        self.phase = "starting"
        try:
            await self._open_upstream(config)
        except Exception as e:
            if self.ended:
                return
            message = redact_key(str(e) or ERR_INTERNAL)
            log.warn("voice session {id}: setup failed: {message}", id=self.id,
                     message=message)
            self._refuse(message, 500, CLOSE_SETUP_FAILED)
            return
        if self.ended:
            return
        self.phase = "ready"
        self._send({"type": "session.ready", "sessionId": self.id})

    async def _open_upstream(self, config: VoiceSessionConfig) -> None:
        services = self.services
        api_key = (services.gemini_api_key() or "").strip()
        if not api_key:
            raise SetupError(ERR_NO_GEMINI_KEY)
        model = config.model or DEFAULT_MODEL
        declarations: list[dict[str, Any]] = []
        brain = services.brain
        if config.brain and brain is not None:
            try:
                agent_id, key = brain.resolve(tool_session_key(config.session_key, self.id))
            except AgentRequestError as e:
                raise SetupError(f"OpenClaw brain unavailable: {e}") from None
            self.session_key = key
            self.recorder = brain.recorder(agent_id, key, model=model)
            self.tools = brain.tools(agent_id, key, clock=services.clock,
                                     timeout_ms=services.tool_timeout_ms,
                                     max_concurrent=services.max_concurrent_tools,
                                     progress=self._tool_progress,
                                     finished=self._tool_finished)
            declarations = self.tools.declarations
        self.upstream = GeminiLiveUpstream(
            reactor=services.reactor, clock=services.clock, base_url=services.gemini_url(),
            api_key=api_key, config=config, declarations=declarations, listener=self)
        await self.upstream.connect()

    def _start_crashed(self, failure: Failure) -> None:
        log.failure("voice session {id} failed to start", failure, id=self.id)
        self._send(error_event(ERR_INTERNAL, 500))

    def _refuse(self, message: str, code: int, close: CloseReason) -> None:
        self._send(error_event(message, code))
        self.socket.close(close.code, close.reason)

    # -- the upstream's output (UpstreamListener) ------------------------------------------

    def client_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "tool.cancelled" and self.tools is not None:
            for call_id in event.get("callIds") or ():
                self.tools.abort(str(call_id))
        elif kind == "transcript.done" and self.recorder is not None:
            self.recorder.said(str(event.get("role")), str(event.get("text") or ""))
        self._send(event)
        if kind == "error":
            self._close_with_summary(CLOSE_UPSTREAM_ERROR)

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> None:
        upstream = self.upstream
        if upstream is None:
            return
        if self.tools is not None and self.tools.handle_call(call_id, name, arguments,
                                                             upstream):
            return
        upstream.send_tool_result(call_id, {"error": f"unknown tool: {name}"})

    def _tool_progress(self, call_id: str, summary: str) -> None:
        self._send({"type": "tool.progress", "callId": call_id, "summary": summary})

    def _tool_finished(self, outcome: ToolOutcome) -> None:
        if self.recorder is not None:
            self.recorder.tool_finished(outcome)

    # -- ending ----------------------------------------------------------------------------

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        if self.config is None and not self._config_started and self.phase != "ended":
            log.warn("voice session {id}: handshake timed out", id=self.id)
            self.socket.close(CLOSE_HANDSHAKE_TIMEOUT.code, CLOSE_HANDSHAKE_TIMEOUT.reason)

    def _close_with_summary(self, close: CloseReason) -> None:
        self._end()
        if self.socket.is_open():
            self.socket.close(close.code, close.reason)

    def _end(self) -> None:
        if self.phase == "ended":
            return
        configured = self.config is not None
        self._cancel_handshake_timer()
        self._release_slot()
        upstream, self.upstream = self.upstream, None
        turns = 0
        if upstream is not None:
            turns = sum(1 for turn in upstream.transcript if turn.role == "user")
            upstream.disconnect()
        if configured and self.socket.is_open():
            self._send({"type": "session.ended", "summary": SESSION_ENDED_SUMMARY,
                        "durationSec": round(self.services.clock.seconds() - self.started_at),
                        "turnCount": turns})
        self.phase = "ended"
        # After Gemini is gone: an aborted call is recorded, but nothing reaches the client.
        tools, self.tools = self.tools, None
        if tools is not None:
            tools.abort_all()
        recorder = self.recorder
        if recorder is None:
            self.done.callback(None)
        else:
            recorder.settled().addBoth(lambda _ignored: self.done.callback(None))

    def _cancel_handshake_timer(self) -> None:
        timer, self._handshake_timer = self._handshake_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _release_slot(self) -> None:
        if self.slot is not None:
            self.slot.release()

    def _send(self, event: Mapping[str, Any]) -> None:
        if self.phase != "ended" and self.socket.is_open():
            self.socket.send_event(event)

