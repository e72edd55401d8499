"""``/voiceclaw/realtime`` end to end: the VoiceClaw client, the production gateway tree and a
local Gemini Live server, over real loopback sockets; the endpoint's timers on a Clock."""

from __future__ import annotations

import base64
import json
import os
from array import array
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import TestCase

from openclaw.agents import tools as tools_mod
from openclaw.providers.types import ToolCall
from openclaw.testing.audio import pcm_of, samples_of, silence_pcm16, sine_pcm16
from openclaw.testing.gemini_live import (
    INVALID_KEY_REASON,
    CancelToolCalls,
    Close,
    ConnectionPlan,
    FunctionCall,
    GoAway,
    Interrupt,
    OnReconnect,
    OnText,
    OnToolResponse,
    ParallelToolCalls,
    Turn,
    conversation_script,
    end_of_user_turn,
    on,
)
from openclaw.testing.gemini_live import (
    ToolCall as ScriptedToolCall,
)
from openclaw.testing.voiceclaw_client import (
    FRAME_BYTES,
    SessionConfig,
    VoiceClawConnectError,
    check_health,
    connect_voiceclaw,
)
from openclaw.voiceclaw.protocol import (
    ERR_AUTH_FAILED,
    ERR_AUTH_REQUIRED,
    ERR_NO_GEMINI_KEY,
    ERR_OWNER_REQUIRED,
    SESSION_ENDED_SUMMARY,
)
from openclaw.voiceclaw.tools import REALTIME_TOOL_DENY
from tests.builder import TOKEN
from tests.gateway.http.support import parse_response, raw_connect, request_head
from tests.voiceclaw.support import GEMINI_KEY, VoiceStack, write_file

NO_AUTH: dict[str, Any] = {"gateway": {"auth": {"mode": "none"}}}
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}


def types(events: list[dict[str, Any]]) -> list[str]:
    return [str(event.get("type")) for event in events]


def speech(ms: int = 300) -> bytes:
    return sine_pcm16(300, ms)


def constant_frame(level: int) -> bytes:
    """A 100 ms frame whose every sample is ``level`` (it stays ``level`` at 16 kHz)."""
    return pcm_of(array("h", [level] * (FRAME_BYTES // 2)))


class GatedTool:
    """A tool runner the test finishes by hand (to show what happens while a tool runs)."""

    def __init__(self) -> None:
        self.calls: list[ToolCall] = []
        self.gates: dict[str, Deferred[tools_mod.ToolOutput]] = {}
        self.started: Deferred[ToolCall] = Deferred()

    async def __call__(self, ctx: tools_mod.ToolContext, policy: tools_mod.ToolPolicy,
                       call: ToolCall) -> tools_mod.ToolOutput:
        self.calls.append(call)
        gate: Deferred[tools_mod.ToolOutput] = Deferred()
        self.gates[call.id] = gate
        if not self.started.called:
            # on the next reactor turn: the run is then waiting on its gate (a timer firing
            # inside this call would find nothing to cancel yet)
            cast(IReactorTime, reactor).callLater(0, self.started.callback, call)
        return await gate


class VoiceTestCase(TestCase):
    timeout = 30

    async def stack(self, config: dict[str, Any] | None = None, **kwargs: Any) -> VoiceStack:
        stack = await VoiceStack(config, **kwargs).start()
        self.addCleanup(stack.stop)
        return stack


class HandshakeTests(VoiceTestCase):
    async def test_session_config_then_session_ready(self) -> None:
        stack = await self.stack()
        client = await stack.call(SessionConfig(
            api_key=TOKEN, voice="kore", session_key="desk 42!", instructions_override="I am Sam.",
            conversation_history=[{"role": "user", "text": "hi"},
                                  {"role": "assistant", "text": "hello"}]))
        ready = await client.next_event("session.ready")
        session = await stack.sessions.nth(0)
        self.assertEqual(ready, {"type": "session.ready", "sessionId": session.id})
        self.assertEqual(session.session_key, "agent:main:voiceclaw:desk-42-")
        connection = await stack.gemini.connection(0)
        setup = await connection.when_setup()
        self.assertEqual(connection.key, GEMINI_KEY)
        self.assertEqual(connection.model, "models/gemini-3.1-flash-live-preview")
        self.assertEqual(connection.voice, "Kore")
        self.assertEqual(setup["sessionResumption"], {})
        self.assertEqual(setup["generationConfig"]["responseModalities"], ["AUDIO"])
        self.assertEqual(setup["contextWindowCompression"],
                         {"slidingWindow": {}, "triggerTokens": 10000})
        instructions = connection.instructions
        self.assertTrue(instructions.startswith("## Your Brain"))
        self.assertIn("## Device Context\ntimezone: UTC, locale: en-US, "
                      "device: Desktop (Electron)", instructions)
        self.assertIn("## About The User\nI am Sam.", instructions)
        self.assertTrue(instructions.endswith(
            "## Recent Conversation History\nUser: hi\nAssistant: hello"))
        # the brain's tools under policy: a non-main session has no exec, and the voice
        # model never drives sessions_send
        names = connection.tool_names
        self.assertIn("read", names)
        self.assertNotIn("exec", names)
        self.assertFalse(names & REALTIME_TOOL_DENY)
        read = next(d for d in connection.function_declarations if d["name"] == "read")
        self.assertEqual(read["parameters"]["type"], "object")
        self.assertNotIn("minimum", json.dumps(read["parameters"]))
        self.assertEqual(stack.gemini.violations, [])

    async def test_brain_off_gets_no_tools_and_the_plain_prompt(self) -> None:
        stack = await self.stack()
        client = await stack.call(SessionConfig(api_key=TOKEN, brain_agent="none", voice="Nope"))
        await client.next_event("session.ready")
        connection = await stack.gemini.connection(0)
        await connection.when_setup()
        self.assertNotIn("tools", connection.setup or {})
        self.assertEqual(connection.voice, "Zephyr")
        self.assertTrue(connection.instructions.startswith(
            "You are a helpful voice assistant."))

    async def test_handshake_timeout_closes_1000_without_an_error(self) -> None:
        stack = await self.stack()
        client = await stack.connect()
        await stack.clock.fire(15)
        self.assertEqual(await client.when_closed(), (1000, "handshake timeout"))
        self.assertEqual(client.errors, [])
        self.assertEqual(len(stack.gateway.context.preauth_budget), 0)

    async def test_the_query_string_is_ignored_and_other_paths_are_the_control_protocol(
            self) -> None:
        stack = await self.stack()
        client = await connect_voiceclaw(reactor, stack.url + "?token=ignored")
        stack.clients.append(client)
        client.send_raw("{")
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": "invalid JSON event", "code": 400})
        control = await connect_voiceclaw(reactor, stack.url.replace("/voiceclaw/realtime",
                                                                     "/voiceclaw"))
        stack.clients.append(control)
        challenge = await control.next_event("event")
        self.assertEqual(challenge["event"], "connect.challenge")

    async def test_frames_before_config_and_bad_json(self) -> None:
        stack = await self.stack()
        client = await stack.connect()
        client.send_raw("not json")
        client.send_raw('{"no":"type"}')
        client.send_raw("[1]")
        client.send_audio(speech(100))
        errors = [await client.next_event("error") for _ in range(4)]
        self.assertEqual(errors, [
            {"type": "error", "message": "invalid JSON event", "code": 400}] * 3 + [
            {"type": "error", "message": "session.config required before media", "code": 400}])
        self.assertTrue(client.is_open)
        # the first config stops the handshake timer; a second one after it is refused
        client.configure(SessionConfig(api_key=TOKEN))
        await client.next_event("session.ready")
        self.assertFalse(await stack.clock.scheduled_calls.first(lambda c: c[0] == 15).addCallback(
            lambda entry: entry[1].active()))
        client.configure(SessionConfig(api_key=TOKEN))
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": "session already configured",
                          "code": 400})
        self.assertTrue(client.is_open)

    async def test_the_desktop_client_completes_a_turn(self) -> None:
        stack = await self.stack()
        stack.gemini.default_script = conversation_script()
        self.assertEqual(await check_health(reactor, stack.url), 200)   # the app's Test button
        client = await stack.call(SessionConfig(api_key=TOKEN))
        await client.next_event("session.ready")
        await client.stream_audio(speech(600) + silence_pcm16(600))
        events = await client.collect_until("turn.ended")
        self.assertEqual(events[0]["type"], "turn.started")
        self.assertEqual(client.transcripts, [
            ("user", "(speech)"),
            ("assistant", "This is the local Gemini Live test server. I heard you.")])
        self.assertEqual(len(client.audio_received), 8 * 4800)
        self.assertEqual(await client.close(), (1000, None))


class AuthTests(VoiceTestCase):
    async def test_wrong_key_is_refused_401_close_1008_after_the_penalty(self) -> None:
        stack = await self.stack()
        client = await stack.call(SessionConfig(api_key="wrong-token"))
        session = await stack.sessions.nth(0)
        decision = await session.decided
        self.assertFalse(decision.ok)
        # a second config while the first is being authorised is ignored; audio during the
        # auth wait earns one error per frame
        client.configure(SessionConfig(api_key=TOKEN))
        client.send_audio(speech(100))
        self.assertEqual(await client.next_event("error"), {
            "type": "error", "message": "session.config required before media", "code": 400})
        self.assertEqual(decision.delay_seconds, 0.25)      # loopback: slowed, not locked
        await stack.clock.fire(0.25)
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": ERR_AUTH_FAILED, "code": 401})
        self.assertEqual(await client.when_closed(), (1008, "unauthorized"))
        # the shared limiter counted it (HTTP and the control protocol see the same entry)
        self.assertEqual(len(stack.gateway.context.rate_limiter), 1)
        self.assertEqual(len(stack.gemini.connections), 0)

    async def test_empty_key_is_refused_401_close_1008(self) -> None:
        stack = await self.stack()
        client = await stack.call(SessionConfig(api_key=""))
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": ERR_AUTH_FAILED, "code": 401})
        self.assertEqual(await client.when_closed(), (1008, "unauthorized"))

    async def test_password_mode_takes_the_password(self) -> None:
        stack = await self.stack({"gateway": {"auth": {"mode": "password",
                                                       "password": "pw-0123456789"}}})
        client = await stack.call(SessionConfig(api_key="pw-0123456789"))
        await client.next_event("session.ready")

    async def test_a_proxied_user_is_not_an_owner(self) -> None:
        stack = await self.stack({"gateway": {
            "trustedProxies": ["127.0.0.1"],
            "auth": {"mode": "trusted-proxy",
                     "trustedProxy": {"userHeader": "x-forwarded-user", "allowLoopback": True}}}})
        client = await stack.call(SessionConfig(api_key=""), headers={
            "x-forwarded-user": "alice@example.com", "x-forwarded-for": "203.0.113.7"})
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": ERR_OWNER_REQUIRED, "code": 403})
        self.assertEqual(await client.when_closed(), (1008, "owner auth required"))
        # the same user without the brain only talks to Gemini
        plain = await stack.call(SessionConfig(api_key="", brain_agent="none"), headers={
            "x-forwarded-user": "alice@example.com", "x-forwarded-for": "203.0.113.7"})
        await plain.next_event("session.ready")

    async def test_no_auth_is_for_local_callers_only(self) -> None:
        stack = await self.stack({"gateway": {"auth": {"mode": "none"},
                                              "trustedProxies": ["127.0.0.1"]}})
        client = await stack.call(SessionConfig(api_key=""),
                                  headers={"x-forwarded-for": "203.0.113.7"})
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": ERR_AUTH_REQUIRED, "code": 403})
        self.assertEqual(await client.when_closed(), (1008, "auth required"))
        local = await stack.call(SessionConfig(api_key=""))
        await local.next_event("session.ready")

    async def test_no_gemini_key_is_refused_500_close_1011(self) -> None:
        stack = await self.stack(NO_AUTH, gemini_key=None)
        client = await stack.call(SessionConfig(api_key=""))
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": ERR_NO_GEMINI_KEY, "code": 500})
        self.assertEqual(await client.when_closed(), (1011, "setup failed"))
        self.assertEqual(len(stack.gemini.connections), 0)

    async def test_gemini_refusing_the_key_is_a_setup_failure(self) -> None:
        stack = await self.stack(gemini_key="not-the-key")
        client = await stack.call()
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": INVALID_KEY_REASON, "code": 500})
        self.assertEqual(await client.when_closed(), (1011, "setup failed"))

    async def test_gemini_setup_timeout(self) -> None:
        stack = await self.stack()
        stack.gemini.plan(ConnectionPlan(setup_reply="never"))
        client = await stack.call()
        connection = await stack.gemini.connection(0)
        await connection.when_setup()
        await stack.clock.fire(15)
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": "Gemini Live setup timed out",
                          "code": 500})
        self.assertEqual(await client.when_closed(), (1011, "setup failed"))
        self.assertEqual(await connection.when_closed(), (1011, "setup failed"))

    async def test_preauth_budget_is_shared_with_the_control_websocket(self) -> None:
        stack = await self.stack(env={"OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP": "1"})
        waiting = await stack.connect()
        for path in ("/voiceclaw/realtime", "/"):
            raw = await raw_connect(stack.gateway.port)
            raw.send(request_head("GET", path, UPGRADE))
            await raw.closed
            status, headers, body = parse_response(raw.data)
            self.assertEqual((status, body), (503, b"Too many unauthenticated sockets"))
            self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        with self.assertRaises(VoiceClawConnectError):
            await stack.connect()
        # authorised (or refused), the socket gives its slot back
        waiting.configure(SessionConfig(api_key=TOKEN))
        await waiting.next_event("session.ready")
        operator = await stack.operator()
        self.addCleanup(operator.close)
        self.assertEqual(len(stack.gateway.context.preauth_budget), 0)


class ConversationTests(VoiceTestCase):
    async def test_a_spoken_turn(self) -> None:
        stack = await self.stack()
        stack.gemini.script(on(end_of_user_turn(chunks=3),
                               Turn(heard=["What's the", " time?"], said=["It is", " noon."],
                                    audio_chunks=3)))
        client = await stack.call()
        await client.next_event("session.ready")
        sent = speech(300)
        await client.stream_audio(sent)
        events = await client.collect_until("turn.ended")
        self.assertEqual(types(events), [
            "turn.started", "transcript.delta", "transcript.delta",
            "audio.delta", "transcript.done", "transcript.delta", "audio.delta",
            "transcript.delta", "audio.delta", "latency.metrics", "transcript.done", "turn.ended",
        ])
        self.assertEqual(client.transcripts, [("user", "What's the time?"),
                                              ("assistant", "It is noon.")])
        self.assertEqual(len(client.audio_received), 3 * 4800)
        usage = await client.next_event("usage.metrics")
        self.assertEqual(usage, {"type": "usage.metrics", "promptTokens": 120,
                                 "completionTokens": 40, "totalTokens": 160,
                                 "inputAudioTokens": 100, "outputAudioTokens": 40})
        # 24 kHz in, 16 kHz out: two thirds of the bytes, all as audio/pcm;rate=16000
        connection = await stack.gemini.connection(0)
        self.assertEqual(await connection.audio_bytes_at_least(len(sent) * 2 // 3),
                         len(sent) * 2 // 3)
        self.assertEqual(len(connection.audio_chunks), len(sent) // FRAME_BYTES)
        self.assertEqual(stack.gemini.violations, [])

    async def test_camera_frames_and_ignored_events(self) -> None:
        stack = await self.stack()
        client = await stack.call()
        await client.next_event("session.ready")
        client.send_frame(b"\xff\xd8jpeg")
        for kind in ("audio.commit", "response.create", "response.cancel", "client.timing"):
            client.send_event({"type": kind})
        client.send_text("typed")
        connection = await stack.gemini.connection(0)
        frame = await connection.message(lambda m: m.kind == "realtimeInput")
        self.assertEqual(frame.body, {"video": {
            "data": base64.b64encode(b"\xff\xd8jpeg").decode(), "mimeType": "image/jpeg"}})
        client.send_audio(speech(100))
        await connection.audio_bytes_at_least(1)
        self.assertEqual(len(connection.messages), 2)
        self.assertEqual(client.errors, [])

    async def test_a_handler_error_is_500_and_the_call_goes_on(self) -> None:
        stack = await self.stack()
        client = await stack.call()
        await client.next_event("session.ready")
        client.send_event({"type": "audio.append", "data": 42})
        client.send_event({"type": "audio.append", "data": "not base64!"})
        for _ in range(2):
            self.assertEqual(await client.next_event("error"),
                             {"type": "error", "message": "internal error", "code": 500})
        client.send_audio(speech(100))
        connection = await stack.gemini.connection(0)
        await connection.audio_bytes_at_least(3200)
        self.assertTrue(client.is_open)

    async def test_the_silence_watchdog(self) -> None:
        stack = await self.stack()
        client = await stack.call(SessionConfig(api_key=TOKEN, extra={"watchdog": "enabled"}))
        await client.next_event("session.ready")
        await stack.clock.fire(20)
        connection = await stack.gemini.connection(0)
        nudge = await connection.text_containing("The user has been silent")
        self.assertTrue((nudge.text or "").startswith("(The user has been silent."))

    async def test_the_gateway_stopping_closes_the_call(self) -> None:
        stack = await self.stack()
        client = await stack.call()
        await client.next_event("session.ready")
        connection = await stack.gemini.connection(0)
        await stack.gateway.service.web.stopService()
        self.assertEqual(await client.when_closed(), (1001, "gateway stopping"))
        await connection.when_closed()

    async def test_barge_in(self) -> None:
        stack = await self.stack()
        stack.gemini.script(
            on(end_of_user_turn(chunks=2),
               Turn(heard=["Tell me a story"], said=["Once upon", " a time"], complete=False),
               Interrupt()),
            on(end_of_user_turn(chunks=2), Turn(heard=["Stop."], said=["Okay."])))
        client = await stack.call()
        await client.next_event("session.ready")
        await client.stream_audio(speech(200))
        await client.next_event("turn.started")
        self.assertEqual(await client.next_event("transcript.done"),
                         {"type": "transcript.done", "text": "Tell me a story", "role": "user"})
        await client.next_event("turn.started")          # the barge-in
        self.assertEqual(client.playback, bytearray())    # the app stopped playing
        self.assertEqual(await client.next_event("transcript.done"),
                         {"type": "transcript.done", "text": "Once upon a time...",
                          "role": "assistant"})
        await client.stream_audio(speech(200))
        await client.collect_until("turn.ended")
        self.assertEqual(client.transcripts[-2:], [("user", "Stop."), ("assistant", "Okay.")])
        await client.next_event("usage.metrics")        # sent after turnComplete
        self.assertEqual(client.unread(), [])

    async def test_go_away_resumes_with_the_handle(self) -> None:
        stack = await self.stack()
        stack.gemini.script(
            on(end_of_user_turn(chunks=2), Turn(heard=["hi"], said=["Hello."]), GoAway()),
            on(OnReconnect(), Turn(said=["Still here."])))
        client = await stack.call()
        await client.next_event("session.ready")
        await client.stream_audio(speech(200))
        await client.next_event("turn.ended")
        gemini_session = await stack.gemini.session(0)
        handle = gemini_session.handles[-1]
        await client.next_event("session.rotating")
        rotated = await client.next_event("session.rotated")
        self.assertTrue(rotated["sessionId"].startswith("gemini-resumed-"))
        resumed = await gemini_session.when_connection(1)
        self.assertEqual(resumed.resumption_handle, handle)
        self.assertTrue(resumed.resumed)
        # the old socket is closed by the gateway (a close frame without a code, as ws does)
        self.assertEqual(await gemini_session.connections[0].when_closed(), (None, None))
        await client.next_event("turn.ended")
        self.assertEqual(client.transcripts[-1], ("assistant", "Still here."))
        # input after the rotation reaches the new connection
        client.send_audio(speech(100))
        await resumed.audio_bytes_at_least(1)
        self.assertEqual(client.errors, [])
        self.assertEqual(stack.gemini.violations, [])

    async def test_input_is_queued_while_rotating(self) -> None:
        stack = await self.stack()
        held: Deferred[None] = Deferred()
        stack.gemini.plan(ConnectionPlan(), ConnectionPlan(hold_ack=held))
        stack.gemini.script(on(end_of_user_turn(chunks=1), Turn(heard=["hi"], said=["Yes?"]),
                               GoAway()))
        client = await stack.call()
        await client.next_event("session.ready")
        client.send_audio(speech(100))
        await client.next_event("session.rotating")
        # 55 frames while Gemini has not acknowledged the new connection: the newest 50 are kept
        for level in range(1, 56):
            client.send_audio(constant_frame(level))
        client.send_frame(b"jpeg")
        client.send_raw("barrier")                     # answered after the frames before it
        await client.next_event("error")
        held.callback(None)
        await client.next_event("session.rotated")
        gemini_session = await stack.gemini.session(0)
        resumed = await gemini_session.when_connection(1)
        await resumed.audio_bytes_at_least(50 * 3200)
        levels = [samples_of(chunk)[0] for chunk in resumed.audio_chunks]
        self.assertEqual(levels, list(range(6, 56)))
        await resumed.message(lambda m: "video" in m.body)
        kinds = [next(iter(m.body)) for m in resumed.messages]
        self.assertEqual(kinds, ["audio"] * 50 + ["video"])   # audio flushed before video

    async def test_a_resumable_close_reconnects(self) -> None:
        stack = await self.stack()
        stack.gemini.script(
            on(end_of_user_turn(chunks=2), Turn(heard=["hi"], said=["Hello."]),
               Close(1011, "Internal error occurred.")),
            on(OnReconnect(), Turn(said=["Back."])))
        client = await stack.call()
        await client.next_event("session.ready")
        await client.stream_audio(speech(200))
        await client.next_event("session.rotated")
        await client.next_event("turn.ended")                 # "Hello."
        await client.next_event("turn.ended")                 # after the reconnect
        self.assertEqual(client.transcripts[-1], ("assistant", "Back."))
        self.assertEqual(client.errors, [])

    async def test_a_final_close_ends_the_session(self) -> None:
        stack = await self.stack()
        stack.gemini.script(on(end_of_user_turn(chunks=2), Turn(heard=["hi"], said=["Hello."]),
                               Close(1008, "Policy violation.")))
        client = await stack.call()
        await client.next_event("session.ready")
        await client.stream_audio(speech(200))
        await client.next_event("turn.ended")
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": "Gemini Live connection closed",
                          "code": 502})
        ended = await client.next_event("session.ended")
        self.assertEqual((ended["summary"], ended["turnCount"]), (SESSION_ENDED_SUMMARY, 1))
        self.assertEqual(await client.when_closed(), (1011, "upstream error"))

    async def test_both_reconnect_attempts_failing(self) -> None:
        stack = await self.stack()
        stack.gemini.plan(ConnectionPlan(), ConnectionPlan(setup_reply="close"),
                          ConnectionPlan(setup_reply="close"))
        stack.gemini.script(on(end_of_user_turn(chunks=2), Turn(heard=["hi"], said=["Hello."]),
                               GoAway()))
        client = await stack.call()
        await client.next_event("session.ready")
        await client.stream_audio(speech(200))
        await client.next_event("session.rotating")
        await stack.clock.fire(0.5)                        # the backoff between the attempts
        self.assertEqual(await client.next_event("error"),
                         {"type": "error", "message": "Gemini Live reconnect failed",
                          "code": 502})
        await client.next_event("session.ended")
        self.assertEqual(await client.when_closed(), (1011, "upstream error"))
        self.assertEqual(len(stack.gemini.connections), 3)


class ToolTests(VoiceTestCase):
    async def test_a_tool_answered_working_run_in_the_background_then_spoken(self) -> None:
        stack = await self.stack()
        write_file(os.path.join(stack.gateway.workspace, "notes.txt"), "buy milk\n")
        stack.gemini.script(
            on(end_of_user_turn(chunks=2),
               Turn(heard=["What's in my notes?"], said=["One sec."], complete=False),
               ScriptedToolCall("read", {"path": "notes.txt"}, id="fc-1")),
            on(OnToolResponse("fc-1"), Turn(said=[" Still looking."], complete=False)),
            on(OnText("OpenClaw async tool update."),
               Turn(said=[" Your notes say", " buy milk."])))
        client = await stack.call(SessionConfig(api_key=TOKEN, session_key="desk-42"))
        await client.next_event("session.ready")
        await client.stream_audio(speech(200))
        connection = await stack.gemini.connection(0)
        reply = await connection.tool_response("fc-1")
        self.assertEqual(reply, {"id": "fc-1", "response": {
            "status": "working", "tool": "read",
            "message": "The OpenClaw tool is running asynchronously. Do not answer with final "
                       "results yet; wait for the injected tool result."}})
        injected = await connection.text_containing("OpenClaw async tool update.")
        # the immediate answer went first; the conversation went on while the tool ran
        order = [m.kind for m in connection.messages if m.kind != "realtimeInput" or m.text]
        self.assertEqual(order, ["toolResponse", "realtimeInput"])
        text = injected.text or ""
        paragraphs = text.split("\n\n")
        self.assertEqual(paragraphs[0], "OpenClaw async tool update.")
        self.assertTrue(paragraphs[1].startswith("Security boundary:"))
        self.assertEqual(paragraphs[2], "Tool update JSON:")
        update = json.loads(text.split("Tool update JSON:\n\n", 1)[1].split(
            "\n\nEnd of OpenClaw async tool update.", 1)[0])
        self.assertEqual((update["kind"], update["toolName"], update["arguments"]),
                         ("result", "read", {"path": "notes.txt"}))
        self.assertIn("buy milk", update["untrustedToolOutput"]["resultText"])
        events = await client.collect_until("turn.ended")
        progress = [e["summary"] for e in events if e["type"] == "tool.progress"]
        self.assertEqual(progress, ["Running read...", "read finished."])
        self.assertNotIn("tool.call", types(events))
        self.assertEqual(client.transcripts[-1],
                         ("assistant", "One sec. Still looking. Your notes say buy milk."))
        self.assertEqual(stack.gemini.violations, [])

        # the session is in the agent's store: chat.history shows both sides and the call
        session = await stack.sessions.nth(0)
        await client.close()
        await session.done
        operator = await stack.operator()
        self.addCleanup(operator.close)
        history = await operator.call("chat.history",
                                      {"sessionKey": "agent:main:voiceclaw:desk-42"})
        messages = history["payload"]["messages"]
        self.assertEqual([m["role"] for m in messages],
                         ["user", "assistant", "toolResult", "assistant"])
        self.assertEqual(messages[0]["content"], "What's in my notes?")
        self.assertEqual(messages[1]["content"][0]["name"], "read")
        self.assertIn("buy milk", messages[2]["content"][0]["text"])
        self.assertEqual(messages[3]["content"][0]["text"],
                         "One sec. Still looking. Your notes say buy milk.")
        self.assertEqual(messages[3]["provider"], "google")

    async def test_unknown_tool_busy_and_cancelled(self) -> None:
        stack = await self.stack(env={
            "OPENCLAW_VOICECLAW_REALTIME_MAX_CONCURRENT_TOOLS": "1"})
        gated = GatedTool()
        stack.endpoint.services.brain.run_tool = gated
        stack.gemini.script(
            on(end_of_user_turn(chunks=1),
               ParallelToolCalls((FunctionCall("read", {"path": "a"}, id="fc-1"),
                                  FunctionCall("read", {"path": "b"}, id="fc-2"),
                                  FunctionCall("launch_rockets", {}, id="fc-3")),
                                 expect_declared=False)),
            on(OnToolResponse("fc-3"), CancelToolCalls(("fc-1",))))
        client = await stack.call()
        await client.next_event("session.ready")
        client.send_audio(speech(100))
        connection = await stack.gemini.connection(0)
        self.assertEqual((await connection.tool_response("fc-2"))["response"],
                         {"status": "busy", "tool": "read",
                          "error": "Too many OpenClaw tools are already running."})
        self.assertEqual((await connection.tool_response("fc-3"))["response"],
                         {"error": "unknown tool: launch_rockets"})
        self.assertEqual(await client.next_event("tool.cancelled"),
                         {"type": "tool.cancelled", "callIds": ["fc-1"]})
        progress = [await client.next_event("tool.progress") for _ in range(2)]
        self.assertEqual([p["summary"] for p in progress],
                         ["Running read...", "read cancelled."])
        self.assertEqual(connection.texts, [])            # nothing injected
        # the busy and the unknown call never ran (fc-1 may be cancelled before it started)
        self.assertTrue(all(call.id == "fc-1" for call in gated.calls))

    async def test_a_tool_that_times_out(self) -> None:
        stack = await self.stack(env={"OPENCLAW_VOICECLAW_REALTIME_TOOL_TIMEOUT_MS": "5000"})
        gated = GatedTool()
        stack.endpoint.services.brain.run_tool = gated
        stack.gemini.script(on(end_of_user_turn(chunks=1),
                               ScriptedToolCall("read", {"path": "slow"}, id="fc-1")))
        client = await stack.call()
        await client.next_event("session.ready")
        client.send_audio(speech(100))
        await gated.started
        await stack.clock.fire(5)
        connection = await stack.gemini.connection(0)
        injected = await connection.text_containing("OpenClaw async tool update.")
        self.assertIn('"error": "OpenClaw tool timed out after 5000ms"', injected.text or "")
        progress = [await client.next_event("tool.progress") for _ in range(2)]
        self.assertEqual(progress[1]["summary"],
                         "read failed: OpenClaw tool timed out after 5000ms")

    async def test_go_away_waits_for_the_running_tool(self) -> None:
        stack = await self.stack()
        gated = GatedTool()
        stack.endpoint.services.brain.run_tool = gated
        stack.gemini.script(
            on(end_of_user_turn(chunks=1),
               ScriptedToolCall("read", {"path": "x"}, id="fc-1"), GoAway()),
            on(OnReconnect(), Turn(said=["Done."])))
        client = await stack.call()
        await client.next_event("session.ready")
        client.send_audio(speech(100))
        connection = await stack.gemini.connection(0)
        await connection.tool_response("fc-1")
        await gated.started
        self.assertEqual(len(stack.gemini.connections), 1)   # rotation deferred
        gated.gates["fc-1"].callback(tools_mod.ToolOutput("x is 42"))
        await client.next_event("session.rotated")
        await client.next_event("turn.ended")
        self.assertEqual(client.transcripts[-1], ("assistant", "Done."))
        # the result went to the old connection just before the gateway moved on
        self.assertIn("x is 42", (await connection.text_containing("x is 42")).text or "")
        progress = [event["summary"] for event in client.events if event["type"] ==
                    "tool.progress"]
        self.assertEqual(progress, ["Running read...", "read finished."])
        # the rotation Gemini asked for waited until the tool had finished
        finished = next(i for i, event in enumerate(client.events)
                        if event.get("summary") == "read finished.")
        self.assertLess(finished, types(list(client.events)).index("session.rotating"))

    async def test_gemini_lost_while_a_tool_runs(self) -> None:
        stack = await self.stack()
        gated = GatedTool()
        stack.endpoint.services.brain.run_tool = gated
        stack.gemini.script(
            on(end_of_user_turn(chunks=1), ScriptedToolCall("read", {"path": "x"}, id="fc-1")),
            on(OnToolResponse("fc-1"), Close(1011, "Internal error occurred.")))
        client = await stack.call()
        await client.next_event("session.ready")
        client.send_audio(speech(100))
        self.assertEqual(await client.next_event("tool.cancelled"),
                         {"type": "tool.cancelled", "callIds": ["fc-1"]})
        self.assertEqual(await client.next_event("error"), {
            "type": "error", "code": 502,
            "message": "Gemini Live closed while a tool call was in flight"})
        await client.next_event("session.ended")
        self.assertEqual(await client.when_closed(), (1011, "upstream error"))
        self.assertEqual(len(stack.gemini.connections), 1)    # no resumption with a tool out

    async def test_hanging_up_aborts_the_tool_and_closes_gemini(self) -> None:
        stack = await self.stack()
        gated = GatedTool()
        stack.endpoint.services.brain.run_tool = gated
        stack.gemini.script(on(end_of_user_turn(chunks=1),
                               ScriptedToolCall("read", {"path": "big"}, id="fc-1")))
        client = await stack.call(SessionConfig(api_key=TOKEN, session_key="hangup"))
        await client.next_event("session.ready")
        client.send_audio(speech(100))
        await gated.started
        session = await stack.sessions.nth(0)
        await client.close()
        connection = await stack.gemini.connection(0)
        await connection.when_closed()
        await session.done
        self.assertEqual(session.phase, "ended")
        self.assertEqual(len(stack.gateway.context.preauth_budget), 0)
        self.assertEqual(connection.texts, [])
        records = stack.gateway.transcript("agent:main:voiceclaw:hangup")
        result = records[-1]["message"]
        self.assertEqual((result["role"], result["isError"], result["content"][0]["text"]),
                         ("toolResult", True, "Tool call cancelled."))

    async def test_silence_pcm_frames_are_just_audio(self) -> None:
        stack = await self.stack()
        client = await stack.call()
        await client.next_event("session.ready")
        await client.stream_audio(silence_pcm16(200))
        connection = await stack.gemini.connection(0)
        await connection.audio_bytes_at_least(2 * 3200)
        self.assertEqual(stack.gemini.violations, [])
