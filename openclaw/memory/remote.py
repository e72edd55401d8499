"""Any OpenAI-compatible ``POST <baseUrl>/embeddings`` (OpenAI, Ollama, vLLM, llama.cpp...)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import treq
from twisted.internet.interfaces import IReactorTime

from openclaw.memory.embeddings import EmbeddingError

TIMEOUT_S: Final = 60.0
ERROR_PREVIEW: Final = 300


class OpenAICompatibleEmbeddings:
    def __init__(self, client: Any, clock: IReactorTime, *, provider_id: str, base_url: str,
                 api_key: str | None, headers: Mapping[str, str], model: str,
                 timeout_s: float = TIMEOUT_S) -> None:
        self.id = provider_id
        self.model = model
        self._client = client
        self._clock = clock
        self._url = base_url.rstrip("/") + "/embeddings"
        self._api_key = api_key
        self._headers = dict(headers)
        self._timeout_s = timeout_s

    async def embed(self, texts: Sequence[str], dimensions: int | None) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.model, "input": list(texts),
                                "encoding_format": "float"}
        if dimensions:
            body["dimensions"] = dimensions
        headers: dict[str, list[str]] = {"Content-Type": ["application/json"],
                                         "Accept": ["application/json"]}
        if self._api_key:
            headers["Authorization"] = [f"Bearer {self._api_key}"]
        for name, value in self._headers.items():
            headers[name] = [value]
        try:
            response = await self._client.request(
                "POST", self._url, data=json.dumps(body).encode("utf-8"), headers=headers,
                timeout=self._timeout_s, reactor=self._clock)
            raw = await treq.content(response)
        except EmbeddingError:
            raise
        except Exception as e:
            raise EmbeddingError(f"{self.id}: embeddings request to {self._url} failed: "
                                 f"{e.__class__.__name__}: {e}") from e
        if not 200 <= response.code < 300:
            preview = raw[:ERROR_PREVIEW].decode("utf-8", "replace")
            raise EmbeddingError(f"{self.id} returned HTTP {response.code} for embeddings "
                                 f"model {self.model}: {preview}")
        try:
            payload = json.loads(raw)
            rows = sorted(payload["data"], key=lambda row: int(row.get("index", 0)))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (ValueError, KeyError, TypeError) as e:
            raise EmbeddingError(f"{self.id}: malformed embeddings response: {e}") from e
        if len(vectors) != len(texts):
            raise EmbeddingError(f"{self.id}: expected {len(texts)} embeddings, got "
                                 f"{len(vectors)}")
        return vectors
