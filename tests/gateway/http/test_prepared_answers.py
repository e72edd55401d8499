"""``GET /v1/models`` answered without the resource tree (``HttpApi.prepared_answer``): the
same bytes as the tree's answer, and only when the tree would give exactly that answer."""

from __future__ import annotations

import re
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from tests.gateway.http.support import (
    TOKEN,
    HttpStack,
    RawClient,
    base_config,
    raw_connect,
    request_head,
)

GET_MODELS = request_head("GET", "/v1/models", {"Authorization": f"Bearer {TOKEN}"})
END = b"]}"  # the listing ends the body


def without_date(data: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", data)


class PreparedAnswerTests(TestCase):
    timeout = 30

    async def make(self) -> tuple[HttpStack, list[bool]]:
        stack = HttpStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        await stack.start({**base_config(stack.upstream), "agents": {
            "defaults": {"model": "scripted/m1"}, "list": [{"id": "main"}, {"id": "research"}]}})
        prepared: list[bool] = []
        models = stack.api.models
        real = models.prepared

        def observed(request: Any) -> Any:
            answer = real(request)
            prepared.append(answer is not None)
            return answer

        models.prepared = observed  # type: ignore[method-assign]
        return stack, prepared

    async def connect(self, stack: HttpStack) -> RawClient:
        client = await raw_connect(stack.port_number)

        async def close() -> None:
            if not client.closed.called:
                client.abort()
            await client.closed

        self.addCleanup(lambda: Deferred.fromCoroutine(close()))
        return client

    async def exchange(self, client: RawClient, data: bytes, count: int = 1) -> bytes:
        """Send ``data``; the bytes that came back once ``count`` listings ended."""
        start = len(client.data)
        arrived: Deferred[None] = Deferred()
        receive = client.dataReceived

        def watched(chunk: bytes) -> None:
            receive(chunk)
            if not arrived.called and client.data[start:].count(END) >= count:
                arrived.callback(None)

        client.dataReceived = watched  # type: ignore[method-assign]
        try:
            client.send(data)
            await arrived
        finally:
            client.dataReceived = receive  # type: ignore[method-assign]
        return client.data[start:]

    async def test_the_same_bytes_as_the_tree(self) -> None:
        stack, prepared = await self.make()
        client = await self.connect(stack)
        first = await self.exchange(client, GET_MODELS)
        self.assertEqual(prepared, [])  # not yet remembered: the tree answered
        second = await self.exchange(client, GET_MODELS)
        self.assertEqual(prepared, [True])
        self.assertEqual(without_date(second), without_date(first))
        self.assertTrue(first.startswith(b"HTTP/1.1 200 OK\r\nServer: TwistedWeb/"), first)
        # pipelined: both answered, in order, on the kept-alive connection
        both = await self.exchange(client, GET_MODELS + GET_MODELS, count=2)
        self.assertEqual(without_date(both), without_date(first) * 2)
        self.assertEqual(prepared, [True, True, True])
        self.assertFalse(client.closed.called)

    async def test_what_the_tree_answers_differently(self) -> None:
        stack, prepared = await self.make()
        client = await self.connect(stack)
        await self.exchange(client, GET_MODELS)  # remembered from here on
        pinned = await self.exchange(client, request_head("GET", "/v1/models", {
            "Authorization": f"Bearer {TOKEN}", "x-openclaw-agent-id": "research"}))
        self.assertIn(b'"openclaw/research"', pinned)
        self.assertNotIn(b'"openclaw/default"', pinned)
        self.assertEqual(prepared, [False])
        # another token is not the remembered caller: refused by the tree, counted there
        client.send(request_head("GET", "/v1/models", {
            "Authorization": "Bearer wrong-token-0123456789"}))
        await client.wait_for(b"HTTP/1.1 401 ")
        self.assertEqual(len(stack.limiter), 1)
        self.assertEqual(prepared, [False])
        # Connection: close goes through the tree, which says so and closes
        client.send(request_head("GET", "/v1/models", {"Authorization": f"Bearer {TOKEN}",
                                                        "Connection": "close"}))
        await client.closed
        self.assertIn(b"\r\nConnection: close\r\n", client.data)
        self.assertEqual(prepared, [False])

    async def test_counted_in_the_http_metrics(self) -> None:
        stack, prepared = await self.make()
        client = await self.connect(stack)
        for _ in range(3):
            await self.exchange(client, GET_MODELS)
        self.assertEqual(prepared, [True, True])
        registry = stack._started.service.metrics.registry
        self.assertEqual(registry.get_sample_value(
            "openclaw_http_requests_total", {"route": "/v1/models", "status": "200"}), 3)
