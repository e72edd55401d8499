"""The local Gemini Live server over real loopback sockets, an Autobahn client as the gateway."""

from __future__ import annotations

import base64
import os
import sys
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from openclaw.testing.audio import dominant_frequency, silence_pcm16, sine_pcm16
from openclaw.testing.gemini_live import (
    GEMINI_LIVE_PATH,
    INVALID_ARGUMENT_REASON,
    INVALID_KEY_REASON,
    SESSION_NOT_FOUND_REASON,
    AfterAudio,
    CancelToolCalls,
    Close,
    ConnectionPlan,
    FunctionCall,
    GeminiLiveServer,
    GoAway,
    Interrupt,
    OnActivityEnd,
    OnReconnect,
    OnSignal,
    OnText,
    OnToolResponse,
    ParallelToolCalls,
    ResumptionUpdate,
    SpeechEnded,
    ToolCall,
    Turn,
    Usage,
    at_once,
    conversation_script,
    end_of_user_turn,
    on,
)
from tests.support import REPO_ROOT
from tests.testing.voice_support import StandIn, connect, setup_message

KEY = "test-key"
CHUNK_16K = bytes(3200)  # 100 ms of 16 kHz PCM16 silence


def kinds(messages: list[Any]) -> list[str]:
    """A compact trace: top-level kind, plus the serverContent field."""
    trace = []
    for message in messages:
        if message.kind == "serverContent":
            trace.append("serverContent." + next(iter(message.data["serverContent"])))
        else:
            trace.append(message.kind)
    return trace


class GeminiLiveServerTests(TestCase):
    timeout = 15

    def make_server(self, **options: Any) -> GeminiLiveServer:
        options.setdefault("api_keys", {KEY})
        server = GeminiLiveServer(reactor, **options)
        server.listen()
        self.addCleanup(server.stop)
        return server

    async def open(self, server: GeminiLiveServer, key: str | None = KEY,
                   handle: str | None = None) -> StandIn:
        url = server.url if key is None else server.url_for(key)
        client = await connect(url)
        self.addCleanup(client.protocol.dropConnection, True)
        client.send(setup_message(handle))
        return client

    async def ready(self, server: GeminiLiveServer, **kwargs: Any) -> StandIn:
        client = await self.open(server, **kwargs)
        await client.until("sessionResumptionUpdate")
        return client

    # -- setup, frames, keys

    async def test_setup_complete_is_binary_then_a_resumption_handle(self) -> None:
        server = self.make_server()
        client = await self.open(server)
        setup_complete = await client.next()
        self.assertEqual(setup_complete.data, {"setupComplete": {}})
        self.assertTrue(setup_complete.binary)
        update = await client.next()
        self.assertEqual(update.data,
                         {"sessionResumptionUpdate": {"newHandle": "h-1", "resumable": True}})
        self.assertTrue(update.binary)

        connection = await server.connection(0)
        self.assertEqual(connection.path, GEMINI_LIVE_PATH)
        self.assertEqual(connection.key, KEY)
        self.assertEqual(connection.model, "models/gemini-3.1-flash-live-preview")
        self.assertEqual(connection.voice, "Kore")
        self.assertEqual(connection.tool_names, {"web_fetch", "read"})
        self.assertEqual(connection.instructions, "You are a helpful voice assistant.")
        self.assertIsNone(connection.resumption_handle)
        session = await server.session(0)
        self.assertEqual(session.handles, ["h-1"])
        self.assertEqual(server.violations, [])

    async def test_text_frames_when_asked(self) -> None:
        server = self.make_server(binary_frames=False)
        client = await self.open(server)
        self.assertFalse((await client.next()).binary)

    async def test_bad_key_is_closed_1008_when_setup_arrives(self) -> None:
        server = self.make_server()
        client = await self.open(server, key="wrong")
        self.assertEqual(await client.closed(), (1008, INVALID_KEY_REASON))
        self.assertEqual(len(client.received), 0)
        connection = await server.connection(0)
        self.assertEqual(connection.setup, setup_message()["setup"])
        self.assertEqual(len(server.sessions), 0)

    async def test_missing_key_is_closed_1008_too(self) -> None:
        server = self.make_server(api_keys=None)
        client = await self.open(server, key=None)
        self.assertEqual(await client.closed(), (1008, INVALID_KEY_REASON))

    async def test_bad_key_can_be_closed_on_open(self) -> None:
        server = self.make_server(bad_key_close="open")
        client = await connect(server.url_for("wrong"))
        self.assertEqual(await client.closed(), (1008, INVALID_KEY_REASON))

    async def test_any_non_empty_key_when_no_keys_configured(self) -> None:
        server = self.make_server(api_keys=None)
        client = await self.open(server, key="whatever")
        self.assertEqual((await client.next()).data, {"setupComplete": {}})

    async def test_malformed_messages_are_closed_1007(self) -> None:
        server = self.make_server()
        cases: list[tuple[bytes | dict[str, Any], str]] = [
            (b"not json", INVALID_ARGUMENT_REASON),
            ({"realtimeInput": {}, "toolResponse": {}}, INVALID_ARGUMENT_REASON),
            ({"realtimeInput": {"text": "hi"}}, INVALID_ARGUMENT_REASON),  # before setup
            ({"bogus": {}}, 'Invalid JSON payload received. Unknown name "bogus": '
                            "Cannot find field."),
        ]
        for payload, reason in cases:
            client = await connect(server.url_for(KEY))
            if isinstance(payload, bytes):
                client.send_raw(payload)
            else:
                client.send(payload)
            self.assertEqual(await client.closed(), (1007, reason))
        self.assertEqual(len(server.violations), len(cases))

    async def test_second_setup_and_bad_audio_are_refused(self) -> None:
        server = self.make_server()
        client = await self.ready(server)
        client.send({"realtimeInput": {"audio": {"data": "!!!", "mimeType": "audio/pcm"}}})
        self.assertEqual(await client.closed(), (1007, INVALID_ARGUMENT_REASON))
        client = await self.ready(server)
        client.send(setup_message())
        self.assertEqual(await client.closed(), (1007, INVALID_ARGUMENT_REASON))

    # -- recording

    async def test_records_what_the_client_sends_and_flags_wrong_audio(self) -> None:
        server = self.make_server()
        client = await self.ready(server)
        client.send_audio(CHUNK_16K)
        client.send_audio(bytes(4801), mime="audio/pcm;rate=24000")
        client.send({"realtimeInput": {"video": {"data": "aGk=", "mimeType": "image/jpeg"}}})
        client.send({"clientContent": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                                       "turnComplete": True}})
        client.send({"realtimeInput": {"text": "OpenClaw async tool update."}})
        connection = await server.connection(0)
        await connection.text_containing("async tool update")
        self.assertEqual(connection.audio_bytes, 3200 + 4801)
        self.assertEqual([m.kind for m in connection.messages],
                         ["realtimeInput"] * 3 + ["clientContent", "realtimeInput"])
        self.assertEqual(connection.texts, ["hi", "OpenClaw async tool update."])
        self.assertEqual(connection.violations, [
            "audio mimeType 'audio/pcm;rate=24000', not 'audio/pcm;rate=16000'",
            "audio chunk of 4801 bytes (odd: not PCM16)",
        ])

    async def test_audio_bytes_at_least_waits_for_the_audio(self) -> None:
        server = self.make_server()
        client = await self.ready(server)
        connection = await server.connection(0)
        waiting = connection.audio_bytes_at_least(6400)
        client.send_audio(CHUNK_16K)
        client.send_audio(CHUNK_16K)
        self.assertEqual(await waiting, 6400)

    # -- scripted turns

    async def test_spoken_turn_after_n_audio_chunks(self) -> None:
        server = self.make_server()
        server.script(on(end_of_user_turn(chunks=3),
                         Turn(heard=["What's the", " time?"], said=["It is", " noon."],
                              audio_chunks=3)))
        client = await self.ready(server)
        connection = await server.connection(0)
        for _ in range(2):
            client.send_audio(CHUNK_16K)
        await connection.audio_bytes_at_least(6400)
        self.assertEqual(len(connection.sent), 2)  # nothing after two chunks
        client.send_audio(CHUNK_16K)
        turn = await client.until("sessionResumptionUpdate")
        self.assertEqual(kinds(turn), [
            "serverContent.inputTranscription", "serverContent.inputTranscription",
            "serverContent.modelTurn", "serverContent.outputTranscription",
            "serverContent.modelTurn", "serverContent.outputTranscription",
            "serverContent.modelTurn",
            "serverContent.generationComplete", "serverContent.turnComplete",
            "usageMetadata", "sessionResumptionUpdate",
        ])
        self.assertTrue(all(m.binary for m in turn))
        self.assertEqual([m.data["serverContent"]["inputTranscription"]["text"] for m in turn[:2]],
                         ["What's the", " time?"])
        part = turn[2].data["serverContent"]["modelTurn"]["parts"][0]["inlineData"]
        self.assertEqual(part["mimeType"], "audio/pcm;rate=24000")
        pcm = base64.b64decode(part["data"])
        self.assertEqual(len(pcm), 4800)  # 100 ms at 24 kHz
        self.assertEqual(dominant_frequency(pcm, rate=24000, low=200, high=1000, step=10), 440)
        self.assertEqual(turn[-2].data["usageMetadata"], {
            "promptTokenCount": 120, "responseTokenCount": 40, "totalTokenCount": 160,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 100}],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 40}],
        })
        self.assertEqual(turn[-1].data["sessionResumptionUpdate"]["newHandle"], "h-2")
        self.assertEqual(server.violations, [])

    async def test_turn_on_audio_stream_end(self) -> None:
        server = self.make_server()
        server.script(on(end_of_user_turn(chunks=100), Turn(said=["Yes?"])))
        client = await self.ready(server)
        client.send_audio(CHUNK_16K)
        client.send({"realtimeInput": {"audioStreamEnd": True}})
        turn = await client.until("serverContent", "turnComplete")
        self.assertIn("serverContent.outputTranscription", kinds(turn))

    async def test_turn_on_activity_end_with_usage_bundled(self) -> None:
        server = self.make_server()
        server.script(on(OnActivityEnd(), Turn(said=["Ok."], bundle_usage=True,
                                               usage=Usage(10, 5, None, None))))
        client = await self.ready(server)
        client.send({"realtimeInput": {"activityStart": {}}})
        client.send({"realtimeInput": {"activityEnd": {}}})
        turn = await client.until("serverContent", "turnComplete")
        self.assertEqual(turn[-1].data, {
            "serverContent": {"turnComplete": True},
            "usageMetadata": {"promptTokenCount": 10, "responseTokenCount": 5,
                              "totalTokenCount": 15},
        })
        self.assertEqual((await client.next()).kind, "sessionResumptionUpdate")

    async def test_speech_followed_by_silence_triggers_a_turn(self) -> None:
        server = self.make_server()
        server.script(on(SpeechEnded(min_speech_ms=200, silence_ms=300), Turn(said=["Hi."])))
        client = await self.ready(server)
        connection = await server.connection(0)
        for chunk in [silence_pcm16(100, rate=16000)] * 3 + [
                sine_pcm16(300, 100, rate=16000)] * 2 + [silence_pcm16(100, rate=16000)] * 2:
            client.send_audio(chunk)
        await connection.audio_bytes_at_least(7 * 3200)
        self.assertEqual(len(connection.sent), 2)  # speech, but not enough silence yet
        client.send_audio(silence_pcm16(100, rate=16000))
        turn = await client.until("serverContent", "turnComplete")
        self.assertIn("serverContent.outputTranscription", kinds(turn))

    async def test_injected_text_answered_by_default_turn(self) -> None:
        server = self.make_server(answer_text=Turn(said=["Noted."], usage=None))
        client = await self.ready(server)
        client.send({"realtimeInput": {"text": "hello"}})
        turn = await client.until("serverContent", "turnComplete")
        self.assertEqual(kinds(turn), ["serverContent.modelTurn",
                                       "serverContent.outputTranscription",
                                       "serverContent.generationComplete",
                                       "serverContent.turnComplete"])

    # -- tools

    async def test_tool_call_answered_working_then_result_injected_then_spoken(self) -> None:
        server = self.make_server()
        server.script(
            on(AfterAudio(chunks=1),
               Turn(heard=["Fetch it"], said=["One sec."], complete=False),
               ToolCall("web_fetch", {"url": "https://example.com"}, id="fc-1")),
            on(OnToolResponse("fc-1")),
            on(OnText("OpenClaw async tool update."), Turn(said=["The page says hello."])),
        )
        client = await self.ready(server)
        client.send_audio(CHUNK_16K)
        messages = await client.until("toolCall")
        self.assertEqual(messages[-1].data, {"toolCall": {"functionCalls": [
            {"id": "fc-1", "name": "web_fetch", "args": {"url": "https://example.com"}}]}})
        client.send({"toolResponse": {"functionResponses": [{"id": "fc-1", "response": {
            "status": "working", "tool": "web_fetch"}}]}})
        connection = await server.connection(0)
        response = await connection.tool_response("fc-1")
        self.assertEqual(response["response"]["status"], "working")
        session = await server.session(0)
        await session.when_step(1)
        self.assertEqual(session.outstanding_calls, {})
        client.send({"realtimeInput": {"text": "OpenClaw async tool update.\n\n..."}})
        turn = await client.until("serverContent", "turnComplete")
        said = [m.data["serverContent"]["outputTranscription"]["text"] for m in turn
                if m.kind == "serverContent" and "outputTranscription" in m.data["serverContent"]]
        self.assertEqual(said, ["The page says hello."])
        self.assertEqual(server.violations, [])

    async def test_unknown_tool_call(self) -> None:
        server = self.make_server()
        server.script(at_once(ToolCall("launch_rockets", id="fc-9", expect_declared=False)),
                      on(OnToolResponse("fc-9"), Turn(said=["I can't do that."])))
        client = await self.ready(server)
        call = await client.next()
        self.assertEqual(call.data["toolCall"]["functionCalls"][0]["name"], "launch_rockets")
        client.send({"toolResponse": {"functionResponses": [
            {"id": "fc-9", "response": {"error": "unknown tool: launch_rockets"}}]}})
        connection = await server.connection(0)
        self.assertEqual((await connection.tool_response("fc-9"))["response"],
                         {"error": "unknown tool: launch_rockets"})
        await client.until("serverContent", "turnComplete")
        self.assertEqual(server.violations, [])

    async def test_undeclared_tool_and_stray_responses_are_violations(self) -> None:
        server = self.make_server()
        server.script(at_once(ToolCall("launch_rockets")))
        client = await self.ready(server)
        await client.next()
        client.send({"toolResponse": {"functionResponses": [
            {"id": "fc-1", "response": {"status": "working"}},
            {"id": "fc-404", "response": {"result": "?"}},
            {"id": "fc-1", "response": "not an object"},
        ]}})
        connection = await server.connection(0)
        await connection.message(lambda m: m.kind == "toolResponse")
        self.assertEqual(connection.violations, [
            "script called undeclared tool 'launch_rockets' (declared: ['read', 'web_fetch'])",
            "functionResponse for unknown call 'fc-404'",
            "functionResponse for unknown call 'fc-1'",
            "functionResponse.response not an object: "
            "{'id': 'fc-1', 'response': 'not an object'}",
        ])

    async def test_parallel_calls_and_cancellation(self) -> None:
        server = self.make_server()
        server.script(
            at_once(ParallelToolCalls((FunctionCall("read", {"path": "a"}, "fc-1"),
                                       FunctionCall("web_fetch", {"url": "u"}, "fc-2")))),
            on(OnSignal("cancel"), CancelToolCalls(("fc-1",))),
        )
        client = await self.ready(server)
        call = await client.next()
        self.assertEqual([c["id"] for c in call.data["toolCall"]["functionCalls"]],
                         ["fc-1", "fc-2"])
        session = await server.session(0)
        session.signal("cancel")
        self.assertEqual((await client.next()).data, {"toolCallCancellation": {"ids": ["fc-1"]}})
        self.assertEqual(session.outstanding_calls, {"fc-2": "web_fetch"})
        client.send({"toolResponse": {"functionResponses": [
            {"id": "fc-1", "response": {"status": "working"}}]}})
        connection = await server.connection(0)
        await connection.tool_response("fc-1")
        self.assertEqual(connection.violations, ["functionResponse for cancelled call 'fc-1'"])

    # -- barge-in

    async def test_barge_in_interrupts_the_model_mid_turn(self) -> None:
        server = self.make_server()
        server.script(
            on(AfterAudio(chunks=1),
               Turn(heard=["Tell me a story"], said=["Once upon", " a time"], audio_chunks=4,
                    complete=False)),
            on(AfterAudio(chunks=2), Interrupt(),
               Turn(heard=["Stop!"], said=["Okay."])),
        )
        client = await self.ready(server)
        client.send_audio(CHUNK_16K)
        first = await client.until("serverContent", "outputTranscription")
        self.assertEqual(kinds(first)[0], "serverContent.inputTranscription")
        client.send_audio(CHUNK_16K)
        client.send_audio(CHUNK_16K)
        rest = await client.until("serverContent", "turnComplete")
        trace = kinds(rest)
        self.assertEqual(trace.count("serverContent.modelTurn"), 3 + 1)
        interrupted = trace.index("serverContent.interrupted")
        self.assertEqual(trace[interrupted + 1], "serverContent.inputTranscription")
        self.assertNotIn("serverContent.turnComplete", trace[:interrupted])

    # -- goAway and resumption

    async def test_go_away_then_resume_with_handle_continues_the_session(self) -> None:
        server = self.make_server()
        server.script(
            on(AfterAudio(chunks=1), Turn(said=["Hello."]), GoAway(time_left="5s")),
            on(OnReconnect(), Turn(said=["Still here."])),
            on(OnText("again"), Turn(said=["Again."])),
        )
        first = await self.ready(server)
        first.send_audio(CHUNK_16K)
        messages = await first.until("goAway")
        self.assertEqual(messages[-1].data, {"goAway": {"timeLeft": "5s"}})
        session = await server.session(0)
        handle = session.latest_handle
        self.assertEqual(handle, "h-2")  # h-1 at setup, h-2 after the turn
        first.close()

        second = await self.open(server, handle=handle)
        resumed = await second.until("serverContent", "turnComplete")
        self.assertEqual(resumed[0].data, {"setupComplete": {}})
        self.assertEqual(resumed[1].data["sessionResumptionUpdate"]["newHandle"], "h-3")
        self.assertIn("serverContent.outputTranscription", kinds(resumed))
        second.send({"realtimeInput": {"text": "again"}})
        await second.until("serverContent", "turnComplete")

        self.assertEqual(len(server.sessions), 1)
        self.assertEqual(len(session.connections), 2)
        connection = await session.when_connection(1)
        self.assertTrue(connection.resumed)
        self.assertEqual(connection.resumption_handle, "h-2")
        self.assertEqual(await (await server.connection(0)).when_closed(), (1000, None))
        self.assertEqual(server.violations, [])

    async def test_close_1011_then_resume(self) -> None:
        server = self.make_server()
        server.script(on(OnSignal("crash"), Close(1011, "Internal error occurred.")),
                      on(OnReconnect(), Turn(said=["Back."])))
        first = await self.ready(server)
        session = await server.session(0)
        session.signal("crash")
        self.assertEqual(await first.closed(), (1011, "Internal error occurred."))
        second = await self.open(server, handle=session.latest_handle)
        await second.until("serverContent", "turnComplete")

    async def test_unknown_handle_is_refused(self) -> None:
        server = self.make_server()
        client = await self.open(server, handle="h-77")
        self.assertEqual(await client.closed(), (1008, SESSION_NOT_FOUND_REASON))

    async def test_not_resumable_update_is_empty(self) -> None:
        server = self.make_server()
        server.script(at_once(ResumptionUpdate(resumable=False)),
                      on(AfterAudio(chunks=1), Turn(said=["No new handle."])))
        client = await self.ready(server)
        self.assertEqual((await client.next()).data, {"sessionResumptionUpdate": {}})
        client.send_audio(CHUNK_16K)
        await client.until("usageMetadata")
        client.send_audio(CHUNK_16K)  # nothing scripted: no handle after the turn
        connection = await server.connection(0)
        await connection.audio_bytes_at_least(6400)
        self.assertEqual(connection.sent[-1]["usageMetadata"]["totalTokenCount"], 160)

    # -- connection plans

    async def test_setup_can_be_closed_held_or_never_acknowledged(self) -> None:
        gate: Deferred[None] = Deferred()
        server = self.make_server()
        server.plan(ConnectionPlan(setup_reply="close", close_code=1011, close_reason="boom"),
                    ConnectionPlan(hold_ack=gate),
                    ConnectionPlan(setup_reply="never"))
        refused = await self.open(server)
        self.assertEqual(await refused.closed(), (1011, "boom"))
        held = await self.open(server)
        silent = await self.open(server)
        held_connection = await server.connection(1)
        await held_connection.when_setup()
        held.send_audio(CHUNK_16K)  # recorded, fed to the script once acknowledged
        await held_connection.audio_bytes_at_least(3200)
        self.assertEqual(held_connection.sent, [])
        gate.callback(None)
        self.assertEqual((await held.next()).data, {"setupComplete": {}})
        silent_connection = await server.connection(2)
        await silent_connection.when_setup()
        self.assertEqual(silent_connection.sent, [])
        self.assertEqual(len(silent.received), 0)

    async def test_stop_closes_open_connections(self) -> None:
        server = GeminiLiveServer(reactor)
        server.listen()
        client = await connect(server.url_for(KEY))
        await server.connection(0)
        await server.stop()
        self.assertEqual(await client.closed(), (1001, "server stopping"))

    # -- on its own

    async def test_conversation_script_answers_speech(self) -> None:
        server = self.make_server(default_script=conversation_script())
        client = await self.ready(server)
        for _ in range(2):
            for chunk in [sine_pcm16(300, 100, rate=16000)] * 3 + [
                    silence_pcm16(100, rate=16000)] * 5:
                client.send_audio(chunk)
            await client.until("serverContent", "turnComplete")

    async def test_runs_on_its_own(self) -> None:
        started: Deferred[str] = Deferred()
        ended: Deferred[None] = Deferred()

        class Child(ProcessProtocol):
            output = b""

            def outReceived(self, data: bytes) -> None:
                self.output += data
                if b"\n" in self.output and not started.called:
                    started.callback(self.output.decode().splitlines()[0])

            def processEnded(self, reason: Failure) -> None:
                if not started.called:
                    started.errback(reason)
                ended.callback(None)

        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        child = Child()
        process = cast(IReactorProcess, reactor).spawnProcess(
            child, sys.executable,
            [sys.executable, "-m", "openclaw.testing.gemini_live", "--port", "0", "--key", KEY],
            env=env, path=REPO_ROOT)
        try:
            line = await started
            self.assertTrue(line.startswith("Gemini Live test server listening on ws://127.0.0.1:"))
            url = line.rsplit(" ", 1)[1]
            self.assertTrue(url.endswith(GEMINI_LIVE_PATH))
            client = await connect(f"{url}?key={KEY}")
            client.send(setup_message())
            self.assertEqual((await client.next()).data, {"setupComplete": {}})
            client.send({"realtimeInput": {"text": "hello"}})
            await client.until("serverContent", "turnComplete")
            client.close()
        finally:
            process.signalProcess("TERM")
            await ended
