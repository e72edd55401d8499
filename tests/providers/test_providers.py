"""Providers: SSE parsing, Retry-After, the three wire APIs against the scripted upstream,
catalog rules (model refs, SecretRefs, the built-in local provider)."""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from openclaw.config.schema import ModelProviderConfig
from openclaw.providers.http import SseParser, parse_retry_after
from openclaw.providers.registry import (
    LocalModelInstall,
    ModelRef,
    ProviderCatalog,
    builtin_local_provider,
    model_chain,
    parse_model_ref,
    spec_from_config,
)
from openclaw.providers.router import ModelRouter
from openclaw.providers.types import (
    AssistantTurn,
    ModelRequest,
    ProviderError,
    TextDelta,
    ToolSpec,
    sampling_fields,
)
from openclaw.providers.wire import (
    AnthropicMessages,
    Endpoint,
    OpenAICompletions,
    OpenAIResponses,
)
from tests.support import config_snapshot
from tests.upstream import (
    ScriptedUpstream,
    anthropic_text,
    anthropic_tool_call,
    error_reply,
    openai_text,
    openai_tool_calls,
    responses_text,
    responses_tool_call,
)

HISTORY = [
    {"role": "user", "content": "write it"},
    {"role": "assistant", "content": [{"type": "toolCall", "id": "c1", "name": "write",
                                       "arguments": {"path": "a"}}], "stopReason": "toolUse"},
    {"role": "toolResult", "toolCallId": "c1", "toolName": "write",
     "content": [{"type": "text", "text": "done"}], "isError": False},
]


def provider(document: dict[str, Any]) -> ModelProviderConfig:
    """``models.providers.x`` as the config loader types it."""
    document = {"models": [{"id": "m", "name": "m"}], **document}
    return config_snapshot({"models": {"providers": {"x": document}}}).config.models.providers[
        "x"]


class SseTests(SynchronousTestCase):
    def test_incremental_split_anywhere(self) -> None:
        raw = b"event: a\ndata: {\"x\":1}\n\n: comment\ndata: line1\ndata: line2\r\n\r\n"
        for cut in range(len(raw)):
            parser = SseParser()
            events = parser.feed(raw[:cut]) + parser.feed(raw[cut:]) + parser.finish()
            self.assertEqual([(e.event, e.data) for e in events],
                             [("a", '{"x":1}'), ("message", "line1\nline2")])

    def test_retry_after(self) -> None:
        self.assertEqual(parse_retry_after("3", 0), 3.0)
        self.assertEqual(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0), 10.0)
        self.assertIsNone(parse_retry_after("soon", 0))
        self.assertIsNone(parse_retry_after(None, 0))


class CatalogTests(SynchronousTestCase):
    def test_model_refs(self) -> None:
        self.assertEqual(parse_model_ref("openrouter/moonshotai/kimi-k2", "x"),
                         ModelRef("openrouter", "moonshotai/kimi-k2"))
        self.assertEqual(parse_model_ref("bare", "local"), ModelRef("local", "bare"))
        chain = model_chain("a/m1", ["m2", "b/m3", "a/m1"], ModelRef("z", "z"))
        self.assertEqual(chain, [ModelRef("a", "m1"), ModelRef("a", "m2"), ModelRef("b", "m3")])

    def test_secret_refs_come_from_the_secrets_snapshot(self) -> None:
        from openclaw.providers.registry import ProviderCatalog
        from openclaw.secrets import SecretsSnapshot

        ref = {"source": "file", "provider": "vault", "id": "/openai/key"}
        raw = {"baseUrl": "http://h/v1", "apiKey": ref, "headers": {"X-Org": ref},
               "models": [{"id": "m", "name": "m"}]}
        first = SecretsSnapshot(values={"models.providers.Corp.apiKey": "sk-file-1",
                                        "models.providers.Corp.headers.X-Org": "org-1"})
        snapshot = config_snapshot({"models": {"providers": {"Corp": raw}}})
        corp = snapshot.config.models.providers["Corp"]
        spec = spec_from_config("Corp", corp, {}, secrets=first)
        self.assertEqual((spec.api_key, spec.headers["X-Org"]), ("sk-file-1", "org-1"))
        # Without the runtime only env refs resolve, and the error says so.
        with self.assertRaises(ProviderError):
            spec_from_config("Corp", corp, {})
        # A secrets.reload swaps the snapshot: the catalog rebuilds the spec with the new key.
        current = [first]

        catalog = ProviderCatalog(lambda: snapshot, env={}, get_secrets=lambda: current[0])
        self.assertEqual(catalog.configured["corp"].api_key, "sk-file-1")
        current[0] = SecretsSnapshot(values={"models.providers.Corp.apiKey": "sk-file-2",
                                             "models.providers.Corp.headers.X-Org": "org-1"})
        self.assertEqual(catalog.configured["corp"].api_key, "sk-file-2")

    def test_spec_from_config(self) -> None:
        spec = spec_from_config("Local", provider({
            "baseUrl": "http://127.0.0.1:9/v1", "apiKey": {"source": "env", "provider": "default",
                                                           "id": "MY_KEY"},
            "timeoutSeconds": 5, "models": [{"id": "s", "name": "S", "maxTokens": 64}],
            "localService": {"command": "/bin/true"}}), {"MY_KEY": "secret"})
        self.assertEqual((spec.id, spec.api, spec.api_key, spec.timeout_s),
                         ("local", "openai-completions", "secret", 5.0))
        self.assertEqual(spec.local_service.health_url, "http://127.0.0.1:9/v1/models")
        self.assertEqual(spec.model("s").max_tokens, 64)
        with self.assertRaises(ProviderError) as missing:
            spec_from_config("x", provider({"baseUrl": "http://h", "apiKey": {
                "source": "env", "provider": "default", "id": "NOPE"}}), {})
        self.assertIn("NOPE is not set", str(missing.exception))
        with self.assertRaises(ProviderError) as api:
            spec_from_config("x", provider({"baseUrl": "http://h",
                                            "api": "google-generative-ai"}), {})
        self.assertIn("not supported", str(api.exception))
        openai = spec_from_config("openai", None, {"OPENAI_API_KEY": "sk"})
        self.assertEqual((openai.base_url, openai.api, openai.api_key),
                         ("https://api.openai.com/v1", "openai-responses", "sk"))

    def test_builtin_local_when_nothing_configured(self) -> None:
        missing = LocalModelInstall(python=sys.executable, gguf=None, server_available=False)
        empty = config_snapshot()
        catalog = ProviderCatalog(lambda: empty, env={}, local_install=missing)
        self.assertTrue(catalog.uses_builtin_local())
        self.assertEqual(catalog.default_ref(), ModelRef("local", "smollm2"))
        with self.assertRaises(ProviderError) as error:
            catalog.get("local")
        self.assertIn("install-local-model.sh", str(error.exception))
        present = LocalModelInstall(python="/venv/bin/python", gguf="/m/smol.gguf",
                                    server_available=True)
        spec = builtin_local_provider(present, port=18555)
        self.assertEqual(spec.base_url, "http://127.0.0.1:18555/v1")
        service = spec.local_service
        assert service is not None
        self.assertEqual(service.command, "/venv/bin/python")
        self.assertEqual(service.args[:2], ("-m", "llama_cpp.server"))
        # the GGUF's own chat template; the model is offered no tools
        self.assertNotIn("--chat_format", service.args)
        self.assertIn("/m/smol.gguf", service.args)
        (model,) = spec.models
        self.assertEqual((model.id, model.supports_tools, model.small,
                          model.default_temperature), ("smollm2", False, True, 0.2))
        custom = LocalModelInstall(python="/venv/bin/python", gguf="/m/Qwen2.5 0.5B.Q4.gguf",
                                   server_available=True, override=True)
        self.assertEqual(builtin_local_provider(custom, port=1).models[0].id, "qwen2.5-0.5b.q4")
        self.assertEqual(service.health_url, "http://127.0.0.1:18555/v1/models")


class SamplingTests(SynchronousTestCase):
    def test_sampling_fields(self) -> None:
        self.assertEqual(sampling_fields(None), {})
        self.assertEqual(sampling_fields({
            "maxTokens": 100, "temperature": 1, "topP": 0.5, "stop": "END", "seed": 4.0,
            "frequencyPenalty": -1, "presence_penalty": 0.25,
            "responseFormat": {"type": "json_object"}, "unknown": 1}), {
            "max_tokens": 100, "temperature": 1.0, "top_p": 0.5, "stop": ("END",), "seed": 4,
            "frequency_penalty": -1.0, "presence_penalty": 0.25,
            "response_format": {"type": "json_object"}})
        # wrong types are left out
        self.assertEqual(sampling_fields({
            "max_tokens": 0, "temperature": "hot", "top_p": True, "stop": ["", "x"],
            "seed": 1.5, "responseFormat": "json", "frequencyPenalty": float("nan")}), {})

    def test_each_wire_api_sends_what_it_has(self) -> None:
        schema = {"type": "json_schema", "json_schema": {"name": "r", "schema": {}}}
        request = ModelRequest(model="m", system="s", messages=[], max_tokens=10,
                               temperature=0.5, top_p=0.9, stop=("A", "B"), seed=3,
                               frequency_penalty=0.1, presence_penalty=0.2,
                               response_format=schema)
        endpoint = Endpoint(provider_id="p", base_url="http://127.0.0.1:9/v1")
        body = OpenAICompletions(endpoint, None, None).body(request)  # type: ignore[arg-type]
        self.assertEqual({k: body[k] for k in ("max_tokens", "temperature", "top_p", "stop",
                                               "seed", "frequency_penalty",
                                               "presence_penalty", "response_format")},
                         {"max_tokens": 10, "temperature": 0.5, "top_p": 0.9,
                          "stop": ["A", "B"], "seed": 3, "frequency_penalty": 0.1,
                          "presence_penalty": 0.2, "response_format": schema})
        body = OpenAIResponses(endpoint, None, None).body(request)  # type: ignore[arg-type]
        self.assertEqual({k: v for k, v in body.items() if k not in ("model", "input",
                                                                      "stream", "store",
                                                                      "instructions")},
                         {"max_output_tokens": 10, "temperature": 0.5, "top_p": 0.9,
                          "text": {"format": {"type": "json_schema", "name": "r",
                                              "schema": {}}}})
        body = AnthropicMessages(endpoint, None, None).body(request)  # type: ignore[arg-type]
        self.assertEqual({k: v for k, v in body.items() if k not in ("model", "messages",
                                                                      "stream", "system")},
                         {"max_tokens": 10, "temperature": 0.5, "top_p": 0.9,
                          "stop_sequences": ["A", "B"]})
        plain = OpenAICompletions(endpoint, None, None).body(  # type: ignore[arg-type]
            ModelRequest(model="m", system="", messages=[]))
        self.assertEqual(set(plain), {"model", "messages", "stream", "stream_options"})


class WireApiTests(TestCase):
    timeout = 20

    async def run_call(self, api: str, *replies: Any, max_tokens: int | None = None
                       ) -> tuple[list[Any], ScriptedUpstream]:
        upstream = ScriptedUpstream(reactor)
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        base = upstream.root_url if api == "anthropic-messages" else upstream.base_url
        config = config_snapshot({"models": {"providers": {"p": {
            "baseUrl": base, "apiKey": "key-1", "api": api,
            "models": [{"id": "m", "name": "m", "maxTokens": 99}]}}}})
        router = ModelRouter(reactor, ProviderCatalog(lambda: config, env={}))
        self.addCleanup(lambda: Deferred.fromCoroutine(router.stop()))
        upstream.script(*replies)
        events: list[Any] = []
        for _ in replies:
            opened = await router.open(ModelRef("p", "m"), ModelRequest(
                model="m", system="be brief", messages=HISTORY,
                tools=[ToolSpec("write", "write a file", {"type": "object"})],
                max_tokens=max_tokens))
            try:
                async for event in opened.call:
                    events.append(event)
            except ProviderError as e:
                events.append(e)
            finally:
                opened.release()
        return events, upstream

    async def test_openai_completions(self) -> None:
        events, upstream = await self.run_call(
            "openai-completions", openai_text(["a", "b"]),
            openai_tool_calls([("c1", "read", {"path": "x"}), ("c2", "exec", {"command": "ls"})]))
        self.assertEqual([e.text for e in events if isinstance(e, TextDelta)], ["a", "b"])
        turns = [e for e in events if isinstance(e, AssistantTurn)]
        self.assertEqual(turns[0].text, "ab")
        self.assertEqual([(c.id, c.name, dict(c.arguments)) for c in turns[1].tool_calls],
                         [("c1", "read", {"path": "x"}), ("c2", "exec", {"command": "ls"})])
        self.assertEqual(turns[1].stop_reason, "toolUse")
        body = upstream.requests[0].json
        self.assertEqual(body["max_tokens"], 99)
        self.assertEqual(body["messages"][0], {"role": "system", "content": "be brief"})
        self.assertEqual(body["messages"][2]["tool_calls"][0]["function"]["arguments"],
                         '{"path": "a"}')
        self.assertEqual(body["messages"][3], {"role": "tool", "tool_call_id": "c1",
                                               "content": "done"})
        self.assertEqual(upstream.requests[0].headers["authorization"], "Bearer key-1")

    async def test_openai_responses(self) -> None:
        events, upstream = await self.run_call(
            "openai-responses", responses_text(["x", "y"]),
            responses_tool_call("write", {"path": "p", "content": "c"}))
        turns = [e for e in events if isinstance(e, AssistantTurn)]
        self.assertEqual(turns[0].text, "xy")
        self.assertEqual(turns[0].usage.input, 11)
        self.assertEqual(turns[1].tool_calls[0].arguments, {"path": "p", "content": "c"})
        self.assertEqual(turns[1].tool_calls[0].id, "call_r1")
        body = upstream.requests[0].json
        self.assertEqual(upstream.requests[0].path, "/v1/responses")
        self.assertEqual(body["instructions"], "be brief")
        self.assertEqual(body["input"][1]["type"], "function_call")
        self.assertEqual(body["input"][2], {"type": "function_call_output", "call_id": "c1",
                                            "output": "done"})
        self.assertEqual(body["tools"][0]["name"], "write")

    async def test_anthropic_messages(self) -> None:
        events, upstream = await self.run_call(
            "anthropic-messages", anthropic_text(["he", "llo"]),
            anthropic_tool_call("read", {"path": "q"}))
        turns = [e for e in events if isinstance(e, AssistantTurn)]
        self.assertEqual(turns[0].text, "hello")
        self.assertEqual((turns[0].usage.input, turns[0].usage.output), (10, 7))
        self.assertEqual(turns[1].tool_calls[0].arguments, {"path": "q"})
        self.assertEqual(turns[1].stop_reason, "toolUse")
        request = upstream.requests[0]
        self.assertEqual(request.path, "/v1/messages")
        self.assertEqual(request.headers["x-api-key"], "key-1")
        self.assertEqual(request.headers["anthropic-version"], "2023-06-01")
        body = request.json
        self.assertEqual(body["system"], "be brief")
        self.assertEqual(body["max_tokens"], 99)
        self.assertEqual(body["messages"][1]["content"][0]["type"], "tool_use")
        self.assertEqual(body["messages"][2]["content"][0],
                         {"type": "tool_result", "tool_use_id": "c1", "content": "done",
                          "is_error": False})

    async def test_caller_max_tokens_capped_by_the_model(self) -> None:
        _, upstream = await self.run_call("openai-completions", openai_text("a"),
                                          max_tokens=500)
        self.assertEqual(upstream.requests[0].json["max_tokens"], 99)
        _, upstream = await self.run_call("openai-completions", openai_text("a"),
                                          max_tokens=20)
        self.assertEqual(upstream.requests[0].json["max_tokens"], 20)

    async def test_errors_name_provider_and_status(self) -> None:
        events, upstream = await self.run_call(
            "openai-completions", error_reply(400, "This model's maximum context length is 8"))
        error = events[-1]
        self.assertIsInstance(error, ProviderError)
        self.assertEqual(error.status, 400)
        self.assertEqual(error.kind, "context_length")
        self.assertIn("p returned HTTP 400 for model m", str(error))
        self.assertEqual(len(upstream.requests), 1)   # 4xx is not retried


class HttpClientTests(SynchronousTestCase):
    def test_upstream_connections_do_not_log_factory_start_and_stop(self) -> None:
        from twisted.internet.testing import MemoryReactorClock

        from openclaw.providers.http import make_http_client

        client = make_http_client(MemoryReactorClock())
        factory = client.openclaw_pool._factory  # type: ignore[attr-defined]
        self.assertFalse(factory.noisy)
