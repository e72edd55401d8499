"""A protocol-faithful local Gemini Live server (``BidiGenerateContent``), scripted.

The real service (voiceclaw spec §2, §4) is a WebSocket at
``/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=<API key>``.
Every client message is one JSON object with exactly one of ``setup`` (first, once),
``clientContent``, ``realtimeInput`` or ``toolResponse``; the server answers in **binary** frames
(``setupComplete`` included): ``setupComplete``, ``sessionResumptionUpdate``, ``serverContent``
(input/output transcription, ``modelTurn`` audio as base64 24 kHz PCM16 ``inlineData``,
``generationComplete``, ``turnComplete``, ``interrupted``), ``toolCall``,
``toolCallCancellation``, ``goAway`` and ``usageMetadata``. A bad key is closed 1008
``API key not valid. Please pass a valid API key.``; malformed input is closed 1007. A client
that reconnects with a handle from ``sessionResumptionUpdate`` continues its session.

This server does all of that on loopback with Twisted + Autobahn, records everything the client
sends, and answers from a *script*: a list of :class:`Step`, each "when this happens
(:class:`AfterAudio`, :class:`OnAudioStreamEnd`, :class:`OnText`, :class:`OnToolResponse`,
:class:`OnReconnect`, :class:`OnSignal`, ...), do these (:class:`Turn`, :class:`ToolCall`,
:class:`Interrupt`, :class:`CancelToolCalls`, :class:`GoAway`, :class:`Close`, ...)"::

    server = GeminiLiveServer(reactor, api_keys={"test-key"})
    server.listen()
    server.script(
        on(end_of_user_turn(chunks=3), Turn(heard=["What's the", " weather?"],
                                            said=["One sec,", " let me check."], complete=False),
           ToolCall("web_fetch", {"url": "https://example.com"}, id="fc-1")),
        on(OnText("OpenClaw async tool update."), Turn(said=["It is sunny."])),
    )
    ... point the client at server.url_for("test-key") ...
    connection = await server.connection(0)
    reply = await connection.tool_response("fc-1")      # the client's functionResponse
    await server.stop()

Steps run in order; a step's trigger only sees what arrives while it is the current step.
Nothing here sleeps: actions are sent at once, and tests wait on the recorded
:class:`~openclaw.testing.recorder.Recorder` of connections, sessions and messages.

``python -m openclaw.testing.gemini_live --port N`` runs it on its own with a small
conversational script (it answers each stretch of speech followed by silence) so the VoiceClaw
endpoint can be tried offline.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal, cast
from urllib.parse import quote

import attrs
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IListeningPort, IReactorTCP
from twisted.logger import Logger
from zope.interface import Interface, implementer

from openclaw.autobahn_timers import ReactorTimer, cancel_close_timer
from openclaw.testing.audio import rms, sine_pcm16
from openclaw.testing.recorder import Recorder

GEMINI_LIVE_PATH = (
    "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
)
CLIENT_MESSAGE_KINDS = ("setup", "clientContent", "realtimeInput", "toolResponse")
REALTIME_INPUT_FIELDS = frozenset(
    {"audio", "video", "text", "audioStreamEnd", "activityStart", "activityEnd", "mediaChunks"}
)
INPUT_AUDIO_MIME = "audio/pcm;rate=16000"
OUTPUT_AUDIO_MIME = "audio/pcm;rate=24000"
OUTPUT_RATE = 24000

CLOSE_POLICY = 1008
CLOSE_INVALID = 1007
CLOSE_INTERNAL = 1011
INVALID_KEY_REASON = "API key not valid. Please pass a valid API key."
INVALID_ARGUMENT_REASON = "Request contains an invalid argument."
# (inferred) Google's wording for an unknown resource; used for an unknown resumption handle.
SESSION_NOT_FOUND_REASON = "Requested entity was not found."


def unknown_field_reason(name: str) -> str:
    """Google's proto-JSON parser's text for an unknown field."""
    return f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'


# ---------------------------------------------------------------------------------------------
# What the client sent


@attrs.frozen
class ClientMessage:
    """One message from the client: its kind (the one top-level field) and that field's body."""

    kind: str
    body: Any
    binary: bool = False

    @property
    def audio(self) -> bytes | None:
        """The decoded PCM of a ``realtimeInput.audio`` (or legacy ``mediaChunks`` audio)."""
        if self.kind != "realtimeInput" or not isinstance(self.body, dict):
            return None
        blobs = [self.body.get("audio")]
        blobs += [c for c in self.body.get("mediaChunks") or () if isinstance(c, dict)]
        pcm = b""
        found = False
        for blob in blobs:
            if isinstance(blob, dict) and str(blob.get("mimeType", "")).startswith("audio/"):
                pcm += base64.b64decode(str(blob.get("data", "")), validate=True)
                found = True
        return pcm if found else None

    @property
    def audio_mime(self) -> str | None:
        if self.kind != "realtimeInput" or not isinstance(self.body, dict):
            return None
        audio = self.body.get("audio")
        return str(audio.get("mimeType")) if isinstance(audio, dict) else None

    @property
    def text(self) -> str | None:
        """Injected text: ``realtimeInput.text`` or the text parts of ``clientContent.turns``."""
        if self.kind == "realtimeInput" and isinstance(self.body, dict):
            text = self.body.get("text")
            return text if isinstance(text, str) else None
        if self.kind == "clientContent" and isinstance(self.body, dict):
            parts = [
                part["text"]
                for turn in self.body.get("turns") or ()
                if isinstance(turn, dict)
                for part in turn.get("parts") or ()
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            ]
            return "".join(parts) if parts else None
        return None

    def flag(self, name: str) -> bool:
        """A truthy ``realtimeInput`` flag such as ``audioStreamEnd``, or an ``activityEnd``."""
        if self.kind != "realtimeInput" or not isinstance(self.body, dict):
            return False
        value = self.body.get(name)
        return value is True or isinstance(value, dict)

    @property
    def function_responses(self) -> list[dict[str, Any]]:
        if self.kind != "toolResponse" or not isinstance(self.body, dict):
            return []
        return [r for r in self.body.get("functionResponses") or () if isinstance(r, dict)]


def _audio_rate(mime: str | None) -> int:
    for parameter in (mime or "").split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name == "rate" and value.isdigit():
            return int(value)
    return 16000


# ---------------------------------------------------------------------------------------------
# Script: triggers


@attrs.frozen
class Entered:
    """The step just became current (after setup, or after the previous step ran)."""


@attrs.frozen
class Reconnected:
    """The session resumed on a new connection with one of its handles."""

    connection: LiveConnection


@attrs.frozen
class Signalled:
    """A test called :meth:`LiveSession.signal`."""

    name: str


ScriptEvent = ClientMessage | Entered | Reconnected | Signalled


@attrs.define
class StepProgress:
    """What arrived since the current step became current."""

    audio_chunks: int = 0
    audio_bytes: int = 0
    audio_ms: float = 0.0
    # (duration in ms, RMS level) per audio chunk, for speech detection.
    levels: list[tuple[float, float]] = attrs.Factory(list)

    def observe(self, message: ClientMessage) -> None:
        pcm = message.audio
        if pcm is None:
            return
        duration = len(pcm) / 2 / _audio_rate(message.audio_mime) * 1000
        self.audio_chunks += 1
        self.audio_bytes += len(pcm)
        self.audio_ms += duration
        self.levels.append((duration, rms(pcm)))


class IScriptTrigger(Interface):
    """When a :class:`Step` runs."""

    def fires(progress: StepProgress, event: ScriptEvent) -> bool:  # noqa: N805
        """Whether ``event`` (already counted in ``progress``) starts the step."""


@implementer(IScriptTrigger)
@attrs.frozen
class Immediately:
    """As soon as the step is current: right after setup, or right after the previous step."""

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        return isinstance(event, Entered)


@implementer(IScriptTrigger)
@attrs.frozen
class AfterAudio:
    """Once this much audio arrived (any one threshold): chunks, bytes or milliseconds."""

    chunks: int | None = None
    bytes: int | None = None
    ms: float | None = None

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        if not isinstance(event, ClientMessage) or event.audio is None:
            return False
        return (
            (self.chunks is not None and progress.audio_chunks >= self.chunks)
            or (self.bytes is not None and progress.audio_bytes >= self.bytes)
            or (self.ms is not None and progress.audio_ms >= self.ms)
        )


@implementer(IScriptTrigger)
@attrs.frozen
class SpeechEnded:
    """Voice activity, crudely: at least ``min_speech_ms`` of audio louder than ``threshold``
    (RMS, int16 units), then ``silence_ms`` of quieter audio. What Gemini's VAD does for real."""

    threshold: float = 500.0
    min_speech_ms: float = 200.0
    silence_ms: float = 500.0

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        if not isinstance(event, ClientMessage) or event.audio is None:
            return False
        speech = silence = 0.0
        for duration, level in progress.levels:
            if level >= self.threshold:
                speech += duration
                silence = 0.0
            elif speech:
                silence += duration
        return speech >= self.min_speech_ms and silence >= self.silence_ms


@implementer(IScriptTrigger)
@attrs.frozen
class OnAudioStreamEnd:
    """``realtimeInput.audioStreamEnd`` (the client paused its microphone)."""

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        return isinstance(event, ClientMessage) and event.flag("audioStreamEnd")


@implementer(IScriptTrigger)
@attrs.frozen
class OnActivityEnd:
    """``realtimeInput.activityEnd`` (manual activity detection)."""

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        return isinstance(event, ClientMessage) and event.flag("activityEnd")


@implementer(IScriptTrigger)
@attrs.frozen
class OnText:
    """Injected text (``realtimeInput.text`` or ``clientContent``) containing ``contains``."""

    contains: str = ""

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        if not isinstance(event, ClientMessage):
            return False
        text = event.text
        return text is not None and self.contains in text


@implementer(IScriptTrigger)
@attrs.frozen
class OnToolResponse:
    """A ``toolResponse`` answering call ``id`` (any call when ``None``)."""

    id: str | None = None

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        if not isinstance(event, ClientMessage):
            return False
        return any(self.id is None or r.get("id") == self.id for r in event.function_responses)


@implementer(IScriptTrigger)
@attrs.frozen
class OnReconnect:
    """The client resumed the session on a new connection (after ``goAway`` or a drop)."""

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        return isinstance(event, Reconnected)


@implementer(IScriptTrigger)
@attrs.frozen
class OnSignal:
    """The test called ``session.signal(name)``: a step driven by the test itself."""

    name: str

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        return isinstance(event, Signalled) and event.name == self.name


@implementer(IScriptTrigger)
@attrs.frozen
class AnyOf:
    """Whichever of ``triggers`` fires first."""

    triggers: tuple[IScriptTrigger, ...]

    def fires(self, progress: StepProgress, event: ScriptEvent) -> bool:
        return any(trigger.fires(progress, event) for trigger in self.triggers)


def end_of_user_turn(chunks: int) -> AnyOf:
    """The user's turn is over: ``chunks`` audio chunks, or ``audioStreamEnd``/``activityEnd``."""
    return AnyOf((AfterAudio(chunks=chunks), OnAudioStreamEnd(), OnActivityEnd()))


# ---------------------------------------------------------------------------------------------
# Script: actions


@attrs.define
class ActionContext:
    """What an action acts on: the session and its current connection."""

    session: LiveSession
    connection: LiveConnection

    def send(self, message: Mapping[str, Any]) -> None:
        self.connection.send(message)


class IScriptAction(Interface):
    """Something the server does when a :class:`Step` runs."""

    def perform(context: ActionContext) -> None:  # noqa: N805
        """Send messages (or close) on ``context.connection``."""


@implementer(IScriptAction)
@attrs.frozen
class Usage:
    """A ``usageMetadata`` message (also the usage report of a :class:`Turn`)."""

    prompt_tokens: int = 120
    response_tokens: int = 40
    prompt_audio_tokens: int | None = 100
    response_audio_tokens: int | None = 40

    def message(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "promptTokenCount": self.prompt_tokens,
            "responseTokenCount": self.response_tokens,
            "totalTokenCount": self.prompt_tokens + self.response_tokens,
        }
        if self.prompt_audio_tokens is not None:
            usage["promptTokensDetails"] = [
                {"modality": "AUDIO", "tokenCount": self.prompt_audio_tokens}
            ]
        if self.response_audio_tokens is not None:
            usage["responseTokensDetails"] = [
                {"modality": "AUDIO", "tokenCount": self.response_audio_tokens}
            ]
        return {"usageMetadata": usage}

    def perform(self, context: ActionContext) -> None:
        context.send(self.message())


def audio_message(pcm: bytes) -> dict[str, Any]:
    """A ``modelTurn`` with one 24 kHz PCM16 ``inlineData`` part."""
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "mimeType": OUTPUT_AUDIO_MIME, "data": base64.b64encode(pcm).decode("ascii"),
    }}]}}}


@implementer(IScriptAction)
@attrs.frozen
class Turn:
    """One model turn, as Gemini streams it.

    Order: each ``heard`` chunk as ``inputTranscription``; then ``audio_chunks`` audio chunks of
    ``chunk_ms`` (a ``tone_hz`` tone, 24 kHz PCM16; default one per ``said`` chunk, at least
    one) interleaved with the ``said`` chunks as ``outputTranscription``; then, when
    ``complete``, ``generationComplete`` and ``turnComplete`` followed by ``usage`` as its own
    message (``bundle_usage`` puts it in the ``turnComplete`` message instead, as Google
    sometimes does), and a fresh resumption handle. ``complete=False`` leaves the turn open:
    for a tool call or a barge-in to follow.
    """

    heard: Sequence[str] = ()
    said: Sequence[str] = ()
    audio_chunks: int | None = None
    chunk_ms: int = 100
    tone_hz: float = 440.0
    complete: bool = True
    usage: Usage | None = Usage()
    bundle_usage: bool = False

    def perform(self, context: ActionContext) -> None:
        for text in self.heard:
            context.send({"serverContent": {"inputTranscription": {"text": text}}})
        chunks = self.audio_chunks if self.audio_chunks is not None else max(1, len(self.said))
        samples_per_chunk = OUTPUT_RATE * self.chunk_ms // 1000
        for index in range(max(chunks, len(self.said))):
            if index < chunks:
                context.send(audio_message(sine_pcm16(
                    self.tone_hz, self.chunk_ms, rate=OUTPUT_RATE, amplitude=0.2,
                    phase_samples=index * samples_per_chunk,
                )))
            if index < len(self.said):
                context.send({"serverContent": {"outputTranscription": {"text": self.said[index]}}})
        if self.complete:
            context.session.complete_turn(context, self.usage, bundle_usage=self.bundle_usage)


@implementer(IScriptAction)
@attrs.frozen
class Interrupt:
    """Barge-in: Gemini's VAD heard the user over the model (``serverContent.interrupted``)."""

    def perform(self, context: ActionContext) -> None:
        context.send({"serverContent": {"interrupted": True}})


@attrs.frozen
class FunctionCall:
    name: str
    args: Mapping[str, Any] = attrs.Factory(dict)
    id: str = "fc-1"

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "args": dict(self.args)}


def _call_tools(context: ActionContext, calls: Sequence[FunctionCall],
                expect_declared: bool) -> None:
    declared = context.connection.tool_names
    for call in calls:
        if expect_declared and call.name not in declared:
            context.connection.violations.append(
                f"script called undeclared tool {call.name!r} (declared: {sorted(declared)})"
            )
        context.session.outstanding_calls[call.id] = call.name
    context.send({"toolCall": {"functionCalls": [call.wire() for call in calls]}})


@implementer(IScriptAction)
@attrs.frozen
class ToolCall:
    """A ``toolCall`` for one function. With ``expect_declared`` a name the client did not
    declare in its setup is recorded as a violation (set it ``False`` to test unknown tools)."""

    name: str
    args: Mapping[str, Any] = attrs.Factory(dict)
    id: str = "fc-1"
    expect_declared: bool = True

    def perform(self, context: ActionContext) -> None:
        _call_tools(context, [FunctionCall(self.name, self.args, self.id)], self.expect_declared)


@implementer(IScriptAction)
@attrs.frozen
class ParallelToolCalls:
    """One ``toolCall`` carrying several function calls."""

    calls: tuple[FunctionCall, ...]
    expect_declared: bool = True

    def perform(self, context: ActionContext) -> None:
        _call_tools(context, self.calls, self.expect_declared)


@implementer(IScriptAction)
@attrs.frozen
class CancelToolCalls:
    """``toolCallCancellation``: Gemini no longer wants these calls (e.g. after a barge-in)."""

    ids: tuple[str, ...] = ("fc-1",)

    def perform(self, context: ActionContext) -> None:
        for call_id in self.ids:
            context.session.outstanding_calls.pop(call_id, None)
            context.session.cancelled_calls.add(call_id)
        context.send({"toolCallCancellation": {"ids": list(self.ids)}})


@implementer(IScriptAction)
@attrs.frozen
class GoAway:
    """``goAway``: the connection will end soon; the client should resume on a new one. The
    server does not close by itself (tests are not timed): add a :class:`Close` if wanted."""

    time_left: str = "5s"

    def perform(self, context: ActionContext) -> None:
        context.send({"goAway": {"timeLeft": self.time_left}})


@implementer(IScriptAction)
@attrs.frozen
class ResumptionUpdate:
    """A ``sessionResumptionUpdate``: a fresh handle, or ``{}`` (proto3 JSON of
    ``resumable: false``) while the session cannot be resumed."""

    resumable: bool = True

    def perform(self, context: ActionContext) -> None:
        context.session.send_resumption_update(context.connection, resumable=self.resumable)


@implementer(IScriptAction)
@attrs.frozen
class Send:
    """Any raw server message (``binary`` ``None``: the connection's frame kind)."""

    message: Mapping[str, Any]
    binary: bool | None = None

    def perform(self, context: ActionContext) -> None:
        context.connection.send(self.message, binary=self.binary)


@implementer(IScriptAction)
@attrs.frozen
class Close:
    """Close the connection with ``code`` and ``reason`` (e.g. 1011 to test resumption)."""

    code: int = CLOSE_INTERNAL
    reason: str = "Internal error occurred."

    def perform(self, context: ActionContext) -> None:
        context.connection.close(self.code, self.reason)


@attrs.frozen
class Step:
    """When ``when`` fires, perform ``then`` in order."""

    when: IScriptTrigger
    then: tuple[IScriptAction, ...]


def on(trigger: IScriptTrigger, *actions: IScriptAction) -> Step:
    return Step(trigger, actions)


def at_once(*actions: IScriptAction) -> Step:
    return Step(Immediately(), actions)


@attrs.frozen
class Script:
    """The steps of one session; ``repeat`` starts over after the last one."""

    steps: tuple[Step, ...] = ()
    repeat: bool = False

    def __attrs_post_init__(self) -> None:
        if self.repeat and all(isinstance(step.when, Immediately) for step in self.steps):
            raise ValueError("a repeating script needs a step that waits for something")


class ScriptRunner:
    """Feeds events to the current step; runs each step whose trigger fires."""

    def __init__(self, script: Script, answer_text: Turn | None) -> None:
        self.script = script
        self.answer_text = answer_text
        self.position = 0
        self.progress = StepProgress()
        self.performed: Recorder[int] = Recorder()

    @property
    def finished(self) -> bool:
        return not self.script.repeat and self.position >= len(self.script.steps)

    def feed(self, event: ScriptEvent, context: ActionContext) -> None:
        steps = self.script.steps
        consumed = False
        if isinstance(event, ClientMessage):
            self.progress.observe(event)
        while steps:
            if self.position >= len(steps):
                if not self.script.repeat:
                    break
                self.position = 0
            step = steps[self.position]
            if not step.when.fires(self.progress, event):
                break
            consumed = consumed or isinstance(event, ClientMessage)
            index = self.position
            self.position += 1
            self.progress = StepProgress()
            for action in step.then:
                action.perform(context)
            self.performed.append(index)
            event = Entered()
        if (isinstance(event, ClientMessage) and not consumed and event.text is not None
                and self.answer_text is not None):
            self.answer_text.perform(context)


# ---------------------------------------------------------------------------------------------
# Connections and sessions


@attrs.frozen
class ConnectionPlan:
    """How the server treats one incoming connection (queued with :meth:`GeminiLiveServer.plan`).

    ``setup_reply``: ``"ack"`` sends ``setupComplete`` (after ``hold_ack`` fires, if given),
    ``"never"`` stays silent (the client's setup timeout), ``"close"`` closes with
    ``close_code``/``close_reason`` instead. ``binary`` overrides the server's frame kind.
    ``resumable`` is the first ``sessionResumptionUpdate``'s.
    """

    setup_reply: Literal["ack", "never", "close"] = "ack"
    hold_ack: Deferred[None] | None = None
    close_code: int = CLOSE_INTERNAL
    close_reason: str = "Internal error occurred."
    binary: bool | None = None
    resumable: bool = True


class LiveConnection:
    """One WebSocket connection: what the client sent, and how to answer on it."""

    def __init__(self, server: GeminiLiveServer, index: int, protocol: _LiveProtocol,
                 path: str, key: str | None, plan: ConnectionPlan) -> None:
        self.server = server
        self.index = index
        self.path = path
        self.key = key
        self.plan = plan
        self.binary = server.binary_frames if plan.binary is None else plan.binary
        self.session: LiveSession | None = None
        self.resumed = False
        self.setup: dict[str, Any] | None = None
        self.messages: Recorder[ClientMessage] = Recorder()
        self.sent: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._protocol: _LiveProtocol | None = protocol
        self._setup_seen: Recorder[dict[str, Any]] = Recorder()
        self._ready: Recorder[LiveConnection] = Recorder()
        self._closed: Recorder[tuple[int | None, str | None]] = Recorder()
        self._early: list[ClientMessage] = []
        self._acked = False

    def __repr__(self) -> str:
        return f"<LiveConnection #{self.index} session={getattr(self.session, 'index', None)}>"

    # -- what the setup said

    @property
    def model(self) -> str | None:
        return (self.setup or {}).get("model")

    @property
    def voice(self) -> str | None:
        config = (self.setup or {}).get("generationConfig") or {}
        voice = config.get("speechConfig", {}).get("voiceConfig", {}).get("prebuiltVoiceConfig")
        return (voice or {}).get("voiceName")

    @property
    def instructions(self) -> str:
        parts = ((self.setup or {}).get("systemInstruction") or {}).get("parts") or []
        return "".join(p.get("text", "") for p in parts if isinstance(p, dict))

    @property
    def function_declarations(self) -> list[dict[str, Any]]:
        return [
            declaration
            for tool in (self.setup or {}).get("tools") or ()
            if isinstance(tool, dict)
            for declaration in tool.get("functionDeclarations") or ()
            if isinstance(declaration, dict)
        ]

    @property
    def tool_names(self) -> set[str]:
        return {str(d.get("name")) for d in self.function_declarations}

    @property
    def resumption_handle(self) -> str | None:
        resumption = (self.setup or {}).get("sessionResumption") or {}
        handle = resumption.get("handle") if isinstance(resumption, dict) else None
        return handle if isinstance(handle, str) else None

    # -- what came after it

    @property
    def audio_chunks(self) -> list[bytes]:
        return [pcm for m in self.messages if (pcm := m.audio) is not None]

    @property
    def audio_bytes(self) -> int:
        return sum(len(pcm) for pcm in self.audio_chunks)

    @property
    def texts(self) -> list[str]:
        return [text for m in self.messages if (text := m.text) is not None]

    @property
    def tool_responses(self) -> list[dict[str, Any]]:
        return [r for m in self.messages for r in m.function_responses]

    # -- waiting

    def when_setup(self) -> Deferred[dict[str, Any]]:
        """The setup message's body, once received and answered (acked, refused or held)."""
        return self._setup_seen.first()

    def when_ready(self) -> Deferred[LiveConnection]:
        """Fires once ``setupComplete`` (and the first resumption update) went out."""
        return self._ready.first()

    def when_closed(self) -> Deferred[tuple[int | None, str | None]]:
        """(close code, reason) as seen by the server (``None`` code: dropped)."""
        return self._closed.first()

    def message(self, predicate: Any = lambda _m: True) -> Deferred[ClientMessage]:
        return self.messages.first(predicate)

    def text_containing(self, fragment: str) -> Deferred[ClientMessage]:
        return self.messages.first(lambda m: m.text is not None and fragment in m.text)

    def tool_response(self, call_id: str) -> Deferred[dict[str, Any]]:
        """The client's ``functionResponses`` entry for ``call_id``."""
        found = self.messages.first(
            lambda m: any(r.get("id") == call_id for r in m.function_responses)
        )
        return found.addCallback(
            lambda m: next(r for r in m.function_responses if r.get("id") == call_id)
        )

    def audio_bytes_at_least(self, count: int) -> Deferred[int]:
        """Fires when the audio received on this connection reaches ``count`` bytes."""

        def reached(_message: ClientMessage) -> bool:
            return self.audio_bytes >= count

        if self.audio_bytes >= count:
            return succeed(self.audio_bytes)
        return self.messages.first_after(len(self.messages), reached).addCallback(
            lambda _m: self.audio_bytes
        )

    # -- answering

    @property
    def is_open(self) -> bool:
        protocol = self._protocol
        return protocol is not None and protocol.state == WebSocketProtocol.STATE_OPEN

    def send(self, message: Mapping[str, Any], *, binary: bool | None = None) -> None:
        """Send one server message (dropped, and logged, once the connection is closed)."""
        if not self.is_open:
            self.server.log.debug("dropped {kind} on closed connection #{index}",
                                  kind=next(iter(message), "?"), index=self.index)
            return
        assert self._protocol is not None
        self.sent.append(dict(message))
        payload = json.dumps(message, separators=(",", ":")).encode("utf-8")
        self._protocol.sendMessage(payload, isBinary=self.binary if binary is None else binary)

    def close(self, code: int, reason: str) -> None:
        protocol = self._protocol
        if protocol is None:
            return
        if protocol.state == WebSocketProtocol.STATE_OPEN:
            # Autobahn's public sendClose() refuses 1007/1008/1011; the frame itself is fine.
            protocol.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8"), isReply=False)
        elif protocol.state != WebSocketProtocol.STATE_CLOSED:
            protocol.dropConnection(abort=True)

    def _refuse(self, code: int, reason: str, violation: str | None = None) -> None:
        if violation:
            self.violations.append(violation)
        self.close(code, reason)

    # -- protocol events

    def _opened(self) -> None:
        if self.server.bad_key_close == "open" and not self.server.key_ok(self.key):
            self._refuse(CLOSE_POLICY, INVALID_KEY_REASON)

    def _received(self, payload: bytes, binary: bool) -> None:
        try:
            data = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._refuse(CLOSE_INVALID, INVALID_ARGUMENT_REASON, "a frame that is not JSON")
            return
        if not isinstance(data, dict):
            self._refuse(CLOSE_INVALID, INVALID_ARGUMENT_REASON, "a frame that is not an object")
            return
        unknown = [name for name in data if name not in CLIENT_MESSAGE_KINDS]
        if unknown:
            self._refuse(CLOSE_INVALID, unknown_field_reason(unknown[0]),
                         f"unknown top-level field {unknown[0]!r}")
            return
        if len(data) != 1:
            self._refuse(CLOSE_INVALID, INVALID_ARGUMENT_REASON,
                         f"a message with {len(data)} of {CLIENT_MESSAGE_KINDS} (needs one)")
            return
        kind, body = next(iter(data.items()))
        if kind == "setup":
            if self.setup is not None:
                self._refuse(CLOSE_INVALID, INVALID_ARGUMENT_REASON, "a second setup")
                return
            self._on_setup(body if isinstance(body, dict) else {})
            return
        if self.setup is None:
            self._refuse(CLOSE_INVALID, INVALID_ARGUMENT_REASON, f"{kind} before setup")
            return
        message = ClientMessage(kind, body, binary)
        if not self._check(message):
            return
        # The script reacts first: a test waiting on this message sees the reaction too.
        if self._acked:
            self._feed(message)
        else:
            self._early.append(message)
        self.messages.append(message)

    def _check(self, message: ClientMessage) -> bool:
        """Validate a message as Gemini would; False when it closed the connection."""
        body = message.body
        if message.kind == "realtimeInput":
            if not isinstance(body, dict):
                self._refuse(CLOSE_INVALID, INVALID_ARGUMENT_REASON, "realtimeInput not an object")
                return False
            unknown = sorted(set(body) - REALTIME_INPUT_FIELDS)
            if unknown:
                self._refuse(CLOSE_INVALID, unknown_field_reason(f"realtime_input.{unknown[0]}"),
                             f"unknown realtimeInput field {unknown[0]!r}")
                return False
            try:
                pcm = message.audio
            except (binascii.Error, ValueError):
                self._refuse(CLOSE_INVALID, INVALID_ARGUMENT_REASON, "audio data is not base64")
                return False
            if pcm is not None:
                mime = message.audio_mime
                if mime != INPUT_AUDIO_MIME:
                    self.violations.append(f"audio mimeType {mime!r}, not {INPUT_AUDIO_MIME!r}")
                if len(pcm) % 2:
                    self.violations.append(f"audio chunk of {len(pcm)} bytes (odd: not PCM16)")
        elif message.kind == "toolResponse":
            session = self.session
            for response in message.function_responses:
                call_id = response.get("id")
                if session is None or not isinstance(call_id, str):
                    self.violations.append(f"functionResponse without an id: {response!r}")
                elif call_id in session.cancelled_calls:
                    self.violations.append(f"functionResponse for cancelled call {call_id!r}")
                elif session.outstanding_calls.pop(call_id, None) is None:
                    self.violations.append(f"functionResponse for unknown call {call_id!r}")
                if not isinstance(response.get("response"), dict):
                    self.violations.append(f"functionResponse.response not an object: "
                                           f"{response!r}")
        return True

    def _on_setup(self, setup: dict[str, Any]) -> None:
        self.setup = setup
        try:
            self._accept_setup(setup)
        finally:
            self._setup_seen.append(setup)

    def _accept_setup(self, setup: dict[str, Any]) -> None:
        server = self.server
        model = setup.get("model")
        if not isinstance(model, str) or not model.startswith("models/"):
            self.violations.append(f"setup.model {model!r} does not start with 'models/'")
        if not server.key_ok(self.key):
            self._refuse(CLOSE_POLICY, INVALID_KEY_REASON)
            return
        handle = self.resumption_handle
        if handle is not None:
            session = server.session_for_handle(handle)
            if session is None:
                self._refuse(CLOSE_POLICY, SESSION_NOT_FOUND_REASON,
                             f"resumption with unknown handle {handle!r}")
                return
            self.resumed = True
        else:
            session = server.new_session()
        self.session = session
        session.connections.append(self)
        if not self.resumed:
            server.sessions.append(session)
        plan = self.plan
        if plan.setup_reply == "close":
            self.close(plan.close_code, plan.close_reason)
        elif plan.setup_reply == "ack":
            if plan.hold_ack is None:
                self._ack()
            else:
                plan.hold_ack.addCallback(lambda _ignored: self._ack())

    def _ack(self) -> None:
        session = self.session
        if session is None or not self.is_open:
            return
        self.send({"setupComplete": {}})
        session.send_resumption_update(self, resumable=self.plan.resumable)
        self._acked = True
        session.connection_ready(self)
        early, self._early = self._early, []
        for message in early:
            self._feed(message)
        self._ready.append(self)

    def _feed(self, message: ClientMessage) -> None:
        if self.session is not None and self.session.connection is self:
            self.session.feed(message, self)

    def _lost(self, code: int | None, reason: str | None) -> None:
        self.close_code, self.close_reason = code, reason
        self._protocol = None
        self._closed.append((code, reason))


class LiveSession:
    """A Gemini Live session: one or more connections joined by resumption handles."""

    def __init__(self, server: GeminiLiveServer, index: int, script: Script) -> None:
        self.server = server
        self.index = index
        self.connections: Recorder[LiveConnection] = Recorder()
        self.handles: list[str] = []
        self.runner = ScriptRunner(script, server.answer_text)
        self.outstanding_calls: dict[str, str] = {}
        self.cancelled_calls: set[str] = set()
        self.resumable = False

    def __repr__(self) -> str:
        return f"<LiveSession #{self.index} connections={len(self.connections)}>"

    @property
    def connection(self) -> LiveConnection:
        """The newest connection."""
        return self.connections[-1]

    @property
    def latest_handle(self) -> str | None:
        return self.handles[-1] if self.handles else None

    @property
    def violations(self) -> list[str]:
        return [v for c in self.connections for v in c.violations]

    def when_connection(self, index: int) -> Deferred[LiveConnection]:
        """The session's ``index``-th connection (1 = the first resumption)."""
        return self.connections.nth(index)

    def when_step(self, index: int) -> Deferred[int]:
        """Fires once step ``index`` of the script has run."""
        return self.runner.performed.first(lambda performed: performed == index)

    def signal(self, name: str) -> None:
        """Fire :class:`OnSignal` triggers: a step the test drives."""
        self.runner.feed(Signalled(name), ActionContext(self, self.connection))

    def send_resumption_update(self, connection: LiveConnection, *, resumable: bool) -> None:
        self.resumable = resumable
        if not resumable:
            connection.send({"sessionResumptionUpdate": {}})
            return
        handle = self.server.issue_handle(self)
        self.handles.append(handle)
        connection.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    def complete_turn(self, context: ActionContext, usage: Usage | None, *,
                      bundle_usage: bool) -> None:
        context.send({"serverContent": {"generationComplete": True}})
        done: dict[str, Any] = {"serverContent": {"turnComplete": True}}
        if usage is not None and bundle_usage:
            done.update(usage.message())
        context.send(done)
        if usage is not None and not bundle_usage:
            usage.perform(context)
        if self.server.handle_after_turns and self.resumable:
            self.send_resumption_update(context.connection, resumable=True)

    def connection_ready(self, connection: LiveConnection) -> None:
        event: ScriptEvent = Reconnected(connection) if connection.resumed else Entered()
        self.runner.feed(event, ActionContext(self, connection))

    def feed(self, message: ClientMessage, connection: LiveConnection) -> None:
        self.runner.feed(message, ActionContext(self, connection))


# ---------------------------------------------------------------------------------------------
# The server


class _LiveProtocol(WebSocketServerProtocol):
    factory: _LiveFactory

    def __init__(self) -> None:
        super().__init__()
        self.connection: LiveConnection | None = None
        self._path = "/"
        self._key: str | None = None

    def onConnect(self, request: Any) -> None:
        self._path = str(request.path)
        keys = request.params.get("key") or []
        self._key = str(keys[0]) if keys else None

    def onOpen(self) -> None:
        self.connection = self.factory.server.connection_opened(self, self._path, self._key)
        self.connection._opened()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.connection is not None:
            self.connection._received(payload, isBinary)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)
        if self.connection is not None:
            self.connection._lost(code, reason)


class _LiveFactory(WebSocketServerFactory):
    protocol = _LiveProtocol  # type: ignore[assignment]

    def __init__(self, server: GeminiLiveServer, reactor: Any) -> None:
        super().__init__(reactor=reactor)
        self.server = server
        self._batched_timer = ReactorTimer(reactor)
        # Gemini takes large messages (images, long tool results); no pings from our side.
        self.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0,
                                autoPingInterval=0, webStatus=False)


class GeminiLiveServer:
    """The scripted Gemini Live server. ``reactor`` is passed in; nothing listens until
    :meth:`listen`.

    ``api_keys``: accepted keys (``None``: any non-empty key). A bad key is closed 1008 when
    its setup arrives (``bad_key_close="open"``: as soon as the socket opens).
    ``binary_frames``: send JSON in binary frames, as Google does (``False``: text frames).
    ``answer_text``: a :class:`Turn` answering injected text that no step consumed.
    ``default_script``: for sessions started when no :meth:`script` is queued.
    ``handle_after_turns``: issue a fresh resumption handle after each completed turn.
    """

    log = Logger()

    def __init__(self, reactor: Any, *, api_keys: Collection[str] | None = None,
                 bad_key_close: Literal["setup", "open"] = "setup", binary_frames: bool = True,
                 answer_text: Turn | None = None, default_script: Script | None = None,
                 handle_after_turns: bool = True) -> None:
        self.reactor = reactor
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.bad_key_close = bad_key_close
        self.binary_frames = binary_frames
        self.answer_text = answer_text
        self.default_script = default_script or Script()
        self.handle_after_turns = handle_after_turns
        self.connections: Recorder[LiveConnection] = Recorder()
        self.sessions: Recorder[LiveSession] = Recorder()
        self._scripts: list[Script] = []
        self._plans: list[ConnectionPlan] = []
        self._handles: dict[str, LiveSession] = {}
        self._handle_counter = 0
        self._port: IListeningPort | None = None
        self._factory = _LiveFactory(self, reactor)

    # -- lifecycle

    def listen(self, port: int = 0, interface: str = "127.0.0.1") -> int:
        """Start listening (loopback by default); returns the port number."""
        tcp = cast(IReactorTCP, self.reactor)
        self._port = tcp.listenTCP(port, self._factory, interface=interface)
        return self.port

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("GeminiLiveServer is not listening")
        return cast(IPv4Address, self._port.getHost()).port

    @property
    def host(self) -> str:
        if self._port is None:
            raise RuntimeError("GeminiLiveServer is not listening")
        return cast(IPv4Address, self._port.getHost()).host

    @property
    def url(self) -> str:
        """The endpoint URL without a key (the client appends ``?key=``)."""
        return f"ws://{self.host}:{self.port}{GEMINI_LIVE_PATH}"

    def url_for(self, key: str) -> str:
        return f"{self.url}?key={quote(key, safe='')}"

    def stop(self) -> Deferred[Any]:
        """Stop listening and close every open connection; fires when all are gone."""
        waits: list[Deferred[Any]] = []
        if self._port is not None:
            stopped = self._port.stopListening()
            if stopped is not None:
                waits.append(stopped)
        for connection in self.connections:
            if connection._protocol is not None:
                waits.append(connection.when_closed())
                if connection.is_open:
                    connection.close(1001, "server stopping")
        return DeferredList(waits)

    # -- scripting

    def script(self, *steps: Step, repeat: bool = False) -> Script:
        """Queue a script for the next new session (resumed sessions keep theirs)."""
        script = Script(tuple(steps), repeat)
        self._scripts.append(script)
        return script

    def plan(self, *plans: ConnectionPlan) -> None:
        """Queue how the next connections are treated, in order."""
        self._plans.extend(plans)

    # -- waiting

    def connection(self, index: int) -> Deferred[LiveConnection]:
        """The ``index``-th connection, once it is open."""
        return self.connections.nth(index)

    def session(self, index: int) -> Deferred[LiveSession]:
        """The ``index``-th session, once its first setup arrived."""
        return self.sessions.nth(index)

    @property
    def violations(self) -> list[str]:
        """Everything a client did that the real service would reject or that breaks the spec."""
        return [f"#{c.index}: {v}" for c in self.connections for v in c.violations]

    # -- used by connections

    def key_ok(self, key: str | None) -> bool:
        if not key:
            return False
        return self.api_keys is None or key in self.api_keys

    def connection_opened(self, protocol: _LiveProtocol, path: str,
                          key: str | None) -> LiveConnection:
        plan = self._plans.pop(0) if self._plans else ConnectionPlan()
        connection = LiveConnection(self, len(self.connections), protocol, path, key, plan)
        self.connections.append(connection)
        return connection

    def new_session(self) -> LiveSession:
        """A session for a fresh setup (the caller records it in :attr:`sessions`)."""
        script = self._scripts.pop(0) if self._scripts else self.default_script
        return LiveSession(self, len(self.sessions), script)

    def session_for_handle(self, handle: str) -> LiveSession | None:
        return self._handles.get(handle)

    def issue_handle(self, session: LiveSession) -> str:
        self._handle_counter += 1
        handle = f"h-{self._handle_counter}"
        self._handles[handle] = session
        return handle


# ---------------------------------------------------------------------------------------------
# Running it on its own


def conversation_script() -> Script:
    """The stand-alone server's script: answer every stretch of speech followed by silence."""
    return Script(
        (
            on(
                AnyOf((SpeechEnded(), OnAudioStreamEnd(), OnActivityEnd())),
                Turn(
                    heard=["(speech)"],
                    said=["This is the local Gemini Live test server.", " I heard you."],
                    audio_chunks=8,
                ),
            ),
        ),
        repeat=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m openclaw.testing.gemini_live",
        description="A local, scripted Gemini Live (BidiGenerateContent) server for trying the "
        "VoiceClaw endpoint offline. It answers each stretch of speech followed by silence "
        "with a short spoken (tone) reply and transcripts, and any injected text too.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default loopback)")
    parser.add_argument("--key", action="append", dest="keys", metavar="KEY",
                        help="accepted API key (repeatable; default: any non-empty key)")
    parser.add_argument("--text-frames", action="store_true",
                        help="send JSON in text frames (Google sends binary)")
    parser.add_argument("--script", metavar="MODULE:NAME",
                        help="a Script object, or a function returning one, to use instead")
    options = parser.parse_args(argv)

    from twisted.internet import reactor as global_reactor
    from twisted.python.reflect import namedAny

    script = conversation_script()
    if options.script:
        found = namedAny(options.script.replace(":", "."))
        script = found() if callable(found) else found
    server = GeminiLiveServer(
        global_reactor, api_keys=options.keys, binary_frames=not options.text_frames,
        answer_text=Turn(said=["Got it."]), default_script=script,
    )
    server.listen(options.port, options.host)
    key = options.keys[0] if options.keys else "any-key"
    print(f"Gemini Live test server listening on {server.url}", flush=True)
    print(f"  try: OPENCLAW_VOICECLAW_GEMINI_URL={server.url} GEMINI_API_KEY={key} "
          "openclaw gateway run", flush=True)
    cast(Any, global_reactor).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

