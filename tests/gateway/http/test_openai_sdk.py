"""The official ``openai`` SDK against a real gateway process backed by the scripted upstream.

The gateway is ``python -m openclaw gateway`` (a child process) with chat completions and
responses enabled; its model provider and its memory-search embeddings provider both point at
a :class:`~tests.upstream.ScriptedUpstream` served by this test's reactor. The SDK is
synchronous, so every call runs in a thread (``deferToThread``).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any, TypeVar

import openai
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.gateway.http.support import TOKEN
from tests.support import GatewayProcess, free_port, http_get, isolated_env, write_config
from tests.upstream import (
    Reply,
    ScriptedUpstream,
    error_reply,
    openai_text,
    openai_tool_call,
    openai_tool_calls,
)

T = TypeVar("T")


def embeddings_reply(vectors: list[list[float]]) -> Reply:
    body = {"object": "list", "model": "e1", "usage": {"prompt_tokens": 1, "total_tokens": 1},
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in enumerate(vectors)]}
    return Reply(headers={"Content-Type": "application/json"}, parts=[json.dumps(body).encode()])


class OpenAISdkTests(TestCase):
    timeout = 90

    async def start(self) -> tuple[ScriptedUpstream, int]:
        upstream = ScriptedUpstream()
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        env = isolated_env(self.mktemp())
        write_config(env, {
            "gateway": {"mode": "local", "auth": {"mode": "token", "token": TOKEN},
                        "http": {"endpoints": {"chatCompletions": {"enabled": True},
                                               "responses": {"enabled": True}}}},
            "models": {"providers": {"scripted": {
                "baseUrl": upstream.base_url, "apiKey": "sk-test",
                "api": "openai-completions", "models": [{"id": "m1", "name": "m1"}]}}},
            "agents": {"defaults": {"model": "scripted/m1", "skipBootstrap": True},
                       "list": [{"id": "main", "default": True}, {"id": "research"}]},
            "memory": {"search": {"provider": "scripted", "model": "e1"}},
        })
        port = free_port()
        gateway = GatewayProcess(env, ["--port", str(port)]).start()
        self.addCleanup(gateway.kill)
        await deferToThread(gateway.wait_healthy, port, 30.0)
        return upstream, port

    def client(self, port: int, key: str = TOKEN) -> openai.OpenAI:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key,
                               max_retries=0, timeout=20)
        self.addCleanup(client.close)
        return client

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        result: T = await deferToThread(func, *args, **kwargs)
        return result

    async def test_every_endpoint_through_the_sdk(self) -> None:
        upstream, port = await self.start()
        client = self.client(port)

        # models
        listed = await self.call(lambda: [m.id for m in client.models.list()])
        self.assertEqual(listed, ["openclaw", "openclaw/default", "openclaw/main",
                                  "openclaw/research"])
        model = await self.call(client.models.retrieve, "openclaw/default")
        self.assertEqual((model.id, model.owned_by), ("openclaw/default", "openclaw"))
        with self.assertRaises(openai.NotFoundError):
            await self.call(client.models.retrieve, "openclaw/ghost")

        # chat completions, non-streaming and streaming
        upstream.script(openai_text(["Hel", "lo"], usage=(21, 2)))
        completion = await self.call(
            client.chat.completions.create, model="openclaw/default", user="sdk-1",
            messages=[{"role": "user", "content": "hi"}])
        self.assertEqual(completion.choices[0].message.content, "Hello")
        self.assertEqual(completion.choices[0].finish_reason, "stop")
        self.assertEqual(completion.usage.total_tokens if completion.usage else None, 23)

        upstream.script(openai_text(["One", " two", " three"]))

        def stream_chat() -> tuple[list[str], Any]:
            pieces: list[str] = []
            usage = None
            for chunk in client.chat.completions.create(
                    model="openclaw/research", stream=True,
                    stream_options={"include_usage": True},
                    messages=[{"role": "user", "content": "count"}]):
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
            return pieces, usage

        pieces, usage = await self.call(stream_chat)
        self.assertEqual("".join(pieces), "One two three")
        self.assertIsNotNone(usage)

        # responses, non-streaming and streaming
        upstream.script(openai_text("Paris."))
        response = await self.call(client.responses.create, model="openclaw",
                                   input="Capital of France?")
        self.assertEqual(response.status, "completed")
        self.assertEqual(response.output_text, "Paris.")

        upstream.script(openai_text(["Ber", "lin."]))

        def stream_response() -> tuple[list[str], str]:
            kinds: list[str] = []
            text = ""
            with client.responses.stream(model="openclaw", input="Capital of Germany?") as s:
                for event in s:
                    kinds.append(event.type)
                final = s.get_final_response()
                text = final.output_text
            return kinds, text

        kinds, text = await self.call(stream_response)
        self.assertEqual(text, "Berlin.")
        self.assertEqual((kinds[0], kinds[-1]), ("response.created", "response.completed"))
        self.assertIn("response.output_text.delta", kinds)

        # embeddings (the agent's memory-search provider, here the scripted upstream)
        upstream.script(embeddings_reply([[0.25, -0.5, 1.0], [0.0, 1.0, 0.0]]))
        embedded = await self.call(client.embeddings.create, model="openclaw/default",
                                   input=["alpha", "beta"])
        self.assertEqual([d.embedding for d in embedded.data],
                         [[0.25, -0.5, 1.0], [0.0, 1.0, 0.0]])
        upstream.script(embeddings_reply([[1.5, 2.5]]))
        raw = await self.call(
            lambda: client.embeddings.with_raw_response.create(
                model="openclaw", input="gamma", encoding_format="base64").http_response.json())
        vector = struct.unpack("<2f", base64.b64decode(raw["data"][0]["embedding"]))
        self.assertEqual(vector, (1.5, 2.5))

        # errors arrive as the SDK's typed exceptions
        with self.assertRaises(openai.BadRequestError) as caught:
            await self.call(client.chat.completions.create, model="gpt-4o",
                            messages=[{"role": "user", "content": "hi"}])
        self.assertIn("Invalid `model`", str(caught.exception))
        with self.assertRaises(openai.AuthenticationError):
            await self.call(self.client(port, "wrong").models.list)
        upstream.script(error_reply(429, "slow down"), error_reply(429, "slow down"),
                        error_reply(429, "slow down"))
        with self.assertRaises(openai.RateLimitError):
            await self.call(client.chat.completions.create, model="openclaw",
                            messages=[{"role": "user", "content": "hi"}])

        # what the gateway sent upstream: the agent turn, with the session's history
        chat_requests = [r for r in upstream.requests if r.path == "/v1/chat/completions"]
        self.assertEqual(chat_requests[0].json["messages"][-1],
                         {"role": "user", "content": "hi"})
        self.assertEqual(upstream.requests[-4].json["model"], "e1")
        status, _, _ = await deferToThread(http_get, f"http://127.0.0.1:{port}/healthz")
        self.assertEqual(status, 200)

    async def test_client_tool_calls_through_the_sdk(self) -> None:
        upstream, port = await self.start()
        client = self.client(port)
        weather = {"type": "function", "function": {
            "name": "get_weather", "description": "Current weather of a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}}
        question = {"role": "user", "content": "Weather in Lima?"}

        # non-streaming: tool_calls come back, the caller runs them and sends the result
        upstream.script(openai_tool_call("get_weather", {"city": "Lima"}, call_id="call_s1"),
                        openai_text("21C and clear in Lima."))
        completion = await self.call(client.chat.completions.create, model="openclaw",
                                     user="sdk-tools", messages=[question], tools=[weather])
        choice = completion.choices[0]
        self.assertEqual(choice.finish_reason, "tool_calls")
        calls = choice.message.tool_calls or []
        self.assertEqual([(c.id, c.type, c.function.name, json.loads(c.function.arguments))
                          for c in calls], [("call_s1", "function", "get_weather",
                                             {"city": "Lima"})])
        answer = await self.call(
            client.chat.completions.create, model="openclaw", user="sdk-tools",
            tools=[weather], messages=[
                question, choice.message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": "call_s1", "content": "21C, clear"}])
        self.assertEqual(answer.choices[0].message.content, "21C and clear in Lima.")
        chat_requests = [r for r in upstream.requests if r.path == "/v1/chat/completions"]
        self.assertEqual(chat_requests[-1].json["messages"][-1],
                         {"role": "tool", "tool_call_id": "call_s1", "content": "21C, clear"})

        # streaming, through the SDK's own accumulating helper
        upstream.script(openai_tool_calls([("call_s2", "get_weather", {"city": "Quito"}),
                                           ("call_s3", "get_weather", {"city": "Cusco"})],
                                          text="Checking both."))

        def stream_tools() -> Any:
            with client.chat.completions.stream(
                    model="openclaw", messages=[question], tools=[weather],
                    stream_options={"include_usage": True}) as stream:
                for _ in stream:
                    pass
                return stream.get_final_completion()

        final = await self.call(stream_tools)
        message = final.choices[0].message
        self.assertEqual(final.choices[0].finish_reason, "tool_calls")
        self.assertEqual(message.content, "Checking both.")
        self.assertEqual([(c.id, c.function.name, json.loads(c.function.arguments))
                          for c in message.tool_calls or []],
                         [("call_s2", "get_weather", {"city": "Quito"}),
                          ("call_s3", "get_weather", {"city": "Cusco"})])
        self.assertIsNotNone(final.usage)

        # responses: a function_call output item, continued with function_call_output
        upstream.script(openai_tool_call("get_weather", {"city": "Bogota"}, call_id="call_s4"),
                        openai_text("Rain in Bogota."))
        tool = {"type": "function", "name": "get_weather",
                "parameters": weather["function"]["parameters"]}
        response = await self.call(client.responses.create, model="openclaw",
                                   input="Weather in Bogota?", tools=[tool])
        self.assertEqual([item.type for item in response.output], ["function_call"])
        item = response.output[0]
        self.assertEqual((item.call_id, item.name, json.loads(item.arguments)),
                         ("call_s4", "get_weather", {"city": "Bogota"}))
        followed = await self.call(
            client.responses.create, model="openclaw", previous_response_id=response.id,
            tools=[tool], input=[{"type": "function_call_output", "call_id": "call_s4",
                                  "output": "rain"}])
        self.assertEqual(followed.output_text, "Rain in Bogota.")
