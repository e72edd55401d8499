"""``POST /v1/embeddings`` (``embeddings-http``).

Mounted with the compatibility surface (chat completions or responses enabled); scope
``chat.send``; 5 MiB body. ``model`` is an agent target; the embedding provider and model come
from that agent's memory-search config (``x-openclaw-model`` may name another model of the
same provider; identity-bearing callers need ``operator.admin`` for it). ``input`` is a string
or an array of strings (<= 128 inputs, <= 8192 chars each, <= 65536 in total);
``encoding_format`` ``float`` or ``base64`` (little-endian float32); ``dimensions`` asks for a
smaller vector. Usage is always zero, as upstream. With no ``memory.search.provider`` the
provider is ``openai`` when it has credentials, else the local MiniLM when installed (offline
by default); with neither, ``400`` says how to configure one. A configured provider's
failure is ``500 internal error`` (the reason goes to the log).
"""

from __future__ import annotations

import base64
import struct
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.web.http import Request

from openclaw.gateway.http.auth import HttpAuth, admit_model_request
from openclaw.gateway.http.common import (
    INTERNAL_ERROR,
    Exchange,
    header_trimmed,
    invalid_request_body,
)
from openclaw.gateway.http.runs import INVALID_MODEL, RequestRejected, is_agent_model_id
from openclaw.gateway.http.schema import Arr, Enum, Num, Obj, Str, Union, opt

if TYPE_CHECKING:
    from openclaw.gateway.http.api import HttpApi

log = Logger(namespace="gateway.http")

PATH: Final = b"/v1/embeddings"
MAX_INPUTS: Final = 128
MAX_INPUT_CHARS: Final = 8192
MAX_TOTAL_CHARS: Final = 65536

EMBEDDINGS_SCHEMA: Final = Obj({
    "model": opt(Str()),
    "input": opt(Union([Str(), Arr(Str())])),
    "encoding_format": opt(Enum(("float", "base64"))),
    "dimensions": opt(Num(integer=True, positive=True)),
    "user": opt(Str()),
})


def _js_length(text: str) -> int:
    """``String.prototype.length`` (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def input_error(texts: list[str]) -> str | None:
    if not texts or any(text == "" for text in texts):
        return "`input` must contain at least one non-empty string."
    if len(texts) > MAX_INPUTS:
        return f"Too many inputs (max {MAX_INPUTS})."
    total = 0
    for text in texts:
        length = _js_length(text)
        if length > MAX_INPUT_CHARS:
            return f"Input too long (max {MAX_INPUT_CHARS} chars)."
        total += length
        if total > MAX_TOTAL_CHARS:
            return f"Total input too large (max {MAX_TOTAL_CHARS} chars)."
    return None


def encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


class Embeddings:
    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def __call__(self, request: Request, path: bytes) -> bytes | int | None:
        if path != PATH or not self.api.compat_enabled():
            return None
        from openclaw.gateway.http.api import EMBEDDINGS_BODY_BYTES

        return self.api.post_json(request, method="chat.send",
                                  max_bytes=EMBEDDINGS_BODY_BYTES, handler=self.handle)

    async def handle(self, exchange: Exchange, auth: HttpAuth, body: Any) -> None:
        request = exchange.request
        admitted, model_header = admit_model_request(exchange, auth, EMBEDDINGS_SCHEMA, body)
        if not admitted:
            return
        model = (body.get("model") or "").strip()
        if not model:
            exchange.json(400, invalid_request_body("Missing `model`."))
            return
        if not is_agent_model_id(model):
            exchange.json(400, invalid_request_body(INVALID_MODEL))
            return
        raw_input = body.get("input")
        texts = [raw_input] if isinstance(raw_input, str) else raw_input
        if not isinstance(texts, list):
            exchange.json(400, invalid_request_body(
                "`input` must be a string or an array of strings."))
            return
        problem = input_error(texts)
        if problem is not None:
            exchange.json(400, invalid_request_body(problem))
            return
        runner = self.api.runner
        service = self.api.embeddings
        if runner is None or service is None:
            exchange.json(500, {"error": INTERNAL_ERROR})
            return
        try:
            agent_id = runner.resolve_agent(
                model, header_trimmed(request, "x-openclaw-agent-id")
                or header_trimmed(request, "x-openclaw-agent"))
        except RequestRejected as e:
            exchange.json(400, invalid_request_body(str(e)))
            return
        from openclaw.memory.embeddings import (
            EmbeddingError,
            EmbeddingNotConfigured,
            resolve_target,
        )

        memory_search = service.memory_search(agent_id)
        try:
            provider = service.effective_provider(memory_search)
        except EmbeddingNotConfigured as e:
            exchange.json(400, invalid_request_body(str(e)))
            return
        target = resolve_target(model_header or (memory_search.model or ""), provider)
        if isinstance(target, str):
            exchange.json(400, invalid_request_body(target))
            return
        try:
            dimensions = body.get("dimensions")
            vectors = await exchange.guard(Deferred.fromCoroutine(service.embed(
                target, memory_search, texts, int(dimensions) if dimensions else None)))
        except CancelledError:
            return
        except EmbeddingNotConfigured as e:
            exchange.json(400, invalid_request_body(str(e)))
            return
        except EmbeddingError as e:
            log.warn("openai-compat: embeddings request failed: {error}", error=str(e))
            exchange.json(500, {"error": INTERNAL_ERROR})
            return
        except Exception:
            log.failure("openai-compat: embeddings request failed")
            exchange.json(500, {"error": INTERNAL_ERROR})
            return
        as_base64 = body.get("encoding_format") == "base64"
        exchange.json(200, {
            "object": "list",
            "data": [{"object": "embedding", "index": index,
                      "embedding": encode_base64(vector) if as_base64 else vector}
                     for index, vector in enumerate(vectors)],
            "model": model,
            "usage": {"prompt_tokens": 0, "total_tokens": 0}})
