"""A VoiceClaw desktop-app client for a gateway's ``/voiceclaw/realtime`` (voiceclaw spec §5, §1).

It behaves like the app in ``realtime-brain`` mode (``use-realtime.ts``): on open it sends
``session.config`` (``brainAgent``, ``apiKey`` or ``""``, ``deviceContext``, provider from the
model) and starts the microphone at once, without waiting for ``session.ready``: 24 kHz PCM16
mono in 100 ms frames (2400 samples = 4800 bytes = 6400 base64 characters), one JSON text frame
``{"type":"audio.append","data":…}`` each. It plays ``audio.delta`` (24 kHz) into a playback
buffer that ``turn.started`` and ``session.rotating`` flush (barge-in), keeps the finished
transcripts, and ends on ``error``. The app's own reconnects (3x, 1/3/5 s, as new sessions) are
left to the caller. Its "Test" button is :func:`check_health` (``GET /health`` must be 200).

Tests wait on events, never on time::

    client = await start_call(reactor, gateway_url, SessionConfig(api_key=token))
    ready = await client.next_event("session.ready")
    await client.stream_audio(sine_pcm16(300, 1000) + silence_pcm16(600))
    events = await client.collect_until("turn.ended")
    await client.close()

``python -m openclaw.testing.voiceclaw_client --url ws://127.0.0.1:18789/voiceclaw/realtime
--key TOKEN`` places one short call (a tone, then silence) and prints what comes back.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TextIO, cast
from urllib.parse import urlsplit, urlunsplit

import attrs
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from openclaw.autobahn_timers import ReactorTimer, cancel_close_timer
from openclaw.testing.audio import frames, silence_pcm16, sine_pcm16
from openclaw.testing.recorder import Recorder

VOICECLAW_PATH = "/voiceclaw/realtime"
DEFAULT_URL = "ws://localhost:19789/voiceclaw/realtime"
SAMPLE_RATE = 24000
FRAME_MS = 100
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 4800
DEFAULT_MODEL = "gemini-3.1-flash-live-preview"
DEFAULT_DEVICE_CONTEXT: Mapping[str, str] = {
    "timezone": "UTC", "locale": "en-US", "deviceModel": "Desktop (Electron)",
}
# What the app stops playback on.
PLAYBACK_FLUSHING_EVENTS = frozenset({"turn.started", "session.rotating"})


def provider_for_model(model: str | None) -> str:
    """The app's ``getProviderForRealtimeModel``."""
    if model and model.startswith("gemini-"):
        return "gemini"
    if model and model.startswith("grok-voice-"):
        return "xai"
    return "openai"


@attrs.frozen
class SessionConfig:
    """The app's ``session.config``; ``None`` fields are left out (``JSON.stringify``)."""

    api_key: str = ""
    brain_agent: Literal["enabled", "none"] = "enabled"
    voice: str | None = "Zephyr"
    model: str | None = DEFAULT_MODEL
    session_key: str | None = None
    device_context: Mapping[str, Any] | None = DEFAULT_DEVICE_CONTEXT
    instructions_override: str | None = None
    conversation_history: Sequence[Mapping[str, Any]] | None = None
    tavily_api_key: str | None = None
    extra: Mapping[str, Any] = attrs.Factory(dict)  # e.g. {"watchdog": "enabled"}

    def event(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "type": "session.config",
            "provider": provider_for_model(self.model),
            "voice": self.voice,
            "model": self.model,
            "brainAgent": self.brain_agent,
            "apiKey": self.api_key,
            "tavilyApiKey": self.tavily_api_key,
            "sessionKey": self.session_key,
            "deviceContext": dict(self.device_context) if self.device_context else None,
            "instructionsOverride": self.instructions_override,
            "conversationHistory": (
                [dict(turn) for turn in self.conversation_history]
                if self.conversation_history is not None else None
            ),
        }
        event = {name: value for name, value in fields.items() if value is not None}
        event.update(self.extra)
        return event


class VoiceClawConnectError(ConnectionError):
    """The WebSocket did not open (refused, or the upgrade was answered with an HTTP error)."""


class _ClientProtocol(WebSocketClientProtocol):
    factory: _ClientFactory

    def onOpen(self) -> None:
        self.factory.client = VoiceClawClient(self, self.factory.reactor)
        self.factory.opened.callback(self.factory.client)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        client = self.factory.client
        if client is not None:
            client._received(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel_close_timer(self)
        client = self.factory.client
        if client is None:
            if not self.factory.opened.called:
                self.factory.opened.errback(Failure(VoiceClawConnectError(
                    reason or "the WebSocket did not open"
                )))
            return
        client._closed(code, reason)


class _ClientFactory(WebSocketClientFactory):
    protocol = _ClientProtocol  # type: ignore[assignment]

    def __init__(self, url: str, reactor: Any, headers: Mapping[str, str] | None) -> None:
        super().__init__(url, reactor=reactor, headers=dict(headers or {}))
        self.reactor = reactor
        self._batched_timer = ReactorTimer(reactor)
        self.opened: Deferred[VoiceClawClient] = Deferred()
        self.client: VoiceClawClient | None = None

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.opened.called:
            self.opened.errback(Failure(VoiceClawConnectError(str(reason.value))))


class VoiceClawClient:
    """One open call. Events arrive in :attr:`events`; :meth:`next_event` consumes them."""

    def __init__(self, protocol: _ClientProtocol, reactor: Any) -> None:
        self._protocol = protocol
        self.reactor = reactor
        self.events: Recorder[dict[str, Any]] = Recorder()
        self.session_id: str | None = None
        self.audio_received = bytearray()  # every audio.delta, decoded
        self.playback = bytearray()  # what would still be playing (flushed on barge-in)
        self.playback_flushes = 0
        self.transcripts: list[tuple[str, str]] = []  # (role, text) of transcript.done
        self.errors: list[dict[str, Any]] = []
        self.frames_sent = 0
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._unread: list[dict[str, Any]] = []
        self._waiters: list[tuple[str | None, Deferred[dict[str, Any]]]] = []
        self._closed_history: Recorder[tuple[int | None, str | None]] = Recorder()

    # -- sending

    @property
    def is_open(self) -> bool:
        return self._protocol.state == WebSocketProtocol.STATE_OPEN

    def send_event(self, event: Mapping[str, Any]) -> None:
        """One JSON text frame (dropped once closed, like the app's readyState check)."""
        if self.is_open:
            self._protocol.sendMessage(json.dumps(event).encode("utf-8"), isBinary=False)

    def send_raw(self, payload: str | bytes, *, binary: bool = False) -> None:
        """Anything at all, e.g. invalid JSON."""
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        if self.is_open:
            self._protocol.sendMessage(data, isBinary=binary)

    def configure(self, config: SessionConfig) -> None:
        self.send_event(config.event())

    def send_audio(self, pcm24k: bytes) -> None:
        """One ``audio.append`` of 24 kHz PCM16 mono."""
        self.send_event({"type": "audio.append",
                         "data": base64.b64encode(pcm24k).decode("ascii")})
        self.frames_sent += 1

    def stream_audio(self, pcm24k: bytes, *, frame_bytes: int = FRAME_BYTES,
                     pace: IReactorTime | None = None) -> Deferred[int]:
        """Send ``pcm24k`` as consecutive frames; fires with the frame count.

        Without ``pace`` every frame goes out at once (tests); with it, one frame per
        ``frame_bytes`` of real time on that clock, like a microphone.
        """
        chunks = list(frames(pcm24k, frame_bytes))
        if pace is None:
            for chunk in chunks:
                self.send_audio(chunk)
            return succeed(len(chunks))
        interval = frame_bytes / 2 / SAMPLE_RATE

        async def paced() -> int:
            for index, chunk in enumerate(chunks):
                if index:
                    await deferLater(pace, interval, lambda: None)
                if not self.is_open:
                    break
                self.send_audio(chunk)
            return len(chunks)

        return Deferred.fromCoroutine(paced())

    def send_frame(self, image: bytes, mime_type: str | None = None) -> None:
        """A camera/screen frame (``frame.append``; JPEG by default)."""
        event: dict[str, Any] = {"type": "frame.append",
                                 "data": base64.b64encode(image).decode("ascii")}
        if mime_type:
            event["mimeType"] = mime_type
        self.send_event(event)

    def send_text(self, text: str) -> None:
        """The app's typed text (``text.input``; the endpoint ignores it)."""
        self.send_event({"type": "text.input", "text": text})

    def close(self, code: int = 1000, reason: str | None = None) -> Deferred[
            tuple[int | None, str | None]]:
        """Hang up; fires with the close (code, reason) once the socket is gone."""
        if self.is_open:
            self._protocol.sendClose(code, reason)
        return self.when_closed()

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake."""
        self._protocol.dropConnection(abort=True)

    # -- receiving

    def next_event(self, event_type: str | None = None) -> Deferred[dict[str, Any]]:
        """The next unread event of ``event_type`` (any type when ``None``), now or later.

        Events of other types stay unread for their own calls, so a test can wait for
        ``tool.progress`` and then still read the ``audio.delta`` that came before it.
        """
        for index, event in enumerate(self._unread):
            if event_type is None or event.get("type") == event_type:
                del self._unread[index]
                return succeed(event)
        deferred: Deferred[dict[str, Any]] = Deferred()
        self._waiters.append((event_type, deferred))
        return deferred

    async def collect_until(self, event_type: str) -> list[dict[str, Any]]:
        """Unread events in order, up to and including the first of ``event_type``."""
        got: list[dict[str, Any]] = []
        while True:
            event = await self.next_event()
            got.append(event)
            if event.get("type") == event_type:
                return got

    def unread(self) -> list[dict[str, Any]]:
        return list(self._unread)

    def when_closed(self) -> Deferred[tuple[int | None, str | None]]:
        """(code, reason) of the close (code 1006, reason ``None``-ish: dropped)."""
        return self._closed_history.first()

    def _received(self, payload: bytes) -> None:
        event = json.loads(payload.decode("utf-8"))
        if not isinstance(event, dict):
            event = {"type": None, "value": event}
        self._apply(event)
        self.events.append(event)
        for index, (wanted, deferred) in enumerate(self._waiters):
            if deferred.called:
                continue
            if wanted is None or event.get("type") == wanted:
                del self._waiters[index]
                deferred.callback(event)
                return
        self._unread.append(event)

    def _apply(self, event: dict[str, Any]) -> None:
        """What the app does with each event (playback, state), before the test sees it."""
        kind = event.get("type")
        if kind == "session.ready" or (kind == "session.rotated"
                                       and isinstance(event.get("sessionId"), str)):
            self.session_id = event.get("sessionId")
        elif kind == "audio.delta" and isinstance(event.get("data"), str):
            pcm = base64.b64decode(event["data"])
            self.audio_received += pcm
            self.playback += pcm
        elif kind == "transcript.done":
            self.transcripts.append((str(event.get("role")), str(event.get("text"))))
        elif kind == "error":
            self.errors.append(event)
        if kind in PLAYBACK_FLUSHING_EVENTS:
            self.playback.clear()
            self.playback_flushes += 1

    def _closed(self, code: int | None, reason: str | None) -> None:
        self.close_code, self.close_reason = code, reason
        self._closed_history.append((code, reason))


async def connect_voiceclaw(reactor: Any, url: str = DEFAULT_URL, *,
                            headers: Mapping[str, str] | None = None) -> VoiceClawClient:
    """Open the WebSocket; raises :class:`VoiceClawConnectError` if it does not open."""
    factory = _ClientFactory(url, reactor, headers)
    cast(IReactorTCP, reactor).connectTCP(factory.host, factory.port, factory)
    return await factory.opened


async def start_call(reactor: Any, url: str, config: SessionConfig, *,
                     headers: Mapping[str, str] | None = None) -> VoiceClawClient:
    """What the app does on "Start": connect, then send ``session.config`` at once."""
    client = await connect_voiceclaw(reactor, url, headers=headers)
    client.configure(config)
    return client


def health_url(url: str) -> str:
    """The app's "Test" URL for a realtime URL: ``http(s)://host:port/health``."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "/health", "", ""))


async def check_health(reactor: Any, url: str) -> int:
    """The app's "Test" button: the status of ``GET /health`` (200 means usable)."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent

    response = await HTTPClient(Agent(reactor)).get(health_url(url))
    await response.content()
    return int(response.code)


# ---------------------------------------------------------------------------------------------
# One call from the command line


def _summary(event: Mapping[str, Any]) -> str:
    if event.get("type") == "audio.delta":
        return f'{{"type":"audio.delta","bytes":{len(base64.b64decode(event["data"]))}}}'
    return json.dumps(event, separators=(",", ":"))


async def demo_call(reactor: Any, url: str, config: SessionConfig, out: TextIO, *,
                    speech_ms: int = 1200, silence_ms: int = 800, paced: bool = True) -> int:
    """Place one call: a tone as "speech", then silence; print events until the turn ends."""
    client = await start_call(reactor, url, config)
    speech = sine_pcm16(300, speech_ms, rate=SAMPLE_RATE) + silence_pcm16(silence_ms)
    client.stream_audio(speech, pace=reactor if paced else None)
    status = 0
    while True:
        event = await client.next_event()
        print(_summary(event), file=out, flush=True)
        if event.get("type") == "error":
            status = 1
            break
        if event.get("type") == "turn.ended":
            break
    code, reason = await client.close()
    print(f"closed: {code} {reason or ''}".rstrip(), file=out, flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m openclaw.testing.voiceclaw_client",
        description="Place one VoiceClaw call (as the desktop app does) against a gateway's "
        "/voiceclaw/realtime and print the events until the first turn ends.",
    )
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--key", default="", help="gateway token or password (apiKey)")
    parser.add_argument("--brain", choices=("enabled", "none"), default="enabled")
    parser.add_argument("--session-key", default=None)
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after (seconds)")
    options = parser.parse_args(argv)

    from twisted.internet.task import react

    config = SessionConfig(api_key=options.key, brain_agent=options.brain,
                           session_key=options.session_key)

    async def run(reactor: Any) -> None:
        try:
            status = await check_health(reactor, options.url)
        except Exception as error:
            print(f"health: {health_url(options.url)} unreachable: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        print(f"health: {status}", flush=True)
        if status != 200:
            raise SystemExit(2)
        call = Deferred.fromCoroutine(demo_call(reactor, options.url, config, sys.stdout))
        call.addTimeout(options.timeout, reactor)
        try:
            result = await call
        except Exception as error:
            print(f"call failed: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        raise SystemExit(result)

    react(lambda reactor: Deferred.fromCoroutine(run(reactor)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
