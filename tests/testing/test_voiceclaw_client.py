"""The VoiceClaw desktop-side client against a stub endpoint over loopback."""

from __future__ import annotations

import base64
import io
from typing import Any

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.testing.audio import sine_pcm16
from openclaw.testing.voiceclaw_client import (
    FRAME_BYTES,
    SessionConfig,
    VoiceClawConnectError,
    check_health,
    connect_voiceclaw,
    demo_call,
    health_url,
    provider_for_model,
    start_call,
)
from tests.testing.voice_support import StubGateway


def answer_config_with_ready(stub: StubGateway, event: dict[str, Any]) -> None:
    if event["type"] == "session.config":
        stub.send({"type": "session.ready", "sessionId": "8c1e0c3e-4d9b-4a53-9b7e-2f1f1f1f1f1f"})


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")


class SessionConfigTests(SynchronousTestCase):
    def test_the_apps_session_config(self) -> None:
        event = SessionConfig(api_key="tok", session_key="desk-42",
                              conversation_history=[{"role": "user", "text": "hi"}],
                              extra={"watchdog": "enabled"}).event()
        self.assertEqual(list(event), [
            "type", "provider", "voice", "model", "brainAgent", "apiKey", "sessionKey",
            "deviceContext", "conversationHistory", "watchdog",
        ])
        self.assertEqual(event["provider"], "gemini")
        self.assertEqual(event["model"], "gemini-3.1-flash-live-preview")
        self.assertEqual(event["brainAgent"], "enabled")
        self.assertEqual(event["deviceContext"]["deviceModel"], "Desktop (Electron)")

    def test_empty_key_is_sent_as_empty_string(self) -> None:
        event = SessionConfig(brain_agent="none", model=None, device_context=None).event()
        self.assertEqual(event, {"type": "session.config", "provider": "openai",
                                 "voice": "Zephyr", "brainAgent": "none", "apiKey": ""})

    def test_provider_and_health_url(self) -> None:
        self.assertEqual(provider_for_model("grok-voice-1"), "xai")
        self.assertEqual(health_url("ws://127.0.0.1:19789/voiceclaw/realtime?x=1"),
                         "http://127.0.0.1:19789/health")
        self.assertEqual(health_url("wss://gw.example/voiceclaw/realtime"),
                         "https://gw.example/health")


class VoiceClawClientTests(TestCase):
    timeout = 15

    def make_stub(self, handler: Any = None) -> StubGateway:
        stub = StubGateway(handler)
        self.addCleanup(stub.stop)
        return stub

    async def test_config_first_then_100ms_audio_frames_without_waiting(self) -> None:
        stub = self.make_stub(answer_config_with_ready)
        client = await start_call(reactor, stub.url, SessionConfig(api_key="tok"))
        self.addCleanup(client.abort)
        sent = await client.stream_audio(sine_pcm16(300, 250))  # 2.5 frames
        self.assertEqual(sent, 3)
        last = await stub.received.nth(3)
        events = list(stub.received)
        self.assertEqual(events[0], SessionConfig(api_key="tok").event())
        self.assertEqual([e["type"] for e in events], ["session.config"] + ["audio.append"] * 3)
        self.assertEqual([len(e["data"]) for e in events[1:]], [6400, 6400, 3200])
        self.assertEqual(base64.b64decode(last["data"]), sine_pcm16(300, 250)[2 * FRAME_BYTES:])
        ready = await client.next_event("session.ready")
        self.assertEqual(client.session_id, ready["sessionId"])

    async def test_events_by_type_in_order_and_playback_flushed_on_barge_in(self) -> None:
        script = [
            {"type": "session.ready", "sessionId": "s"},
            {"type": "turn.started"},
            {"type": "transcript.delta", "text": "Hi", "role": "user"},
            {"type": "transcript.done", "text": "Hi", "role": "user"},
            {"type": "transcript.delta", "text": "Hello", "role": "assistant"},
            {"type": "audio.delta", "data": b64(bytes(4800))},
            {"type": "audio.delta", "data": b64(bytes(2400))},
            {"type": "turn.started"},
            {"type": "transcript.done", "text": "Hello...", "role": "assistant"},
            {"type": "audio.delta", "data": b64(bytes(100))},
            {"type": "turn.ended"},
        ]

        def handler(stub: StubGateway, event: dict[str, Any]) -> None:
            if event["type"] == "session.config":
                for reply in script:
                    stub.send(reply)

        stub = self.make_stub(handler)
        client = await start_call(reactor, stub.url, SessionConfig())
        self.addCleanup(client.abort)
        ended = await client.next_event("turn.ended")
        self.assertEqual(ended, {"type": "turn.ended"})
        self.assertEqual(len(client.audio_received), 4800 + 2400 + 100)
        self.assertEqual(len(client.playback), 100)  # flushed by the barge-in turn.started
        self.assertEqual(client.playback_flushes, 2)
        self.assertEqual(client.transcripts, [("user", "Hi"), ("assistant", "Hello...")])
        # The rest is still unread, in order.
        self.assertEqual((await client.next_event())["type"], "session.ready")
        self.assertEqual((await client.next_event("audio.delta"))["data"], b64(bytes(4800)))
        rest = await client.collect_until("transcript.done")
        self.assertEqual([e["type"] for e in rest],
                         ["turn.started", "transcript.delta", "transcript.done"])
        self.assertEqual([e["type"] for e in client.unread()], [
            "transcript.delta", "audio.delta", "turn.started", "transcript.done", "audio.delta",
        ])

    async def test_error_then_policy_close(self) -> None:
        def handler(stub: StubGateway, event: dict[str, Any]) -> None:
            stub.send({"type": "error", "message": "OpenClaw gateway authentication failed",
                       "code": 401})
            stub.close(1008, "unauthorized")

        stub = self.make_stub(handler)
        client = await start_call(reactor, stub.url, SessionConfig(api_key="wrong"))
        self.assertEqual(await client.when_closed(), (1008, "unauthorized"))
        self.assertEqual(client.errors, [{"type": "error", "code": 401,
                                          "message": "OpenClaw gateway authentication failed"}])
        self.assertFalse(client.is_open)
        client.send_audio(bytes(10))  # dropped, like the app's readyState check
        self.assertEqual(len(stub.received), 1)

    async def test_busy_gateway_refuses_the_upgrade(self) -> None:
        stub = self.make_stub()
        stub.busy = True
        with self.assertRaises(VoiceClawConnectError) as raised:
            await connect_voiceclaw(reactor, stub.url)
        self.assertIn("503", str(raised.exception))

    async def test_refused_connection(self) -> None:
        stub = self.make_stub()
        url = stub.url
        await stub.stop()
        with self.assertRaises(VoiceClawConnectError):
            await connect_voiceclaw(reactor, url)

    async def test_health_check_like_the_test_button(self) -> None:
        stub = self.make_stub()
        self.assertEqual(await check_health(reactor, stub.url), 200)

    async def test_frames_text_and_raw(self) -> None:
        stub = self.make_stub()
        client = await connect_voiceclaw(reactor, stub.url)
        self.addCleanup(client.abort)
        client.send_frame(b"\xff\xd8jpeg")
        client.send_text("typed")
        client.send_raw("not json{")
        await stub.received.nth(2)
        self.assertEqual(list(stub.received), [
            {"type": "frame.append", "data": b64(b"\xff\xd8jpeg")},
            {"type": "text.input", "text": "typed"},
            {"raw": "not json{"},
        ])

    async def test_paced_stream_sends_one_frame_per_100ms(self) -> None:
        stub = self.make_stub()
        client = await connect_voiceclaw(reactor, stub.url)
        self.addCleanup(client.abort)
        clock = Clock()
        done = client.stream_audio(bytes(3 * FRAME_BYTES), pace=clock)
        self.assertEqual(client.frames_sent, 1)
        clock.advance(0.099)
        self.assertEqual(client.frames_sent, 1)
        clock.advance(0.001)
        self.assertEqual(client.frames_sent, 2)
        clock.advance(0.1)
        self.assertEqual(await done, 3)
        await stub.received.nth(2)

    async def test_demo_call_prints_one_turn(self) -> None:
        def handler(stub: StubGateway, event: dict[str, Any]) -> None:
            if event["type"] == "session.config":
                stub.send({"type": "session.ready", "sessionId": "s"})
            elif event["type"] == "audio.append" and len(stub.received) == 4:
                stub.send({"type": "turn.started"})
                stub.send({"type": "audio.delta", "data": b64(bytes(4800))})
                stub.send({"type": "turn.ended"})

        stub = self.make_stub(handler)
        out = io.StringIO()
        status = await demo_call(reactor, stub.url, SessionConfig(), out, paced=False)
        self.assertEqual(status, 0)
        self.assertEqual(out.getvalue().splitlines(), [
            '{"type":"session.ready","sessionId":"s"}',
            '{"type":"turn.started"}',
            '{"type":"audio.delta","bytes":4800}',
            '{"type":"turn.ended"}',
            "closed: 1000",
        ])
