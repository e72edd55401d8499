"""The Gemini Live side of a voice session: a ``BidiGenerateContent`` client on Autobahn.

:class:`GeminiLiveUpstream` is the gateway as Gemini's client (spec §2). It opens the socket
(``<url>?key=<GEMINI_API_KEY>``), sends the ``setup`` (model, voice, system instruction,
transcription, VAD, resumption, compression, the brain's function declarations) and waits for
``setupComplete`` (15 s). Afterwards it

* forwards the client's audio resampled 24 -> 16 kHz, camera frames and injected text;
* turns server messages into client events, dispatching on the **first** of ``serverContent``,
  ``toolCall``, ``toolCallCancellation``, ``goAway``, ``sessionResumptionUpdate``,
  ``usageMetadata`` present (so usage bundled with ``turnComplete`` is lost, as upstream);
  the transcript state machine of spec §1.4 makes ``turn.started``, ``transcript.delta``/
  ``.done``, ``turn.ended`` and ``latency.metrics``;
* hands tool calls to its listener (never to the client) and sends their ``functionResponses``;
* keeps the latest resumption handle and, on ``goAway`` or a resumable close, reconnects with
  it (deferred while tools run; 2 attempts 500 ms apart), queueing input meanwhile (audio 50
  and video 5 drop the oldest, control 20 drops the newest, tool results are all kept);
* runs the optional silence watchdog (20 s).

Every timer runs on the ``clock`` it is given; sockets go through ``reactor``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Protocol
from urllib.parse import quote

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConnector, IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from openclaw.autobahn_timers import ReactorTimer, cancel_close_timer
from openclaw.voiceclaw.instructions import build_instructions
from openclaw.voiceclaw.protocol import (
    DEFAULT_VOICE,
    HistoryTurn,
    VoiceSessionConfig,
    encode_json,
    error_event,
    redact_key,
)
from openclaw.voiceclaw.resample import resample_base64_24k_to_16k

__all__ = [
    "DEFAULT_GEMINI_URL",
    "DEFAULT_MODEL",
    "GEMINI_VOICES",
    "GeminiLiveUpstream",
    "GeminiSetupError",
    "UpstreamListener",
    "gemini_socket_url",
    "parse_tool_output",
    "resolve_voice",
]

log = Logger(namespace="voiceclaw.gemini")

DEFAULT_GEMINI_URL: Final = (
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
)
DEFAULT_MODEL: Final = "gemini-3.1-flash-live-preview"
GEMINI_VOICES: Final = ("Puck", "Charon", "Kore", "Fenrir", "Aoede", "Leda", "Orus", "Zephyr")
SETUP_TIMEOUT_S: Final = 15.0
WATCHDOG_TIMEOUT_S: Final = 20.0
RECONNECT_ATTEMPTS: Final = 2
RECONNECT_BACKOFF_S: Final = 0.5
RECONNECTABLE_CLOSE_CODES: Final = frozenset({1001, 1006, 1007, 1011, 1012, 1013})
MAX_PENDING_AUDIO: Final = 50
MAX_PENDING_VIDEO: Final = 5
MAX_PENDING_CONTROL: Final = 20
INPUT_AUDIO_MIME: Final = "audio/pcm;rate=16000"
WATCHDOG_TEXT: Final = (
    "(The user has been silent. If the conversation naturally ended, stay quiet. Otherwise, "
    "gently check if they are still there.)")
SETUP_FAILED: Final = "Gemini Live setup failed"
SETUP_TIMED_OUT: Final = "Gemini Live setup timed out"
CLOSED_WITH_TOOLS: Final = "Gemini Live closed while a tool call was in flight"
RECONNECT_FAILED_WITH_TOOLS: Final = "Gemini Live reconnect failed while a tool call was in flight"

Kind = Literal["audio", "video", "control", "tool"]


class GeminiSetupError(Exception):
    """Gemini Live did not acknowledge the setup; the text is safe to show (key redacted)."""


class UpstreamListener(Protocol):
    """Where the upstream's output goes: the voice session."""

    def client_event(self, event: dict[str, Any]) -> None:
        """An event for the VoiceClaw client (``audio.delta``, ``transcript.*``, ``error``...)."""

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> None:
        """Gemini asked for a function call; answer with ``send_tool_result``."""


def gemini_socket_url(base_url: str, api_key: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}key={quote(api_key, safe='')}"


def resolve_voice(voice: str | None) -> str:
    """One of Gemini's prebuilt voices (case-insensitive), else Zephyr."""
    wanted = (voice or "").lower()
    return next((name for name in GEMINI_VOICES if name.lower() == wanted), DEFAULT_VOICE)


def parse_tool_output(output: str | Mapping[str, Any]) -> dict[str, Any]:
    """A ``functionResponse.response``: the output if it is a JSON object, else ``{result}``."""
    if isinstance(output, Mapping):
        return dict(output)
    try:
        parsed = json.loads(output)
    except ValueError:
        return {"result": output}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


def _record(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _modality_tokens(details: Any, modality: str) -> int | float | None:
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and detail.get("modality") == modality:
            return _number(detail.get("tokenCount"))
    return None


# ------------------------------------------------------------------------------- the socket


class _LinkProtocol(WebSocketClientProtocol):
    factory: _LinkFactory

    def onOpen(self) -> None:
        self.factory.link._opened(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.link._message(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)
        # The peer's own close frame, when there was one (Autobahn otherwise reports its view).
        remote_code = self.remoteCloseCode
        remote_reason = self.remoteCloseReason
        if remote_code is not None:
            self.factory.link._closed(int(remote_code), remote_reason or "")
        else:
            # A close frame without a code is 1005 ("no status"); no close frame at all, 1006.
            self.factory.link._closed(1005 if wasClean else 1006, "")


class _LinkFactory(WebSocketClientFactory):
    protocol = _LinkProtocol  # type: ignore[assignment]

    def __init__(self, link: _Link, url: str, reactor: Any) -> None:
        super().__init__(url, reactor=reactor)
        self.link = link
        self.noisy = False
        self._batched_timer = ReactorTimer(reactor)
        # Gemini's frames (audio, tool results, images) are not ours to cap; no pings.
        self.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0,
                                autoPingInterval=0, perMessageCompressionOffers=[])

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        self.link._closed(1006, "")


class _Link:
    """One WebSocket to Gemini. Its events reach the upstream only while it is attached:
    a link that was replaced (rotation) or gave up (setup failure) is silent."""

    def __init__(self, upstream: GeminiLiveUpstream, url: str) -> None:
        self.upstream: GeminiLiveUpstream | None = upstream
        self.url = url
        self.protocol: _LinkProtocol | None = None
        self.connector: IConnector | None = None
        self.setup: Deferred[None] | None = Deferred()
        self.setup_timer: IDelayedCall | None = None
        self.ended = False

    def connect(self, reactor: Any) -> None:
        factory = _LinkFactory(self, self.url, reactor)
        if factory.isSecure:
            from twisted.internet.ssl import optionsForClientTLS

            self.connector = reactor.connectSSL(factory.host, factory.port, factory,
                                                optionsForClientTLS(factory.host))
        else:
            self.connector = reactor.connectTCP(factory.host, factory.port, factory)

    @property
    def is_open(self) -> bool:
        return self.protocol is not None and self.protocol.state == WebSocketProtocol.STATE_OPEN

    def send(self, payload: bytes) -> None:
        if self.protocol is not None and self.is_open:
            self.protocol.sendMessage(payload, isBinary=False)

    def detach(self) -> None:
        self.upstream = None

    def close(self, code: int | None = None, reason: str = "") -> None:
        """Close the socket (a close frame when open, else drop the attempt)."""
        protocol = self.protocol
        if protocol is None:
            if self.connector is not None and not self.ended:
                self.connector.disconnect()
            return
        if protocol.state == WebSocketProtocol.STATE_OPEN:
            if code is None:
                protocol.sendClose()
            else:
                # Autobahn's sendClose() refuses 1011; the frame itself is valid.
                protocol.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8"),
                                        isReply=False)
        elif protocol.state != WebSocketProtocol.STATE_CLOSED:
            protocol.dropConnection(abort=True)

    # -- socket events

    def _opened(self, protocol: _LinkProtocol) -> None:
        self.protocol = protocol
        if self.upstream is not None:
            self.upstream._link_opened(self)
        else:
            self.close()

    def _message(self, payload: bytes) -> None:
        if self.upstream is not None:
            self.upstream._link_message(self, payload)

    def _closed(self, code: int, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        if self.upstream is not None:
            self.upstream._link_closed(self, code, reason)


# ------------------------------------------------------------------------------- the adapter


class GeminiLiveUpstream:
    """One voice session's Gemini Live connection(s); see the module doc."""

    def __init__(self, *, reactor: Any, clock: IReactorTime, base_url: str, api_key: str,
                 config: VoiceSessionConfig, declarations: Sequence[Mapping[str, Any]],
                 listener: UpstreamListener) -> None:
        self._reactor = reactor
        self._clock = clock
        self._base_url = base_url
        self._api_key = api_key
        self.config = config
        self.model = config.model or DEFAULT_MODEL
        self.declarations = [dict(d) for d in declarations]
        self._listener: UpstreamListener | None = listener
        self.transcript: list[HistoryTurn] = []
        self._link: _Link | None = None
        self._disconnected = False
        self._reconnecting = False
        self._handle: str | None = None
        self._resumable = False
        self._rotate_later = False
        self._pending_calls: set[str] = set()
        self._pending_count = 0
        self._async_calls: set[str] = set()
        self._queue_audio: deque[bytes] = deque(maxlen=MAX_PENDING_AUDIO)
        self._queue_video: deque[bytes] = deque(maxlen=MAX_PENDING_VIDEO)
        self._queue_control: list[bytes] = []
        self._queue_tool: list[bytes] = []
        self._watchdog: IDelayedCall | None = None
        self._user_text = ""
        self._assistant_text = ""
        self._user_speaking = False
        self._turn_started_ms: float | None = None
        self._last_input_transcription_ms: float | None = None
        self._last_audio_ms: float | None = None
        self._first_audio_ms: float | None = None
        self._first_text_ms: float | None = None
        self._interrupted = False

    # -- public ----------------------------------------------------------------------------

    @property
    def resumption_handle(self) -> str | None:
        return self._handle

    @property
    def rotating(self) -> bool:
        return self._reconnecting

    def connect(self) -> Deferred[None]:
        """Open the socket and send the setup; fires on ``setupComplete``, else fails with
        :class:`GeminiSetupError`."""
        return self._open_link()

    def send_audio(self, data: str) -> None:
        """One client ``audio.append`` (base64 24 kHz PCM16; ``ValueError`` if not base64)."""
        self._send({"realtimeInput": {"audio": {
            "data": resample_base64_24k_to_16k(data), "mimeType": INPUT_AUDIO_MIME}}}, "audio")
        self._last_audio_ms = self._now_ms()
        self._reset_watchdog()

    def send_frame(self, data: str, mime_type: str | None = None) -> None:
        self._send({"realtimeInput": {"video": {"data": data,
                                                "mimeType": mime_type or "image/jpeg"}}},
                   "video")

    def inject_text(self, text: str) -> None:
        log.info("injecting async context into Gemini Live ({n} chars)", n=len(text))
        self._send({"realtimeInput": {"text": text}})

    def send_tool_result(self, call_id: str, output: str | Mapping[str, Any]) -> None:
        """Answer function call ``call_id`` (no ``name``: the shipped code omits it)."""
        self._pending_count = max(0, self._pending_count - 1)
        self._pending_calls.discard(call_id)
        self._send({"toolResponse": {"functionResponses": [
            {"id": call_id, "response": parse_tool_output(output)}]}}, "tool")
        if self._pending_count == 0:
            self._reset_watchdog()
            self._rotate_if_deferred("deferred goAway")

    def begin_async_tool(self, call_id: str) -> None:
        """The call was answered ``working``; its result comes later (pauses the watchdog and
        any rotation)."""
        self._async_calls.add(call_id)
        self._clear_watchdog()

    def finish_async_tool(self, call_id: str) -> None:
        if call_id not in self._async_calls:
            return
        self._async_calls.discard(call_id)
        self._reset_watchdog()
        self._rotate_if_deferred("deferred goAway")

    def disconnect(self) -> None:
        """End it: flush the transcripts, close the socket; nothing is emitted afterwards."""
        if self._disconnected:
            return
        self._disconnected = True
        self._clear_watchdog()
        self._async_calls.clear()
        self._flush_transcripts()
        link, self._link = self._link, None
        self._listener = None
        if link is not None:
            link.detach()
            self._settle(link, GeminiSetupError("Gemini Live session closed"))
            link.close()

    # -- opening ---------------------------------------------------------------------------

    def _open_link(self) -> Deferred[None]:
        if self._disconnected:
            raise GeminiSetupError("Gemini Live session closed")
        link = _Link(self, gemini_socket_url(self._base_url, self._api_key))
        self._link = link
        setup = link.setup
        assert setup is not None
        link.setup_timer = self._clock.callLater(SETUP_TIMEOUT_S, self._setup_failed, link,
                                                 SETUP_TIMED_OUT)
        link.connect(self._reactor)
        return setup

    def _setup_message(self) -> dict[str, Any]:
        setup: dict[str, Any] = {
            "model": f"models/{self.model}",
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {
                    "voiceName": resolve_voice(self.config.voice)}}},
            },
            "outputAudioTranscription": {},
            "inputAudioTranscription": {},
            "systemInstruction": {"parts": [{"text": build_instructions(self.config)}]},
            "realtimeInputConfig": {"automaticActivityDetection": {
                "disabled": False,
                "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
                "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
                "prefixPaddingMs": 20,
                "silenceDurationMs": 500,
            }},
            "sessionResumption": {"handle": self._handle} if self._handle else {},
            "contextWindowCompression": {"slidingWindow": {}, "triggerTokens": 10_000},
        }
        if self.declarations:
            setup["tools"] = [{"functionDeclarations": self.declarations}]
        return {"setup": setup}

    def _settle(self, link: _Link, error: GeminiSetupError | None) -> bool:
        """Fire the link's setup Deferred once; False when it already was."""
        setup, link.setup = link.setup, None
        if setup is None:
            return False
        timer, link.setup_timer = link.setup_timer, None
        if timer is not None and timer.active():
            timer.cancel()
        if error is None:
            setup.callback(None)
        else:
            setup.errback(error)
        return True

    def _setup_failed(self, link: _Link, message: str) -> None:
        if link.setup is None:
            return
        link.detach()
        link.close(1011, "setup failed")
        if self._link is link:
            self._link = None
        self._settle(link, GeminiSetupError(redact_key(message)))

    # -- socket events ---------------------------------------------------------------------

    def _link_opened(self, link: _Link) -> None:
        link.send(encode_json(self._setup_message()))

    def _link_message(self, link: _Link, payload: bytes) -> None:
        try:
            message = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            log.warn("failed to parse a Gemini Live message: {error}", error=str(e))
            return
        if not isinstance(message, dict):
            return
        if "setupComplete" in message:
            if self._settle(link, None):
                log.info("Gemini Live setup complete (model {model})", model=self.model)
                self._flush_queues()
                self._reset_watchdog()
            return
        self._dispatch(message)

    def _link_closed(self, link: _Link, code: int, reason: str) -> None:
        if link.setup is not None:
            self._setup_failed(link, reason or SETUP_FAILED)
            return
        if self._link is link:
            self._link = None
        self._upstream_closed(code)

    def _upstream_closed(self, code: int) -> None:
        if self._disconnected or self._reconnecting:
            return
        if self._tools_active():
            self._cancel_active_tools(CLOSED_WITH_TOOLS)
            return
        if code == 1000:
            return
        if code not in RECONNECTABLE_CLOSE_CODES or not self._handle:
            self._emit(error_event("Gemini Live connection closed", 502))
            return
        self._start_reconnect(f"close code {code}")

    # -- server messages -------------------------------------------------------------------

    def _dispatch(self, message: dict[str, Any]) -> None:
        content = _record(message.get("serverContent"))
        if content is not None:
            self._server_content(content)
            return
        tool_call = _record(message.get("toolCall"))
        if tool_call is not None:
            self._tool_calls(tool_call)
            return
        cancellation = _record(message.get("toolCallCancellation"))
        if cancellation is not None:
            self._cancellation(cancellation)
            return
        if _record(message.get("goAway")) is not None:
            if self._pending_count > 0 or self._async_calls or not self._resumable:
                self._rotate_later = True
                return
            self._start_reconnect("goAway")
            return
        update = _record(message.get("sessionResumptionUpdate"))
        if update is not None:
            self._resumable = update.get("resumable") is True
            handle = update.get("newHandle")
            if isinstance(handle, str) and self._resumable:
                self._handle = handle
            self._rotate_if_deferred("deferred goAway")
            return
        usage = _record(message.get("usageMetadata"))
        if usage is not None:
            metrics = {
                "promptTokens": _number(usage.get("promptTokenCount")),
                "completionTokens": _number(usage.get("responseTokenCount")),
                "totalTokens": _number(usage.get("totalTokenCount")),
                "inputAudioTokens": _modality_tokens(usage.get("promptTokensDetails"), "AUDIO"),
                "outputAudioTokens": _modality_tokens(usage.get("responseTokensDetails"),
                                                      "AUDIO"),
            }
            self._emit({"type": "usage.metrics",
                        **{k: v for k, v in metrics.items() if v is not None}})

    def _server_content(self, content: dict[str, Any]) -> None:
        model_turn = _record(content.get("modelTurn")) or {}
        parts = model_turn.get("parts")
        for part in parts if isinstance(parts, list) else ():
            inline = _record(_record(part) and part.get("inlineData"))
            if inline is not None and isinstance(inline.get("data"), str):
                if self._first_audio_ms is None:
                    self._first_audio_ms = self._now_ms()
                self._emit({"type": "audio.delta", "data": inline["data"]})
                self._reset_watchdog()
        output_text = (_record(content.get("outputTranscription")) or {}).get("text")
        if isinstance(output_text, str) and output_text:
            self._flush_user()
            self._user_speaking = False
            if self._first_text_ms is None:
                self._first_text_ms = self._now_ms()
            self._assistant_text += output_text
            self._emit({"type": "transcript.delta", "text": output_text, "role": "assistant"})
        input_text = (_record(content.get("inputTranscription")) or {}).get("text")
        if isinstance(input_text, str) and input_text:
            self._last_input_transcription_ms = self._now_ms()
            if not self._user_speaking:
                self._user_speaking = True
                self._reset_latency()
                self._turn_started_ms = self._now_ms()
                self._emit({"type": "turn.started"})
            self._flush_assistant()
            self._user_text += input_text
            self._emit({"type": "transcript.delta", "text": input_text, "role": "user"})
        if content.get("turnComplete"):
            self._latency_metrics()
            self._flush_transcripts()
            self._user_speaking = False
            self._emit({"type": "turn.ended"})
        if content.get("interrupted"):
            self._interrupted = True
            if not self._user_speaking:
                self._user_speaking = True
                self._emit({"type": "turn.started"})
            self._flush_user()
            self._flush_assistant("...")

    def _tool_calls(self, tool_call: dict[str, Any]) -> None:
        calls = tool_call.get("functionCalls")
        for call in calls if isinstance(calls, list) else ():
            if not isinstance(call, dict) or not isinstance(call.get("id"), str) \
                    or not isinstance(call.get("name"), str):
                continue
            self._pending_count += 1
            self._pending_calls.add(call["id"])
            self._clear_watchdog()
            listener = self._listener
            if listener is not None:
                args = call.get("args")
                listener.tool_call(call["id"], call["name"], args if isinstance(args, dict)
                                   else {})

    def _cancellation(self, cancellation: dict[str, Any]) -> None:
        raw = cancellation.get("ids")
        ids = [i for i in raw if isinstance(i, str)] if isinstance(raw, list) else []
        cancelled = 0
        for call_id in ids:
            if call_id in self._pending_calls:
                self._pending_calls.discard(call_id)
                cancelled += 1
            self._async_calls.discard(call_id)
        self._pending_count = max(0, self._pending_count - cancelled)
        if ids:
            self._emit({"type": "tool.cancelled", "callIds": ids})
        self._reset_watchdog()
        self._rotate_if_deferred("deferred goAway")

    # -- rotation --------------------------------------------------------------------------

    def _tools_active(self) -> bool:
        return bool(self._pending_count or self._pending_calls or self._async_calls
                    or self._rotate_later)

    def _cancel_active_tools(self, message: str) -> None:
        call_ids = list(dict.fromkeys([*self._pending_calls, *self._async_calls]))
        self._pending_count = 0
        self._pending_calls.clear()
        self._async_calls.clear()
        self._rotate_later = False
        if call_ids:
            self._emit({"type": "tool.cancelled", "callIds": call_ids})
        self._emit(error_event(message, 502))

    def _rotate_if_deferred(self, reason: str) -> None:
        if not self._rotate_later or not self._resumable or self._pending_count \
                or self._async_calls:
            return
        self._rotate_later = False
        self._start_reconnect(reason)

    def _start_reconnect(self, reason: str) -> None:
        Deferred.fromCoroutine(self._reconnect(reason)).addErrback(
            lambda failure: log.failure("Gemini Live reconnect crashed", failure))

    async def _reconnect(self, reason: str) -> None:
        if self._reconnecting or self._disconnected or not self._handle:
            return
        self._reconnecting = True
        self._resumable = False
        self._flush_transcripts()
        self._user_speaking = False
        self._clear_watchdog()
        self._emit({"type": "session.rotating"})
        old, self._link = self._link, None
        if old is not None:
            old.detach()
            old.close()
        for attempt in range(1, RECONNECT_ATTEMPTS + 1):
            if self._disconnected:
                return
            try:
                await self._open_link()
            except GeminiSetupError as e:
                log.warn("Gemini Live reconnect failed ({reason}, attempt {attempt}): {error}",
                         reason=reason, attempt=attempt, error=str(e))
                if attempt < RECONNECT_ATTEMPTS:
                    await deferLater(self._clock, RECONNECT_BACKOFF_S, lambda: None)
                continue
            self._reconnecting = False
            self._emit({"type": "session.rotated",
                        "sessionId": f"gemini-resumed-{int(self._now_ms())}"})
            return
        self._reconnecting = False
        if self._disconnected:
            return
        if self._tools_active():
            self._cancel_active_tools(RECONNECT_FAILED_WITH_TOOLS)
            return
        self._emit(error_event("Gemini Live reconnect failed", 502))

    # -- sending ---------------------------------------------------------------------------

    def _send(self, message: Mapping[str, Any], kind: Kind = "control") -> None:
        payload = encode_json(message)
        if self._reconnecting:
            if kind == "tool":
                self._queue_tool.append(payload)
            elif kind == "audio":
                self._queue_audio.append(payload)
            elif kind == "video":
                self._queue_video.append(payload)
            elif len(self._queue_control) < MAX_PENDING_CONTROL:
                self._queue_control.append(payload)
            return
        link = self._link
        if link is not None and link.is_open:
            link.send(payload)

    def _flush_queues(self) -> None:
        link = self._link
        if link is None or not link.is_open:
            return
        queued = [*self._queue_tool, *self._queue_control, *self._queue_audio,
                  *self._queue_video]
        self._queue_tool.clear()
        self._queue_control.clear()
        self._queue_audio.clear()
        self._queue_video.clear()
        for payload in queued:
            link.send(payload)

    # -- client events and transcripts -----------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        listener = self._listener
        if listener is not None:
            listener.client_event(event)

    def _flush_user(self) -> None:
        if not self._user_text:
            return
        text, self._user_text = self._user_text, ""
        self.transcript.append(HistoryTurn("user", text))
        self._emit({"type": "transcript.done", "text": text, "role": "user"})

    def _flush_assistant(self, suffix: str = "") -> None:
        if not self._assistant_text:
            return
        text = self._assistant_text + suffix
        self._assistant_text = ""
        self.transcript.append(HistoryTurn("assistant", text))
        self._emit({"type": "transcript.done", "text": text, "role": "assistant"})

    def _flush_transcripts(self) -> None:
        self._flush_user()
        self._flush_assistant()

    # -- timing ----------------------------------------------------------------------------

    def _now_ms(self) -> float:
        return self._clock.seconds() * 1000.0

    def _clear_watchdog(self) -> None:
        timer, self._watchdog = self._watchdog, None
        if timer is not None and timer.active():
            timer.cancel()

    def _reset_watchdog(self) -> None:
        self._clear_watchdog()
        if not self.config.watchdog or self._pending_count or self._async_calls \
                or self._disconnected:
            return
        self._watchdog = self._clock.callLater(WATCHDOG_TIMEOUT_S, self._watchdog_fired)

    def _watchdog_fired(self) -> None:
        self._watchdog = None
        self._send({"realtimeInput": {"text": WATCHDOG_TEXT}})

    def _reset_latency(self) -> None:
        self._turn_started_ms = None
        self._last_input_transcription_ms = None
        self._last_audio_ms = None
        self._first_audio_ms = None
        self._first_text_ms = None
        self._interrupted = False

    def _latency_metrics(self) -> None:
        if self._interrupted:
            self._reset_latency()
            return
        outputs = [t for t in (self._first_audio_ms, self._first_text_ms) if t is not None]
        if not outputs:
            self._reset_latency()
            return
        first = min(outputs)
        endpoint_start = self._last_input_transcription_ms
        if endpoint_start is None:
            endpoint_start = self._last_audio_ms
        source = ("transcription_proxy" if self._last_input_transcription_ms is not None
                  else "last_audio_frame" if self._last_audio_ms is not None else None)
        started = self._turn_started_ms

        def since(mark: float | None, start: float | None) -> int | None:
            return None if mark is None or start is None else round(max(0.0, mark - start))

        audio_first = self._first_audio_ms is not None and (
            self._first_text_ms is None or self._first_audio_ms <= self._first_text_ms)
        metrics: dict[str, Any] = {
            "endpointMs": since(first, endpoint_start),
            "endpointSource": source,
            "providerFirstByteMs": since(first, self._last_audio_ms),
            "firstAudioFromTurnStartMs": since(self._first_audio_ms, started),
            "firstTextFromTurnStartMs": since(self._first_text_ms, started),
            "firstOutputFromTurnStartMs": since(first, started),
            "firstOutputModality": "audio" if audio_first else "text",
        }
        self._emit({"type": "latency.metrics",
                    **{k: v for k, v in metrics.items() if v is not None}})
        self._reset_latency()
